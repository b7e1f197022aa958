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
};

// The view of `vmim`: phase and conditions from the VMIM; the migrationState
// (and progress) of the VMI when it names this migration or no migration (the
// engine keeps the live progress there), else the VMIM's own copy.
View ViewOf(const kube::Object& vmim, const std::optional<kube::Object>& vmi);

// A meter holding the one sample of `v`, at 100% once Succeeded (for
// `status` and `list`, which see a migration once).
ProgressMeter MeterOf(const View& v);

// The phase column/row text: the phase name, "Pending" while unset.
std::string ShownPhase(api::MigrationPhase phase);

// "src → dst", with "?" for an unknown node.
std::string Nodes(const std::optional<api::MigrationState>& s);

// endTimestamp - startTimestamp, when both parse.
std::optional<std::chrono::seconds> StateDuration(const std::optional<api::MigrationState>& s);

// Whether the VMIM's status.phase is final (Succeeded or Failed).
bool IsFinished(const kube::Object& vmim);

// The migration `status` reports from a newest-first list: the newest one not
// finished, else the newest. Null when the list is empty.
const kube::Object* CurrentMigration(const std::vector<kube::Object>& newest_first);

// How a wait ends.
struct WaitOutcome {
  std::string line;  // for stdout, without the newline
  int exit_code;     // kExitOk or kExitFailed
};

// The outcome once `v` is final or the VMIM was deleted; nullopt while the
// migration goes on. `elapsed` is the time waited, used when the state has no
// duration and in failure lines.
std::optional<WaitOutcome> FinalOutcome(const View& v, bool deleted, const std::string& vmim_name,
                                        std::chrono::seconds elapsed);

// How `cancel --wait` ends: once the VMI's migrationState belongs to
// `migration_uid` (or names no migration) and its abortStatus is final, the
// line "abort status: S" and kExitOk for Succeeded, kExitFailed for Failed;
// nullopt while the abort goes on or without a VMI.
std::optional<WaitOutcome> AbortOutcome(const std::optional<kube::Object>& vmi,
                                        const std::string& migration_uid);

}  // namespace plugin
