#include "kube/client.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kube {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

base::StatusOr<Object> ParseResponseObject(const HttpResponse& r) {
  auto obj = ParseObject(r.body);
  if (!obj.ok()) return base::Internal("the server returned an invalid object: " + obj.status().message());
  return obj;
}

void AddWriteOptions(Query& q, bool dry_run, const std::string& field_manager) {
  if (dry_run) q.emplace_back("dryRun", "All");
  if (!field_manager.empty()) q.emplace_back("fieldManager", field_manager);
}

}  // namespace

std::string ResourcePath(const ResourceRef& ref, std::string_view ns, std::string_view name,
                         std::string_view subresource) {
  std::string p = ref.group.empty() ? "/api/" + ref.version : "/apis/" + ref.group + "/" + ref.version;
  if (ref.namespaced && !ns.empty()) p += "/namespaces/" + UrlEncode(ns);
  p += "/" + ref.resource;
  if (!name.empty()) {
    p += "/" + UrlEncode(name);
    if (!subresource.empty()) p += "/" + std::string(subresource);
  }
  return p;
}

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kApply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

Client::Client(std::unique_ptr<Transport> transport) : transport_(std::move(transport)) {}
Client::~Client() = default;

base::StatusOr<std::unique_ptr<Client>> Client::Create(RestConfig config, base::Clock* clock,
                                                 RetryPolicy retry) {
  auto t = Transport::Create(config, clock, retry);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Client>(new Client(std::move(*t)));
}

const RestConfig& Client::config() const { return transport_->config(); }

void Client::SetWarningHandler(std::function<void(const std::string&)> handler) {
  transport_->SetWarningHandler(std::move(handler));
}

base::StatusOr<HttpResponse> Client::Do(const std::string& method, const std::string& path,
                                  const Query& query, std::string_view body,
                                  std::string_view content_type) {
  HttpRequest req;
  req.method = method;
  req.path = path;
  req.query = query;
  req.body = std::string(body);
  req.content_type = std::string(content_type);
  return transport_->Do(req);
}

base::StatusOr<Object> Client::Get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             std::string_view subresource) {
  if (name.empty()) return base::InvalidArgument("Get: name is empty");
  auto r = Do("GET", ResourcePath(ref, ns, name, subresource));
  if (!r.ok()) return r.status();
  return ParseResponseObject(*r);
}

base::StatusOr<ObjectList> Client::List(const ResourceRef& ref, std::string_view ns,
                                  const ListOptions& o) {
  Query q;
  if (!o.label_selector.empty()) q.emplace_back("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) q.emplace_back("fieldSelector", o.field_selector);
  if (o.limit > 0) q.emplace_back("limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) q.emplace_back("continue", o.continue_token);
  if (!o.resource_version.empty()) q.emplace_back("resourceVersion", o.resource_version);
  if (o.timeout_seconds > 0) q.emplace_back("timeoutSeconds", std::to_string(o.timeout_seconds));
  auto r = Do("GET", ResourcePath(ref, ns), q);
  if (!r.ok()) return r.status();
  rapidjson::Document doc;
  doc.Parse(r->body.data(), r->body.size());
  if (doc.HasParseError() || !doc.IsObject()) return base::Internal("list response is not a JSON object");
  ObjectList out;
  std::string kind, api_version;
  if (auto k = doc.FindMember("kind"); k != doc.MemberEnd() && k->value.IsString()) {
    kind = k->value.GetString();
    if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
      kind.resize(kind.size() - 4);
    } else {
      kind.clear();
    }
  }
  if (auto a = doc.FindMember("apiVersion"); a != doc.MemberEnd() && a->value.IsString()) {
    api_version = a->value.GetString();
  }
  if (auto m = doc.FindMember("metadata"); m != doc.MemberEnd() && m->value.IsObject()) {
    if (auto rv = m->value.FindMember("resourceVersion");
        rv != m->value.MemberEnd() && rv->value.IsString()) {
      out.resource_version = rv->value.GetString();
    }
    if (auto c = m->value.FindMember("continue"); c != m->value.MemberEnd() && c->value.IsString()) {
      out.continue_token = c->value.GetString();
    }
  }
  auto items = doc.FindMember("items");
  if (items != doc.MemberEnd() && items->value.IsArray()) {
    out.items.reserve(items->value.Size());
    for (const auto& item : items->value.GetArray()) {
      auto obj = ObjectFromValue(item, api_version, kind);
      if (!obj.ok()) return base::Internal("list item is invalid: " + obj.status().message());
      out.items.push_back(std::move(*obj));
    }
  } else if (items != doc.MemberEnd() && !items->value.IsNull()) {
    return base::Internal("list response has a non-array items field");
  }
  return out;
}

base::StatusOr<Object> Client::Create(const ResourceRef& ref, std::string_view ns, std::string_view body,
                                const CreateOptions& o) {
  Query q;
  AddWriteOptions(q, o.dry_run, o.field_manager);
  auto r = Do("POST", ResourcePath(ref, ns), q, body, "application/json");
  if (!r.ok()) return r.status();
  return ParseResponseObject(*r);
}

base::StatusOr<Object> Client::Update(const ResourceRef& ref, std::string_view ns, std::string_view name,
                                std::string_view body, const UpdateOptions& o) {
  if (name.empty()) return base::InvalidArgument("Update: name is empty");
  Query q;
  AddWriteOptions(q, o.dry_run, o.field_manager);
  auto r = Do("PUT", ResourcePath(ref, ns, name, o.subresource), q, body, "application/json");
  if (!r.ok()) return r.status();
  return ParseResponseObject(*r);
}

base::StatusOr<Object> Client::Update(const ResourceRef& ref, const Object& obj, const UpdateOptions& o) {
  return Update(ref, obj.namespace_, obj.name, obj.ToJson(), o);
}

base::StatusOr<Object> Client::Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                               PatchType type, std::string_view patch, const PatchOptions& o) {
  if (name.empty()) return base::InvalidArgument("Patch: name is empty");
  if (type == PatchType::kApply && o.field_manager.empty()) {
    return base::InvalidArgument("Patch: server-side apply needs a field manager");
  }
  Query q;
  AddWriteOptions(q, o.dry_run, o.field_manager);
  if (o.force && type == PatchType::kApply) q.emplace_back("force", "true");
  auto r = Do("PATCH", ResourcePath(ref, ns, name, o.subresource), q, patch,
              PatchContentType(type));
  if (!r.ok()) return r.status();
  return ParseResponseObject(*r);
}

