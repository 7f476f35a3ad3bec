#!/usr/bin/env bash
# compare.sh — minisync side by side with rsync, in one run on 127.0.0.1 (issue 7). Builds the
# daemons, generates the workloads in a private temporary directory and measures:
#   1. one file of random data (BIG_FILE_MIB), initial sync into an empty destination;
#   2. SMALL_FILES files of 4 KiB in SMALL_DIRS directories, initial sync;
#   3. latency: LATENCY_FILES files of 4 KiB written LATENCY_GAP_MS apart; from close() on the agent's
#      side to the file renamed into place on the server (inotify on the destination), p50 and p99;
#      with two references: one `rsync` to the daemon per close, and a local write, fsync and rename;
#   4. an unchanged tree of TREE_FILES files in directories of 100: agent start-up reconciliation time
#      and peak RSS, against an rsync no-op over the same tree;
#   5. agent peak RSS while watching WATCH_FILES files in WATCH_DIRS directories, once the initial
#      sync has settled.
# Competitors: minisync (server and agent over mutual TLS 1.3, durable commits as always); rsync over
# ssh to a private sshd on a high port (aes128-gcm@openssh.com), with and without --fsync; rsync in
# daemon mode, with and without --fsync; and for workload 1 a raw TLS 1.3 pipe (socat,
# TLS_AES_128_GCM_SHA256) to /dev/null as the ceiling, and the same pipe with SHA-256 on both ends and
# an O_DIRECT write and fsync on the receiving one (bench/verified_pipe.py): the least work that
# verifies and stores the file as minisync does. Workloads 1 and 2 run RUNS rounds, each
# competitor once per round (the order rotates), into an emptied destination; minisync starts every
# run from an empty server root and a fresh state database. Trees are moved aside rather than deleted
# until the script ends, so no run pays for the inodes another freed. Between runs everything is `sync`ed so that
# no run pays for another's write-back; no cache is dropped, so every competitor reads a source that
# is in the page cache.
#
# Usage: bench/compare.sh          (as root: it starts sshd and installs what is missing)
# Environment, defaults in brackets:
#   BUILD_DIR [build-bench, relative to the repository]  BUILD_TYPE [RelWithDebInfo]  RUNS [3]  KEEP [0; 1 keeps the temp dir]
#   WORKLOADS ["1 2 3 4 5"]  BIG_FILE_MIB [1024]  SMALL_FILES [20000]  SMALL_DIRS [100]
#   LATENCY_FILES [200]  LATENCY_GAP_MS [20]  TREE_FILES [100000]  WATCH_FILES [100000]
#   WATCH_DIRS [10000]  W5_RUNS [1]  REPORT [none; a file to copy the results table to]
# Progress goes to stderr; the results (Markdown tables: medians, ratios, the issue's targets marked
# met or missed, CPU time and peak RSS next to the speed) go to stdout. Never part of the test suite.
set -euo pipefail

