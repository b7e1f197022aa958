// Test helpers for the webhook's TLS tests: certificates made at test time
// with the OpenSSL API, a temporary directory, and a raw TLS client that
// controls protocol versions and ciphers and reports the peer's serial.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace webhook_testing {

enum class KeyType { kEcdsa, kRsa };

struct Pem {
  std::string cert, key;
};

inline std::string PemOf(X509* cert) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

inline std::string PemOf(EVP_PKEY* key) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

inline EVP_PKEY* NewKey(KeyType type) {
  return type == KeyType::kEcdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
}

inline void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate authority: its key and self-signed certificate.
class Ca {
 public:
  Ca() : key_(NewKey(KeyType::kEcdsa)), cert_(X509_new()) {
    Fill(cert_, "webhook-test-ca", 1);
    X509_set_pubkey(cert_, key_);
    X509_set_issuer_name(cert_, X509_get_subject_name(cert_));
    AddExt(cert_, cert_, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert_, cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(cert_, key_, EVP_sha256());
  }
  ~Ca() {
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }
  Ca(const Ca&) = delete;
  Ca& operator=(const Ca&) = delete;

  std::string cert_pem() const { return PemOf(cert_); }

  // A leaf for 127.0.0.1 with the given serial; server and client auth.
  Pem Issue(KeyType type, long serial, const char* cn = "127.0.0.1") const {
    EVP_PKEY* key = NewKey(type);
    X509* cert = X509_new();
    Fill(cert, cn, serial);
    X509_set_pubkey(cert, key);
    X509_set_issuer_name(cert, X509_get_subject_name(cert_));
    AddExt(cert, cert_, NID_subject_alt_name, "IP:127.0.0.1");
    AddExt(cert, cert_, NID_basic_constraints, "CA:FALSE");
    AddExt(cert, cert_, NID_ext_key_usage, "serverAuth,clientAuth");
    X509_sign(cert, key_, EVP_sha256());
    Pem out{PemOf(cert), PemOf(key)};
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
  }

 private:
  static void Fill(X509* cert, const char* cn, long serial) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  }
  EVP_PKEY* key_;
  X509* cert_;
};

// A fresh directory under TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string base = std::filesystem::temp_directory_path().string() + "/webhook_test_XXXXXX";
    path_ = mkdtemp(base.data()) != nullptr ? base : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Writes via a temporary file and rename(2): readers see old or new, whole.
inline void WriteFileAtomic(const std::string& path, const std::string& content) {
  WriteFile(path + ".tmp", content);
  std::rename((path + ".tmp").c_str(), path.c_str());
}

struct ClientOptions {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string cipher_list;  // TLS <= 1.2 ciphers; empty = OpenSSL's default
  bool insecure_level0 = false;  // security level 0, so legacy protocols can be offered
  std::string ca_pem;            // verify the server against this CA when non-empty
  Pem client_cert;               // presented when non-empty
  int timeout_ms = 5000;
};

// One TLS connection to 127.0.0.1:port.
// Blocks SIGPIPE on this thread for its scope, then drops one left pending:
// the test binary keeps SIGPIPE's default action (so that a server that
// raises it is caught), and a client writing to a connection the server
// closed must see EPIPE instead.
class NoSigpipe {
 public:
  NoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~NoSigpipe() {
    timespec zero{};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  NoSigpipe(const NoSigpipe&) = delete;
  NoSigpipe& operator=(const NoSigpipe&) = delete;

 private:
  sigset_t pipe_, old_;
};

class TlsConn {
 public:
  TlsConn(int port, const ClientOptions& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.insecure_level0) SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (!o.cipher_list.empty()) SSL_CTX_set_cipher_list(ctx_, o.cipher_list.c_str());
    if (!o.ca_pem.empty()) {
      BIO* b = BIO_new_mem_buf(o.ca_pem.data(), static_cast<int>(o.ca_pem.size()));
      X509* ca = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
      X509_free(ca);
      BIO_free(b);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!o.client_cert.cert.empty()) {
      BIO* b = BIO_new_mem_buf(o.client_cert.cert.data(), -1);
      X509* c = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
      BIO_free(b);
      b = BIO_new_mem_buf(o.client_cert.key.data(), -1);
      EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
      BIO_free(b);
      SSL_CTX_use_certificate(ctx_, c);
      SSL_CTX_use_PrivateKey(ctx_, k);
      X509_free(c);
      EVP_PKEY_free(k);
    }
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = "connect failed";
      return;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ERR_clear_error();
    NoSigpipe no_sigpipe;
    if (SSL_connect(ssl_) != 1) {
      char buf[256];
      unsigned long e = ERR_get_error();
      ERR_error_string_n(e, buf, sizeof buf);
      error_ = e != 0 ? buf : "handshake failed";
      return;
    }
    connected_ = true;
  }
  ~TlsConn() {
    if (ssl_ != nullptr) {
      if (connected_) {
        NoSigpipe no_sigpipe;
        SSL_shutdown(ssl_);
      }
      SSL_free(ssl_);
    }
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  bool connected() const { return connected_; }
  const std::string& error() const { return error_; }
  std::string version() const { return connected_ ? SSL_get_version(ssl_) : ""; }
  std::string cipher() const { return connected_ ? SSL_get_cipher_name(ssl_) : ""; }
  std::string PeerSerial() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr);
    char* hex = BN_bn2hex(bn);
    std::string out = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(peer);
    return out;
  }
  bool Write(const std::string& data) {
    NoSigpipe no_sigpipe;
    size_t off = 0;
    while (off < data.size()) {
      int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the peer closes or a read fails (timeout); returns what came.
  std::string ReadAll() {
    NoSigpipe no_sigpipe;  // a read may write (an alert, a key update)
    std::string out;
    char buf[16384];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads one HTTP response (headers and a Content-Length body); "" on error.
  std::string ReadResponse() {
    NoSigpipe no_sigpipe;
    std::string out;
    char buf[16384];
    size_t need = std::string::npos;
    for (;;) {
      if (need == std::string::npos) {
        size_t end = out.find("\r\n\r\n");
        if (end != std::string::npos) {
          size_t body_len = 0;
          size_t cl = out.find("Content-Length: ");
          if (cl != std::string::npos && cl < end) body_len = std::stoul(out.substr(cl + 16));
          need = end + 4 + body_len;
        }
      }
      if (need != std::string::npos && out.size() >= need) return out.substr(0, need);
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return out.size() >= need ? out : "";
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string error_;
};

// The status code of an HTTP response text ("HTTP/1.1 404 ..."), 0 if none.
inline int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

inline std::string HttpRequestText(const std::string& method, const std::string& path,
                                   const std::string& body,
                                   const std::string& content_type = "application/json",
                                   bool close = false) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  if (close) r += "Connection: close\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

}  // namespace webhook_testing
