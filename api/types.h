// Plain structs for the objects the migration components read and write:
// VirtualMachineInstance (VMI), VirtualMachineInstanceMigration (VMIM), the
// KubeVirt configuration, and PersistentVolumeClaim (PVC). Only the fields we
// use are modelled; json.h maps them from and to JSON.
//
// All types are values (copyable, no hidden sharing); safe to read from many
// threads once built.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/quantity.h"

namespace api {

// ---------------------------------------------------------------- metadata

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string generate_name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  std::optional<std::string> deletion_timestamp;  // RFC 3339, set while deleting
  std::string creation_timestamp;                 // RFC 3339 or empty
};

// A status condition. `status` is "True", "False" or "Unknown".
struct Condition {
  std::string type;
  std::string status;
  std::string reason;   // CamelCase, machine-readable
  std::string message;  // for people
  std::string last_transition_time;
  std::string last_probe_time;

  friend bool operator==(const Condition&, const Condition&) = default;
};

// The condition of `type` in `conditions`, or null. The pointer is into the
// vector and valid while it is not modified.
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);

// Well-known names.
inline constexpr std::string_view kConditionLiveMigratable = "LiveMigratable";
inline constexpr std::string_view kMethodLiveMigration = "LiveMigration";
inline constexpr std::string_view kMethodBlockMigration = "BlockMigration";
inline constexpr std::string_view kFeatureGateLiveMigration = "LiveMigration";
inline constexpr std::string_view kLabelVMIName = "kubevirt.io/vmi-name";
inline constexpr std::string_view kFinalizerMigrationJob = "kubevirt.io/migrationJobFinalize";

// ---------------------------------------------------------------- VMI

enum class VolumeKind {
  kContainerDisk,
  kPersistentVolumeClaim,  // claim_name
  kDataVolume,             // claim_name = the DataVolume's name (its PVC has the same name)
  kEmptyDisk,              // capacity
  kCloudInitNoCloud,
  kCloudInitConfigDrive,
  kHostDisk,  // capacity, host_disk_shared
  kConfigMap,
  kSecret,
  kServiceAccount,
  kDownwardAPI,
  kEphemeral,  // PVC-backed with a node-local overlay; claim_name
  kOther,      // anything else (or no source at all)
};
std::string_view VolumeKindName(VolumeKind kind);  // the JSON key, "other" for kOther

struct Volume {
  std::string name;
  VolumeKind kind = VolumeKind::kOther;
  std::string claim_name;            // kPersistentVolumeClaim, kDataVolume, kEphemeral
  std::optional<Quantity> capacity;  // kEmptyDisk, kHostDisk when given
  bool host_disk_shared = false;     // kHostDisk: spec.volumes[].hostDisk.shared
  std::string image;                 // kContainerDisk
  // kCloudInitNoCloud: cloudInitNoCloud.{userData,userDataBase64,networkData}, as given
  // (userDataBase64 is not decoded here).
  std::string user_data;
  std::string user_data_base64;
  std::string network_data;
};

// spec.domain.devices.disks[]: how a volume appears to the guest. `name` matches
// a volume. The device kind is the member present (disk, cdrom or lun); a disk
// entry with none of them is a plain disk, as in KubeVirt.
enum class DiskDevice { kDisk, kCdrom, kLun };
struct Disk {
  std::string name;
  DiskDevice device = DiskDevice::kDisk;
  std::string bus;         // disk.bus / cdrom.bus / lun.bus; empty = the default
  int64_t boot_order = 0;  // bootOrder; 0 = unset
  std::string serial;
};

// spec.domain.firmware.kernelBoot: direct kernel boot. On our nodes the
// container image names a node-local image directory (design.md §4.3) and
// the paths are relative to it.
struct KernelBoot {
  std::string kernel_args;  // kernelArgs
  std::string image;        // container.image
  std::string kernel_path;  // container.kernelPath
  std::string initrd_path;  // container.initrdPath
};

