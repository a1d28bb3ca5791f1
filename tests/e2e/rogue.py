#!/usr/bin/env python3
"""e2e.rogue: the real `chat` against a key server that lies.

chat-rogue (rogue.c, on libchat) holds the real key server's long-term key
and reads its database: the impostor a stolen key and a copied data
directory make. Every client here pins
the REAL key server's fingerprint (--pin-keyserver), so the pin passes and
only the protocol's own checks can refuse the impostor. The real main server
runs beside it, with a user registered through the real key server.

 1. welcome-ok (control): an honest handshake from the rogue connects, so
    the refusals below are the client's doing, not a broken rogue.
 2. welcome-bad-sig: the Welcome's signature has one bit flipped. The client
    refuses the handshake ("handshake failed: ... signature ...") and never
    connects.
 3. welcome-oversized: every Hello is answered by a Welcome padded past
    WIRE_MAX_FRAME (4 MiB) and, right behind it on the same connection, the
    honest Welcome. The client must drop the connection at the oversized
    frame (ZMQ_MAXMSGSIZE), so it never sees the second: it never connects,
    and its Hello times out. A client that reads an oversized frame at all
    connects by one Welcome or the other.
 4. scram-honest (control): a login through the rogue, with the SCRAM server
    signature made from the password and a certificate the real main server
    accepts, succeeds: the forged case differs in the signature alone.
 5. scram-forged: the same with a server signature made from a ServerKey
    that is not the user's. The client refuses the login (ERR_AUTH_FAILED)
    although the certificate it was handed would have logged it in at the
    main server.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

USER = "victim"
PASSWORD = "victim pw 7"


def start_rogue(bins, cluster, mode, net, workdir):
    argv = [bins["rogue"], mode, "--data", cluster.ks_dir, "--bind", "tcp://127.0.0.1:*"]
    argv += L.store_args(cluster.ks_dir)        # the real key server's store
    if mode.startswith("scram"):
        argv += ["--password", PASSWORD]
    rogue = L.Proc("rogue-" + mode, argv, netns=net, logdir=workdir, stdin=False)
    m = rogue.wait(r"^rogue: listening on (tcp://\S+) \(%s, key (SHA256:\S+)\)$" % mode,
                   timeout=30, what="listening")
    if m.group(2) != cluster.ks_fingerprint:
        L.fail("the rogue does not hold the real key server's key: %s, real %s"
               % (m.group(2), cluster.ks_fingerprint))
    return rogue, m.group(1)


def first_keyserver_outcome(client, timeout=None):
    """The first keyserver event that settles the handshake: ("connected",
    event) or ("refused", event), refused meaning a reconnecting event."""
    deadline = L.time.monotonic() + (timeout or L.TIMEOUT)
    while True:
        for _, o in client.objects(0):
            if o.get("type") == "event" and o.get("server") == "keyserver":
                if o.get("event") == "connected":
                    return "connected", o
                if o.get("event") in ("reconnecting", "pin-mismatch"):
                    return "refused", o
        if L.time.monotonic() > deadline or not client.alive():
            L.fail("%s: the keyserver handshake neither connected nor failed\n%s"
                   % (client.name, client.tail()))
        with client.cv:
            client.cv.wait(0.2)


def never_connected(client):
    if any(o.get("type") == "event" and o.get("event") == "connected"
           and o.get("server") == "keyserver" for _, o in client.objects(0)):
        L.fail("%s connected to the rogue key server\n%s" % (client.name, client.tail()))


def body(workdir, cleanups):
    bins, net, cluster, real_client = L.started_cluster("rogue", workdir, cleanups)
    if "rogue" not in bins:
        L.fail("rogue=PATH (chat-rogue) not given")
    home = os.path.join(workdir, "client")

    def client(name, keyserver):
        args = ["--keyserver", keyserver, "--mainserver", cluster.ms_endpoint,
                "--push", cluster.push_endpoint, "--pin-keyserver", cluster.ks_fingerprint]
        return L.Client(bins, name, args, home, netns=net, logdir=workdir)

    # the victim, registered through the real servers
    real = real_client("real")
    real.register(USER, PASSWORD).expect_ok("Success!")
    real.quit()

    # 1. control: an honest handshake from the rogue connects
    rogue, endpoint = start_rogue(bins, cluster, "welcome-ok", net, workdir)
    c = client("welcome-ok", endpoint)
    outcome, event = first_keyserver_outcome(c)
    if outcome != "connected" or event.get("fingerprint") != cluster.ks_fingerprint:
        L.fail("control: the rogue's honest handshake did not connect: %r" % event)
    c.quit()
    rogue.stop()
    L.log("control: an honest Welcome from the rogue connects")

    # 2. a flipped signature bit: refused, never connected
    rogue, endpoint = start_rogue(bins, cluster, "welcome-bad-sig", net, workdir)
    c = client("welcome-bad-sig", endpoint)
    outcome, event = first_keyserver_outcome(c)
    if outcome != "refused":
        L.fail("a Welcome with a bad signature was accepted: %r\n%s" % (event, c.tail()))
    if not re.search(r"handshake failed: .*signature", event.get("reason", "")):
        L.fail("the bad Welcome was refused for another reason: %r" % event)
    rogue.wait(r"^rogue: sent a welcome with a flipped signature bit$", since=0)
    # the retry meets the same lie and is refused the same way: the rogue
    # answers a second Hello, and the client still never connects (plain
    # mode says a server's reason once, not at every retry)
    rogue.wait(r"^rogue: sent a welcome with a flipped signature bit$",
               since=rogue.find(r"flipped signature bit", 0)[0] + 1, what="the retry")
    never_connected(c)
    refusals = [o for _, o in c.objects(0) if o.get("type") == "event"
                and o.get("event") == "reconnecting" and o.get("server") == "keyserver"]
    if len(refusals) != 1 or not re.search(r"handshake failed: .*signature",
                                           refusals[0].get("reason", "")):
        L.fail("the refusals were said otherwise: %r" % refusals)
    c.quit(allow_failure=True)
    rogue.stop()
    L.log("a Welcome with one signature bit flipped: refused (%s)" % event.get("reason"))

    # 3. an oversized Welcome with the honest one behind it
    rogue, endpoint = start_rogue(bins, cluster, "welcome-oversized", net, workdir)
    c = client("welcome-oversized", endpoint)
    rogue.wait(r"^rogue: sent an oversized welcome \((\d+) bytes\)", since=0,
               what="the oversized welcome sent")
    outcome, event = first_keyserver_outcome(c)
    if outcome != "refused":
        L.fail("a client that was sent an oversized frame connected: it read past "
               "WIRE_MAX_FRAME, or read on past the frame: %r\n%s" % (event, c.tail()))
    # the connection is dropped (the client's monitor says so at once; a
    # client without one saw its Hello time out)
    if not event.get("reason", "").startswith(("lost the connection to", "no answer from")):
        L.fail("after the oversized Welcome, expected the connection dropped, got %r"
               % event)
    never_connected(c)
    c.quit(allow_failure=True)
    rogue.stop()
    L.log("an oversized Welcome: the connection dropped, the honest one behind it never read")

    # 4. control: a true SCRAM server signature logs in through the rogue
    rogue, endpoint = start_rogue(bins, cluster, "scram-honest", net, workdir)
    c = client("scram-honest", endpoint)
    c.login(USER, PASSWORD).expect_ok()
    rogue.wait(r"^rogue: sent logged_in for %s with a true server signature" % USER, since=0)
    c.quit()
    rogue.stop()
    L.log("control: with a true server signature the rogue's login (and certificate) works")

    # 5. a forged SCRAM server signature: refused
    rogue, endpoint = start_rogue(bins, cluster, "scram-forged", net, workdir)
    c = client("scram-forged", endpoint)
    r = c.login(USER, PASSWORD)
    rogue.wait(r"^rogue: sent logged_in for %s with a forged server signature" % USER, since=0,
               what="the forged logged_in sent")
    # (the client words it as any failed login; the control above shows
    # that only the signature stood between this and "ok")
    r.expect_fail("ERR_AUTH_FAILED")
    users = c.command("users")
    if users.ok:
        L.fail("after refusing the forged login the client is logged in anyway: %r" % users.line)
    c.quit(allow_failure=True)
    rogue.stop()
    L.log("a forged SCRAM server signature: the login refused")
    cluster.stop()


if __name__ == "__main__":
    L.main(body)
