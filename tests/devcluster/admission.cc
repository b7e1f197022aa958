#include "tests/devcluster/admission.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <optional>
#include <utility>

#include "kube/api_status.h"
#include "tests/devcluster/pki.h"

namespace devcluster {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int kDefaultTimeoutSeconds = 10;
constexpr int kMaxTimeoutSeconds = 30;

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

bool IsNamespaceResource(const AdmissionAttributes& a) {
  return a.group.empty() && a.resource == "namespaces";
}

std::map<std::string, std::string> LabelsOf(const Json* obj) {
  if (obj == nullptr) return {};
  const Json* meta = Member(*obj, "metadata");
  return meta ? StringMap(Member(*meta, "labels")) : std::map<std::string, std::string>{};
}

// The strings of a JSON array, or nullopt when `v` is not an array of strings.
// A missing member reads as an empty list (kube-apiserver's validation
// requires these lists; an empty one matches nothing).
std::optional<std::vector<std::string>> StringList(const Json* v) {
  std::vector<std::string> out;
  if (v == nullptr || v->IsNull()) return out;
  if (!v->IsArray()) return std::nullopt;
  for (const Json& item : v->GetArray()) {
    if (!item.IsString()) return std::nullopt;
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

bool ExactOrWildcard(const std::vector<std::string>& items, const std::string& requested) {
  return std::any_of(items.begin(), items.end(),
                     [&](const std::string& i) { return i == "*" || i == requested; });
}

// One admissionregistration.k8s.io/v1 RuleWithOperations against the request
// at `version`.
base::StatusOr<bool> RuleMatches(const Json& rule, const AdmissionAttributes& a,
                                 const std::string& version) {
  if (!rule.IsObject()) return base::InvalidArgument("rules: each rule must be an object");
  auto ops = StringList(Member(rule, "operations"));
  auto groups = StringList(Member(rule, "apiGroups"));
  auto versions = StringList(Member(rule, "apiVersions"));
  auto resources = StringList(Member(rule, "resources"));
  if (!ops || !groups || !versions || !resources) {
    return base::InvalidArgument(
        "rules: operations, apiGroups, apiVersions and resources must be lists of strings");
  }
  std::string scope = "*";
  if (const Json* s = Member(rule, "scope"); s != nullptr && !s->IsNull()) {
    if (!s->IsString()) return base::InvalidArgument("rules: scope must be a string");
    scope = s->GetString();
    if (scope != "*" && scope != "Cluster" && scope != "Namespaced") {
      return base::InvalidArgument("rules: scope must be one of \"*\", \"Cluster\", \"Namespaced\"");
    }
  }
  // A Namespace object is cluster-scoped even though it "has" a namespace.
  bool cluster_scoped = !a.namespaced || IsNamespaceResource(a);
  if (scope == "Cluster" && !cluster_scoped) return false;
  if (scope == "Namespaced" && cluster_scoped) return false;
  if (!ExactOrWildcard(*ops, a.operation)) return false;
  if (!ExactOrWildcard(*groups, a.group)) return false;
  if (!ExactOrWildcard(*versions, version)) return false;
  for (const std::string& r : *resources) {
    size_t slash = r.find('/');
    std::string res = r.substr(0, slash);
    std::string sub = slash == std::string::npos ? "" : r.substr(slash + 1);
    if ((res == "*" || res == a.resource) && (sub == "*" || sub == a.sub_resource)) return true;
  }
  return false;
}

base::StatusOr<bool> AnyRuleMatches(const Json* rules, const AdmissionAttributes& a,
                                    const std::string& version) {
  if (rules == nullptr || rules->IsNull()) return false;
  if (!rules->IsArray()) return base::InvalidArgument("rules must be a list");
  for (const Json& rule : rules->GetArray()) {
    auto m = RuleMatches(rule, a, version);
    if (!m.ok() || *m) return m;
  }
  return false;
}

bool IsEmptySelector(const Json* s) {
  return s == nullptr || s->IsNull() || (s->IsObject() && s->MemberCount() == 0);
}

// ---- the AdmissionReview request ----

void WriteString(Writer& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteField(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  WriteString(w, value);
}

// The object as the webhook sees it at `api_version` (for our CRDs,
// converting between versions only changes apiVersion).
void WriteObject(Writer& w, const Json* obj, const std::string& api_version, bool convert) {
  if (obj == nullptr) {
    w.Null();
    return;
  }
  if (!convert || !obj->IsObject()) {
    obj->Accept(w);
    return;
  }
  w.StartObject();
  for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
    w.Key(it->name.GetString(), it->name.GetStringLength());
    if (std::string_view(it->name.GetString(), it->name.GetStringLength()) == "apiVersion") {
      WriteString(w, api_version);
    } else {
      it->value.Accept(w);
    }
  }
  w.EndObject();
}

std::string BuildReview(const AdmissionAttributes& a, const std::string& version,
                        const std::string& uid) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  auto gvk = [&](const std::string& v) {
    w.StartObject();
    WriteField(w, "group", a.group);
    WriteField(w, "version", v);
    WriteField(w, "kind", a.kind);
    w.EndObject();
  };
  auto gvr = [&](const std::string& v) {
    w.StartObject();
    WriteField(w, "group", a.group);
    WriteField(w, "version", v);
    WriteField(w, "resource", a.resource);
    w.EndObject();
  };
  w.StartObject();
  w.Key("kind");
  w.String("AdmissionReview");
  w.Key("apiVersion");
  w.String("admission.k8s.io/v1");
  w.Key("request");
  w.StartObject();
  WriteField(w, "uid", uid);
  w.Key("kind");
  gvk(version);
  w.Key("resource");
  gvr(version);
  if (!a.sub_resource.empty()) WriteField(w, "subResource", a.sub_resource);
  w.Key("requestKind");
  gvk(a.version);
  w.Key("requestResource");
  gvr(a.version);
  if (!a.sub_resource.empty()) WriteField(w, "requestSubResource", a.sub_resource);
  if (!a.name.empty()) WriteField(w, "name", a.name);
  if (!a.ns.empty()) WriteField(w, "namespace", a.ns);
  WriteField(w, "operation", a.operation);
  w.Key("userInfo");
  w.StartObject();
  WriteField(w, "username", a.user.username);
  if (!a.user.uid.empty()) WriteField(w, "uid", a.user.uid);
  if (!a.user.groups.empty()) {
    w.Key("groups");
    w.StartArray();
    for (const std::string& g : a.user.groups) WriteString(w, g);
    w.EndArray();
  }
  if (!a.user.extra.empty()) {
    w.Key("extra");
    w.StartObject();
    for (const auto& [k, values] : a.user.extra) {
      WriteString(w, k);
      w.StartArray();
      for (const std::string& v : values) WriteString(w, v);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndObject();
  bool convert = version != a.version;
  std::string api_version = a.group.empty() ? version : a.group + "/" + version;
  w.Key("object");
  WriteObject(w, a.object, api_version, convert);
  w.Key("oldObject");
  WriteObject(w, a.old_object, api_version, convert);
  w.Key("dryRun");
  w.Bool(a.dry_run);
  w.Key("options");
  if (a.options != nullptr) {
    a.options->Accept(w);
  } else {
    w.Null();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// ---- where and how to connect ----

struct Endpoint {
  std::string connect_host;  // what we dial (no brackets)
  int port = 443;
  std::string path;          // path and query, as sent
  std::string display_url;   // the URL as kube-apiserver names it in errors
  std::string verify_name;   // the name the serving certificate must carry
  std::string ca_pem;        // "" = system roots
  std::string service;       // "NAME" for clientConfig.service, for errors
  bool service_missing = false;
};

// "host:port" / "[v6]:port" → host, port.
bool SplitHostPort(const std::string& hp, std::string* host, int* port) {
  std::string h, p;
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find(']');
    if (close == std::string::npos) return false;
    h = hp.substr(1, close - 1);
    if (close + 1 < hp.size()) {
      if (hp[close + 1] != ':') return false;
      p = hp.substr(close + 2);
    }
  } else {
    size_t colon = hp.rfind(':');
    if (colon == std::string::npos) {
      h = hp;
    } else {
      h = hp.substr(0, colon);
      p = hp.substr(colon + 1);
    }
  }
  if (h.empty()) return false;
  *host = h;
  if (p.empty()) return true;
  if (p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
  *port = std::stoi(p);
  return *port > 0 && *port < 65536;
}

std::string JoinHostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// clientConfig → Endpoint, or the reason the webhook cannot be called.
base::StatusOr<Endpoint> ResolveClientConfig(const Json* cc,
                                             const std::map<std::string, std::string>& services) {
  if (cc == nullptr || !cc->IsObject()) {
    return base::InvalidArgument("could not get REST client: webhook has no clientConfig");
  }
  Endpoint ep;
  if (const Json* ca = Member(*cc, "caBundle"); ca != nullptr && !ca->IsNull()) {
    auto pem = ca->IsString() ? Base64Decode(ca->GetString()) : std::nullopt;
    if (!pem || pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return base::InvalidArgument(
          "could not get REST client: unable to load root certificates: unable to parse bytes "
          "as PEM block");
    }
    ep.ca_pem = *pem;
  }
  const Json* url = Member(*cc, "url");
  const Json* svc = Member(*cc, "service");
  bool has_url = url != nullptr && !url->IsNull();
  bool has_svc = svc != nullptr && !svc->IsNull();
  if (has_url == has_svc) {
    return base::InvalidArgument(
        "could not get REST client: exactly one of clientConfig.url or clientConfig.service "
        "is required");
  }
  if (has_url) {
    std::string u = url->IsString() ? url->GetString() : "";
    constexpr std::string_view kScheme = "https://";
    if (u.compare(0, kScheme.size(), kScheme) != 0) {
      return base::InvalidArgument("could not get REST client: clientConfig.url: 'https' is the "
                                   "only allowed URL scheme: \"" + u + "\"");
    }
    if (u.find('#') != std::string::npos) {
      return base::InvalidArgument(
          "could not get REST client: clientConfig.url: fragments are not permitted");
    }
    std::string rest = u.substr(kScheme.size());
    size_t path_at = rest.find_first_of("/?");
    std::string hostport = rest.substr(0, path_at);
    ep.path = path_at == std::string::npos ? "/" : rest.substr(path_at);
    if (ep.path[0] == '?') ep.path = "/" + ep.path;
    if (hostport.find('@') != std::string::npos ||
        !SplitHostPort(hostport, &ep.connect_host, &ep.port)) {
      return base::InvalidArgument("could not get REST client: clientConfig.url: bad host \"" +
                                   hostport + "\"");
    }
    ep.display_url = u;
    ep.verify_name = ep.connect_host;
    return ep;
  }
  std::string ns = svc->IsObject() ? StringAt(*svc, "namespace") : "";
  std::string name = svc->IsObject() ? StringAt(*svc, "name") : "";
  if (ns.empty() || name.empty()) {
    return base::InvalidArgument(
        "could not get REST client: clientConfig.service: namespace and name are required");
  }
  ep.path = "/";
  if (const Json* p = Member(*svc, "path"); p != nullptr && !p->IsNull()) {
    if (!p->IsString() || p->GetStringLength() == 0 || p->GetString()[0] != '/') {
      return base::InvalidArgument(
          "could not get REST client: clientConfig.service.path must start with '/'");
    }
    ep.path = p->GetString();
  }
  int service_port = 443;
  if (const Json* p = Member(*svc, "port"); p != nullptr && !p->IsNull()) {
    if (!p->IsInt() || p->GetInt() < 1 || p->GetInt() > 65535) {
      return base::InvalidArgument(
          "could not get REST client: clientConfig.service.port must be 1-65535");
    }
    service_port = p->GetInt();
  }
  ep.verify_name = name + "." + ns + ".svc";
  ep.display_url = "https://" + ep.verify_name + ":" + std::to_string(service_port) + ep.path;
  ep.service = name;
  auto it = services.find(ns + "/" + name);
  if (it == services.end()) {
    ep.service_missing = true;
    return ep;
  }
  if (!SplitHostPort(it->second, &ep.connect_host, &ep.port) ||
      it->second.find(':') == std::string::npos) {
    return base::InvalidArgument("could not get REST client: bad endpoint \"" + it->second +
                                 "\" for service " + ns + "/" + name);
  }
  return ep;
}

// ---- TLS verification with Go's wording ----

// What the verify callback saw; one per connection attempt (SSL_CTX app data).
struct VerifyRecord {
  int error = X509_V_OK;
  std::vector<std::string> dns_sans, ip_sans;
};

int RecordVerify(int preverify_ok, X509_STORE_CTX* store_ctx) {
  if (preverify_ok == 1) return 1;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* rec = ssl ? static_cast<VerifyRecord*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)))
                  : nullptr;
  if (rec != nullptr && rec->error == X509_V_OK) {
    rec->error = X509_STORE_CTX_get_error(store_ctx);
    X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
    auto* names = leaf ? static_cast<GENERAL_NAMES*>(
                             X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr))
                       : nullptr;
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type == GEN_DNS) {
        rec->dns_sans.emplace_back(
            reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
            static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
      } else if (gn->type == GEN_IPADD) {
        char text[64];
        int len = ASN1_STRING_length(gn->d.iPAddress);
        int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (family != 0 &&
            inet_ntop(family, ASN1_STRING_get0_data(gn->d.iPAddress), text, sizeof(text))) {
          rec->ip_sans.emplace_back(text);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  return 0;
}

std::string JoinComma(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string TlsFailure(const VerifyRecord& rec, const std::string& verify_name, bool is_ip) {
  std::string x509;
  switch (rec.error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      x509 = "x509: certificate signed by unknown authority";
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      x509 = "x509: certificate has expired or is not yet valid";
      break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
      const auto& valid = is_ip ? rec.ip_sans : rec.dns_sans;
      if (rec.dns_sans.empty() && rec.ip_sans.empty()) {
        x509 = "x509: certificate relies on legacy Common Name field, use SANs instead";
      } else if (valid.empty()) {
        x509 = std::string("x509: cannot validate certificate for ") + verify_name +
               " because it doesn't contain any " + (is_ip ? "IP" : "DNS") + " SANs";
      } else {
        x509 = "x509: certificate is valid for " + JoinComma(valid) + ", not " + verify_name;
      }
      break;
    }
    default:
      x509 = std::string("x509: ") + X509_verify_cert_error_string(rec.error);
  }
  return "tls: failed to verify certificate: " + x509;
}

// The transport result: either a response or the error text after `Post "URL": `.
struct PostResult {
  bool ok = false;
  std::string error;
  int status = 0;
  std::string body;
};

PostResult PostReview(const Endpoint& ep, const std::string& path, const std::string& body,
                      int timeout_seconds) {
  PostResult out;
  // Name resolution first, so a bad host reads like Go's dialer says it.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(ep.connect_host.c_str(), nullptr, &hints, &found) != 0) {
    out.error = "dial tcp: lookup " + ep.connect_host + ": no such host";
    return out;
  }
  freeaddrinfo(found);

  httplib::SSLClient cli(ep.connect_host, ep.port);
  // httplib's own check compares against the host we dial; kube-apiserver
  // checks the service's DNS name instead, so verification is set up on the
  // context: chain against caBundle, then the name, during the handshake.
  cli.enable_server_certificate_verification(false);
  SSL_CTX* ctx = cli.ssl_context();
  if (ctx == nullptr) {
    out.error = "tls: cannot create a TLS context";
    return out;
  }
  VerifyRecord rec;
  SSL_CTX_set_app_data(ctx, &rec);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!ep.ca_pem.empty()) {
    X509_STORE* store = X509_STORE_new();
    BIO* bio = BIO_new_mem_buf(ep.ca_pem.data(), static_cast<int>(ep.ca_pem.size()));
    while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, c);
      X509_free(c);
    }
    BIO_free(bio);
    ERR_clear_error();
    SSL_CTX_set_cert_store(ctx, store);
  } else {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  unsigned char ip_bytes[16];
  bool is_ip = inet_pton(AF_INET, ep.verify_name.c_str(), ip_bytes) == 1 ||
               inet_pton(AF_INET6, ep.verify_name.c_str(), ip_bytes) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, ep.verify_name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, ep.verify_name.c_str(), 0);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, RecordVerify);

