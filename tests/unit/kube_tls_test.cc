// TLS in the transport, with real OpenSSL handshakes against a local
// httplib::SSLServer and certificates generated at test time: verification
// against the configured CA, tls-server-name, insecure-skip-tls-verify and
// client certificates from PEM in memory.
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "kube/tls_util.h"
#include "kube/transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/local_server.h"

namespace {

struct KeyPair {
  kube::EvpPkeyPtr key;
  kube::X509Ptr cert;
  std::string CertPem() const { return kube::CertToPem(cert.get()); }
  std::string KeyPem() const { return kube::KeyToPem(key.get()); }
};

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// An ECDSA P-256 certificate for `cn`, signed by `ca` (self-signed when null).
void MakeCert(KeyPair& kp, const std::string& cn, const KeyPair* ca, const char* san,
              bool is_ca, bool client = false) {
  kp.key.reset(EVP_EC_gen("P-256"));
  REQUIRE(kp.key);
  kp.cert.reset(X509_new());
  X509* cert = kp.cert.get();
  X509_set_version(cert, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, kp.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = ca ? ca->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  if (is_ca) {
    AddExt(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert, issuer_cert, NID_ext_key_usage, client ? "clientAuth" : "serverAuth");
    if (san) AddExt(cert, issuer_cert, NID_subject_alt_name, san);
  }
  REQUIRE(X509_sign(cert, ca ? ca->key.get() : kp.key.get(), EVP_sha256()) > 0);
}

class TlsServer {
 public:
  TlsServer(const KeyPair& server, X509_STORE* client_cas = nullptr)
      : server_(server.cert.get(), server.key.get(), client_cas) {
    REQUIRE(server_.is_valid());
    server_.Get("/ok", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.ssl ? "{\"tls\":true}" : "{}", "application/json");
    });
    thread_.Start(server_);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(thread_.port()); }

 private:
  httplib::SSLServer server_;
  kube::testing::ServerThread thread_;
};

kube::StatusOr<kube::HttpResponse> Get(const kube::RestConfig& rc, kube::testing::FakeClock& clock) {
  auto t = kube::Transport::Create(rc, &clock);
  REQUIRE(t.ok());
  kube::HttpRequest req;
  req.path = "/ok";
  return (*t)->Do(req);
}

}  // namespace

TEST_CASE("TLS: the server is verified against the CA and the expected name",
          "[kube][transport][tls]") {
  KeyPair ca, ip_server, dns_server, other_ca;
  MakeCert(ca, "test-ca", nullptr, nullptr, true);
  MakeCert(other_ca, "other-ca", nullptr, nullptr, true);
  MakeCert(ip_server, "ip-server", &ca, "IP:127.0.0.1", false);
  MakeCert(dns_server, "dns-server", &ca, "DNS:api.internal", false);
  kube::testing::FakeClock clock;

  SECTION("a certificate for the IP verifies") {
    TlsServer srv(ip_server);
    kube::RestConfig rc;
    rc.server = srv.url();
    rc.ca_pem = ca.CertPem();
    auto r = Get(rc, clock);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->body == "{\"tls\":true}");
  }
  SECTION("a name mismatch fails, tls-server-name fixes it") {
    TlsServer srv(dns_server);
    kube::RestConfig rc;
    rc.server = srv.url();
    rc.ca_pem = ca.CertPem();
    auto bad = Get(rc, clock);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == kube::Code::kUnavailable);
    CHECK_THAT(bad.status().message(), Catch::Contains("certificate verification"));
    CHECK(clock.Sleeps().empty());  // verification failures are not retried
    rc.tls_server_name = "api.internal";
    auto good = Get(rc, clock);
    INFO(good.status().ToString());
    CHECK(good.ok());
  }
  SECTION("an untrusted CA fails unless insecure-skip-tls-verify") {
    TlsServer srv(ip_server);
    kube::RestConfig rc;
    rc.server = srv.url();
    rc.ca_pem = other_ca.CertPem();
    auto bad = Get(rc, clock);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.status().message(), Catch::Contains("certificate verification"));
    rc.ca_pem.clear();
    rc.insecure_skip_tls_verify = true;
    CHECK(Get(rc, clock).ok());
  }
}

TEST_CASE("TLS: a client certificate from PEM in memory is presented", "[kube][transport][tls]") {
  KeyPair ca, server, client;
  MakeCert(ca, "test-ca", nullptr, nullptr, true);
  MakeCert(server, "server", &ca, "IP:127.0.0.1", false);
  MakeCert(client, "admin", &ca, nullptr, false, true);
  auto client_cas = kube::CertStoreFromPem(ca.CertPem(), "the test CA");
  REQUIRE(client_cas.ok());
  // The server takes the store; it requires and verifies client certificates.
  TlsServer srv(server, client_cas->release());
  kube::testing::FakeClock clock;
  kube::RestConfig rc;
  rc.server = srv.url();
  rc.ca_pem = ca.CertPem();
  auto without = Get(rc, clock);
  CHECK_FALSE(without.ok());
  rc.client_cert_pem = client.CertPem();
  rc.client_key_pem = client.KeyPem();
  auto with = Get(rc, clock);
  INFO(with.status().ToString());
  CHECK(with.ok());
}

