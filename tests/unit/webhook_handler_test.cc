// The webhook's HTTP handler called directly (no sockets): routing, content
// checks, and decode -> decide -> encode against a cache fed like the
// informers feed it.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>

#include "kube/object.h"
#include "webhook/cache.h"
#include "webhook/handler.h"
#include "webhook/metrics.h"

namespace {

using webhook::HttpRequest;
using webhook::HttpResponse;

kube::Object Obj(const std::string& json) {
  auto o = kube::ParseObject(json);
  REQUIRE(o.ok());
  return *o;
}

std::string Vmi(const std::string& name, const std::string& phase, const std::string& node,
                const std::string& migratable = "True", const std::string& ns = "default") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":")" +
         name + R"(","namespace":")" + ns + R"("},"spec":{"domain":{"memory":{"guest":"1Gi"}}},)"
         R"("status":{"phase":")" + phase + R"(","nodeName":")" + node +
         R"(","conditions":[{"type":"LiveMigratable","status":")" + migratable +
         R"j(","reason":"DisksNotLiveMigratable","message":"PVC disk1 is not shared (ReadWriteOnce)"}]}})j";
}

std::string Vmim(const std::string& name, const std::string& vmi, const std::string& phase = "",
                 const std::string& ns = "default") {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":")" +
         name + R"(","namespace":")" + ns + R"(","uid":"uid-)" + name + R"("},"spec":{"vmiName":")" +
         vmi + R"("},"status":{"phase":")" + phase + R"("}})";
}

constexpr char kKubeVirtOn[] =
    R"({"apiVersion":"kubevirt.io/v1","kind":"KubeVirt","metadata":{"name":"kubevirt","namespace":"kubevirt"},)"
    R"("spec":{"configuration":{"developerConfiguration":{"featureGates":["LiveMigration"]}}}})";

std::string Review(const std::string& operation, const std::string& object,
                   const std::string& old_object = "null", bool dry_run = false,
                   const std::string& resource = "virtualmachineinstancemigrations",
                   const std::string& kind = "VirtualMachineInstanceMigration") {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"req-42",)"
         R"("kind":{"group":"kubevirt.io","version":"v1","kind":")" + kind + R"("},)"
         R"("resource":{"group":"kubevirt.io","version":"v1","resource":")" + resource + R"("},)"
         R"("namespace":"default","operation":")" + operation + R"(","object":)" + object +
         R"(,"oldObject":)" + old_object + R"(,"dryRun":)" + (dry_run ? "true" : "false") + "}}";
}

struct Fixture {
  webhook::ClusterCache cache{"kubevirt", "kubevirt"};
  webhook::Metrics metrics;
  bool ready = false;
  webhook::Handler handler{&cache, &metrics, [this] { return ready; }, [] { return uint64_t{4}; }};

  Fixture() { cache.OnKubeVirt(Obj(kKubeVirtOn)); }

  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& content_type = "application/json") {
    return handler.Handle(HttpRequest{method, path, content_type, body});
  }
  // POSTs a review and returns its parsed response object.
  rapidjson::Document Admit(const std::string& body,
                            const std::string& path = webhook::kPathValidateMigrations) {
    HttpResponse r = Call("POST", path, body);
    REQUIRE(r.status == 200);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    REQUIRE_FALSE(d.HasParseError());
    REQUIRE(d["response"].IsObject());
    CHECK(d["response"]["uid"] == "req-42");
    return d;
  }
};

std::string Causes(const rapidjson::Document& d) {
  std::string out;
  const auto& st = d["response"]["status"];
  if (!st.IsObject() || !st.HasMember("details")) return out;
  for (const auto& c : st["details"]["causes"].GetArray()) {
    if (!out.empty()) out += ",";
    out += c["reason"].GetString();
  }
  return out;
}

int Code(const rapidjson::Document& d) { return d["response"]["status"]["code"].GetInt(); }
std::string Message(const rapidjson::Document& d) {
  return d["response"]["status"]["message"].GetString();
}

}  // namespace

