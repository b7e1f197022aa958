// The webhook's TLS server: protocol and cipher policy, ECDSA and RSA keys,
// client certificates, and certificate rotation under load. Real OpenSSL
// handshakes against a server on port 0, certificates made at test time.
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/unit/webhook_testing.h"
#include "webhook/server.h"
#include "webhook/tls.h"

namespace {

using namespace webhook_testing;
using namespace std::chrono_literals;

// A running webhook::Server answering every request with 200 "ok".
struct TlsServer {
  TempDir dir;
  Ca ca;
  std::unique_ptr<webhook::CertReloader> certs;
  std::unique_ptr<webhook::Server> server;
  std::thread thread;

  explicit TlsServer(KeyType type = KeyType::kEcdsa, bool client_ca = false,
                     webhook::ServerOptions options = {}) {
    Pem pem = ca.Issue(type, 1);
    WriteFile(cert_file(), pem.cert);
    WriteFile(key_file(), pem.key);
    auto c = webhook::CertReloader::Create(cert_file(), key_file(), 50ms);
    REQUIRE(c.ok());
    certs = std::move(c).value();
    options.bind_address = "127.0.0.1";
    options.port = 0;
    if (client_ca) {
      WriteFile(dir.File("client-ca.crt"), ca.cert_pem());
      options.client_ca_file = dir.File("client-ca.crt");
    }
    auto s = webhook::Server::Create(options, certs.get(), [](const webhook::HttpRequest& r) {
      webhook::HttpResponse out;
      out.content_type = "text/plain";
      out.body = r.method == "POST" ? "posted " + std::to_string(r.body.size()) : "ok";
      return out;
    });
    REQUIRE(s.ok());
    server = std::move(s).value();
    thread = std::thread([this] { (void)server->Serve(); });
  }
  ~TlsServer() {
    server->Stop();
    thread.join();
  }
  std::string cert_file() const { return dir.File("tls.crt"); }
  std::string key_file() const { return dir.File("tls.key"); }
  int port() const { return server->port(); }
  ClientOptions Verified() const {
    ClientOptions o;
    o.ca_pem = ca.cert_pem();
    return o;
  }
  // Replaces the serving pair as a Kubernetes secret volume does (atomically).
  void Rotate(KeyType type, long serial) {
    Pem pem = ca.Issue(type, serial);
    WriteFileAtomic(key_file(), pem.key);
    WriteFileAtomic(cert_file(), pem.cert);
  }
};

// Certificates for a server that a test creates and runs itself (when it
// controls Serve, Stop and Drain); the server is made by Make().
struct OwnServer {
  TempDir dir;
  Ca ca;
  std::unique_ptr<webhook::CertReloader> certs;
  OwnServer() {
    Pem pem = ca.Issue(KeyType::kEcdsa, 1);
    WriteFile(dir.File("c"), pem.cert);
    WriteFile(dir.File("k"), pem.key);
    auto c = webhook::CertReloader::Create(dir.File("c"), dir.File("k"));
    REQUIRE(c.ok());
    certs = std::move(c).value();
  }
  std::unique_ptr<webhook::Server> Make(webhook::HttpHandler handler,
                                        webhook::ServerOptions o = {}) {
    o.port = 0;
    o.bind_address = "127.0.0.1";
    auto s = webhook::Server::Create(o, certs.get(), std::move(handler));
    REQUIRE(s.ok());
    return std::move(s).value();
  }
  ClientOptions Client() const {
    ClientOptions co;
    co.ca_pem = ca.cert_pem();
    return co;
  }
};

std::string Get(TlsConn& c, const std::string& path = "/healthz") {
  if (!c.Write(HttpRequestText("GET", path, "", ""))) return "";
  return c.ReadResponse();
}

}  // namespace

