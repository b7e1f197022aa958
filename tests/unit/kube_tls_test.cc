// TLS in the transport, with real OpenSSL handshakes against a local
// httplib::SSLServer and certificates generated at test time: verification
// against the configured CA, tls-server-name, insecure-skip-tls-verify and
// client certificates from PEM in memory, shared by concurrent connections,
// and from exec plugins (rotated on expiry and after a 401).
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kube/tls_util.h"
#include "kube/transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/local_server.h"
#include "tests/testing/temp_dir.h"

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

// The common name of the client certificate the request's connection
// presented; "" without one.
std::string PeerCn(const httplib::Request& req) {
  if (!req.ssl) return "";
  X509* peer = SSL_get1_peer_certificate(req.ssl);
  if (!peer) return "";
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
  X509_free(peer);
  return cn;
}

// Serves /ok; /whoami, answering with the client certificate's CN; and
// /only/<cn>, the same but 401 for any other client certificate.
class TlsServer {
 public:
  TlsServer(const KeyPair& server, X509_STORE* client_cas = nullptr)
      : server_(server.cert.get(), server.key.get(), client_cas) {
    REQUIRE(server_.is_valid());
    server_.Get("/ok", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.ssl ? "{\"tls\":true}" : "{}", "application/json");
    });
    server_.Get("/whoami", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(PeerCn(req), "text/plain");
    });
    server_.Get(R"(/only/([^/]+))", [](const httplib::Request& req, httplib::Response& res) {
      const std::string cn = PeerCn(req);
      if (cn != req.matches[1].str()) {
        res.status = 401;
        res.set_content("{\"kind\":\"Status\",\"code\":401,\"reason\":\"Unauthorized\"}",
                        "application/json");
        return;
      }
      res.set_content(cn, "text/plain");
    });
    thread_.Start(server_);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(thread_.port()); }

 private:
  httplib::SSLServer server_;
  kube::testing::ServerThread thread_;
};

base::StatusOr<kube::HttpResponse> Get(const kube::RestConfig& rc, base::testing::FakeClock& clock) {
  auto t = kube::Transport::Create(rc, &clock);
  REQUIRE(t.ok());
  kube::HttpRequest req;
  req.path = "/ok";
  return (*t)->Do(req);
}

// The body of GET `path`, or the error as text.
std::string BodyOrError(kube::Transport& t, const std::string& path) {
  kube::HttpRequest req;
  req.path = path;
  auto r = t.Do(req);
  return r.ok() ? r->body : "error: " + r.status().ToString();
}

// The whole body of `path` read as a stream (as a watch is), or the error.
std::string StreamBody(kube::Transport& t, const std::string& path) {
  kube::HttpRequest req;
  req.path = path;
  std::string body;
  std::promise<base::Status> done;
  auto stream = t.OpenStream(
      req,
      [&](std::string_view chunk) {
        body.append(chunk);
        return true;
      },
      [&](const base::Status& s) { done.set_value(s); });
  if (!stream.ok()) return "error: " + stream.status().ToString();
  base::Status s = done.get_future().get();
  return s.ok() ? body : "error: " + s.ToString();
}

// A CA, a server certificate for 127.0.0.1, and a store of the CA for a
// server that requires client certificates.
struct Pki {
  KeyPair ca, server;
  Pki() {
    MakeCert(ca, "test-ca", nullptr, nullptr, true);
    MakeCert(server, "server", &ca, "IP:127.0.0.1", false);
  }
  // A new store: the server takes ownership.
  X509_STORE* ClientCas() const {
    auto store = kube::CertStoreFromPem(ca.CertPem(), "the test CA");
    REQUIRE(store.ok());
    return store->release();
  }
  KeyPair Client(const std::string& cn) const {
    KeyPair kp;
    MakeCert(kp, cn, &ca, nullptr, false, true);
    return kp;
  }
};

