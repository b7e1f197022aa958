#!/usr/bin/env bash
# Builds the AdmissionReview fuzz target with clang++ (libFuzzer + ASan +
# UBSan) and runs it for a bounded time on the seed corpus.
#
#   tests/fuzz/run.sh [SECONDS]     (default 60; env KM_FUZZ_OUT: build dir)
#
# Exit status: 0 when the run ended without a finding, 1 on a crash (the
# reproducer is left in $KM_FUZZ_OUT/artifacts), 2 when it cannot build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
out=${KM_FUZZ_OUT:-$root/build/fuzz}
mkdir -p "$out/artifacts" "$out/corpus"

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is not installed" >&2
  exit 2
fi
sources=(
  "$root/tests/fuzz/admission_review_fuzz.cc"
  "$root/webhook/admission_review.cc" "$root/webhook/cache.cc"
  "$root/webhook/handler.cc" "$root/webhook/metrics.cc"
  "$root/kube/status.cc" "$root/kube/object.cc"
  "$root"/api/*.cc
)
# pointer-overflow is left out: RapidJSON 1.1's internal stack adds an offset
# to its null buffer before the first allocation (stack.h, Stack::Push), which
# UBSan reports on the first input; every other UBSan check stays fatal.
echo "fuzz: building $out/admission_review_fuzz"
if ! clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer -Wno-ambiguous-reversed-operator \
  -fsanitize=fuzzer,address,undefined -fno-sanitize=pointer-overflow \
  -fno-sanitize-recover=undefined \
  -I"$root" "${sources[@]}" -o "$out/admission_review_fuzz" -pthread; then
  echo "fuzz: build failed" >&2
  exit 2
fi
# New inputs go to $out/corpus; the checked-in seeds are read only. The
# dictionary-like seeds cover every field of a review, both endpoints' kinds
# and the api/ objects they carry.
echo "fuzz: running for ${seconds}s"
if ! "$out/admission_review_fuzz" -max_total_time="$seconds" -max_len=65536 \
  -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" \
  -print_final_stats=1 "$out/corpus" "$root/tests/fuzz/corpus"; then
  echo "fuzz: FAILED; reproducers in $out/artifacts" >&2
  exit 1
fi
echo "fuzz: ok"
