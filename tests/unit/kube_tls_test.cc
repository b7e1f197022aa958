// TLS in the transport, with real OpenSSL handshakes against a local
// httplib::SSLServer and certificates generated at test time: verification
// against the configured CA, tls-server-name, insecure-skip-tls-verify and
// client certificates from PEM in memory.
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include "kube/transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/local_server.h"

namespace {

struct KeyPair {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  KeyPair() = default;
  KeyPair(const KeyPair&) = delete;
  ~KeyPair() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  std::string CertPem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    char* data;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<size_t>(n));
    BIO_free(b);
    return s;
  }
  std::string KeyPem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<size_t>(n));
    BIO_free(b);
    return s;
  }
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
  kp.key = EVP_EC_gen("P-256");
  REQUIRE(kp.key != nullptr);
  kp.cert = X509_new();
  X509_set_version(kp.cert, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(kp.cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(kp.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(kp.cert), 3600);
  X509_set_pubkey(kp.cert, kp.key);
  X509_NAME* name = X509_get_subject_name(kp.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = ca ? ca->cert : kp.cert;
  X509_set_issuer_name(kp.cert, X509_get_subject_name(issuer_cert));
  if (is_ca) {
    AddExt(kp.cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(kp.cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(kp.cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(kp.cert, issuer_cert, NID_ext_key_usage, client ? "clientAuth" : "serverAuth");
    if (san) AddExt(kp.cert, issuer_cert, NID_subject_alt_name, san);
  }
  REQUIRE(X509_sign(kp.cert, ca ? ca->key : kp.key, EVP_sha256()) > 0);
}

class TlsServer {
 public:
  TlsServer(const KeyPair& server, X509_STORE* client_cas = nullptr)
      : server_(server.cert, server.key, client_cas) {
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
  X509_STORE* client_cas = X509_STORE_new();
  X509_STORE_add_cert(client_cas, ca.cert);
  TlsServer srv(server, client_cas);  // requires and verifies client certificates
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