  cli.set_connection_timeout(timeout_seconds, 0);
  cli.set_read_timeout(timeout_seconds, 0);
  cli.set_write_timeout(timeout_seconds, 0);
  cli.set_keep_alive(false);
  httplib::Headers headers = {{"Accept", "application/json, */*"},
                              {"User-Agent", "kube-apiserver-admission"}};
  auto start = std::chrono::steady_clock::now();
  httplib::Result res = cli.Post(path, headers, body, "application/json");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ERR_clear_error();
  if (res) {
    out.ok = true;
    out.status = res->status;
    out.body = res->body;
    return out;
  }
  // httplib applies the timeout per phase, not in total; whatever failed after
  // the deadline is the deadline.
  bool deadline = elapsed >= std::chrono::seconds(timeout_seconds) - std::chrono::milliseconds(50);
  switch (res.error()) {
    case httplib::Error::Connection:
      out.error = deadline ? "context deadline exceeded"
                           : "dial tcp " + JoinHostPort(ep.connect_host, ep.port) +
                                 ": connect: connection refused";
      break;
    case httplib::Error::ConnectionTimeout:
      out.error = "context deadline exceeded";
      break;
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification:
      if (rec.error != X509_V_OK) {
        out.error = TlsFailure(rec, ep.verify_name, is_ip);
      } else {
        out.error = deadline ? "context deadline exceeded" : "remote error: tls: handshake failure";
      }
      break;
    default:
      out.error = deadline ? "context deadline exceeded" : "EOF";
  }
  return out;
}

