#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "api/json.h"

namespace {

constexpr const char* kVMI = R"({
  "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
  "metadata": {"name": "vmi-fedora", "namespace": "default", "uid": "u-1", "resourceVersion": "42",
               "generation": 3, "labels": {"app": "web"}, "annotations": {"a": "b"},
               "finalizers": ["foregroundDeleteVirtualMachine"],
               "creationTimestamp": "2026-11-25T10:00:00Z", "deletionTimestamp": null},
  "spec": {
    "domain": {
      "memory": {"guest": "1.5Gi"},
      "resources": {"requests": {"memory": "2Gi"}},
      "cpu": {"cores": 2, "sockets": 3, "threads": 4},
      "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0",
                                  "container": {"image": "guest", "kernelPath": "/boot/vmlinuz",
                                                "initrdPath": "/boot/initrd.img"}}},
      "devices": {"disks": [
        {"name": "cd", "disk": {"bus": "sata"}, "bootOrder": 1, "serial": "S-1"},
        {"name": "ci", "cdrom": {"bus": "scsi"}},
        {"name": "pvc", "lun": {}},
        {"name": "dv"}
      ], "interfaces": [
        {"name": "default", "masquerade": {}, "macAddress": "52:54:00:12:34:56"},
        {"name": "br", "bridge": {}},
        {"name": "sr", "sriov": {}},
        {"name": "sl", "slirp": {}},
        {"name": "pa", "passt": {}},
        {"name": "mv", "macvtap": {}},
        {"name": "pl", "binding": {"name": "plugin"}},
        {"name": "none"}
      ]}
    },
    "volumes": [
      {"name": "cd", "containerDisk": {"image": "quay.io/fedora"}},
      {"name": "pvc", "persistentVolumeClaim": {"claimName": "disk-pvc"}},
      {"name": "dv", "dataVolume": {"name": "disk-dv"}},
      {"name": "ed", "emptyDisk": {"capacity": "2Gi"}},
      {"name": "ci", "cloudInitNoCloud": {"userData": "#cloud-config", "userDataBase64": "I2Nsb3Vk",
                                            "networkData": "version: 2"}},
      {"name": "cfd", "cloudInitConfigDrive": {}},
      {"name": "hd", "hostDisk": {"path": "/x.img", "capacity": "1Gi", "shared": true, "type": "Disk"}},
      {"name": "cm", "configMap": {"name": "c"}},
      {"name": "sec", "secret": {"secretName": "s"}},
      {"name": "sa", "serviceAccount": {"serviceAccountName": "default"}},
      {"name": "dapi", "downwardAPI": {}},
      {"name": "eph", "ephemeral": {"persistentVolumeClaim": {"claimName": "base"}}},
      {"name": "weird", "sysprep": {}}
    ],
    "networks": [{"name": "default", "pod": {}}, {"name": "br", "multus": {"networkName": "ns/net"}},
                 {"name": "x"}],
    "nodeSelector": {"kubernetes.io/hostname": "node01"}
  },
  "status": {
    "phase": "Running", "nodeName": "node01", "migrationMethod": "BlockMigration",
    "conditions": [{"type": "LiveMigratable", "status": "False", "reason": "DisksNotLiveMigratable",
                    "message": "m", "lastTransitionTime": "2026-11-25T10:00:01Z", "lastProbeTime": null}],
    "interfaces": [{"name": "default", "ipAddress": "10.0.0.5", "ipAddresses": ["10.0.0.5"],
                    "mac": "52:54:00:00:00:01"}],
    "migrationState": {
      "startTimestamp": "2026-11-25T10:01:00Z", "endTimestamp": "2026-11-25T10:02:00Z",
      "sourceNode": "node02", "targetNode": "node01", "targetNodeAddress": "10.128.0.46",
      "targetNodeDomainDetected": true,
      "targetDirectMigrationNodePorts": {"35001": 0, "41068": 49152},
      "targetPod": "", "migrationUid": "mig-uid", "completed": true, "failed": true,
      "abortRequested": true, "abortStatus": "Succeeded", "failureReason": "aborted", "mode": "PreCopy",
      "migrationConfiguration": {"completionTimeoutPerGiB": 800, "progressTimeout": 150,
                                 "bandwidthPerMigration": "64Mi"}
    }
  }
})";

constexpr const char* kVMIM = R"({
  "apiVersion": "kubevirt.io/v1alpha3", "kind": "VirtualMachineInstanceMigration",
  "metadata": {"name": "migration-job", "namespace": "default", "uid": "m-1",
               "labels": {"kubevirt.io/vmi-name": "vmi-fedora"},
               "finalizers": ["kubevirt.io/migrationJobFinalize"]},
  "spec": {"vmiName": "vmi-fedora", "addedNodeSelector": {"zone": "a"}},
  "status": {"phase": "Running",
             "phaseTransitionTimestamps": [{"phase": "Pending", "phaseTransitionTimestamp": "t1"},
                                           {"phase": "Running", "phaseTransitionTimestamp": "t2"}],
             "conditions": [{"type": "Ready", "status": "True"}],
             "migrationState": {"sourceNode": "node01", "completed": false}}
})";

