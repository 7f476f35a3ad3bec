#!/usr/bin/env bash
# gen-certs.sh — owns the development PKI for minisync: a local CA plus server and
# client certificates, made with the openssl CLI. For development and tests only.
#
# Usage:
#   scripts/gen-certs.sh DIR [--days N] [--client NAME]... [--client-cn STEM CN]...
#                            [--server-cn STEM CN]... [--expired STEM CN]...
#                            [--not-yet-valid STEM CN]...
#
# Always ensures, in DIR (created with mode 0700 if missing):
#   ca.crt/ca.key          CA, CN=minisync-dev-ca (EC P-256, valid 10 years)
#   server.crt/server.key  CN=mini-rsync-server, SAN DNS:mini-rsync-server,DNS:localhost,
#                          IP:127.0.0.1, EKU serverAuth
#   client.crt/client.key  CN=mini-rsync-client, EKU clientAuth
# Options (each repeatable, except --days):
#   --client NAME           NAME.crt/NAME.key, CN=NAME, EKU clientAuth
#   --client-cn STEM CN     STEM.crt/STEM.key with an arbitrary CN string (may be hostile:
#                           "..", ".x", "a/b", unicode, ...), EKU clientAuth
#   --server-cn STEM CN     STEM.crt/STEM.key, CN=CN, EKU serverAuth+clientAuth (a cert a
#                           client could present as a server: for name-check/MITM tests);
#                           SAN DNS:CN when CN is a plain host name
#   --expired STEM CN       client cert valid 2020-01-01 .. 2021-01-01 (already expired)
#   --not-yet-valid STEM CN client cert valid 2099-01-01 .. 2099-12-31
#   --days N                validity of newly issued leaf certs (default 825)
#
# STEM is used as a file name: it must be non-empty, contain no "/", not start with ".",
# and not be ca, server or client. CNs longer than 64 characters are refused (OpenSSL
# enforces the X.509 upper bound); an empty CN gives a certificate without a CN.
# Idempotent: existing files are never modified; only missing certificates are issued
# (a missing certificate whose .key exists is issued for that key). Keys are mode 0600.
# Prints one summary line when it created something, nothing otherwise.
set -euo pipefail

PROG=${0##*/}

usage() { # print the header comment (without the shebang)
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}
die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; exit 2; }

command -v openssl >/dev/null 2>&1 || die "openssl not found (run scripts/deps.sh)"

# ---- arguments -------------------------------------------------------------------

(($# >= 1)) || usage
case $1 in -h|--help) usage ;; -*) usage_error "first argument must be the output DIR" ;; esac
DIR=$1
shift

DAYS=825
# Leaf certificates requested on the command line, in order:
# parallel arrays of file stem, CN, kind (client|dual), validity (""|expired|future).
STEMS=() CNS=() KINDS=() WHENS=()
declare -A SEEN=([ca]=1 [server]=1 [client]=1)

