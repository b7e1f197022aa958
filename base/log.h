// Logging for every program: levels, UTC timestamps, key=value fields, and an
// optional JSON format, one line per record on stderr. spdlog does the writing
// (thread-safe sink, time stamps); this header keeps it out of our includes.
//
//   base::log::Info("migration started", {{"vmim", key}, {"target", node}});
//   if (base::log::V(2)) base::log::Debug("job stats", {{"remaining", r}});
//
// Text:  2026-12-03T17:10:00.123Z info migration started vmim=default/mig-1 target=node02
// JSON:  {"ts":"2026-12-03T17:10:00.123Z","level":"info","msg":"migration started",
//         "vmim":"default/mig-1","target":"node02"}
//
// Levels: error and warning always; info at verbosity 0 and up; debug lines when
// the verbosity (`-v N` / `--v=N`, as klog's) is at least the line's level.
//
// Thread safety: every function may be called from any thread; Init() and
// SetOutputForTesting() should run before other threads log.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/status.h"

namespace base {
class FlagSet;
}

namespace base::log {

enum class Format { kText, kJson };

struct Options {
  int verbosity = 0;
  Format format = Format::kText;
};

// Sets verbosity and format. Before Init the defaults above apply.
void Init(const Options& options);
// Parses "text" or "json" into *out; false (and *out unchanged) for anything else.
bool ParseFormat(std::string_view text, Format* out);

// Registers -v/--v (verbosity, 0-10) and --log-format (text|json) on `flags`.
void AddFlags(FlagSet& flags, Options* options);

int Verbosity();
inline bool V(int level) { return Verbosity() >= level; }

// One key=value field. Values are kept as text; numbers stay unquoted in JSON.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v == nullptr ? "" : v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), raw(true) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  Field(std::string_view k, T v) : key(k), value(Number(v)), raw(true) {}
  Field(std::string_view k, const Status& s) : key(k), value(s.ToString()) {}

  std::string_view key;
  std::string value;
  bool raw = false;  // a number or boolean: written without quotes in JSON

 private:
  template <typename T>
  static std::string Number(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      return FormatDouble(static_cast<double>(v));
    } else {
      return std::to_string(v);
    }
  }
  static std::string FormatDouble(double v);
};

using Fields = std::initializer_list<Field>;

void Error(std::string_view message, Fields fields = {});
void Warning(std::string_view message, Fields fields = {});
void Info(std::string_view message, Fields fields = {});
// Written when V(level); callers with costly fields test V(level) first.
void Debug(int level, std::string_view message, Fields fields = {});

// The formatted record without time stamp and level (tests, and the JSON body).
std::string FormatText(std::string_view message, Fields fields);
std::string FormatJsonBody(std::string_view message, Fields fields);

// Sends records to `out` instead of stderr (nullptr: back to stderr).
void SetOutputForTesting(std::ostream* out);

}  // namespace base::log
