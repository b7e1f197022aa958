// Migration slots (design.md §4.2 step 2): the limits parallelMigrationsPerCluster
// and parallelOutboundMigrationsPerNode enforced by the engines themselves,
// atomically across engines, so that they hold even when admission is
// bypassed or raced. Admission's count (api/limits.h) is advice; slots are
// the enforcement.
//
// A slot is a coordination.k8s.io/v1 Lease in the KubeVirt namespace,
// labelled kubemigrate.io/migration-slot=true:
//   cluster slots   migration-slot-cluster-<i>
//   node slots      migration-slot-node-<node>-<j>   (outbound from <node>)
// ("node-" keeps a node named "cluster" apart from the cluster slots; a node
// name too long for the object name is cut and suffixed with a hash, see
// NodeSlotName.) A held slot has spec.holderIdentity = the VMIM's uid,
// spec.acquireTime, and annotations kubemigrate.io/vmim = "ns/name" and
// kubemigrate.io/engine-node = the source node (whose engine runs the job).
// A slot is free when the Lease is absent, has no holderIdentity, or its
// holder is dead by the caller's HolderLiveness (the VMIM is gone or final,
// or the engine of its node has a stale node Lease): slots expire with a dead
// engine's lease, and need no renewal of their own.
//
// Why it is atomic: each slot has at most one holder, because a slot is
// taken only by a Create (AlreadyExists when someone was first) or by an
// Update carrying the resourceVersion that was read and judged free (409
// Conflict when anyone wrote it since). A stale read therefore costs a retry,
// never a second holder, and the engine never overwrites a live holder.
//
// Lowering a limit: holders may remain at indexes >= the new limit L. Only
// indexes below L - H are taken, where H is the number of live holders at
// indexes >= L. Nobody takes an index >= L any more, so H only falls, and
// every held index below L was taken below L - H(then) <= L - H(now): the
// live total never exceeds L, with no count-then-take race (a plain
// "refuse when live holders >= L" check would let two engines that both read
// L-1 take two free low slots). This holds once every engine reads the same
// L; while engines disagree about the limit (their KubeVirt caches differ for
// a moment), the larger one may be used.
//
// Reads go to the API (GET by name), not to a cache: an acquisition probes
// indexes 0, 1, ... until the first missing Lease. Release never deletes a
// slot Lease (it clears the holder), and a Lease is created only at the first
// missing index, so the slot Leases of one kind always form a prefix and the
// probe sees all of them, leftovers above a lowered limit included. Deleting
// a slot Lease by hand in the middle of the prefix hides those above it until
// the gap is re-created. An acquisition costs (existing slots + 1) GETs per
// kind; kube::Api has no List, and a Lease informer would serve the same
// purpose with a staler read at no cost in correctness.
//
// Known limit of lease expiry: a holder judged dead because its engine's
// node Lease went stale (a partition, not a crash) loses its slot to another
// migration even though its libvirt job may still run; the engine that lost
// its lease is expected to stop starting work. No fencing is done here.
//
// One VMIM, one caller: two Acquire calls for the same uid at the same time
// (which the per-key work queue prevents) could each take a slot; Release
// frees every slot held by the uid, so nothing leaks past the migration.
//
// Thread safety: SlotManager's methods may be called concurrently (it keeps
// no state of its own between calls); several managers, in one process or in
// many engines, may work on the same slots. The free functions are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/types.h"
#include "base/clock.h"
#include "base/status.h"
#include "engine/node_lease.h"
#include "kube/api.h"
#include "kube/object.h"

