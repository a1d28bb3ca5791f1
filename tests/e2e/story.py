#!/usr/bin/env python3
"""e2e.story: the report's whole story through the real binaries.

Three users register (and every registration error: a taken name also in
another case, passwords that don't match, an invalid name), log in (and both
login errors read "Wrong username or password"), hold a 1:1 and a group
conversation with live delivery, a second session of the same user receives
live too (every live message within L.LIVE_TIMEOUT: by push, never by the
clients' re-list, which is set beyond the test), a user logs out and in again; then BOTH servers are stopped with
SIGTERM and started again on the same data directories, and everything is
still there: users, conversations, the full history readable by each member
(and not by a non-member); a client left running across the restart carries
on by itself (sends, and receives pushes again).

With --valgrind (e2e.valgrind) both servers run under valgrind and the test
fails on any memory error or definite/indirect leak they report.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

VALGRIND = "--valgrind" in sys.argv


def body(workdir, cleanups):
    bins = L.binaries()
    if VALGRIND:
        if not L.shutil.which("valgrind"):
            return L.skip("valgrind is not installed (tools/setup installs it)")
        L.TIMEOUT = max(L.TIMEOUT, 180)
        # the servers run many times slower; still far below any re-list
        L.LIVE_TIMEOUT = max(L.LIVE_TIMEOUT, 15)
    net = L.private_net('story', cleanups)
    cluster = L.Cluster(bins, workdir, netns=net, wrapper=L.valgrind_wrapper(workdir) if VALGRIND else None)
    cluster.init().start()
    home = os.path.join(workdir, "client")

    def client(name):
        return L.Client(bins, name, cluster.client_args(), home, netns=net, logdir=workdir)

    # --- registration, and each of its errors
    a = client("alice")
    a.register("Alice", "alice pw 1").expect_ok("Success!")
    a.register("alice", "whatever1").expect_fail("ERR_USERNAME_TAKEN", "Username already in use")
    a.register("ALICE", "whatever1").expect_fail("ERR_USERNAME_TAKEN", "Username already in use")
    a.register("bob", "bob pw 1", "bob pw 2").expect_fail(None, "Passwords don't match")
    a.register("bob", "bob pw 1", "bob pw 1", "bob pw 2").expect_fail(None, "Passwords don't match")
    a.register("bad name!", "whatever1").expect_fail("ERR_INVALID_USERNAME", "Invalid username")
    a.register("x" * 33, "whatever1").expect_fail("ERR_INVALID_USERNAME", "Invalid username")
    a.register("bob", "bob pw 1").expect_ok("Success!")
    a.register("carol", "carol pw 1").expect_ok("Success!")

    # --- login, and its errors (one text for both)
    a.login("alice", "wrong password").expect_fail("ERR_AUTH_FAILED", "Wrong username or password")
    a.login("nobody", "alice pw 1").expect_fail("ERR_AUTH_FAILED", "Wrong username or password")
    a.login("alice", "alice pw 1").expect_ok()
    b = client("bob")
    b.login("BOB", "bob pw 1").expect_ok()        # any case logs in, the spelling is kept
    c = client("carol")
    c.login("carol", "carol pw 1").expect_ok()
    a2 = client("alice-2")                        # a second session of the same user
    a2.login("alice", "alice pw 1").expect_ok()
    users = a.users()
    if users != ["Alice", "bob", "carol"]:
        L.fail("users: %r, expected Alice, bob, carol" % users)

    # --- a 1:1 conversation, live to the other member and to the sender's
    # other session: each within L.LIVE_TIMEOUT, which only a push makes
    # (the clients re-list only after the test)
    ab = a.new("bob")
    t1 = a.send(ab, "hello bob, it's alice")
    b.wait_message(ab, "Alice", "hello bob, it's alice")
    a2.wait_message(ab, "Alice", "hello bob, it's alice")
    t2 = b.send(ab, "hi alice")
    a.wait_message(ab, "bob", "hi alice")
    a2.wait_message(ab, "bob", "hi alice")
    if b.new("alice") != ab:
        L.fail("a second 1:1 between alice and bob is not the existing one")

    # --- a group
    g = c.new("alice", "bob")
    c.send(g, "group hello from carol")
    for who in (a, a2, b):
        who.wait_message(g, "carol", "group hello from carol")
    a2.send(g, "alice from her second session")
    for who in (a, b, c):
        who.wait_message(g, "Alice", "alice from her second session")
    if t1 >= t2:
        L.fail("sequence numbers not increasing: %d then %d" % (t1, t2))

    # --- logout and in again
    a.logout()
    a.login("alice", "alice pw 1").expect_ok()
    hist = a.history(ab)
    expect_ab = [("Alice", "hello bob, it's alice"), ("bob", "hi alice")]
    if [(s, t) for _, s, t in hist] != expect_ab:
        L.fail("alice's history of the 1:1 after logging in again: %r" % hist)
    a.quit()
    a2.quit()
    c.quit()

    # --- restart of both servers on the same data
    L.log("stopping both servers (SIGTERM)")
    cluster.stop(check=not VALGRIND)
    cluster.start()
    # bob's client was left running: it carries on by itself
    b.send(ab, "bob after the restart", timeout=60)
    expect_ab.append(("bob", "bob after the restart"))
    expect_g = [("carol", "group hello from carol"), ("Alice", "alice from her second session")]

    for user, pw, convs in (("alice", "alice pw 1", {ab: expect_ab, g: expect_g}),
                            ("bob", "bob pw 1", {ab: expect_ab, g: expect_g}),
                            ("carol", "carol pw 1", {g: expect_g})):
        x = client(user + "-after")
        x.login(user, pw).expect_ok()
        listed = x.conversations()
        if set(listed) != set(convs):
            L.fail("%s lists conversations %r after the restart, expected %r"
                   % (user, sorted(listed), sorted(convs)))
        for conv, expected in convs.items():
            hist = x.history(conv)
            if [(s, t) for _, s, t in hist] != expected:
                L.fail("%s's history of %s after the restart: %r, expected %r"
                       % (user, conv, hist, expected))
            seqs = [q for q, _, _ in hist]
            if seqs != list(range(1, len(expected) + 1)):
                L.fail("%s: sequence numbers %r" % (conv, seqs))
        if user == "alice":
            # bob's client, running since before the restart, gets pushes again
            x.send(ab, "alice after the restart")
            b.wait_message(ab, "Alice", "alice after the restart")
            expect_ab.append(("Alice", "alice after the restart"))
        if user == "carol":
            x.history_refused(ab)          # not a member: not even told it exists
        if x.users() != ["Alice", "bob", "carol"]:
            L.fail("users after the restart: %r" % x.users())
        x.quit()
    b.quit()

    # the taken name is still taken after the restart
    d = client("dave")
    d.register("CAROL", "whatever1").expect_fail("ERR_USERNAME_TAKEN", "Username already in use")
    d.quit()

    cluster.stop(timeout=180 if VALGRIND else None, check=not VALGRIND)
    if VALGRIND:
        L.check_valgrind_logs(workdir, 4, "2 servers x 2 runs")
        bad = [(what, rc) for what, rc in cluster.exit_codes if rc != 0]
        if bad:
            L.fail("under valgrind, exit codes on SIGTERM: %r" % bad)


if __name__ == "__main__":
    L.main(body)
