// NodeHeartbeat against FakeApi on a fake clock: create, renew, survive a
// dead API server, and report health by the lease duration.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "engine/heartbeat.h"
#include "tests/fakes/fake_api.h"
#include "tests/fakes/fake_clock.h"

using namespace std::chrono_literals;

namespace {

const kube::ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};

engine::NodeHeartbeat::Options Options(uint64_t* free_memory) {
  engine::NodeHeartbeat::Options o;
  o.ns = "kubevirt";
  o.registration.node_name = "node01";
  o.registration.libvirt_uri = "qemu+tcp://10.0.0.1/system";
  o.registration.migration_address = "10.0.0.1";
  o.registration.lease_duration_seconds = 40;
  o.free_memory = [free_memory]() -> std::optional<uint64_t> { return *free_memory; };
  return o;
}

}  // namespace

TEST_CASE("the heartbeat creates the lease once, then renews it with fresh figures") {
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  uint64_t free = 1000;
  engine::NodeHeartbeat hb(&api, &clock, Options(&free));
  CHECK_FALSE(hb.Healthy());
  REQUIRE(hb.RenewOnce().ok());
  CHECK(api.calls() == std::vector<std::string>{"PATCH leases kubevirt/migration-engine-node01",
                                                "CREATE leases kubevirt/migration-engine-node01"});
  auto first = api.Peek(kLeases, "kubevirt", "migration-engine-node01");
  REQUIRE(first);
  CHECK_THAT(*first, Catch::Contains(R"("kubemigrate.io/free-memory-bytes":"1000")"));
  CHECK(hb.Healthy());

  free = 2000;
  clock.SleepFor(10s);
  REQUIRE(hb.RenewOnce().ok());
  auto second = api.Peek(kLeases, "kubevirt", "migration-engine-node01");
  REQUIRE(second);
  CHECK_THAT(*second, Catch::Contains(R"("kubemigrate.io/free-memory-bytes":"2000")"));
  CHECK(*second != *first);
  CHECK(hb.renewals() == 2);
  CHECK(hb.failures() == 0);
}

TEST_CASE("a dead API server makes the node unhealthy only after a lease duration") {
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  uint64_t free = 1;
  engine::NodeHeartbeat hb(&api, &clock, Options(&free));
  REQUIRE(hb.RenewOnce().ok());
  api.SetUnavailable(true);
  clock.SleepFor(20s);
  base::Status s = hb.RenewOnce();
  CHECK(s.code() == base::Code::kUnavailable);
  CHECK(hb.Healthy());  // renewed 20 s ago, the lease lasts 40 s
  clock.SleepFor(20s);
  CHECK(hb.Healthy());  // exactly 40 s
  clock.SleepFor(1ms);
  CHECK_FALSE(hb.Healthy());
  CHECK(hb.failures() == 1);

  api.SetUnavailable(false);
  REQUIRE(hb.RenewOnce().ok());
  CHECK(hb.Healthy());
}

TEST_CASE("a refused create is reported and retried on the next beat") {
  kube::testing::FakeApi api;
  base::testing::FakeClock clock;
  uint64_t free = 1;
  engine::NodeHeartbeat hb(&api, &clock, Options(&free));
  base::Status forbidden(base::Code::kPermissionDenied, "leases is forbidden");
  api.FailNext("CREATE", forbidden);
  CHECK(hb.RenewOnce().code() == base::Code::kPermissionDenied);
  CHECK_FALSE(hb.Healthy());
  CHECK(hb.RenewOnce().ok());
  CHECK(hb.Healthy());
}
