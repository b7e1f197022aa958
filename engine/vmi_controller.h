// VMIController: the VMI lifecycle on this node (design.md §4.3), a
// level-triggered reconciler (style.md §3). Reconcile(key) reads the VMI from
// the informer's store, compares it with the domain libvirt holds here, acts
// on the difference and writes the status; running it twice does nothing the
// second time. Event handlers only enqueue keys; KeyForDomainEvent maps a
// libvirt lifecycle event to the key to enqueue.
//
// A VMI is ours when status.nodeName is this node, or status.nodeName is
// empty and spec.nodeSelector["kubernetes.io/hostname"] is this node. Other
// VMIs are left alone, and so is every domain here whose VMI is not ours (it
// may be an incoming migration).
//
// While a migration is active (status.migrationState with a migrationUid and
// completed != true) the migration controller owns the VMI: Reconcile touches
// neither the domain nor the status, and deletion waits for the migration to
// end (the migration is bounded by its timeouts). After a successful
// migration status.nodeName names the target, whose controller then keeps
// the status of the running domain it finds.
//
// Rules, in order:
//  1. deletionTimestamp set and our finalizer present: stop and undefine the
//     domain (NotFound is fine), remove the VMI's node files, remove the
//     finalizer; event Normal "Stopped".
//  2. phase Succeeded or Failed: nothing.
//  3. our finalizer (kVMIFinalizer) is added when missing.
//  4. phase "", Pending, Scheduling or Scheduled: status Scheduled + nodeName
//     + the LiveMigratable condition and migrationMethod (api/migratability.h,
//     as the webhook computes them); then NodeFiles::Prepare, BuildDomainXml,
//     Define, Start (a domain already running is kept) → Running with Ready
//     True (reason DomainRunning); event Normal "Started". Failures:
//       volume not ready (PVC missing or unbound: NodeFiles' FailedPrecondition)
//           → stays Scheduled, Ready False "VolumeNotReady", error returned
//             so the caller retries with backoff;
//       transient (Unavailable, DeadlineExceeded, Aborted) → error returned,
//           phase unchanged;
//       anything else → phase Failed, Ready False with reason
//           VolumePrepareFailed / InvalidSpec / DomainDefineFailed /
//           DomainStartFailed and the cause as message; Warning event; OK
//           returned (a spec that cannot work is not retried).
//  5. phase Running: the domain's state decides: running, blocked, shutting
//     down → Ready True; paused → Ready False "Paused"; PM-suspended → Ready
//     False "GuestSuspended"; shut off by the guest
//     (VIR_DOMAIN_SHUTOFF_SHUTDOWN) → Succeeded; crashed or shut off for
//     another reason → Failed (GuestCrashed, DomainDestroyed, DomainFailed,
//     DomainStopped); missing → Failed "DomainLost".
//
// Writes: the finalizer with a merge patch of metadata.finalizers, the status
// with a merge patch of /status; both carry metadata.resourceVersion, which
// the API server treats as a precondition (409 → Aborted, returned: the
// caller retries from a fresher cache). Merge patches replace lists whole,
// so without it a concurrent writer's finalizer or condition could be lost.
// The status is patched only when it differs; conditions through
// api::SetCondition (lastTransitionTime moves only when status flips).
//
// Errors: Reconcile returns OK when nothing more is to be done (including
// VMIs that are not ours, gone, or failed for good) and an error when the
// caller should retry the key with backoff (API or hypervisor errors).
//
// Thread safety: Reconcile may run on several threads for different keys;
// the caller (a work queue) never runs one key twice at the same time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/migratability.h"
#include "api/types.h"
#include "base/clock.h"
#include "base/status.h"
#include "engine/domain_xml.h"
#include "engine/events.h"
#include "engine/hypervisor.h"
#include "engine/node_files.h"
#include "kube/api.h"
#include "kube/informer.h"

namespace engine {

inline constexpr std::string_view kVMIFinalizer = "kubemigrate.io/vmi-cleanup";
inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kLabelHostname = "kubernetes.io/hostname";

struct VMIControllerSettings {
  std::string node_name;
  // Per-node domain settings; serial_log_path is set per VMI (NodeFiles).
  DomainSettings domain;
};

class VMIController {
 public:
  struct Deps {
    kube::Api* api = nullptr;     // writes
    kube::Store* vmis = nullptr;  // reads: the VMI informer's store, keys "ns/name"
    api::PVCLookup pvcs;          // for migratability
    Hypervisor* hv = nullptr;
    NodeFiles* files = nullptr;
    EventRecorder* events = nullptr;
    base::Clock* clock = nullptr;  // status timestamps (WallNow)
  };
  // Every pointer must outlive the controller.
  VMIController(Deps deps, VMIControllerSettings settings);

  base::Status Reconcile(const std::string& key);

  // The VMI key ("ns/name") of a lifecycle event of one of our domains;
  // nullopt for other events and for domains not named by DomainName. After a
  // kConnectionRestored event the caller should enqueue every VMI of this node.
  static std::optional<std::string> KeyForDomainEvent(const DomainEvent& event);

 private:
  struct Work;  // one Reconcile's state (vmi.cc)
  base::Status Delete(Work& w);
  base::Status EnsureFinalizer(Work& w);
  base::Status Start(Work& w);
  base::Status Observe(Work& w);
  base::Status PatchStatus(Work& w, const api::VMIStatus& desired);
  base::Status Fail(Work& w, std::string reason, std::string message);

  Deps deps_;
  const VMIControllerSettings settings_;
};

}  // namespace engine
