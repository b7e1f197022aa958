// MigrationController on fakes: two engines (node01 source, node02 target)
// sharing one FakeApi, FakeHypervisors linked by a FakeFabric, and a slot
// limiter stand-in. The stores are refreshed from the FakeApi between steps,
// as the informers would.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "engine/events.h"
#include "engine/migration_controller.h"
#include "engine/migration_flow.h"
#include "engine/node_lease.h"
#include "engine/resources.h"
#include "kube/informer.h"
#include "tests/fakes/fake_api.h"
#include "tests/fakes/fake_hypervisor.h"

using namespace std::chrono_literals;
using engine::testing::FakeHypervisor;

namespace {

class Limiter final : public engine::SlotLimiter {
 public:
  base::StatusOr<engine::SlotGrant> Acquire(const engine::SlotRequest& r) override {
    std::lock_guard<std::mutex> l(mu);
    if (holders.count(r.vmim_uid)) return engine::SlotGrant{true, "", ""};
    if (static_cast<int64_t>(holders.size()) >= limit) {
      return engine::SlotGrant{false, "ParallelOutboundMigrationsPerNodeReached",
                               "waiting for a migration slot: " + std::to_string(holders.size()) +
                                   " of " + std::to_string(limit) + " in use"};
    }
    holders.insert(r.vmim_uid);
    return engine::SlotGrant{true, "", ""};
  }
  base::Status Release(const std::string& uid) override {
    std::lock_guard<std::mutex> l(mu);
    holders.erase(uid);
    return base::Status::Ok();
  }
  std::mutex mu;
  std::set<std::string> holders;
  int64_t limit = 2;
};

const char* kKubeVirt = R"({"apiVersion":"kubevirt.io/v1","kind":"KubeVirt",
  "metadata":{"name":"kubevirt","namespace":"kubevirt"},
  "spec":{"configuration":{"developerConfiguration":{"featureGates":["LiveMigration"]}}}})";

std::string Vmi(const std::string& name, const std::string& node) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
    "metadata":{"name":")" + name + R"(","namespace":"default","uid":"vmi-uid-)" + name + R"("},
    "spec":{"domain":{"memory":{"guest":"256Mi"},"devices":{}}},
    "status":{"phase":"Running","nodeName":")" + node + R"(","migrationMethod":"LiveMigration",
      "conditions":[{"type":"LiveMigratable","status":"True","reason":"Migratable"}]}})";
}

std::string Vmim(const std::string& name, const std::string& vmi) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
    "metadata":{"name":")" + name + R"(","namespace":"default","creationTimestamp":"2026-12-03T10:00:00Z"},
    "spec":{"vmiName":")" + vmi + R"("}})";
}

struct Node {
  Node(const std::string& name, kube::Api* api, engine::testing::FakeFabric* fabric,
       Limiter* limiter, std::map<std::string, kube::Store*> stores)
      : hv(FakeHypervisor::Options{"qemu+tcp://" + name + "/system", fabric, nullptr}),
        events(api, base::RealClock(), {"migration-engine", name, 600s}) {
    engine::MigrationControllerDeps d;
    d.api = api;
    d.vmims = stores["vmims"];
    d.vmis = stores["vmis"];
    d.engine_leases = stores["leases"];
    d.nodes = stores["nodes"];
    d.kubevirts = stores["kubevirts"];
    d.hv = &hv;
    d.slots = limiter;
    d.events = &events;
    d.clock = base::RealClock();
    d.volume_sources = [](const api::VMI&) { return base::StatusOr<engine::DomainSources>(engine::DomainSources{}); };
    d.prepare_target = [](const api::VMI&) { return base::Status::Ok(); };
    d.remove_files = [this](const std::string& ns, const std::string& vmi) {
      std::lock_guard<std::mutex> l(mu);
      removed.push_back(ns + "/" + vmi);
      return base::Status::Ok();
    };
    d.requeue = [this](const std::string& key, std::chrono::nanoseconds) {
      std::lock_guard<std::mutex> l(mu);
      requeued.push_back(key);
    };
    engine::MigrationControllerSettings s;
    s.node_name = name;
    s.migration_address = "10.0.0." + name.substr(name.size() - 1);
    s.poll_interval = 2ms;
    s.progress_interval = 0ms;
    controller = std::make_unique<engine::MigrationController>(d, s);
    hv.SetEventHandler([this](const engine::DomainEvent& e) { controller->OnDomainEvent(e); });
  }
  FakeHypervisor hv;
  engine::EventRecorder events;
  std::unique_ptr<engine::MigrationController> controller;
  std::mutex mu;
  std::vector<std::string> requeued;
  std::vector<std::string> removed;  // remove_files calls: "ns/vmi"
  std::vector<std::string> Removed() {
    std::lock_guard<std::mutex> l(mu);
    return removed;
  }
};

