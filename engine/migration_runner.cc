#include "engine/migration_runner.h"

#include "base/log.h"

namespace engine {

const char* RunnerOutcomeName(RunnerOutcome outcome) {
  switch (outcome) {
    case RunnerOutcome::kSucceeded: return "Succeeded";
    case RunnerOutcome::kFailed: return "Failed";
    case RunnerOutcome::kCancelled: return "Cancelled";
  }
  return "Failed";
}

MigrationRunner::MigrationRunner(Hypervisor* hv, base::Clock* clock, RunnerOptions options,
                                 RunnerCallbacks callbacks)
    : hv_(hv), clock_(clock), options_(std::move(options)), callbacks_(std::move(callbacks)) {
  shared_->cancel = options_.cancel_requested;
}

MigrationRunner::~MigrationRunner() { Join(); }

void MigrationRunner::Start() {
  worker_ = std::thread([this] {
    try {
      Run();
    } catch (const std::exception& e) {
      base::log::Error("migration worker failed", {{"domain", options_.domain}, {"error", e.what()}});
      done_ = true;
    }
  });
}

void MigrationRunner::Cancel() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->cancel = true;
  shared_->cv.notify_all();
}

void MigrationRunner::Abandon() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->abandon = true;
  shared_->cv.notify_all();
}

void MigrationRunner::OnEvent(const DomainEvent& event) {
  if (event.domain != options_.domain) return;
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (event.kind == DomainEvent::Kind::kJobCompleted) {
    shared_->completed_stats = event.stats;
    shared_->cv.notify_all();
  } else if (event.kind == DomainEvent::Kind::kLifecycle &&
             ((event.lifecycle == DomainEvent::kSuspended &&
               event.detail == DomainEvent::kSuspendedPostCopy) ||
              (event.lifecycle == DomainEvent::kResumed &&
               event.detail == DomainEvent::kResumedPostCopy))) {
    shared_->post_copy_event = true;
  }
}

void MigrationRunner::Join() {
  if (worker_.joinable()) worker_.join();
  if (migrate_thread_.joinable()) {
    bool abandoned;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      abandoned = shared_->abandon && !shared_->migrate_returned;
    }
    // An abandoned Migrate() call returns only when its libvirt job ends,
    // which may be minutes away; the engine is stopping and the job is
    // adopted after the restart, so the thread is not waited for.
    if (abandoned) {
      migrate_thread_.detach();
    } else {
      migrate_thread_.join();
    }
  }
}

void MigrationRunner::Run() {
  const auto start = clock_->Now();
  MonitorState state = MonitorState::Begin(start - options_.elapsed_before);
  ProgressTracker tracker;
  bool post_copy = false;
  bool abort_reported = false;
  auto last_write = start - options_.progress_interval;
  RunnerProgress last_sent;
  RunnerResult result;
  result.mode = "PreCopy";
  result.unlimited_bandwidth = options_.params.bandwidth_mib == 0;

  if (!options_.adopt) {
    // Touches only what it holds by value: it may outlive the runner.
    migrate_thread_ = std::thread([shared = shared_, hv = hv_, domain = options_.domain,
                                   params = options_.params] {
      base::Status s = hv->Migrate(domain, params);
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->migrate_returned = true;
      shared->migrate_status = s;
      shared->cv.notify_all();
    });
  }
  bool cancel_polled = false;
  bool adopted_end = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(shared_->mu);
      shared_->cv.wait_for(lock, options_.poll_interval, [&] {
        return shared_->abandon || shared_->migrate_returned || (shared_->cancel && !cancel_polled);
      });
      if (shared_->abandon) {
        done_ = true;
        return;
      }
      if (shared_->migrate_returned) break;
      if (shared_->cancel) cancel_polled = true;
    }
    Poll(state, tracker, post_copy, last_write, last_sent, abort_reported, result);
    if (options_.adopt) {
      auto s = hv_->GetJobStats(options_.domain, false);
      if (s.ok() && s->type == JobStats::Type::kNone) {
        adopted_end = true;
        break;
      }
      if (!s.ok() && s.status().code() == base::Code::kNotFound) {
        adopted_end = true;
        break;
      }
    }
  }
  base::Status migrate_status;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    migrate_status = shared_->migrate_status;
  }
  result.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now() - start) +
      options_.elapsed_before;
  if (post_copy) result.mode = "PostCopy";
  result.last_progress = last_sent;
  RunnerResult final_result = Finish(std::move(result), migrate_status, adopted_end);
  if (callbacks_.on_done) callbacks_.on_done(final_result);
  done_ = true;
}

