// The webhook server's HTTP/1.1 parser and response writer (webhook/http1.h):
// case tables of accepted and refused requests, byte-at-a-time delivery, and
// pipelining.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "webhook/http1.h"

namespace {

using webhook::RequestParser;
using Result = RequestParser::Result;

struct Parsed {
  Result result;
  RequestParser parser;
};

// Feeds `bytes` at once.
Parsed ParseAll(const std::string& bytes, webhook::Http1Limits limits = {}) {
  Parsed p{Result::kNeedMore, RequestParser(limits)};
  p.result = p.parser.Parse(bytes);
  return p;
}

}  // namespace

TEST_CASE("http1 parser accepts the requests clients send") {
  struct Case {
    const char* name;
    std::string bytes;
    std::string method, path, content_type, body;
    bool keep_alive;
    bool head;
  };
  const std::vector<Case> cases = {
      {"API server admission POST",
       "POST /validate-kubevirt?timeout=5s HTTP/1.1\r\nHost: h\r\n"
       "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
       "POST", "/validate-kubevirt", "application/json", "{}", true, false},
      {"GET without body", "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/healthz", "", "",
       true, false},
      {"HEAD", "HEAD /readyz HTTP/1.1\r\n\r\n", "HEAD", "/readyz", "", "", true, true},
      {"bare LF line endings", "GET /x HTTP/1.1\nHost: h\n\n", "GET", "/x", "", "", true, false},
      {"Connection: close", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "GET", "/", "", "",
       false, false},
      {"Connection option list, any case", "GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n",
       "GET", "/", "", "", false, false},
      {"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", "GET", "/", "", "", false, false},
      {"HTTP/1.0 closes even when asked to keep alive",
       "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", "", "", false, false},
      {"header names are case-insensitive, values trimmed",
       "POST /p HTTP/1.1\r\ncOnTeNt-TyPe: \t text/plain  \r\ncontent-length:3\r\n\r\nabc", "POST",
       "/p", "text/plain", "abc", true, false},
      {"repeated identical Content-Length",
       "POST /p HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "POST", "/p", "", "x",
       true, false},
      {"chunked body with extension and trailer",
       "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n"
       "0\r\nX-Trailer: t\r\n\r\n",
       "POST", "/p", "", "abc0123456789", true, false},
      {"empty lines before the request line", "\r\n\r\nGET /h HTTP/1.1\r\n\r\n", "GET", "/h", "",
       "", true, false},
      {"Content-Length: 0", "POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/p", "", "",
       true, false},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Parsed p = ParseAll(c.bytes);
    REQUIRE(p.result == Result::kComplete);
    CHECK(p.parser.consumed() == c.bytes.size());
    CHECK(p.parser.request().method == c.method);
    CHECK(p.parser.request().path == c.path);
    CHECK(p.parser.request().content_type == c.content_type);
    CHECK(p.parser.request().body == c.body);
    CHECK(p.parser.keep_alive() == c.keep_alive);
    CHECK(p.parser.head() == c.head);
  }
}

