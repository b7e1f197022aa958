#include "engine/monitor.h"

#include <algorithm>

#include "api/timeouts.h"
#include "engine/units.h"

namespace engine {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// 100 years: longer timeouts overflow steady_clock arithmetic (nanoseconds in
// int64 last 292 years) and mean "never" in practice.
constexpr int64_t kMaxTimeoutSeconds = int64_t{100} * 365 * 24 * 3600;

bool JobEnded(JobStats::Type type) {
  return type == JobStats::Type::kCompleted || type == JobStats::Type::kFailed ||
         type == JobStats::Type::kCancelled;
}

// A running job with figures: libvirt reports a job of type unbounded with
// all-zero data while the migration is being set up.
bool HasFigures(const JobStats& s) {
  return (s.type == JobStats::Type::kUnbounded || s.type == JobStats::Type::kBounded) &&
         s.data_total > 0;
}

// Whole seconds, rounded down: "150 s" once 150 s have passed.
std::string Secs(MonitorTime::duration d) {
  return std::to_string(duration_cast<seconds>(d).count()) + " s";
}

// "1.2 GiB still to copy (pass 7; passes stopped shrinking at 1.0 GiB)", or
// what is known.
std::string Remaining(const JobStats& s, const MonitorState& st) {
  if (!HasFigures(s)) {
    return st.has_figures ? FormatBytes(st.pass_lowest) + " still to copy at the last report"
                          : "no data copied yet";
  }
  std::string out = FormatBytes(s.data_remaining) + " still to copy";
  if (s.memory_iteration > 0) {
    out += " (pass " + std::to_string(s.memory_iteration);
    if (!st.pass_headway && st.has_best_start) {
      out += "; passes stopped shrinking at " + FormatBytes(st.best_start);
    }
    out += ")";
  }
  return out;
}

// Folds this poll's figures into the progress state (see monitor.h).
void Observe(MonitorState& st, const JobStats& s, MonitorTime now) {
  if (!HasFigures(s)) return;
  const uint64_t remaining = s.data_remaining;
  const uint64_t pass = s.memory_iteration;
  if (!st.has_figures) {
    st.has_figures = true;
    st.pass = pass;
    st.pass_headway = true;
    st.pass_lowest = remaining;
    st.last_progress = now;
    if (pass >= 2) {  // adopted mid-way (an engine restart): start from here
      st.has_best_start = true;
      st.best_start = remaining;
    }
    return;
  }
  if (pass > st.pass) {  // a new pass; its first figure is not progress
    st.pass = pass;
    st.pass_lowest = remaining;
    if (pass < 2) {  // the memory phase begins (after a block migration's disks)
      st.pass_headway = true;
      return;
    }
    if (!st.has_best_start) {
      st.pass_headway = true;
    } else {
      const auto by_share =
          static_cast<uint64_t>(static_cast<double>(st.best_start) * kPassShrinkMargin);
      const uint64_t margin = std::max(by_share, s.memory_bps / 2);
      st.pass_headway = margin < st.best_start && remaining <= st.best_start - margin;
    }
    if (st.pass_headway) {
      st.has_best_start = true;
      st.best_start = remaining;
    }
    return;
  }
  if (remaining < st.pass_lowest) {
    st.pass_lowest = remaining;
    if (st.pass_headway) st.last_progress = now;
  }
}

MonitorDecision Abort(MonitorDecision d, AbortReason reason, std::string message) {
  d.action = MonitorAction::kAbort;
  d.abort_reason = reason;
  d.message = std::move(message);
  d.state.aborting = reason;
  d.state.abort_message = d.message;
  return d;
}

}  // namespace

const char* MonitorActionName(MonitorAction action) {
  switch (action) {
    case MonitorAction::kContinue: return "Continue";
    case MonitorAction::kAbort: return "Abort";
    case MonitorAction::kRaiseMaxDowntime: return "RaiseMaxDowntime";
    case MonitorAction::kSwitchToPostCopy: return "SwitchToPostCopy";
  }
  return "Unknown";
}

const char* AbortReasonName(AbortReason reason) {
  switch (reason) {
    case AbortReason::kNone: return "";
    case AbortReason::kCancelled: return "Cancelled";
    case AbortReason::kCompletionTimeout: return "CompletionTimeout";
    case AbortReason::kProgressTimeout: return "ProgressTimeout";
  }
  return "";
}

uint64_t DowntimeRamp::StepMs(int step) const {
  if (max_ms <= initial_ms) return max_ms < initial_ms ? max_ms : initial_ms;
  if (steps <= 0 || step <= 0) return initial_ms;
  if (step >= steps) return max_ms;
  return initial_ms +
         (max_ms - initial_ms) * static_cast<uint64_t>(step) / static_cast<uint64_t>(steps);
}