// client-go's message for a non-2xx answer that is not a Status object.
std::string UnexpectedStatusMessage(int code, const std::string& body) {
  switch (code) {
    case 400: return "the server rejected our request for an unknown reason";
    case 401: return "the server has asked for the client to provide credentials";
    case 403: return "forbidden";
    case 404: return "the server could not find the requested resource";
    case 409: return "the server reported a conflict";
    case 422: return "the server rejected our request due to an error in our request";
    case 429: return "the server has received too many requests and has asked us to try again later";
    case 500: return "an error on the server (\"" + body.substr(0, 256) +
                     "\") has prevented the request from succeeding";
    case 503: return "the server is currently unable to handle the request";
    case 504: return "the server was unable to return a response in the time allotted, but may "
                     "still be processing the request";
    default: return "the server responded with the status code " + std::to_string(code) +
                    " but did not return more information";
  }
}

// What one webhook call came to.
struct CallOutcome {
  enum class Kind { kAllowed, kRejected, kCallError, kError } kind = Kind::kAllowed;
  base::Status status;     // kRejected, kError: what to return
  std::string call_error;  // kCallError: the ErrCallingWebhook reason
  std::vector<std::string> warnings;
};

CallOutcome CallError(std::string reason) {
  CallOutcome o;
  o.kind = CallOutcome::Kind::kCallError;
  o.call_error = std::move(reason);
  return o;
}