TEST_CASE("TLS 1.2 and 1.3 handshakes succeed with a verified ECDSA certificate") {
  TlsServer s;
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ClientOptions o = s.Verified();
    o.min_version = o.max_version = version;
    TlsConn c(s.port(), o);
    REQUIRE(c.connected());
    CHECK(c.version() == (version == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3"));
    CHECK(StatusOf(Get(c)) == 200);
  }
}

TEST_CASE("TLS 1.2 with an ECDSA key negotiates ECDHE with an AEAD cipher") {
  TlsServer s;
  ClientOptions o = s.Verified();
  o.max_version = TLS1_2_VERSION;
  TlsConn c(s.port(), o);
  REQUIRE(c.connected());
  CHECK(c.cipher().rfind("ECDHE-ECDSA-", 0) == 0);
  CHECK((c.cipher().find("GCM") != std::string::npos ||
         c.cipher().find("CHACHA20") != std::string::npos));
}

TEST_CASE("an RSA serving key works with TLS 1.2 and 1.3") {
  TlsServer s(KeyType::kRsa);
  ClientOptions o = s.Verified();
  o.max_version = TLS1_2_VERSION;
  TlsConn c12(s.port(), o);
  REQUIRE(c12.connected());
  CHECK(c12.cipher().rfind("ECDHE-RSA-", 0) == 0);
  CHECK(StatusOf(Get(c12)) == 200);
  TlsConn c13(s.port(), s.Verified());
  REQUIRE(c13.connected());
  CHECK(c13.version() == "TLSv1.3");
}

TEST_CASE("TLS 1.1 and 1.0 clients are refused by the server") {
  TlsServer s;
  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    ClientOptions o;
    o.min_version = o.max_version = version;
    o.insecure_level0 = true;  // lets the client offer the old protocol at all
    TlsConn c(s.port(), o);
    CHECK_FALSE(c.connected());
    // The server's alert, not a client-side "no protocols available".
    CHECK_THAT(c.error(), Catch::Contains("protocol version"));
  }
  TlsConn ok(s.port(), s.Verified());
  CHECK(ok.connected());
}

TEST_CASE("TLS 1.2 clients offering only CBC or non-ECDHE ciphers are refused") {
  TlsServer s;
  for (const char* ciphers : {"ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256", "AES256-SHA256"}) {
    INFO(ciphers);
    ClientOptions o;
    o.max_version = TLS1_2_VERSION;
    o.cipher_list = ciphers;
    o.insecure_level0 = true;
    TlsConn c(s.port(), o);
    CHECK_FALSE(c.connected());
    CHECK_THAT(c.error(), Catch::Contains("handshake failure"));
  }
}

TEST_CASE("with a client CA, clients must present a certificate it signed") {
  TlsServer s(KeyType::kEcdsa, /*client_ca=*/true);
  {
    ClientOptions o = s.Verified();
    o.client_cert = s.ca.Issue(KeyType::kEcdsa, 77, "kube-apiserver");
    TlsConn c(s.port(), o);
    REQUIRE(c.connected());
    CHECK(StatusOf(Get(c)) == 200);
  }
  {
    // TLS 1.3 reports a missing client certificate after the handshake, on
    // the first read.
    TlsConn c(s.port(), s.Verified());
    CHECK((!c.connected() || StatusOf(Get(c)) == 0));
  }
  {
    Ca other;
    ClientOptions o = s.Verified();
    o.client_cert = other.Issue(KeyType::kEcdsa, 5, "intruder");
    TlsConn c(s.port(), o);
    CHECK((!c.connected() || StatusOf(Get(c)) == 0));
  }
}

TEST_CASE("a bad client CA file fails server creation") {
  TempDir dir;
  Ca ca;
  Pem pem = ca.Issue(KeyType::kEcdsa, 1);
  WriteFile(dir.File("c"), pem.cert);
  WriteFile(dir.File("k"), pem.key);
  WriteFile(dir.File("ca"), "not a certificate");
  auto certs = webhook::CertReloader::Create(dir.File("c"), dir.File("k"));
  REQUIRE(certs.ok());
  webhook::ServerOptions o;
  o.port = 0;
  o.bind_address = "127.0.0.1";
  o.client_ca_file = dir.File("ca");
  auto s = webhook::Server::Create(o, certs->get(), [](const webhook::HttpRequest&) {
    return webhook::HttpResponse{};
  });
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.status().message(), Catch::Contains("--client-ca-file"));
}

TEST_CASE("certificate pairs that do not parse or match are refused at start-up") {
  TempDir dir;
  Ca ca;
  Pem a = ca.Issue(KeyType::kEcdsa, 1), b = ca.Issue(KeyType::kRsa, 2);
  struct Case {
    const char* name;
    std::string cert, key, want;
  } cases[] = {
      {"mismatched key", a.cert, b.key, "does not match"},
      {"garbage certificate", "junk", a.key, "no PEM certificate"},
      {"garbage key", a.cert, "junk", "no unencrypted PEM private key"},
      {"key in the certificate file", a.key, a.key, "no PEM certificate"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    WriteFile(dir.File("c"), c.cert);
    WriteFile(dir.File("k"), c.key);
    auto r = webhook::CertReloader::Create(dir.File("c"), dir.File("k"));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(c.want));
  }
  auto missing = webhook::CertReloader::Create(dir.File("absent"), dir.File("k"));
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains(dir.File("absent")));
}

