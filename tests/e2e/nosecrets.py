#!/usr/bin/env python3
"""e2e.nosecrets: nothing secret on the wire or on disk.

Everything runs inside one network namespace made for this run, where
tcpdump captures the loopback (every byte between clients and servers):
both servers, three plain clients that register, log in, hold a 1:1 and a
group conversation (live and history), log out and in; and chankey_probe,
a client that learns its own channel key, talking to both servers.

Then the capture must hold none of:
  - the passwords,
  - the message texts,
  - any epoch key (the key server holds them only wrapped for members'
    identity keys: the test opens each user's sealed identity with the
    password it gave them and unwraps their copies, as their client does),
  - any user's identity private key (PKCS#8) and SaltedPassword,
  - the probe sessions' channel keys (K, the three derived Fernet keys and
    their signing/encryption halves),
  - the key server's own secret and both servers' private keys;
each looked for raw, in hex, base64 and base64url (padded or not). As a
control the same search must find things that ARE sent in clear (the key
server's public key in the handshake, Fernet tokens).
Every file of both data directories (the database, its WAL, keys), looked
at while the servers run and after they stopped, and both servers' logs must
hold no password and no message text (and the logs no conversation key).
The clients' home directories hold only their pin files afterwards
(known_servers and known_users: fingerprints). A file that cannot be read
fails the test. Every one of these scans has a positive control in the same
run: a random needle planted in a file of each data directory and of the
client's home, sent in clear on the wire, and put in the key server's log
(as the name of a failed login) must be found by the very same search.
With the stores on PostgreSQL (the suite's PostgreSQL pass) the databases
are outside the data directories and not scanned: the log says so.
Skips (exit 77) with the reason when a namespace or tcpdump is unavailable;
fails instead under CHAT_TEST_STRICT=1 (CI).
"""
import base64
import os
import secrets
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import datadirs                                                # noqa: E402
import e2elib as L                                             # noqa: E402


def scan_dir(path, needles):
    """needles: [(label, raw)]; returns hits in every file under path. A
    folder or file that cannot be read fails the test: it could hold
    anything. Sockets (admin.sock) hold nothing and are passed over."""
    def unreadable(error):
        L.fail("cannot scan %s: %s" % (error.filename, error))
    hits = []
    for root, _, files in os.walk(path, onerror=unreadable):
        for name in files:
            full = os.path.join(root, name)
            mode = os.lstat(full).st_mode
            if stat.S_ISSOCK(mode):
                continue
            if not stat.S_ISREG(mode):
                L.fail("cannot scan %s: not a regular file (mode %o)" % (full, mode))
            try:
                with open(full, "rb") as f:
                    blob = f.read()
            except OSError as e:
                L.fail("cannot scan %s: %s" % (full, e))
            for label, raw in needles:
                for hit in L.find_secret(blob, raw, label):
                    hits.append("%s: %s" % (full, hit))
    return hits


def control_needle():
    """A random needle for a positive control: (label, raw bytes)."""
    return ("planted control", ("control-" + secrets.token_hex(10)).encode())


def plant_file(path, raw):
    """raw in a file, base64url without padding: one of the forms searched."""
    with open(path, "wb") as f:
        f.write(b"before " + base64.urlsafe_b64encode(raw).rstrip(b"=") + b" after")


def expect_control(hits, where, label="planted control"):
    """The scan found the planted needle (a positive control): the hits
    without it."""
    found = [h for h in hits if label in h]
    if not found:
        L.fail("control failed: the needle planted in %s was not found by the same scan" % where)
    return [h for h in hits if label not in h]


