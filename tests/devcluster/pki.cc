#include "tests/devcluster/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>

#include "kube/tls_util.h"

namespace devcluster {
namespace {

namespace fs = std::filesystem;

constexpr int kCaValidDays = 3650;
// Certificates are re-issued when they would expire within this window, so a
// devcluster restarted the day before expiry does not hand out a dying cert.
constexpr int kRenewBeforeSeconds = 24 * 3600;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using kube::X509Ptr;
using PkeyPtr = kube::EvpPkeyPtr;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

base::Status OpenSslFailure(const std::string& what) {
  return base::Internal(what + ": " + kube::OpenSslError());
}

PkeyPtr NewKey() { return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

// Canonical text of an IP address ("::0001" and "::1" compare equal), or "" when
// `ip` is not an address.
std::string CanonicalIp(const std::string& ip) {
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, ip.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET, bytes, text, sizeof(text)) ? text : "";
  }
  if (inet_pton(AF_INET6, ip.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET6, bytes, text, sizeof(text)) ? text : "";
  }
  return "";
}

base::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslFailure(std::string("adding extension ") + OBJ_nid2sn(nid));
  }
  return base::Status::Ok();
}

base::Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& dns,
                                const std::vector<std::string>& ips) {
  if (dns.empty() && ips.empty()) return base::Status::Ok();
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  for (const std::string& d : dns) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, d.data(), static_cast<int>(d.size()));
    GENERAL_NAME_set0_value(gn, GEN_DNS, s);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  for (const std::string& ip : ips) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      ERR_clear_error();
      return base::InvalidArgument("not an IP address: \"" + ip + "\"");
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(gn, GEN_IPADD, octets);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure("adding subjectAltName");
  }
  return base::Status::Ok();
}

// A certificate for `key` with serial, validity, subject and issuer set.
base::StatusOr<X509Ptr> NewCert(EVP_PKEY* key, const std::string& cn,
                                const std::vector<std::string>& orgs, X509* issuer_cert,
                                int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslFailure("X509_new");
  X509_set_version(cert.get(), 2);  // v3

  // A random 127-bit serial: positive and unique without bookkeeping.
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return OpenSslFailure("RAND_bytes");
  serial_bytes[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslFailure("serial number");
  }

  // Back-date an hour so that small clock differences between processes do
  // not make a fresh certificate "not yet valid".
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), valid_days, 0, nullptr);

  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const std::string& o : orgs) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  }
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return OpenSslFailure("subject CN");
  }
  X509_set_issuer_name(cert.get(),
                       issuer_cert ? X509_get_subject_name(issuer_cert) : name);
  if (X509_set_pubkey(cert.get(), key) != 1) return OpenSslFailure("X509_set_pubkey");
  return cert;
}

base::StatusOr<CertKey> NewCa() {
  PkeyPtr key = NewKey();
  if (!key) return OpenSslFailure("generating the CA key");
  auto cert = NewCert(key.get(), "devcluster-ca", {}, nullptr, kCaValidDays);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    base::Status s = AddExtension(c, c, nid, value);
    if (!s.ok()) return s;
  }
  if (X509_sign(c, key.get(), EVP_sha256()) <= 0) return OpenSslFailure("signing the CA");
  return CertKey{kube::CertToPem(c), kube::KeyToPem(key.get())};
}

std::vector<std::string> SubjectEntries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len >= 0) {
      out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
      OPENSSL_free(utf8);
    }
  }
  return out;
}

// SANs as "DNS:name" / "IP:canonical-ip" strings.
std::set<std::string> SubjectAltNames(X509* cert) {
  std::set<std::string> out;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      out.insert("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                      static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_STRING* s = gn->d.iPAddress;
      char text[INET6_ADDRSTRLEN];
      int len = ASN1_STRING_length(s);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof(text))) {
        out.insert(std::string("IP:") + text);
      }
    }
  }
  return out;
}

// True when `cert` was signed by `ca_cert`, matches `key`, and stays valid for
// at least kRenewBeforeSeconds.
bool UsableLeaf(X509* cert, EVP_PKEY* key, X509* ca_cert) {
  bool ok = X509_verify(cert, X509_get0_pubkey(ca_cert)) == 1 &&
            X509_check_private_key(cert, key) == 1;
  time_t horizon = time(nullptr) + kRenewBeforeSeconds;
  ok = ok && X509_cmp_time(X509_get0_notAfter(cert), &horizon) > 0;
  ERR_clear_error();
  return ok;
}

