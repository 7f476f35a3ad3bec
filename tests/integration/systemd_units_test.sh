#!/usr/bin/env bash
# systemd_units_test.sh — owns the check that the installed systemd units pass `systemd-analyze verify`.
#
# Usage: systemd_units_test.sh CMAKE BUILD_DIR UNIT_DIR UNIT...
#   CMAKE      the cmake executable; BUILD_DIR an already built tree
#   UNIT_DIR   where the build installs its units (absolute, as configured)
#   UNIT...    unit file names, e.g. minisyncd.service
#
# The build is installed with DESTDIR into a scratch root, so each unit is checked exactly as installed,
# next to the binaries its ExecStart= names. Programs a unit names outside the install (/bin/kill) and
# the system's own units (sysinit.target, network-online.target, ...) are copied in from this machine.
# Then `systemd-analyze verify --root` runs on the units. systemd reports most mistakes (an unknown key
# or section, a bad value) as warnings and still exits 0, so any output at all fails the test.
#
# Exit status: 0 pass, 1 fail, 77 skip (systemd-analyze cannot run here at all).
set -euo pipefail

PROG=${0##*/}
fail() { echo "$PROG: FAIL: $*" >&2; exit 1; }
skip() { echo "$PROG: SKIP: $*" >&2; exit 77; }

(($# >= 4)) || { echo "usage: $PROG CMAKE BUILD_DIR UNIT_DIR UNIT..." >&2; exit 2; }
CMAKE=$1 BUILD_DIR=$2 UNIT_DIR=$3
shift 3
UNITS=("$@")

ANALYZE=$(command -v systemd-analyze || true)
[[ -n $ANALYZE ]] || skip "systemd-analyze not found (package systemd; scripts/deps.sh installs it)"
"$ANALYZE" --version >/dev/null 2>&1 || skip "'$ANALYZE --version' fails: systemd-analyze cannot run here"

# The system's unit directory: where sysinit.target is.
SYSTEM_UNITS=""
for dir in "$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)" \
           /usr/lib/systemd/system /lib/systemd/system; do
  if [[ -n $dir && -f $dir/sysinit.target ]]; then
    SYSTEM_UNITS=$dir
    break
  fi
done
[[ -n $SYSTEM_UNITS ]] || skip "no systemd unit files on this machine (sysinit.target not found)"

WORK=$(mktemp -d)
trap 'rm -rf -- "$WORK"' EXIT
ROOT=$WORK/root

# Verifies unit names (or paths inside ROOT); succeeds only with exit status 0 and no output at all.
verify() {
  local out status=0
  out=$("$ANALYZE" verify --man=no --generators=no --root="$ROOT" "$@" 2>&1) || status=$?
  if ((status != 0)) || [[ -n $out ]]; then
    printf '%s\n' "$out"
    echo "(systemd-analyze exit status $status)"
    return 1
  fi
}

# ---- the scratch root: the system's units, then the install -------------------------------------

mkdir -p -- "$ROOT$SYSTEM_UNITS"
# The system's units, except any installed copy of ours: they must come from this build.
(cd "$SYSTEM_UNITS" &&
  find . -mindepth 1 -maxdepth 1 ! -name 'minisync*' -exec cp -a {} "$ROOT$SYSTEM_UNITS/" \;)

if ! DESTDIR=$ROOT "$CMAKE" --install "$BUILD_DIR" >"$WORK/install.log" 2>&1; then
  cat "$WORK/install.log" >&2
  fail "cmake --install into $ROOT failed"
fi
for unit in "${UNITS[@]}"; do
  [[ -f $ROOT$UNIT_DIR/$unit ]] || fail "the install did not put $unit in $UNIT_DIR"
done

# With --root, systemd-analyze finds units only in systemd's own search path (inside the root). Units
# installed elsewhere (MINISYNC_SYSTEMD_UNIT_DIR) are checked as copies in /etc/systemd/system.
if ! "$ANALYZE" unit-paths --system 2>/dev/null | grep -qxF -- "$UNIT_DIR"; then
  echo "$PROG: note: systemd does not look for units in $UNIT_DIR; checking copies" >&2
  mkdir -p -- "$ROOT/etc/systemd/system"
  for unit in "${UNITS[@]}"; do
    cp -- "$ROOT$UNIT_DIR/$unit" "$ROOT/etc/systemd/system/$unit"
  done
fi

# Programs the units name that the install does not provide, taken from this machine. One the machine
# lacks stays missing, and verify reports it.
while read -r program; do
  if [[ $program == /* && ! -e $ROOT$program && -x $program ]]; then
    mkdir -p -- "$ROOT${program%/*}"
    cp -L -- "$program" "$ROOT$program"
  fi
done < <(cd "$ROOT$UNIT_DIR" && sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "${UNITS[@]}" | sort -u)

# ---- controls: the analyzer works here, and it reports what the test relies on it to report --------

true_path=$(type -P true || true)
[[ -n $true_path ]] || skip "no 'true' program on this machine for the control unit"
mkdir -p -- "$ROOT${true_path%/*}"
[[ -e $ROOT$true_path ]] || cp -L -- "$true_path" "$ROOT$true_path"

mkdir -p -- "$ROOT/etc/systemd/system"
control=$ROOT/etc/systemd/system/minisync-verify-control.service
cat >"$control" <<EOF
[Unit]
Description=a unit systemd-analyze must accept
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStart=$true_path

[Install]
WantedBy=multi-user.target
EOF
if ! out=$(verify minisync-verify-control.service); then
  skip "systemd-analyze cannot verify even a minimal unit here:"$'\n'"$out"
fi
sed -i 's/^Type=notify$/Tpye=notify/' "$control"
if out=$(verify minisync-verify-control.service); then
  fail "systemd-analyze did not report an unknown key in a control unit: its verdict cannot be trusted"
fi
rm -f -- "$control"

# ---- the units ----------------------------------------------------------------------------------

for unit in "${UNITS[@]}"; do
  if ! out=$(verify "$unit"); then
    printf '%s\n' "$out" >&2
    fail "$UNIT_DIR/$unit (as installed) does not pass systemd-analyze verify"
  fi
  echo "$PROG: $UNIT_DIR/$unit passes systemd-analyze verify"
done
