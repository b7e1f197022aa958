#include "kube/transport.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "kube/credentials.h"
#include "kube/rate_limiter.h"
#include "kube/tls_util.h"

namespace kube {
namespace {

// The last certificate verification error seen by this thread's handshake;
// httplib reports only "SSL connection failed", so the callback keeps the why.
thread_local int tls_last_verify_error = 0;

int VerifyCallback(int preverify_ok, X509_STORE_CTX* ctx) {
  if (!preverify_ok) tls_last_verify_error = X509_STORE_CTX_get_error(ctx);
  return preverify_ok;
}

// OpenSSL's reason for this thread's last failed handshake ("wrong version
// number", ...), read from its error queue right after httplib's failing call
// and cleared; "" when the queue holds nothing (the peer closed the connection).
// The first error is the cause: httplib's SSL_shutdown after the failure
// adds "shutdown while in init" behind it.
std::string TakeOpenSslReason() {
  unsigned long last = ERR_get_error();
  ERR_clear_error();
  if (last == 0) return "";
  const char* r = ERR_reason_error_string(last);
  if (r) return r;
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

// What a failed request attempt left behind, for ConnectionError.
struct AttemptFailure {
  httplib::Error err = httplib::Error::Unknown;
  int verify_error = 0;
  std::string ssl_reason;
  std::chrono::nanoseconds elapsed{0};     // from the start of the attempt
  std::chrono::milliseconds read_timeout{0};  // the attempt's (0: config.timeout)
};

std::string FormatSeconds(std::chrono::nanoseconds d) {
  double s = std::chrono::duration<double>(d).count();
  char buf[32];
  if (s == static_cast<double>(static_cast<int64_t>(s))) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  }
  return buf;
}

// httplib 0.11.4 reports a failed connect only as Error::Connection and
// keeps neither errno nor SO_ERROR, so the why comes from one connect of our
// own to the same address, made only after a failure: "connection refused",
// "no route to host", "cannot resolve ...", or "timed out after T".
std::string DiagnoseConnect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0 || timeout > std::chrono::seconds(10)) timeout = std::chrono::seconds(10);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return std::string("cannot resolve host \"") + host + "\": " + gai_strerror(gai);
  std::string why = "no address for host \"" + host + "\"";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      why = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    int e = rc == 0 ? 0 : errno;
    if (e == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = poll(&p, 1, static_cast<int>(timeout.count()));
      if (n == 0) {
        e = ETIMEDOUT;
      } else {
        socklen_t len = sizeof(e);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
      }
    }
    close(fd);
    if (e == 0) {
      why = "";  // reachable now: the failure was passing
      break;
    }
    if (e == ETIMEDOUT) {
      why = "timed out after " + FormatSeconds(timeout);
    } else if (e == ECONNREFUSED) {
      why = "connection refused";
    } else {
      std::string m = std::strerror(e);
      if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
      why = m;
    }
  }
  freeaddrinfo(res);
  return why;
}

// The client key, with OpenSSL's reason when it does not parse. `key_type`
// as in KeyFromPem.
base::StatusOr<EvpPkeyPtr> ParseKey(const std::string& pem, const std::string& key_type) {
  EvpPkeyPtr key = KeyFromPem(pem, key_type);
  if (!key && IsEncryptedKeyPem(pem)) {
    ERR_clear_error();
    return base::InvalidArgument(
        "the client key is encrypted; kubeconfig client keys must be unencrypted (as for kubectl)");
  }
  if (!key) return base::InvalidArgument("the client key is not a PEM private key: " + OpenSslError());
  return key;
}

// A client certificate (with its chain) and key, parsed. OpenSSL 3 takes
// about 1 ms to decode a PEM key and certificate, so the configured pair is
// parsed once, in Transport::Create, and every connection's context shares it
// (SSL_CTX_use_* take their own references).
struct ClientIdentity {
  std::vector<X509Ptr> chain;  // the certificate first
  EvpPkeyPtr key;
};