TEST_CASE("CheckNow installs a changed pair and keeps the old one when the new does not match") {
  TempDir dir;
  Ca ca;
  Pem one = ca.Issue(KeyType::kEcdsa, 0x11), two = ca.Issue(KeyType::kRsa, 0x22);
  WriteFile(dir.File("c"), one.cert);
  WriteFile(dir.File("k"), one.key);
  auto r = webhook::CertReloader::Create(dir.File("c"), dir.File("k"));
  REQUIRE(r.ok());
  webhook::CertReloader& certs = **r;
  CHECK((*r)->current()->SerialHex() == "11");
  CHECK_FALSE(certs.CheckNow());  // nothing changed

  // The certificate is replaced first, the key later (a non-atomic writer):
  // the mismatch keeps serving the old pair.
  WriteFileAtomic(dir.File("c"), two.cert);
  CHECK_FALSE(certs.CheckNow());
  CHECK(certs.current()->SerialHex() == "11");
  CHECK_THAT(certs.last_error(), Catch::Contains("does not match"));

  WriteFileAtomic(dir.File("k"), two.key);
  CHECK(certs.CheckNow());
  CHECK(certs.current()->SerialHex() == "22");
  CHECK(certs.last_error().empty());
  CHECK(certs.reload_count() == 1);

  WriteFileAtomic(dir.File("c"), "garbage");
  CHECK_FALSE(certs.CheckNow());
  CHECK(certs.current()->SerialHex() == "22");
}

TEST_CASE("rotating the certificate fails no request and new connections see it within 1 s") {
  TlsServer s;
  s.certs->Start();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  // A keep-alive client and a new-connection client loop until the end.
  std::thread keep_alive([&] {
    httplib::SSLClient cli("127.0.0.1", s.port());
    cli.enable_server_certificate_verification(false);
    cli.set_keep_alive(true);
    while (!stop) {
      auto res = cli.Post("/validate-kubevirt", std::string(2000, 'x'), "application/json");
      (res && res->status == 200 && res->body == "posted 2000" ? ok : failed)++;
    }
  });
  std::thread fresh([&] {
    while (!stop) {
      TlsConn c(s.port(), s.Verified());
      (c.connected() && StatusOf(Get(c)) == 200 ? ok : failed)++;
    }
  });
  auto serial_now = [&] {
    TlsConn c(s.port(), s.Verified());
    return c.connected() ? c.PeerSerial() : "";
  };
  REQUIRE(serial_now() == "01");
  int rotations_seen = 0;
  for (long serial : {0x2a, 0x2b}) {
    KeyType type = serial == 0x2a ? KeyType::kRsa : KeyType::kEcdsa;
    s.Rotate(type, serial);
    auto rotated = std::chrono::steady_clock::now();
    char want[8];
    std::snprintf(want, sizeof want, "%lX", serial);
    while (serial_now() != want && std::chrono::steady_clock::now() - rotated < 3s) {
    }
    auto took = std::chrono::steady_clock::now() - rotated;
    CHECK(serial_now() == want);
    CHECK(took < 1s);
    ++rotations_seen;
  }
  stop = true;
  keep_alive.join();
  fresh.join();
  CHECK(rotations_seen == 2);
  CHECK(failed == 0);
  CHECK(ok > 10);
  CHECK(s.certs->reload_count() == 2);
}

TEST_CASE("a Stop that comes before Serve makes Serve return at once") {
  OwnServer own;
  auto s = own.Make([](const webhook::HttpRequest&) { return webhook::HttpResponse{}; });
  s->Stop();
  CHECK(s->Serve().ok());
}

TEST_CASE("Drain after Stop waits for the request in progress and its response") {
  OwnServer own;
  std::atomic<bool> release{false}, handled{false};
  auto created = own.Make([&](const webhook::HttpRequest&) {
    while (!release) std::this_thread::yield();
    handled = true;
    webhook::HttpResponse r;
    r.body = "done";
    return r;
  });
  webhook::Server& server = *created;
  std::thread serving([&] { (void)server.Serve(); });
  ClientOptions co = own.Client();
  // An idle keep-alive connection, held: it must not delay Drain.
  auto idle = std::make_unique<TlsConn>(server.port(), co);
  REQUIRE(idle->connected());
  TlsConn busy(server.port(), co);
  REQUIRE(busy.connected());
  REQUIRE(busy.Write(HttpRequestText("POST", "/x", "{}")));
  while (server.active_requests() == 0) std::this_thread::yield();
  server.Stop();
  CHECK_FALSE(server.Drain(50ms));  // the request is still in the handler
  release = true;
  CHECK(server.Drain(5s));
  CHECK(handled);
  CHECK(server.active_requests() == 0);
  std::string response = busy.ReadResponse();
  CHECK(StatusOf(response) == 200);
  CHECK_THAT(response, Catch::EndsWith("done"));
  // New connections are refused once stopped.
  TlsConn late(server.port(), co);
  CHECK_FALSE(late.connected());
  // Stop closed the idle connection: it reads end of stream, and Serve()
  // returns without waiting for its keep-alive timeout.
  CHECK(idle->ReadAll().empty());
  serving.join();
}

