#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/monitor.h"

namespace {

using engine::AbortReason;
using engine::JobStats;
using engine::MonitorAction;
using engine::MonitorState;
using engine::MonitorTime;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;
const MonitorTime kT0 = MonitorTime() + hours(1);

JobStats Running(uint64_t remaining, uint64_t iteration = 1) {
  JobStats s;
  s.type = JobStats::Type::kUnbounded;
  s.data_total = 2 * kGiB;
  s.data_remaining = remaining;
  s.data_processed = 2 * kGiB - remaining;
  s.memory_iteration = iteration;
  return s;
}

JobStats Ended(JobStats::Type type) {
  JobStats s;
  s.type = type;
  return s;
}

JobStats NoJob() { return JobStats{}; }

// A monitor in a headway pass whose lowest figure was `lowest`, seen at
// `progress_at`, with ramp step `step` taken at `step_at`. Its pass is the one
// the row's statistics report (Check fills it in), unless set explicitly.
MonitorState Seen(uint64_t lowest, MonitorTime progress_at, int step = 0,
                  std::optional<MonitorTime> step_at = std::nullopt) {
  MonitorState s = MonitorState::Begin(kT0);
  s.has_figures = true;
  s.pass_lowest = lowest;
  s.last_progress = progress_at;
  s.downtime_step = step;
  if (step_at) s.last_step_at = *step_at;
  return s;
}

MonitorState InPass(MonitorState s, uint64_t pass, bool headway, uint64_t best_start) {
  s.pass = pass;
  s.pass_headway = headway;
  s.has_best_start = true;
  s.best_start = best_start;
  return s;
}

engine::MonitorSettings Settings(bool post_copy = false) {
  engine::MonitorSettings s;
  s.completion_timeout = seconds(800);
  s.progress_timeout = seconds(150);
  s.allow_post_copy = post_copy;
  s.downtime = engine::DowntimeRamp{50, 500, 10, milliseconds(2500)};
  return s;
}

struct Row {
  const char* name;
  JobStats stats;
  MonitorState state;
  MonitorTime now;
  engine::MonitorSettings settings;
  bool cancel = false;
  bool post_copy_active = false;
  MonitorAction action = MonitorAction::kContinue;
  AbortReason reason = AbortReason::kNone;
  uint64_t max_downtime_ms = 0;
  const char* message_has = "";
  bool cancel_refused = false;
};

void Check(const Row& r) {
  INFO(r.name);
  engine::MonitorInput in;
  in.stats = r.stats;
  in.state = r.state;
  if (in.state.has_figures && in.state.pass == 0) in.state.pass = r.stats.memory_iteration;
  in.now = r.now;
  in.settings = r.settings;
  in.cancel_requested = r.cancel;
  in.post_copy_active = r.post_copy_active;
  engine::MonitorDecision d = engine::Decide(in);
  INFO("got " << engine::MonitorActionName(d.action) << " "
              << engine::AbortReasonName(d.abort_reason) << ": " << d.message);
  CHECK(d.action == r.action);
  CHECK(d.abort_reason == r.reason);
  CHECK(d.max_downtime_ms == r.max_downtime_ms);
  CHECK(d.message.find(r.message_has) != std::string::npos);
  CHECK(d.cancel_refused == r.cancel_refused);
}

TEST_CASE("monitor: cancel wins over every other rule until post-copy runs") {
  const MonitorState stale = Seen(100 * kMiB, kT0 + seconds(1), 10);
  const Row rows[] = {
      {"cancel of a progressing migration aborts", Running(50 * kMiB), Seen(60 * kMiB, kT0),
       kT0 + seconds(5), Settings(), true, false, MonitorAction::kAbort, AbortReason::kCancelled, 0,
       "VirtualMachineInstanceMigration was deleted"},
      {"cancel wins over the completion timeout", Running(500 * kMiB, 3), stale, kT0 + seconds(900),
       Settings(), true, false, MonitorAction::kAbort, AbortReason::kCancelled, 0, "cancelled"},
      {"cancel wins over the progress timeout", Running(500 * kMiB, 3), stale, kT0 + seconds(200),
       Settings(true), true, false, MonitorAction::kAbort, AbortReason::kCancelled, 0,
       "500.0 MiB still to copy"},
      {"cancel wins over post-copy and the ramp", Running(500 * kMiB, 3), Seen(100 * kMiB, kT0, 10),
       kT0 + seconds(100), Settings(true), true, false, MonitorAction::kAbort,
       AbortReason::kCancelled, 0, ""},
      {"cancel before the job is visible aborts", NoJob(), MonitorState::Begin(kT0),
       kT0 + milliseconds(10), Settings(), true, false, MonitorAction::kAbort,
       AbortReason::kCancelled, 0, "no data copied yet"},
      {"cancel during post-copy is refused", Running(500 * kMiB, 3), stale, kT0 + seconds(900),
       Settings(true), true, true, MonitorAction::kContinue, AbortReason::kNone, 0, "post-copy",
       true},
      {"post-copy page requests count as post-copy running",
       [] {
         JobStats s = Running(500 * kMiB, 3);
         s.memory_postcopy_requests = 12;
         return s;
       }(),
       stale, kT0 + seconds(10), Settings(true), true, false, MonitorAction::kContinue,
       AbortReason::kNone, 0, "it will complete", true},
      {"cancel after the job ended does nothing", Ended(JobStats::Type::kCompleted), stale,
       kT0 + seconds(900), Settings(), true, false, MonitorAction::kContinue},
      {"a failed job is not aborted again", Ended(JobStats::Type::kFailed), stale,
       kT0 + seconds(900), Settings(), false, false, MonitorAction::kContinue},
  };
  for (const Row& r : rows) Check(r);
}

TEST_CASE("monitor: completion timeout fires at exactly T and not 1 ms before") {
  // Progress made 1 s ago: only the completion timeout can fire.
  const Row rows[] = {
      {"at T", Running(10 * kMiB, 4), Seen(10 * kMiB, kT0 + seconds(799)), kT0 + seconds(800),
       Settings(), false, false, MonitorAction::kAbort, AbortReason::kCompletionTimeout, 0,
       "not completed after 800 s (limit 800 s): 10.0 MiB still to copy (pass 4)"},
      {"at T - 1 ms", Running(10 * kMiB, 4), Seen(10 * kMiB, kT0 + seconds(799)),
       kT0 + seconds(800) - milliseconds(1), Settings(), false, false, MonitorAction::kContinue},
      {"past T", Running(10 * kMiB, 4), Seen(10 * kMiB, kT0 + seconds(799)), kT0 + seconds(801),
       Settings(), false, false, MonitorAction::kAbort, AbortReason::kCompletionTimeout, 0,
       "after 801 s"},
      {"at T even when this poll shows progress", Running(5 * kMiB, 4),
       Seen(10 * kMiB, kT0 + seconds(799)), kT0 + seconds(800), Settings(), false, false,
       MonitorAction::kAbort, AbortReason::kCompletionTimeout, 0, "5.0 MiB still to copy"},
      {"wins over the progress timeout", Running(300 * kMiB, 9), Seen(10 * kMiB, kT0),
       kT0 + seconds(800), Settings(), false, false, MonitorAction::kAbort,
       AbortReason::kCompletionTimeout, 0, "300.0 MiB still to copy (pass 9)"},
      {"wins over post-copy (design.md §2: abort)", Running(300 * kMiB, 9),
       Seen(10 * kMiB, kT0 + seconds(700)), kT0 + seconds(800), Settings(true), false, false,
       MonitorAction::kAbort, AbortReason::kCompletionTimeout, 0, ""},
      {"never while post-copy runs", Running(300 * kMiB, 9), Seen(10 * kMiB, kT0),
       kT0 + seconds(5000), Settings(true), false, true, MonitorAction::kContinue},
      {"zero disables it", Running(10 * kMiB, 4), Seen(10 * kMiB, kT0 + seconds(9999)),
       kT0 + seconds(10000),
       [] {
         auto s = Settings();
         s.completion_timeout = seconds(0);
         return s;
       }(),
       false, false, MonitorAction::kContinue},
  };
  for (const Row& r : rows) Check(r);
}

TEST_CASE("monitor: progress timeout counts from the last new low of data remaining") {
  const MonitorTime low_at = kT0 + seconds(10);
  const Row rows[] = {
      {"at T after the last new low", Running(200 * kMiB, 3), Seen(100 * kMiB, low_at),
       low_at + seconds(150), Settings(), false, false, MonitorAction::kAbort,
       AbortReason::kProgressTimeout, 0, "no progress for 150 s: 200.0 MiB still to copy (pass 3)"},
      {"at T - 1 ms", Running(200 * kMiB, 3), Seen(100 * kMiB, low_at),
       low_at + seconds(150) - milliseconds(1), Settings(), false, false,
       MonitorAction::kRaiseMaxDowntime, AbortReason::kNone, 95},
      {"a drop below the low at T resets the clock", Running(100 * kMiB - 1, 3),
       Seen(100 * kMiB, low_at), low_at + seconds(150), Settings(), false, false,
       MonitorAction::kContinue},
      {"equal to the low is no progress", Running(100 * kMiB, 3), Seen(100 * kMiB, low_at),
       low_at + seconds(150), Settings(), false, false, MonitorAction::kAbort,
       AbortReason::kProgressTimeout, 0, "100.0 MiB still to copy (pass 3)"},
      {"a rise (new pass) is no progress", Running(1500 * kMiB, 7),
       InPass(Seen(100 * kMiB, low_at), 6, true, 2000 * kMiB), low_at + seconds(151), Settings(),
       false, false, MonitorAction::kAbort, AbortReason::kProgressTimeout, 0,
       "no progress for 151 s"},
      {"a new low in a pass without headway is no progress", Running(90 * kMiB, 5),
       InPass(Seen(100 * kMiB, low_at), 5, false, 500 * kMiB), low_at + seconds(150), Settings(),
       false, false, MonitorAction::kAbort, AbortReason::kProgressTimeout, 0,
       "90.0 MiB still to copy (pass 5; passes stopped shrinking at 500.0 MiB)"},
      {"no job figures: counted from the start", NoJob(), MonitorState::Begin(kT0),
       kT0 + seconds(150), Settings(), false, false, MonitorAction::kAbort,
       AbortReason::kProgressTimeout, 0, "no progress for 150 s: no data copied yet"},
      {"a job with all-zero figures is no progress",
       [] {
         JobStats s;
         s.type = JobStats::Type::kUnbounded;
         return s;
       }(),
       MonitorState::Begin(kT0), kT0 + seconds(150), Settings(), false, false,
       MonitorAction::kAbort, AbortReason::kProgressTimeout, 0, ""},
      {"never while post-copy runs", Running(200 * kMiB, 3), Seen(100 * kMiB, low_at),
       low_at + seconds(500), Settings(true), false, true, MonitorAction::kContinue},
      {"zero disables it", Running(200 * kMiB, 3), Seen(100 * kMiB, low_at, 10),
       low_at + seconds(500),
       [] {
         auto s = Settings();
         s.progress_timeout = seconds(0);
         return s;
       }(),
       false, false, MonitorAction::kContinue},
  };
  for (const Row& r : rows) Check(r);
}

// Feeds polls (remaining MiB, pass, transfer MiB/s) one second apart from kT0
// and returns the final state.
MonitorState Feed(const std::vector<std::tuple<uint64_t, uint64_t, uint64_t>>& polls) {
  engine::MonitorInput in;
  in.settings = Settings();
  in.settings.progress_timeout = seconds(0);  // only the state matters here
  in.settings.completion_timeout = seconds(0);
  in.state = MonitorState::Begin(kT0);
  int i = 0;
  for (const auto& [remaining, pass, bps] : polls) {
    in.now = kT0 + seconds(++i);
    in.stats = Running(remaining * kMiB, pass);
    in.stats.memory_bps = bps * kMiB;
    in.state = engine::Decide(in).state;
  }
  return in.state;
}

TEST_CASE("monitor: progress is a new low in a pass that started lower than the last one") {
  struct Case {
    const char* name;
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> polls;
    int progress_at;  // the poll (1-based) of the last progress
    bool headway;
  };
  const Case cases[] = {
      {"the first figures are progress", {{2000, 1, 20}}, 1, true},
      {"drops in pass 1 are progress", {{2000, 1, 20}, {1500, 1, 20}, {1600, 1, 20}}, 2, true},
      {"the jump to pass 2 is not, its drops are",
       {{2000, 1, 20}, {10, 1, 20}, {600, 2, 20}, {400, 2, 20}},
       4,
       true},
      {"pass 2 always makes headway, even above pass 1's low",
       {{2000, 1, 20}, {5, 1, 20}, {600, 2, 20}, {300, 2, 20}},
       4,
       true},
      {"a pass starting 10% lower makes headway",
       {{2000, 1, 20}, {600, 2, 20}, {100, 2, 20}, {540, 3, 20}, {300, 3, 20}},
       5,
       true},
      {"a pass starting less than 10% lower does not",
       {{2000, 1, 20}, {600, 2, 20}, {100, 2, 20}, {541, 3, 20}, {50, 3, 20}},
       3,
       false},
      {"nor one within half a second of transfer",
       {{2000, 1, 20}, {600, 2, 400}, {100, 2, 400}, {450, 3, 400}, {50, 3, 400}},
       3,
       false},
      {"a pass without headway does not move the bar",
       {{2000, 1, 20},
        {600, 2, 20},
        {100, 2, 20},
        {590, 3, 20},
        {560, 4, 20},
        {530, 5, 20},
        {200, 5, 20}},
       7,
       true},
      {"no pass numbers: every new low is progress",
       {{2000, 0, 20}, {100, 0, 20}, {900, 0, 20}, {99, 0, 20}},
       4,
       true},
      {"the memory phase after the disks starts as pass 1",
       {{5000, 0, 20}, {3000, 0, 20}, {3500, 1, 20}, {3400, 1, 20}},
       4,
       true},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    MonitorState st = Feed(c.polls);
    CHECK(st.last_progress == kT0 + seconds(c.progress_at));
    CHECK(st.pass_headway == c.headway);
  }
}

TEST_CASE("monitor: the downtime ramp steps on stalls after the first pass and caps at the max") {
  const MonitorTime low_at = kT0 + seconds(10);
  const Row rows[] = {
      {"first step after 2.5 s without a new low", Running(200 * kMiB, 2), Seen(100 * kMiB, low_at),
       low_at + milliseconds(2500), Settings(), false, false, MonitorAction::kRaiseMaxDowntime,
       AbortReason::kNone, 95, "step 1 of 10"},
      {"not at 2499 ms", Running(200 * kMiB, 2), Seen(100 * kMiB, low_at),
       low_at + milliseconds(2499), Settings(), false, false, MonitorAction::kContinue},
      {"not during the first pass", Running(200 * kMiB, 1), Seen(100 * kMiB, low_at),
       low_at + seconds(60), Settings(), false, false, MonitorAction::kContinue},
      {"counts from the last step, not the last low", Running(200 * kMiB, 4),
       Seen(100 * kMiB, low_at, 3, low_at + seconds(20)), low_at + seconds(22), Settings(), false,
       false, MonitorAction::kContinue},
      {"next step one interval after the last", Running(200 * kMiB, 4),
       Seen(100 * kMiB, low_at, 3, low_at + seconds(20)), low_at + seconds(22) + milliseconds(500),
       Settings(), false, false, MonitorAction::kRaiseMaxDowntime, AbortReason::kNone, 230,
       "step 4 of 10"},
      {"counts from a new low after the last step", Running(200 * kMiB, 4),
       Seen(100 * kMiB, low_at + seconds(30), 3, low_at + seconds(20)), low_at + seconds(31),
       Settings(), false, false, MonitorAction::kContinue},
      {"last step reaches the max", Running(200 * kMiB, 6),
       Seen(100 * kMiB, low_at, 9, low_at + seconds(30)), low_at + seconds(33), Settings(), false,
       false, MonitorAction::kRaiseMaxDowntime, AbortReason::kNone, 500,
       "raised to 500 ms (step 10 of 10)"},
      {"no step beyond the max", Running(200 * kMiB, 6),
       Seen(100 * kMiB, low_at, 10, low_at + seconds(30)), low_at + seconds(60), Settings(), false,
       false, MonitorAction::kContinue},
      {"a ramp of zero steps never raises", Running(200 * kMiB, 6), Seen(100 * kMiB, low_at),
       low_at + seconds(60),
       [] {
         auto s = Settings();
         s.downtime.steps = 0;
         return s;
       }(),
       false, false, MonitorAction::kContinue},
  };
  for (const Row& r : rows) Check(r);
}

TEST_CASE("downtime ramp: linear steps from initial to max, clamped") {
  const engine::DowntimeRamp ramp{50, 500, 10, milliseconds(2500)};
  const std::vector<uint64_t> want = {50, 95, 140, 185, 230, 275, 320, 365, 410, 455, 500};
  for (int i = 0; i <= 10; ++i) {
    INFO("step " << i);
    CHECK(ramp.StepMs(i) == want[static_cast<size_t>(i)]);
  }
  CHECK(ramp.StepMs(-1) == 50);
  CHECK(ramp.StepMs(11) == 500);
  CHECK(engine::DowntimeRamp{300, 100, 10, milliseconds(1)}.StepMs(5) == 100);
  CHECK(engine::DowntimeRamp{300, 300, 10, milliseconds(1)}.StepMs(5) == 300);
  CHECK(engine::DowntimeRamp{50, 500, 0, milliseconds(1)}.StepMs(5) == 50);
}

TEST_CASE("monitor: post-copy only when allowed, after the first pass, when not converging") {
  const MonitorTime low_at = kT0 + seconds(10);
  MonitorState requested = Seen(100 * kMiB, low_at, 10, low_at + seconds(25));
  requested.post_copy_requested = true;
  const Row rows[] = {
      {"ramp exhausted plus one step: switch", Running(200 * kMiB, 5),
       Seen(100 * kMiB, low_at, 10, low_at + seconds(25)), low_at + milliseconds(27500),
       Settings(true), false, false, MonitorAction::kSwitchToPostCopy, AbortReason::kNone, 0,
       "allowed downtime at its maximum 500 ms"},
      {"ramp exhausted, 1 ms short", Running(200 * kMiB, 5),
       Seen(100 * kMiB, low_at, 10, low_at + seconds(25)), low_at + milliseconds(27499),
       Settings(true), false, false, MonitorAction::kContinue},
      {"not allowed: no switch", Running(200 * kMiB, 5),
       Seen(100 * kMiB, low_at, 10, low_at + seconds(25)), low_at + seconds(100), Settings(), false,
       false, MonitorAction::kContinue},
      {"already requested: no second request", Running(200 * kMiB, 5), requested,
       low_at + seconds(100), Settings(true), false, false, MonitorAction::kContinue},
      {"already requested: timeouts still apply until post-copy runs", Running(200 * kMiB, 5),
       requested, low_at + seconds(150), Settings(true), false, false, MonitorAction::kAbort,
       AbortReason::kProgressTimeout, 0, ""},
      {"half the progress timeout: switch while the ramp is still stepping", Running(200 * kMiB, 5),
       Seen(100 * kMiB, low_at, 3, low_at + seconds(74)), low_at + seconds(75), Settings(true),
       false, false, MonitorAction::kSwitchToPostCopy, AbortReason::kNone, 0,
       "no progress for 75 s"},
      {"half the progress timeout, 1 ms short", Running(200 * kMiB, 5),
       Seen(100 * kMiB, low_at, 3, low_at + seconds(74)), low_at + seconds(75) - milliseconds(1),
       Settings(true), false, false, MonitorAction::kContinue},
      {"not during the first pass", Running(200 * kMiB, 1),
       Seen(100 * kMiB, low_at, 10, low_at + seconds(25)), low_at + seconds(100), Settings(true),
       false, false, MonitorAction::kContinue},
      {"switch wins over a due ramp step", Running(200 * kMiB, 5),
       Seen(100 * kMiB, low_at, 2, low_at + seconds(60)), low_at + seconds(80), Settings(true),
       false, false, MonitorAction::kSwitchToPostCopy},
  };
  for (const Row& r : rows) Check(r);
}

TEST_CASE("monitor: an abort once decided is re-issued with its first reason") {
  engine::MonitorInput in;
  in.settings = Settings();
  in.state = Seen(100 * kMiB, kT0 + seconds(10));
  in.stats = Running(300 * kMiB, 4);
  in.now = kT0 + seconds(160);
  engine::MonitorDecision first = engine::Decide(in);
  REQUIRE(first.action == MonitorAction::kAbort);
  REQUIRE(first.abort_reason == AbortReason::kProgressTimeout);

  in.state = first.state;
  in.now += milliseconds(500);
  in.cancel_requested = true;  // the user deletes the VMIM meanwhile
  engine::MonitorDecision again = engine::Decide(in);
  CHECK(again.action == MonitorAction::kAbort);
  CHECK(again.abort_reason == AbortReason::kProgressTimeout);
  CHECK(again.message == first.message);
}

TEST_CASE("monitor: auto-converge throttling is reported, not acted on") {
  engine::MonitorInput in;
  in.settings = Settings();
  in.settings.allow_auto_converge = true;
  in.state = Seen(100 * kMiB, kT0 + seconds(10));
  in.stats = Running(90 * kMiB, 3);
  in.stats.auto_converge_throttle = 40;
  in.now = kT0 + seconds(11);
  engine::MonitorDecision d = engine::Decide(in);
  CHECK(d.action == MonitorAction::kContinue);
  CHECK(d.throttle_percent == 40);
  CHECK(d.note == "auto-converge throttles the guest's vCPUs by 40%");

  in.stats.auto_converge_throttle = 0;
  CHECK(engine::Decide(in).note.empty());
}

// A whole non-converging migration, polled every 500 ms: pass 1 drains 2 GiB,
// then every pass re-counts 600 MiB and drains it to 337.5 MiB at best.
JobStats NonConverging(MonitorTime::duration since_start) {
  const int64_t ms = std::chrono::duration_cast<milliseconds>(since_start).count();
  if (ms < 20000)
    return Running(2 * kGiB - static_cast<uint64_t>(ms) * (2 * kGiB - 200 * kMiB) / 20000, 1);
  const int64_t in_pass = (ms - 20000) % 4000;
  return Running(600 * kMiB - static_cast<uint64_t>(in_pass) * 75 * kMiB / 1000,
                 2 + static_cast<uint64_t>((ms - 20000) / 4000));
}

TEST_CASE(
    "monitor: polled every 500 ms, a stalled pre-copy ramps, then times out within one poll") {
  engine::MonitorInput in;
  in.settings = Settings();
  in.state = MonitorState::Begin(kT0);
  std::vector<uint64_t> downtimes;
  std::optional<MonitorTime> aborted_at;
  MonitorTime last_low{};
  for (MonitorTime now = kT0; now < kT0 + seconds(400); now += milliseconds(500)) {
    in.now = now;
    in.stats = NonConverging(now - kT0);
    engine::MonitorDecision d = engine::Decide(in);
    in.state = d.state;
    last_low = d.state.last_progress;
    if (d.action == MonitorAction::kRaiseMaxDowntime) downtimes.push_back(d.max_downtime_ms);
    if (d.action == MonitorAction::kAbort) {
      CHECK(d.abort_reason == AbortReason::kProgressTimeout);
      aborted_at = now;
      break;
    }
  }
  REQUIRE(aborted_at);
  CHECK(*aborted_at - last_low >= seconds(150));
  CHECK(*aborted_at - last_low < seconds(150) + milliseconds(500));
  CHECK(downtimes == std::vector<uint64_t>{95, 140, 185, 230, 275, 320, 365, 410, 455, 500});
}

TEST_CASE("monitor: polled every 500 ms with post-copy allowed, switches once and never aborts") {
  engine::MonitorInput in;
  in.settings = Settings(true);
  in.state = MonitorState::Begin(kT0);
  int switches = 0;
  MonitorTime::duration stalled_at_switch{};
  for (MonitorTime now = kT0; now < kT0 + seconds(2000); now += milliseconds(500)) {
    in.now = now;
    in.stats = NonConverging(now - kT0);
    engine::MonitorDecision d = engine::Decide(in);
    in.state = d.state;
    REQUIRE(d.action != MonitorAction::kAbort);
    if (d.action == MonitorAction::kSwitchToPostCopy) {
      ++switches;
      stalled_at_switch = now - d.state.last_progress;
    }
    // The caller observes post-copy from the next poll on.
    if (switches > 0) in.post_copy_active = true;
  }
  CHECK(switches == 1);
  // The ramp's 10 steps of 2.5 s, then one more step without progress.
  CHECK(stalled_at_switch == milliseconds(27500));
}

// A 16 GiB guest at 32 MiB/s dirtying 16 MiB/s: every pass halves, and pass 2
// alone (8 GiB) takes 256 s, longer than the progress timeout. Each pass
// drains to the 16 MiB that fits in the pause, as QEMU does before it
// re-counts, so the lowest figure ever seen stops moving after pass 1.
JobStats BigConverging(MonitorTime::duration since_start) {
  double t = std::chrono::duration<double>(since_start).count();
  const double rate = 32.0 * kMiB;
  double start = 16.0 * kGiB;
  for (uint64_t pass = 1;; ++pass) {
    const double floor = 16.0 * kMiB;
    const double length = (start - floor) / rate;
    if (t < length || start <= floor) {
      JobStats s = Running(static_cast<uint64_t>(start - rate * t), pass);
      s.data_total = 16 * kGiB;
      s.memory_bps = 32 * kMiB;
      if (start <= floor) s.type = JobStats::Type::kCompleted;
      return s;
    }
    t -= length;
    start = start / 2;
  }
}

TEST_CASE("monitor: a large guest whose passes outlast the progress timeout is not aborted") {
  engine::MonitorInput in;
  in.settings = Settings();
  in.settings.completion_timeout = seconds(0);
  in.state = MonitorState::Begin(kT0);
  bool completed = false;
  for (MonitorTime now = kT0; now < kT0 + seconds(3000); now += milliseconds(500)) {
    in.now = now;
    in.stats = BigConverging(now - kT0);
    if (in.stats.type == JobStats::Type::kCompleted) {
      completed = true;
      break;
    }
    engine::MonitorDecision d = engine::Decide(in);
    in.state = d.state;
    INFO("at " << std::chrono::duration_cast<seconds>(now - kT0).count() << " s: " << d.message);
    REQUIRE(d.action != MonitorAction::kAbort);
  }
  CHECK(completed);
}

TEST_CASE("monitor: a cycling pre-copy times out the same way whatever its passes end at") {
  // Passes restart at 600 MiB and end at a random low (the polls' sampling):
  // progress stops after pass 2 whatever those lows are.
  engine::MonitorInput in;
  in.settings = Settings();
  in.state = MonitorState::Begin(kT0);
  uint32_t x = 7;
  uint64_t pass = 1;
  uint64_t remaining = 2 * kGiB;
  MonitorTime now = kT0;
  std::optional<MonitorTime> last_headway_drop;
  for (int poll = 0; poll < 1000; ++poll, now += milliseconds(500)) {
    x = x * 1103515245u + 12345u;
    if (remaining < 300 * kMiB) {  // the pass ended: re-count
      ++pass;
      remaining = 600 * kMiB;
    } else {
      remaining -= std::min<uint64_t>(remaining, (40 + (x >> 8) % 200) * kMiB);
    }
    in.now = now;
    in.stats = Running(remaining, pass);
    engine::MonitorDecision d = engine::Decide(in);
    in.state = d.state;
    if (pass <= 2) last_headway_drop = d.state.last_progress;
    if (d.action == MonitorAction::kAbort) {
      REQUIRE(last_headway_drop);
      CHECK(d.abort_reason == AbortReason::kProgressTimeout);
      CHECK(now - *last_headway_drop >= seconds(150));
      CHECK(now - *last_headway_drop < seconds(150) + milliseconds(500));
      CHECK(d.message.find("passes stopped shrinking at 600.0 MiB") != std::string::npos);
      return;
    }
  }
  FAIL("never timed out");
}

TEST_CASE("monitor settings: timeouts from the migration configuration") {
  api::MigrationConfig config;
  config.completion_timeout_per_gib = 800;
  config.progress_timeout = 150;
  config.allow_post_copy = true;
  engine::MonitorSettings s = engine::SettingsFor(config, 8 * int64_t{1} << 30);
  CHECK(s.completion_timeout == seconds(6400));
  CHECK(s.progress_timeout == seconds(150));
  CHECK(s.allow_post_copy);
  CHECK_FALSE(s.allow_auto_converge);

  CHECK(engine::SettingsFor(config, (int64_t{8} << 30) + 1).completion_timeout == seconds(7200));
  config.progress_timeout = 0;
  config.completion_timeout_per_gib = 0;
  s = engine::SettingsFor(config, 8 * int64_t{1} << 30);
  CHECK(s.completion_timeout == seconds(0));
  CHECK(s.progress_timeout == seconds(0));
  config.completion_timeout_per_gib = int64_t{1} << 62;  // beyond the steady clock: none
  CHECK(engine::SettingsFor(config, 1).completion_timeout == seconds(0));
}

}  // namespace
