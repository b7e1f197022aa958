#include <catch2/catch.hpp>
#include <cstdint>

#include "engine/units.h"

namespace {

TEST_CASE("units: sizes in binary units with one decimal, rates in MiB/s") {
  struct Case {
    uint64_t bytes;
    const char* text;
  };
  const Case cases[] = {
      {0, "0 B"},
      {1023, "1023 B"},
      {1024, "1.0 KiB"},
      {1536, "1.5 KiB"},
      {64ull << 20, "64.0 MiB"},
      {(1ull << 30) + (1ull << 30) / 5, "1.2 GiB"},
      {(1ull << 20) - 1, "1.0 MiB"},  // 1023.999 KiB would print as 1024.0 KiB
      {3ull << 40, "3.0 TiB"},
      {UINT64_MAX, "16.0 EiB"},
  };
  for (const Case& c : cases) {
    INFO(c.bytes);
    CHECK(engine::FormatBytes(c.bytes) == c.text);
  }
  CHECK(engine::FormatMiBps(20.0 * 1024 * 1024) == "20.0 MiB/s");
  CHECK(engine::FormatMiBps(150.0 * 1024 * 1024) == "150.0 MiB/s");
  CHECK(engine::FormatMiBps(0) == "0.0 MiB/s");
  CHECK(engine::FormatMiBps(104857.6) == "0.1 MiB/s");
}

}  // namespace
