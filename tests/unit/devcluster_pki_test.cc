// devcluster's PKI (CA, serving and client certificates, tokens, kubeconfig)
// and its Authenticator, with real OpenSSL verification and real TLS
// handshakes on port 0.
#include <httplib.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "kube/tls_util.h"
#include "tests/devcluster/auth.h"
#include "tests/devcluster/pki.h"
#include "tests/testing/local_server.h"
#include "tests/testing/temp_dir.h"

namespace devcluster {
namespace {

namespace fs = std::filesystem;

using kube::X509Ptr;
using kube::testing::TempDir;

// X509_verify_cert of `leaf` against `ca` for `purpose`; the error text or "".
std::string VerifyChain(const CertKey& ca, const CertKey& leaf, int purpose) {
  auto store = kube::CertStoreFromPem(ca.cert_pem, "the CA");
  REQUIRE(store.ok());
  X509Ptr cert = kube::CertFromPem(leaf.cert_pem);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store->get(), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  std::string err;
  if (X509_verify_cert(ctx) != 1) err = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  return err;
}

std::vector<std::string> SubjectEntries(const CertKey& ck, int nid) {
  X509Ptr cert = kube::CertFromPem(ck.cert_pem);
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t Mode(const fs::path& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST_CASE("EnsureCa creates a CA once and returns the same one afterwards", "[pki]") {
  TempDir dir;
  auto first = EnsureCa(dir.path());
  REQUIRE(first.ok());
  X509Ptr cert = kube::CertFromPem(first->cert_pem);
  REQUIRE(cert);
  CHECK(X509_check_ca(cert.get()) > 0);
  CHECK(X509_check_private_key(cert.get(), kube::KeyFromPem(first->key_pem).get()) == 1);
  CHECK(Mode(fs::path(dir.path()) / "pki" / "ca.key") == 0600);
  // Ten years, give or take the back-dating.
  time_t nine_years = time(nullptr) + 9L * 365 * 24 * 3600;
  CHECK(X509_cmp_time(X509_get0_notAfter(cert.get()), &nine_years) > 0);

  auto second = EnsureCa(dir.path());
  REQUIRE(second.ok());
  CHECK(second->cert_pem == first->cert_pem);
  CHECK(second->key_pem == first->key_pem);
}

TEST_CASE("EnsureCa refuses a CA with its key missing instead of replacing it", "[pki]") {
  TempDir dir;
  REQUIRE(EnsureCa(dir.path()).ok());
  fs::remove(fs::path(dir.path()) / "pki" / "ca.key");
  auto again = EnsureCa(dir.path());
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == base::Code::kFailedPrecondition);
}

TEST_CASE("the serving certificate chains to the CA for serverAuth and carries the SANs",
          "[pki]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  auto serving = EnsureServingCert(dir.path(), *ca, {"devcluster.example"}, {"10.1.2.3"});
  REQUIRE(serving.ok());
  CHECK(VerifyChain(*ca, *serving, X509_PURPOSE_SSL_SERVER) == "");
  CHECK(VerifyChain(*ca, *serving, X509_PURPOSE_SSL_CLIENT) != "");
  X509Ptr cert = kube::CertFromPem(serving->cert_pem);
  CHECK(X509_check_host(cert.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert.get(), "devcluster.example", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert.get(), "other.example", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "10.1.2.3", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "10.1.2.4", 0) == 0);
  CHECK(Mode(fs::path(dir.path()) / "pki" / "apiserver.key") == 0600);
}

TEST_CASE("the serving certificate is reused while its SANs match and reissued when they differ",
          "[pki]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  auto first = EnsureServingCert(dir.path(), *ca, {"a.example"}, {});
  auto same = EnsureServingCert(dir.path(), *ca, {"a.example"}, {"127.0.0.1"});
  REQUIRE(first.ok());
  REQUIRE(same.ok());
  CHECK(same->cert_pem == first->cert_pem);
  auto changed = EnsureServingCert(dir.path(), *ca, {"b.example"}, {});
  REQUIRE(changed.ok());
  CHECK(changed->cert_pem != first->cert_pem);
  X509Ptr changed_cert = kube::CertFromPem(changed->cert_pem);
  CHECK(X509_check_host(changed_cert.get(), "b.example", 0, 0, nullptr) == 1);
  CHECK(ReadAll(fs::path(dir.path()) / "pki" / "apiserver.crt") == changed->cert_pem);
}

TEST_CASE("a serving certificate signed by another CA is replaced", "[pki]") {
  TempDir dir, other;
  auto ca = EnsureCa(dir.path());
  auto other_ca = EnsureCa(other.path());
  REQUIRE(ca.ok());
  REQUIRE(other_ca.ok());
  auto foreign = EnsureServingCert(dir.path(), *other_ca, {}, {});
  REQUIRE(foreign.ok());
  auto mine = EnsureServingCert(dir.path(), *ca, {}, {});
  REQUIRE(mine.ok());
  CHECK(mine->cert_pem != foreign->cert_pem);
  CHECK(VerifyChain(*ca, *mine, X509_PURPOSE_SSL_SERVER) == "");
}

TEST_CASE("a serving certificate request with a malformed IP is refused", "[pki]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  auto bad = EnsureServingCert(dir.path(), *ca, {}, {"10.0.0.300"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("client certificates carry the user as CN and each group as O, for clientAuth",
          "[pki]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  auto alice = EnsureClientCert(dir.path(), *ca, "alice", {"dev", "ops"});
  REQUIRE(alice.ok());
  CHECK(SubjectEntries(*alice, NID_commonName) == std::vector<std::string>{"alice"});
  CHECK(SubjectEntries(*alice, NID_organizationName) == std::vector<std::string>{"dev", "ops"});
  CHECK(VerifyChain(*ca, *alice, X509_PURPOSE_SSL_CLIENT) == "");
  CHECK(VerifyChain(*ca, *alice, X509_PURPOSE_SSL_SERVER) != "");
  CHECK(fs::exists(fs::path(dir.path()) / "pki" / "users" / "alice.crt"));

  auto again = EnsureClientCert(dir.path(), *ca, "alice", {"dev", "ops"});
  REQUIRE(again.ok());
  CHECK(again->cert_pem == alice->cert_pem);
  auto regrouped = EnsureClientCert(dir.path(), *ca, "alice", {"dev"});
  REQUIRE(regrouped.ok());
  CHECK(SubjectEntries(*regrouped, NID_organizationName) == std::vector<std::string>{"dev"});

  CHECK_FALSE(EnsureClientCert(dir.path(), *ca, "../evil", {}).ok());
  CHECK_FALSE(EnsureClientCert(dir.path(), *ca, "", {}).ok());
}

TEST_CASE("static token files parse like kube-apiserver's --token-auth-file", "[pki]") {
  struct Case {
    const char* text;
    bool ok;
    size_t count;
    std::vector<std::string> first_groups;
  };
  const Case cases[] = {
      {"t1,alice,uid1\n", true, 1, {}},
      {"t1,alice,uid1,\"dev,ops\"\n", true, 1, {"dev", "ops"}},
      {"t1,alice,uid1,dev\r\n", true, 1, {"dev"}},
      {"# comment\n\nt1,alice,uid1\nt2,bob,uid2,\"a\"\n", true, 2, {}},
      {"t1,alice\n", false, 0, {}},
      {",alice,uid1\n", false, 0, {}},
      {"t1,alice,uid1,\"dev\n", false, 0, {}},
      {"t1,alice,uid1,g,extra\n", false, 0, {}},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto parsed = ParseTokenFile(c.text);
    REQUIRE(parsed.ok() == c.ok);
    if (!c.ok) continue;
    REQUIRE(parsed->size() == c.count);
    CHECK(parsed->front().groups == c.first_groups);
  }
}

TEST_CASE("EnsureTokens adds the test users once and keeps entries added by hand", "[pki]") {
  TempDir dir;
  fs::create_directories(fs::path(dir.path()) / "pki");
  {
    std::ofstream out(fs::path(dir.path()) / "pki" / "tokens.csv");
    out << "handmade,carol,uid-c,\"qa\"\n";
  }
  auto first = EnsureTokens(dir.path());
  REQUIRE(first.ok());
  REQUIRE(first->size() == 3);
  CHECK((*first)[0].user == "carol");
  CHECK((*first)[1].user == kTokenUser);
  CHECK((*first)[2].user == kWebhookServiceAccount);
  CHECK((*first)[1].token.size() >= 32);
  CHECK((*first)[1].token != (*first)[2].token);
  CHECK(Mode(fs::path(dir.path()) / "pki" / "tokens.csv") == 0600);

  auto second = EnsureTokens(dir.path());
  REQUIRE(second.ok());
  REQUIRE(second->size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK((*second)[i].token == (*first)[i].token);
  auto reparsed = ParseTokenFile(ReadAll(fs::path(dir.path()) / "pki" / "tokens.csv"));
  REQUIRE(reparsed.ok());
  CHECK((*reparsed)[1].groups == std::vector<std::string>{"dev"});
}

TEST_CASE("the kubeconfig has the devcluster cluster, four users and four contexts", "[pki]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  REQUIRE(WriteKubeconfig(dir.path(), "https://127.0.0.1:6443", *ca).ok());
  fs::path path = fs::path(dir.path()) / "kubeconfig";
  CHECK(Mode(path) == 0600);
  YAML::Node kc = YAML::LoadFile(path.string());
  CHECK(kc["current-context"].as<std::string>() == "devcluster");
  REQUIRE(kc["clusters"].size() == 1);
  CHECK(kc["clusters"][0]["name"].as<std::string>() == "devcluster");
  CHECK(kc["clusters"][0]["cluster"]["server"].as<std::string>() == "https://127.0.0.1:6443");
  CHECK(Base64Decode(kc["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>()) ==
        ca->cert_pem);

  std::map<std::string, YAML::Node> users;
  for (const auto& u : kc["users"]) users[u["name"].as<std::string>()] = u["user"];
  REQUIRE(users.size() == 4);
  auto admin_cert = Base64Decode(users["admin"]["client-certificate-data"].as<std::string>());
  REQUIRE(admin_cert);
  CertKey admin{*admin_cert, ""};
  CHECK(SubjectEntries(admin, NID_commonName) == std::vector<std::string>{"admin"});
  CHECK(SubjectEntries(admin, NID_organizationName) ==
        std::vector<std::string>{"system:masters"});
  CHECK(kube::KeyFromPem(*Base64Decode(users["admin"]["client-key-data"].as<std::string>())));
  CHECK(users["alice"]["client-certificate-data"]);

  auto tokens = EnsureTokens(dir.path());
  REQUIRE(tokens.ok());
  CHECK(users["token-user"]["token"].as<std::string>() == (*tokens)[0].token);
  CHECK(users["sa-webhook"]["token"].as<std::string>() == (*tokens)[1].token);
  CHECK((*tokens)[1].user == "system:serviceaccount:kubevirt:migration-webhook");

  std::map<std::string, std::string> context_user;
  for (const auto& c : kc["contexts"]) {
    context_user[c["name"].as<std::string>()] = c["context"]["user"].as<std::string>();
    CHECK(c["context"]["cluster"].as<std::string>() == "devcluster");
    CHECK(c["context"]["namespace"].as<std::string>() == "default");
  }
  CHECK(context_user == std::map<std::string, std::string>{{"devcluster", "admin"},
                                                           {"alice", "alice"},
                                                           {"token-user", "token-user"},
                                                           {"sa-webhook", "sa-webhook"}});

  // Rewriting (a restart) keeps the credentials.
  REQUIRE(WriteKubeconfig(dir.path(), "https://127.0.0.1:6443", *ca).ok());
  YAML::Node again = YAML::LoadFile(path.string());
  CHECK(again["users"][0]["user"]["client-certificate-data"].as<std::string>() ==
        users["admin"]["client-certificate-data"].as<std::string>());
}

TEST_CASE("base64 round-trips and rejects what is not base64", "[pki]") {
  const std::string samples[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                 std::string("\0\xff", 2)};
  for (const std::string& s : samples) {
    CHECK(Base64Decode(Base64Encode(s)) == s);
  }
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK(Base64Decode("Zm9v\nYmE=") == std::optional<std::string>("fooba"));
  CHECK(Base64Decode("Zm9") == std::nullopt);
  CHECK(Base64Decode("Zm9v!mFy") == std::nullopt);
  CHECK(Base64Decode("Zm=vYmFy") == std::nullopt);
}

TEST_CASE("RandomUuid gives distinct version-4 UUIDs", "[pki]") {
  std::string a = RandomUuid(), b = RandomUuid();
  CHECK(a != b);
  REQUIRE(a.size() == 36);
  CHECK(a[8] == '-');
  CHECK(a[14] == '4');
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);
}

TEST_CASE("bearer tokens authenticate their user with system:authenticated", "[auth]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  auto auth = Authenticator::Create(dir.path(), *ca);
  REQUIRE(auth.ok());
  const auto& tokens = (*auth)->tokens();
  REQUIRE(tokens.size() == 2);

  auto user = (*auth)->FromBearerToken(tokens[0].token);
  REQUIRE(user);
  CHECK(user->username == "token-user");
  CHECK(user->uid == tokens[0].uid);
  CHECK(user->groups == std::vector<std::string>{"dev", "system:authenticated"});

  auto sa = (*auth)->FromBearerToken(tokens[1].token);
  REQUIRE(sa);
  CHECK(sa->username == "system:serviceaccount:kubevirt:migration-webhook");
  CHECK(sa->groups == std::vector<std::string>{"system:serviceaccounts",
                                                "system:serviceaccounts:kubevirt",
                                                "system:authenticated"});

  CHECK_FALSE((*auth)->FromBearerToken(""));
  CHECK_FALSE((*auth)->FromBearerToken("nope"));
  CHECK_FALSE((*auth)->FromBearerToken(tokens[0].token.substr(1)));
}

// An HTTPS server set up with ConfigureServerTls that answers with the
// authenticated user's name and groups, or "anonymous".
class WhoAmIServer {
 public:
  WhoAmIServer(const CertKey& serving, const CertKey& ca, const Authenticator& auth)
      : svr_([&](SSL_CTX& ctx) { return ConfigureServerTls(&ctx, serving, ca).ok(); }) {
    svr_.Get("/whoami", [&auth](const httplib::Request& req, httplib::Response& res) {
      auto user = auth.FromPeerCertificate(req.ssl);
      std::string text = "anonymous";
      if (user) {
        text = user->username;
        for (const std::string& g : user->groups) text += " " + g;
      }
      res.set_content(text, "text/plain");
    });
    thread_.Start(svr_);
  }
  bool valid() const { return svr_.is_valid() && thread_.port() > 0; }
  int port() const { return thread_.port(); }

 private:
  httplib::SSLServer svr_;
  kube::testing::ServerThread thread_;
};

// GET /whoami, verifying the server against `ca`, optionally with a client cert.
std::string WhoAmI(int port, const CertKey& ca, const CertKey* client) {
  X509Ptr cert = client ? kube::CertFromPem(client->cert_pem) : nullptr;
  kube::EvpPkeyPtr key = client ? kube::KeyFromPem(client->key_pem) : nullptr;
  std::unique_ptr<httplib::SSLClient> cli =
      client ? std::make_unique<httplib::SSLClient>("127.0.0.1", port, cert.get(), key.get())
             : std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  auto store = kube::CertStoreFromPem(ca.cert_pem, "the CA");
  if (!store.ok()) return "error: " + store.status().ToString();
  cli->set_ca_cert_store(store->release());  // the client takes the store
  cli->enable_server_certificate_verification(true);
  auto res = cli->Get("/whoami");
  if (!res) return "error: " + httplib::to_string(res.error());
  return res->body;
}

TEST_CASE("client certificates authenticate over TLS only when they chain to the CA", "[auth]") {
  TempDir dir, other;
  auto ca = EnsureCa(dir.path());
  auto other_ca = EnsureCa(other.path());
  REQUIRE(ca.ok());
  REQUIRE(other_ca.ok());
  auto serving = EnsureServingCert(dir.path(), *ca, {}, {});
  auto admin = EnsureClientCert(dir.path(), *ca, "admin", {"system:masters"});
  auto mallory = EnsureClientCert(other.path(), *other_ca, "admin", {"system:masters"});
  REQUIRE(serving.ok());
  REQUIRE(admin.ok());
  REQUIRE(mallory.ok());
  auto auth = Authenticator::Create(dir.path(), *ca);
  REQUIRE(auth.ok());

  WhoAmIServer server(*serving, *ca, **auth);
  REQUIRE(server.valid());
  CHECK(WhoAmI(server.port(), *ca, &*admin) == "admin system:masters system:authenticated");
  CHECK(WhoAmI(server.port(), *ca, nullptr) == "anonymous");
  CHECK(WhoAmI(server.port(), *ca, &*mallory) == "anonymous");
  // A server certificate is only accepted by clients that trust our CA.
  CHECK(WhoAmI(server.port(), *other_ca, nullptr).rfind("error:", 0) == 0);
}

TEST_CASE("ConfigureServerTls refuses TLS 1.1 clients", "[auth]") {
  TempDir dir;
  auto ca = EnsureCa(dir.path());
  REQUIRE(ca.ok());
  auto serving = EnsureServingCert(dir.path(), *ca, {}, {});
  REQUIRE(serving.ok());
  auto auth = Authenticator::Create(dir.path(), *ca);
  REQUIRE(auth.ok());
  WhoAmIServer server(*serving, *ca, **auth);
  REQUIRE(server.valid());

  httplib::SSLClient old("127.0.0.1", server.port());
  old.enable_server_certificate_verification(false);
  SSL_CTX_set_security_level(old.ssl_context(), 0);
  SSL_CTX_set_min_proto_version(old.ssl_context(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old.ssl_context(), TLS1_1_VERSION);
  CHECK_FALSE(old.Get("/whoami"));

  httplib::SSLClient modern("127.0.0.1", server.port());
  modern.enable_server_certificate_verification(false);
  SSL_CTX_set_max_proto_version(modern.ssl_context(), TLS1_2_VERSION);
  auto res = modern.Get("/whoami");
  REQUIRE(res);
  CHECK(res->body == "anonymous");
}

}  // namespace
}  // namespace devcluster
