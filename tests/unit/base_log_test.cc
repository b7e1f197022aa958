// base::log: the text and JSON forms of a record, levels and verbosity.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "base/flags.h"
#include "base/log.h"

namespace {

// Routes records to a string for the test's duration.
struct Capture {
  std::ostringstream out;
  explicit Capture(base::log::Format format, int verbosity = 0) {
    base::log::Init({verbosity, format});
    base::log::SetOutputForTesting(&out);
  }
  ~Capture() {
    base::log::SetOutputForTesting(nullptr);
    base::log::Init({});
  }
};

}  // namespace

TEST_CASE("a text record is message then key=value fields, quoted only when needed") {
  CHECK(base::log::FormatText("migration started", {{"vmim", "default/m1"}, {"bytes", 42}}) ==
        "migration started vmim=default/m1 bytes=42");
  CHECK(base::log::FormatText("m", {{"reason", "no progress for 150 s"}}) ==
        "m reason=\"no progress for 150 s\"");
  CHECK(base::log::FormatText("m", {{"empty", ""}, {"q", "a\"b\nc"}}) ==
        "m empty=\"\" q=\"a\\\"b\\nc\"");
  CHECK(base::log::FormatText("m", {{"ok", true}, {"rate", 1.5}}) == "m ok=true rate=1.5");
}

TEST_CASE("a JSON record keeps numbers as numbers and escapes strings") {
  CHECK(base::log::FormatJsonBody("hi \"there\"", {{"n", 7}, {"s", "x\ty"}, {"b", false}}) ==
        R"("msg":"hi \"there\"","n":7,"s":"x\ty","b":false)");
  CHECK(base::log::FormatJsonBody("m", {{"ctl", std::string(1, '\x01')}}) ==
        R"("msg":"m","ctl":"\u0001")");
}

TEST_CASE("records carry a UTC timestamp and the level") {
  Capture c(base::log::Format::kText);
  base::log::Warning("slot wait", {{"limit", "node"}});
  std::string line = c.out.str();
  // 2026-12-03T17:10:00.123Z warning slot wait limit=node
  REQUIRE(line.size() > 25);
  CHECK(line[4] == '-');
  CHECK(line[10] == 'T');
  CHECK(line[23] == 'Z');
  CHECK(line.substr(24) == " warning slot wait limit=node\n");
}

TEST_CASE("JSON lines are objects with ts, level and msg") {
  Capture c(base::log::Format::kJson);
  base::log::Error("boom", {{"code", 3}});
  std::string line = c.out.str();
  CHECK(line.rfind("{\"ts\":\"", 0) == 0);
  CHECK_THAT(line, Catch::EndsWith(R"(","level":"error","msg":"boom","code":3})"
                                   "\n"));
}

TEST_CASE("debug lines appear only at or above their verbosity") {
  {
    Capture c(base::log::Format::kText, 1);
    base::log::Debug(1, "shown");
    base::log::Debug(2, "hidden");
    CHECK_THAT(c.out.str(), Catch::Contains("shown"));
    CHECK_THAT(c.out.str(), !Catch::Contains("hidden"));
  }
  CHECK_FALSE(base::log::V(1));
}

TEST_CASE("every program takes -v and --log-format") {
  base::log::Options o;
  base::FlagSet fs;
  base::log::AddFlags(fs, &o);
  REQUIRE(fs.Parse({"-v", "3", "--log-format=json"}).ok());
  CHECK(o.verbosity == 3);
  CHECK(o.format == base::log::Format::kJson);
  base::log::Options p;
  base::FlagSet fs2;
  base::log::AddFlags(fs2, &p);
  REQUIRE(fs2.Parse({"--v=2"}).ok());
  CHECK(p.verbosity == 2);
  base::FlagSet fs3;
  base::log::AddFlags(fs3, &p);
  CHECK_THAT(fs3.Parse({"--log-format=xml", "-v", "11"}).message(),
             Catch::Contains("want text or json") && Catch::Contains("want an integer in [0, 10]"));
}
