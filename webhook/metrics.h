// Metrics of migration-webhook in the Prometheus text exposition format
// (version 0.0.4, written with base/prometheus.h).
//
//   migration_webhook_admissions_total{operation,result,reason}    counter
//     result: "allowed", "denied" or "error" (the request was refused before
//     a decision: undecodable review, wrong resource, ...). reason: the first
//     cause's code for denials, the HTTP reason for errors, "" when allowed.
//   migration_webhook_admission_denial_causes_total{reason}        counter
//     every cause of every denial (a denial with three causes counts three).
//   migration_webhook_admission_duration_seconds                   histogram
//     decode + decide + encode, per admission request.
//   migration_webhook_http_responses_total{code}                   counter
//   migration_webhook_cache_objects{resource}                      gauge
//   migration_webhook_certificate_reloads_total                    counter
//   migration_webhook_cache_parse_errors_total                     counter
//     objects the informers delivered that could not be parsed (each is logged).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "base/prometheus.h"

namespace webhook {

class Metrics {
 public:
  // Upper bounds of the latency histogram's buckets, in seconds (+Inf implied).
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

  void RecordAdmission(std::string_view operation, std::string_view result, std::string_view reason,
                       std::chrono::nanoseconds latency);
  void RecordDenialCause(std::string_view reason);
  void RecordHttpResponse(int code);

  // Current value of admissions_total for one label set (tests).
  uint64_t AdmissionCount(std::string_view operation, std::string_view result,
                          std::string_view reason) const;

  // The exposition text. `cache_sizes` are resource -> count; the counts of
  // certificate reloads and of cache parse errors are sampled by the caller.
  std::string Render(const std::vector<std::pair<std::string, size_t>>& cache_sizes,
                     uint64_t certificate_reloads, uint64_t parse_errors = 0) const;

 private:
  using AdmissionKey = std::tuple<std::string, std::string, std::string>;
  mutable std::mutex mu_;
  std::map<AdmissionKey, uint64_t> admissions_;
  std::map<std::string, uint64_t> causes_;
  std::map<int, uint64_t> http_codes_;
  base::prom::Histogram latency_{
      std::vector<double>(kLatencyBuckets.begin(), kLatencyBuckets.end())};
};

}  // namespace webhook