// The engines' view of the API server: `inner` (the cluster's FakeApi), and,
// once, right after the JSON patch that writes a VMI's migrationState (the
// first write of a migration's start), `kubectl delete` of VMIM `vmim`: the
// deletion lands between the engine's read of the VMIM and its Running write.
class DeleteDuringStart final : public kube::Api {
 public:
  explicit DeleteDuringStart(std::string vmim) : vmim_(std::move(vmim)) {}
  kube::testing::FakeApi* inner = nullptr;
  base::StatusOr<kube::Object> Get(const kube::ResourceRef& ref, std::string_view ns,
                                   std::string_view name, std::string_view sub) override {
    return inner->Get(ref, ns, name, sub);
  }
  base::StatusOr<kube::Object> Create(const kube::ResourceRef& ref, std::string_view ns,
                                      std::string_view body,
                                      const kube::CreateOptions& o) override {
    return inner->Create(ref, ns, body, o);
  }
  base::StatusOr<kube::Object> Update(const kube::ResourceRef& ref, std::string_view ns,
                                      std::string_view name, std::string_view body,
                                      const kube::UpdateOptions& o) override {
    return inner->Update(ref, ns, name, body, o);
  }
  base::StatusOr<kube::Object> Patch(const kube::ResourceRef& ref, std::string_view ns,
                                     std::string_view name, kube::PatchType type,
                                     std::string_view patch, const kube::PatchOptions& o) override {
    auto r = inner->Patch(ref, ns, name, type, patch, o);
    if (!deleted && ref.resource == engine::kVMIs.resource && type == kube::PatchType::kJson &&
        patch.find(R"("add","path":"/status/migrationState")") != std::string_view::npos) {
      deleted = true;
      REQUIRE(inner
                  ->Patch(engine::kVMIMs, ns, vmim_, kube::PatchType::kMerge,
                          R"({"metadata":{"deletionTimestamp":"2026-12-03T10:00:05Z"}})", {})
                  .ok());
    }
    return r;
  }
  base::Status Delete(const kube::ResourceRef& ref, std::string_view ns, std::string_view name,
                      const kube::DeleteOptions& o) override {
    return inner->Delete(ref, ns, name, o);
  }
  std::atomic<bool> deleted{false};

 private:
  const std::string vmim_;
};

