#!/usr/bin/env python3
"""tools.e2e - chat-tap and chat-admin against the real servers and client.

Both servers run on loopback with ephemeral ports; two plain-mode clients
reach them only through taps: one tap on both channels of the main server,
another on the key server's request channel. A full register / login / new
conversation / send / push flow must work unchanged through them; the taps'
output must show the frame kinds in order (the Welcomes naming their
server's role) and never the password, the message text or a wrapped
conversation key (plain, hex or base64). Then chat-admin must list what the
flow made (identity key fingerprints, wrapped-key counts), its admin
sockets must be mode 0600 and refuse another user, and no secret of the
servers' data directories may appear in anything it prints. Not root, the
"refuse another user" part cannot run: the test then ends skipped (77),
saying so, after everything else passed; under CHAT_TEST_STRICT=1 (CI)
that is a failure.

Usage: tap_admin_e2e.py keyserver=PATH mainserver=PATH client=PATH tap=PATH admin=PATH
"""
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2elib                                        # noqa: E402
from e2elib import Proc, Cluster, fail, log          # noqa: E402

PASSWORD = "Tap-Pa55word-Qz7"
TEXT = "tap-secret-message-Wq93xZ"
FRAME_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (C>S|S>C) (\S+) +(\S+) +(\d+)(?: (.*))?$")


# ------------------------------------------------------------------ the tap

def start_tap(bins, workdir, name, to, push_to=None):
    argv = [bins["tap"], "-x", "--summary", "--listen", "tcp://127.0.0.1:*", "--to", to]
    if push_to:
        argv += ["--push-listen", "tcp://127.0.0.1:*", "--push-to", push_to]
    tap = Proc(name, argv, logdir=workdir, stdin=False)
    tap.wait(r"^chat-tap: ready$", stream="err", since=0, what="ready")
    request = tap.find(r"^chat-tap: request listen=(\S+)", stream="err")[1].group(1)
    push = None
    if push_to:
        push = tap.find(r"^chat-tap: push listen=(\S+)", stream="err")[1].group(1)
    log("%s: clients at %s%s" % (name, request, ", push at %s" % push if push else ""))
    return tap, request, push


def frames(lines):
    """(dir, client, kind, size, detail) of every frame line."""
    result = []
    for line in lines:
        m = FRAME_LINE.match(line)
        if m:
            result.append((m.group(1), m.group(2), m.group(3), int(m.group(4)), m.group(5) or ""))
    return result


def check_order(name, found, client):
    """A client's frames on a request channel: hello, welcome, then sealed
    both ways (errors allowed), nothing unreadable."""
    kinds = [(d, k) for d, c, k, _, _ in found
             if c == client and k not in ("push", "subscribe", "unsubscribe")]
    if len(kinds) < 4 or kinds[0] != ("C>S", "hello") or kinds[1] != ("S>C", "welcome"):
        fail("%s: %s does not start hello, welcome: %s" % (name, client, kinds[:6]))
    rest = {k for _, k in kinds[2:]}
    if "sealed" not in rest or not rest <= {"sealed", "error", "hello", "welcome"}:
        fail("%s: %s after the handshake: %s" % (name, client, sorted(rest)))
    dirs = {d for d, k in kinds[2:] if k == "sealed"}
    if dirs != {"C>S", "S>C"}:
        fail("%s: %s sealed frames only %s" % (name, client, dirs))


# ------------------------------------------------------------------ the client
# Plain mode, as src/client/plain/PLAIN.md documents it.

def start_client(bins, workdir, user, ks, ms, push):
    home = os.path.join(workdir, "home-" + user)
    os.makedirs(home, exist_ok=True)
    env = {"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config")}
    return Proc("chat-" + user, [bins["client"], "--plain", "--keyserver", ks,
                                 "--mainserver", ms, "--push", push] + e2elib.REFRESH_ARGS,
                env=env, logdir=workdir)


