// VMIController against FakeApi, FakeHypervisor and a fake clock: a VMI's
// start, its end (shutdown, crash, loss), deletion, what it leaves alone
// (other nodes' VMIs, migrating VMIs) and that a second run writes nothing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/json.h"
#include "engine/resources.h"
#include "engine/vmi_controller.h"
#include "kube/client.h"
#include "tests/fakes/fake_api.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_hypervisor.h"
#include "tests/testing/temp_dir.h"

using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;
using engine::DomainState;
using engine::kVMIs;
using Method = engine::testing::FakeHypervisor::Method;

const char* kDomain = "prod_vm1";

// A VMI on node01 (by nodeSelector) with `volumes`, and `status` when given.
std::string VmiJson(
    const std::string& volumes = R"([{"name":"scratch","emptyDisk":{"capacity":"16Mi"}}])",
    const std::string& status = "{}", const std::string& node = "node01") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",)"
         R"("metadata":{"name":"vm1","namespace":"prod"},)"
         R"("spec":{"nodeSelector":{"kubernetes.io/hostname":")" +
         node + R"("},"domain":{"devices":{},"memory":{"guest":"64Mi"}},"volumes":)" + volumes +
         R"(},"status":)" + status + "}";
}

struct Env {
  kube::testing::TempDir tmp{"kubemigrate-vmi-controller-"};
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  engine::testing::FakeHypervisor hv;
  kube::Store store;
  std::map<std::string, api::PVC> pvcs;  // "ns/name"
  std::map<std::string, api::PV> pvs;
  api::PVCLookup pvc_lookup = [this](std::string_view ns,
                                     std::string_view name) -> const api::PVC* {
    auto it = pvcs.find(std::string(ns) + "/" + std::string(name));
    return it == pvcs.end() ? nullptr : &it->second;
  };
  engine::NodeFiles files{
      engine::NodeFilesOptions{tmp.path() + "/images", tmp.path() + "/data", ""}, pvc_lookup,
      [this](std::string_view name) -> std::optional<api::PV> {
        auto it = pvs.find(std::string(name));
        if (it == pvs.end()) return std::nullopt;
        return it->second;
      }};
  engine::EventRecorder events{&api, &clock, {"migration-engine", "node01"}};
  std::unique_ptr<engine::VMIController> controller;

  explicit Env(const std::string& node = "node01") {
    engine::VMIControllerSettings settings;
    settings.node_name = node;
    settings.domain.domain_type = "qemu";
    controller = std::make_unique<engine::VMIController>(
        engine::VMIController::Deps{&api, &store, pvc_lookup, &hv, &files, &events, &clock},
        settings);
  }

  void Create(const std::string& json) {
    REQUIRE(api.Create(kVMIs, "prod", json, {}).ok());
    Sync();
  }
  // The informer's part: the store gets the API's current object.
  void Sync() {
    auto json = api.Peek(kVMIs, "prod", "vm1");
    if (!json) {
      store.Remove("prod/vm1");
      return;
    }
    auto obj = kube::ParseObject(*json);
    REQUIRE(obj.ok());
    store.Upsert(std::make_shared<const kube::Object>(*obj));
  }
  base::Status Reconcile() {
    base::Status s = controller->Reconcile("prod/vm1");
    Sync();
    return s;
  }
  api::VMI Vmi() const {
    auto json = api.Peek(kVMIs, "prod", "vm1");
    REQUIRE(json);
    auto vmi = api::ParseVMI(*json);
    REQUIRE(vmi.ok());
    return *vmi;
  }
  // The controller's writes to VMIs: patches and updates (not the test's
  // creates, not events).
  size_t VmiWrites() const {
    size_t n = 0;
    for (const std::string& c : api.calls()) {
      if (c.find(" virtualmachineinstances ") != std::string::npos &&
          (c.starts_with("PATCH") || c.starts_with("UPDATE"))) {
        ++n;
      }
    }
    return n;
  }
  // The reasons of the events written about the VMI.
  std::vector<std::string> EventReasons() const {
    std::vector<std::string> out;
    const std::string prefix = "CREATE events prod/";
    for (const std::string& c : api.calls()) {
      if (!c.starts_with(prefix)) continue;
      auto json = api.Peek(engine::kEvents, "prod", c.substr(prefix.size()));
      if (!json) continue;
      auto obj = kube::ParseObject(*json);
      REQUIRE(obj.ok());
      out.push_back(kube::StringField(*obj, "reason").value_or(""));
    }
    return out;
  }
  bool EventWritten(const std::string& reason) const {
    auto r = EventReasons();
    return std::find(r.begin(), r.end(), reason) != r.end();
  }
  // Sets the domain's state as libvirt would report it.
  void SetDomainState(DomainState state, int reason) {
    auto d = hv.Domain(kDomain);
    REQUIRE(d);
    d->state = state;
    d->state_reason = reason;
    hv.AddDomain(*d);
  }
  void Patch(const std::string& patch) {
    REQUIRE(api.Patch(kVMIs, "prod", "vm1", kube::PatchType::kMerge, patch, {}).ok());
    Sync();
  }
};

