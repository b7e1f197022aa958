#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/devcluster/audit.h"
#include "tests/testing/temp_dir.h"

namespace devcluster {
namespace {

struct InfoCase {
  const char* method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  // verb, apiGroup, apiVersion, resource, subresource, namespace, name
  std::vector<std::string> want;
};

TEST_CASE("the audit log's request info is kube-apiserver's RequestInfo", "[devcluster][audit]") {
  const std::string vmis = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances";
  const std::vector<InfoCase> cases = {
      {"GET", vmis, {}, {"list", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", ""}},
      {"GET", vmis, {{"watch", "true"}}, {"watch", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", ""}},
      {"GET", "/apis/kubevirt.io/v1/watch/namespaces/default/virtualmachineinstances", {},
       {"watch", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", ""}},
      {"GET", vmis + "/a", {}, {"get", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", "a"}},
      {"POST", vmis, {}, {"create", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", ""}},
      {"PUT", vmis + "/a", {}, {"update", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", "a"}},
      {"PATCH", vmis + "/a/status", {},
       {"patch", "kubevirt.io", "v1", "virtualmachineinstances", "status", "default", "a"}},
      {"DELETE", vmis + "/a", {}, {"delete", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", "a"}},
      {"DELETE", vmis, {}, {"deletecollection", "kubevirt.io", "v1", "virtualmachineinstances", "", "default", ""}},
      {"GET", "/apis/kubevirt.io/v1/virtualmachineinstances", {},
       {"list", "kubevirt.io", "v1", "virtualmachineinstances", "", "", ""}},
      {"GET", "/api/v1/nodes/n1", {}, {"get", "", "v1", "nodes", "", "", "n1"}},
      {"GET", "/api/v1/namespaces/kubevirt", {}, {"get", "", "v1", "namespaces", "", "kubevirt", "kubevirt"}},
      {"PUT", "/api/v1/namespaces/kubevirt/finalize", {},
       {"update", "", "v1", "namespaces", "finalize", "kubevirt", "kubevirt"}},
      {"POST", "/apis/coordination.k8s.io/v1/namespaces/kubevirt/leases", {},
       {"create", "coordination.k8s.io", "v1", "leases", "", "kubevirt", ""}},
      {"GET", "/apis", {}, {"get", "", "", "", "", "", ""}},
      {"HEAD", "/metrics", {}, {"get", "", "", "", "", "", ""}},
      {"POST", "/openapi/v3", {}, {"post", "", "", "", "", "", ""}},
  };
  for (const auto& c : cases) {
    QueryParams query(c.query.begin(), c.query.end());
    INFO(c.method << " " << c.path);
    RequestInfo got = ResolveRequestInfo(c.method, c.path, query);
    std::vector<std::string> have = {got.verb, got.api_group, got.api_version, got.resource,
                                     got.subresource, got.ns, got.name};
    CHECK(have == c.want);
    CHECK(got.resource_request == !c.want[3].empty());
  }
}

TEST_CASE("an audit line is an audit.k8s.io/v1 Event with the user, verb, object and code",
          "[devcluster][audit]") {
  RequestInfo info = ResolveRequestInfo(
      "PATCH", "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations/m1/status", {});
  UserInfo user{"system:serviceaccount:kubevirt:migration-engine", "u-1",
                {"system:serviceaccounts", "system:serviceaccounts:kubevirt", "system:authenticated"},
                {}};
  std::string line = AuditLine(info, user, "/apis/kubevirt.io/v1/namespaces/default/"
                               "virtualmachineinstancemigrations/m1/status?fieldManager=x\"y",
                               200, "2026-12-04T12:00:00.000000Z");
  CHECK(line.find('\n') == std::string::npos);
  rapidjson::Document d;
  d.Parse(line.c_str());
  REQUIRE(!d.HasParseError());
  CHECK(std::string(d["kind"].GetString()) == "Event");
  CHECK(std::string(d["apiVersion"].GetString()) == "audit.k8s.io/v1");
  CHECK(std::string(d["verb"].GetString()) == "patch");
  CHECK(std::string(d["user"]["username"].GetString()) == user.username);
  CHECK(d["user"]["groups"].Size() == 3);
  CHECK(std::string(d["objectRef"]["resource"].GetString()) == "virtualmachineinstancemigrations");
  CHECK(std::string(d["objectRef"]["subresource"].GetString()) == "status");
  CHECK(std::string(d["objectRef"]["namespace"].GetString()) == "default");
  CHECK(std::string(d["objectRef"]["name"].GetString()) == "m1");
  CHECK(std::string(d["objectRef"]["apiGroup"].GetString()) == "kubevirt.io");
  CHECK(std::string(d["requestURI"].GetString()).ends_with("fieldManager=x\"y"));
  CHECK(d["responseStatus"]["code"].GetInt() == 200);

  RequestInfo discovery = ResolveRequestInfo("GET", "/api", {});
  rapidjson::Document n;
  n.Parse(AuditLine(discovery, user, "/api", 200, "t").c_str());
  REQUIRE(!n.HasParseError());
  CHECK(!n.HasMember("objectRef"));
  CHECK(std::string(n["verb"].GetString()) == "get");
}

TEST_CASE("the audit log appends whole lines and refuses a path it cannot open", "[devcluster][audit]") {
  kube::testing::TempDir dir;
  std::string path = dir.path() + "/audit.log";
  {
    auto log = AuditLog::Create(path);
    REQUIRE(log.ok());
    (*log)->Write("{\"a\":1}");
    (*log)->Write("{\"b\":2}");
  }
  {
    auto again = AuditLog::Create(path);
    REQUIRE(again.ok());
    (*again)->Write("{\"c\":3}");
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
  auto bad = AuditLog::Create(dir.path() + "/no/such/dir/audit.log");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("--audit-log-path") != std::string::npos);
}

}  // namespace
}  // namespace devcluster
