#include <catch2/catch.hpp>

#include <climits>
#include <string>

#include "tests/devcluster/go_int.h"

namespace devcluster {
namespace {

TEST_CASE("ParseGoInt accepts exactly what Go's strconv.ParseInt(s, 10, 64) accepts", "[devcluster]") {
  struct Case {
    std::string in;
    bool ok;
    long long want;
  };
  const Case cases[] = {
      {"0", true, 0},
      {"42", true, 42},
      {"+7", true, 7},
      {"-7", true, -7},
      {"007", true, 7},
      {"9223372036854775807", true, LLONG_MAX},
      {"9223372036854775800", true, 9223372036854775800LL},
      {"-9223372036854775808", true, LLONG_MIN},
      {"9223372036854775808", false, 0},
      {"-9223372036854775809", false, 0},
      {"", false, 0},
      {"+", false, 0},
      {"-", false, 0},
      {"1.5", false, 0},
      {" 1", false, 0},
      {"1e3", false, 0},
      {"0x10", false, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    long long got = -1;
    REQUIRE(ParseGoInt(c.in, &got) == c.ok);
    if (c.ok) CHECK(got == c.want);
  }
}

}  // namespace
}  // namespace devcluster
