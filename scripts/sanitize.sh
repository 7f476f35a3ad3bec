#!/usr/bin/env bash
# sanitize.sh — owns the sanitizer run: builds the whole tree (daemons, server, tests) with AddressSanitizer
# and UndefinedBehaviorSanitizer in a build directory of its own and runs the unit and integration tests
# against those binaries. Any finding aborts the process it happens in, so the test that drove it fails.
#
# The build uses clang (installed for scripts/fuzz.sh) at -O1 with line tables only, the optimisation
# level the sanitizers' authors recommend and all a report needs to name file and line: it compiles about
# four times faster than GCC instrumenting at -O2 with full debug information, which kept CI over its time.
# The plain build (scripts/test.sh) stays with GCC, so both compilers check the code.
#
# Usage: scripts/sanitize.sh [CTEST_ARGS...]     (works from any directory)
# Environment: BUILD_DIR (default: build-asan), SANITIZERS (default: address,undefined; "thread" for TSan,
#              which needs a build directory of its own, e.g. BUILD_DIR=build-tsan).
# Exit status: ctest's (non-zero if configuring or building fails).
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build-asan}
sanitizers=${SANITIZERS:-address,undefined}

scripts/deps.sh
# With ASan and UBSan the tree also builds the libFuzzer targets (MINISYNC_FUZZ: coverage hooks on every
# object), so that scripts/fuzz.sh can run them from here (BUILD_DIR=build-asan, as .ci/run does)
# instead of building every library a third time.
fuzz=OFF
if [[ $sanitizers == address,undefined ]]; then
  fuzz=ON
fi
cmake -S . -B "$build_dir" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DMINISYNC_SANITIZE="$sanitizers" -DMINISYNC_FUZZ="$fuzz"
cmake --build "$build_dir" -j2

# clang's runtimes name file and line through llvm-symbolizer (package llvm-14, which deps.sh installs).
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} && -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
# Leak checks run when a process exits normally (a daemon stopped with SIGTERM, every test binary).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# The install checks test cmake --install and unit files, not code: the plain build covers them.
exec ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900 -LE install "$@"