// PEM as a JSON string body: PEM holds no quotes or backslashes, only newlines.
std::string JsonPem(const std::string& pem) {
  std::string out;
  for (char c : pem) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

// An exec plugin that answers its n-th run with <dir>/cred-<n>.json (and
// fails when there is none), and counts its runs in <dir>/runs.
class CertExecPlugin {
 public:
  CertExecPlugin()
      : command_(dir_.Write("plugin.sh",
                            "#!/bin/sh\necho run >> " + dir_.path() + "/runs\n" +
                                "n=$(wc -l < " + dir_.path() + "/runs | tr -d ' ')\n" +
                                "cat " + dir_.path() + "/cred-$n.json\n",
                            /*exec=*/true)) {}

  // What run `n` returns: `kp` as clientCertificateData/clientKeyData,
  // expiring at `expiration` (RFC 3339) unless empty.
  void SetCredential(int n, const KeyPair& kp, const std::string& expiration = "") {
    dir_.Write("cred-" + std::to_string(n) + ".json",
               "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
               "\"status\":{\"clientCertificateData\":\"" +
                   JsonPem(kp.CertPem()) + "\",\"clientKeyData\":\"" + JsonPem(kp.KeyPem()) +
                   "\"" +
                   (expiration.empty() ? "" : ",\"expirationTimestamp\":\"" + expiration + "\"") +
                   "}}\n");
  }

  kube::ExecConfig Config() const {
    kube::ExecConfig c;
    c.api_version = "client.authentication.k8s.io/v1";
    c.command = command_;
    c.interactive_mode = "Never";
    return c;
  }

  int Runs() const {
    std::ifstream in(dir_.path() + "/runs");
    int n = 0;
    for (std::string l; std::getline(in, l);) ++n;
    return n;
  }

 private:
  kube::testing::TempDir dir_{"kube_tls_exec_"};
  std::string command_;
};

}  // namespace

TEST_CASE("TLS: the server is verified against the CA and the expected name",
          "[kube][transport][tls]") {
  KeyPair ca, ip_server, dns_server, other_ca;
  MakeCert(ca, "test-ca", nullptr, nullptr, true);
  MakeCert(other_ca, "other-ca", nullptr, nullptr, true);
  MakeCert(ip_server, "ip-server", &ca, "IP:127.0.0.1", false);
  MakeCert(dns_server, "dns-server", &ca, "DNS:api.internal", false);
  base::testing::FakeClock clock;

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
    CHECK(bad.status().code() == base::Code::kUnavailable);
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
  base::testing::FakeClock clock;
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

TEST_CASE("TLS: concurrent connections of one Transport share its CA store and client certificate",
          "[kube][transport][tls]") {
  Pki pki;
  KeyPair client = pki.Client("admin");
  TlsServer srv(pki.server, pki.ClientCas());
  base::testing::FakeClock clock;
  kube::RestConfig rc;
  rc.server = srv.url();
  rc.ca_pem = pki.ca.CertPem();
  rc.client_cert_pem = client.CertPem();
  rc.client_key_pem = client.KeyPem();
  rc.qps = 0;
  auto first = kube::Transport::Create(rc, &clock);
  REQUIRE(first.ok());
  auto second = kube::Transport::Create(rc, &clock);  // the same config, parsed again
  REQUIRE(second.ok());

  // Four threads of GETs and a watch-like stream on the first Transport and
  // GETs on the second, all at once: several contexts and handshakes use the
  // one store and key pair. The server sees 'admin' on every connection. Each
  // thread writes only its own slot; the checks run on this thread.
  constexpr int kGetThreads = 4, kRequests = 12;  // more than the server's 5 per connection
  std::vector<std::vector<std::string>> seen(kGetThreads + 2);
  std::latch start(kGetThreads + 2);
  std::vector<std::thread> threads;
  for (int i = 0; i < kGetThreads + 1; ++i) {
    kube::Transport& t = i < kGetThreads ? **first : **second;
    threads.emplace_back([&, i, &t = t] {
      start.arrive_and_wait();
      for (int j = 0; j < kRequests; ++j) seen[i].push_back(BodyOrError(t, "/whoami"));
    });
  }
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (int j = 0; j < 3; ++j) seen[kGetThreads + 1].push_back(StreamBody(**first, "/whoami"));
  });
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < seen.size(); ++i) {
    INFO("thread " << i);
    CHECK(seen[i] == std::vector<std::string>(i == kGetThreads + 1 ? 3 : kRequests, "admin"));
  }

  // The second Transport owns its parsed store and pair: it works on after the
  // first, with every connection it made, is gone.
  first->reset();
  CHECK(BodyOrError(**second, "/whoami") == "admin");
  CHECK(StreamBody(**second, "/whoami") == "admin");
}