constexpr const char* kKubeVirt = R"({
  "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
  "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
  "spec": {"configuration": {
    "developerConfiguration": {"featureGates": ["DataVolumes", "LiveMigration"]},
    "migrationConfiguration": {"parallelMigrationsPerCluster": 3, "parallelOutboundMigrationsPerNode": 1,
                               "bandwidthPerMigration": "1Gi", "completionTimeoutPerGiB": 100},
    "migrations": {"parallelMigrationsPerCluster": 7, "progressTimeout": 60, "allowPostCopy": true}
  }}
})";

constexpr const char* kPVC = R"({
  "apiVersion": "v1", "kind": "PersistentVolumeClaim",
  "metadata": {"name": "disk-pvc", "namespace": "default"},
  "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem", "volumeName": "pv-1",
           "resources": {"requests": {"storage": "10Gi"}}},
  "status": {"capacity": {"storage": "12Gi"}}
})";

constexpr const char* kPV = R"({
  "apiVersion": "v1", "kind": "PersistentVolume",
  "metadata": {"name": "pv-1"},
  "spec": {"accessModes": ["ReadWriteMany"], "capacity": {"storage": "10Gi"},
           "volumeMode": "Filesystem", "claimRef": {"namespace": "default", "name": "disk-pvc"},
           "hostPath": {"path": "/srv/pv-1", "type": "DirectoryOrCreate"},
           "local": {"path": "/mnt/disks/ssd1"},
           "nfs": {"server": "nfs.example", "path": "/exports/pv-1", "readOnly": false},
           "persistentVolumeReclaimPolicy": "Retain"}
})";

