#include "webhook/metrics.h"

namespace webhook {

void Metrics::RecordAdmission(std::string_view operation, std::string_view result,
                              std::string_view reason, std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard<std::mutex> lock(mu_);
  ++admissions_[AdmissionKey(operation, result, reason)];
  latency_.Observe(seconds);
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

std::string Metrics::Render(const std::vector<std::pair<std::string, size_t>>& cache_sizes,
                            uint64_t certificate_reloads, uint64_t parse_errors) const {
  base::prom::TextWriter w;
  std::lock_guard<std::mutex> lock(mu_);
  w.Family("migration_webhook_admissions_total", "counter",
           "Admission requests by operation, result and reason.");
  for (const auto& [key, count] : admissions_) {
    const auto& [operation, result, reason] = key;
    w.Sample("migration_webhook_admissions_total",
             {{"operation", operation}, {"result", result}, {"reason", reason}}, count);
  }
  w.Family("migration_webhook_admission_denial_causes_total", "counter",
           "Causes of denials, each counted.");
  for (const auto& [reason, count] : causes_) {
    w.Sample("migration_webhook_admission_denial_causes_total", {{"reason", reason}}, count);
  }
  w.Family("migration_webhook_admission_duration_seconds", "histogram",
           "Time to decode, decide and encode one admission.");
  w.HistogramSeries("migration_webhook_admission_duration_seconds", {}, latency_);
  w.Family("migration_webhook_http_responses_total", "counter", "HTTP responses by status code.");
  for (const auto& [code, count] : http_codes_) {
    w.Sample("migration_webhook_http_responses_total", {{"code", std::to_string(code)}}, count);
  }
  w.Family("migration_webhook_cache_objects", "gauge", "Objects in the watch-fed caches.");
  for (const auto& [resource, size] : cache_sizes) {
    w.Sample("migration_webhook_cache_objects", {{"resource", resource}}, uint64_t{size});
  }
  w.Family("migration_webhook_certificate_reloads_total", "counter",
           "Serving certificates loaded after start-up.");
  w.Sample("migration_webhook_certificate_reloads_total", {}, certificate_reloads);
  w.Family("migration_webhook_cache_parse_errors_total", "counter",
           "Objects from the API server that could not be parsed (each is logged).");
  w.Sample("migration_webhook_cache_parse_errors_total", {}, parse_errors);
  return w.Take();
}

}  // namespace webhook