base::StatusOr<std::shared_ptr<const ClientIdentity>> ParseClientIdentity(const std::string& cert_pem,
                                                                    const std::string& key_pem) {
  auto certs = CertsFromPem(cert_pem, "the client certificate");
  if (!certs.ok()) return certs.status();
  // The key is normally of the certificate's key type; telling the decoder so
  // saves most of its cost (see KeyFromPem).
  EVP_PKEY* cert_key = X509_get0_pubkey((*certs)[0].get());
  const char* type = cert_key != nullptr ? EVP_PKEY_get0_type_name(cert_key) : nullptr;
  auto key = ParseKey(key_pem, type != nullptr ? type : "");
  if (!key.ok()) return key.status();
  auto id = std::make_shared<ClientIdentity>();
  id->chain = std::move(*certs);
  id->key = std::move(*key);
  return std::shared_ptr<const ClientIdentity>(std::move(id));
}

base::Status UseClientCert(SSL_CTX* ctx, const ClientIdentity& id) {
  if (SSL_CTX_use_certificate(ctx, id.chain[0].get()) != 1) {
    return base::InvalidArgument("cannot use the client certificate: " + OpenSslError());
  }
  for (size_t i = 1; i < id.chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, id.chain[i].get()) != 1) {
      return base::InvalidArgument("cannot use the client certificate chain: " + OpenSslError());
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, id.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return base::InvalidArgument("the client key does not match the client certificate: " +
                           OpenSslError());
  }
  return base::Status::Ok();
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

struct ServerUrl {
  bool https = true;
  std::string host;  // without brackets
  int port = 443;
  std::string base_path;  // "" or "/prefix" without trailing slash
};

base::StatusOr<ServerUrl> ParseServer(const std::string& server) {
  ServerUrl u;
  std::string rest;
  if (server.rfind("https://", 0) == 0) {
    rest = server.substr(8);
  } else if (server.rfind("http://", 0) == 0) {
    u.https = false;
    u.port = 80;
    rest = server.substr(7);
  } else {
    return base::InvalidArgument("server \"" + server + "\" must start with https:// or http://");
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) {
    u.base_path = rest.substr(slash);
    while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  }
  std::string port_str;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return base::InvalidArgument("server \"" + server + "\": bad IPv6");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return base::InvalidArgument("server \"" + server + "\": bad port");
      port_str = hostport.substr(close + 2);
    }
  } else {
    size_t colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) port_str = hostport.substr(colon + 1);
  }
  if (u.host.empty()) return base::InvalidArgument("server \"" + server + "\" has no host");
  if (!port_str.empty()) {
    int p = 0;
    for (char c : port_str) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return base::InvalidArgument("server \"" + server + "\": bad port");
      }
      p = p * 10 + (c - '0');
      if (p > 65535) return base::InvalidArgument("server \"" + server + "\": bad port");
    }
    u.port = p;
  }
  return u;
}

bool IsIdempotent(const std::string& method) { return method == "GET" || method == "HEAD"; }

struct Credentials {
  std::string token;
  std::string cert_pem;
  std::string key_pem;
};

int ParseRetryAfter(const std::string& v) {
  if (v.empty()) return 0;
  int s = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return 0;  // HTTP-date: use our backoff
    s = s * 10 + (c - '0');
    if (s > 86400) return 86400;
  }
  return s;
}

}  // namespace

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::vector<std::string> ParseWarningHeader(std::string_view value) {
  // warning-value = warn-code SP warn-agent SP quoted-string [SP warn-date]
  std::vector<std::string> out;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
  };
  while (true) {
    skip_ws();
    if (i >= value.size()) break;
    size_t start = i;
    size_t code_end = value.find(' ', i);
    size_t agent_end = code_end == std::string_view::npos ? code_end : value.find(' ', code_end + 1);
    if (agent_end == std::string_view::npos || agent_end + 1 >= value.size() ||
        value[agent_end + 1] != '"') {
      out.emplace_back(value.substr(start));
      break;
    }
    i = agent_end + 2;
    std::string text;
    bool closed = false;
    while (i < value.size()) {
      char c = value[i++];
      if (c == '\\' && i < value.size()) {
        text.push_back(value[i++]);
      } else if (c == '"') {
        closed = true;
        break;
      } else {
        text.push_back(c);
      }
    }
    if (!closed) {
      out.emplace_back(value.substr(start));
      break;
    }
    out.push_back(std::move(text));
    // Skip an optional quoted warn-date up to the next comma.
    while (i < value.size() && value[i] != ',') {
      if (value[i] == '"') {
        size_t q = value.find('"', i + 1);
        i = q == std::string_view::npos ? value.size() : q + 1;
      } else {
        ++i;
      }
    }
  }
  return out;
}

