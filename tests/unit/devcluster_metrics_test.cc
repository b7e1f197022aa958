#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/devcluster/metrics.h"

namespace devcluster {
namespace {

struct ClassifyCase {
  const char* method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  const char* content_type;
  RequestLabels want;
};

const char* kVmis = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances";

// {verb, dry_run, group, version, resource, subresource, scope, component}
RequestLabels Vmis(const char* verb, const char* scope, const char* subresource = "", const char* dry_run = "") {
  return {verb, dry_run, "kubevirt.io", "v1", "virtualmachineinstances", subresource, scope, "apiserver"};
}
RequestLabels Core(const char* verb, const char* resource, const char* scope, const char* subresource = "") {
  return {verb, "", "", "v1", resource, subresource, scope, "apiserver"};
}
RequestLabels NonResource(const char* verb, const std::string& path) { return {verb, "", "", "", "", path, "", ""}; }

TEST_CASE("requests get kube-apiserver's verb, scope and resource labels", "[devcluster][metrics]") {
  const std::string vmi = std::string(kVmis) + "/vmi-fedora";
  const std::vector<ClassifyCase> cases = {
      // reads: a named object is GET, a collection LIST, ?watch or /watch/ WATCH
      {"GET", kVmis, {}, "", Vmis("LIST", "namespace")},
      {"GET", "/apis/kubevirt.io/v1/virtualmachineinstances", {}, "", Vmis("LIST", "cluster")},
      {"GET", vmi, {}, "", Vmis("GET", "resource")},
      {"GET", vmi, {{"watch", "true"}}, "", Vmis("WATCH", "resource")},
      {"HEAD", vmi, {}, "", Vmis("GET", "resource")},
      {"GET", kVmis, {{"watch", "true"}}, "", Vmis("WATCH", "namespace")},
      {"GET", kVmis, {{"watch", "1"}}, "", Vmis("WATCH", "namespace")},
      {"GET", kVmis, {{"watch", ""}}, "", Vmis("WATCH", "namespace")},
      {"GET", kVmis, {{"watch", "false"}}, "", Vmis("LIST", "namespace")},
      {"GET", kVmis, {{"watch", "FALSE"}}, "", Vmis("LIST", "namespace")},
      {"GET", kVmis, {{"watch", "0"}, {"watch", "1"}}, "", Vmis("LIST", "namespace")},
      {"GET", kVmis, {{"labelSelector", "a=b"}, {"limit", "500"}}, "", Vmis("LIST", "namespace")},
      {"GET", "/api/v1/watch/namespaces/default/configmaps", {}, "", Core("WATCH", "configmaps", "namespace")},
      {"GET", "/api/v1/watch/namespaces/default/configmaps/cm1", {}, "", Core("WATCH", "configmaps", "resource")},
      {"GET", "/api/v1/watch/nodes", {}, "", Core("WATCH", "nodes", "cluster")},
      // writes: create is POST (scope resource), update PUT, delete of an
      // object or of a collection DELETE, server-side apply APPLY
      {"POST", kVmis, {}, "application/json", Vmis("POST", "resource")},
      {"POST", "/api/v1/namespaces", {}, "application/vnd.kubernetes.protobuf", Core("POST", "namespaces", "resource")},
      {"PUT", vmi, {}, "application/json", Vmis("PUT", "resource")},
      {"PATCH", vmi + "/status", {}, "application/merge-patch+json", Vmis("PATCH", "resource", "status")},
      {"PATCH", vmi, {}, "application/strategic-merge-patch+json", Vmis("PATCH", "resource")},
      {"PATCH", vmi, {}, "application/apply-patch+yaml", Vmis("APPLY", "resource")},
      {"DELETE", vmi, {}, "", Vmis("DELETE", "resource")},
      {"DELETE", kVmis, {{"labelSelector", "a"}}, "", Vmis("DELETE", "namespace")},
      {"DELETE", "/api/v1/nodes", {}, "", Core("DELETE", "nodes", "cluster")},
      {"OPTIONS", kVmis, {}, "", Vmis("other", "namespace")},
      // dry runs
      {"POST", kVmis, {{"dryRun", "All"}}, "", Vmis("POST", "resource", "", "All")},
      {"POST", kVmis, {{"dryRun", "All"}, {"dryRun", "All"}}, "", Vmis("POST", "resource", "", "All")},
      {"POST", kVmis, {{"dryRun", "Some"}}, "", Vmis("POST", "resource", "", "invalid")},
      // namespaces are their own namespace; status and finalize are theirs
      {"GET", "/api/v1/namespaces", {}, "", Core("LIST", "namespaces", "cluster")},
      {"GET", "/api/v1/namespaces/sel", {}, "", Core("GET", "namespaces", "resource")},
      {"PUT", "/api/v1/namespaces/sel/finalize", {}, "", Core("PUT", "namespaces", "resource", "finalize")},
      {"GET", "/api/v1/namespaces/sel/status", {}, "", Core("GET", "namespaces", "resource", "status")},
      {"GET", "/api/v1/namespaces/d/configmaps/c/status/x", {}, "", Core("GET", "configmaps", "resource", "status")},
      {"GET", "/api/v1/namespaces/d/nosuchresource", {}, "", Core("LIST", "nosuchresource", "namespace")},
      // everything else: the method, and the path as subresource
      {"GET", "/api", {}, "", NonResource("GET", "/api")},
      {"GET", "/api/v1", {}, "", NonResource("GET", "/api/v1")},
      {"GET", "/apis", {}, "", NonResource("GET", "/apis")},
      {"GET", "/apis/kubevirt.io", {}, "", NonResource("GET", "/apis/kubevirt.io")},
      {"GET", "/apis/kubevirt.io/v1", {}, "", NonResource("GET", "/apis/kubevirt.io/v1")},
      {"GET", "/openapi/v3/api/v1", {{"hash", "1"}}, "", NonResource("GET", "/openapi/v3/api/v1")},
      {"GET", "/metrics", {}, "", NonResource("GET", "/metrics")},
      {"HEAD", "/healthz", {}, "", NonResource("GET", "/healthz")},
      {"GET", "/version", {{"watch", "1"}}, "", NonResource("GET", "/version")},
      {"POST", "/apis", {}, "", NonResource("POST", "/apis")},
      {"GET", "/api/v1/watch", {}, "", NonResource("GET", "/api/v1/watch")},
      {"GET", "/no/such/path", {}, "", NonResource("GET", "/no/such/path")},
      {"OPTIONS", "/", {}, "", NonResource("other", "/")},
  };
  for (const auto& c : cases) {
    QueryParams query(c.query.begin(), c.query.end());
    INFO(c.method << " " << c.path);
    RequestLabels got = ClassifyRequest(c.method, c.path, query, c.content_type);
    CHECK(got.verb == c.want.verb);
    CHECK(got.scope == c.want.scope);
    CHECK(got.group == c.want.group);
    CHECK(got.version == c.want.version);
    CHECK(got.resource == c.want.resource);
    CHECK(got.subresource == c.want.subresource);
    CHECK(got.component == c.want.component);
    CHECK(got.dry_run == c.want.dry_run);
  }
}

TEST_CASE("the counter has one series per label set and status code", "[devcluster][metrics]") {
  RequestMetrics m;
  const RequestLabels list = Vmis("LIST", "namespace");
  m.CountRequest(list, 200);
  m.CountRequest(list, 200);
  m.CountRequest(list, 404);
  m.CountRequest(NonResource("GET", "/metrics"), 200);
  CHECK(m.RequestCount(list, 200) == 2);
  CHECK(m.RequestCount(list, 404) == 1);
  CHECK(m.RequestCount(list, 500) == 0);
  CHECK(m.RequestCount(Vmis("GET", "resource"), 200) == 0);

  const std::string text = m.Render();
  CHECK_THAT(text, Catch::Contains("# TYPE apiserver_request_total counter\n"));
  CHECK_THAT(text, Catch::Contains(
                       "\napiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"kubevirt.io\","
                       "resource=\"virtualmachineinstances\",scope=\"namespace\",subresource=\"\",verb=\"LIST\","
                       "version=\"v1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains(
                       "\napiserver_request_total{code=\"404\",component=\"apiserver\",dry_run=\"\",group=\"kubevirt.io\","
                       "resource=\"virtualmachineinstances\",scope=\"namespace\",subresource=\"\",verb=\"LIST\","
                       "version=\"v1\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("\napiserver_request_total{code=\"200\",component=\"\",dry_run=\"\",group=\"\","
                                   "resource=\"\",scope=\"\",subresource=\"/metrics\",verb=\"GET\",version=\"\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE apiserver_longrunning_requests gauge\n"));
}

TEST_CASE("the long-running gauge follows open watches and keeps its series at zero", "[devcluster][metrics]") {
  RequestMetrics m;
  const RequestLabels watch = Vmis("WATCH", "namespace");
  const std::string series =
      "\napiserver_longrunning_requests{component=\"apiserver\",group=\"kubevirt.io\",resource=\"virtualmachineinstances\","
      "scope=\"namespace\",subresource=\"\",verb=\"WATCH\",version=\"v1\"} ";
  CHECK_THAT(m.Render(), !Catch::Contains("apiserver_longrunning_requests{"));
  m.AddLongRunning(watch, 1);
  m.AddLongRunning(watch, 1);
  CHECK(m.LongRunning(watch) == 2);
  CHECK_THAT(m.Render(), Catch::Contains(series + "2\n"));
  m.AddLongRunning(watch, -1);
  m.AddLongRunning(watch, -1);
  CHECK(m.LongRunning(watch) == 0);
  CHECK_THAT(m.Render(), Catch::Contains(series + "0\n"));
}

TEST_CASE("label values are escaped for the text format", "[devcluster][metrics]") {
  RequestMetrics m;
  m.CountRequest(NonResource("GET", "/a\"b\\c\nd"), 404);
  CHECK_THAT(m.Render(), Catch::Contains("subresource=\"/a\\\"b\\\\c\\nd\""));
}

TEST_CASE("requests counted on many threads at once are all counted", "[devcluster][metrics]") {
  RequestMetrics m;
  constexpr int kThreads = 8;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      // Half the threads share one series, half create their own.
      RequestLabels labels = t % 2 == 0 ? Vmis("LIST", "namespace") : NonResource("GET", "/t" + std::to_string(t));
      for (int i = 0; i < kEach; ++i) m.CountRequest(labels, 200);
    });
  }
  for (auto& th : threads) th.join();
  CHECK(m.RequestCount(Vmis("LIST", "namespace"), 200) == kThreads / 2 * kEach);
  for (int t = 1; t < kThreads; t += 2) {
    CHECK(m.RequestCount(NonResource("GET", "/t" + std::to_string(t)), 200) == kEach);
  }
}

}  // namespace
}  // namespace devcluster
