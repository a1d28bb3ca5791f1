#!/usr/bin/env python3
"""e2e.faults: servers and clients killed at the worst moments.

 1. Main server kill -9 in the middle of a burst: three plain clients each
    pipe a burst of sends into one group conversation; once some are
    acknowledged the main server is killed with SIGKILL and started again on
    the same data and ports. The clients are not restarted: they reconnect
    by themselves and finish (or fail) every send. The kill must land
    mid-burst: some client must have sends acknowledged by the restarted
    server (answered after it noticed the restart); if every burst finished
    first, the round is run again with a burst twice the size, and the test
    fails after ROUNDS rounds. Then every message a client saw acknowledged
    (its "sent" line with a seq) is in the history exactly once, at that
    seq; no seq appears twice; and a later send from each of the same
    clients succeeds.
 2. Key server kill -9 during logins: the clients log out and in again in a
    loop; the key server is killed mid-way and started again. Afterwards
    logins work for every registered user, from the same client processes
    and from new ones, and the registered names are still taken.
 3. A client that vanishes mid-request (kill -9 right after it wrote a
    login, several times, more than the login back-off threshold; and once
    in the middle of a burst of sends) leaves nothing behind that blocks its
    user: a new client logs in at once, without being rate limited, and
    sends.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

USERS = ("ann", "ben", "cat")
BURST = 40          # sends per client in the first round; doubled each round
ROUNDS = 4


def answered_after_reconnect(client, mark):
    """Sends of the burst at mark answered after the client's first
    'reconnecting mainserver' event: by the restarted server (or failed for
    want of one), so the kill came while they were outstanding."""
    objects = client.objects(mark)
    gone = next((i for i, o in objects if o.get("type") == "event"
                 and o.get("event") == "reconnecting" and o.get("server") == "mainserver"), None)
    if gone is None:
        return []
    return [o for i, o in objects if i > gone and o.get("command") == "send"]


def kill_mid_burst(cluster, clients, group, burst, round_no, acked):
    """One round: bursts from every client, the main server killed once a
    few are acknowledged and started again; every send completes. Adds the
    acknowledged texts to acked (text -> seq); True when the kill landed
    mid-burst."""
    marks = {}
    for user, x in clients.items():
        marks[user] = x.mark()
        x.send_burst(group, ["%s burst %d.%d" % (user, round_no, i) for i in range(burst)])
    # wait until some (not all) are acknowledged, then kill
    deadline = time.monotonic() + L.TIMEOUT
    while sum(len(x.acks(marks[u])) for u, x in clients.items()) < 5:
        if time.monotonic() > deadline:
            L.fail("no send acknowledged before the kill")
        time.sleep(0.01)
    cluster.ms.kill9()
    acked_at_kill = sum(len(x.acks(marks[u])) for u, x in clients.items())
    L.log("round %d: main server killed with %d of %d sends acknowledged"
          % (round_no, acked_at_kill, burst * len(clients)))
    cluster.start_mainserver()

    # every send completes one way or the other, without restarting clients
    after = 0
    for user, x in clients.items():
        x.wait_burst_done(marks[user], burst, timeout=120)
        for seq, text in x.acks(marks[user]):
            if text in acked:
                L.fail("%r acknowledged twice (seq %d and %d)" % (text, acked[text], seq))
            acked[text] = seq
        failed = x.burst_failures(marks[user])
        retried = sum(1 for _, o in x.answers(marks[user]) if o.get("note") == "duplicate")
        late = answered_after_reconnect(x, marks[user])
        after += len(late)
        L.log("%s: %d acknowledged (%d of them as a retry the server had stored), %d failed "
              "%s; %d answered after the restart" % (user, len(x.acks(marks[user])),
                                                          retried, len(failed),
                                                          sorted({o.get("code") for _, o in failed}),
                                                          len(late)))
    return after > 0


def body(workdir, cleanups):
    _, _, cluster, client = L.started_cluster("faults", workdir, cleanups)

    # setup: three users, one group
    clients = {}
    for user in USERS:
        clients[user] = x = client(user)
        x.register(user, user + "-pw").expect_ok("Success!")
        x.login(user, user + "-pw").expect_ok()
    ann = clients["ann"]
    group = ann.new("ben", "cat")
    for user in ("ben", "cat"):
        clients[user].wait_conversation(group)

    # --- 1. main server kill -9 mid-burst: until the kill really lands in
    # the middle of a burst (a client had sends answered only by the
    # restarted server), with a bigger burst each round
    acked = {}
    burst = BURST
    for round_no in range(1, ROUNDS + 1):
        if kill_mid_burst(cluster, clients, group, burst, round_no, acked):
            break
        if round_no == ROUNDS:
            L.fail("in %d rounds (bursts up to %d sends per client) the kill never landed "
                   "mid-burst" % (ROUNDS, burst))
        L.log("round %d: every send of the burst was answered before the kill; "
              "again with a burst of %d" % (round_no, burst * 2))
        burst *= 2

    # the clients carry on by themselves: a later send works from each
    for user, x in clients.items():
        x.send(group, "%s after the main server came back" % user, timeout=60)
        acked["%s after the main server came back" % user] = None

    # the history, read by a fresh client: every acknowledged text once, at its seq
    reader = client("reader")
    reader.login("ann", "ann-pw").expect_ok()
    hist = reader.history(group, timeout=60)
    seqs = [q for q, _, _ in hist]
    if len(seqs) != len(set(seqs)) or seqs != sorted(seqs):
        L.fail("history seqs not unique and ascending: %r" % seqs)
    by_text = {}
    for q, sender, text in hist:
        by_text.setdefault(text, []).append(q)
    for text, seq in acked.items():
        found = by_text.get(text, [])
        if len(found) != 1:
            L.fail("acknowledged %r is in the history %d times" % (text, len(found)))
        if seq is not None and found[0] != seq:
            L.fail("acknowledged %r at seq %d, history has it at %d" % (text, seq, found[0]))
    dupes = {t: q for t, q in by_text.items() if len(q) > 1}
    if dupes:
        L.fail("stored twice: %r" % dupes)
    L.log("history: %d messages, all %d acknowledged ones exactly once at their seq"
          % (len(hist), len(acked)))
    reader.quit()

    # --- 2. key server kill -9 during logins
    loop_marks = {user: x.mark() for user, x in clients.items()}
    for user, x in clients.items():
        x.login_loop(user, user + "-pw", 6)
    deadline = time.monotonic() + L.TIMEOUT
    while sum(x.count_logins(loop_marks[u]) for u, x in clients.items()) < 3:
        if time.monotonic() > deadline:
            L.fail("no login completed before the kill")
        time.sleep(0.01)
    cluster.ks.kill9()
    L.log("key server killed during logins")
    cluster.start_keyserver()
    for user, x in clients.items():
        answers = x.wait_login_loop_done(loop_marks[user], 6, timeout=120)
        bad = [o for _, o in answers if o.get("type") != "ok"]
        L.log("%s: %d logout/login answers during the kill, %d failed %s"
              % (user, len(answers), len(bad), sorted({o.get("code") for o in bad})))
        # whatever the loop got, logging out and in now works from the same process
        # (a loop whose last login was cut by the kill is logged out already)
        r = x.command("logout")
        if not r.ok:
            r.expect_fail("ERR_NOT_LOGGED_IN")
        x.login(user, user + "-pw", timeout=60).expect_ok()
        x.send(group, "%s logged in after the key server came back" % user, timeout=60)
    for user in USERS:
        y = client(user + "-new")
        y.login(user, user + "-pw").expect_ok()
        y.register(user.upper(), "whatever1").expect_fail("ERR_USERNAME_TAKEN",
                                                         "Username already in use")
        y.quit()
    L.log("after the key server's kill -9: every user logs in, every name still taken")

    # --- 3. clients that vanish mid-request
    # killed 0, 15, ... 90 ms after writing the login: before it is sent,
    # between the SCRAM messages, or after
    for i in range(7):
        ghost = client("ghost-%d" % i)
        ghost.wait_connected()
        ghost.send_line(ghost.login_line("ben", "ben-pw"))
        time.sleep(0.015 * i)
        ghost.kill9()
    ghost = client("ghost-burst")
    ghost.login("cat", "cat-pw").expect_ok()
    mark = ghost.mark()
    ghost.send_burst(group, ["ghost burst %d" % i for i in range(BURST)])
    deadline = time.monotonic() + L.TIMEOUT
    while not ghost.acks(mark) and time.monotonic() < deadline:
        time.sleep(0.01)
    ghost.kill9()
    for user in ("ben", "cat"):
        y = client(user + "-after-ghosts")
        y.login(user, user + "-pw").expect_ok()     # not rate limited, no stale state
        y.send(group, "%s after the ghosts" % user)
        y.quit()
    L.log("clients killed mid-login (7x) and mid-burst left nothing blocking their users")

    # and still nothing stored twice
    reader = client("reader-end")
    reader.login("ann", "ann-pw").expect_ok()
    hist = reader.history(group, timeout=60)
    seqs = [q for q, _, _ in hist]
    texts = [t for _, _, t in hist]
    if seqs != list(range(1, len(hist) + 1)) or len(set(texts)) != len(texts):
        L.fail("final history has gaps or duplicates: %r" % hist)
    reader.quit()

    for x in clients.values():
        x.quit()
    cluster.stop()


if __name__ == "__main__":
    L.main(body)
