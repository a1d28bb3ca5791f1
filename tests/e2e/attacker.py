#!/usr/bin/env python3
"""e2e.attacker: what someone holding BOTH servers' data directories (every
file in them), an ordinary account's password and session can do, through
the real binaries (issue 11's "Done when").

Setup: alice, bob and carol talk (a 1:1 and a group); mallory, the
attacker's own ordinary account, talks to carol. bob's and carol's clients
stay logged in and watch everything that follows.

1. Every 32-byte value found in either directory (every window of every
   file as it is, and of what every hex and base64 run in it decodes to) is
   tried as a Fernet key on every stored token, message or sealed identity
   (attacker-tool --scan, in C: millions of tries); every 32-byte value of
   both databases and the key server's secret also through HKDF with every
   label protocol 2 uses. Mallory's own identity key (his password opens
   it) is tried on every wrapped key stored. Nothing opens a message of a
   conversation mallory is not in.
2. Minting: a LOGGED_IN certificate for alice made with the key server's
   private key logs a session in as alice at the main server (that is what
   a key server is). From there: a message sealed under a key of his own,
   a replay of alice's own token under a new id, one of her group tokens
   pasted into the 1:1, and a CREATE signed with his key (the main server
   refuses it: it holds alice's identity key). Then a second link of the
   1:1 written straight into the main server's database, signed "alice"
   with his key, its epoch's keys stored with a ticket minted with the main
   server's private key on a key server session got with a resume token
   minted from the key server's secret, and a message under it. bob's
   client shows none of it as alice's: each is dropped, with an error.
3. The pins' job: he replaces alice's identity key with his own in both
   databases and, as alice, makes a group with bob and carol and writes in
   it. bob's and carol's clients, which pinned alice's real key, show the
   group and the message only under alice's changed-identity warning (a
   fresh session asks the key directory again). alice's own client refuses
   to log in: the key the key server names is not the one her password
   opens.

Control: with bob's password the test opens his sealed identity from the
key server's database, unwraps his copy of the 1:1's key and reads alice's
message (and checks her signature), so the failures above mean something.
"""
import base64
import hashlib
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import datadirs                                                # noqa: E402
import e2elib as L                                             # noqa: E402
import spec2                                                   # noqa: E402

from cryptography.fernet import InvalidToken                  # noqa: E402
from cryptography.hazmat.primitives import hashes             # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa     # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF      # noqa: E402

LABELS = [b"chat/2 c2s", b"chat/2 s2c", b"chat/2 push", b"chat/2 resume",
          b"chat/2 identity seal", b"chat/2 fake salt", b"chat/2 key check",
          b"chat/2 safety number"]
ACTION_CREATE, ACTION_REKEY = 1, 7


class Tool:
    """attacker-tool: one line in, data lines and one answer line out."""

    def __init__(self, bins, cluster, netns, workdir):
        self.proc = L.Proc("attacker", [bins["attacker"],
                                        "--keyserver", cluster.ks_endpoint,
                                        "--mainserver", cluster.ms_endpoint,
                                        "--ks-dir", cluster.ks_dir, "--ms-dir", cluster.ms_dir],
                           netns=netns, logdir=workdir)

    def call(self, line, expect=None):
        mark = self.proc.send(line)
        m = self.proc.wait(r"^(ok|refused) ", since=mark, timeout=60,
                           what="answer to " + line.split(" ", 1)[0])
        lines = self.proc.lines_since(mark)
        answer = next(i for i, l in enumerate(lines) if l.startswith(("ok ", "refused ")))
        ok = m.group(1) == "ok"
        if expect is not None and ok != expect:
            L.fail("attacker-tool %s: %r (expected %s)" % (line.split(" ", 1)[0], lines[answer],
                                                          "ok" if expect else "a refusal"))
        return ok, lines[answer], lines[:answer]


def fernet_opens(key, token):
    try:
        spec2.fernet(key).decrypt(token.encode() if isinstance(token, str) else token)
        return True
    except (InvalidToken, ValueError):
        return False


