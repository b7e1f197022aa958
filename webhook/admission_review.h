// AdmissionReview (admission.k8s.io/v1) codec: the wire format between the
// API server and the webhook. Pure functions, no I/O.
//
// DecodeAdmissionReview checks the type of every field it reads and of every
// field of the request it knows, so that hostile input is an error and never
// an assertion; EncodeAdmissionReview always echoes the request's uid.
//
// Thread safety: functions are reentrant; decoded values are immutable and may
// be shared between threads.
#pragma once

#include <rapidjson/fwd.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace webhook {

inline constexpr char kAdmissionApiVersion[] = "admission.k8s.io/v1";
inline constexpr char kAdmissionReviewKind[] = "AdmissionReview";

// Deeper JSON is refused before it is parsed (RapidJSON and every recursive
// walk over a document would otherwise be a stack-overflow vector). Kubernetes
// objects nest far less than this. Enforced while parsing; tighter than
// api::kMaxJsonDepth because the whole review wraps the object.
inline constexpr int kMaxJsonDepth = 64;

struct GroupVersionKind {
  std::string group, version, kind;
};

struct GroupVersionResource {
  std::string group, version, resource;
};

struct UserInfo {
  std::string username, uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

enum class Operation { kCreate, kUpdate, kDelete, kConnect };
// The offset of the first byte that is not part of well-formed UTF-8 (RFC
// 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or
// text.size() when all of it is.
size_t FirstInvalidUtf8(std::string_view text);

const char* OperationName(Operation op);  // "CREATE", ...

struct AdmissionRequest {
  std::string uid;
  GroupVersionKind kind;
  GroupVersionResource resource;
  std::string sub_resource;
  Operation operation = Operation::kCreate;
  std::string namespace_, name;
  UserInfo user_info;
  bool dry_run = false;
  // The parsed review; `object` and `old_object` point into it and are null
  // when the field is absent or JSON null. Both are JSON objects otherwise.
  std::shared_ptr<const rapidjson::Document> doc;
  const rapidjson::Value* object = nullptr;
  const rapidjson::Value* old_object = nullptr;
};

// Decodes an AdmissionReview v1 request. Returns InvalidArgument (HTTP 400
// BadRequest attached) listing every problem found, each with its field path
// ("request.kind.group: want a string, got a number"), when the body is not
// JSON, nests deeper than kMaxJsonDepth, is not an admission.k8s.io/v1
// AdmissionReview, lacks a non-empty request.uid, or any known field has the
// wrong type or value.
base::StatusOr<AdmissionRequest> DecodeAdmissionReview(std::string_view body);

struct StatusCause {
  std::string reason;  // machine-readable code, e.g. "NotLiveMigratable"
  std::string message;
  std::string field;  // JSON path of the offending field, may be empty
};

struct AdmissionResponse {
  std::string uid;  // must be the request's uid
  bool allowed = true;
  // status is written only for denials (allowed == false).
  int code = 0;        // HTTP code of the denial, e.g. 403, 422, 429
  std::string reason;  // metav1.StatusReason, e.g. "Forbidden"
  std::string message;
  std::vector<StatusCause> causes;
  std::optional<int> retry_after_seconds;
  std::vector<std::string> warnings;
};

// Encodes `response` as an admission.k8s.io/v1 AdmissionReview. Denials carry
// status{status: "Failure", code, reason, message, details{causes,
// retryAfterSeconds}}; empty reason/message/causes are omitted.
std::string EncodeAdmissionReview(const AdmissionResponse& response);

}  // namespace webhook
