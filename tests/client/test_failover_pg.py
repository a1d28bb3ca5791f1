#!/usr/bin/env python3
"""client.failover.pg - two main servers on one PostgreSQL, one key server,
clients given both main servers (run through tests/support/pgtemp.sh, which
starts the database and gives its URL in CHAT_TEST_PG_URL).

The two main servers are one cluster: the same store (`--store URL`) and
the same server key (server.key copied from the first's data directory to
the second's, as an operator does). alice and carol land on one server
(S1), bob on the other (S2); the clients choose at random, so a client that
landed on the wrong one is started again until it did.

The clients reach S1 through a small TCP relay in this test, so that the
moment that matters can be made to happen, not hoped for: a send that S1
committed but whose answer never reached its client. alice and carol each
write a burst of sends; mid-burst the relay stops passing S1's answers
back, the test waits until bob (on S2, the same database) sees a message
that was committed but not acknowledged, and then S1 is killed with
SIGKILL. They fail over to S2 (`event failover mainserver S1 S2`, then
`connected` and a silent login with the resume token), and their sends
that were in flight are retried there with the same client message id:
every send is answered `ok`, `duplicate` where the first copy had been
committed. Then every member fetches the whole history: every acknowledged
message is there exactly once, at the seq its ack named, in seq order,
with no gaps, and nothing else is.

Across servers, live: bob on S2 gets a push of alice's messages sent on
S1, before the kill (the NOTIFY doorbell between the servers of a cluster,
merged from branch ms17bus), and the last of the burst after it."""
import os
import shutil
import signal
import socket
import sys
import threading
import time

from plainlib import TIMEOUT, check, fail, log, run, unescape

BURST = 30


class Relay:
    """127.0.0.1:port -> target, both ways, until mute(): from then on what
    the server sends is read and dropped (the client hears nothing more on
    that connection). A side that closes closes the other."""

    def __init__(self, target):
        host, port = target.replace("tcp://", "").rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.endpoint = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.muted = False
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self.pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, True), daemon=True).start()

    def pump(self, src, dst, back):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if back and self.muted:
                    continue
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def mute(self):
        self.muted = True

    def close(self):
        self.listener.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.close()
                except OSError:
                    pass


def pg_url():
    url = os.environ.get("CHAT_TEST_PG_URL")
    if not url:
        print("SKIP: CHAT_TEST_PG_URL is not set (run this test through "
              "tests/support/pgtemp.sh)")
        sys.exit(77)
    return url


def connected_to(client, since=0):
    _, m = client.wait_line(r"^event connected mainserver (\S+) ", since=since, timeout=TIMEOUT)
    return m.group(1)


def client_on(w, name, want, both, tries=40):
    """A client given both endpoints that landed on want (or, want None:
    anywhere). Its random choice is its own: start it again until."""
    for _ in range(tries):
        c = w.client(name, push=False, mainserver=both[0], extra=["--mainserver", both[1]])
        got = connected_to(c)
        if want is None or got == want:
            return c, got
        c.quit()
        w.procs.remove(c)
    fail("%s never chose %s in %d starts" % (name, want, tries))


def history(client, conv):
    """(seq, sender, text) of every message, as `history CONV 0` lists them."""
    _, before = client.ok("history %s 0" % conv, timeout=TIMEOUT * 2)
    rows = []
    for line in before:
        parts = line.split(" ", 5)
        if parts[0] == "hist" and len(parts) == 6 and parts[1] == conv:
            rows.append((int(parts[2]), parts[3], unescape(parts[5])))
    return rows


def burst_answers(client, count, since):
    """The answers to count sends written at once: (ok?, seq, duplicate,
    line, whether it came after the client's `failover` line)."""
    answers = []
    deadline = time.monotonic() + TIMEOUT * 4
    while len(answers) < count:
        answers = []
        moved = False
        for l in client.lines(since):
            moved = moved or l.startswith("event failover ")
            if l.startswith(("ok send ", "error ")):
                answers.append((l, moved))
        if len(answers) >= count:
            break
        if time.monotonic() > deadline or client.dead():
            fail("%s: %d of %d sends answered\n%s" % (client.name, len(answers), count,
                                                     client.tail(40)))
        with client.cv:
            client.cv.wait(0.2)
    result = []
    for line, moved in answers[:count]:
        parts = line.split(" ")
        if parts[0] != "ok":
            result.append((False, None, False, line, moved))
        else:
            result.append((True, int(parts[3]), len(parts) > 4 and parts[4] == "duplicate",
                           line, moved))
    return result


