# lib.sh — what every benchmark shares: the built binaries, a private work directory removed on exit,
# development certificates, and starting a server and an agent on 127.0.0.1. Sourced, not run.
#
# After sourcing: $repo, $server_bin, $agent_bin, $work (with certs/), now_ns, start_server ROOT
# (sets $server_pid and $port), start_agent LOG FOLDER (sets $agent_pid), stop_daemons.

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
build=$(realpath -m -- "${1:-$repo/build}")
server_bin=$build/server/minisync-server
agent_bin=$build/daemon/minisyncd
[[ -x $server_bin && -x $agent_bin ]] || { echo "build first: $server_bin / $agent_bin missing" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/minisync-bench.XXXXXX")
server_pid="" agent_pid="" port=""
stop_daemons() {
  local pid
  for pid in $agent_pid $server_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $agent_pid $server_pid; do wait "$pid" 2>/dev/null || true; done
  agent_pid="" server_pid=""
}
trap 'stop_daemons; rm -rf -- "$work"' EXIT
"$repo/scripts/gen-certs.sh" "$work/certs" >/dev/null

now_ns() { date +%s%N; }

# The daemons' stdout goes to /dev/null: a pipe held open by them would keep a caller's `| sort` waiting.
start_server() {
  "$server_bin" --listen 127.0.0.1:0 --root "$1" --cert "$work/certs/server.crt" \
    --key "$work/certs/server.key" --ca "$work/certs/ca.crt" >/dev/null 2>"$work/server.log" &
  server_pid=$!
  port=""
  until port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/server.log" 2>/dev/null | cut -d: -f2) && [[ -n $port ]]; do
    kill -0 "$server_pid" 2>/dev/null || { echo "minisync-server exited:" >&2; cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
}

start_agent() {
  "$agent_bin" --server "127.0.0.1:$port" --cert "$work/certs/client.crt" --key "$work/certs/client.key" \
    --ca "$work/certs/ca.crt" --state "$work/state.db" "$2" >/dev/null 2>"$1" &
  agent_pid=$!
}
