#include "engine/forecast.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/units.h"

namespace engine {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr uint64_t kMaxSearchMiB = uint64_t{1} << 20;  // 1 TiB/s

enum class Outcome { kConverges, kNotShrinking, kTooManyPasses, kTooSlow };

struct ModelResult {
  Outcome outcome = Outcome::kConverges;
  double seconds = 0;
  int passes = 0;
};

// The pre-copy model of forecast.h at rate `rate` (bytes/s, > 0).
ModelResult RunModel(const ForecastInput& in, double rate) {
  const double memory = static_cast<double>(in.memory_bytes);
  const double dirty = static_cast<double>(in.dirty_bytes_per_second);
  double working_set = in.working_set_bytes > 0
                           ? std::min(static_cast<double>(in.working_set_bytes), memory)
                           : memory;
  const double fits = rate * static_cast<double>(in.max_downtime_ms) / 1000.0;
  const double limit = static_cast<double>(in.completion_timeout_seconds);

  ModelResult r;
  r.seconds = std::max(in.setup_seconds, 0.0) + static_cast<double>(in.disk_bytes) / rate;
  double to_send = memory;
  for (;;) {
    ++r.passes;
    const double pass_seconds = to_send / rate;
    r.seconds += pass_seconds;
    const double dirtied = std::min(dirty * pass_seconds, working_set);
    if (limit > 0 && r.seconds > limit) {
      r.outcome = Outcome::kTooSlow;
      return r;
    }
    if (dirtied <= fits) {
      r.seconds += dirtied / rate;  // the stop-and-copy
      if (limit > 0 && r.seconds > limit) r.outcome = Outcome::kTooSlow;
      return r;
    }
    if (dirtied >= to_send) {
      r.outcome = Outcome::kNotShrinking;
      return r;
    }
    if (r.passes >= kMaxForecastPasses) {
      r.outcome = Outcome::kTooManyPasses;
      return r;
    }
    to_send = dirtied;
  }
}

// The smallest whole MiB/s at which the model converges in time; 0 if none up
// to kMaxSearchMiB. The model is monotonic in the rate (a faster copy leaves
// less dirty per pass and fits more in the pause), so bisection is exact.
uint64_t BandwidthNeededMiB(const ForecastInput& in) {
  auto ok = [&](uint64_t mib) {
    return RunModel(in, static_cast<double>(mib) * kMiB).outcome == Outcome::kConverges;
  };
  if (!ok(kMaxSearchMiB)) return 0;
  uint64_t lo = 0, hi = kMaxSearchMiB;  // ok(hi), !ok(lo) (lo = 0 is never ok)
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    (ok(mid) ? hi : lo) = mid;
  }
  return hi;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), s < 10 ? "%.1f s" : "%.0f s", s);
  return buf;
}

}  // namespace

Forecast ForecastConvergence(const ForecastInput& in) {
  Forecast f;
  f.dirty_bytes_per_second = in.dirty_bytes_per_second;
  f.rate_bytes_per_second =
      in.bandwidth_bytes_per_second > 0 ? in.bandwidth_bytes_per_second : in.link_bytes_per_second;
  const bool limited = in.bandwidth_bytes_per_second > 0;
  if (f.rate_bytes_per_second == 0) {
    f.verdict = ForecastVerdict::kUnknown;
    f.message = "no forecast: the bandwidth is unlimited and no link rate is known";
    return f;
  }
  const double rate = static_cast<double>(f.rate_bytes_per_second);
  const std::string rate_text =
      FormatMiBps(rate) + (limited ? " bandwidth" : " link rate (bandwidth unlimited)");
  const std::string dirty_text = FormatMiBps(static_cast<double>(in.dirty_bytes_per_second));
  const std::string sizes =
      FormatBytes(in.memory_bytes) + " of memory" +
      (in.disk_bytes > 0 ? " + " + FormatBytes(in.disk_bytes) + " of disks" : std::string()) +
      ", " + std::to_string(in.max_downtime_ms) + " ms allowed downtime";

  ModelResult m = RunModel(in, rate);
  f.passes = m.passes;
  if (m.outcome == Outcome::kConverges) {
    f.verdict = ForecastVerdict::kConverges;
    f.duration_seconds = m.seconds;
    f.message = "expected to converge in " + Seconds(m.seconds) + " (" + std::to_string(m.passes) +
                (m.passes == 1 ? " pass" : " passes") + ") at " + rate_text + ", dirty rate " +
                dirty_text + " (" + sizes + ")";
    return f;
  }

  f.verdict = m.outcome == Outcome::kTooSlow ? ForecastVerdict::kTooSlow
                                             : ForecastVerdict::kWillNotConverge;
  if (m.outcome == Outcome::kTooSlow) f.duration_seconds = m.seconds;
  f.bandwidth_needed_mib = BandwidthNeededMiB(in);
  f.post_copy_would_help = true;
  f.auto_converge_would_help = in.dirty_bytes_per_second >= f.rate_bytes_per_second;

  std::string what;
  switch (m.outcome) {
    case Outcome::kNotShrinking:
      what = "will not converge: the guest dirties " + dirty_text + ", at least as fast as the " +
             rate_text + " copies";
      break;
    case Outcome::kTooManyPasses:
      what = "will not converge: the guest dirties " + dirty_text + ", close to the " + rate_text +
             "; still copying after " + std::to_string(kMaxForecastPasses) + " passes";
      break;
    default:
      what = "will not complete within the completion timeout of " +
             std::to_string(in.completion_timeout_seconds) + " s: the guest dirties " + dirty_text +
             " at a " + rate_text;
      break;
  }
  std::vector<std::string> help;
  help.push_back(in.allow_post_copy
                     ? "post-copy (allowed: the engine switches when pre-copy stalls)"
                     : "allowPostCopy (post-copy sends each page once)");
  if (f.auto_converge_would_help) {
    help.push_back(in.allow_auto_converge
                       ? "auto-converge (allowed: QEMU throttles the vCPUs, the guest slows down)"
                       : "allowAutoConverge (QEMU throttles the vCPUs until the dirty rate falls "
                         "below the bandwidth)");
  }
  if (f.bandwidth_needed_mib > 0) {
    help.push_back((limited ? "bandwidthPerMigration ≥ " : "a link of ≥ ") +
                   std::to_string(f.bandwidth_needed_mib) + " MiB/s");
  }
  f.message = what + " (" + sizes + "); would help: ";
  for (size_t i = 0; i < help.size(); ++i) {
    if (i > 0) f.message += i + 1 == help.size() ? ", or " : ", ";
    f.message += help[i];
  }
  return f;
}

