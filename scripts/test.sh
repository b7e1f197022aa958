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
# The AdmissionReview decoder under libFuzzer (clang, ASan, UBSan) for a
# bounded time, before ctest so that ctest's summary closes the output; a
# crash fails the run (after the tests) and leaves its reproducer.
FUZZ_RC=0
if (($# == 0)); then
  FUZZ_OUT=${BUILD_DIR:-build}/fuzz
  mkdir -p "$FUZZ_OUT"
  if KM_FUZZ_OUT=$FUZZ_OUT tests/fuzz/run.sh "${KM_FUZZ_SECONDS:-30}" >"$FUZZ_OUT/run.log" 2>&1; then
    echo "fuzz: ${KM_FUZZ_SECONDS:-30} s of libFuzzer on the AdmissionReview decoder and the HTTP parser, no crash ($FUZZ_OUT/run.log)"
  else
    FUZZ_RC=1
    tail -n 40 "$FUZZ_OUT/run.log"
    echo "fuzz: FAILED (reproducer in $FUZZ_OUT/artifacts)"
  fi
fi
cd "${BUILD_DIR:-build}"
# Integration tests each start their own devcluster; two at a time suits two
# cores. ctest's summary (and its total time) is the last thing printed.
ctest --output-on-failure -j2 --timeout 300 "$@"
exit "$FUZZ_RC"
