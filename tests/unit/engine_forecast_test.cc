#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/forecast.h"

namespace {

using engine::ForecastVerdict;
using engine::JobStats;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

engine::ForecastInput Input(uint64_t memory, uint64_t dirty, uint64_t bandwidth,
                            uint64_t downtime_ms = 500) {
  engine::ForecastInput in;
  in.memory_bytes = memory;
  in.dirty_bytes_per_second = dirty;
  in.bandwidth_bytes_per_second = bandwidth;
  in.max_downtime_ms = downtime_ms;
  return in;
}

TEST_CASE("forecast matches this machine: 256 MiB at 300 MiB/s migrated in 1.8 s") {
  // design.md §6; the forecast must be within ±25% of the actual (§7).
  engine::Forecast f = engine::ForecastConvergence(Input(256 * kMiB, 0, 300 * kMiB));
  CHECK(f.verdict == ForecastVerdict::kConverges);
  CHECK(f.passes == 1);
  CHECK(f.duration_seconds >= 1.8 * 0.75);
  CHECK(f.duration_seconds <= 1.8 * 1.25);
  CHECK(f.message ==
        "expected to converge in 1.9 s (1 pass) at 300.0 MiB/s bandwidth, dirty rate 0.0 MiB/s "
        "(256.0 MiB of memory, 500 ms allowed downtime)");
}

TEST_CASE("forecast matches this machine: a guest dirtying 150 MiB/s at 20 MiB/s never converges") {
  engine::ForecastInput in = Input(256 * kMiB, 150 * kMiB, 20 * kMiB);
  in.completion_timeout_seconds = 800;  // 800 s/GiB, 256 MiB counts as one GiB
  engine::Forecast f = engine::ForecastConvergence(in);
  CHECK(f.verdict == ForecastVerdict::kWillNotConverge);
  CHECK(f.post_copy_would_help);
  CHECK(f.auto_converge_would_help);
  // Just above the dirty rate, pre-copy shrinks each pass by 1/151 and ends in
  // about 260 s, inside the 800 s limit; at 150 MiB/s it never shrinks.
  CHECK(f.bandwidth_needed_mib == 151);
  CHECK(f.message ==
        "will not converge: the guest dirties 150.0 MiB/s, at least as fast as the 20.0 MiB/s "
        "bandwidth copies (256.0 MiB of memory, 500 ms allowed downtime); would help: "
        "allowPostCopy (post-copy sends each page once), allowAutoConverge (QEMU throttles the "
        "vCPUs until the dirty rate falls below the bandwidth), or bandwidthPerMigration ≥ 151 "
        "MiB/s");
  CHECK(engine::ForecastCondition(f) ==
        api::Condition{"ConvergenceForecast", "False", "DirtyRateTooHigh", f.message, "", ""});
}

TEST_CASE("forecast: the pre-copy model, pass by pass") {
  struct Case {
    const char* name;
    engine::ForecastInput in;
    ForecastVerdict verdict;
    int passes;
    double seconds;  // checked when the verdict has a duration
  };
  auto with = [](engine::ForecastInput in, auto&& f) {
    f(in);
    return in;
  };
  const Case cases[] = {
      // 1024 MiB at 100 MiB/s dirtying 50: passes send 1024, 512, 256, 128, 64, 32
      // MiB; 16 MiB then fits in 300 ms (30 MiB). 1 + 20.16 + 0.16 s.
      {"halving passes until the rest fits in the pause", Input(kGiB, 50 * kMiB, 100 * kMiB, 300),
       ForecastVerdict::kConverges, 6, 21.32},
      {"a small working set fits in the pause after one pass",
       with(Input(4 * kGiB, 200 * kMiB, 100 * kMiB, 1000),
            [](auto& in) { in.working_set_bytes = 64 * kMiB; }),
       ForecastVerdict::kConverges, 1, 1 + 40.96 + 0.64},
      {"a working set re-dirtied faster than it is sent never converges",
       with(Input(4 * kGiB, 200 * kMiB, 100 * kMiB, 500),
            [](auto& in) { in.working_set_bytes = 512 * kMiB; }),
       ForecastVerdict::kWillNotConverge, 2, 0},
      {"disks of a block migration are copied first",
       with(Input(256 * kMiB, 0, 256 * kMiB), [](auto& in) { in.disk_bytes = kGiB; }),
       ForecastVerdict::kConverges, 1, 1 + 4 + 1},
      {"no setup cost when told so",
       with(Input(256 * kMiB, 0, 256 * kMiB), [](auto& in) { in.setup_seconds = 0; }),
       ForecastVerdict::kConverges, 1, 1},
      {"unlimited bandwidth uses the link rate",
       with(Input(kGiB, 0, 0), [](auto& in) { in.link_bytes_per_second = 1024 * kMiB; }),
       ForecastVerdict::kConverges, 1, 2},
      {"slower than the completion timeout",
       with(Input(8 * kGiB, 0, kMiB), [](auto& in) { in.completion_timeout_seconds = 6400; }),
       ForecastVerdict::kTooSlow, 1, 1 + 8192},
      {"a dirty rate just under the bandwidth needs too many passes",
       Input(kGiB, 999 * kMiB / 10, 100 * kMiB, 100), ForecastVerdict::kWillNotConverge, 1000, 0},
      {"no rate: no forecast", Input(kGiB, 0, 0), ForecastVerdict::kUnknown, 0, 0},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    engine::Forecast f = engine::ForecastConvergence(c.in);
    INFO(f.message);
    CHECK(f.verdict == c.verdict);
    CHECK(f.passes == c.passes);
    if (c.verdict == ForecastVerdict::kConverges || c.verdict == ForecastVerdict::kTooSlow) {
      CHECK(f.duration_seconds == Approx(c.seconds).epsilon(1e-9));
    }
  }
}

TEST_CASE("forecast: what would help names the smallest bandwidth that converges in time") {
  engine::ForecastInput in = Input(8 * kGiB, 0, kMiB);
  in.completion_timeout_seconds = 6400;
  engine::Forecast f = engine::ForecastConvergence(in);
  CHECK(f.verdict == ForecastVerdict::kTooSlow);
  CHECK(f.bandwidth_needed_mib == 2);       // 1 + 8192 / 2 = 4097 s ≤ 6400 s
  CHECK_FALSE(f.auto_converge_would_help);  // nothing is dirtied
  CHECK(f.message.find("will not complete within the completion timeout of 6400 s") == 0);
  CHECK(f.message.find("bandwidthPerMigration ≥ 2 MiB/s") != std::string::npos);
  CHECK(engine::ForecastCondition(f).reason == "ExceedsCompletionTimeout");

  // Already allowed remedies are named as such; an unlimited link asks for a faster link.
  engine::ForecastInput hot = Input(256 * kMiB, 150 * kMiB, 0);
  hot.link_bytes_per_second = 20 * kMiB;
  hot.allow_post_copy = true;
  hot.allow_auto_converge = true;
  f = engine::ForecastConvergence(hot);
  CHECK(f.verdict == ForecastVerdict::kWillNotConverge);
  CHECK(f.message.find("20.0 MiB/s link rate (bandwidth unlimited)") != std::string::npos);
  CHECK(f.message.find("post-copy (allowed: the engine switches when pre-copy stalls)") !=
        std::string::npos);
  CHECK(f.message.find("auto-converge (allowed:") != std::string::npos);
  CHECK(f.message.find("a link of ≥ 151 MiB/s") != std::string::npos);

  // A timeout shorter than the setup: no bandwidth helps, none is suggested.
  engine::ForecastInput hopeless = Input(kGiB, 0, kMiB);
  hopeless.completion_timeout_seconds = 1;
  f = engine::ForecastConvergence(hopeless);
  CHECK(f.bandwidth_needed_mib == 0);
  CHECK(f.message.find("bandwidthPerMigration") == std::string::npos);
}

TEST_CASE("forecast condition: status and reason per verdict") {
  engine::Forecast f;
  f.verdict = ForecastVerdict::kConverges;
  CHECK(engine::ForecastCondition(f).status == "True");
  CHECK(engine::ForecastCondition(f).reason == "PreCopyConverges");
  f.verdict = ForecastVerdict::kWillNotConverge;
  f.passes = engine::kMaxForecastPasses;
  CHECK(engine::ForecastCondition(f).status == "False");
  CHECK(engine::ForecastCondition(f).reason == "TooManyPasses");
  f.verdict = ForecastVerdict::kUnknown;
  CHECK(engine::ForecastCondition(f).status == "Unknown");
  CHECK(engine::ForecastCondition(f).reason == "NoRate");
  CHECK(engine::ForecastCondition(f).last_transition_time.empty());
}

JobStats Poll(uint64_t total_mib, uint64_t remaining_mib, uint64_t iteration = 1,
              uint64_t bps_mib = 100, uint64_t dirty_mib = 0) {
  JobStats s;
  s.type = JobStats::Type::kUnbounded;
  s.data_total = total_mib * kMiB;
  s.data_remaining = remaining_mib * kMiB;
  s.memory_iteration = iteration;
  s.memory_bps = bps_mib * kMiB;
  s.memory_page_size = 4096;
  s.memory_dirty_rate = dirty_mib * kMiB / 4096;
  return s;
}

TEST_CASE("progress: percent never runs backwards when a pass re-counts dirtied pages") {
  struct Step {
    JobStats stats;
    double percent;
    uint64_t done_mib;
    uint64_t known_mib;
  };
  JobStats completed;
  completed.type = JobStats::Type::kCompleted;
  completed.data_total = 1000 * kMiB;
  const Step steps[] = {
      {Poll(1000, 600), 40, 400, 1000},
      {Poll(1000, 100), 90, 900, 1000},
      {Poll(1000, 300, 2), 90, 900, 1200},  // raw 75 %: held at 90
      {Poll(1000, 50, 2), 100.0 * 1150 / 1200, 1150, 1200},
      {Poll(1000, 0, 3), 99, 1200, 1200},  // not 100 before libvirt says completed
      {completed, 100, 1200, 1200},
  };
  engine::ProgressTracker t;
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); ++i) {
    INFO("poll " << i);
    engine::ProgressUpdate u = engine::TrackProgress(t, steps[i].stats);
    t = u.tracker;
    CHECK(u.report.has_figures);
    CHECK(u.report.percent == Approx(steps[i].percent));
    CHECK(u.report.done_bytes == steps[i].done_mib * kMiB);
    CHECK(u.report.known_bytes == steps[i].known_mib * kMiB);
  }
}