QUIET = 3.0


def settle_answers(clients):
    """Wait until none of the clients has had a new `ok send` answer for
    QUIET seconds."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + TIMEOUT
    while True:
        now = tuple(sum(1 for l in c.lines(mark) if l.startswith("ok send "))
                    for c, mark in clients)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET:
            return
        if time.monotonic() > deadline:
            fail("the clients' answers never stopped after S1's were cut off")
        time.sleep(0.05)


def failover(w):
    url = pg_url()
    w.start_keyserver()
    s1 = w.start_mainserver(data="ms", extra=["--store", url])
    e1, fp1 = w.ms_endpoint, w.ms_fingerprint
    # the second server of the cluster: the same key (copied, as an
    # operator does), its own data directory, the same database
    ms2 = w.path("ms2")
    os.makedirs(ms2, mode=0o700)
    for name in ("server.key", "mainserver.pub"):
        shutil.copy2(w.path("ms", name), os.path.join(ms2, name))
    os.chmod(os.path.join(ms2, "server.key"), 0o600)
    s2 = w.start_mainserver(data="ms2", extra=["--store", url])
    e2, fp2 = w.ms_endpoint, w.ms_fingerprint
    check(fp1 == fp2, "the two servers have different keys: %s %s" % (fp1, fp2))
    check(e1 != e2, "both servers on one endpoint")
    relay = Relay(e1)
    both = [relay.endpoint, e2]

    at, other = relay.endpoint, e2
    alice, _ = client_on(w, "alice", at, both)
    bob, _ = client_on(w, "bob", other, both)
    carol, _ = client_on(w, "carol", at, both)
    log("alice and carol on S1 %s (by the relay %s; to be killed), bob on S2 %s"
        % (e1, at, other))

    alice.ok("register alice apw apw apw")
    alice.ok("register bob bpw bpw bpw")
    alice.ok("register carol cpw cpw cpw")
    alice.ok("login alice apw")
    bob.ok("login bob bpw")
    carol.ok("login carol cpw")
    _, lines = alice.ok("new bob carol")
    conv = lines[-1].split(" ")[2]
    # carol on the same server gets it live; bob's list shows it
    m = carol.mark()
    alice.ok("send %s hello" % conv)
    carol.wait_msg(conv, "alice", "hello", since=m)
    bob.wait_msg(conv, "alice", "hello")      # live (by push), from the other server
    m = carol.mark()
    bob.ok("send %s from S2" % conv)
    carol.wait_msg(conv, "bob", "from S2", since=m)     # and the other way

    # -- the burst, and S1 killed in the middle of it
    ma, mc, mb = alice.mark(), carol.mark(), bob.mark()
    for i in range(BURST):
        alice.write("send %s a%02d" % (conv, i))
        carol.write("send %s c%02d" % (conv, i))
    deadline = time.monotonic() + TIMEOUT
    while sum(1 for l in alice.lines(ma) if l.startswith("ok send ")) < BURST // 3:
        if time.monotonic() > deadline:
            fail("alice's burst did not start\n%s" % alice.tail())
        with alice.cv:
            alice.cv.wait(0.05)
    # S1's answers stop here; its commits do not: wait until the database
    # holds a message whose sender has had no answer for it
    # (one still unanswered at two looks in a row: an answer S1 sent just
    # before the mute has reached its client by the second)
    relay.mute()
    # An answer S1 sent just before the mute may still be on its way to
    # its client (the relay's socket to it, the client's queue, its
    # output): under load that takes a while, so the answers are first
    # left to settle (no new one for QUIET seconds) before anything is
    # taken as unanswered
    settle_answers(((alice, ma), (carol, mc)))
    unacked = {}
    before = {}
    deadline = time.monotonic() + TIMEOUT
    while not unacked:
        if time.monotonic() > deadline:
            fail("no message was committed unanswered on S1")
        rows = history(bob, conv)
        answered = set()
        for client, prefix, mark in ((alice, "a", ma), (carol, "c", mc)):
            acks = [l for l in client.lines(mark) if l.startswith("ok send ")]
            answered |= {"%s%02d" % (prefix, i) for i in range(len(acks))}
        now = {text: seq for (seq, _, text) in rows
               if text not in answered and text not in ("hello", "from S2")}
        unacked = {text: seq for text, seq in now.items() if text in before}
        before = now
    log("committed on S1, never answered: %s" % sorted(unacked))
    log("SIGKILL to the main server S1 at %s" % e1)
    s1.p.send_signal(signal.SIGKILL)
    s1.p.wait()

    sent = {}
    duplicates = 0
    for client, prefix, mark in ((alice, "a", ma), (carol, "c", mc)):
        answers = burst_answers(client, BURST, mark)
        for i, (good, seq, dup, line, moved) in enumerate(answers):
            check(good, "%s: send %d failed across the failover: %s\n%s"
                  % (client.name, i, line, client.tail(40)))
            sent["%s%02d" % (prefix, i)] = (client.name, seq, dup, moved)
            duplicates += 1 if dup else 0
        out = client.lines(mark)
        check(any(l == "event failover mainserver %s %s" % (at, other) for l in out),
              "%s: no `event failover mainserver %s %s` line\n%s"
              % (client.name, at, other, client.tail(40)))
        i = next(i for i, l in enumerate(out) if l.startswith("event failover "))
        check(i + 1 < len(out) and out[i + 1].startswith("event connected mainserver %s " % other),
              "%s: the failover line is not followed by `connected` to %s" % (client.name, other))
        client.wait_line(r"^event logged-in %s$" % client.name, since=mark)
    log("%d sends acknowledged, %d of them `duplicate` (a retry whose first copy "
        "was committed on the killed server)" % (len(sent), duplicates))
    # each send S1 committed without answering was retried on S2, which
    # found the first copy: `duplicate`, at the first copy's seq. (An answer
    # S1 sent just before the relay went mute may still have been on its
    # way when the test looked: it arrives before the failover, and is
    # S1's own answer, not a retry.)
    retried = 0
    for text, seq in sorted(unacked.items()):
        who, acked, dup, moved = sent[text]
        if not moved:
            check(acked == seq and not dup, "%s: answered %d before the failover, stored at %d"
                  % (text, acked, seq))
            log("%s: S1's answer was already on its way" % text)
            continue
        check(dup and acked == seq, "%s: committed at %d on S1, answered %d%s on S2"
              % (text, seq, acked, " duplicate" if dup else " (not duplicate)"))
        retried += 1
    check(retried > 0, "no send committed on S1 was retried on S2 (all answers were on "
          "their way): nothing proven about retries")
    check(duplicates >= retried, "%d duplicates, %d committed unanswered"
          % (duplicates, retried))
    seqs = sorted(seq for (_, seq, _, _) in sent.values())
    check(len(set(seqs)) == len(seqs), "two acks name one seq: %r" % seqs)

    # -- every member: every acknowledged message once, in order, no gaps
    for member in (alice, bob, carol):
        rows = history(member, conv)
        got = [seq for (seq, _, _) in rows]
        check(got == list(range(1, len(rows) + 1)),
              "%s: seqs not 1..N in order: %r" % (member.name, got))
        texts = [text for (_, _, text) in rows]
        check(len(set(texts)) == len(texts),
              "%s: a message stored twice: %r" % (member.name,
                                                  [t for t in texts if texts.count(t) > 1]))
        check(set(texts) == set(sent) | {"hello", "from S2"},
              "%s: history %r is not what was acknowledged %r"
              % (member.name, sorted(set(texts) ^ (set(sent) | {"hello", "from S2"})), len(sent)))
        for (seq, sender, text) in rows:
            if text in sent:
                who, acked, _, _ = sent[text]
                check(sender == who and seq == acked,
                      "%s: %s stored at %d by %s, acked at %d to %s"
                      % (member.name, text, seq, sender, acked, who))
    # after the failover all three share S2: bob sees the last of each live
    bob.wait_msg(conv, "alice", "a%02d" % (BURST - 1), since=mb, timeout=TIMEOUT)
    bob.wait_msg(conv, "carol", "c%02d" % (BURST - 1), since=mb, timeout=TIMEOUT)
    m = alice.mark()
    bob.ok("send %s after" % conv)
    alice.wait_msg(conv, "bob", "after", since=m)
    for c in (alice, bob, carol):
        check(c.quit() == 0, "%s did not exit 0\n%s" % (c.name, c.tail()))
    relay.close()


run(failover)
