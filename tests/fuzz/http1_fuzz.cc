// libFuzzer target: the webhook server's HTTP/1.1 request parser
// (webhook/http1.h). The input is a byte stream on one connection; it is
// parsed whole and again delivered in two parts split where the first byte
// says, and both ways must give the same requests and the same verdict. Every
// complete request must respect the limits and consume bytes it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "webhook/http1.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  std::vector<std::string> requests;  // method, path and body of each
  int error = 0;                      // the error status that ended the stream, or 0
  bool operator==(const Outcome&) const = default;
};

webhook::Http1Limits Limits() {
  webhook::Http1Limits l;
  l.max_body_bytes = 4096;
  l.max_header_bytes = 1024;
  l.max_headers = 16;
  return l;
}

// Parses `stream` as a connection would, with the bytes arriving in the
// pieces given by `cuts` (offsets).
Outcome Run(std::string_view stream, const std::vector<size_t>& cuts) {
  Outcome out;
  webhook::RequestParser parser(Limits());
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    buffer.append(stream.substr(fed, end - fed));
    fed = end;
    while (!buffer.empty()) {
      auto r = parser.Parse(buffer);
      if (r == webhook::RequestParser::Result::kNeedMore) break;
      if (r == webhook::RequestParser::Result::kError) {
        Check(parser.error_status() >= 400 && parser.error_status() < 600);
        out.error = parser.error_status();
        return out;
      }
      Check(parser.consumed() > 0 && parser.consumed() <= buffer.size());
      Check(parser.request().body.size() <= Limits().max_body_bytes);
      Check(!parser.request().path.empty() && parser.request().path[0] == '/');
      out.requests.push_back(parser.request().method + " " + parser.request().path + " " +
                             parser.request().body);
      buffer.erase(0, parser.consumed());
      parser.Reset();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t cut = stream.empty() ? 0 : data[0] % (stream.size() + 1);
  Outcome whole = Run(stream, {});
  Outcome split = Run(stream, {cut});
  // A size limit may be found at a different point when the bytes come in
  // pieces (the announced header block is only known in full later), but the
  // requests completed before it and the verdict class agree.
  if (whole.error == 431 || split.error == 431) {
    Check(whole.error != 0 && split.error != 0);
    return 0;
  }
  Check(whole == split);
  return 0;
}
