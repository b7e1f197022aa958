#include "tests/devcluster/server.h"

#include <httplib.h>
#include <rapidjson/error/en.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <regex>
#include <set>

#include "base/clock.h"
#include "kube/api_status.h"
#include "tests/devcluster/admission.h"
#include "tests/devcluster/audit.h"
#include "tests/devcluster/auth.h"
#include "tests/devcluster/builtin_types.h"
#include "tests/devcluster/convert.h"
#include "tests/devcluster/json.h"
#include "tests/devcluster/metrics.h"
#include "tests/devcluster/openapi.h"
#include "tests/devcluster/patch.h"
#include "tests/devcluster/pki.h"
#include "tests/devcluster/protobuf.h"
#include "tests/devcluster/registry.h"
#include "tests/devcluster/schema.h"
#include "tests/devcluster/selector.h"
#include "tests/devcluster/store.h"
#include "tests/devcluster/table.h"

namespace devcluster {
namespace {

using SysClock = std::chrono::system_clock;

base::Status ApiErr(int code, const char* reason, std::string message) {
  base::Status s(kube::CodeForHttp(code, reason), std::move(message));
  s.WithHttp(code, reason);
  return s;
}

std::string StatusBody(const base::Status& s) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "Status", a);
  d.AddMember("apiVersion", "v1", a);
  d.AddMember("metadata", Json(rapidjson::kObjectType), a);
  d.AddMember("status", "Failure", a);
  d.AddMember("message", Json(s.message().c_str(), a), a);
  // A Status without a reason is StatusReasonUnknown (""), which kube-apiserver
  // omits: what it answers for errors REST storage did not convert (500).
  std::string reason = s.reason().empty() && s.http_code() == 0 ? "InternalError" : s.reason();
  if (!reason.empty()) d.AddMember("reason", Json(reason.c_str(), a), a);
  if (!s.details_json().empty()) {
    JsonDoc det;
    det.Parse(s.details_json().c_str());
    if (!det.HasParseError() && det.IsObject()) {
      Json v;
      v.CopyFrom(det, a);
      d.AddMember("details", v, a);
    }
  }
  d.AddMember("code", s.http_code() == 0 ? 500 : s.http_code(), a);
  return ToJson(d);
}

std::string Details(const std::string& name, const ResourceType& t) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  if (!name.empty()) d.AddMember("name", Json(name.c_str(), a), a);
  if (!t.group.empty()) d.AddMember("group", Json(t.group.c_str(), a), a);
  d.AddMember("kind", Json(t.resource.c_str(), a), a);
  return ToJson(d);
}

base::Status NotFoundErr(const ResourceType& t, const std::string& name) {
  base::Status s = ApiErr(404, "NotFound", t.QualifiedResource() + " \"" + name + "\" not found");
  s.WithDetails(Details(name, t));
  return s;
}

base::Status ConflictErr(const ResourceType& t, const std::string& name, const std::string& why) {
  base::Status s = ApiErr(409, "Conflict", "Operation cannot be fulfilled on " + t.QualifiedResource() +
                                               " \"" + name + "\": " + why);
  s.WithDetails(Details(name, t));
  return s;
}

// The label kube-apiserver keeps equal to a namespace's name.
constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

const char* kModified = "the object has been modified; please apply your changes to the latest version and try again";

// kube-apiserver's metadata checks: string maps decode (400 otherwise), then
// name/generateName, labels and annotations validate (422 with causes).
base::Status ValidateMeta(const ResourceType& t, const std::string& name, const Json& obj) {
  const Json* meta = Member(obj, "metadata");
  for (const char* field : {"labels", "annotations"}) {
    const Json* m = meta ? Member(*meta, field) : nullptr;
    if (m == nullptr || m->IsNull()) continue;
    bool ok = m->IsObject();
    for (auto it = ok ? m->MemberBegin() : Json::ConstMemberIterator(); ok && it != m->MemberEnd(); ++it) {
      ok = it->value.IsString();
    }
    if (!ok) {
      return ApiErr(400, "BadRequest", std::string("json: cannot unmarshal metadata.") + field +
                                           " into Go struct field ObjectMeta.metadata." + field +
                                           " of type map[string]string");
    }
  }
  std::vector<FieldError> errs = ValidateObjectMeta(meta, t.kind != "Namespace");
  if (errs.empty()) return base::Status::Ok();
  return ToInvalidStatus(errs, t.group, t.kind, name);
}

// ---- YAML to JSON (request bodies may be YAML) ----

bool YamlToJson(const YAML::Node& n, Json& out, Alloc& a, int depth) {
  if (depth > kMaxJsonDepth) return false;
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.SetNull();
      return true;
    case YAML::NodeType::Sequence:
      out.SetArray();
      for (const auto& e : n) {
        Json v;
        if (!YamlToJson(e, v, a, depth + 1)) return false;
        out.PushBack(v, a);
      }
      return true;
    case YAML::NodeType::Map:
      out.SetObject();
      for (const auto& kv : n) {
        Json v;
        if (!YamlToJson(kv.second, v, a, depth + 1)) return false;
        std::string k = kv.first.Scalar();
        out.AddMember(Json(k.c_str(), static_cast<rapidjson::SizeType>(k.size()), a), v, a);
      }
      return true;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") {  // quoted: always a string
        out.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
        return true;
      }
      static const std::regex kInt("[-+]?[0-9]+");
      static const std::regex kFloat("[-+]?([0-9]*\\.[0-9]+|[0-9]+\\.?[0-9]*)([eE][-+]?[0-9]+)?");
      if (s == "null" || s == "~" || s == "Null" || s == "NULL") {
        out.SetNull();
      } else if (s == "true" || s == "True" || s == "TRUE") {
        out.SetBool(true);
      } else if (s == "false" || s == "False" || s == "FALSE") {
        out.SetBool(false);
      } else if (std::regex_match(s, kInt) && s.size() < 19) {
        out.SetInt64(std::stoll(s));
      } else if (std::regex_match(s, kFloat)) {
        out.SetDouble(std::stod(s));
      } else {
        out.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
      }
      return true;
    }
  }
  return false;
}

std::string MediaType(const std::string& content_type) {
  std::string m = content_type.substr(0, content_type.find(';'));
  while (!m.empty() && m.back() == ' ') m.pop_back();
  return m;
}

base::StatusOr<std::unique_ptr<JsonDoc>> ParseBody(const std::string& body, const std::string& media) {
  auto doc = std::make_unique<JsonDoc>();
  if (media == "application/yaml" || media == "application/apply-patch+yaml") {
    try {
      YAML::Node n = YAML::Load(body);
      if (!YamlToJson(n, *doc, doc->GetAllocator(), 0)) {
        return ApiErr(400, "BadRequest", "error converting YAML to JSON: nesting too deep");
      }
    } catch (const std::exception& e) {
      return ApiErr(400, "BadRequest", std::string("error converting YAML to JSON: ") + e.what());
    }
    return doc;
  }
  std::string why;
  if (!ParseBounded(*doc, body, &why)) {
    if (doc->HasParseError()) why = std::string(rapidjson::GetParseError_En(doc->GetParseError())) + " at offset " +
                                    std::to_string(doc->GetErrorOffset());
    return ApiErr(400, "BadRequest", "couldn't get version/kind; json parse error: " + why);
  }
  return doc;
}

std::string Query(const httplib::Request& req, const char* key) {
  return req.has_param(key) ? req.get_param_value(key) : "";
}

bool Truthy(const std::string& v) { return v == "1" || v == "true" || v == "True"; }

}  // namespace

// ---------------------------------------------------------------------------

