#!/usr/bin/env python3
"""client.identity - identity keys through plain mode and the real servers
(proto/README.md sections 5 and 10):

 - safety numbers: both sides see the same 12 groups of 5 digits, and the
   number is the spec's (computed here from the key directory with
   python3-cryptography); "verify NAME yes" pins it verified, /members
   says so, known_users records it; it is refused before a number was shown;
 - a contact's identity key changed in the key server's database (its
   SQLite file, or its PostgreSQL database in the suite's PostgreSQL pass:
   tests/support/ksstore.py): a fresh session says identity-changed (offered and pinned fingerprints, a
   WARNING on stderr), the verified mark goes, the conversation lists the
   contact as changed and opens under a warning line, the safety number is
   another; creating a conversation with them is refused until verified
   again, which accepts the new key;
 - password change: the old password is refused after, the new one works,
   the same identity opens (the fingerprint the login names), old messages
   still read; a wrong current password changes nothing;
 - swapped endpoints: both refused with wrong-role, commands fail
   ERR_WRONG_ROLE;
 - no --push: pushes come from the endpoint the main server's Welcome names.
"""
import os
import re
import sys

from plainlib import check, log, run, unescape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import ksstore  # noqa: E402
import spec2  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

GROUPS = re.compile(r"^(\d{5} ){11}\d{5}$")


def directory_key(w, name):
    return ksstore.identity_key(w.path("ks"), name)


def safety(client, name):
    """verify NAME: (identity, fingerprint, pinned, number)."""
    _, before = client.ok("verify %s" % name)
    lines = [l for l in before if l.startswith("safety ")]
    check(len(lines) == 1, "verify %s: %r" % (name, before))
    m = re.match(r"^safety (\S+) (\S+) (\S+) pinned=(\S+) (.*)$", lines[0])
    check(m and m.group(1) == name, "safety line %r" % lines[0])
    number = unescape(m.group(5))
    check(GROUPS.match(number), "not 12 groups of 5 digits: %r" % number)
    return m.group(2), m.group(3), m.group(4), number


def known_users(home):
    return open(os.path.join(home, "chat", "known_users")).read()


def members(client, conv):
    _, before = client.ok("members %s" % conv)
    return dict(l.split(" ")[1:3] for l in before if l.startswith("member "))


