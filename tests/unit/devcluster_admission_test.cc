// devcluster's validating admission: webhook matching as a case table, and
// real HTTPS calls to in-process webhooks on port 0 whose certificates come
// from devcluster's PKI.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/devcluster/admission.h"
#include "tests/devcluster/pki.h"
#include "tests/testing/local_server.h"
#include "tests/testing/temp_dir.h"

namespace devcluster {
namespace {

using kube::testing::TempDir;

// The string at a dotted path, or "" (walks with explicit key lengths, so it
// does not depend on how json.h looks keys up).
std::string PathString(const Json& v, std::string_view dotted) {
  const Json* cur = &v;
  while (cur != nullptr) {
    size_t dot = dotted.find('.');
    std::string key(dotted.substr(0, dot));
    if (!cur->IsObject() || !cur->HasMember(key.c_str())) return "";
    cur = &(*cur)[key.c_str()];
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  return cur != nullptr && cur->IsString() ? cur->GetString() : "";
}

JsonDoc Parse(const std::string& text) {
  JsonDoc d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

// Replaces every "$KEY" in `tmpl`.
std::string Fill(std::string tmpl, const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars) {
    std::string key = "$" + k;
    for (size_t at = tmpl.find(key); at != std::string::npos; at = tmpl.find(key, at + v.size())) {
      tmpl.replace(at, key.size(), v);
    }
  }
  return tmpl;
}

// A webhook's answer: the response body for a parsed AdmissionReview.
using Handler = std::function<std::string(const JsonDoc& review)>;

std::string Answer(const JsonDoc& review, const std::string& response_fields) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":")" +
         PathString(review, "request.uid") + "\"," + response_fields + "}}";
}
Handler Allow(const std::string& extra = "") {
  return [extra](const JsonDoc& r) {
    return Answer(r, std::string(R"("allowed":true)") + (extra.empty() ? "" : "," + extra));
  };
}
Handler Deny(const std::string& extra) {
  return [extra](const JsonDoc& r) { return Answer(r, R"("allowed":false,)" + extra); };
}

// An HTTPS AdmissionReview server on 127.0.0.1, port 0, recording what it gets.
class TestWebhook {
 public:
  TestWebhook(const std::string& cert_file, const std::string& key_file, Handler handler)
      : svr_(cert_file.c_str(), key_file.c_str()), handler_(std::move(handler)) {
    svr_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      JsonDoc review;
      review.Parse(req.body.c_str());
      {
        std::lock_guard<std::mutex> lock(mu_);
        bodies_.push_back(req.body);
        targets_.push_back(req.path + "?timeout=" + req.get_param_value("timeout"));
        content_types_.push_back(req.get_header_value("Content-Type"));
      }
      res.set_content(handler_(review), "application/json");
    });
    thread_.Start(svr_);
  }
  int port() const { return thread_.port(); }
  std::string url(const std::string& path = "/validate") const {
    return "https://127.0.0.1:" + std::to_string(thread_.port()) + path;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> targets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }
  std::vector<std::string> content_types() const {
    std::lock_guard<std::mutex> lock(mu_);
    return content_types_;
  }

 private:
  httplib::SSLServer svr_;
  Handler handler_;
  mutable std::mutex mu_;
  std::vector<std::string> bodies_, targets_, content_types_;
  kube::testing::ServerThread thread_;  // last: stops before the members above go
};

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A CA, a webhook serving certificate for webhook.test.svc and 127.0.0.1, the
// caBundle for it, and a VMIM create request in namespace "default".
class Fixture {
 public:
  Fixture() {
    auto ca = EnsureCa(dir_.path());
    REQUIRE(ca.ok());
    ca_ = *ca;
    CertSpec spec;
    spec.common_name = "webhook";
    spec.dns_names = {"webhook.test.svc", "localhost"};
    spec.ips = {"127.0.0.1"};
    spec.server_auth = true;
    auto serving = IssueCert(ca_, spec);
    REQUIRE(serving.ok());
    cert_file_ = dir_.Write("webhook.crt", serving->cert_pem);
    key_file_ = dir_.Write("webhook.key", serving->key_pem);
    ca_bundle_ = Base64Encode(ca_.cert_pem);

    object_ = Parse(R"({"apiVersion":"kubevirt.io/v1alpha3",
        "kind":"VirtualMachineInstanceMigration",
        "metadata":{"name":"mig1","namespace":"default","labels":{"team":"a"}},
        "spec":{"vmiName":"vmi1"}})");
    options_ = Parse(R"({"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"})");
    attrs_.operation = "CREATE";
    attrs_.group = "kubevirt.io";
    attrs_.version = "v1alpha3";
    attrs_.kind = "VirtualMachineInstanceMigration";
    attrs_.resource = "virtualmachineinstancemigrations";
    attrs_.name = "mig1";
    attrs_.ns = "default";
    attrs_.namespaced = true;
    attrs_.equivalent_versions = {"v1", "v1alpha3"};
    attrs_.object = &object_;
    attrs_.options = &options_;
    attrs_.user = {"alice", "", {"dev", "system:authenticated"}, {}};
    attrs_.namespace_labels = {{"env", "prod"}};
  }

  std::unique_ptr<TestWebhook> Start(Handler h) {
    return std::make_unique<TestWebhook>(cert_file_, key_file_, std::move(h));
  }

  // A configuration with one webhook calling `url`; `extra` adds fields.
  JsonDoc UrlConfig(const std::string& name, const std::string& url, const std::string& extra = "",
                    const std::string& rules = kVmimRules) const {
    return Parse(Fill(R"({"apiVersion":"admissionregistration.k8s.io/v1",
        "kind":"ValidatingWebhookConfiguration","metadata":{"name":"cfg"},
        "webhooks":[{"name":"$NAME","clientConfig":{"url":"$URL","caBundle":"$CA"},
          "rules":$RULES,"sideEffects":"None","admissionReviewVersions":["v1"]$EXTRA}]})",
                      {{"NAME", name},
                       {"URL", url},
                       {"CA", ca_bundle_},
                       {"RULES", rules},
                       {"EXTRA", extra.empty() ? "" : "," + extra}}));
  }

  static constexpr const char* kVmimRules =
      R"([{"operations":["CREATE","UPDATE"],"apiGroups":["kubevirt.io"],
           "apiVersions":["v1alpha3","v1"],"resources":["virtualmachineinstancemigrations"]}])";

  TempDir dir_;
  CertKey ca_;
  std::string cert_file_, key_file_, ca_bundle_;
  JsonDoc object_, options_;
  AdmissionAttributes attrs_;
};