struct ApiServer::Impl {
  ServerOptions opts;
  Registry registry;
  std::unique_ptr<Store> store;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<Admission> admission;
  CertKey ca;
  CertKey serving;
  std::unique_ptr<httplib::SSLServer> http;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};
  RequestMetrics metrics;
  std::unique_ptr<AuditLog> audit;  // with --audit-log-path

  // One API request after authentication and path parsing.
  struct Call {
    const httplib::Request* req;
    httplib::Response* res;
    const RequestLabels* labels;  // what /metrics counts this request as
    UserInfo user;
    TypePtr type;
    std::string ns, name, sub;
    std::vector<std::string> warnings;
  };

  // --- small utilities ---
  std::string RandomSuffix(size_t n) {
    static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    std::lock_guard<std::mutex> l(rng_mu);
    std::string s;
    for (size_t i = 0; i < n; ++i) s += kAlphabet[rng() % (sizeof kAlphabet - 1)];
    return s;
  }
  static std::string NewUid() { return RandomUuid(); }
  static std::string Now() { return base::FormatRfc3339(SysClock::now()); }
  // The store key of a type: versions share it, and so do both Event APIs.
  static std::string Gr(const ResourceType& t) {
    return IsEventsV1(t) ? std::string("/events") : t.group + "/" + t.resource;
  }

  void Reply(Call& c, int code, const std::string& body) {
    for (const auto& w : c.warnings) {
      std::string v = "299 - \"";
      for (char ch : w) {  // an RFC 7230 quoted-string
        if (ch == '"' || ch == '\\') v += '\\';
        v += ch;
      }
      v += "\"";
      c.res->headers.emplace("Warning", v);
    }
    c.res->status = code;
    c.res->set_content(body, "application/json");
  }
  static void ReplyError(httplib::Response& res, const base::Status& s) {
    res.status = s.http_code() == 0 ? 500 : s.http_code();
    if (s.retry_after_seconds() > 0) res.set_header("Retry-After", std::to_string(s.retry_after_seconds()));
    res.set_content(StatusBody(s), "application/json");
  }

  // The object as seen through `t`'s version.
  static bool IsEventsV1(const ResourceType& t) { return t.group == "events.k8s.io" && t.kind == "Event"; }
  static std::shared_ptr<JsonDoc> AsVersion(const JsonDoc& stored, const ResourceType& t) {
    auto d = std::make_shared<JsonDoc>();
    d->CopyFrom(stored, d->GetAllocator());
    if (IsEventsV1(t)) ConvertEventToEventsV1(*d, d->GetAllocator());
    SetString(*d, "apiVersion", t.ApiVersion(), d->GetAllocator());
    SetString(*d, "kind", t.kind, d->GetAllocator());
    return d;
  }
  static void ToStorageVersion(JsonDoc& d, const ResourceType& t) {
    if (IsEventsV1(t)) {  // stored as core/v1 Events, which both APIs serve
      ConvertEventToCoreV1(d, d.GetAllocator());
      SetString(d, "apiVersion", "v1", d.GetAllocator());
      SetString(d, "kind", "Event", d.GetAllocator());
      return;
    }
    std::string v = t.group.empty() ? t.storage_version : t.group + "/" + t.storage_version;
    SetString(d, "apiVersion", v, d.GetAllocator());
    SetString(d, "kind", t.kind, d.GetAllocator());
  }

  std::string NamespaceOf(const ResourceType& t, const std::string& ns) { return t.namespaced ? ns : ""; }

  // Labels of a namespace for namespaceSelector; empty when missing.
  std::map<std::string, std::string> NamespaceLabels(const std::string& ns) {
    if (ns.empty()) return {};
    DocPtr d = store->Get("/namespaces", "", ns);
    if (d == nullptr) return {};
    const Json* meta = Member(*d, "metadata");
    return StringMap(meta ? Member(*meta, "labels") : nullptr);
  }

  // --- admission ---
  base::Status Admit(Call& c, const char* op, const Json* obj, const Json* old, bool dry_run,
                     const Json* options) {
    if (c.type->kind == "ValidatingWebhookConfiguration") return base::Status::Ok();
    std::vector<DocPtr> cfgs = store->List("admissionregistration.k8s.io/validatingwebhookconfigurations", "", nullptr);
    if (cfgs.empty()) return base::Status::Ok();
    std::vector<const Json*> ptrs;
    for (const auto& d : cfgs) ptrs.push_back(d.get());
    AdmissionAttributes at;
    at.operation = op;
    at.group = c.type->group;
    at.version = c.type->version;
    at.kind = c.type->kind;
    at.resource = c.type->resource;
    at.sub_resource = c.sub;
    at.name = c.name;
    at.ns = c.ns;
    at.namespaced = c.type->namespaced;
    for (const auto& v : c.type->served_versions) {
      if (v != c.type->version) at.equivalent_versions.push_back(v);
    }
    at.object = obj;
    at.old_object = old;
    at.dry_run = dry_run;
    at.options = options;
    at.user = c.user;
    if (c.type->kind == "Namespace") {
      const Json* src = obj != nullptr ? obj : old;
      const Json* meta = src ? Member(*src, "metadata") : nullptr;
      at.namespace_labels = StringMap(meta ? Member(*meta, "labels") : nullptr);
    } else {
      at.namespace_labels = NamespaceLabels(c.ns);
    }
    AdmissionResult r = admission->Validate(at, ptrs);
    for (auto& w : r.warnings) c.warnings.push_back(w);
    if (!r.allowed) return r.denial;
    return base::Status::Ok();
  }

  static JsonDoc OptionsObject(const char* kind, bool dry_run, const std::string& field_manager) {
    JsonDoc o(rapidjson::kObjectType);
    auto& a = o.GetAllocator();
    o.AddMember("kind", Json(kind, a), a);
    o.AddMember("apiVersion", "meta.k8s.io/v1", a);
    if (dry_run) {
      Json arr(rapidjson::kArrayType);
      arr.PushBack("All", a);
      o.AddMember("dryRun", arr, a);
    }
    if (!field_manager.empty()) o.AddMember("fieldManager", Json(field_manager.c_str(), a), a);
    return o;
  }

  base::StatusOr<bool> DryRun(const httplib::Request& req) {
    if (!req.has_param("dryRun")) return false;
    for (size_t i = 0; i < req.get_param_value_count("dryRun"); ++i) {
      std::string v = req.get_param_value("dryRun", i);
      if (v != "All") {
        return ApiErr(400, "BadRequest", "Invalid dry run value: dryRun: Unsupported value: \"" + v +
                                             "\": supported values: \"All\"");
      }
    }
    return true;
  }

  void Serve(const httplib::Request& req, httplib::Response& res);
  // `who` receives the authenticated user (left empty for public paths and
  // 401s), for the audit log.
  void Handle(const httplib::Request& req, httplib::Response& res, const RequestLabels& labels,
              std::optional<UserInfo>* who);
  void HandleResource(Call& c, bool has_name_segment);
  void List(Call& c);
  void Watch(Call& c);
  void GetOne(Call& c);
  void Create(Call& c);
  void Update(Call& c);
  void Patch(Call& c);
  void Delete(Call& c);
  void DeleteCollection(Call& c);

  // Shared by update and patch: validates and stores `next` as the new state
  // of `cur`; `status_only` takes only .status from next.
  base::StatusOr<DocPtr> CommitUpdate(Call& c, const DocPtr& cur, std::unique_ptr<JsonDoc> next,
                                      bool dry_run);
  base::Status PrepareForCreate(Call& c, JsonDoc& obj);
  base::Status ValidateCustom(Call& c, JsonDoc& obj, const std::string& name);
  base::Status DecodeBuiltinObject(Call& c, Json& obj);
  base::StatusOr<DocPtr> RemoveObject(const ResourceType& t, const std::string& ns,
                                      const std::string& name, std::optional<uint64_t> rv);
  void MaybeFinishNamespace(const std::string& ns);
  void AfterWrite(const ResourceType& t);
  std::string DiscoveryResourceList(const std::string& group, const std::string& version);
};

namespace {

// The object minus metadata and status: what generation tracks.
JsonDoc SpecPart(const Json& o) {
  JsonDoc d(rapidjson::kObjectType);
  if (!o.IsObject()) return d;
  for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) {
    std::string k = it->name.GetString();
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    Json key(k.c_str(), d.GetAllocator());
    Json v;
    v.CopyFrom(it->value, d.GetAllocator());
    d.AddMember(key, v, d.GetAllocator());
  }
  return d;
}

// The object without volatile metadata, to detect no-op writes. (RapidJSON's
// == compares objects member by member, whatever their order.)
JsonDoc Comparable(const Json& o) {
  JsonDoc d;
  d.CopyFrom(o, d.GetAllocator());
  if (Json* m = Member(d, "metadata")) {
    m->RemoveMember("resourceVersion");
    m->RemoveMember("managedFields");
  }
  return d;
}

int64_t IntAt(const Json& o, const char* a, const char* b) {
  const Json* x = Member(o, a);
  const Json* y = x ? Member(*x, b) : nullptr;
  return y != nullptr && y->IsInt64() ? y->GetInt64() : 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Routing

namespace {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

base::Status NoSuchResource() {
  return ApiErr(404, "NotFound", "the server could not find the requested resource");
}

std::string VersionJson() {
  return R"({"major":"1","minor":"32","gitVersion":"v1.32.0","gitCommit":"devcluster","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.23.0","compiler":"gc","platform":"linux/amd64"})";
}

}  // namespace

std::string ApiServer::Impl::DiscoveryResourceList(const std::string& group, const std::string& version) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "APIResourceList", a);
  d.AddMember("apiVersion", "v1", a);
  std::string gv = group.empty() ? version : group + "/" + version;
  d.AddMember("groupVersion", Json(gv.c_str(), a), a);
  Json resources(rapidjson::kArrayType);
  bool found = false;
  for (const auto& t : registry.All()) {
    if (t->group != group || t->version != version) continue;
    found = true;
    auto add = [&](const std::string& name, const std::string& singular, std::vector<const char*> verbs, bool main) {
      Json r(rapidjson::kObjectType);
      r.AddMember("name", Json(name.c_str(), a), a);
      r.AddMember("singularName", Json(singular.c_str(), a), a);
      r.AddMember("namespaced", t->namespaced, a);
      r.AddMember("kind", Json(t->kind.c_str(), a), a);
      Json vs(rapidjson::kArrayType);
      for (const char* v : verbs) vs.PushBack(Json(v, a), a);
      r.AddMember("verbs", vs, a);
      if (main) {
        if (!t->short_names.empty()) {
          Json sn(rapidjson::kArrayType);
          for (const auto& s : t->short_names) sn.PushBack(Json(s.c_str(), a), a);
          r.AddMember("shortNames", sn, a);
        }
        if (!t->categories.empty()) {
          Json cs(rapidjson::kArrayType);
          for (const auto& s : t->categories) cs.PushBack(Json(s.c_str(), a), a);
          r.AddMember("categories", cs, a);
        }
        char hash[32];
        snprintf(hash, sizeof hash, "%zx", std::hash<std::string>{}(t->QualifiedResource() + t->storage_version) & 0xffffffffff);
        r.AddMember("storageVersionHash", Json(hash, a), a);
      }
      resources.PushBack(r, a);
    };
    std::vector<const char*> verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
    if (t->kind == "Namespace") verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
    add(t->resource, t->singular, verbs, true);
    if (t->has_status) add(t->resource + "/status", "", {"get", "patch", "update"}, false);
  }
  if (!found) return "";
  d.AddMember("resources", resources, a);
  return ToJson(d);
}