struct Transport::Impl {
  RestConfig config;
  ServerUrl url;
  base::Clock* clock;
  RetryPolicy retry;
  RateLimiter limiter;
  // Parsed once by Create: the trusted CAs (null: the system's trust store)
  // and the configured client certificate and key (null: none configured).
  // Shared by every connection's context; only read after Create.
  X509StorePtr ca_store;
  std::shared_ptr<const ClientIdentity> identity;
  std::unique_ptr<TokenFileSource> token_file;
  std::unique_ptr<ExecCredentialProvider> exec;
  std::function<void(const std::string&)> warning_handler;

  std::mutex pool_mu;
  struct Pooled {
    std::unique_ptr<httplib::ClientImpl> client;
    std::string cert_pem;
  };
  std::vector<Pooled> pool;
  static constexpr size_t kMaxPooled = 16;

  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};

  Impl(RestConfig c, ServerUrl u, base::Clock* clk, RetryPolicy r)
      : config(std::move(c)),
        url(std::move(u)),
        clock(clk),
        retry(r),
        limiter(config.qps, config.burst, clk) {}

  base::StatusOr<Credentials> GetCredentials() {
    Credentials c;
    c.cert_pem = config.client_cert_pem;
    c.key_pem = config.client_key_pem;
    if (exec) {
      auto ec = exec->Get();
      if (!ec.ok()) return ec.status();
      if (!ec->token.empty()) c.token = ec->token;
      if (!ec->client_cert_pem.empty()) {
        c.cert_pem = ec->client_cert_pem;
        c.key_pem = ec->client_key_pem;
      }
      if (!c.token.empty() || !ec->client_cert_pem.empty()) return c;
    }
    if (token_file) {
      auto t = token_file->Token();
      if (t.ok()) {
        c.token = *t;
        return c;
      }
      if (config.bearer_token.empty()) return t.status();
    }
    c.token = config.bearer_token;
    return c;
  }

  base::StatusOr<std::unique_ptr<httplib::ClientImpl>> NewClient(const Credentials& creds,
                                                           std::chrono::milliseconds read_timeout) {
    std::unique_ptr<httplib::ClientImpl> cli;
    if (!url.https) {
      cli = std::make_unique<httplib::ClientImpl>(url.host, url.port);
    } else {
      // With tls_server_name, httplib's host is that name (so SNI carries it)
      // and the address map sends the connection to the real host.
      const std::string tls_host = config.tls_server_name.empty() ? url.host : config.tls_server_name;
      auto ssl = std::make_unique<httplib::SSLClient>(tls_host, url.port);
      if (!config.tls_server_name.empty() && config.tls_server_name != url.host) {
        ssl->set_hostname_addr_map({{config.tls_server_name, url.host}});
      }
      // httplib's own check compares against the connect host; we verify in
      // OpenSSL instead (chain + name), so tls_server_name is honoured.
      ssl->enable_server_certificate_verification(false);
      SSL_CTX* ctx = ssl->ssl_context();
      if (!ctx) return base::Internal("cannot create an OpenSSL context");
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      if (config.insecure_skip_tls_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      } else {
        if (ca_store) {
          SSL_CTX_set1_cert_store(ctx, ca_store.get());  // shared: the context takes a reference
        } else {
          SSL_CTX_set_default_verify_paths(ctx);
        }
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
        if (IsIpAddress(tls_host)) {
          X509_VERIFY_PARAM_set1_ip_asc(param, tls_host.c_str());
        } else {
          X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
          X509_VERIFY_PARAM_set1_host(param, tls_host.c_str(), 0);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyCallback);
      }
      if (!creds.cert_pem.empty()) {
        // The configured pair was parsed by Create; an exec plugin's is parsed here.
        std::shared_ptr<const ClientIdentity> id = identity;
        if (!id || creds.cert_pem != config.client_cert_pem ||
            creds.key_pem != config.client_key_pem) {
          auto parsed = ParseClientIdentity(creds.cert_pem, creds.key_pem);
          if (!parsed.ok()) return parsed.status();
          id = std::move(*parsed);
        }
        base::Status s = UseClientCert(ctx, *id);
        if (!s.ok()) return s;
      }
      cli = std::move(ssl);
    }
    if (!cli->is_valid()) return base::Internal("cannot create an HTTP client for " + config.server);
    auto to_sec = [](std::chrono::milliseconds ms) {
      return std::pair<time_t, time_t>(ms.count() / 1000, (ms.count() % 1000) * 1000);
    };
    auto [cs, cus] = to_sec(config.timeout);
    cli->set_connection_timeout(cs, cus);
    auto [rs, rus] = to_sec(read_timeout.count() > 0 ? read_timeout : config.timeout);
    cli->set_read_timeout(rs, rus);
    cli->set_write_timeout(cs, cus);
    cli->set_tcp_nodelay(true);
    cli->set_keep_alive(true);
    cli->set_url_encode(false);  // we encode the query ourselves
    cli->set_follow_location(false);
    return cli;
  }

  std::string Target(const HttpRequest& req) const {
    std::string t = url.base_path + req.path;
    char sep = '?';
    for (const auto& [k, v] : req.query) {
      t += sep;
      t += UrlEncode(k);
      t += '=';
      t += UrlEncode(v);
      sep = '&';
    }
    return t;
  }

  httplib::Headers Headers(const HttpRequest& req, const Credentials& creds) const {
    httplib::Headers h;
    h.emplace("User-Agent", config.user_agent);
    h.emplace("Accept", req.accept);
    if (!creds.token.empty()) h.emplace("Authorization", "Bearer " + creds.token);
    if (!config.tls_server_name.empty()) {
      bool default_port = url.port == (url.https ? 443 : 80);
      std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
      h.emplace("Host", default_port ? host : host + ":" + std::to_string(url.port));
    }
    return h;
  }

  std::vector<std::string> Warnings(const httplib::Response& res) {
    std::vector<std::string> out;
    size_t n = res.get_header_value_count("Warning");
    for (size_t i = 0; i < n; ++i) {
      for (auto& w : ParseWarningHeader(res.get_header_value("Warning", i))) {
        if (warning_handler) warning_handler(w);
        out.push_back(std::move(w));
      }
    }
    return out;
  }

  // "HOST:PORT" as dialled ("[::1]:6443" for IPv6).
  std::string HostPort() const {
    std::string h = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    return h + ":" + std::to_string(url.port);
  }

  // A transport-level failure as a Status that says what happened (refused,
  // timed out after N s, closed, TLS and why); `sent` tells whether the
  // request may have reached the server.
  base::Status ConnectionError(const AttemptFailure& f, bool& sent, bool& retryable) {
    const httplib::Error err = f.err;
    sent = !(err == httplib::Error::Connection || err == httplib::Error::ConnectionTimeout ||
             err == httplib::Error::SSLConnection || err == httplib::Error::SSLLoadingCerts ||
             err == httplib::Error::SSLServerVerification || err == httplib::Error::BindIPAddress);
    retryable = true;
    const std::string where = config.server;
    if (f.verify_error != 0) {
      retryable = false;  // a certificate that does not verify will not verify next time
      return base::Unavailable("TLS handshake with " + where +
                               " failed: certificate verification: " +
                               X509_verify_cert_error_string(f.verify_error));
    }
    const std::chrono::milliseconds connect_timeout = config.timeout;
    const std::chrono::milliseconds read_timeout =
        f.read_timeout.count() > 0 ? f.read_timeout : config.timeout;
    switch (err) {
      case httplib::Error::Canceled:
        retryable = false;
        return base::Aborted("request to " + where + " was cancelled");
      case httplib::Error::Connection:
      case httplib::Error::ConnectionTimeout: {
        std::string why;
        if (err == httplib::Error::ConnectionTimeout ||
            (connect_timeout.count() > 0 && f.elapsed >= connect_timeout)) {
          why = "timed out after " + FormatSeconds(connect_timeout);
        } else {
          why = DiagnoseConnect(url.host, url.port, connect_timeout);
          if (why.empty()) why = "the connection failed (the address answers again now)";
        }
        return base::Unavailable("cannot connect to " + where + " (" + HostPort() + "): " + why);
      }
      case httplib::Error::SSLConnection:
        return base::Unavailable(
            "TLS handshake with " + where + " failed: " +
            (f.ssl_reason.empty() ? std::string("the server closed the connection")
                                  : f.ssl_reason +
                                        (f.ssl_reason == "wrong version number"
                                             ? " (does the server speak TLS? try http://)"
                                             : "")));
      case httplib::Error::SSLLoadingCerts:
        retryable = false;
        return base::Unavailable("TLS setup for " + where + " failed: cannot load certificates" +
                                 (f.ssl_reason.empty() ? "" : ": " + f.ssl_reason));
      case httplib::Error::SSLServerVerification:
        retryable = false;
        return base::Unavailable("TLS handshake with " + where +
                                 " failed: the server's certificate does not verify");
      case httplib::Error::Read:
        if (read_timeout.count() > 0 && f.elapsed >= read_timeout) {
          return base::Unavailable("no response from " + where + " within " +
                                   FormatSeconds(read_timeout) + " (read timeout)");
        }
        return base::Unavailable(where + " closed the connection before it responded");
      case httplib::Error::Write:
        return base::Unavailable("sending the request to " + where +
                                 " failed: the connection was closed");
      case httplib::Error::BindIPAddress:
        return base::Unavailable("cannot connect to " + where + ": cannot bind the local address");
      default:
        return base::Unavailable("request to " + where + " failed: " + httplib::to_string(err));
    }
  }

  std::chrono::nanoseconds Backoff(int attempt) {
    double base = static_cast<double>(retry.initial_backoff.count()) * std::pow(2.0, attempt - 1);
    base = std::min(base, static_cast<double>(retry.max_backoff.count()));
    double f;
    {
      std::lock_guard<std::mutex> l(rng_mu);
      f = std::uniform_real_distribution<double>(0.0, retry.jitter)(rng);
    }
    return std::chrono::nanoseconds(static_cast<int64_t>(base * (1.0 + f) * 1e6));
  }

  std::chrono::nanoseconds RetryAfterWait(const base::Status& s, int attempt) {
    if (s.retry_after_seconds() > 0) {
      return std::chrono::seconds(
          std::min<int64_t>(s.retry_after_seconds(), retry.max_retry_after.count()));
    }
    return Backoff(attempt);
  }

  base::Status HttpError(const httplib::Response& res) {
    base::Status s = StatusFromHttp(res.status, res.body);
    int ra = ParseRetryAfter(res.get_header_value("Retry-After"));
    if (ra > 0) s.WithRetryAfter(ra);
    return s;
  }

  // Whether an HTTP error response should be retried.
  bool RetryHttp(const std::string& method, int status, const base::Status& s) {
    if (status == 429) return true;
    if (status >= 500 && IsIdempotent(method)) return true;
    // A server that asks to be retried (Retry-After on a 5xx) is honoured for
    // every verb, as client-go does.
    return status >= 500 && s.retry_after_seconds() > 0;
  }

  base::StatusOr<HttpResponse> DoOnce(const HttpRequest& req, bool& retry_this, bool& auth_failed) {
    retry_this = false;
    auth_failed = false;
    auto creds = GetCredentials();
    if (!creds.ok()) return creds.status();
    std::unique_ptr<httplib::ClientImpl> cli;
    const bool custom_timeout = req.read_timeout.count() > 0;
    if (!custom_timeout) {
      std::lock_guard<std::mutex> l(pool_mu);
      while (!pool.empty()) {
        Pooled p = std::move(pool.back());
        pool.pop_back();
        if (p.cert_pem == creds->cert_pem) {
          cli = std::move(p.client);
          break;
        }
      }
    }
    bool reused = cli != nullptr;
    if (!cli) {
      auto c = NewClient(*creds, req.read_timeout);
      if (!c.ok()) return c.status();
      cli = std::move(*c);
    }
    httplib::Request hreq;
    hreq.method = req.method;
    hreq.path = Target(req);
    hreq.headers = Headers(req, *creds);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" ||
        req.method == "PATCH") {
      hreq.body = req.body;
      hreq.headers.emplace("Content-Type",
                           req.content_type.empty() ? "application/json" : req.content_type);
    }
    httplib::Response hres;
    httplib::Error err = httplib::Error::Success;
    bool ok = false;
    std::chrono::steady_clock::time_point started;
    while (true) {
      hres = httplib::Response();
      err = httplib::Error::Success;
      tls_last_verify_error = 0;
      ERR_clear_error();
      started = clock->Now();
      ok = cli->send(hreq, hres, err);
      // A pooled connection that the server closed while it sat idle fails
      // on write, before the server could act on the request: repeat once on
      // a new connection, for every verb (Go's transport does the same).
      if (ok || !reused || err != httplib::Error::Write) break;
      auto c = NewClient(*creds, req.read_timeout);
      if (!c.ok()) return c.status();
      cli = std::move(*c);
      reused = false;
    }
    if (!ok) {
      AttemptFailure f;
      f.err = err;
      f.verify_error = tls_last_verify_error;
      f.ssl_reason = TakeOpenSslReason();
      f.elapsed = clock->Now() - started;
      f.read_timeout = req.read_timeout;
      bool sent = true, retryable = true;
      base::Status s = ConnectionError(f, sent, retryable);
      retry_this = retryable && (IsIdempotent(req.method) || !sent);
      return s;
    }
    if (!custom_timeout) {
      std::lock_guard<std::mutex> l(pool_mu);
      if (pool.size() < kMaxPooled) pool.push_back({std::move(cli), creds->cert_pem});
    }
    HttpResponse out;
    out.status = hres.status;
    out.content_type = hres.get_header_value("Content-Type");
    out.warnings = Warnings(hres);
    if (hres.status >= 200 && hres.status < 300) {
      out.body = std::move(hres.body);
      return out;
    }
    base::Status s = HttpError(hres);
    auth_failed = hres.status == 401;
    retry_this = RetryHttp(req.method, hres.status, s);
    return s;
  }

  base::StatusOr<HttpResponse> Do(const HttpRequest& req) {
    bool reauthenticated = false;
    for (int attempt = 1;; ++attempt) {
      limiter.Wait();
      bool retry_this = false, auth_failed = false;
      auto r = DoOnce(req, retry_this, auth_failed);
      if (r.ok()) return r;
      if (auth_failed && exec && !reauthenticated) {
        // The plugin's credential was rejected: run it again once (client-go
        // does the same), without counting it as a failed attempt.
        exec->Invalidate();
        reauthenticated = true;
        --attempt;
        continue;
      }
      if (!retry_this || attempt >= retry.max_attempts) return r;
      clock->SleepFor(RetryAfterWait(r.status(), attempt));
    }
  }
};

