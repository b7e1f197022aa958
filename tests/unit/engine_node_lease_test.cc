// The engine's node Lease: what it publishes and how a peer reads it back.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "base/clock.h"
#include "engine/node_lease.h"
#include "kube/object.h"

using namespace std::chrono_literals;

namespace {

engine::NodeRegistration Registration() {
  engine::NodeRegistration r;
  r.node_name = "node01";
  r.libvirt_uri = "qemu+tcp://10.0.0.1/system";
  r.migration_address = "10.0.0.1";
  r.free_memory_bytes = 8589934592;
  r.lease_duration_seconds = 40;
  return r;
}

std::chrono::system_clock::time_point At(const char* rfc3339) {
  return *base::ParseRfc3339(rfc3339);
}

}  // namespace

TEST_CASE("the node lease carries the node, its libvirt URI, address and free memory") {
  auto now = At("2026-12-03T17:10:00Z") + 123456us;
  std::string json = engine::LeaseCreateJson(Registration(), "kubevirt", now);
  CHECK(
      json ==
      R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":)"
      R"("migration-engine-node01","namespace":"kubevirt","labels":{"kubemigrate.io/engine-lease":)"
      R"("true"},"annotations":{"kubemigrate.io/libvirt-uri":"qemu+tcp://10.0.0.1/system",)"
      R"("kubemigrate.io/migration-address":"10.0.0.1","kubemigrate.io/free-memory-bytes":)"
      R"("8589934592"}},"spec":{"holderIdentity":"node01","leaseDurationSeconds":40,)"
      R"("acquireTime":"2026-12-03T17:10:00.123456Z","renewTime":"2026-12-03T17:10:00.123456Z"}})");
  auto lease = kube::ParseObject(json);
  REQUIRE(lease.ok());
  auto node = engine::ParseEngineLease(*lease);
  REQUIRE(node.ok());
  CHECK(node->node_name == "node01");
  CHECK(node->libvirt_uri == "qemu+tcp://10.0.0.1/system");
  CHECK(node->migration_address == "10.0.0.1");
  CHECK(node->free_memory_bytes == 8589934592u);
  CHECK(node->lease_duration_seconds == 40);
  CHECK(node->renew_time == now);
}

TEST_CASE("a renewal patch moves renewTime only, never acquireTime") {
  std::string patch = engine::LeaseRenewPatch(Registration(), At("2026-12-03T17:10:10Z"));
  CHECK_THAT(patch, Catch::Contains(R"("renewTime":"2026-12-03T17:10:10.000000Z")"));
  CHECK_THAT(patch, !Catch::Contains("acquireTime"));
  CHECK_THAT(patch, Catch::Contains(R"("kubemigrate.io/free-memory-bytes":"8589934592")"));
}

TEST_CASE("a node is a candidate only while its lease is fresh") {
  engine::EngineNode n;
  n.lease_duration_seconds = 40;
  CHECK_FALSE(engine::IsFresh(n, At("2026-12-03T17:10:00Z")));  // never renewed
  n.renew_time = At("2026-12-03T17:10:00Z");
  CHECK(engine::IsFresh(n, At("2026-12-03T17:10:40Z")));
  CHECK_FALSE(engine::IsFresh(n, At("2026-12-03T17:10:40Z") + 1ms));
  CHECK(engine::IsFresh(n, At("2026-12-03T17:09:00Z")));  // skew: renewed "in the future"
  n.lease_duration_seconds = 0;
  CHECK_FALSE(engine::IsFresh(n, At("2026-12-03T17:10:00Z")));
}

TEST_CASE("leases that are not an engine's, or are malformed, are refused with the field") {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"metadata":{"name":"x","namespace":"kubevirt"},"spec":{}})", "spec.holderIdentity"},
      {R"({"metadata":{"name":"x","namespace":"kubevirt"},"spec":{"holderIdentity":"n"}})",
       "kubemigrate.io/libvirt-uri"},
      {R"({"metadata":{"name":"x","namespace":"kubevirt","annotations":{"kubemigrate.io/libvirt-uri":"u",)"
       R"("kubemigrate.io/free-memory-bytes":"lots"}},"spec":{"holderIdentity":"n"}})",
       "want an integer, got \"lots\""},
      {R"({"metadata":{"name":"x","namespace":"kubevirt","annotations":{"kubemigrate.io/libvirt-uri":"u"}},)"
       R"("spec":{"holderIdentity":"n","renewTime":"yesterday"}})",
       "spec.renewTime"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto lease = kube::ParseObject(c.json);
    REQUIRE(lease.ok());
    auto node = engine::ParseEngineLease(*lease);
    REQUIRE_FALSE(node.ok());
    CHECK_THAT(node.status().message(), Catch::Contains(c.message));
    CHECK_THAT(node.status().message(), Catch::Contains("lease kubevirt/x"));
  }
}

TEST_CASE("free memory is MemAvailable from /proc/meminfo") {
  CHECK(engine::ParseMemAvailable("MemTotal:       24000000 kB\nMemFree:  100 kB\n"
                                  "MemAvailable:   20000000 kB\n") == 20000000ull * 1024);
  CHECK_FALSE(engine::ParseMemAvailable("MemTotal: 1 kB\n").has_value());
  CHECK_FALSE(engine::ParseMemAvailable("XMemAvailable: 5 kB\n").has_value());
  CHECK_FALSE(engine::ParseMemAvailable("MemAvailable: lots\n").has_value());
}

TEST_CASE("MicroTime keeps six fractional digits") {
  CHECK(base::FormatRfc3339Micro(At("2026-01-02T03:04:05Z") + 7us) ==
        "2026-01-02T03:04:05.000007Z");
  CHECK(base::FormatRfc3339Micro(At("2026-01-02T03:04:05Z")) == "2026-01-02T03:04:05.000000Z");
}
