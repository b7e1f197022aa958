// base::FlagSet: kubectl's spellings, every problem at once, help wins.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "base/flags.h"

namespace {

struct Target {
  std::string name = "default-name";
  int port = 8080;
  int64_t big = 0;
  bool wait = false;
  std::string dry_run;
  base::FlagSet fs;

  Target() {
    fs.String("name", &name, "NAME", "a name", 'n');
    fs.Int("port", &port, 0, 65535, "N", "a port");
    fs.Int("big", &big, -5, int64_t{1} << 40, "N", "a wide integer");
    fs.Bool("wait", &wait, "wait for it", 'w');
    fs.Custom(
        "dry-run",
        [this](const std::string& v) {
          if (v != "client" && v != "server") return base::InvalidArgument("want client or server");
          dry_run = v;
          return base::Status::Ok();
        },
        "MODE", "dry run");
    fs.SetNoValueDefault("dry-run", "client");
  }
};

}  // namespace

TEST_CASE("flags take every kubectl spelling") {
  struct Case {
    std::vector<std::string> args;
    std::string name;
    int port;
    bool wait;
  } cases[] = {
      {{"--name", "a"}, "a", 8080, false},
      {{"--name=a"}, "a", 8080, false},
      {{"-n", "a"}, "a", 8080, false},
      {{"-na"}, "a", 8080, false},
      {{"-n=a"}, "a", 8080, false},
      {{"--port=0", "--wait"}, "default-name", 0, true},
      {{"--wait=false", "--port", "65535"}, "default-name", 65535, false},
      {{"-w", "--wait=true"}, "default-name", 8080, true},
      {{"--wait=0"}, "default-name", 8080, false},
  };
  for (const auto& c : cases) {
    Target t;
    INFO(c.args.front());
    REQUIRE(t.fs.Parse(c.args).ok());
    CHECK(t.name == c.name);
    CHECK(t.port == c.port);
    CHECK(t.wait == c.wait);
  }
}

TEST_CASE("a bool flag never takes the next word, which stays positional") {
  Target t;
  REQUIRE(t.fs.Parse({"--wait", "vmi-a"}).ok());
  CHECK(t.wait);
  CHECK(t.fs.positional() == std::vector<std::string>{"vmi-a"});
}

TEST_CASE("a flag without a value takes its no-value default") {
  Target t;
  REQUIRE(t.fs.Parse({"--dry-run", "vmi"}).ok());
  CHECK(t.dry_run == "client");
  CHECK(t.fs.positional() == std::vector<std::string>{"vmi"});
  Target u;
  REQUIRE(u.fs.Parse({"--dry-run=server"}).ok());
  CHECK(u.dry_run == "server");
}

TEST_CASE("every problem on the line is reported at once, in pflag's words") {
  Target t;
  t.fs.Require("name");
  base::Status s = t.fs.Parse({"--port", "70000", "--bogus", "-x", "--big=abc", "--wait=maybe",
                               "--dry-run=later", "--port"});
  REQUIRE_FALSE(s.ok());
  const std::string& m = s.message();
  CHECK_THAT(m,
             Catch::Contains(
                 "invalid argument \"70000\" for \"--port\" flag: want an integer in [0, 65535]"));
  CHECK_THAT(m, Catch::Contains("unknown flag: --bogus"));
  CHECK_THAT(m, Catch::Contains("unknown shorthand flag: 'x' in -x"));
  CHECK_THAT(m, Catch::Contains("invalid argument \"abc\" for \"--big\" flag: want an integer"));
  CHECK_THAT(m,
             Catch::Contains("invalid argument \"maybe\" for \"--wait\" flag: want true or false"));
  CHECK_THAT(m, Catch::Contains("invalid argument \"later\" for \"--dry-run\" flag"));
  CHECK_THAT(m, Catch::Contains("flag needs an argument: --port"));
  CHECK_THAT(m, Catch::Contains("--name is required"));
  // One line per problem.
  CHECK(std::count(m.begin(), m.end(), '\n') == 7);
}

TEST_CASE("help wins over every other problem") {
  Target t;
  t.fs.Require("name");
  CHECK(t.fs.Parse({"--bogus", "-h"}).ok());
  CHECK(t.fs.help_requested());
  Target u;
  CHECK(u.fs.Parse({"--help"}).ok());
  CHECK(u.fs.help_requested());
}

TEST_CASE("words after -- are positional even when they look like flags") {
  Target t;
  REQUIRE(t.fs.Parse({"a", "--", "--name", "-h"}).ok());
  CHECK_FALSE(t.fs.help_requested());
  CHECK(t.name == "default-name");
  CHECK(t.fs.positional() == std::vector<std::string>{"a", "--name", "-h"});
  CHECK(t.fs.positional_before_dashdash() == 1);
}

TEST_CASE("empty values are refused where a flag asks for it") {
  Target t;
  t.fs.NonEmpty("name");
  base::Status s = t.fs.Parse({"--name="});
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() == "flag --name must not be empty");
}

TEST_CASE("usage lists every flag with its default") {
  Target t;
  std::string u = t.fs.Usage();
  CHECK_THAT(u, Catch::Contains("  -n, --name NAME"));
  CHECK_THAT(u, Catch::Contains("a name (default default-name)"));
  CHECK_THAT(u, Catch::Contains("      --port N"));
  CHECK_THAT(u, Catch::Contains("(default 8080)"));
  CHECK_THAT(u, Catch::Contains("  -w, --wait "));
}

TEST_CASE("problem lines are prefixed one by one") {
  CHECK(base::PrefixLines("p: ", "a\nb") == "p: a\np: b\n");
}

TEST_CASE("a daemon's flag set refuses positional words, each named") {
  Target t;
  t.fs.DisallowPositional();
  base::Status s = t.fs.Parse({"stray", "--port=1", "more"});
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() == "unexpected argument \"stray\"\nunexpected argument \"more\"");
}