TEST_CASE("progress: percent, processed and total never decrease over a noisy migration") {
  engine::ProgressTracker t;
  engine::MigrationProgress last{};
  double last_percent = 0;
  uint32_t x = 12345;
  uint64_t remaining = 4096;
  for (int i = 0; i < 2000; ++i) {
    x = x * 1103515245u + 12345u;
    // Mostly falls, sometimes jumps up by a re-count.
    if (x % 7 == 0) {
      remaining += (x >> 8) % 900;
    } else {
      remaining -= std::min<uint64_t>(remaining, (x >> 8) % 120);
    }
    engine::ProgressUpdate u = engine::TrackProgress(t, Poll(4096, remaining, 1 + i / 50));
    t = u.tracker;
    engine::MigrationProgress p = engine::ProgressFields(u.report);
    REQUIRE(u.report.percent >= last_percent);
    REQUIRE(u.report.percent <= 99);
    REQUIRE(p.data_processed_bytes >= last.data_processed_bytes);
    REQUIRE(p.data_total_bytes >= last.data_total_bytes);
    REQUIRE(p.data_processed_bytes + p.data_remaining_bytes <= p.data_total_bytes);
    last_percent = u.report.percent;
    last = p;
  }
}

TEST_CASE("progress: ETA is remaining over transfer minus dirty rate") {
  struct Case {
    const char* name;
    JobStats stats;
    bool converging;
    std::optional<uint64_t> eta;
    const char* text;
  };
  JobStats disk = Poll(1000, 300, 1, 40, 0);
  disk.disk_bps = 60 * kMiB;
  const Case cases[] = {
      {"first pass, no dirty rate yet", Poll(1000, 768, 1, 100, 0), true, 8, "ETA 8 s"},
      {"net rate 60 MiB/s", Poll(1000, 300, 3, 100, 40), true, 5, "ETA 5 s"},
      {"disk and memory rates add up", disk, true, 3, "ETA 3 s"},
      {"dirty rate equal to the transfer", Poll(1000, 300, 3, 100, 100), false, std::nullopt,
       "not converging: the guest dirties 100.0 MiB/s, the transfer runs at 100.0 MiB/s"},
      {"dirtying 150 MiB/s at 20 MiB/s", Poll(256, 200, 4, 20, 150), false, std::nullopt,
       "not converging: the guest dirties 150.0 MiB/s, the transfer runs at 20.0 MiB/s"},
      {"no rate yet", Poll(1000, 1000, 1, 0, 0), true, std::nullopt, "measuring the transfer rate"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    engine::ProgressUpdate u = engine::TrackProgress({}, c.stats);
    CHECK(u.report.converging == c.converging);
    CHECK(u.report.eta_seconds == c.eta);
    CHECK(u.report.eta_text == c.text);
  }
}

TEST_CASE("progress: polls without figures leave the tracker as it was") {
  engine::ProgressTracker t = engine::TrackProgress({}, Poll(1000, 400)).tracker;
  JobStats none;
  JobStats setup;
  setup.type = JobStats::Type::kUnbounded;  // all-zero figures while libvirt sets up
  for (const JobStats& s : {none, setup}) {
    engine::ProgressUpdate u = engine::TrackProgress(t, s);
    CHECK(u.tracker == t);
    CHECK(u.report.percent == Approx(60));
  }
  engine::ProgressUpdate fresh = engine::TrackProgress({}, setup);
  CHECK_FALSE(fresh.report.has_figures);
  CHECK(fresh.report.eta_text == "waiting for the first figures");
  CHECK(engine::ProgressFields(fresh.report) == engine::MigrationProgress{});
}

TEST_CASE("progress fields: the plugin's contract from a report") {
  engine::ProgressUpdate u = engine::TrackProgress({}, Poll(1000, 300, 3, 100, 40));
  engine::MigrationProgress p = engine::ProgressFields(u.report);
  CHECK(p.data_total_bytes == 1000 * kMiB);
  CHECK(p.data_processed_bytes == 700 * kMiB);
  CHECK(p.data_remaining_bytes == 300 * kMiB);
  CHECK(p.memory_bytes_per_second == 100 * kMiB);
  CHECK(p.dirty_rate_bytes_per_second == 40 * kMiB);
  CHECK(p.iteration == 3);
}

}  // namespace