// Every request httplib routes: classified before it is handled and counted
// once its status is known, before its response is written, so a client that
// has its answer finds it counted in the next scrape. Watches are counted when
// their stream starts.
void ApiServer::Impl::Serve(const httplib::Request& req, httplib::Response& res) {
  RequestLabels labels = ClassifyRequest(req.method, req.path, req.params, req.get_header_value("Content-Type"));
  const std::string received = audit ? base::FormatRfc3339Micro(SysClock::now()) : std::string();
  std::optional<UserInfo> who;
  // Logged with the status the client gets, before the response is written
  // (like the metrics), so a client that has its answer finds it logged.
  auto log = [&](int code) {
    if (!audit || !who.has_value()) return;
    audit->Write(AuditLine(ResolveRequestInfo(req.method, req.path, req.params), *who, req.target, code, received));
  };
  try {
    if (req.method == "OPTIONS") {
      ReplyError(res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    } else if (req.body.size() > opts.max_body_bytes) {
      ReplyError(res, ApiErr(413, "RequestEntityTooLarge",
                             "Request entity too large: limit is " + std::to_string(opts.max_body_bytes)));
    } else {
      Handle(req, res, labels, &who);
    }
  } catch (...) {
    metrics.CountRequest(labels, 500);  // what the exception handler answers
    log(500);
    throw;
  }
  metrics.CountRequest(labels, res.status == -1 ? 200 : res.status);  // -1: httplib's default, sent as 200
  log(res.status == -1 ? 200 : res.status);
}

void ApiServer::Impl::Handle(const httplib::Request& req, httplib::Response& res, const RequestLabels& labels,
                             std::optional<UserInfo>* who) {
  const std::string& path = req.path;
  // Health and version are public, as with kube-apiserver's default RBAC.
  if (req.method == "GET" && (path == "/healthz" || path == "/livez" || path == "/readyz")) {
    res.set_content("ok", "text/plain");
    return;
  }
  if (req.method == "GET" && path == "/version") {
    res.set_content(VersionJson(), "application/json");
    return;
  }
  Call c;
  c.req = &req;
  c.res = &res;
  c.labels = &labels;
  std::optional<UserInfo> user;
  std::string authz = req.get_header_value("Authorization");
  if (authz.size() > 7 && strncasecmp(authz.c_str(), "Bearer ", 7) == 0) {
    user = auth->FromBearerToken(authz.substr(7));
  } else if (req.ssl != nullptr) {
    user = auth->FromPeerCertificate(req.ssl);
  }
  if (!user.has_value()) {
    ReplyError(res, ApiErr(401, "Unauthorized", "Unauthorized"));
    return;
  }
  c.user = *user;
  *who = user;

  if (path == "/metrics") {
    if (req.method != "GET") {
      return ReplyError(res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    }
    res.set_content(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
    return;
  }
  std::vector<std::string> seg = SplitPath(path);
  if (req.method == "GET" && !seg.empty() && seg[0] == "openapi") {
    if (seg.size() == 2 && seg[1] == "v3") {
      res.set_content(OpenApiV3Root(registry), "application/json");
      return;
    }
    if (seg.size() >= 3 && seg[1] == "v3") {
      std::string gv;
      for (size_t i = 2; i < seg.size(); ++i) gv += (i > 2 ? "/" : "") + seg[i];
      std::string doc = OpenApiV3GroupVersion(registry, gv);
      if (!doc.empty()) {
        res.set_content(doc, "application/json");
        return;
      }
    }
    if (seg.size() == 2 && seg[1] == "v2") {
      // kubectl reads the v2 document only as protobuf, and only to validate
      // kinds the v3 documents do not describe. An empty protobuf message is
      // a valid, empty Document: such kinds then pass client-side validation
      // (as unknown kinds do against kube-apiserver) and fail, if at all, on
      // the server with its own error.
      if (req.get_header_value("Accept").find("protobuf") != std::string::npos) {
        res.set_content("", "application/octet-stream");
      } else {
        res.set_content(R"({"swagger":"2.0","info":{"title":"Kubernetes","version":"v1.32.0"},"paths":{},"definitions":{}})",
                        "application/json");
      }
      return;
    }
    ReplyError(res, NoSuchResource());
    return;
  }
  if (seg.empty() || (seg[0] != "api" && seg[0] != "apis")) {
    ReplyError(res, NoSuchResource());
    return;
  }
  std::string group, version;
  size_t rest;
  if (seg[0] == "api") {
    if (seg.size() == 1) {
      if (req.method != "GET") return ReplyError(res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
      std::string body = R"({"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:)" +
                         std::to_string(port) + R"("}]})";
      res.set_content(body, "application/json");
      return;
    }
    group = "";
    version = seg[1];
    rest = 2;
  } else {
    if (seg.size() <= 2) {
      if (req.method != "GET") return ReplyError(res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
      JsonDoc d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      auto group_json = [&](const std::string& name, const std::vector<std::string>& versions) {
        Json g(rapidjson::kObjectType);
        g.AddMember("name", Json(name.c_str(), a), a);
        Json vs(rapidjson::kArrayType);
        for (const auto& v : versions) {
          Json e(rapidjson::kObjectType);
          std::string gv = name + "/" + v;
          e.AddMember("groupVersion", Json(gv.c_str(), a), a);
          e.AddMember("version", Json(v.c_str(), a), a);
          vs.PushBack(e, a);
        }
        g.AddMember("versions", vs, a);
        Json pref(rapidjson::kObjectType);
        std::string gv = name + "/" + versions.front();
        pref.AddMember("groupVersion", Json(gv.c_str(), a), a);
        pref.AddMember("version", Json(versions.front().c_str(), a), a);
        g.AddMember("preferredVersion", pref, a);
        return g;
      };
      if (seg.size() == 1) {
        d.AddMember("kind", "APIGroupList", a);
        d.AddMember("apiVersion", "v1", a);
        Json groups(rapidjson::kArrayType);
        for (const auto& [name, versions] : registry.Groups()) {
          if (name.empty()) continue;
          groups.PushBack(group_json(name, versions), a);
        }
        d.AddMember("groups", groups, a);
        res.set_content(ToJson(d), "application/json");
        return;
      }
      for (const auto& [name, versions] : registry.Groups()) {
        if (name != seg[1] || name.empty()) continue;
        Json g = group_json(name, versions);
        d.AddMember("kind", "APIGroup", a);
        d.AddMember("apiVersion", "v1", a);
        for (auto it = g.MemberBegin(); it != g.MemberEnd(); ++it) {
          Json k(it->name, a);
          d.AddMember(k, it->value, a);
        }
        res.set_content(ToJson(d), "application/json");
        return;
      }
      return ReplyError(res, NoSuchResource());
    }
    group = seg[1];
    version = seg[2];
    rest = 3;
  }
  if (seg.size() == rest) {
    if (req.method != "GET") return ReplyError(res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    std::string body = DiscoveryResourceList(group, version);
    if (body.empty()) return ReplyError(res, NoSuchResource());
    res.set_content(body, "application/json");
    return;
  }
  // Resource paths: [namespaces/NS/]RESOURCE[/NAME[/SUB]]
  std::vector<std::string> s(seg.begin() + static_cast<long>(rest), seg.end());
  if (s.size() >= 3 && s[0] == "namespaces") {
    TypePtr t = registry.Find(group, version, s[2]);
    if (t != nullptr && t->namespaced) {
      c.type = t;
      c.ns = s[1];
      if (s.size() > 3) c.name = s[3];
      if (s.size() > 4) c.sub = s[4];
      if (s.size() > 5) return ReplyError(res, NoSuchResource());
      HandleResource(c, s.size() > 3);
      return;
    }
  }
  c.type = registry.Find(group, version, s[0]);
  if (c.type == nullptr || s.size() > 3) return ReplyError(res, NoSuchResource());
  if (s.size() > 1) c.name = s[1];
  if (s.size() > 2) c.sub = s[2];
  if (c.type->namespaced && s.size() > 1) return ReplyError(res, NoSuchResource());
  HandleResource(c, s.size() > 1);
}

void ApiServer::Impl::HandleResource(Call& c, bool has_name) {
  const auto& m = c.req->method;
  if (!c.sub.empty() && !(c.sub == "status" && c.type->has_status) &&
      !(c.sub == "finalize" && c.type->kind == "Namespace")) {
    return ReplyError(*c.res, NoSuchResource());
  }
  // Accept negotiation: JSON (or a Table of it) only.
  std::string accept = c.req->get_header_value("Accept");
  if (!accept.empty() && accept.find("json") == std::string::npos && accept.find("*/*") == std::string::npos &&
      accept.find("application/*") == std::string::npos) {
    return ReplyError(*c.res, ApiErr(406, "NotAcceptable",
                                     "only the following media types are accepted: application/json, application/yaml"));
  }
  if (m == "GET") {
    if (!has_name) {
      if (WatchRequested(c.req->params)) return Watch(c);
      return List(c);
    }
    return GetOne(c);
  }
  if (m == "POST" && !has_name) return Create(c);
  if (m == "PUT" && has_name) return Update(c);
  if (m == "PATCH" && has_name) return Patch(c);
  if (m == "DELETE" && has_name) return Delete(c);
  if (m == "DELETE" && !has_name) return DeleteCollection(c);
  ReplyError(*c.res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
}

// ---------------------------------------------------------------------------
// Reads: get, list, watch

namespace {

std::optional<std::string> FieldValue(const Json& obj, std::string_view field) {
  // kube-apiserver reads selectable fields from the typed object, where a
  // missing bool is false (NodeToSelectableFields: spec.unschedulable).
  const std::string absent = field == "spec.unschedulable" ? "false" : "";
  const Json* cur = &obj;
  while (true) {
    size_t dot = field.find('.');
    cur = Member(*cur, field.substr(0, dot));
    if (cur == nullptr) return absent;
    if (dot == std::string_view::npos) break;
    field.remove_prefix(dot + 1);
  }
  if (cur->IsString()) return std::string(cur->GetString(), cur->GetStringLength());
  if (cur->IsBool()) return std::string(cur->GetBool() ? "true" : "false");
  if (cur->IsNumber()) return ToJson(*cur);
  return std::string();
}

struct Filter {
  std::optional<LabelSelector> labels;
  std::optional<FieldSelector> fields;
  bool events_v1 = false;
  bool Matches(const Json& obj) const {
    if (labels.has_value()) {
      const Json* meta = Member(obj, "metadata");
      if (!labels->Matches(StringMap(meta ? Member(*meta, "labels") : nullptr))) return false;
    }
    if (fields.has_value()) {
      return fields->Matches([&](std::string_view f) {
        return FieldValue(obj, events_v1 ? CoreEventField(std::string(f)) : std::string(f));
      });
    }
    return true;
  }
};

base::StatusOr<Filter> ParseFilter(const httplib::Request& req, const ResourceType& t) {
  Filter f;
  std::string ls = Query(req, "labelSelector");
  if (!ls.empty()) {
    auto sel = LabelSelector::Parse(ls);
    if (!sel.ok()) return sel.status();
    f.labels = std::move(*sel);
  }
  std::string fs = Query(req, "fieldSelector");
  if (!fs.empty()) {
    auto sel = FieldSelector::Parse(fs);
    if (!sel.ok()) return sel.status();
    std::vector<std::string> supported = {"metadata.name", "metadata.namespace"};
    supported.insert(supported.end(), t.field_selectors.begin(), t.field_selectors.end());
    base::Status st = CheckFieldsSupported(*sel, supported, !t.builtin);
    if (!st.ok()) return st;
    f.fields = std::move(*sel);
    // Filters run on stored objects; events.k8s.io/v1 names map to core/v1's.
    f.events_v1 = t.group == "events.k8s.io" && t.kind == "Event";
  }
  return f;
}

bool WantsTable(const httplib::Request& req) {
  return req.get_header_value("Accept").find("as=Table") != std::string::npos;
}

IncludeObject IncludeParam(const httplib::Request& req) {
  std::string v = Query(req, "includeObject");
  if (v == "Object") return IncludeObject::kObject;
  if (v == "None") return IncludeObject::kNone;
  return IncludeObject::kMetadata;
}

}  // namespace

void ApiServer::Impl::GetOne(Call& c) {
  DocPtr d = store->Get(Gr(*c.type), c.ns, c.name);
  if (d == nullptr) return ReplyError(*c.res, NotFoundErr(*c.type, c.name));
  auto obj = AsVersion(*d, *c.type);
  if (WantsTable(*c.req)) {
    JsonDoc table = MakeTable(*c.type, {obj}, StringAt(*obj, "metadata.resourceVersion"),
                              IncludeParam(*c.req), SysClock::now());
    return Reply(c, 200, ToJson(table));
  }
  Reply(c, 200, ToJson(*obj));
}

void ApiServer::Impl::List(Call& c) {
  auto filter = ParseFilter(*c.req, *c.type);
  if (!filter.ok()) return ReplyError(*c.res, filter.status());
  uint64_t rv = 0;
  std::vector<DocPtr> all = store->List(Gr(*c.type), c.ns, &rv);
  // Pagination: the continue token is the key of the last item returned.
  std::string cont = Query(*c.req, "continue");
  std::string after;
  if (!cont.empty()) {
    size_t colon = cont.find(':');
    if (colon == std::string::npos) {
      return ReplyError(*c.res, ApiErr(400, "BadRequest", "continue key is not valid: malformed token"));
    }
    after = cont.substr(colon + 1);
  }
  long limit = 0;
  std::string ls = Query(*c.req, "limit");
  if (!ls.empty()) limit = std::max(0L, strtol(ls.c_str(), nullptr, 10));
  std::vector<std::shared_ptr<JsonDoc>> items;
  std::string next;
  long remaining = 0;
  for (const auto& d : all) {
    std::string key = StringAt(*d, "metadata.namespace") + "/" + StringAt(*d, "metadata.name");
    if (!after.empty() && key <= after) continue;
    if (!filter->Matches(*d)) continue;
    if (limit > 0 && static_cast<long>(items.size()) >= limit) {
      ++remaining;
      continue;
    }
    items.push_back(AsVersion(*d, *c.type));
    if (limit > 0 && static_cast<long>(items.size()) == limit) next = std::to_string(rv) + ":" + key;
  }
  if (remaining == 0) next.clear();
  std::string rvs = std::to_string(rv);
  if (WantsTable(*c.req)) {
    std::vector<std::shared_ptr<const JsonDoc>> citems(items.begin(), items.end());
    JsonDoc table = MakeTable(*c.type, citems, rvs, IncludeParam(*c.req), SysClock::now());
    if (!next.empty()) SetString(*Member(table, "metadata"), "continue", next, table.GetAllocator());
    return Reply(c, 200, ToJson(table));
  }
  // Serialised by hand: lists can be large and the items are already JSON.
  std::string body = "{\"kind\":\"" + c.type->list_kind + "\",\"apiVersion\":\"" + c.type->ApiVersion() +
                     "\",\"metadata\":{\"resourceVersion\":\"" + rvs + "\"";
  if (!next.empty()) {
    body += ",\"continue\":\"" + next + "\",\"remainingItemCount\":" + std::to_string(remaining);
  }
  body += "},\"items\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) body += ",";
    body += ToJson(*items[i]);
  }
  body += "]}";
  Reply(c, 200, body);
}

void ApiServer::Impl::Watch(Call& c) {
  auto filter = ParseFilter(*c.req, *c.type);
  if (!filter.ok()) return ReplyError(*c.res, filter.status());
  std::string rv_param = Query(*c.req, "resourceVersion");
  bool bookmarks = Truthy(Query(*c.req, "allowWatchBookmarks"));
  bool table = WantsTable(*c.req);
  IncludeObject include = IncludeParam(*c.req);
  long timeout_s = 1800 + static_cast<long>(RandomSuffix(1)[0] % 64) * 28;  // 30-60 min, as kube-apiserver spreads them
  std::string ts = Query(*c.req, "timeoutSeconds");
  if (!ts.empty()) timeout_s = std::max(0L, strtol(ts.c_str(), nullptr, 10));

  struct WatchState {
    uint64_t from = 0;
    std::vector<std::string> initial;  // serialised events to send first
    bool expired = false;
    std::string expired_msg;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point last_bookmark;
  };
  auto st = std::make_shared<WatchState>();
  st->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  st->last_bookmark = std::chrono::steady_clock::now();
  TypePtr type = c.type;
  std::string gr = Gr(*type);
  std::string ns = c.ns;

  auto encode = [type, table, include](const char* ev_type, const JsonDoc& stored) {
    auto obj = AsVersion(stored, *type);
    std::string o;
    if (table) {
      o = ToJson(MakeTable(*type, {obj}, StringAt(*obj, "metadata.resourceVersion"), include, SysClock::now()));
    } else {
      o = ToJson(*obj);
    }
    return std::string("{\"type\":\"") + ev_type + "\",\"object\":" + o + "}\n";
  };

  if (rv_param.empty() || rv_param == "0") {
    // Start with the current state as ADDED events, then follow changes.
    uint64_t rv = 0;
    for (const auto& d : store->List(gr, ns, &rv)) {
      if (filter->Matches(*d)) st->initial.push_back(encode("ADDED", *d));
    }
    st->from = rv;
  } else {
    char* end = nullptr;
    unsigned long long v = strtoull(rv_param.c_str(), &end, 10);
    if (end == rv_param.c_str() || *end != '\0') {
      return ReplyError(*c.res, ApiErr(400, "BadRequest", "invalid resource version: " + rv_param));
    }
    st->from = v;
  }
  if (st->from < store->OldestWatchableRv()) {
    st->expired = true;
    st->expired_msg = "too old resource version: " + std::to_string(st->from) + " (" +
                      std::to_string(store->OldestWatchableRv() + 1) + ")";
  }
  Filter f = std::move(*filter);
  c.res->status = 200;
  metrics.AddLongRunning(*c.labels, 1);
  c.res->set_chunked_content_provider(
      // Not plain application/json: httplib would gzip that, and a gzip
      // stream holds events back until its buffer fills.
      "application/json;stream=watch",
      [this, st, f, gr, ns, encode, bookmarks, type](size_t, httplib::DataSink& sink) {
        auto expire = [&](const std::string& msg) {
          base::Status s = ApiErr(410, "Expired", msg);
          std::string line = "{\"type\":\"ERROR\",\"object\":" + StatusBody(s) + "}\n";
          sink.write(line.data(), line.size());
          sink.done();
          return true;
        };
        if (st->expired) return expire(st->expired_msg);
        if (!st->initial.empty()) {
          for (const auto& line : st->initial) {
            if (!sink.write(line.data(), line.size())) return false;
          }
          st->initial.clear();
          return true;
        }
        if (stopping.load() || std::chrono::steady_clock::now() >= st->deadline) {
          sink.done();
          return true;
        }
        // Whether the selector matched the object before and after each
        // change decides what is sent (SelectedWatchEvent).
        auto before_after = [&f](const StoreEvent& e) {
          if (e.type == "ADDED") return std::make_pair(false, f.Matches(*e.object));
          if (e.type == "DELETED") return std::make_pair(f.Matches(*e.object), false);
          bool now = f.Matches(*e.object);
          return std::make_pair(e.previous != nullptr ? f.Matches(*e.previous) : now, now);
        };
        std::vector<StoreEvent> events;
        base::Status ws = store->WaitEvents(
            &st->from,
            [&](const StoreEvent& e) {
              if (e.gr != gr || (!ns.empty() && e.ns != ns)) return false;
              auto [before, now] = before_after(e);
              return SelectedWatchEvent(before, now).has_value();
            },
            &events, std::chrono::milliseconds(1000), &stopping);
        if (!ws.ok()) return expire(ws.message());
        std::string out;
        for (const auto& e : events) {
          auto [before, now] = before_after(e);
          std::optional<WatchEventType> send = SelectedWatchEvent(before, now);
          if (!send.has_value()) continue;
          if (*send == WatchEventType::kDeleted && e.type == "MODIFIED" && e.previous != nullptr) {
            // Left the selection: the previous state, at the change's resourceVersion.
            JsonDoc left;
            left.CopyFrom(*e.previous, left.GetAllocator());
            SetString(EnsureObject(left, "metadata", left.GetAllocator()), "resourceVersion",
                      std::to_string(e.rv), left.GetAllocator());
            out += encode(WatchEventTypeName(*send), left);
          } else {
            out += encode(WatchEventTypeName(*send), *e.object);
          }
        }
        auto now = std::chrono::steady_clock::now();
        if (events.empty() && now - st->last_bookmark >= std::chrono::seconds(5)) {
          // A bookmark (when asked for) or a bare newline, which JSON stream
          // decoders skip: either way a write that fails once the client
          // has gone, so an abandoned watch frees its thread.
          st->last_bookmark = now;
          if (bookmarks) {
            out += "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"" + type->kind + "\",\"apiVersion\":\"" +
                   type->ApiVersion() + "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(st->from) +
                   "\"}}}\n";
          } else {
            out = "\n";
          }
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (out.empty() && !sink.is_writable()) return false;
        return true;
      },
      // Runs when httplib destroys the response: the stream has ended, or
      // the client has gone, or it was never started.
      [this, labels = *c.labels](bool) { metrics.AddLongRunning(labels, -1); });
}

// ---------------------------------------------------------------------------
// Writes: create, update, patch, delete

namespace {

bool HasFinalizers(const Json& o) {
  const Json* meta = Member(o, "metadata");
  const Json* f = meta ? Member(*meta, "finalizers") : nullptr;
  return f != nullptr && f->IsArray() && !f->Empty();
}

std::set<std::string> Finalizers(const Json& o) {
  std::set<std::string> out;
  const Json* meta = Member(o, "metadata");
  const Json* f = meta ? Member(*meta, "finalizers") : nullptr;
  if (f != nullptr && f->IsArray()) {
    for (const auto& e : f->GetArray()) {
      if (e.IsString()) out.insert(e.GetString());
    }
  }
  return out;
}

// registry.Store's markAsDeleting: the first deletionTimestamp bumps the
// generation of objects that track one (generation > 0: custom resources,
// CRDs), and the grace period of an object held by finalizers is 0.
void MarkDeleting(Json& obj, Alloc& a, const std::string& now) {
  Json& meta = EnsureObject(obj, "metadata", a);
  if (StringAt(meta, "deletionTimestamp").empty()) {
    const Json* g = Member(meta, "generation");
    if (g != nullptr && g->IsInt64() && g->GetInt64() > 0) {
      int64_t next = g->GetInt64() + 1;
      meta.RemoveMember("generation");
      meta.AddMember("generation", Json(next), a);
    }
    SetString(meta, "deletionTimestamp", now, a);
  }
  meta.RemoveMember("deletionGracePeriodSeconds");
  meta.AddMember("deletionGracePeriodSeconds", 0, a);
}

// Registries with ReturnDeletedObject (namespaces, persistentvolumeclaims,
// persistentvolumes, serviceaccounts) answer a delete that removed the object
// with the object; every other one (store.go finalizeDelete) with a Success
// Status naming it: details {name, group, kind: the resource, uid}.
bool ReturnsDeletedObject(const ResourceType& t) {
  if (!t.builtin || !t.group.empty()) return false;
  return t.kind == "Namespace" || t.kind == "PersistentVolumeClaim" ||
         t.kind == "PersistentVolume" || t.kind == "ServiceAccount";
}

std::string DeletedStatus(const ResourceType& t, const Json& obj) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "Status", a);
  d.AddMember("apiVersion", "v1", a);
  d.AddMember("metadata", Json(rapidjson::kObjectType), a);
  d.AddMember("status", "Success", a);
  Json details(rapidjson::kObjectType);
  details.AddMember("name", Json(StringAt(obj, "metadata.name").c_str(), a), a);
  if (!t.group.empty()) details.AddMember("group", Json(t.group.c_str(), a), a);
  details.AddMember("kind", Json(t.resource.c_str(), a), a);
  details.AddMember("uid", Json(StringAt(obj, "metadata.uid").c_str(), a), a);
  d.AddMember("details", details, a);
  return ToJson(d);
}

uint64_t RvOf(const Json& o) {
  return strtoull(StringAt(o, "metadata.resourceVersion").c_str(), nullptr, 10);
}

void CopyMember(const Json& from, Json& to, const char* key, Alloc& a) {
  to.RemoveMember(key);
  if (const Json* v = Member(from, key)) {
    Json copy;
    copy.CopyFrom(*v, a);
    to.AddMember(Json(key, a), copy, a);
  }
}

base::Status CheckKind(const Json& obj, const ResourceType& t) {
  std::string av = StringAt(obj, "apiVersion");
  std::string kind = StringAt(obj, "kind");
  if (!av.empty()) {
    std::string group = av.find('/') == std::string::npos ? "" : av.substr(0, av.find('/'));
    if (group != t.group) {
      return ApiErr(400, "BadRequest", "the API version in the data (" + av +
                                           ") does not match the expected API version (" + t.ApiVersion() + ")");
    }
    bool served = false;
    std::string version = av.substr(av.find('/') == std::string::npos ? 0 : av.find('/') + 1);
    for (const auto& v : t.served_versions) served |= v == version;
    if (!served) {
      return ApiErr(400, "BadRequest", "the API version in the data (" + av +
                                           ") does not match the expected API version (" + t.ApiVersion() + ")");
    }
  }
  if (!kind.empty() && kind != t.kind) {
    return ApiErr(400, "BadRequest", "the kind in the data (" + kind + ") does not match the expected kind (" + t.kind + ")");
  }
  const Json* meta = Member(obj, "metadata");
  if (meta != nullptr && !meta->IsObject()) {
    return ApiErr(400, "BadRequest", "metadata must be an object");
  }
  return base::Status::Ok();
}

}  // namespace

