// MigrationRunner: one live migration on the source node, from the libvirt
// call to its outcome (design.md §4.2 step 5). It owns one worker thread that
// calls Hypervisor::Migrate (on a second thread, as Migrate blocks until the
// job ends) and polls the job every `poll_interval`: each poll goes through
// the pure monitor (monitor.h: timeouts, cancel, downtime ramp, post-copy)
// and the progress tracker (forecast.h), and the runner carries out the
// monitor's action. What users see is written by the caller's callbacks:
//   on_progress  at most every `progress_interval`, and only when the figures
//                or the mode changed;
//   on_abort     once, as soon as a cancel is being carried out (so that
//                abortRequested/abortStatus Aborting show at once);
//   on_done      once, with the outcome, on the worker thread, last.
// Callbacks run on the worker thread and may block (API writes with retries).
//
// Adoption (crash safety): with `adopt`, the runner does not call Migrate: a
// job found running after the engine restarted is watched until it ends, and
// the outcome is read from where the domain is: gone from this node means it
// moved (libvirt undefines the source only on success), still here means the
// job failed or was aborted.
//
// Thread safety: Cancel, OnEvent, done and Join may be called from any thread.
// The hypervisor and clock must outlive the runner; Join before destroying it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "engine/forecast.h"
#include "engine/hypervisor.h"
#include "engine/monitor.h"

namespace engine {

struct RunnerOptions {
  std::string domain;  // libvirt name on this node
  MigrateParams params;
  MonitorSettings monitor;
  bool adopt = false;
  bool cancel_requested = false;  // already cancelled when adopted
  // Adopted: how long the job had run before (the timeouts count from its
  // start, not from the adoption).
  std::chrono::milliseconds elapsed_before{0};
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds progress_interval{2000};
  // How long to wait, after Migrate() returned OK, for the job-completed
  // event that carries the downtime.
  std::chrono::milliseconds completed_stats_wait{1000};
};

enum class RunnerOutcome {
  kSucceeded,  // the domain runs on the target
  kFailed,     // it runs here; failure_reason says why (timeouts included)
  kCancelled,  // aborted on request; it runs here
};
const char* RunnerOutcomeName(RunnerOutcome outcome);

struct RunnerProgress {
  ProgressReport report;
  MigrationProgress fields;
  std::string mode;  // "PreCopy" or "PostCopy"
  uint64_t max_downtime_ms = 0;
  std::string note;  // auto-converge throttling, when applied
};

struct RunnerResult {
  RunnerOutcome outcome = RunnerOutcome::kFailed;
  std::string failure_reason;  // kFailed and kCancelled: for people, with figures
  AbortReason abort_reason = AbortReason::kNone;
  bool abort_requested = false;  // a cancel was requested (even if refused or too late)
  std::string abort_status;      // "", "Succeeded" (kCancelled) or "Failed" (refused, too late)
  std::string mode;              // the last mode: "PreCopy" or "PostCopy"
  std::optional<uint64_t> downtime_ms;  // measured by QEMU, from the completed job
  std::chrono::milliseconds duration{0};  // Migrate() call to its return (adopted: to the end seen)
  RunnerProgress last_progress;
  JobStats final_stats;  // the completed job's statistics when known
  bool unlimited_bandwidth = false;  // params.bandwidth_mib was 0
};

struct RunnerCallbacks {
  std::function<void(const RunnerProgress&)> on_progress;
  std::function<void()> on_abort;
  std::function<void(const RunnerResult&)> on_done;
};

class MigrationRunner {
 public:
  MigrationRunner(Hypervisor* hv, base::Clock* clock, RunnerOptions options,
                  RunnerCallbacks callbacks);
  ~MigrationRunner();  // joins
  MigrationRunner(const MigrationRunner&) = delete;
  MigrationRunner& operator=(const MigrationRunner&) = delete;

  void Start();
  // The VMIM was deleted: abort at the next poll, which comes at once.
  void Cancel();
  // Events of this runner's domain (job completed with its statistics,
  // post-copy lifecycle); others are ignored.
  void OnEvent(const DomainEvent& event);
  bool done() const { return done_; }
  // Stops polling without aborting the job (engine shutdown): on_done is not
  // called; a Migrate() call in flight keeps running until its job ends.
  void Abandon();
  void Join();

 private:
  void Run();
  void Poll(MonitorState& state, ProgressTracker& tracker, bool& post_copy,
            std::chrono::steady_clock::time_point& last_write, RunnerProgress& last_sent,
            bool& abort_reported, RunnerResult& result);
  RunnerResult Finish(RunnerResult result, const base::Status& migrate_status, bool adopted_end);

  Hypervisor* const hv_;
  base::Clock* const clock_;
  const RunnerOptions options_;
  const RunnerCallbacks callbacks_;

  std::thread worker_;
  std::thread migrate_thread_;
  // What the worker, the Migrate() thread and the callers share. Held by a
  // shared_ptr that the Migrate() thread keeps too: an abandoned Migrate()
  // call (engine shutdown) may return after this runner is gone.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool cancel = false;
    bool abandon = false;
    bool migrate_returned = false;
    base::Status migrate_status;
    std::optional<JobStats> completed_stats;
    bool post_copy_event = false;
  };
  const std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::atomic<bool> done_{false};
};

}  // namespace engine
