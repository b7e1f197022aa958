// Transport: error mapping at the HTTP edge, retries and backoff on a fake
// clock, the client-side rate limiter, Warning headers and credentials on
// the wire. Servers are local plain-HTTP httplib servers on port 0.
#include <httplib.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include "kube/client.h"
#include "kube/rate_limiter.h"
#include "kube/transport.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/local_server.h"
#include "tests/testing/temp_dir.h"

using namespace std::chrono_literals;

namespace {

using kube::testing::LocalServer;

kube::RestConfig PlainConfig(const std::string& url) {
  kube::RestConfig rc;
  rc.server = url;
  rc.qps = 0;  // no client-side limiting unless a test asks for it
  rc.timeout = 5000ms;
  return rc;
}

std::unique_ptr<kube::Transport> MakeTransport(const kube::RestConfig& rc, base::Clock* clock,
                                               kube::RetryPolicy retry = {}) {
  auto t = kube::Transport::Create(rc, clock, retry);
  REQUIRE(t.ok());
  return std::move(*t);
}

kube::HttpRequest Req(const std::string& method, const std::string& path) {
  kube::HttpRequest r;
  r.method = method;
  r.path = path;
  if (method != "GET") r.body = "{}";
  return r;
}

}  // namespace

TEST_CASE("HTTP errors become Status codes with the API's reason and Retry-After",
          "[kube][transport]") {
  struct Case {
    int http;
    std::string body;
    std::string retry_after_header;
    base::Code want;
    std::string want_reason;
    int want_retry_after;
    std::string want_message;
  };
  auto status_body = [](int code, const std::string& reason, const std::string& msg,
                        const std::string& details = "") {
    return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":" +
           std::to_string(code) + ",\"reason\":\"" + reason + "\",\"message\":\"" + msg + "\"" +
           (details.empty() ? "" : ",\"details\":" + details) + "}";
  };
  std::vector<Case> cases = {
      {400, status_body(400, "BadRequest", "bad body"), "", base::Code::kInvalidArgument,
       "BadRequest", 0, "bad body"},
      {401, status_body(401, "Unauthorized", "Unauthorized"), "", base::Code::kUnauthenticated,
       "Unauthorized", 0, "Unauthorized"},
      {403, status_body(403, "Forbidden", "no"), "", base::Code::kPermissionDenied, "Forbidden", 0,
       "no"},
      {404, status_body(404, "NotFound", "configmaps \\\"x\\\" not found"), "",
       base::Code::kNotFound, "NotFound", 0, "configmaps \"x\" not found"},
      {409, status_body(409, "AlreadyExists", "exists"), "", base::Code::kAlreadyExists,
       "AlreadyExists", 0, "exists"},
      {409, status_body(409, "Conflict", "stale"), "", base::Code::kAborted, "Conflict", 0,
       "stale"},
      {410, status_body(410, "Expired", "too old"), "", base::Code::kOutOfRange, "Expired", 0,
       "too old"},
      {422, status_body(422, "Invalid", "bad spec", "{\"causes\":[{\"field\":\"spec\"}]}"), "",
       base::Code::kInvalidArgument, "Invalid", 0, "bad spec"},
      {429, status_body(429, "TooManyRequests", "slow down", "{\"retryAfterSeconds\":7}"), "",
       base::Code::kUnavailable, "TooManyRequests", 7, "slow down"},
      {429, status_body(429, "TooManyRequests", "slow down"), "4", base::Code::kUnavailable,
       "TooManyRequests", 4, "slow down"},
      {500, "plain text failure", "", base::Code::kUnavailable, "", 0, "plain text failure"},
      {504, status_body(504, "Timeout", "took too long"), "", base::Code::kDeadlineExceeded,
       "Timeout", 0, "took too long"},
  };
  LocalServer srv;
  std::atomic<size_t> index{0};
  srv.server().Post("/case", [&](const httplib::Request&, httplib::Response& res) {
    const Case& c = cases[index];
    res.status = c.http;
    if (!c.retry_after_header.empty()) res.set_header("Retry-After", c.retry_after_header);
    res.set_content(c.body, "application/json");
  });
  base::testing::FakeClock clock;
  kube::RetryPolicy no_retry;
  no_retry.max_attempts = 1;
  auto t = MakeTransport(PlainConfig(srv.url()), &clock, no_retry);
  for (size_t i = 0; i < cases.size(); ++i) {
    index = i;
    const Case& c = cases[i];
    INFO("HTTP " << c.http << " " << c.body);
    auto r = t->Do(Req("POST", "/case"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == c.want);
    CHECK(r.status().http_code() == c.http);
    CHECK(r.status().reason() == c.want_reason);
    CHECK(r.status().retry_after_seconds() == c.want_retry_after);
    CHECK(r.status().message() == c.want_message);
  }
  CHECK(clock.Sleeps().empty());
}

TEST_CASE("GET is retried on 429 and 503 with Retry-After and backoff", "[kube][transport]") {
  LocalServer srv;
  std::atomic<int> attempts{0};
  srv.server().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    int n = ++attempts;
    if (n == 1) {
      res.status = 429;
      res.set_header("Retry-After", "3");
      res.set_content("{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\"}",
                      "application/json");
    } else if (n == 2) {
      res.status = 503;
      res.set_content("unavailable", "text/plain");
    } else {
      res.set_content("{\"ok\":true}", "application/json");
    }
  });
  base::testing::FakeClock clock;
  auto t = MakeTransport(PlainConfig(srv.url()), &clock);
  auto r = t->Do(Req("GET", "/flaky"));
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "{\"ok\":true}");
  CHECK(attempts == 3);
  auto sleeps = clock.Sleeps();
  REQUIRE(sleeps.size() == 2);
  CHECK(sleeps[0] == 3s);  // the server's Retry-After, exactly
  // Second retry: initial 200ms doubled, plus up to 20% jitter.
  CHECK(sleeps[1] >= 400ms);
  CHECK(sleeps[1] < 480ms);
}

