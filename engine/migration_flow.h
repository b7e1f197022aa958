// Pure decisions of the migration flow (design.md §4.2): which node a VMI
// migrates to, and how a VMIM's status moves from phase to phase. The
// migration controller (migration_controller.h) does the I/O around them.
//
// Thread safety: pure functions on values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "engine/node_lease.h"

namespace engine {

// --- Target selection (step 3) ---------------------------------------------

// What the controller knows about one node that runs an engine.
struct TargetCandidate {
  EngineNode engine;          // from its Lease
  bool fresh = false;         // the Lease is fresh (IsFresh)
  bool node_known = false;    // a Node object exists
  bool unschedulable = false;  // Node spec.unschedulable (cordoned)
  std::map<std::string, std::string> labels;  // Node labels
  int inbound = 0;             // non-final migrations that target it
};

struct TargetChoice {
  std::optional<std::string> node;  // the chosen node
  // Why each other node was passed over ("node02: cordoned"), in name order;
  // the whole story when no node is chosen.
  std::vector<std::string> rejected;
  std::string Message() const;  // "no node can take the VMI: node02: cordoned; ..."
};

// A node is eligible when its engine Lease is fresh, it is not the source, it
// is not cordoned, its labels match every entry of `added_node_selector` (a
// selector needs a known Node), and its free memory holds the guest (0 free
// memory means the engine did not say: not a reason to refuse). Among the
// eligible: the fewest inbound migrations, then the most free memory, then
// the name.
TargetChoice PickTarget(const std::vector<TargetCandidate>& candidates,
                        std::string_view source_node,
                        const std::map<std::string, std::string>& added_node_selector,
                        uint64_t guest_memory_bytes);

// --- Phases ----------------------------------------------------------------

// Moves `status` to `phase` at `timestamp`, recording the transition (once per
// phase: a phase already recorded keeps its first timestamp). Returns false
// when the status was already in that phase.
bool EnterPhase(api::VMIMStatus& status, api::MigrationPhase phase, const std::string& timestamp);

// When `phase` was entered, from phaseTransitionTimestamps; nullopt if never
// or unparsable.
std::optional<std::chrono::system_clock::time_point> PhaseEnteredAt(const api::VMIMStatus& status,
                                                                    api::MigrationPhase phase);

// Condition types and reasons the engine writes on a VMIM.
inline constexpr std::string_view kConditionFailed = "Failed";            // the plugin reads its message
inline constexpr std::string_view kConditionWaiting = "WaitingForSlot";   // Pending on a limit
inline constexpr std::string_view kConditionSchedulable = "Schedulable";  // False: no target
inline constexpr std::string_view kConditionSucceeded = "Succeeded";

// The unschedulable timeout: the annotation
// kubevirt.io/migrationUnschedulablePodTimeoutSeconds when it holds a
// positive integer, else `fallback`.
inline constexpr std::string_view kAnnotationUnschedulableTimeout =
    "kubevirt.io/migrationUnschedulablePodTimeoutSeconds";
std::chrono::seconds UnschedulableTimeout(const api::VMIM& vmim, std::chrono::seconds fallback);

// Garbage collection of finished migrations (design.md §2: the last 5 per
// VMI are kept): of `vmims`, the final ones of VMI `ns/vmi_name` beyond the
// newest `keep` (by creationTimestamp, then name), oldest first.
inline constexpr int kFinishedVMIMsKept = 5;
std::vector<const api::VMIM*> VMIMsToCollect(const std::vector<api::VMIM>& vmims,
                                             std::string_view ns, std::string_view vmi_name,
                                             int keep = kFinishedVMIMsKept);

// The memory the guest needs on the target: memory.guest or requests.memory,
// 0 when unknown.
uint64_t GuestMemoryBytes(const api::VMI& vmi);

}  // namespace engine