struct Cluster {
  // engine_api: what the engines talk to (default: `api`).
  explicit Cluster(kube::Api* engine_api = nullptr) {
    kube::Api* eapi = engine_api ? engine_api : &api;
    fabric = std::make_unique<engine::testing::FakeFabric>();
    std::map<std::string, kube::Store*> s{{"vmims", &vmims}, {"vmis", &vmis}, {"leases", &leases},
                                          {"nodes", &nodes}, {"kubevirts", &kubevirts}};
    REQUIRE(api.Create(engine::kKubeVirts, "kubevirt", kKubeVirt, {}).ok());
    for (const char* n : {"node01", "node02"}) {
      engine::NodeRegistration r{n, std::string("qemu+tcp://") + n + "/system",
                                 std::string("10.0.0.") + (n[5]), 8ull << 30, 40};
      REQUIRE(api.Create(engine::kLeases, "kubevirt",
                         engine::LeaseCreateJson(r, "kubevirt", std::chrono::system_clock::now()), {})
                  .ok());
      lease_names.push_back(engine::LeaseName(n));
    }
    n1 = std::make_unique<Node>("node01", eapi, fabric.get(), &limiter, s);
    n2 = std::make_unique<Node>("node02", eapi, fabric.get(), &limiter, s);
    fabric->Register("qemu+tcp://node01/system", &n1->hv);
    fabric->Register("qemu+tcp://node02/system", &n2->hv);
  }
  void AddVmi(const std::string& name) {
    REQUIRE(api.Create(engine::kVMIs, "default", Vmi(name, "node01"), {}).ok());
    engine::DomainInfo info;
    info.name = "default_" + name;
    info.state = engine::DomainState::kRunning;
    info.persistent = true;
    info.memory_bytes = 256ull << 20;
    n1->hv.AddDomain(info);
    vmi_names.push_back(name);
  }
  void AddVmim(const std::string& name, const std::string& vmi) {
    REQUIRE(api.Create(engine::kVMIMs, "default", Vmim(name, vmi), {}).ok());
    vmim_names.push_back(name);
  }
  void Sync() {
    SyncOne(vmis, engine::kVMIs, "default", vmi_names);
    SyncOne(vmims, engine::kVMIMs, "default", vmim_names);
    SyncOne(leases, engine::kLeases, "kubevirt", lease_names);
    SyncOne(kubevirts, engine::kKubeVirts, "kubevirt", {"kubevirt"});
  }
  void SyncOne(kube::Store& store, const kube::ResourceRef& ref, const std::string& ns,
               const std::vector<std::string>& names) {
    for (const std::string& n : names) {
      auto json = api.Peek(ref, ns, n);
      if (!json) {
        store.Remove(ns + "/" + n);
        continue;
      }
      auto obj = kube::ParseObject(*json);
      REQUIRE(obj.ok());
      store.Upsert(std::make_shared<const kube::Object>(*obj));
    }
  }
  // Both engines reconcile `key` until nothing changes (bounded).
  void Settle(const std::string& key, int rounds = 6) {
    for (int i = 0; i < rounds; ++i) {
      Sync();
      REQUIRE(n1->controller->Reconcile(key).ok());
      Sync();
      REQUIRE(n2->controller->Reconcile(key).ok());
    }
    Sync();
  }
  rapidjson::Document Get(const kube::ResourceRef& ref, const std::string& name) {
    rapidjson::Document d;
    auto json = api.Peek(ref, "default", name);
    if (json) d.Parse(json->c_str());
    return d;
  }
  bool WaitIdle(Node& n) {
    for (int i = 0; i < 2000; ++i) {
      if (n.controller->active_runners() == 0) return true;
      std::this_thread::sleep_for(5ms);  // a broken test fails instead of hanging
    }
    return false;
  }
  kube::testing::FakeApi api;
  std::unique_ptr<engine::testing::FakeFabric> fabric;
  Limiter limiter;
  kube::Store vmims, vmis, leases, nodes, kubevirts;
  std::vector<std::string> lease_names, vmi_names, vmim_names;
  std::unique_ptr<Node> n1, n2;
};

std::string Str(const rapidjson::Value& root, const char* path) {
  const rapidjson::Value* v = kube::FieldByPath(root, path);
  return v && v->IsString() ? v->GetString() : "";
}
bool Bool(const rapidjson::Value& root, const char* path) {
  const rapidjson::Value* v = kube::FieldByPath(root, path);
  return v && v->IsBool() && v->GetBool();
}

engine::testing::MigrationScript Completing() {
  engine::testing::MigrationScript s;
  engine::JobStats a;
  a.type = engine::JobStats::Type::kUnbounded;
  a.data_total = 256ull << 20;
  a.data_remaining = 200ull << 20;
  a.memory_bps = 100ull << 20;
  a.memory_iteration = 1;
  engine::JobStats b = a;
  b.data_remaining = 10ull << 20;
  s.steps = {a, b};
  s.advance_on_read = true;
  s.end = engine::testing::MigrationScript::End::kComplete;
  s.downtime_ms = 42;
  return s;
}

}  // namespace