api::Condition ForecastCondition(const Forecast& f) {
  api::Condition c;
  c.type = std::string(kConditionConvergenceForecast);
  c.message = f.message;
  switch (f.verdict) {
    case ForecastVerdict::kConverges:
      c.status = "True";
      c.reason = std::string(kForecastConverges);
      break;
    case ForecastVerdict::kTooSlow:
      c.status = "False";
      c.reason = std::string(kForecastExceedsCompletionTimeout);
      break;
    case ForecastVerdict::kWillNotConverge:
      c.status = "False";
      c.reason = std::string(f.passes >= kMaxForecastPasses ? kForecastTooManyPasses
                                                            : kForecastDirtyRateTooHigh);
      break;
    case ForecastVerdict::kUnknown:
      c.status = "Unknown";
      c.reason = std::string(kForecastNoRate);
      break;
  }
  return c;
}

ProgressUpdate TrackProgress(const ProgressTracker& prev, const JobStats& s) {
  ProgressUpdate u;
  u.tracker = prev;
  ProgressTracker& t = u.tracker;
  ProgressReport& r = u.report;

  const bool running = s.type == JobStats::Type::kUnbounded || s.type == JobStats::Type::kBounded;
  const bool completed = s.type == JobStats::Type::kCompleted;
  if ((running || completed) && s.data_total > 0) {
    if (!t.started) {
      t.started = true;
      t.done = s.data_total > s.data_remaining ? s.data_total - s.data_remaining : 0;
    } else if (s.data_remaining < t.last_remaining) {
      t.done += t.last_remaining - s.data_remaining;
    }
    t.last_remaining = s.data_remaining;
    t.known = std::max(t.known, t.done + s.data_remaining);
    if (completed) {
      t.percent = 100;
    } else if (t.known > 0) {
      const double raw = 100.0 * static_cast<double>(t.done) / static_cast<double>(t.known);
      // Below 100 until libvirt says completed: the last pause is still ahead.
      t.percent = std::max(t.percent, std::min(raw, 99.0));
    }
    r.transfer_bytes_per_second = s.memory_bps + s.disk_bps;
    r.dirty_bytes_per_second = s.DirtyBytesPerSecond();
    r.iteration = s.memory_iteration;
  }
  r.has_figures = t.started;
  r.percent = t.percent;
  r.done_bytes = t.done;
  r.known_bytes = t.known;
  r.remaining_bytes = t.started ? t.last_remaining : 0;
  if (!t.started) {
    r.eta_text = "waiting for the first figures";
    return u;
  }
  if (completed) {
    r.remaining_bytes = 0;
    r.eta_seconds = 0;
    r.eta_text = "completed";
    return u;
  }
  if (!running) {  // an ended job, or none: keep the figures, no ETA
    r.eta_text = "no job";
    return u;
  }
  const uint64_t transfer = r.transfer_bytes_per_second;
  const uint64_t dirty = r.dirty_bytes_per_second;
  if (transfer == 0) {
    r.eta_text = "measuring the transfer rate";
  } else if (dirty >= transfer) {
    r.converging = false;
    r.eta_text = "not converging: the guest dirties " + FormatMiBps(static_cast<double>(dirty)) +
                 ", the transfer runs at " + FormatMiBps(static_cast<double>(transfer));
  } else {
    const uint64_t net = transfer - dirty;
    r.eta_seconds = r.remaining_bytes / net + (r.remaining_bytes % net != 0 ? 1 : 0);
    r.eta_text = "ETA " + std::to_string(*r.eta_seconds) + " s";
  }
  return u;
}

MigrationProgress ProgressFields(const ProgressReport& r) {
  MigrationProgress p;
  p.data_total_bytes = r.known_bytes;
  p.data_processed_bytes = r.done_bytes;
  p.data_remaining_bytes = r.remaining_bytes;
  p.memory_bytes_per_second = r.transfer_bytes_per_second;
  p.dirty_rate_bytes_per_second = r.dirty_bytes_per_second;
  p.iteration = r.iteration;
  return p;
}

}  // namespace engine
