// Hostile and malformed requests against the real webhook server (TLS, real
// handler, port 0): each gets a 4xx (or a 4xx denial) and the server keeps
// serving; slow clients are cut off without blocking others; idle keep-alive
// connections do not starve new ones.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/webhook_testing.h"
#include "webhook/cache.h"
#include "webhook/handler.h"
#include "webhook/metrics.h"
#include "webhook/server.h"
#include "webhook/tls.h"

namespace {

using namespace webhook_testing;
using namespace std::chrono_literals;

struct Webhook {
  TempDir dir;
  Ca ca;
  webhook::ClusterCache cache{"kubevirt", "kubevirt"};
  webhook::Metrics metrics;
  webhook::Handler handler{&cache, &metrics, [] { return true; }};
  std::unique_ptr<webhook::CertReloader> certs;
  std::unique_ptr<webhook::Server> server;
  std::thread thread;

  explicit Webhook(webhook::ServerOptions o = {}) {
    Pem pem = ca.Issue(KeyType::kEcdsa, 1);
    WriteFile(dir.File("c"), pem.cert);
    WriteFile(dir.File("k"), pem.key);
    auto c = webhook::CertReloader::Create(dir.File("c"), dir.File("k"));
    REQUIRE(c.ok());
    certs = std::move(c).value();
    o.bind_address = "127.0.0.1";
    o.port = 0;
    auto s = webhook::Server::Create(o, certs.get(), [this](const webhook::HttpRequest& r) {
      return handler.Handle(r);
    });
    REQUIRE(s.ok());
    server = std::move(s).value();
    thread = std::thread([this] { (void)server->Serve(); });
  }
  ~Webhook() {
    server->Stop();
    thread.join();
  }
  ClientOptions Client(int timeout_ms = 5000) const {
    ClientOptions o;
    o.ca_pem = ca.cert_pem();
    o.timeout_ms = timeout_ms;
    return o;
  }
  // Sends raw bytes on a new connection and returns the response text.
  std::string Raw(const std::string& bytes) {
    TlsConn c(server->port(), Client());
    if (!c.connected() || !c.Write(bytes)) return "";
    return c.ReadResponse();
  }
  bool Healthy() { return StatusOf(Raw(HttpRequestText("GET", "/healthz", "", "", true))) == 200; }
};

std::string Review(const std::string& request_body) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":)" +
         request_body + "}";
}

const std::string kGoodRequest =
    R"({"uid":"u1","kind":{"group":"kubevirt.io","version":"v1","kind":"VirtualMachineInstanceMigration"},)"
    R"("resource":{"group":"kubevirt.io","version":"v1","resource":"virtualmachineinstancemigrations"},)"
    R"("namespace":"default","operation":"CREATE","object":{"metadata":{"name":"m"},"spec":{"vmiName":"vm"}}})";

std::string With(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

std::string Post(const std::string& body, const std::string& ct = "application/json") {
  return HttpRequestText("POST", webhook::kPathValidateMigrations, body, ct, true);
}

// 4xx at the HTTP level, or an AdmissionReview denial whose code is 4xx.
bool Refused(const std::string& response) {
  int status = StatusOf(response);
  if (status >= 400 && status < 500) return true;
  if (status != 200) return false;
  rapidjson::Document d;
  d.Parse(response.substr(response.find("\r\n\r\n") + 4).c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("response")) return false;
  const auto& r = d["response"];
  return r["allowed"].IsFalse() && r["status"]["code"].GetInt() >= 400 &&
         r["status"]["code"].GetInt() < 500;
}

}  // namespace

