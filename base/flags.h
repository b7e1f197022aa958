// FlagSet: the one command-line parser of every program, table-driven and
// spelled as kubectl's (pflag) command lines are:
//
//   --name value   --name=value   -n value   -nvalue   -n=value
//   --bool         --bool=true|false        (a bool flag never takes the next word)
//   --             everything after it is positional
//
// Parse() reads the whole line and reports every problem at once, each in
// pflag's words ("unknown flag: --foo", "flag needs an argument: --to",
// `invalid argument "x" for "--port" flag: ...`), so an operator fixes them
// all in one go. `-h`/`--help` anywhere sets help_requested() and wins over
// every other problem, as in kubectl.
//
// Targets are pointers the caller owns; they must outlive Parse(). A target
// keeps its value when its flag is absent: that value is the default shown
// by Usage().
//
// Thread safety: none (build and parse on one thread, at start-up).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace base {

class FlagSet {
 public:
  // Parses one value; a non-OK status's message says what was wanted.
  using ParseFn = std::function<Status(const std::string& value)>;

  // `name` is the long name without dashes ("node-name"); `shorthand` is a
  // single character or 0. `value_name` names the value in Usage() ("FILE").
  void String(std::string_view name, std::string* target, std::string_view value_name,
              std::string_view help, char shorthand = 0);
  // An integer in [min, max].
  void Int(std::string_view name, int64_t* target, int64_t min, int64_t max,
           std::string_view value_name, std::string_view help, char shorthand = 0);
  void Int(std::string_view name, int* target, int min, int max, std::string_view value_name,
           std::string_view help, char shorthand = 0);
  void Bool(std::string_view name, bool* target, std::string_view help, char shorthand = 0);
  // Any other type: `parse` converts and stores. `default_text` is shown by Usage().
  void Custom(std::string_view name, ParseFn parse, std::string_view value_name,
              std::string_view help, std::string_view default_text = "", char shorthand = 0);
  // The value a flag takes when given without "=value" (pflag's NoOptDefVal),
  // e.g. kubectl's bare --dry-run meaning "client".
  void SetNoValueDefault(std::string_view name, std::string value);
  // Parse() reports "--name is required" when the flag was not given.
  void Require(std::string_view name);
  // Forbids empty values of a string flag ("--name: must not be empty").
  void NonEmpty(std::string_view name);
  // Parse() reports each positional word as `unexpected argument "word"`
  // (daemons take flags only).
  void DisallowPositional() { positional_allowed_ = false; }

  // Returns OK, or InvalidArgument whose message lists every problem, one per
  // line. With help_requested() the status is OK whatever else was wrong.
  Status Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }
  // How many positional words came before "--" (all of them when there was none).
  size_t positional_before_dashdash() const { return before_dashdash_; }
  bool seen(std::string_view name) const { return seen_.count(std::string(name)) > 0; }

  // The flag table: one line per flag ("  -n, --namespace NS   help (default x)").
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    char shorthand = 0;
    bool is_bool = false;
    bool non_empty = false;
    bool required = false;
    bool has_no_value_default = false;
    std::string no_value_default;
    std::string value_name;
    std::string help;
    std::string default_text;
    ParseFn parse;
  };
  Flag& Add(std::string_view name, char shorthand);
  Flag* FindLong(std::string_view name);
  Flag* FindShort(char c);
  void Apply(Flag& flag, const std::string& shown, const std::string& value,
             std::vector<std::string>& problems);

  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  size_t before_dashdash_ = 0;
  std::set<std::string> seen_;
  bool help_ = false;
  bool positional_allowed_ = true;
};

// Joins the lines of a Parse() problem list with `prefix` before each, for
// printing ("migration-engine: unknown flag: --x\n...").
std::string PrefixLines(std::string_view prefix, std::string_view lines);

}  // namespace base
