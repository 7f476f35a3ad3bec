#!/usr/bin/env bash
# reconcile_unchanged.sh — times minisyncd's start-up reconciliation of an unchanged tree: FILES files
# (default 100,000, in directories of 100) are synced once (with a second short run so that directory
# attributes settle), the agent is stopped and started again, and
# the time from its start to the end of its start-up scan is measured, with the agent's peak RSS and
# a check that nothing was hashed or sent. Median of RUNS restarts (default 5).
#
# Usage: bench/reconcile_unchanged.sh [BUILD_DIR]     (default: build)
set -euo pipefail

files=${FILES:-100000}
runs=${RUNS:-5}
# shellcheck source=bench/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

python3 - "$work/tree" "$files" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(root, f"dir{i // 100:05d}")
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i % 100:03d}"), "wb") as f:
        f.write(b"x" * (i % 512))
PY

start_server "$work/root"
agent() { start_agent "$1" "$work/tree"; }
stop_agent() { kill "$agent_pid"; wait "$agent_pid" || true; agent_pid=""; }

agent "$work/first.log"
until (($(grep -c 'synced (' "$work/first.log" || true) >= files)); do sleep 0.5; done
stop_agent
# Directory attributes are sent once the agent is idle; a short second run lets any it missed settle.
agent "$work/settle.log"
until grep -q 'scanned .* to remove' "$work/settle.log"; do sleep 0.01; done
sleep 2
stop_agent
entries=$((files + (files + 99) / 100))

for _ in $(seq "$runs"); do
  start=$(now_ns)
  agent "$work/again.log"
  until grep -q 'scanned .* to remove' "$work/again.log"; do sleep 0.002; done
  end=$(now_ns)
  grep -q "$entries unchanged, 0 to send, 0 to remove" "$work/again.log" ||
    { echo "restart was not a no-op:" >&2; grep scanned "$work/again.log" >&2; exit 1; }
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status")
  stop_agent
  echo "$(echo "scale=3; ($end - $start) / 1000000000" | bc) $rss"
done | sort -n | awk -v n="$files" -v runs="$runs" '
  {t[NR]=$1; r[NR]=$2}
  END {m=int((NR+1)/2); printf "unchanged tree of %d files: start-up reconciliation %.3f s (median of %d), agent peak RSS %d MiB\n", n, t[m], runs, r[m]/1024}'