enum class InterfaceBinding {
  kNone,  // no binding key present (the cluster default applies)
  kMasquerade,
  kBridge,
  kSriov,
  kSlirp,
  kPasst,
  kMacvtap,
  kOther,  // binding plugins (`binding: {name: ...}`) and unknown keys
};
std::string_view InterfaceBindingName(InterfaceBinding binding);  // "masquerade", "none"...

struct Interface {
  std::string name;
  InterfaceBinding binding = InterfaceBinding::kNone;
  std::string mac_address;  // macAddress; empty = generated
};

enum class NetworkKind { kPod, kMultus, kOther };

struct Network {
  std::string name;
  NetworkKind kind = NetworkKind::kOther;
  std::string multus_network_name;  // kMultus: multus.networkName
};

// The settings a migration runs with (KubeVirt's MigrationConfiguration).
// Fields not set in the KubeVirt object keep these defaults.
struct MigrationConfig {
  int64_t parallel_migrations_per_cluster = 5;
  int64_t parallel_outbound_migrations_per_node = 2;
  // Bytes per second; zero means unlimited.
  Quantity bandwidth_per_migration =
      Quantity::FromInt64(64 * 1024 * 1024, Quantity::Format::kBinarySI);
  int64_t completion_timeout_per_gib = 800;  // seconds per GiB to copy
  int64_t progress_timeout = 150;            // seconds without progress
  bool allow_auto_converge = false;
  bool allow_post_copy = false;

  friend bool operator==(const MigrationConfig&, const MigrationConfig&) = default;
};

// VMI.status.migrationState (design.md §2). Timestamps are RFC 3339 strings.
struct MigrationState {
  std::optional<std::string> start_timestamp;
  std::optional<std::string> end_timestamp;
  std::string source_node;
  std::string target_node;
  std::string target_node_address;
  bool target_node_domain_detected = false;
  std::map<std::string, int> target_direct_migration_node_ports;  // port -> guest port
  std::string target_pod;
  std::string migration_uid;
  bool completed = false;
  bool failed = false;
  bool abort_requested = false;
  std::string abort_status;  // "", "Aborting", "Succeeded", "Failed"
  std::string failure_reason;
  std::string mode;  // "", "PreCopy", "PostCopy"
  std::optional<MigrationConfig> migration_configuration;

  friend bool operator==(const MigrationState&, const MigrationState&) = default;
};

struct VMIInterfaceStatus {
  std::string name;
  std::string ip_address;
  std::vector<std::string> ip_addresses;
  std::string mac;
};

struct VMISpec {
  std::optional<Quantity> memory_guest;    // spec.domain.memory.guest
  std::optional<Quantity> memory_request;  // spec.domain.resources.requests.memory
  int64_t cpu_cores = 0;                   // spec.domain.cpu.cores (0 = unset)
  int64_t cpu_sockets = 0;                 // spec.domain.cpu.sockets (0 = unset)
  int64_t cpu_threads = 0;                 // spec.domain.cpu.threads (0 = unset)
  std::vector<Disk> disks;                 // spec.domain.devices.disks
  std::optional<KernelBoot> kernel_boot;   // spec.domain.firmware.kernelBoot
  std::vector<Volume> volumes;
  std::vector<Interface> interfaces;  // spec.domain.devices.interfaces
  std::vector<Network> networks;
  std::map<std::string, std::string> node_selector;
};

// VMI phases as strings, as KubeVirt spells them.
inline constexpr std::string_view kVMIPending = "Pending";
inline constexpr std::string_view kVMIScheduling = "Scheduling";
inline constexpr std::string_view kVMIScheduled = "Scheduled";
inline constexpr std::string_view kVMIRunning = "Running";
inline constexpr std::string_view kVMISucceeded = "Succeeded";
inline constexpr std::string_view kVMIFailed = "Failed";

struct VMIStatus {
  std::string phase;  // kVMI* or empty
  std::string node_name;
  std::vector<Condition> conditions;
  std::string migration_method;  // kMethodLiveMigration, kMethodBlockMigration or empty
  std::optional<MigrationState> migration_state;
  std::vector<VMIInterfaceStatus> interfaces;
};

struct VMI {
  ObjectMeta meta;
  VMISpec spec;
  VMIStatus status;

