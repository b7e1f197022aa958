#include "tests/devcluster/openapi.h"

#include <functional>

namespace devcluster {
namespace {

std::string GvPath(const ResourceType& t) {
  return t.group.empty() ? "api/" + t.version : "apis/" + t.group + "/" + t.version;
}

// "io.k8s.api.core.v1.ConfigMap" style component name, reversed group.
std::string ComponentName(const ResourceType& t) {
  std::string g = t.group.empty() ? "core" : t.group;
  std::string rev;
  size_t end = g.size();
  while (true) {
    size_t dot = g.rfind('.', end - 1);
    size_t start = dot == std::string::npos ? 0 : dot + 1;
    rev += (rev.empty() ? "" : ".") + g.substr(start, end - start);
    if (dot == std::string::npos) break;
    end = dot;
  }
  return rev + "." + t.version + "." + t.kind;
}

Json Gvk(const ResourceType& t, Alloc& a) {
  Json g(rapidjson::kObjectType);
  g.AddMember("group", Json(t.group.c_str(), a), a);
  g.AddMember("version", Json(t.version.c_str(), a), a);
  g.AddMember("kind", Json(t.kind.c_str(), a), a);
  return g;
}

Json QueryParam(const char* name, const char* type, Alloc& a) {
  Json p(rapidjson::kObjectType);
  p.AddMember("name", Json(name, a), a);
  p.AddMember("in", "query", a);
  Json s(rapidjson::kObjectType);
  s.AddMember("type", Json(type, a), a);
  s.AddMember("uniqueItems", true, a);
  p.AddMember("schema", s, a);
  return p;
}

Json RefContent(const std::string& ref, const std::vector<std::string>& types, Alloc& a) {
  Json content(rapidjson::kObjectType);
  for (const auto& ct : types) {
    Json media(rapidjson::kObjectType);
    Json schema(rapidjson::kObjectType);
    schema.AddMember("$ref", Json(ref.c_str(), a), a);
    media.AddMember("schema", schema, a);
    content.AddMember(Json(ct.c_str(), a), media, a);
  }
  return content;
}

Json Operation(const ResourceType& t, const char* action, const std::string& ref, bool with_body,
               bool is_patch, Alloc& a) {
  Json op(rapidjson::kObjectType);
  op.AddMember("x-kubernetes-action", Json(action, a), a);
  op.AddMember("x-kubernetes-group-version-kind", Gvk(t, a), a);
  Json params(rapidjson::kArrayType);
  if (with_body) {
    params.PushBack(QueryParam("dryRun", "string", a), a);
    params.PushBack(QueryParam("fieldManager", "string", a), a);
    params.PushBack(QueryParam("fieldValidation", "string", a), a);
  }
  if (is_patch) params.PushBack(QueryParam("force", "boolean", a), a);
  op.AddMember("parameters", params, a);
  if (with_body) {
    Json body(rapidjson::kObjectType);
    std::vector<std::string> types = {"application/json", "application/yaml"};
    if (is_patch) types = {"application/json-patch+json", "application/merge-patch+json"};
    body.AddMember("content", RefContent(ref, types, a), a);
    body.AddMember("required", true, a);
    op.AddMember("requestBody", body, a);
  }
  Json responses(rapidjson::kObjectType);
  Json ok(rapidjson::kObjectType);
  ok.AddMember("description", "OK", a);
  ok.AddMember("content", RefContent(ref, {"application/json", "application/yaml"}, a), a);
  responses.AddMember("200", ok, a);
  op.AddMember("responses", responses, a);
  return op;
}

}  // namespace

std::string OpenApiV3Root(const Registry& registry) {
  JsonDoc root(rapidjson::kObjectType);
  auto& a = root.GetAllocator();
  Json paths(rapidjson::kObjectType);
  for (const auto& t : registry.All()) {
    std::string gv = GvPath(*t);
    if (Member(paths, gv) != nullptr) continue;
    // The hash changes whenever the document does, so clients' caches
    // (keyed by URL) refresh after a CRD changes.
    std::string doc = OpenApiV3GroupVersion(registry, gv);
    char hash[32];
    snprintf(hash, sizeof hash, "%016zX", std::hash<std::string>{}(doc));
    Json entry(rapidjson::kObjectType);
    std::string url = "/openapi/v3/" + gv + "?hash=" + hash;
    entry.AddMember("serverRelativeURL", Json(url.c_str(), a), a);
    paths.AddMember(Json(gv.c_str(), a), entry, a);
  }
  root.AddMember("paths", paths, a);
  return ToJson(root);
}

std::string OpenApiV3GroupVersion(const Registry& registry, const std::string& gv_path) {
  JsonDoc doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("openapi", "3.0.0", a);
  Json info(rapidjson::kObjectType);
  info.AddMember("title", "Kubernetes", a);
  info.AddMember("version", "v1.32.0", a);
  doc.AddMember("info", info, a);
  Json paths(rapidjson::kObjectType);
  Json schemas(rapidjson::kObjectType);
  bool found = false;
  for (const auto& t : registry.All()) {
    if (GvPath(*t) != gv_path) continue;
    found = true;
    std::string comp = ComponentName(*t);
    std::string ref = "#/components/schemas/" + comp;
    std::string base = "/" + gv_path + "/";
    std::string collection = base + (t->namespaced ? "namespaces/{namespace}/" : "") + t->resource;
    Json coll(rapidjson::kObjectType);
    coll.AddMember("post", Operation(*t, "post", ref, true, false, a), a);
    paths.AddMember(Json(collection.c_str(), a), coll, a);
    Json item(rapidjson::kObjectType);
    item.AddMember("get", Operation(*t, "get", ref, false, false, a), a);
    item.AddMember("put", Operation(*t, "put", ref, true, false, a), a);
    item.AddMember("patch", Operation(*t, "patch", ref, true, true, a), a);
    paths.AddMember(Json((collection + "/{name}").c_str(), a), item, a);
    if (t->has_status) {
      Json status(rapidjson::kObjectType);
      status.AddMember("get", Operation(*t, "get", ref, false, false, a), a);
      status.AddMember("put", Operation(*t, "put", ref, true, false, a), a);
      status.AddMember("patch", Operation(*t, "patch", ref, true, true, a), a);
      paths.AddMember(Json((collection + "/{name}/status").c_str(), a), status, a);
    }
    Json schema;
    if (t->schema != nullptr) {
      schema.CopyFrom(*t->schema, a);
    } else {
      schema.SetObject();
      schema.AddMember("type", "object", a);
      schema.AddMember("x-kubernetes-preserve-unknown-fields", true, a);
    }
    if (!schema.IsObject()) schema.SetObject();
    Json gvks(rapidjson::kArrayType);
    gvks.PushBack(Gvk(*t, a), a);
    if (Json* old = Member(schema, "x-kubernetes-group-version-kind")) {
      *old = gvks;
    } else {
      schema.AddMember("x-kubernetes-group-version-kind", gvks, a);
    }
    schemas.AddMember(Json(comp.c_str(), a), schema, a);
  }
  if (!found) return "";
  doc.AddMember("paths", paths, a);
  Json components(rapidjson::kObjectType);
  components.AddMember("schemas", schemas, a);
  doc.AddMember("components", components, a);
  return ToJson(doc);
}

}  // namespace devcluster