TEST_CASE("TLS: an exec plugin's client certificate replaces the kubeconfig's, and a rotated one "
          "is presented after the old one expires",
          "[kube][transport][tls]") {
  Pki pki;
  KeyPair kubeconfig_user = pki.Client("kubeconfig-user");
  KeyPair exec1 = pki.Client("exec-1"), exec2 = pki.Client("exec-2");
  TlsServer srv(pki.server, pki.ClientCas());
  CertExecPlugin plugin;
  plugin.SetCredential(1, exec1, "2030-01-01T00:10:00Z");
  plugin.SetCredential(2, exec2);
  base::testing::FakeClock clock;
  // 2030-01-01T00:00:00Z: exec-1 expires ten minutes later.
  clock.SetWall(std::chrono::system_clock::time_point(std::chrono::seconds(1893456000)));
  kube::RestConfig rc;
  rc.server = srv.url();
  rc.ca_pem = pki.ca.CertPem();
  rc.client_cert_pem = kubeconfig_user.CertPem();
  rc.client_key_pem = kubeconfig_user.KeyPem();
  rc.qps = 0;
  {
    auto plain = kube::Transport::Create(rc, &clock);
    REQUIRE(plain.ok());
    REQUIRE(BodyOrError(**plain, "/whoami") == "kubeconfig-user");  // without the plugin
  }
  rc.exec = plugin.Config();
  auto t = kube::Transport::Create(rc, &clock);
  REQUIRE(t.ok());

  CHECK(BodyOrError(**t, "/whoami") == "exec-1");
  CHECK(BodyOrError(**t, "/whoami") == "exec-1");  // the pooled connection
  CHECK(StreamBody(**t, "/whoami") == "exec-1");   // a new connection, the cached credential
  CHECK(plugin.Runs() == 1);

  clock.Advance(std::chrono::minutes(11));  // exec-1 has expired
  CHECK(BodyOrError(**t, "/whoami") == "exec-2");
  CHECK(plugin.Runs() == 2);
  CHECK(BodyOrError(**t, "/whoami") == "exec-2");
  CHECK(StreamBody(**t, "/whoami") == "exec-2");
  CHECK(plugin.Runs() == 2);
}

