#include "webhook/tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "base/log.h"

namespace webhook {
namespace {

// TLS 1.2 suites: forward secrecy (ECDHE) with AEAD ciphers only. ECDSA and
// RSA variants, so that either kind of key serves.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kTls13Suites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr char kGroups[] = "X25519:P-256:P-384";

std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

base::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::InvalidArgument("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr MemBio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

}  // namespace

CertPair::~CertPair() {
  X509_free(leaf_);
  EVP_PKEY_free(key_);
  sk_X509_pop_free(chain_, X509_free);
}

base::StatusOr<std::shared_ptr<const CertPair>> CertPair::FromPem(const std::string& cert_pem,
                                                                  const std::string& key_pem) {
  ERR_clear_error();
  std::shared_ptr<CertPair> pair(new CertPair());
  BioPtr cert_bio = MemBio(cert_pem);
  pair->leaf_ = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  if (pair->leaf_ == nullptr) {
    return base::InvalidArgument("no PEM certificate: " + OpenSslError());
  }
  pair->chain_ = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(pair->chain_, extra);
  }
  // Reading until the end leaves a "no start line" error queued; it is the
  // normal end of the chain, not a failure.
  ERR_clear_error();
  BioPtr key_bio = MemBio(key_pem);
  // An empty passphrase callback: an encrypted key fails instead of
  // prompting on the terminal.
  pair->key_ = PEM_read_bio_PrivateKey(
      key_bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (pair->key_ == nullptr) {
    return base::InvalidArgument("no unencrypted PEM private key: " + OpenSslError());
  }
  if (X509_check_private_key(pair->leaf_, pair->key_) != 1) {
    ERR_clear_error();
    return base::InvalidArgument("the private key does not match the certificate");
  }
  return std::shared_ptr<const CertPair>(std::move(pair));
}

std::string CertPair::SerialHex() const {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf_), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

CertReloader::CertReloader(std::string cert_file, std::string key_file,
                           std::chrono::milliseconds poll)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), poll_(poll) {}

CertReloader::~CertReloader() { Stop(); }

base::StatusOr<std::unique_ptr<CertReloader>> CertReloader::Create(
    std::string cert_file, std::string key_file, std::chrono::milliseconds poll) {
  std::unique_ptr<CertReloader> r(new CertReloader(std::move(cert_file), std::move(key_file), poll));
  r->cert_stamp_ = Stamp(r->cert_file_);
  r->key_stamp_ = Stamp(r->key_file_);
  auto pair = r->Load();
  if (!pair.ok()) return pair.status();
  r->current_ = *pair;
  return r;
}

CertReloader::FileStamp CertReloader::Stamp(const std::string& path) {
  struct stat st;
  FileStamp s;
  if (::stat(path.c_str(), &st) != 0) return s;
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  s.size = static_cast<int64_t>(st.st_size);
  s.inode = static_cast<int64_t>(st.st_ino);
  return s;
}

base::StatusOr<std::shared_ptr<const CertPair>> CertReloader::Load() const {
  auto cert = ReadFile(cert_file_);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(key_file_);
  if (!key.ok()) return key.status();
  auto pair = CertPair::FromPem(*cert, *key);
  if (!pair.ok()) {
    return base::InvalidArgument(cert_file_ + " and " + key_file_ + ": " +
                                 pair.status().message());
  }
  return pair;
}

bool CertReloader::CheckNow() {
  FileStamp cert = Stamp(cert_file_), key = Stamp(key_file_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cert == cert_stamp_ && key == key_stamp_) return false;
    // Recorded before loading: a pair that fails is retried only when a file
    // changes again (a writer that replaces the certificate before the key
    // produces a mismatch first, then the key's change triggers a retry).
    cert_stamp_ = cert;
    key_stamp_ = key;
  }
  auto pair = Load();
  std::lock_guard<std::mutex> lock(mu_);
  if (!pair.ok()) {
    last_error_ = pair.status().message();
    base::log::Error("serving certificate not reloaded; the previous pair stays in use",
                     {{"cert", cert_file_}, {"key", key_file_}, {"error", last_error_}});
    return false;
  }
  current_ = *pair;
  last_error_.clear();
  ++reload_count_;
  base::log::Info("serving certificate reloaded", {{"cert", cert_file_}, {"key", key_file_}});
  return true;
}

std::shared_ptr<const CertPair> CertReloader::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::string CertReloader::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void CertReloader::Start() {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void CertReloader::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CertReloader::Run() {
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!run_cv_.wait_for(lock, poll_, [this] { return stopping_; })) {
    lock.unlock();
    CheckNow();
    lock.lock();
  }
}

int CertReloader::CertCallback(SSL* ssl, void* arg) {
  auto* self = static_cast<CertReloader*>(arg);
  std::shared_ptr<const CertPair> pair = self->current();
  // OpenSSL keeps one certificate slot per key type, each copied from the
  // context: without clearing them, a rotation from an ECDSA to an RSA pair
  // would leave the old ECDSA certificate selectable beside the new one.
  SSL_certs_clear(ssl);
  // SSL_use_* take their own references, so the pair may be replaced (and
  // freed) while this connection still uses its certificate.
  if (SSL_use_certificate(ssl, pair->leaf()) != 1) return 0;
  if (SSL_use_PrivateKey(ssl, pair->key()) != 1) return 0;
  if (SSL_set1_chain(ssl, pair->chain()) != 1) return 0;
  return 1;
}

base::Status CertReloader::ConfigureContext(SSL_CTX* ctx, const std::string& client_ca_file) {
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return base::Internal("configuring TLS: " + OpenSslError());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  // The context also holds the pair current at start-up, so that a context
  // is complete even before the first callback (OpenSSL checks it).
  std::shared_ptr<const CertPair> pair = current();
  if (SSL_CTX_use_certificate(ctx, pair->leaf()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, pair->key()) != 1) {
    return base::Internal("installing the certificate: " + OpenSslError());
  }
  SSL_CTX_set_cert_cb(ctx, &CertReloader::CertCallback, this);
  if (!client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, client_ca_file.c_str(), nullptr) != 1) {
      return base::InvalidArgument("--client-ca-file " + client_ca_file + ": " + OpenSslError());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca_file.c_str());
    if (names == nullptr) {
      return base::InvalidArgument("--client-ca-file " + client_ca_file +
                                   ": no certificates: " + OpenSslError());
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return base::Status::Ok();
}

}  // namespace webhook