const api::Condition& Cond(const api::VMI& vmi, std::string_view type) {
  const api::Condition* c = api::FindCondition(vmi.status.conditions, type);
  INFO("condition " << type);
  REQUIRE(c != nullptr);
  return *c;
}

}  // namespace

TEST_CASE("a new VMI for this node is started and reported Running", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  base::Status s = env.Reconcile();
  INFO(s.ToString());
  REQUIRE(s.ok());
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Running");
  CHECK(vmi.status.node_name == "node01");
  CHECK(vmi.meta.finalizers == std::vector<std::string>{"kubemigrate.io/vmi-cleanup"});
  CHECK(vmi.status.migration_method == "BlockMigration");  // the emptyDisk is copied
  CHECK(Cond(vmi, "LiveMigratable").status == "True");
  CHECK(Cond(vmi, "Ready").status == "True");
  CHECK(Cond(vmi, "Ready").reason == "DomainRunning");
  CHECK(Cond(vmi, "Ready").last_transition_time == base::FormatRfc3339(env.clock.WallNow()));
  auto dom = env.hv.Domain(kDomain);
  REQUIRE(dom);
  CHECK(dom->state == DomainState::kRunning);
  CHECK(dom->persistent);
  CHECK(fs::exists(env.tmp.path() + "/data/vmis/prod_vm1/scratch.img"));
  auto define = env.hv.CallsOf(Method::kDefine);
  REQUIRE(define.size() == 1);
  CHECK_THAT(define[0].xml, Catch::Contains(env.tmp.path() + "/data/vmis/prod_vm1/serial.log"));
  CHECK_THAT(define[0].xml, Catch::Contains("type='qemu'"));
  // finalizer, Scheduled, Running
  CHECK(env.VmiWrites() == 3);
  CHECK(env.EventWritten("Started"));
}

TEST_CASE("reconciling a running VMI again writes nothing and starts nothing", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  REQUIRE(env.Reconcile().ok());
  const size_t writes = env.VmiWrites();
  const std::string before = *env.api.Peek(kVMIs, "prod", "vm1");
  env.clock.Advance(60s);
  REQUIRE(env.Reconcile().ok());
  REQUIRE(env.Reconcile().ok());
  CHECK(env.VmiWrites() == writes);
  CHECK(*env.api.Peek(kVMIs, "prod", "vm1") == before);
  CHECK(env.hv.CountOf(Method::kDefine) == 1);
  CHECK(env.hv.CountOf(Method::kStart) == 1);
}

TEST_CASE("a hypervisor that is unreachable leaves the VMI Scheduled, to be retried",
          "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  env.hv.FailNext(Method::kStart, base::Unavailable("libvirt connection lost"));
  base::Status s = env.Reconcile();
  CHECK(s.code() == base::Code::kUnavailable);
  CHECK(env.Vmi().status.phase == "Scheduled");
  CHECK(env.Vmi().status.node_name == "node01");
  REQUIRE(env.Reconcile().ok());
  CHECK(env.Vmi().status.phase == "Running");
  CHECK(env.hv.CountOf(Method::kStart) == 2);
  CHECK(env.hv.CountOf(Method::kDefine) == 2);  // the same definition again: harmless
}

TEST_CASE("a domain that fails to start fails the VMI for good, with the reason",
          "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  env.hv.FailNext(Method::kStart, base::Internal("qemu: could not allocate memory"));
  REQUIRE(env.Reconcile().ok());
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Failed");
  CHECK(Cond(vmi, "Ready").status == "False");
  CHECK(Cond(vmi, "Ready").reason == "DomainStartFailed");
  CHECK_THAT(Cond(vmi, "Ready").message, Catch::Contains("could not allocate memory"));
  CHECK(env.EventWritten("DomainStartFailed"));
  const size_t writes = env.VmiWrites();
  REQUIRE(env.Reconcile().ok());  // final: not retried
  CHECK(env.hv.CountOf(Method::kStart) == 1);
  CHECK(env.VmiWrites() == writes);
}

