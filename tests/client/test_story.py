#!/usr/bin/env python3
"""client.story - the report's whole story through `chat --plain`, against
the real servers: register three users and every register/login error, 1:1
and group conversations, live delivery to the other member and to a second
session of the same user, history, members, unread counts, logout and back,
every plain command, the JSON mode and the exit codes."""
import json
import subprocess

from plainlib import LIVE, check, log, run, text_arg, unescape, word


def parse_conv(line):
    # conv INDEX HEX MEMBERS unread=N last_seq=N
    parts = line.split(" ")
    return {"index": int(parts[1]), "hex": parts[2], "members": parts[3].split(","),
            "unread": int(parts[4].split("=")[1])}


def story(w):
    w.start_keyserver()
    w.start_mainserver()

    # -- the command line
    client = w.bins["client"]
    for argv, code in ((["--help"], 0), (["--version"], 0), (["--bogus"], 2),
                       (["--keyserver", "tcp://127.0.0.1:1"], 2),
                       (["--pin-keyserver", "nonsense", "--local"], 2)):
        r = subprocess.run([client] + argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        check(r.returncode == code, "chat %s exited %d, expected %d: %s"
              % (" ".join(argv), r.returncode, code, r.stderr))
    r = subprocess.run([client, "--help"], capture_output=True, text=True)
    check("register USER PASSWORD CONFIRM CONFIRM2" in r.stdout, "--help lacks the commands")

    # -- registration, with the report's messages
    alice = w.client("alice")
    alice.wait_line(r"^event pin-new keyserver ")
    alice.wait_line(r"^event connected keyserver ")
    alice.wait_line(r"^event connected mainserver ")
    pw = "correct horse"
    answer, _ = alice.ok("register alice %s %s %s" % (word(pw), word(pw), word(pw)))
    check(answer == "ok register alice Success!", "register said %r" % answer)
    alice.error("register alice x x x", "ERR_USERNAME_TAKEN", "Username already in use")
    alice.error("register ALICE x x x", "ERR_USERNAME_TAKEN", "Username already in use")
    alice.error("register bob pw pw px", "ERR_BAD_REQUEST", "Passwords don't match")
    alice.error("register bob pw px pw", "ERR_BAD_REQUEST", "Passwords don't match")
    alice.error("register bad!name pw pw pw", "ERR_INVALID_USERNAME")
    alice.error("register bob pw pw", "ERR_USAGE")
    alice.ok("register bob bobpw bobpw bobpw")
    alice.ok("register carol carolpw carolpw carolpw")

    # -- login failures look the same for a wrong password and an unknown user
    alice.error("users", "ERR_NOT_LOGGED_IN")
    alice.error("login alice wrong", "ERR_AUTH_FAILED", "Wrong username or password")
    alice.error("login nobody wrong", "ERR_AUTH_FAILED", "Wrong username or password")
    answer, _ = alice.ok("login alice %s" % word(pw))
    check(answer.startswith("ok login alice"), "login said %r" % answer)
    alice.error("login alice x", "ERR_OUT_OF_ORDER")
    _, users = alice.ok("users")
    check(users == ["user alice", "user bob", "user carol"], "users: %r" % users)
    answer, convs = alice.ok("list")
    check(answer == "ok list 0" and convs == [], "a new user has conversations: %r" % convs)

    # -- bob twice (one of them in JSON), carol later
    bob = w.client("bob", json_mode=True)
    bob.ok("login bob bobpw")
    bob2 = w.client("bob2")
    bob2.ok("login bob bobpw")

    # -- 1:1: created once, found again
    answer, lines = alice.ok("new bob")
    one = parse_conv(lines[-1])
    check(one["members"] == ["alice", "bob"], "1:1 members %r" % one["members"])
    answer, lines = alice.ok("new bob")
    check(parse_conv(lines[-1])["hex"] == one["hex"], "a second 1:1 with bob was made")
    # bob hears of it at once: pushed (his re-list is set beyond the test)
    bob.wait_line(one["hex"], timeout=LIVE, what="(the new conversation, pushed)")
    # a stranger's conversation is a message request (counts no unread)
    # until accepted; accepting alice's makes her next ones no requests
    _, lines = bob2.ok("list")
    check(lines and lines[-1].endswith(" request"), "bob's first 1:1: %r" % lines)
    bob2.ok("accept %s" % one["hex"])
    bob.ok("list")

    m1 = bob.mark()
    m2 = bob2.mark()
    answer, _ = alice.ok("send 1 hello bob")
    check(answer == "ok send %s 1" % one["hex"], "send said %r" % answer)
    # live delivery to both of bob's sessions: within LIVE seconds, by push
    bob2.wait_msg(one["hex"], "alice", "hello bob", since=m2)
    i, _ = bob.wait_line(r'"type":"msg".*"hello bob"', since=m1, timeout=LIVE,
                         what="(pushed)")
    msg = json.loads(bob.lines(i)[0])
    check(msg["conversation"] == one["hex"] and msg["seq"] == 1 and msg["sender"] == "alice",
          "bob's msg: %r" % msg)

    # -- awkward text both ways: escapes, quotes, UTF-8, JSON
    tricky = 'line one\nline two \\ "quoted"\ttab é ✓'
    ok, answer, _ = bob.cmd("send %s %s" % (one["hex"][:6], text_arg(tricky)))
    check(ok, "bob's send failed: %s" % answer)
    check(json.loads(answer)["seq"] == 2, "bob's send: %s" % answer)
    alice.wait_msg(one["hex"], "bob", tricky)
    bob2.wait_msg(one["hex"], "bob", tricky)        # his own other session too

    # -- group, carol not online yet
    answer, lines = alice.ok("new bob carol")
    group = parse_conv(lines[-1])
    check(group["members"] == ["alice", "bob", "carol"], "group members %r" % group["members"])
    check(group["hex"] != one["hex"], "the group reused the 1:1")
    m2 = bob2.mark()
    alice.ok("send %s hi all" % group["hex"])
    alice.ok("send %d second" % group["index"])
    bob2.wait_msg(group["hex"], "alice", "hi all", since=m2)
    bob2.wait_msg(group["hex"], "alice", "second", since=m2)

    # what a client sent itself is never unread there: alice has bob's one
    # message unread in the 1:1 (not her own), nothing in the group she
    # wrote both messages of; bob (JSON) has alice's one, not his own
    _, lines = alice.ok("list")
    unread = {c["hex"]: c["unread"] for c in map(parse_conv, (l for l in lines
                                                               if l.startswith("conv ")))}
    check(unread == {one["hex"]: 1, group["hex"]: 0},
          "alice's unread counts %r: her own messages are counted" % lines)
    _, lines = bob.ok("list")
    unread = {o["conversation"]: o["unread"] for o in map(json.loads, lines)
              if o["type"] == "conv"}
    check(unread.get(one["hex"]) == 1,
          "bob's unread counts %r: his own message is counted" % lines)

    # unread counts, cleared by open
    _, lines = bob2.ok("list")
    convs = {c["hex"]: c for c in map(parse_conv, lines)}
    check(convs[group["hex"]]["unread"] == 2, "bob2 unread in the group: %r" % lines)
    _, hist = bob2.ok("open %s" % group["hex"])
    check([h.split(" ", 5)[5] for h in hist] == ["hi all", "second"], "open: %r" % hist)
    _, lines = bob2.ok("list")
    check({c["hex"]: c for c in map(parse_conv, lines)}[group["hex"]]["unread"] == 0,
          "open did not clear unread: %r" % lines)

    carol = w.client("carol")
    carol.ok("login carol carolpw")
    _, lines = carol.ok("list")
    check([parse_conv(l)["hex"] for l in lines] == [group["hex"]], "carol's list: %r" % lines)
    _, hist = carol.ok("open 1")
    check([(h.split(" ")[2], h.split(" ", 5)[5]) for h in hist] == [("1", "hi all"), ("2", "second")],
          "carol's history: %r" % hist)
    _, hist = carol.ok("history %s 1" % group["hex"][:8])
    check(len(hist) == 1 and hist[0].endswith(" second"), "history after 1: %r" % hist)
    _, members = carol.ok("members 1")
    # with what carol's client knows of each identity key: pinned on first
    # sight (unverified), and her own
    check(members == ["member alice unverified", "member bob unverified", "member carol you"],
          "members: %r" % members)
    m = alice.mark()
    carol.ok("send 1 carol here")
    alice.wait_msg(group["hex"], "carol", "carol here", since=m)

    # carol is not in the 1:1: she cannot name it
    carol.error("open %s" % one["hex"], "ERR_NOT_FOUND")
    carol.error("send 9 x", "ERR_NOT_FOUND")
    carol.error("history 1 -3", "ERR_USAGE")
    # one size limit, the sealed token's 100,000 bytes: 80,000 bytes of
    # text do not fit, 70,000 do (and alice, who receives it, shows it)
    carol.error("send 1 %s" % ("x" * 80000), "ERR_MESSAGE_TOO_LARGE")
    m = alice.mark()
    carol.ok("send 1 %s" % ("y" * 70000))
    alice.wait_msg(group["hex"], "carol", "y" * 70000, since=m)
    carol.error("new", "ERR_USAGE")
    carol.error("frobnicate", "ERR_USAGE")
    carol.ok("wait 0.1")
    _, helps = carol.ok("help")
    check(any("send CONV TEXT" in h for h in helps), "help: %r" % helps)

    # -- logout and back
    alice.ok("logout")
    alice.error("list", "ERR_NOT_LOGGED_IN")
    alice.error("logout", "ERR_NOT_LOGGED_IN")
    alice.ok("login alice %s" % word(pw))
    _, lines = alice.ok("list")
    check(sorted(parse_conv(l)["hex"] for l in lines) == sorted([one["hex"], group["hex"]]),
          "alice's list after login: %r" % lines)
    _, hist = alice.ok("history %s" % one["hex"])
    check([unescape(h.split(" ", 5)[5]) for h in hist] == ["hello bob", tricky],
          "alice's 1:1 history after login: %r" % hist)
    # a message after logging in again still reaches everyone
    m = bob2.mark()
    alice.ok("send %s back again" % one["hex"])
    bob2.wait_msg(one["hex"], "alice", "back again", since=m)

    # -- repeated failures are rate limited, with a retry time
    carol.ok("logout")
    carol.ok("register victim vpw vpw vpw")
    limited = None
    for attempt in range(12):
        good, answer, _ = carol.cmd("login victim wrong%d" % attempt)
        check(not good, "a wrong password logged in: %s" % answer)
        if answer.startswith("error ERR_RATE_LIMITED"):
            limited = answer
            break
        check(answer == "error ERR_AUTH_FAILED login Wrong username or password",
              "wrong password answered %r" % answer)
    check(limited is not None, "12 wrong passwords were never rate limited")
    check(" login Too many failed attempts, try again in " in limited, "rate limit said %r" % limited)

    # -- exit codes: carol had failures, bob2 none
    check(carol.quit() == 1, "carol's client should exit 1 after failed commands")
    check(bob2.quit() == 0, "bob2's client should exit 0")
    check(alice.quit() == 1, "alice's client should exit 1")
    check(bob.quit() == 0, "bob's client should exit 0")


def eof_script(w):
    """Commands written all at once and stdin closed: every one is answered,
    then the client exits by itself."""
    r = subprocess.run([w.bins["client"], "--keyserver", w.ks_endpoint, "--mainserver",
                        w.ms_endpoint, "--push", w.push_endpoint],
                       input="login carol carolpw\nlist\nusers\n", capture_output=True,
                       text=True, timeout=60, env={"XDG_CONFIG_HOME": w.home})
    answers = [l for l in r.stdout.splitlines() if l.startswith(("ok ", "error "))]
    check(len(answers) == 3 and all(a.startswith("ok ") for a in answers),
          "scripted run: %r / %s" % (answers, r.stderr))
    check(r.returncode == 0, "scripted run exited %d" % r.returncode)


def main(w):
    story(w)
    eof_script(w)


if __name__ == "__main__":
    run(main)
