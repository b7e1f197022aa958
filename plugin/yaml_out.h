// JSON to YAML as kubectl prints it (-o yaml): block style, two-space indent,
// sequence items at their key's indentation, strings quoted only when plain
// YAML would read them differently.
// Thread safety: pure function.
#pragma once

#include <rapidjson/fwd.h>

#include <string>
#include <string_view>

namespace plugin {

std::string ToYaml(const rapidjson::Value& value);

// Whether a string must be quoted to round-trip as a YAML string.
bool YamlNeedsQuotes(std::string_view s);

}  // namespace plugin