def hkdf(ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def all_files(*dirs):
    files = []
    for d in dirs:
        for root, _, names in os.walk(d):
            files += [os.path.join(root, n) for n in names]
    return sorted(files)


def blobs_of(db_path):
    """Every BLOB and TEXT value of every table of a database."""
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    values = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in db.execute("SELECT * FROM \"%s\"" % table):
            for value in row:
                if isinstance(value, (bytes, str)):
                    values.append(value.encode() if isinstance(value, str) else bytes(value))
    db.close()
    return values


def sign_message(key, conversation, epoch, sender, text):
    body = spec2.message_body(conversation, sender, int(time.time() * 1000), os.urandom(16),
                              text, epoch)
    return spec2.signed(body, spec2.sign(key, "chat/2 message", body))


def objects_of(client):
    return [o for _, o in client.objects(0)]


def attack_lines(client, since=0):
    """Every line of client that shows an attacker's text as a message."""
    return [(i, o) for i, o in client.objects(since)
            if o.get("type") in ("msg", "hist") and "ATTACK" in o.get("text", "")]


def wait_for(client, what, test, timeout=60, since=0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, o in client.objects(since):
            if test(o):
                return i, o
        time.sleep(0.2)
    L.fail("%s: %s never came\n%s" % (client.name, what, client.tail(40)))


def body(workdir, cleanups):
    bins = L.binaries()
    if "attacker" not in bins:
        L.fail("attacker=PATH (attacker_tool) not given")
    net = L.private_net("atk", cleanups)
    cluster = L.Cluster(bins, workdir, netns=net).init().start()
    passwords = {u: "pw of %s %s" % (u, os.urandom(4).hex())
                 for u in ("alice", "bob", "carol", "mallory")}

    def client(name):
        c = L.Client(bins, name, cluster.client_args(), os.path.join(workdir, "home-" + name),
                     netns=net, logdir=workdir)
        c.wait_connected()
        return c

    people = {u: client(u) for u in passwords}
    for user, c in people.items():
        c.register(user, passwords[user]).expect_ok("Success!")
        c.login(user, passwords[user]).expect_ok()
    alice, bob, carol, mallory = (people[u] for u in ("alice", "bob", "carol", "mallory"))
    ab = alice.new("bob")
    alice.send(ab, "alice to bob, one")
    bob.wait_message(ab, "alice", "alice to bob, one")
    bob.send(ab, "bob to alice, one")
    alice.wait_message(ab, "bob", "bob to alice, one")
    group = alice.new("bob", "carol")
    alice.send(group, "alice to the group")
    bob.wait_message(group, "alice", "alice to the group")
    carol.wait_message(group, "alice", "alice to the group")
    mc = mallory.new("carol")
    mallory.send(mc, "mallory to carol")
    carol.wait_message(mc, "mallory", "mallory to carol")
    L.log("alice, bob and carol talk in a 1:1 (%s..) and a group (%s..); mallory talks to carol"
          % (ab[:8], group[:8]))
    ks, ms = cluster.ks_dir, cluster.ms_dir
    own = {bytes.fromhex(mc)}               # what mallory may read: his own

    # ---------------------------------------------------------------- control
    bob_identity = datadirs.open_identity(ks, "bob", passwords["bob"])
    bob_keys = datadirs.epoch_keys(ks, "bob", bob_identity)
    first = next(m for m in datadirs.messages(ms) if m.conversation == bytes.fromhex(ab))
    fields, signed_body, signature = datadirs.open_message(bob_keys[(first.conversation, 1)],
                                                           first.token)
    alice_public = spec2.serialization.load_der_public_key(
        datadirs.users(ks)["alice"].identity_der)
    if (fields[5] != b"alice to bob, one"
            or not spec2.verify(alice_public, "chat/2 message", signed_body, signature)):
        L.fail("control: bob's password opened %r, not alice's signed message" % fields)
    L.log("control: bob's password opens his identity, his copy of the key and alice's "
          "signed message %r" % fields[5].decode())

    # ---------------------------------------------------------------- 1. every value found
    stored = datadirs.messages(ms)
    users = datadirs.users(ks)
    targets = [("msg-%s-%d" % (m.conversation.hex()[:8], m.seq), m.token) for m in stored]
    targets += [("sealed-%s" % u.name, u.sealed.decode()) for u in users.values()]
    token_file = os.path.join(workdir, "tokens.txt")
    with open(token_file, "w") as f:
        for label, token in targets:
            f.write("%s %s\n" % (label, token))
    files = all_files(ks, ms)
    started = time.monotonic()
    scan = L.Proc("scan", [bins["attacker"], "--scan", token_file] + files, netns=None,
                  logdir=workdir, stdin=False)
    m = scan.wait(r"^ok scan (\d+) (\d+) (\d+)$", timeout=900, what="scan summary")
    opened = [l for l in scan.lines_since(0) if l.startswith("opened ")]
    if opened or m.group(3) != "0":
        L.fail("a value found in the data directories opens stored tokens:\n  "
               + "\n  ".join(opened))
    L.log("%s values found in %d files (raw, hex, base64) tried on %s tokens "
          "(%d messages, %d sealed identities) in %.0f s: none opens one"
          % (m.group(1), len(files), m.group(2), len(stored), len(users),
             time.monotonic() - started))
    # the scan's own control: a file holding bob's copy of the 1:1's key,
    # raw, in hex and in base64 amid other bytes, opens the 1:1's messages
    ab_key = bob_keys[(bytes.fromhex(ab), 1)]
    planted = os.path.join(workdir, "planted")
    with open(planted, "wb") as f:
        f.write(os.urandom(100) + ab_key + os.urandom(7) + b" " + ab_key.hex().encode() + b" "
                + base64.b64encode(os.urandom(5) + ab_key) + b"\n"
                + base64.urlsafe_b64encode(ab_key) + b"\n")
    control = L.Proc("scan-control", [bins["attacker"], "--scan", token_file, planted],
                     logdir=workdir, stdin=False)
    control.wait(r"^ok scan ", timeout=120, what="control scan")
    hits = [l.split(" ") for l in control.lines_since(0) if l.startswith("opened ")]
    ab_labels = {"msg-%s-%d" % (ab[:8], m.seq) for m in stored
                 if m.conversation == bytes.fromhex(ab)}
    forms = {h[4] for h in hits if h[1] in ab_labels}
    if {h[1] for h in hits} != ab_labels or forms != {"raw", "hex", "base64"}:
        L.fail("the scan does not find a planted key: %r" % hits)
    L.log("control: the same scan finds a 1:1 key planted raw, in hex and in base64 (%d hits)"
          % len(hits))

    # 32-byte values of the databases and the key server's secret, through
    # every HKDF label of the protocol too
    found = set()
    for db in (os.path.join(ks, "keyserver.db"), os.path.join(ms, "mainserver.db")):
        for value in blobs_of(db):
            for cand in (value, value.strip()):
                if len(cand) == 32:
                    found.add(cand)
                for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
                    try:
                        raw = decode(cand.decode() if decode is bytes.fromhex else cand)
                    except Exception:
                        continue
                    if len(raw) == 32:
                        found.add(raw)
    secret = open(os.path.join(ks, "keyserver.secret")).read().strip()
    found.add(bytes.fromhex(secret))
    derived = set(found)
    for value in found:
        for label in LABELS:
            derived.add(hkdf(value, label))
    for key in derived:
        for label, token in targets:
            if fernet_opens(key, token):
                L.fail("a value derived from the data directories opens %s" % label)
    L.log("%d 32-byte values of both databases and the key server's secret, with their HKDF "
          "derivations under %d labels (%d keys): none opens a token"
          % (len(found), len(LABELS), len(derived)))

    # mallory's own identity: it unwraps his copies and nobody else's
    mallory_identity = datadirs.open_identity(ks, "mallory", passwords["mallory"])
    his_keys = []
    for member, conversation, epoch, wrapped in datadirs.wrapped_keys(ks):
        try:
            key = mallory_identity.decrypt(wrapped, spec2.OAEP)
        except ValueError:
            continue
        if member.lower() != "mallory":
            L.fail("mallory's identity key unwraps %s's copy of %s" % (member, conversation.hex()))
        his_keys.append(key)
    for key in his_keys:
        for m in stored:
            if fernet_opens(key, m.token) and m.conversation not in own:
                L.fail("mallory's keys open a message of %s" % m.conversation.hex())
    L.log("mallory's identity unwraps his %d copies and no one else's; they open only his "
          "conversation" % len(his_keys))

    # ---------------------------------------------------------------- 2. minting
    tool = Tool(bins, cluster, net, workdir)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_der = spec2.der(attacker)
    alice_der = users["alice"].identity_der
    tool.call("login alice %s" % alice_der.hex(), expect=True)
    L.log("a LOGGED_IN certificate minted with the key server's private key logs in as alice "
          "at the main server (that is what a key server can do)")
    _, _, lines = tool.call("messages %s" % ab, expect=True)
    ab_msgs = [l.split(" ") for l in lines if l.startswith("message ")]
    alice_token = next(parts[4] for parts in ab_msgs if parts[3] == "alice")
    _, _, lines = tool.call("messages %s" % group, expect=True)
    group_token = next(l.split(" ")[4] for l in lines
                       if l.startswith("message ") and l.split(" ")[3] == "alice")
    ab_id = bytes.fromhex(ab)
    bob_mark = bob.mark()
    forged = spec2.fernet(os.urandom(32)).encrypt(
        sign_message(attacker, ab_id, 1, "alice", "ATTACK forged by mallory")).decode()
    sent = []
    for what, token in (("a message sealed under his own key", forged),
                        ("alice's own token again", alice_token),
                        ("alice's group token pasted into the 1:1", group_token)):
        ok, answer, _ = tool.call("send %s 1 %s" % (ab, token), expect=True)
        sent.append((int(answer.split(" ")[2]), what))
    for seq, what in sent:
        i, o = wait_for(bob, "the drop of message %d" % seq, lambda o, seq=seq:
                        o.get("type") == "event" and o.get("event") == "error"
                        and ("message %d in conversation %s" % (seq, ab)) in o.get("message", ""),
                        since=bob_mark)
        L.log("bob's client dropped %s (seq %d): %s" % (what, seq, o["message"].split(": ", 1)[1]))
    shown = [o for _, o in bob.objects(bob_mark)
             if o.get("type") in ("msg", "hist") and o.get("seq") in [s for s, _ in sent]]
    if shown:
        L.fail("bob's client showed what the attacker sent as alice: %r" % shown)
    # logged in as bob (minted too), alice's token claimed as bob's: her
    # client sees a message the server says is bob's whose body says alice
    alice_mark = alice.mark()
    tool.call("login bob %s" % users["bob"].identity_der.hex(), expect=True)
    ok, answer, _ = tool.call("send %s 1 %s" % (ab, alice_token), expect=True)
    seq_b = int(answer.split(" ")[2])
    i, o = wait_for(alice, "the drop of message %d" % seq_b, lambda o:
                    o.get("type") == "event" and o.get("event") == "error"
                    and ("message %d in conversation %s" % (seq_b, ab)) in o.get("message", ""),
                    since=alice_mark)
    L.log("alice's client dropped her own token re-sent as bob's (seq %d): %s"
          % (seq_b, o["message"].split(": ", 1)[1]))
    tool.call("login alice %s" % alice_der.hex(), expect=True)

    # a CREATE as alice signed with his key: the main server knows better
    new_id = os.urandom(16)
    key1 = os.urandom(32)
    statement = spec2.statement(new_id, 1, "alice", ACTION_CREATE, ["alice", "bob"], ["alice"],
                                "ATTACK group", spec2.key_check(key1, new_id, 1),
                                int(time.time() * 1000))
    ok, answer, _ = tool.call("create %s %s" % (
        statement.hex(), spec2.sign(attacker, "chat/2 statement", statement).hex()), expect=False)
    if "ERR_BAD_STATEMENT" not in answer:
        L.fail("a CREATE signed with another key than alice's was refused with %r" % answer)
    L.log("a CREATE in alice's name signed with his key: refused by the main server (%s)"
          % answer.split(" ")[1])

    # a second link of the 1:1 written into the main server's database, its
    # keys stored at the key server with minted credentials, a message under it
    _, _, lines = tool.call("chain %s" % ab, expect=True)
    link1 = bytes.fromhex(lines[0].split(" ")[1])
    key2 = os.urandom(32)
    st2 = spec2.statement(ab_id, 2, "alice", ACTION_REKEY, ["alice", "bob"], ["alice"], "",
                          spec2.key_check(key2, ab_id, 2), int(time.time() * 1000),
                          previous=hashlib.sha256(link1).digest(), direct=True)
    db = sqlite3.connect(os.path.join(ms, "mainserver.db"), timeout=30)
    db.execute("INSERT INTO links (conversation_id, epoch, statement, signature, actor, action) "
               "VALUES (?, 2, ?, ?, 'alice', ?)",
               (ab_id, st2, spec2.sign(attacker, "chat/2 statement", st2), ACTION_REKEY))
    db.execute("UPDATE conversations SET epoch = 2 WHERE id = ?", (ab_id,))
    db.commit()
    db.close()
    ok, answer, _ = tool.call("ticket %s 2 alice alice bob" % ab, expect=True)
    ticket = answer.split(" ")[2]
    tool.call("resume alice", expect=True)
    bob_public = spec2.serialization.load_der_public_key(users["bob"].identity_der)
    tool.call("putkeys %s alice %s bob %s" % (ticket, alice_public.encrypt(key2, spec2.OAEP).hex(),
                                               bob_public.encrypt(key2, spec2.OAEP).hex()),
              expect=True)
    L.log("a REKEY link signed 'alice' with his key, written into the main server's database; "
          "its keys stored with a ticket minted with the main server's private key, on a key "
          "server session as alice from a resume token minted with its secret")
    token2 = spec2.fernet(key2).encrypt(
        sign_message(attacker, ab_id, 2, "alice", "ATTACK under a forged epoch")).decode()
    ok, answer, _ = tool.call("send %s 2 %s" % (ab, token2), expect=True)
    seq2 = int(answer.split(" ")[2])
    wait_for(bob, "the refused chain", lambda o: o.get("type") == "event"
             and o.get("event") == "error" and "membership chain does not verify"
             in o.get("message", "") and ab in o.get("message", ""), since=bob_mark)
    wait_for(bob, "the drop of message %d" % seq2, lambda o: o.get("type") == "event"
             and ("message %d in conversation %s" % (seq2, ab)) in o.get("message", ""),
             since=bob_mark)
    if attack_lines(bob) or attack_lines(carol):
        L.fail("a client showed the attacker's text: %r" % (attack_lines(bob) + attack_lines(carol)))
    L.log("bob's client refused the link (it is not signed by alice's pinned key) and dropped "
          "the message under it; nothing the attacker sent is shown")

    # ---------------------------------------------------------------- 3. the pins' job
    for path, sql in ((os.path.join(ks, "keyserver.db"),
                       "UPDATE users SET identity_public_key = ? WHERE username = 'alice'"),
                      (os.path.join(ms, "mainserver.db"),
                       "UPDATE users SET identity_public_key = ? WHERE name_lower = 'alice'")):
        db = sqlite3.connect(path, timeout=30)
        db.execute(sql, (attacker_der,))
        db.commit()
        db.close()
    tool.call("login alice %s" % attacker_der.hex(), expect=True)
    plans = os.urandom(16)
    key3 = os.urandom(32)
    members = ["alice", "bob", "carol"]
    st3 = spec2.statement(plans, 1, "alice", ACTION_CREATE, members, ["alice"], "ATTACK plans",
                          spec2.key_check(key3, plans, 1), int(time.time() * 1000))
    ok, answer, _ = tool.call("create %s %s" % (
        st3.hex(), spec2.sign(attacker, "chat/2 statement", st3).hex()), expect=True)
    ticket3 = answer.split(" ")[3]
    carol_public = spec2.serialization.load_der_public_key(users["carol"].identity_der)
    tool.call("putkeys %s alice %s bob %s carol %s" % (
        ticket3, attacker.public_key().encrypt(key3, spec2.OAEP).hex(),
        bob_public.encrypt(key3, spec2.OAEP).hex(), carol_public.encrypt(key3, spec2.OAEP).hex()),
        expect=True)
    token3 = spec2.fernet(key3).encrypt(
        sign_message(attacker, plans, 1, "alice", "ATTACK: it is me, alice")).decode()
    tool.call("send %s 1 %s" % (plans.hex(), token3), expect=True)
    L.log("alice's identity key replaced by his in both databases; as alice he made the group "
          "'ATTACK plans' with bob and carol and wrote in it")

    attacker_fp = spec2.fingerprint(attacker_der)
    alice_fp = spec2.fingerprint(alice_der)
    for watcher in (bob, carol):
        mark = watcher.mark()
        watcher.logout()
        watcher.login(watcher.name[len("chat-"):], passwords[watcher.name[len("chat-"):]]) \
            .expect_ok()
        _, event = wait_for(watcher, "the identity-changed event",
                            lambda o: o.get("type") == "event"
                            and o.get("event") == "identity-changed"
                            and o.get("name") == "alice", since=mark)
        if event.get("offered") != attacker_fp or event.get("pinned") != alice_fp:
            L.fail("%s: identity-changed names %r / %r" % (watcher.name, event.get("offered"),
                                                           event.get("pinned")))
        r = watcher.command("list").expect_ok()
        convs = [o for o in r.extra if o.get("type") == "conv"]
        attack = [o for o in convs if o.get("conversation") == plans.hex()]
        if not attack or attack[0].get("changed") != ["alice"]:
            L.fail("%s: the attacker's group is not listed under alice's warning: %r"
                   % (watcher.name, convs))
        r = watcher.command("open %s" % plans.hex()).expect_ok()
        kinds = [(o.get("type"), o.get("name"), o.get("key_changed")) for o in r.extra]
        if ("warning", "alice", None) not in kinds:
            L.fail("%s: no warning line opening the attacker's group: %r" % (watcher.name, r.extra))
        L.log("%s's fresh session: alice's key changed (pinned %s.., offered %s..); the "
              "attacker's group is listed with changed=alice and opens under a warning"
              % (watcher.name[len("chat-"):], alice_fp[:14], attacker_fp[:14]))

    # whatever the attacker made appears only under alice's warning
    for watcher in (bob, carol):
        objs = objects_of(watcher)
        changed_at = next((i for i, o in enumerate(objs) if o.get("type") == "event"
                           and o.get("event") == "identity-changed"
                           and o.get("name") == "alice"), None)
        for i, o in enumerate(objs):
            if o.get("type") in ("msg", "hist") and "ATTACK" in o.get("text", ""):
                before = objs[i - 1] if i else {}
                if (changed_at is None or i < changed_at or not o.get("key_changed")
                        or before.get("type") != "warning" or before.get("name") != "alice"):
                    L.fail("%s shows %r as alice's without the changed-key warning"
                           % (watcher.name, o))
        shown = [o for o in objs if o.get("type") in ("msg", "hist")
                 and "ATTACK" in o.get("text", "")]
        if not shown:
            L.fail("%s never showed the attacker's message at all (the warning path is "
                   "untested)" % watcher.name)
        L.log("%s: %d line(s) of the attacker's text, each marked key_changed after a warning "
              "naming alice" % (watcher.name, len(shown)))

    if attack_lines(alice):
        L.fail("alice's client showed the attacker's text: %r" % attack_lines(alice))

    # alice's own client will not log in under a key her password does not open
    alice.logout()
    r = alice.login("alice", passwords["alice"]).expect_fail("ERR_BAD_KEY")
    L.log("alice's client refuses to log in: %s" % r.line.get("message"))

    for c in people.values():
        c.quit(allow_failure=True)
    tool.proc.close_stdin()
    tool.proc.wait_exit()
    cluster.stop()


if __name__ == "__main__":
    L.main(body)
