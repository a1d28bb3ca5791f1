#!/usr/bin/env python3
"""client.cluster - two main servers on one PostgreSQL database serve as one
system (issue 17, DESIGN.md section 11), through `chat --plain` against the
real binaries (`chat-mainserver --store postgresql://...`):

 - a conversation created by a client of server 1 reaches its member on
   server 2 live (the doorbell's `c`), and so does a group;
 - a message sent through server 1 reaches a member logged in on server 2
   as a push (the doorbell's `m`), and back: within LIVE_TIMEOUT, while the
   clients re-list only once a day, so nothing but a push delivers it;
 - a title set on server 2 and a member added on server 1 reach the other
   server's members live, and the added member gets the next message;
 - server 2's listening connection killed (pg_terminate_backend, found by
   its application_name) while server 2 is stopped, so it cannot listen
   again before the message is committed: the NOTIFY is lost, and only the
   catch-up after it listens again delivers the message, live;
 - chat-admin on either server shows both servers (table servers) and
   their sessions; a server that stops leaves it.

The servers share one server key (one pin for the cluster). Run under
tests/support/pgtemp.sh, which starts PostgreSQL and sets CHAT_TEST_PG_URL;
without it the test skips, saying why.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from plainlib import LIVE, TIMEOUT, check, log, run
from test_groups import wait_change

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from chatproc import skip_status  # noqa: E402

LISTEN_APP = "chat-mainserver listen"


def conv_of(answer):
    # ok new INDEX HEX
    return answer.split(" ")[3]


def psql(url, sql):
    r = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url,
                        "-c", sql], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "psql %r failed: %s" % (sql, r.stderr))
    return r.stdout.strip()


def logged(proc, text, since=0):
    """How many of proc's log lines from since on hold text."""
    with proc.cv:
        return sum(1 for l in (proc.out + proc.err)[since:] if text in l)


