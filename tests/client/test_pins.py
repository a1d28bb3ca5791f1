#!/usr/bin/env python3
"""client.pins - trust on first use, and a changed server key refused with
a warning naming both fingerprints: the key server restarted on the same
port with another data directory (another key). Also --pin-keyserver."""
import os
import re

from plainlib import check, log, restartable_endpoint, run


def pins(w):
    w.start_keyserver(bind=restartable_endpoint())
    w.start_mainserver()
    old_fp = w.ks_fingerprint

    # first use: both keys pinned in $XDG_CONFIG_HOME/chat/known_servers
    a = w.client("first")
    a.wait_line(r"^event pin-new keyserver %s %s$" % (re.escape(w.ks_endpoint), re.escape(old_fp)))
    a.wait_line(r"^event pin-new mainserver ")
    a.ok("register dave pw pw pw")
    a.ok("login dave pw")
    known = open(os.path.join(w.home, "chat", "known_servers")).read()
    check("%s %s" % (w.ks_endpoint, old_fp) in known, "pin file: %r" % known)
    check(oct(os.stat(os.path.join(w.home, "chat", "known_servers")).st_mode & 0o777) == "0o600",
          "the pin file is not 0600")
    # a second run with the same file: matched silently
    b = w.client("second")
    b.wait_line(r"^event connected keyserver ")
    b.ok("login dave pw")
    check(not any(l.startswith("event pin-new") for l in b.lines()), "pinned twice: %r" % b.lines())
    b.quit()

    # the key server comes back with another key on the same port
    w.keyserver.stop()
    w.start_keyserver(data="ks-impostor", bind=w.ks_endpoint)
    new_fp = w.ks_fingerprint
    check(new_fp != old_fp, "the new key server has the same key")
    log("key server now %s (was %s)" % (new_fp, old_fp))

    # a new client refuses it, names both keys, and sends nothing sealed
    c = w.client("third")
    _, m = c.wait_line(r"^event pin-mismatch keyserver (\S+) offered=(\S+) pinned=(\S+)$")
    check(m.group(2) == new_fp and m.group(3) == old_fp, "mismatch names %r" % m.group(0))
    i, _ = c.wait_line(r"WARNING", stream="err")
    warning = c.err[i]
    check(old_fp in warning and new_fp in warning, "warning lacks a fingerprint: %r" % warning)
    c.error("login dave pw", "ERR_PIN_MISMATCH")
    check(not any(l.startswith("event connected keyserver") for l in c.lines()),
          "connected despite the mismatch")
    # the pin file still holds the old key
    known = open(os.path.join(w.home, "chat", "known_servers")).read()
    check(old_fp in known and new_fp not in known, "the pin was replaced: %r" % known)

    # the client that was running all along: its next login meets the new
    # key server, and refuses it too
    a.ok("logout")
    a.error("login dave pw", "ERR_PIN_MISMATCH")
    a.wait_line(r"^event pin-mismatch keyserver \S+ offered=%s pinned=%s$"
                % (re.escape(new_fp), re.escape(old_fp)))

    # --pin-keyserver: only that key, whatever the file says
    fresh = os.path.join(w.dir, "fresh-config")
    d = w.client("pinned-right", home=fresh, extra=["--pin-keyserver", new_fp])
    d.wait_line(r"^event connected keyserver ")
    # it talks to the new server (which has never heard of dave)
    d.error("login dave pw", "ERR_AUTH_FAILED", "Wrong username or password")
    e = w.client("pinned-wrong", home=fresh, extra=["--pin-keyserver", old_fp])
    _, m = e.wait_line(r"^event pin-mismatch keyserver \S+ offered=(\S+) pinned=(\S+)$")
    check(m.group(1) == new_fp and m.group(2) == old_fp, "--pin mismatch names %r" % m.group(0))
    e.error("register frank pw pw pw", "ERR_PIN_MISMATCH")
    known = open(os.path.join(fresh, "chat", "known_servers")).read()
    check("keyserver" not in known and w.ks_endpoint not in known,
          "a --pin server was written to the file: %r" % known)
    for client in (a, c, d, e):
        client.quit()


if __name__ == "__main__":
    run(pins)
