#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every test.
#
# Tests run against an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-test/): a memory error or undefined behaviour aborts the process and
# fails the test. `scripts/test.sh --fast` uses the plain build (build/)
# instead. Extra arguments go to ctest (e.g. -R informer).
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=1
if [[ "${1:-}" == "--fast" ]]; then
  SANITIZE=0
  shift
fi
scripts/install-deps.sh
start=$(date +%s)
if ((SANITIZE)); then
  export BUILD_DIR=${BUILD_DIR:-build-test} BUILD_TYPE=${BUILD_TYPE:-Debug}
  export CMAKE_ARGS="-DKM_SANITIZE=ON ${CMAKE_ARGS:-}"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
start=$(date +%s)
cd "${BUILD_DIR:-build}"
# Integration tests each start their own devcluster; two at a time suits two cores.
ctest --output-on-failure -j2 --timeout 300 "$@"
echo "tests: $(( $(date +%s) - start )) s"
cd - >/dev/null
# The AdmissionReview decoder under libFuzzer (clang, ASan, UBSan) for a
# bounded time; a crash fails the run and leaves its reproducer.
if (($# == 0)); then
  KM_FUZZ_OUT=${BUILD_DIR:-build}/fuzz tests/fuzz/run.sh "${KM_FUZZ_SECONDS:-30}"
fi
