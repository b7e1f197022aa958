// MergePatchDiff: only what the writer owns and what differs goes into the patch.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <string>

#include "kube/merge_diff.h"

namespace {

std::optional<std::string> D(const char* current, const char* desired) {
  rapidjson::Document c, d;
  c.Parse(current);
  d.Parse(desired);
  REQUIRE_FALSE(c.HasParseError());
  REQUIRE_FALSE(d.HasParseError());
  return kube::MergePatchDiff(c, d);
}

}  // namespace

TEST_CASE("merge diff: cases") {
  struct Case {
    const char* current;
    const char* desired;
    std::optional<std::string> patch;
  };
  const Case cases[] = {
      {R"({"a":1})", R"({"a":1})", std::nullopt},
      {R"({"a":1,"b":2})", R"({"a":1})", std::nullopt},  // b is not ours
      {R"({"a":1})", R"({"a":2})", std::string(R"({"a":2})")},
      {R"({})", R"({"s":{"x":1,"y":2}})", std::string(R"({"s":{"x":1,"y":2}})")},
      {R"({"s":{"x":1,"y":2,"z":3}})", R"({"s":{"x":1,"y":5}})", std::string(R"({"s":{"y":5}})")},
      {R"({"s":{"x":1}})", R"({"s":{"x":1}})", std::nullopt},
      {R"({"l":[1,2]})", R"({"l":[1,2,3]})", std::string(R"({"l":[1,2,3]})")},
      {R"({"a":1,"b":2})", R"({"b":null})", std::string(R"({"b":null})")},
      {R"({"a":1})", R"({"b":null})", std::nullopt},  // already absent
      {R"({})", R"({"s":{"x":null,"y":1}})", std::string(R"({"s":{"y":1}})")},
      {R"({"s":"text"})", R"({"s":{"x":1}})", std::string(R"({"s":{"x":1}})")},
      {R"(null)", R"({"a":true})", std::string(R"({"a":true})")},
  };
  for (const Case& c : cases) {
    INFO(c.current << " + " << c.desired);
    CHECK(D(c.current, c.desired) == c.patch);
  }
}
