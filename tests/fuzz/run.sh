#!/usr/bin/env bash
# Builds the fuzz targets with clang++ (libFuzzer + ASan + UBSan): the
# AdmissionReview decoder and the webhook server's HTTP/1.1 parser, and runs
# them for a bounded time in total on their seed corpora.
#
#   tests/fuzz/run.sh [SECONDS]     (default 60; env KM_FUZZ_OUT: build dir)
#
# Exit status: 0 when the run ended without a finding, 1 on a crash (the
# reproducer is left in $KM_FUZZ_OUT/artifacts), 2 when it cannot build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
out=${KM_FUZZ_OUT:-$root/build/fuzz}
mkdir -p "$out/artifacts"

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is not installed" >&2
  exit 2
fi
# Each target gets its sources compiled in, so that they carry the coverage
# instrumentation. pointer-overflow is left out: RapidJSON 1.1's internal
# stack adds an offset to its null buffer before the first allocation
# (stack.h, Stack::Push), which UBSan reports on the first input; every other
# UBSan check stays fatal.
build() {
  local name=$1
  shift
  echo "fuzz: building $out/$name"
  clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer -Wno-ambiguous-reversed-operator \
    -fsanitize=fuzzer,address,undefined -fno-sanitize=pointer-overflow \
    -fno-sanitize-recover=undefined -I"$root" "$@" -o "$out/$name" -pthread
}
# New inputs go to $out/corpus-NAME; the checked-in seeds are read only.
run() {
  local name=$1 secs=$2 seeds=$3
  mkdir -p "$out/corpus-$name"
  echo "fuzz: running $name for ${secs}s"
  "$out/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/artifacts/$name-" -print_final_stats=1 "$out/corpus-$name" "$seeds"
}
if ! build admission_review_fuzz "$root/tests/fuzz/admission_review_fuzz.cc" \
  "$root/webhook/admission_review.cc" "$root/webhook/cache.cc" \
  "$root/webhook/handler.cc" "$root/webhook/metrics.cc" "$root/webhook/http1.cc" \
  "$root/base/status.cc" "$root/base/prometheus.cc" "$root/base/log.cc" "$root/base/flags.cc" \
  "$root/kube/object.cc" "$root"/api/*.cc -DSPDLOG_COMPILED_LIB -DSPDLOG_SHARED_LIB \
  -lspdlog -lfmt ||
  ! build http1_fuzz "$root/tests/fuzz/http1_fuzz.cc" "$root/webhook/http1.cc"; then
  echo "fuzz: build failed" >&2
  exit 2
fi
# Two thirds of the time to the AdmissionReview decoder (the larger input
# space), one third to the HTTP parser. The decoder's seeds cover every field
# of a review, both endpoints' kinds and the api/ objects they carry.
decoder_secs=$(((seconds * 2 + 2) / 3))
parser_secs=$((seconds - decoder_secs > 0 ? seconds - decoder_secs : 1))
if ! run admission_review_fuzz "$decoder_secs" "$root/tests/fuzz/corpus" ||
  ! run http1_fuzz "$parser_secs" "$root/tests/fuzz/http1_corpus"; then
  echo "fuzz: FAILED; reproducers in $out/artifacts" >&2
  exit 1
fi
echo "fuzz: ok"
