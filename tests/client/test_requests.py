#!/usr/bin/env python3
"""client.requests - the flood of issue 15, replayed through `chat --plain`
against the real servers (with added_per_hour raised so that the victim's
list needs more than one page, conversations_per_hour off):

 - an attacker puts the victim into more groups than one page of the
   conversation list holds, until the add quota (added_per_hour) stops it
   with ERR_RATE_LIMITED;
 - the victim's client, logging in afresh, loads the whole list in pages,
   sees every flood group as a request (and a friend's conversation, once
   accepted, as none), counts no unread for a request;
 - `leave-requests` leaves all of them in one command; a fresh login lists
   only the friend's conversation.
"""
import re

from plainlib import TIMEOUT, check, log, run

FLOOD = 130                     # over a page of 100


def convs(client):
    _, lines = client.ok("list", timeout=120)
    return [l for l in lines if l.startswith("conv ")]


def requests(w):
    w.start_keyserver()
    w.start_mainserver(extra=["--limit", "added_per_hour=%d" % FLOOD,
                              "--limit", "conversations_per_hour=0"])
    names = ("victim", "friend", "attacker", "helper")
    c = {}
    for n in names:
        c[n] = w.client(n)
        c[n].ok("register %s pw-%s pw-%s pw-%s" % (n, n, n, n))
        c[n].ok("login %s pw-%s" % (n, n))
    victim, friend, attacker = c["victim"], c["friend"], c["attacker"]

    # --- a friend's 1:1: a request too until the victim accepts it
    answer, _ = friend.ok("new victim")
    mine = answer.split(" ")[3]
    victim.wait_line(mine, timeout=TIMEOUT, what="(the friend's 1:1)")
    lines = [l for l in convs(victim) if mine in l]
    check(lines and lines[0].endswith(" request"), "the friend's 1:1: %r" % lines)
    victim.ok("accept %s" % mine)
    lines = [l for l in convs(victim) if mine in l]
    check(lines and not lines[0].endswith(" request"), "accepted, still: %r" % lines)
    log("a stranger's first conversation is a request until accepted")

    # --- the flood: groups of victim, helper and the attacker, until the quota
    made = 0
    while True:
        good, answer, _ = attacker.cmd("new victim helper", timeout=TIMEOUT)
        if not good:
            check(answer.split(" ")[1] == "ERR_RATE_LIMITED",
                  "the flood stopped with %r" % answer)
            break
        made += 1
        check(made <= FLOOD, "the add quota never stopped the flood")
        if made == 1:
            first = answer.split(" ")[3]
            attacker.ok("send %s buy now" % first)
    check(made == FLOOD - 1 or made == FLOOD, "the flood made %d groups" % made)
    log("the attacker made %d groups with the victim, then ERR_RATE_LIMITED" % made)

    # --- the live client knew each from its push: announced as a request,
    # its message (sent right after the group was made) counted as no unread
    victim.wait_line(r"^event conversation \d+ %s .* unread=0 .* request$" % first,
                     timeout=TIMEOUT, what="(the first flood group, announced as a request)")
    lines = convs(victim)
    live = [l for l in lines if l.endswith(" request")]
    check(len(live) == made, "the live client shows %d requests, not %d" % (len(live), made))
    lines = [l for l in lines if first in l]
    check(lines and " unread=0 " in lines[0], "the first flood group: %r" % lines)

    # --- a fresh client of the victim loads every page
    again = w.client("victim2")
    answer, _ = again.ok("login victim pw-victim", timeout=120)
    total = int(re.search(r"conversations=(\d+)", answer).group(1))
    check(total == made + 1, "the victim's login lists %d conversations, not %d"
          % (total, made + 1))
    lines = convs(again)
    reqs = [l for l in lines if l.endswith(" request")]
    check(len(lines) == made + 1 and len(reqs) == made,
          "%d conversations, %d requests" % (len(lines), len(reqs)))
    log("the victim's list: %d conversations in pages, %d of them requests" % (len(lines),
                                                                             len(reqs)))

    # --- all of them left in one command
    answer, _ = again.ok("leave-requests", timeout=300)
    after = w.client("victim3")
    answer, _ = after.ok("login victim pw-victim", timeout=120)
    check(answer.split(" ")[3] == "conversations=1", "after leaving: %r" % answer)
    lines = convs(after)
    check(len(lines) == 1 and mine in lines[0], "left: %r" % lines)
    log("leave-requests left every request; the friend's conversation stays")

    for p in list(c.values()) + [again, after]:
        p.quit()


if __name__ == "__main__":
    run(requests)
