#include "tests/devcluster/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

#include "tests/devcluster/json.h"

namespace devcluster {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

RequestInfo ResolveRequestInfo(std::string_view method, std::string_view path, const QueryParams& query) {
  // The metrics' classification already follows RequestInfoFactory for the
  // group, version, resource, subresource and the kind of verb; what it does
  // not keep is the namespace and the name.
  RequestLabels l = ClassifyRequest(method, path, query, "");
  RequestInfo info;
  if (l.component.empty()) {  // not a resource request
    info.verb = Lower(method == "HEAD" ? std::string_view("GET") : method);
    return info;
  }
  info.resource_request = true;
  info.api_group = l.group;
  info.api_version = l.version;
  info.resource = l.resource;
  info.subresource = l.subresource;

  std::vector<std::string_view> seg = Segments(path);
  size_t rest = seg[0] == "api" ? 2 : 3;
  if (rest < seg.size() && seg[rest] == "watch") ++rest;
  std::vector<std::string_view> parts(seg.begin() + static_cast<long>(rest), seg.end());
  if (parts.size() > 1 && parts[0] == "namespaces") {
    info.ns = std::string(parts[1]);
    if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") {
      parts.erase(parts.begin(), parts.begin() + 2);
    }
  }
  const bool named = parts.size() >= 2;
  if (named) info.name = std::string(parts[1]);

  if (l.verb == "GET") {
    info.verb = "get";
  } else if (l.verb == "LIST") {
    info.verb = "list";
  } else if (l.verb == "WATCH") {
    info.verb = "watch";
  } else if (l.verb == "POST") {
    info.verb = "create";
  } else if (l.verb == "PUT") {
    info.verb = "update";
  } else if (l.verb == "PATCH" || l.verb == "APPLY") {
    info.verb = "patch";
  } else if (l.verb == "DELETE") {
    info.verb = named ? "delete" : "deletecollection";
  } else {
    info.verb = Lower(method);
  }
  return info;
}

std::string AuditLine(const RequestInfo& info, const UserInfo& user, std::string_view uri, int code,
                      std::string_view received_timestamp) {
  JsonDoc d(rapidjson::kObjectType);
  Alloc& a = d.GetAllocator();
  SetString(d, "kind", "Event", a);
  SetString(d, "apiVersion", "audit.k8s.io/v1", a);
  SetString(d, "level", "Metadata", a);
  SetString(d, "stage", "ResponseComplete", a);
  SetString(d, "requestURI", uri, a);
  SetString(d, "verb", info.verb, a);
  Json u(rapidjson::kObjectType);
  SetString(u, "username", user.username, a);
  if (!user.uid.empty()) SetString(u, "uid", user.uid, a);
  Json groups(rapidjson::kArrayType);
  for (const std::string& g : user.groups) groups.PushBack(Json(g.c_str(), a), a);
  SetValue(u, "groups", groups, a);
  SetValue(d, "user", u, a);
  if (info.resource_request) {
    Json ref(rapidjson::kObjectType);
    SetString(ref, "resource", info.resource, a);
    if (!info.ns.empty()) SetString(ref, "namespace", info.ns, a);
    if (!info.name.empty()) SetString(ref, "name", info.name, a);
    SetString(ref, "apiGroup", info.api_group, a);
    SetString(ref, "apiVersion", info.api_version, a);
    if (!info.subresource.empty()) SetString(ref, "subresource", info.subresource, a);
    SetValue(d, "objectRef", ref, a);
  }
  Json status(rapidjson::kObjectType);
  status.AddMember("code", code, a);
  SetValue(d, "responseStatus", status, a);
  SetString(d, "requestReceivedTimestamp", received_timestamp, a);
  return ToJson(d);
}

base::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return base::InvalidArgument("--audit-log-path " + path + ": " + strerror(errno));
  FILE* f = fdopen(fd, "a");
  if (f == nullptr) {
    close(fd);
    return base::InvalidArgument("--audit-log-path " + path + ": " + strerror(errno));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(f));
}

AuditLog::~AuditLog() { fclose(f_); }

void AuditLog::Write(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  fwrite(line.data(), 1, line.size(), f_);
  fputc('\n', f_);
  fflush(f_);
}

}  // namespace devcluster
