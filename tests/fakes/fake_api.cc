#include "tests/fakes/fake_api.h"

#include "kube/api_status.h"
#include "tests/devcluster/json.h"
#include "tests/devcluster/patch.h"

namespace kube::testing {
namespace {

base::Status Http(int code, const char* reason, std::string message) {
  base::Status s(kube::CodeForHttp(code, reason), std::move(message));
  s.WithHttp(code, reason);
  return s;
}

std::string What(const ResourceRef& ref, std::string_view ns, std::string_view name) {
  return ref.resource + " \"" + std::string(ns) + (ns.empty() ? "" : "/") + std::string(name) +
         "\"";
}

}  // namespace

FakeApi::Key FakeApi::KeyOf(const ResourceRef& ref, std::string_view ns, std::string_view name) {
  return {ref.group + "/" + ref.resource, std::string(ns), std::string(name)};
}

std::optional<base::Status> FakeApi::Enter(const std::string& verb, const ResourceRef& ref,
                                           std::string_view ns, std::string_view name) {
  calls_.push_back(verb + " " + ref.resource + " " + std::string(ns) + "/" + std::string(name));
  if (unavailable_) return Http(503, "ServiceUnavailable", "the API server is unavailable");
  auto it = failures_.find(verb);
  if (it != failures_.end() && !it->second.empty()) {
    base::Status s = it->second.front();
    it->second.pop_front();
    return s;
  }
  return std::nullopt;
}

base::StatusOr<Object> FakeApi::Store(const Key& key, std::string json, bool keep_uid) {
  devcluster::JsonDoc doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Http(400, "BadRequest", "not a JSON object");
  auto& a = doc.GetAllocator();
  if (!doc.HasMember("metadata") || !doc["metadata"].IsObject()) {
    doc.AddMember("metadata", devcluster::Json(rapidjson::kObjectType), a);
  }
  auto& meta = doc["metadata"];
  auto set = [&](const char* k, const std::string& v) {
    if (meta.HasMember(k)) meta.RemoveMember(k);
    meta.AddMember(devcluster::Json(k, a), devcluster::Json(v.c_str(), a), a);
  };
  set("name", std::get<2>(key));
  if (!std::get<1>(key).empty()) set("namespace", std::get<1>(key));
  set("resourceVersion", std::to_string(next_rv_++));
  if (!keep_uid || !meta.HasMember("uid")) set("uid", "uid-" + std::to_string(next_uid_++));
  std::string stored = devcluster::ToJson(doc);
  objects_[key] = stored;
  return ParseObject(stored);
}

base::StatusOr<Object> FakeApi::Get(const ResourceRef& ref, std::string_view ns,
                                    std::string_view name, std::string_view) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = Enter("GET", ref, ns, name)) return *f;
  auto it = objects_.find(KeyOf(ref, ns, name));
  if (it == objects_.end()) return Http(404, "NotFound", What(ref, ns, name) + " not found");
  return ParseObject(it->second);
}

base::StatusOr<Object> FakeApi::Create(const ResourceRef& ref, std::string_view ns,
                                       std::string_view body, const CreateOptions&) {
  auto parsed = ParseObject(body);
  if (!parsed.ok()) return Http(400, "BadRequest", parsed.status().message());
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = Enter("CREATE", ref, ns, parsed->name)) return *f;
  Key key = KeyOf(ref, ns, parsed->name);
  if (objects_.count(key) != 0) {
    return Http(409, "AlreadyExists", What(ref, ns, parsed->name) + " already exists");
  }
  return Store(key, std::string(body), /*keep_uid=*/false);
}

base::StatusOr<Object> FakeApi::Update(const ResourceRef& ref, std::string_view ns,
                                       std::string_view name, std::string_view body,
                                       const UpdateOptions&) {
  auto parsed = ParseObject(body);
  if (!parsed.ok()) return Http(400, "BadRequest", parsed.status().message());
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = Enter("UPDATE", ref, ns, name)) return *f;
  Key key = KeyOf(ref, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Http(404, "NotFound", What(ref, ns, name) + " not found");
  auto stored = ParseObject(it->second);
  if (!parsed->resource_version.empty() && stored.ok() &&
      parsed->resource_version != stored->resource_version) {
    return Http(409, "Conflict",
                "Operation cannot be fulfilled on " + What(ref, ns, name) +
                    ": the object has been modified; please apply your changes to the latest "
                    "version and try again");
  }
  return Store(key, std::string(body), /*keep_uid=*/true);
}

base::StatusOr<Object> FakeApi::Patch(const ResourceRef& ref, std::string_view ns,
                                      std::string_view name, PatchType type, std::string_view patch,
                                      const PatchOptions&) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = Enter("PATCH", ref, ns, name)) return *f;
  if (type != PatchType::kMerge) return Http(415, "UnsupportedMediaType", "merge patches only");
  Key key = KeyOf(ref, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Http(404, "NotFound", What(ref, ns, name) + " not found");
  devcluster::JsonDoc target;
  target.Parse(it->second.data(), it->second.size());
  devcluster::JsonDoc p;
  p.Parse(patch.data(), patch.size());
  if (p.HasParseError()) return Http(400, "BadRequest", "the patch is not JSON");
  base::Status applied = devcluster::ApplyMergePatch(target, p);
  if (!applied.ok()) return applied;
  // As the API server: a resourceVersion in the patch is a precondition.
  auto patched = ParseObject(devcluster::ToJson(target));
  auto stored = ParseObject(it->second);
  if (patched.ok() && stored.ok() && !patched->resource_version.empty() &&
      patched->resource_version != stored->resource_version) {
    return Http(409, "Conflict",
                "Operation cannot be fulfilled on " + What(ref, ns, name) +
                    ": the object has been modified; please apply your changes to the latest "
                    "version and try again");
  }
  return Store(key, devcluster::ToJson(target), /*keep_uid=*/true);
}

base::Status FakeApi::Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             const DeleteOptions&) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = Enter("DELETE", ref, ns, name)) return *f;
  if (objects_.erase(KeyOf(ref, ns, name)) == 0) {
    return Http(404, "NotFound", What(ref, ns, name) + " not found");
  }
  return base::Status::Ok();
}

void FakeApi::SetUnavailable(bool unavailable) {
  std::lock_guard<std::mutex> l(mu_);
  unavailable_ = unavailable;
}

void FakeApi::FailNext(const std::string& verb, base::Status status) {
  std::lock_guard<std::mutex> l(mu_);
  failures_[verb].push_back(std::move(status));
}

std::optional<std::string> FakeApi::Peek(const ResourceRef& ref, std::string_view ns,
                                         std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(KeyOf(ref, ns, name));
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> FakeApi::calls() const {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

}  // namespace kube::testing
