// The migration monitor's next action (design.md §2, §4.2 step 5), as a pure
// function: Decide(MonitorInput) → MonitorDecision. The caller polls the job
// (GetJobStats every ≤ 500 ms), passes the statistics, the previous
// MonitorState, the time and the cancel flag, carries out the action and keeps
// decision.state for the next poll. No clock, no libvirt, no threads here.
//
// Semantics (design.md §2):
//   completion timeout  abort once now − state.start ≥ settings.completion_timeout
//                       (completionTimeoutPerGiB × ceil(bytes to copy / GiB)).
//   progress timeout    abort once now − state.last_progress ≥ settings.progress_timeout,
//                       where progress = data_remaining reaching a new low within a
//                       pre-copy pass that makes headway (below). A rise (a new pass
//                       re-counting dirtied pages) is never progress.
//
//   Why not "the lowest data_remaining ever seen": QEMU re-counts the dirtied pages
//   (syncs its dirty bitmap) only when a pass has drained down to what fits in the
//   allowed downtime, so every pass, converging or not, ends at about the same low,
//   and after the first pass that watermark moves only with the sampling noise of
//   the polls: a cycling pre-copy would time out at a random moment, and a large
//   guest whose passes take minutes each would time out while converging. What
//   tells them apart is what each pass starts with. So a pass makes headway when it
//   is pass 1 (or the job reports no pass numbers), or when its first figure is
//   below the start of the last headway pass ≥ 2 by kPassShrinkMargin (10 %) and by
//   at least half a second of transfer (memory_bps / 2, the polls' sampling noise);
//   the first pass ≥ 2 seen always makes headway. A pre-copy whose passes stop
//   shrinking thus times out progressTimeout after its last headway pass stopped
//   draining, deterministically. (KubeVirt now counts any fall between two polls
//   as progress, so its progress timeout catches only a hung transfer and leaves
//   a cycling pre-copy to the completion timeout; Nova deprecated its progress
//   timeout for the false aborts of the lowest-ever watermark.)
//
//   Both fire at exactly T (≥, not >): called every poll interval P they fire
//   within [T, T + P]. Zero disables either. The first figures of a migration
//   count as progress; polls without figures (no job yet, data_total 0) never
//   do: a setup that hangs times out too.
//
// Precedence, first match wins:
//   1. The job has ended (kCompleted/kFailed/kCancelled): Continue; Migrate()
//      reports the outcome.
//   2. Post-copy is running (input.post_copy_active, or the statistics show
//      post-copy page requests): Continue, even on cancel or past a timeout.
//      Aborting post-copy would lose the guest: its newest state is split
//      between the nodes (libvirt refuses virDomainAbortJob in post-copy with
//      VIR_ERR_OPERATION_INVALID; KubeVirt applies no timeout in post-copy).
//      A cancel is then answered with cancel_refused and a message saying the
//      migration will complete, so the caller can report abortStatus Failed.
//   3. An abort already decided: Abort again with the same reason and message
//      (re-issuing virDomainAbortJob is harmless; it heals a failed call). The
//      first reason is the one reported.
//   4. Cancel requested (the VMIM was deleted): Abort(kCancelled).
//   5. Completion timeout: Abort(kCompletionTimeout). Also with allowPostCopy:
//      design.md §2 says abort, and post-copy normally started long before
//      (rule 7). (KubeVirt instead switches to post-copy at this point.)
//   6. Progress timeout: Abort(kProgressTimeout).
//   7. Post-copy, once per migration, when allowPostCopy, the first pre-copy
//      pass is done (memory_iteration ≥ 2: before that every page would fault
//      across the network) and pre-copy is not converging, i.e. no progress for
//      either (a) the downtime ramp's whole length plus one more step (the
//      cheap remedy is exhausted: 10 × 2.5 s + 2.5 s = 27.5 s by default), or
//      (b) half the progress timeout, whichever comes first.
//   8. Downtime ramp: after the first pass, each ramp.step_after without
//      progress (counted from the later of the last progress and the last
//      step) raises the allowed downtime one step; see DowntimeRamp.
//   9. Continue. decision.note reports auto-converge throttling when QEMU
//      applies it (VIR_MIGRATE_AUTO_CONVERGE: the throttling itself happens in
//      QEMU; the monitor only reports it).
//
// Carrying out an action: the caller always keeps decision.state. If
// StartPostCopy fails, the request is not repeated and the timeouts still
// apply (they are suppressed only while post-copy is observed running). If
// SetMaxDowntime fails, the step counts as spent (no retry storm); the next
// step comes one step_after later.
//
// Thread safety: pure functions on values.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/types.h"
#include "engine/hypervisor.h"