TEST_CASE("ParseVMI reads every modelled field") {
  auto r = api::ParseVMI(kVMI);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const api::VMI& v = *r;
  CHECK(v.meta.name == "vmi-fedora");
  CHECK(v.meta.namespace_ == "default");
  CHECK(v.meta.uid == "u-1");
  CHECK(v.meta.resource_version == "42");
  CHECK(v.meta.generation == 3);
  CHECK(v.meta.labels.at("app") == "web");
  CHECK(v.meta.annotations.at("a") == "b");
  CHECK(v.meta.finalizers == std::vector<std::string>{"foregroundDeleteVirtualMachine"});
  CHECK_FALSE(v.meta.deletion_timestamp.has_value());
  CHECK(v.meta.creation_timestamp == "2026-11-25T10:00:00Z");
  REQUIRE(v.spec.memory_guest);
  CHECK(v.spec.memory_guest->String() == "1536Mi");
  CHECK(v.GuestMemory() == &*v.spec.memory_guest);
  CHECK(v.spec.memory_request->String() == "2Gi");
  CHECK(v.spec.cpu_cores == 2);
  CHECK(v.spec.cpu_sockets == 3);
  CHECK(v.spec.cpu_threads == 4);
  REQUIRE(v.spec.kernel_boot);
  CHECK(v.spec.kernel_boot->kernel_args == "console=ttyS0");
  CHECK(v.spec.kernel_boot->image == "guest");
  CHECK(v.spec.kernel_boot->kernel_path == "/boot/vmlinuz");
  CHECK(v.spec.kernel_boot->initrd_path == "/boot/initrd.img");
  REQUIRE(v.spec.disks.size() == 4);
  CHECK(v.spec.disks[0].name == "cd");
  CHECK(v.spec.disks[0].device == api::DiskDevice::kDisk);
  CHECK(v.spec.disks[0].bus == "sata");
  CHECK(v.spec.disks[0].boot_order == 1);
  CHECK(v.spec.disks[0].serial == "S-1");
  CHECK(v.spec.disks[1].device == api::DiskDevice::kCdrom);
  CHECK(v.spec.disks[1].bus == "scsi");
  CHECK(v.spec.disks[2].device == api::DiskDevice::kLun);
  CHECK(v.spec.disks[2].bus.empty());
  CHECK(v.spec.disks[3].device == api::DiskDevice::kDisk);
  CHECK(v.spec.disks[3].boot_order == 0);
  CHECK(v.spec.interfaces[0].mac_address == "52:54:00:12:34:56");
  CHECK(v.spec.interfaces[1].mac_address.empty());

  using B = api::InterfaceBinding;
  const std::vector<B> bindings = {B::kMasquerade, B::kBridge,  B::kSriov, B::kSlirp,
                                   B::kPasst,      B::kMacvtap, B::kOther, B::kNone};
  REQUIRE(v.spec.interfaces.size() == bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) CHECK(v.spec.interfaces[i].binding == bindings[i]);
  CHECK(v.spec.interfaces[1].name == "br");

  using K = api::VolumeKind;
  const std::vector<K> kinds = {K::kContainerDisk,
                                K::kPersistentVolumeClaim,
                                K::kDataVolume,
                                K::kEmptyDisk,
                                K::kCloudInitNoCloud,
                                K::kCloudInitConfigDrive,
                                K::kHostDisk,
                                K::kConfigMap,
                                K::kSecret,
                                K::kServiceAccount,
                                K::kDownwardAPI,
                                K::kEphemeral,
                                K::kOther};
  REQUIRE(v.spec.volumes.size() == kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    INFO("volume " << i);
    CHECK(v.spec.volumes[i].kind == kinds[i]);
  }
  CHECK(v.spec.volumes[0].image == "quay.io/fedora");
  CHECK(v.spec.volumes[1].claim_name == "disk-pvc");
  CHECK(v.spec.volumes[2].claim_name == "disk-dv");
  CHECK(v.spec.volumes[3].capacity->String() == "2Gi");
  CHECK(v.spec.volumes[4].user_data == "#cloud-config");
  CHECK(v.spec.volumes[4].user_data_base64 == "I2Nsb3Vk");
  CHECK(v.spec.volumes[4].network_data == "version: 2");
  CHECK(v.spec.volumes[6].host_disk_shared);
  CHECK(v.spec.volumes[6].capacity->String() == "1Gi");
  CHECK(v.spec.volumes[11].claim_name == "base");

  REQUIRE(v.spec.networks.size() == 3);
  CHECK(v.spec.networks[0].kind == api::NetworkKind::kPod);
  CHECK(v.spec.networks[1].kind == api::NetworkKind::kMultus);
  CHECK(v.spec.networks[1].multus_network_name == "ns/net");
  CHECK(v.spec.networks[2].kind == api::NetworkKind::kOther);
  CHECK(v.FindNetwork("br") == &v.spec.networks[1]);
  CHECK(v.FindNetwork("nope") == nullptr);
  CHECK(v.spec.node_selector.at("kubernetes.io/hostname") == "node01");

  CHECK(v.IsRunning());
  CHECK_FALSE(v.IsFinal());
  CHECK(v.status.node_name == "node01");
  CHECK(v.status.migration_method == "BlockMigration");
  const api::Condition* c = api::FindCondition(v.status.conditions, "LiveMigratable");
  REQUIRE(c != nullptr);
  CHECK(c->status == "False");
  CHECK(c->reason == "DisksNotLiveMigratable");
  CHECK(c->last_transition_time == "2026-11-25T10:00:01Z");
  REQUIRE(v.status.interfaces.size() == 1);
  CHECK(v.status.interfaces[0].ip_address == "10.0.0.5");
  CHECK(v.status.interfaces[0].mac == "52:54:00:00:00:01");

  REQUIRE(v.status.migration_state);
  const api::MigrationState& s = *v.status.migration_state;
  CHECK(s.start_timestamp == "2026-11-25T10:01:00Z");
  CHECK(s.end_timestamp == "2026-11-25T10:02:00Z");
  CHECK(s.source_node == "node02");
  CHECK(s.target_node == "node01");
  CHECK(s.target_node_address == "10.128.0.46");
  CHECK(s.target_node_domain_detected);
  CHECK(s.target_direct_migration_node_ports ==
        std::map<std::string, int>{{"35001", 0}, {"41068", 49152}});
  CHECK(s.migration_uid == "mig-uid");
  CHECK(s.completed);
  CHECK(s.failed);
  CHECK(s.abort_requested);
  CHECK(s.abort_status == "Succeeded");
  CHECK(s.failure_reason == "aborted");
  CHECK(s.mode == "PreCopy");
  REQUIRE(s.migration_configuration);
  CHECK(s.migration_configuration->completion_timeout_per_gib == 800);
  CHECK(s.migration_configuration->progress_timeout == 150);
  CHECK(s.migration_configuration->bandwidth_per_migration.String() == "64Mi");
}

TEST_CASE("ParseVMIM reads spec, status and a canonical spec") {
  auto r = api::ParseVMIM(kVMIM);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const api::VMIM& m = *r;
  CHECK(m.meta.name == "migration-job");
  CHECK(m.meta.labels.at("kubevirt.io/vmi-name") == "vmi-fedora");
  CHECK(m.spec.vmi_name == "vmi-fedora");
  CHECK(m.spec.added_node_selector.at("zone") == "a");
  CHECK(m.spec.canonical_json == R"({"addedNodeSelector":{"zone":"a"},"vmiName":"vmi-fedora"})");
  CHECK(m.status.phase == api::MigrationPhase::kRunning);
  CHECK_FALSE(m.IsFinal());
  REQUIRE(m.status.phase_transition_timestamps.size() == 2);
  CHECK(m.status.phase_transition_timestamps[0].phase == api::MigrationPhase::kPending);
  CHECK(m.status.phase_transition_timestamps[1].timestamp == "t2");
  CHECK(m.status.conditions.size() == 1);
  REQUIRE(m.status.migration_state);
  CHECK(m.status.migration_state->source_node == "node01");
}