TEST_CASE("GET gives up after max_attempts with exponential backoff", "[kube][transport]") {
  LocalServer srv;
  std::atomic<int> attempts{0};
  srv.server().Get("/down", [&](const httplib::Request&, httplib::Response& res) {
    ++attempts;
    res.status = 503;
    res.set_content("{\"kind\":\"Status\",\"code\":503,\"reason\":\"ServiceUnavailable\","
                    "\"message\":\"etcd down\"}",
                    "application/json");
  });
  base::testing::FakeClock clock;
  kube::RetryPolicy p;
  p.max_attempts = 5;
  p.initial_backoff = 100ms;
  p.max_backoff = 500ms;
  p.jitter = 0;
  auto t = MakeTransport(PlainConfig(srv.url()), &clock, p);
  auto r = t->Do(Req("GET", "/down"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == base::Code::kUnavailable);
  CHECK(r.status().message() == "etcd down");
  CHECK(attempts == 5);
  auto sleeps = clock.Sleeps();
  std::vector<std::chrono::nanoseconds> want = {100ms, 200ms, 400ms, 500ms};
  CHECK(sleeps == want);
}

TEST_CASE("mutations are retried on 429 but not on 5xx", "[kube][transport]") {
  LocalServer srv;
  std::atomic<int> posts{0}, puts{0};
  srv.server().Post("/p", [&](const httplib::Request&, httplib::Response& res) {
    if (++posts == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content("{}", "application/json");
      return;
    }
    res.status = 201;
    res.set_content("{}", "application/json");
  });
  srv.server().Put("/u", [&](const httplib::Request&, httplib::Response& res) {
    ++puts;
    res.status = 500;
    res.set_content("boom", "text/plain");
  });
  base::testing::FakeClock clock;
  auto t = MakeTransport(PlainConfig(srv.url()), &clock);
  auto p = t->Do(Req("POST", "/p"));
  REQUIRE(p.ok());
  CHECK(p->status == 201);
  CHECK(posts == 2);
  auto u = t->Do(Req("PUT", "/u"));
  REQUIRE_FALSE(u.ok());
  CHECK(u.status().code() == base::Code::kUnavailable);
  CHECK(puts == 1);
  CHECK(clock.Sleeps() == std::vector<std::chrono::nanoseconds>{1s});
}

TEST_CASE("a refused connection is retried for every verb and ends Unavailable",
          "[kube][transport]") {
  int port;
  {
    LocalServer srv;  // take a free port, then close it
    port = std::stoi(srv.url().substr(srv.url().rfind(':') + 1));
  }
  base::testing::FakeClock clock;
  kube::RetryPolicy p;
  p.max_attempts = 3;
  p.jitter = 0;
  auto t = MakeTransport(PlainConfig("http://127.0.0.1:" + std::to_string(port)), &clock, p);
  for (const char* method : {"GET", "POST", "DELETE"}) {
    INFO(method);
    clock.ClearSleeps();
    auto r = t->Do(Req(method, "/x"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == base::Code::kUnavailable);
    CHECK(r.status().http_code() == 0);
    CHECK(clock.Sleeps() == std::vector<std::chrono::nanoseconds>{200ms, 400ms});
  }
}

namespace {

// A TCP socket listening on 127.0.0.1 and an ephemeral port that never
// accepts: the kernel completes connections, nobody reads or answers. With
// `close_each`, a thread accepts each connection and closes it at once.
class SilentListener {
 public:
  explicit SilentListener(bool close_each = false) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    if (close_each) {
      thread_ = std::thread([this] {
        for (;;) {
          int c = accept(fd_, nullptr, nullptr);
          if (c < 0) return;  // the listener was shut down
          close(c);
        }
      });
    }
  }
  ~SilentListener() {
    shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

kube::RetryPolicy Once() {
  kube::RetryPolicy p;
  p.max_attempts = 1;
  return p;
}

}  // namespace

// Before: "request to http://127.0.0.1:P failed: Connection" for all of these.
TEST_CASE("a refused connection says refused, with the address", "[kube][transport]") {
  int port;
  {
    LocalServer srv;
    port = std::stoi(srv.url().substr(srv.url().rfind(':') + 1));
  }
  base::testing::FakeClock clock;
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto t = MakeTransport(PlainConfig(url), &clock, Once());
  auto r = t->Do(Req("GET", "/x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == base::Code::kUnavailable);
  CHECK(r.status().message() == "cannot connect to " + url + " (127.0.0.1:" +
                                    std::to_string(port) + "): connection refused");
  // A watch's establishment says the same.
  kube::HttpRequest w = Req("GET", "/x");
  auto s = t->OpenStream(w, [](std::string_view) { return true; }, [](const base::Status&) {});
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("connection refused") != std::string::npos);
}

TEST_CASE("an unresolvable host says so", "[kube][transport]") {
  base::testing::FakeClock clock;
  auto t = MakeTransport(PlainConfig("http://km-no-such-host.invalid:6443"), &clock, Once());
  auto r = t->Do(Req("GET", "/x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().rfind("cannot connect to http://km-no-such-host.invalid:6443 "
                                   "(km-no-such-host.invalid:6443): cannot resolve host "
                                   "\"km-no-such-host.invalid\"",
                                   0) == 0);
}

TEST_CASE("a server that closes the connection unanswered is named so", "[kube][transport]") {
  SilentListener l(/*close_each=*/true);
  base::testing::FakeClock clock;
  const std::string url = "http://127.0.0.1:" + std::to_string(l.port());
  auto t = MakeTransport(PlainConfig(url), &clock, Once());
  auto r = t->Do(Req("GET", "/x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == url + " closed the connection before it responded");
}

TEST_CASE("a server that never answers gives a read timeout with its length",
          "[kube][transport]") {
  SilentListener l;
  const std::string url = "http://127.0.0.1:" + std::to_string(l.port());
  kube::RestConfig rc = PlainConfig(url);
  rc.timeout = 300ms;  // the real clock: the attempt must last the timeout
  auto t = MakeTransport(rc, base::RealClock(), Once());
  auto r = t->Do(Req("GET", "/x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "no response from " + url + " within 0.3s (read timeout)");
}

TEST_CASE("https to a server that does not speak TLS names OpenSSL's reason",
          "[kube][transport]") {
  LocalServer srv;
  srv.server().Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  const std::string url = "https" + srv.url().substr(4);
  kube::RestConfig rc = PlainConfig(url);
  rc.insecure_skip_tls_verify = true;
  base::testing::FakeClock clock;
  auto t = MakeTransport(rc, &clock, Once());
  auto r = t->Do(Req("GET", "/x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "TLS handshake with " + url +
                                    " failed: wrong version number (does the server speak TLS? "
                                    "try http://)");
}

TEST_CASE("the token bucket allows a burst, then paces at qps", "[kube][transport]") {
  base::testing::FakeClock clock;
  kube::RateLimiter limiter(10, 3, &clock);
  for (int i = 0; i < 3; ++i) CHECK(limiter.Wait() == 0ns);
  CHECK(limiter.Wait() == 100ms);
  CHECK(limiter.Wait() == 100ms);
  clock.Advance(10s);  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) CHECK(limiter.Wait() == 0ns);
  CHECK(limiter.Wait() == 100ms);
  CHECK(clock.Sleeps() == std::vector<std::chrono::nanoseconds>{100ms, 100ms, 100ms});

  kube::RateLimiter off(0, 1, &clock);
  for (int i = 0; i < 100; ++i) CHECK(off.Wait() == 0ns);
}

TEST_CASE("the transport's requests pass through the rate limiter", "[kube][transport]") {
  LocalServer srv;
  srv.server().Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  base::testing::FakeClock clock;
  auto rc = PlainConfig(srv.url());
  rc.qps = 2;
  rc.burst = 1;
  auto t = MakeTransport(rc, &clock);
  for (int i = 0; i < 3; ++i) REQUIRE(t->Do(Req("GET", "/x")).ok());
  CHECK(clock.Sleeps() == std::vector<std::chrono::nanoseconds>{500ms, 500ms});
}

TEST_CASE("Warning headers are surfaced to the result and the handler", "[kube][transport]") {
  LocalServer srv;
  srv.server().Post("/w", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Warning", "299 - \"spec.foo is deprecated\"");
    res.set_header("Warning", "299 - \"quote \\\" inside\"");
    res.status = 201;
    res.set_content("{}", "application/json");
  });
  base::testing::FakeClock clock;
  auto t = MakeTransport(PlainConfig(srv.url()), &clock);
  std::vector<std::string> seen;
  t->SetWarningHandler([&](const std::string& w) { seen.push_back(w); });
  auto r = t->Do(Req("POST", "/w"));
  REQUIRE(r.ok());
  std::vector<std::string> want = {"spec.foo is deprecated", "quote \" inside"};
  CHECK(r->warnings == want);
  CHECK(seen == want);

  CHECK(kube::ParseWarningHeader("299 - \"a\", 299 - \"b\" \"Sat, 01 Jan 2000 00:00:00 GMT\"") ==
        std::vector<std::string>{"a", "b"});
  CHECK(kube::ParseWarningHeader("not a warning") == std::vector<std::string>{"not a warning"});
}

TEST_CASE("query values are percent-encoded and tokens sent as bearer auth", "[kube][transport]") {
  LocalServer srv;
  std::string seen_auth, seen_selector, seen_agent;
  srv.server().Get("/q", [&](const httplib::Request& req, httplib::Response& res) {
    seen_auth = req.get_header_value("Authorization");
    seen_selector = req.get_param_value("labelSelector");
    seen_agent = req.get_header_value("User-Agent");
    res.set_content("{}", "application/json");
  });
  base::testing::FakeClock clock;
  auto rc = PlainConfig(srv.url());
  rc.bearer_token = "static-token";
  auto t = MakeTransport(rc, &clock);
  auto req = Req("GET", "/q");
  req.query = {{"labelSelector", "app in (a,b),tier!=db&x"}};
  REQUIRE(t->Do(req).ok());
  CHECK(seen_auth == "Bearer static-token");
  CHECK(seen_selector == "app in (a,b),tier!=db&x");
  CHECK(seen_agent == "kubemigrate");
  CHECK(kube::UrlEncode("a b/c=d") == "a%20b%2Fc%3Dd");
}

TEST_CASE("a 401 makes the exec plugin run again once", "[kube][transport]") {
  kube::testing::TempDir tmp("kube_transport_exec_");
  const std::string& dir = tmp.path();
  std::string plugin = tmp.Write(
      "plugin.sh",
      "#!/bin/sh\necho run >> " + dir + "/runs\nn=$(wc -l < " + dir + "/runs | tr -d ' ')\n" +
          "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
          "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-'$n'\"}}'\n",
      /*exec=*/true);

  LocalServer srv;
  srv.server().Get("/secure", [](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer tok-2") {
      res.status = 401;
      res.set_content("{\"kind\":\"Status\",\"code\":401,\"reason\":\"Unauthorized\"}",
                      "application/json");
      return;
    }
    res.set_content("{}", "application/json");
  });
  base::testing::FakeClock clock;
  auto rc = PlainConfig(srv.url());
  rc.exec = kube::ExecConfig{};
  rc.exec->api_version = "client.authentication.k8s.io/v1";
  rc.exec->command = plugin;
  rc.exec->interactive_mode = "Never";
  auto t = MakeTransport(rc, &clock);
  auto r = t->Do(Req("GET", "/secure"));
  CHECK(r.ok());
  // The refreshed credential is cached: no third run.
  CHECK(t->Do(Req("GET", "/secure")).ok());
  std::ifstream runs(dir + "/runs");
  int n = 0;
  for (std::string l; std::getline(runs, l);) ++n;
  CHECK(n == 2);
}

TEST_CASE("invalid configurations are rejected at Create with every problem listed",
          "[kube][transport]") {
  kube::RestConfig rc;
  rc.server = "ftp://x";
  rc.ca_pem = "not a certificate";
  rc.client_cert_pem = "nope";
  rc.client_key_pem = "nope";
  auto t = kube::Transport::Create(rc);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == base::Code::kInvalidArgument);
  CHECK_THAT(t.status().message(), Catch::Contains("https://"));
  CHECK_THAT(t.status().message(), Catch::Contains("CA data"));
  CHECK_THAT(t.status().message(), Catch::Contains("client certificate"));
}

TEST_CASE("ResourcePath builds core and group paths", "[kube][client]") {
  kube::ResourceRef cm{"", "v1", "configmaps", true};
  kube::ResourceRef vmi{"kubevirt.io", "v1", "virtualmachineinstances", true};
  kube::ResourceRef node{"", "v1", "nodes", false};
  CHECK(kube::ResourcePath(cm, "ns1", "a") == "/api/v1/namespaces/ns1/configmaps/a");
  CHECK(kube::ResourcePath(cm, "", "") == "/api/v1/configmaps");
  CHECK(kube::ResourcePath(vmi, "default", "vm", "status") ==
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm/status");
  CHECK(kube::ResourcePath(node, "ignored", "n1") == "/api/v1/nodes/n1");
  CHECK(std::string(kube::PatchContentType(kube::PatchType::kJson)) ==
        "application/json-patch+json");
}
