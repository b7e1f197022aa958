// kubectl-migrate: wires argv, the terminal and SIGINT to plugin::RunPlugin.
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <thread>

#include "plugin/commands.h"

int main(int argc, char** argv) {
  try {
    // SIGINT is taken by a thread of its own (sigwait) rather than a handler,
    // so that it may lock and notify the running wait. Blocked before any
    // other thread exists, so every thread inherits the mask.
    // A shell starts background jobs with SIGINT ignored, and Linux discards
    // ignored signals even when blocked; restore the default so sigwait sees it.
    signal(SIGINT, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    plugin::Interrupter interrupter;
    std::thread([&interrupter, set] {
      int sig = 0;
      while (sigwait(&set, &sig) == 0) {
        interrupter.Interrupt();
        // Nothing is waiting: behave as an unhandled Ctrl-C would.
        if (!interrupter.waiting()) {
          std::fflush(stdout);
          _exit(plugin::kExitInterrupted);
        }
      }
    }).detach();

    plugin::Io io{std::cout, std::cerr, isatty(STDERR_FILENO) == 1, [] {
                    struct winsize ws {};
                    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0)
                      return static_cast<int>(ws.ws_col);
                    return 0;
                  }};
    std::vector<std::string> args(argv + 1, argv + argc);
    int code = plugin::RunPlugin(args, io, interrupter);
    std::cout.flush();
    std::cerr.flush();
    // _exit: the detached signal thread is still blocked in sigwait.
    _exit(code);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
