#!/usr/bin/env bash
# Configures and builds everything into build/ (binaries in build/bin/).
# BUILD_DIR and CMAKE_ARGS (e.g. -DKM_SANITIZE=ON) may be set by the caller. Warnings
# are errors here (KM_WERROR), as in CI; a plain cmake build only reports them.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} -DKM_WERROR=ON ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