TEST_CASE("PEM helpers round-trip certificates and keys and reject what is not PEM",
          "[kube][tls]") {
  KeyPair ca, leaf;
  MakeCert(ca, "test-ca", nullptr, nullptr, true);
  MakeCert(leaf, "leaf", &ca, "IP:127.0.0.1", false);

  kube::X509Ptr cert = kube::CertFromPem(leaf.CertPem());
  REQUIRE(cert);
  CHECK(X509_cmp(cert.get(), leaf.cert.get()) == 0);
  kube::EvpPkeyPtr key = kube::KeyFromPem(leaf.KeyPem());
  REQUIRE(key);
  CHECK(EVP_PKEY_eq(key.get(), leaf.key.get()) == 1);

  auto bundle = kube::CertsFromPem(leaf.CertPem() + ca.CertPem(), "the bundle");
  REQUIRE(bundle.ok());
  REQUIRE(bundle->size() == 2);
  CHECK(X509_cmp((*bundle)[1].get(), ca.cert.get()) == 0);

  auto none = kube::CertsFromPem("not a certificate", "the bundle");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == kube::Code::kInvalidArgument);
  CHECK(none.status().message() == "the bundle contains no PEM certificate");
  CHECK_FALSE(kube::CertStoreFromPem("", "the CA").ok());
  CHECK_FALSE(kube::CertFromPem("garbage"));
  CHECK_FALSE(kube::KeyFromPem(leaf.CertPem()));
  CHECK(kube::OpenSslError() != "unknown OpenSSL error");  // the failed read left a reason
  CHECK(kube::OpenSslError() == "unknown OpenSSL error");  // and reading it cleared the queue

  auto store = kube::CertStoreFromPem(ca.CertPem(), "the CA");
  REQUIRE(store.ok());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  REQUIRE(X509_STORE_CTX_init(ctx, store->get(), leaf.cert.get(), nullptr) == 1);
  CHECK(X509_verify_cert(ctx) == 1);
  X509_STORE_CTX_free(ctx);
}

TEST_CASE("KeyFromPem with a key-type hint gives the same key, whatever the hint and PEM form",
          "[kube][tls]") {
  KeyPair leaf;
  MakeCert(leaf, "leaf", nullptr, nullptr, false);
  // The traditional form with an "EC PARAMETERS" block first, as
  // `openssl ecparam -genkey` writes it.
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_Parameters(bio, leaf.key.get()) == 1);
  REQUIRE(PEM_write_bio_PrivateKey_traditional(bio, leaf.key.get(), nullptr, nullptr, 0, nullptr,
                                               nullptr) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  const std::string params_then_key(data, static_cast<size_t>(len));
  BIO_free(bio);
  REQUIRE(params_then_key.rfind("-----BEGIN EC PARAMETERS-----", 0) == 0);
  REQUIRE(params_then_key.find("-----BEGIN EC PRIVATE KEY-----") != std::string::npos);

  struct Case {
    const char* name;
    std::string pem;
    std::string hint;
  };
  const Case cases[] = {
      {"PKCS#8, the right type", leaf.KeyPem(), "EC"},
      {"PKCS#8, another type", leaf.KeyPem(), "RSA"},
      {"PKCS#8, a type OpenSSL does not know", leaf.KeyPem(), "no-such-type"},
      {"parameters then the traditional key, the right type", params_then_key, "EC"},
      {"no hint", params_then_key, ""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    kube::EvpPkeyPtr key = kube::KeyFromPem(c.pem, c.hint);
    REQUIRE(key);
    CHECK(EVP_PKEY_eq(key.get(), leaf.key.get()) == 1);
    CHECK(kube::OpenSslError() == "unknown OpenSSL error");  // nothing left on the queue
  }
  // Not a key: null with the general decoder's reason, the hint or not.
  CHECK_FALSE(kube::KeyFromPem(leaf.CertPem(), "EC"));
  CHECK(kube::OpenSslError() != "unknown OpenSSL error");
}

TEST_CASE("an encrypted client key is refused at Create with a clear reason, never prompted for",
          "[kube][transport][tls]") {
  KeyPair ca, client;
  MakeCert(ca, "test-ca", nullptr, nullptr, true);
  MakeCert(client, "admin", &ca, nullptr, false, true);
  auto encrypted = [&](bool pkcs8) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    static const char kPass[] = "secret";
    int ok = pkcs8 ? PEM_write_bio_PrivateKey(bio.get(), client.key.get(), EVP_aes_256_cbc(),
                                              nullptr, 0, nullptr, const_cast<char*>(kPass))
                   : PEM_write_bio_PrivateKey_traditional(bio.get(), client.key.get(),
                                                          EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                                          const_cast<char*>(kPass));
    REQUIRE(ok == 1);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
  };
  for (bool pkcs8 : {true, false}) {
    INFO((pkcs8 ? "PKCS#8" : "traditional"));
    std::string pem = encrypted(pkcs8);
    CHECK(kube::IsEncryptedKeyPem(pem));
    CHECK_FALSE(kube::KeyFromPem(pem));
    CHECK_FALSE(kube::KeyFromPem(pem, "EC"));
    ERR_clear_error();
    kube::RestConfig rc;
    rc.server = "https://127.0.0.1:1";
    rc.ca_pem = ca.CertPem();
    rc.client_cert_pem = client.CertPem();
    rc.client_key_pem = pem;
    auto t = kube::Transport::Create(rc);
    REQUIRE_FALSE(t.ok());
    CHECK_THAT(t.status().message(), Catch::Contains("the client key is encrypted"));
  }
  CHECK_FALSE(kube::IsEncryptedKeyPem(client.KeyPem()));
}
