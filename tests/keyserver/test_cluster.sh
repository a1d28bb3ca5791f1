#!/usr/bin/env bash
# keyserver.cluster.pg: two real chat-keyserver processes on one PostgreSQL
# database (run under tests/support/pgtemp.sh, which gives CHAT_TEST_PG_URL),
# sharing server.key and keyserver.secret as README says a cluster must:
# a user registered on one logs in on the other; a name registered on the
# other in another case is taken; a resume token made by one is accepted by
# the other (both ways) and the fake salt of an unknown name is the same on
# both; the same name registered on both at once, four times: exactly
# one account each time, the loser told ERR_USERNAME_TAKEN, and only the
# winner's password works. A third server with its own data directory
# (another secret) is refused on that database, saying why; on a database
# of its own it refuses the cluster's resume tokens and fakes other salts
# (the control: the test can tell). A COMMIT that
# fails (a deferred trigger the test adds) answers ERR_INTERNAL and stores
# nothing; the retry succeeds. The store's URL, which may hold a password,
# is never in a server's output, also when the connection fails.
#   test_cluster.sh PATH/chat-keyserver PATH/ks-probe
set -u
server=$1
probe=$2
[ -n "${CHAT_TEST_PG_URL:-}" ] || { echo "FAIL: no CHAT_TEST_PG_URL (run under pgtemp.sh)" >&2; exit 1; }
psql=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
[ -x "$psql" ] || { echo "FAIL: no psql" >&2; exit 1; }
dir=$(mktemp -d /tmp/ks-cluster-XXXXXX)
pids=()
fail () { echo "FAIL: $*" >&2; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; exit 1; }
cleanup () { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
sql () { "$psql" "$CHAT_TEST_PG_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

# A password in the URL (the server trusts local connections and ignores
# it): it must never be printed
pgpass=Pg-Secret-9f3Kq
url="$CHAT_TEST_PG_URL&password=$pgpass"

# One key and one secret for the cluster: made by the first --init, copied
# to the second data directory before its --init (which keeps them)
"$server" --init --data "$dir/a" >/dev/null 2>&1 || fail "--init a"
mkdir -m 700 "$dir/b"
cp -p "$dir/a/server.key" "$dir/a/keyserver.secret" "$dir/b/"
fp_a=$("$server" --init --data "$dir/a" 2>/dev/null | cut -d' ' -f2)
fp_b=$("$server" --init --data "$dir/b" 2>/dev/null | cut -d' ' -f2)
[ -n "$fp_a" ] && [ "$fp_a" = "$fp_b" ] || fail "the cluster's servers show two keys: $fp_a $fp_b"
"$server" --init --data "$dir/c" >/dev/null 2>&1 || fail "--init c"
fp_c=$("$server" --init --data "$dir/c" 2>/dev/null | cut -d' ' -f2)
# Any RSA public key stands for the main server's here
"$server" --init --data "$dir/ms" >/dev/null 2>&1 || fail "--init ms"
mskey=$dir/ms/keyserver.pub

# start NAME ARGS...: in the background; its endpoint in ep_NAME
start () {
  name=$1; shift
  "$server" --bind 'tcp://127.0.0.1:*' --iterations 4096 --mainserver-key "$mskey" "$@" \
    >"$dir/$name.out" 2>"$dir/$name.err" &
  pids+=($!)
  for _ in $(seq 1 600); do
    ep=$(head -n 1 "$dir/$name.out")
    [ -n "$ep" ] && { eval "ep_$name=\$ep"; return 0; }
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name died at start: $(tail -5 "$dir/$name.err")"
    sleep 0.05
  done
  fail "$name printed no endpoint"
}
# expect WANT ENDPOINT PIN ARGS...
expect () {
  want=$1; ep=$2; pin=$3; shift 3
  got=$("$probe" "$ep" "$pin" "$@")
  [ "$got" = "$want" ] || fail "$* on $ep gave $got, wanted $want"
}

start a --data "$dir/a" --store "$url"
start b --data "$dir/b" --store "$url"
grep -q 'store on postgresql' "$dir/a.err" || fail "a is not on postgresql: $(cat "$dir/a.err")"

# Register on one, log in on the other
expect OK "$ep_a" "$fp_a" register Alice pw-alice
expect OK "$ep_b" "$fp_a" login alice pw-alice
expect ERR_AUTH_FAILED "$ep_b" "$fp_a" login alice wrong
expect ERR_USERNAME_TAKEN "$ep_b" "$fp_a" register ALICE other
expect OK "$ep_b" "$fp_a" register Bob pw-bob
expect OK "$ep_a" "$fp_a" login BOB pw-bob

# A resume token of one is good on the other, both ways
expect OK "$ep_a" "$fp_a" resume-on "$ep_b" alice pw-alice
expect OK "$ep_b" "$fp_a" resume-on "$ep_a" bob pw-bob
# The fake salt of a name nobody has is the same on both
salt_a=$("$probe" "$ep_a" "$fp_a" salt nobody) || fail "salt on a: $salt_a"
salt_b=$("$probe" "$ep_b" "$fp_a" salt NoBody) || fail "salt on b: $salt_b"
[ "$salt_a" = "$salt_b" ] || fail "fake salts differ: $salt_a $salt_b"

# A server with another secret is refused on the cluster's database
"$server" --data "$dir/c" --store "$url" --bind 'tcp://127.0.0.1:*' \
  --mainserver-key "$mskey" >"$dir/c0.out" 2>"$dir/c0.err"
[ $? -eq 1 ] || fail "a server with another secret must exit 1 on the cluster's database"
grep -q 'another keyserver.secret' "$dir/c0.err" || fail "no reason: $(cat "$dir/c0.err")"
# The control: on a database of its own it refuses the cluster's tokens,
# and fakes other salts
sql "CREATE DATABASE other" >/dev/null || fail "CREATE DATABASE other"
start c --data "$dir/c" --store "${url/\/chat\?//other?}"
expect OK "$ep_c" "$fp_c" register Alice pw-alice
expect ERR_BAD_CERTIFICATE "$ep_a" - resume-on "$ep_c" alice pw-alice
salt_c=$("$probe" "$ep_c" "$fp_c" salt nobody) || fail "salt on c: $salt_c"
[ "$salt_c" != "$salt_a" ] || fail "another secret gave the same fake salt"

# The same name on both at once: exactly one account, the other told taken
for i in 1 2 3 4; do
  "$probe" "$ep_a" "$fp_a" register "Race$i" "pw-a-$i" >"$dir/race.a" &
  ra=$!
  "$probe" "$ep_b" "$fp_a" register "RACE$i" "pw-b-$i" >"$dir/race.b" &
  rb=$!
  wait $ra; wait $rb
  got=$(cat "$dir/race.a" "$dir/race.b" | sort | tr '\n' ' ')
  [ "$got" = "ERR_USERNAME_TAKEN OK " ] || fail "race $i: $got"
  [ "$(sql "SELECT count(*) FROM ks_users WHERE name_lower = 'race$i'")" = 1 ] \
    || fail "race $i: not one row"
  if [ "$(cat "$dir/race.a")" = OK ]; then win=a; lose=b; else win=b; lose=a; fi
  expect OK "$ep_a" "$fp_a" login "race$i" "pw-$win-$i"
  expect OK "$ep_b" "$fp_a" login "race$i" "pw-$win-$i"
  expect ERR_AUTH_FAILED "$ep_a" "$fp_a" login "race$i" "pw-$lose-$i"
done

# COMMIT fails (after the request answered, at commit time): a clean
# ERR_INTERNAL, nothing stored, the server serves on, the retry succeeds
out=$(sql "CREATE FUNCTION test_poison () RETURNS trigger LANGUAGE plpgsql AS \$\$
  BEGIN IF NEW.name_lower = 'poisoned' THEN RAISE EXCEPTION 'poisoned commit'; END IF;
  RETURN NULL; END \$\$;
  CREATE CONSTRAINT TRIGGER test_poison AFTER INSERT ON ks_users
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_poison ()") \
  || fail "trigger: $out"
expect ERR_INTERNAL "$ep_a" "$fp_a" register Poisoned pw-p
[ "$(sql "SELECT count(*) FROM ks_users WHERE name_lower = 'poisoned'")" = 0 ] \
  || fail "a registration whose commit failed was stored"
grep -q 'commit failed' "$dir/a.err" || fail "the failed commit was not logged"
expect OK "$ep_a" "$fp_a" login alice pw-alice
sql "DROP TRIGGER test_poison ON ks_users" >/dev/null || fail "drop trigger"
expect OK "$ep_a" "$fp_a" register Poisoned pw-p
expect OK "$ep_b" "$fp_a" login poisoned pw-p

for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a server exited $? after SIGTERM"; done
pids=()

# A store that cannot be reached: exit 1, the reason said, no password
sed_url=${url/\/chat\?//nope?}
"$server" --data "$dir/a" --store "$sed_url" --bind 'tcp://127.0.0.1:*' \
  --mainserver-key "$mskey" >"$dir/nope.out" 2>"$dir/nope.err"
[ $? -eq 1 ] || fail "an unknown database must exit 1"
grep -q 'cannot connect to postgresql' "$dir/nope.err" || fail "no reason: $(cat "$dir/nope.err")"
# A URL libpq cannot read (a bad %-escape in the password): its reason
# would quote the password, so it is not shown
"$server" --data "$dir/a" --store "postgresql://chat:x${pgpass}%zz@localhost/chat" \
  --bind 'tcp://127.0.0.1:*' --mainserver-key "$mskey" >"$dir/badurl.out" 2>"$dir/badurl.err"
[ $? -eq 1 ] || fail "an unreadable URL must exit 1"
grep -q 'cannot be read' "$dir/badurl.err" || fail "no reason: $(cat "$dir/badurl.err")"
for f in "$dir"/*.out "$dir"/*.err; do
  grep -qF -- "$pgpass" "$f" && fail "the store's password is in $f"
done
echo "keyserver.cluster.pg: ok"
