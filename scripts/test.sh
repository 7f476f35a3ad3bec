#!/usr/bin/env bash
# test.sh — owns the full "install deps, configure, build, run every test" cycle (used by CI).
#
# Usage: scripts/test.sh [CTEST_ARGS...]     (works from any directory)
# Environment: BUILD_DIR (default: build, relative to the repo root),
#              BUILD_TYPE (default: RelWithDebInfo).
# Exit status: ctest's (non-zero if configuring or building fails).
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-RelWithDebInfo}

scripts/deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type"
cmake --build "$build_dir" -j2
exec ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600 "$@"