TEST_CASE("a migration runs through every phase and the VMI moves to the target",
          "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig", "vmi-fedora");
  c.n1->hv.SetMigrationScript("default_vmi-fedora", Completing());
  c.n1->hv.SetDirtyRate("default_vmi-fedora", 1 << 20);
  c.Settle("default/mig", 3);
  REQUIRE(c.WaitIdle(*c.n1));
  c.Settle("default/mig", 2);

  auto vmim = c.Get(engine::kVMIMs, "mig");
  CHECK(Str(vmim, "status.phase") == "Succeeded");
  CHECK(Str(vmim, "status.migrationState.sourceNode") == "node01");
  CHECK(Str(vmim, "status.migrationState.targetNode") == "node02");
  CHECK(Str(vmim, "status.migrationState.targetNodeAddress") == "10.0.0.2");
  CHECK(Bool(vmim, "status.migrationState.completed"));
  CHECK_FALSE(Bool(vmim, "status.migrationState.failed"));
  CHECK(Str(vmim, "status.migrationState.migrationUid") == Str(vmim, "metadata.uid"));
  CHECK(Str(vmim, "metadata.labels.kubevirt\\.io/vmi-name").empty());  // dotted path cannot say it
  CHECK(vmim["metadata"]["labels"]["kubevirt.io/vmi-name"].GetString() == std::string("vmi-fedora"));
  // The finalizer is gone once the outcome is written.
  const rapidjson::Value* fins = kube::FieldByPath(vmim, "metadata.finalizers");
  CHECK((fins == nullptr || fins->Empty()));
  std::vector<std::string> phases;
  for (const auto& t : vmim["status"]["phaseTransitionTimestamps"].GetArray()) {
    phases.push_back(t["phase"].GetString());
  }
  CHECK(phases == std::vector<std::string>{"Pending", "Scheduling", "Scheduled", "PreparingTarget",
                                           "TargetReady", "Running", "Succeeded"});
  bool forecast = false;
  for (const auto& cond : vmim["status"]["conditions"].GetArray()) {
    if (cond["type"].GetString() == std::string("ConvergenceForecast")) forecast = true;
  }
  CHECK(forecast);

  auto vmi = c.Get(engine::kVMIs, "vmi-fedora");
  CHECK(Str(vmi, "status.nodeName") == "node02");
  CHECK(Bool(vmi, "status.migrationState.completed"));
  CHECK_FALSE(Bool(vmi, "status.migrationState.failed"));
  CHECK(Str(vmi, "status.migrationState.targetNode") == "node02");
  CHECK(Str(vmi, "status.migrationState.startTimestamp") ==
        Str(vmim, "status.migrationState.startTimestamp"));
  CHECK(Str(vmi, "status.migrationState.endTimestamp") ==
        Str(vmim, "status.migrationState.endTimestamp"));
  CHECK(vmi["status"]["migrationState"]["downtimeMs"].GetInt() == 42);
  CHECK(c.n2->hv.HasDomain("default_vmi-fedora"));
  CHECK_FALSE(c.n1->hv.HasDomain("default_vmi-fedora"));
  auto calls = c.n1->hv.CallsOf(FakeHypervisor::Method::kMigrate);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].migrate.dest_uri == "qemu+tcp://node02/system");
  CHECK(calls[0].migrate.migrate_uri == "tcp://10.0.0.2");
  CHECK(calls[0].migrate.bandwidth_mib == 64);
  CHECK(c.limiter.holders.empty());

  base::prom::TextWriter w;
  c.n1->controller->WriteMetrics(w);
  const std::string text = w.text();
  CHECK(text.find("migration_engine_migrations_total{result=\"Succeeded\"} 1\n") != std::string::npos);
  CHECK(text.find("migration_engine_migrations{phase=\"Succeeded\"} 1\n") != std::string::npos);
  CHECK(text.find("migration_engine_migration_downtime_seconds_count 1\n") != std::string::npos);
  CHECK(text.find("migration_engine_migrations_running 0\n") != std::string::npos);
}

