#include "webhook/http1.h"

#include <cstdint>
#include <string>
#include <utility>

namespace webhook {
namespace {

// RFC 9110 tchar: the characters of a method or a header name.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
  }
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The line ending at `nl` (a '\n'), without its CR.
std::string_view LineBefore(std::string_view data, size_t start, size_t nl) {
  std::string_view line = data.substr(start, nl - start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Decimal Content-Length; false for anything but 1-19 digits.
bool ParseLength(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A chunk-size line: the size and its extensions (which are ignored).
constexpr size_t kMaxChunkLine = 256;
// Chunk framing (size lines, line endings) allowed on top of the body
// limit, so that the bytes held for one request stay bounded whatever the
// chunk sizes: 1 MiB sent in 64-byte chunks carries about 96 KiB of framing.
size_t MaxChunkedWireBytes(const Http1Limits& limits) {
  return limits.max_body_bytes + limits.max_body_bytes / 4 + 16 * 1024;
}

}  // namespace

RequestParser::Result RequestParser::Fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return Result::kError;
}

void RequestParser::Reset() {
  stage_ = Stage::kHeaders;
  start_ = scanned_ = body_start_ = length_ = pos_ = trailers_start_ = consumed_ = 0;
  keep_alive_ = true;
  head_ = expect_continue_ = false;
  request_ = HttpRequest();
  error_status_ = 0;
  error_message_.clear();
}

RequestParser::Result RequestParser::Parse(std::string_view data) {
  if (error_status_ != 0) return Result::kError;
  if (stage_ == Stage::kHeaders) {
    // Find the blank line, one line at a time from where the last call stopped.
    while (true) {
      size_t nl = data.find('\n', scanned_);
      if (nl == std::string_view::npos) {
        if (data.size() > limits_.max_header_bytes) {
          return Fail(431, "request header block exceeds " +
                               std::to_string(limits_.max_header_bytes) + " bytes");
        }
        return Result::kNeedMore;
      }
      std::string_view line = LineBefore(data, scanned_, nl);
      const bool first_line = scanned_ == start_;
      scanned_ = nl + 1;
      if (scanned_ > limits_.max_header_bytes) {
        return Fail(431, "request header block exceeds " +
                             std::to_string(limits_.max_header_bytes) + " bytes");
      }
      if (line.empty()) {
        // Empty lines before a request line are skipped (RFC 9112 2.2): some
        // clients send a CRLF after a body.
        if (first_line) {
          start_ = scanned_;
          continue;
        }
        break;
      }
    }
    body_start_ = scanned_;
    Result r = ParseHeaders(data.substr(start_, body_start_ - start_));
    if (r == Result::kError) return r;
  }
  switch (stage_) {
    case Stage::kHeaders: return Fail(500, "request parser stuck in the headers");
    case Stage::kLengthBody:
      if (data.size() - body_start_ < length_) return Result::kNeedMore;
      request_.body.assign(data.substr(body_start_, length_));
      consumed_ = body_start_ + length_;
      stage_ = Stage::kDone;
      return Result::kComplete;
    case Stage::kDone: return Result::kComplete;
    default: return ParseChunked(data);
  }
}

RequestParser::Result RequestParser::ParseHeaders(std::string_view head) {
  // The request line.
  size_t nl = head.find('\n');
  std::string_view line = LineBefore(head, 0, nl);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || method.size() > 32) return Fail(400, "malformed request method");
  if (target.empty() || target.front() != '/') {
    return Fail(400, "request target must be an absolute path");
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Fail(400, "request target contains a control character");
    }
  }
  bool http10 = false;
  if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version != "HTTP/1.1") {
    return Fail(505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1");
  }
  request_.method.assign(method);
  request_.path.assign(target.substr(0, target.find('?')));
  head_ = method == "HEAD";
  keep_alive_ = !http10;

  // Header lines.
  bool has_length = false, chunked = false;
  uint64_t length = 0;
  size_t fields = 0;
  for (size_t start = nl + 1; start < head.size();) {
    size_t end = head.find('\n', start);
    line = LineBefore(head, start, end);
    start = end + 1;
    if (line.empty()) break;
    if (++fields > limits_.max_headers) {
      return Fail(431, "more than " + std::to_string(limits_.max_headers) + " header fields");
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return Fail(400, "obsolete header line folding");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Fail(400, "malformed header field");
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return Fail(400, "header field value contains a control character");
      }
    }
    if (EqualsIgnoreCase(name, "content-length")) {
      uint64_t v = 0;
      if (!ParseLength(value, &v)) return Fail(400, "invalid Content-Length");
      if (has_length && v != length) return Fail(400, "conflicting Content-Length fields");
      has_length = true;
      length = v;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      if (!EqualsIgnoreCase(value, "chunked") || chunked) {
        return Fail(501, "unsupported Transfer-Encoding (only chunked is accepted)");
      }
      chunked = true;
    } else if (EqualsIgnoreCase(name, "content-type")) {
      if (request_.content_type.empty()) request_.content_type.assign(value);
    } else if (EqualsIgnoreCase(name, "connection")) {
      // A comma-separated list of options.
      while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view option = Trim(value.substr(0, comma));
        if (EqualsIgnoreCase(option, "close")) keep_alive_ = false;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
    } else if (EqualsIgnoreCase(name, "expect")) {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        return Fail(417, "unsupported Expect: only 100-continue");
      }
      expect_continue_ = !http10;
    }
  }
  if (has_length && chunked) {
    return Fail(400, "both Content-Length and Transfer-Encoding are present");
  }
  if (chunked) {
    stage_ = Stage::kChunkSize;
    pos_ = body_start_;
  } else if (has_length && length > 0) {
    if (length > limits_.max_body_bytes) {
      return Fail(413, "request body of " + std::to_string(length) +
                           " bytes exceeds the limit of " + std::to_string(limits_.max_body_bytes) +
                           " bytes");
    }
    length_ = static_cast<size_t>(length);
    stage_ = Stage::kLengthBody;
  } else {
    consumed_ = body_start_;
    expect_continue_ = false;
    stage_ = Stage::kDone;
  }
  return Result::kNeedMore;
}