TEST_CASE("VMIM canonical spec ignores key order and whitespace") {
  auto a = api::ParseVMIM(R"({"spec":{"vmiName":"x","addedNodeSelector":{"b":"1","a":"2"}}})");
  auto b = api::ParseVMIM(R"({"spec": {"addedNodeSelector": {"a":"2", "b":"1"}, "vmiName": "x"}})");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->spec.canonical_json == b->spec.canonical_json);
  auto c =
      api::ParseVMIM(R"({"spec":{"vmiName":"x","addedNodeSelector":{"b":"1","a":"2"},"extra":1}})");
  REQUIRE(c.ok());
  CHECK(c->spec.canonical_json != a->spec.canonical_json);
}

TEST_CASE("migration phases round-trip by name and unknown names are tolerated") {
  using P = api::MigrationPhase;
  for (P p : {P::kUnset, P::kPending, P::kScheduling, P::kScheduled, P::kPreparingTarget,
              P::kTargetReady, P::kRunning, P::kSucceeded, P::kFailed}) {
    CHECK(api::ParseMigrationPhase(api::PhaseName(p)) == p);
  }
  CHECK(api::ParseMigrationPhase("Exploded") == P::kUnknown);
  CHECK_FALSE(api::IsFinal(P::kUnknown));
  CHECK(api::IsFinal(P::kSucceeded));
  CHECK(api::IsFinal(P::kFailed));
  CHECK_FALSE(api::IsFinal(P::kRunning));
}

TEST_CASE("ParseKubeVirt merges both config paths, migrations winning field by field") {
  auto r = api::ParseKubeVirt(kKubeVirt);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const api::KubeVirtConfig& c = r->config;
  CHECK(c.LiveMigrationEnabled());
  CHECK(c.HasFeatureGate("DataVolumes"));
  CHECK(c.migrations.parallel_migrations_per_cluster == 7);        // migrations wins
  CHECK(c.migrations.parallel_outbound_migrations_per_node == 1);  // only in migrationConfiguration
  CHECK(c.migrations.bandwidth_per_migration.String() == "1Gi");
  CHECK(c.migrations.completion_timeout_per_gib == 100);
  CHECK(c.migrations.progress_timeout == 60);
  CHECK(c.migrations.allow_post_copy);
  CHECK_FALSE(c.migrations.allow_auto_converge);
}

TEST_CASE("ParseKubeVirt applies the documented defaults") {
  auto r =
      api::ParseKubeVirt(R"({"apiVersion":"kubevirt.io/v1alpha3","kind":"KubeVirt","spec":{}})");
  REQUIRE(r.ok());
  const api::MigrationConfig& m = r->config.migrations;
  CHECK(m.parallel_migrations_per_cluster == 5);
  CHECK(m.parallel_outbound_migrations_per_node == 2);
  CHECK(m.bandwidth_per_migration.String() == "64Mi");
  CHECK(m.completion_timeout_per_gib == 800);
  CHECK(m.progress_timeout == 150);
  CHECK_FALSE(r->config.LiveMigrationEnabled());
  // A numeric bandwidth is a quantity too; 0 means unlimited.
  auto z = api::ParseKubeVirt(
      R"({"spec":{"configuration":{"migrations":{"bandwidthPerMigration":0}}}})");
  REQUIRE(z.ok());
  CHECK(z->config.migrations.bandwidth_per_migration.IsZero());
}

TEST_CASE("ParsePVC prefers the bound capacity and reads access modes") {
  auto r = api::ParsePVC(kPVC);
  REQUIRE(r.ok());
  CHECK(r->HasAccessMode("ReadWriteOnce"));
  CHECK_FALSE(r->IsShared());
  CHECK(r->capacity->String() == "12Gi");
  CHECK(r->volume_mode == "Filesystem");
  CHECK(r->volume_name == "pv-1");
  auto rwx = api::ParsePVC(
      R"({"spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"1Gi"}}}})");
  REQUIRE(rwx.ok());
  CHECK(rwx->IsShared());
  CHECK(rwx->capacity->String() == "1Gi");
}

TEST_CASE("ParsePV reads its node-openable sources, capacity and claim") {
  auto r = api::ParsePV(kPV);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->meta.name == "pv-1");
  CHECK(r->IsShared());
  CHECK_FALSE(r->HasAccessMode("ReadWriteOnce"));
  CHECK(r->capacity->String() == "10Gi");
  CHECK(r->volume_mode == "Filesystem");
  CHECK(r->claim_namespace == "default");
  CHECK(r->claim_name == "disk-pvc");
  CHECK(r->host_path == "/srv/pv-1");
  CHECK(r->local_path == "/mnt/disks/ssd1");
  CHECK(r->nfs_server == "nfs.example");
  CHECK(r->nfs_path == "/exports/pv-1");
  auto csi = api::ParsePV(R"({"spec":{"csi":{"driver":"x"}}})");
  REQUIRE(csi.ok());
  CHECK(csi->host_path.empty());
  CHECK(csi->local_path.empty());
  CHECK(csi->nfs_server.empty());
}

