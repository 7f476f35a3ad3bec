#!/usr/bin/env bash
# quickstart.sh — owns the "try minisync in one command" path: install deps, build,
# make development certificates, then run a local minisync-server and a minisyncd agent
# syncing FOLDER, in the foreground until Ctrl-C.
#
# Usage: scripts/quickstart.sh [FOLDER[=NAME]]        (works from any directory)
#
# FOLDER (default: my_folder in the repo root) is resolved against the directory you run
# the script from, and created if missing; NAME defaults to its basename, as for minisyncd.
# Everything else lives in the repository root:
#   build/      optimised build, shared with scripts/test.sh
#   dev-certs/  development CA, server and client certificates (scripts/gen-certs.sh)
#   dev-data/   the server's root: synced files land in dev-data/mini-rsync-client/NAME/
#   dev-state/  the agent's state database, kept with this server's data (delete both together)
# Ctrl-C (or SIGTERM/SIGHUP) stops both daemons and exits 0 if both stopped cleanly. If either
# daemon exits on its own, the other is stopped and the script exits non-zero.
set -euo pipefail

LISTEN=127.0.0.1:7443
HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
CLIENT_CN=mini-rsync-client

say() { echo "quickstart: $*"; }
die() { echo "quickstart: $*" >&2; exit 1; }

if (($# > 1)) || [[ ${1:-} == -* ]]; then
  echo "usage: scripts/quickstart.sh [FOLDER[=NAME]]" >&2
  exit 2
fi

# ---- resolve FOLDER relative to the caller's cwd, before changing directory ---------

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)

folder_name=""            # empty: minisyncd uses the basename
if [[ -n ${1:-} ]]; then
  folder_spec=$1
  if [[ $folder_spec == *=* ]]; then   # FOLDER=NAME: the last '=' splits, as in minisyncd
    folder_name=${folder_spec##*=}
    folder_spec=${folder_spec%=*}
  fi
  [[ -n $folder_spec ]] || die "empty FOLDER in '$1'"
  folder=$(realpath -ms -- "$folder_spec")
else
  folder=$repo/my_folder
fi
name=${folder_name:-$(basename -- "$folder")}
if [[ -z $name || $name == . || $name == .. || $name == */* ]]; then
  die "'$name' is not a valid folder name; give one as FOLDER=NAME"
fi
# minisyncd splits FOLDER=NAME at the last '=': pass NAME explicitly whenever the path
# itself contains one, so that it cannot be misread.
if [[ -n $folder_name || $folder == *=* ]]; then
  [[ $name != *=* ]] || die "'$folder' contains '='; pass FOLDER=NAME with a NAME without '='"
  folder_arg=$folder=$name
else
  folder_arg=$folder
fi

cd -- "$repo"

# ---- build, certificates, folder --------------------------------------------------

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target minisync-server minisyncd minisyncctl

server_bin=build/server/minisync-server
agent_bin=build/daemon/minisyncd
for bin in "$server_bin" "$agent_bin"; do
  [[ -x $bin ]] || die "$bin was not built"
done

if [[ ! -f dev-certs/ca.crt ]]; then
  scripts/gen-certs.sh dev-certs
fi
mkdir -p -- "$folder"

# ---- run ----------------------------------------------------------------------------

port_open() { # is something listening on HOST:PORT?
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$PORT" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
  fi
}

# True while PID is a live (not zombie) child of this shell; never true for a recycled PID.
alive() {
  local stat ppid
  read -r stat ppid < <(ps -o stat=,ppid= -p "$1" 2>/dev/null) || return 1
  [[ $stat != Z* && $ppid == "$$" ]]
}

server_pid="" agent_pid="" stopped=""
stop_status=0

# Send SIGTERM to the daemons still running, give them 10 s, then SIGKILL; reap them all.
# Sets stop_status to 1 if any of them did not exit 0. Runs at most once.
stop_all() {
  [[ -z $stopped ]] || return 0
  stopped=1
  local pid pids=() rc deadline=$((SECONDS + 10))
  for pid in "$agent_pid" "$server_pid"; do
    [[ -n $pid ]] || continue
    pids+=("$pid")
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${pids[@]}"; do
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$pid"; then
      echo "quickstart: pid $pid did not stop within 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    ((rc == 0)) || stop_status=1
  done
}

# shellcheck disable=SC2317  # (only reached through the trap below)
on_signal() {
  trap '' INT TERM HUP
  echo
  say "stopping server and agent..."
  stop_all
  if ((stop_status == 0)); then say "stopped."; else say "a daemon did not stop cleanly."; fi
  exit "$stop_status"
}
trap on_signal INT TERM HUP
trap stop_all EXIT

if port_open; then
  die "something is already listening on $LISTEN; stop it first"
fi

# The daemons run in their own session (setsid, which execs in place here, keeping the PID),
# so that Ctrl-C in the terminal reaches only this script, and each daemon gets exactly one
# SIGTERM from stop_all rather than a SIGINT and then a SIGTERM.

setsid "$server_bin" --listen "$LISTEN" --root ./dev-data \
  --cert dev-certs/server.crt --key dev-certs/server.key --ca dev-certs/ca.crt &
server_pid=$!

deadline=$((SECONDS + 10))
until port_open; do
  alive "$server_pid" || die "minisync-server exited during start-up"
  ((SECONDS < deadline)) || die "minisync-server is not listening on $LISTEN after 10 s"
  sleep 0.1
done

# The agent's state describes what this server holds, so it lives beside dev-data rather than in
# ~/.local/state, where another checkout's quickstart would share it.
mkdir -p dev-state
setsid "$agent_bin" --server "$LISTEN" --state dev-state/minisyncd.db \
  --cert dev-certs/client.crt --key dev-certs/client.key --ca dev-certs/ca.crt "$folder_arg" &
agent_pid=$!

say "server on $LISTEN (pid $server_pid), agent (pid $agent_pid) syncing $folder"
say "files land in ./dev-data/$CLIENT_CN/$name/ (in $repo)"
say "press Ctrl-C to stop both"

# Stay in the foreground until one daemon exits on its own. (Polling rather than `wait -n`:
# bash 5.2's `wait -n` misses a child that has already been reaped.) The sleep runs in the
# background so that Ctrl-C is handled at once.
while alive "$server_pid" && alive "$agent_pid"; do
  sleep 0.5 &
  wait $! || true
done

if alive "$agent_pid"; then who=minisync-server pid=$server_pid; else who=minisyncd pid=$agent_pid; fi
rc=0
wait "$pid" || rc=$?
echo "quickstart: $who exited on its own (status $rc); stopping the other" >&2
stop_all
exit $((rc == 0 ? 1 : rc))