if (($# > 0)); then # everything is set through the environment
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  [[ $1 == -h || $1 == --help ]] && exit 0
  exit 2
fi

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"

runs=${RUNS:-3}
build=$(realpath -m -- "${BUILD_DIR:-build-bench}")
build_type=${BUILD_TYPE:-RelWithDebInfo}
workloads=${WORKLOADS:-1 2 3 4 5}
big_mib=${BIG_FILE_MIB:-1024}
small_files=${SMALL_FILES:-20000}
small_dirs=${SMALL_DIRS:-100}
lat_files=${LATENCY_FILES:-200}
lat_gap=${LATENCY_GAP_MS:-20}
tree_files=${TREE_FILES:-100000}
watch_files=${WATCH_FILES:-100000}
watch_dirs=${WATCH_DIRS:-10000}
w5_runs=${W5_RUNS:-1}
helper=$repo/bench/compare_helper.py
pipe=$repo/bench/verified_pipe.py

say() { printf '[%(%T)T] %s\n' -1 "$*" >&2; }
die() { echo "compare.sh: $*" >&2; exit 1; }

for var in runs big_mib small_files small_dirs lat_files lat_gap tree_files watch_files watch_dirs w5_runs; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done
((small_files % small_dirs == 0 && watch_files % watch_dirs == 0)) ||
  die "SMALL_FILES must be a multiple of SMALL_DIRS, and WATCH_FILES of WATCH_DIRS"
for w in $workloads; do [[ $w =~ ^[1-5]$ ]] || die "WORKLOADS takes numbers 1 to 5, got '$w'"; done
want() { [[ " $workloads " == *" $1 "* ]]; }
((EUID == 0)) || die "run as root: it starts a private sshd that rsync logs in to as root, and installs packages"

# ---- what it needs ---------------------------------------------------------------------------------

scripts/deps.sh # the build's own packages
bench_packages=(openssh-server openssh-client rsync socat python3 time procps openssl coreutils)
missing=()
for pkg in "${bench_packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ $(rsync --help) == *--fsync* ]] || die "this rsync has no --fsync (3.2.4 or later has it)"

# ---- processes and the temporary directory ---------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/minisync-compare.XXXXXX")
# rsync splits its -e command on white space, and the ssh command names files in here.
[[ $work != *[[:space:]]* ]] || die "TMPDIR must not contain white space: $work"
pids=() # every background process this script started and has not stopped yet
mkdir "$work/trash"
trashed=0

# Moves trees out of the way instead of deleting them while anything is measured. On ext4 without a
# journal (as here), a new inode skips every inode freed in the last minute or so (recently_deleted()
# in ext4's allocator), so a run that followed the deletion of 20,000 files paid up to 3x for its creates,
# depending only on which competitor the rotation put after which. The trash goes when the script ends.
discard() { # PATH...
  local path
  for path; do
    [[ -e $path ]] || continue
    mv -- "$path" "$work/trash/$((trashed += 1))"
  done
}

untrack() {
  local p keep=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# Stop a process this script started: SIGTERM, SIGKILL if it is still running 10 s later, then reap it.
stop_pid() {
  local pid=$1 stat i
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 1000; i++)); do
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || break
    stat=${stat##*) }
    [[ ${stat:0:1} == Z ]] && break
    sleep 0.01
  done
  ((i < 1000)) || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  untrack "$pid"
}

cleanup() {
  local rc=$? i list=("${pids[@]}")
  set +e
  for ((i = ${#list[@]} - 1; i >= 0; i--)); do stop_pid "${list[i]}"; done
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "compare.sh: kept $work" >&2
  else
    rm -rf -- "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Print the end of a log, then stop.
fail() {
  echo "---- last lines of $1:" >&2
  tail -n 20 -- "$1" >&2 || true
  die "$2"
}

# ---- build -----------------------------------------------------------------------------------------

say "building $build_type in $build (-j2)"
{
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE="$build_type" -DMINISYNC_BUILD_TESTS=OFF &&
    cmake --build "$build" -j2 --target minisync-server minisyncd minisyncctl
} >"$work/build.log" 2>&1 || fail "$work/build.log" "the build failed"
server_bin=$build/server/minisync-server
agent_bin=$build/daemon/minisyncd
ctl_bin=$build/ctl/minisyncctl

# ---- measuring -------------------------------------------------------------------------------------

results=$work/results.tsv
: >"$results"
record() { local IFS=$'\t'; echo "$*" >>"$results"; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b - a) / 1e6 }'; }
clk_tck=$(getconf CLK_TCK)

# CPU seconds (user + system) of a live process, or with "children" of the children it has reaped.
cpu_of() {
  local stat fields
  read -r stat <"/proc/$1/stat"
  read -ra fields <<<"${stat##*) }" # fields[0] is the state, stat(5)'s field 3
  if [[ ${2:-} == children ]]; then
    awk -v t="$((fields[13] + fields[14]))" -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }'
  else
    awk -v t="$((fields[11] + fields[12]))" -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }'
  fi
}
hwm_of() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; } # KiB
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; } # KiB
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { # PORT: something listens on 127.0.0.1:PORT
  awk -v p="$(printf '0100007F:%04X' "$1")" '$2 == p && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}
wait_listening() { # PORT PID LOG
  until listening "$1"; do
    kill -0 "$2" 2>/dev/null || fail "$3" "the process meant to listen on port $1 exited"
    sleep 0.01
  done
}

# Wait until LOG holds COUNT lines containing the fixed string PATTERN: tail -F wakes on inotify, so
# nothing polls while the daemons work. Fails when PID exits or LIMIT seconds pass first.
wait_lines() {
  local log=$1 pattern=$2 count=$3 pid=$4 limit=$5 got tail_pid waiter
  rm -f -- "$work/tail.pid"
  # In the background, so that a signal to this script is handled at once rather than after the wait.
  timeout "$limit" grep -F -c -m "$count" -- "$pattern" \
    < <(echo "$BASHPID" >"$work/tail.pid" && exec tail -n +1 -F --pid="$pid" -- "$log" 2>/dev/null) \
    >"$work/count" &
  waiter=$!
  pids+=("$waiter")
  wait "$waiter" || true
  untrack "$waiter"
  # $! does not name a process substitution used as a redirection; tail would stop by itself at its
  # next write or once PID exits, but it is not left to linger.
  tail_pid=$(cat -- "$work/tail.pid" 2>/dev/null || true)
  [[ -z $tail_pid ]] || kill "$tail_pid" 2>/dev/null || true
  got=$(<"$work/count")
  ((${got:-0} >= count)) || fail "$log" "waited for $count lines with '$pattern', got ${got:-0}"
}

# Wait until a listener (sshd, rsyncd) has reaped the processes of the last connection, so that their
# CPU time is in its children's total.
settle_children() {
  local i
  for ((i = 0; i < 500; i++)); do
    pgrep -P "$1" >/dev/null || return 0
    sleep 0.01
  done
}

# ---- minisync --------------------------------------------------------------------------------------

certs=$work/certs
scripts/gen-certs.sh "$certs" >/dev/null
mkdir -m 0700 "$work/ctl"
server_pid="" agent_pid="" ms_port=""

# Start a server on a free port with ROOT, logging to LOG; the daemons' stdout goes to /dev/null (a
# pipe they held open would keep a caller waiting).
start_server() {
  rm -f -- "$2" # a previous server's log would name its port
  "$server_bin" --listen 127.0.0.1:0 --root "$1" --cert "$certs/server.crt" --key "$certs/server.key" \
    --ca "$certs/ca.crt" >/dev/null 2>"$2" &
  server_pid=$!
  pids+=("$server_pid")
  until ms_port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$2" 2>/dev/null | cut -d: -f2) && [[ -n $ms_port ]]; do
    kill -0 "$server_pid" 2>/dev/null || fail "$2" "minisync-server exited"
    sleep 0.01
  done
}

start_agent() { # LOG STATE_DB FOLDER
  rm -f -- "$1" # the shell truncates it only in the child: a waiter could still count the old lines
  "$agent_bin" --server "127.0.0.1:$ms_port" --cert "$certs/client.crt" --key "$certs/client.key" \
    --ca "$certs/ca.crt" --state "$2" --control "$work/ctl/agent.sock" "$3" >/dev/null 2>"$1" &
  agent_pid=$!
  pids+=("$agent_pid")
}

# Initial sync of SRC (FILES files) into an empty server root, from the agent's start to its log
# saying every file is committed (durable on the server).
minisync_sync() {
  local w=$1 src=$2 files=$3 root=$work/ms-root log=$work/agent.log start end ca cs ra rs
  discard "$root"
  rm -f -- "$work"/state.db*
  sync
  start_server "$root" "$work/server.log"
  start=$(now_us)
  start_agent "$log" "$work/state.db" "$src"
  wait_lines "$log" 'synced (' "$files" "$agent_pid" $((600 + files / 20 + big_mib))
  end=$(now_us)
  ca=$(cpu_of "$agent_pid") cs=$(cpu_of "$server_pid") ra=$(hwm_of "$agent_pid") rs=$(hwm_of "$server_pid")
  stop_pid "$agent_pid"
  stop_pid "$server_pid"
  diff -rq -- "$src" "$root/mini-rsync-client/${src##*/}" >/dev/null ||
    die "minisync: the server's copy of $src differs from it"
  record "$w" minisync "secs=$(seconds "$start" "$end")" "cpu_client=$ca" "cpu_server=$cs" \
    "cpu_total=$(add "$ca" "$cs")" "rss_client=$ra" "rss_server=$rs"
}

# ---- rsync over ssh, rsync daemon, raw TLS ---------------------------------------------------------

ssh_dir=$work/ssh
mkdir -m 0700 "$ssh_dir"
ssh-keygen -q -t ed25519 -N '' -C minisync-bench-host -f "$ssh_dir/host_key"
ssh-keygen -q -t ed25519 -N '' -C minisync-bench-client -f "$ssh_dir/client_key"
cp "$ssh_dir/client_key.pub" "$ssh_dir/authorized_keys"
sshd_port=$(free_port)
cat >"$ssh_dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$sshd_port
HostKey $ssh_dir/host_key
PidFile $ssh_dir/sshd.pid
AuthorizedKeysFile $ssh_dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Ciphers aes128-gcm@openssh.com
Compression no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel ERROR
EOF
mkdir -p /run/sshd # sshd's privilege separation directory; a booted system makes it, a container may not
/usr/sbin/sshd -D -e -f "$ssh_dir/sshd_config" 2>"$ssh_dir/sshd.log" &
sshd_pid=$!
pids+=("$sshd_pid")
wait_listening "$sshd_port" "$sshd_pid" "$ssh_dir/sshd.log"
ssh_cmd="ssh -F /dev/null -p $sshd_port -i $ssh_dir/client_key -o IdentitiesOnly=yes -o BatchMode=yes"
ssh_cmd+=" -o StrictHostKeyChecking=no -o UserKnownHostsFile=$ssh_dir/known_hosts -o LogLevel=ERROR"
ssh_cmd+=" -o Ciphers=aes128-gcm@openssh.com -o Compression=no"
$ssh_cmd root@127.0.0.1 true || fail "$ssh_dir/sshd.log" "cannot log in to the private sshd"

mkdir "$work/dst"
rsyncd_port=$(free_port)
cat >"$work/rsyncd.conf" <<EOF
use chroot = no
uid = root
gid = root
log file = $work/rsyncd.log
[bench]
    path = $work/dst
    read only = no
EOF
rsync --daemon --no-detach --address=127.0.0.1 --port="$rsyncd_port" --config="$work/rsyncd.conf" &
rsyncd_pid=$!
pids+=("$rsyncd_pid")
wait_listening "$rsyncd_port" "$rsyncd_pid" "$work/rsyncd.log"

# TLS 1.3 with AES-128-GCM only, as minisync negotiates it; socat has no option for TLS 1.3 suites.
cat >"$work/openssl-tls13-aes128.cnf" <<'EOF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
EOF

# One initial sync of SRC by rsync into an emptied destination. The client's CPU and peak RSS come
# from GNU time; the receiving side's CPU from the listener's (sshd's, rsyncd's) reaped children.
rsync_sync() {
  local w=$1 name=$2 src=$3 slug dst listener target flags=(-a) start end c0 c1 u s m cc cs
  slug=${name//[^a-z]/-}
  dst=$work/dst/$slug
  case $name in
    rsync-ssh*) listener=$sshd_pid target=root@127.0.0.1:$dst/ flags+=(-e "$ssh_cmd") ;;
    rsyncd*) listener=$rsyncd_pid target=rsync://127.0.0.1:$rsyncd_port/bench/$slug/ ;;
  esac
  [[ $name == *--fsync ]] && flags+=(--fsync)
  discard "$dst"
  sync
  c0=$(cpu_of "$listener" children)
  start=$(now_us)
  /usr/bin/time -f '%U %S %M' -o "$work/time.out" rsync "${flags[@]}" "$src/" "$target"
  end=$(now_us)
  settle_children "$listener"
  c1=$(cpu_of "$listener" children)
  read -r u s m <"$work/time.out"
  diff -rq -- "$src" "$dst" >/dev/null || die "$name: the copy of $src differs from it"
  cc=$(add "$u" "$s") cs=$(sub "$c1" "$c0")
  record "$w" "$name" "secs=$(seconds "$start" "$end")" "cpu_client=$cc" "cpu_server=$cs" \
    "cpu_total=$(add "$cc" "$cs")" "rss_client=$m"
}

# FILE through a TLS 1.3 connection (mutual, AES-128-GCM) to /dev/null, until the receiver has it all.
raw_tls() {
  local w=$1 file=$2 port srv start end u s m su ss sm cc cs socat_tls=(env "OPENSSL_CONF=$work/openssl-tls13-aes128.cnf")
  port=$(free_port)
  sync
  "${socat_tls[@]}" /usr/bin/time -f '%U %S %M' -o "$work/time-srv.out" socat -d -d -b 131072 -u \
    "openssl-listen:$port,bind=127.0.0.1,reuseaddr,cert=$certs/server.crt,key=$certs/server.key,cafile=$certs/ca.crt,verify=1" \
    open:/dev/null 2>"$work/socat.log" &
  srv=$!
  pids+=("$srv")
  wait_listening "$port" "$srv" "$work/socat.log"
  start=$(now_us)
  "${socat_tls[@]}" /usr/bin/time -f '%U %S %M' -o "$work/time.out" socat -b 131072 -u "open:$file" \
    "openssl-connect:127.0.0.1:$port,cert=$certs/client.crt,key=$certs/client.key,cafile=$certs/ca.crt,commonname=mini-rsync-server"
  wait "$srv" || fail "$work/socat.log" "the receiving socat failed"
  end=$(now_us)
  untrack "$srv"
  grep -q 'SSL connection using TLS_AES_128_GCM_SHA256' "$work/socat.log" ||
    fail "$work/socat.log" "socat did not negotiate TLS_AES_128_GCM_SHA256"
  read -r u s m <"$work/time.out"
  read -r su ss sm <"$work/time-srv.out"
  cc=$(add "$u" "$s") cs=$(add "$su" "$ss")
  record "$w" "raw TLS (socat)" "secs=$(seconds "$start" "$end")" "cpu_client=$cc" "cpu_server=$cs" \
    "cpu_total=$(add "$cc" "$cs")" "rss_client=$m" "rss_server=$sm"
}

# FILE through a TLS 1.3 connection (mutual, AES-128-GCM), hashed with SHA-256 on both ends and written
# with O_DIRECT and fsynced on the receiving one (bench/verified_pipe.py): what minisync must do at the
# least, and nothing more.
verified_tls() {
  local w=$1 file=$2 port srv start end u s m su ss sm cc cs digest suite sent dst=$work/dst/verified.bin
  local tls=(env "OPENSSL_CONF=$work/openssl-tls13-aes128.cnf")
  port=$(free_port)
  discard "$dst"
  sync
  "${tls[@]}" /usr/bin/time -f '%U %S %M' -o "$work/time-srv.out" python3 "$pipe" receive "$port" \
    "$certs/server.crt" "$certs/server.key" "$certs/ca.crt" "$dst" >"$work/pipe-recv.out" 2>"$work/pipe.log" &
  srv=$!
  pids+=("$srv")
  wait_listening "$port" "$srv" "$work/pipe.log"
  start=$(now_us)
  "${tls[@]}" /usr/bin/time -f '%U %S %M' -o "$work/time.out" python3 "$pipe" send "$port" \
    "$certs/client.crt" "$certs/client.key" "$certs/ca.crt" "$file" >"$work/pipe-send.out" 2>>"$work/pipe.log"
  wait "$srv" || fail "$work/pipe.log" "the receiving verified pipe failed"
  end=$(now_us)
  untrack "$srv"
  read -r digest <"$work/pipe-recv.out"
  read -r suite sent <"$work/pipe-send.out"
  [[ $suite == TLS_AES_128_GCM_SHA256 ]] || die "the verified pipe negotiated $suite"
  [[ -n $digest && $digest == "$sent" ]] || die "the verified pipe received $digest for $sent"
  read -r u s m <"$work/time.out"
  read -r su ss sm <"$work/time-srv.out"
  cc=$(add "$u" "$s") cs=$(add "$su" "$ss")
  record "$w" "verified TLS pipe" "secs=$(seconds "$start" "$end")" "cpu_client=$cc" "cpu_server=$cs" \
    "cpu_total=$(add "$cc" "$cs")" "rss_client=$m" "rss_server=$sm"
}

# RUNS rounds of every competitor on SRC; the order rotates so that none is always first after a sync.
rounds() { # WORKLOAD SRC FILES COMPETITOR...
  local w=$1 src=$2 files=$3 run i n
  shift 3
  local comps=("$@")
  n=${#comps[@]}
  for ((run = 0; run < runs; run++)); do
    for ((i = 0; i < n; i++)); do
      local c=${comps[(run + i) % n]}
      say "workload $w, run $((run + 1))/$runs: $c"
      case $c in
        minisync) minisync_sync "$w" "$src" "$files" ;;
        raw-tls) raw_tls "$w" "$src/big.bin" ;;
        verified-tls) verified_tls "$w" "$src/big.bin" ;;
        *) rsync_sync "$w" "$c" "$src" ;;
      esac
    done
  done
}