// Decodes a create/update body by its Content-Type: JSON (the default),
// YAML, or protobuf (kubectl's typed client sends built-in kinds that way).
base::StatusOr<std::unique_ptr<JsonDoc>> DecodeWriteBody(const httplib::Request& req) {
  std::string media = MediaType(req.get_header_value("Content-Type"));
  if (media.empty() || media == "application/json" || media == "*/*") return ParseBody(req.body, "application/json");
  if (media == "application/yaml") return ParseBody(req.body, "application/yaml");
  if (media == kProtobufMediaType) return DecodeProtobufObject(req.body);
  return ApiErr(415, "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml, application/vnd.kubernetes.protobuf");
}

base::Status ApiServer::Impl::ValidateCustom(Call& c, JsonDoc& obj, const std::string& name) {
  if (c.type->builtin || c.type->schema == nullptr) return base::Status::Ok();
  SchemaResult r = ValidateAndPrune(obj, *c.type->schema, obj.GetAllocator(), /*prune=*/true);
  std::string fv = Query(*c.req, "fieldValidation");
  // kube-apiserver finds unknown fields while decoding, before validation:
  // with Strict they are the error even when the object is also invalid. The
  // create and update handlers put transformDecodeError's prefix before it;
  // a patch (applyPatchToCurrentObject) answers the bare error.
  if (fv == "Strict" && !r.unknown_fields.empty()) {
    base::Status strict = ToStrictStatus(r.unknown_fields);
    if (c.req->method == "PATCH") return strict;
    return ApiErr(400, "BadRequest",
                  c.type->kind + " in version \"" + c.type->version + "\" cannot be handled as a " +
                      c.type->kind + ": " + strict.message());
  }
  if (!r.errors.empty()) return ToInvalidStatus(r, c.type->group, c.type->kind, name);
  if (!r.unknown_fields.empty()) {
    if (fv != "Ignore") {
      for (auto& w : UnknownFieldWarnings(r.unknown_fields)) c.warnings.push_back(w);
    }
  }
  return base::Status::Ok();
}

