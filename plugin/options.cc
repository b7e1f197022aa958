#include "plugin/options.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace plugin {
namespace {

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

base::StatusOr<bool> ParseBool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return base::InvalidArgument("invalid argument \"" + v + "\" for \"" + flag +
                               "\": must be true or false");
}

}  // namespace

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) return false;
  for (char c : s) {
    if (!IsAlnumLower(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!IsDns1123Label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

base::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return base::InvalidArgument("invalid duration \"" + std::string(text) +
                                 "\": use a number of seconds or units like 30s, 5m, 1h30m");
  };
  if (text.empty()) return bad();
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    if (text.size() > 9) return bad();
    return std::chrono::milliseconds(std::stoll(std::string(text)) * 1000);
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t num_start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == num_start) return bad();
    std::string num(text.substr(num_start, i - num_start));
    if (num == "." || std::count(num.begin(), num.end(), '.') > 1) return bad();
    double value = std::stod(num);
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60000;
    } else if (unit == "h") {
      scale = 3600000;
    } else {
      return bad();
    }
    total_ms += value * scale;
  }
  if (total_ms > 1e12) return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

base::StatusOr<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  // Help wins over every other problem on the line, as in kubectl.
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "-h" || a == "--help") {
      o.command = Command::kHelp;
      return o;
    }
  }
  std::vector<std::string> positional;
  // Words after "--" are names, never subcommands ("kubectl migrate -- list").
  size_t before_dashdash = args.size();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--") {
      before_dashdash = positional.size();
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    // Split "--flag=value" and the short forms "-nNS"/"-ojson".
    std::string name = arg, value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else if (arg.size() > 2) {
      name = arg.substr(0, 2);
      value = arg.substr(arg[2] == '=' ? 3 : 2);
      has_value = true;
    }
    auto take = [&]() -> base::StatusOr<std::string> {
      if (has_value) return value;
      if (i + 1 >= args.size()) {
        return base::InvalidArgument("flag needs an argument: " + name);
      }
      return args[++i];
    };
    auto flag_bool = [&](bool* out) -> base::Status {
      if (!has_value) {
        *out = true;
        return base::Status::Ok();
      }
      auto b = ParseBool(name, value);
      if (!b.ok()) return b.status();
      *out = *b;
      return base::Status::Ok();
    };
    base::Status st;
    if (name == "--kubeconfig" || name == "--context" || name == "-n" || name == "--namespace" ||
        name == "--to") {
      auto v = take();
      if (!v.ok()) return v.status();
      if (v->empty()) return base::InvalidArgument("flag " + name + " must not be empty");
      if (name == "--kubeconfig") o.kubeconfig = *v;
      if (name == "--context") o.context = *v;
      if (name == "-n" || name == "--namespace") o.namespace_ = *v;
      if (name == "--to") o.to_node = *v;
    } else if (name == "--request-timeout" || name == "--timeout") {
      auto v = take();
      if (!v.ok()) return v.status();
      auto d = ParseDuration(*v);
      if (!d.ok()) return base::InvalidArgument(name + ": " + d.status().message());
      (name == "--timeout" ? o.timeout : o.request_timeout) = *d;
    } else if (name == "-o" || name == "--output") {
      auto v = take();
      if (!v.ok()) return v.status();
      if (*v == "name") {
        o.output = OutputFormat::kName;
      } else if (*v == "json") {
        o.output = OutputFormat::kJson;
      } else if (*v == "yaml") {
        o.output = OutputFormat::kYaml;
      } else {
        return base::InvalidArgument("unable to match a printer suitable for the output format \"" +
                                     *v + "\", allowed formats are: json,name,yaml");
      }
    } else if (name == "--dry-run") {
      // kubectl requires the value; a bare --dry-run is its deprecated "client".
      std::string v = has_value ? value : "client";
      if (v == "server") {
        o.dry_run = DryRun::kServer;
      } else if (v == "client") {
        o.dry_run = DryRun::kClient;
      } else if (v == "none") {
        o.dry_run = DryRun::kNone;
      } else {
        return base::InvalidArgument("invalid dry-run value (" + v +
                                     "). Must be \"none\", \"server\", or \"client\".");
      }
    } else if (name == "--wait") {
      st = flag_bool(&o.wait);
    } else if (name == "--retry-on-limit") {
      st = flag_bool(&o.retry_on_limit);
    } else if (name == "--cancel-on-interrupt") {
      st = flag_bool(&o.cancel_on_interrupt);
    } else if (name == "-A" || name == "--all-namespaces") {
      if (name == "-A" && has_value) return base::InvalidArgument("unknown shorthand flag: " + arg);
      st = flag_bool(&o.all_namespaces);
    } else {
      return base::InvalidArgument("unknown flag: " + name);
    }
    if (!st.ok()) return st;
  }

  size_t first = 0;
  if (!positional.empty() && before_dashdash > 0) {
    const std::string& p = positional[0];
    if (p == "cancel") {
      o.command = Command::kCancel;
      first = 1;
    } else if (p == "status") {
      o.command = Command::kStatus;
      first = 1;
    } else if (p == "list") {
      o.command = Command::kList;
      first = 1;
    } else if (p == "version") {
      o.command = Command::kVersion;
      first = 1;
    } else if (p == "completion") {
      o.command = Command::kCompletion;
      first = 1;
    } else if (p == "help") {
      o.command = Command::kHelp;
      return o;
    }
  }
  std::vector<std::string> rest(positional.begin() + static_cast<long>(first), positional.end());
  bool wants_vmi = o.command == Command::kMigrate || o.command == Command::kCancel ||
                   o.command == Command::kStatus;
  if (o.command == Command::kCompletion) {
    if (rest.size() != 1 || (rest[0] != "bash" && rest[0] != "zsh")) {
      return base::InvalidArgument("completion needs one shell: bash or zsh");
    }
    o.shell = rest[0];
  } else if (wants_vmi) {
    if (rest.empty()) return base::InvalidArgument("a VMI name is required");
    if (rest.size() > 1) return base::InvalidArgument("unexpected argument \"" + rest[1] + "\"");
    o.vmi = rest[0];
  } else if (!rest.empty()) {
    return base::InvalidArgument("unexpected argument \"" + rest[0] + "\"");
  }
  return o;
}

