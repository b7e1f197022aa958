#include "tests/devcluster/auth.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <string>
#include <utility>

#include "kube/tls_util.h"

namespace devcluster {
namespace {

constexpr char kAuthenticated[] = "system:authenticated";
constexpr char kServiceAccountPrefix[] = "system:serviceaccount:";

// TLS 1.2 suites: forward secret, AEAD only. TLS 1.3 keeps OpenSSL's defaults
// (all of which are AEAD).
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};

std::vector<std::string> NameEntries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (len >= 0) {
      out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
      OPENSSL_free(utf8);
    }
  }
  return out;
}

// Verification happens in FromPeerCertificate (against the same CA), so the
// handshake itself accepts whatever the client presents.
int AcceptAnyClientCert(int /*preverify_ok*/, X509_STORE_CTX* /*ctx*/) { return 1; }

void AddGroup(UserInfo& user, const std::string& group) {
  for (const std::string& g : user.groups) {
    if (g == group) return;
  }
  user.groups.push_back(group);
}

// Groups that every request of this user carries besides its own.
void AddImplicitGroups(UserInfo& user) {
  std::string_view name = user.username;
  std::string_view prefix = kServiceAccountPrefix;
  if (name.substr(0, prefix.size()) == prefix) {
    std::string_view rest = name.substr(prefix.size());
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos && colon > 0 && colon + 1 < rest.size()) {
      AddGroup(user, "system:serviceaccounts");
      AddGroup(user, "system:serviceaccounts:" + std::string(rest.substr(0, colon)));
    }
  }
  AddGroup(user, kAuthenticated);
}

}  // namespace

Authenticator::Authenticator(X509_STORE* store, std::vector<StaticToken> tokens)
    : store_(store), tokens_(std::move(tokens)) {}

Authenticator::~Authenticator() { X509_STORE_free(store_); }

base::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(const std::string& dir,
                                                                     const CertKey& ca) {
  kube::X509Ptr ca_cert = kube::CertFromPem(ca.cert_pem);
  if (!ca_cert) {
    ERR_clear_error();
    return base::InvalidArgument("the client CA certificate is not valid PEM");
  }
  auto tokens = EnsureTokens(dir);
  if (!tokens.ok()) return tokens.status();
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr || X509_STORE_add_cert(store, ca_cert.get()) != 1) {
    X509_STORE_free(store);
    ERR_clear_error();
    return base::Internal("cannot build the client CA store");
  }
  return std::unique_ptr<Authenticator>(new Authenticator(store, std::move(*tokens)));
}

std::optional<UserInfo> Authenticator::FromPeerCertificate(const SSL* ssl) const {
  if (ssl == nullptr) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  // Our own verification, for clientAuth, rather than trusting the handshake's
  // result: ConfigureServerTls lets unverified certificates through.
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_, cert, SSL_get_peer_cert_chain(ssl)) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  bool verified = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  if (!verified) return std::nullopt;
  X509_NAME* subject = X509_get_subject_name(cert);
  std::vector<std::string> cns = NameEntries(subject, NID_commonName);
  if (cns.empty() || cns.back().empty()) return std::nullopt;
  UserInfo user;
  user.username = cns.back();
  for (const std::string& o : NameEntries(subject, NID_organizationName)) AddGroup(user, o);
  AddImplicitGroups(user);
  return user;
}

std::optional<UserInfo> Authenticator::FromBearerToken(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  // Compare against every entry in constant time so timing does not reveal
  // how much of a guessed token was right.
  const StaticToken* found = nullptr;
  for (const StaticToken& t : tokens_) {
    if (t.token.size() == token.size() &&
        CRYPTO_memcmp(t.token.data(), token.data(), token.size()) == 0) {
      found = &t;
    }
  }
  if (found == nullptr) return std::nullopt;
  UserInfo user;
  user.username = found->user;
  user.uid = found->uid;
  for (const std::string& g : found->groups) AddGroup(user, g);
  AddImplicitGroups(user);
  return user;
}

base::Status ConfigureServerTls(SSL_CTX* ctx, const CertKey& serving, const CertKey& ca) {
  if (ctx == nullptr) return base::InvalidArgument("no SSL_CTX");
  kube::X509Ptr cert = kube::CertFromPem(serving.cert_pem);
  kube::EvpPkeyPtr key = kube::KeyFromPem(serving.key_pem);
  kube::X509Ptr ca_cert = kube::CertFromPem(ca.cert_pem);
  if (!cert || !key || !ca_cert) {
    ERR_clear_error();
    return base::InvalidArgument("the serving certificate, its key or the CA is not valid PEM");
  }
  bool ok = SSL_CTX_use_certificate(ctx, cert.get()) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, key.get()) == 1 && SSL_CTX_check_private_key(ctx) == 1 &&
            SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
            SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) == 1;
  if (!ok) {
    ERR_clear_error();
    return base::InvalidArgument("cannot configure TLS with the serving certificate");
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_COMPRESSION);
  // Request a client certificate; clients like kubectl send one only when
  // asked, and (Go) only when its issuer is among the acceptable CAs listed.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (store == nullptr || X509_STORE_add_cert(store, ca_cert.get()) != 1) {
    ERR_clear_error();
    return base::Internal("cannot add the client CA to the TLS context");
  }
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  X509_NAME* ca_name = X509_NAME_dup(X509_get_subject_name(ca_cert.get()));
  if (names == nullptr || ca_name == nullptr || sk_X509_NAME_push(names, ca_name) <= 0) {
    X509_NAME_free(ca_name);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return base::Internal("cannot build the client CA list");
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyClientCert);
  // Needed once the server asks for client certificates, or session
  // resumption fails with "session id context uninitialized".
  static const unsigned char kSessionContext[] = "devcluster";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  return base::Status::Ok();
}

}  // namespace devcluster
