// Transport: HTTP(S) to one API server with authentication, client-side rate
// limiting, retries and error conversion. It is the only place in kube/ that
// talks to cpp-httplib and OpenSSL, and where HTTP errors become base::Status.
//
// TLS: verification is on unless insecure_skip_tls_verify; the server name
// checked is tls_server_name when set, else the host of `server` (IP
// addresses are matched against IP SANs). TLS 1.2 is the minimum.
//
// Retry policy (client-go's): GET and HEAD are retried on connection errors,
// 429 and 5xx; other verbs only when the connection could not be established
// (nothing was sent) or on 429. A Retry-After header (or the Status's
// details.retryAfterSeconds) sets the wait; otherwise the wait grows
// exponentially with jitter. A 401 with an exec plugin re-runs the plugin once.
//
// Process state: the first Transport::Create ignores SIGPIPE unless the
// program installed its own handler (OpenSSL would otherwise let a closed
// connection kill the process).
//
// Thread safety: all methods may be called concurrently. Each request uses a
// pooled keep-alive connection; each stream has its own connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "kube/api_status.h"
#include "kube/config.h"

namespace kube {

struct HttpRequest {
  std::string method = "GET";                              // GET, HEAD, POST, PUT, PATCH, DELETE
  std::string path;                                        // absolute, already escaped, no query
  std::vector<std::pair<std::string, std::string>> query;  // unescaped; encoded by the transport
  std::string body;
  std::string content_type;  // for requests with a body
  std::string accept = "application/json";
  // Read timeout for this request (0 = RestConfig::timeout); streams need longer.
  std::chrono::milliseconds read_timeout{0};
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  // The text of each `Warning` header ("299 - \"text\"" yields "text"), in order.
  std::vector<std::string> warnings;
};

struct RetryPolicy {
  int max_attempts = 5;  // total tries, including the first
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  double jitter = 0.2;                       // each backoff sleep is backoff * [1, 1 + jitter)
  std::chrono::seconds max_retry_after{60};  // cap on a server's Retry-After
};

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view s);

// Parses one `Warning` header value per RFC 7234 ("299 - \"text\"", possibly
// several separated by commas); values that do not parse are returned whole.
std::vector<std::string> ParseWarningHeader(std::string_view value);

class Transport {
 public:
  // A running response stream (see OpenStream). Destroying it stops it and
  // waits for its thread.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Ends the stream from any thread; on_done then gets Aborted.
    virtual void Stop() = 0;
  };

  // Validates the configuration (URL, PEM data, credentials) and fails with
  // every problem it finds; does not connect.
  static base::StatusOr<std::unique_ptr<Transport>> Create(const RestConfig& config,
                                                           base::Clock* clock = base::RealClock(),
                                                           RetryPolicy retry = {});
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Sends a request, retrying per the policy. A 2xx response is returned;
  // anything else becomes a Status (StatusFromHttp for HTTP errors, with
  // Retry-After; Unavailable for connection and TLS errors).
  base::StatusOr<HttpResponse> Do(const HttpRequest& request);

  // Sends a GET whose response body is consumed as it arrives (watch). Blocks
  // until the response headers arrive; retries establishment like Do. Then
  // on_chunk is called from the stream's own thread for each piece of body
  // (return false to end the stream) and finally on_done exactly once: Ok when
  // the server ended the response, Aborted after Stop() or on_chunk returning
  // false, Unavailable when the connection broke.
  using ChunkFn = std::function<bool(std::string_view)>;
  using DoneFn = std::function<void(const base::Status&)>;
  base::StatusOr<std::unique_ptr<Stream>> OpenStream(const HttpRequest& request, ChunkFn on_chunk,
                                                     DoneFn on_done);

  // Called (from the requesting thread) with each Warning header's text, in
  // addition to HttpResponse::warnings. Set it before issuing requests.
  void SetWarningHandler(std::function<void(const std::string&)> handler);

  const RestConfig& config() const;

 private:
  struct Impl;
  explicit Transport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kube