void MigrationRunner::Poll(MonitorState& state, ProgressTracker& tracker, bool& post_copy,
                           std::chrono::steady_clock::time_point& last_write,
                           RunnerProgress& last_sent, bool& abort_reported, RunnerResult& result) {
  const auto now = clock_->Now();
  JobStats stats;
  auto got = hv_->GetJobStats(options_.domain, false);
  if (got.ok()) {
    stats = *got;
  } else {
    base::log::Debug(2, "job stats unavailable",
                     {{"domain", options_.domain}, {"error", got.status().ToString()}});
  }
  bool cancel;
  bool post_copy_event;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    cancel = shared_->cancel;
    post_copy_event = shared_->post_copy_event;
  }
  if (post_copy_event) post_copy = true;
  MonitorInput in;
  in.stats = stats;
  in.state = state;
  in.now = now;
  in.cancel_requested = cancel;
  in.post_copy_active = post_copy;
  in.settings = options_.monitor;
  MonitorDecision d = Decide(in);
  state = d.state;
  if (cancel) {
    result.abort_requested = true;
    if (!abort_reported) {
      abort_reported = true;
      if (callbacks_.on_abort) callbacks_.on_abort();
    }
  }
  if (d.cancel_refused) {
    result.abort_status = "Failed";
    result.failure_reason = d.message;
  }
  switch (d.action) {
    case MonitorAction::kAbort: {
      if (result.abort_reason == AbortReason::kNone) {
        result.abort_reason = d.abort_reason;
        result.failure_reason = d.message;
        base::log::Warning("aborting migration", {{"domain", options_.domain},
                                                  {"reason", AbortReasonName(d.abort_reason)},
                                                  {"message", d.message}});
      }
      base::Status s = hv_->AbortJob(options_.domain);
      if (!s.ok() && s.code() != base::Code::kNotFound) {
        base::log::Warning("abort failed; retrying at the next poll",
                           {{"domain", options_.domain}, {"error", s.ToString()}});
      }
      break;
    }
    case MonitorAction::kRaiseMaxDowntime: {
      base::Status s = hv_->SetMaxDowntime(options_.domain, d.max_downtime_ms);
      base::log::Info("raising the allowed downtime",
                      {{"domain", options_.domain}, {"max_downtime_ms", d.max_downtime_ms},
                       {"why", d.message}, {"ok", s.ok()}});
      break;
    }
    case MonitorAction::kSwitchToPostCopy: {
      base::Status s = hv_->StartPostCopy(options_.domain);
      base::log::Info("switching to post-copy",
                      {{"domain", options_.domain}, {"why", d.message}, {"ok", s.ok()}});
      if (s.ok()) post_copy = true;
      break;
    }
    case MonitorAction::kContinue:
      break;
  }
  ProgressUpdate upd = TrackProgress(tracker, stats);
  tracker = upd.tracker;
  if (!upd.report.has_figures) return;
  RunnerProgress p;
  p.report = upd.report;
  p.fields = ProgressFields(upd.report);
  p.mode = post_copy ? "PostCopy" : "PreCopy";
  p.max_downtime_ms = options_.monitor.downtime.StepMs(state.downtime_step);
  p.note = d.note;
  const bool changed = p.fields != last_sent.fields || p.mode != last_sent.mode;
  const bool mode_changed = p.mode != last_sent.mode && !last_sent.mode.empty();
  if (changed && (now - last_write >= options_.progress_interval || mode_changed)) {
    last_write = now;
    last_sent = p;
    if (callbacks_.on_progress) callbacks_.on_progress(p);
  } else if (!changed) {
    last_sent.report = p.report;
  }
}

RunnerResult MigrationRunner::Finish(RunnerResult result, const base::Status& migrate_status,
                                     bool adopted_end) {
  bool cancel;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    cancel = shared_->cancel;
  }
  if (cancel) result.abort_requested = true;
  bool moved;
  if (options_.adopt) {
    (void)adopted_end;
    auto info = hv_->Lookup(options_.domain);
    moved = !info.ok() && info.status().code() == base::Code::kNotFound;
    if (!moved && result.failure_reason.empty()) {
      result.failure_reason =
          "the libvirt migration job ended without completing while the engine was restarting";
    }
  } else {
    moved = migrate_status.ok();
    if (!moved && result.abort_reason == AbortReason::kNone) {
      result.failure_reason = "libvirt: " + migrate_status.message();
    }
  }
  if (moved) {
    result.outcome = RunnerOutcome::kSucceeded;
    if (result.abort_requested && result.abort_status.empty()) result.abort_status = "Failed";
    result.failure_reason.clear();
    std::unique_lock<std::mutex> lock(shared_->mu);
    shared_->cv.wait_for(lock, options_.completed_stats_wait,
                 [&] { return shared_->completed_stats.has_value() || shared_->abandon; });
    if (shared_->completed_stats) {
      result.final_stats = *shared_->completed_stats;
      if (shared_->completed_stats->has_downtime) result.downtime_ms = shared_->completed_stats->downtime_ms;
    }
    return result;
  }
  if (result.abort_requested) {
    result.outcome = RunnerOutcome::kCancelled;
    result.abort_status = "Succeeded";
    if (result.abort_reason == AbortReason::kCancelled || result.failure_reason.empty()) {
      result.failure_reason = "cancelled: the migration was aborted on request";
    }
  } else {
    result.outcome = RunnerOutcome::kFailed;
  }
  return result;
}

}  // namespace engine
