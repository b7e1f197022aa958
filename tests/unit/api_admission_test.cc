#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/admission.h"
#include "api/json.h"

namespace {

using P = api::MigrationPhase;

api::Quantity Qty(const char* s) { return *api::Quantity::Parse(s); }

api::VMI RunningVMI(const std::string& ns, const std::string& name, const std::string& node) {
  api::VMI v;
  v.meta.namespace_ = ns;
  v.meta.name = name;
  v.spec.memory_guest = Qty("8Gi");
  v.status.phase = "Running";
  v.status.node_name = node;
  v.status.migration_method = "LiveMigration";
  v.status.conditions = {{"LiveMigratable", "True", "Migratable", "", "t", ""}};
  return v;
}

api::VMIM Migration(const std::string& ns, const std::string& name, const std::string& vmi,
                    P phase) {
  api::VMIM m;
  m.meta.namespace_ = ns;
  m.meta.name = name;
  m.meta.uid = "uid-" + ns + "-" + name;
  m.spec.vmi_name = vmi;
  m.status.phase = phase;
  return m;
}

// A cluster as the webhook's caches would see it, and the request under test.
struct World {
  std::map<std::string, api::VMI> vmis;  // "ns/name"
  std::vector<api::VMIM> vmims;
  std::map<std::string, api::PVC> pvcs;
  api::KubeVirtConfig config;
  bool kubevirt_found = true;
  bool use_pvc_lookup = false;
  api::VMIM request = Migration("default", "mig", "vmi-fedora", P::kUnset);

  World() {
    config.feature_gates = {"LiveMigration"};
    AddVMI(RunningVMI("default", "vmi-fedora", "node01"));
    request.meta.uid = "uid-request";
  }
  void AddVMI(const api::VMI& v) { vmis[v.meta.namespace_ + "/" + v.meta.name] = v; }
  api::VMI& Target() { return vmis.at("default/vmi-fedora"); }

  // `n` running migrations of fresh VMIs on `node`.
  void AddInFlight(int n, const std::string& node) {
    for (int i = 0; i < n; ++i) {
      std::string name = node + "-vmi-" + std::to_string(vmims.size());
      AddVMI(RunningVMI("other", name, node));
      vmims.push_back(Migration("other", "mig-" + name, name, P::kRunning));
    }
  }

