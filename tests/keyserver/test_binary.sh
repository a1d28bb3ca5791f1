#!/usr/bin/env bash
# keyserver.binary: the real chat-keyserver on 127.0.0.1 with an ephemeral
# port. --init (its output and file modes), the main server's public key
# required, bad --limit settings refused, start (the bound endpoint is the
# first line on stdout), register and login through ks-probe, SIGTERM and
# SIGINT exit 0, kill -9 right after an acknowledged registration loses
# nothing, a frame over WIRE_MAX_FRAME cuts its connection and nothing
# else, limits from the config file in force and applied again on SIGHUP;
# no password anywhere in the data directory or the server's output (a
# scan with a planted positive control, failing on any file it cannot read).
#   test_binary.sh PATH/chat-keyserver PATH/ks-probe
set -u
server=$1
probe=$2
dir=$(mktemp -d /tmp/ks-binary-XXXXXX)
data=$dir/data
pid=
fail () { echo "FAIL: $*" >&2; [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; exit 1; }
pw_alice='pass word'
pw_bob='Bob-pa55-Qx7z'

# scan NEEDLE PATH...: the regular files under PATHs holding NEEDLE raw, in
# base64 or in hex; a file that cannot be read fails the test (it could
# hold anything). Sockets and the like hold nothing and are passed over.
scan () {
  needle=$1; shift
  b64=$(printf %s "$needle" | base64 -w0 | tr -d =)
  hex=$(printf %s "$needle" | od -An -tx1 | tr -d ' \n')
  find "$@" -type f > "$dir/scan.list" || fail "cannot list $*"
  while IFS= read -r f; do
    [ -r "$f" ] && cat "$f" > /dev/null 2>&1 || fail "cannot read $f: not scanned"
    for form in "$needle" "$b64" "$hex"; do
      if grep -qaF -- "$form" "$f"; then echo "$f"; break; fi
    done
  done < "$dir/scan.list"
}
cleanup () { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# Options
"$server" --help >/dev/null || fail "--help"
"$server" --version | grep -q '^chat-keyserver ' || fail "--version"
"$server" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option must exit 2"
"$server" --iterations 10 --data "$data" >/dev/null 2>&1; [ $? -eq 2 ] || fail "iterations below 4096 must exit 2"
"$server" --config "$dir/missing.cfg" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing config must exit 2"
"$server" --help | grep -q 'login_failures_per_address_per_hour' || fail "--help lists no limits"

# --init: directory 0700, key and own secret 0600, the public key file 0644;
# one line on stdout: the public file's path and the key's fingerprint; the
# operator's next step on stderr. A second --init replaces nothing.
out=$("$server" --init --data "$data" 2>"$dir/init.err") || fail "--init: $(cat "$dir/init.err")"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "--init printed more than one line: $out"
pub=${out%% *}
fp=${out#* }
[ "$pub" = "$data/keyserver.pub" ] || fail "--init named $pub"
case $fp in SHA256:*) [ ${#fp} -eq 50 ] || fail "fingerprint $fp" ;; *) fail "no fingerprint: $out" ;; esac
grep -q -- '--keyserver-key' "$dir/init.err" || fail "--init did not say where the file goes"
[ "$(stat -c %a "$data")" = 700 ] || fail "data dir mode $(stat -c %a "$data")"
[ "$(stat -c %a "$data/server.key")" = 600 ] || fail "server.key mode"
[ "$(stat -c %a "$data/keyserver.secret")" = 600 ] || fail "keyserver.secret mode"
[ "$(stat -c %a "$pub")" = 644 ] || fail "keyserver.pub mode"
head -n 1 "$pub" | grep -q 'BEGIN PUBLIC KEY' || fail "keyserver.pub is not a PEM public key"
grep -q PRIVATE "$pub" && fail "keyserver.pub holds a private key"
[ -e "$data/shared.secret" ] && fail "a shared secret was made"
secret=$(cat "$data/keyserver.secret")
again=$("$server" --init --data "$data" 2>/dev/null) || fail "second --init failed"
[ "$again" = "$out" ] || fail "second --init changed the key: $again"
[ "$(cat "$data/keyserver.secret")" = "$secret" ] || fail "second --init changed the secret"

# The main server's public key: any RSA public key in PEM stands for it here
# (another --init's), as the operator would copy mainserver.pub
"$server" --init --data "$dir/other" >/dev/null 2>&1 || fail "--init of the stand-in"
mskey=$dir/mainserver.pub
cp "$dir/other/keyserver.pub" "$mskey"
"$server" --data "$data" --bind 'tcp://127.0.0.1:*' >/dev/null 2>"$dir/nokey.err"
[ $? -eq 2 ] || fail "no --mainserver-key must exit 2"
grep -q 'mainserver.pub' "$dir/nokey.err" || fail "no word of which file to copy: $(cat "$dir/nokey.err")"
"$server" --data "$data" --bind 'tcp://127.0.0.1:*' --mainserver-key "$dir/missing.pub" \
    >/dev/null 2>"$dir/nokey.err"
[ $? -eq 1 ] || fail "a missing main server key must exit 1"
grep -q 'missing.pub' "$dir/nokey.err" || fail "the missing file is not named"

# Bad limits: usage errors that name the limit (the main server's key is
# given, so that nothing else can be what is refused)
limit_refused () {
  "$server" --limit "$1" --data "$data" --mainserver-key "$mskey" >/dev/null 2>"$dir/limit.err"
  [ $? -eq 2 ] || fail "$2 must exit 2"
  grep -q "${1%%=*}" "$dir/limit.err" || fail "$2: not named: $(cat "$dir/limit.err")"
}
limit_refused no_such_limit=1 "an unknown limit"
limit_refused sessions=-1 "a limit out of range"
limit_refused push_hwm=4 "a main server limit"

# Start in the background; the endpoint is the first line on stdout
start () {
  : > "$dir/out"
  "$server" "$@" >"$dir/out" 2>>"$dir/err" &
  pid=$!
  for _ in $(seq 1 400); do
    endpoint=$(head -n 1 "$dir/out")
    [ -n "$endpoint" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "server died at start: $(tail -5 "$dir/err")"
    sleep 0.05
  done
  fail "no endpoint printed"
}
# Signal and wait (at most 20 s: a hang fails, speed is not measured here)
stop () {
  kill "-$1" "$pid"
  for _ in $(seq 1 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && fail "server still running 20 s after SIG$1"
  wait "$pid"
  status=$?
  pid=
  return $status
}
expect () {
  want=$1; shift
  got=$("$probe" "$endpoint" "$fp" "$@")
  [ "$got" = "$want" ] || fail "$* gave $got, wanted $want"
}

start --data "$data" --bind 'tcp://127.0.0.1:*' --iterations 4096 --mainserver-key "$mskey"
case $endpoint in tcp://127.0.0.1:[0-9]*) ;; *) fail "endpoint $endpoint" ;; esac
[ "$(stat -c %a "$data/admin.sock")" = 600 ] || fail "admin.sock mode"
for f in keyserver.db keyserver.db-wal keyserver.secret; do
  [ "$(stat -c %a "$data/$f")" = 600 ] || fail "$f mode $(stat -c %a "$data/$f")"
done
expect OK register Alice "$pw_alice"
expect OK login alice "$pw_alice"
expect ERR_USERNAME_TAKEN register ALICE other
expect ERR_AUTH_FAILED login alice wrong
expect ERR_AUTH_FAILED login nobody wrong
expect ERR_INVALID_USERNAME register 'bad name' pw
# a frame over WIRE_MAX_FRAME: the connection is cut, nothing read; the
# server serves on
[ "$("$probe" "$endpoint" - oversized)" = DROPPED ] || fail "an oversized frame was read"
expect OK login alice "$pw_alice"
stop TERM || fail "exit status $? after SIGTERM"

# kill -9 right after an acknowledged registration
start --data "$data" --bind 'tcp://127.0.0.1:*' --iterations 4096 -k "$mskey"
expect OK register Bob "$pw_bob"
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
start --data "$data" --bind 'tcp://127.0.0.1:*' --mainserver-key "$mskey"
expect OK login bob "$pw_bob"
expect OK login Alice "$pw_alice"
stop INT || fail "exit status $? after SIGINT"

# The same from a config file
cat > "$dir/ks.cfg" <<CFG
keyserver
    bind = "tcp://127.0.0.1:*"
    data = "$data"
    iterations = 4096
    mainserver-key = "$mskey"
    limits
        sessions_per_user = 7
CFG
start --config "$dir/ks.cfg"
grep -q 'sessions_per_user=7 ' "$dir/err" || fail "the config's limit is not in force"
expect OK login BOB "$pw_bob"
# SIGHUP: the limits are read again and applied while serving
sed -i 's/sessions_per_user = 7/sessions_per_user = 9/' "$dir/ks.cfg"
kill -HUP "$pid"
for _ in $(seq 1 400); do
  grep -q 'limits.*sessions_per_user=9 ' "$dir/err" && break
  sleep 0.05
done
grep -q 'limits.*sessions_per_user=9 ' "$dir/err" || fail "SIGHUP did not apply the config's limits"
expect OK login BOB "$pw_bob"
stop TERM || fail "exit status $? after SIGTERM (config)"

# No password in the data directory or the server's output; the same scan
# finds each planted on purpose (raw, base64, hex) in a copy of them
mkdir -p "$dir/control"
cp -a "$data" "$dir/out" "$dir/err" "$dir/control/"
printf 'x%sx' "$pw_bob" >> "$dir/control/err"
printf %s "$pw_alice" | base64 >> "$dir/control/data/server.key"
printf %s "$pw_bob" | od -An -tx1 | tr -d ' \n' >> "$dir/control/out"
[ "$(scan "$pw_bob" "$dir/control" | sort | tr '\n' ' ')" = "$dir/control/err $dir/control/out " ] \
  || fail "control: the scan did not find Bob's planted password (raw and hex) where planted"
[ "$(scan "$pw_alice" "$dir/control")" = "$dir/control/data/server.key" ] \
  || fail "control: the scan did not find alice's planted password (base64)"
for pw in "$pw_alice" "$pw_bob"; do
  hits=$(scan "$pw" "$data" "$dir/out" "$dir/err")
  [ -z "$hits" ] || fail "a password in $hits"
done
echo "keyserver.binary: ok"