rsyncs=("rsync-ssh --fsync" rsync-ssh "rsyncd --fsync" rsyncd)

# ---- the record's header ---------------------------------------------------------------------------

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || commit+=" with uncommitted changes"
record meta machine "$(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r), $(findmnt -no FSTYPE -T "$work") file system"
record meta date "$(date -u '+%Y-%m-%d %H:%M UTC'), load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
record meta commit "$commit"
record meta build "$build_type ($(awk -F= '/^CMAKE_CXX_COMPILER:/ { print $2 }' "$build/CMakeCache.txt" | xargs basename) $(c++ -dumpfullversion 2>/dev/null))"
record meta versions "$(rsync --version | awk 'NR == 1 { print "rsync " $3 }'), $(ssh -V 2>&1 | cut -d, -f1), $(socat -V | awk '/socat version/ { print "socat " $3 }'), $(openssl version | cut -d' ' -f1-2)"
record meta big_mib "$big_mib"
record meta small_files "$small_files"
record meta small_dirs "$small_dirs"
record meta latency_files "$lat_files"
record meta latency_gap_ms "$lat_gap"
record meta tree_files "$tree_files"
record meta tree_dirs "$(((tree_files + 99) / 100))"
record meta watch_files "$watch_files"
record meta watch_dirs "$watch_dirs"
full=0
((big_mib >= 1024 && small_files >= 20000 && lat_files >= 200 && tree_files >= 100000 &&
  watch_files >= 100000 && watch_dirs >= 10000)) && full=1