RequestParser::Result RequestParser::ParseChunked(std::string_view data) {
  while (true) {
    if (stage_ == Stage::kChunkData) {
      // The chunk's bytes, then its line ending.
      if (data.size() - pos_ < length_ + 1) return Result::kNeedMore;
      size_t end = pos_ + length_;
      size_t after;
      if (data[end] == '\n') {
        after = end + 1;
      } else if (data[end] == '\r') {
        if (data.size() - end < 2) return Result::kNeedMore;
        if (data[end + 1] != '\n') return Fail(400, "chunk not followed by a line ending");
        after = end + 2;
      } else {
        return Fail(400, "chunk longer than its announced size");
      }
      request_.body.append(data.substr(pos_, length_));
      pos_ = after;
      stage_ = Stage::kChunkSize;
      continue;
    }
    if (pos_ - body_start_ > MaxChunkedWireBytes(limits_)) {
      return Fail(413, "chunked request body (with its framing) exceeds the limit of " +
                           std::to_string(limits_.max_body_bytes) + " bytes");
    }
    const bool trailers = stage_ == Stage::kTrailers;
    const size_t max_line = trailers ? limits_.max_header_bytes : kMaxChunkLine;
    size_t nl = data.find('\n', pos_);
    if (nl == std::string_view::npos) {
      if (data.size() - pos_ > max_line) {
        return trailers ? Fail(431, "chunked trailers too long")
                        : Fail(400, "chunk header line too long");
      }
      return Result::kNeedMore;
    }
    if (nl - pos_ > max_line) {
      return trailers ? Fail(431, "chunked trailers too long")
                      : Fail(400, "chunk header line too long");
    }
    std::string_view line = LineBefore(data, pos_, nl);
    pos_ = nl + 1;
    if (trailers) {
      if (pos_ - trailers_start_ > limits_.max_header_bytes) {
        return Fail(431, "chunked trailers too long");
      }
      if (!line.empty()) continue;  // trailer fields are ignored
      consumed_ = pos_;
      stage_ = Stage::kDone;
      return Result::kComplete;
    }
    // chunk-size [ ; extensions ]
    std::string_view size = Trim(line.substr(0, line.find(';')));
    if (size.empty()) return Fail(400, "malformed chunk size");
    uint64_t n = 0;
    for (char c : size) {
      int d = HexDigit(c);
      if (d < 0) return Fail(400, "malformed chunk size");
      if (n > (uint64_t{1} << 40)) {
        return Fail(413, "chunked request body exceeds the limit of " +
                             std::to_string(limits_.max_body_bytes) + " bytes");
      }
      n = n * 16 + static_cast<uint64_t>(d);
    }
    if (request_.body.size() + n > limits_.max_body_bytes) {
      return Fail(413, "chunked request body exceeds the limit of " +
                           std::to_string(limits_.max_body_bytes) + " bytes");
    }
    if (n == 0) {
      stage_ = Stage::kTrailers;
      trailers_start_ = pos_;
    } else {
      length_ = static_cast<size_t>(n);
      stage_ = Stage::kChunkData;
    }
  }
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

void AppendResponse(const HttpResponse& response, bool head, bool close, std::string* out) {
  // Header values come from our own handlers; CR and LF are dropped anyway so
  // that no value can end the header block.
  auto append_value = [out](const std::string& v) {
    for (char c : v) {
      if (c != '\r' && c != '\n') out->push_back(c);
    }
  };
  out->reserve(out->size() + 160 + response.body.size());
  out->append("HTTP/1.1 ");
  out->append(std::to_string(response.status));
  out->push_back(' ');
  out->append(ReasonPhrase(response.status));
  out->append("\r\n");
  if (!response.content_type.empty()) {
    out->append("Content-Type: ");
    append_value(response.content_type);
    out->append("\r\n");
  }
  out->append("Content-Length: ");
  out->append(std::to_string(response.body.size()));
  out->append("\r\n");
  for (const auto& [name, value] : response.headers) {
    append_value(name);
    out->append(": ");
    append_value(value);
    out->append("\r\n");
  }
  if (close) out->append("Connection: close\r\n");
  out->append("\r\n");
  if (!head) out->append(response.body);
}

namespace {

// metav1.StatusReason for a status code.
const char* StatusReason(int code) {
  switch (code) {
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 408: return "Timeout";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    default: return code >= 500 ? "InternalError" : "BadRequest";
  }
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

HttpResponse StatusResponse(int code, std::string_view message) {
  HttpResponse r;
  r.status = code;
  r.body =
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"" +
      JsonEscape(message) + "\",\"reason\":\"" + StatusReason(code) +
      "\",\"code\":" + std::to_string(code) + "}";
  return r;
}

}  // namespace webhook
