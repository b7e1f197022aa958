// Migration timeouts (design.md §2).
//
// Completion timeout = completionTimeoutPerGiB × ceil(bytes to copy / GiB),
// where bytes to copy = guest memory + the node-local disks a block migration
// copies. 8 GiB at 800 s/GiB gives 6400 s.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "api/migratability.h"
#include "api/types.h"

namespace api {

// per_gib × ceil(bytes / GiB), counting at least one GiB (so a VMI of unknown
// or zero size still gets per_gib seconds). Saturates at INT64_MAX; a
// non-positive per_gib gives 0 (no timeout).
int64_t CompletionTimeoutSeconds(int64_t bytes_to_copy, int64_t per_gib);

struct BytesToCopy {
  int64_t memory = 0;  // guest memory; 0 when the VMI states none
  int64_t disks = 0;   // node-local disks of known size (block migration only)
  bool memory_known = false;
  bool disks_known = true;  // false when a copied disk has no known size
  bool block_migration = false;

  int64_t Total() const;  // saturating memory + disks
};

// Memory + node-local disk sizes. The method is status.migrationMethod when
// set, else computed from the volumes (IsNodeLocal). Disk sizes come from
// emptyDisk/hostDisk capacity. containerDisks, ephemeral overlays, hostDisks
// without capacity and kOther volumes have no known size and clear
// disks_known; generated disks (cloud-init, configMap, secret, serviceAccount,
// downwardAPI) count as zero bytes (they are kilobytes).
BytesToCopy ComputeBytesToCopy(const VMI& vmi);

}  // namespace api
