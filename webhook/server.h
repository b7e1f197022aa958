// The webhook's HTTPS server: an epoll event loop per thread over non-blocking
// OpenSSL connections and HTTP/1.1 (http1.h), with the TLS policy and
// certificate rotation of tls.h, serving one HttpHandler for every request.
//
// Why not cpp-httplib's server: it serves each connection on its own thread
// for the connection's whole life, so every request costs a thread wake-up
// and a context switch, and 32 busy keep-alive connections on one core gave
// 0.18x nginx's throughput and a 7 ms p99 (docs/benchmarks.md). Here each
// loop thread owns its connections; an admission is decided from the cache
// in microseconds, so the handler runs on the loop thread.
//
// Connections: TLS handshake, then requests (keep-alive and pipelining, as
// many per connection as `keep_alive_max_count`; HTTP/1.0 closes after one).
// A connection that keeps sending gets 16 reads per turn, then the others
// are served. Timeouts, checked every 100 ms: the handshake must end within
// `read_timeout` of the accept, and each request arrive in full within
// `read_timeout` of its first byte (a pipelined one: of the previous
// response), else 408 and close, which also bounds slow-loris clients; an
// idle connection is closed after `keep_alive_timeout`; a response that makes
// no progress for `write_timeout` closes the connection. Errors the server
// produces itself (400, 408, 413, 417, 431, 501, 505) carry a Kubernetes
// Status body. Whenever the server ends a connection after a response (an
// error, `Connection: close`, the request limit, Stop), it stops sending and
// reads and drops what the client still sends (at most 2 s, 8 MiB) before
// closing, so that the client reads the response rather than a reset.
//
// Lifecycle: Create() binds the port (0 picks one; port() tells which);
// Serve() runs the loops until Stop(), which may be called from any thread (a
// signal thread): the listener stops at once, idle connections are closed,
// requests in progress finish and their connections close after the response.
// Drain() waits until every request that started has had its response
// written. SIGPIPE is blocked on the loop threads (a client that hangs up
// mid-response must not end the process).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"
#include "webhook/http.h"
#include "webhook/tls.h"

namespace webhook {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 8443;
  std::string client_ca_file;  // non-empty: require client certificates (mTLS)
  // A VMIM or KubeVirt AdmissionReview is a few KiB (an UPDATE carries the
  // object twice). 1 MiB leaves two orders of magnitude of room; larger
  // bodies get 413 and the connection is closed. One connection holds at most
  // about 1.3x this for a request in progress (http1.h), and gives buffers
  // over 64 KiB back once the request is answered.
  size_t max_body_bytes = 1 << 20;
  // Connections open at once; more are closed as soon as they are accepted.
  // An idle connection costs about 40 KiB (mostly OpenSSL's buffers), so the
  // default bounds that to about 40 MiB while leaving room for the idle pools
  // of several API server replicas.
  int max_connections = 1000;
  // For a whole request (from its first byte) and for any write to make
  // progress. The API server waits at most timeoutSeconds (5 s in our
  // manifests), so a request slower than this is already lost.
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  // Event loop threads; 0: one per CPU this process may run on (its
  // affinity mask), at most 8. Connections are spread over them; none holds
  // a thread while idle.
  int threads = 0;
  std::chrono::seconds keep_alive_timeout{30};
  // Requests per connection before it is closed.
  size_t keep_alive_max_count = 100000;
};

class Server {
 public:
  // `certs` must outlive the server. Returns InvalidArgument for a bad client
  // CA file, Unavailable when the address cannot be bound.
  static base::StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options,
                                                        CertReloader* certs, HttpHandler handler);
  ~Server();  // stops; a Serve() on another thread must have returned
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  // Serves until Stop() and every connection has ended; always Ok (errors
  // of single connections close them). Returns at once when Stop() came
  // first.
  base::Status Serve();
  // Idempotent; may come before, during or after Serve().
  void Stop();
  // Waits until no request is in progress: from its first byte to its
  // response being written (or its connection lost). After Stop(), also until
  // each loop has taken a last look at its idle connections, so that a
  // request already sitting in a socket is counted. False when `timeout`
  // passed first.
  bool Drain(std::chrono::milliseconds timeout);
  int active_requests() const;

 private:
  struct Impl;
  Server();
  std::unique_ptr<Impl> impl_;
};

}  // namespace webhook
