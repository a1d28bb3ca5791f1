#!/usr/bin/env python3
"""e2e.discovery: servers and clients on separate (namespaced) hosts, found
by beacon; forged beacons refused by the key pin.

Two network namespaces made for this run, joined by a veth pair that is
created inside them (nothing on the machine's own interfaces; every beacon
stays inside): "host" (10.99.0.1) runs both servers with --announce on its
veth end, "desk" (10.99.0.2) runs the clients with no endpoints at all.

 1. A client with no endpoints and no server announcing says so and fails.
 2. Two clients find both servers by beacon, register, log in and chat (a
    message sent by one arrives live at the other); both servers' keys are
    pinned as keyserver@discovery / mainserver@discovery.
 2b. A forged beacon naming the real main server (its endpoint and key) but
    another push endpoint, while the real one does not announce: clients
    found that way use the push endpoint of the main server's signed
    Welcome, never the beacon's, and get messages live.
 3. Spoof 1: the real key server is stopped and a forged beacon claiming the
    REAL key server's fingerprint points at an impostor key server (another
    data directory, another key). The client hears only that and must refuse
    it with a pin mismatch naming both fingerprints: the beacon's fingerprint
    is a hint, never trust.
 4. Spoof 2: the impostor announces itself honestly as role keyserver (its
    own fingerprint). Refused the same way.
 5. Spoof 3: an impostor main server announcing as mainserver, with the real
    key server back: refused by the main server pin.
 6. The real servers again: the same client logs in and reads its history.
Skips (exit 77) with the reason when namespaces cannot be made; fails instead
under CHAT_TEST_STRICT=1 (CI).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as L                                             # noqa: E402

HOST_ADDR = "10.99.0.1"
DESK_ADDR = "10.99.0.2"
BROADCAST = "10.99.0.255"
BEACON_PORT = 5670
DISCOVER = ["--discover-timeout", "15"]


def body(workdir, cleanups):
    bins = L.binaries()
    reason = L.namespaces_possible()
    if reason:
        return L.skip("cannot make network namespaces: %s" % reason)
    ns = L.Netns("disc")
    cleanups.append(ns.close)
    host = ns.add("host")
    desk = ns.add("desk")
    host_if, _ = ns.veth(host, HOST_ADDR, desk, DESK_ADDR)
    L.log("namespaces %s (%s) and %s (%s)" % (host, HOST_ADDR, desk, DESK_ADDR))

    home_a = os.path.join(workdir, "desk-a")
    home_b = os.path.join(workdir, "desk-b")

    def client(name, home, args=DISCOVER):
        return L.Client(bins, name, list(args), home, netns=desk, logdir=workdir)

    # 1. nobody announcing yet
    lonely = client("lonely", os.path.join(workdir, "desk-lonely"), ["--discover-timeout", "2"])
    rc = lonely.wait_exit(60)
    if rc == 0:
        L.fail("a client that found no server exited 0")
    lonely.wait_log(r"(?i)no .*server|not found|did not|none", 5, "a clear 'no server' message")

    # 2. the real servers, announcing on the host's veth end
    real = L.Cluster(bins, workdir, host=HOST_ADDR, netns=host, announce=host_if).init().start()
    a = client("alice", home_a)
    a.wait_connected()
    a.register("alice", "alice pw").expect_ok("Success!")
    a.login("alice", "alice pw").expect_ok()
    b = client("bob", home_b)
    b.wait_connected()
    b.register("bob", "bob pw").expect_ok("Success!")
    b.login("bob", "bob pw").expect_ok()
    conv = a.new("bob")
    a.send(conv, "found you by beacon")
    b.wait_message(conv, "alice", "found you by beacon")
    b.send(conv, "and you me")
    a.wait_message(conv, "bob", "and you me")
    a.quit()
    b.quit()
    pins = open(os.path.join(home_a, "chat", "known_servers")).read()
    for role, fp in (("keyserver", real.ks_fingerprint), ("mainserver", real.ms_fingerprint)):
        if ("%s@discovery %s" % (role, fp)) not in pins:
            L.fail("known_servers has no %s@discovery pin for %s:\n%s" % (role, fp, pins))
    L.log("clients found both servers by beacon and chatted; both keys pinned")

    # 2b. the main server found by a forged beacon naming another push
    # endpoint (nothing listens there): the Welcome's is the one used
    real.stop_mainserver()
    real.announce = None
    real.start_mainserver()
    bogus_push = "tcp://%s:%d" % (HOST_ADDR, 49999)
    forged = "CHAT/1 mainserver %s %s %s" % (real.ms_endpoint, bogus_push, real.ms_fingerprint)
    spoof = L.Proc("spoof-push", [sys.executable,
                                  os.path.join(os.path.dirname(__file__), "beacon_spoof.py"),
                                  BROADCAST, str(BEACON_PORT), forged],
                   netns=host, logdir=workdir, stdin=False,
                   env={"E2E_DRIVER_NETNS": os.readlink("/proc/self/ns/net")})
    spoof.wait(r"^spoofing$")
    a = client("alice-push", home_a, DISCOVER + ["--verbose"])
    b = client("bob-push", home_b, DISCOVER + ["--verbose"])
    for c, user in ((a, "alice"), (b, "bob")):
        c.wait_connected()
        c.login(user, user + " pw").expect_ok()
    a.send(conv, "pushed despite the beacon")
    b.wait_message(conv, "alice", "pushed despite the beacon")
    for c in (a, b):
        used = c.wait(r"pushes from (tcp://\S+)", since=0, stream="err", what="push endpoint")
        if used.group(1) != real.push_endpoint.replace("*", HOST_ADDR) or any(
                bogus_push in line for line in c.lines_since(0, "err")):
            L.fail("%s took its pushes from %s (Welcome: %s, beacon: %s)"
                   % (c.name, used.group(1), real.push_endpoint, bogus_push))
        c.quit()
    spoof.stop()
    real.stop_mainserver()
    real.announce = host_if
    real.start_mainserver()
    L.log("a beacon naming another push endpoint: the clients used the Welcome's (%s) and got "
          "the message live" % real.push_endpoint)

    # an impostor key server: another data directory, so another key
    impostor = L.Cluster(bins, workdir, host=HOST_ADDR, netns=host, name="-impostor").init()
    impostor.start_keyserver()
    if impostor.ks_fingerprint == real.ks_fingerprint:
        L.fail("the impostor has the real key")

    # 3. forged beacon: the real fingerprint, the impostor's endpoint
    real.stop_keyserver()
    forged = "CHAT/1 keyserver %s - %s" % (impostor.ks_endpoint, real.ks_fingerprint)
    spoof = L.Proc("spoof", [sys.executable, os.path.join(os.path.dirname(__file__), "beacon_spoof.py"),
                             BROADCAST, str(BEACON_PORT), forged],
                   netns=host, logdir=workdir, stdin=False,
                   env={"E2E_DRIVER_NETNS": os.readlink("/proc/self/ns/net")})
    spoof.wait(r"^spoofing$")
    a = client("alice-spoof1", home_a)
    a.wait_pin_mismatch("keyserver", real.ks_fingerprint, impostor.ks_fingerprint)
    a.login("alice", "alice pw").expect_fail(None, None)
    a.quit(allow_failure=True)
    spoof.stop()
    L.log("forged beacon with the real fingerprint: refused by the pin")

    # 4. the impostor announcing itself as the key server
    impostor.stop_keyserver()
    impostor.announce = host_if
    impostor.start_keyserver()
    a = client("alice-spoof2", home_a)
    a.wait_pin_mismatch("keyserver", real.ks_fingerprint, impostor.ks_fingerprint)
    a.login("alice", "alice pw").expect_fail(None, None)
    a.quit(allow_failure=True)
    impostor.stop_keyserver()
    L.log("impostor key server announcing itself: refused by the pin")

    # 5. the real key server back, an impostor main server instead of the real one
    real.start_keyserver()
    real.stop_mainserver()
    impostor.start_mainserver()
    if impostor.ms_fingerprint == real.ms_fingerprint:
        L.fail("the impostor main server has the real key")
    a = client("alice-spoof3", home_a)
    a.wait_pin_mismatch("mainserver", real.ms_fingerprint, impostor.ms_fingerprint)
    a.quit(allow_failure=True)
    impostor.stop_mainserver()
    L.log("impostor main server announcing itself: refused by the pin")

    # 6. the real ones again: everything works with the same pins
    real.start_mainserver()
    a = client("alice-again", home_a)
    a.login("alice", "alice pw").expect_ok()
    hist = a.history(conv)
    if [(s, t) for _, s, t in hist] != [("alice", "found you by beacon"), ("bob", "and you me"),
                                        ("alice", "pushed despite the beacon")]:
        L.fail("history after the spoofing: %r" % hist)
    a.quit()
    real.stop()


if __name__ == "__main__":
    L.main(body)
