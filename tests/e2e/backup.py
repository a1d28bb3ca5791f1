#!/usr/bin/env python3
"""e2e.backup: back up both servers under load, restore into fresh servers,
and find every message acknowledged before the backup began.

Three clients send without pause (a 1:1 and a group conversation) while
`chat-admin backup` copies each server's database; the load goes on during
and after the copy, and acknowledgements keep coming while it runs. The
copies are restored with `chat-admin restore` into new data directories
(beside the keys, copied as the README says) and fresh servers started on
them: every message whose acknowledgement arrived before the backup command
started is there, with its sequence number and text, and each history is
gapless. A restore into a running server is refused; the copies are 0600.
"""
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

KEY_FILES = ("server.key", "keyserver.pub", "mainserver.pub", "keyserver.secret")


class Sender(threading.Thread):
    """Sends to one conversation until told to stop; keeps (ack time, seq,
    text) of every acknowledged message."""

    def __init__(self, client, conv, name):
        threading.Thread.__init__(self, daemon=True)
        self.client = client
        self.conv = conv
        self.name = name
        self.acked = []
        self.stop = threading.Event()
        self.error = None
        self.lock = threading.Lock()

    def run(self):
        n = 0
        try:
            while not self.stop.is_set() and n < 5000:
                text = "%s load %d" % (self.name, n)
                seq = self.client.send(self.conv, text, timeout=60)
                with self.lock:
                    self.acked.append((time.monotonic(), seq, text))
                n += 1
        except BaseException as e:        # noqa: B902 - reported by the test
            self.error = e

    def count(self):
        with self.lock:
            return len(self.acked)

    def before(self, moment):
        with self.lock:
            return [(seq, text) for when, seq, text in self.acked if when < moment]

    def after(self, moment):
        with self.lock:
            return [(seq, text) for when, seq, text in self.acked if when >= moment]


def admin(bins, *args, check=True):
    r = subprocess.run([bins["admin"]] + list(args), capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        L.fail("chat-admin %s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout,
                                                    r.stderr))
    return r


def body(workdir, cleanups):
    bins = L.binaries()
    if "admin" not in bins:
        print("SKIP: chat-admin was not built")
        return L.SKIP
    net = L.private_net("backup", cleanups)
    cluster = L.Cluster(bins, workdir, netns=net).init().start()
    home = os.path.join(workdir, "client")

    def client(c, name):
        return L.Client(bins, name, c.client_args(), home, netns=net, logdir=workdir)

    a, b, c = client(cluster, "alice"), client(cluster, "bob"), client(cluster, "carol")
    for cl, user in ((a, "alice"), (b, "bob"), (c, "carol")):
        cl.register(user, user + " pw 1").expect_ok("Success!")
        cl.login(user, user + " pw 1").expect_ok()
    one = a.new("bob")
    group = b.new("alice", "carol")
    c.wait_conversation(group)
    senders = [Sender(a, one, "alice"), Sender(b, group, "bob"), Sender(c, group, "carol")]
    for s in senders:
        s.start()

    # --- load first, then both backups while it goes on
    deadline = time.monotonic() + 120
    while sum(s.count() for s in senders) < 60:
        if time.monotonic() > deadline or any(s.error for s in senders):
            L.fail("the load never got going: %r" % [s.error for s in senders])
        time.sleep(0.05)
    began = time.monotonic()
    backups = {}
    for role, data in (("mainserver", cluster.ms_dir), ("keyserver", cluster.ks_dir)):
        backups[role] = os.path.join(workdir, "%s-backup.db" % role)
        r = admin(bins, "backup", "--data", data, backups[role])
        L.log(r.stdout.strip())
    ended = time.monotonic()
    # The load goes on a while after the copy, then stops
    during = 0
    settle = time.monotonic() + 30
    while time.monotonic() < settle:
        during = sum(1 for s in senders for _ in s.after(began))
        if sum(len(s.after(ended)) for s in senders) >= 20:
            break
        time.sleep(0.05)
    for s in senders:
        s.stop.set()
    for s in senders:
        s.join(90)
        if s.error:
            L.fail("%s's sender: %s" % (s.name, s.error))
    before = {s.name: s.before(began) for s in senders}
    total_before = sum(len(v) for v in before.values())
    within = during - sum(len(s.after(ended)) for s in senders)
    L.log("%d messages acknowledged before the backup began, %d while the two backups "
          "ran (%.2f s), %d after it began in all"
          % (total_before, within, ended - began, during))
    if during == 0:
        L.fail("no message was acknowledged once the backup had begun: was it under load?")
    for path in backups.values():
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode != 0o600:
            L.fail("%s has mode %o, not 600" % (path, mode))

    for cl in (a, b, c):
        cl.quit()
    cluster.stop()

    # --- fresh data directories: the keys (copied once, as the README
    # says), then the databases from the backups
    fresh = L.Cluster(bins, workdir, netns=net, name="-restored")
    for old, new in ((cluster.ks_dir, fresh.ks_dir), (cluster.ms_dir, fresh.ms_dir)):
        os.makedirs(new, mode=0o700)
        for name in KEY_FILES:
            if os.path.exists(os.path.join(old, name)):
                shutil.copy2(os.path.join(old, name), os.path.join(new, name))
    fresh.ks_fingerprint = cluster.ks_fingerprint
    for role, data in (("keyserver", fresh.ks_dir), ("mainserver", fresh.ms_dir)):
        r = admin(bins, "restore", "--data", data, backups[role])
        L.log(r.stdout.strip())
    fresh.start()
    r = admin(bins, "restore", "--data", fresh.ms_dir, backups["mainserver"], check=False)
    if r.returncode != 1 or "stop it first" not in r.stderr:
        L.fail("restore into a running main server was not refused: %d %r"
               % (r.returncode, r.stdout + r.stderr))
    L.log("restore into a running server refused: %s" % r.stderr.strip())

    # --- every message acknowledged before the backup began is there
    reader = client(fresh, "alice-again")
    reader.login("alice", "alice pw 1").expect_ok()
    carol = client(fresh, "carol-again")
    carol.login("carol", "carol pw 1").expect_ok()
    for who, conv, names in ((reader, one, ("alice",)), (carol, group, ("bob", "carol"))):
        history = []
        after = 0
        while True:
            page = who.history(conv, after, timeout=60)
            if not page:
                break
            history += page
            after = page[-1][0]
        seqs = [seq for seq, _, _ in history]
        if seqs != list(range(1, len(seqs) + 1)):
            L.fail("restored history of %s has gaps: %r" % (conv, seqs[:20]))
        stored = {(seq, text) for seq, _, text in history}
        expected = [m for name in names for m in before[name]]
        missing = [m for m in expected if m not in stored]
        if missing:
            L.fail("%d acknowledged messages missing after the restore, e.g. %r"
                   % (len(missing), missing[:3]))
        L.log("%s: %d messages restored, all %d acknowledged before the backup among them"
              % (conv[:8], len(history), len(expected)))
    reader.quit()
    carol.quit()
    fresh.stop()
    return 0


if __name__ == "__main__":
    L.main(body)