TEST_CASE("deleting the VMIM mid-flight aborts the job and the VM stays on the source",
          "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig", "vmi-fedora");
  engine::testing::MigrationScript s = Completing();
  s.advance_on_read = false;
  s.end = engine::testing::MigrationScript::End::kWait;
  c.n1->hv.SetMigrationScript("default_vmi-fedora", s);
  c.Settle("default/mig", 3);
  REQUIRE(c.n1->hv.WaitForMigration("default_vmi-fedora"));
  // kubectl delete: the finalizer keeps the object, with a deletionTimestamp.
  REQUIRE(c.api.Patch(engine::kVMIMs, "default", "mig", kube::PatchType::kMerge,
                      R"({"metadata":{"deletionTimestamp":"2026-12-03T10:00:05Z"}})", {})
              .ok());
  c.Sync();
  REQUIRE(c.n1->controller->Reconcile("default/mig").ok());
  REQUIRE(c.WaitIdle(*c.n1));
  c.Settle("default/mig", 1);
  auto vmi = c.Get(engine::kVMIs, "vmi-fedora");
  CHECK(Str(vmi, "status.nodeName") == "node01");
  CHECK(Bool(vmi, "status.migrationState.completed"));
  CHECK(Bool(vmi, "status.migrationState.failed"));
  CHECK(Bool(vmi, "status.migrationState.abortRequested"));
  CHECK(Str(vmi, "status.migrationState.abortStatus") == "Succeeded");
  CHECK(c.n1->hv.HasDomain("default_vmi-fedora"));
  CHECK(c.n1->hv.CountOf(FakeHypervisor::Method::kAbortJob) >= 1);
  // The outcome was written, then the finalizer removed: the VMIM is gone.
  CHECK_FALSE(c.api.Peek(engine::kVMIMs, "default", "mig"));
}

TEST_CASE("a VMIM deleted before it started leaves no migrationState", "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig", "vmi-fedora");
  c.limiter.limit = 0;  // stays Pending
  c.Settle("default/mig", 1);
  auto vmim = c.Get(engine::kVMIMs, "mig");
  CHECK(Str(vmim, "status.phase") == "Pending");
  bool waiting = false;
  for (const auto& cond : vmim["status"]["conditions"].GetArray()) {
    if (cond["type"].GetString() == std::string("WaitingForSlot")) {
      waiting = true;
      CHECK(std::string(cond["message"].GetString()).find("0 of 0") != std::string::npos);
    }
  }
  CHECK(waiting);
  REQUIRE(c.api.Patch(engine::kVMIMs, "default", "mig", kube::PatchType::kMerge,
                      R"({"metadata":{"deletionTimestamp":"2026-12-03T10:00:05Z"}})", {})
              .ok());
  c.Settle("default/mig", 1);
  auto vmi = c.Get(engine::kVMIs, "vmi-fedora");
  CHECK(kube::FieldByPath(vmi, "status.migrationState") == nullptr);
  CHECK(c.n1->hv.CountOf(FakeHypervisor::Method::kMigrate) == 0);
  CHECK_FALSE(c.api.Peek(engine::kVMIMs, "default", "mig"));
}

TEST_CASE("a VMIM deleted while its start is being written leaves no migrationState",
          "[migration_controller]") {
  // Seen in the e2e cancel test: kubectl delete right after the VMIM reached
  // TargetReady. The engine had written the VMI's migrationState; its Running
  // write then met a 409 and the next reconcile cleaned up a VMIM that never
  // ran, leaving the VMI a never-ending migrationState of it.
  DeleteDuringStart api("mig");
  Cluster c(&api);
  api.inner = &c.api;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig", "vmi-fedora");
  c.n1->hv.SetMigrationScript("default_vmi-fedora", Completing());
  c.n1->hv.SetDirtyRate("default_vmi-fedora", 1 << 20);
  for (int i = 0; i < 8; ++i) {  // errors (the 409) are retried, as the work queue would
    c.Sync();
    (void)c.n1->controller->Reconcile("default/mig");
    c.Sync();
    (void)c.n2->controller->Reconcile("default/mig");
  }
  c.Sync();
  REQUIRE(api.deleted);
  REQUIRE(c.WaitIdle(*c.n1));
  CHECK(c.n1->hv.CountOf(FakeHypervisor::Method::kMigrate) == 0);
  CHECK_FALSE(c.api.Peek(engine::kVMIMs, "default", "mig"));
  auto vmi = c.Get(engine::kVMIs, "vmi-fedora");
  CHECK(kube::FieldByPath(vmi, "status.migrationState") == nullptr);
  CHECK(Str(vmi, "status.nodeName") == "node01");
  CHECK(c.n1->hv.HasDomain("default_vmi-fedora"));
}

TEST_CASE("a second migration of the same VMI fails as in flight", "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig-a", "vmi-fedora");
  c.AddVmim("mig-b", "vmi-fedora");
  c.limiter.limit = 0;
  c.Settle("default/mig-a", 1);
  c.Settle("default/mig-b", 1);
  auto b = c.Get(engine::kVMIMs, "mig-b");
  CHECK(Str(b, "status.phase") == "Failed");
  auto a = c.Get(engine::kVMIMs, "mig-a");
  CHECK(Str(a, "status.phase") == "Pending");
}

