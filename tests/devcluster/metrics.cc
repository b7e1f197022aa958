#include "tests/devcluster/metrics.h"

#include <strings.h>

#include <vector>

#include "base/prometheus.h"

namespace devcluster {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool EqualFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string MediaTypeOf(std::string_view content_type) {
  std::string_view m = content_type.substr(0, content_type.find(';'));
  while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
  return std::string(m);
}

// kube-apiserver's cleanVerb for methods that are reported as they are.
std::string MethodVerb(std::string_view method, std::string_view content_type) {
  if (method == "PATCH" && MediaTypeOf(content_type) == "application/apply-patch+yaml") return "APPLY";
  for (const char* known : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    if (method == known) return known;
  }
  return "other";  // kube-apiserver's bucket for methods it does not track
}

// cleanDryRun: only "All" is a valid value, repeated values count once.
std::string DryRunLabel(const QueryParams& query) {
  auto [begin, end] = query.equal_range("dryRun");
  if (begin == end) return "";
  for (auto it = begin; it != end; ++it) {
    if (it->second != "All") return "invalid";
  }
  return "All";
}

void AppendLabel(std::string& out, const char* name, std::string_view value) {
  if (out.back() != '{') out += ',';
  out += name;
  out += "=\"";
  out += base::prom::EscapeLabelValue(value);
  out += '"';
}

// Labels in the order the text format's readers and kube-apiserver print
// them: alphabetical. `code` < 0 leaves it out (the gauge has none).
std::string Series(const char* name, const RequestLabels& l, int code) {
  std::string out = name;
  out += '{';
  if (code >= 0) AppendLabel(out, "code", std::to_string(code));
  AppendLabel(out, "component", l.component);
  if (code >= 0) AppendLabel(out, "dry_run", l.dry_run);
  AppendLabel(out, "group", l.group);
  AppendLabel(out, "resource", l.resource);
  AppendLabel(out, "scope", l.scope);
  AppendLabel(out, "subresource", l.subresource);
  AppendLabel(out, "verb", l.verb);
  AppendLabel(out, "version", l.version);
  out += '}';
  return out;
}

}  // namespace

bool WatchRequested(const QueryParams& query) {
  auto it = query.lower_bound("watch");  // the first value, as Go's url.Values.Get
  if (it == query.end() || it->first != "watch") return false;
  return it->second != "0" && !EqualFold(it->second, "false");
}

RequestLabels ClassifyRequest(std::string_view method, std::string_view path, const QueryParams& query,
                              std::string_view content_type) {
  RequestLabels l;
  l.dry_run = DryRunLabel(query);
  std::string_view m = method == "HEAD" ? std::string_view("GET") : method;
  std::vector<std::string_view> seg = Segments(path);

  // RequestInfoFactory: /api/VERSION/... and /apis/GROUP/VERSION/... with at
  // least a resource are resource requests; shorter paths are discovery.
  size_t first = 0;  // the segment after the version
  if (seg.size() >= 3 && seg[0] == "api") {
    first = 2;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    first = 3;
  }
  const bool watch_path = first > 0 && seg[first] == "watch";  // the deprecated /watch/ prefix
  const size_t rest = watch_path ? first + 1 : first;
  if (first == 0 || rest >= seg.size()) {
    l.verb = MethodVerb(m, content_type);
    l.subresource = std::string(path);
    return l;
  }
  if (seg[0] == "apis") l.group = std::string(seg[1]);
  l.version = std::string(seg[first - 1]);
  l.component = "apiserver";

  std::vector<std::string_view> parts(seg.begin() + static_cast<long>(rest), seg.end());
  std::string_view ns;
  if (parts[0] == "namespaces" && parts.size() > 1) {
    ns = parts[1];
    // /namespaces/NS/RESOURCE/...: a namespaced resource; /namespaces/NAME,
    // /namespaces/NAME/status and /namespaces/NAME/finalize: the namespace.
    if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize") {
      parts.erase(parts.begin(), parts.begin() + 2);
    }
  }
  l.resource = std::string(parts[0]);
  const bool named = parts.size() >= 2;
  if (parts.size() >= 3) l.subresource = std::string(parts[2]);

  const bool create = m == "POST" && !watch_path;
  l.scope = named || create ? "resource" : !ns.empty() ? "namespace" : "cluster";
  if (m == "GET") {
    if (watch_path || WatchRequested(query)) {
      l.verb = "WATCH";
    } else {
      l.verb = named ? "GET" : "LIST";
    }
  } else {
    l.verb = MethodVerb(m, content_type);
  }
  return l;
}

void RequestMetrics::CountRequest(const RequestLabels& labels, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{labels, code}];
}

void RequestMetrics::AddLongRunning(const RequestLabels& labels, int delta) {
  std::lock_guard<std::mutex> lock(mu_);
  long_running_[labels] += delta;
}

uint64_t RequestMetrics::RequestCount(const RequestLabels& labels, int code) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find({labels, code});
  return it == requests_.end() ? 0 : it->second;
}

int64_t RequestMetrics::LongRunning(const RequestLabels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = long_running_.find(labels);
  return it == long_running_.end() ? 0 : it->second;
}

std::string RequestMetrics::Render() const {
  std::string out =
      "# HELP apiserver_request_total Requests served, by verb, dry run, group, version, resource, subresource, "
      "scope, component and HTTP status code.\n"
      "# TYPE apiserver_request_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, count] : requests_) {
    out += Series("apiserver_request_total", key.first, key.second) + " " + std::to_string(count) + "\n";
  }
  out +=
      "# HELP apiserver_longrunning_requests Open long-running requests (watches), by verb, group, version, "
      "resource, subresource, scope and component.\n"
      "# TYPE apiserver_longrunning_requests gauge\n";
  for (const auto& [labels, value] : long_running_) {
    out += Series("apiserver_longrunning_requests", labels, -1) + " " + std::to_string(value) + "\n";
  }
  return out;
}

}  // namespace devcluster