base::Status Client::Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                      const DeleteOptions& o) {
  if (name.empty()) return base::InvalidArgument("Delete: name is empty");
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("kind");
  w.String("DeleteOptions");
  w.Key("apiVersion");
  w.String("v1");
  if (o.precondition_uid || o.precondition_resource_version) {
    w.Key("preconditions");
    w.StartObject();
    if (o.precondition_uid) {
      w.Key("uid");
      w.String(o.precondition_uid->c_str());
    }
    if (o.precondition_resource_version) {
      w.Key("resourceVersion");
      w.String(o.precondition_resource_version->c_str());
    }
    w.EndObject();
  }
  if (!o.propagation_policy.empty()) {
    w.Key("propagationPolicy");
    w.String(o.propagation_policy.c_str());
  }
  if (o.grace_period_seconds) {
    w.Key("gracePeriodSeconds");
    w.Int64(*o.grace_period_seconds);
  }
  if (o.dry_run) {
    w.Key("dryRun");
    w.StartArray();
    w.String("All");
    w.EndArray();
  }
  w.EndObject();
  Query q;
  if (o.dry_run) q.emplace_back("dryRun", "All");
  if (!o.propagation_policy.empty()) q.emplace_back("propagationPolicy", o.propagation_policy);
  if (o.grace_period_seconds) {
    q.emplace_back("gracePeriodSeconds", std::to_string(*o.grace_period_seconds));
  }
  auto r = Do("DELETE", ResourcePath(ref, ns, name), q,
              std::string_view(buf.GetString(), buf.GetSize()), "application/json");
  return r.ok() ? base::Status::Ok() : r.status();
}

base::StatusOr<std::unique_ptr<kube::Watch>> Client::Watch(const ResourceRef& ref, std::string_view ns,
                                                     const WatchOptions& o) {
  HttpRequest req;
  req.path = ResourcePath(ref, ns);
  req.query.emplace_back("watch", "1");
  if (!o.resource_version.empty()) req.query.emplace_back("resourceVersion", o.resource_version);
  if (!o.label_selector.empty()) req.query.emplace_back("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) req.query.emplace_back("fieldSelector", o.field_selector);
  if (o.allow_bookmarks) req.query.emplace_back("allowWatchBookmarks", "true");
  if (o.timeout_seconds > 0) {
    req.query.emplace_back("timeoutSeconds", std::to_string(o.timeout_seconds));
    req.read_timeout = std::chrono::seconds(o.timeout_seconds + 30);
  } else {
    // Without a server timeout, only bookmarks keep an idle stream alive; a
    // long read timeout still detects a dead server eventually.
    req.read_timeout = std::chrono::minutes(30);
  }
  Transport* t = transport_.get();
  return kube::Watch::Open([t, &req](Transport::ChunkFn chunk, Transport::DoneFn done) {
    return t->OpenStream(req, std::move(chunk), std::move(done));
  });
}

}  // namespace kube
