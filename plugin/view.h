// What the plugin decides from a migration's objects, apart from any I/O: the
// migration state that belongs to a VMIM, which VMIM of a VMI is current, and
// the one-line outcome (and exit code) of a finished wait.
//
// Pure functions on values; no HTTP, no clock (elapsed time is passed in).
#pragma once

#include <rapidjson/fwd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "kube/object.h"
#include "plugin/progress.h"

namespace plugin {

// A VMIM as the plugin shows it.
struct View {
  api::MigrationPhase phase = api::MigrationPhase::kUnset;
  std::optional<api::MigrationState> state;
  // status.migrationState.progress, pointing into one of the objects passed
  // to ViewOf: valid only while those objects live. Null when absent.
  const rapidjson::Value* progress = nullptr;
  std::string failure_message;  // from a Failed condition, when no failureReason
  std::string phase_text;       // status.phase as stored ("" while unset)
  // The engine's ConvergenceForecast condition ("" when none yet).
  std::string forecast_status, forecast_reason, forecast_message;
};

// The forecast as one line, the engine's message and the reason, e.g. "will
// not converge: the guest dirties ... [DirtyRateTooHigh]"; "" when the VMIM
// has no ConvergenceForecast condition.
std::string ForecastLine(const View& v);

// The view of `vmim`: phase and conditions from the VMIM; the migrationState
// (and progress) of the VMI when it names this migration or no migration (the
// engine keeps the live progress there), else the VMIM's own copy.
View ViewOf(const kube::Object& vmim, const std::optional<kube::Object>& vmi);

// A meter holding the one sample of `v`, at 100% once Succeeded (for
// `status` and `list`, which see a migration once).
ProgressMeter MeterOf(const View& v);

// The phase column/row text: status.phase as stored (as `kubectl get vmim`
// shows it), "<none>" while unset (kubectl's placeholder for an empty cell).
std::string ShownPhase(const View& v);

// "src → dst" when both nodes are known, "from src" or "to dst" when one is,
// "" when neither is (no placeholders in messages).
std::string Nodes(const std::optional<api::MigrationState>& s);

// endTimestamp - startTimestamp, when both parse.
std::optional<std::chrono::seconds> StateDuration(const std::optional<api::MigrationState>& s);

// Whether the VMIM's status.phase is final (Succeeded or Failed).
bool IsFinished(const kube::Object& vmim);

// The migration `status` reports from a newest-first list: the newest one not
// finished, else the newest. Null when the list is empty.
const kube::Object* CurrentMigration(const std::vector<kube::Object>& newest_first);

// The VMI's own record of its last migration, for `status` when no VMIM
// stands for it: a VMIM deleted by a cancel (or collected) is gone, but the
// VMI keeps status.migrationState. Set when the VMI has a migrationState, no
// VMIM in `vmims` is unfinished, and none of them is the state's migration
// (by migrationUid; an empty migrationUid counts as none of them only when
// `vmims` is empty). The phase is derived: completed and failed → Failed,
// completed → Succeeded, else Running.
std::optional<View> VMIOnlyView(const std::optional<kube::Object>& vmi,
                                const std::vector<kube::Object>& vmims);

// How a wait ends.
struct WaitOutcome {
  std::string line;  // for stderr, without the newline; failures start "error: "
  int exit_code;     // kExitOk or kExitFailed
};

// The outcome once `v` is final or the VMIM was deleted; nullopt while the
// migration goes on. `elapsed` is the time waited, used when the state has no
// duration and in failure lines.
std::optional<WaitOutcome> FinalOutcome(const View& v, bool deleted, const std::string& vmim_name,
                                        std::chrono::seconds elapsed);

// How `cancel --wait` ends. The VMI's migrationState is ours when its
// migrationUid is `migration_uid` (an empty one counts as ours for an abort
// status). In order:
//  - ours with abortStatus Succeeded: "abort status: Succeeded", kExitOk;
//    Failed: "error: abort status: Failed ...", kExitFailed;
//  - once the VMIM is gone (`vmim_gone`; the engine removes its finalizer
//    last) and the VMI holds no state of ours: the migration never started,
//    "cancelled before it started", kExitOk;
//  - gone, ours, completed and not failed: it finished before the abort took,
//    "error: ... completed before it could be cancelled", kExitFailed;
//  - gone, ours, completed and failed: it ended failed, which is what a cancel
//    wants: kExitOk.
// nullopt while the abort goes on: the VMIM exists, or the state is ours and
// not completed (the engine writes the end to the VMI).
std::optional<WaitOutcome> AbortOutcome(const std::optional<kube::Object>& vmi,
                                        const std::string& migration_uid, bool vmim_gone);

}  // namespace plugin
