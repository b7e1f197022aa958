#include "kube/object.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kube {
namespace {

base::Status ReadStringMap(const rapidjson::Value& meta, const char* key,
                     std::map<std::string, std::string>& out) {
  auto it = meta.FindMember(key);
  if (it == meta.MemberEnd() || it->value.IsNull()) return base::Status::Ok();
  if (!it->value.IsObject()) return base::InvalidArgument(std::string("metadata.") + key + " is not a map");
  for (const auto& m : it->value.GetObject()) {
    if (!m.value.IsString()) {
      return base::InvalidArgument(std::string("metadata.") + key + "." + m.name.GetString() +
                             " is not a string");
    }
    out.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  return base::Status::Ok();
}

base::Status ReadString(const rapidjson::Value& obj, const char* key, const char* where,
                  std::string& out) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return base::Status::Ok();
  if (!it->value.IsString()) return base::InvalidArgument(std::string(where) + key + " is not a string");
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return base::Status::Ok();
}

base::StatusOr<Object> FromDocument(std::shared_ptr<rapidjson::Document> doc,
                              std::string_view default_api_version,
                              std::string_view default_kind) {
  if (!doc->IsObject()) return base::InvalidArgument("a Kubernetes object must be a JSON object");
  auto& a = doc->GetAllocator();
  if (!default_api_version.empty() && !doc->HasMember("apiVersion")) {
    doc->AddMember("apiVersion",
                   rapidjson::Value(default_api_version.data(),
                                    static_cast<rapidjson::SizeType>(default_api_version.size()), a),
                   a);
  }
  if (!default_kind.empty() && !doc->HasMember("kind")) {
    doc->AddMember(
        "kind",
        rapidjson::Value(default_kind.data(), static_cast<rapidjson::SizeType>(default_kind.size()), a),
        a);
  }
  Object o;
  base::Status s = ReadString(*doc, "apiVersion", "", o.api_version);
  if (s.ok()) s = ReadString(*doc, "kind", "", o.kind);
  if (!s.ok()) return s;
  auto meta_it = doc->FindMember("metadata");
  if (meta_it != doc->MemberEnd() && !meta_it->value.IsNull()) {
    const rapidjson::Value& meta = meta_it->value;
    if (!meta.IsObject()) return base::InvalidArgument("metadata is not an object");
    for (auto [key, field] : {std::pair{"name", &o.name}, std::pair{"namespace", &o.namespace_},
                              std::pair{"uid", &o.uid},
                              std::pair{"resourceVersion", &o.resource_version},
                              std::pair{"generateName", &o.generate_name}}) {
      s = ReadString(meta, key, "metadata.", *field);
      if (!s.ok()) return s;
    }
    std::string dt;
    s = ReadString(meta, "deletionTimestamp", "metadata.", dt);
    if (!s.ok()) return s;
    if (!dt.empty()) o.deletion_timestamp = dt;
    s = ReadStringMap(meta, "labels", o.labels);
    if (s.ok()) s = ReadStringMap(meta, "annotations", o.annotations);
    if (!s.ok()) return s;
  }
  o.doc = std::move(doc);
  return o;
}

}  // namespace

std::string Object::ToJson() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  if (doc) {
    doc->Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
  }
  w.StartObject();
  if (!api_version.empty()) {
    w.Key("apiVersion");
    w.String(api_version.c_str());
  }
  if (!kind.empty()) {
    w.Key("kind");
    w.String(kind.c_str());
  }
  w.Key("metadata");
  w.StartObject();
  auto str = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  str("name", name);
  str("generateName", generate_name);
  str("namespace", namespace_);
  str("uid", uid);
  str("resourceVersion", resource_version);
  if (deletion_timestamp) str("deletionTimestamp", *deletion_timestamp);
  for (auto [k, m] : {std::pair{"labels", &labels}, std::pair{"annotations", &annotations}}) {
    if (m->empty()) continue;
    w.Key(k);
    w.StartObject();
    for (const auto& [mk, mv] : *m) {
      w.Key(mk.c_str(), static_cast<rapidjson::SizeType>(mk.size()));
      w.String(mv.c_str(), static_cast<rapidjson::SizeType>(mv.size()));
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

base::StatusOr<Object> ParseObject(std::string_view json) {
  auto doc = std::make_shared<rapidjson::Document>();
  doc->Parse(json.data(), json.size());
  if (doc->HasParseError()) return base::InvalidArgument("object is not valid JSON");
  return FromDocument(std::move(doc), "", "");
}

base::StatusOr<Object> ObjectFromValue(const rapidjson::Value& value, std::string_view default_api_version,
                                 std::string_view default_kind) {
  auto doc = std::make_shared<rapidjson::Document>();
  doc->CopyFrom(value, doc->GetAllocator());
  return FromDocument(std::move(doc), default_api_version, default_kind);
}

const rapidjson::Value* FieldByPath(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* v = &root;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    if (!v->IsObject()) return nullptr;
    auto it = v->FindMember(
        rapidjson::Value(rapidjson::StringRef(part.data(), static_cast<rapidjson::SizeType>(part.size()))));
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
    if (dot == std::string_view::npos) break;
    path = path.substr(dot + 1);
  }
  return v;
}

std::optional<std::string> StringField(const Object& obj, std::string_view path) {
  if (!obj.doc) return std::nullopt;
  const rapidjson::Value* v = FieldByPath(*obj.doc, path);
  if (!v || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

}  // namespace kube