  api::AdmissionDecision Decide(const std::string& op = "CREATE") {
    api::AdmissionInput in;
    in.operation = op;
    in.namespace_ = "default";
    in.object = request;
    auto it = vmis.find(request.meta.namespace_ + "/" + request.spec.vmi_name);
    in.vmi = it == vmis.end() ? nullptr : &it->second;
    for (const auto& m : vmims) in.vmims.push_back(&m);
    in.vmi_lookup = [this](std::string_view ns, std::string_view name) -> const api::VMI* {
      auto f = vmis.find(std::string(ns) + "/" + std::string(name));
      return f == vmis.end() ? nullptr : &f->second;
    };
    if (use_pvc_lookup) {
      in.pvc_lookup = [this](std::string_view ns, std::string_view name) -> const api::PVC* {
        auto f = pvcs.find(std::string(ns) + "/" + std::string(name));
        return f == pvcs.end() ? nullptr : &f->second;
      };
    }
    in.config = config;
    in.kubevirt_found = kubevirt_found;
    return api::DecideMigration(in);
  }
};

std::vector<std::string> Reasons(const api::AdmissionDecision& d) {
  std::vector<std::string> out;
  for (const auto& c : d.causes) out.push_back(c.reason);
  return out;
}

void NotMigratable(api::VMI& v, const std::string& reason, const std::string& message) {
  v.status.conditions = {{"LiveMigratable", "False", reason, message, "t", ""}};
}

const std::string kRWOMessage =
    "cannot migrate VMI: PVC disk-pvc is not shared, live migration requires that all PVCs must be "
    "shared "
    "(using ReadWriteMany access mode)";

TEST_CASE("CREATE decisions: one case per rule") {
  struct Case {
    const char* name;
    std::function<void(World&)> setup;
    bool allowed;
    int code;
    std::vector<std::string> reasons;
    std::string message_part;
  };
  const Case cases[] = {
      {"a running, migratable VMI is admitted", [](World&) {}, true, 200, {}, ""},
      {"feature gate off",
       [](World& w) { w.config.feature_gates = {"DataVolumes"}; },
       false,
       403,
       {"FeatureGateDisabled"},
       "LiveMigration feature gate is not enabled"},
      {"no KubeVirt object",
       [](World& w) { w.kubevirt_found = false; },
       false,
       403,
       {"FeatureGateDisabled"},
       "no KubeVirt resource was found"},
      {"VMI missing",
       [](World& w) { w.vmis.clear(); },
       false,
       403,
       {"VMINotFound"},
       "VMI default/vmi-fedora does not exist"},
      {"VMI not running",
       [](World& w) { w.Target().status.phase = "Scheduling"; },
       false,
       403,
       {"VMINotRunning"},
       "VMI default/vmi-fedora is not running (phase Scheduling)"},
      {"VMI without a phase",
       [](World& w) { w.Target().status.phase = ""; },
       false,
       403,
       {"VMINotRunning"},
       "(no phase yet)"},
      {"--to the node the VMI already runs on",
       [](World& w) { w.request.spec.added_node_selector = {{"kubernetes.io/hostname", "node01"}}; },
       false,
       403,
       {"TargetIsSource"},
       "VMI default/vmi-fedora already runs on node \"node01\": spec.addedNodeSelector "
       "kubernetes.io/hostname must name another node"},
      {"--to another node is admitted",
       [](World& w) { w.request.spec.added_node_selector = {{"kubernetes.io/hostname", "node02"}}; },
       true,
       200,
       {},
       ""},
      {"VMI succeeded",
       [](World& w) { w.Target().status.phase = "Succeeded"; },
       false,
       403,
       {"VMIFinal"},
       "VMI default/vmi-fedora is in final phase Succeeded"},
      {"VMI failed",
       [](World& w) { w.Target().status.phase = "Failed"; },
       false,
       403,
       {"VMIFinal"},
       "final phase Failed"},
      {"RWO PVC",
       [](World& w) { NotMigratable(w.Target(), "DisksNotLiveMigratable", kRWOMessage); },
       false,
       403,
       {"NotLiveMigratable"},
       "VMI default/vmi-fedora is not live migratable: condition LiveMigratable is False, reason "
       "DisksNotLiveMigratable: " +
           kRWOMessage},
      {"bridge on the pod network",
       [](World& w) {
         NotMigratable(w.Target(), "InterfaceNotLiveMigratable",
                       "cannot migrate VMI: interface default connects to the pod network with "
                       "bridge binding");
       },
       false,
       403,
       {"NotLiveMigratable"},
       "reason InterfaceNotLiveMigratable: cannot migrate VMI: interface default"},
      {"migration already in flight for the VMI",
       [](World& w) {
         w.vmims.push_back(Migration("default", "old-mig", "vmi-fedora", P::kRunning));
       },
       false,
       403,
       {"MigrationInFlight"},
       "in-flight migration detected: VMI default/vmi-fedora already has a migration that is not "
       "finished: "
       "default/old-mig (phase Running)"},
      {"a migration being cancelled is still in flight",
       [](World& w) {
         w.vmims.push_back(Migration("default", "old-mig", "vmi-fedora", P::kPending));
         w.vmims.back().meta.deletion_timestamp = "t";
       },
       false,
       403,
       {"MigrationInFlight"},
       "default/old-mig (phase Pending)"},
      {"a finished migration of the VMI does not block",
       [](World& w) {
         w.vmims.push_back(Migration("default", "old1", "vmi-fedora", P::kSucceeded));
         w.vmims.push_back(Migration("default", "old2", "vmi-fedora", P::kFailed));
       },
       true,
       200,
       {},
       ""},
      {"same VMI name in another namespace does not block",
       [](World& w) { w.vmims.push_back(Migration("elsewhere", "m", "vmi-fedora", P::kRunning)); },
       true,
       200,
       {},
       ""},
      {"cluster limit reached (6th of 5)",
       [](World& w) { w.AddInFlight(5, "node09"); },
       false,
       429,
       {"ClusterLimitReached"},
       "cluster has 5/5 migrations in flight (parallelMigrationsPerCluster=5); held by "
       "other/mig-node09-vmi-0, other/mig-node09-vmi-1, other/mig-node09-vmi-2, "
       "other/mig-node09-vmi-3, other/mig-node09-vmi-4; retry when one finishes"},
      {"a full cluster names at most 10 holders",
       [](World& w) {
         w.config.migrations.parallel_migrations_per_cluster = 12;
         w.AddInFlight(12, "node09");
       },
       false,
       429,
       {"ClusterLimitReached"},
       "other/mig-node09-vmi-7 and 2 more; retry when one finishes"},
      {"cluster at 4 of 5 admits", [](World& w) { w.AddInFlight(4, "node09"); }, true, 200, {}, ""},
      {"cluster limit from the config",
       [](World& w) {
         w.config.migrations.parallel_migrations_per_cluster = 1;
         w.AddInFlight(1, "node09");
       },
       false,
       429,
       {"ClusterLimitReached"},
       "cluster has 1/1 migrations in flight (parallelMigrationsPerCluster=1)"},
      {"node limit reached (3rd of 2)",
       [](World& w) { w.AddInFlight(2, "node01"); },
       false,
       429,
       {"NodeLimitReached"},
       "node node01 has 2/2 outbound migrations in flight (parallelOutboundMigrationsPerNode=2); "
       "held by other/mig-node01-vmi-0, other/mig-node01-vmi-1; retry when one finishes"},
      {"the node limit names only that node's holders",
       [](World& w) {
         w.AddInFlight(1, "node02");
         w.AddInFlight(2, "node01");
       },
       false,
       429,
       {"NodeLimitReached"},
       "(parallelOutboundMigrationsPerNode=2); held by other/mig-node01-vmi-1, "
       "other/mig-node01-vmi-2; retry"},
      {"another node's outbound migrations do not count",
       [](World& w) { w.AddInFlight(2, "node02"); },
       true,
       200,
       {},
       ""},
      {"finished migrations do not count towards limits",
       [](World& w) {
         w.AddInFlight(5, "node01");
         for (auto& m : w.vmims) m.status.phase = P::kSucceeded;
       },
       true,
       200,
       {},
       ""},
      {"the request itself in the cache is not counted",
       [](World& w) {
         w.config.migrations.parallel_migrations_per_cluster = 1;
         w.vmims.push_back(w.request);
       },
       true,
       200,
       {},
       ""},
      {"empty vmiName",
       [](World& w) { w.request.spec.vmi_name = ""; },
       false,
       422,
       {"InvalidSpec"},
       "spec.vmiName: must not be empty"},
      {"invalid vmiName",
       [](World& w) { w.request.spec.vmi_name = "Bad_Name"; },
       false,
       422,
       {"InvalidSpec"},
       "spec.vmiName: \"Bad_Name\" is not a valid name"},
      {"a vmiName the API server refuses (empty part between dots)",
       [](World& w) { w.request.spec.vmi_name = "vmi..fedora"; },
       false,
       422,
       {"InvalidSpec"},
       "spec.vmiName: \"vmi..fedora\" is not a valid name"},
      {"a vmiName with dots is a valid object name",
       [](World& w) { w.request.spec.vmi_name = "vmi.fedora"; },
       false,
       403,
       {"VMINotFound"},
       "VMI default/vmi.fedora does not exist"},
      {"an addedNodeSelector key whose prefix the API server refuses",
       [](World& w) {
         w.request.spec.added_node_selector = {{"example..com/zone", "x"}};
       },
       false,
       422,
       {"InvalidSpec"},
       "spec.addedNodeSelector: \"example..com/zone\" is not a valid label key"},
      {"invalid addedNodeSelector key",
       [](World& w) {
         w.request.spec.added_node_selector = {{"bad key", "x"}};
       },
       false,
       422,
       {"InvalidSpec"},
       "spec.addedNodeSelector: \"bad key\" is not a valid label key"},
      {"invalid addedNodeSelector value",
       [](World& w) {
         w.request.spec.added_node_selector = {{"example.com/zone", "a b"}};
       },
       false,
       422,
       {"InvalidSpec"},
       "spec.addedNodeSelector[example.com/zone]: \"a b\" is not a valid label value"},
      {"valid addedNodeSelector",
       [](World& w) {
         w.request.spec.added_node_selector = {{"topology.kubernetes.io/zone", "eu-1a"}, {"x", ""}};
       },
       true,
       200,
       {},
       ""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    World w;
    c.setup(w);
    api::AdmissionDecision d = w.Decide();
    INFO("message: " << d.message);
    CHECK(d.allowed == c.allowed);
    CHECK(d.code == c.code);
    CHECK(Reasons(d) == c.reasons);
    CHECK_THAT(d.message, Catch::Contains(c.message_part));
    CHECK(d.message.find('\n') == std::string::npos);
    const char* expected_reason = c.code == 200   ? ""
                                  : c.code == 403 ? "Forbidden"
                                  : c.code == 422 ? "Invalid"
                                  : c.code == 429 ? "TooManyRequests"
                                                  : "BadRequest";
    CHECK(d.status_reason == expected_reason);
  }
}

TEST_CASE("every reason is reported together and the policy code beats the limit code") {
  World w;
  w.config.feature_gates.clear();
  NotMigratable(w.Target(), "DisksNotLiveMigratable", kRWOMessage);
  w.vmims.push_back(Migration("default", "old-mig", "vmi-fedora", P::kRunning));
  w.AddInFlight(1, "node01");
  w.AddInFlight(3, "node05");
  api::AdmissionDecision d = w.Decide();
  CHECK_FALSE(d.allowed);
  CHECK(d.code == 403);
  CHECK(d.status_reason == "Forbidden");
  CHECK(Reasons(d) == std::vector<std::string>{"FeatureGateDisabled", "NotLiveMigratable",
                                               "MigrationInFlight", "ClusterLimitReached",
                                               "NodeLimitReached"});
  CHECK_THAT(d.message, Catch::Contains("feature gate") && Catch::Contains("PVC disk-pvc") &&
                            Catch::Contains("default/old-mig") &&
                            Catch::Contains("cluster has 5/5") &&
                            Catch::Contains("node node01 has 2/2"));
  // One line, causes joined in order.
  std::string joined;
  for (const auto& c : d.causes) joined += (joined.empty() ? "" : "; ") + c.message;
  CHECK(d.message == joined);
  CHECK(d.warnings.empty());
}

TEST_CASE("a spec error beats policy refusals: 422 with every cause") {
  World w;
  w.config.feature_gates.clear();
  w.request.spec.vmi_name = "";
  w.AddInFlight(5, "node02");
  api::AdmissionDecision d = w.Decide();
  CHECK(d.code == 422);
  CHECK(d.status_reason == "Invalid");
  CHECK(Reasons(d) ==
        std::vector<std::string>{"InvalidSpec", "FeatureGateDisabled", "ClusterLimitReached"});
  CHECK(d.causes[0].field == "spec.vmiName");
}

TEST_CASE("both limits alone give 429 with retry advice") {
  World w;
  w.AddInFlight(2, "node01");
  w.AddInFlight(3, "node02");
  api::AdmissionDecision d = w.Decide();
  CHECK(d.code == 429);
  CHECK(Reasons(d) == std::vector<std::string>{"ClusterLimitReached", "NodeLimitReached"});
}

TEST_CASE("a VMI that is neither running nor migratable gets both reasons") {
  World w;
  w.Target().status.phase = "Scheduled";
  NotMigratable(w.Target(), "InterfaceNotLiveMigratable", "interface default ...");
  CHECK(Reasons(w.Decide()) == std::vector<std::string>{"VMINotRunning", "NotLiveMigratable"});
}

TEST_CASE("the VMI is found through the lookup and the request namespace") {
  World w;
  w.request.meta.namespace_ = "";  // kubectl create without metadata.namespace
  api::AdmissionInput in;
  in.operation = "CREATE";
  in.namespace_ = "default";
  in.object = w.request;
  in.config = w.config;
  in.kubevirt_found = true;
  std::string asked;
  in.vmi_lookup = [&](std::string_view ns, std::string_view name) -> const api::VMI* {
    asked = std::string(ns) + "/" + std::string(name);
    return &w.Target();
  };
  api::AdmissionDecision d = api::DecideMigration(in);
  CHECK(d.allowed);
  CHECK(asked == "default/vmi-fedora");
}

TEST_CASE("admitted migrations carry advice: completion timeout and block migration size") {
  World w;
  api::AdmissionDecision d = w.Decide();
  REQUIRE(d.allowed);
  REQUIRE(d.warnings.size() == 1);
  CHECK(d.warnings[0] ==
        "the migration will be aborted if it runs longer than 6400s (completionTimeoutPerGiB=800 x "
        "8 GiB)");

  World b;
  b.Target().status.migration_method = "BlockMigration";
  api::Volume disk;
  disk.name = "scratch";
  disk.kind = api::VolumeKind::kEmptyDisk;
  disk.capacity = Qty("2Gi");
  b.Target().spec.volumes = {disk};
  d = b.Decide();
  REQUIRE(d.allowed);
  REQUIRE(d.warnings.size() == 2);
  CHECK(d.warnings[0] ==
        "block migration: node-local disks of VMI default/vmi-fedora will be copied to the target "
        "node along "
        "with its memory (10.0 GiB to copy)");
  CHECK_THAT(d.warnings[1], Catch::Contains("8000s (completionTimeoutPerGiB=800 x 10 GiB)"));

  api::Volume cd;
  cd.name = "root";
  cd.kind = api::VolumeKind::kContainerDisk;
  b.Target().spec.volumes.push_back(cd);
  d = b.Decide();
  CHECK_THAT(d.warnings[0],
             Catch::Contains("(at least 10.0 GiB to copy; some disk sizes are unknown)"));
}

TEST_CASE("a VMI without a LiveMigratable condition is judged from its spec when PVCs are known") {
  World w;
  w.Target().status.conditions.clear();
  api::Volume v;
  v.name = "disk";
  v.kind = api::VolumeKind::kPersistentVolumeClaim;
  v.claim_name = "disk-pvc";
  w.Target().spec.volumes = {v};
  // Without a PVC lookup: admitted with a warning.
  api::AdmissionDecision d = w.Decide();
  CHECK(d.allowed);
  CHECK_THAT(d.warnings.front(), Catch::Contains("has no LiveMigratable condition yet"));
  // With the lookup, the RWO claim is found and refused.
  api::PVC pvc;
  pvc.meta.namespace_ = "default";
  pvc.meta.name = "disk-pvc";
  pvc.access_modes = {"ReadWriteOnce"};
  w.pvcs["default/disk-pvc"] = pvc;
  w.use_pvc_lookup = true;
  d = w.Decide();
  CHECK_FALSE(d.allowed);
  CHECK(Reasons(d) == std::vector<std::string>{"NotLiveMigratable"});
  CHECK_THAT(d.message, Catch::Contains("reason DisksNotLiveMigratable: " + kRWOMessage));
  // RWX: admitted.
  w.pvcs["default/disk-pvc"].access_modes = {"ReadWriteMany"};
  CHECK(w.Decide().allowed);
}

TEST_CASE("a multi-line condition message still yields a one-line denial") {
  World w;
  NotMigratable(w.Target(), "DisksNotLiveMigratable", "line one\nline two\r\n");
  api::AdmissionDecision d = w.Decide();
  CHECK_FALSE(d.allowed);
  CHECK(d.message.find('\n') == std::string::npos);
  CHECK(d.message.find('\r') == std::string::npos);
}

TEST_CASE("an undecodable object is a 400 bad request") {
  api::AdmissionInput in;
  in.operation = "CREATE";
  in.object_error = "spec.vmiName: must be a string, got a number";
  api::AdmissionDecision d = api::DecideMigration(in);
  CHECK_FALSE(d.allowed);
  CHECK(d.code == 400);
  CHECK(d.status_reason == "BadRequest");
  CHECK(Reasons(d) == std::vector<std::string>{"MalformedObject"});
  CHECK_THAT(d.message, Catch::Contains("spec.vmiName: must be a string"));
}

TEST_CASE("operations other than CREATE and UPDATE are allowed untouched") {
  for (const char* op : {"DELETE", "CONNECT", ""}) {
    api::AdmissionInput in;
    in.operation = op;
    api::AdmissionDecision d = api::DecideMigration(in);
    CHECK(d.allowed);
    CHECK(d.code == 200);
  }
}

// ---------------------------------------------------------------- UPDATE

api::VMIM ParseMig(const std::string& json) {
  auto m = api::ParseVMIM(json);
  INFO(m.status().message());
  REQUIRE(m.ok());
  return *m;
}

std::string MigJson(const std::string& spec, const std::string& labels, const std::string& phase) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",)"
         R"("metadata":{"name":"mig","namespace":"default","uid":"u","labels":)" +
         labels + R"(},"spec":)" + spec + R"(,"status":{"phase":")" + phase + R"("}})";
}

TEST_CASE("UPDATE decisions: spec is immutable, the selector label is kept while not final") {
  const std::string spec = R"({"vmiName":"vmi-fedora"})";
  const std::string label = R"({"kubevirt.io/vmi-name":"vmi-fedora"})";
  struct Case {
    const char* name;
    std::string old_json;
    std::string new_json;
    std::vector<std::string> reasons;
    std::string message_part;
    std::string field;
  };
  const Case cases[] = {
      {"no change", MigJson(spec, label, "Running"), MigJson(spec, label, "Running"), {}, "", ""},
      {"key order does not matter",
       MigJson(R"({"vmiName":"v","addedNodeSelector":{"a":"1","b":"2"}})", label, "Running"),
       MigJson(R"({"addedNodeSelector":{"b":"2","a":"1"},"vmiName":"v"})", label, "Running"),
       {},
       "",
       ""},
      {"label-only update passes",
       MigJson(spec, label, "Running"),
       MigJson(spec, R"({"kubevirt.io/vmi-name":"vmi-fedora","team":"a"})", "Running"),
       {},
       "",
       ""},
      {"adding the selector label passes",
       MigJson(spec, "{}", ""),
       MigJson(spec, label, ""),
       {},
       "",
       ""},
      {"status change passes",
       MigJson(spec, label, "Running"),
       MigJson(spec, label, "Succeeded"),
       {},
       "",
       ""},
      {"vmiName changed",
       MigJson(spec, label, "Pending"),
       MigJson(R"({"vmiName":"other"})", label, "Pending"),
       {"SpecImmutable"},
       "spec.vmiName is immutable: cannot change it from \"vmi-fedora\" to \"other\"",
       "spec.vmiName"},
      {"addedNodeSelector changed",
       MigJson(spec, label, "Pending"),
       MigJson(R"({"vmiName":"vmi-fedora","addedNodeSelector":{"zone":"b"}})", label, "Pending"),
       {"SpecImmutable"},
       "spec.addedNodeSelector is immutable",
       "spec.addedNodeSelector"},
      {"an unmodelled spec field changed",
       MigJson(spec, label, "Pending"),
       MigJson(R"({"vmiName":"vmi-fedora","priority":"high"})", label, "Pending"),
       {"SpecImmutable"},
       "spec is immutable",
       "spec"},
      {"spec change of a final migration is refused too",
       MigJson(spec, label, "Succeeded"),
       MigJson(R"({"vmiName":"other"})", label, "Succeeded"),
       {"SpecImmutable"},
       "immutable",
       "spec.vmiName"},
      {"selector label removed",
       MigJson(spec, label, "Running"),
       MigJson(spec, "{}", "Running"),
       {"SelectorLabelImmutable"},
       "label kubevirt.io/vmi-name must not be removed while the migration is not finished",
       "metadata.labels[kubevirt.io/vmi-name]"},
      {"selector label changed",
       MigJson(spec, label, ""),
       MigJson(spec, R"({"kubevirt.io/vmi-name":"x"})", ""),
       {"SelectorLabelImmutable"},
       "must not change while the migration is not finished (from \"vmi-fedora\" to \"x\")",
       "metadata.labels[kubevirt.io/vmi-name]"},
      {"selector label removed from a final migration",
       MigJson(spec, label, "Failed"),
       MigJson(spec, "{}", "Failed"),
       {},
       "",
       ""},
      {"spec and label together",
       MigJson(spec, label, "Running"),
       MigJson(R"({"vmiName":"other"})", "{}", "Running"),
       {"SpecImmutable", "SelectorLabelImmutable"},
       "spec.vmiName is immutable",
       "spec.vmiName"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    World w;
    w.config.feature_gates.clear();  // UPDATE ignores the gate and the limits
    w.AddInFlight(5, "node01");
    api::AdmissionInput in;
    in.operation = "UPDATE";
    in.old_object = ParseMig(c.old_json);
    in.object = ParseMig(c.new_json);
    for (const auto& m : w.vmims) in.vmims.push_back(&m);
    in.config = w.config;
    api::AdmissionDecision d = api::DecideMigration(in);
    INFO(d.message);
    CHECK(Reasons(d) == c.reasons);
    CHECK(d.allowed == c.reasons.empty());
    CHECK(d.code == (c.reasons.empty() ? 200 : 422));
    CHECK_THAT(d.message, Catch::Contains(c.message_part));
    if (!c.reasons.empty()) {
      CHECK(d.status_reason == "Invalid");
      CHECK(d.causes[0].field == c.field);
    }
  }
}

TEST_CASE("UPDATE without a decodable old object is a 400") {
  api::AdmissionInput in;
  in.operation = "UPDATE";
  in.object = Migration("default", "m", "v", P::kRunning);
  api::AdmissionDecision d = api::DecideMigration(in);
  CHECK(d.code == 400);
  CHECK(d.causes.at(0).field == "oldObject");
}

}  // namespace