// An Admission without service endpoints whose failure log goes nowhere.
Admission Quiet() {
  return Admission({}, [](const std::string&) {});
}

struct LogCapture {
  std::vector<std::string> lines;
  Admission::Logger logger() {
    return [this](const std::string& l) { lines.push_back(l); };
  }
};

TEST_CASE("an allowing webhook admits and receives every field kube-apiserver sends",
          "[admission]") {
  Fixture f;
  auto hook = f.Start(Allow());
  JsonDoc cfg = f.UrlConfig("allow.test", hook->url());
  AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
  CHECK(r.allowed);
  CHECK(r.warnings.empty());
  REQUIRE(hook->bodies().size() == 1);
  CHECK(hook->targets()[0] == "/validate?timeout=10s");
  CHECK(hook->content_types()[0] == "application/json");

  JsonDoc review = Parse(hook->bodies()[0]);
  CHECK(PathString(review, "apiVersion") == "admission.k8s.io/v1");
  CHECK(PathString(review, "kind") == "AdmissionReview");
  const Json& req = review["request"];
  CHECK(PathString(req, "uid").size() == 36);
  CHECK(ToJson(req["kind"]) ==
        R"({"group":"kubevirt.io","version":"v1alpha3","kind":"VirtualMachineInstanceMigration"})");
  CHECK(ToJson(req["resource"]) ==
        R"({"group":"kubevirt.io","version":"v1alpha3","resource":"virtualmachineinstancemigrations"})");
  CHECK(ToJson(req["requestKind"]) == ToJson(req["kind"]));
  CHECK(ToJson(req["requestResource"]) == ToJson(req["resource"]));
  CHECK_FALSE(req.HasMember("subResource"));
  CHECK_FALSE(req.HasMember("requestSubResource"));
  CHECK(PathString(req, "name") == "mig1");
  CHECK(PathString(req, "namespace") == "default");
  CHECK(PathString(req, "operation") == "CREATE");
  CHECK(ToJson(req["userInfo"]) == R"({"username":"alice","groups":["dev","system:authenticated"]})");
  CHECK(ToJson(req["object"]) == ToJson(f.object_));
  CHECK(req["oldObject"].IsNull());
  CHECK(req["dryRun"].IsFalse());
  CHECK(ToJson(req["options"]) == R"({"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"})");
}

TEST_CASE("every webhook call carries a fresh uid", "[admission]") {
  Fixture f;
  auto hook = f.Start(Allow());
  JsonDoc cfg = f.UrlConfig("allow.test", hook->url());
  Admission adm = Quiet();
  REQUIRE(adm.Validate(f.attrs_, {&cfg, &cfg}).allowed);
  REQUIRE(hook->bodies().size() == 2);
  CHECK(PathString(Parse(hook->bodies()[0]), "request.uid") !=
        PathString(Parse(hook->bodies()[1]), "request.uid"));
}