namespace {

class StreamImpl final : public Transport::Stream {
 public:
  StreamImpl(std::unique_ptr<httplib::ClientImpl> cli, base::Clock* clock)
      : cli_(std::move(cli)), clock_(clock) {}
  ~StreamImpl() override {
    Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Stop() override {
    stopping_ = true;
    // httplib's stop() only shuts down a socket that exists; repeat until the
    // request thread has noticed, to cover a stop that races with connect.
    std::unique_lock<std::mutex> l(mu_);
    for (int i = 0; i < 500 && !finished_; ++i) {
      cli_->stop();
      cv_.wait_for(l, std::chrono::milliseconds(10), [&] { return finished_; });
    }
  }

  // Runs the request on a new thread; returns once the response headers are in
  // (or the request failed before that).
  void Start(httplib::Request req, Transport::ChunkFn on_chunk, Transport::DoneFn on_done) {
    on_chunk_ = std::move(on_chunk);
    on_done_ = std::move(on_done);
    req.response_handler = [this](const httplib::Response& res) {
      status_ = res.status;
      if (res.status == 200) Established(base::Status::Ok());
      return !stopping_;
    };
    req.content_receiver = [this](const char* data, size_t n, uint64_t, uint64_t) {
      if (stopping_) return false;
      if (status_ != 200) {
        if (error_body_.size() < (1 << 20)) error_body_.append(data, n);
        return true;
      }
      return on_chunk_(std::string_view(data, n)) && !stopping_;
    };
    thread_ = std::thread([this, req = std::move(req)]() mutable {
      httplib::Response res;
      httplib::Error err = httplib::Error::Success;
      tls_last_verify_error = 0;
      ERR_clear_error();
      const auto started = clock_->Now();
      bool ok = cli_->send(req, res, err);
      failure_.elapsed = clock_->Now() - started;
      failure_.verify_error = tls_last_verify_error;
      failure_.ssl_reason = ok ? "" : TakeOpenSslReason();
      failure_.err = err;
      bool was_established = established_;
      if (!was_established) {
        Established(base::Status(base::Code::kInternal, "not established"));
      } else if (on_done_) {
        if (stopping_ || err == httplib::Error::Canceled) {
          on_done_(base::Aborted("stream stopped"));
        } else if (!ok) {
          on_done_(base::Unavailable("stream broke: " + httplib::to_string(err)));
        } else {
          on_done_(base::Status::Ok());
        }
      }
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
      cv_.notify_all();
    });
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return established_ || finished_; });
    if (!established_) cv_.wait(l, [&] { return finished_; });
  }