add_leaf() { # STEM CN KIND WHEN
  local stem=$1
  if [[ -z $stem || $stem == */* || $stem == .* ]]; then
    usage_error "invalid name '$stem': must be non-empty, without '/', not starting with '.'"
  fi
  if ((${#2} > 64)); then
    usage_error "CN for '$stem' is longer than 64 characters (the X.509 limit OpenSSL enforces)"
  fi
  if [[ -n ${SEEN[$stem]:-} ]]; then
    usage_error "name '$stem' is reserved or given twice"
  fi
  SEEN[$stem]=1
  STEMS+=("$stem") CNS+=("$2") KINDS+=("$3") WHENS+=("$4")
}

need() { # OPTION COUNT ARGS...
  local opt=$1 n=$2
  shift 2
  (($# >= n)) || usage_error "$opt needs $n argument(s)"
}

while (($# > 0)); do
  case $1 in
    --client)        need "$1" 1 "${@:2}"; add_leaf "$2" "$2" client ""; shift 2 ;;
    --client-cn)     need "$1" 2 "${@:2}"; add_leaf "$2" "$3" client ""; shift 3 ;;
    --server-cn)     need "$1" 2 "${@:2}"; add_leaf "$2" "$3" dual ""; shift 3 ;;
    --expired)       need "$1" 2 "${@:2}"; add_leaf "$2" "$3" client expired; shift 3 ;;
    --not-yet-valid) need "$1" 2 "${@:2}"; add_leaf "$2" "$3" client future; shift 3 ;;
    --days)
      need "$1" 1 "${@:2}"
      [[ $2 =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "--days needs a positive integer, got '$2'"
      DAYS=$2
      shift 2 ;;
    -h|--help) usage ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

# ---- setup -----------------------------------------------------------------------

umask 077
mkdir -p -- "$DIR"   # umask 077: any directory created here is 0700
DIR=$(cd -- "$DIR" && pwd -P)

# Serialise concurrent runs on the same DIR (e.g. parallel tests) by locking the directory.
if command -v flock >/dev/null 2>&1; then
  exec 9<"$DIR"
  flock 9
fi

TMP=$(mktemp -d)
trap 'rm -rf -- "$TMP"' EXIT

# One OpenSSL config for everything, independent of the system openssl.cnf. Paths in it are
# relative: `openssl ca` runs with TMP as its working directory.
cat >"$TMP/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = req_dn
string_mask        = utf8only
utf8               = yes

[ req_dn ]

[ ca ]
default_ca = dev_ca

[ dev_ca ]
database        = ./index.txt
serial          = ./serial
new_certs_dir   = ./issued
default_md      = sha256
policy          = policy_any
unique_subject  = no
email_in_dn     = no
copy_extensions = none
preserve        = yes

[ policy_any ]
commonName = optional

[ v3_ca ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF

# Run a command quietly; on failure show its output and stop.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die "command failed: $*"
  fi
}

# Escape a CN for openssl's -subj syntax, where '/', '+' and '\' are special.
subj_cn() {
  local cn=$1
  cn=${cn//\\/\\\\}
  cn=${cn//\//\\/}
  cn=${cn//+/\\+}
  printf '/CN=%s' "$cn"
}

# Private key: reuse an existing one, otherwise a new EC P-256 key, written atomically.
make_key() { # PATH
  local key=$1
  if [[ ! -f $key ]]; then
    quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/new.key"
    chmod 0600 "$TMP/new.key"
    mv -f -- "$TMP/new.key" "$key"
  fi
  chmod 0600 -- "$key"
}

CREATED=()
STALE=()

# ---- CA --------------------------------------------------------------------------

if [[ -f $DIR/ca.crt && -f $DIR/ca.key ]]; then
  :
elif [[ -f $DIR/ca.crt || -f $DIR/ca.key ]]; then
  die "$DIR has only one of ca.crt / ca.key; remove it or restore the other"
else
  for f in "$DIR"/*.crt; do
    [[ -e $f ]] && STALE+=("${f##*/}")
  done
  make_key "$DIR/ca.key"
  quiet openssl req -config "$TMP/openssl.cnf" -new -x509 -sha256 -days 3650 \
    -key "$DIR/ca.key" -subj "/CN=minisync-dev-ca" -extensions v3_ca -out "$TMP/ca.crt"
  chmod 0644 "$TMP/ca.crt"
  mv -f -- "$TMP/ca.crt" "$DIR/ca.crt"
  CREATED+=(ca)
fi

# ---- leaves ----------------------------------------------------------------------

# issue STEM CN KIND WHEN [SAN]
issue() {
  local stem=$1 cn=$2 kind=$3 when=$4 san=${5:-}
  local crt=$DIR/$stem.crt key=$DIR/$stem.key
  [[ -f $crt ]] && return 0

  make_key "$key"
  quiet openssl req -config "$TMP/openssl.cnf" -new -sha256 -utf8 \
    -key "$key" -subj "$(subj_cn "$cn")" -out "$TMP/leaf.csr"

  {
    echo "[ ext ]"
    echo "basicConstraints       = critical, CA:false"
    echo "keyUsage               = critical, digitalSignature, keyAgreement"
    echo "subjectKeyIdentifier   = hash"
    echo "authorityKeyIdentifier = keyid, issuer"
    case $kind in
      server) echo "extendedKeyUsage       = serverAuth" ;;
      dual)   echo "extendedKeyUsage       = serverAuth, clientAuth" ;;
      *)      echo "extendedKeyUsage       = clientAuth" ;;
    esac
    [[ -n $san ]] && echo "subjectAltName         = $san"
  } >"$TMP/ext.cnf"

  local validity=(-days "$DAYS")
  case $when in
    expired) validity=(-startdate 20200101000000Z -enddate 20210101000000Z) ;;
    future)  validity=(-startdate 20990101000000Z -enddate 20991231235959Z) ;;
  esac

  # Fresh throw-away CA database for each certificate; random 128-bit serial.
  rm -rf -- "$TMP/issued" "$TMP/index.txt"*
  mkdir "$TMP/issued"
  : >"$TMP/index.txt"
  openssl rand -hex 16 >"$TMP/serial"

  (
    cd "$TMP"
    quiet openssl ca -config "$TMP/openssl.cnf" -batch -notext -utf8 -preserveDN \
      -cert "$DIR/ca.crt" -keyfile "$DIR/ca.key" -md sha256 "${validity[@]}" \
      -extfile "$TMP/ext.cnf" -extensions ext -in "$TMP/leaf.csr" -out "$TMP/leaf.crt"
  )
  chmod 0644 "$TMP/leaf.crt"
  mv -f -- "$TMP/leaf.crt" "$crt"
  CREATED+=("$stem")
}

issue server mini-rsync-server server "" "DNS:mini-rsync-server, DNS:localhost, IP:127.0.0.1"
issue client mini-rsync-client client ""

for i in "${!STEMS[@]}"; do
  san=""
  if [[ ${KINDS[i]} == dual && ${CNS[i]} =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$ ]]; then
    san="DNS:${CNS[i]}"
  fi
  issue "${STEMS[i]}" "${CNS[i]}" "${KINDS[i]}" "${WHENS[i]}" "$san"
done

# ---- report ----------------------------------------------------------------------

if ((${#STALE[@]} > 0)); then
  echo "$PROG: warning: new CA created; existing ${STALE[*]} in $DIR were not signed by it" \
       "(delete them and re-run to re-issue)" >&2
fi
if ((${#CREATED[@]} > 0)); then
  echo "$PROG: created in $DIR: ${CREATED[*]}"
fi
