#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
start=$(date +%s)
scripts/build.sh
echo "build: $(( $(date +%s) - start )) s"
start=$(date +%s)
cd "${BUILD_DIR:-build}"
# Integration tests each start their own devcluster; two at a time suits two cores.
ctest --output-on-failure -j2 "$@"
echo "tests: $(( $(date +%s) - start )) s"
