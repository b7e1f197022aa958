#include "base/run_main.h"

#include <exception>
#include <iostream>

namespace base {

int RunMain(const char* program, int (*run)(int, char**), int argc, char** argv) {
  // stderr, not the logger: the failure may come before logging is set up.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << program << ": fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << program << ": fatal: unknown exception\n";
  }
  return 1;
}

}  // namespace base
