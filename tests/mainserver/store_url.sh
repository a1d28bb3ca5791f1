#!/bin/sh
# mainserver.store_url: a postgresql URL libpq cannot read (a bad %-escape
# in its password) stops the server with exit 1 and a reason, and the
# password is in no line it prints: libpq's own reason would quote it.
#   store_url.sh CHAT_MAINSERVER CHAT_KEYSERVER
set -u
ms=$1
ks=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail () { echo "mainserver.store_url: FAIL: $*" >&2; exit 1; }
"$ks" --init --data "$dir/ks" >/dev/null 2>&1 || fail "chat-keyserver --init"
"$ms" --init --data "$dir/ms" >/dev/null 2>&1 || fail "chat-mainserver --init"
"$ms" --data "$dir/ms" --keyserver-key "$dir/ks/keyserver.pub" \
  --bind 'tcp://127.0.0.1:*' --push-bind 'tcp://127.0.0.1:*' \
  --store 'postgresql://chat:xSecretPw%zz@localhost/chat' >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 1 ] || fail "an unreadable store URL must exit 1 (exit $rc)"
grep -q 'cannot be read' "$dir/err" || fail "no reason given: $(cat "$dir/err")"
if grep -qF 'SecretPw' "$dir/out" "$dir/err"; then
  fail "the store's password was printed: $(cat "$dir/out" "$dir/err")"
fi
echo "mainserver.store_url: refused, with a reason, and the password in no line"
