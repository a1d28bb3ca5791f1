"""ksstore - the key server's store as the tests read and edit it, behind
the server's back, on either engine:

 - SQLite: the file <ks_dir>/keyserver.db (src/keyserver/keystore_sqlite.c:
   users, wrapped_keys);
 - PostgreSQL, in the suite's PostgreSQL pass (CHAT_TEST_STORE=pg): the
   database chatproc.store_url(ks_dir) names, the one the harnesses start
   that key server on (src/keyserver/keystore_pg.c: ks_users,
   ks_wrapped_keys), through psql.

    users(ks_dir)                        [(username, salt, iterations, identity, sealed)]
    identity_key(ks_dir, name)           the identity public key (DER) the directory gives
    set_identity_key(ks_dir, name, der)  replace it (what a lying key server does)
    wrapped_keys(ks_dir, member=None)    [(member, conversation id, epoch, wrapped copy)]

The same meaning on both: names are matched without regard to case; on
PostgreSQL a wrapped copy's member is the folded name the store keeps.
"""
import csv
import io
import os
import sqlite3
import subprocess

from chatproc import psql_program, store_url


def _sqlite(ks_dir, write=False):
    path = os.path.join(ks_dir, "keyserver.db")
    if write:
        return sqlite3.connect(path, timeout=30)
    # read only: never disturb a running server's database
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)


def _pg(url, sql, **values):
    """Rows of sql run by psql on url, each a list of strings (None for
    NULL); values are psql variables, quoted in sql as :'name'."""
    argv = [psql_program(), url, "-X", "-q", "-A", "-t", "--csv", "-P", "null=\\N",
            "-v", "ON_ERROR_STOP=1"]
    for name, value in values.items():
        argv += ["-v", "%s=%s" % (name, value)]
    # through stdin: psql quotes variables (:'name') there, not in -c
    r = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql on the key server's database: %s" % r.stderr.strip())
    return [[None if f == "\\N" else f for f in row]
            for row in csv.reader(io.StringIO(r.stdout))]


def users(ks_dir):
    url = store_url(ks_dir)
    if url:
        return [(name, bytes.fromhex(salt), int(iterations), bytes.fromhex(identity),
                 bytes.fromhex(sealed))
                for name, salt, iterations, identity, sealed in _pg(
                    url, "SELECT username, encode(salt, 'hex'), iterations,"
                    " encode(identity_public_key, 'hex'), encode(sealed_identity, 'hex')"
                    " FROM ks_users ORDER BY made")]
    db = _sqlite(ks_dir)
    out = [(name, bytes(salt), iterations, bytes(identity), bytes(sealed))
           for name, salt, iterations, identity, sealed in db.execute(
               "SELECT username, salt, iterations, identity_public_key, sealed_identity "
               "FROM users")]
    db.close()
    return out


def identity_key(ks_dir, name):
    url = store_url(ks_dir)
    if url:
        rows = _pg(url, "SELECT encode(identity_public_key, 'hex') FROM ks_users"
                   " WHERE name_lower = lower(:'name')", name=name)
        if len(rows) != 1:
            raise LookupError("no user %r in the key server's database" % name)
        return bytes.fromhex(rows[0][0])
    db = _sqlite(ks_dir)
    row = db.execute("SELECT identity_public_key FROM users WHERE username = ? COLLATE NOCASE",
                     (name,)).fetchone()
    db.close()
    if row is None:
        raise LookupError("no user %r in the key server's database" % name)
    return bytes(row[0])


def set_identity_key(ks_dir, name, der):
    url = store_url(ks_dir)
    if url:
        rows = _pg(url, "UPDATE ks_users SET identity_public_key = decode(:'der', 'hex')"
                   " WHERE name_lower = lower(:'name') RETURNING 1", name=name, der=der.hex())
        changed = len(rows)
    else:
        db = _sqlite(ks_dir, write=True)
        changed = db.execute("UPDATE users SET identity_public_key = ? "
                             "WHERE username = ? COLLATE NOCASE", (der, name)).rowcount
        db.commit()
        db.close()
    if changed != 1:
        raise LookupError("no user %r in the key server's database" % name)


def wrapped_keys(ks_dir, member=None):
    url = store_url(ks_dir)
    if url:
        where = " WHERE member_lower = lower(:'member')" if member is not None else ""
        values = {"member": member} if member is not None else {}
        return [(m, bytes.fromhex(c), int(e), bytes.fromhex(w)) for m, c, e, w in _pg(
            url, "SELECT member_lower, encode(conversation_id, 'hex'), epoch,"
            " encode(wrapped_key, 'hex') FROM ks_wrapped_keys" + where, **values)]
    db = _sqlite(ks_dir)
    if member is not None:
        rows = db.execute("SELECT member, conversation_id, epoch, wrapped_key FROM wrapped_keys "
                          "WHERE member = ? COLLATE NOCASE", (member,))
    else:
        rows = db.execute("SELECT member, conversation_id, epoch, wrapped_key FROM wrapped_keys")
    out = [(m, bytes(c), e, bytes(w)) for m, c, e, w in rows]
    db.close()
    return out
