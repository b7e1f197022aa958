#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "api/admission.h"

namespace {

std::string KubeVirtWith(const std::string& key, const std::string& config) {
  return R"({"apiVersion":"kubevirt.io/v1","kind":"KubeVirt","metadata":{"name":"kubevirt"},)"
         R"("spec":{"configuration":{"developerConfiguration":{"featureGates":["LiveMigration"]},")" +
         key + R"(":)" + config + "}}}";
}

TEST_CASE("a sensible KubeVirt object is accepted under either config name") {
  for (const char* key : {"migrations", "migrationConfiguration"}) {
    INFO(key);
    api::KubeVirtValidation v = api::ValidateKubeVirt(KubeVirtWith(
        key,
        R"({"parallelMigrationsPerCluster":5,"parallelOutboundMigrationsPerNode":2,)"
        R"("bandwidthPerMigration":"64Mi","completionTimeoutPerGiB":800,"progressTimeout":150,)"
        R"("allowAutoConverge":false,"allowPostCopy":true})"));
    CHECK(v.allowed);
    CHECK(v.code == 200);
    CHECK(v.causes.empty());
    CHECK(v.warnings.empty());
  }
  CHECK(
      api::ValidateKubeVirt(R"({"apiVersion":"kubevirt.io/v1alpha3","kind":"KubeVirt"})").allowed);
  CHECK(
      api::ValidateKubeVirt(KubeVirtWith("migrations", R"({"bandwidthPerMigration":0})")).allowed);
  CHECK(api::ValidateKubeVirt(KubeVirtWith("migrations", R"({"bandwidthPerMigration":"0"})"))
            .allowed);
}

TEST_CASE("nonsensical migration settings are rejected with field paths") {
  struct Case {
    std::string config;
    std::string message;
  };
  const std::string p = "spec.configuration.migrations.";
  const Case cases[] = {
      {R"({"parallelMigrationsPerCluster":0})",
       p + "parallelMigrationsPerCluster: must be > 0, got 0"},
      {R"({"parallelMigrationsPerCluster":-3})",
       p + "parallelMigrationsPerCluster: must be > 0, got -3"},
      {R"({"parallelOutboundMigrationsPerNode":0})",
       p + "parallelOutboundMigrationsPerNode: must be > 0, got 0"},
      {R"({"completionTimeoutPerGiB":0})", p + "completionTimeoutPerGiB: must be > 0, got 0"},
      {R"({"progressTimeout":-1})", p + "progressTimeout: must be > 0, got -1"},
      {R"({"parallelMigrationsPerCluster":3000000000})",
       p + "parallelMigrationsPerCluster: must be <= 2147483647, got 3000000000"},
      {R"({"progressTimeout":18446744073709551615})",
       p + "progressTimeout: must be <= 9223372036854775807, got 18446744073709551615"},
      {R"({"parallelMigrationsPerCluster":1.5})",
       p + "parallelMigrationsPerCluster: must be an integer, got 1.5"},
      {R"({"parallelMigrationsPerCluster":"5"})",
       p + "parallelMigrationsPerCluster: must be an integer, got a string"},
      {R"({"bandwidthPerMigration":"fast"})",
       p + "bandwidthPerMigration: quantities must match the regular expression"},
      {R"({"bandwidthPerMigration":"64MiB"})", p + "bandwidthPerMigration: quantities must match"},
      {R"({"bandwidthPerMigration":"-1Mi"})",
       p + "bandwidthPerMigration: must be >= 0 (0 means unlimited), got -1Mi"},
      {R"({"bandwidthPerMigration":[]})",
       p + "bandwidthPerMigration: must be a quantity (string or number), got an array"},
      {R"({"allowPostCopy":"yes"})", p + "allowPostCopy: must be a boolean, got a string"},
      {R"({"allowAutoConverge":1})", p + "allowAutoConverge: must be a boolean, got a number"},
      {R"([])", "spec.configuration.migrations: must be an object, got an array"},
  };
  for (const Case& c : cases) {
    INFO(c.config);
    api::KubeVirtValidation v = api::ValidateKubeVirt(KubeVirtWith("migrations", c.config));
    CHECK_FALSE(v.allowed);
    CHECK(v.code == 422);
    CHECK(v.status_reason == "Invalid");
    REQUIRE(v.causes.size() == 1);
    CHECK(v.causes[0].reason == "InvalidSpec");
    CHECK_THAT(v.causes[0].message, Catch::StartsWith(c.message));
    CHECK(v.causes[0].field.rfind("spec.configuration.migrations", 0) == 0);
  }
}