TEST_CASE("a denial without a code is 403 Forbidden with kube-apiserver's message and details",
          "[admission]") {
  Fixture f;
  auto hook = f.Start(Deny(R"("status":{"message":"VMI vmi1 does not exist"})"));
  JsonDoc cfg = f.UrlConfig("migration-webhook.kubevirt.io", hook->url());
  AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.http_code() == 403);
  CHECK(r.denial.reason() == "Forbidden");
  CHECK(r.denial.code() == base::Code::kPermissionDenied);
  CHECK(r.denial.message() ==
        "admission webhook \"migration-webhook.kubevirt.io\" denied the request: VMI vmi1 does "
        "not exist");
  CHECK(r.denial.details_json() ==
        R"({"name":"mig1","group":"kubevirt.io","kind":"virtualmachineinstancemigrations"})");
}

TEST_CASE("a denial with code 429 keeps the webhook's reason, details and causes", "[admission]") {
  Fixture f;
  auto hook = f.Start(Deny(R"("status":{"code":429,"reason":"TooManyRequests",
      "message":"2 migrations in flight, limit 2; retry later",
      "details":{"causes":[{"reason":"ParallelMigrationsPerCluster","message":"limit 2"}],
                 "retryAfterSeconds":5}})"));
  JsonDoc cfg = f.UrlConfig("limits.test", hook->url());
  AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.http_code() == 429);
  CHECK(r.denial.reason() == "TooManyRequests");
  CHECK(r.denial.code() == base::Code::kUnavailable);
  CHECK(r.denial.retry_after_seconds() == 5);
  CHECK(r.denial.message() ==
        "admission webhook \"limits.test\" denied the request: 2 migrations in flight, limit 2; "
        "retry later");
  CHECK(r.denial.details_json() ==
        R"({"causes":[{"reason":"ParallelMigrationsPerCluster","message":"limit 2"}],)"
        R"("retryAfterSeconds":5})");
}

TEST_CASE("a denial's message falls back to the reason, then to 'without explanation'",
          "[admission]") {
  struct Case {
    const char* status;
    const char* message;
  };
  const Case cases[] = {
      {R"("status":{"reason":"NoWay"})", "admission webhook \"d.test\" denied the request: NoWay"},
      {R"("status":{})", "admission webhook \"d.test\" denied the request without explanation"},
      {R"("status":null)", "admission webhook \"d.test\" denied the request without explanation"},
  };
  Fixture f;
  for (const Case& c : cases) {
    INFO(c.status);
    auto hook = f.Start(Deny(c.status));
    JsonDoc cfg = f.UrlConfig("d.test", hook->url());
    AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
    REQUIRE_FALSE(r.allowed);
    CHECK(r.denial.message() == c.message);
    CHECK(r.denial.http_code() == 403);
  }
}

TEST_CASE("warnings from every webhook are returned, also when one of them denies",
          "[admission]") {
  Fixture f;
  auto warn = f.Start(Allow(R"("warnings":["bandwidth is unlimited","second"])"));
  auto deny = f.Start(Deny(R"("status":{"message":"no"},"warnings":["from the denier"])"));
  JsonDoc a = f.UrlConfig("warn.test", warn->url());
  JsonDoc b = f.UrlConfig("deny.test", deny->url());
  AdmissionResult r = Quiet().Validate(f.attrs_, {&a, &b});
  CHECK_FALSE(r.allowed);
  CHECK(r.warnings ==
        std::vector<std::string>{"bandwidth is unlimited", "second", "from the denier"});
}

TEST_CASE("the first error in configuration order is returned", "[admission]") {
  Fixture f;
  auto first = f.Start(Deny(R"("status":{"message":"first"})"));
  auto second = f.Start(Deny(R"("status":{"message":"second"})"));
  JsonDoc a = f.UrlConfig("a.test", first->url());
  JsonDoc b = f.UrlConfig("b.test", second->url());
  AdmissionResult r = Quiet().Validate(f.attrs_, {&a, &b});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.message() == "admission webhook \"a.test\" denied the request: first");
  CHECK(second->bodies().size() == 1);
}

TEST_CASE("a response with another uid is a call failure decided by failurePolicy",
          "[admission]") {
  Fixture f;
  auto hook = f.Start([](const JsonDoc&) {
    return std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
        "response":{"uid":"not-the-uid","allowed":true}})");
  });
  LogCapture log;
  Admission adm({}, log.logger());

  JsonDoc fail = f.UrlConfig("uid.test", hook->url());
  AdmissionResult r = adm.Validate(f.attrs_, {&fail});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.http_code() == 500);
  CHECK(r.denial.reason() == "InternalError");
  std::string uid = PathString(Parse(hook->bodies()[0]), "request.uid");
  std::string err = "failed calling webhook \"uid.test\": received invalid webhook response: "
                    "expected response.uid=\"" + uid + "\", got \"not-the-uid\"";
  CHECK(r.denial.message() == "Internal error occurred: " + err);
  JsonDoc details = Parse(r.denial.details_json());
  CHECK(PathString(details["causes"][0], "message") == err);

  JsonDoc ignore = f.UrlConfig("uid.test", hook->url(), R"("failurePolicy":"Ignore")");
  CHECK(adm.Validate(f.attrs_, {&ignore}).allowed);
}

