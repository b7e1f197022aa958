#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include "plugin/progress.h"

using plugin::FormatProgressLine;
using plugin::ProgressMeter;
using plugin::ProgressSample;
using std::chrono::seconds;

namespace {

ProgressSample Sample(int64_t total, int64_t processed) {
  ProgressSample s;
  s.data_total_bytes = total;
  s.data_processed_bytes = processed;
  return s;
}

}  // namespace

TEST_CASE("progress is read from the documented JSON fields", "[plugin]") {
  rapidjson::Document d;
  d.Parse(R"({"dataTotalBytes":1000,"dataProcessedBytes":250,"dataRemainingBytes":750,
              "memoryBytesPerSecond":100,"dirtyRateBytesPerSecond":5.0,"iteration":"3"})");
  ProgressSample s = plugin::ProgressFromJson(&d);
  CHECK(s.data_total_bytes == 1000);
  CHECK(s.data_processed_bytes == 250);
  CHECK(s.data_remaining_bytes == 750);
  CHECK(s.memory_bytes_per_second == 100);
  CHECK(s.dirty_rate_bytes_per_second == 5);
  CHECK_FALSE(s.iteration.has_value());  // a string is ignored, not trusted
  CHECK_FALSE(plugin::ProgressFromJson(nullptr).data_total_bytes.has_value());
  rapidjson::Document arr;
  arr.Parse("[1]");
  CHECK_FALSE(plugin::ProgressFromJson(&arr).data_total_bytes.has_value());
}

TEST_CASE("percent comes from processed bytes, else from remaining bytes", "[plugin]") {
  CHECK(plugin::PercentOf(Sample(1000, 250)) == 25);
  ProgressSample r;
  r.data_total_bytes = 1000;
  r.data_remaining_bytes = 100;
  CHECK(plugin::PercentOf(r) == 90);
  CHECK_FALSE(plugin::PercentOf(Sample(0, 0)).has_value());
  CHECK(plugin::PercentOf(Sample(100, 500)) == 100);  // clamped
  CHECK_FALSE(plugin::PercentOf(ProgressSample{}).has_value());
}

TEST_CASE("the shown percent never goes backwards", "[plugin]") {
  ProgressMeter m;
  m.Update(Sample(1000, 600));
  CHECK(m.percent() == 60);
  m.Update(Sample(1000, 200));  // a new iteration re-sends dirtied pages
  CHECK(m.percent() == 60);
  CHECK(m.last().data_processed_bytes == 200);  // the bytes shown stay current
  m.Update(Sample(1000, 700));
  CHECK(m.percent() == 70);
  m.Update(ProgressSample{});
  CHECK(m.percent() == 70);
  m.Complete();
  CHECK(m.percent() == 100);
}

TEST_CASE("bytes, durations and ages format compactly", "[plugin]") {
  CHECK(plugin::FormatBytes(0) == "0B");
  CHECK(plugin::FormatBytes(1023) == "1023B");
  CHECK(plugin::FormatBytes(1536) == "1.5KiB");
  CHECK(plugin::FormatBytes(int64_t{3} << 30) == "3.0GiB");
  CHECK(plugin::FormatDuration(seconds(45)) == "45s");
  CHECK(plugin::FormatDuration(seconds(185)) == "3m05s");
  CHECK(plugin::FormatDuration(seconds(3720)) == "1h02m");
  CHECK(plugin::FormatDuration(seconds(-5)) == "0s");
  CHECK(plugin::FormatAge(seconds(12)) == "12s");
  CHECK(plugin::FormatAge(seconds(300)) == "5m");
  CHECK(plugin::FormatAge(seconds(3 * 3600)) == "3h");
  CHECK(plugin::FormatAge(seconds(4 * 86400)) == "4d");
}

TEST_CASE("the progress line shows every known field", "[plugin]") {
  ProgressMeter m;
  ProgressSample s = Sample(1000, 400);
  s.memory_bytes_per_second = 100;
  s.dirty_rate_bytes_per_second = 10;
  s.iteration = 2;
  m.Update(s);
  CHECK(FormatProgressLine("Running", m, seconds(12), 0) ==
        "Running 40% 400B/1000B 100B/s dirty 10B/s iter 2 ETA 6s elapsed 12s");
  CHECK(FormatProgressLine("Running", m, std::nullopt, 0) ==
        "Running 40% 400B/1000B 100B/s dirty 10B/s iter 2 ETA 6s");
  // An ended migration has no ETA (a cancelled one stopped at 40%).
  CHECK(FormatProgressLine("Failed", m, std::nullopt, 0) ==
        "Failed 40% 400B/1000B 100B/s dirty 10B/s iter 2");
  ProgressMeter empty;
  CHECK(FormatProgressLine("", empty, seconds(3), 0) == "<none> elapsed 3s");
}

TEST_CASE("the progress line is cut to the terminal width minus one", "[plugin]") {
  ProgressMeter m;
  m.Update(Sample(1000, 400));
  std::string full = FormatProgressLine("Running", m, seconds(12), 0);
  for (int width : {1, 2, 10, 40, 80}) {
    INFO(width);
    std::string cut = FormatProgressLine("Running", m, seconds(12), width);
    CHECK(plugin::DisplayWidth(cut) <= width - 1);
    CHECK(full.rfind(cut, 0) == 0);
  }
  CHECK(FormatProgressLine("Running", m, seconds(12), 200) == full);
}

TEST_CASE("truncation counts code points, not bytes", "[plugin]") {
  CHECK(plugin::DisplayWidth("a → b") == 5);
  CHECK(plugin::TruncateToWidth("a → b", 3) == "a →");
  CHECK(plugin::TruncateToWidth("a → b", 2) == "a ");
  CHECK(plugin::TruncateToWidth("abc", 0).empty());
  CHECK(plugin::TruncateToWidth("abc", 10) == "abc");
}
