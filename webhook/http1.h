// HTTP/1.1 for the webhook's server (server.h): an incremental request parser
// and the response writer. Pure functions of bytes, no sockets, so every rule
// is tested with a case table.
//
// What is accepted: a request line `METHOD SP TARGET SP HTTP/1.0|1.1`, header
// lines ended by CRLF (a bare LF too), a body given by Content-Length or by
// chunked Transfer-Encoding (extensions and trailers skipped). HTTP/1.0
// connections close after the response. What is refused and how: a malformed
// line, a bad Content-Length, both Content-Length and Transfer-Encoding (a
// request-smuggling shape), a broken chunk, a chunk-size line over 256 bytes
// -> 400; an Expect other than 100-continue -> 417; a header block (or the
// trailers) over `max_header_bytes` or more than `max_headers` fields -> 431;
// a transfer coding other than chunked -> 501; a version other than 1.0 and
// 1.1 -> 505; a body (announced or received) over `max_body_bytes`, or
// chunk framing beyond a quarter of it plus 16 KiB -> 413, decided as soon as
// it is known, before the body is read. So one request never holds more than
// about 1.3 x max_body_bytes + max_header_bytes of input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "webhook/http.h"

namespace webhook {

struct Http1Limits {
  size_t max_header_bytes = 16 * 1024;  // the request line and every header line
  size_t max_headers = 100;
  size_t max_body_bytes = 1 << 20;
};

class RequestParser {
 public:
  enum class Result { kNeedMore, kComplete, kError };

  explicit RequestParser(Http1Limits limits = {}) : limits_(limits) {}

  // Parses the request at the start of `data`, which holds every byte
  // received since the request began (so each call sees the previous call's
  // bytes again, and more). kComplete: request(), keep_alive() and consumed()
  // describe it; bytes after consumed() belong to the next request. kError:
  // error_status() and error_message() say why; the connection must be
  // closed after the answer.
  Result Parse(std::string_view data);

  // Ready for the next request on the same connection.
  void Reset();

  const HttpRequest& request() const { return request_; }
  HttpRequest& request() { return request_; }
  bool keep_alive() const { return keep_alive_; }
  // True for a HEAD request: the response carries no body.
  bool head() const { return head_; }
  size_t consumed() const { return consumed_; }
  // Once the headers are read: the client sent `Expect: 100-continue` and
  // waits for the interim response before sending the body.
  bool headers_done() const { return stage_ != Stage::kHeaders; }
  bool expects_continue() const { return expect_continue_; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  enum class Stage { kHeaders, kLengthBody, kChunkSize, kChunkData, kTrailers, kDone };
  Result Fail(int status, std::string message);
  Result ParseHeaders(std::string_view head);
  Result ParseChunked(std::string_view data);

  Http1Limits limits_;
  Stage stage_ = Stage::kHeaders;
  size_t start_ = 0;       // where the request line begins (empty lines before it skipped)
  size_t scanned_ = 0;     // start of the first header line not yet read
  size_t body_start_ = 0;  // offset of the body (after the blank line)
  size_t length_ = 0;      // Content-Length, or the current chunk's size
  size_t pos_ = 0;         // chunked: where the next unparsed byte is
  size_t trailers_start_ = 0;
  size_t consumed_ = 0;
  bool keep_alive_ = true;
  bool head_ = false;
  bool expect_continue_ = false;
  HttpRequest request_;
  int error_status_ = 0;
  std::string error_message_;
};

// The status line's reason phrase ("Unknown" for codes this server never
// sends).
const char* ReasonPhrase(int status);

// Appends the response's bytes to `out`: status line, Content-Type,
// Content-Length, the extra headers, `Connection: close` when `close`, and the
// body unless `head`.
void AppendResponse(const HttpResponse& response, bool head, bool close, std::string* out);

// An error as the API server shows it when a webhook call fails: a
// metav1.Status body with `message`, `code` and the reason that goes with the
// code (BadRequest, NotFound, MethodNotAllowed, Timeout,
// RequestEntityTooLarge, UnsupportedMediaType, InternalError). Used by the
// handler and by the server for the errors it answers itself.
HttpResponse StatusResponse(int code, std::string_view message);

}  // namespace webhook
