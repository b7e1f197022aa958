// Serving certificates for the webhook's TLS server, reloaded from files
// without a restart, and the TLS policy of its SSL_CTX.
//
// CertReloader owns the current (certificate chain, private key) pair. Every
// handshake takes the pair current at that moment through SSL_CTX_set_cert_cb,
// so a rotation affects new connections only and never fails a request: a
// connection in progress keeps the pair it started with. New files are
// installed only when they parse and the key matches the leaf certificate;
// otherwise the previous pair stays in use, the failure is logged and
// last_error() says why.
//
// Thread safety: all methods may be called concurrently; the cert callback
// runs on the server's connection threads.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"

struct stack_st_X509;  // STACK_OF(X509), without including x509.h here

namespace webhook {

// A parsed certificate chain and key, immutable once built.
class CertPair {
 public:
  // Parses PEM text: the leaf certificate first, then any intermediates.
  // InvalidArgument when either does not parse or the key does not belong to
  // the leaf. ECDSA and RSA keys are accepted.
  static base::StatusOr<std::shared_ptr<const CertPair>> FromPem(const std::string& cert_pem,
                                                                 const std::string& key_pem);
  ~CertPair();
  CertPair(const CertPair&) = delete;
  CertPair& operator=(const CertPair&) = delete;

  X509* leaf() const { return leaf_; }
  EVP_PKEY* key() const { return key_; }
  ::stack_st_X509* chain() const { return chain_; }
  // The leaf's serial number in upper-case hex (tests compare it).
  std::string SerialHex() const;

 private:
  CertPair() = default;
  X509* leaf_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  ::stack_st_X509* chain_ = nullptr;
};

class CertReloader {
 public:
  // Loads the pair once; the error names the file when it cannot be read or
  // parsed. `poll` is how often Start()'s thread looks at the files' stat data
  // (mtime, ctime, size, inode: a Kubernetes secret volume swaps a
  // symlink, so the files seen get new inodes).
  static base::StatusOr<std::unique_ptr<CertReloader>> Create(
      std::string cert_file, std::string key_file,
      std::chrono::milliseconds poll = std::chrono::milliseconds(200));
  ~CertReloader();  // stops the watcher thread
  CertReloader(const CertReloader&) = delete;
  CertReloader& operator=(const CertReloader&) = delete;

  // Starts the watcher thread (idempotent).
  void Start();
  void Stop();

  // Looks at the files now; when they changed since the last attempt, loads
  // them and installs the new pair if valid. Returns true when a new pair was
  // installed. The watcher thread calls this every `poll`.
  bool CheckNow();

  std::shared_ptr<const CertPair> current() const;
  uint64_t reload_count() const { return reload_count_; }
  std::string last_error() const;

  // Applies the webhook's TLS policy to `ctx`: TLS 1.2 minimum; TLS 1.2
  // suites ECDHE with AES-GCM or ChaCha20-Poly1305 only; TLS 1.3 default
  // AEAD suites; server cipher preference; no renegotiation, no compression;
  // the certificate callback that serves current(). A non-empty
  // `client_ca_file` requires client certificates verified against it.
  // Returns InvalidArgument when the CA file cannot be loaded.
  base::Status ConfigureContext(SSL_CTX* ctx, const std::string& client_ca_file);

 private:
  CertReloader(std::string cert_file, std::string key_file, std::chrono::milliseconds poll);
  struct FileStamp {
    int64_t mtime_ns = -1, ctime_ns = -1, size = -1, inode = -1;
    bool operator==(const FileStamp&) const = default;
  };
  static FileStamp Stamp(const std::string& path);
  base::StatusOr<std::shared_ptr<const CertPair>> Load() const;
  void Run();
  static int CertCallback(SSL* ssl, void* arg);

  const std::string cert_file_, key_file_;
  const std::chrono::milliseconds poll_;
  mutable std::mutex mu_;
  std::shared_ptr<const CertPair> current_;
  std::string last_error_;
  FileStamp cert_stamp_, key_stamp_;  // of the last load attempt
  std::atomic<uint64_t> reload_count_{0};

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace webhook