TEST_CASE("health, readiness and unknown paths") {
  Fixture f;
  CHECK(f.Call("GET", "/healthz").status == 200);
  CHECK(f.Call("HEAD", "/healthz").status == 200);
  CHECK(f.Call("GET", "/readyz").status == 503);
  f.ready = true;
  CHECK(f.Call("GET", "/readyz").status == 200);
  CHECK(f.Call("GET", "/nope").status == 404);
  CHECK(f.Call("POST", "/").status == 404);
}

TEST_CASE("wrong methods get 405 with the allowed method") {
  Fixture f;
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  } cases[] = {{"GET", webhook::kPathValidateMigrations, "POST"},
               {"PUT", webhook::kPathValidateKubeVirt, "POST"},
               {"DELETE", webhook::kPathValidateMigrations, "POST"},
               {"POST", "/healthz", "GET"},
               {"PATCH", "/readyz", "GET"},
               {"POST", "/metrics", "GET"}};
  for (const Case& c : cases) {
    INFO(c.method << " " << c.path);
    HttpResponse r = f.Call(c.method, c.path);
    CHECK(r.status == 405);
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0] == std::make_pair(std::string("Allow"), std::string(c.allow)));
  }
}

TEST_CASE("admission requests must be application/json") {
  Fixture f;
  std::string body = Review("CREATE", Vmim("m", "vm"));
  for (const char* ct : {"", "text/plain", "application/yaml", "application/jsonx", "json"}) {
    INFO(ct);
    CHECK(f.Call("POST", webhook::kPathValidateMigrations, body, ct).status == 415);
  }
  for (const char* ct : {"application/json", "application/json; charset=utf-8", "Application/JSON"}) {
    INFO(ct);
    CHECK(f.Call("POST", webhook::kPathValidateMigrations, body, ct).status == 200);
  }
}

TEST_CASE("an undecodable review is a 400 Status naming the problem") {
  Fixture f;
  HttpResponse r = f.Call("POST", webhook::kPathValidateMigrations, R"({"apiVersion":1})");
  CHECK(r.status == 400);
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["kind"] == "Status");
  CHECK(d["reason"] == "BadRequest");
  CHECK_THAT(std::string(d["message"].GetString()), Catch::Contains("apiVersion: want a string"));
  CHECK(f.metrics.AdmissionCount("", "error", "BadRequest") == 1);
}

TEST_CASE("admits a migration of a running, migratable VMI and echoes the uid") {
  Fixture f;
  f.cache.OnVMI(Obj(Vmi("vm", "Running", "node1")));
  auto d = f.Admit(Review("CREATE", Vmim("m", "vm")));
  CHECK(d["response"]["allowed"].IsTrue());
  CHECK(d["response"]["warnings"].IsArray());
  CHECK(f.metrics.AdmissionCount("CREATE", "allowed", "") == 1);
}

