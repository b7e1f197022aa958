// OpenAPI v3 documents (/openapi/v3 and /openapi/v3/apis/GROUP/VERSION).
// kubectl reads them to learn that the server supports server-side field
// validation (the `fieldValidation` parameter of each PATCH operation) and
// for `kubectl explain`. Built-in kinds do not advertise strategic merge
// patch here, so kubectl builds it from its compiled-in types instead.
#pragma once

#include <string>

#include "tests/devcluster/registry.h"

namespace devcluster {

// The discovery root: {"paths": {"api/v1": {"serverRelativeURL": ...}, ...}}.
std::string OpenApiV3Root(const Registry& registry);
// The document of one group-version ("api/v1", "apis/kubevirt.io/v1"), or ""
// when the group-version is not served.
std::string OpenApiV3GroupVersion(const Registry& registry, const std::string& gv_path);

}  // namespace devcluster
