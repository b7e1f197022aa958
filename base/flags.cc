#include "base/flags.h"

#include <algorithm>
#include <charconv>

namespace base {
namespace {

Status ParseInt(const std::string& value, int64_t min, int64_t max, int64_t* out) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
    return InvalidArgument("want an integer");
  }
  if (v < min || v > max) {
    return InvalidArgument("want an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "]");
  }
  *out = v;
  return Status::Ok();
}

}  // namespace

FlagSet::Flag& FlagSet::Add(std::string_view name, char shorthand) {
  Flag f;
  f.name = std::string(name);
  f.shorthand = shorthand;
  flags_.push_back(std::move(f));
  return flags_.back();
}

void FlagSet::String(std::string_view name, std::string* target, std::string_view value_name,
                     std::string_view help, char shorthand) {
  Flag& f = Add(name, shorthand);
  f.value_name = std::string(value_name);
  f.help = std::string(help);
  f.default_text = *target;
  f.parse = [target](const std::string& v) {
    *target = v;
    return Status::Ok();
  };
}

void FlagSet::Int(std::string_view name, int64_t* target, int64_t min, int64_t max,
                  std::string_view value_name, std::string_view help, char shorthand) {
  Flag& f = Add(name, shorthand);
  f.value_name = std::string(value_name);
  f.help = std::string(help);
  f.default_text = std::to_string(*target);
  f.parse = [target, min, max](const std::string& v) { return ParseInt(v, min, max, target); };
}

void FlagSet::Int(std::string_view name, int* target, int min, int max, std::string_view value_name,
                  std::string_view help, char shorthand) {
  Flag& f = Add(name, shorthand);
  f.value_name = std::string(value_name);
  f.help = std::string(help);
  f.default_text = std::to_string(*target);
  f.parse = [target, min, max](const std::string& v) {
    int64_t wide = 0;
    Status s = ParseInt(v, min, max, &wide);
    if (s.ok()) *target = static_cast<int>(wide);
    return s;
  };
}

void FlagSet::Bool(std::string_view name, bool* target, std::string_view help, char shorthand) {
  Flag& f = Add(name, shorthand);
  f.is_bool = true;
  f.help = std::string(help);
  f.has_no_value_default = true;
  f.no_value_default = "true";
  f.parse = [target](const std::string& v) {
    // strconv.ParseBool's spellings, which pflag accepts.
    static const char* const kTrue[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char* const kFalse[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (const char* t : kTrue) {
      if (v == t) {
        *target = true;
        return Status::Ok();
      }
    }
    for (const char* t : kFalse) {
      if (v == t) {
        *target = false;
        return Status::Ok();
      }
    }
    return InvalidArgument("want true or false");
  };
}

void FlagSet::Custom(std::string_view name, ParseFn parse, std::string_view value_name,
                     std::string_view help, std::string_view default_text, char shorthand) {
  Flag& f = Add(name, shorthand);
  f.value_name = std::string(value_name);
  f.help = std::string(help);
  f.default_text = std::string(default_text);
  f.parse = std::move(parse);
}

void FlagSet::SetNoValueDefault(std::string_view name, std::string value) {
  if (Flag* f = FindLong(name)) {
    f->has_no_value_default = true;
    f->no_value_default = std::move(value);
  }
}

void FlagSet::Require(std::string_view name) {
  if (Flag* f = FindLong(name)) f->required = true;
}

void FlagSet::NonEmpty(std::string_view name) {
  if (Flag* f = FindLong(name)) f->non_empty = true;
}

FlagSet::Flag* FlagSet::FindLong(std::string_view name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

FlagSet::Flag* FlagSet::FindShort(char c) {
  for (Flag& f : flags_) {
    if (f.shorthand != 0 && f.shorthand == c) return &f;
  }
  return nullptr;
}

void FlagSet::Apply(Flag& flag, const std::string& shown, const std::string& value,
                    std::vector<std::string>& problems) {
  seen_.insert(flag.name);
  if (flag.non_empty && value.empty()) {
    problems.push_back("flag " + shown + " must not be empty");
    return;
  }
  Status s = flag.parse(value);
  if (!s.ok()) {
    problems.push_back("invalid argument \"" + value + "\" for \"" + shown +
                       "\" flag: " + s.message());
  }
}

Status FlagSet::Parse(const std::vector<std::string>& args) {
  std::vector<std::string> problems;
  positional_.clear();
  seen_.clear();
  help_ = false;
  before_dashdash_ = SIZE_MAX;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      before_dashdash_ = positional_.size();
      positional_.insert(positional_.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional_.push_back(arg);
      continue;
    }
    // Which flag, how it is shown in messages, and its inline value if any.
    Flag* flag = nullptr;
    std::string shown;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        has_value = true;
      }
      shown = "--" + name;
      flag = FindLong(name);
      if (flag == nullptr) {
        problems.push_back("unknown flag: " + shown);
        continue;
      }
    } else {
      char c = arg[1];
      flag = FindShort(c);
      if (flag == nullptr) {
        problems.push_back(std::string("unknown shorthand flag: '") + c + "' in " + arg);
        continue;
      }
      shown = "-" + std::string(1, c);
      if (arg.size() > 2) {
        if (flag->is_bool && arg[2] != '=') {
          // pflag would read "-Ax" as two bool shorthands; we have too few to
          // group, so it is an error rather than a silent surprise.
          problems.push_back(std::string("unknown shorthand flag: '") + arg[2] + "' in " + arg);
          continue;
        }
        value = arg.substr(arg[2] == '=' ? 3 : 2);
        has_value = true;
      }
    }
    if (!has_value) {
      if (flag->has_no_value_default) {
        value = flag->no_value_default;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        problems.push_back("flag needs an argument: " + shown);
        continue;
      }
    }
    Apply(*flag, shown, value, problems);
  }
  if (before_dashdash_ == SIZE_MAX) before_dashdash_ = positional_.size();
  if (help_) return Status::Ok();
  if (!positional_allowed_) {
    for (const std::string& word : positional_) {
      problems.push_back("unexpected argument \"" + word + "\"");
    }
  }
  for (const Flag& f : flags_) {
    if (f.required && !seen(f.name)) problems.push_back("--" + f.name + " is required");
  }
  if (problems.empty()) return Status::Ok();
  std::string message;
  for (const std::string& p : problems) message += p + "\n";
  message.pop_back();
  return InvalidArgument(message);
}

std::string FlagSet::Usage() const {
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const Flag& f : flags_) {
    std::string left = f.shorthand != 0 ? std::string("  -") + f.shorthand + ", " : "      ";
    left += "--" + f.name;
    if (!f.is_bool) left += " " + (f.value_name.empty() ? std::string("VALUE") : f.value_name);
    std::string right = f.help;
    if (f.required) {
      right += " (required)";
    } else if (!f.default_text.empty()) {
      right += " (default " + f.default_text + ")";
    }
    width = std::max(width, left.size());
    rows.emplace_back(std::move(left), std::move(right));
  }
  std::string out;
  for (const auto& [left, right] : rows) {
    out += left + std::string(width - left.size() + 3, ' ') + right + "\n";
  }
  return out;
}

std::string PrefixLines(std::string_view prefix, std::string_view lines) {
  std::string out;
  size_t start = 0;
  while (start <= lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string_view::npos) end = lines.size();
    out += prefix;
    out += lines.substr(start, end - start);
    out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace base
