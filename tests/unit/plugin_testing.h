// Helpers shared by the kubectl-migrate unit tests.
#ifndef KUBEMIGRATE_TESTS_UNIT_PLUGIN_TESTING_H_
#define KUBEMIGRATE_TESTS_UNIT_PLUGIN_TESTING_H_

#include <sstream>
#include <string>
#include <vector>

#include "plugin/commands.h"

namespace plugin::testing {

// What one run of the plugin returned and printed.
struct Result {
  int code;
  std::string out, err;
};

// Runs the plugin in process with `args` (without the program name), capturing its stdout and
// stderr; nothing interrupts it.
inline Result Run(std::vector<std::string> args) {
  std::ostringstream out, err;
  Io io{out, err};
  Interrupter intr;
  int code = RunPlugin(args, io, intr);
  return {code, out.str(), err.str()};
}

}  // namespace plugin::testing

#endif  // KUBEMIGRATE_TESTS_UNIT_PLUGIN_TESTING_H_
