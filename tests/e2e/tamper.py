#!/usr/bin/env python3
"""e2e.tamper: servers that lie about whose message is where.

The main server stores tokens it cannot read, with the sender and the
conversation it says they belong to; the client believes neither and
checks both against the sealed, signed body. Here both servers' data is
edited while they are stopped (what a malicious operator, or a thief of both
data directories, can do), and the real binaries run on it:

 1. Sender swap: in a 1:1 of alice and bob, alice's sealed message 1 comes
    back as message 3 "from bob".
 2. Cut and paste: the main server serves the 1:1's message 2 as the
    group's (alice, bob, carol) message 1, "from alice"; it was sealed under
    the 1:1's epoch key, for the 1:1.
 3. Key swap: the key server gives carol, as the group's key, her own copy
    of another conversation's key (her 1:1 with alice): it opens with her
    identity key, and must still be refused, because the group's signed
    statement names another key (its key check).
Bob's client, running across the restart, catches up by itself and must drop
1 and 2, each with an error event saying why; a fresh client's history must
not show them either; a message sent into the group afterwards reads
normally (and live). Nothing dropped may show up as a hist or msg line
anywhere. Carol's fresh client refuses the swapped key, saying so, and shows
no message of the group.
"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

DROPPED = " dropped: "
KEY_REFUSED = "is not the one its signed statement names; refused"


def one_row(db, sql, args):
    cur = db.execute(sql, args)
    if cur.rowcount != 1:
        L.fail("tampering: %r changed %d rows, expected 1" % (sql, cur.rowcount))


def tamper(cluster, one, group, other):
    one_id, group_id, other_id = (bytes.fromhex(x) for x in (one, group, other))
    ks = sqlite3.connect(os.path.join(cluster.ks_dir, "keyserver.db"))
    with ks:
        copies = dict(((member, conv), key) for member, conv, key in ks.execute(
            "SELECT member, conversation_id, wrapped_key FROM wrapped_keys WHERE epoch = 1"))
        if ("carol", other_id) not in copies or ("carol", group_id) not in copies:
            L.fail("tampering: the key server holds no copy for carol of %s or %s"
                   % (other, group))
        one_row(ks, "UPDATE wrapped_keys SET wrapped_key = ? WHERE member = 'carol' "
                    "AND conversation_id = ? AND epoch = 1",
                (copies[("carol", other_id)], group_id))
    ks.close()
    ms = sqlite3.connect(os.path.join(cluster.ms_dir, "mainserver.db"))
    with ms:
        rows = dict((seq, (token, time)) for seq, token, time in ms.execute(
            "SELECT seq, token, server_time FROM messages WHERE conversation_id = ?", (one_id,)))
        if sorted(rows) != [1, 2]:
            L.fail("tampering: the 1:1 holds messages %r, expected 1 and 2" % sorted(rows))
        for conv, seq, sender, (token, time) in ((one_id, 3, "bob", rows[1]),
                                                 (group_id, 1, "alice", rows[2])):
            one_row(ms, "INSERT INTO messages (conversation_id, seq, epoch, sender, server_time, "
                        "token, client_message_id) VALUES (?, ?, 1, ?, ?, ?, randomblob (16))",
                    (conv, seq, sender, time, token))
            one_row(ms, "UPDATE conversations SET last_seq = ?, last_time = ? WHERE id = ?",
                    (seq, time, conv))
    ms.close()


def first_outcome(client, since, conv, seq, sender):
    """The first line that settles a made-up message: the error event that
    drops it, or a hist/msg line showing it (at once, not after a timeout)."""
    dropped = "message %d in conversation %s from %s%s" % (seq, conv, sender, DROPPED)
    deadline = L.time.monotonic() + 60
    while True:
        for _, o in client.objects(since):
            if o.get("type") == "event" and o.get("event") == "error" \
                    and o.get("message", "").startswith(dropped):
                L.log("%s: %s" % (client.name, o.get("message")))
                return o
            if o.get("type") in ("hist", "msg") and o.get("conversation") == conv \
                    and o.get("seq") == seq:
                return o
        if L.time.monotonic() > deadline or not client.alive():
            L.fail("%s: message %d of %s neither dropped nor shown\n%s"
                   % (client.name, seq, conv, client.tail()))
        with client.cv:
            client.cv.wait(0.2)


def lies_shown(client, one, group):
    """hist or msg lines of what the servers made up."""
    return [o for _, o in client.objects(0) if o.get("type") in ("hist", "msg")
            and ((o.get("conversation") == one and o.get("seq") == 3)
                 or (o.get("conversation") == group and o.get("seq") == 1))]


def body(workdir, cleanups):
    _, _, cluster, client = L.started_cluster("tamper", workdir, cleanups)

    a = client("alice")
    for user in ("alice", "bob", "carol"):
        a.register(user, user + " pw").expect_ok("Success!")
    a.login("alice", "alice pw").expect_ok()
    b = client("bob")
    b.login("bob", "bob pw").expect_ok()
    one = a.new("bob")
    a.send(one, "one: sealed by alice")
    a.send(one, "two: sealed by alice for the 1:1")
    b.wait_message(one, "alice", "two: sealed by alice for the 1:1")
    group = a.new("bob", "carol")
    other = a.new("carol")
    b.wait_conversation(group)  # known to bob, empty: he has not fetched its key
    a.history(group)            # returns once the group's key is made and fetched
    a.history(other)
    a.quit()

    mark = b.mark()
    cluster.stop()
    tamper(cluster, one, group, other)
    L.log("tampered: alice's message 1 of the 1:1 served again as message 3 'from bob'; "
          "the 1:1's message 2 served as the group's message 1; carol's copy of the "
          "group's key replaced with her copy of her 1:1 with alice")
    cluster.start()

    # bob's client comes back by itself, catches up, and drops both loudly
    b.wait_event("logged-in", since=mark, timeout=60, user="bob")
    for conv, seq, sender in ((one, 3, "bob"), (group, 1, "alice")):
        outcome = first_outcome(b, mark, conv, seq, sender)
        if outcome.get("type") != "event":
            L.fail("bob's client showed a message the servers made up: %r" % outcome)
    L.log("bob's running client dropped both made-up messages, saying why")

    # a fresh client's history shows neither
    b2 = client("bob-fresh")
    b2.login("bob", "bob pw").expect_ok()
    hist = b2.history(one)
    if hist != [(1, "alice", "one: sealed by alice"), (2, "alice", "two: sealed by alice for the 1:1")]:
        L.fail("the 1:1's history with a re-attributed message 3 appended: %r" % hist)
    hist = b2.history(group)
    if hist:
        L.fail("a token sealed for the 1:1, pasted into the group, shows there: %r" % hist)

    # the group carries on: a real message after the paste reads normally
    a = client("alice-after")
    a.login("alice", "alice pw").expect_ok()
    if a.send(group, "three: really for the group") != 2:
        L.fail("the group's next message did not follow the pasted one")
    b.wait_message(group, "alice", "three: really for the group")
    b2.wait_message(group, "alice", "three: really for the group")
    for x in (b, b2):
        if lies_shown(x, one, group):
            L.fail("%s showed a made-up message: %r" % (x.name, lies_shown(x, one, group)))
    L.log("no made-up message shown anywhere; the group reads on")

    # carol refuses the key the key server swapped, and reads nothing with it
    c = client("carol")
    c.login("carol", "carol pw").expect_ok()
    r = c.command("history %s 0" % group)     # asks for the group's key
    if any(o.get("type") == "hist" for o in r.extra):
        L.fail("carol's history of the group under a swapped key: %r" % r.extra)
    refused = "conversation %s: the key of epoch 1" % group
    deadline = L.time.monotonic() + 60
    while not any(o.get("type") == "event" and o.get("event") == "error"
                  and o.get("message", "").startswith(refused)
                  and o.get("message", "").endswith(KEY_REFUSED) for _, o in c.objects(0)):
        if L.time.monotonic() > deadline or not c.alive():
            L.fail("carol's client took a swapped key without a word\n%s" % c.tail())
        with c.cv:
            c.cv.wait(0.2)
    shown = [o for _, o in c.objects(0) if o.get("type") in ("hist", "msg")
             and o.get("conversation") == group]
    if shown:
        L.fail("carol's client showed the group's messages under a swapped key: %r" % shown)
    L.log("carol's client refused the swapped key, saying so, and shows nothing of the group")
    a.quit()
    b.quit()
    b2.quit()
    c.quit(allow_failure=True)      # its history of the group may have failed
    cluster.stop()


if __name__ == "__main__":
    L.main(body)