TEST_CASE("parsers reject hostile input with an error naming the field") {
  using Parser = std::function<base::Status(std::string_view)>;
  const Parser vmi = [](std::string_view j) { return api::ParseVMI(j).status(); };
  const Parser vmim = [](std::string_view j) { return api::ParseVMIM(j).status(); };
  const Parser kv = [](std::string_view j) { return api::ParseKubeVirt(j).status(); };
  const Parser pvc = [](std::string_view j) { return api::ParsePVC(j).status(); };
  const Parser pv = [](std::string_view j) { return api::ParsePV(j).status(); };
  struct Case {
    const Parser* parse;
    std::string json;
    const char* error;
  };
  const Case cases[] = {
      {&vmim, "", "invalid JSON at offset 0"},
      {&vmim, R"({"spec":)", "invalid JSON"},
      {&vmim, R"({"spec":{}} trailing)", "invalid JSON"},
      {&vmim, "[]", "must be a JSON object, got an array"},
      {&vmim, "42", "must be a JSON object, got a number"},
      {&vmim, R"({"spec":{"vmiName":5}})", "spec.vmiName: must be a string, got a number"},
      {&vmim, R"({"spec":[]})", "spec: must be an object, got an array"},
      {&vmim, R"({"spec":{"addedNodeSelector":{"a":true}}})",
       "spec.addedNodeSelector[a]: must be a string"},
      {&vmim, R"({"apiVersion":"kubevirt.io/v2"})", "apiVersion: unsupported \"kubevirt.io/v2\""},
      {&vmim, R"({"apiVersion":7})", "apiVersion: must be a string"},
      {&vmim, R"({"kind":"Pod"})", "kind: must be VirtualMachineInstanceMigration, got \"Pod\""},
      {&vmim, R"({"metadata":"x"})", "metadata: must be an object, got a string"},
      {&vmim, R"({"metadata":{"name":[]}})", "metadata.name: must be a string, got an array"},
      {&vmim, R"({"metadata":{"labels":{"a":1}}})", "metadata.labels[a]: must be a string"},
      {&vmim, R"({"metadata":{"finalizers":[1]}})", "metadata.finalizers[0]: must be a string"},
      {&vmim, R"({"metadata":{"generation":1.5}})", "metadata.generation: must be an integer"},
      {&vmim, R"({"metadata":{"generation":"1"}})",
       "metadata.generation: must be an integer, got a string"},
      {&vmim, R"({"status":{"phase":{}}})", "status.phase: must be a string, got an object"},
      {&vmim, R"({"status":{"phaseTransitionTimestamps":[1]}})",
       "status.phaseTransitionTimestamps[0]: must be an object"},
      {&vmim, R"({"status":{"conditions":{}}})",
       "status.conditions: must be an array, got an object"},
      {&vmim, R"({"status":{"migrationState":{"completed":"yes"}}})",
       "status.migrationState.completed: must be a boolean"},
      {&vmim, R"({"spec":{"x":)" + std::string(200, '[') + std::string(200, ']') + "}}",
       "spec: nested deeper than 100 levels"},
      {&vmim, std::string(100000, '['), "invalid JSON"},
      {&vmi, R"({"spec":{"volumes":[{"name":"a","persistentVolumeClaim":{"claimName":7}}]}})",
       "spec.volumes[0].persistentVolumeClaim.claimName: must be a string"},
      {&vmi, R"({"spec":{"volumes":[{"name":"a","persistentVolumeClaim":{}}]}})",
       "spec.volumes[0].persistentVolumeClaim.claimName: must be a non-empty string"},
      {&vmi, R"({"spec":{"volumes":[{"name":"a","dataVolume":"x"}]}})",
       "spec.volumes[0].dataVolume: must be an object, got a string"},
      {&vmi, R"({"spec":{"volumes":{}}})", "spec.volumes: must be an array"},
      {&vmi, R"({"spec":{"volumes":["a"]}})", "spec.volumes[0]: must be an object"},
      {&vmi, R"({"spec":{"volumes":[{"name":"e","emptyDisk":{"capacity":"2GB"}}]}})",
       "spec.volumes[0].emptyDisk.capacity: quantities must match the regular expression"},
      {&vmi, R"({"spec":{"volumes":[{"name":"e","emptyDisk":{"capacity":true}}]}})",
       "spec.volumes[0].emptyDisk.capacity: must be a quantity (string or number), got a boolean"},
      {&vmi, R"({"spec":{"domain":{"memory":{"guest":"1GB"}}}})",
       "spec.domain.memory.guest: quantities must match the regular expression"},
      {&vmi, R"({"spec":{"domain":{"memory":{"guest":"1Qi"}}}})", "spec.domain.memory.guest:"},
      {&vmi, R"({"spec":{"domain":{"cpu":{"cores":"2"}}}})",
       "spec.domain.cpu.cores: must be an integer"},
      {&vmi, R"({"spec":{"domain":{"devices":{"interfaces":[{"name":"a","bridge":true}]}}}})",
       "spec.domain.devices.interfaces[0].bridge: must be an object, got a boolean"},
      {&vmi, R"({"spec":{"domain":{"devices":[]}}})", "spec.domain.devices: must be an object"},
      {&vmi, R"({"spec":{"networks":[{"name":"n","multus":{"networkName":1}}]}})",
       "spec.networks[0].multus.networkName: must be a string"},
      {&vmi, R"({"spec":{"nodeSelector":[]}})", "spec.nodeSelector: must be an object"},
      {&vmi, R"({"status":{"migrationState":{"targetDirectMigrationNodePorts":{"1":"x"}}}})",
       "status.migrationState.targetDirectMigrationNodePorts[1]: must be an integer"},
      {&vmi, R"({"status":{"migrationState":{"migrationConfiguration":{"progressTimeout":"x"}}}})",
       "status.migrationState.migrationConfiguration.progressTimeout: must be an integer"},
      {&vmi, R"({"status":{"conditions":[5]}})", "status.conditions[0]: must be an object"},
      {&vmi, R"({"status":{"conditions":[{"type":1}]}})",
       "status.conditions[0].type: must be a string"},
      {&vmi, R"({"status":{"interfaces":[{"ipAddresses":"x"}]}})",
       "status.interfaces[0].ipAddresses: must be an array"},
      {&vmi, R"({"kind":"VirtualMachineInstanceMigration"})",
       "kind: must be VirtualMachineInstance"},
      {&kv, R"({"spec":{"configuration":{"migrations":{"parallelMigrationsPerCluster":"5"}}}})",
       "spec.configuration.migrations.parallelMigrationsPerCluster: must be an integer, got a "
       "string"},
      {&kv,
       R"({"spec":{"configuration":{"migrationConfiguration":{"bandwidthPerMigration":"fast"}}}})",
       "spec.configuration.migrationConfiguration.bandwidthPerMigration: quantities must match"},
      {&kv,
       R"({"spec":{"configuration":{"developerConfiguration":{"featureGates":"LiveMigration"}}}})",
       "spec.configuration.developerConfiguration.featureGates: must be an array"},
      {&kv, R"({"spec":{"configuration":{"migrations":{"allowPostCopy":1}}}})",
       "spec.configuration.migrations.allowPostCopy: must be a boolean"},
      {&kv, R"({"spec":{"configuration":7}})",
       "spec.configuration: must be an object, got a number"},
      {&pvc, R"({"apiVersion":"kubevirt.io/v1"})",
       "apiVersion: unsupported \"kubevirt.io/v1\" (want v1)"},
      {&pvc, R"({"spec":{"accessModes":"ReadWriteMany"}})", "spec.accessModes: must be an array"},
      {&pvc, R"({"status":{"capacity":{"storage":"-"}}})",
       "status.capacity.storage: quantities must match"},
      {&pvc, R"({"spec":{"volumeName":3}})", "spec.volumeName: must be a string, got a number"},
      {&vmi, R"({"spec":{"domain":{"cpu":{"sockets":"2"}}}})",
       "spec.domain.cpu.sockets: must be an integer, got a string"},
      {&vmi, R"({"spec":{"domain":{"cpu":{"threads":1.5}}}})",
       "spec.domain.cpu.threads: must be an integer"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":{}}}}})",
       "spec.domain.devices.disks: must be an array, got an object"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[7]}}}})",
       "spec.domain.devices.disks[0]: must be an object, got a number"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":1}]}}}})",
       "spec.domain.devices.disks[0].name: must be a string"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","disk":"virtio"}]}}}})",
       "spec.domain.devices.disks[0].disk: must be an object, got a string"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","disk":{"bus":1}}]}}}})",
       "spec.domain.devices.disks[0].disk.bus: must be a string"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","cdrom":{"bus":[]}}]}}}})",
       "spec.domain.devices.disks[0].cdrom.bus: must be a string, got an array"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","lun":true}]}}}})",
       "spec.domain.devices.disks[0].lun: must be an object"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","bootOrder":"1"}]}}}})",
       "spec.domain.devices.disks[0].bootOrder: must be an integer, got a string"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","bootOrder":-1}]}}}})",
       "spec.domain.devices.disks[0].bootOrder: must not be negative"},
      {&vmi, R"({"spec":{"domain":{"devices":{"disks":[{"name":"a","serial":5}]}}}})",
       "spec.domain.devices.disks[0].serial: must be a string"},
      {&vmi, R"({"spec":{"domain":{"firmware":[]}}})",
       "spec.domain.firmware: must be an object, got an array"},
      {&vmi, R"({"spec":{"domain":{"firmware":{"kernelBoot":"x"}}}})",
       "spec.domain.firmware.kernelBoot: must be an object, got a string"},
      {&vmi, R"({"spec":{"domain":{"firmware":{"kernelBoot":{"kernelArgs":1}}}}})",
       "spec.domain.firmware.kernelBoot.kernelArgs: must be a string"},
      {&vmi, R"({"spec":{"domain":{"firmware":{"kernelBoot":{"container":1}}}}})",
       "spec.domain.firmware.kernelBoot.container: must be an object, got a number"},
      {&vmi, R"({"spec":{"domain":{"firmware":{"kernelBoot":{"container":{"image":{}}}}}}})",
       "spec.domain.firmware.kernelBoot.container.image: must be a string, got an object"},
      {&vmi, R"({"spec":{"domain":{"firmware":{"kernelBoot":{"container":{"kernelPath":true}}}}}})",
       "spec.domain.firmware.kernelBoot.container.kernelPath: must be a string"},
      {&vmi, R"({"spec":{"domain":{"firmware":{"kernelBoot":{"container":{"initrdPath":2}}}}}})",
       "spec.domain.firmware.kernelBoot.container.initrdPath: must be a string"},
      {&vmi, R"({"spec":{"volumes":[{"name":"c","cloudInitNoCloud":{"userData":1}}]}})",
       "spec.volumes[0].cloudInitNoCloud.userData: must be a string, got a number"},
      {&vmi, R"({"spec":{"volumes":[{"name":"c","cloudInitNoCloud":{"userDataBase64":[]}}]}})",
       "spec.volumes[0].cloudInitNoCloud.userDataBase64: must be a string"},
      {&vmi, R"({"spec":{"volumes":[{"name":"c","cloudInitNoCloud":{"networkData":{}}}]}})",
       "spec.volumes[0].cloudInitNoCloud.networkData: must be a string"},
      {&vmi, R"({"spec":{"volumes":[{"name":"c","cloudInitNoCloud":"x"}]}})",
       "spec.volumes[0].cloudInitNoCloud: must be an object, got a string"},
      {&vmi, R"({"spec":{"domain":{"devices":{"interfaces":[{"name":"a","macAddress":5}]}}}})",
       "spec.domain.devices.interfaces[0].macAddress: must be a string, got a number"},
      {&pv, R"({"kind":"PersistentVolumeClaim"})", "kind: must be PersistentVolume"},
      {&pv, R"({"apiVersion":"kubevirt.io/v1"})", "apiVersion: unsupported"},
      {&pv, R"({"spec":{"accessModes":[1]}})", "spec.accessModes[0]: must be a string"},
      {&pv, R"({"spec":{"capacity":{"storage":"x"}}})", "spec.capacity.storage: quantities must"},
      {&pv, R"({"spec":{"capacity":[]}})", "spec.capacity: must be an object"},
      {&pv, R"({"spec":{"hostPath":{"path":1}}})", "spec.hostPath.path: must be a string"},
      {&pv, R"({"spec":{"hostPath":"/x"}})", "spec.hostPath: must be an object, got a string"},
      {&pv, R"({"spec":{"local":{"path":[]}}})", "spec.local.path: must be a string"},
      {&pv, R"({"spec":{"nfs":{"server":1}}})", "spec.nfs.server: must be a string"},
      {&pv, R"({"spec":{"nfs":{"server":"s","path":false}}})", "spec.nfs.path: must be a string"},
      {&pv, R"({"spec":{"claimRef":{"name":1}}})", "spec.claimRef.name: must be a string"},
      {&pv, R"({"spec":{"volumeMode":1}})", "spec.volumeMode: must be a string"},
  };
  for (const Case& c : cases) {
    INFO("json " << c.json.substr(0, 200));
    base::Status s = (*c.parse)(c.json);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == base::Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains(c.error));
  }
}