def wait_logged(proc, text, count=1, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while logged(proc, text) < count:
        check(time.monotonic() < deadline and not proc.dead(),
              "%s never logged %r (%d times)\n%s" % (proc.name, text, count, proc.tail()))
        with proc.cv:
            proc.cv.wait(0.2)


def admin_servers(w, data):
    """The cluster as `chat-admin main --json` on data's server shows it."""
    r = subprocess.run([w.bins["admin"], "main", "--data", w.path(data), "--json"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "chat-admin main: %s" % r.stderr)
    return json.loads(r.stdout)["servers"]


def wait_cluster_view(w, data, ep1, ep2, sessions1, sessions2):
    """chat-admin shows both servers, with their sessions (their
    heartbeats come every 3 s)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        servers = admin_servers(w, data)
        seen = {s["client_endpoint"]: s for s in servers}
        if (len(servers) == 2 and ep1 in seen and ep2 in seen
                and seen[ep1]["sessions"] == sessions1 and seen[ep2]["sessions"] == sessions2):
            break
        check(time.monotonic() < deadline, "chat-admin never showed both servers with "
              "%d and %d sessions: %r" % (sessions1, sessions2, servers))
        time.sleep(0.5)
    selves = [s["client_endpoint"] for s in servers if s["self"]]
    check(selves == [ep1 if data == "ms" else ep2], "chat-admin's 'self' is wrong: %r" % servers)
    r = subprocess.run([w.bins["admin"], "main", "--data", w.path(data)],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "Main servers sharing this database" in r.stdout
          and ep1 in r.stdout and ep2 in r.stdout and "(this one)" in r.stdout,
          "chat-admin main does not show the cluster:\n%s%s" % (r.stdout, r.stderr))


def start(w, data, url):
    proc = w.start_mainserver(data=data, extra=["--store", url])
    wait_logged(proc, "the cluster bus listens")
    return proc, w.ms_endpoint


def cluster(w):
    check("admin" in w.bins, "usage: ... admin=PATH (chat-admin)")
    url = os.environ.get("CHAT_TEST_PG_URL")
    if not url:
        sys.exit(skip_status("no CHAT_TEST_PG_URL (run under tests/support/pgtemp.sh, "
                             "which needs PostgreSQL)"))
    w.start_keyserver()
    # One key for the cluster: server 2 gets server 1's (as --init wrote it)
    os.makedirs(w.path("ms2"), mode=0o700)
    for name in ("server.key", "mainserver.pub"):
        shutil.copy2(w.path("ms", name), w.path("ms2", name))
    ms1, ep1 = start(w, "ms", url)
    ms2, ep2 = start(w, "ms2", url)
    check(w.fingerprint(ms1) == w.fingerprint(ms2), "the two servers have different keys")
    listeners = psql(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'"
                     % LISTEN_APP)
    check(listeners == "2", "expected 2 listening connections, found %s" % listeners)

    alice = w.client("alice", push=False, mainserver=ep1)
    bob = w.client("bob", push=False, mainserver=ep2)
    carol = w.client("carol", push=False, mainserver=ep2)
    dave = w.client("dave", push=False, mainserver=ep2)
    for c in (alice, bob, carol, dave):
        c.ok("register %s pw-%s pw-%s pw-%s" % (c.name, c.name, c.name, c.name))
        c.ok("login %s pw-%s" % (c.name, c.name))

    # --- chat-admin on either server shows both, and their sessions
    wait_cluster_view(w, "ms", ep1, ep2, 1, 3)
    wait_cluster_view(w, "ms2", ep1, ep2, 1, 3)

    # --- a conversation made on server 1 reaches its member on server 2 live
    answer, _ = alice.ok("new bob")
    d = conv_of(answer)
    bob.wait_line(d, timeout=LIVE, what="(the conversation, pushed across servers)")
    mark = bob.mark()
    alice.ok("send %s hello from server one" % d)
    bob.wait_msg(d, "alice", "hello from server one", since=mark)
    mark = alice.mark()
    bob.ok("send %s and back from server two" % d)
    alice.wait_msg(d, "bob", "and back from server two", since=mark)

    # --- a group made on server 1: both members on server 2 hear of it
    answer, _ = alice.ok("new bob carol")
    g = conv_of(answer)
    carol.wait_line(g, timeout=LIVE, what="(the group, pushed across servers)")
    bob.wait_line(g, timeout=LIVE, what="(the group, pushed across servers)")
    marks = (bob.mark(), carol.mark())
    alice.ok("send %s to the group" % g)
    bob.wait_msg(g, "alice", "to the group", since=marks[0])
    carol.wait_msg(g, "alice", "to the group", since=marks[1])

    # --- changes made on either server reach the members on the other live:
    # a title set on server 2, a member added on server 1 (server 2 reads
    # the members afresh: the new one gets the next message pushed)
    marks = {c.name: c.mark() for c in (alice, bob, carol, dave)}
    bob.ok("title %s plans" % g)
    wait_change(alice, g, 'bob set the title to "plans"', marks["alice"])
    wait_change(carol, g, 'bob set the title to "plans"', marks["carol"])
    alice.ok("add %s dave" % g)
    wait_change(bob, g, "alice added dave", marks["bob"])
    wait_change(dave, g, "alice added dave: earlier history is closed to you", marks["dave"],
                timeout=TIMEOUT)
    mark = dave.mark()
    alice.ok("send %s welcome dave" % g)
    dave.wait_msg(g, "alice", "welcome dave", since=mark)

    # --- the doorbell lost: server 2 stopped, its listener killed, a message
    # committed meanwhile; once it runs again it listens again and catches up
    ms2.p.send_signal(signal.SIGSTOP)
    try:
        killed = psql(url, "SELECT count(pg_terminate_backend (pid)) FROM pg_stat_activity"
                      " WHERE application_name = '%s'" % LISTEN_APP)
        check(killed == "2", "expected to kill 2 listeners, killed %s" % killed)
        mark = bob.mark()
        alice.ok("send %s while the bus was down" % d)
    finally:
        ms2.p.send_signal(signal.SIGCONT)
    wait_logged(ms2, "the cluster bus listens on", count=2)
    bob.wait_msg(d, "alice", "while the bus was down", since=mark)
    # ... and the bus works again afterwards
    mark = bob.mark()
    alice.ok("send %s after the bus is back" % d)
    bob.wait_msg(d, "alice", "after the bus is back", since=mark)
    log("cross-server pushes, a group, and a catch-up after a lost doorbell: all live")

    for c in (alice, bob, carol, dave):
        c.quit()
    # A server that stops cleanly leaves the cluster's table
    ms2.stop()
    servers = admin_servers(w, "ms")
    check([s["client_endpoint"] for s in servers] == [ep1],
          "server 2 stopped, yet chat-admin shows %r" % servers)


if __name__ == "__main__":
    run(cluster)
