#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "api/quantity.h"

namespace {

using api::Quantity;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

Quantity Q(const std::string& s) {
  auto q = Quantity::Parse(s);
  INFO("parsing " << s << ": " << q.status().message());
  REQUIRE(q.ok());
  return *q;
}

TEST_CASE("quantity parses the Kubernetes grammar and prints the canonical form") {
  struct Case {
    const char* in;
    const char* canonical;
    int64_t value;
    int64_t milli;
  };
  const Case cases[] = {
      {"0", "0", 0, 0},
      {"0Gi", "0", 0, 0},
      {"-0", "0", 0, 0},
      {"1", "1", 1, 1000},
      {"+1", "1", 1, 1000},
      {"-1", "-1", -1, -1000},
      {"1Ki", "1Ki", 1024, 1024000},
      {"1024", "1024", 1024, 1024000},
      {"1.5Gi", "1536Mi", 1610612736, 1610612736000},
      {"-1.5Gi", "-1536Mi", -1610612736, -1610612736000},
      {"64Mi", "64Mi", 67108864, 67108864000},
      {"2048Ki", "2Mi", 2097152, 2097152000},
      {"1025Ki", "1025Ki", 1049600, 1049600000},
      {"1.5Ki", "1536", 1536, 1536000},
      {"0.5Ki", "512", 512, 512000},
      {"0.5Mi", "512Ki", 524288, 524288000},
      {"0.1Ki", "102400m", 103, 102400},
      {"1Ei", "1Ei", int64_t{1} << 60, kInt64Max},
      {"1G", "1G", 1000000000, 1000000000000},
      {"500M", "500M", 500000000, 500000000000},
      {"1000", "1k", 1000, 1000000},
      {"1500", "1500", 1500, 1500000},
      {"1.5k", "1500", 1500, 1500000},
      {"1k", "1k", 1000, 1000000},
      {"0.5", "500m", 1, 500},
      {".5", "500m", 1, 500},
      {"5.", "5", 5, 5000},
      {"1.000", "1", 1, 1000},
      {"1.1", "1100m", 2, 1100},
      {"100m", "100m", 1, 100},
      {"-100m", "-100m", -1, -100},
      {"1u", "1u", 1, 1},
      {"0.000001", "1u", 1, 1},
      {"1n", "1n", 1, 1},
      {"0.1n", "1n", 1, 1},
      {"123456789n", "123456789n", 1, 124},
      {"1e3", "1e3", 1000, 1000000},
      {"1E3", "1e3", 1000, 1000000},
      {"1e+3", "1e3", 1000, 1000000},
      {"1.5e3", "1500", 1500, 1500000},
      {"1e-3", "1e-3", 1, 1},
      {"1e0", "1", 1, 1000},
      {"12e6", "12e6", 12000000, 12000000000},
      {"1T", "1T", 1000000000000, 1000000000000000},
      {"1P", "1P", 1000000000000000, 1000000000000000000},
      {"1E", "1E", 1000000000000000000, kInt64Max},
      {"000001", "1", 1, 1000},
      {"0.00000000000000000000000000000000000001", "1n", 1, 1},
  };
  for (const Case& c : cases) {
    INFO("input " << c.in);
    Quantity q = Q(c.in);
    CHECK(q.String() == c.canonical);
    CHECK(q.Value() == c.value);
    CHECK(q.MilliValue() == c.milli);
    CHECK_FALSE(q.capped());
    // The canonical form parses back to the same value.
    CHECK(Q(q.String()) == q);
  }
}

TEST_CASE("quantity rejects input outside the grammar with Kubernetes' message") {
  const std::string format_errors[] = {
      "",    ".",     "+",    "-",     "abc",   "1 Gi", "1Gi ", " 1",
      "1gi", "1KiB",  "1Kib", "1.5.5", "--1",   "0x10", "1,5",  "NaN",
      "Inf", "1e3.5", "e3",   "Ki",    "1e3Ki", "1Mi-", "1\n",  std::string("1\0", 2)};
  for (const std::string& in : format_errors) {
    INFO("input " << in);
    auto q = Quantity::Parse(in);
    REQUIRE_FALSE(q.ok());
    CHECK(q.status().code() == base::Code::kInvalidArgument);
  }
  auto q = Quantity::Parse("1 Gi");
  CHECK(q.status().message() ==
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got \"1 Gi\"");

  const char* suffix_errors[] = {"1e",   "1Mi5", "1k3",          "1ii", "1KK",
                                 "1Kii", "1mm",  "1e1000000000", "1E-"};
  for (const char* in : suffix_errors) {
    INFO("input " << in);
    auto s = Quantity::Parse(in);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().find("unable to parse quantity's suffix") != std::string::npos);
  }
}

TEST_CASE("quantity rejects with a bounded quote of huge input") {
  std::string huge(100000, 'x');
  auto q = Quantity::Parse(huge);
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().message().size() < 250);
}

TEST_CASE("quantity caps magnitudes above 2^63-1 like Kubernetes and Bytes reports it") {
  for (const char* in :
       {"8Ei", "12345678901234567890", "1e19", "10E", "99999999999999999999999999999999999"}) {
    INFO("input " << in);
    Quantity q = Q(in);
    CHECK(q.capped());
    CHECK(q.Value() == kInt64Max);
    CHECK(q.String() == "9223372036854775807");
    auto b = q.Bytes();
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().code() == base::Code::kOutOfRange);
  }
  Quantity neg = Q("-1e30");
  CHECK(neg.capped());
  CHECK(neg.Value() == -kInt64Max);
  // Exactly the maximum is not capped.
  Quantity max = Q("9223372036854775807");
  CHECK_FALSE(max.capped());
  CHECK(max.Value() == kInt64Max);
  CHECK(max.MilliValue() == kInt64Max);  // saturates
}

TEST_CASE("quantity Bytes rounds fractions up and refuses negative sizes") {
  CHECK(*Q("1.5").Bytes() == 2);
  CHECK(*Q("64Mi").Bytes() == 64 * 1024 * 1024);
  auto neg = Q("-1Mi").Bytes();
  REQUIRE_FALSE(neg.ok());
  CHECK(neg.status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("quantity compares exactly by value regardless of format") {
  CHECK(Q("1Ki") == Q("1024"));
  CHECK(Q("1Ki").Compare(Q("1024")) == 0);
  CHECK(Q("1Gi") > Q("1G"));
  CHECK(Q("1G").Compare(Q("1Gi")) == -1);
  CHECK(Q("100m") < Q("1"));
  CHECK(Q("-1") < Q("0"));
  CHECK(Q("0.5") == Q("500m"));
  CHECK(Q("1e3") == Q("1k"));
  CHECK(Q("1n") > Q("0"));
  CHECK(Q("1.000000001") > Q("1"));
  CHECK(Q("1.000000001") != Q("1"));
  CHECK(Q("1n").Sign() == 1);
  CHECK(Q("-1n").Sign() == -1);
  CHECK(Q("0Ki").IsZero());
}

TEST_CASE("quantity factories build exact values") {
  CHECK(Quantity::FromInt64(64 * 1024 * 1024, Quantity::Format::kBinarySI).String() == "64Mi");
  CHECK(Quantity::FromInt64(5).String() == "5");
  CHECK(Quantity::FromMilli(1500).String() == "1500m");
  CHECK(Quantity::FromMilli(1500).Value() == 2);
  CHECK(Quantity().String() == "0");
}

}  // namespace