// A JSON pointer token: '~' and '/' escaped (RFC 6901).
std::string Escape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Every value in `v` reachable by a JSON pointer, depth first.
void CollectPointers(const rapidjson::Value& v, const std::string& at,
                     std::vector<std::string>& out) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      std::string p =
          at + "/" + Escape(std::string_view(m.name.GetString(), m.name.GetStringLength()));
      out.push_back(p);
      CollectPointers(m.value, p, out);
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      std::string p = at + "/" + std::to_string(i);
      out.push_back(p);
      CollectPointers(v[i], p, out);
    }
  }
}

// Replaces the value at every path with each wrong type: parsing must never
// crash or assert, and every failure must be an InvalidArgument naming a field.
template <typename ParseFn>
void SweepWrongTypes(const char* json, ParseFn parse) {
  rapidjson::Document base;
  base.Parse(json);
  REQUIRE_FALSE(base.HasParseError());
  std::vector<std::string> pointers;
  CollectPointers(base, "", pointers);
  REQUIRE(pointers.size() > 10);
  const char* replacements[] = {"null", "true", "-1",     "1.5",       "\"s\"",
                                "[]",   "{}",   "[1,{}]", "{\"a\":[]}"};
  int failures = 0;
  for (const std::string& ptr : pointers) {
    for (const char* rep : replacements) {
      rapidjson::Document doc;
      doc.CopyFrom(base, doc.GetAllocator());
      rapidjson::Document r;
      r.Parse(rep);
      rapidjson::Value* target = rapidjson::Pointer(ptr.c_str()).Get(doc);
      REQUIRE(target != nullptr);
      target->CopyFrom(r, doc.GetAllocator());
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      doc.Accept(w);
      base::Status s = parse(std::string_view(buf.GetString(), buf.GetSize()));
      if (!s.ok()) {
        ++failures;
        INFO("at " << ptr << " = " << rep << ": " << s.message());
        CHECK(s.code() == base::Code::kInvalidArgument);
        CHECK(s.message().find(": ") != std::string::npos);
      }
    }
  }
  CHECK(failures > 0);  // the sweep did hit type checks
}

