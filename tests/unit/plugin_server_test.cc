// kubectl-migrate against an in-process fake API server: refusals printed as
// the server sent them, --retry-on-limit, and no silent retries without it.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <utility>

#include "plugin/commands.h"
#include "tests/testing/local_server.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/plugin_testing.h"

namespace {

constexpr const char* kPath =
    "/apis/kubevirt.io/v1/namespaces/ns1/virtualmachineinstancemigrations";

std::string Kubeconfig(const std::string& url) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
         "clusters:\n- name: k\n  cluster:\n    server: " +
         url +
         "\n"
         "users:\n- name: u\n  user:\n    token: t\n"
         "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n    namespace: ns1\n";
}

std::string Created() {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",
             "metadata":{"name":"vmi-a-migration-abcde","namespace":"ns1","resourceVersion":"7"},
             "spec":{"vmiName":"vmi-a"}})";
}

// The webhook's limit denial as kube-apiserver returns it: no retryAfterSeconds
// (so no Retry-After, which kubectl would retry silently), the cause names the limit.
std::string TooMany() {
  return R"({"kind":"Status","apiVersion":"v1","status":"Failure","code":429,
             "reason":"TooManyRequests","details":{"causes":[{"reason":"ClusterLimitReached"}]},
             "message":"admission webhook \"vmim.example\" denied the request: cluster has 5/5 migrations in flight"})";
}

using plugin::testing::Result;

// A fake API server for VMIM creation, and a kubeconfig that points at it.
struct Fake {
  kube::testing::LocalServer server;
  kube::testing::TempDir dir;
  std::string kubeconfig = dir.Write("kubeconfig", Kubeconfig(server.url()));
  std::atomic<int> posts{0};
  std::atomic<int> refuse_first{0};  // how many POSTs get 429 before one succeeds
  Fake() {
    // One VMI exists, named like a mistyped subcommand.
    server.server().Get(
        "/apis/kubevirt.io/v1/namespaces/ns1/virtualmachineinstances/lists",
        [](const httplib::Request&, httplib::Response& res) {
          res.set_content(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
                              "metadata":{"name":"lists","namespace":"ns1"}})",
                          "application/json");
        });
    // vmi-on-b runs on node-b.
    server.server().Get(
        "/apis/kubevirt.io/v1/namespaces/ns1/virtualmachineinstances/vmi-on-b",
        [](const httplib::Request&, httplib::Response& res) {
          res.set_content(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
                              "metadata":{"name":"vmi-on-b","namespace":"ns1"},
                              "status":{"phase":"Running","nodeName":"node-b"}})",
                          "application/json");
        });
    server.server().Post(kPath, [this](const httplib::Request& req, httplib::Response& res) {
      int n = ++posts;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_body_ = req.body;
      }
      if (n <= refuse_first) {
        res.status = 429;
        res.set_content(TooMany(), "application/json");
        return;
      }
      res.status = 201;
      res.set_content(Created(), "application/json");
    });
  }

  // The body of the last POST (written on the server's thread).
  std::string last_body() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_body_;
  }

  // Runs the plugin with `args` against this server.
  Result Run(std::vector<std::string> args) const {
    args.push_back("--kubeconfig");
    args.push_back(kubeconfig);
    return plugin::testing::Run(std::move(args));
  }

 private:
  mutable std::mutex mu_;
  std::string last_body_;
};

}  // namespace

TEST_CASE("create sends the VMIM kubectl migrate promises and prints kubectl's line", "[plugin]") {
  Fake fake;
  Result r = fake.Run({"vmi-a", "--to", "node-b"});
  CHECK(r.code == plugin::kExitOk);
  CHECK(r.out == "virtualmachineinstancemigration.kubevirt.io/vmi-a-migration-abcde created\n");
  CHECK_THAT(fake.last_body(), Catch::Contains(R"("generateName":"vmi-a-migration-")"));
  CHECK_THAT(fake.last_body(), Catch::Contains(R"("labels":{"kubevirt.io/vmi-name":"vmi-a"})"));
  CHECK_THAT(fake.last_body(), Catch::Contains(R"("vmiName":"vmi-a")"));
  CHECK_THAT(fake.last_body(),
             Catch::Contains(R"("addedNodeSelector":{"kubernetes.io/hostname":"node-b"})"));
}