TEST_CASE("a restarted engine adopts the running job instead of starting another",
          "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig", "vmi-fedora");
  engine::testing::MigrationScript s = Completing();
  s.advance_on_read = false;
  s.end = engine::testing::MigrationScript::End::kWait;
  c.n1->hv.SetMigrationScript("default_vmi-fedora", s);
  c.Settle("default/mig", 3);
  REQUIRE(c.n1->hv.WaitForMigration("default_vmi-fedora"));
  // The engine dies: its controller is gone, the job goes on in libvirt.
  CHECK(c.n1->controller->Shutdown() == 1);
  engine::MigrationControllerDeps d;  // a new controller on the same fakes
  d.api = &c.api;
  d.vmims = &c.vmims;
  d.vmis = &c.vmis;
  d.engine_leases = &c.leases;
  d.nodes = &c.nodes;
  d.kubevirts = &c.kubevirts;
  d.hv = &c.n1->hv;
  d.slots = &c.limiter;
  d.events = &c.n1->events;
  d.clock = base::RealClock();
  d.requeue = [](const std::string&, std::chrono::nanoseconds) {};
  engine::MigrationControllerSettings st;
  st.node_name = "node01";
  st.poll_interval = 2ms;
  engine::MigrationController restarted(d, st);
  c.n1->hv.SetEventHandler([&](const engine::DomainEvent& e) { restarted.OnDomainEvent(e); });
  c.Sync();
  REQUIRE(restarted.Reconcile("default/mig").ok());
  CHECK(restarted.active_runners() == 1);
  REQUIRE(c.n1->hv.CompleteMigration("default_vmi-fedora"));
  for (int i = 0; i < 2000 && restarted.active_runners() > 0; ++i) std::this_thread::sleep_for(5ms);
  c.Sync();
  REQUIRE(restarted.Reconcile("default/mig").ok());
  CHECK(c.n1->hv.CountOf(FakeHypervisor::Method::kMigrate) == 1);
  auto vmi = c.Get(engine::kVMIs, "vmi-fedora");
  CHECK(Str(vmi, "status.nodeName") == "node02");
  auto vmim = c.Get(engine::kVMIMs, "mig");
  CHECK(Str(vmim, "status.phase") == "Succeeded");
}

TEST_CASE("target selection skips stale, cordoned, non-matching and small nodes",
          "[migration_controller]") {
  auto cand = [](const std::string& n, bool fresh, int inbound, uint64_t free) {
    engine::TargetCandidate c;
    c.engine.node_name = n;
    c.engine.free_memory_bytes = free;
    c.fresh = fresh;
    c.inbound = inbound;
    c.node_known = true;
    c.labels = {{"zone", n == "n3" ? "b" : "a"}};
    return c;
  };
  std::vector<engine::TargetCandidate> cs = {cand("src", true, 0, 1ull << 34),
                                             cand("n1", false, 0, 1ull << 34),
                                             cand("n2", true, 1, 1ull << 34),
                                             cand("n3", true, 0, 1ull << 34),
                                             cand("n4", true, 0, 1ull << 20)};
  cs[2].unschedulable = false;
  auto choice = engine::PickTarget(cs, "src", {}, 1ull << 30);
  REQUIRE(choice.node);
  CHECK(*choice.node == "n3");  // fewest inbound among eligible (n4 too small, n1 stale)
  auto zoned = engine::PickTarget(cs, "src", {{"zone", "a"}}, 1ull << 30);
  REQUIRE(zoned.node);
  CHECK(*zoned.node == "n2");
  cs[2].unschedulable = true;
  auto none = engine::PickTarget(cs, "src", {{"zone", "a"}}, 1ull << 30);
  CHECK_FALSE(none.node);
  CHECK(none.Message() ==
        "no node can take the VMI: n1: its migration engine has not renewed its lease; "
        "n2: cordoned (spec.unschedulable); n3: does not match spec.addedNodeSelector zone=a; "
        "n4: not enough free memory (1.0 MiB free, 1.0 GiB needed)");
}