TEST_CASE("parsers survive a wrong type at every path of a full object") {
  SweepWrongTypes(kVMI, [](std::string_view j) { return api::ParseVMI(j).status(); });
  SweepWrongTypes(kVMIM, [](std::string_view j) { return api::ParseVMIM(j).status(); });
  SweepWrongTypes(kKubeVirt, [](std::string_view j) { return api::ParseKubeVirt(j).status(); });
  SweepWrongTypes(kPVC, [](std::string_view j) { return api::ParsePVC(j).status(); });
  SweepWrongTypes(kPV, [](std::string_view j) { return api::ParsePV(j).status(); });
}

TEST_CASE("parsers accept a rapidjson value directly") {
  rapidjson::Document d;
  d.Parse(kVMIM);
  auto m = api::ParseVMIM(static_cast<const rapidjson::Value&>(d));
  REQUIRE(m.ok());
  CHECK(m->spec.vmi_name == "vmi-fedora");
  rapidjson::Document p;
  p.Parse(kPVC);
  CHECK(api::ParsePVC(static_cast<const rapidjson::Value&>(p)).ok());
}

TEST_CASE("migration state encodes to JSON and parses back unchanged") {
  api::MigrationState s;
  s.start_timestamp = "2026-11-25T10:01:00Z";
  s.end_timestamp = "2026-11-25T10:02:00Z";
  s.source_node = "node02";
  s.target_node = "node01";
  s.target_node_address = "10.128.0.46";
  s.target_node_domain_detected = true;
  s.target_direct_migration_node_ports = {{"35001", 0}, {"41068", 49152}};
  s.migration_uid = "uid";
  s.completed = true;
  s.failed = true;
  s.abort_requested = true;
  s.abort_status = "Succeeded";
  s.failure_reason = "cancelled";
  s.mode = "PreCopy";
  s.migration_configuration = api::MigrationConfig{};
  std::string json = api::MigrationStateToJson(s);
  auto vmi = api::ParseVMI(R"({"status":{"migrationState":)" + json + "}}");
  INFO(json);
  REQUIRE(vmi.ok());
  CHECK(*vmi->status.migration_state == s);
  CHECK_THAT(json, Catch::Contains(R"("bandwidthPerMigration":"64Mi")"));
}

