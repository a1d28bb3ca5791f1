#!/usr/bin/env python3
"""e2e.rotate: server key rotation with the real binaries, as README's
"Rotating a server key" tells an operator to do it.

Both servers read the other's public key from a copy in etc/ (as
/etc/chat), never from the other's data directory. alice and bob are logged
in with plain clients that pinned both servers on first use (one
known_servers file).

 1. Key server: `chat-keyserver --rotate-key` while it runs (it prints the
    new public file and fingerprint; the running server keeps its key).
    The changeover file (both keys) is copied to etc/, the main server gets
    SIGHUP: it says it accepts both keys, and alice's and bob's main server
    sessions live on (a message goes by push, nobody reconnects to it).
    The key server restarts: alice's next request that needs it shakes
    hands again, the Welcome's statement moves her pin (event pin-moved,
    old and new fingerprint, a line on stderr), she resumes and creates a
    conversation. A client started only now, with the old pin on file,
    moves its pin too and registers (a certificate of the new key the main
    server accepts). Then the new key alone is copied to etc/, SIGHUP, and
    a fresh login still works.
 2. Main server: the same the other way round. Its restart drops both
    clients' main server sessions; they come back by themselves, each
    moving its pin, and a message between them arrives by push. A
    conversation made after it stores its keys at the key server with a key
    ticket signed by the new main server key (the key server accepts the
    changeover file's keys, then the new key alone).
 3. known_servers names the two new keys; each data directory kept its old
    private key (0600).
 4. Forged: chat-rogue shows a key of its own with a statement naming the
    real key server key as the old one, signed by its own key: a client
    that pinned the real key refuses it exactly as any changed key
    (pin-mismatch naming both). The control, a statement signed by the real
    key (what only a holder of that key can make), moves the pin: the
    signature alone decides.
"""
import os
import re
import shutil
import signal
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

PASSWORD = "rotate pw 1"


def rotate(bins, which, data):
    """chat-<which> --rotate-key: (public file, fingerprint, stderr)."""
    r = L.run([bins[which], "--rotate-key", "--data", data], timeout=120)
    m = re.match(r"^(\S+) (SHA256:[A-Za-z0-9+/]{43})$", r.stdout.strip())
    if not m:
        L.fail("%s --rotate-key printed %r" % (which, r.stdout))
    if "changeover.pub" not in r.stderr or "reload" not in r.stderr:
        L.fail("%s --rotate-key does not tell the operator what to copy: %r"
               % (which, r.stderr))
    return m.group(1), m.group(2), r.stderr


def install(src, etc, name):
    shutil.copyfile(src, os.path.join(etc, name))


def reload_server(proc, expect, what):
    proc.send_signal(signal.SIGHUP)
    return proc.wait_log(expect, 30, what)


def expect_pin_moved(client, server, old, new, since=0):
    o = client.wait_event("pin-moved", since=since, server=server)
    if o.get("fingerprint") != new or o.get("old") != old:
        L.fail("%s: pin-moved names %r (old %r), expected %s (old %s)"
               % (client.name, o.get("fingerprint"), o.get("old"), new, old))
    # the line for the user names both keys
    client.wait(r"the %s's key was replaced .* pin moved from %s to %s$"
                % (server, re.escape(old), re.escape(new)), since=0, stream="err",
                timeout=10, what="the pin-moved line")
    return o


def no_event(client, event, since, **fields):
    for _, o in client.objects(since):
        if o.get("type") == "event" and o.get("event") == event and all(
                o.get(k) == v for k, v in fields.items()):
            L.fail("%s: unexpected %s event %r" % (client.name, event, o))


