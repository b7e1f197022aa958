#include "api/json_util.h"

#include <rapidjson/error/en.h>

namespace api::json_internal {

std::string Join(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string Index(std::string_view parent, size_t i) {
  return std::string(parent) + "[" + std::to_string(i) + "]";
}

const char* TypeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "unknown";
}

base::Status FieldError(std::string_view path, std::string_view problem) {
  return base::InvalidArgument(std::string(path) + ": " + std::string(problem));
}

const rapidjson::Value* Member(const rapidjson::Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(rapidjson::Value(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

namespace {
base::Status WrongType(std::string_view path, const char* want, const rapidjson::Value& got) {
  return FieldError(path, std::string("must be ") + want + ", got " + TypeName(got));
}
}  // namespace

base::Status GetString(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                       std::string& out) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr) return base::Status::Ok();
  if (!v->IsString()) return WrongType(Join(path, key), "a string", *v);
  out.assign(v->GetString(), v->GetStringLength());
  return base::Status::Ok();
}

base::Status GetOptString(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                          std::optional<std::string>& out) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr) return base::Status::Ok();
  if (!v->IsString()) return WrongType(Join(path, key), "a string", *v);
  out.emplace(v->GetString(), v->GetStringLength());
  return base::Status::Ok();
}

base::Status GetBool(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                     bool& out) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr) return base::Status::Ok();
  if (!v->IsBool()) return WrongType(Join(path, key), "a boolean", *v);
  out = v->GetBool();
  return base::Status::Ok();
}

base::Status GetInt64(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                      int64_t& out) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr) return base::Status::Ok();
  if (!v->IsInt64()) {
    if (v->IsNumber())
      return FieldError(Join(path, key), "must be an integer within the int64 range");
    return WrongType(Join(path, key), "an integer", *v);
  }
  out = v->GetInt64();
  return base::Status::Ok();
}

base::Status GetStringMap(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                          std::map<std::string, std::string>& out) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr) return base::Status::Ok();
  std::string here = Join(path, key);
  if (!v->IsObject()) return WrongType(here, "an object", *v);
  for (const auto& m : v->GetObject()) {
    std::string k(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsString()) return WrongType(here + "[" + k + "]", "a string", m.value);
    out[k] = std::string(m.value.GetString(), m.value.GetStringLength());
  }
  return base::Status::Ok();
}

base::Status GetStringArray(const rapidjson::Value& obj, std::string_view key,
                            std::string_view path, std::vector<std::string>& out) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr) return base::Status::Ok();
  std::string here = Join(path, key);
  if (!v->IsArray()) return WrongType(here, "an array", *v);
  size_t i = 0;
  for (const auto& e : v->GetArray()) {
    if (!e.IsString()) return WrongType(Index(here, i), "a string", e);
    out.emplace_back(e.GetString(), e.GetStringLength());
    ++i;
  }
  return base::Status::Ok();
}

base::Status GetObject(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                       const rapidjson::Value*& out) {
  out = Member(obj, key);
  if (out != nullptr && !out->IsObject()) {
    base::Status s = WrongType(Join(path, key), "an object", *out);
    out = nullptr;
    return s;
  }
  return base::Status::Ok();
}

base::Status GetArray(const rapidjson::Value& obj, std::string_view key, std::string_view path,
                      const rapidjson::Value*& out) {
  out = Member(obj, key);
  if (out != nullptr && !out->IsArray()) {
    base::Status s = WrongType(Join(path, key), "an array", *out);
    out = nullptr;
    return s;
  }
  return base::Status::Ok();
}

base::Status ParseText(std::string_view json, rapidjson::Document& doc) {
  // Iterative parsing keeps hostile nesting ("[[[[...") off the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return base::InvalidArgument("invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) +
                                 ": " + rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return base::Status::Ok();
}

}  // namespace api::json_internal
