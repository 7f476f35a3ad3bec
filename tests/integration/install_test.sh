#!/usr/bin/env bash
# install_test.sh — owns the check that `cmake --install` puts every file where docs/OPERATIONS.md says,
# that the units name where the files went, and that installing again keeps an administrator's configs.
#
# Usage: install_test.sh CMAKE SOURCE_DIR BUILD_DIR PREFIX BINDIR UNIT_DIR CONFIG_DIR DATA_DIR
#   CMAKE       the cmake executable; SOURCE_DIR the repository; BUILD_DIR an already built tree
#   PREFIX, BINDIR, UNIT_DIR, CONFIG_DIR, DATA_DIR
#               the absolute install paths the build was configured with
#
# Every install goes through DESTDIR into a scratch directory, as a packager stages a package, so nothing
# outside it is touched whatever the configured paths. Exit status: 0 pass, 1 fail.
set -euo pipefail

PROG=${0##*/}
fail() { echo "$PROG: FAIL: $*" >&2; exit 1; }

(($# == 8)) || {
  echo "usage: $PROG CMAKE SOURCE_DIR BUILD_DIR PREFIX BINDIR UNIT_DIR CONFIG_DIR DATA_DIR" >&2
  exit 2
}
CMAKE=$1 SOURCE_DIR=$2 BUILD_DIR=$3 PREFIX=$4 BINDIR=$5 UNIT_DIR=$6 CONFIG_DIR=$7 DATA_DIR=$8

WORK=$(mktemp -d)
trap 'rm -rf -- "$WORK"' EXIT

install_into() { # ROOT LOG [CMAKE --install OPTIONS...]
  local root=$1 log=$2
  shift 2
  if ! DESTDIR=$root "$CMAKE" --install "$BUILD_DIR" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "DESTDIR=$root cmake --install $BUILD_DIR $* failed"
  fi
}

mode_of() { stat -c %a -- "$1"; }

expect_file() { # ROOT PATH MODE: a regular file with exactly this mode
  [[ -f $1$2 ]] || fail "$2 was not installed (DESTDIR=$1)"
  [[ $(mode_of "$1$2") == "$3" ]] || fail "$2 has mode $(mode_of "$1$2"), expected $3"
}

# The files an install must hold, and what the units must say about them.
check_layout() { # ROOT BINDIR UNIT_DIR CONFIG_DIR DATA_DIR
  local root=$1 bindir=$2 unit_dir=$3 config_dir=$4 data_dir=$5 program unit file config installed
  for program in minisyncd minisync-server minisyncctl; do
    expect_file "$root" "$bindir/$program" 755
  done
  for unit in minisyncd minisync-server; do
    file=$unit_dir/$unit.service
    expect_file "$root" "$file" 644
    if grep -nE '@[A-Za-z_]+@' "$root$file" >&2; then
      fail "$file still holds template placeholders"
    fi
    grep -q "^ExecStart=$bindir/$unit --config $config_dir/$unit.toml" "$root$file" ||
      fail "$file does not start $bindir/$unit with --config $config_dir/$unit.toml"
  done
  file=$unit_dir/minisync-server.service
  grep -q "^LoadCredential=server.key:$config_dir/pki/server.key\$" "$root$file" ||
    fail "$file does not load the server's key from $config_dir/pki/server.key"
  for config in minisyncd.toml minisync-server.toml; do
    [[ -f $SOURCE_DIR/etc/$config ]] || fail "etc/$config is missing from the repository"
    for installed in "$config" "$config.example"; do
      expect_file "$root" "$config_dir/$installed" 644
      cmp -s -- "$SOURCE_DIR/etc/$config" "$root$config_dir/$installed" ||
        fail "$config_dir/$installed differs from etc/$config"
    done
  done
  expect_file "$root" "$data_dir/gen-certs.sh" 755
}

# ---- installing at the configured prefix -------------------------------------------------------

ROOT=$WORK/root
install_into "$ROOT" "$WORK/install.log"
check_layout "$ROOT" "$BINDIR" "$UNIT_DIR" "$CONFIG_DIR" "$DATA_DIR"

# The installed programs run, and find their libraries without the build tree.
for program in minisyncd minisync-server minisyncctl; do
  "$ROOT$BINDIR/$program" --help >"$WORK/help.txt" 2>&1 || {
    cat "$WORK/help.txt" >&2
    fail "$BINDIR/$program --help failed"
  }
done
"$ROOT$DATA_DIR/gen-certs.sh" "$WORK/pki" --client laptop >"$WORK/gen-certs.log" 2>&1 || {
  cat "$WORK/gen-certs.log" >&2
  fail "the installed gen-certs.sh failed"
}
for file in ca.crt ca.key server.crt server.key client.crt client.key laptop.crt laptop.key; do
  [[ -f $WORK/pki/$file ]] || fail "the installed gen-certs.sh did not make $file"
done

# ---- installing again: an edited config is kept, the example is refreshed --------------------------

echo '# edited by the administrator' >>"$ROOT$CONFIG_DIR/minisyncd.toml"
echo '# stale example' >>"$ROOT$CONFIG_DIR/minisyncd.toml.example"
rm -- "$ROOT$CONFIG_DIR/minisync-server.toml"
install_into "$ROOT" "$WORK/reinstall.log"
grep -q '^# edited by the administrator$' "$ROOT$CONFIG_DIR/minisyncd.toml" ||
  fail "installing again replaced the edited $CONFIG_DIR/minisyncd.toml"
grep -q "Keeping: .*minisyncd.toml" "$WORK/reinstall.log" ||
  fail "installing again did not say it kept minisyncd.toml"
cmp -s -- "$SOURCE_DIR/etc/minisyncd.toml" "$ROOT$CONFIG_DIR/minisyncd.toml.example" ||
  fail "installing again did not refresh $CONFIG_DIR/minisyncd.toml.example"
cmp -s -- "$SOURCE_DIR/etc/minisync-server.toml" "$ROOT$CONFIG_DIR/minisync-server.toml" ||
  fail "installing again did not restore the missing $CONFIG_DIR/minisync-server.toml"

# ---- installing with --prefix elsewhere: paths under the prefix move, units included -----------------

RELOCATED=/opt/minisync-relocated-test
relocated() { # PATH: where an install with --prefix RELOCATED puts what is configured for PATH
  if [[ $1 == "$PREFIX"/* ]]; then
    echo "$RELOCATED/${1#"$PREFIX"/}"
  else
    echo "$1"
  fi
}
install_into "$WORK/relocated" "$WORK/relocated.log" --prefix "$RELOCATED"
check_layout "$WORK/relocated" "$(relocated "$BINDIR")" "$(relocated "$UNIT_DIR")" \
  "$(relocated "$CONFIG_DIR")" "$(relocated "$DATA_DIR")"

echo "$PROG: every file is installed where expected, also with --prefix; edited configs survive a reinstall"