TEST_CASE("a spec the domain cannot be built from fails the VMI as InvalidSpec",
          "[vmi_controller]") {
  Env env;
  env.Create(VmiJson(R"([{"name":"cfg","configMap":{"name":"x"}}])"));
  REQUIRE(env.Reconcile().ok());
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Failed");
  CHECK(Cond(vmi, "Ready").reason == "VolumePrepareFailed");
  CHECK_THAT(Cond(vmi, "Ready").message, Catch::StartsWith("volume cfg: configMap"));
  CHECK(env.hv.CountOf(Method::kDefine) == 0);
}

TEST_CASE("a VMI waits, Scheduled and not Ready, while its PVC is unbound", "[vmi_controller]") {
  Env env;
  api::PVC pvc;
  pvc.access_modes = {"ReadWriteMany"};
  env.pvcs["prod/data"] = pvc;
  env.Create(VmiJson(R"([{"name":"rootdisk","persistentVolumeClaim":{"claimName":"data"}}])"));
  base::Status s = env.Reconcile();
  CHECK(s.code() == base::Code::kFailedPrecondition);  // retried with backoff
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Scheduled");
  CHECK(Cond(vmi, "Ready").reason == "VolumeNotReady");
  CHECK(Cond(vmi, "Ready").message ==
        "volume rootdisk: PVC prod/data is not bound to a PersistentVolume");

  // Bound now: the VMI starts.
  env.tmp.Write("pv/disk.img", std::string(4096, '\0'));
  env.pvcs["prod/data"].volume_name = "pv-1";
  api::PV pv;
  pv.access_modes = {"ReadWriteMany"};
  pv.host_path = env.tmp.path() + "/pv";
  env.pvs["pv-1"] = pv;
  REQUIRE(env.Reconcile().ok());
  vmi = env.Vmi();
  CHECK(vmi.status.phase == "Running");
  CHECK(Cond(vmi, "Ready").status == "True");
  CHECK(vmi.status.migration_method == "LiveMigration");
}

TEST_CASE("migratability is reported with every reason, as the webhook computes it",
          "[vmi_controller]") {
  Env env;
  env.tmp.Write("pv/disk.img", "x");
  api::PVC pvc;
  pvc.access_modes = {"ReadWriteOnce"};
  pvc.volume_name = "pv-1";
  env.pvcs["prod/data"] = pvc;
  api::PV pv;
  pv.access_modes = {"ReadWriteOnce"};
  pv.host_path = env.tmp.path() + "/pv";
  env.pvs["pv-1"] = pv;
  env.Create(VmiJson(R"([{"name":"rootdisk","persistentVolumeClaim":{"claimName":"data"}},
                        {"name":"scratch","emptyDisk":{"capacity":"1Mi"}}])"));
  REQUIRE(env.Reconcile().ok());
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Running");
  const api::Condition& lm = Cond(vmi, "LiveMigratable");
  CHECK(lm.status == "False");
  CHECK(lm.reason == "DisksNotLiveMigratable");
  CHECK_THAT(lm.message, Catch::Contains("data"));
  CHECK(vmi.status.migration_method == "BlockMigration");
}

TEST_CASE("a guest that shuts down ends its VMI Succeeded", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  REQUIRE(env.Reconcile().ok());
  const std::string ready_since = Cond(env.Vmi(), "Ready").last_transition_time;
  env.clock.Advance(30s);
  env.SetDomainState(DomainState::kShutoff, 1);  // VIR_DOMAIN_SHUTOFF_SHUTDOWN
  REQUIRE(env.Reconcile().ok());
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Succeeded");
  CHECK(Cond(vmi, "Ready").status == "False");
  CHECK(Cond(vmi, "Ready").reason == "GuestShutdown");
  CHECK(Cond(vmi, "Ready").last_transition_time != ready_since);
  CHECK(Cond(vmi, "LiveMigratable").status == "True");  // kept
}