def body(workdir, cleanups):
    bins = L.binaries()
    net = L.private_net("rotate", cleanups)
    cluster = L.Cluster(bins, workdir, netns=net).init()
    etc = os.path.join(workdir, "etc")
    os.makedirs(etc)
    install(os.path.join(cluster.ks_dir, "keyserver.pub"), etc, "keyserver.pub")
    install(os.path.join(cluster.ms_dir, "mainserver.pub"), etc, "mainserver.pub")
    cluster.ks_pub = os.path.join(etc, "keyserver.pub")
    cluster.ms_pub = os.path.join(etc, "mainserver.pub")
    cluster.start()
    home = os.path.join(workdir, "client")

    def client(name):
        return L.Client(bins, name, cluster.client_args(), home, netns=net, logdir=workdir)

    ks_old, ms_old = cluster.ks_fingerprint, cluster.ms_fingerprint
    alice, bob = client("alice"), client("bob")
    for c, user in ((alice, "alice"), (bob, "bob")):
        c.wait_connected()
        c.register(user, PASSWORD)
        c.login(user, PASSWORD)
    conv = alice.new("bob")
    bob.wait_conversation(conv)
    alice.send(conv, "before any rotation")
    bob.wait_message(conv, "alice", "before any rotation")

    # ---------------------------------------------------------- key server
    L.log("1. the key server's key")
    pub, ks_new, _ = rotate(bins, "keyserver", cluster.ks_dir)
    if ks_new == ks_old or pub != os.path.join(cluster.ks_dir, "keyserver.pub"):
        L.fail("--rotate-key: %s %s (old %s)" % (pub, ks_new, ks_old))
    install(os.path.join(cluster.ks_dir, "keyserver-changeover.pub"), etc, "keyserver.pub")
    marks = (alice.mark(), bob.mark())
    reload_server(cluster.ms, r"key server key %s \(and %s\)" % (re.escape(ks_new),
                                                                re.escape(ks_old)),
                  "both key server keys")
    cluster.ms.wait_log(r"configuration reloaded", 30, "the reload")
    seq = alice.send(conv, "after the reload")
    bob.wait_message(conv, "alice", "after the reload")
    for c, mark in zip((alice, bob), marks):
        no_event(c, "reconnecting", mark, server="mainserver")
    L.log("main server reloaded with both keys, sessions kept (message %d by push)" % seq)

    # carol's pins as they are now (the old key), in a home of her own: the
    # running clients notice the restart at once (socket monitor) and move
    # the pins in the home they share, possibly before carol starts
    carol_home = os.path.join(workdir, "client-carol")
    os.makedirs(os.path.join(carol_home, "chat"))
    shutil.copy(os.path.join(home, "chat", "known_servers"),
                os.path.join(carol_home, "chat", "known_servers"))
    mark = alice.mark()
    cluster.stop_keyserver()
    cluster.start_keyserver()
    if cluster.ks_fingerprint != ks_new:
        L.fail("the key server restarted with %s, not %s" % (cluster.ks_fingerprint, ks_new))
    cluster.ks.wait_log(r"presenting the key rotation from %s" % re.escape(ks_old), 10,
                        "presenting the rotation")
    # a client that starts now, with the old pin on file
    carol = L.Client(bins, "carol", cluster.client_args(), carol_home, netns=net, logdir=workdir)
    expect_pin_moved(carol, "keyserver", ks_old, ks_new)
    carol.wait_connected()
    carol.register("carol", PASSWORD)
    carol.login("carol", PASSWORD)
    # alice's client shakes hands again when it sees the restart, or at its
    # next request that needs the key server: her pin moves, she resumes
    group = alice.new("bob", "carol")
    expect_pin_moved(alice, "keyserver", ks_old, ks_new, since=mark)
    no_event(alice, "pin-mismatch", 0)
    carol.wait_conversation(group)
    alice.send(group, "to the group")
    carol.wait_message(group, "alice", "to the group")
    # the changeover is over: the new key alone
    install(os.path.join(cluster.ks_dir, "keyserver.pub"), etc, "keyserver.pub")
    reload_server(cluster.ms, r"key server key %s \(from" % re.escape(ks_new),
                  "the new key server key alone")
    carol.logout()
    carol.login("carol", PASSWORD)
    carol.quit()

    # ---------------------------------------------------------- main server
    L.log("2. the main server's key")
    pub, ms_new, _ = rotate(bins, "mainserver", cluster.ms_dir)
    if ms_new == ms_old or pub != os.path.join(cluster.ms_dir, "mainserver.pub"):
        L.fail("--rotate-key: %s %s (old %s)" % (pub, ms_new, ms_old))
    install(os.path.join(cluster.ms_dir, "mainserver-changeover.pub"), etc, "mainserver.pub")
    mark = alice.mark()
    reload_server(cluster.ks, r"main server key %s \(and %s\)" % (re.escape(ms_new),
                                                                 re.escape(ms_old)),
                  "both main server keys")
    marks = (alice.mark(), bob.mark())
    cluster.stop_mainserver()
    cluster.start_mainserver()
    if cluster.ms_fingerprint != ms_new:
        L.fail("the main server restarted with %s, not %s" % (cluster.ms_fingerprint, ms_new))
    for c, mark in zip((alice, bob), marks):
        expect_pin_moved(c, "mainserver", ms_old, ms_new, since=mark)
        c.wait_event("logged-in", since=mark)
    alice.send(conv, "after the main server's rotation")
    bob.wait_message(conv, "alice", "after the main server's rotation")
    # a key ticket of the new main server key, accepted by the key server
    trio = bob.new("alice", "carol")
    alice.wait_conversation(trio)
    bob.send(trio, "keys stored with the new ticket")
    alice.wait_message(trio, "bob", "keys stored with the new ticket")
    install(os.path.join(cluster.ms_dir, "mainserver.pub"), etc, "mainserver.pub")
    reload_server(cluster.ks, r"main server key %s \(from" % re.escape(ms_new),
                  "the new main server key alone")
    again = alice.new("carol")
    alice.send(again, "after the changeover")

    # ---------------------------------------------------------- files
    L.log("3. pins and kept keys")
    with open(os.path.join(home, "chat", "known_servers")) as f:
        pins = f.read()
    for fp in (ks_new, ms_new):
        if fp not in pins:
            L.fail("known_servers lacks %s:\n%s" % (fp, pins))
    for fp in (ks_old, ms_old):
        if fp in pins:
            L.fail("known_servers still names %s:\n%s" % (fp, pins))
    for data in (cluster.ks_dir, cluster.ms_dir):
        kept = [n for n in os.listdir(data) if n.startswith("server.key.old-")]
        if len(kept) != 1:
            L.fail("%s keeps %r as old keys" % (data, kept))
        mode = stat.S_IMODE(os.stat(os.path.join(data, kept[0])).st_mode)
        if mode != 0o600:
            L.fail("%s/%s has mode %o" % (data, kept[0], mode))
    alice.quit()
    bob.quit()

    # ---------------------------------------------------------- forged
    L.log("4. a forged rotation, and the control")
    for mode, refused in (("rotation-forged", True), ("rotation-stolen", False)):
        rogue = L.Proc("rogue-" + mode, [bins["rogue"], mode, "--data", cluster.ks_dir,
                                         "--bind", "tcp://127.0.0.1:*"]
                       + L.store_args(cluster.ks_dir),
                       netns=net, logdir=workdir, stdin=False)
        m = rogue.wait(r"^rogue: presents a rotation from (SHA256:\S+) to (SHA256:\S+), "
                       r"signed by (SHA256:\S+)$", timeout=30, what="the statement")
        if m.group(1) != ks_new:
            L.fail("the rogue names %s as the old key, not the real %s" % (m.group(1), ks_new))
        own = m.group(2)
        endpoint = rogue.wait(r"^rogue: listening on (tcp://\S+)", timeout=30,
                              what="listening").group(1)
        victim = L.Client(bins, "victim-" + mode,
                          ["--keyserver", endpoint, "--mainserver", cluster.ms_endpoint,
                           "--push", cluster.push_endpoint, "--pin-keyserver", ks_new],
                          os.path.join(workdir, "victim-" + mode), netns=net, logdir=workdir)
        if refused:
            victim.wait_pin_mismatch("keyserver", ks_new, own)
            no_event(victim, "pin-moved", 0)
        else:
            expect_pin_moved(victim, "keyserver", ks_new, own)
            victim.wait_event("connected", server="keyserver")
            victim.wait(r"given on the command line was replaced", since=0, stream="err",
                        timeout=10, what="the command-line pin warning")
        victim.quit(allow_failure=True)
        rogue.stop()
        L.log("%s: %s" % (mode, "refused" if refused else "pin moved (control)"))

    cluster.stop()


if __name__ == "__main__":
    L.main(body)
