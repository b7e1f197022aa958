// Authentication for devcluster, as kube-apiserver does it with
// --client-ca-file and --token-auth-file: a verified client certificate gives
// user CN with groups O; a bearer token from DIR/pki/tokens.csv gives the
// user, uid and groups of its line. Every authenticated user also gets the
// group system:authenticated; service accounts
// (system:serviceaccount:NS:NAME) also get system:serviceaccounts and
// system:serviceaccounts:NS.
//
// Thread safety: an Authenticator is immutable after Create; its methods may
// be called from any number of threads.
#pragma once

#include <openssl/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tests/devcluster/pki.h"

namespace devcluster {

// authentication.k8s.io/v1 UserInfo.
struct UserInfo {
  std::string username, uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

class Authenticator {
 public:
  // Reads (creating missing entries, see EnsureTokens) DIR/pki/tokens.csv and
  // trusts client certificates signed by `ca`. InvalidArgument for an
  // unparsable CA or token file.
  static base::StatusOr<std::unique_ptr<Authenticator>> Create(const std::string& dir,
                                                               const CertKey& ca);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // The user of the connection's client certificate, or nullopt when the
  // client sent none, or one that does not verify against the CA for
  // clientAuth, or one without a CN (kube-apiserver answers those with 401).
  std::optional<UserInfo> FromPeerCertificate(const SSL* ssl) const;

  // The user of a bearer token (the text after "Bearer "), or nullopt.
  std::optional<UserInfo> FromBearerToken(std::string_view token) const;

  // The static tokens in force (tests read them to act as a user).
  const std::vector<StaticToken>& tokens() const { return tokens_; }

 private:
  Authenticator(X509_STORE* store, std::vector<StaticToken> tokens);

  X509_STORE* store_;  // owned
  std::vector<StaticToken> tokens_;
};

// Sets up an SSL_CTX for devcluster's HTTPS server: the serving certificate,
// TLS 1.2+ with ECDHE + AEAD ciphers only, no renegotiation, and a request
// (not a requirement) for a client certificate from `ca`. A client
// certificate that does not verify does not fail the handshake; it is simply
// not accepted by FromPeerCertificate (kube-apiserver's behaviour: 401, not a
// TLS alert). For httplib::SSLServer's setup-callback constructor.
base::Status ConfigureServerTls(SSL_CTX* ctx, const CertKey& serving, const CertKey& ca);

}  // namespace devcluster