// webhookerrors.ToStatusErr: the Status of a denial.
base::Status DenialStatus(const std::string& hook, const Json* status,
                          const AdmissionAttributes& a) {
  int code = 0;
  std::string reason, message, details;
  if (status != nullptr && status->IsObject()) {
    if (const Json* c = Member(*status, "code"); c != nullptr && c->IsInt()) code = c->GetInt();
    reason = StringAt(*status, "reason");
    message = StringAt(*status, "message");
    if (const Json* d = Member(*status, "details"); d != nullptr && d->IsObject()) {
      details = ToJson(*d);
    }
  }
  if (code == 0) code = 403;
  // A denial must not look like success.
  if (code < 400) code = 400;
  std::string denied = "admission webhook " + Quoted(hook) + " denied the request";
  if (!message.empty()) {
    message = denied + ": " + message;
  } else if (!reason.empty()) {
    message = denied + ": " + reason;
  } else {
    message = denied + " without explanation";
  }
  JsonDoc d;
  d.SetObject();
  Alloc& al = d.GetAllocator();
  if (details.empty()) {
    if (code == 500) {
      Json causes(rapidjson::kArrayType);
      Json cause(rapidjson::kObjectType);
      SetString(cause, "message", message, al);
      causes.PushBack(cause, al);
      d.AddMember("causes", causes, al);
    } else {
      SetString(d, "name", a.name.empty() ? "Unknown" : a.name, al);
      SetString(d, "group", a.group, al);
      // Kind holds the resource, as apierrors.NewForbidden does.
      SetString(d, "kind", a.resource, al);
    }
    details = ToJson(d);
  }
  if (reason.empty()) reason = code == 500 ? "InternalError" : "Forbidden";
  base::Status s(kube::CodeForHttp(code, reason), message);
  s.WithHttp(code, reason).WithDetails(details);
  JsonDoc parsed;
  parsed.Parse(details.c_str());
  if (!parsed.HasParseError()) {
    if (const Json* r = Member(parsed, "retryAfterSeconds"); r != nullptr && r->IsInt()) {
      s.WithRetryAfter(r->GetInt());
    }
  }
  return s;
}