def command(client, line, expect, what):
    """Send a command; its answer is one line starting "ok " or "error "."""
    mark = client.send(line)
    m = client.wait(r"^(ok|error) ", since=mark, what=what)
    answer = client.find(r"^(ok|error) ", since=mark)
    text = client.lines_since(answer[0])[0]
    m = re.search(expect, text)
    if not m:
        fail("%s: %r answered %r" % (client.name, line, text))
    return m


# ------------------------------------------------------------------ secrets

def pem_bodies(path):
    with open(path) as f:
        text = f.read()
    body = "".join(l for l in text.splitlines() if l and not l.startswith("-----"))
    return [body, body[:64], body[-64:]]


def server_secrets(ks_dir, ms_dir):
    """(label, raw bytes or text) of every secret kept in the data dirs."""
    secrets = []
    with open(os.path.join(ks_dir, "keyserver.secret")) as f:
        hexed = f.read().strip()
    secrets.append(("key server secret", bytes.fromhex(hexed)))
    secrets.append(("key server secret hex", hexed))
    for d, who in ((ks_dir, "key server"), (ms_dir, "main server")):
        for part in pem_bodies(os.path.join(d, "server.key")):
            secrets.append(("%s private key PEM" % who, part))
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(ks_dir, "keyserver.db"), uri=True)
    try:
        keys = [row[0] for row in db.execute("SELECT wrapped_key FROM wrapped_keys")]
        users = list(db.execute("SELECT username, stored_key, server_key, sealed_identity"
                                " FROM users"))
    finally:
        db.close()
    for key in keys:
        secrets.append(("wrapped conversation key", bytes(key)))
    for name, stored, server, sealed in users:
        secrets.append(("StoredKey of %s" % name, bytes(stored)))
        secrets.append(("ServerKey of %s" % name, bytes(server)))
        secrets.append(("sealed identity of %s" % name, bytes(sealed)))
    return secrets, keys


def assert_clean(blob, secrets, where):
    if isinstance(blob, str):
        blob = blob.encode()
    hits = []
    for label, raw in secrets:
        hits += e2elib.find_secret(blob, raw, label)
    if hits:
        fail("%s shows secrets: %s" % (where, "; ".join(hits)))


# ------------------------------------------------------------------ admin

