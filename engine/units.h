// Human figures for the engine's messages: sizes in binary units and rates in
// MiB/s, the units users set (bandwidthPerMigration is MiB/s, memory GiB).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace engine {

// "0 B", "512 B", "1.5 KiB", "64.0 MiB", "1.2 GiB", "3.0 TiB": one decimal
// from KiB up, rounded to nearest.
std::string FormatBytes(uint64_t bytes);
// Bytes per second as MiB/s with one decimal: "20.0 MiB/s", "0.1 MiB/s".
std::string FormatMiBps(double bytes_per_second);

}  // namespace engine