CallOutcome CallHook(const Json& hook, const std::string& name, const AdmissionAttributes& a,
                     const std::string& version,
                     const std::map<std::string, std::string>& services) {
  if (a.dry_run) {
    const Json* se = Member(hook, "sideEffects");
    if (se == nullptr || !se->IsString()) return CallError("Webhook SideEffects is nil");
    std::string_view v(se->GetString(), se->GetStringLength());
    if (v != "None" && v != "NoneOnDryRun") {
      CallOutcome o;
      o.kind = CallOutcome::Kind::kError;
      o.status = base::InvalidArgument("admission webhook " + Quoted(name) +
                                       " does not support dry run");
      o.status.WithHttp(400, "BadRequest");
      return o;
    }
  }
  if (auto versions = StringList(Member(hook, "admissionReviewVersions"));
      !versions || (!versions->empty() &&
                    std::find(versions->begin(), versions->end(), "v1") == versions->end())) {
    return CallError("could not create admission objects: webhook does not accept "
                     "admission.k8s.io/v1 AdmissionReview (admissionReviewVersions)");
  }
  int timeout = kDefaultTimeoutSeconds;
  if (const Json* t = Member(hook, "timeoutSeconds"); t != nullptr && !t->IsNull()) {
    if (!t->IsInt()) return CallError("could not get REST client: timeoutSeconds must be an integer");
    timeout = std::clamp(t->GetInt(), 1, kMaxTimeoutSeconds);
  }
  auto ep = ResolveClientConfig(Member(hook, "clientConfig"), services);
  if (!ep.ok()) return CallError(ep.status().message());

  // rest.Request.Timeout tells the webhook its deadline in the query.
  std::string path = ep->path;
  std::string query = std::string(path.find('?') == std::string::npos ? "?" : "&") +
                      "timeout=" + std::to_string(timeout) + "s";
  path += query;
  std::string post = "failed to call webhook: Post " + Quoted(ep->display_url + query) + ": ";
  if (ep->service_missing) return CallError(post + "service " + Quoted(ep->service) + " not found");

  std::string uid = RandomUuid();
  PostResult r = PostReview(*ep, path, BuildReview(a, version, uid), timeout);
  if (!r.ok) return CallError(post + r.error);

  if (r.status < 200 || r.status > 299) {
    // client-go: a Status body gives its message; anything else a stock one.
    JsonDoc st;
    st.Parse(r.body.c_str());
    std::string msg;
    if (!st.HasParseError() && StringAt(st, "kind") == "Status") msg = StringAt(st, "message");
    if (msg.empty()) msg = UnexpectedStatusMessage(r.status, r.body);
    return CallError("failed to call webhook: " + msg);
  }
  JsonDoc doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError()) {
    return CallError(std::string("failed to call webhook: couldn't get version/kind; json parse "
                                 "error: ") + rapidjson::GetParseError_En(doc.GetParseError()));
  }
  const std::string invalid = "received invalid webhook response: ";
  const Json* resp = Member(doc, "response");
  if (resp == nullptr || !resp->IsObject()) return CallError(invalid + "webhook response was absent");
  std::string got_uid = StringAt(*resp, "uid");
  if (got_uid != uid) {
    return CallError(invalid + "expected response.uid=" + Quoted(uid) + ", got " + Quoted(got_uid));
  }
  std::string api_version = StringAt(doc, "apiVersion");
  std::string kind = StringAt(doc, "kind");
  if (api_version != "admission.k8s.io/v1" || kind != "AdmissionReview") {
    return CallError(invalid + "expected webhook response of admission.k8s.io/v1, "
                               "Kind=AdmissionReview, got " + api_version + ", Kind=" + kind);
  }
  if (const Json* patch = Member(*resp, "patch"); patch != nullptr && !patch->IsNull()) {
    return CallError(invalid + "validating webhook may not return a patch");
  }
  CallOutcome out;
  if (const Json* w = Member(*resp, "warnings"); w != nullptr && w->IsArray()) {
    for (const Json& item : w->GetArray()) {
      if (item.IsString() && item.GetStringLength() > 0) out.warnings.emplace_back(item.GetString());
    }
  }
  const Json* allowed = Member(*resp, "allowed");
  if (allowed != nullptr && !allowed->IsBool() && !allowed->IsNull()) {
    return CallError("failed to call webhook: json: cannot unmarshal into Go struct field "
                     "AdmissionResponse.response.allowed of type bool");
  }
  if (allowed != nullptr && allowed->IsTrue()) return out;
  out.kind = CallOutcome::Kind::kRejected;
  out.status = DenialStatus(name, Member(*resp, "status"), a);
  return out;
}