TEST_CASE("hostile and malformed requests each get a 4xx and the server keeps serving") {
  // A short read timeout bounds the cases that wait for the client (a body
  // that is announced but never sent is waited for until the timeout, then 408).
  webhook::ServerOptions o;
  o.read_timeout = 300ms;
  Webhook w(o);
  const std::string good = Review(kGoodRequest);
  struct Case {
    std::string name, bytes;
  };
  std::vector<Case> cases = {
      {"not HTTP at all", "\x16\x03\x01 garbage garbage\r\n\r\n"},
      {"request line only", "GET\r\n\r\n"},
      {"unknown method", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"unknown path", HttpRequestText("GET", "/admin", "", "", true)},
      {"GET on the admission path", HttpRequestText("GET", webhook::kPathValidateMigrations, "", "", true)},
      {"PUT on healthz", HttpRequestText("PUT", "/healthz", "x", "text/plain", true)},
      {"DELETE on metrics", HttpRequestText("DELETE", "/metrics", "", "", true)},
      {"no content type", Post(good, "")},
      {"text/plain content type", Post(good, "text/plain")},
      {"yaml content type", Post(good, "application/yaml")},
      {"empty body", Post("")},
      {"garbage body", Post("\x01\x02\x03 not json")},
      {"truncated JSON", Post(good.substr(0, good.size() / 2))},
      {"JSON array", Post("[]")},
      {"JSON null", Post("null")},
      {"JSON string", Post("\"AdmissionReview\"")},
      {"10000 nested arrays", Post(std::string(10000, '[') + std::string(10000, ']'))},
      {"nesting hidden in the object",
       Post(Review(With(kGoodRequest, R"("spec":{"vmiName":"vm"})",
                        R"("spec":)" + std::string(200, '[') + std::string(200, ']'))))},
      {"number out of range", Post(Review(With(kGoodRequest, R"("uid":"u1")", R"("uid":1e999)")))},
      {"invalid UTF-8", Post(Review(With(kGoodRequest, "default", "\xc3\x28")))},
      {"wrong apiVersion", Post(With(good, "admission.k8s.io/v1", "admission.k8s.io/v1beta1"))},
      {"wrong review kind", Post(With(good, R"("kind":"AdmissionReview")", R"("kind":"Status")"))},
      {"request missing", Post(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})")},
      {"request is a number", Post(Review("42"))},
      {"missing uid", Post(Review(With(kGoodRequest, R"("uid":"u1",)", "")))},
      {"uid is an object", Post(Review(With(kGoodRequest, R"("uid":"u1")", R"("uid":{})")))},
      {"kind is an array", Post(Review(With(kGoodRequest, R"("kind":{"group")", R"("kind":[],"x":{"group")")))},
      {"resource.group is a number", Post(Review(With(kGoodRequest, R"("resource":{"group":"kubevirt.io")",
                                                      R"("resource":{"group":1)")))},
      {"operation is lowercase", Post(Review(With(kGoodRequest, R"("CREATE")", R"("create")")))},
      {"object is a string", Post(Review(With(kGoodRequest, R"("object":{"metadata")", R"("object":"x","o":{"metadata")")))},
      {"dryRun is a number", Post(Review(With(kGoodRequest, R"("namespace")", R"("dryRun":1,"namespace")")))},
      {"userInfo.groups has a number", Post(Review(With(kGoodRequest, R"("namespace")",
                                                        R"("userInfo":{"groups":[1]},"namespace")")))},
      {"object.spec.vmiName is a number",
       Post(Review(With(kGoodRequest, R"("vmiName":"vm")", R"("vmiName":7)")))},
      {"object.metadata.labels is an array",
       Post(Review(With(kGoodRequest, R"("metadata":{"name":"m"})", R"("metadata":{"name":"m","labels":[]})")))},
      {"wrong resource (pods)",
       Post(Review(With(kGoodRequest, R"("resource":"virtualmachineinstancemigrations")", R"("resource":"pods")")))},
      {"wrong kind", Post(Review(With(kGoodRequest, R"("kind":"VirtualMachineInstanceMigration")", R"("kind":"Pod")")))},
      {"UPDATE without oldObject", Post(Review(With(kGoodRequest, R"("CREATE")", R"("UPDATE")")))},
      {"body over the 1 MiB limit", Post(std::string(2 << 20, ' ') + good)},
      {"Content-Length claims 5 GB",
       "POST /validate-virtualmachineinstancemigrations HTTP/1.1\r\nHost: x\r\n"
       "Content-Type: application/json\r\nContent-Length: 5000000000\r\n\r\n{}"},
      {"bad chunked encoding",
       "POST /validate-virtualmachineinstancemigrations HTTP/1.1\r\nHost: x\r\n"
       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
      {"chunked body over the limit",
       "POST /validate-virtualmachineinstancemigrations HTTP/1.1\r\nHost: x\r\n"
       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n" +
           std::string(0x200000, 'x') + "\r\n0\r\n\r\n"},
  };
  REQUIRE(cases.size() >= 30);
  for (const Case& c : cases) {
    INFO(c.name);
    auto t0 = std::chrono::steady_clock::now();
    std::string response = w.Raw(c.bytes);
    INFO(response.substr(0, 300));
    // Every refusal is prompt: at most one read timeout.
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    CHECK(Refused(response));
    CHECK(w.Healthy());
  }
  // The good request itself is decided (the VMI does not exist) and answered.
  std::string ok = w.Raw(Post(good));
  CHECK(StatusOf(ok) == 200);
  CHECK_THAT(ok, Catch::Contains("VMINotFound"));
  // No failed request left a phantom "in progress" behind (Drain would hang).
  CHECK(w.server->Drain(2s));
}

TEST_CASE("slow clients are cut off after the read timeout without blocking others") {
  webhook::ServerOptions o;
  o.read_timeout = 500ms;
  Webhook w(o);
  // One client stalls inside the headers, another inside the body.
  TlsConn headers(w.server->port(), w.Client());
  REQUIRE(headers.connected());
  REQUIRE(headers.Write("POST /validate-virtualmachineinstancemigrations HTTP/1.1\r\nHost: x\r\n"));
  TlsConn body(w.server->port(), w.Client());
  REQUIRE(body.connected());
  REQUIRE(body.Write(
      "POST /validate-virtualmachineinstancemigrations HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"apiVersion\""));
  // Meanwhile others are served.
  auto start = std::chrono::steady_clock::now();
  CHECK(w.Healthy());
  CHECK(std::chrono::steady_clock::now() - start < 400ms);
  // Both stalled requests are answered 408 once the read timeout passes (the
  // client's own timeout is 5 s, so an answer well before comes from the
  // server's timeout).
  for (TlsConn* c : {&headers, &body}) {
    auto t0 = std::chrono::steady_clock::now();
    std::string response = c->ReadResponse();
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    CHECK(StatusOf(response) == 408);
  }
  CHECK(w.Healthy());
}

TEST_CASE("idle keep-alive connections do not starve a new connection") {
  Webhook w;
  std::vector<std::unique_ptr<TlsConn>> idle;
  for (int i = 0; i < 48; ++i) {
    auto c = std::make_unique<TlsConn>(w.server->port(), w.Client());
    REQUIRE(c->connected());
    REQUIRE(c->Write(HttpRequestText("GET", "/healthz", "", "")));
    REQUIRE(StatusOf(c->ReadResponse()) == 200);
    idle.push_back(std::move(c));  // kept open: a server thread waits on each
  }
  auto start = std::chrono::steady_clock::now();
  CHECK(w.Healthy());
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  // The idle connections still work.
  REQUIRE(idle[0]->Write(HttpRequestText("GET", "/readyz", "", "")));
  CHECK(StatusOf(idle[0]->ReadResponse()) == 200);
}

TEST_CASE("many requests on one keep-alive connection are all answered") {
  Webhook w;
  TlsConn c(w.server->port(), w.Client());
  REQUIRE(c.connected());
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    if (!c.Write(HttpRequestText("POST", webhook::kPathValidateMigrations, Review(kGoodRequest)))) break;
    if (StatusOf(c.ReadResponse()) == 200) ++answered;
  }
  CHECK(answered == 200);
}