  bool established() {
    std::lock_guard<std::mutex> l(mu_);
    return established_ && status_ == 200;
  }
  int status() const { return status_; }
  // Valid after Join(), when the stream was not established.
  const AttemptFailure& failure() const { return failure_; }
  const std::string& error_body() const { return error_body_; }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Established(const base::Status& s) {
    std::lock_guard<std::mutex> l(mu_);
    established_ = s.ok();
    (void)s;
    cv_.notify_all();
  }

  std::unique_ptr<httplib::ClientImpl> cli_;
  Transport::ChunkFn on_chunk_;
  Transport::DoneFn on_done_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool established_ = false;
  bool finished_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int> status_{0};
  base::Clock* clock_;
  AttemptFailure failure_;  // written by the stream's thread before it finishes
  std::string error_body_;
};

}  // namespace

Transport::Transport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transport::~Transport() = default;

const RestConfig& Transport::config() const { return impl_->config; }

void Transport::SetWarningHandler(std::function<void(const std::string&)> handler) {
  impl_->warning_handler = std::move(handler);
}

base::StatusOr<std::unique_ptr<Transport>> Transport::Create(const RestConfig& config, base::Clock* clock,
                                                       RetryPolicy retry) {
  // OpenSSL writes with write(2), so a peer that closed a connection would
  // kill the process with SIGPIPE; a failed write must be an error instead.
  // A handler the program installed itself is left alone.
  static std::once_flag sigpipe_once;
  std::call_once(sigpipe_once, [] {
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
  std::vector<std::string> problems;
  auto url = ParseServer(config.server);
  if (!url.ok()) problems.push_back(url.status().message());
  X509StorePtr ca_store;
  if (!config.ca_pem.empty()) {
    auto store = CertStoreFromPem(config.ca_pem, "the CA data (certificate-authority)");
    if (store.ok()) {
      ca_store = std::move(*store);
    } else {
      problems.push_back(store.status().message());
    }
  }
  std::shared_ptr<const ClientIdentity> identity;
  if (!config.client_cert_pem.empty() || !config.client_key_pem.empty()) {
    auto id = ParseClientIdentity(config.client_cert_pem, config.client_key_pem);
    if (id.ok()) {
      // Installing the pair in a context checks that the key matches and that
      // OpenSSL accepts both (security level), as each connection will.
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      base::Status s = ctx ? UseClientCert(ctx, **id) : base::Internal("cannot create an OpenSSL context");
      SSL_CTX_free(ctx);
      if (s.ok()) {
        identity = std::move(*id);
      } else {
        problems.push_back(s.message());
      }
    } else {
      problems.push_back(id.status().message());
    }
  }
  if (retry.max_attempts < 1) problems.push_back("retry.max_attempts must be at least 1");
  if (!problems.empty()) {
    std::string m = "invalid client configuration: ";
    for (size_t i = 0; i < problems.size(); ++i) m += (i ? "; " : "") + problems[i];
    return base::InvalidArgument(m);
  }
  auto impl = std::make_unique<Impl>(config, *url, clock, retry);
  impl->ca_store = std::move(ca_store);
  impl->identity = std::move(identity);
  if (!config.bearer_token_file.empty()) {
    impl->token_file = std::make_unique<TokenFileSource>(config.bearer_token_file, clock);
  }
  if (config.exec) {
    impl->exec = std::make_unique<ExecCredentialProvider>(
        *config.exec,
        ExecClusterInfo{config.server, config.ca_pem, config.insecure_skip_tls_verify,
                        config.tls_server_name},
        clock);
  }
  return std::unique_ptr<Transport>(new Transport(std::move(impl)));
}

base::StatusOr<HttpResponse> Transport::Do(const HttpRequest& request) { return impl_->Do(request); }

base::StatusOr<std::unique_ptr<Transport::Stream>> Transport::OpenStream(const HttpRequest& request,
                                                                   ChunkFn on_chunk,
                                                                   DoneFn on_done) {
  Impl& im = *impl_;
  bool reauthenticated = false;
  for (int attempt = 1;; ++attempt) {
    im.limiter.Wait();
    auto creds = im.GetCredentials();
    if (!creds.ok()) return creds.status();
    std::chrono::milliseconds rt = request.read_timeout.count() > 0 ? request.read_timeout
                                                                    : im.config.timeout;
    auto cli = im.NewClient(*creds, rt);
    if (!cli.ok()) return cli.status();
    httplib::Request hreq;
    hreq.method = "GET";
    hreq.path = im.Target(request);
    hreq.headers = im.Headers(request, *creds);
    auto stream = std::make_unique<StreamImpl>(std::move(*cli), im.clock);
    stream->Start(std::move(hreq), on_chunk, on_done);
    if (stream->established()) return std::unique_ptr<Stream>(std::move(stream));
    stream->Join();
    base::Status s;
    bool retryable = true;
    if (stream->status() > 0) {
      httplib::Response res;
      res.status = stream->status();
      res.body = stream->error_body();
      s = im.HttpError(res);
      retryable = im.RetryHttp("GET", res.status, s);
      if (res.status == 401 && im.exec && !reauthenticated) {
        im.exec->Invalidate();
        reauthenticated = true;
        --attempt;
        continue;
      }
    } else {
      bool sent = true;
      AttemptFailure f = stream->failure();
      f.read_timeout = rt;
      s = im.ConnectionError(f, sent, retryable);
    }
    if (!retryable || attempt >= im.retry.max_attempts) return s;
    im.clock->SleepFor(im.RetryAfterWait(s, attempt));
  }
}

}  // namespace kube