TEST_CASE("a crashed or destroyed domain fails its VMI with the reason", "[vmi_controller]") {
  struct Case {
    DomainState state;
    int reason;
    const char* want;
  };
  for (const Case& c : {Case{DomainState::kCrashed, 0, "GuestCrashed"},
                        Case{DomainState::kShutoff, 3, "GuestCrashed"},
                        Case{DomainState::kShutoff, 2, "DomainDestroyed"},
                        Case{DomainState::kShutoff, 6, "DomainFailed"},
                        Case{DomainState::kShutoff, 0, "DomainStopped"}}) {
    Env env;
    env.Create(VmiJson());
    REQUIRE(env.Reconcile().ok());
    env.clock.Advance(1s);  // event names carry the time
    env.SetDomainState(c.state, c.reason);
    REQUIRE(env.Reconcile().ok());
    api::VMI vmi = env.Vmi();
    INFO(c.want);
    CHECK(vmi.status.phase == "Failed");
    CHECK(Cond(vmi, "Ready").reason == c.want);
    CHECK(env.EventWritten(c.want));
  }
}

TEST_CASE("a paused domain keeps its VMI Running but not Ready", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  REQUIRE(env.Reconcile().ok());
  const std::string lm_since = Cond(env.Vmi(), "LiveMigratable").last_transition_time;
  env.clock.Advance(10s);
  env.SetDomainState(DomainState::kPaused, 0);
  REQUIRE(env.Reconcile().ok());
  api::VMI vmi = env.Vmi();
  CHECK(vmi.status.phase == "Running");
  CHECK(Cond(vmi, "Ready").status == "False");
  CHECK(Cond(vmi, "Ready").reason == "Paused");
  CHECK(Cond(vmi, "LiveMigratable").last_transition_time == lm_since);
  env.SetDomainState(DomainState::kRunning, 1);
  REQUIRE(env.Reconcile().ok());
  CHECK(Cond(env.Vmi(), "Ready").status == "True");
}

TEST_CASE("a lost domain fails its VMI, but not while a migration is active", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  REQUIRE(env.Reconcile().ok());
  REQUIRE(env.hv.Stop(kDomain).ok());
  REQUIRE(env.hv.Undefine(kDomain).ok());
  REQUIRE_FALSE(env.hv.HasDomain(kDomain));

  SECTION("migrating: left to the migration controller") {
    env.Patch(R"({"status":{"migrationState":{"migrationUid":"mig-1","sourceNode":"node01",)"
              R"("targetNode":"node02","completed":false}}})");
    const size_t writes = env.VmiWrites();
    const size_t hv_calls = env.hv.Calls().size();
    REQUIRE(env.Reconcile().ok());
    CHECK(env.VmiWrites() == writes);
    CHECK(env.hv.Calls().size() == hv_calls);
    CHECK(env.Vmi().status.phase == "Running");
  }
  SECTION("a finished migration no longer protects it") {
    env.Patch(R"({"status":{"migrationState":{"migrationUid":"mig-1","completed":true,)"
              R"("failed":true}}})");
    REQUIRE(env.Reconcile().ok());
    CHECK(env.Vmi().status.phase == "Failed");
    CHECK(Cond(env.Vmi(), "Ready").reason == "DomainLost");
  }
  SECTION("no migration") {
    REQUIRE(env.Reconcile().ok());
    CHECK(env.Vmi().status.phase == "Failed");
    CHECK(Cond(env.Vmi(), "Ready").reason == "DomainLost");
  }
}

TEST_CASE("after a migration the target node keeps the status of the domain it received",
          "[vmi_controller]") {
  Env target("node02");
  // The VMI as the migration controller left it: nodeName = node02, completed.
  target.Create(
      VmiJson(R"([{"name":"scratch","emptyDisk":{"capacity":"16Mi"}}])",
              R"({"phase":"Running","nodeName":"node02","migrationMethod":"BlockMigration",)"
              R"("migrationState":{"migrationUid":"mig-1","completed":true},)"
              R"("conditions":[{"type":"Ready","status":"True","reason":"DomainRunning",)"
              R"("message":"domain prod_vm1 is running"}]})",
              "node01"));
  target.Patch(R"({"metadata":{"finalizers":["kubemigrate.io/vmi-cleanup"]}})");
  engine::DomainInfo info;
  info.name = kDomain;
  info.state = DomainState::kRunning;
  info.persistent = true;
  target.hv.AddDomain(info);
  const size_t writes = target.VmiWrites();
  REQUIRE(target.Reconcile().ok());
  CHECK(target.VmiWrites() == writes);  // already right
  CHECK(target.hv.CountOf(Method::kDefine) == 0);
  CHECK(target.hv.CountOf(Method::kStart) == 0);
  target.SetDomainState(DomainState::kPaused, 0);
  REQUIRE(target.Reconcile().ok());
  CHECK(Cond(target.Vmi(), "Ready").reason == "Paused");

  // The source node (node01) no longer owns it, although the nodeSelector names it.
  Env source("node01");
  source.Create(*target.api.Peek(kVMIs, "prod", "vm1"));
  REQUIRE(source.Reconcile().ok());
  CHECK(source.VmiWrites() == 0);
  CHECK(source.hv.Calls().empty());
}

