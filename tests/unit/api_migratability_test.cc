#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "api/migratability.h"

namespace {

using api::InterfaceBinding;
using api::NetworkKind;
using api::VolumeKind;

api::Volume Vol(const std::string& name, VolumeKind kind, const std::string& claim = "") {
  api::Volume v;
  v.name = name;
  v.kind = kind;
  v.claim_name = claim;
  return v;
}

struct Fixture {
  std::map<std::string, api::PVC> pvcs;  // "ns/name"

  void AddPVC(const std::string& name, const std::string& mode) {
    api::PVC p;
    p.meta.namespace_ = "default";
    p.meta.name = name;
    p.access_modes = {mode};
    pvcs["default/" + name] = p;
  }
  api::PVCLookup Lookup() const {
    return [this](std::string_view ns, std::string_view name) -> const api::PVC* {
      auto it = pvcs.find(std::string(ns) + "/" + std::string(name));
      return it == pvcs.end() ? nullptr : &it->second;
    };
  }
};

api::VMI BaseVMI() {
  api::VMI vmi;
  vmi.meta.namespace_ = "default";
  vmi.meta.name = "vmi";
  vmi.spec.networks = {{"default", NetworkKind::kPod, ""},
                       {"data", NetworkKind::kMultus, "ns/data"}};
  return vmi;
}

TEST_CASE("migratability rules, one case per rule and their combinations") {
  Fixture f;
  f.AddPVC("rwx", "ReadWriteMany");
  f.AddPVC("disk-pvc", "ReadWriteOnce");
  f.AddPVC("rox", "ReadOnlyMany");
  f.AddPVC("dv-rwo", "ReadWriteOnce");

  struct Case {
    const char* name;
    std::vector<api::Volume> volumes;
    std::vector<api::Interface> interfaces;
    bool migratable;
    std::vector<std::string> reason_codes;
    std::vector<std::string> message_parts;  // one per reason, in order
    const char* method;
  };
  const std::string kDisks(api::kReasonDisksNotLiveMigratable);
  const std::string kIface(api::kReasonInterfaceNotLiveMigratable);
  const Case cases[] = {
      {"nothing at all", {}, {}, true, {}, {}, "LiveMigration"},
      {"masquerade on the pod network",
       {},
       {{"default", InterfaceBinding::kMasquerade, ""}},
       true,
       {},
       {},
       "LiveMigration"},
      {"RWX PVC",
       {Vol("d", VolumeKind::kPersistentVolumeClaim, "rwx")},
       {},
       true,
       {},
       {},
       "LiveMigration"},
      {"RWX DataVolume",
       {Vol("d", VolumeKind::kDataVolume, "rwx")},
       {},
       true,
       {},
       {},
       "LiveMigration"},
      {"RWO PVC",
       {Vol("d", VolumeKind::kPersistentVolumeClaim, "disk-pvc")},
       {},
       false,
       {kDisks},
       {"cannot migrate VMI: PVC disk-pvc is not shared, live migration requires that all PVCs "
        "must be "
        "shared (using ReadWriteMany access mode)"},
       "LiveMigration"},
      {"ROX PVC",
       {Vol("d", VolumeKind::kPersistentVolumeClaim, "rox")},
       {},
       false,
       {kDisks},
       {"PVC rox is not shared"},
       "LiveMigration"},
      {"RWO DataVolume",
       {Vol("d", VolumeKind::kDataVolume, "dv-rwo")},
       {},
       false,
       {kDisks},
       {"PVC dv-rwo is not shared"},
       "LiveMigration"},
      {"missing PVC",
       {Vol("d", VolumeKind::kPersistentVolumeClaim, "gone")},
       {},
       false,
       {kDisks},
       {"cannot migrate VMI: PVC gone not found"},
       "LiveMigration"},
      {"bridge on the pod network",
       {},
       {{"default", InterfaceBinding::kBridge, ""}},
       false,
       {kIface},
       {"cannot migrate VMI: interface default connects to the pod network with bridge binding"},
       "LiveMigration"},
      {"bridge on a multus network",
       {},
       {{"data", InterfaceBinding::kBridge, ""}},
       true,
       {},
       {},
       "LiveMigration"},
      {"bridge on an undeclared network",
       {},
       {{"ghost", InterfaceBinding::kBridge, ""}},
       true,
       {},
       {},
       "LiveMigration"},
      {"sriov, slirp, passt, macvtap, plugin and default bindings pass",
       {},
       {{"default", InterfaceBinding::kSriov, ""},
        {"default", InterfaceBinding::kSlirp, ""},
        {"default", InterfaceBinding::kPasst, ""},
        {"default", InterfaceBinding::kMacvtap, ""},
        {"default", InterfaceBinding::kOther, ""},
        {"default", InterfaceBinding::kNone, ""}},
       true,
       {},
       {},
       "LiveMigration"},
      {"containerDisk needs block migration",
       {Vol("c", VolumeKind::kContainerDisk)},
       {},
       true,
       {},
       {},
       "BlockMigration"},
      {"emptyDisk", {Vol("e", VolumeKind::kEmptyDisk)}, {}, true, {}, {}, "BlockMigration"},
      {"cloud-init NoCloud",
       {Vol("c", VolumeKind::kCloudInitNoCloud)},
       {},
       true,
       {},
       {},
       "BlockMigration"},
      {"cloud-init ConfigDrive",
       {Vol("c", VolumeKind::kCloudInitConfigDrive)},
       {},
       true,
       {},
       {},
       "BlockMigration"},
      {"ephemeral overlay on an RWO PVC is copied, not shared",
       {Vol("e", VolumeKind::kEphemeral, "disk-pvc")},
       {},
       true,
       {},
       {},
       "BlockMigration"},
      {"unknown volume source", {Vol("o", VolumeKind::kOther)}, {}, true, {}, {}, "BlockMigration"},
      {"RWO PVC, missing PVC and bridge: every reason, in order",
       {Vol("a", VolumeKind::kContainerDisk),
        Vol("b", VolumeKind::kPersistentVolumeClaim, "disk-pvc"),
        Vol("c", VolumeKind::kDataVolume, "gone"),
        Vol("d", VolumeKind::kPersistentVolumeClaim, "rwx")},
       {{"default", InterfaceBinding::kBridge, ""}, {"data", InterfaceBinding::kBridge, ""}},
       false,
       {kDisks, kDisks, kIface},
       {"PVC disk-pvc is not shared", "PVC gone not found", "interface default"},
       "BlockMigration"},
      {"a claim used twice is reported once",
       {Vol("a", VolumeKind::kPersistentVolumeClaim, "disk-pvc"),
        Vol("b", VolumeKind::kPersistentVolumeClaim, "disk-pvc")},
       {},
       false,
       {kDisks},
       {"disk-pvc"},
       "LiveMigration"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    api::VMI vmi = BaseVMI();
    vmi.spec.volumes = c.volumes;
    vmi.spec.interfaces = c.interfaces;
    api::Migratability m = api::ComputeMigratability(vmi, f.Lookup());
    CHECK(m.migratable == c.migratable);
    CHECK(m.method == c.method);
    REQUIRE(m.reasons.size() == c.reason_codes.size());
    for (size_t i = 0; i < m.reasons.size(); ++i) {
      CHECK(m.reasons[i].reason == c.reason_codes[i]);
      CHECK_THAT(m.reasons[i].message, Catch::Contains(c.message_parts[i]));
    }
  }
}

TEST_CASE("host disks are copied unless marked shared") {
  api::VMI vmi = BaseVMI();
  api::Volume hd = Vol("h", VolumeKind::kHostDisk);
  vmi.spec.volumes = {hd};
  CHECK(api::ComputeMigratability(vmi, {}).method == "BlockMigration");
  vmi.spec.volumes[0].host_disk_shared = true;
  CHECK(api::ComputeMigratability(vmi, {}).method == "LiveMigration");
}

TEST_CASE("without a PVC lookup every claim counts as missing") {
  api::VMI vmi = BaseVMI();
  vmi.spec.volumes = {Vol("d", VolumeKind::kPersistentVolumeClaim, "x")};
  api::Migratability m = api::ComputeMigratability(vmi, {});
  REQUIRE_FALSE(m.migratable);
  CHECK_THAT(m.reasons[0].message, Catch::Contains("PVC x not found"));
}

TEST_CASE("PVCs are looked up in the VMI's namespace") {
  Fixture f;
  f.AddPVC("rwx", "ReadWriteMany");  // in "default"
  api::VMI vmi = BaseVMI();
  vmi.meta.namespace_ = "other";
  vmi.spec.volumes = {Vol("d", VolumeKind::kPersistentVolumeClaim, "rwx")};
  CHECK_FALSE(api::ComputeMigratability(vmi, f.Lookup()).migratable);
}

TEST_CASE("LiveMigratable condition carries the first reason and every message") {
  api::Migratability m;
  m.migratable = false;
  m.method = "LiveMigration";
  m.reasons = {{"DisksNotLiveMigratable", "cannot migrate VMI: PVC a not found"},
               {"InterfaceNotLiveMigratable", "cannot migrate VMI: interface default ..."}};
  api::Condition c = m.ToCondition(nullptr, "T1");
  CHECK(c.type == "LiveMigratable");
  CHECK(c.status == "False");
  CHECK(c.reason == "DisksNotLiveMigratable");
  CHECK(c.message ==
        "cannot migrate VMI: PVC a not found; cannot migrate VMI: interface default ...");
  CHECK(c.last_transition_time == "T1");
}

TEST_CASE("LiveMigratable transition time changes only when the status flips") {
  api::Migratability ok;
  ok.method = "LiveMigration";
  api::Condition first = ok.ToCondition(nullptr, "T1");
  CHECK(first.status == "True");
  CHECK(first.reason == "Migratable");
  CHECK(first.message.empty());
  CHECK(ok.ToCondition(&first, "T2").last_transition_time == "T1");
  api::Migratability bad;
  bad.migratable = false;
  bad.reasons = {{"InterfaceNotLiveMigratable", "x"}};
  CHECK(bad.ToCondition(&first, "T3").last_transition_time == "T3");
}

}  // namespace
