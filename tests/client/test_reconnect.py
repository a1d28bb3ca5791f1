#!/usr/bin/env python3
"""client.reconnect - the main server and then the key server restart
under running clients: the clients notice, shake hands again with the same
key, log in again without the password (resume token), fetch what they
missed, and messages sent after the restart still arrive (live, by push,
once the client is back; the catch-up after the login by fetching)."""
import re

from plainlib import TIMEOUT, check, log, restartable_endpoint, run


def reconnect(w):
    w.start_keyserver(bind=restartable_endpoint())
    ms = restartable_endpoint()
    push = restartable_endpoint()
    while push == ms:
        push = restartable_endpoint()
    w.start_mainserver(bind=ms, push=push)
    alice = w.client("alice")
    bob = w.client("bob")
    alice.ok("register alice apw apw apw")
    alice.ok("register bob bpw bpw bpw")
    alice.ok("register carol cpw cpw cpw")
    alice.ok("login alice apw")
    bob.ok("login bob bpw")
    _, lines = alice.ok("new bob")
    conv = lines[-1].split(" ")[2]
    m = bob.mark()
    alice.ok("send %s before" % conv)
    bob.wait_msg(conv, "alice", "before", since=m)

    # -- the main server restarts on the same ports
    log("restarting the main server")
    ma, mb = alice.mark(), bob.mark()
    w.mainserver.stop()
    w.start_mainserver(bind=w.ms_endpoint, push=w.push_endpoint)
    # bob is idle: he notices by himself (at once: his connection is
    # watched) and logs in again
    bob.wait_line(r"^event reconnecting mainserver ", since=mb)
    bob.wait_line(r"^event logged-in bob$", since=mb)
    # alice's next send goes through (after her own reconnect)
    alice.ok("send %s after main restart" % conv)
    bob.wait_msg(conv, "alice", "after main restart", since=mb)
    alice.wait_line(r"^event logged-in alice$", since=ma)

    # messages bob could not have seen pushed (sent while he reconnects)
    # still reach him: gap detection and the refetch after login
    w.mainserver.stop()
    mb = bob.mark()
    w.start_mainserver(bind=w.ms_endpoint, push=w.push_endpoint)
    alice.ok("send %s one" % conv)
    alice.ok("send %s two" % conv)
    bob.wait_msg(conv, "alice", "one", since=mb, timeout=TIMEOUT)
    bob.wait_msg(conv, "alice", "two", since=mb, timeout=TIMEOUT)
    # and bob can answer
    ma = alice.mark()
    bob.ok("send %s got them" % conv)
    alice.wait_msg(conv, "bob", "got them", since=ma)

    # -- the key server restarts (same data): a new conversation needs a
    # new key, which needs the key server session back (resume)
    log("restarting the key server")
    w.keyserver.stop()
    w.start_keyserver(bind=w.ks_endpoint)
    _, lines = alice.ok("new bob carol")
    group = lines[-1].split(" ")[2]
    mb = bob.mark()
    alice.ok("send %s group after key restart" % group)
    bob.wait_msg(group, "alice", "group after key restart", since=mb)
    check(alice.quit() == 0, "alice's client exited non-zero")
    check(bob.quit() == 0, "bob's client exited non-zero")


if __name__ == "__main__":
    run(reconnect)
