// Progress of a migration as the plugin shows it: the fields read from
// status.migrationState.progress (docs/plugin.md), a meter whose percent never
// goes backwards, and the formatting of the live line and the summary.
//
// Pure functions and values; no I/O, no clock (elapsed time is passed in).
#pragma once

#include <rapidjson/fwd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace plugin {

// status.migrationState.progress, every field optional.
struct ProgressSample {
  std::optional<int64_t> data_total_bytes;
  std::optional<int64_t> data_processed_bytes;
  std::optional<int64_t> data_remaining_bytes;
  std::optional<int64_t> memory_bytes_per_second;
  std::optional<int64_t> dirty_rate_bytes_per_second;
  std::optional<int64_t> iteration;
};

// Reads a `progress` object; fields of the wrong type are ignored. Null or a
// non-object yields an empty sample.
ProgressSample ProgressFromJson(const rapidjson::Value* progress);

// The percent done of a sample (0-100), or nullopt without a positive total.
// Uses processed bytes, else total - remaining.
std::optional<int> PercentOf(const ProgressSample& s);

// Keeps the latest sample and the highest percent seen: the shown percent
// never goes backwards (a new pre-copy iteration re-sends dirtied pages).
class ProgressMeter {
 public:
  void Update(const ProgressSample& s);
  // 100 once the migration succeeded.
  void Complete() { percent_ = 100; }
  std::optional<int> percent() const { return percent_; }
  const ProgressSample& last() const { return last_; }

 private:
  ProgressSample last_;
  std::optional<int> percent_;
};

// "512B", "1.5KiB", "3.0GiB".
std::string FormatBytes(int64_t bytes);
// "45s", "3m05s", "1h02m".
std::string FormatDuration(std::chrono::seconds d);
// kubectl's AGE column: "12s", "5m", "3h", "4d".
std::string FormatAge(std::chrono::seconds d);

// One progress line: "Running 42% 1.2GiB/3.0GiB 120.0MiB/s dirty 8.0MiB/s
// iter 3 ETA 15s elapsed 12s"; absent fields (and elapsed when nullopt) are
// left out. When width > 0 the
// line is cut to at most width - 1 columns (the last column would wrap on
// some terminals).
std::string FormatProgressLine(std::string_view phase, const ProgressMeter& meter,
                               std::optional<std::chrono::seconds> elapsed, int width);

// Cuts `s` to at most `width` display columns (UTF-8 aware).
std::string TruncateToWidth(std::string_view s, int width);
// Display columns of a UTF-8 string (one per code point).
int DisplayWidth(std::string_view s);

}  // namespace plugin
