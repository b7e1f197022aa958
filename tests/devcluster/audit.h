// devcluster's audit log (--audit-log-path FILE): one JSON line per request,
// in the shape of kube-apiserver's audit.k8s.io/v1 Event at level Metadata,
// stage ResponseComplete, so that a test can see who asked for what and check
// it against RBAC rules (devcluster itself authorizes nothing).
//
//   {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",
//    "stage":"ResponseComplete","requestURI":"/api/v1/nodes?watch=1",
//    "verb":"watch","user":{"username":"...","groups":["..."]},
//    "objectRef":{"resource":"nodes","namespace":"","name":"","apiGroup":"",
//                 "apiVersion":"v1","subresource":""},
//    "responseStatus":{"code":200},"requestReceivedTimestamp":"..."}
//
// The verb is the authorization verb kube-apiserver computes
// (request.RequestInfoFactory): get, list, watch, create, update, patch,
// delete, deletecollection for resource requests; the lowercase HTTP method
// for other paths (discovery, /openapi, /metrics), which have no objectRef.
// Unauthenticated requests (401) have no user and are not logged, as
// kube-apiserver logs them only at the RequestReceived stage.
//
// Thread safety: AuditLog::Write may be called from any number of threads;
// each line is written whole.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tests/devcluster/auth.h"
#include "tests/devcluster/metrics.h"

namespace devcluster {

// What a request asks for, as kube-apiserver's RequestInfo has it.
struct RequestInfo {
  bool resource_request = false;
  std::string verb;  // the authorization verb (see above)
  std::string api_group, api_version, resource, subresource, ns, name;
};

// kube-apiserver's RequestInfo for a request line (the path decoded, without
// the query).
RequestInfo ResolveRequestInfo(std::string_view method, std::string_view path, const QueryParams& query);

// One audit line (no trailing newline). `uri` is the path with its query.
std::string AuditLine(const RequestInfo& info, const UserInfo& user, std::string_view uri, int code,
                      std::string_view received_timestamp);

class AuditLog {
 public:
  // Opens (appends to, creating it 0600) `path`. InvalidArgument when it
  // cannot be opened, with the system's reason.
  static base::StatusOr<std::unique_ptr<AuditLog>> Create(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends the line and a newline, flushed at once (a test reads the file
  // while devcluster runs).
  void Write(std::string_view line);

 private:
  explicit AuditLog(FILE* f) : f_(f) {}
  std::mutex mu_;
  FILE* f_;  // owned
};

}  // namespace devcluster