// apierrors.NewInternalError.
base::Status InternalErrorStatus(const std::string& err) {
  JsonDoc d;
  d.SetObject();
  Alloc& al = d.GetAllocator();
  Json causes(rapidjson::kArrayType);
  Json cause(rapidjson::kObjectType);
  SetString(cause, "message", err, al);
  causes.PushBack(cause, al);
  d.AddMember("causes", causes, al);
  base::Status s = base::Internal("Internal error occurred: " + err);
  s.WithHttp(500, "InternalError").WithDetails(ToJson(d));
  return s;
}

}  // namespace

base::StatusOr<bool> MatchesLabelSelector(const Json* selector,
                                          const std::map<std::string, std::string>& labels) {
  if (selector == nullptr || selector->IsNull()) return true;
  if (!selector->IsObject()) return base::InvalidArgument("label selector must be an object");
  if (const Json* ml = Member(*selector, "matchLabels"); ml != nullptr && !ml->IsNull()) {
    if (!ml->IsObject()) return base::InvalidArgument("matchLabels must be an object");
    for (auto it = ml->MemberBegin(); it != ml->MemberEnd(); ++it) {
      if (!it->value.IsString()) return base::InvalidArgument("matchLabels values must be strings");
      auto found = labels.find(it->name.GetString());
      if (found == labels.end() || found->second != it->value.GetString()) return false;
    }
  }
  const Json* exprs = Member(*selector, "matchExpressions");
  if (exprs == nullptr || exprs->IsNull()) return true;
  if (!exprs->IsArray()) return base::InvalidArgument("matchExpressions must be a list");
  bool result = true;
  // Every expression is validated even after one fails to match, as
  // kube-apiserver parses the whole selector before using it.
  for (const Json& e : exprs->GetArray()) {
    std::string key = e.IsObject() ? StringAt(e, "key") : "";
    std::string op = e.IsObject() ? StringAt(e, "operator") : "";
    auto values = e.IsObject() ? StringList(Member(e, "values")) : std::nullopt;
    if (key.empty() || !values) {
      return base::InvalidArgument("matchExpressions: key and a list of string values required");
    }
    auto found = labels.find(key);
    bool has = found != labels.end();
    bool in = has && std::find(values->begin(), values->end(), found->second) != values->end();
    if (op == "In" || op == "NotIn") {
      if (values->empty()) {
        return base::InvalidArgument("matchExpressions: values: Required value: must be "
                                     "specified when `operator` is 'In' or 'NotIn'");
      }
      if (op == "In" ? !in : in) result = false;
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values->empty()) {
        return base::InvalidArgument("matchExpressions: values: Forbidden: may not be specified "
                                     "when `operator` is 'Exists' or 'DoesNotExist'");
      }
      if (op == "Exists" ? !has : has) result = false;
    } else {
      return base::InvalidArgument("matchExpressions: " + Quoted(op) +
                                   " is not a valid label selector operator");
    }
  }
  return result;
}