TEST_CASE("TLS: after a 401 the exec plugin's new client certificate is presented",
          "[kube][transport][tls]") {
  Pki pki;
  KeyPair exec1 = pki.Client("exec-1"), exec2 = pki.Client("exec-2");
  TlsServer srv(pki.server, pki.ClientCas());
  CertExecPlugin plugin;
  plugin.SetCredential(1, exec1);  // no expiry: cached until rejected
  plugin.SetCredential(2, exec2);
  base::testing::FakeClock clock;
  kube::RestConfig rc;
  rc.server = srv.url();
  rc.ca_pem = pki.ca.CertPem();
  rc.qps = 0;
  rc.exec = plugin.Config();
  auto t = kube::Transport::Create(rc, &clock);
  REQUIRE(t.ok());

  SECTION("a request") {
    CHECK(BodyOrError(**t, "/only/exec-2") == "exec-2");
    CHECK(plugin.Runs() == 2);
    CHECK(BodyOrError(**t, "/whoami") == "exec-2");  // cached, and no exec-1 connection reused
  }
  SECTION("a stream") {
    CHECK(StreamBody(**t, "/only/exec-2") == "exec-2");
    CHECK(plugin.Runs() == 2);
    CHECK(BodyOrError(**t, "/whoami") == "exec-2");
  }
  CHECK(plugin.Runs() == 2);
  CHECK(clock.Sleeps().empty());  // re-authentication is not a retry
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
  CHECK(none.status().code() == base::Code::kInvalidArgument);
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
  kube::EvpPkeyPtr rsa(EVP_RSA_gen(2048));
  REQUIRE(rsa);
  kube::EvpPkeyPtr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(ed25519);
  REQUIRE(std::string(EVP_PKEY_get0_type_name(ed25519.get())) == "ED25519");
  auto traditional = [](EVP_PKEY* key, bool with_parameters) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    if (with_parameters) REQUIRE(PEM_write_bio_Parameters(bio.get(), key) == 1);
    REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                 nullptr) == 1);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
  };
  // The traditional form with an "EC PARAMETERS" block first, as
  // `openssl ecparam -genkey` writes it.
  const std::string params_then_key = traditional(leaf.key.get(), true);
  REQUIRE(params_then_key.rfind("-----BEGIN EC PARAMETERS-----", 0) == 0);
  REQUIRE(params_then_key.find("-----BEGIN EC PRIVATE KEY-----") != std::string::npos);
  const std::string rsa_pkcs1 = traditional(rsa.get(), false);
  REQUIRE(rsa_pkcs1.rfind("-----BEGIN RSA PRIVATE KEY-----", 0) == 0);
  const std::string rsa_pkcs8 = kube::KeyToPem(rsa.get());
  const std::string ed25519_pkcs8 = kube::KeyToPem(ed25519.get());
  REQUIRE(rsa_pkcs8.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
  REQUIRE(ed25519_pkcs8.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);

  struct Case {
    const char* name;
    std::string pem;
    std::string hint;
    EVP_PKEY* want;
  };
  const Case cases[] = {
      {"EC PKCS#8, the right type", leaf.KeyPem(), "EC", leaf.key.get()},
      {"EC PKCS#8, another type", leaf.KeyPem(), "RSA", leaf.key.get()},
      {"EC PKCS#8, a type OpenSSL does not know", leaf.KeyPem(), "no-such-type", leaf.key.get()},
      {"EC parameters then the traditional key, the right type", params_then_key, "EC",
       leaf.key.get()},
      {"EC parameters then the traditional key, no hint", params_then_key, "", leaf.key.get()},
      {"RSA PKCS#1, the right type", rsa_pkcs1, "RSA", rsa.get()},
      {"RSA PKCS#1, another type", rsa_pkcs1, "EC", rsa.get()},
      {"RSA PKCS#1, no hint", rsa_pkcs1, "", rsa.get()},
      {"RSA PKCS#8, the right type", rsa_pkcs8, "RSA", rsa.get()},
      {"RSA PKCS#8, another type", rsa_pkcs8, "ED25519", rsa.get()},
      {"RSA PKCS#8, no hint", rsa_pkcs8, "", rsa.get()},
      {"Ed25519 PKCS#8, the right type", ed25519_pkcs8, "ED25519", ed25519.get()},
      {"Ed25519 PKCS#8, another type", ed25519_pkcs8, "RSA", ed25519.get()},
      {"Ed25519 PKCS#8, no hint", ed25519_pkcs8, "", ed25519.get()},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    kube::EvpPkeyPtr key = kube::KeyFromPem(c.pem, c.hint);
    CHECK(key);
    if (!key) continue;
    CHECK(EVP_PKEY_eq(key.get(), c.want) == 1);  // compares the public halves
    CHECK(kube::KeyToPem(key.get()) == kube::KeyToPem(c.want));  // and the private ones
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

TEST_CASE("a client key that does not match the client certificate is refused at Create",
          "[kube][transport][tls]") {
  Pki pki;
  KeyPair client = pki.Client("admin"), other = pki.Client("other");
  kube::EvpPkeyPtr rsa(EVP_RSA_gen(2048));
  REQUIRE(rsa);
  struct Case {
    const char* name;
    std::string key_pem;
  };
  const Case cases[] = {
      {"another EC key", other.KeyPem()},
      {"an RSA key for an EC certificate", kube::KeyToPem(rsa.get())},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    kube::RestConfig rc;
    rc.server = "https://127.0.0.1:1";
    rc.ca_pem = pki.ca.CertPem();
    rc.client_cert_pem = client.CertPem();
    rc.client_key_pem = c.key_pem;
    auto t = kube::Transport::Create(rc);
    CHECK_FALSE(t.ok());
    if (t.ok()) continue;
    CHECK(t.status().code() == base::Code::kInvalidArgument);
    CHECK_THAT(t.status().message(),
               Catch::Contains("the client key does not match the client certificate"));
    CHECK(kube::OpenSslError() == "unknown OpenSSL error");  // the reason was taken off the queue
  }
}