TEST_CASE("connection refused: failurePolicy Fail rejects with 500, Ignore admits and logs",
          "[admission]") {
  Fixture f;
  int port = ClosedPort();
  std::string url = "https://127.0.0.1:" + std::to_string(port) + "/validate";
  LogCapture log;
  Admission adm({}, log.logger());

  JsonDoc fail = f.UrlConfig("down.test", url);
  AdmissionResult r = adm.Validate(f.attrs_, {&fail});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.http_code() == 500);
  CHECK(r.denial.code() == base::Code::kInternal);
  std::string addr = "127.0.0.1:" + std::to_string(port);
  CHECK(r.denial.message() ==
        "Internal error occurred: failed calling webhook \"down.test\": failed to call webhook: "
        "Post \"https://" + addr + "/validate?timeout=10s\": dial tcp " + addr +
            ": connect: connection refused");

  log.lines.clear();
  JsonDoc ignore = f.UrlConfig("down.test", url, R"("failurePolicy":"Ignore")");
  AdmissionResult ok = adm.Validate(f.attrs_, {&ignore});
  CHECK(ok.allowed);
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].find("failing open down.test") != std::string::npos);
  CHECK(log.lines[0].find("connection refused") != std::string::npos);
}

TEST_CASE("a webhook slower than timeoutSeconds fails with context deadline exceeded",
          "[admission]") {
  Fixture f;
  // The webhook's own behaviour under test: it answers after the deadline.
  auto slow = f.Start([](const JsonDoc& r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    return Answer(r, R"("allowed":true)");
  });
  JsonDoc cfg = f.UrlConfig("slow.test", slow->url(), R"("timeoutSeconds":1)");
  auto start = std::chrono::steady_clock::now();
  AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
  auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.message() ==
        "Internal error occurred: failed calling webhook \"slow.test\": failed to call webhook: "
        "Post \"" + slow->url() + "?timeout=1s\": context deadline exceeded");
  // Given up at the deadline, not when the answer finally came.
  CHECK(elapsed < std::chrono::milliseconds(1900));
  CHECK(slow->targets()[0] == "/validate?timeout=1s");
}

TEST_CASE("the webhook's certificate must chain to caBundle", "[admission]") {
  Fixture f;
  TempDir other;
  auto other_ca = EnsureCa(other.path());
  REQUIRE(other_ca.ok());
  auto hook = f.Start(Allow());
  JsonDoc cfg = Parse(Fill(R"({"webhooks":[{"name":"tls.test",
      "clientConfig":{"url":"$URL","caBundle":"$CA"},"sideEffects":"None",
      "rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"]}]}]})",
                           {{"URL", hook->url()}, {"CA", Base64Encode(other_ca->cert_pem)}}));
  AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.message() ==
        "Internal error occurred: failed calling webhook \"tls.test\": failed to call webhook: "
        "Post \"" + hook->url() + "?timeout=10s\": tls: failed to verify certificate: x509: "
        "certificate signed by unknown authority");
  CHECK(hook->bodies().empty());
}

TEST_CASE("service webhooks are called at their endpoint and verified as NAME.NAMESPACE.svc",
          "[admission]") {
  Fixture f;
  auto hook = f.Start(Allow());
  std::string endpoint = "127.0.0.1:" + std::to_string(hook->port());
  Admission adm({{"test/webhook", endpoint}, {"test/other", endpoint}},
                [](const std::string&) {});
  auto service_config = [&](const std::string& name, const std::string& extra) {
    return Parse(Fill(R"({"webhooks":[{"name":"svc.test","sideEffects":"None",
        "clientConfig":{"service":{"namespace":"test","name":"$SVC"$EXTRA},"caBundle":"$CA"},
        "rules":[{"operations":["CREATE"],"apiGroups":["kubevirt.io"],"apiVersions":["*"],
                  "resources":["*"]}]}]})",
                      {{"SVC", name}, {"EXTRA", extra}, {"CA", f.ca_bundle_}}));
  };

  JsonDoc good = service_config("webhook", R"(,"path":"/vmim","port":8443)");
  CHECK(adm.Validate(f.attrs_, {&good}).allowed);
  REQUIRE(hook->targets().size() == 1);
  CHECK(hook->targets()[0] == "/vmim?timeout=10s");

  JsonDoc wrong_name = service_config("other", "");
  AdmissionResult r = adm.Validate(f.attrs_, {&wrong_name});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.message() ==
        "Internal error occurred: failed calling webhook \"svc.test\": failed to call webhook: "
        "Post \"https://other.test.svc:443/?timeout=10s\": tls: failed to verify certificate: "
        "x509: certificate is valid for webhook.test.svc, localhost, not other.test.svc");

  JsonDoc missing = service_config("absent", "");
  r = adm.Validate(f.attrs_, {&missing});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.message() ==
        "Internal error occurred: failed calling webhook \"svc.test\": failed to call webhook: "
        "Post \"https://absent.test.svc:443/?timeout=10s\": service \"absent\" not found");
}