// kube-apiserver decodes a built-in kind into its Go type before anything
// else (create.go, update.go: transformDecodeError): a type error, or an
// unknown field with fieldValidation=Strict, is a 400 `Kind in version "v"
// cannot be handled as a Kind: ...`; unknown fields are dropped (Warn, the
// default, says so in a warning). A patch is decoded after it is applied
// (patch.go applyPatchToCurrentObject): a type error is a 422 on the field
// `patch`, a strict error a bare 400; a strategic merge patch
// (strategicPatchObject) makes both a 422 on `patch` that quotes the patch as
// a Go map. Protobuf bodies are typed already.
base::Status ApiServer::Impl::DecodeBuiltinObject(Call& c, Json& obj) {
  if (!c.type->builtin || !HasBuiltinType(c.type->group, c.type->kind)) return base::Status::Ok();
  const bool patch = c.req->method == "PATCH";
  const std::string media = MediaType(c.req->get_header_value("Content-Type"));
  if (!patch && media == kProtobufMediaType) return base::Status::Ok();
  const bool strategic = patch && media == "application/strategic-merge-patch+json";
  const std::string before = patch ? ToJson(obj) : "";
  BuiltinDecodeResult r = DecodeBuiltin(c.type->group, c.type->kind, obj);
  const std::string prefix = c.type->kind + " in version \"" + c.type->version +
                             "\" cannot be handled as a " + c.type->kind + ": ";
  auto invalid_patch = [&](const std::string& why) {
    std::string quoted = before;
    if (strategic) {
      JsonDoc p;
      if (ParseBounded(p, c.req->body, nullptr)) quoted = GoMapText(p);
    }
    return ToInvalidStatus({InvalidValue("patch", GoQuote(quoted), why)}, "", "", "");
  };
  if (r.error.has_value()) {
    if (patch) return invalid_patch(*r.error);
    return ApiErr(400, "BadRequest", prefix + *r.error);
  }
  if (r.unknown_fields.empty()) return base::Status::Ok();
  std::string fv = Query(*c.req, "fieldValidation");
  if (fv == "Strict") {
    base::Status strict = ToStrictStatus(r.unknown_fields);
    if (!patch) return ApiErr(400, "BadRequest", prefix + strict.message());
    return strategic ? invalid_patch(strict.message()) : strict;
  }
  if (fv != "Ignore") {
    for (auto& w : UnknownFieldWarnings(r.unknown_fields)) c.warnings.push_back(w);
  }
  return base::Status::Ok();
}