TEST_CASE("denies with every reason that applies, each as a cause") {
  struct Case {
    const char* name;
    std::string vmi;  // "" = no VMI
    bool feature_gate;
    std::string causes;
    int code;
    const char* message_part;
  } cases[] = {
      {"feature gate off", Vmi("vm", "Running", "n1"), false, "FeatureGateDisabled", 403,
       "LiveMigration feature gate is not enabled"},
      {"VMI missing", "", true, "VMINotFound", 403, "VMI default/vm does not exist"},
      {"VMI not running", Vmi("vm", "Scheduling", "n1"), true, "VMINotRunning", 403, "not running"},
      {"VMI final", Vmi("vm", "Succeeded", "n1"), true, "VMIFinal", 403, "final phase Succeeded"},
      {"not migratable", Vmi("vm", "Running", "n1", "False"), true, "NotLiveMigratable", 403,
       "PVC disk1 is not shared"},
      {"gate off and VMI missing", "", false, "FeatureGateDisabled,VMINotFound", 403,
       "does not exist"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Fixture f;
    if (!c.feature_gate) f.cache.OnKubeVirtDeleted(Obj(kKubeVirtOn));
    if (!c.vmi.empty()) f.cache.OnVMI(Obj(c.vmi));
    auto d = f.Admit(Review("CREATE", Vmim("m", "vm")));
    CHECK(d["response"]["allowed"].IsFalse());
    CHECK(Causes(d) == c.causes);
    CHECK(Code(d) == c.code);
    CHECK_THAT(Message(d), Catch::Contains(c.message_part));
  }
}

TEST_CASE("the sixth migration in the cluster is refused with 429 and the counts") {
  Fixture f;
  for (int i = 0; i < 6; ++i) {
    std::string n = "vm" + std::to_string(i);
    f.cache.OnVMI(Obj(Vmi(n, "Running", "node" + std::to_string(i))));
    if (i < 5) f.cache.OnVMIM(Obj(Vmim("m" + std::to_string(i), n, "Running")));
  }
  auto d = f.Admit(Review("CREATE", Vmim("m5", "vm5")));
  CHECK(d["response"]["allowed"].IsFalse());
  CHECK(Causes(d) == "ClusterLimitReached");
  CHECK(Code(d) == 429);
  CHECK_THAT(Message(d), Catch::Contains("cluster has 5/5 migrations in flight "
                                         "(parallelMigrationsPerCluster=5)"));
  CHECK_THAT(Message(d), Catch::Contains("held by default/m0, default/m1, default/m2, default/m3, "
                                         "default/m4; retry when one finishes"));
  // No retry advice: kube-apiserver would turn it into Retry-After, and kubectl would retry the
  // refusal silently about 10 times before showing it (--retry-on-limit knows it by the cause).
  CHECK_FALSE(d["response"]["status"]["details"].HasMember("retryAfterSeconds"));

  // One finishes: its VMIM leaves the in-flight set and the retry passes.
  f.cache.OnVMIM(Obj(Vmim("m0", "vm0", "Succeeded")));
  CHECK(f.cache.sizes().in_flight_vmims == 4);
  CHECK(f.Admit(Review("CREATE", Vmim("m5", "vm5")))["response"]["allowed"].IsTrue());
}

TEST_CASE("the third outbound migration of a node is refused") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.cache.OnVMI(Obj(Vmi("vm" + std::to_string(i), "Running", "busy")));
  f.cache.OnVMIM(Obj(Vmim("m0", "vm0", "Running")));
  f.cache.OnVMIM(Obj(Vmim("m1", "vm1", "Pending")));
  auto d = f.Admit(Review("CREATE", Vmim("m2", "vm2")));
  CHECK(Causes(d) == "NodeLimitReached");
  CHECK(Code(d) == 429);
  CHECK_THAT(Message(d), Catch::Contains("node busy has 2/2 outbound"));
}

TEST_CASE("a second migration of the same VMI is refused while one is in flight") {
  Fixture f;
  f.cache.OnVMI(Obj(Vmi("vm", "Running", "n1")));
  f.cache.OnVMIM(Obj(Vmim("first", "vm", "Scheduling")));
  auto d = f.Admit(Review("CREATE", Vmim("second", "vm")));
  CHECK(Causes(d) == "MigrationInFlight");
  CHECK_THAT(Message(d), Catch::Contains("in-flight migration detected"));
  f.cache.OnVMIMDeleted(Obj(Vmim("first", "vm")));
  CHECK(f.Admit(Review("CREATE", Vmim("second", "vm")))["response"]["allowed"].IsTrue());
}

TEST_CASE("dryRun requests get the same verdict") {
  Fixture f;
  f.cache.OnVMI(Obj(Vmi("vm", "Running", "n1", "False")));
  auto wet = f.Admit(Review("CREATE", Vmim("m", "vm")));
  auto dry = f.Admit(Review("CREATE", Vmim("m", "vm"), "null", /*dry_run=*/true));
  CHECK(Causes(wet) == "NotLiveMigratable");
  CHECK(Causes(dry) == Causes(wet));
  CHECK(Message(dry) == Message(wet));
}

TEST_CASE("spec updates are refused and label-only updates pass") {
  Fixture f;
  std::string old_obj = Vmim("m", "vm", "Running");
  auto spec = f.Admit(Review("UPDATE", Vmim("m", "other", "Running"), old_obj));
  CHECK(Causes(spec) == "SpecImmutable");
  CHECK(Code(spec) == 422);
  std::string labelled = old_obj;
  labelled.replace(labelled.find(R"("uid":)"), 0, R"("labels":{"team":"a"},)");
  CHECK(f.Admit(Review("UPDATE", labelled, old_obj))["response"]["allowed"].IsTrue());
}