TEST_CASE("http1 parser refuses malformed and oversized requests with the right status") {
  webhook::Http1Limits limits;
  limits.max_body_bytes = 100;
  limits.max_header_bytes = 200;
  limits.max_headers = 5;
  struct Case {
    const char* name;
    std::string bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"no target", "GET\r\n\r\n", 400},
      {"two spaces", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"garbage method", "G\x01T / HTTP/1.1\r\n\r\n", 400},
      {"absolute-form target", "GET http://h/ HTTP/1.1\r\n\r\n", 400},
      {"control character in the target", "GET /a\x7f HTTP/1.1\r\n\r\n", 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505},
      {"lower-case version", "GET / http/1.1\r\n\r\n", 505},
      {"header without colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
      {"obsolete line folding", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400},
      {"control character in a value", "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400},
      {"negative Content-Length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"Content-Length with a sign", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", 400},
      {"Content-Length of 20 digits",
       "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"conflicting Content-Length",
       "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"Content-Length and chunked",
       "POST / HTTP/1.1\r\nContent-Length: 1\r\n"
       "Transfer-Encoding: chunked\r\n\r\n",
       400},
      {"gzip transfer coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"Expect other than 100-continue", "POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417},
      {"announced body over the limit", "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413},
      {"5 GB announced", "POST / HTTP/1.1\r\nContent-Length: 5000000000\r\n\r\n{}", 413},
      {"chunks over the limit",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'x') +
           "\r\n40\r\n",
       413},
      {"huge chunk size",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", 413},
      {"chunk size not hex",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400},
      {"empty chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400},
      {"chunk longer than announced",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "1\r\nabc\r\n0\r\n\r\n",
       400},
      {"chunk extensions over 256 bytes",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "1;" +
           std::string(300, 'e') + "\r\nx\r\n",
       400},
      {"chunk framing far beyond the body (1-byte chunks)",
       [] {
         std::string r = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
         // 100 bytes of body in 1-byte chunks with 200-byte extensions: 20 KB on the wire
         for (int i = 0; i < 100; ++i) r += "1;" + std::string(200, 'e') + "\r\nx\r\n";
         return r;
       }(),
       413},
      {"trailers over the header limit",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\nA: " +
           std::string(150, 'a') + "\r\nB: " + std::string(150, 'b') + "\r\n\r\n",
       431},
      {"header block over the limit, unterminated", "GET / HTTP/1.1\r\nA: " + std::string(300, 'a'),
       431},
      {"header block over the limit, terminated",
       "GET / HTTP/1.1\r\nA: " + std::string(300, 'a') + "\r\n\r\n", 431},
      {"too many header fields",
       "GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n\r\n", 431},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Parsed p = ParseAll(c.bytes, limits);
    REQUIRE(p.result == Result::kError);
    CHECK(p.parser.error_status() == c.status);
    CHECK_FALSE(p.parser.error_message().empty());
    // An error is sticky: more bytes do not revive the request.
    CHECK(p.parser.Parse(c.bytes + "GET / HTTP/1.1\r\n\r\n") == Result::kError);
  }
}

TEST_CASE("http1 parser gives the same request when bytes arrive one at a time") {
  const std::string bytes =
      "POST /validate HTTP/1.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  RequestParser p;
  bool saw_continue = false;
  for (size_t n = 1; n < bytes.size(); ++n) {
    INFO(n);
    REQUIRE(p.Parse(std::string_view(bytes).substr(0, n)) == Result::kNeedMore);
    if (p.headers_done() && p.expects_continue()) saw_continue = true;
  }
  REQUIRE(p.Parse(bytes) == Result::kComplete);
  CHECK(saw_continue);
  CHECK(p.request().body == "hello world");
  CHECK(p.consumed() == bytes.size());
}

TEST_CASE("http1 parser stops at the end of a request so pipelined ones follow") {
  const std::string first = "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "GET /b HTTP/1.1\r\n\r\n";
  std::string bytes = first + second;
  RequestParser p;
  REQUIRE(p.Parse(bytes) == Result::kComplete);
  CHECK(p.request().body == "abc");
  CHECK(p.consumed() == first.size());
  bytes.erase(0, p.consumed());
  p.Reset();
  REQUIRE(p.Parse(bytes) == Result::kComplete);
  CHECK(p.request().path == "/b");
  CHECK(p.consumed() == second.size());
}

TEST_CASE("http1 responses carry length, extra headers and close, and HEAD has no body") {
  webhook::HttpResponse r;
  r.status = 405;
  r.content_type = "application/json";
  r.body = "{}";
  r.headers = {{"Allow", "POST"}, {"X-Bad", "a\r\nInjected: 1"}};
  std::string out;
  webhook::AppendResponse(r, false, true, &out);
  CHECK(out ==
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Allow: POST\r\nX-Bad: aInjected: 1\r\nConnection: close\r\n\r\n{}");
  out.clear();
  webhook::AppendResponse(r, true, false, &out);
  CHECK(out.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(out.find("Connection: close") == std::string::npos);
  CHECK(out.substr(out.size() - 4) == "\r\n\r\n");
}

TEST_CASE("http1 parser accepts a body near the limit sent in small chunks, with trailers") {
  // 1 MiB - 1 KiB in 64-byte chunks: about 96 KiB of framing, within the allowance.
  std::string bytes = "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64, 'x');
  size_t body = 0;
  while (body + 64 <= (1 << 20) - 1024) {
    bytes += "40\r\n" + chunk + "\r\n";
    body += 64;
  }
  bytes += "0\r\nX-Checksum: 1\r\n\r\n";
  RequestParser p;
  REQUIRE(p.Parse(bytes) == Result::kComplete);
  CHECK(p.request().body.size() == body);
  CHECK(p.consumed() == bytes.size());
}

TEST_CASE("http1 StatusResponse is a metav1.Status with the code's reason and any message") {
  const std::string message = "bad \"name\" \\ at\nline\t2 \x01 é";
  struct Case {
    int code;
    const char* reason;
  };
  for (Case c : {Case{400, "BadRequest"}, Case{404, "NotFound"}, Case{405, "MethodNotAllowed"},
                 Case{408, "Timeout"}, Case{413, "RequestEntityTooLarge"},
                 Case{415, "UnsupportedMediaType"}, Case{431, "BadRequest"},
                 Case{500, "InternalError"}, Case{505, "InternalError"}}) {
    INFO(c.code);
    webhook::HttpResponse r = webhook::StatusResponse(c.code, message);
    CHECK(r.status == c.code);
    CHECK(r.content_type == "application/json");
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    REQUIRE_FALSE(d.HasParseError());
    CHECK(std::string(d["kind"].GetString()) == "Status");
    CHECK(std::string(d["status"].GetString()) == "Failure");
    CHECK(std::string(d["message"].GetString()) == message);  // every byte survives
    CHECK(std::string(d["reason"].GetString()) == c.reason);
    CHECK(d["code"].GetInt() == c.code);
  }
}
