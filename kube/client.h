// Client: the REST verbs of the Kubernetes API on top of Transport.
//
// Every method returns the API's error as a base::Status (404 NotFound,
// 409 Aborted/AlreadyExists, 410 OutOfRange, ...), keeping the API's reason,
// message and details. Thread safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "kube/api.h"
#include "kube/config.h"
#include "kube/object.h"
#include "kube/transport.h"
#include "kube/watch.h"

namespace kube {

struct ResourceRef {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case: "configmaps"
  bool namespaced = true;
};

// "/api/v1/namespaces/NS/RESOURCE/NAME/SUBRESOURCE" for the core group,
// "/apis/GROUP/VERSION/..." otherwise. Empty ns, name or subresource are
// omitted (empty ns on a namespaced resource lists across all namespaces).
std::string ResourcePath(const ResourceRef& ref, std::string_view ns, std::string_view name = "",
                         std::string_view subresource = "");

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0: no paging
  std::string continue_token;
  std::string resource_version;  // "" = most recent; "0" = any (cache)
  int timeout_seconds = 0;
};

struct ObjectList {
  std::vector<Object> items;
  std::string resource_version;
  std::string continue_token;
};

struct CreateOptions {
  bool dry_run = false;
  std::string field_manager;
  std::string subresource;
};

struct UpdateOptions {
  bool dry_run = false;
  std::string field_manager;
  std::string subresource;  // "status" for the status subresource
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

// The Content-Type of a patch type ("application/merge-patch+json", ...).
const char* PatchContentType(PatchType type);

struct PatchOptions {
  bool dry_run = false;
  std::string field_manager;  // required for kApply
  std::string subresource;
  bool force = false;  // kApply only
};

struct DeleteOptions {
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::string propagation_policy;  // Foreground, Background, Orphan or ""
  bool dry_run = false;
  std::optional<int64_t> grace_period_seconds;
};

struct WatchOptions {
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // server-side timeout; 0 = the server's default
};

class Client final : public Api {
 public:
  // The clock drives rate limiting, retries and credential expiry; it must
  // outlive the client.
  static base::StatusOr<std::unique_ptr<Client>> Create(RestConfig config,
                                                        base::Clock* clock = base::RealClock(),
                                                        RetryPolicy retry = {});
  ~Client();

  const RestConfig& config() const;
  // Receives each Warning header's text (kubectl prints "Warning: TEXT").
  // Set before issuing requests.
  void SetWarningHandler(std::function<void(const std::string&)> handler);

  base::StatusOr<Object> Get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             std::string_view subresource = "") override;
  base::StatusOr<ObjectList> List(const ResourceRef& ref, std::string_view ns,
                                  const ListOptions& options = {});
  // `body` is the object's JSON; metadata.generateName is honoured by the
  // server when metadata.name is empty.
  base::StatusOr<Object> Create(const ResourceRef& ref, std::string_view ns, std::string_view body,
                                const CreateOptions& options = {}) override;
  // PUT of the whole object (or subresource); metadata.resourceVersion in the
  // body makes it conditional (Aborted on conflict).
  base::StatusOr<Object> Update(const ResourceRef& ref, std::string_view ns, std::string_view name,
                                std::string_view body, const UpdateOptions& options = {}) override;
  base::StatusOr<Object> Update(const ResourceRef& ref, const Object& obj,
                                const UpdateOptions& options = {});
  base::StatusOr<Object> Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                               PatchType type, std::string_view patch,
                               const PatchOptions& options = {}) override;
  // Ok when the object is gone or marked for deletion (finalizers pending).
  base::Status Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                      const DeleteOptions& options = {}) override;
  // Starts a watch; blocks until the server accepted it. An expired
  // resource_version fails here with OutOfRange (HTTP 410) or arrives as an
  // ERROR event with an OutOfRange status.
  base::StatusOr<std::unique_ptr<kube::Watch>> Watch(const ResourceRef& ref, std::string_view ns,
                                                     const WatchOptions& options = {});

  // A raw request (discovery and the like). Non-2xx responses become a Status.
  base::StatusOr<HttpResponse> Do(
      const std::string& method, const std::string& path,
      const std::vector<std::pair<std::string, std::string>>& query = {},
      std::string_view body = "", std::string_view content_type = "");

 private:
  explicit Client(std::unique_ptr<Transport> transport);
  std::unique_ptr<Transport> transport_;
};

}  // namespace kube