TEST_CASE("answers that are not AdmissionReviews are call failures", "[admission]") {
  struct Case {
    const char* body;
    const char* error_part;
  };
  const Case cases[] = {
      {"not json", "couldn't get version/kind; json parse error: Invalid value."},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})",
       "received invalid webhook response: webhook response was absent"},
      {R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"$UID","allowed":true}})",
       "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
       "admission.k8s.io/v1beta1, Kind=AdmissionReview"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"$UID","allowed":"yes"}})",
       "cannot unmarshal"},
  };
  Fixture f;
  for (const Case& c : cases) {
    INFO(c.body);
    auto hook = f.Start([&c](const JsonDoc& r) {
      return Fill(c.body, {{"UID", PathString(r, "request.uid")}});
    });
    JsonDoc cfg = f.UrlConfig("bad.test", hook->url());
    AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
    REQUIRE_FALSE(r.allowed);
    CHECK(r.denial.http_code() == 500);
    CHECK(r.denial.message().find(c.error_part) != std::string::npos);
  }
}

TEST_CASE("matchPolicy Equivalent sends the object converted to the version a rule names",
          "[admission]") {
  Fixture f;
  auto hook = f.Start(Allow());
  JsonDoc cfg = f.UrlConfig("v1.test", hook->url(), "",
                            R"([{"operations":["CREATE"],"apiGroups":["kubevirt.io"],
                                 "apiVersions":["v1"],"resources":["virtualmachineinstancemigrations"]}])");
  REQUIRE(Quiet().Validate(f.attrs_, {&cfg}).allowed);
  REQUIRE(hook->bodies().size() == 1);
  JsonDoc review = Parse(hook->bodies()[0]);
  const Json& req = review["request"];
  CHECK(PathString(req, "kind.version") == "v1");
  CHECK(PathString(req, "resource.version") == "v1");
  CHECK(PathString(req, "requestKind.version") == "v1alpha3");
  CHECK(PathString(req, "requestResource.version") == "v1alpha3");
  CHECK(PathString(req, "object.apiVersion") == "kubevirt.io/v1");
  CHECK(PathString(req, "object.spec.vmiName") == "vmi1");
}

TEST_CASE("UPDATE and DELETE send oldObject, DELETE with a null object", "[admission]") {
  Fixture f;
  auto hook = f.Start(Allow());
  JsonDoc cfg = f.UrlConfig("ops.test", hook->url(), "",
                            R"([{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],
                                 "resources":["*/*"]}])");
  JsonDoc old_obj = Parse(R"({"apiVersion":"kubevirt.io/v1alpha3","metadata":{"name":"mig1"}})");
  Admission adm = Quiet();

  f.attrs_.operation = "UPDATE";
  f.attrs_.old_object = &old_obj;
  f.attrs_.sub_resource = "status";
  REQUIRE(adm.Validate(f.attrs_, {&cfg}).allowed);
  f.attrs_.operation = "DELETE";
  f.attrs_.object = nullptr;
  f.attrs_.sub_resource = "";
  REQUIRE(adm.Validate(f.attrs_, {&cfg}).allowed);

  REQUIRE(hook->bodies().size() == 2);
  JsonDoc update = Parse(hook->bodies()[0]);
  CHECK(PathString(update, "request.operation") == "UPDATE");
  CHECK(PathString(update, "request.subResource") == "status");
  CHECK(PathString(update, "request.requestSubResource") == "status");
  CHECK(PathString(update, "request.oldObject.metadata.name") == "mig1");
  CHECK(PathString(update, "request.object.metadata.name") == "mig1");
  JsonDoc del = Parse(hook->bodies()[1]);
  CHECK(PathString(del, "request.operation") == "DELETE");
  CHECK(del["request"]["object"].IsNull());
  CHECK(PathString(del, "request.oldObject.metadata.name") == "mig1");
}