TEST_CASE("finished migrations beyond the newest five of a VMI are collected, oldest first",
          "[migration_controller]") {
  std::vector<api::VMIM> vmims;
  auto add = [&](const std::string& name, const std::string& vmi, const std::string& created,
                 api::MigrationPhase phase) {
    api::VMIM m;
    m.meta.name = name;
    m.meta.namespace_ = "default";
    m.meta.creation_timestamp = created;
    m.spec.vmi_name = vmi;
    m.status.phase = phase;
    vmims.push_back(m);
  };
  for (int i = 0; i < 7; ++i) {
    add("m" + std::to_string(i), "vm", "2026-12-03T10:00:0" + std::to_string(i) + "Z",
        api::MigrationPhase::kSucceeded);
  }
  add("running", "vm", "2026-12-03T09:00:00Z", api::MigrationPhase::kRunning);
  add("other", "vm2", "2026-12-03T09:00:00Z", api::MigrationPhase::kFailed);
  auto collect = engine::VMIMsToCollect(vmims, "default", "vm");
  std::vector<std::string> names;
  for (const api::VMIM* m : collect) names.push_back(m->meta.name);
  CHECK(names == std::vector<std::string>{"m0", "m1"});
  CHECK(engine::VMIMsToCollect(vmims, "default", "vm2").empty());
  CHECK(engine::VMIMsToCollect(vmims, "other-ns", "vm").empty());
}

TEST_CASE("a VMIM of a missing VMI is failed by one engine, the coordinator",
          "[migration_controller]") {
  Cluster c;
  c.AddVmim("orphan", "no-such-vmi");
  c.Sync();
  REQUIRE(c.n2->controller->Reconcile("default/orphan").ok());
  CHECK(Str(c.Get(engine::kVMIMs, "orphan"), "status.phase").empty());  // node02 is not it
  REQUIRE(c.n1->controller->Reconcile("default/orphan").ok());
  auto vmim = c.Get(engine::kVMIMs, "orphan");
  CHECK(Str(vmim, "status.phase") == "Failed");
  bool named = false;
  for (const auto& cond : vmim["status"]["conditions"].GetArray()) {
    if (cond["type"].GetString() == std::string("Failed")) {
      CHECK(cond["reason"].GetString() == std::string("VMINotFound"));
      named = std::string(cond["message"].GetString()) == "VMI default/no-such-vmi does not exist";
    }
  }
  CHECK(named);
}

TEST_CASE("a cancel that lands between the VMI's and the VMIM's Running writes takes the VMI's "
          "state back", "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  c.AddVmim("mig", "vmi-fedora");
  c.Settle("default/mig", 1);  // PreparingTarget, then TargetReady by node02
  c.Sync();
  REQUIRE(c.n2->controller->Reconcile("default/mig").ok());
  auto vmim = c.Get(engine::kVMIMs, "mig");
  REQUIRE(Str(vmim, "status.phase") == "TargetReady");
  const std::string uid = Str(vmim, "metadata.uid");
  // The source wrote the VMI's state, then the user deleted the VMIM.
  REQUIRE(c.api.Patch(engine::kVMIs, "default", "vmi-fedora", kube::PatchType::kMerge,
                      R"({"status":{"migrationState":{"migrationUid":")" + uid +
                          R"(","sourceNode":"node01","targetNode":"node02"}}})",
                      {})
              .ok());
  REQUIRE(c.api.Delete(engine::kVMIMs, "default", "mig", {}).ok());
  c.Sync();
  REQUIRE(c.n1->controller->Reconcile("default/mig").ok());
  CHECK(kube::FieldByPath(c.Get(engine::kVMIs, "vmi-fedora"), "status.migrationState") == nullptr);
  CHECK_FALSE(c.api.Peek(engine::kVMIMs, "default", "mig"));
  CHECK(c.n1->hv.CountOf(FakeHypervisor::Method::kMigrate) == 0);
}

