"""datadirs - what the two servers' data directories hold, read the way a
member reads it: with a user's password, proto/README.md sections 5 and
10-12, and python3-cryptography (spec2.py), never libchat.

    users(ks_dir)                         {lower name: User}
    open_identity(ks_dir, name, password) the user's identity private key
    epoch_keys(ks_dir, name, identity)    {(conversation id, epoch): key}
    messages(ms_dir)                      [Stored] as the main server keeps them
    open_message(key, token)              (MessageBody fields, body, signature)

Used by e2e.nosecrets (the epoch keys to look for, now that the key server
holds none in the clear) and e2e.attacker (its control step: a member's
password does open a message, so the attacker's failure means something).
The key server's store is read through ksstore: its SQLite file, or its
PostgreSQL database in the suite's PostgreSQL pass; the main server's
(messages) only from its SQLite file.
"""
import collections
import os
import sqlite3

from cryptography.hazmat.primitives import serialization

import ksstore
import spec2

User = collections.namedtuple("User", "name salt iterations identity_der sealed")
Stored = collections.namedtuple("Stored", "conversation seq epoch sender token")


def _db(path):
    # read only: never disturb a running server's database
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)


def users(ks_dir):
    return {name.lower(): User(name, salt, iterations, identity, sealed)
            for name, salt, iterations, identity, sealed in ksstore.users(ks_dir)}


def salted(user, password):
    return spec2.salted_password(password, user.salt, user.iterations)


def open_identity(ks_dir, name, password):
    """Section 10: the sealed identity opens under HKDF(SaltedPassword); its
    key must be the announced one. Raises on any failure."""
    user = users(ks_dir)[name.lower()]
    plain = spec2.fernet(spec2.seal_key(salted(user, password))).decrypt(
        user.sealed.decode("ascii"))
    fields, _ = spec2.decode(plain)
    if spec2.one(fields, 1, b"").decode().lower() != name.lower():
        raise ValueError("the sealed identity names another user")
    key = serialization.load_der_private_key(spec2.one(fields, 2, b""), password=None)
    if spec2.der(key) != user.identity_der:
        raise ValueError("the sealed identity is not the announced key")
    return key


def epoch_keys(ks_dir, name, identity):
    """The user's wrapped copies, unwrapped (RSA-OAEP-SHA-256)."""
    return {(conversation, epoch): identity.decrypt(wrapped, spec2.OAEP)
            for _, conversation, epoch, wrapped in ksstore.wrapped_keys(ks_dir, name)}


def wrapped_keys(ks_dir):
    """Every wrapped copy the key server holds: [(member, id, epoch, bytes)]."""
    return ksstore.wrapped_keys(ks_dir)


def messages(ms_dir):
    db = _db(os.path.join(ms_dir, "mainserver.db"))
    out = [Stored(bytes(c), s, e, n, t) for c, s, e, n, t in db.execute(
        "SELECT conversation_id, seq, epoch, sender, token FROM messages "
        "ORDER BY conversation_id, seq")]
    db.close()
    return out


def open_message(key, token):
    """Section 12: the token under the epoch key holds a SignedMessage;
    returns ({number: value} of its MessageBody, body bytes, signature)."""
    plain = spec2.fernet(key).decrypt(token.encode("ascii") if isinstance(token, str)
                                      else token)
    fields, _ = spec2.decode(plain)
    body = spec2.one(fields, 1, b"")
    signature = spec2.one(fields, 2, b"")
    body_fields, _ = spec2.decode(body)
    return ({n: spec2.one(body_fields, n, b"" if n != 3 and n != 6 else 0)
             for n in range(1, 7)}, body, signature)
