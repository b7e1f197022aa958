#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

#include "api/timeouts.h"

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

api::Quantity Q(const char* s) { return *api::Quantity::Parse(s); }

TEST_CASE("completion timeout is per-GiB seconds times whole GiB to copy") {
  struct Case {
    int64_t bytes;
    int64_t per_gib;
    int64_t seconds;
  };
  const Case cases[] = {
      {8 * api::kGiB, 800, 6400},      // the documented example
      {8 * api::kGiB + 1, 800, 7200},  // a partial GiB counts whole
      {api::kGiB + api::kGiB / 2, 100, 200},
      {api::kGiB, 800, 800},
      {1, 800, 800},
      {0, 800, 800},  // unknown size: one GiB
      {-5, 800, 800},
      {8 * api::kGiB, 0, 0},  // no timeout
      {8 * api::kGiB, -1, 0},
      {kMax, kMax, kMax},  // saturates
      {kMax, 1, kMax / api::kGiB + 1},
  };
  for (const Case& c : cases) {
    INFO("bytes " << c.bytes << " per_gib " << c.per_gib);
    CHECK(api::CompletionTimeoutSeconds(c.bytes, c.per_gib) == c.seconds);
  }
}

api::Volume Disk(api::VolumeKind kind, const char* capacity = nullptr) {
  api::Volume v;
  v.name = "d";
  v.kind = kind;
  if (capacity != nullptr) v.capacity = Q(capacity);
  return v;
}

TEST_CASE("bytes to copy: memory only for a live migration") {
  api::VMI vmi;
  vmi.spec.memory_guest = Q("8Gi");
  vmi.spec.memory_request = Q("9Gi");
  api::Volume pvc = Disk(api::VolumeKind::kPersistentVolumeClaim);
  pvc.claim_name = "x";
  vmi.spec.volumes = {pvc};
  api::BytesToCopy b = api::ComputeBytesToCopy(vmi);
  CHECK(b.memory_known);
  CHECK(b.memory == 8 * api::kGiB);
  CHECK_FALSE(b.block_migration);
  CHECK(b.disks == 0);
  CHECK(b.Total() == 8 * api::kGiB);
  CHECK(api::CompletionTimeoutSeconds(b.Total(), 800) == 6400);
}

TEST_CASE(
    "bytes to copy: memory request when no guest memory, and node-local disks of a block "
    "migration") {
  api::VMI vmi;
  vmi.spec.memory_request = Q("1Gi");
  vmi.spec.volumes = {Disk(api::VolumeKind::kEmptyDisk, "2Gi"),
                      Disk(api::VolumeKind::kCloudInitNoCloud),
                      Disk(api::VolumeKind::kHostDisk, "1Gi")};
  api::BytesToCopy b = api::ComputeBytesToCopy(vmi);
  CHECK(b.block_migration);
  CHECK(b.memory == api::kGiB);
  CHECK(b.disks == 3 * api::kGiB);
  CHECK(b.disks_known);
  CHECK(b.Total() == 4 * api::kGiB);
}

TEST_CASE("bytes to copy: unknown disk sizes are flagged") {
  api::VMI vmi;
  vmi.spec.volumes = {Disk(api::VolumeKind::kContainerDisk),
                      Disk(api::VolumeKind::kEmptyDisk, "1Gi")};
  api::BytesToCopy b = api::ComputeBytesToCopy(vmi);
  CHECK_FALSE(b.memory_known);
  CHECK(b.block_migration);
  CHECK_FALSE(b.disks_known);
  CHECK(b.disks == api::kGiB);
  vmi.spec.volumes = {Disk(api::VolumeKind::kEmptyDisk)};  // no capacity
  CHECK_FALSE(api::ComputeBytesToCopy(vmi).disks_known);
}

TEST_CASE("bytes to copy: the reported migration method wins over the volumes") {
  api::VMI vmi;
  vmi.spec.memory_guest = Q("1Gi");
  vmi.spec.volumes = {Disk(api::VolumeKind::kEmptyDisk, "2Gi")};
  vmi.status.migration_method = "LiveMigration";
  api::BytesToCopy b = api::ComputeBytesToCopy(vmi);
  CHECK_FALSE(b.block_migration);
  CHECK(b.Total() == api::kGiB);
}

TEST_CASE("bytes to copy saturates instead of overflowing") {
  api::VMI vmi;
  vmi.spec.memory_guest = Q("7Ei");
  vmi.spec.volumes = {Disk(api::VolumeKind::kEmptyDisk, "7Ei"),
                      Disk(api::VolumeKind::kEmptyDisk, "7Ei")};
  api::BytesToCopy b = api::ComputeBytesToCopy(vmi);
  CHECK(b.disks == kMax);
  CHECK(b.Total() == kMax);
  // A capped (beyond int64) memory is not a known size.
  vmi.spec.memory_guest = Q("9Ei");
  CHECK_FALSE(api::ComputeBytesToCopy(vmi).memory_known);
}

}  // namespace