base::Status Validate(const Options& o) {
  std::vector<std::string> problems;
  bool wants_vmi = o.command == Command::kMigrate || o.command == Command::kCancel ||
                   o.command == Command::kStatus;
  if (wants_vmi && !IsDns1123Label(o.vmi)) {
    problems.push_back("invalid VMI name \"" + o.vmi +
                       "\": must be a DNS-1123 label (at most 63 lower-case letters, digits or "
                       "'-', starting and ending with a letter or digit)");
  }
  if (!o.namespace_.empty() && !IsDns1123Label(o.namespace_)) {
    problems.push_back("invalid namespace \"" + o.namespace_ + "\": must be a DNS-1123 label");
  }
  if (!o.to_node.empty() && !IsDns1123Subdomain(o.to_node)) {
    problems.push_back("invalid --to node name \"" + o.to_node +
                       "\": must be a DNS-1123 subdomain");
  }
  bool is_migrate = o.command == Command::kMigrate;
  if (!is_migrate) {
    if (!o.to_node.empty()) problems.push_back("--to applies only to creating a migration");
    if (o.dry_run != DryRun::kNone)
      problems.push_back("--dry-run applies only to creating a migration");
    if (o.retry_on_limit)
      problems.push_back("--retry-on-limit applies only to creating a migration");
    if (o.cancel_on_interrupt) {
      problems.push_back("--cancel-on-interrupt applies only to creating a migration");
    }
    if (o.output != OutputFormat::kDefault)
      problems.push_back("-o applies only to creating a migration");
  }
  if (o.command != Command::kMigrate && o.command != Command::kCancel && o.wait) {
    problems.push_back("--wait applies only to creating or cancelling a migration");
  }
  if (o.all_namespaces && o.command != Command::kList) {
    problems.push_back("-A/--all-namespaces applies only to list");
  }
  if (is_migrate && o.wait && o.dry_run != DryRun::kNone) {
    problems.push_back("--wait cannot be combined with --dry-run");
  }
  if (is_migrate && o.cancel_on_interrupt && !o.wait) {
    problems.push_back("--cancel-on-interrupt needs --wait");
  }
  if (o.timeout && o.timeout->count() == 0) problems.push_back("--timeout must be positive");
  if (problems.empty()) return base::Status::Ok();
  std::string msg;
  for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
  return base::InvalidArgument(msg);
}

std::string HelpText() {
  return R"(Live-migrate a KubeVirt VirtualMachineInstance and follow the migration.

Usage:
  kubectl migrate VMI [--to NODE] [--wait [--timeout D] [--cancel-on-interrupt]]
                      [--dry-run=server|client] [-o name|json|yaml] [--retry-on-limit]
  kubectl migrate cancel VMI [--wait [--timeout D]]
  kubectl migrate status VMI
  kubectl migrate list [-A]
  kubectl migrate version
  kubectl migrate completion bash|zsh

Examples:
  # Migrate vmi-fedora and follow it until it ends
  kubectl migrate vmi-fedora --wait

  # Migrate to a given node, give up waiting after 5 minutes
  kubectl migrate vmi-fedora --to node-b --wait --timeout 5m

  # Show what would be created, validated by the server, without storing it
  kubectl migrate vmi-fedora --dry-run=server -o yaml

  # Cancel the migration in progress and wait for the abort to finish
  kubectl migrate cancel vmi-fedora --wait

  # All migrations in all namespaces
  kubectl migrate list -A

  # Completion for kubectl-migrate in bash (kubectl migrate <TAB> uses kubectl_complete-migrate)
  source <(kubectl migrate completion bash)

Flags:
      --to NODE                 target node (spec.addedNodeSelector kubernetes.io/hostname)
      --wait                    follow the migration until it succeeds or fails
      --timeout DURATION        stop waiting (and retrying) after DURATION (30s, 5m, 1h)
      --cancel-on-interrupt     with --wait: Ctrl-C cancels the migration
      --retry-on-limit          when refused for a limit (HTTP 429), wait and try again
      --dry-run=server|client   do not store the migration
  -o, --output name|json|yaml   output format of the created migration
  -A, --all-namespaces          list: all namespaces
      --kubeconfig FILE         kubeconfig file (else $KUBECONFIG, else ~/.kube/config)
      --context NAME            kubeconfig context
  -n, --namespace NS            namespace (default: the context's)
      --request-timeout D       limit for each API request (0: none)
  -h, --help                    this help

Exit codes:
  0  success
  1  the migration failed, or the request was refused
  2  usage error
  3  timed out while waiting
  130  interrupted (Ctrl-C) while waiting
)";
}

}  // namespace plugin
