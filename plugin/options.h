// Command-line options of kubectl-migrate, following kubectl's Options ->
// Complete -> Validate -> Run shape (kubernetes/sample-cli-plugin).
//
// ParseArgs only splits and type-checks the command line (no I/O, no
// environment); Validate checks values that need no cluster (names, formats,
// flag combinations). Loading the kubeconfig (Complete) lives in commands.h.
// Thread safety: pure functions on values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace plugin {

// Exit codes (documented in --help and docs/plugin.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;         // the migration failed, or the request was refused
inline constexpr int kExitUsage = 2;          // bad command line
inline constexpr int kExitTimedOut = 3;       // --timeout passed while waiting
inline constexpr int kExitInterrupted = 130;  // SIGINT while waiting (128 + 2, as shells do)

enum class Command {
  kMigrate,
  kCancel,
  kStatus,
  kList,
  kEvacuate,
  kUncordon,
  kVersion,
  kHelp,
  kCompletion
};
enum class OutputFormat { kDefault, kName, kJson, kYaml };
enum class DryRun { kNone, kClient, kServer };

struct Options {
  Command command = Command::kMigrate;
  // kHelp: the subcommand whose help was asked for ("cancel --help",
  // "help cancel"); kMigrate for the plugin's own help.
  Command help_for = Command::kMigrate;
  std::string vmi;    // the positional VMI name (kMigrate, kCancel, kStatus)
  std::string node;   // the positional node name (kEvacuate, kUncordon)
  std::string shell;  // kCompletion: "bash" or "zsh"

  // kubectl's connection flags; empty means "not given".
  std::string kubeconfig;
  std::string context;
  std::string namespace_;
  std::optional<std::chrono::milliseconds> request_timeout;  // 0 = no limit

  std::string to_node;  // --to
  OutputFormat output = OutputFormat::kDefault;
  DryRun dry_run = DryRun::kNone;
  bool wait = false;
  std::optional<std::chrono::milliseconds> timeout;  // --timeout (waiting and retrying)
  bool retry_on_limit = false;
  bool cancel_on_interrupt = false;
  bool all_namespaces = false;  // -A (list)
};

// Parses argv[1..] (the plugin's arguments as kubectl passes them).
// InvalidArgument naming the flag for unknown flags, missing values, bad
// values and extra arguments. "-h"/"--help" anywhere yields Command::kHelp.
base::StatusOr<Options> ParseArgs(const std::vector<std::string>& args);

// Checks what needs no cluster: the names, by the API server's rules
// (api/names.h: a VMI or node name is a DNS-1123 subdomain, a namespace a
// DNS-1123 label), flags that make no sense for the command. Every problem is listed
// in the one InvalidArgument message, separated by "; ".
base::Status Validate(const Options& options);

// Durations as kubectl takes them: Go's "1h2m3.5s", "300ms", "90s", or a bare
// integer meaning seconds ("30"). Negative or malformed: InvalidArgument.
base::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The --help text of `command` (usage, flags that apply, examples, exit
// codes); kMigrate (and kHelp) give the plugin's full help.
std::string HelpText(Command command = Command::kMigrate);

// The subcommand `word` was probably meant to be ("lsit" → "list"): the one
// within two edits (insertions, deletions, substitutions or a swap of
// neighbours), or "" when none is, or when `word` is one exactly.
std::string SuggestCommand(std::string_view word);

}  // namespace plugin
