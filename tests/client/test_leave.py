#!/usr/bin/env python3
"""client.leave - plain mode leaves no session behind: `quit`, the end of
its input, SIGINT and SIGTERM each log out at both servers first (what the
servers' overviews show, read with chat-admin), and exit 0."""
import json
import signal
import subprocess
import time

from plainlib import check, log, run


def sessions(w, role):
    """The usernames of a server's logged-in sessions."""
    data = w.path("ms" if role == "main" else "ks")
    r = subprocess.run([w.bins["admin"], role, "--data", data, "--json"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "chat-admin %s: %s" % (role, r.stderr))
    return [s["username"] for s in json.loads(r.stdout)["sessions"] if s.get("username")]


def gone(w, user):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        main, key = sessions(w, "main"), sessions(w, "key")
        if user not in main and user not in key:
            return
        time.sleep(0.2)
    check(False, "%s still has a session: main %r, key %r" % (user, main, key))


def leave(w):
    check("admin" in w.bins, "usage: ... admin=PATH (chat-admin)")
    w.start_keyserver()
    w.start_mainserver()
    names = ("quitter", "eof", "interrupted", "terminated")
    setup = w.client("setup")
    for name in names:
        setup.ok("register %s pw pw pw" % name)
    setup.quit()
    for name in names:
        c = w.client(name)
        c.ok("login %s pw" % name)
        check(name in sessions(w, "main") and name in sessions(w, "key"),
              "%s is not in the overviews while logged in" % name)
        if name == "quitter":
            c.ok("quit")
            rc = c.p.wait(30)
        elif name == "eof":
            c.p.stdin.close()
            rc = c.p.wait(30)
        else:
            c.p.send_signal(signal.SIGINT if name == "interrupted" else signal.SIGTERM)
            rc = c.p.wait(30)
        check(rc == 0, "%s: chat exited %d" % (name, rc))
        gone(w, name)
        c.check_sanitizers()
        log("%s left no session" % name)


run(leave)