TEST_CASE("dry runs reach only webhooks without side effects", "[admission]") {
  Fixture f;
  auto hook = f.Start(Allow());
  f.attrs_.dry_run = true;
  Admission adm({}, [](const std::string&) {});

  JsonDoc none = f.UrlConfig("none.test", hook->url());
  CHECK(adm.Validate(f.attrs_, {&none}).allowed);
  REQUIRE(hook->bodies().size() == 1);
  CHECK(Parse(hook->bodies()[0])["request"]["dryRun"].IsTrue());

  JsonDoc some = Parse(Fill(R"({"webhooks":[{"name":"some.test","sideEffects":"Some",
      "clientConfig":{"url":"$URL","caBundle":"$CA"},"rules":$RULES}]})",
                            {{"URL", hook->url()}, {"CA", f.ca_bundle_}, {"RULES", Fixture::kVmimRules}}));
  AdmissionResult r = adm.Validate(f.attrs_, {&some});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.http_code() == 400);
  CHECK(r.denial.reason() == "BadRequest");
  CHECK(r.denial.message() == "admission webhook \"some.test\" does not support dry run");
  CHECK(hook->bodies().size() == 1);

  // Without sideEffects the call fails before it is made; failurePolicy decides.
  JsonDoc unset = Parse(Fill(R"({"webhooks":[{"name":"unset.test","failurePolicy":"Fail",
      "clientConfig":{"url":"$URL","caBundle":"$CA"},"rules":$RULES}]})",
                             {{"URL", hook->url()}, {"CA", f.ca_bundle_}, {"RULES", Fixture::kVmimRules}}));
  r = adm.Validate(f.attrs_, {&unset});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.message() ==
        "Internal error occurred: failed calling webhook \"unset.test\": Webhook SideEffects is nil");
  CHECK(hook->bodies().size() == 1);

  f.attrs_.dry_run = false;
  CHECK(adm.Validate(f.attrs_, {&some}).allowed);
  CHECK(hook->bodies().size() == 2);
}

TEST_CASE("a broken webhook entry is a call failure subject to failurePolicy", "[admission]") {
  Fixture f;
  Admission adm({}, [](const std::string&) {});
  JsonDoc both = Parse(R"({"webhooks":[{"name":"broken.test","sideEffects":"None",
      "clientConfig":{"url":"https://127.0.0.1:1/","service":{"namespace":"a","name":"b"}},
      "rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"]}]}]})");
  AdmissionResult r = adm.Validate(f.attrs_, {&both});
  REQUIRE_FALSE(r.allowed);
  CHECK(r.denial.http_code() == 500);
  CHECK(r.denial.message().find("failed calling webhook \"broken.test\": could not get REST "
                                "client") != std::string::npos);

  JsonDoc http = Parse(R"({"webhooks":[{"name":"http.test","sideEffects":"None",
      "failurePolicy":"Ignore","clientConfig":{"url":"http://127.0.0.1:1/"},
      "rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"]}]}]})");
  CHECK(adm.Validate(f.attrs_, {&http}).allowed);
}

TEST_CASE("label selectors follow metav1.LabelSelector", "[admission]") {
  struct Case {
    const char* selector;
    std::map<std::string, std::string> labels;
    int want;  // 1 match, 0 no match, -1 error
  };
  const std::map<std::string, std::string> prod = {{"env", "prod"}, {"tier", "db"}};
  const Case cases[] = {
      {"null", prod, 1},
      {"{}", {}, 1},
      {R"({"matchLabels":{"env":"prod"}})", prod, 1},
      {R"({"matchLabels":{"env":"dev"}})", prod, 0},
      {R"({"matchLabels":{"env":"prod","tier":"web"}})", prod, 0},
      {R"({"matchExpressions":[{"key":"env","operator":"In","values":["dev","prod"]}]})", prod, 1},
      {R"({"matchExpressions":[{"key":"env","operator":"In","values":["dev"]}]})", prod, 0},
      {R"({"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]})", prod, 0},
      {R"({"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]}]})", prod, 0},
      {R"({"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]})", prod, 1},
      {R"({"matchExpressions":[{"key":"env","operator":"Exists"}]})", prod, 1},
      {R"({"matchExpressions":[{"key":"zone","operator":"Exists"}]})", prod, 0},
      {R"({"matchExpressions":[{"key":"zone","operator":"DoesNotExist"}]})", prod, 1},
      {R"({"matchExpressions":[{"key":"env","operator":"DoesNotExist"}]})", prod, 0},
      {R"({"matchLabels":{"env":"prod"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]})",
       prod, 0},
      {R"({"matchExpressions":[{"key":"env","operator":"Like","values":["p"]}]})", prod, -1},
      {R"({"matchExpressions":[{"key":"env","operator":"In","values":[]}]})", prod, -1},
      {R"({"matchExpressions":[{"key":"env","operator":"Exists","values":["x"]}]})", prod, -1},
      {R"({"matchExpressions":[{"operator":"Exists"}]})", prod, -1},
      {R"({"matchLabels":{"env":1}})", prod, -1},
      {R"([])", prod, -1},
  };
  for (const Case& c : cases) {
    INFO(c.selector);
    JsonDoc sel = Parse(c.selector);
    auto got = MatchesLabelSelector(&sel, c.labels);
    if (c.want < 0) {
      CHECK_FALSE(got.ok());
    } else {
      REQUIRE(got.ok());
      CHECK(*got == (c.want == 1));
    }
  }
}