base::Status ApiServer::Impl::PrepareForCreate(Call& c, JsonDoc& obj) {
  auto& a = obj.GetAllocator();
  if (!obj.IsObject()) return ApiErr(400, "BadRequest", "the body of the request is not a JSON object");
  base::Status st = CheckKind(obj, *c.type);
  if (!st.ok()) return st;
  st = DecodeBuiltinObject(c, obj);
  if (!st.ok()) return st;
  SetString(obj, "apiVersion", c.type->ApiVersion(), a);
  SetString(obj, "kind", c.type->kind, a);
  Json& meta = EnsureObject(obj, "metadata", a);
  std::string body_ns = StringAt(meta, "namespace");
  if (c.type->namespaced) {
    if (!body_ns.empty() && body_ns != c.ns) {
      return ApiErr(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    }
    SetString(meta, "namespace", c.ns, a);
  } else {
    meta.RemoveMember("namespace");
  }
  std::string name = StringAt(meta, "name");
  std::string gen = StringAt(meta, "generateName");
  st = ValidateMeta(*c.type, name, obj);
  if (!st.ok()) return st;
  if (name.empty()) {
    name = gen.substr(0, 58) + RandomSuffix(5);
    SetString(obj["metadata"], "name", name, a);
  }
  c.name = name;
  if (c.type->namespaced) {
    DocPtr nsobj = store->Get("/namespaces", "", c.ns);
    if (nsobj == nullptr) {
      base::Status s = ApiErr(404, "NotFound", "namespaces \"" + c.ns + "\" not found");
      s.WithDetails("{\"name\":\"" + c.ns + "\",\"kind\":\"namespaces\"}");
      return s;
    }
    if (!StringAt(*nsobj, "metadata.deletionTimestamp").empty()) {
      return ApiErr(403, "Forbidden", c.type->QualifiedResource() + " \"" + name +
                                          "\" is forbidden: unable to create new content in namespace " + c.ns +
                                          " because it is being terminated");
    }
  }
  SetString(meta, "uid", NewUid(), a);
  SetString(meta, "creationTimestamp", Now(), a);
  meta.RemoveMember("resourceVersion");
  meta.RemoveMember("deletionTimestamp");
  meta.RemoveMember("deletionGracePeriodSeconds");
  meta.RemoveMember("managedFields");
  meta.RemoveMember("selfLink");
  if (!c.type->builtin || c.type->kind == "CustomResourceDefinition") {
    meta.RemoveMember("generation");
    meta.AddMember("generation", 1, a);
  }
  const std::string& k = c.type->kind;
  if (k == "Namespace") {
    // namespaceStrategy.Canonicalize: the label always names the namespace.
    SetString(EnsureObject(obj["metadata"], "labels", a), kNamespaceNameLabel, name, a);
    Json& status = EnsureObject(obj, "status", a);
    SetString(status, "phase", "Active", a);
    Json& spec = EnsureObject(obj, "spec", a);
    if (Member(spec, "finalizers") == nullptr) {
      Json f(rapidjson::kArrayType);
      f.PushBack("kubernetes", a);
      spec.AddMember("finalizers", f, a);
    }
  } else if (k == "Secret") {
    if (StringAt(obj, "type").empty()) SetString(obj, "type", "Opaque", a);
    if (Json* sd = Member(obj, "stringData"); sd != nullptr && sd->IsObject()) {
      Json& data = EnsureObject(obj, "data", a);
      for (auto it = sd->MemberBegin(); it != sd->MemberEnd(); ++it) {
        if (!it->value.IsString()) continue;
        SetString(data, it->name.GetString(), Base64Encode(it->value.GetString()), a);
      }
      obj.RemoveMember("stringData");
    }
  } else if (k == "PersistentVolumeClaim") {
    Json& status = EnsureObject(obj, "status", a);
    if (StringAt(status, "phase").empty()) SetString(status, "phase", "Pending", a);
  } else if (k == "PersistentVolume") {
    Json& status = EnsureObject(obj, "status", a);
    if (StringAt(status, "phase").empty()) SetString(status, "phase", "Available", a);
  } else if (k == "CustomResourceDefinition") {
    st = Registry::ValidateCrd(obj);
    if (!st.ok()) return st;
    obj.RemoveMember("status");
    Json& status = EnsureObject(obj, "status", a);
    Json conds(rapidjson::kArrayType);
    for (const char* t : {"NamesAccepted", "Established"}) {
      Json cnd(rapidjson::kObjectType);
      cnd.AddMember("type", Json(t, a), a);
      cnd.AddMember("status", "True", a);
      cnd.AddMember("lastTransitionTime", Json(Now().c_str(), a), a);
      cnd.AddMember("reason", Json(std::string(t) == "Established" ? "InitialNamesAccepted" : "NoConflicts", a), a);
      cnd.AddMember("message", Json(std::string(t) == "Established" ? "the initial names have been accepted" : "no conflicts found", a), a);
      conds.PushBack(cnd, a);
    }
    status.AddMember("conditions", conds, a);
    Json names;
    names.CopyFrom((*Member(*Member(obj, "spec"), "names")), a);
    status.AddMember("acceptedNames", names, a);
    Json stored(rapidjson::kArrayType);
    for (const auto& v : (*Member(*Member(obj, "spec"), "versions")).GetArray()) {
      const Json* s = Member(v, "storage");
      if (s != nullptr && s->IsBool() && s->GetBool()) stored.PushBack(Json(StringAt(v, "name").c_str(), a), a);
    }
    status.AddMember("storedVersions", stored, a);
  }
  if (!c.type->builtin) {
    if (c.type->has_status) obj.RemoveMember("status");
    st = ValidateCustom(c, obj, name);
    if (!st.ok()) return st;
  } else if (auto errs = ValidateBuiltin(c.type->group, c.type->kind, obj); !errs.empty()) {
    return ToInvalidStatus(errs, c.type->group, c.type->kind, name);
  }
  return base::Status::Ok();
}

void ApiServer::Impl::Create(Call& c) {
  if (!c.sub.empty()) return ReplyError(*c.res, NoSuchResource());
  auto dry = DryRun(*c.req);
  if (!dry.ok()) return ReplyError(*c.res, dry.status());
  auto parsed = DecodeWriteBody(*c.req);
  if (!parsed.ok()) return ReplyError(*c.res, parsed.status());
  std::unique_ptr<JsonDoc> obj = std::move(*parsed);
  // The storage layer (etcd3 store.Create) refuses an object that carries a
  // resourceVersion other than 0, after validation and admission; a dry run
  // never reaches it. Nothing converts that error to an API status, so it is
  // answered as a 500 without a reason (responsewriters.ErrorToAPIStatus).
  const std::string body_rv = obj->IsObject() ? StringAt(*obj, "metadata.resourceVersion") : "";
  char* rv_end = nullptr;
  const unsigned long long rv_value = strtoull(body_rv.c_str(), &rv_end, 10);
  const bool rv_set = !body_rv.empty() && *rv_end == '\0' &&
                      isdigit(static_cast<unsigned char>(body_rv[0])) && rv_value != 0;
  for (int attempt = 0;; ++attempt) {
    base::Status st = PrepareForCreate(c, *obj);
    if (!st.ok()) return ReplyError(*c.res, st);
    JsonDoc opts = OptionsObject("CreateOptions", *dry, Query(*c.req, "fieldManager"));
    st = Admit(c, "CREATE", obj.get(), nullptr, *dry, &opts);
    if (!st.ok()) return ReplyError(*c.res, st);
    if (*dry) return Reply(c, 201, ToJson(*obj));
    if (rv_set)
      return ReplyError(
          *c.res, ApiErr(500, "", "resourceVersion should not be set on objects to be created"));
    auto copy = std::make_unique<JsonDoc>();
    copy->CopyFrom(*obj, copy->GetAllocator());
    ToStorageVersion(*copy, *c.type);
    auto stored = store->Put(Gr(*c.type), NamespaceOf(*c.type, c.ns), c.name, std::move(copy), 0);
    if (!stored.ok()) {
      // A generated name that collided gets a new suffix, as kube-apiserver retries.
      bool generated = !StringAt(*obj, "metadata.generateName").empty();
      if (generated && attempt < 8) {
        Member(*obj, "metadata")->RemoveMember("name");
        continue;
      }
      base::Status s = ApiErr(409, "AlreadyExists", c.type->QualifiedResource() + " \"" + c.name + "\" already exists");
      s.WithDetails(Details(c.name, *c.type));
      return ReplyError(*c.res, s);
    }
    AfterWrite(*c.type);
    return Reply(c, 201, ToJson(*AsVersion(**stored, *c.type)));
  }
}

base::StatusOr<DocPtr> ApiServer::Impl::CommitUpdate(Call& c, const DocPtr& cur, std::unique_ptr<JsonDoc> next,
                                                     bool dry_run) {
  auto merged = std::make_unique<JsonDoc>();
  auto& a = merged->GetAllocator();
  const bool status_only = c.sub == "status";
  if (!next->IsObject())
    return ApiErr(400, "BadRequest", "the body of the request is not a JSON object");
  base::Status decoded = DecodeBuiltinObject(c, *next);
  if (!decoded.ok()) return decoded;
  if (status_only) {
    merged->CopyFrom(*cur, a);
    CopyMember(*next, *merged, "status", a);
    // The status strategy validates (and the decoder prunes) the whole new
    // object against the schema, as a main-resource write does; only status
    // can differ from what is stored.
    base::Status st = ValidateCustom(c, *merged, c.name);
    if (!st.ok()) return st;
  } else {
    merged->CopyFrom(*next, a);
    if (!merged->IsObject()) return ApiErr(400, "BadRequest", "the body of the request is not a JSON object");
    Json& meta = EnsureObject(*merged, "metadata", a);
    const Json& cur_meta = *Member(*cur, "metadata");
    for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation", "namespace", "name"}) {
      CopyMember(cur_meta, meta, k, a);
    }
    meta.RemoveMember("managedFields");
    if (c.type->has_status) CopyMember(*cur, *merged, "status", a);
    if (c.type->kind == "Namespace") {
      CopyMember(*cur, *merged, "status", a);
      SetString(EnsureObject(meta, "labels", a), kNamespaceNameLabel, c.name, a);
    }
    if (!StringAt(*cur, "metadata.deletionTimestamp").empty()) {
      std::set<std::string> before = Finalizers(*cur);
      for (const auto& f : Finalizers(*merged)) {
        if (!before.count(f)) {
          return ToInvalidStatus({Forbidden("metadata.finalizers",
                                            "no new finalizers can be added if the object is being deleted, "
                                            "found new finalizers []string{\"" + f + "\"}")},
                                 c.type->group, c.type->kind, c.name);
        }
      }
    }
    base::Status lst = ValidateMeta(*c.type, c.name, *merged);
    if (!lst.ok()) return lst;
    if (c.type->kind == "CustomResourceDefinition") {
      base::Status st = Registry::ValidateCrd(*merged);
      if (!st.ok()) return st;
    }
    base::Status st = ValidateCustom(c, *merged, c.name);
    if (!st.ok()) return st;
  }
  if (c.type->builtin) {
    if (auto errs = ValidateBuiltin(c.type->group, c.type->kind, *merged); !errs.empty()) {
      return ToInvalidStatus(errs, c.type->group, c.type->kind, c.name);
    }
  }
  ToStorageVersion(*merged, *c.type);
  if (Member(*cur, "metadata") && Member(*Member(*cur, "metadata"), "generation") && SpecPart(*merged) != SpecPart(*cur)) {
    Json& meta = EnsureObject(*merged, "metadata", a);
    meta.RemoveMember("generation");
    meta.AddMember("generation", Json(static_cast<int64_t>(IntAt(*cur, "metadata", "generation") + 1)), a);
  }
  if (Comparable(*merged) == Comparable(*cur)) return cur;  // no-op: no new resourceVersion
  auto req_obj = AsVersion(*merged, *c.type);
  auto old_obj = AsVersion(*cur, *c.type);
  JsonDoc opts = OptionsObject("UpdateOptions", dry_run, Query(*c.req, "fieldManager"));
  base::Status st = Admit(c, "UPDATE", req_obj.get(), old_obj.get(), dry_run, &opts);
  if (!st.ok()) return st;
  if (dry_run) return DocPtr(std::move(merged));
  uint64_t cur_rv = RvOf(*cur);
  if (!StringAt(*merged, "metadata.deletionTimestamp").empty() && !HasFinalizers(*merged)) {
    return RemoveObject(*c.type, NamespaceOf(*c.type, c.ns), c.name, cur_rv);
  }
  auto stored = store->Put(Gr(*c.type), NamespaceOf(*c.type, c.ns), c.name, std::move(merged), cur_rv);
  if (!stored.ok()) return stored.status();
  AfterWrite(*c.type);
  return stored;
}

