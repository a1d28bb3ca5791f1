#!/usr/bin/env python3
"""client.groups - groups that change (issue 15), through `chat --plain`
against the real servers:

 - add: any member adds; every client shows the change as a `change` line,
   the added member's with "earlier history is closed to you", and that
   member reads from its joining on (not what was sent before);
 - two changes sent at once by two members: both end up applied (the loser
   rebuilds on the new head and retries by itself), every client agrees on
   the members and the epoch, and everyone can still read everyone;
 - remove: the creator removes; a non-admin may not; the removed member's
   client says it is out, and its sends are refused;
 - leave: a member leaves, a remaining member's client re-keys by itself,
   and the others go on talking; a 1:1 can be left, never gains members;
 - title.
"""
import re
import time

from plainlib import LIVE, TIMEOUT, check, log, run, unescape


def conv_of(answer):
    # ok new INDEX HEX
    return answer.split(" ")[3]


def wait_change(client, conv, text, since=0, timeout=LIVE):
    """A `change CONV EPOCH TEXT` line; its epoch."""
    deadline = time.monotonic() + timeout
    while True:
        for line in client.lines(since):
            parts = line.split(" ", 3)
            if (len(parts) == 4 and parts[0] == "change" and parts[1] == conv
                    and unescape(parts[3]) == text):
                return int(parts[2])
        check(time.monotonic() < deadline and not client.dead(),
              "%s: no change %r in %s\n%s" % (client.name, text, conv, client.tail()))
        with client.cv:
            client.cv.wait(0.2)


def conflicts(w):
    """Changes the main server refused as not built on the head."""
    with w.mainserver.cv:
        return sum(1 for l in w.mainserver.out + w.mainserver.err
                   if "change-conversation refused: ERR_CHAIN_CONFLICT" in l)


def state(client, conv):
    """(epoch, members) as this client's list says."""
    _, lines = client.ok("list")
    for line in lines:
        parts = line.split(" ")
        if parts[0] == "conv" and parts[2] == conv:
            fields = dict(p.split("=", 1) for p in parts[4:] if "=" in p)
            return int(fields["epoch"]), parts[3].split(",")
    return None


