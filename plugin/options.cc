#include "plugin/options.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "api/names.h"
#include "base/flags.h"

namespace plugin {
namespace {

constexpr const char* kSubcommands[] = {"cancel",   "status",  "list",       "evacuate",
                                        "uncordon", "version", "completion", "help"};

std::optional<Command> SubcommandOf(std::string_view word) {
  if (word == "cancel") return Command::kCancel;
  if (word == "status") return Command::kStatus;
  if (word == "list") return Command::kList;
  if (word == "evacuate") return Command::kEvacuate;
  if (word == "uncordon") return Command::kUncordon;
  if (word == "version") return Command::kVersion;
  if (word == "completion") return Command::kCompletion;
  if (word == "help") return Command::kHelp;
  return std::nullopt;
}

// Optimal string alignment distance (Levenshtein plus swaps of neighbours).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string SuggestCommand(std::string_view word) {
  std::string best;
  size_t best_distance = 3;
  for (const char* c : kSubcommands) {
    size_t dist = EditDistance(word, c);
    if (dist == 0) return "";
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
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
  base::FlagSet fs;
  // kubectl's connection flags, and ours; one table with base::FlagSet.
  fs.String("kubeconfig", &o.kubeconfig, "FILE", "kubeconfig file");
  fs.String("context", &o.context, "NAME", "kubeconfig context");
  fs.String("namespace", &o.namespace_, "NS", "namespace", 'n');
  fs.String("to", &o.to_node, "NODE", "target node");
  for (const char* name : {"kubeconfig", "context", "namespace", "to"}) fs.NonEmpty(name);
  auto duration = [](std::optional<std::chrono::milliseconds>* out) {
    return [out](const std::string& v) -> base::Status {
      auto d = ParseDuration(v);
      if (!d.ok()) return d.status();
      *out = *d;
      return base::Status::Ok();
    };
  };
  fs.Custom("request-timeout", duration(&o.request_timeout), "D", "limit for each API request");
  fs.Custom("timeout", duration(&o.timeout), "D", "stop waiting after D");
  fs.Custom(
      "output",
      [&o](const std::string& v) -> base::Status {
        if (v == "name") {
          o.output = OutputFormat::kName;
        } else if (v == "json") {
          o.output = OutputFormat::kJson;
        } else if (v == "yaml") {
          o.output = OutputFormat::kYaml;
        } else {
          return base::InvalidArgument("unable to match a printer suitable for the output format \"" +
                                       v + "\", allowed formats are: json,name,yaml");
        }
        return base::Status::Ok();
      },
      "FORMAT", "output format", "", 'o');
  fs.Custom(
      "dry-run",
      [&o](const std::string& v) -> base::Status {
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
        return base::Status::Ok();
      },
      "MODE", "do not store the migration");
  // kubectl requires the value; a bare --dry-run is its deprecated "client".
  fs.SetNoValueDefault("dry-run", "client");
  fs.Bool("wait", &o.wait, "follow the migration");
  fs.Bool("retry-on-limit", &o.retry_on_limit, "retry a refusal for a limit");
  fs.Bool("cancel-on-interrupt", &o.cancel_on_interrupt, "Ctrl-C cancels");
  fs.Bool("all-namespaces", &o.all_namespaces, "list: all namespaces", 'A');

  base::Status parsed = fs.Parse(args);
  // Help wins over every other problem on the line, as in kubectl.
  if (fs.help_requested()) {
    o.command = Command::kHelp;
    if (!fs.positional().empty() && fs.positional_before_dashdash() > 0) {
      auto sub = SubcommandOf(fs.positional()[0]);
      if (sub && *sub != Command::kHelp) o.help_for = *sub;
    }
    return o;
  }
  if (!parsed.ok()) return parsed;
  const std::vector<std::string>& positional = fs.positional();
  // Words after "--" are names, never subcommands ("kubectl migrate -- list").
  const size_t before_dashdash = fs.positional_before_dashdash();

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
    } else if (p == "evacuate") {
      o.command = Command::kEvacuate;
      first = 1;
    } else if (p == "uncordon") {
      o.command = Command::kUncordon;
      first = 1;
    } else if (p == "version") {
      o.command = Command::kVersion;
      first = 1;
    } else if (p == "completion") {
      o.command = Command::kCompletion;
      first = 1;
    } else if (p == "help") {
      // "help cancel": the subcommand's help.
      o.command = Command::kHelp;
      if (positional.size() > 1) {
        auto sub = SubcommandOf(positional[1]);
        if (!sub || *sub == Command::kHelp) {
          return base::InvalidArgument("unknown command \"" + positional[1] +
                                       "\": the commands are cancel, status, list, evacuate, "
                                       "uncordon, version, completion");
        }
        o.help_for = *sub;
      }
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
  } else if (o.command == Command::kEvacuate || o.command == Command::kUncordon) {
    if (rest.empty()) return base::InvalidArgument("a node name is required");
    if (rest.size() > 1) return base::InvalidArgument("unexpected argument \"" + rest[1] + "\"");
    o.node = rest[0];
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
  if (wants_vmi && !api::IsDns1123Subdomain(o.vmi)) {
    problems.push_back("invalid VMI name \"" + o.vmi +
                       "\": must be a DNS-1123 subdomain (at most 253 lower-case letters, digits, "
                       "'-' or '.', each dot-separated part starting and ending with a letter or "
                       "digit)");
  }
  if (!o.namespace_.empty() && !api::IsDns1123Label(o.namespace_)) {
    problems.push_back("invalid namespace \"" + o.namespace_ + "\": must be a DNS-1123 label");
  }
  if (!o.to_node.empty() && !api::IsDns1123Subdomain(o.to_node)) {
    problems.push_back("invalid --to node name \"" + o.to_node +
                       "\": must be a DNS-1123 subdomain");
  }
  const bool is_evacuate = o.command == Command::kEvacuate;
  if ((is_evacuate || o.command == Command::kUncordon) && !api::IsDns1123Subdomain(o.node)) {
    problems.push_back("invalid node name \"" + o.node + "\": must be a DNS-1123 subdomain");
  }
  bool is_migrate = o.command == Command::kMigrate;
  if (!is_migrate) {
    if (!o.to_node.empty()) problems.push_back("--to applies only to creating a migration");
    if (o.dry_run != DryRun::kNone && !is_evacuate)
      problems.push_back("--dry-run applies only to creating a migration and to evacuate");
    if (o.retry_on_limit) {
      problems.push_back(is_evacuate ? "--retry-on-limit: evacuate always waits for free slots"
                                     : "--retry-on-limit applies only to creating a migration");
    }
    if (o.cancel_on_interrupt && !is_evacuate) {
      problems.push_back("--cancel-on-interrupt applies only to creating a migration and to evacuate");
    }
    if (o.output != OutputFormat::kDefault && o.command != Command::kList)
      problems.push_back("-o applies only to creating a migration and to list");
  }
  if (o.command != Command::kMigrate && o.command != Command::kCancel && !is_evacuate && o.wait) {
    problems.push_back("--wait applies only to creating or cancelling a migration and to evacuate");
  }
  if (is_evacuate && o.wait && o.dry_run != DryRun::kNone) {
    problems.push_back("--wait cannot be combined with --dry-run");
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

std::string HelpText(Command command) {
  static constexpr const char* kConnection = R"(
Connection flags:
      --kubeconfig FILE         kubeconfig file (else $KUBECONFIG, else ~/.kube/config)
      --context NAME            kubeconfig context
  -n, --namespace NS            namespace (default: the context's)
      --request-timeout D       limit for each API request (0: none)
  -h, --help                    this help
)";
  switch (command) {
    case Command::kCancel:
      return std::string(R"(Cancel the migration of a VMI in progress: delete its VMIMs that are not finished.

Usage:
  kubectl migrate cancel VMI [--wait [--timeout D]]

Examples:
  # Cancel and wait until the abort is done (or the migration turns out never to have started)
  kubectl migrate cancel vmi-fedora --wait

Flags:
      --wait                    wait for the end of the abort (the VMI's abortStatus, or the
                                VMIM gone for a migration that never started)
      --timeout DURATION        stop waiting after DURATION (30s, 5m, 1h)
)") + kConnection + R"(
Exit codes: 0 cancelled; 1 nothing to cancel, abort failed or the migration completed first;
3 timed out while waiting; 130 interrupted.
)";
    case Command::kStatus:
      return std::string(R"(Show the migration of a VMI in progress, else its last one.

Usage:
  kubectl migrate status VMI

Examples:
  kubectl migrate status vmi-fedora -n vms
)") + kConnection + R"(
Exit codes: 0 shown; 1 no migration known for the VMI, or the request failed.
)";
    case Command::kList:
      return std::string(R"(List migrations: one line each, ASCII, no spaces inside a column, <none> for empty cells.

Usage:
  kubectl migrate list [-A] [-o name|json|yaml]

Examples:
  kubectl migrate list -A
  kubectl migrate list -o json | jq -r '.items[].metadata.name'

Flags:
  -A, --all-namespaces          all namespaces
  -o, --output name|json|yaml   the VMIMs as stored, as kubectl get -o prints them
)") + kConnection;
    case Command::kEvacuate:
      return std::string(R"(Empty a node of its running VMIs: cordon it, then live-migrate each VMI to other nodes.

Usage:
  kubectl migrate evacuate NODE [--wait [--timeout D]] [--dry-run] [--cancel-on-interrupt]

The node is cordoned first (spec.unschedulable: no VMI and no migration goes there). Every
Running VMI of the node, in all namespaces, gets a VirtualMachineInstanceMigration; the cluster's
limits (parallelMigrationsPerCluster, parallelOutboundMigrationsPerNode) are kept: a migration
refused for a limit is created again as slots free up. A VMI that already has a migration in
progress is followed, not migrated twice. VMIs whose LiveMigratable condition is False stay, and
the summary says why. One line per VMI on stderr when its state changes; the summary at the end.

Examples:
  # What would happen, changing nothing
  kubectl migrate evacuate node01 --dry-run

  # Empty node01 and wait until every VMI has moved, at most 30 minutes
  kubectl migrate evacuate node01 --wait --timeout 30m

  # Undo the cordon after the maintenance
  kubectl migrate uncordon node01

Flags:
      --wait                    wait until every migration has ended (without it: until every
                                migratable VMI has its migration admitted)
      --timeout DURATION        stop waiting after DURATION (30s, 5m, 1h)
      --dry-run                 list what would happen; change nothing (not even the cordon)
      --cancel-on-interrupt     Ctrl-C cancels the migrations it started that have not ended
                                (without it they go on, and the node stays cordoned)
)") + kConnection + R"(
Exit codes: 0 every VMI moved (with --wait) or has its migration admitted (without); 1 a VMI
is not migratable, a migration failed or could not be created, or the node does not exist;
3 timed out; 130 interrupted.
)";
    case Command::kUncordon:
      return std::string(R"(Make a node schedulable again (spec.unschedulable removed), after an evacuate.

Usage:
  kubectl migrate uncordon NODE
)") + kConnection + R"(
Exit codes: 0 done (also when it was not cordoned); 1 the node does not exist or the request failed.
)";
    case Command::kVersion:
      return R"(Print the version of kubectl-migrate.

Usage:
  kubectl migrate version
)";
    case Command::kCompletion:
      return R"(Print a shell completion script for kubectl-migrate.

Usage:
  kubectl migrate completion bash|zsh

Examples:
  source <(kubectl migrate completion bash)
)";
    default:
      break;
  }
  return R"(Live-migrate a KubeVirt VirtualMachineInstance and follow the migration.

Usage:
  kubectl migrate VMI [--to NODE] [--wait [--timeout D] [--cancel-on-interrupt]]
                      [--dry-run=server|client] [-o name|json|yaml] [--retry-on-limit]
  kubectl migrate cancel VMI [--wait [--timeout D]]
  kubectl migrate status VMI
  kubectl migrate list [-A] [-o name|json|yaml]
  kubectl migrate evacuate NODE [--wait [--timeout D]] [--dry-run] [--cancel-on-interrupt]
  kubectl migrate uncordon NODE
  kubectl migrate version
  kubectl migrate completion bash|zsh

Each command has its own help: kubectl migrate cancel --help (or kubectl migrate help cancel).

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

  # Node maintenance: move every VMI off node01, within the cluster's limits
  kubectl migrate evacuate node01 --wait

  # Completion for kubectl-migrate in bash (kubectl migrate <TAB> uses kubectl_complete-migrate)
  source <(kubectl migrate completion bash)

Flags:
      --to NODE                 target node (spec.addedNodeSelector kubernetes.io/hostname)
      --wait                    follow the migration until it succeeds or fails
      --timeout DURATION        stop waiting (and retrying) after DURATION (30s, 5m, 1h)
      --cancel-on-interrupt     with --wait: Ctrl-C cancels the migration
      --retry-on-limit          when refused for a limit (HTTP 429), wait and try again
      --dry-run=server|client   do not store the migration
  -o, --output name|json|yaml   output format of the created migration (stdout carries only it;
                                progress and outcome go to stderr)
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