  bool IsFinal() const { return status.phase == kVMISucceeded || status.phase == kVMIFailed; }
  bool IsRunning() const { return status.phase == kVMIRunning; }
  // Guest memory: memory.guest, else resources.requests.memory; null if neither.
  const Quantity* GuestMemory() const;
  // The network named `name`, or null.
  const Network* FindNetwork(std::string_view name) const;
};

// ---------------------------------------------------------------- VMIM

// VMIM phases (design.md §4.2). kUnset is the empty phase of a new object;
// kUnknown is any string we do not know (kept tolerant so that a newer engine
// does not break readers).
enum class MigrationPhase {
  kUnset,
  kPending,
  kScheduling,
  kScheduled,
  kPreparingTarget,
  kTargetReady,
  kRunning,
  kSucceeded,
  kFailed,
  kUnknown,
};
std::string_view PhaseName(MigrationPhase phase);  // "" for kUnset, "Unknown" for kUnknown
MigrationPhase ParseMigrationPhase(std::string_view name);
inline bool IsFinal(MigrationPhase p) {
  return p == MigrationPhase::kSucceeded || p == MigrationPhase::kFailed;
}

struct PhaseTransition {
  MigrationPhase phase = MigrationPhase::kUnset;
  std::string timestamp;  // RFC 3339

  friend bool operator==(const PhaseTransition&, const PhaseTransition&) = default;
};

struct VMIMSpec {
  std::string vmi_name;
  std::map<std::string, std::string> added_node_selector;
  // The whole `spec` serialized with object keys sorted, for exact semantic
  // comparison (catches changes to fields we do not model). Empty when the
  // object had no spec. Filled by json.h's parsers.
  std::string canonical_json;
};

struct VMIMStatus {
  MigrationPhase phase = MigrationPhase::kUnset;
  std::vector<PhaseTransition> phase_transition_timestamps;
  std::vector<Condition> conditions;
  std::optional<MigrationState> migration_state;

  friend bool operator==(const VMIMStatus&, const VMIMStatus&) = default;
};

struct VMIM {
  ObjectMeta meta;
  VMIMSpec spec;
  VMIMStatus status;

  bool IsFinal() const { return api::IsFinal(status.phase); }
};

// ---------------------------------------------------------------- KubeVirt

struct KubeVirtConfig {
  std::vector<std::string> feature_gates;  // developerConfiguration.featureGates
  MigrationConfig migrations;

  bool HasFeatureGate(std::string_view gate) const;
  bool LiveMigrationEnabled() const { return HasFeatureGate(kFeatureGateLiveMigration); }
};

struct KubeVirt {
  ObjectMeta meta;
  KubeVirtConfig config;
};

// ---------------------------------------------------------------- PVC

struct PVC {
  ObjectMeta meta;
  std::vector<std::string> access_modes;  // spec.accessModes
  // status.capacity.storage, else spec.resources.requests.storage.
  std::optional<Quantity> capacity;
  std::string volume_mode;  // "Filesystem", "Block" or empty
  std::string volume_name;  // spec.volumeName: the bound PersistentVolume, or empty

  bool HasAccessMode(std::string_view mode) const;
  bool IsShared() const { return HasAccessMode("ReadWriteMany"); }
};

// ---------------------------------------------------------------- PV

// A PersistentVolume, with the sources a node can open itself. At most one of
// host_path, local_path and nfs_* is set (the first present of hostPath,
// local, nfs); none for other sources (csi, iscsi...).
struct PV {
  ObjectMeta meta;
  std::vector<std::string> access_modes;  // spec.accessModes
  std::optional<Quantity> capacity;       // spec.capacity.storage
  std::string host_path;                  // spec.hostPath.path
  std::string local_path;                 // spec.local.path
  std::string nfs_server;                 // spec.nfs.server
  std::string nfs_path;                   // spec.nfs.path
  std::string volume_mode;                // spec.volumeMode
  std::string claim_namespace;            // spec.claimRef.namespace
  std::string claim_name;                 // spec.claimRef.name

  bool HasAccessMode(std::string_view mode) const;
  bool IsShared() const { return HasAccessMode("ReadWriteMany"); }
};

}  // namespace api