void ApiServer::Impl::Update(Call& c) {
  auto dry = DryRun(*c.req);
  if (!dry.ok()) return ReplyError(*c.res, dry.status());
  auto parsed = DecodeWriteBody(*c.req);
  if (!parsed.ok()) return ReplyError(*c.res, parsed.status());
  std::unique_ptr<JsonDoc> obj = std::move(*parsed);
  if (!obj->IsObject()) return ReplyError(*c.res, ApiErr(400, "BadRequest", "the body of the request is not a JSON object"));
  base::Status st = CheckKind(*obj, *c.type);
  if (!st.ok()) return ReplyError(*c.res, st);
  std::string body_name = StringAt(*obj, "metadata.name");
  if (!body_name.empty() && body_name != c.name) {
    return ReplyError(*c.res, ApiErr(400, "BadRequest", "the name of the object (" + body_name +
                                                            ") does not match the name on the URL (" + c.name + ")"));
  }
  std::string body_ns = StringAt(*obj, "metadata.namespace");
  if (c.type->namespaced && !body_ns.empty() && body_ns != c.ns) {
    return ReplyError(*c.res, ApiErr(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"));
  }
  DocPtr cur = store->Get(Gr(*c.type), NamespaceOf(*c.type, c.ns), c.name);
  if (cur == nullptr) return ReplyError(*c.res, NotFoundErr(*c.type, c.name));
  std::string rv = StringAt(*obj, "metadata.resourceVersion");
  if (rv.empty() && !c.type->builtin) {
    return ReplyError(*c.res, ToInvalidStatus({InvalidValue("metadata.resourceVersion", "0x0",
                                                            "must be specified for an update")},
                                               c.type->group, c.type->kind, c.name));
  }
  if (!rv.empty() && rv != StringAt(*cur, "metadata.resourceVersion")) {
    return ReplyError(*c.res, ConflictErr(*c.type, c.name, kModified));
  }
  SetString(*obj, "apiVersion", c.type->ApiVersion(), obj->GetAllocator());
  SetString(*obj, "kind", c.type->kind, obj->GetAllocator());
  auto r = CommitUpdate(c, cur, std::move(obj), *dry);
  if (!r.ok()) {
    if (r.status().code() == base::Code::kAborted && r.status().http_code() == 0) {
      return ReplyError(*c.res, ConflictErr(*c.type, c.name, kModified));
    }
    return ReplyError(*c.res, r.status());
  }
  Reply(c, 200, ToJson(*AsVersion(**r, *c.type)));
}

void ApiServer::Impl::Patch(Call& c) {
  auto dry = DryRun(*c.req);
  if (!dry.ok()) return ReplyError(*c.res, dry.status());
  std::string media = MediaType(c.req->get_header_value("Content-Type"));
  enum { kMerge, kJsonPatch, kStrategic } kind;
  if (media == "application/merge-patch+json") {
    kind = kMerge;
  } else if (media == "application/json-patch+json") {
    kind = kJsonPatch;
  } else if (media == "application/strategic-merge-patch+json" && c.type->builtin) {
    kind = kStrategic;
  } else {
    std::string accepted = "application/json-patch+json, application/merge-patch+json";
    if (c.type->builtin) accepted += ", application/strategic-merge-patch+json";
    std::string extra = media == "application/apply-patch+yaml"
                            ? " (server-side apply is not implemented by devcluster; use client-side apply)"
                            : "";
    return ReplyError(*c.res, ApiErr(415, "UnsupportedMediaType",
                                     "the body of the request was in an unknown format - accepted media types include: " +
                                         accepted + extra));
  }
  JsonDoc patch;
  std::string why;
  if (!ParseBounded(patch, c.req->body, &why)) {
    if (patch.HasParseError()) why = rapidjson::GetParseError_En(patch.GetParseError());
    return ReplyError(*c.res, ApiErr(400, "BadRequest", "error decoding patch: " + why));
  }
  for (int attempt = 0;; ++attempt) {
    DocPtr cur = store->Get(Gr(*c.type), NamespaceOf(*c.type, c.ns), c.name);
    if (cur == nullptr) return ReplyError(*c.res, NotFoundErr(*c.type, c.name));
    std::shared_ptr<JsonDoc> work_shared = AsVersion(*cur, *c.type);
    auto work = std::make_unique<JsonDoc>();
    work->CopyFrom(*work_shared, work->GetAllocator());
    base::Status st;
    if (kind == kMerge) {
      st = ApplyMergePatch(*work, patch);
    } else if (kind == kJsonPatch) {
      st = ApplyJsonPatch(*work, patch);
    } else {
      st = ApplyStrategicMergePatch(*work, patch, BuiltinMergeKeys());
    }
    if (!st.ok()) {
      if (st.http_code() == 0) st.WithHttp(422, "Invalid");
      return ReplyError(*c.res, st);
    }
    if (!work->IsObject()) return ReplyError(*c.res, ApiErr(422, "Invalid", "the patched object is not a JSON object"));
    std::string rv = StringAt(*work, "metadata.resourceVersion");
    bool precondition = !rv.empty() && rv != StringAt(*cur, "metadata.resourceVersion");
    if (precondition) return ReplyError(*c.res, ConflictErr(*c.type, c.name, kModified));
    st = CheckKind(*work, *c.type);
    if (!st.ok()) return ReplyError(*c.res, st);
    if (StringAt(*work, "metadata.name") != c.name) {
      return ReplyError(*c.res, ApiErr(400, "BadRequest", "the name of the object (" + StringAt(*work, "metadata.name") +
                                                              ") does not match the name on the URL (" + c.name + ")"));
    }
    auto r = CommitUpdate(c, cur, std::move(work), *dry);
    if (!r.ok()) {
      if (r.status().code() == base::Code::kAborted && r.status().http_code() == 0) {
        if (attempt < 20) continue;  // raced with another writer: re-read and re-apply
        return ReplyError(*c.res, ConflictErr(*c.type, c.name, kModified));
      }
      if (r.status().code() == base::Code::kNotFound && r.status().http_code() == 0) {
        return ReplyError(*c.res, NotFoundErr(*c.type, c.name));
      }
      return ReplyError(*c.res, r.status());
    }
    return Reply(c, 200, ToJson(*AsVersion(**r, *c.type)));
  }
}

base::StatusOr<DocPtr> ApiServer::Impl::RemoveObject(const ResourceType& t, const std::string& ns,
                                                     const std::string& name, std::optional<uint64_t> rv) {
  auto r = store->Remove(Gr(t), ns, name, rv);
  if (!r.ok()) return r.status();
  if (t.namespaced) MaybeFinishNamespace(ns);
  AfterWrite(t);
  return r;
}

// A terminating namespace goes once the last object in it has gone.
void ApiServer::Impl::MaybeFinishNamespace(const std::string& ns) {
  DocPtr nsobj = store->Get("/namespaces", "", ns);
  if (nsobj == nullptr || StringAt(*nsobj, "metadata.deletionTimestamp").empty()) return;
  std::set<std::string> seen;
  for (const auto& t : registry.All()) {
    if (!t->namespaced || !seen.insert(Gr(*t)).second) continue;
    if (!store->List(Gr(*t), ns, nullptr).empty()) return;
  }
  auto r = store->Remove("/namespaces", "", ns, std::nullopt);
  (void)r;  // NotFound: a concurrent finisher removed it first.
}

void ApiServer::Impl::AfterWrite(const ResourceType& t) {
  if (t.kind == "CustomResourceDefinition" && t.group == "apiextensions.k8s.io") {
    registry.SetCrds(store->List("apiextensions.k8s.io/customresourcedefinitions", "", nullptr));
  }
}

void ApiServer::Impl::Delete(Call& c) {
  if (!c.sub.empty()) return ReplyError(*c.res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
  auto dry = DryRun(*c.req);
  if (!dry.ok()) return ReplyError(*c.res, dry.status());
  JsonDoc opts(rapidjson::kObjectType);
  if (!c.req->body.empty()) {
    auto decoded = DecodeWriteBody(*c.req);
    if (!decoded.ok()) return ReplyError(*c.res, decoded.status());
    if (!(*decoded)->IsObject()) {
      return ReplyError(*c.res, ApiErr(400, "BadRequest", "the body of the DeleteOptions is not a valid JSON object"));
    }
    opts.CopyFrom(**decoded, opts.GetAllocator());
    if (const Json* d = Member(opts, "dryRun"); d != nullptr && d->IsArray() && !d->Empty()) *dry = true;
  }
  auto& oa = opts.GetAllocator();
  SetString(opts, "kind", "DeleteOptions", oa);
  SetString(opts, "apiVersion", "meta.k8s.io/v1", oa);
  std::string pp = Query(*c.req, "propagationPolicy");
  if (!pp.empty()) SetString(opts, "propagationPolicy", pp, oa);
  pp = StringAt(opts, "propagationPolicy");
  if (!pp.empty() && pp != "Orphan" && pp != "Background" && pp != "Foreground") {
    return ReplyError(*c.res, ApiErr(422, "Invalid", "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"" +
                                                         pp + "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""));
  }
  const std::string ns = NamespaceOf(*c.type, c.ns);
  DocPtr cur = store->Get(Gr(*c.type), ns, c.name);
  if (cur == nullptr) return ReplyError(*c.res, NotFoundErr(*c.type, c.name));
  if (const Json* pre = Member(opts, "preconditions"); pre != nullptr && pre->IsObject()) {
    std::string uid = StringAt(*pre, "uid");
    std::string rv = StringAt(*pre, "resourceVersion");
    if (!uid.empty() && uid != StringAt(*cur, "metadata.uid")) {
      return ReplyError(*c.res, ConflictErr(*c.type, c.name, "Precondition failed: UID in precondition: " + uid +
                                                                 ", UID in object meta: " + StringAt(*cur, "metadata.uid")));
    }
    if (!rv.empty() && rv != StringAt(*cur, "metadata.resourceVersion")) {
      return ReplyError(*c.res, ConflictErr(*c.type, c.name, "Precondition failed: ResourceVersion in precondition: " + rv +
                                                                 ", ResourceVersion in object meta: " +
                                                                 StringAt(*cur, "metadata.resourceVersion")));
    }
  }
  auto old_obj = AsVersion(*cur, *c.type);
  base::Status st = Admit(c, "DELETE", nullptr, old_obj.get(), *dry, &opts);
  if (!st.ok()) return ReplyError(*c.res, st);
  const bool is_ns = c.type->kind == "Namespace" && c.type->group.empty();
  if (*dry) {
    // What the write would answer, without it.
    if (is_ns || HasFinalizers(*cur)) {
      if (!is_ns) MarkDeleting(*old_obj, old_obj->GetAllocator(), Now());
      return Reply(c, 200, ToJson(*old_obj));
    }
    return Reply(
        c, 200,
        ReturnsDeletedObject(*c.type) ? ToJson(*old_obj) : DeletedStatus(*c.type, *old_obj));
  }

  if (is_ns || HasFinalizers(*cur)) {
    DocPtr marked = cur;
    if (StringAt(*cur, "metadata.deletionTimestamp").empty()) {
      auto next = std::make_unique<JsonDoc>();
      next->CopyFrom(*cur, next->GetAllocator());
      auto& a = next->GetAllocator();
      MarkDeleting(*next, a, Now());
      if (is_ns) SetString(EnsureObject(*next, "status", a), "phase", "Terminating", a);
      auto r = store->Put(Gr(*c.type), ns, c.name, std::move(next), RvOf(*cur));
      if (!r.ok()) return ReplyError(*c.res, ConflictErr(*c.type, c.name, kModified));
      marked = *r;
    }
    if (is_ns) {
      // The namespace controller's job, done inline: delete every object in it.
      std::set<std::string> seen;
      for (const auto& t : registry.All()) {
        if (!t->namespaced || !seen.insert(Gr(*t)).second) continue;
        for (const auto& d : store->List(Gr(*t), c.name, nullptr)) {
          std::string name = StringAt(*d, "metadata.name");
          if (HasFinalizers(*d)) {
            if (!StringAt(*d, "metadata.deletionTimestamp").empty()) continue;
            auto next = std::make_unique<JsonDoc>();
            next->CopyFrom(*d, next->GetAllocator());
            MarkDeleting(*next, next->GetAllocator(), Now());
            auto r = store->Put(Gr(*t), c.name, name, std::move(next), RvOf(*d));
            (void)r;  // a concurrent writer wins; the namespace stays Terminating until it is empty
          } else {
            auto r = store->Remove(Gr(*t), c.name, name, std::nullopt);
            (void)r;
          }
        }
      }
      MaybeFinishNamespace(c.name);
    }
    return Reply(c, 200, ToJson(*AsVersion(*marked, *c.type)));
  }
  if (c.type->kind == "CustomResourceDefinition") {
    // Deleting a CRD deletes its objects (kube-apiserver waits for their
    // finalizers; devcluster removes them outright).
    std::string plural = StringAt(*cur, "spec.names.plural");
    std::string group = StringAt(*cur, "spec.group");
    for (const auto& d : store->List(group + "/" + plural, "", nullptr)) {
      auto r = store->Remove(group + "/" + plural, StringAt(*d, "metadata.namespace"), StringAt(*d, "metadata.name"), std::nullopt);
      (void)r;
    }
  }
  auto r = RemoveObject(*c.type, ns, c.name, RvOf(*cur));
  if (!r.ok()) {
    if (r.status().code() == base::Code::kNotFound) return ReplyError(*c.res, NotFoundErr(*c.type, c.name));
    return ReplyError(*c.res, ConflictErr(*c.type, c.name, kModified));
  }
  auto gone = AsVersion(**r, *c.type);
  Reply(c, 200, ReturnsDeletedObject(*c.type) ? ToJson(*gone) : DeletedStatus(*c.type, *gone));
}

void ApiServer::Impl::DeleteCollection(Call& c) {
  if (c.type->kind == "Namespace") {
    return ReplyError(*c.res, ApiErr(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
  }
  auto filter = ParseFilter(*c.req, *c.type);
  if (!filter.ok()) return ReplyError(*c.res, filter.status());
  auto dry = DryRun(*c.req);
  if (!dry.ok()) return ReplyError(*c.res, dry.status());
  std::string items;
  for (const auto& d : store->List(Gr(*c.type), c.ns, nullptr)) {
    if (!filter->Matches(*d)) continue;
    Call one = c;
    one.ns = StringAt(*d, "metadata.namespace");
    one.name = StringAt(*d, "metadata.name");
    auto old_obj = AsVersion(*d, *c.type);
    JsonDoc opts = OptionsObject("DeleteOptions", *dry, "");
    base::Status st = Admit(one, "DELETE", nullptr, old_obj.get(), *dry, &opts);
    if (!st.ok()) return ReplyError(*c.res, st);
    if (*dry) continue;
    if (HasFinalizers(*d)) {
      if (!StringAt(*d, "metadata.deletionTimestamp").empty()) continue;
      auto next = std::make_unique<JsonDoc>();
      next->CopyFrom(*d, next->GetAllocator());
      MarkDeleting(*next, next->GetAllocator(), Now());
      auto r = store->Put(Gr(*c.type), one.ns, one.name, std::move(next), RvOf(*d));
      (void)r;
    } else {
      auto r = RemoveObject(*c.type, one.ns, one.name, std::nullopt);
      (void)r;
    }
  }
  Reply(c, 200, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"})");
}

// ---------------------------------------------------------------------------

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { Stop(); }

int ApiServer::port() const { return impl_->port; }

base::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Create(const ServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  auto store = Store::Open(options.dir, options.watch_window);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  impl->registry.SetCrds(impl->store->List("apiextensions.k8s.io/customresourcedefinitions", "", nullptr));
  auto ca = EnsureCa(options.dir);
  if (!ca.ok()) return ca.status();
  impl->ca = *ca;
  auto serving = EnsureServingCert(options.dir, impl->ca, {"localhost", "devcluster"}, {"127.0.0.1", "::1"});
  if (!serving.ok()) return serving.status();
  impl->serving = *serving;
  auto auth = Authenticator::Create(options.dir, impl->ca);
  if (!auth.ok()) return auth.status();
  impl->auth = std::move(*auth);
  if (!options.audit_log_path.empty()) {
    auto audit = AuditLog::Create(options.audit_log_path);
    if (!audit.ok()) return audit.status();
    impl->audit = std::move(*audit);
  }
  impl->admission = std::make_unique<Admission>(options.service_endpoints);
  // Built-in namespaces, as a fresh cluster has them.
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (impl->store->Get("/namespaces", "", ns) != nullptr) continue;
    auto d = std::make_unique<JsonDoc>();
    std::string body = std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")") + ns +
                       R"(","labels":{"kubernetes.io/metadata.name":")" + ns + R"("},"uid":")" + impl->NewUid() +
                       R"(","creationTimestamp":")" + Impl::Now() +
                       R"("},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})";
    d->Parse(body.c_str());
    auto r = impl->store->Put("/namespaces", "", ns, std::move(d), 0);
    if (!r.ok()) return r.status();
  }
  Impl* raw = impl.get();
  impl->http = std::make_unique<httplib::SSLServer>([raw](SSL_CTX& ctx) {
    return ConfigureServerTls(&ctx, raw->serving, raw->ca).ok();
  });
  if (!impl->http->is_valid()) return base::Internal("TLS setup failed for the API server");
  auto& h = *impl->http;
  h.new_task_queue = [threads = options.threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  h.set_tcp_nodelay(true);
  h.set_keep_alive_max_count(100000);
  h.set_keep_alive_timeout(60);
  h.set_read_timeout(60);
  h.set_write_timeout(30);
  h.set_payload_max_length(64 * 1024 * 1024);
  auto serve = [raw](const httplib::Request& req, httplib::Response& res) { raw->Serve(req, res); };
  const std::string all = "/.*";
  h.Get(all, serve);
  h.Post(all, serve);
  h.Put(all, serve);
  h.Patch(all, serve);
  h.Delete(all, serve);
  h.Options(all, serve);
  h.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Impl::ReplyError(res, ApiErr(500, "InternalError", "Internal error occurred: " + what));
  });
  if (options.port == 0) {
    impl->port = h.bind_to_any_port("127.0.0.1");
  } else {
    impl->port = h.bind_to_port("127.0.0.1", options.port) ? options.port : -1;
  }
  if (impl->port <= 0) {
    return base::Unavailable("cannot listen on 127.0.0.1:" + std::to_string(options.port));
  }
  base::Status ks = WriteKubeconfig(options.dir, "https://127.0.0.1:" + std::to_string(impl->port), impl->ca);
  if (!ks.ok()) return ks;
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

bool ApiServer::Run() { return impl_->http->listen_after_bind(); }

void ApiServer::Stop() {
  if (impl_ == nullptr || impl_->stopping.exchange(true)) return;
  impl_->store->WakeAll();
  impl_->http->stop();
}

}  // namespace devcluster