def admin(bins, which, data, *extra, user=None, check=True):
    argv = [bins["admin"], which, "--data", data] + list(extra)
    if user:
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        fail("%s failed (%d): %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def check_admin(bins, cluster, secrets, users):
    ks = admin(bins, "key", cluster.ks_dir)
    ms = admin(bins, "main", cluster.ms_dir)
    ks_json = json.loads(admin(bins, "key", cluster.ks_dir, "--json").stdout)
    ms_json = json.loads(admin(bins, "main", cluster.ms_dir, "--json").stdout)
    log("chat-admin key:\n" + ks.stdout)
    log("chat-admin main:\n" + ms.stdout)

    if cluster.ks_fingerprint not in ks.stdout or ks_json["server_key_fingerprint"] != cluster.ks_fingerprint:
        fail("chat-admin key does not show the key server's fingerprint")
    if cluster.ms_fingerprint not in ms.stdout or ms_json["server_key_fingerprint"] != cluster.ms_fingerprint:
        fail("chat-admin main does not show the main server's fingerprint")
    for user in users:
        if not re.search(r"^\s+%s\s+4096\s+[0-9a-f]{8}\.\.\.\s+SHA256:\S{43}\s+\d+" % user,
                         ks.stdout, re.M):
            fail("chat-admin key lists no user %s with 4096 iterations, an identity "
                 "fingerprint and a wrapped-key count" % user)
        if not any(s["username"] == user for s in ks_json["sessions"]):
            fail("key server sessions lack %s: %s" % (user, ks_json["sessions"]))
        if not any(s["username"] == user for s in ms_json["sessions"]):
            fail("main server sessions lack %s: %s" % (user, ms_json["sessions"]))
        if not re.search(r"^\s+%s\s+SHA256:" % user, ms.stdout, re.M):
            fail("chat-admin main lists no session of %s" % user)
    convs = [c for c in ms_json["conversations"] if sorted(c["members"]) == sorted(users)]
    if len(convs) != 1 or convs[0]["message_count"] < 1:
        fail("chat-admin main: no conversation of %s with a message: %s"
             % (users, ms_json["conversations"]))
    if convs[0]["conversation_id"] not in ms.stdout or ", ".join(users) not in ms.stdout \
            and ", ".join(reversed(users)) not in ms.stdout:
        fail("chat-admin main's table lacks the conversation")
    if not ms_json["conversations"][0]["last_token_short"].startswith("gAAAAA"):
        fail("last token is not a shortened Fernet token")

    everything = ks.stdout + ms.stdout + json.dumps(ks_json) + json.dumps(ms_json)
    assert_clean(everything, secrets, "chat-admin")
    return convs[0]


def check_permissions(bins, cluster):
    """None, or why the "another user" part could not run."""
    for d in (cluster.ks_dir, cluster.ms_dir):
        sock = os.path.join(d, "admin.sock")
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        if mode != 0o600:
            fail("%s has mode %o, not 600" % (sock, mode))
    if os.geteuid() != 0:
        return "not root: cannot run chat-admin as another user (admin sockets refusing " \
               "other users is untested)"
    for which, d in (("key", cluster.ks_dir), ("main", cluster.ms_dir)):
        r = admin(bins, which, d, "--timeout", "1000", user="nobody", check=False)
        if r.returncode != 1 or "admin.sock" not in r.stderr:
            fail("chat-admin %s as nobody: exit %d, %s%s" % (which, r.returncode, r.stdout, r.stderr))
        # The socket's own mode must refuse, not only its folder: open the
        # folder for traversal and connect as nobody directly.
        old = stat.S_IMODE(os.stat(d).st_mode)
        os.chmod(d, 0o711)
        try:
            probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                     "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n sys.exit(3)\n"
                     "sys.exit(0)\n")
            r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                sys.executable, "-c", probe, os.path.join(d, "admin.sock")],
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 3:
                fail("nobody could connect to %s/admin.sock (exit %d %s)" % (d, r.returncode, r.stderr))
        finally:
            os.chmod(d, old)
    log("admin sockets refuse another user")
    return None


# ------------------------------------------------------------------ the test

