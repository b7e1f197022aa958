// The outermost frame of every program's main: no exception leaves a program
// unreported (style.md §7).
#pragma once

namespace base {

// Returns run(argc, argv); an exception that escapes it is printed to stderr
// as "PROGRAM: fatal: WHAT" and the result is 1.
int RunMain(const char* program, int (*run)(int, char**), int argc, char** argv);

}  // namespace base
