// The webhook's HTTPS server: cpp-httplib's SSLServer with the TLS policy and
// certificate rotation of tls.h, tuned for an admission webhook
// (style.md §9), serving one HttpHandler for every request.
//
// Lifecycle: Create() binds the port (0 picks one; port() tells which);
// Serve() blocks until Stop(), which may be called from any thread (a signal
// thread): the listener closes at once and requests in progress finish, but
// cpp-httplib 0.11.4 keeps each idle keep-alive connection's thread until that
// connection's keep-alive timeout, so Serve() may return only that much later.
// A process that must exit promptly calls Stop(), then Drain() (every request
// that started has had its response written), then exits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "kube/status.h"
#include "webhook/http.h"
#include "webhook/tls.h"

namespace httplib {
class SSLServer;
}

namespace webhook {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 8443;
  std::string client_ca_file;  // non-empty: require client certificates (mTLS)
  // A VMIM or KubeVirt AdmissionReview is a few KiB (an UPDATE carries the
  // object twice). 1 MiB leaves two orders of magnitude of room and bounds the
  // memory that hostile clients can pin to threads x 1 MiB. Larger bodies get
  // 413 and the connection is closed.
  size_t max_body_bytes = 1 << 20;
  // Per read/write call. The API server waits at most timeoutSeconds (5 s in
  // our manifests), so a request slower than this is already lost.
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  // cpp-httplib serves one connection per thread for the connection's whole
  // life, idle keep-alive time included. The API server keeps a pool of idle
  // connections per replica, and each holds a thread; with too few threads a
  // new connection waits in the queue until an idle one times out. 128 threads
  // leave room for several API server replicas' pools (and the benchmark's 32
  // idle + 32 busy connections) at a cost of untouched stack address space.
  int threads = 128;
  std::chrono::seconds keep_alive_timeout{30};
  // Requests per connection before it is closed (cpp-httplib's default 5
  // would force a new TLS handshake every 5 admissions).
  size_t keep_alive_max_count = 100000;
};

class Server {
 public:
  // `certs` must outlive the server. Returns InvalidArgument for a bad client
  // CA file, Unavailable when the address cannot be bound.
  static kube::StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options,
                                                        CertReloader* certs, HttpHandler handler);
  ~Server();  // stops and waits
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  // Serves until Stop(). Returns Internal when the listener failed. Returns
  // at once when Stop() came first.
  kube::Status Serve();
  // Idempotent; may come before, during or after Serve().
  void Stop();
  // Waits until no request is in progress (from its headers being read to
  // its response being written). False when `timeout` passed first.
  bool Drain(std::chrono::milliseconds timeout);
  int active_requests() const { return active_; }

 private:
  Server() = default;
  std::unique_ptr<httplib::SSLServer> http_;
  HttpHandler handler_;
  int port_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> serving_{false};
  std::atomic<int> active_{0};
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
};

}  // namespace webhook
