// Migratability: whether a VMI can be live migrated, every reason why not, and
// the migration method (design.md §2). Computed by the engine when a VMI
// starts and stored as the LiveMigratable condition and status.migrationMethod.
//
// Rules:
//  - every persistentVolumeClaim/dataVolume/ephemeral volume must name a PVC
//    with access mode ReadWriteMany; an RWO PVC and a missing PVC are both
//    reason DisksNotLiveMigratable with a message naming the claim;
//  - an interface whose network is the pod network (`pod: {}`) and whose
//    binding is `bridge` is reason InterfaceNotLiveMigratable, naming the
//    interface (masquerade and every other binding pass);
//  - the method is BlockMigration when some volume is node-local and must be
//    copied (anything that is not a PVC/DataVolume, except a hostDisk marked
//    shared), otherwise LiveMigration.
// All reasons are reported, in volume order then interface order.
//
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace api {

inline constexpr std::string_view kReasonDisksNotLiveMigratable = "DisksNotLiveMigratable";
inline constexpr std::string_view kReasonInterfaceNotLiveMigratable = "InterfaceNotLiveMigratable";
// The condition reason when the VMI is migratable.
inline constexpr std::string_view kReasonMigratable = "Migratable";

struct MigratabilityReason {
  std::string reason;   // CamelCase code
  std::string message;  // names the claim or interface
};

// Looks up a PVC by namespace and name; null when it does not exist. The
// pointer need only stay valid for the duration of the call that uses it.
using PVCLookup = std::function<const PVC*(std::string_view ns, std::string_view name)>;

struct Migratability {
  bool migratable = true;
  std::vector<MigratabilityReason> reasons;  // empty iff migratable
  std::string method;                        // kMethodLiveMigration or kMethodBlockMigration

  // The LiveMigratable condition: status "True"/"False"; reason = the first
  // reason's code (kReasonMigratable when migratable); message = every
  // reason's message joined with "; ". last_transition_time is `now` unless
  // `previous` has the same status, in which case its time is kept.
  Condition ToCondition(const Condition* previous, std::string_view now) const;
};

// `pvcs` is called with the VMI's namespace; it may be empty (then every
// claim counts as missing).
Migratability ComputeMigratability(const VMI& vmi, const PVCLookup& pvcs);

// True when the volume's data lives on the node and a block migration copies it.
bool IsNodeLocal(const Volume& volume);

}  // namespace api