namespace engine {

using MonitorTime = std::chrono::steady_clock::time_point;

enum class MonitorAction {
  kContinue,
  kAbort,             // virDomainAbortJob
  kRaiseMaxDowntime,  // SetMaxDowntime(decision.max_downtime_ms)
  kSwitchToPostCopy,  // StartPostCopy
};
const char* MonitorActionName(MonitorAction action);

enum class AbortReason { kNone, kCancelled, kCompletionTimeout, kProgressTimeout };
// "", "Cancelled", "CompletionTimeout", "ProgressTimeout" (CamelCase, for
// condition reasons and failureReason prefixes).
const char* AbortReasonName(AbortReason reason);

// The allowed-downtime ramp: linear from initial_ms to max_ms in `steps`
// equal steps, one step each `step_after` of stalled pre-copy.
//
// Why this shape: Nova ramps linearly to 500 ms in 10 steps, but on a timer,
// which also raises the downtime of a migration that converges fine; Proxmox
// raises on stalls (doubling after 5 stalled polls), which is the right
// trigger but coarse at the top, where the last doubling can double the pause
// the guest sees. Here: Nova's linear steps (fine-grained near the maximum),
// Proxmox's stall trigger (no extra downtime unless pre-copy stalls). The
// step_after default of 2.5 s is Proxmox's 5 polls at our 500 ms poll; the
// whole default ramp (25 s) ends well inside the default 150 s progress
// timeout, leaving time for post-copy or for the raised downtime to work.
// The caller starts the migration with StepMs(0) (MigrateParams::max_downtime_ms).
struct DowntimeRamp {
  uint64_t initial_ms = 50;
  uint64_t max_ms = 500;
  int steps = 10;  // 0: no ramp (the downtime stays initial_ms)
  std::chrono::milliseconds step_after{2500};

  // initial_ms + (max_ms − initial_ms) × step / steps, for step in [0, steps];
  // clamped to that range; max_ms when max_ms < initial_ms.
  uint64_t StepMs(int step) const;
};

struct MonitorSettings {
  std::chrono::seconds completion_timeout{0};  // 0: none
  std::chrono::seconds progress_timeout{0};    // 0: none
  bool allow_post_copy = false;
  bool allow_auto_converge = false;
  DowntimeRamp downtime;
};

// The settings of design.md §2 for a migration copying `bytes_to_copy` (guest
// memory + node-local disks; api::ComputeBytesToCopy): completion timeout =
// api::CompletionTimeoutSeconds(bytes_to_copy, completionTimeoutPerGiB);
// progress timeout = progressTimeout (≤ 0: none). Timeouts beyond 100 years
// count as none (they cannot be represented on the steady clock).
MonitorSettings SettingsFor(const api::MigrationConfig& config, int64_t bytes_to_copy,
                            DowntimeRamp downtime = {});

// How much lower than the last headway pass a pass must start to make headway.
inline constexpr double kPassShrinkMargin = 0.10;

// The monitor's memory between polls. Start one with MonitorState::Begin.
struct MonitorState {
  MonitorTime start{};  // when the migration was started (Migrate() called)

  // Progress (see the header comment). last_progress is start until the
  // first figures arrive.
  bool has_figures = false;
  uint64_t pass = 0;         // memory_iteration of the current pass
  bool pass_headway = true;  // the current pass makes headway
  uint64_t pass_lowest = 0;  // the lowest data_remaining in the current pass
  bool has_best_start = false;
  uint64_t best_start = 0;  // what the last headway pass ≥ 2 started with
  MonitorTime last_progress{};

  int downtime_step = 0;       // the ramp step in force (0: initial_ms)
  MonitorTime last_step_at{};  // when the last step was taken (start: none yet)

  bool post_copy_requested = false;

  AbortReason aborting = AbortReason::kNone;  // an abort decided earlier
  std::string abort_message;

  static MonitorState Begin(MonitorTime start);
  friend bool operator==(const MonitorState&, const MonitorState&) = default;
};

struct MonitorInput {
  JobStats stats;  // this poll's GetJobStats; type kNone when no job is visible
  MonitorState state;
  MonitorTime now{};
  bool cancel_requested = false;  // the VMIM has a deletionTimestamp
  // Post-copy observed running (the suspended/post-copy lifecycle event, or
  // the migration mode). memory_postcopy_requests > 0 counts as well.
  bool post_copy_active = false;
  MonitorSettings settings;
};

struct MonitorDecision {
  MonitorAction action = MonitorAction::kContinue;
  AbortReason abort_reason = AbortReason::kNone;  // kAbort only
  // For people: kAbort → the failure reason with its figures, e.g.
  // "no progress for 150 s: 1.2 GiB still to copy (pass 7; passes stopped
  // shrinking at 1.0 GiB)";
  // kRaiseMaxDowntime / kSwitchToPostCopy → why (for a log line or event);
  // kContinue → empty, or why a cancel was refused.
  std::string message;
  uint64_t max_downtime_ms = 0;  // kRaiseMaxDowntime: the new limit
  bool cancel_refused = false;   // cancel requested while post-copy runs
  // Auto-converge, when QEMU throttles: "auto-converge throttles the guest's
  // vCPUs by 40%". Empty otherwise. Independent of the action.
  std::string note;
  uint64_t throttle_percent = 0;
  MonitorState state;  // keep for the next poll
};

MonitorDecision Decide(const MonitorInput& input);

}  // namespace engine
