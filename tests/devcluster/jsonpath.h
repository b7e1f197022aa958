// The JSONPath subset that CRD printer columns use: `.a.b`, `['a']`, `[N]`,
// `[*]`, and `[?(@.key=='value')]` filters (with == or !=), optionally
// wrapped in `{}`.
#pragma once

#include <string_view>
#include <vector>

#include "tests/devcluster/json.h"

namespace devcluster {

// Every value the path selects in `root`, in document order; empty when
// nothing matches or the path is malformed.
std::vector<const Json*> EvalJsonPath(const Json& root, std::string_view path);

}  // namespace devcluster
