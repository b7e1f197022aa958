#include "plugin/progress.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>

namespace plugin {
namespace {

std::optional<int64_t> Int(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return std::nullopt;
  if (it->value.IsInt64()) return it->value.GetInt64();
  // Engines written in other languages may send whole numbers as doubles.
  if (it->value.IsDouble() && it->value.GetDouble() >= 0 && it->value.GetDouble() < 9e18) {
    return static_cast<int64_t>(it->value.GetDouble());
  }
  return std::nullopt;
}

}  // namespace

ProgressSample ProgressFromJson(const rapidjson::Value* p) {
  ProgressSample s;
  if (p == nullptr || !p->IsObject()) return s;
  s.data_total_bytes = Int(*p, "dataTotalBytes");
  s.data_processed_bytes = Int(*p, "dataProcessedBytes");
  s.data_remaining_bytes = Int(*p, "dataRemainingBytes");
  s.memory_bytes_per_second = Int(*p, "memoryBytesPerSecond");
  s.dirty_rate_bytes_per_second = Int(*p, "dirtyRateBytesPerSecond");
  s.iteration = Int(*p, "iteration");
  return s;
}

std::optional<int> PercentOf(const ProgressSample& s) {
  if (!s.data_total_bytes || *s.data_total_bytes <= 0) return std::nullopt;
  double total = static_cast<double>(*s.data_total_bytes);
  double done;
  if (s.data_processed_bytes) {
    done = static_cast<double>(*s.data_processed_bytes);
  } else if (s.data_remaining_bytes) {
    done = total - static_cast<double>(*s.data_remaining_bytes);
  } else {
    return std::nullopt;
  }
  return static_cast<int>(std::clamp(done * 100.0 / total, 0.0, 100.0));
}

void ProgressMeter::Update(const ProgressSample& s) {
  last_ = s;
  auto p = PercentOf(s);
  if (p && (!percent_ || *p > *percent_)) percent_ = p;
}

std::string FormatBytes(int64_t bytes) {
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + "B";
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%s", v, kUnits[u]);
  return buf;
}

std::string FormatDuration(std::chrono::seconds d) {
  int64_t s = std::max<int64_t>(0, d.count());
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  }
  return buf;
}

std::string FormatAge(std::chrono::seconds d) {
  int64_t s = std::max<int64_t>(0, d.count());
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

int DisplayWidth(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string TruncateToWidth(std::string_view s, int width) {
  if (width <= 0) return "";
  int cols = 0;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (cols == width) break;
      ++cols;
    }
  }
  return std::string(s.substr(0, i));
}

std::string FormatProgressLine(std::string_view phase, const ProgressMeter& meter,
                               std::optional<std::chrono::seconds> elapsed, int width) {
  const ProgressSample& s = meter.last();
  std::string line(phase.empty() ? "<none>" : phase);
  if (meter.percent()) line += " " + std::to_string(*meter.percent()) + "%";
  if (s.data_total_bytes) {
    int64_t done = s.data_processed_bytes ? *s.data_processed_bytes
                   : s.data_remaining_bytes
                       ? std::max<int64_t>(0, *s.data_total_bytes - *s.data_remaining_bytes)
                       : 0;
    line += " " + FormatBytes(done) + "/" + FormatBytes(*s.data_total_bytes);
  }
  if (s.memory_bytes_per_second) line += " " + FormatBytes(*s.memory_bytes_per_second) + "/s";
  if (s.dirty_rate_bytes_per_second) {
    line += " dirty " + FormatBytes(*s.dirty_rate_bytes_per_second) + "/s";
  }
  if (s.iteration) line += " iter " + std::to_string(*s.iteration);
  // No ETA for a migration that has ended: nothing remains to come.
  const bool final_phase = phase == "Succeeded" || phase == "Failed";
  if (!final_phase && s.memory_bytes_per_second && *s.memory_bytes_per_second > 0) {
    std::optional<int64_t> remaining = s.data_remaining_bytes;
    if (!remaining && s.data_total_bytes && s.data_processed_bytes) {
      remaining = std::max<int64_t>(0, *s.data_total_bytes - *s.data_processed_bytes);
    }
    if (remaining) {
      line += " ETA " +
              FormatDuration(std::chrono::seconds((*remaining + *s.memory_bytes_per_second - 1) /
                                                  *s.memory_bytes_per_second));
    }
  }
  if (elapsed) line += " elapsed " + FormatDuration(*elapsed);
  if (width > 0) line = TruncateToWidth(line, width - 1);
  return line;
}

}  // namespace plugin
