// What `kubectl migrate evacuate NODE` decides, apart from any I/O: which
// VMIs must leave the node, how far each one is, the one line shown for it,
// and the summary with its exit code. The command's loop (commands.cc) lists
// VMIs and VMIMs, creates the migrations as the limits admit them, and feeds
// what it sees to Observe.
//
// Pure functions on values; no HTTP, no clock.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kube/object.h"

namespace plugin {

struct Evacuee {
  enum class State {
    kNotMigratable,  // LiveMigratable is False: it stays (reason says why)
    kWaiting,        // no migration yet: waiting to be admitted (a limit) or to be created
    kMigrating,      // its migration (vmim) is not final
    kMoved,          // its migration succeeded (target)
    kFailed,         // its migration failed, was deleted, or could not be created (reason)
  };
  std::string ns, name;
  State state = State::kWaiting;
  std::string vmim;    // its migration's name, once created or found
  std::string reason;  // kNotMigratable: "REASON: message"; kFailed: why
  std::string target;  // kMoved: the node it went to
  bool vmim_seen = false;  // its VMIM has been seen since it was created (an informer's
                           // cache may not hold a VMIM just created: absent is not deleted)
  std::string Key() const { return ns + "/" + name; }
};

// The VMIs (any namespace) that run on `node`: status.nodeName is the node
// and the phase is Running, sorted by namespace/name. A VMI whose
// LiveMigratable condition is False is kNotMigratable with the condition's
// reason and message; the others kWaiting.
std::vector<Evacuee> PlanEvacuation(const std::vector<kube::Object>& vmis, const std::string& node);

// The unfinished migration of each VMI, by "ns/vmiName" (the newest when
// several), from a list of VMIMs of all namespaces.
std::map<std::string, const kube::Object*> UnfinishedMigrations(
    const std::vector<kube::Object>& vmims);

// Moves a kMigrating evacuee on from its VMIM (null: not seen yet, or deleted
// once it has been seen) and its VMI
// (null: gone). Returns the line to show when something worth showing
// changed (phase, or progress by 10 points), else "".
std::string Observe(Evacuee& e, const kube::Object* vmim, const kube::Object* vmi,
                    std::string& last_shown);

// What one attempt to create the migration of a kWaiting evacuee did:
// created (`created_name` set) → kMigrating; refused for a limit
// (`limit_denial`) → stays kWaiting, its reason saying so; refused otherwise
// → kFailed with `message`. Returns the line to show.
std::string OnCreate(Evacuee& e, const std::string& created_name, bool limit_denial,
                     const std::string& message);

struct EvacuationSummary {
  std::string text;  // several lines, each ending in '\n'
  int exit_code;     // options.h: kExitOk or kExitFailed
};

// The summary once the loop ends. With `waited` (--wait) the node is empty
// only when every evacuee moved; without, when every one has its migration
// admitted (kMigrating or kMoved). kExitOk then, else kExitFailed (something
// failed or cannot leave).
EvacuationSummary Summarize(const std::string& node, const std::vector<Evacuee>& evacuees,
                            bool waited);

}  // namespace plugin