TEST_CASE("every invalid migration setting is reported at once, under both names") {
  api::KubeVirtValidation v = api::ValidateKubeVirt(
      R"({"spec":{"configuration":{)"
      R"("migrationConfiguration":{"parallelMigrationsPerCluster":0,"progressTimeout":0},)"
      R"("migrations":{"parallelOutboundMigrationsPerNode":-1,"bandwidthPerMigration":"x"},)"
      R"("developerConfiguration":{"featureGates":["LiveMigration",7]}}}})");
  CHECK_FALSE(v.allowed);
  std::vector<std::string> fields;
  for (const auto& c : v.causes) fields.push_back(c.field);
  CHECK(fields == std::vector<std::string>{
                      "spec.configuration.developerConfiguration.featureGates[1]",
                      "spec.configuration.migrationConfiguration.parallelMigrationsPerCluster",
                      "spec.configuration.migrationConfiguration.progressTimeout",
                      "spec.configuration.migrations.parallelOutboundMigrationsPerNode",
                      "spec.configuration.migrations.bandwidthPerMigration",
                  });
  CHECK_THAT(v.message, Catch::Contains("; "));
}

TEST_CASE("KubeVirt objects of the wrong shape are rejected, undecodable ones with 400") {
  api::KubeVirtValidation bad = api::ValidateKubeVirt("{not json");
  CHECK(bad.code == 400);
  CHECK(bad.causes.at(0).reason == "MalformedObject");
  CHECK(api::ValidateKubeVirt("[1]").code == 400);
  CHECK(api::ValidateKubeVirt(std::string(100000, '[')).code == 400);

  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"spec":"x"})", "spec: must be an object, got a string"},
      {R"({"spec":{"configuration":[]}})", "spec.configuration: must be an object, got an array"},
      {R"({"spec":{"configuration":{"developerConfiguration":{"featureGates":"LiveMigration"}}}})",
       "spec.configuration.developerConfiguration.featureGates: must be an array of strings, got a "
       "string"},
      {R"({"apiVersion":"kubevirt.io/v9"})",
       "apiVersion: must be kubevirt.io/v1 or kubevirt.io/v1alpha3"},
      {R"({"kind":"Pod"})", "kind: must be KubeVirt"},
      {R"({"metadata":[]})", "metadata: must be an object"},
      {R"({"metadata":{"labels":{"a":1}}})", "metadata.labels[a]: must be a string"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    api::KubeVirtValidation v = api::ValidateKubeVirt(c.json);
    CHECK_FALSE(v.allowed);
    CHECK(v.code == 422);
    CHECK_THAT(v.message, Catch::Contains(c.message));
  }
}

TEST_CASE("KubeVirt validation warns about limits that cannot apply and overridden settings") {
  api::KubeVirtValidation v = api::ValidateKubeVirt(
      R"({"spec":{"configuration":{)"
      R"("migrationConfiguration":{"parallelMigrationsPerCluster":2,"progressTimeout":100},)"
      R"("migrations":{"parallelOutboundMigrationsPerNode":3,"progressTimeout":60}}}})");
  CHECK(v.allowed);
  REQUIRE(v.warnings.size() == 2);
  CHECK(v.warnings[0] ==
        "parallelOutboundMigrationsPerNode (3) exceeds parallelMigrationsPerCluster (2): the "
        "cluster limit "
        "applies first");
  CHECK(v.warnings[1] ==
        "spec.configuration.migrations.progressTimeout (60) overrides "
        "spec.configuration.migrationConfiguration.progressTimeout (100)");
}

}  // namespace
