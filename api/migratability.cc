#include "api/migratability.h"

#include <set>

namespace api {

bool IsNodeLocal(const Volume& volume) {
  switch (volume.kind) {
    case VolumeKind::kPersistentVolumeClaim:
    case VolumeKind::kDataVolume:
      return false;  // shared storage (or not migratable at all)
    case VolumeKind::kHostDisk:
      return !volume.host_disk_shared;
    default:
      // containerDisk, emptyDisk, the ephemeral overlay and generated disks
      // (cloud-init, configMap, ...) are files on the source node; design.md §2
      // counts them all as copied by a block migration.
      return true;
  }
}

Migratability ComputeMigratability(const VMI& vmi, const PVCLookup& pvcs) {
  Migratability m;
  bool block = false;
  std::set<std::string> claims_reported;
  for (const Volume& v : vmi.spec.volumes) {
    if (IsNodeLocal(v)) block = true;
    // The ephemeral overlay's backing PVC is only read, so it need not be RWX.
    if (v.kind != VolumeKind::kPersistentVolumeClaim && v.kind != VolumeKind::kDataVolume) continue;
    if (!claims_reported.insert(v.claim_name).second) continue;  // one reason per claim
    const PVC* pvc = pvcs ? pvcs(vmi.meta.namespace_, v.claim_name) : nullptr;
    if (pvc == nullptr) {
      m.reasons.push_back({std::string(kReasonDisksNotLiveMigratable),
                           "cannot migrate VMI: PVC " + v.claim_name + " not found"});
    } else if (!pvc->IsShared()) {
      // KubeVirt's wording, so that existing documentation and searches match.
      m.reasons.push_back({std::string(kReasonDisksNotLiveMigratable),
                           "cannot migrate VMI: PVC " + v.claim_name +
                               " is not shared, live migration requires that all PVCs must be "
                               "shared (using ReadWriteMany access mode)"});
    }
  }
  for (const Interface& iface : vmi.spec.interfaces) {
    if (iface.binding != InterfaceBinding::kBridge) continue;
    const Network* net = vmi.FindNetwork(iface.name);
    if (net == nullptr || net->kind != NetworkKind::kPod) continue;
    m.reasons.push_back({std::string(kReasonInterfaceNotLiveMigratable),
                         "cannot migrate VMI: interface " + iface.name +
                             " connects to the pod network with bridge binding, live migration "
                             "requires masquerade binding on the pod network"});
  }
  m.migratable = m.reasons.empty();
  m.method = std::string(block ? kMethodBlockMigration : kMethodLiveMigration);
  return m;
}

Condition Migratability::ToCondition(const Condition* previous, std::string_view now) const {
  Condition c;
  c.type = std::string(kConditionLiveMigratable);
  c.status = migratable ? "True" : "False";
  c.reason = migratable ? std::string(kReasonMigratable) : reasons.front().reason;
  for (const MigratabilityReason& r : reasons) {
    if (!c.message.empty()) c.message += "; ";
    c.message += r.message;
  }
  c.last_transition_time = previous != nullptr && previous->status == c.status
                               ? previous->last_transition_time
                               : std::string(now);
  return c;
}

}  // namespace api
