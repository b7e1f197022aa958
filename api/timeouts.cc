#include "api/timeouts.h"

#include <limits>

namespace api {
namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
}

int64_t CompletionTimeoutSeconds(int64_t bytes_to_copy, int64_t per_gib) {
  if (per_gib <= 0) return 0;
  int64_t gib = bytes_to_copy <= 0 ? 1 : bytes_to_copy / kGiB + (bytes_to_copy % kGiB != 0 ? 1 : 0);
  if (gib > kMax / per_gib) return kMax;
  return gib * per_gib;
}

int64_t BytesToCopy::Total() const {
  if (disks > kMax - memory) return kMax;
  return memory + disks;
}

BytesToCopy ComputeBytesToCopy(const VMI& vmi) {
  BytesToCopy b;
  if (const Quantity* mem = vmi.GuestMemory()) {
    auto bytes = mem->Bytes();
    if (bytes.ok()) {
      b.memory = *bytes;
      b.memory_known = true;
    }
  }
  bool any_local = false;
  int64_t disks = 0;
  bool known = true;
  for (const Volume& v : vmi.spec.volumes) {
    if (!IsNodeLocal(v)) continue;
    any_local = true;
    switch (v.kind) {
      case VolumeKind::kEmptyDisk:
      case VolumeKind::kHostDisk: {
        if (!v.capacity) {
          known = false;
          break;
        }
        base::StatusOr<int64_t> size = v.capacity->Bytes();
        if (!size.ok()) {
          known = false;
        } else {
          disks = *size > kMax - disks ? kMax : disks + *size;
        }
        break;
      }
      case VolumeKind::kCloudInitNoCloud:
      case VolumeKind::kCloudInitConfigDrive:
      case VolumeKind::kConfigMap:
      case VolumeKind::kSecret:
      case VolumeKind::kServiceAccount:
      case VolumeKind::kDownwardAPI:
        break;  // generated ISO images of a few kilobytes
      default:
        known = false;  // containerDisk, ephemeral overlay, unknown sources
        break;
    }
  }
  if (vmi.status.migration_method.empty()) {
    b.block_migration = any_local;
  } else {
    b.block_migration = vmi.status.migration_method == kMethodBlockMigration;
  }
  if (b.block_migration) {
    b.disks = disks;
    b.disks_known = known;
  }
  return b;
}

}  // namespace api