namespace engine {

inline constexpr std::string_view kLabelMigrationSlot = "kubemigrate.io/migration-slot";
inline constexpr std::string_view kAnnotationSlotVMIM = "kubemigrate.io/vmim";
inline constexpr std::string_view kAnnotationSlotEngineNode = "kubemigrate.io/engine-node";
inline constexpr std::string_view kLimitPerCluster = "parallelMigrationsPerCluster";
inline constexpr std::string_view kLimitPerNode = "parallelOutboundMigrationsPerNode";

// "migration-slot-cluster-<index>".
std::string ClusterSlotName(int64_t index);
// "migration-slot-node-<node>-<index>", a DNS-1123 subdomain of at most 253
// characters for any index up to 10 digits. A node name longer than 222
// characters is cut (trailing '.' and '-' removed) and followed by '-' and 16
// hex digits of a 64-bit FNV-1a hash of the whole name, which keeps names of
// long nodes distinct. `node` must be a DNS-1123 subdomain (SlotManager
// checks); the result for other input is not specified.
std::string NodeSlotName(std::string_view node, int64_t index);

// Who holds a slot, as its Lease says. `uid` is empty for a free slot.
struct SlotHolder {
  std::string slot;  // the Lease's name
  std::string uid;   // spec.holderIdentity: the VMIM's uid
  std::string vmim;  // "ns/name" from the annotation; may be empty
  std::string engine_node;
  std::optional<std::chrono::system_clock::time_point> acquire_time;
};

// Reads a slot Lease. A missing or non-string holderIdentity reads as a free
// slot (kube-apiserver admits only strings there); a malformed acquireTime
// as none.
SlotHolder ParseSlotLease(const kube::Object& lease);

// The whole Lease of a held slot, or of a free one (holder null: no
// holderIdentity, no annotations). A non-empty `resource_version` goes into
// metadata, making an Update conditional.
std::string SlotLeaseJson(std::string_view name, std::string_view ns, const SlotHolder* holder,
                          std::string_view resource_version);

// Decides whether a slot's holder still counts. Called for every held slot
// on every acquisition (never for the requester's own slots); must be cheap,
// and safe to call from the threads that call SlotManager.
using HolderLiveness = std::function<bool(const SlotHolder&)>;

// The engine's liveness rule as a pure function: a holder is alive when its
// VMIM exists with that uid and is not final (a VMIM being deleted still
// counts), and the engine of `holder.engine_node` has a fresh node Lease.
// `vmim` is the VMIM named by holder.vmim (null when absent), `engine` the
// parsed node Lease of holder.engine_node (null when absent).
bool HolderAlive(const SlotHolder& holder, const api::VMIM* vmim, const EngineNode* engine,
                 std::chrono::system_clock::time_point now);

struct SlotRequest {
  std::string vmim_uid;
  std::string vmim_key;           // "ns/name", written as the kubemigrate.io/vmim annotation
  std::string source_node;        // the VMI's node, whose engine runs the job
  int64_t per_node_limit = 2;     // parallelOutboundMigrationsPerNode
  int64_t per_cluster_limit = 5;  // parallelMigrationsPerCluster
};

struct SlotsAcquired {
  std::string node_slot;
  std::string cluster_slot;
};

// Why a VMIM waits: the limit that blocks it, the live holders counted
// against it ("ns/name", or "uid <uid>" when a Lease lacks the annotation,
// in slot order) and a message for the VMIM's condition.
struct SlotsBlocked {
  std::string limit_name;  // kLimitPerNode or kLimitPerCluster
  std::string node;        // the source node, for the per-node limit
  int64_t in_use = 0;
  int64_t limit = 0;
  std::vector<std::string> holders;
  std::string message;
};

// "waiting for a migration slot: 2 of 2 outbound migrations from node01 are
// in use (default/mig-a, default/mig-b; parallelOutboundMigrationsPerNode)".
// At most 10 holders are named, then "and N more".
std::string SlotsBlockedMessage(const SlotsBlocked& b);

using AcquireResult = std::variant<SlotsAcquired, SlotsBlocked>;

class SlotManager {
 public:
  struct Options {
    std::string ns = "kubevirt";  // the KubeVirt namespace
    // Read-and-try rounds per kind before giving up with Aborted, when every
    // free slot seen was taken by someone else first.
    int max_rounds = 8;
    // Probing stops here even without a missing Lease (a guard, far above
    // any sensible limit).
    int64_t max_slots = 4096;
  };

  // `api` and `clock` (acquireTime) must outlive the manager.
  SlotManager(kube::Api* api, base::Clock* clock, Options options);

  // Takes a node slot of request.source_node, then a cluster slot. Slots the
  // VMIM already holds (an engine restarted, or a second call) are returned
  // as they are, whatever the limits say now: idempotent. Returns
  //   SlotsAcquired  both slots are held by request.vmim_uid;
  //   SlotsBlocked   a limit is reached; the VMIM then holds no slot that
  //                  this call took (a node slot taken for a blocked cluster
  //                  acquisition is given back);
  //   InvalidArgument  empty uid, invalid node name, a limit < 1;
  //   Aborted        every free slot was taken first by others for
  //                  max_rounds rounds: retry with backoff;
  //   the API's error (Unavailable, PermissionDenied, ...) otherwise, after
  //                  giving back (best effort) a node slot this call took.
  // `alive` judges other holders; the requester's own slots are always its.
  base::StatusOr<AcquireResult> Acquire(const SlotRequest& request, const HolderLiveness& alive);

  // Frees every slot held by `vmim_uid`: the cluster slots and the node slots
  // of `source_node` (skipped when empty: a Lease held without a record of
  // its node cannot be found without a List). The Lease stays, with no
  // holder; an Update conditional on the resourceVersion read, so a slot
  // taken over in between is left to its new holder (409: re-read). OK when
  // nothing is held. On an API error the other slots are still tried and the
  // first error is returned.
  base::Status Release(std::string_view vmim_uid, std::string_view source_node);

 private:
  struct Slot {
    int64_t index = 0;
    std::string name;
    std::string resource_version;
    SlotHolder holder;
  };
  struct Kind {
    std::string limit_name;
    std::string node;  // empty for the cluster kind
    std::function<std::string(int64_t)> name;
  };
  using TakeResult = std::variant<std::string, SlotsBlocked>;  // slot name or blocked

  base::StatusOr<std::vector<Slot>> ReadAll(const Kind& kind);
  base::StatusOr<TakeResult> Take(const Kind& kind, int64_t limit, const SlotRequest& request,
                                  const HolderLiveness& alive, bool* took);
  base::Status FreeOne(const std::string& name, std::string_view uid);
  Kind NodeKind(const std::string& node) const;
  Kind ClusterKind() const;

  kube::Api* const api_;
  base::Clock* const clock_;
  const Options options_;
};

}  // namespace engine