record meta full_size "$full"

# ---- workloads 1 and 2: initial sync ---------------------------------------------------------------

if want 1; then
  say "workload 1: generating a $big_mib MiB file of random data"
  mkdir "$work/w1"
  head -c $((big_mib << 20)) /dev/urandom >"$work/w1/big.bin"
  rounds 1 "$work/w1" 1 minisync "${rsyncs[@]}" raw-tls verified-tls
  rm -rf -- "$work/w1" "$work/dst"/* "$work/ms-root"
fi

if want 2; then
  say "workload 2: generating $small_files files of 4 KiB in $small_dirs directories"
  python3 "$helper" tree "$work/w2" "$small_files" $((small_files / small_dirs)) 4096
  rounds 2 "$work/w2" "$small_files" minisync "${rsyncs[@]}"
  discard "$work/w2" "$work/dst"/* "$work/ms-root"
fi

# ---- workload 3: latency ---------------------------------------------------------------------------

if want 3; then
  for ((run = 1; run <= runs; run++)); do
    say "workload 3, run $run/$runs: minisync"
    src=$work/w3 root=$work/ms-root
    discard "$src" "$root"
    rm -f -- "$work"/state.db*
    mkdir "$src"
    echo seed >"$src/seed" # once it is on the server, the destination directory exists to be watched
    sync
    start_server "$root" "$work/server.log"
    start_agent "$work/agent.log" "$work/state.db" "$src"
    wait_lines "$work/agent.log" 'synced (' 1 "$agent_pid" 60
    sleep 0.5 # the agent sends directory attributes once idle; the probe starts after that
    python3 "$helper" latency "$src" "$root/mini-rsync-client/w3" "$lat_files" "$lat_gap" \
      >"$work/latency-minisync.txt" || fail "$work/agent.log" "latency probe failed"
    stop_pid "$agent_pid"
    stop_pid "$server_pid"
    while read -r l _; do record 3 minisync "lat=$l"; done <"$work/latency-minisync.txt"

    say "workload 3, run $run/$runs: rsyncd, one rsync per close"
    discard "$src" "$work/dst/latency"
    mkdir "$src" "$work/dst/latency"
    sync
    python3 "$helper" latency "$src" "$work/dst/latency" "$lat_files" "$lat_gap" \
      "rsync://127.0.0.1:$rsyncd_port/bench/latency/" >"$work/latency-rsyncd.txt" ||
      fail "$work/rsyncd.log" "latency probe failed"
    while read -r l _; do record 3 "rsyncd, one rsync per close" "lat=$l"; done <"$work/latency-rsyncd.txt"

    say "workload 3, run $run/$runs: the disk's floor (write, fsync, rename, no network)"
    discard "$work/dst/floor"
    mkdir "$work/dst/floor"
    sync
    python3 "$helper" floor "$work/dst/floor" "$lat_files" "$lat_gap" >"$work/latency-floor.txt"
    while read -r l _; do record 3 "floor: local write, fsync, rename" "lat=$l"; done <"$work/latency-floor.txt"
  done
  discard "$work/w3" "$work/dst"/* "$work/ms-root"
fi

# ---- workload 4: start-up reconciliation of an unchanged tree --------------------------------------

if want 4; then
  say "workload 4: generating $tree_files files in directories of 100"
  src=$work/w4 root=$work/ms-root4 state=$work/state4.db
  python3 "$helper" tree "$src" "$tree_files" 100 small
  sync
  start_server "$root" "$work/server4.log"
  say "workload 4: minisync's initial sync of the tree"
  start=$(now_us)
  start_agent "$work/agent4.log" "$state" "$src"
  wait_lines "$work/agent4.log" 'synced (' "$tree_files" "$agent_pid" $((600 + tree_files / 20))
  end=$(now_us)
  record 4i minisync "secs=$(seconds "$start" "$end")" "rss_client=$(hwm_of "$agent_pid")"
  stop_pid "$agent_pid"
  # Directory attributes are sent once the agent is idle; a short second run lets any it missed settle.
  start_agent "$work/settle4.log" "$state" "$src"
  wait_lines "$work/settle4.log" 'to remove' 1 "$agent_pid" 600
  sleep 2
  stop_pid "$agent_pid"
  entries=$((tree_files + (tree_files + 99) / 100))
  for ((run = 1; run <= runs; run++)); do
    say "workload 4, run $run/$runs: minisync restart"
    sync
    c0=$(cpu_of "$server_pid")
    start=$(now_us)
    start_agent "$work/again4.log" "$state" "$src"
    wait_lines "$work/again4.log" 'to remove' 1 "$agent_pid" 600
    end=$(now_us)
    noop=0
    grep -q "$entries unchanged, 0 to send, 0 to remove" "$work/again4.log" && noop=1
    ((noop)) || { say "not a no-op:"; grep scanned "$work/again4.log" >&2; }
    ra=$(hwm_of "$agent_pid") ca=$(cpu_of "$agent_pid")
    stop_pid "$agent_pid"
    record 4 minisync "secs=$(seconds "$start" "$end")" "cpu_client=$ca" \
      "cpu_server=$(sub "$(cpu_of "$server_pid")" "$c0")" "rss_client=$ra" "noop=$noop"
  done
  stop_pid "$server_pid"
  rm -rf -- "$root"

  # Without --fsync: 100,000 fsyncs would take minutes and this copy only sets up the no-op runs.
  say "workload 4: rsync-ssh's initial sync of the tree"
  sync
  start=$(now_us)
  /usr/bin/time -f '%U %S %M' -o "$work/time.out" rsync -a -e "$ssh_cmd" "$src/" "root@127.0.0.1:$work/dst/tree/"
  end=$(now_us)
  read -r u s m <"$work/time.out"
  record 4i "rsync-ssh (no --fsync: not durable)" "secs=$(seconds "$start" "$end")" "rss_client=$m"
  for ((run = 1; run <= runs; run++)); do
    for name in rsync-ssh rsyncd; do
      say "workload 4, run $run/$runs: $name no-op"
      if [[ $name == rsync-ssh ]]; then
        listener=$sshd_pid flags=(-e "$ssh_cmd") target=root@127.0.0.1:$work/dst/tree/
      else
        listener=$rsyncd_pid flags=() target=rsync://127.0.0.1:$rsyncd_port/bench/tree/
      fi
      sync
      c0=$(cpu_of "$listener" children)
      start=$(now_us)
      /usr/bin/time -f '%U %S %M' -o "$work/time.out" rsync -a --stats "${flags[@]}" "$src/" "$target" >"$work/rsync-stats.txt"
      end=$(now_us)
      settle_children "$listener"
      c1=$(cpu_of "$listener" children)
      read -r u s m <"$work/time.out"
      noop=0
      grep -q '^Number of regular files transferred: 0$' "$work/rsync-stats.txt" && noop=1
      record 4 "$name" "secs=$(seconds "$start" "$end")" "cpu_client=$(add "$u" "$s")" \
        "cpu_server=$(sub "$c1" "$c0")" "rss_client=$m" "noop=$noop"
    done
  done
  rm -rf -- "$src" "$work/dst"/* "$state"*
fi

# ---- workload 5: the agent's memory while watching a large tree ------------------------------------

if want 5; then
  say "workload 5: generating $watch_files files in $watch_dirs directories"
  src=$work/w5 root=$work/ms-root5 state=$work/state5.db
  python3 "$helper" tree "$src" "$watch_files" $((watch_files / watch_dirs)) small
  for ((run = 1; run <= w5_runs; run++)); do
    say "workload 5, run $run/$w5_runs: minisync initial sync, then idle"
    rm -rf -- "$root" "$state"*
    sync
    start_server "$root" "$work/server5.log"
    start=$(now_us)
    start_agent "$work/agent5.log" "$state" "$src"
    wait_lines "$work/agent5.log" 'synced (' "$watch_files" "$agent_pid" $((600 + watch_files / 20))
    end=$(now_us)
    for ((i = 0; i < 600; i++)); do # until the agent says it is idle (directory attributes sent), 60 s at most
      status=$("$ctl_bin" --socket "$work/ctl/agent.sock" --json status 2>/dev/null) &&
        python3 "$helper" idle "$watch_files" <<<"$status" && break
      sleep 0.1
    done
    sleep 1
    watches=$(cat /proc/"$agent_pid"/fdinfo/* 2>/dev/null | grep -c '^inotify wd:' || true)
    record 5 minisync "secs=$(seconds "$start" "$end")" "rss_client=$(hwm_of "$agent_pid")" \
      "rss_now=$(rss_of "$agent_pid")" "rss_server=$(hwm_of "$server_pid")" "watches=$watches"
    stop_pid "$agent_pid"
    stop_pid "$server_pid"
  done
  rm -rf -- "$src" "$root" "$state"*
fi

# ---- the table -------------------------------------------------------------------------------------

say "done"
python3 "$helper" report "$results" | tee "$work/report.md"
[[ -z ${REPORT:-} ]] || cp -- "$work/report.md" "$REPORT"
