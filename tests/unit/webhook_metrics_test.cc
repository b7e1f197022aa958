// Prometheus text rendering of the webhook's metrics.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "webhook/metrics.h"

using namespace std::chrono_literals;

TEST_CASE("metrics count admissions by operation, result and reason") {
  webhook::Metrics m;
  m.RecordAdmission("CREATE", "allowed", "", 200us);
  m.RecordAdmission("CREATE", "allowed", "", 200us);
  m.RecordAdmission("CREATE", "denied", "ClusterLimitReached", 3ms);
  m.RecordDenialCause("ClusterLimitReached");
  m.RecordDenialCause("NotLiveMigratable");
  m.RecordHttpResponse(200);
  m.RecordHttpResponse(415);
  CHECK(m.AdmissionCount("CREATE", "allowed", "") == 2);
  std::string text = m.Render({{"virtualmachineinstances", 7}}, 3);
  CHECK_THAT(text, Catch::Contains(
      "migration_webhook_admissions_total{operation=\"CREATE\",result=\"allowed\",reason=\"\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("migration_webhook_admissions_total{operation=\"CREATE\","
                                   "result=\"denied\",reason=\"ClusterLimitReached\"} 1\n"));
  CHECK_THAT(text, Catch::Contains(
      "migration_webhook_admission_denial_causes_total{reason=\"NotLiveMigratable\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("migration_webhook_http_responses_total{code=\"415\"} 1\n"));
  CHECK_THAT(text, Catch::Contains(
      "migration_webhook_cache_objects{resource=\"virtualmachineinstances\"} 7\n"));
  CHECK_THAT(text, Catch::Contains("migration_webhook_certificate_reloads_total 3\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE migration_webhook_admission_duration_seconds histogram\n"));
}

TEST_CASE("the latency histogram is cumulative and ends with +Inf, sum and count") {
  webhook::Metrics m;
  m.RecordAdmission("CREATE", "allowed", "", 50us);   // <= 0.0001
  m.RecordAdmission("CREATE", "allowed", "", 700us);  // <= 0.001
  m.RecordAdmission("CREATE", "allowed", "", 5s);     // only +Inf
  std::string text = m.Render({}, 0);
  const std::string b = "migration_webhook_admission_duration_seconds_bucket";
  CHECK_THAT(text, Catch::Contains(b + "{le=\"0.0001\"} 1\n"));
  CHECK_THAT(text, Catch::Contains(b + "{le=\"0.0005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains(b + "{le=\"0.001\"} 2\n"));
  CHECK_THAT(text, Catch::Contains(b + "{le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains(b + "{le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("migration_webhook_admission_duration_seconds_sum 5.00075\n"));
  CHECK_THAT(text, Catch::Contains("migration_webhook_admission_duration_seconds_count 3\n"));
}

TEST_CASE("metric label values are escaped") {
  CHECK(base::prom::EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("cache parse errors are exposed") {
  webhook::Metrics m;
  CHECK_THAT(m.Render({}, 0, 4), Catch::Contains("migration_webhook_cache_parse_errors_total 4\n"));
}