TEST_CASE("malformed objects are denied as bad requests") {
  Fixture f;
  auto d = f.Admit(Review("CREATE", R"({"spec":{"vmiName":7}})"));
  CHECK(Causes(d) == "MalformedObject");
  CHECK(Code(d) == 400);
  auto missing = f.Admit(Review("CREATE", "null"));
  CHECK(Causes(missing) == "MalformedObject");
  CHECK(Code(missing) == 400);
  auto no_old = f.Admit(Review("UPDATE", Vmim("m", "vm")));
  CHECK(no_old["response"]["allowed"].IsFalse());
  CHECK(Causes(no_old) == "MalformedObject");
}

TEST_CASE("a review for another resource is denied with WrongResource") {
  Fixture f;
  auto d = f.Admit(Review("CREATE", "{}", "null", false, "pods", "Pod"));
  CHECK(Causes(d) == webhook::kCauseWrongResource);
  CHECK(Code(d) == 400);
  CHECK_THAT(Message(d), Catch::Contains("validates kubevirt.io virtualmachineinstancemigrations"));
  auto kv = f.Admit(Review("CREATE", Vmim("m", "vm")), webhook::kPathValidateKubeVirt);
  CHECK(Causes(kv) == webhook::kCauseWrongResource);
}

TEST_CASE("DELETE and CONNECT operations are allowed untouched") {
  Fixture f;
  CHECK(f.Admit(Review("DELETE", "null", Vmim("m", "vm")))["response"]["allowed"].IsTrue());
  CHECK(f.Admit(Review("CONNECT", "null"))["response"]["allowed"].IsTrue());
}

TEST_CASE("status subresource writes and KubeVirt deletions are allowed untouched") {
  Fixture f;
  // The same spec change that a plain UPDATE gets refused for.
  std::string status_write = Review("UPDATE", Vmim("m", "other", "Running"),
                                    Vmim("m", "vm", "Running"));
  status_write.replace(status_write.find(R"("operation":)"), 0, R"("subResource":"status",)");
  auto d = f.Admit(status_write);
  CHECK(d["response"]["allowed"].IsTrue());
  CHECK(d["response"]["uid"] == "req-42");
  CHECK(f.Admit(Review("DELETE", "null", "{}", false, "kubevirts", "KubeVirt"),
                webhook::kPathValidateKubeVirt)["response"]["allowed"]
            .IsTrue());
  // Without the subresource the write is judged.
  CHECK(f.Admit(Review("UPDATE", "null", "null", false, "kubevirts", "KubeVirt"),
                webhook::kPathValidateKubeVirt)["response"]["allowed"]
            .IsFalse());
}

TEST_CASE("the KubeVirt endpoint rejects nonsensical migration settings with field paths") {
  Fixture f;
  std::string bad =
      R"({"apiVersion":"kubevirt.io/v1","kind":"KubeVirt","metadata":{"name":"kubevirt","namespace":"kubevirt"},)"
      R"("spec":{"configuration":{"migrations":{"parallelMigrationsPerCluster":0,"bandwidthPerMigration":"lots"}}}})";
  auto d = f.Admit(Review("UPDATE", bad, kKubeVirtOn, false, "kubevirts", "KubeVirt"),
                   webhook::kPathValidateKubeVirt);
  CHECK(d["response"]["allowed"].IsFalse());
  CHECK(Code(d) == 422);
  CHECK(Causes(d) == "InvalidSpec,InvalidSpec");
  CHECK_THAT(Message(d),
             Catch::Contains("spec.configuration.migrations.parallelMigrationsPerCluster"));
  auto ok = f.Admit(Review("CREATE", kKubeVirtOn, "null", false, "kubevirts", "KubeVirt"),
                    webhook::kPathValidateKubeVirt);
  CHECK(ok["response"]["allowed"].IsTrue());
}