TEST_CASE("VMI names the API server accepts are sent; a label only when the name fits one",
          "[plugin]") {
  Fake fake;
  Result dotted = fake.Run({"vmi.fedora"});
  CHECK(dotted.code == plugin::kExitOk);
  CHECK_THAT(fake.last_body(), Catch::Contains(R"("vmiName":"vmi.fedora")"));
  CHECK_THAT(fake.last_body(), Catch::Contains(R"("kubevirt.io/vmi-name":"vmi.fedora")"));
  const std::string long_name(70, 'v');
  Result long_one = fake.Run({long_name});
  CHECK(long_one.code == plugin::kExitOk);
  CHECK_THAT(fake.last_body(), Catch::Contains("\"vmiName\":\"" + long_name + "\""));
  CHECK_THAT(fake.last_body(), !Catch::Contains("labels"));
}

TEST_CASE("a mistyped subcommand is not taken for a VMI that does not exist", "[plugin]") {
  Fake fake;
  Result r = fake.Run({"lsit"});
  CHECK(r.code == plugin::kExitUsage);
  CHECK(fake.posts == 0);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::StartsWith("error: unknown command \"lsit\" for \"kubectl migrate\""));
  CHECK_THAT(r.err, Catch::Contains("Did you mean this?\n\tlist\n"));
  // A VMI of that kind of name that exists is migrated.
  Result existing = fake.Run({"lists"});
  CHECK(existing.code == plugin::kExitOk);
  CHECK(fake.posts == 1);
}

TEST_CASE("a 429 without --retry-on-limit is printed once and exits 1", "[plugin]") {
  Fake fake;
  fake.refuse_first = 100;
  Result r = fake.Run({"vmi-a"});
  CHECK(r.code == plugin::kExitFailed);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "Error from server (TooManyRequests): admission webhook \"vmim.example\" denied the "
        "request: cluster has 5/5 migrations in flight\n");
  CHECK(fake.posts == 1);  // the transport did not retry behind the user's back
}

TEST_CASE("plugin --retry-on-limit knows the limit denial without Retry-After, says so, and creates",
          "[plugin]") {
  Fake fake;
  fake.refuse_first = 1;
  Result r = fake.Run({"vmi-a", "--retry-on-limit", "-o", "name"});
  CHECK(r.code == plugin::kExitOk);
  CHECK(fake.posts == 2);
  CHECK(r.out == "virtualmachineinstancemigration.kubevirt.io/vmi-a-migration-abcde\n");
  CHECK_THAT(r.err, Catch::StartsWith("Refused (TooManyRequests): admission webhook"));
  CHECK_THAT(r.err, Catch::Contains("retrying in 1s (--retry-on-limit)"));
}

TEST_CASE("plugin --retry-on-limit gives up with exit 3 when --timeout passes first", "[plugin]") {
  Fake fake;
  fake.refuse_first = 100;
  Result r = fake.Run({"vmi-a", "--retry-on-limit", "--timeout", "300ms"});
  CHECK(r.code == plugin::kExitTimedOut);
  CHECK(fake.posts == 1);
  CHECK_THAT(r.err, Catch::Contains("timed out waiting for the migration to be admitted"));
}

TEST_CASE("plugin --dry-run=client sends nothing", "[plugin]") {
  Fake fake;
  Result r = fake.Run({"vmi-a", "--dry-run=client", "-o", "json"});
  CHECK(r.code == plugin::kExitOk);
  CHECK(fake.posts == 0);
  CHECK_THAT(r.out, Catch::Contains(R"("vmiName": "vmi-a")"));
}

TEST_CASE("migrating with --to the node the VMI already runs on is refused with a reason; nothing is created",
          "[plugin]") {
  Fake fake;
  Result r = fake.Run({"vmi-on-b", "--to", "node-b"});
  CHECK(r.code == plugin::kExitFailed);
  CHECK(fake.posts == 0);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "error: VMI \"vmi-on-b\" already runs on node \"node-b\": --to must name another node "
        "(or leave --to out to let the scheduler choose)\n");
  // Another node is sent.
  Result other = fake.Run({"vmi-on-b", "--to", "node-c"});
  CHECK(other.code == plugin::kExitOk);
  CHECK(fake.posts == 1);
}