base::StatusOr<WebhookMatch> MatchWebhook(const Json& webhook, const AdmissionAttributes& a) {
  WebhookMatch none;
  if (!webhook.IsObject()) return base::InvalidArgument("webhook entry is not an object");

  // Selectors first, as ShouldCallHook does: a clean mismatch ends here; a
  // malformed selector only matters if the rules match.
  base::Status selector_error;
  bool is_ns = IsNamespaceResource(a);
  if (a.namespaced || is_ns) {
    std::map<std::string, std::string> ns_labels = a.namespace_labels;
    if (is_ns) {
      const Json* self = a.operation == "DELETE" ? a.old_object : a.object;
      if (self != nullptr) ns_labels = LabelsOf(self);
    }
    auto m = MatchesLabelSelector(Member(webhook, "namespaceSelector"), ns_labels);
    if (m.ok() && !*m) return none;
    if (!m.ok()) selector_error = m.status();
  }
  const Json* object_selector = Member(webhook, "objectSelector");
  if (!IsEmptySelector(object_selector)) {
    auto m_new = MatchesLabelSelector(object_selector, LabelsOf(a.object));
    auto m_old = MatchesLabelSelector(object_selector, LabelsOf(a.old_object));
    if (!m_new.ok()) {
      if (selector_error.ok()) selector_error = m_new.status();
    } else {
      bool matches = (a.object != nullptr && *m_new) || (a.old_object != nullptr && *m_old);
      if (!matches && selector_error.ok()) return none;
    }
  }

  const Json* rules = Member(webhook, "rules");
  WebhookMatch match;
  auto exact = AnyRuleMatches(rules, a, a.version);
  if (!exact.ok()) return exact.status();
  if (*exact) {
    match = {true, a.version};
  } else {
    std::string policy = StringAt(webhook, "matchPolicy");
    if (policy.empty()) policy = "Equivalent";
    if (policy != "Equivalent" && policy != "Exact") {
      return base::InvalidArgument("matchPolicy must be Equivalent or Exact");
    }
    if (policy == "Equivalent") {
      for (const std::string& v : a.equivalent_versions) {
        if (v == a.version) continue;
        auto m = AnyRuleMatches(rules, a, v);
        if (!m.ok()) return m.status();
        if (*m) {
          match = {true, v};
          break;
        }
      }
    }
  }
  if (!match.matched) return none;
  if (!selector_error.ok()) return selector_error;
  return match;
}

