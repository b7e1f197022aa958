// devcluster's /metrics: kube-apiserver's request counter and long-running
// request gauge, in the Prometheus text exposition format (version 0.0.4).
//
//   apiserver_request_total{code,component,dry_run,group,resource,scope,subresource,verb,version}  counter
//   apiserver_longrunning_requests{component,group,resource,scope,subresource,verb,version}        gauge
//
// The labels are kube-apiserver's (k8s.io/apiserver endpoints/metrics and
// request.RequestInfoFactory), computed from the request line alone:
//
//   resource requests (/api/VERSION/..., /apis/GROUP/VERSION/...):
//     verb: GET (named object), LIST (collection), WATCH (?watch=true or a
//       /watch/ path), POST (create), PUT (update), PATCH, APPLY (a PATCH with
//       application/apply-patch+yaml), DELETE (an object or a collection);
//       any other method "other".
//     scope: "resource" (a named object, or a create), "namespace",
//       "cluster". component: "apiserver".
//   other paths (discovery, /openapi, /version, /healthz, /metrics, unknown):
//     verb: the HTTP method (HEAD as GET), subresource: the path,
//     group/version/resource/scope/component empty.
//   dry_run: "" without ?dryRun, "All" when every value is All, else "invalid".
//
// Thread safety: RequestMetrics may be used from any number of threads.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace devcluster {

// The labels of one request (all but `code`).
struct RequestLabels {
  std::string verb;
  std::string dry_run;
  std::string group;
  std::string version;
  std::string resource;
  std::string subresource;
  std::string scope;
  std::string component;

  auto operator<=>(const RequestLabels&) const = default;
};

// Query parameters as httplib parses them (repeated keys keep their order).
using QueryParams = std::multimap<std::string, std::string>;

// kube-apiserver's rule for ?watch: the first value, unless it is "0" or
// "false" (any case); absent means no watch.
bool WatchRequested(const QueryParams& query);

// The labels kube-apiserver would give this request. `path` is the decoded
// path without the query; `content_type` the request's Content-Type header.
RequestLabels ClassifyRequest(std::string_view method, std::string_view path, const QueryParams& query,
                              std::string_view content_type);

class RequestMetrics {
 public:
  // Counts one request that was answered with `code`.
  void CountRequest(const RequestLabels& labels, int code);
  // Adds `delta` (+1 when a watch starts, -1 when it ends) to the gauge.
  void AddLongRunning(const RequestLabels& labels, int delta);

  // Current values for one label set (tests).
  uint64_t RequestCount(const RequestLabels& labels, int code) const;
  int64_t LongRunning(const RequestLabels& labels) const;

  // The exposition text; series sorted by their labels.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<RequestLabels, int>, uint64_t> requests_;
  std::map<RequestLabels, int64_t> long_running_;
};

}  // namespace devcluster