TEST_CASE("the forecast learns this node's fixed cost from its finished migrations",
          "[migration_controller]") {
  Cluster c;
  c.AddVmi("vmi-fedora");
  auto forecast_of = [&](const std::string& vmim) {
    auto d = c.Get(engine::kVMIMs, vmim);
    return d["status"]["migrationState"]["forecast"]["durationSeconds"].GetDouble();
  };
  c.AddVmim("first", "vmi-fedora");
  c.n1->hv.SetMigrationScript("default_vmi-fedora", Completing());
  c.Settle("default/first", 3);
  REQUIRE(c.WaitIdle(*c.n1));
  c.Settle("default/first", 1);
  const double before = forecast_of("first");
  // Move it back by hand (node02's engine would; here only node01's VMI matters): the
  // VMI runs on node01 again with its domain.
  REQUIRE(c.api.Patch(engine::kVMIs, "default", "vmi-fedora", kube::PatchType::kMerge,
                      R"({"status":{"nodeName":"node01"}})", {})
              .ok());
  engine::DomainInfo info;
  info.name = "default_vmi-fedora";
  info.state = engine::DomainState::kRunning;
  c.n1->hv.AddDomain(info);
  c.AddVmim("second", "vmi-fedora");
  c.n1->hv.SetMigrationScript("default_vmi-fedora", Completing());
  c.Settle("default/second", 3);
  REQUIRE(c.WaitIdle(*c.n1));
  const double after = forecast_of("second");
  // The first used the default 1 s of fixed cost; the fake migration took milliseconds
  // for 256 MiB at 100 MiB/s, so the learned fixed cost is 0 and the forecast 1 s shorter.
  CHECK(before - after == Approx(1.0).margin(0.01));
}

TEST_CASE("the target removes the files it prepared for a migration that did not come",
          "[migration_controller]") {
  const std::vector<std::string> vmi_files{"default/vmi-fedora"};
  SECTION("cancelled after the target was ready, before the copy began") {
    Cluster c;
    c.AddVmi("vmi-fedora");
    c.AddVmim("mig", "vmi-fedora");
    std::string phase;
    for (int i = 0; i < 6 && phase != "TargetReady"; ++i) {
      c.Sync();
      REQUIRE(c.n1->controller->Reconcile("default/mig").ok());
      c.Sync();
      REQUIRE(c.n2->controller->Reconcile("default/mig").ok());
      phase = Str(c.Get(engine::kVMIMs, "mig"), "status.phase");
    }
    REQUIRE(phase == "TargetReady");
    CHECK(c.n2->Removed().empty());
    REQUIRE(c.api.Patch(engine::kVMIMs, "default", "mig", kube::PatchType::kMerge,
                        R"({"metadata":{"deletionTimestamp":"2026-12-03T10:00:05Z"}})", {})
                .ok());
    c.Settle("default/mig", 2);
    CHECK_FALSE(c.api.Peek(engine::kVMIMs, "default", "mig"));
    CHECK(c.n2->Removed() == vmi_files);
    CHECK(c.n1->Removed().empty());  // the VM and its files stay on the source
    CHECK(c.n1->hv.CountOf(FakeHypervisor::Method::kMigrate) == 0);
  }
  SECTION("failed during the copy") {
    Cluster c;
    c.AddVmi("vmi-fedora");
    c.AddVmim("mig", "vmi-fedora");
    engine::testing::MigrationScript s = Completing();
    s.end = engine::testing::MigrationScript::End::kFail;
    c.n1->hv.SetMigrationScript("default_vmi-fedora", s);
    c.Settle("default/mig", 3);
    REQUIRE(c.WaitIdle(*c.n1));
    c.Settle("default/mig", 2);
    CHECK(Str(c.Get(engine::kVMIMs, "mig"), "status.phase") == "Failed");
    CHECK(c.n2->Removed() == vmi_files);
    CHECK(c.n1->Removed().empty());
  }
  SECTION("succeeded: the files are the VMI's now, on the target; the source's go") {
    Cluster c;
    c.AddVmi("vmi-fedora");
    c.AddVmim("mig", "vmi-fedora");
    c.n1->hv.SetMigrationScript("default_vmi-fedora", Completing());
    c.Settle("default/mig", 3);
    REQUIRE(c.WaitIdle(*c.n1));
    c.Settle("default/mig", 2);
    CHECK(Str(c.Get(engine::kVMIMs, "mig"), "status.phase") == "Succeeded");
    CHECK(c.n2->Removed().empty());
    CHECK(c.n1->Removed() == vmi_files);
  }
}
