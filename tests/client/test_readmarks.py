#!/usr/bin/env python3
"""client.readmarks - read state kept by the main server, through plain
mode: two sessions of one user see the same unread counts; the user's own
messages (from either session) never count; opening a conversation in one
session reads it in the other (`event read`); counts survive a logout and
a new process; messages that came while logged out are counted."""
from plainlib import check, log, run


def convs(client):
    """{index: (hex, unread, read_seq, last_seq)} from `list`."""
    _, lines = client.ok("list")
    out = {}
    for line in lines:
        if not line.startswith("conv "):
            continue
        parts = line.split(" ")
        fields = dict(p.split("=") for p in parts[4:])
        out[int(parts[1])] = (parts[2], int(fields["unread"]), int(fields["read_seq"]),
                              int(fields["last_seq"]))
    return out


def unread(client, index=1):
    return convs(client)[index][1]


def readmarks(w):
    w.start_keyserver()
    w.start_mainserver()
    setup = w.client("setup")
    for name in ("alice", "bob"):
        setup.ok("register %s pw pw pw" % name)
    setup.quit()
    bob = w.client("bob")
    bob.ok("login bob pw")
    _, lines = bob.ok("new alice")
    conv = lines[-1].split(" ")[2]
    a1 = w.client("alice-1")
    a1.ok("login alice pw")
    # bob is a stranger to her: his 1:1 is a message request (no unread)
    # until she accepts it; her second session lists it accepted
    a1.ok("accept %s" % conv)
    a2 = w.client("alice-2")
    a2.ok("login alice pw")

    # three from bob: unread in both of alice's sessions
    m1, m2 = a1.mark(), a2.mark()
    for i in range(3):
        bob.ok("send %s from bob %d" % (conv, i))
    a1.wait_msg(conv, "bob", "from bob 2", since=m1)
    a2.wait_msg(conv, "bob", "from bob 2", since=m2)
    check(unread(a1) == 3 and unread(a2) == 3,
          "unread after 3 from bob: %r / %r" % (convs(a1), convs(a2)))

    # alice writes from her first session: her own message counts nowhere,
    # neither in the client's own count (`new bob` shows the 1:1 as this
    # client holds it, without asking the server) nor on the server's
    m2 = a2.mark()
    a1.ok("send %s from alice" % conv)
    a2.wait_msg(conv, "alice", "from alice", since=m2)
    for session in (a1, a2):
        _, lines = session.ok("new bob")
        check(" unread=3 " in lines[-1], "%s counts her own message: %r"
              % (session.name, lines[-1]))
    check(unread(a1) == 3 and unread(a2) == 3,
          "her own message counted: %r / %r" % (convs(a1), convs(a2)))

    # she reads in the first session: the second hears of it at once
    m2 = a2.mark()
    a1.ok("open %s" % conv)
    _, m = a2.wait_line(r"^event read 1 %s read_seq=(\d+) unread=(\d+)$" % conv, since=m2)
    check(m.group(1) == "4" and m.group(2) == "0", "event read said %r" % m.group(0))
    check(convs(a2)[1][1:3] == (0, 4) and convs(a1)[1][1:3] == (0, 4),
          "after reading in one session: %r / %r" % (convs(a1), convs(a2)))

    # more while the second session is logged out, and after: counted when
    # it comes back, the same in both
    for i in range(2):
        bob.ok("send %s later %d" % (conv, i))
    a2.ok("logout")
    bob.ok("send %s while away" % conv)
    answer, _ = a2.ok("login alice pw")
    check(answer.startswith("ok login alice"), "login again: %r" % answer)
    check(unread(a2) == 3, "after a logout: %r" % convs(a2))
    check(unread(a1) == 3, "the other session: %r" % convs(a1))

    # a new process (the first one gone): the server still knows
    a1.quit()
    a3 = w.client("alice-3")
    a3.ok("login alice pw")
    check(convs(a3)[1][1:3] == (3, 4), "a new session: %r" % convs(a3))
    # reading there moves the marker for the session still running
    m2 = a2.mark()
    a3.ok("open 1")
    a2.wait_line(r"^event read 1 %s read_seq=7 unread=0$" % conv, since=m2)
    check(unread(a2) == 0, "after reading in the new session: %r" % convs(a2))
    # bob's own reading is his: he has alice's one message unread
    check(convs(bob)[1][1:3] == (1, 0), "bob's count: %r" % convs(bob))
    for c in (a2, a3, bob):
        c.quit()
    log("read markers agree across sessions and logouts")


run(readmarks)
