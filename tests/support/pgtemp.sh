#!/usr/bin/env bash
# pgtemp.sh COMMAND [ARGS...]: run COMMAND beside a private PostgreSQL.
#
# initdb and pg_ctl run as the postgres user (as the caller when it is not
# root) in a new temporary directory; the server listens on a Unix socket in
# that directory only (listen_addresses=''), with fsync and
# synchronous_commit on (in postgresql.conf, so that a test can turn them
# off with ALTER SYSTEM), and is stopped and removed in a trap whatever
# COMMAND does. COMMAND gets the database's URL in CHAT_TEST_PG_URL
# (postgresql:///chat?host=DIR&user=postgres) and its exit code is ours.
#
# PGTEMP_SERVER_OPTIONS, when set, is added to the server's options after
# ours (a test of a server set up wrong: "-c fsync=off").
#
# Where PostgreSQL is not installed the test is skipped, saying why (exit
# 77); under CHAT_TEST_STRICT=1 (CI) that is a failure instead (exit 1).
set -u

skip () {
  if [ "${CHAT_TEST_STRICT:-0}" = 1 ]; then
    echo "pgtemp: FAIL: $* (CHAT_TEST_STRICT=1: PostgreSQL must be there; tools/setup installs it)" >&2
    exit 1
  fi
  echo "SKIP: $* (tools/setup installs postgresql)"
  exit 77
}

[ $# -gt 0 ] || { echo "usage: pgtemp.sh COMMAND [ARGS...]" >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] \
  || skip "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)"

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || skip "there is no postgres user to run the server as"
  as_pg () { runuser -u postgres -- "$@"; }
else
  as_pg () { "$@"; }
fi

dir=$(mktemp -d /tmp/pgtemp.XXXXXX) || { echo "pgtemp: mktemp failed" >&2; exit 1; }
started=0
cleanup () {
  if [ "$started" = 1 ]; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 \
      || as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
chmod 700 "$dir"

fail () {
  echo "pgtemp: $*" >&2
  [ -f "$dir/log" ] && sed 's/^/pgtemp: server: /' "$dir/log" >&2
  exit 1
}
# --no-sync: initdb's own files only; the server itself runs with fsync on
as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; fail "initdb failed"; }
# Durable commits in the configuration file, not on the command line, so
# that a test may turn them off with ALTER SYSTEM (a store must then refuse)
printf 'fsync = on\nsynchronous_commit = on\n' >>"$dir/data/postgresql.conf" \
  || fail "cannot write postgresql.conf"
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
  -o "-c listen_addresses='' -k $dir ${PGTEMP_SERVER_OPTIONS:-}" \
  >/dev/null || fail "the server did not start"
started=1
as_pg "$bindir/psql" -h "$dir" -U postgres -d postgres -qAt -c "CREATE DATABASE chat" \
  >/dev/null || fail "CREATE DATABASE failed"

CHAT_TEST_PG_URL="postgresql:///chat?host=$dir&user=postgres" "$@"
rc=$?
exit $rc