TEST_CASE("a VMI of another node is not touched", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson(R"([{"name":"scratch","emptyDisk":{"capacity":"16Mi"}}])", "{}", "node02"));
  engine::DomainInfo incoming;
  incoming.name = kDomain;  // e.g. an incoming migration's domain
  incoming.state = DomainState::kPaused;
  env.hv.AddDomain(incoming);
  REQUIRE(env.Reconcile().ok());
  CHECK(env.api.calls() == std::vector<std::string>{"CREATE virtualmachineinstances prod/vm1"});
  CHECK(env.hv.Calls().empty());
  CHECK(env.hv.HasDomain(kDomain));
}

TEST_CASE("deleting a VMI stops and undefines its domain, removes its files, then its finalizer",
          "[vmi_controller]") {
  Env env;
  std::string json = VmiJson();
  const std::string meta = R"("metadata":{"name":"vm1","namespace":"prod")";
  json.replace(json.find(meta), meta.size(), meta + R"(,"finalizers":["example.com/other"])");
  env.Create(json);
  REQUIRE(env.Reconcile().ok());
  CHECK(env.Vmi().meta.finalizers ==
        std::vector<std::string>{"example.com/other", "kubemigrate.io/vmi-cleanup"});
  REQUIRE(fs::exists(env.tmp.path() + "/data/vmis/prod_vm1"));
  env.clock.Advance(1s);  // event names carry the time
  env.Patch(R"({"metadata":{"deletionTimestamp":"2026-12-03T10:00:00Z"}})");
  REQUIRE(env.Reconcile().ok());
  CHECK_FALSE(env.hv.HasDomain(kDomain));
  CHECK(env.hv.CountOf(Method::kStop) == 1);
  CHECK(env.hv.CountOf(Method::kUndefine) == 1);
  CHECK_FALSE(fs::exists(env.tmp.path() + "/data/vmis/prod_vm1"));
  CHECK(env.Vmi().meta.finalizers == std::vector<std::string>{"example.com/other"});
  CHECK(env.EventWritten("Stopped"));
  // Done: nothing more on the next run.
  const size_t writes = env.VmiWrites();
  REQUIRE(env.Reconcile().ok());
  CHECK(env.VmiWrites() == writes);
  CHECK(env.hv.CountOf(Method::kStop) == 1);
}

TEST_CASE("deleting a VMI whose domain is already gone still removes the finalizer",
          "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  REQUIRE(env.Reconcile().ok());
  REQUIRE(env.hv.Stop(kDomain).ok());
  REQUIRE(env.hv.Undefine(kDomain).ok());
  env.Patch(R"({"metadata":{"deletionTimestamp":"2026-12-03T10:00:00Z"}})");
  REQUIRE(env.Reconcile().ok());
  // Its last finalizer removed, the object being deleted is gone, as on the API server.
  CHECK_FALSE(env.api.Peek(engine::kVMIs, "prod", "vm1"));
}

TEST_CASE("a stale cache makes the write conflict and the key is retried", "[vmi_controller]") {
  Env env;
  env.Create(VmiJson());
  // Someone else wrote after the cache was filled.
  REQUIRE(env.api
              .Patch(kVMIs, "prod", "vm1", kube::PatchType::kMerge,
                     R"({"metadata":{"labels":{"a":"b"}}})", {})
              .ok());
  base::Status s = env.controller->Reconcile("prod/vm1");
  CHECK(s.code() == base::Code::kAborted);
  CHECK(env.hv.Calls().empty());
  env.Sync();
  REQUIRE(env.Reconcile().ok());
  CHECK(env.Vmi().status.phase == "Running");
  CHECK(env.Vmi().meta.labels.at("a") == "b");
}

TEST_CASE("a domain's lifecycle event names the VMI to reconcile", "[vmi_controller]") {
  engine::DomainEvent e;
  e.domain = "prod_vm1";
  e.lifecycle = engine::DomainEvent::kStopped;
  CHECK(engine::VMIController::KeyForDomainEvent(e) == "prod/vm1");
  e.domain = "not-ours";
  CHECK_FALSE(engine::VMIController::KeyForDomainEvent(e));
  e.kind = engine::DomainEvent::Kind::kConnectionRestored;
  e.domain = "";
  CHECK_FALSE(engine::VMIController::KeyForDomainEvent(e));
}