base::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes through a temporary file and rename, so a crash never leaves half a
// key behind; `mode` applies from the first byte.
base::Status WriteFile(const fs::path& path, const std::string& content, mode_t mode) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return base::Internal("creating " + path.parent_path().string() + ": " + ec.message());
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return base::Internal("creating " + tmp.string() + ": " + strerror(errno));
  fchmod(fd, mode);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = strerror(errno);
      close(fd);
      return base::Internal("writing " + tmp.string() + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return base::Internal("writing " + tmp.string() + ": " + strerror(errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return base::Internal("renaming " + tmp.string() + ": " + strerror(errno));
  }
  return base::Status::Ok();
}

fs::path PkiDir(const std::string& dir) { return fs::path(dir) / "pki"; }

base::Status MakePkiDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(PkiDir(dir) / "users", ec);
  if (ec) return base::Internal("creating " + PkiDir(dir).string() + ": " + ec.message());
  fs::permissions(PkiDir(dir), fs::perms::owner_all, ec);
  return base::Status::Ok();
}

base::Status WritePair(const fs::path& crt, const fs::path& key, const CertKey& pair) {
  base::Status s = WriteFile(key, pair.key_pem, 0600);
  if (!s.ok()) return s;
  return WriteFile(crt, pair.cert_pem, 0644);
}

// Loads a leaf pair from disk, or nullopt when missing/unreadable (the caller
// then issues a new one; a leaf, unlike the CA, is cheap to replace).
struct LoadedLeaf {
  CertKey pem;
  X509Ptr cert;
  PkeyPtr key;
};
std::optional<LoadedLeaf> LoadLeaf(const fs::path& crt, const fs::path& key) {
  auto crt_text = ReadFile(crt);
  auto key_text = ReadFile(key);
  if (!crt_text.ok() || !key_text.ok()) return std::nullopt;
  LoadedLeaf leaf{{*crt_text, *key_text}, kube::CertFromPem(*crt_text), kube::KeyFromPem(*key_text)};
  ERR_clear_error();
  if (!leaf.cert || !leaf.key) return std::nullopt;
  return leaf;
}

// The leaf pair at `crt`/`key` when it is still usable under `ca` and
// `matches` accepts it; otherwise a fresh one issued for `spec` and written
// there. Reusing a leaf keeps kubeconfigs written earlier valid.
base::StatusOr<CertKey> ReuseOrIssueLeaf(const std::string& dir, const fs::path& crt,
                                         const fs::path& key, const CertKey& ca,
                                         const CertSpec& spec,
                                         const std::function<bool(X509* cert)>& matches) {
  X509Ptr ca_cert = kube::CertFromPem(ca.cert_pem);
  if (!ca_cert) {
    ERR_clear_error();
    return base::InvalidArgument("the CA certificate is not valid PEM");
  }
  base::Status s = MakePkiDir(dir);
  if (!s.ok()) return s;
  if (auto leaf = LoadLeaf(crt, key)) {
    if (UsableLeaf(leaf->cert.get(), leaf->key.get(), ca_cert.get()) && matches(leaf->cert.get())) {
      return leaf->pem;
    }
  }
  auto issued = IssueCert(ca, spec);
  if (!issued.ok()) return issued.status();
  s = WritePair(crt, key, *issued);
  if (!s.ok()) return s;
  return issued;
}

// Splits one CSV line (double quotes group, "" inside quotes is a quote).
std::optional<std::vector<std::string>> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return std::nullopt;
  return fields;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// YAML double-quoted scalar; our values are plain ASCII but may contain ':'.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

base::StatusOr<CertKey> IssueCert(const CertKey& ca, const CertSpec& spec) {
  X509Ptr ca_cert = kube::CertFromPem(ca.cert_pem);
  PkeyPtr ca_key = kube::KeyFromPem(ca.key_pem);
  if (!ca_cert || !ca_key) {
    ERR_clear_error();
    return base::InvalidArgument("the CA certificate or key is not valid PEM");
  }
  PkeyPtr key = NewKey();
  if (!key) return OpenSslFailure("generating a key");
  auto cert = NewCert(key.get(), spec.common_name, spec.organizations, ca_cert.get(),
                      spec.valid_days);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();

  std::string eku;
  if (spec.server_auth) eku = "serverAuth";
  if (spec.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid"},
  };
  if (!eku.empty()) exts.emplace_back(NID_ext_key_usage, eku);
  for (const auto& [nid, value] : exts) {
    base::Status s = AddExtension(c, ca_cert.get(), nid, value.c_str());
    if (!s.ok()) return s;
  }
  base::Status s = AddSubjectAltNames(c, spec.dns_names, spec.ips);
  if (!s.ok()) return s;
  if (X509_sign(c, ca_key.get(), EVP_sha256()) <= 0) return OpenSslFailure("signing");
  return CertKey{kube::CertToPem(c), kube::KeyToPem(key.get())};
}