TEST_CASE("migration state encoding always carries completed and failed for merge patches") {
  api::MigrationState s;
  CHECK(api::MigrationStateToJson(s) == R"({"completed":false,"failed":false})");
}

TEST_CASE("VMIM status encodes to JSON and parses back unchanged") {
  api::VMIMStatus st;
  st.phase = api::MigrationPhase::kPreparingTarget;
  st.phase_transition_timestamps = {{api::MigrationPhase::kPending, "t1"},
                                    {api::MigrationPhase::kPreparingTarget, "t2"}};
  st.conditions = {{"Ready", "False", "WaitingForSlot", "cluster limit", "t0", ""}};
  st.migration_state = api::MigrationState{};
  st.migration_state->source_node = "node01";
  std::string json = api::VMIMStatusToJson(st);
  auto m = api::ParseVMIM(R"({"status":)" + json + "}");
  INFO(json);
  REQUIRE(m.ok());
  CHECK(m->status == st);
  CHECK(
      api::ConditionToJson(st.conditions[0]) ==
      R"({"type":"Ready","status":"False","reason":"WaitingForSlot","message":"cluster limit","lastTransitionTime":"t0"})");
}

TEST_CASE("CanonicalJson sorts keys recursively and keeps array order") {
  rapidjson::Document d;
  d.Parse(R"({"b":1,"a":{"d":[3,{"z":1,"y":2}],"c":"x"}})");
  auto c = api::CanonicalJson(d);
  REQUIRE(c.ok());
  CHECK(*c == R"({"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1})");
}

}  // namespace

TEST_CASE("JSON depth counts nesting outside strings only") {
  struct Case {
    const char* json;
    int depth;
  } cases[] = {{"1", 0},
               {"{}", 1},
               {"[[],[[]]]", 3},
               {R"({"a":"[[[["})", 1},
               {R"(["\"[[["])", 1},
               {R"(["\\",[]])", 2},
               {"]]]]", 0}};
  for (const Case& c : cases) {
    INFO(c.json);
    CHECK(api::JsonDepth(c.json) == c.depth);
  }
}
