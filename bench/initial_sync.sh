#!/usr/bin/env bash
# initial_sync.sh — times minisync's initial sync of two workloads into an empty server root:
# one 200 MiB file of random data, and 1000 files of 4 KiB in 10 directories. Server and agent run
# on 127.0.0.1 over mutual TLS with durable commits, as always. Prints the median of RUNS runs.
#
# Usage: bench/initial_sync.sh [BUILD_DIR]     (default: build; RUNS=5 in the environment)
set -euo pipefail

runs=${RUNS:-5}
# shellcheck source=bench/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$work/big" "$work/small"
head -c $((200 << 20)) /dev/urandom >"$work/big/big.bin"
for d in $(seq -w 1 10); do
  mkdir -p "$work/small/dir$d"
  for f in $(seq -w 1 100); do head -c 4096 /dev/urandom >"$work/small/dir$d/file$f"; done
done

# One run: empty root, start the server, start the agent on FOLDER, wait until COUNT files are
# reported synced, print the elapsed seconds from agent start.
one_run() {
  local folder=$1 count=$2 root=$work/root log=$work/agent.log start end
  rm -rf -- "$root" "$work"/state.db*
  start_server "$root"
  start=$(now_ns)
  start_agent "$log" "$folder"
  until (($(grep -c 'synced (' "$log" || true) >= count)); do sleep 0.005; done
  end=$(now_ns)
  stop_daemons
  cmp -s "$folder/$(cd "$folder" && find . -type f | head -n 1)" \
    "$root/mini-rsync-client/$(basename "$folder")/$(cd "$folder" && find . -type f | head -n 1)" ||
    { echo "content differs after sync" >&2; exit 1; }
  echo "scale=3; ($end - $start) / 1000000000" | bc
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

big=$(for _ in $(seq "$runs"); do one_run "$work/big" 1; done | median)
small=$(for _ in $(seq "$runs"); do one_run "$work/small" 1000; done | median)
printf 'workload                       median of %d   rate\n' "$runs"
printf '200 MiB file, initial sync     %6.3f s      %6.0f MiB/s\n' "$big" "$(echo "200 / $big" | bc -l)"
printf '1000 x 4 KiB, initial sync     %6.3f s      %6.0f files/s\n' "$small" "$(echo "1000 / $small" | bc -l)"