base::StatusOr<CertKey> EnsureCa(const std::string& dir) {
  base::Status s = MakePkiDir(dir);
  if (!s.ok()) return s;
  fs::path crt = PkiDir(dir) / "ca.crt";
  fs::path key = PkiDir(dir) / "ca.key";
  bool have_crt = fs::exists(crt), have_key = fs::exists(key);
  if (!have_crt && !have_key) {
    auto ca = NewCa();
    if (!ca.ok()) return ca.status();
    s = WritePair(crt, key, *ca);
    if (!s.ok()) return s;
    return ca;
  }
  if (!have_crt || !have_key) {
    return base::FailedPrecondition("incomplete CA in " + PkiDir(dir).string() +
                                    ": need both ca.crt and ca.key (remove both to start over)");
  }
  auto leaf = LoadLeaf(crt, key);
  if (!leaf) return base::FailedPrecondition("cannot parse the CA in " + PkiDir(dir).string());
  time_t now = time(nullptr);
  bool ok = X509_check_private_key(leaf->cert.get(), leaf->key.get()) == 1 &&
            X509_check_ca(leaf->cert.get()) > 0 &&
            X509_cmp_time(X509_get0_notAfter(leaf->cert.get()), &now) > 0;
  ERR_clear_error();
  if (!ok) {
    return base::FailedPrecondition("the CA in " + PkiDir(dir).string() +
                                    " is expired, not a CA, or does not match its key");
  }
  return leaf->pem;
}

base::StatusOr<CertKey> EnsureServingCert(const std::string& dir, const CertKey& ca,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ips) {
  std::vector<std::string> want_dns = {"localhost"};
  for (const std::string& d : dns_names) {
    if (std::find(want_dns.begin(), want_dns.end(), d) == want_dns.end()) want_dns.push_back(d);
  }
  std::vector<std::string> want_ips = {"127.0.0.1", "::1"};
  for (const std::string& ip : ips) {
    std::string canon = CanonicalIp(ip);
    if (canon.empty()) return base::InvalidArgument("not an IP address: \"" + ip + "\"");
    if (std::find(want_ips.begin(), want_ips.end(), canon) == want_ips.end()) {
      want_ips.push_back(canon);
    }
  }
  std::set<std::string> want_sans;
  for (const std::string& d : want_dns) want_sans.insert("DNS:" + d);
  for (const std::string& ip : want_ips) want_sans.insert("IP:" + ip);

  CertSpec spec;
  spec.common_name = "devcluster-apiserver";
  spec.dns_names = want_dns;
  spec.ips = want_ips;
  spec.server_auth = true;
  return ReuseOrIssueLeaf(dir, PkiDir(dir) / "apiserver.crt", PkiDir(dir) / "apiserver.key", ca,
                          spec, [&](X509* cert) { return SubjectAltNames(cert) == want_sans; });
}

base::StatusOr<CertKey> EnsureClientCert(const std::string& dir, const CertKey& ca,
                                         const std::string& user,
                                         const std::vector<std::string>& groups) {
  if (user.empty() || user.find('/') != std::string::npos || user[0] == '.') {
    return base::InvalidArgument("unusable user name for a client certificate: \"" + user + "\"");
  }
  CertSpec spec;
  spec.common_name = user;
  spec.organizations = groups;
  spec.client_auth = true;
  fs::path users = PkiDir(dir) / "users";
  return ReuseOrIssueLeaf(dir, users / (user + ".crt"), users / (user + ".key"), ca, spec,
                          [&](X509* cert) {
                            return SubjectEntries(cert, NID_commonName) ==
                                       std::vector<std::string>{user} &&
                                   SubjectEntries(cert, NID_organizationName) == groups;
                          });
}