def identity(w):
    w.start_keyserver()
    w.start_mainserver()
    homes = {u: w.path("home-" + u) for u in ("alice", "bob", "carol")}
    alice = w.client("alice", home=homes["alice"], push=False)
    bob = w.client("bob", home=homes["bob"])
    carol = w.client("carol", home=homes["carol"])
    fps = {}
    for c, user in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        c.ok("register %s pw-%s pw-%s pw-%s" % (user, user, user, user))
        answer, _ = c.ok("login %s pw-%s" % (user, user))
        fps[user] = re.search(r"identity=(\S+)", answer).group(1)
        check(fps[user] == spec2.fingerprint(directory_key(w, user)),
              "%s's login names %s, the directory %s" % (user, fps[user],
                                                          spec2.fingerprint(directory_key(w, user))))

    # --- no --push: alice's pushes come from the Welcome's endpoint
    answer, _ = bob.ok("new alice")
    conv = answer.split(" ")[3]
    mark = alice.mark()
    bob.ok("send %s hello alice" % conv)
    alice.wait_msg(conv, "bob", "hello alice", since=mark)
    log("a client without --push gets messages live from the Welcome's push endpoint")

    # --- safety numbers: the same on both sides, and the spec's
    a_view = safety(alice, "bob")
    b_view = safety(bob, "alice")
    check(a_view[3] == b_view[3], "safety numbers differ: %r / %r" % (a_view[3], b_view[3]))
    expected = spec2.safety_number("alice", directory_key(w, "alice"), "bob",
                                   directory_key(w, "bob"))
    check(a_view[3] == expected, "safety number %r, the spec says %r" % (a_view[3], expected))
    check(a_view[0] == "unverified" and a_view[1] == fps["bob"] and a_view[2] == fps["bob"],
          "alice's view of bob: %r" % (a_view,))
    log("safety number the same on both sides and as the spec computes it: %s" % a_view[3])
    carol.error("verify alice yes", "ERR_BAD_REQUEST")      # no number shown yet
    alice.ok("verify bob yes")
    check(members(alice, conv) == {"alice": "you", "bob": "verified"},
          "members after verify: %r" % members(alice, conv))
    check("bob %s verified" % fps["bob"] in known_users(homes["alice"]),
          "known_users: %r" % known_users(homes["alice"]))
    alice.error("verify alice", "ERR_BAD_REQUEST")           # oneself
    alice.error("verify nobody", "ERR_UNKNOWN_USER")
    log("verify NAME yes pins bob verified; members and known_users say so")

    # --- password change
    bob.error("password wrong-pw new-pw new-pw", "ERR_AUTH_FAILED")
    bob.error("password pw-bob new-pw other-pw", "ERR_BAD_REQUEST")
    bob.ok("password pw-bob new-pw new-pw")
    bob.ok("logout")
    bob.error("login bob pw-bob", "ERR_AUTH_FAILED")
    answer, _ = bob.ok("login bob new-pw")
    check(re.search(r"identity=(\S+)", answer).group(1) == fps["bob"],
          "bob's identity changed with his password: %r" % answer)
    _, before = bob.ok("open %s" % conv)
    check([unescape(l.split(" ", 5)[5]) for l in before if l.startswith("hist ")] == ["hello alice"],
          "bob's history after the change: %r" % before)
    log("password changed: old refused, new works, the same identity opens the old messages")

    # --- carol's identity key replaced in the key server's database (what a
    # lying key server does): alice had pinned and verified it
    answer, _ = alice.ok("new carol")
    gconv = answer.split(" ")[3]
    alice.ok("send %s hi carol" % gconv)
    carol.wait_msg(gconv, "alice", "hi carol")
    carol.ok("send %s hi alice" % gconv)
    old_view = safety(alice, "carol")
    alice.ok("verify carol yes")
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ksstore.set_identity_key(w.path("ks"), "carol", spec2.der(impostor))
    new_fp = spec2.fingerprint(spec2.der(impostor))
    alice.quit()
    alice = w.client("alice-again", home=homes["alice"])
    mark = alice.mark()
    alice.ok("login alice pw-alice")
    _, m = alice.wait_line(r"^event identity-changed carol offered=(\S+) pinned=(\S+) (.*)$",
                           since=mark)
    check(m.group(1) == new_fp and m.group(2) == fps["carol"], "identity-changed %r" % m.group(0))
    check("you had verified it" in unescape(m.group(3)), "no word of the lost mark: %r" % m.group(3))
    i, _ = alice.wait_line(r"WARNING: carol's identity key changed", stream="err")
    check("carol %s unverified" % fps["carol"] in known_users(homes["alice"]),
          "known_users after the change: %r" % known_users(homes["alice"]))
    conv_line = [l for l in alice.ok("list")[1] if l.split(" ")[2] == gconv]
    check(conv_line and conv_line[0].endswith("changed=carol"), "list: %r" % conv_line)
    check(members(alice, gconv) == {"alice": "you", "carol": "changed"},
          "members: %r" % members(alice, gconv))
    _, before = alice.ok("open %s" % gconv)
    check(any(l.startswith("warning %s carol " % gconv) for l in before),
          "no warning opening the conversation: %r" % before)
    new_view = safety(alice, "carol")
    check(new_view[0] == "changed" and new_view[1] == new_fp and new_view[2] == fps["carol"],
          "safety after the change: %r" % (new_view,))
    check(new_view[3] != old_view[3], "the safety number did not change")
    check(new_view[3] == spec2.safety_number("alice", directory_key(w, "alice"), "carol",
                                             spec2.der(impostor)), "not the spec's number")
    alice.error("new carol bob", "ERR_BAD_KEY")
    log("carol's key replaced: identity-changed, verified mark gone, warning in the "
        "conversation, a new safety number, no new conversation with her")
    alice.ok("verify carol yes")
    check("carol %s verified" % new_fp in known_users(homes["alice"]),
          "known_users after accepting: %r" % known_users(homes["alice"]))
    check(members(alice, gconv)["carol"] == "verified", "members after accepting")
    log("verify carol yes accepted the new key (pinned, verified)")

    # --- the endpoints the wrong way round
    swapped = w.client("swapped", keyserver=w.ms_endpoint, mainserver=w.ks_endpoint)
    for server in ("keyserver", "mainserver"):
        swapped.wait_line(r"^event wrong-role %s " % server)
    swapped.error("login alice pw-alice", "ERR_WRONG_ROLE")
    check(not any(l.startswith("event connected") for l in swapped.lines()),
          "connected to a server of the other role: %r" % swapped.lines())
    check(swapped.quit() == 1, "a client whose commands failed exited 0")
    log("swapped endpoints: both refused (wrong-role), commands fail ERR_WRONG_ROLE")

    for c in (alice, bob, carol):
        c.quit()


if __name__ == "__main__":
    run(identity)
