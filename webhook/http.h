// The HTTP exchange the webhook's handlers see: plain values, no sockets, so
// that handlers are tested by calling them (server.h serves them over HTTPS).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace webhook {

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string path;          // without the query string
  std::string content_type;  // the Content-Type header, verbatim ("" if absent)
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
};

// Must be safe to call concurrently; must not throw (the server converts an
// escaped exception into a 500, but that is a bug).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace webhook