Admission::Admission(std::map<std::string, std::string> service_endpoints, Logger log)
    : service_endpoints_(std::move(service_endpoints)), log_(std::move(log)) {
  if (!log_) log_ = [](const std::string& line) { std::cerr << line << std::endl; };
}

AdmissionResult Admission::Validate(const AdmissionAttributes& attrs,
                                    const std::vector<const Json*>& configs) const {
  AdmissionResult result;
  std::optional<base::Status> first_error;
  for (const Json* config : configs) {
    if (config == nullptr || !config->IsObject()) continue;
    const Json* hooks = Member(*config, "webhooks");
    if (hooks == nullptr || !hooks->IsArray()) continue;
    for (const Json& hook : hooks->GetArray()) {
      std::string name = hook.IsObject() ? StringAt(hook, "name") : "";
      bool ignore = hook.IsObject() && StringAt(hook, "failurePolicy") == "Ignore";
      CallOutcome out;
      auto m = MatchWebhook(hook, attrs);
      if (!m.ok()) {
        // A configuration the real API server would not have stored; calling
        // it a call failure lets failurePolicy decide, as the brief asks.
        out = CallError("could not get REST client: " + m.status().message());
      } else if (!m->matched) {
        continue;
      } else {
        out = CallHook(hook, name, attrs, m->version, service_endpoints_);
      }
      result.warnings.insert(result.warnings.end(), out.warnings.begin(), out.warnings.end());
      switch (out.kind) {
        case CallOutcome::Kind::kAllowed:
          break;
        case CallOutcome::Kind::kRejected:
        case CallOutcome::Kind::kError:
          if (!first_error) first_error = out.status;
          break;
        case CallOutcome::Kind::kCallError: {
          std::string err = "failed calling webhook " + Quoted(name) + ": " + out.call_error;
          if (ignore) {
            log_("Failed calling webhook, failing open " + name + ": " + err);
          } else {
            log_("Failed calling webhook, failing closed " + name + ": " + err);
            if (!first_error) first_error = InternalErrorStatus(err);
          }
          break;
        }
      }
    }
  }
  if (first_error) {
    result.allowed = false;
    result.denial = std::move(*first_error);
  }
  return result;
}

}  // namespace devcluster
