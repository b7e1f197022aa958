// FakeApi: an in-memory kube::Api for reconciler and writer unit tests.
//
// Objects live in a map keyed by resource, namespace and name, with
// resourceVersion and uid assigned as the API server does; Update with a
// stale resourceVersion is a 409 Conflict (Aborted), Create of an existing
// name 409 AlreadyExists, a missing object 404 NotFound. Merge patches are
// applied with devcluster's RFC 7386 implementation; a metadata.resourceVersion
// in the patch is a precondition (409 Conflict when stale), as on the API server. Faults on demand:
// SetUnavailable() makes every call fail as a dead API server would, and
// FailNext() fails the next call of one verb with a given Status.
//
// Every call is recorded ("PATCH leases kubevirt/name") for assertions.
// Thread safety: all methods may be called from any thread.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kube/api.h"
#include "kube/client.h"

namespace kube::testing {

class FakeApi final : public Api {
 public:
  base::StatusOr<Object> Get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             std::string_view subresource) override;
  base::StatusOr<Object> Create(const ResourceRef& ref, std::string_view ns, std::string_view body,
                                const CreateOptions& options) override;
  base::StatusOr<Object> Update(const ResourceRef& ref, std::string_view ns, std::string_view name,
                                std::string_view body, const UpdateOptions& options) override;
  base::StatusOr<Object> Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                               PatchType type, std::string_view patch,
                               const PatchOptions& options) override;
  base::Status Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                      const DeleteOptions& options) override;

  // Every call fails with Unavailable while set.
  void SetUnavailable(bool unavailable);
  // The next call of `verb` ("GET", "CREATE", "UPDATE", "PATCH", "DELETE") fails with `status`.
  void FailNext(const std::string& verb, base::Status status);

  // The stored object's JSON, or nullopt.
  std::optional<std::string> Peek(const ResourceRef& ref, std::string_view ns,
                                  std::string_view name) const;
  std::vector<std::string> calls() const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // group/resource, ns, name
  static Key KeyOf(const ResourceRef& ref, std::string_view ns, std::string_view name);
  // Records the call and returns the injected failure, if any. Locks held.
  std::optional<base::Status> Enter(const std::string& verb, const ResourceRef& ref,
                                    std::string_view ns, std::string_view name);
  base::StatusOr<Object> Store(const Key& key, std::string json, bool keep_uid);

  mutable std::mutex mu_;
  std::map<Key, std::string> objects_;
  int64_t next_rv_ = 1;
  int64_t next_uid_ = 1;
  bool unavailable_ = false;
  std::map<std::string, std::deque<base::Status>> failures_;
  std::vector<std::string> calls_;
};

}  // namespace kube::testing