TEST_CASE("metrics expose admissions, denial causes and cache sizes") {
  Fixture f;
  f.cache.OnVMI(Obj(Vmi("vm", "Running", "n1", "False")));
  f.Admit(Review("CREATE", Vmim("m", "vm")));
  HttpResponse r = f.Call("GET", "/metrics");
  CHECK(r.status == 200);
  CHECK_THAT(r.content_type, Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK_THAT(r.body, Catch::Contains("migration_webhook_admissions_total{operation=\"CREATE\","
                                     "result=\"denied\",reason=\"NotLiveMigratable\"} 1"));
  CHECK_THAT(r.body, Catch::Contains(
      "migration_webhook_cache_objects{resource=\"virtualmachineinstances\"} 1"));
  CHECK_THAT(r.body, Catch::Contains("migration_webhook_cache_objects{resource=\"kubevirts\"} 1"));
  CHECK_THAT(r.body, Catch::Contains("migration_webhook_certificate_reloads_total 4"));
  CHECK_THAT(r.body, Catch::Contains("migration_webhook_admission_duration_seconds_count 1"));
}

TEST_CASE("the cache drops objects that stop parsing and ignores other KubeVirt objects") {
  webhook::ClusterCache cache("kubevirt", "kubevirt");
  cache.OnVMI(Obj(Vmi("vm", "Running", "n1")));
  REQUIRE(cache.sizes().vmis == 1);
  cache.OnVMI(Obj(R"({"kind":"VirtualMachineInstance","metadata":{"name":"vm","namespace":"default"},)"
                  R"("status":{"phase":5}})"));
  CHECK(cache.sizes().vmis == 0);
  CHECK(cache.parse_errors() == 1);
  CHECK_THAT(cache.last_parse_error(), Catch::Contains("default/vm"));

  std::string other = kKubeVirtOn;
  other.replace(other.find(R"("name":"kubevirt")"), 17, R"("name":"other")");
  cache.OnKubeVirt(Obj(other));
  CHECK(cache.sizes().kubevirts == 0);
  cache.OnKubeVirt(Obj(kKubeVirtOn));
  CHECK(cache.SnapshotFor("default", "vm").config.LiveMigrationEnabled());
}

TEST_CASE("a snapshot holds the VMI, the in-flight VMIMs with their VMIs, and the claimed PVCs") {
  webhook::ClusterCache cache("kubevirt", "kubevirt");
  cache.OnVMI(Obj(Vmi("a", "Running", "n1")));
  cache.OnVMI(Obj(Vmi("b", "Running", "n2")));
  cache.OnVMI(Obj(Vmi("c", "Running", "n3")));
  cache.OnVMIM(Obj(Vmim("mb", "b", "Running")));
  cache.OnVMIM(Obj(Vmim("old", "c", "Failed")));
  auto s = cache.SnapshotFor("default", "a");
  REQUIRE(s.vmi != nullptr);
  CHECK(s.vmi->meta.name == "a");
  REQUIRE(s.in_flight.size() == 1);
  CHECK(s.in_flight[0]->meta.name == "mb");
  CHECK(s.vmis.count("default/b") == 1);
  CHECK(s.vmis.count("default/c") == 0);
  CHECK_FALSE(s.kubevirt_found);
  CHECK(cache.SnapshotFor("default", "zzz").vmi == nullptr);
}

TEST_CASE("a VMI that exists but cannot be read is denied as unreadable, with the reason") {
  Fixture f;
  f.cache.OnVMI(Obj(R"({"kind":"VirtualMachineInstance","metadata":{"name":"vm","namespace":"default"},)"
                    R"("status":{"phase":5}})"));
  auto d = f.Admit(Review("CREATE", Vmim("m", "vm")));
  CHECK(d["response"]["allowed"].IsFalse());
  CHECK(Causes(d) == "VMIUnreadable");
  CHECK_THAT(Message(d), Catch::Contains("VMI default/vm exists but cannot be read: ") &&
                             Catch::Contains("status.phase"));
  CHECK(Code(d) == 403);

  // Once it parses again (or is deleted) the reason is gone.
  f.cache.OnVMI(Obj(Vmi("vm", "Running", "node1")));
  CHECK(f.cache.SnapshotFor("default", "vm").vmi_unreadable.empty());
  f.cache.OnVMI(Obj(R"({"kind":"VirtualMachineInstance","metadata":{"name":"vm","namespace":"default"},)"
                    R"("status":{"phase":5}})"));
  f.cache.OnVMIDeleted(Obj(Vmi("vm", "Running", "node1")));
  auto gone = f.Admit(Review("CREATE", Vmim("m", "vm")));
  CHECK(Causes(gone) == "VMINotFound");
}
