#include "engine/units.h"

#include <cstdio>

namespace engine {

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  // Move up while the value would print as 1024.0 or more in this unit.
  while (v >= 1023.95 && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string FormatMiBps(double bytes_per_second) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.1f MiB/s", bytes_per_second / (1024.0 * 1024.0));
  return buf;
}

}  // namespace engine
