#!/usr/bin/env bash
# pgpass.sh BUILD_DIR [CTEST ARGS...]: the suite's PostgreSQL pass. Run
# under tests/support/pgtemp.sh (tools/test does): the tests labelled
# pgpass run again with CHAT_TEST_STORE=pg, so that every main server and
# every key server the Python harnesses start (tests/support/chatproc.py:
# store_args) keeps its store in a PostgreSQL database of its own on that
# server. Then it proves the servers did: the pass fails unless those
# databases hold messages (main servers) and users (key servers).
set -u
[ $# -ge 1 ] || { echo "usage: pgpass.sh BUILD_DIR [CTEST ARGS...]" >&2; exit 2; }
build=$1
shift
[ -n "${CHAT_TEST_PG_URL:-}" ] || { echo "pgpass: run me under tests/support/pgtemp.sh" >&2; exit 2; }
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
[ -n "$psql" ] || { echo "pgpass: no psql" >&2; exit 1; }

(cd "$build" && CHAT_TEST_STORE=pg ctest --output-on-failure -L pgpass "$@")
rc=$?

# The databases store_args made (t_ and a hash of the data directory): a
# main server's has the table messages, a key server's ks_users
databases=0
messages=0
ks_databases=0
users=0
for db in $("$psql" "$CHAT_TEST_PG_URL" -qAt \
              -c "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'"); do
  databases=$((databases + 1))
  url=${CHAT_TEST_PG_URL/\/chat\?//$db?}
  n=$("$psql" "$url" -qAt -c "SELECT count(*) FROM messages" 2>/dev/null) || n=0
  messages=$((messages + ${n:-0}))
  if u=$("$psql" "$url" -qAt -c "SELECT count(*) FROM ks_users" 2>/dev/null); then
    ks_databases=$((ks_databases + 1))
    users=$((users + ${u:-0}))
  fi
done
echo "pgpass: in $databases PostgreSQL databases the main servers kept $messages messages," \
  "the key servers $users users (in $ks_databases databases)"
[ $rc -eq 0 ] || exit $rc
if [ $databases -eq 0 ] || [ $messages -eq 0 ]; then
  echo "pgpass: FAIL: no main server stored anything on PostgreSQL" >&2
  exit 1
fi
if [ $ks_databases -eq 0 ] || [ $users -eq 0 ]; then
  echo "pgpass: FAIL: no key server stored a user on PostgreSQL" >&2
  exit 1
fi