TEST_CASE("webhooks match requests by rules, scope, matchPolicy and selectors", "[admission]") {
  // Attributes variants applied to a VMIM CREATE at v1alpha3 in a namespace
  // labelled env=prod, object labelled team=a.
  using Tweak = std::function<void(AdmissionAttributes&)>;
  JsonDoc vmim = Parse(R"({"apiVersion":"kubevirt.io/v1alpha3","kind":"VirtualMachineInstanceMigration",
      "metadata":{"name":"m","labels":{"team":"a"}}})");
  JsonDoc other = Parse(R"({"metadata":{"labels":{"team":"b"}}})");
  JsonDoc ns_obj = Parse(R"({"apiVersion":"v1","kind":"Namespace",
      "metadata":{"name":"kubevirt","labels":{"env":"dev"}}})");
  const Tweak none = [](AdmissionAttributes&) {};
  const Tweak status = [](AdmissionAttributes& a) { a.sub_resource = "status"; };
  const Tweak update = [](AdmissionAttributes& a) { a.operation = "UPDATE"; };
  const Tweak no_equivalents = [](AdmissionAttributes& a) { a.equivalent_versions.clear(); };
  const Tweak cluster_scoped = [](AdmissionAttributes& a) {
    a.namespaced = false;
    a.ns = "";
  };
  const Tweak namespace_object = [&](AdmissionAttributes& a) {
    a.group = "";
    a.version = "v1";
    a.kind = "Namespace";
    a.resource = "namespaces";
    a.namespaced = false;
    a.ns = "";
    a.object = &ns_obj;
    a.equivalent_versions = {};
  };
  const Tweak delete_other_labels = [&](AdmissionAttributes& a) {
    a.operation = "DELETE";
    a.object = nullptr;
    a.old_object = &other;
  };
  const Tweak update_relabel = [&](AdmissionAttributes& a) {
    a.operation = "UPDATE";
    a.old_object = &other;
  };

  auto rule = [](const char* ops, const char* groups, const char* versions, const char* resources,
                 const char* scope = nullptr) {
    std::string r = std::string(R"({"rules":[{"operations":)") + ops + R"(,"apiGroups":)" +
                    groups + R"(,"apiVersions":)" + versions + R"(,"resources":)" + resources;
    if (scope) r += std::string(R"(,"scope":")") + scope + "\"";
    return r + "}]";
  };
  const std::string vmim_v1a3 = rule(R"(["CREATE"])", R"(["kubevirt.io"])", R"(["v1alpha3"])",
                                     R"(["virtualmachineinstancemigrations"])");
  const std::string vmim_v1 = rule(R"(["CREATE"])", R"(["kubevirt.io"])", R"(["v1"])",
                                   R"(["virtualmachineinstancemigrations"])");
  const std::string all = rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*"])");

  struct Case {
    std::string desc;
    std::string webhook;  // without the closing brace
    Tweak tweak;
    std::string want;  // "" no match, "error", or the version sent
  };
  const std::vector<Case> cases = {
      {"exact rule", vmim_v1a3, none, "v1alpha3"},
      {"rule for v1 matches a v1alpha3 request through Equivalent", vmim_v1, none, "v1"},
      {"explicit Equivalent", vmim_v1 + R"(,"matchPolicy":"Equivalent")", none, "v1"},
      {"Exact does not convert", vmim_v1 + R"(,"matchPolicy":"Exact")", none, ""},
      {"no other served version", vmim_v1, no_equivalents, ""},
      {"operation not listed", vmim_v1a3, update, ""},
      {"operation *", rule(R"(["*"])", R"(["kubevirt.io"])", R"(["*"])", R"(["*"])"), update,
       "v1alpha3"},
      {"other group", rule(R"(["*"])", R"([""])", R"(["*"])", R"(["*"])"), none, ""},
      {"other resource", rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["pods"])"), none, ""},
      {"resource rule does not match a subresource", vmim_v1a3, status, ""},
      {"* does not match a subresource", all, status, ""},
      {"*/* matches a subresource", rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*/*"])"), status,
       "v1alpha3"},
      {"*/status matches status",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*/status"])"), status, "v1alpha3"},
      {"resource/status matches status",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["virtualmachineinstancemigrations/status"])"),
       status, "v1alpha3"},
      {"*/status does not match the main resource",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*/status"])"), none, ""},
      {"scope Namespaced, namespaced request",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*"])", "Namespaced"), none, "v1alpha3"},
      {"scope Cluster, namespaced request",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*"])", "Cluster"), none, ""},
      {"scope Cluster, cluster-scoped request",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*"])", "Cluster"), cluster_scoped,
       "v1alpha3"},
      {"scope Cluster matches a Namespace object",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*"])", "Cluster"), namespace_object, "v1"},
      {"scope Namespaced does not match a Namespace object",
       rule(R"(["*"])", R"(["*"])", R"(["*"])", R"(["*"])", "Namespaced"), namespace_object, ""},
      {"no rules", R"({"name":"x")", none, ""},
      {"namespaceSelector matches the namespace's labels",
       all + R"(,"namespaceSelector":{"matchLabels":{"env":"prod"}})", none, "v1alpha3"},
      {"namespaceSelector excludes",
       all + R"(,"namespaceSelector":{"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]}]})",
       none, ""},
      {"namespaceSelector does not apply to cluster-scoped objects",
       all + R"(,"namespaceSelector":{"matchLabels":{"env":"nowhere"}})", cluster_scoped,
       "v1alpha3"},
      {"a Namespace object is selected by its own labels",
       all + R"(,"namespaceSelector":{"matchLabels":{"env":"dev"}})", namespace_object, "v1"},
      {"a Namespace object is not selected by other labels",
       all + R"(,"namespaceSelector":{"matchLabels":{"env":"prod"}})", namespace_object, ""},
      {"objectSelector on the object",
       all + R"(,"objectSelector":{"matchLabels":{"team":"a"}})", none, "v1alpha3"},
      {"objectSelector mismatch", all + R"(,"objectSelector":{"matchLabels":{"team":"b"}})", none,
       ""},
      {"objectSelector sees oldObject on DELETE",
       all + R"(,"objectSelector":{"matchLabels":{"team":"b"}})", delete_other_labels,
       "v1alpha3"},
      {"objectSelector matches either object on UPDATE",
       all + R"(,"objectSelector":{"matchLabels":{"team":"b"}})", update_relabel, "v1alpha3"},
      {"objectSelector DoesNotExist needs an object carrying no such label",
       all + R"(,"objectSelector":{"matchExpressions":[{"key":"team","operator":"DoesNotExist"}]})",
       none, ""},
      {"bad selector with matching rules is an error",
       all + R"(,"objectSelector":{"matchExpressions":[{"key":"team","operator":"Like","values":["a"]}]})",
       none, "error"},
      {"bad selector with non-matching rules is no match",
       vmim_v1a3 +
           R"(,"namespaceSelector":{"matchExpressions":[{"key":"env","operator":"Like","values":["a"]}]})",
       update, ""},
      {"rules that are not a list", R"({"rules":{})", none, "error"},
      {"unknown matchPolicy", vmim_v1 + R"(,"matchPolicy":"Sometimes")", none, "error"},
  };
  for (const Case& c : cases) {
    INFO(c.desc);
    AdmissionAttributes a;
    a.operation = "CREATE";
    a.group = "kubevirt.io";
    a.version = "v1alpha3";
    a.kind = "VirtualMachineInstanceMigration";
    a.resource = "virtualmachineinstancemigrations";
    a.name = "m";
    a.ns = "default";
    a.equivalent_versions = {"v1", "v1alpha3"};
    a.object = &vmim;
    a.namespace_labels = {{"env", "prod"}};
    c.tweak(a);
    JsonDoc hook = Parse(c.webhook + "}");
    auto got = MatchWebhook(hook, a);
    if (c.want == "error") {
      CHECK_FALSE(got.ok());
      continue;
    }
    REQUIRE(got.ok());
    CHECK(got->matched == !c.want.empty());
    if (!c.want.empty()) CHECK(got->version == c.want);
  }
}

TEST_CASE("webhooks whose rules do not match are not called", "[admission]") {
  Fixture f;
  auto hook = f.Start(Deny(R"("status":{"message":"no"})"));
  JsonDoc cfg = f.UrlConfig("pods.test", hook->url(), "",
                            R"([{"operations":["*"],"apiGroups":[""],"apiVersions":["v1"],
                                 "resources":["pods"]}])");
  AdmissionResult r = Quiet().Validate(f.attrs_, {&cfg});
  CHECK(r.allowed);
  CHECK(hook->bodies().empty());
}

}  // namespace
}  // namespace devcluster
