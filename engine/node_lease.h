// The node registration of design.md §4.2 step 3: each engine holds one
// coordination.k8s.io/v1 Lease, `migration-engine-NODE` in the KubeVirt
// namespace, renewed every few seconds. Its annotations say how peers reach
// the node's libvirt and how much memory is free there; a target is chosen
// only among nodes whose lease is fresh.
//
// Pure functions: the JSON of the Lease and of its renewal, and the reading
// of a Lease back into an EngineNode. heartbeat.h does the I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kube/object.h"

namespace engine {

inline constexpr std::string_view kLeasePrefix = "migration-engine-";
inline constexpr std::string_view kAnnotationLibvirtUri = "kubemigrate.io/libvirt-uri";
inline constexpr std::string_view kAnnotationMigrationAddress = "kubemigrate.io/migration-address";
inline constexpr std::string_view kAnnotationFreeMemory = "kubemigrate.io/free-memory-bytes";
// "true" on every engine Lease, so that peers list them with a label selector.
inline constexpr std::string_view kLabelEngineLease = "kubemigrate.io/engine-lease";

// What one engine publishes about its node.
struct NodeRegistration {
  std::string node_name;
  std::string libvirt_uri;        // --advertise-libvirt-uri
  std::string migration_address;  // --migration-address
  uint64_t free_memory_bytes = 0;
  int lease_duration_seconds = 40;
};

// "migration-engine-" + node name; node names are DNS-1123 subdomains, so
// the result is a valid object name when it fits in 253 characters.
std::string LeaseName(std::string_view node_name);

// The Lease to create (holderIdentity = the node, acquireTime = renewTime = now).
std::string LeaseCreateJson(const NodeRegistration& r, std::string_view ns,
                            std::chrono::system_clock::time_point now);
// The merge patch of a renewal: renewTime, the duration and the annotations.
std::string LeaseRenewPatch(const NodeRegistration& r, std::chrono::system_clock::time_point now);

// What a Lease says about its node, for target selection.
struct EngineNode {
  std::string node_name;
  std::string libvirt_uri;
  std::string migration_address;
  uint64_t free_memory_bytes = 0;
  int lease_duration_seconds = 0;
  std::optional<std::chrono::system_clock::time_point> renew_time;
};

// Reads an engine Lease. InvalidArgument naming the field when it lacks
// holderIdentity or the libvirt URI annotation, or a field is malformed.
base::StatusOr<EngineNode> ParseEngineLease(const kube::Object& lease);

// Fresh: renewed no longer ago than its duration (a renewal from the future,
// a clock skew, counts as fresh).
bool IsFresh(const EngineNode& node, std::chrono::system_clock::time_point now);

// MemAvailable from the text of /proc/meminfo, in bytes; nullopt if absent.
std::optional<uint64_t> ParseMemAvailable(std::string_view meminfo);

}  // namespace engine