def body(workdir, cleanups):
    bins = e2elib.binaries()
    for name in ("tap", "admin"):
        if name not in bins:
            fail("usage: needs tap=PATH admin=PATH")
    cluster = Cluster(bins, workdir, iterations=4096).init().start()
    tap_main, main_ep, push_ep = start_tap(bins, workdir, "tap-main", cluster.ms_endpoint,
                                           cluster.push_endpoint)
    tap_key, key_ep, _ = start_tap(bins, workdir, "tap-key", cluster.ks_endpoint)

    users = ["alice", "bob"]
    clients = {u: start_client(bins, workdir, u, key_ep, main_ep, push_ep) for u in users}
    for u in users:
        flow_register_login(clients[u], u)
    conv = flow_new_conversation(clients["alice"], "bob")
    flow_send(clients["alice"], conv, TEXT)
    flow_expect_push(clients["bob"], conv, TEXT)

    secrets, keys = server_secrets(cluster.ks_dir, cluster.ms_dir)
    if not keys:
        fail("the key server holds no wrapped conversation key after the flow")
    check_admin(bins, cluster, secrets, users)
    skipped = check_permissions(bins, cluster)

    # --watch: a first screen, then a clean stop on SIGINT
    watch = Proc("admin-watch", [bins["admin"], "main", "--data", cluster.ms_dir, "--watch"],
                 logdir=workdir, stdin=False)
    watch.wait(r"Saved conversations \(1\)", what="first screen")
    rc = watch.stop(signal.SIGINT)
    if rc != 0 or "\x1b[H\x1b[2J" not in "\n".join(watch.out):
        fail("chat-admin --watch: exit %s, no screen clearing" % rc)
    assert_clean("\n".join(watch.out), secrets, "chat-admin --watch")

    for u in users:
        flow_quit(clients[u])

    # The taps: SIGINT ends them with a summary and status 0
    for tap in (tap_main, tap_key):
        rc = tap.stop(signal.SIGINT)
        if rc != 0:
            fail("%s exited %d on SIGINT" % (tap.name, rc))
        if not any(l.startswith("total ") for l in tap.out):
            fail("%s printed no summary" % tap.name)

    main_frames = frames(tap_main.out)
    key_frames = frames(tap_key.out)
    for name, found in (("tap-main", main_frames), ("tap-key", key_frames)):
        clients_seen = sorted({c for _, c, _, _, _ in found if c != "-"})
        if len(clients_seen) < 2:
            fail("%s saw fewer than two clients: %s" % (name, clients_seen))
        for c in clients_seen:
            check_order(name, found, c)
        if any(k == "garbage" for _, _, k, _, _ in found):
            fail("%s: garbage in a clean flow" % name)
    pushes = [f for f in main_frames if f[2] == "push"]
    subs = [f for f in main_frames if f[2] == "subscribe"]
    if not pushes or not subs:
        fail("tap-main shows no push (%d) or no subscription (%d)" % (len(pushes), len(subs)))
    if main_frames.index(subs[0]) > main_frames.index(pushes[0]):
        fail("tap-main: a push before any subscription")
    if not any(f[1] != "-" for f in pushes):
        fail("tap-main could not name the client of any push")
    # Fingerprints and roles: the server's in every welcome
    for name, found, fp, role in (("tap-main", main_frames, cluster.ms_fingerprint,
                                   "mainserver"),
                                  ("tap-key", key_frames, cluster.ks_fingerprint, "keyserver")):
        for f in found:
            if f[2] == "welcome" and ("key=%s" % fp not in f[4] or "role=%s" % role not in f[4]
                                      or "v=2" not in f[4]):
                fail("%s: welcome without the server's fingerprint, role or version: %s"
                     % (name, f))

    # Nothing secret on the wire: password, text (a wrapped key crosses the
    # wire sealed, never as it is)
    wire_secrets = [("password", PASSWORD), ("message text", TEXT)]
    wire_secrets += [("wrapped conversation key", bytes(k)) for k in keys]
    for tap in (tap_main, tap_key):
        blob = "\n".join(tap.out + tap.err)
        assert_clean(blob, wire_secrets, tap.name)
    log("taps: %d and %d frames, kinds in order, nothing secret"
        % (len(main_frames), len(key_frames)))
    cluster.stop()
    if skipped:
        return e2elib.skip(skipped)


# ------------------------------------------------------------------ plain-mode flows

def flow_register_login(client, user):
    command(client, "register %s %s %s %s" % (user, PASSWORD, PASSWORD, PASSWORD),
            r"^ok register %s " % user, "register " + user)
    command(client, "login %s %s" % (user, PASSWORD), r"^ok login %s " % user,
            "login " + user)


def flow_new_conversation(client, other):
    m = command(client, "new %s" % other, r"^ok new \d+ ([0-9a-f]{32})$", "new conversation")
    return m.group(1)


def flow_send(client, conv, text):
    command(client, "send %s %s" % (conv, text), r"^ok send %s \d+$" % conv, "send")


def flow_expect_push(client, conv, text):
    # within LIVE_TIMEOUT: by push through the tap (the client re-lists
    # only after the test)
    client.wait(r"^msg %s \d+ alice \d+ %s$" % (conv, re.escape(text)), since=0,
                timeout=e2elib.LIVE_TIMEOUT, what="pushed message")


def flow_quit(client):
    command(client, "quit", r"^ok quit", "quit")
    client.close_stdin()
    rc = client.wait_exit()
    if rc != 0:
        fail("%s exited %d" % (client.name, rc))


if __name__ == "__main__":
    e2elib.main(body)
