#include <catch2/catch.hpp>

#include "plugin/commands.h"
#include "tests/unit/plugin_testing.h"

namespace {

using plugin::testing::Result;
using plugin::testing::Run;

}  // namespace

TEST_CASE("errors print as kubectl prints them", "[plugin]") {
  base::Status denied = base::InvalidArgument("admission webhook \"x\" denied the request: no");
  denied.WithHttp(422, "Invalid");
  CHECK(plugin::FormatError(denied) ==
        "Error from server (Invalid): admission webhook \"x\" denied the request: no");
  base::Status limited = base::Unavailable("too many migrations");
  limited.WithHttp(429, "");
  CHECK(plugin::FormatError(limited) == "Error from server: too many migrations");
  CHECK(plugin::FormatError(base::NotFound("no kubeconfig")) == "error: no kubeconfig");
}

TEST_CASE("exit codes: usage errors are 2 and touch no cluster", "[plugin]") {
  // --kubeconfig points nowhere: a usage error must be found before it is read.
  for (auto args : std::vector<std::vector<std::string>>{
           {"Bad_Name", "--kubeconfig", "/nonexistent"},
           {"--bogus"},
           {},
           {"vmi-a", "--wait", "--dry-run=server", "--kubeconfig", "/nonexistent"}}) {
    Result r = Run(args);
    CHECK(r.code == plugin::kExitUsage);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("error: "));
    CHECK_THAT(r.err, Catch::Contains("See 'kubectl migrate --help' for usage."));
  }
}

TEST_CASE("exit codes: help and version succeed without a cluster", "[plugin]") {
  Result h = Run({"--help"});
  CHECK(h.code == plugin::kExitOk);
  CHECK_THAT(h.out, Catch::Contains("Examples:"));
  CHECK_THAT(h.out, Catch::Contains("3  timed out while waiting"));
  Result v = Run({"version"});
  CHECK(v.code == plugin::kExitOk);
  CHECK(v.out == std::string("kubectl-migrate ") + plugin::kVersion + "\n");
}

TEST_CASE("exit codes: a kubeconfig that cannot be loaded is a failure, 1", "[plugin]") {
  Result r = Run({"vmi-a", "--kubeconfig", "/nonexistent/kubeconfig"});
  CHECK(r.code == plugin::kExitFailed);
  CHECK_THAT(r.err, Catch::StartsWith("error: "));
}

TEST_CASE("exit code constants match the documentation", "[plugin]") {
  CHECK(plugin::kExitOk == 0);
  CHECK(plugin::kExitFailed == 1);
  CHECK(plugin::kExitUsage == 2);
  CHECK(plugin::kExitTimedOut == 3);
  CHECK(plugin::kExitInterrupted == 130);
}

TEST_CASE("completion scripts and candidates", "[plugin]") {
  Result bash = Run({"completion", "bash"});
  CHECK(bash.code == plugin::kExitOk);
  CHECK_THAT(bash.out, Catch::Contains("complete -F _kubectl_migrate kubectl-migrate"));
  Result zsh = Run({"completion", "zsh"});
  CHECK_THAT(zsh.out, Catch::Contains("compdef _kubectl_migrate kubectl-migrate"));
  CHECK(Run({"completion", "fish"}).code == plugin::kExitUsage);
  // No cluster is reachable here: static candidates only, filtered by the word.
  CHECK(Run({"__complete", "vmi-a", "--kubeconfig", "/nonexistent", "-o", "y"}).out ==
        "yaml\n:4\n");
  Result flags = Run({"__complete", "vmi-a", "--cancel"});
  CHECK(flags.out == "--cancel-on-interrupt\n:4\n");
  Result shells = Run({"__complete", "completion", ""});
  CHECK(shells.out == "bash\nzsh\n:4\n");
}
