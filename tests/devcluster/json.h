// Small helpers over RapidJSON shared by devcluster's files. Every accessor
// checks types first: the objects come from untrusted clients.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace devcluster {

using Json = rapidjson::Value;
using JsonDoc = rapidjson::Document;
using Alloc = rapidjson::Document::AllocatorType;

inline std::string ToJson(const Json& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// Member `key` of object `v`, or nullptr when v is not an object or lacks it.
// (Looked up by a length-bounded value: `key` need not be NUL-terminated.)
inline const Json* Member(const Json& v, std::string_view key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(Json(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == v.MemberEnd() ? nullptr : &it->value;
}
inline Json* Member(Json& v, std::string_view key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(Json(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// The string at a dotted path ("metadata.name"), or "" when absent or not a string.
inline std::string StringAt(const Json& v, std::string_view dotted) {
  const Json* cur = &v;
  while (true) {
    size_t dot = dotted.find('.');
    cur = Member(*cur, dotted.substr(0, dot));
    if (cur == nullptr) return "";
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  return cur->IsString() ? std::string(cur->GetString(), cur->GetStringLength()) : "";
}

// Object member `key` of `v`, created as {} when missing or not an object.
inline Json& EnsureObject(Json& v, std::string_view key, Alloc& a) {
  Json* m = Member(v, key);
  if (m == nullptr) {
    v.AddMember(Json(key.data(), static_cast<rapidjson::SizeType>(key.size()), a),
                Json(rapidjson::kObjectType), a);
    m = Member(v, key);
  } else if (!m->IsObject()) {
    m->SetObject();
  }
  return *m;
}

inline void SetString(Json& obj, std::string_view key, std::string_view value, Alloc& a) {
  Json* m = Member(obj, key);
  Json val(value.data(), static_cast<rapidjson::SizeType>(value.size()), a);
  if (m != nullptr) {
    *m = val;
  } else {
    obj.AddMember(Json(key.data(), static_cast<rapidjson::SizeType>(key.size()), a), val, a);
  }
}

inline void SetValue(Json& obj, std::string_view key, Json& value, Alloc& a) {
  Json* m = Member(obj, key);
  if (m != nullptr) {
    *m = value;  // moves
  } else {
    obj.AddMember(Json(key.data(), static_cast<rapidjson::SizeType>(key.size()), a), value, a);
  }
}

// Labels (or annotations) as a map; non-string values are skipped.
inline std::map<std::string, std::string> StringMap(const Json* v) {
  std::map<std::string, std::string> out;
  if (v == nullptr || !v->IsObject()) return out;
  for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
    if (it->value.IsString()) out[it->name.GetString()] = it->value.GetString();
  }
  return out;
}

// Deepest nesting accepted from clients. Parsing is iterative, but the rest
// of devcluster walks documents recursively; no real object comes near this.
inline constexpr int kMaxJsonDepth = 1000;

// Parses untrusted JSON without recursion and rejects documents nested deeper
// than kMaxJsonDepth. Returns false (with *why set) on either error.
inline bool ParseBounded(JsonDoc& doc, std::string_view text, std::string* why) {
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    if (why != nullptr) *why = "invalid JSON at offset " + std::to_string(doc.GetErrorOffset());
    return false;
  }
  std::vector<std::pair<const Json*, int>> stack = {{&doc, 1}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxJsonDepth) {
      if (why != nullptr) *why = "json: exceeded max depth " + std::to_string(kMaxJsonDepth);
      doc.SetNull();
      return false;
    }
    if (v->IsArray()) {
      for (const auto& e : v->GetArray()) stack.push_back({&e, depth + 1});
    } else if (v->IsObject()) {
      for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) stack.push_back({&it->value, depth + 1});
    }
  }
  return true;
}

}  // namespace devcluster