def groups(w):
    w.start_keyserver()
    w.start_mainserver()
    names = ("alice", "bob", "carol", "dave", "eve")
    c = {}
    for n in names:
        c[n] = w.client(n)
        c[n].ok("register %s pw-%s pw-%s pw-%s" % (n, n, n, n))
        c[n].ok("login %s pw-%s" % (n, n))
    alice, bob, carol, dave, eve = (c[n] for n in names)

    # --- a group of alice, bob, dave; a message before carol
    answer, _ = alice.ok("new bob dave")
    g = conv_of(answer)
    bob.wait_line(g, timeout=LIVE, what="(the group, pushed)")
    alice.ok("send %s before carol" % g)
    bob.wait_msg(g, "alice", "before carol")

    # --- any member adds: bob adds carol
    marks = {n: c[n].mark() for n in names}
    bob.ok("add %s carol" % g)
    for n in ("alice", "bob", "dave"):
        check(wait_change(c[n], g, "bob added carol", marks[n]) == 2, "%s: epoch of the add" % n)
    check(wait_change(carol, g, "bob added carol: earlier history is closed to you",
                      marks["carol"], timeout=TIMEOUT) == 2, "carol: epoch of the add")
    log("bob added carol: every client shows it, carol is told earlier history is closed")
    alice.ok("send %s after carol" % g)
    carol.wait_msg(g, "alice", "after carol", timeout=TIMEOUT)
    _, hist = carol.ok("open %s" % g)
    texts = [unescape(l.split(" ", 5)[5]) for l in hist if l.startswith("hist ")]
    check(texts == ["after carol"], "carol reads %r" % texts)
    log("carol reads from her joining on: %r" % texts)

    # --- two changes at once: alice sets the title, dave adds eve
    marks = {n: c[n].mark() for n in names}
    alice.write("title %s plans" % g)
    dave.write("add %s eve" % g)
    for who in (alice, dave):
        who.wait_line(r"^(ok|error) ", since=marks[who.name], timeout=TIMEOUT,
                      what="(a concurrent change)")
    for who in (alice, dave):
        answers = [l for l in who.lines(marks[who.name]) if re.match(r"^(ok|error) ", l)]
        check(answers and answers[0].startswith("ok "), "%s: %r" % (who.name, answers))
    for n in ("alice", "bob", "carol", "dave"):
        wait_change(c[n], g, "alice set the title to \"plans\"", marks[n], timeout=TIMEOUT)
        wait_change(c[n], g, "dave added eve", marks[n], timeout=TIMEOUT)
    seen = {n: state(c[n], g) for n in ("alice", "bob", "carol", "dave")}
    check(len(set((e, tuple(m)) for e, m in seen.values())) == 1, "clients disagree: %r" % seen)
    epoch, members = seen["alice"]
    check(epoch == 4 and members == ["alice", "bob", "carol", "dave", "eve"],
          "after both changes: %r" % (seen["alice"],))
    # more races (title against title) until one was lost at the server and
    # retried by its client: normally the first already was
    for round in range(8):
        if conflicts(w):
            break
        marks = {n: c[n].mark() for n in names}
        alice.write("title %s a%d" % (g, round))
        dave.write("title %s d%d" % (g, round))
        for who in (alice, dave):
            who.wait_line(r"^ok ", since=marks[who.name], timeout=TIMEOUT,
                          what="(a racing title)")
    check(conflicts(w) > 0, "no change ever lost the race for the head")
    seen = {n: state(c[n], g) for n in ("alice", "bob", "carol", "dave")}
    check(len(set((e, tuple(m)) for e, m in seen.values())) == 1, "clients disagree: %r" % seen)
    log("%d change(s) lost the race at the server and were made again on the new head"
        % conflicts(w))
    eve.wait_line(g, timeout=TIMEOUT, what="(eve hears of the group)")
    dave.ok("send %s hello eve" % g)
    for n in ("alice", "bob", "carol", "eve"):
        c[n].wait_msg(g, "dave", "hello eve", timeout=TIMEOUT)
    log("a title and an add sent at once: both applied, every client at epoch 4, all read")

    # --- remove: bob may not (not an admin), alice may
    bob.error("remove %s dave" % g, "ERR_BAD_STATEMENT")
    marks = {n: c[n].mark() for n in names}
    alice.ok("remove %s dave" % g)
    wait_change(bob, g, "alice removed dave", marks["bob"])
    dave.wait_line(r"^change %s \d+ you are no longer a member" % g, since=marks["dave"],
                   timeout=LIVE)
    dave.error("send %s still here?" % g, "ERR_NOT_FOUND")
    alice.ok("send %s without dave" % g)
    eve.wait_msg(g, "alice", "without dave", timeout=TIMEOUT)
    time.sleep(1)
    check(not any("without dave" in l for l in dave.lines(marks["dave"])),
          "dave got a message after his removal")
    log("alice removed dave: he is told, his send is refused, he gets nothing after")

    # --- leave: bob leaves; a remaining member's client re-keys by itself
    marks = {n: c[n].mark() for n in names}
    bob.ok("leave %s" % g)
    wait_change(alice, g, "bob left", marks["alice"])
    for n in ("alice", "carol", "eve"):
        c[n].wait_line(r"^change %s \d+ \S+ changed the key" % g, since=marks[n],
                       timeout=TIMEOUT, what="(the re-key after bob left)")
    carol.ok("send %s bye bob" % g)
    alice.wait_msg(g, "carol", "bye bob", timeout=TIMEOUT)
    log("bob left; a remaining client re-keyed by itself; the rest go on")

    # --- a 1:1 never gains members, and can be left
    answer, _ = alice.ok("new carol")
    one = conv_of(answer)
    alice.error("add %s eve" % one, "ERR_BAD_STATEMENT")
    alice.error("title %s x" % one, "ERR_BAD_STATEMENT")
    carol.wait_line(one, timeout=TIMEOUT, what="(the 1:1, pushed)")
    carol.ok("leave %s" % one)
    answer, _ = alice.ok("new carol")
    check(conv_of(answer) != one, "the left 1:1 was opened again")
    log("a 1:1: no add, no title; carol left it; a new one is new")

    # --- a fresh login: the group's past changes are history, not news
    carol2 = w.client("carol2")
    carol2.ok("login carol pw-carol", timeout=TIMEOUT)
    alice.ok("send %s welcome back" % g)
    carol2.wait_msg(g, "alice", "welcome back", timeout=TIMEOUT)
    old = [l for l in carol2.lines(0) if l.startswith("change ")]
    check(not old, "a fresh login told the group's past changes again: %r" % old[:3])
    log("a fresh login verifies the chain and tells none of its past changes")

    for n in names:
        c[n].quit()
    carol2.quit()


if __name__ == "__main__":
    run(groups)