TEST_CASE("a line break after a request does not turn the idle timeout into a 408") {
  webhook::ServerOptions o;
  o.read_timeout = 300ms;
  Webhook w(o);
  TlsConn c(w.server->port(), w.Client());
  REQUIRE(c.connected());
  REQUIRE(c.Write(HttpRequestText("GET", "/healthz", "", "") + "\r\n"));
  REQUIRE(StatusOf(c.ReadResponse()) == 200);
  std::this_thread::sleep_for(800ms);  // well past the read timeout
  REQUIRE(c.Write(HttpRequestText("GET", "/healthz", "", "")));
  CHECK(StatusOf(c.ReadResponse()) == 200);
}

TEST_CASE("Stop in the middle of a request body still answers it, and Drain waits for it") {
  Webhook w;
  TlsConn c(w.server->port(), w.Client());
  REQUIRE(c.connected());
  const std::string request = Post(Review(kGoodRequest));
  const size_t half = request.size() - 40;
  REQUIRE(c.Write(request.substr(0, half)));
  while (w.server->active_requests() == 0) std::this_thread::yield();
  w.server->Stop();
  CHECK_FALSE(w.server->Drain(100ms));  // the request has begun and is not answered
  REQUIRE(c.Write(request.substr(half)));
  std::string response = c.ReadResponse();
  CHECK(StatusOf(response) == 200);
  CHECK_THAT(response, Catch::Contains("Connection: close"));
  CHECK(w.server->Drain(5s));
}

TEST_CASE("connections over max_connections are closed at once and the rest keep working") {
  webhook::ServerOptions o;
  o.max_connections = 2;
  o.threads = 1;
  Webhook w(o);
  auto a = std::make_unique<TlsConn>(w.server->port(), w.Client());
  TlsConn b(w.server->port(), w.Client());
  REQUIRE(a->connected());
  REQUIRE(b.connected());
  TlsConn refused(w.server->port(), w.Client(1000));
  CHECK_FALSE(refused.connected());
  REQUIRE(b.Write(HttpRequestText("GET", "/healthz", "", "")));
  CHECK(StatusOf(b.ReadResponse()) == 200);
  a.reset();  // frees a place (once the server has seen the close)
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    TlsConn again(w.server->port(), w.Client(1000));
    served = again.connected() && again.Write(HttpRequestText("GET", "/healthz", "", "")) &&
             StatusOf(again.ReadResponse()) == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  CHECK(served);
}
