// devcluster's PKI: one ECDSA P-256 certificate authority, the API server's
// serving certificate, client certificates for users, static bearer tokens
// and the kubeconfig that lets kubectl use all of them.
//
// Everything lives under DIR/pki so that a restart with the same --dir reuses
// it (kubeconfigs written earlier keep working):
//   DIR/pki/ca.crt, ca.key                 the CA (10 years, CA:TRUE)
//   DIR/pki/apiserver.crt, apiserver.key   serving cert (serverAuth)
//   DIR/pki/users/USER.crt, USER.key       client certs (clientAuth)
//   DIR/pki/tokens.csv                     kube-apiserver static token file
//   DIR/kubeconfig                         mode 0600
// Private keys are written with mode 0600, the pki directory with 0700.
//
// Thread safety: the functions touch files; call them from one thread at
// start-up. IssueCert and the helpers at the bottom are thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace devcluster {

// PEM texts: "-----BEGIN CERTIFICATE-----" and a PKCS#8 "PRIVATE KEY".
struct CertKey {
  std::string cert_pem, key_pem;
};

// What IssueCert puts into a leaf certificate.
struct CertSpec {
  std::string common_name;
  std::vector<std::string> organizations;  // one O= per entry, in order
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  std::vector<std::string> ips;            // subjectAltName IP entries (v4 or v6 text)
  bool server_auth = false;                // extendedKeyUsage serverAuth
  bool client_auth = false;                // extendedKeyUsage clientAuth
  int valid_days = 365;
};

// A fresh ECDSA P-256 key and a certificate for it signed by `ca`. Nothing is
// written to disk. InvalidArgument for a malformed IP or unusable CA PEM.
base::StatusOr<CertKey> IssueCert(const CertKey& ca, const CertSpec& spec);

// Loads DIR/pki/ca.{crt,key} or creates them when both are missing. A CA that
// exists but cannot be read, does not match its key or has expired is an
// error (FailedPrecondition): silently replacing it would invalidate every
// kubeconfig and webhook caBundle issued before.
base::StatusOr<CertKey> EnsureCa(const std::string& dir);

// Loads DIR/pki/apiserver.{crt,key}; issues a new one when missing, not signed
// by `ca`, expiring within a day, or when its SANs differ from: DNS localhost
// + dns_names, IP 127.0.0.1 and ::1 + ips.
base::StatusOr<CertKey> EnsureServingCert(const std::string& dir, const CertKey& ca,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ips);

// Loads DIR/pki/users/USER.{crt,key}; issues a new one (CN=user, O=each group,
// clientAuth) when missing, not signed by `ca`, expiring within a day, or when
// CN/O differ. InvalidArgument for an empty user or one containing '/'.
base::StatusOr<CertKey> EnsureClientCert(const std::string& dir, const CertKey& ca,
                                         const std::string& user,
                                         const std::vector<std::string>& groups);

// One line of a kube-apiserver static token file:
//   token,user,uid,"group1,group2"
struct StaticToken {
  std::string token, user, uid;
  std::vector<std::string> groups;
};

// The users that devcluster's kubeconfig carries besides the admin.
inline constexpr char kTokenUser[] = "token-user";
inline constexpr char kWebhookServiceAccount[] =
    "system:serviceaccount:kubevirt:migration-webhook";

// Parses a static token file (blank lines and lines starting with '#' are
// skipped; the groups column is optional). InvalidArgument names the line.
base::StatusOr<std::vector<StaticToken>> ParseTokenFile(std::string_view csv);

// Loads DIR/pki/tokens.csv and adds, with fresh random tokens, whichever of
// kTokenUser (groups: dev) and kWebhookServiceAccount is missing. Entries
// added by hand are kept.
base::StatusOr<std::vector<StaticToken>> EnsureTokens(const std::string& dir);

// Writes DIR/kubeconfig (mode 0600): cluster `devcluster` (server_url,
// certificate-authority-data), users `admin` (CN=admin, O=system:masters),
// `alice` (CN=alice, O=dev), `token-user` and `sa-webhook` (bearer tokens
// from EnsureTokens), contexts `devcluster` (admin; current-context),
// `alice`, `token-user`, `sa-webhook`, all with namespace `default`.
// Issues/reuses the certificates and tokens it needs.
base::Status WriteKubeconfig(const std::string& dir, const std::string& server_url,
                             const CertKey& ca);

// Standard base64 (with padding). Decode skips whitespace and returns nullopt
// for anything else that is not base64.
std::string Base64Encode(std::string_view data);
std::optional<std::string> Base64Decode(std::string_view text);

// Cryptographically random values.
std::string RandomHex(size_t bytes);
std::string RandomUuid();  // RFC 4122 version 4, lower case

}  // namespace devcluster