MonitorSettings SettingsFor(const api::MigrationConfig& config, int64_t bytes_to_copy,
                            DowntimeRamp downtime) {
  MonitorSettings s;
  int64_t completion =
      api::CompletionTimeoutSeconds(bytes_to_copy, config.completion_timeout_per_gib);
  if (completion > 0 && completion <= kMaxTimeoutSeconds)
    s.completion_timeout = seconds(completion);
  if (config.progress_timeout > 0 && config.progress_timeout <= kMaxTimeoutSeconds) {
    s.progress_timeout = seconds(config.progress_timeout);
  }
  s.allow_post_copy = config.allow_post_copy;
  s.allow_auto_converge = config.allow_auto_converge;
  s.downtime = downtime;
  return s;
}

MonitorState MonitorState::Begin(MonitorTime start) {
  MonitorState s;
  s.start = start;
  s.last_progress = start;
  s.last_step_at = start;
  return s;
}

MonitorDecision Decide(const MonitorInput& in) {
  const JobStats& stats = in.stats;
  const MonitorSettings& cfg = in.settings;
  MonitorDecision d;
  d.state = in.state;
  MonitorState& st = d.state;

  // 1. Nothing to steer once the job is over.
  if (JobEnded(stats.type)) return d;

  // Progress is noted before any check: a poll that shows progress is not a
  // poll without progress, even at the very deadline.
  Observe(st, stats, in.now);

  if (cfg.allow_auto_converge && stats.auto_converge_throttle > 0) {
    d.throttle_percent = stats.auto_converge_throttle;
    d.note = "auto-converge throttles the guest's vCPUs by " +
             std::to_string(stats.auto_converge_throttle) + "%";
  }

  // 2. Post-copy: the guest runs on the target with pages still on the source.
  if (in.post_copy_active || stats.memory_postcopy_requests > 0) {
    if (in.cancel_requested) {
      d.cancel_refused = true;
      d.message =
          "cannot cancel: the migration is in post-copy (the guest already runs on the target "
          "and aborting would lose it); it will complete";
    }
    return d;
  }

  // 3. An abort in flight keeps its first reason.
  if (st.aborting != AbortReason::kNone) {
    return Abort(std::move(d), st.aborting, st.abort_message);
  }

  // 4. Cancel.
  if (in.cancel_requested) {
    return Abort(std::move(d), AbortReason::kCancelled,
                 "migration cancelled: the VirtualMachineInstanceMigration was deleted; " +
                     Remaining(stats, st));
  }

  // 5. Completion timeout.
  const MonitorTime::duration elapsed = in.now - st.start;
  if (cfg.completion_timeout.count() > 0 && elapsed >= cfg.completion_timeout) {
    return Abort(std::move(d), AbortReason::kCompletionTimeout,
                 "not completed after " + Secs(elapsed) + " (limit " +
                     std::to_string(cfg.completion_timeout.count()) +
                     " s): " + Remaining(stats, st));
  }

  // 6. Progress timeout.
  const MonitorTime::duration stalled = in.now - st.last_progress;
  if (cfg.progress_timeout.count() > 0 && stalled >= cfg.progress_timeout) {
    return Abort(std::move(d), AbortReason::kProgressTimeout,
                 "no progress for " + Secs(stalled) + ": " + Remaining(stats, st));
  }

  // Convergence remedies apply only after the first full pass: before it,
  // the remaining data cannot stall for lack of convergence, only for lack of
  // bandwidth, which neither downtime nor post-copy cures.
  if (!HasFigures(stats) || stats.memory_iteration < 2) return d;

  const DowntimeRamp& ramp = cfg.downtime;
  const int steps = std::max(ramp.steps, 0);
  const bool ramp_done = st.downtime_step >= steps;
  const MonitorTime step_clock = std::max(st.last_progress, st.last_step_at);
  const MonitorTime::duration since_step = in.now - step_clock;

  // 7. Post-copy.
  if (cfg.allow_post_copy && !st.post_copy_requested) {
    const bool ramp_exhausted = ramp_done && since_step >= ramp.step_after;
    const bool half_progress =
        cfg.progress_timeout.count() > 0 && stalled * 2 >= cfg.progress_timeout;
    if (ramp_exhausted || half_progress) {
      st.post_copy_requested = true;
      d.action = MonitorAction::kSwitchToPostCopy;
      d.message = "pre-copy is not converging (no progress for " + Secs(stalled) +
                  (ramp_exhausted ? ", allowed downtime at its maximum " +
                                        std::to_string(ramp.StepMs(st.downtime_step)) + " ms"
                                  : std::string()) +
                  "): switching to post-copy; " + Remaining(stats, st);
      return d;
    }
  }
  if (st.post_copy_requested) return d;  // the switch is under way

  // 8. Downtime ramp.
  if (!ramp_done && since_step >= ramp.step_after) {
    ++st.downtime_step;
    st.last_step_at = in.now;
    d.action = MonitorAction::kRaiseMaxDowntime;
    d.max_downtime_ms = ramp.StepMs(st.downtime_step);
    d.message = "pre-copy stalled for " +
                std::to_string(duration_cast<milliseconds>(since_step).count()) +
                " ms: allowed downtime raised to " + std::to_string(d.max_downtime_ms) +
                " ms (step " + std::to_string(st.downtime_step) + " of " + std::to_string(steps) +
                "); " + Remaining(stats, st);
    return d;
  }
  return d;
}

}  // namespace engine
