// Status and StatusOr<T>: the one error type of the project.
//
// A Status carries a canonical code (what callers branch on), a message for
// people, and, when the error came from (or goes to) the Kubernetes API, the
// API's own fields: HTTP code, `reason` (e.g. "Conflict", "Expired") and the
// `details` object as raw JSON (kube/api_status.h maps HTTP answers).
// Retry decisions use code(), never message text.
//
// Thread safety: values; safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace base {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // 400 BadRequest, 422 Invalid
  kNotFound,            // 404
  kAlreadyExists,       // 409 AlreadyExists
  kFailedPrecondition,  // 412, and "cannot do this in the current state"
  kAborted,             // 409 Conflict: re-read and retry
  kOutOfRange,          // 410 Gone/Expired: the resourceVersion is too old, relist
  kUnavailable,         // 429, 5xx, connection errors: retry with backoff
  kDeadlineExceeded,    // 504 and client-side timeouts
  kInternal,            // 500 and our own bugs
  kPermissionDenied,    // 403
  kUnauthenticated,     // 401
  kUnsupported,         // 405, 406, 415
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Kubernetes API fields; http_code() is 0 when the error did not come from HTTP.
  int http_code() const { return http_code_; }
  const std::string& reason() const { return reason_; }
  const std::string& details_json() const { return details_json_; }
  // Seconds from a Retry-After header or details.retryAfterSeconds; 0 if none.
  int retry_after_seconds() const { return retry_after_seconds_; }

  Status& WithHttp(int http_code, std::string reason) {
    http_code_ = http_code;
    reason_ = std::move(reason);
    return *this;
  }
  Status& WithDetails(std::string details_json) {
    details_json_ = std::move(details_json);
    return *this;
  }
  Status& WithRetryAfter(int seconds) {
    retry_after_seconds_ = seconds;
    return *this;
  }

  // "NotFound: message" (plus " (HTTP 404 NotFound)" when known).
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int http_code_ = 0;
  std::string reason_;
  std::string details_json_;
  int retry_after_seconds_ = 0;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status Aborted(std::string m) { return Status(Code::kAborted, std::move(m)); }
inline Status OutOfRange(std::string m) { return Status(Code::kOutOfRange, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status DeadlineExceeded(std::string m) {
  return Status(Code::kDeadlineExceeded, std::move(m));
}
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status PermissionDenied(std::string m) {
  return Status(Code::kPermissionDenied, std::move(m));
}
inline Status Unauthenticated(std::string m) {
  return Status(Code::kUnauthenticated, std::move(m));
}
inline Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace base
