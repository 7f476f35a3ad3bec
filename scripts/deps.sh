#!/usr/bin/env bash
# deps.sh — owns the list of Debian 12 packages minisync needs to build, test and run,
# and installs the ones that are missing. Idempotent; silent when nothing is to be done.
#
# Usage: scripts/deps.sh
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  openssl libssl-dev
  libevent-dev
  libsqlite3-dev sqlite3
  prometheus-cpp-dev
  libgtest-dev libgmock-dev googletest
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libspdlog-dev
  libsystemd-dev librsync-dev
  systemd   # systemd-analyze, used to verify the unit files
  procps    # pgrep/ps, used by the integration tests
  clang libclang-rt-14-dev  # scripts/fuzz.sh, scripts/sanitize.sh: libFuzzer and the sanitizer runtimes come with clang
  llvm-14   # llvm-symbolizer: file and line in a sanitizer report
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "deps.sh: missing packages (need root or sudo to install): ${missing[*]}" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