def plant_on_wire(net, endpoint, raw):
    """raw (hex) sent in clear over TCP to endpoint inside the namespace,
    so that the capture holds it."""
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    code = ("import socket,sys\ns=socket.create_connection((sys.argv[1],int(sys.argv[2])),10)\n"
            "s.sendall(sys.argv[3].encode())\ns.close()\n")
    r = subprocess.run(["ip", "netns", "exec", net, sys.executable, "-c", code, host, port,
                        raw.hex()], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        L.fail("could not plant the control on the wire: %s" % r.stderr)


def der_keys(key_path):
    """(public SubjectPublicKeyInfo DER, private PKCS#8 DER) of a PEM key
    file, with python3-cryptography (tools/setup installs it)."""
    from cryptography.hazmat.primitives import serialization
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    private = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return public, private


def body(workdir, cleanups):
    bins = L.binaries()
    if "probe" not in bins:
        L.fail("probe=PATH (chankey_probe) not given")
    reason = L.namespaces_possible()
    if reason:
        return L.skip("cannot make a network namespace: %s" % reason)
    if not shutil.which("tcpdump"):
        return L.skip("tcpdump is not installed (tools/setup installs it)")
    ns = L.Netns("cap")
    cleanups.append(ns.close)
    net = ns.add("net")

    pcap = os.path.join(workdir, "capture.pcap")
    dump = L.Proc("tcpdump", ["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode",
                               "-B", "65536", "-n", "-w", pcap],
                  netns=net, logdir=workdir, stdin=False)
    dump.wait(r"listening on lo", stream="err", since=0, what="tcpdump started")

    cluster = L.Cluster(bins, workdir, netns=net).init().start()
    home = os.path.join(workdir, "client-home")

    def client(name):
        return L.Client(bins, name, cluster.client_args(), home, netns=net,
                        logdir=workdir, isolate_home=True)

    tag = secrets.token_hex(6)
    passwords = {u: "pw-%s-%s" % (u, secrets.token_hex(8)) for u in ("alice", "bob", "carol")}
    texts = ["text one %s" % tag, "a reply %s" % tag, "group text %s" % tag,
             "after logging in again %s" % tag]

    # the probes first: two sessions whose channel keys we know
    probe_out = []
    for role, endpoint in (("keyserver", cluster.ks_endpoint), ("mainserver", cluster.ms_endpoint)):
        out = os.path.join(workdir, "probe-%s.txt" % role)
        r = subprocess.run(["ip", "netns", "exec", net, bins["probe"], role, endpoint, out],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            L.fail("chankey_probe %s failed: %s" % (role, r.stderr))
        probe_out.append((role, out))

    a = client("alice")
    for user, pw in passwords.items():
        a.register(user, pw).expect_ok("Success!")
    # a failed attempt goes over the wire too (and holds the password)
    a.login("alice", "not " + passwords["alice"]).expect_fail("ERR_AUTH_FAILED")
    a.login("alice", passwords["alice"]).expect_ok()
    b = client("bob")
    b.login("bob", passwords["bob"]).expect_ok()
    c = client("carol")
    c.login("carol", passwords["carol"]).expect_ok()
    ab = a.new("bob")
    a.send(ab, texts[0])
    b.wait_message(ab, "alice", texts[0])
    b.send(ab, texts[1])
    a.wait_message(ab, "bob", texts[1])
    g = c.new("alice", "bob")
    c.send(g, texts[2])
    a.wait_message(g, "carol", texts[2])
    b.wait_message(g, "carol", texts[2])
    b.logout()
    b.login("bob", passwords["bob"]).expect_ok()
    b.send(g, texts[3])
    c.wait_message(g, "bob", texts[3])
    hist = b.history(ab)
    if [t for _, _, t in hist] != texts[:2]:
        L.fail("bob's history: %r" % hist)

    needles = [("password of " + u, pw) for u, pw in passwords.items()]
    needles += [("message text", t) for t in texts]
    # positive controls, each found by the very scan that must find nothing
    # else: a needle planted in a file of each data directory, on the wire
    # in clear, and in the key server's log (it logs the name of a failed
    # login)
    control = control_needle()
    for d in (cluster.ks_dir, cluster.ms_dir):
        plant_file(os.path.join(d, "planted-control"), control[1])
    plant_on_wire(net, cluster.ms_endpoint, control[1])
    planter = client("planter")
    planter.login(control[1].decode(), "no such user").expect_fail("ERR_AUTH_FAILED")
    planter.quit(allow_failure=True)
    needles.append(control)
    dir_hits = scan_dir(cluster.ks_dir, needles) + scan_dir(cluster.ms_dir, needles)
    dir_hits = expect_control(dir_hits, "the data directories (servers running)")
    if L.store_args(cluster.ks_dir) or L.store_args(cluster.ms_dir):
        L.log("NOT CHECKED with the stores on PostgreSQL: the databases themselves (the scan "
              "covers the data directories' own files: keys, secret, lock)")

    for x in (a, b, c):
        x.quit()
    cluster.stop()
    more = scan_dir(cluster.ks_dir, needles) + scan_dir(cluster.ms_dir, needles)
    dir_hits += expect_control(more, "the data directories (servers stopped)")
    for d in (cluster.ks_dir, cluster.ms_dir):
        os.unlink(os.path.join(d, "planted-control"))

    # epoch keys, as a member gets them: the sealed identity opened with the
    # password, the member's wrapped copies unwrapped; and what opens them
    key_needles = []
    conv_keys = set()
    from cryptography.hazmat.primitives import serialization
    for user, pw in passwords.items():
        identity = datadirs.open_identity(cluster.ks_dir, user, pw)
        record = datadirs.users(cluster.ks_dir)[user]
        key_needles.append(("%s's SaltedPassword" % user, datadirs.salted(record, pw)))
        key_needles.append(("%s's identity private key" % user, identity.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())))
        conv_keys.update(datadirs.epoch_keys(cluster.ks_dir, user, identity).values())
    if len(conv_keys) < 2:
        L.fail("expected at least 2 epoch keys in keyserver.db, found %d" % len(conv_keys))
    for i, key in enumerate(sorted(conv_keys)):
        key_needles.append(("epoch key %d" % i, key))
        key_needles.append(("epoch key %d signing half" % i, key[:16]))
        key_needles.append(("epoch key %d encryption half" % i, key[16:]))
    for role, path in probe_out:
        for line in open(path):
            name, _, value = line.strip().partition(" ")
            if name != "session_token":        # the push topic: clear by design
                key_needles.append(("%s probe %s" % (role, name), bytes.fromhex(value)))

    # the servers' own secrets: the key server's own secret (resume tokens
    # and fake salts are keyed from it), private keys
    for path in (os.path.join(cluster.ks_dir, "keyserver.secret"),):
        if os.path.exists(path):
            text = open(path).read().strip()
            try:
                key_needles.append((os.path.basename(path), bytes.fromhex(text)))
            except ValueError:
                key_needles.append((os.path.basename(path), text))
    for d, who in ((cluster.ks_dir, "key server"), (cluster.ms_dir, "main server")):
        key_needles.append(("%s private key" % who,
                            der_keys(os.path.join(d, "server.key"))[1]))

    # let tcpdump write out what it holds: until the file stops growing
    # (bounded), then stop it; it must have lost nothing
    deadline = L.time.monotonic() + 10
    size = -1
    while L.time.monotonic() < deadline and os.path.getsize(pcap) != size:
        size = os.path.getsize(pcap)
        L.time.sleep(0.3)
    dump.stop(L.signal.SIGINT)
    dropped = dump.find(r"(\d+) packets? dropped by kernel", 0, "err")
    if dropped and dropped[1].group(1) != "0":
        L.fail("tcpdump lost %s packets: the capture is incomplete" % dropped[1].group(1))
    # the raw file, and every TCP stream put together from its segments
    streams = L.pcap_streams(pcap)
    joined = b"\n--\n".join(streams)
    blob = open(pcap, "rb").read() + b"\n--streams--\n" + joined
    L.log("capture: %d bytes, %d TCP streams with data" % (os.path.getsize(pcap), len(streams)))

    # controls: what is in clear must be found by the very same search
    # every handshake of the three clients and the probe was seen (a Welcome
    # carries the server's public key in clear)
    for d, who in ((cluster.ks_dir, "key server"), (cluster.ms_dir, "main server")):
        der = der_keys(os.path.join(d, "server.key"))[0]
        if not L.find_secret(blob, der, who + " public key"):
            L.fail("control failed: the %s's public key is not in the capture; "
                   "did tcpdump see the traffic?" % who)
        if joined.count(der) < 4:
            L.fail("control failed: only %d Welcomes from the %s in the capture, expected "
                   "at least 4 (three clients and the probe)" % (joined.count(der), who))
    if joined.count(b"gAAAAA") < 20:
        L.fail("control failed: fewer than 20 Fernet tokens in the capture")

    hits = []
    for label, raw in needles + key_needles:
        hits += ["capture: " + h for h in L.find_secret(blob, raw, label)]
    hits = expect_control(hits, "the capture (sent in clear)")
    hits += dir_hits
    log_hits = []
    for proc in L.Proc._all:
        if proc.name.startswith(("keyserver", "mainserver")):
            text = "\n".join(proc.out + proc.err).encode()
            for label, raw in needles + key_needles:
                log_hits += ["%s log: %s" % (proc.name, h) for h in L.find_secret(text, raw, label)]
    hits += expect_control(log_hits, "the key server's log (a failed login's name)")
    if hits:
        L.fail("secrets found:\n  " + "\n  ".join(sorted(set(hits))))
    L.log("no password, text, epoch key, identity key, channel key or server secret in %d "
          "bytes of capture (%d secrets checked, %d epoch keys)"
          % (len(blob), len(needles) + len(key_needles), len(conv_keys)))

    # the client keeps nothing but its pins
    left = []
    for root, _, files in os.walk(home):
        left += [os.path.relpath(os.path.join(root, f), home) for f in files]
    if sorted(left) != [os.path.join("config", "chat", "known_servers"),
                        os.path.join("config", "chat", "known_users")]:
        L.fail("the clients left files behind: %r" % sorted(left))
    plant_file(os.path.join(home, "planted-control"), control[1])
    hits = expect_control(scan_dir(home, needles + key_needles), "the client's home")
    if hits:
        L.fail("secrets in the client's files: %r" % hits)


if __name__ == "__main__":
    L.main(body)
