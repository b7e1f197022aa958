// Api: the object verbs a controller uses, as an interface, so that
// reconcilers and other writers are unit-tested against a fake
// (tests/fakes/fake_api.h) that can refuse, conflict or be unreachable on
// demand. kube::Client is the real implementation.
//
// Errors as Client's: NotFound, AlreadyExists, Aborted (409 Conflict: re-read
// and retry), InvalidArgument (400/422), Unavailable (429, 5xx, no connection).
// Thread safety: implementations allow concurrent calls.
#pragma once

#include <string_view>

#include "base/status.h"
#include "kube/object.h"

namespace kube {

struct ResourceRef;
struct CreateOptions;
struct UpdateOptions;
struct PatchOptions;
struct DeleteOptions;
enum class PatchType;

class Api {
 public:
  virtual ~Api() = default;
  virtual base::StatusOr<Object> Get(const ResourceRef& ref, std::string_view ns,
                                     std::string_view name, std::string_view subresource) = 0;
  virtual base::StatusOr<Object> Create(const ResourceRef& ref, std::string_view ns,
                                        std::string_view body, const CreateOptions& options) = 0;
  virtual base::StatusOr<Object> Update(const ResourceRef& ref, std::string_view ns,
                                        std::string_view name, std::string_view body,
                                        const UpdateOptions& options) = 0;
  virtual base::StatusOr<Object> Patch(const ResourceRef& ref, std::string_view ns,
                                       std::string_view name, PatchType type,
                                       std::string_view patch, const PatchOptions& options) = 0;
  virtual base::Status Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                              const DeleteOptions& options) = 0;
};

}  // namespace kube