TEST_CASE("a client that hangs up before its response does not kill the server") {
  // This test binary leaves SIGPIPE at its default action (terminate). The
  // client closes cleanly (FIN) while its request is in the handler; the
  // server's first write of the response draws a reset, and the next write
  // fails with EPIPE, which raises SIGPIPE unless the server prevents it.
  // TLS 1.2: no session tickets arrive after the handshake, so the client's
  // socket has nothing unread and its close sends a FIN, not a reset.
  OwnServer own;
  webhook::ServerOptions o;
  o.threads = 1;
  std::atomic<bool> release{false};
  auto created = own.Make([&](const webhook::HttpRequest& r) {
    webhook::HttpResponse out;
    if (r.path == "/slow") {
      while (!release) std::this_thread::yield();
      out.body.assign(4 << 20, 'x');  // more than the socket buffers take
    } else {
      out.body = "ok";
    }
    return out;
  }, o);
  webhook::Server& server = *created;
  std::thread serving([&] { (void)server.Serve(); });
  ClientOptions co = own.Client();
  co.max_version = TLS1_2_VERSION;
  {
    TlsConn c(server.port(), co);
    REQUIRE(c.connected());
    REQUIRE(c.Write(HttpRequestText("GET", "/slow", "", "")));
    while (server.active_requests() == 0) std::this_thread::yield();
  }  // closed here
  release = true;
  // The write fails, the connection is dropped, and the request is no
  // longer counted as in progress.
  CHECK(server.Drain(5s));
  TlsConn after(server.port(), co);
  REQUIRE(after.connected());
  REQUIRE(after.Write(HttpRequestText("GET", "/healthz", "", "")));
  CHECK(StatusOf(after.ReadResponse()) == 200);
  server.Stop();
  serving.join();
}

TEST_CASE("requests left in OpenSSL's buffer after a read turn are still answered") {
  // One loop. While it is held in a handler, a second client writes 40
  // pipelined requests, each in its own small TLS record: the loop's first
  // read then takes them all into OpenSSL's buffer and the socket is empty.
  // A turn ends after 16 reads, so epoll never reports the rest: only the
  // loop's ready list brings the connection back.
  OwnServer own;
  webhook::ServerOptions o;
  o.threads = 1;
  std::atomic<bool> release{false};
  auto server = own.Make(
      [&](const webhook::HttpRequest& r) {
        if (r.path == "/hold") {
          while (!release) std::this_thread::yield();
        }
        webhook::HttpResponse out;
        out.body = "ok " + r.path;
        return out;
      },
      o);
  std::thread serving([&] { (void)server->Serve(); });
  TlsConn holder(server->port(), own.Client());
  TlsConn pipelined(server->port(), own.Client());
  REQUIRE(holder.connected());
  REQUIRE(pipelined.connected());
  REQUIRE(holder.Write(HttpRequestText("GET", "/hold", "", "")));
  while (server->active_requests() == 0) std::this_thread::yield();
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) {
    REQUIRE(pipelined.Write(HttpRequestText("GET", "/r" + std::to_string(i), "", "")));
  }
  release = true;
  CHECK(StatusOf(holder.ReadResponse()) == 200);
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    std::string response = pipelined.ReadResponse();
    if (StatusOf(response) == 200 && response.ends_with("ok /r" + std::to_string(i))) ++answered;
  }
  CHECK(answered == kRequests);
  server->Stop();
  serving.join();
}

TEST_CASE("a body of many TLS records is read in full across the server's read turns") {
  // 900 KiB is about 57 TLS records: more than one turn's 16 reads, so the
  // rest is read on later turns, when epoll reports the socket again.
  TlsServer s;
  TlsConn c(s.port(), s.Verified());
  REQUIRE(c.connected());
  const std::string body(900 * 1024, 'x');
  for (int i = 0; i < 3; ++i) {  // and again on the same connection
    REQUIRE(c.Write(HttpRequestText("POST", "/big", body, "application/json")));
    std::string response = c.ReadResponse();
    CHECK(StatusOf(response) == 200);
    CHECK_THAT(response, Catch::EndsWith("posted " + std::to_string(body.size())));
  }
}
