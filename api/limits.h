// Migration limit counting (design.md §2 and §4.1).
//
// A migration is in flight from admission (the VMIM exists) until its phase is
// Succeeded or Failed; a VMIM being deleted (deletionTimestamp set) that is not
// final still counts. A migration is outbound from the node in its VMI's
// status.nodeName; when the VMI is unknown it counts for the cluster only.
//
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace api {

// Looks up a VMI by namespace and name; null when it does not exist. The
// pointer need only stay valid for the duration of the call that uses it.
using VMILookup = std::function<const VMI*(std::string_view ns, std::string_view name)>;

struct InFlightCounts {
  int cluster = 0;
  std::map<std::string, int, std::less<>> outbound_per_node;  // node -> count

  int Outbound(std::string_view node) const;
};

bool IsInFlight(const VMIM& vmim);

// Counts in-flight VMIMs. Null entries are skipped. `exclude_uid` (non-empty)
// and `exclude_key` ("ns/name", non-empty) leave out the VMIM under admission
// itself. `vmis` may be empty (then no node is known).
InFlightCounts CountInFlight(const std::vector<const VMIM*>& vmims, const VMILookup& vmis,
                             std::string_view exclude_uid = "", std::string_view exclude_key = "");

// "ns/name" of the in-flight VMIMs holding a slot: every one when `node` is
// empty (the cluster limit), else those outbound from `node`; input order
// (the caller sorts for messages),
// the same exclusions as CountInFlight. For denial messages only: it builds a
// string per holder, so call it once a limit is known to be reached.
std::vector<std::string> InFlightHolders(const std::vector<const VMIM*>& vmims,
                                         const VMILookup& vmis, std::string_view node,
                                         std::string_view exclude_uid = "",
                                         std::string_view exclude_key = "");

// The in-flight VMIMs for VMI `ns/vmi_name`, in input order, skipping the one
// whose uid is `exclude_uid` or whose "ns/name" is `exclude_key` (when non-empty).
std::vector<const VMIM*> InFlightForVMI(const std::vector<const VMIM*>& vmims, std::string_view ns,
                                        std::string_view vmi_name,
                                        std::string_view exclude_uid = "",
                                        std::string_view exclude_key = "");

}  // namespace api
