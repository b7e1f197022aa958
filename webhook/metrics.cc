#include "webhook/metrics.h"

#include <cstdio>
#include <cstdlib>

namespace webhook {

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

void Metrics::RecordAdmission(std::string_view operation, std::string_view result,
                              std::string_view reason, std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard<std::mutex> lock(mu_);
  ++admissions_[AdmissionKey(operation, result, reason)];
  ++latency_count_;
  latency_sum_seconds_ += seconds;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++bucket_counts_[i];
      break;
    }
  }
}

void Metrics::RecordDenialCause(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++causes_[std::string(reason)];
}

void Metrics::RecordHttpResponse(int code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++http_codes_[code];
}

uint64_t Metrics::AdmissionCount(std::string_view operation, std::string_view result,
                                 std::string_view reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = admissions_.find(AdmissionKey(operation, result, reason));
  return it == admissions_.end() ? 0 : it->second;
}

namespace {

// Shortest text that reads back as the same double ("%.17g" would print
// 0.1 as 0.10000000000000001).
std::string FormatDouble(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

std::string Metrics::Render(const std::vector<std::pair<std::string, size_t>>& cache_sizes,
                            uint64_t certificate_reloads) const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP migration_webhook_admissions_total Admission requests by operation, result and "
         "reason.\n# TYPE migration_webhook_admissions_total counter\n";
  for (const auto& [key, count] : admissions_) {
    const auto& [operation, result, reason] = key;
    out += "migration_webhook_admissions_total{operation=\"" + EscapeLabelValue(operation) +
           "\",result=\"" + EscapeLabelValue(result) + "\",reason=\"" + EscapeLabelValue(reason) +
           "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP migration_webhook_admission_denial_causes_total Causes of denials, each counted.\n"
         "# TYPE migration_webhook_admission_denial_causes_total counter\n";
  for (const auto& [reason, count] : causes_) {
    out += "migration_webhook_admission_denial_causes_total{reason=\"" + EscapeLabelValue(reason) +
           "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP migration_webhook_admission_duration_seconds Time to decode, decide and encode "
         "one admission.\n# TYPE migration_webhook_admission_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += bucket_counts_[i];
    out += "migration_webhook_admission_duration_seconds_bucket{le=\"" +
           FormatDouble(kLatencyBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += "migration_webhook_admission_duration_seconds_bucket{le=\"+Inf\"} " +
         std::to_string(latency_count_) + "\n";
  out += "migration_webhook_admission_duration_seconds_sum " + FormatDouble(latency_sum_seconds_) +
         "\n";
  out += "migration_webhook_admission_duration_seconds_count " + std::to_string(latency_count_) +
         "\n";
  out += "# HELP migration_webhook_http_responses_total HTTP responses by status code.\n"
         "# TYPE migration_webhook_http_responses_total counter\n";
  for (const auto& [code, count] : http_codes_) {
    out += "migration_webhook_http_responses_total{code=\"" + std::to_string(code) + "\"} " +
           std::to_string(count) + "\n";
  }
  out += "# HELP migration_webhook_cache_objects Objects in the watch-fed caches.\n"
         "# TYPE migration_webhook_cache_objects gauge\n";
  for (const auto& [resource, size] : cache_sizes) {
    out += "migration_webhook_cache_objects{resource=\"" + EscapeLabelValue(resource) + "\"} " +
           std::to_string(size) + "\n";
  }
  out += "# HELP migration_webhook_certificate_reloads_total Serving certificates loaded after "
         "start-up.\n# TYPE migration_webhook_certificate_reloads_total counter\n"
         "migration_webhook_certificate_reloads_total " +
         std::to_string(certificate_reloads) + "\n";
  return out;
}

}  // namespace webhook
