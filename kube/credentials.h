// Credential sources that change while a client runs: a bearer token file
// (rotated service-account tokens) and exec credential plugins.
//
// Thread safety: both classes are safe to use from many threads.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "kube/config.h"

namespace kube {

// Reads a bearer token from a file and re-reads it when its mtime changes or
// at least every `refresh` (client-go re-reads every minute). If a re-read
// fails after a successful one, the last token is kept.
class TokenFileSource {
 public:
  TokenFileSource(std::string path, base::Clock* clock,
                  std::chrono::nanoseconds refresh = std::chrono::minutes(1));
  // The current token (trailing newlines stripped). Unauthenticated when the
  // file was never readable.
  base::StatusOr<std::string> Token();

 private:
  const std::string path_;
  base::Clock* const clock_;
  const std::chrono::nanoseconds refresh_;
  std::mutex mu_;
  bool have_ = false;
  std::string token_;
  std::chrono::steady_clock::time_point read_at_;
  int64_t mtime_ns_ = 0;
};

// What an exec plugin returned.
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// The cluster an exec plugin may be told about (provideClusterInfo).
struct ExecClusterInfo {
  std::string server;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
};

// Runs a kubeconfig exec plugin and caches its credential until its
// expirationTimestamp (compared with clock->WallNow()); a credential without
// expiry is cached until Invalidate(). Errors are Unauthenticated and say what
// went wrong (missing executable, exit code with stderr, bad output), with
// the plugin's installHint appended.
class ExecCredentialProvider {
 public:
  ExecCredentialProvider(ExecConfig config, ExecClusterInfo cluster, base::Clock* clock);
  base::StatusOr<ExecCredential> Get();
  // Forgets the cached credential (after a 401), so the next Get runs the plugin.
  void Invalidate();

 private:
  base::StatusOr<ExecCredential> Run();

  const ExecConfig config_;
  const ExecClusterInfo cluster_;
  base::Clock* const clock_;
  std::mutex mu_;  // held while the plugin runs, so concurrent callers run it once
  std::optional<ExecCredential> cached_;
};

}  // namespace kube
