#!/usr/bin/env bash
# fuzz.sh — owns building the libFuzzer targets (tests/fuzz/fuzz_*.cc) with clang and running each one
# for a bounded time over a scratch copy of its seed corpus.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]     (works from any directory)
# Environment: FUZZ_SECONDS (default 60; the argument wins),
#              BUILD_DIR (default: build-fuzz, relative to the repo root; one that scripts/sanitize.sh
#              configured for fuzzing, such as build-asan, is used as it is).
# Targets run side by side, one per core. Each runs in BUILD_DIR/fuzz/<target>/: corpus/ starts as a copy of tests/fuzz/corpus/<target>/
# and collects the new inputs (the checked-in corpus is never written), fuzz.log is libFuzzer's output,
# and a crash, leak, timeout or OOM leaves its input there as crash-*, leak-*, timeout-* or oom-*.
# Exit status: 0 when every target ran clean, 1 when any failed (its input's path is printed), 2 on a
# usage error; a failed configure or build exits with cmake's status.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

seconds=${1:-${FUZZ_SECONDS:-60}}
if [[ $# -gt 1 || ! $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (a positive integer; default \$FUZZ_SECONDS or 60)" >&2
  exit 2
fi
build_dir=${BUILD_DIR:-build-fuzz}

targets=()
for source in tests/fuzz/fuzz_*.cc; do
  name=${source##*/}
  targets+=("${name%.cc}")
done

scripts/deps.sh
# libFuzzer comes with clang; the top CMakeLists.txt refuses MINISYNC_FUZZ with any other compiler.
# A build directory made for fuzzing already (scripts/sanitize.sh's, say) is used as it is configured.
if ! grep -qx 'MINISYNC_FUZZ:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DMINISYNC_FUZZ=ON -DMINISYNC_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build_dir" -j2 --target minisync_fuzzers

# A sanitizer report says where, not only what.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Runs one target in its run directory; its exit status and time go to files there for the summary.
run_target() {
  local target=$1 run_dir=$2
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$run_dir/")
  if [[ -f tests/fuzz/$target.dict ]]; then
    args+=(-dict="tests/fuzz/$target.dict")
  fi
  local started=$SECONDS status=0
  # TMPDIR: a target's scratch files (fuzz_config_loader's config file) stay in its run directory, and a
  # crash, which skips their cleanup, leaves nothing behind elsewhere.
  TMPDIR="$run_dir" "$build_dir/tests/fuzz/$target" "${args[@]}" "$run_dir/corpus" >"$run_dir/fuzz.log" 2>&1 ||
    status=$?
  echo "$status" >"$run_dir/exit_status"
  echo "$((SECONDS - started))" >"$run_dir/elapsed"
}

# libFuzzer runs one process per target: as many targets run at once as there are cores.
parallel=$(nproc)
run_dirs=()
for target in "${targets[@]}"; do
  run_dir="$build_dir/fuzz/$target"
  rm -rf -- "$run_dir"
  mkdir -p -- "$run_dir/corpus"
  run_dir=$(cd -- "$run_dir" && pwd) # absolute, for the paths printed below
  cp -R -- "tests/fuzz/corpus/$target/." "$run_dir/corpus/"
  run_dirs+=("$run_dir")
  echo "fuzz.sh: $target for ${seconds}s (log: $run_dir/fuzz.log)"
  run_target "$target" "$run_dir" &
  while (($(jobs -rp | wc -l) >= parallel)); do
    wait -n || true
  done
done
wait

summary=()
failed=0
for i in "${!targets[@]}"; do
  target=${targets[$i]}
  run_dir=${run_dirs[$i]}
  status=$(cat "$run_dir/exit_status")
  elapsed=$(cat "$run_dir/elapsed")

  # The final stats when libFuzzer got to print them, else its last status line ("#RUNS ... cov: N ft: N").
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run_dir/fuzz.log" | tail -n 1)
  status_line=$(grep -E '^#[0-9]+.* cov: ' "$run_dir/fuzz.log" | tail -n 1 || true)
  if [[ -z $runs && $status_line =~ ^#([0-9]+) ]]; then
    runs=${BASH_REMATCH[1]}
  fi
  coverage="cov ?"
  if [[ $status_line =~ cov:\ ([0-9]+)\ ft:\ ([0-9]+)\ corp:\ ([0-9]+) ]]; then
    coverage="cov ${BASH_REMATCH[1]} edges, ft ${BASH_REMATCH[2]}, corpus ${BASH_REMATCH[3]} inputs"
  fi
  line="$target: ${runs:-?} runs, $coverage, ${elapsed}s"

  if ((status == 0)); then
    summary+=("$line: ok")
  else
    failed=1
    artifacts=$(find "$run_dir" -maxdepth 1 -type f \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort | paste -s -d ' ')
    summary+=("$line: FAILED (exit $status); input: ${artifacts:-none saved}; log: $run_dir/fuzz.log")
  fi
done

echo "fuzz.sh: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
