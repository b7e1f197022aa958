#include "base/log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>

#include "base/flags.h"

namespace base::log {
namespace {

std::atomic<int> g_verbosity{0};
std::atomic<Format> g_format{Format::kText};

// One logger for the process, replaced only by Init/SetOutputForTesting; the
// shared_ptr copy taken under the lock keeps a logger alive while in use.
std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_logger;

std::shared_ptr<spdlog::logger> MakeLogger(spdlog::sink_ptr sink, Format format) {
  auto logger = std::make_shared<spdlog::logger>("km", std::move(sink));
  // UTC with milliseconds, the form of Kubernetes' timestamps; the level as
  // a word. The record body (%v) is already formatted by us.
  const char* pattern = format == Format::kJson
                            ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %l %v";
  logger->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
  logger->set_level(spdlog::level::trace);
  // Every record reaches the terminal or the collector at once: a daemon that
  // dies must not take its last lines with it.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

std::shared_ptr<spdlog::logger> Logger() {
  std::lock_guard<std::mutex> l(g_mu);
  if (!g_logger) {
    g_logger = MakeLogger(std::make_shared<spdlog::sinks::stderr_sink_mt>(), g_format.load());
  }
  return g_logger;
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

// Backslash escapes for a double-quoted text value or a JSON string.
void AppendEscaped(std::string& out, std::string_view v) {
  static const char kHex[] = "0123456789abcdef";
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
}

void AppendQuoted(std::string& out, std::string_view v) {
  out += '"';
  AppendEscaped(out, v);
  out += '"';
}

void Write(spdlog::level::level_enum level, std::string_view message, Fields fields) {
  std::string body = g_format.load() == Format::kJson ? FormatJsonBody(message, fields)
                                                      : FormatText(message, fields);
  Logger()->log(level, "{}", body);
}

}  // namespace

std::string Field::FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void Init(const Options& options) {
  g_verbosity = options.verbosity;
  std::lock_guard<std::mutex> l(g_mu);
  g_format = options.format;
  g_logger = MakeLogger(std::make_shared<spdlog::sinks::stderr_sink_mt>(), options.format);
}

bool ParseFormat(std::string_view text, Format* out) {
  if (text == "text") {
    *out = Format::kText;
  } else if (text == "json") {
    *out = Format::kJson;
  } else {
    return false;
  }
  return true;
}

void AddFlags(FlagSet& flags, Options* options) {
  flags.Int("v", &options->verbosity, 0, 10, "N", "log verbosity: 0 info, 1-10 more detail", 'v');
  flags.Custom(
      "log-format",
      [options](const std::string& v) {
        return ParseFormat(v, &options->format) ? Status::Ok()
                                                : InvalidArgument("want text or json");
      },
      "text|json", "log line format", "text");
}

int Verbosity() { return g_verbosity.load(std::memory_order_relaxed); }

std::string FormatText(std::string_view message, Fields fields) {
  std::string out(message);
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    if (!f.raw && NeedsQuotes(f.value)) {
      AppendQuoted(out, f.value);
    } else {
      out += f.value;
    }
  }
  return out;
}

std::string FormatJsonBody(std::string_view message, Fields fields) {
  std::string out = "\"msg\":";
  AppendQuoted(out, message);
  for (const Field& f : fields) {
    out += ',';
    AppendQuoted(out, f.key);
    out += ':';
    // NaN and infinities are not JSON numbers.
    if (f.raw && f.value != "nan" && f.value != "-nan" && f.value != "inf" && f.value != "-inf") {
      out += f.value;
    } else {
      AppendQuoted(out, f.value);
    }
  }
  return out;
}

void Error(std::string_view message, Fields fields) { Write(spdlog::level::err, message, fields); }
void Warning(std::string_view message, Fields fields) {
  Write(spdlog::level::warn, message, fields);
}
void Info(std::string_view message, Fields fields) { Write(spdlog::level::info, message, fields); }
void Debug(int level, std::string_view message, Fields fields) {
  if (V(level)) Write(spdlog::level::debug, message, fields);
}

void SetOutputForTesting(std::ostream* out) {
  std::lock_guard<std::mutex> l(g_mu);
  spdlog::sink_ptr sink;
  if (out != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  g_logger = MakeLogger(std::move(sink), g_format.load());
}

}  // namespace base::log
