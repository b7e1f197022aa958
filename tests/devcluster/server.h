// ApiServer: devcluster's HTTPS front end. It authenticates the caller,
// routes Kubernetes API paths to discovery, OpenAPI and the generic REST
// handlers, runs validating admission webhooks, and serves watches.
//
// Thread safety: Run() blocks serving requests on a thread pool; Stop() may
// be called from any thread (e.g. a signal-watching thread).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "base/status.h"

namespace devcluster {

struct ServerOptions {
  std::string dir;                 // state, PKI and kubeconfig live here
  int port = 0;                    // 0 = any free port
  std::map<std::string, std::string> service_endpoints;  // "ns/name" -> "host:port"
  size_t watch_window = 10000;     // recent events kept for watches
  size_t max_body_bytes = 3 * 1024 * 1024;  // kube-apiserver's limit
  int threads = 256;               // each open watch holds one
  std::string audit_log_path;      // non-empty: one JSON line per request (audit.h)
};

class ApiServer {
 public:
  static base::StatusOr<std::unique_ptr<ApiServer>> Create(const ServerOptions& options);
  ~ApiServer();

  int port() const;
  // Serves until Stop(). Returns false if the server could not run.
  bool Run();
  void Stop();

  struct Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace devcluster
