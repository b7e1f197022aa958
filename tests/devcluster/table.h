// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for
// (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/devcluster/json.h"
#include "tests/devcluster/registry.h"

namespace devcluster {

enum class IncludeObject { kNone, kMetadata, kObject };

// A Table of `objects` (already in the requested version) for type `t`.
// Cells of type date are relative ages computed from `now`.
JsonDoc MakeTable(const ResourceType& t, const std::vector<std::shared_ptr<const JsonDoc>>& objects,
                  const std::string& resource_version, IncludeObject include,
                  std::chrono::system_clock::time_point now);

// Kubernetes' human duration ("5s", "3m20s", "5h", "12d", "2y30d").
std::string HumanDuration(std::chrono::seconds d);


}  // namespace devcluster
