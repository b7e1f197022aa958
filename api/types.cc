#include "api/types.h"

#include <algorithm>

namespace api {

const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

std::string_view VolumeKindName(VolumeKind kind) {
  switch (kind) {
    case VolumeKind::kContainerDisk: return "containerDisk";
    case VolumeKind::kPersistentVolumeClaim: return "persistentVolumeClaim";
    case VolumeKind::kDataVolume: return "dataVolume";
    case VolumeKind::kEmptyDisk: return "emptyDisk";
    case VolumeKind::kCloudInitNoCloud: return "cloudInitNoCloud";
    case VolumeKind::kCloudInitConfigDrive: return "cloudInitConfigDrive";
    case VolumeKind::kHostDisk: return "hostDisk";
    case VolumeKind::kConfigMap: return "configMap";
    case VolumeKind::kSecret: return "secret";
    case VolumeKind::kServiceAccount: return "serviceAccount";
    case VolumeKind::kDownwardAPI: return "downwardAPI";
    case VolumeKind::kEphemeral: return "ephemeral";
    case VolumeKind::kOther: return "other";
  }
  return "other";
}

std::string_view InterfaceBindingName(InterfaceBinding binding) {
  switch (binding) {
    case InterfaceBinding::kNone: return "none";
    case InterfaceBinding::kMasquerade: return "masquerade";
    case InterfaceBinding::kBridge: return "bridge";
    case InterfaceBinding::kSriov: return "sriov";
    case InterfaceBinding::kSlirp: return "slirp";
    case InterfaceBinding::kPasst: return "passt";
    case InterfaceBinding::kMacvtap: return "macvtap";
    case InterfaceBinding::kOther: return "other";
  }
  return "other";
}

namespace {
struct PhaseEntry {
  MigrationPhase phase;
  std::string_view name;
};
constexpr PhaseEntry kPhases[] = {
    {MigrationPhase::kUnset, ""},
    {MigrationPhase::kPending, "Pending"},
    {MigrationPhase::kScheduling, "Scheduling"},
    {MigrationPhase::kScheduled, "Scheduled"},
    {MigrationPhase::kPreparingTarget, "PreparingTarget"},
    {MigrationPhase::kTargetReady, "TargetReady"},
    {MigrationPhase::kRunning, "Running"},
    {MigrationPhase::kSucceeded, "Succeeded"},
    {MigrationPhase::kFailed, "Failed"},
};
}  // namespace

std::string_view PhaseName(MigrationPhase phase) {
  for (const PhaseEntry& e : kPhases) {
    if (e.phase == phase) return e.name;
  }
  return "Unknown";
}

MigrationPhase ParseMigrationPhase(std::string_view name) {
  for (const PhaseEntry& e : kPhases) {
    if (e.name == name) return e.phase;
  }
  return MigrationPhase::kUnknown;
}

const Quantity* VMI::GuestMemory() const {
  if (spec.memory_guest) return &*spec.memory_guest;
  if (spec.memory_request) return &*spec.memory_request;
  return nullptr;
}

const Network* VMI::FindNetwork(std::string_view name) const {
  for (const Network& n : spec.networks) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

bool KubeVirtConfig::HasFeatureGate(std::string_view gate) const {
  return std::find(feature_gates.begin(), feature_gates.end(), gate) != feature_gates.end();
}

bool PVC::HasAccessMode(std::string_view mode) const {
  return std::find(access_modes.begin(), access_modes.end(), mode) != access_modes.end();
}

bool PV::HasAccessMode(std::string_view mode) const {
  return std::find(access_modes.begin(), access_modes.end(), mode) != access_modes.end();
}

}  // namespace api
