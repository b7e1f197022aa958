// The commands of kubectl-migrate: Complete (load the kubeconfig, build the
// client) and Run (create, wait, cancel, status, list), writing to injected
// streams. main.cc only wires argv, the terminal and SIGINT to RunPlugin.
//
// Thread safety: one RunPlugin per process; Interrupter::Interrupt may be
// called from any thread (the signal thread).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "plugin/options.h"

namespace plugin {

inline constexpr const char* kVersion = "v0.1.0";

// Where the plugin writes and what it knows about the terminal. `out` carries
// only the requested output (what was created or deleted, -o json|yaml|name,
// status, list); progress, outcome lines and failures go to `err`, so that
// `-o json --wait` prints valid JSON.
struct Io {
  std::ostream& out;
  std::ostream& err;
  bool err_is_terminal = false;
  // Columns of the terminal `err` writes to now (re-read on every redraw, so
  // resizes apply); 0 when unknown.
  std::function<int()> terminal_width = [] { return 0; };
};

// Delivers Ctrl-C to a running wait. While waiting() is false nothing listens,
// and the caller (main) should simply exit with kExitInterrupted.
class Interrupter {
 public:
  void Interrupt();
  bool interrupted();
  bool waiting();

  // Used by the commands: the shared lock and wake-up of a wait.
  std::mutex mu;
  std::condition_variable cv;
  bool interrupted_ = false;  // guarded by mu
  bool waiting_ = false;      // guarded by mu
};

// kubectl's spelling of an error: "Error from server (REASON): MESSAGE" for
// API errors, "error: MESSAGE" otherwise.
std::string FormatError(const base::Status& s);

// The completion script for `shell` ("bash" or "zsh"): registers completion
// of kubectl-migrate through its hidden `__complete` command.
std::string CompletionScript(const std::string& shell);

// Parses, validates and runs; returns the exit code (options.h).
// `__complete ARGS... WORD` (what kubectl_complete-migrate and the completion
// scripts call) prints candidates for WORD, one a line, then cobra's
// directive line ":4" (no file completion).
int RunPlugin(const std::vector<std::string>& args, const Io& io, Interrupter& interrupter);

}  // namespace plugin
