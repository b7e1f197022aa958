// Internal to api/: type-checked accessors for untrusted RapidJSON values.
// Each returns InvalidArgument naming the field path ("spec.vmiName: must be a
// string"); a missing or null member leaves the output untouched.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace api::json_internal {

// "a.b" from "a" and "b"; "b" when parent is empty.
std::string Join(std::string_view parent, std::string_view key);
// "a[3]".
std::string Index(std::string_view parent, size_t i);
// A short description of a JSON value's type for messages: "a string", "an array"...
const char* TypeName(const rapidjson::Value& v);

base::Status FieldError(std::string_view path, std::string_view problem);

// The member `key` of object `obj`, or null when absent or null.
const rapidjson::Value* Member(const rapidjson::Value& obj, std::string_view key);

base::Status GetString(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                       std::string& out);
base::Status GetOptString(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                          std::optional<std::string>& out);
base::Status GetBool(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                     bool& out);
base::Status GetInt64(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                      int64_t& out);
base::Status GetStringMap(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                          std::map<std::string, std::string>& out);
base::Status GetStringArray(const rapidjson::Value& obj, std::string_view key,
                            std::string_view path, std::vector<std::string>& out);
// Sets *out to the member when it is an object, to null when absent or null.
base::Status GetObject(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                       const rapidjson::Value*& out);
base::Status GetArray(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                      const rapidjson::Value*& out);

// Parses text into `doc` with the iterative parser; InvalidArgument with the
// offset and RapidJSON's message on failure.
base::Status ParseText(std::string_view json, rapidjson::Document& doc);

}  // namespace api::json_internal
