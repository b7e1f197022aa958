// Object: a Kubernetes object as the API returned it, with its metadata
// lifted into plain fields and the whole JSON kept in an immutable document.
//
// Objects are values; `doc` is shared and never mutated after parsing, so
// copies are cheap and may be read from many threads.
#pragma once

#include <rapidjson/fwd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kube {

struct Object {
  std::string api_version, kind, name, namespace_, uid, resource_version;
  std::string generate_name;
  std::map<std::string, std::string> labels, annotations;
  std::optional<std::string> deletion_timestamp;
  // The full object; null only for default-constructed Objects.
  std::shared_ptr<const rapidjson::Document> doc;

  // The object serialized compactly (doc when present, else the fields above).
  std::string ToJson() const;
  // "ns/name", or "name" for cluster-scoped objects: the informer's store key.
  std::string Key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
};

// Parses a JSON object. InvalidArgument when the text is not a JSON object or
// metadata fields have the wrong types.
base::StatusOr<Object> ParseObject(std::string_view json);

// Builds an Object from a value (deep copy). `default_api_version` and
// `default_kind` fill apiVersion/kind when the value lacks them (list items),
// both in the fields and in the copied document.
base::StatusOr<Object> ObjectFromValue(const rapidjson::Value& value,
                                       std::string_view default_api_version = "",
                                       std::string_view default_kind = "");

// The value at a dotted path ("status.nodeName", "metadata.labels.app"), or
// null when any step is missing or not an object.
const rapidjson::Value* FieldByPath(const rapidjson::Value& root, std::string_view dotted_path);

// The string at a dotted path, or nullopt when missing or not a string.
std::optional<std::string> StringField(const Object& obj, std::string_view dotted_path);

}  // namespace kube
