// migration-webhook's flags: defaults, both spellings, every problem listed.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "webhook/flags.h"

using webhook::ParseFlags;

TEST_CASE("webhook flags have the documented defaults") {
  auto f = ParseFlags({"--tls-cert-file", "c.pem", "--tls-private-key-file=k.pem"});
  REQUIRE(f.ok());
  CHECK(f->tls_cert_file == "c.pem");
  CHECK(f->tls_private_key_file == "k.pem");
  CHECK(f->client_ca_file.empty());
  CHECK(f->port == 8443);
  CHECK(f->bind_address == "0.0.0.0");
  CHECK(f->kubeconfig.empty());
  CHECK(f->kubevirt_namespace == "kubevirt");
  CHECK(f->kubevirt_name == "kubevirt");
}

TEST_CASE("webhook flags accept every flag in both spellings") {
  auto f = ParseFlags({"--tls-cert-file=c", "--tls-private-key-file", "k", "--client-ca-file", "ca",
                       "--port=0", "--bind-address", "127.0.0.1", "--kubeconfig", "/kc",
                       "--kubevirt-namespace=kv", "--kubevirt-name", "main"});
  REQUIRE(f.ok());
  CHECK(f->client_ca_file == "ca");
  CHECK(f->port == 0);
  CHECK(f->bind_address == "127.0.0.1");
  CHECK(f->kubeconfig == "/kc");
  CHECK(f->kubevirt_namespace == "kv");
  CHECK(f->kubevirt_name == "main");
}

TEST_CASE("webhook flags list every problem at once") {
  auto f = ParseFlags({"--port", "70000", "--bogus", "1", "stray", "--kubeconfig"});
  REQUIRE_FALSE(f.ok());
  const std::string& m = f.status().message();
  CHECK_THAT(m, Catch::Contains("invalid argument \"70000\" for \"--port\" flag: want an integer in [0, 65535]"));
  CHECK_THAT(m, Catch::Contains("unknown flag: --bogus"));
  CHECK_THAT(m, Catch::Contains("unexpected argument \"stray\""));
  CHECK_THAT(m, Catch::Contains("flag needs an argument: --kubeconfig"));
  CHECK_THAT(m, Catch::Contains("--tls-cert-file is required"));
  CHECK_THAT(m, Catch::Contains("--tls-private-key-file is required"));
}

TEST_CASE("webhook flags reject malformed ports") {
  for (const char* bad : {"-1", "abc", "80x", "", "99999999999"}) {
    INFO(bad);
    auto f = ParseFlags({"--tls-cert-file=c", "--tls-private-key-file=k", std::string("--port=") + bad});
    CHECK_FALSE(f.ok());
  }
}

TEST_CASE("webhook --help needs no other flag") {
  auto f = ParseFlags({"--help"});
  REQUIRE(f.ok());
  CHECK(f->help);
}