base::StatusOr<std::vector<StaticToken>> ParseTokenFile(std::string_view csv) {
  std::vector<StaticToken> out;
  size_t line_no = 0;
  while (!csv.empty()) {
    size_t nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv.remove_prefix(nl == std::string_view::npos ? csv.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto fields = SplitCsvLine(line);
    if (!fields || fields->size() < 3 || fields->size() > 4 || (*fields)[0].empty() ||
        (*fields)[1].empty()) {
      return base::InvalidArgument("token file line " + std::to_string(line_no) +
                                   ": want token,user,uid[,\"group1,group2\"]");
    }
    StaticToken t{(*fields)[0], (*fields)[1], (*fields)[2], {}};
    if (fields->size() == 4) {
      std::string_view groups = (*fields)[3];
      while (!groups.empty()) {
        size_t comma = groups.find(',');
        std::string_view g = groups.substr(0, comma);
        if (!g.empty()) t.groups.emplace_back(g);
        groups.remove_prefix(comma == std::string_view::npos ? groups.size() : comma + 1);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

base::StatusOr<std::vector<StaticToken>> EnsureTokens(const std::string& dir) {
  base::Status s = MakePkiDir(dir);
  if (!s.ok()) return s;
  fs::path path = PkiDir(dir) / "tokens.csv";
  std::vector<StaticToken> tokens;
  if (fs::exists(path)) {
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    auto parsed = ParseTokenFile(*text);
    if (!parsed.ok()) return base::InvalidArgument(path.string() + ": " + parsed.status().message());
    tokens = std::move(*parsed);
  }
  bool changed = false;
  auto ensure = [&](const std::string& user, std::vector<std::string> groups) {
    for (const StaticToken& t : tokens) {
      if (t.user == user) return;
    }
    tokens.push_back({RandomHex(24), user, RandomUuid(), std::move(groups)});
    changed = true;
  };
  ensure(kTokenUser, {"dev"});
  ensure(kWebhookServiceAccount, {});
  if (!changed) return tokens;
  std::string text;
  for (const StaticToken& t : tokens) {
    text += CsvField(t.token) + "," + CsvField(t.user) + "," + CsvField(t.uid);
    if (!t.groups.empty()) text += ",\"" + Join(t.groups, ",") + "\"";
    text += "\n";
  }
  s = WriteFile(path, text, 0600);
  if (!s.ok()) return s;
  return tokens;
}

base::Status WriteKubeconfig(const std::string& dir, const std::string& server_url,
                             const CertKey& ca) {
  auto admin = EnsureClientCert(dir, ca, "admin", {"system:masters"});
  if (!admin.ok()) return admin.status();
  auto alice = EnsureClientCert(dir, ca, "alice", {"dev"});
  if (!alice.ok()) return alice.status();
  auto tokens = EnsureTokens(dir);
  if (!tokens.ok()) return tokens.status();
  auto token_of = [&](const std::string& user) {
    for (const StaticToken& t : *tokens) {
      if (t.user == user) return t.token;
    }
    return std::string();
  };

  std::string y;
  y += "apiVersion: v1\nkind: Config\npreferences: {}\n";
  y += "clusters:\n- name: devcluster\n  cluster:\n";
  y += "    server: " + Quote(server_url) + "\n";
  y += "    certificate-authority-data: " + Base64Encode(ca.cert_pem) + "\n";
  y += "users:\n";
  for (const auto& [name, pair] : {std::pair{"admin", &*admin}, std::pair{"alice", &*alice}}) {
    y += std::string("- name: ") + name + "\n  user:\n";
    y += "    client-certificate-data: " + Base64Encode(pair->cert_pem) + "\n";
    y += "    client-key-data: " + Base64Encode(pair->key_pem) + "\n";
  }
  y += "- name: token-user\n  user:\n    token: " + Quote(token_of(kTokenUser)) + "\n";
  y += "- name: sa-webhook\n  user:\n    token: " + Quote(token_of(kWebhookServiceAccount)) + "\n";
  y += "contexts:\n";
  for (const char* name : {"devcluster", "alice", "token-user", "sa-webhook"}) {
    std::string user = std::string(name) == "devcluster" ? "admin" : name;
    y += std::string("- name: ") + name + "\n  context:\n    cluster: devcluster\n";
    y += "    user: " + user + "\n    namespace: default\n";
  }
  y += "current-context: devcluster\n";
  return WriteFile(fs::path(dir) / "kubeconfig", y, 0600);
}

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    bool valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/' || c == '=';
    if (!valid) return std::nullopt;
    clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < clean.size() && pad < 2 && clean[clean.size() - 1 - pad] == '=') ++pad;
  if (clean.find('=') < clean.size() - pad) return std::nullopt;
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes that padding stands for; drop them.
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string RandomUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kDigits[b[i] >> 4];
    out += kDigits[b[i] & 15];
  }
  return out;
}

}  // namespace devcluster
