#!/usr/bin/env python3
"""tui_client - the full-screen client as a new user meets it (issue 16):
what it says about the servers, writing and reading, the picker, help,
leaving, notifications, the small things. Each case drives the real `chat`
in tmux against the real servers (tui_driver's World) and asserts the
screen before and after what it does.

    tui_client.py CASE --chat PATH --keyserver PATH --mainserver PATH [--admin PATH]

Exit 0 pass, 1 fail, 77 skip (no tmux).
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tui_driver import (CONNECTED, WAIT, Failure, free_port, log,  # noqa: E402
                        main as driver_main)

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ELLIPSIS = "\u2026"


def check(condition, message):
    if not condition:
        raise Failure(message)


def opened_with(pane, other):
    """The user on the main screen opens a 1:1 with other by the picker."""
    pane.command("/new")
    pane.wait(r"\[ \] %s" % re.escape(other))
    pane.type(other)
    pane.wait(r"Find: %s" % re.escape(other))
    pane.keys("Enter")
    pane.wait(r"^[ >]*\d+\s+%s\b" % re.escape(other), what="the conversation with " + other)


def login(pane, user):
    pane.login(user, "pw-" + user)
    pane.wait(r"^ User: %s\b" % re.escape(user), what="the main screen of " + user)


def body_rows(pane):
    """The rows of the message area (right of the list's rule), top to bottom."""
    lines = pane.lines()
    out = []
    for line in lines[3:]:
        if re.match(r"^[\u2500\u2534]+", line):
            break
        out.append(line.split("\u2502", 1)[1] if "\u2502" in line else "")
    return out


# ------------------------------------------------------------------ 1

def case_servers_down(w):
    """1. Nothing listening: said at once, per server, with a hint; login
    fails within seconds with the same words; no server it never had is
    called lost; the client finds the servers by itself once they are up."""
    ks = "tcp://127.0.0.1:%d" % free_port()
    ms = "tcp://127.0.0.1:%d" % free_port()
    push = "tcp://127.0.0.1:%d" % free_port()
    a = w.client("down", connected=False,
                 endpoints=["--keyserver", ks, "--mainserver", ms, "--push", push])
    a.wait(r"key server: not running\s+main server: not running", what="both not running")
    a.wait(r"Key server:\s+not running: nothing is listening at %s: is chat-keyserver "
           r"running\?" % re.escape(ks))
    a.wait(r"Main server:\s+not running: nothing is listening at %s: is chat-mainserver "
           r"running\?" % re.escape(ms))
    # register and login fail within a few seconds (not after 30 s), with
    # the reason under their buttons
    started = time.monotonic()
    a.login("alice", "pw-alice")
    a.wait(a.message_line("nothing is listening at %s: is chat-keyserver running?" % ks),
           timeout=10, what="the login's failure")
    check(time.monotonic() - started < 10, "the login took %.0f s to fail"
          % (time.monotonic() - started))
    a.register("alice", "pw-alice")
    a.wait(a.message_line("nothing is listening at %s: is chat-keyserver running?" % ks),
           timeout=10)
    a.expect_not(r"Lost the", "a server this client never had called lost")
    a.expect_not(r"Logging in", "a login still waiting")
    a.expect_not(r"server: ok", "a server that is not there shown as ok")

    # the servers start where the client looks: it connects by itself
    w.stop_mainserver()
    w.stop_keyserver()
    w.start_keyserver(ks)
    w.start_mainserver(ms, push)
    a.wait(r"key server: ok\s+main server: ok", timeout=30, what="both found")
    a.wait(r"Key server:\s+connected %s" % re.escape(ks))
    a.register("alice", "pw-alice")
    a.wait(a.message_line("Success!"))
    login(a, "alice")
    a.expect_not(r"Lost the")


# ------------------------------------------------------------------ 2

def case_stale(w):
    """2. A server killed, or one that stops answering, is not shown as ok:
    the connection is watched (monitor) and heartbeats go both ways."""
    w.register("alice")
    a = w.client("stale")
    login(a, "alice")
    a.wait(r"key server: ok\s+main server: ok")
    # killed: said at once, idle as the client is
    w.stop_keyserver(signal.SIGKILL)
    a.wait(r"key server: (reconnecting|not running)", timeout=10, what="the key server down")
    # the status line names it: "Lost the key server" at once; on a slow
    # machine the next failed attempt may have replaced that already with
    # "Key server: ... (trying again)" before the screen is read
    a.wait(r"Lost the key server|Key server: .*\(trying again\)",
           what="the status line naming the lost server")
    a.expect_not(r"key server: ok")
    a.wait(r"key server: not running", timeout=10)
    w.start_keyserver()
    a.wait(r"key server: ok\s+main server: ok", timeout=30, what="the key server back")
    # stopped (SIGSTOP: its connections stay open, nothing answers): the
    # heartbeats find out within seconds
    w.keyserver.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        a.wait(r"key server: (reconnecting|no answer)", timeout=20,
               what="a stopped key server noticed")
        log("stopped key server noticed after %.1f s" % (time.monotonic() - started))
        a.expect_not(r"key server: ok")
    finally:
        w.keyserver.proc.send_signal(signal.SIGCONT)
    a.wait(r"key server: ok\s+main server: ok", timeout=30, what="the key server answering again")
    # the session carried on: a conversation works
    w.register("bob")
    opened_with(a, "bob")
    a.command("still here")
    a.wait(r"alice: still here")


# ------------------------------------------------------------------ 3

def case_endpoints(w):
    """3. Endpoints without a scheme are tcp://; a bad one is refused at the
    start, naming the option. (Swapped endpoints: tui.wrongrole, from the
    role the signed Welcome names.)"""
    bare = [e[len("tcp://"):] for e in (w.ks_endpoint, w.ms_endpoint, w.push_endpoint)]
    a = w.client("bare", endpoints=["--keyserver", bare[0], "--mainserver", bare[1],
                                    "--push", bare[2]])
    a.wait(CONNECTED)
    a.wait(r"Key server:\s+connected %s" % re.escape(w.ks_endpoint))
    w.register("carl")
    login(a, "carl")
    # without --push either: the Welcome names it (no complaint)
    r = subprocess.run([w.args.chat, "--plain", "--keyserver", bare[0], "--mainserver", bare[1],
                        "--known-servers", os.path.join(w.workdir, "pins-bare")],
                       input="login carl pw-carl\nquit\n", capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and "cannot derive" not in r.stderr,
          "host:port without --push: %d %r" % (r.returncode, r.stderr))
    check("event connected mainserver %s" % w.ms_endpoint in r.stdout,
          "not connected with host:port endpoints: %r" % r.stdout)
    for option, value in (("--keyserver", "localhost"), ("--mainserver", "udp://x:1"),
                          ("--push", "nowhere")):
        argv = [w.args.chat, "--plain"] + w.endpoints()
        argv[argv.index(option) + 1] = value
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 2, "%s %s exited %d" % (option, value, r.returncode))
        want = "chat: %s wants tcp://HOST:PORT (or HOST:PORT), not '%s'" % (option, value)
        check(want in r.stderr, "%s %s said %r" % (option, value, r.stderr))


# ------------------------------------------------------------------ 4

def case_paste(w):
    """4. A pasted text is one message, whatever its newlines; Alt-Enter
    makes a new line; a long paste asks before it goes; several lines show
    as lines, under the text."""
    w.register("alice", "bob")
    a = w.client("paste")
    login(a, "alice")
    b = w.plain("paste-bob")
    b.ok("login bob pw-bob")
    opened_with(a, "bob")
    b.wait(r"^event conversation 1 ")

    mark = b.mark()
    a.paste("line one\nline two\nline three")
    # before Enter: all three wait in the input, nothing was sent
    a.wait(r"^> line one\s*$", what="the paste's first line in the input")
    a.wait(r"^  line two\s*$")
    a.wait(r"^  line three\s*$")
    a.wait(r"3 lines in the input: Enter sends them as one message")
    time.sleep(1)
    check(not [l for l in b.lines[mark:] if l.startswith("msg ")],
          "sent before Enter: %r" % b.lines[mark:])
    a.keys("Enter")
    b.wait(r"^msg \S+ 1 alice \d+ line one\\nline two\\nline three$", since=mark)
    a.wait(r"alice: line one\s*$")
    # one message, its lines under its text (not three messages)
    rows = body_rows(a)
    first = [i for i, r in enumerate(rows) if r.endswith("alice: line one") or
             "alice: line one " in r][0]
    column = rows[first].index("line one")
    check(rows[first + 1].rstrip().endswith("line two")
          and rows[first + 1].index("line two") == column
          and rows[first + 2].index("line three") == column,
          "the lines are not under the text:\n%s" % "\n".join(rows))
    check(len(re.findall(r"alice:", a.screen())) == 1, "more than one message:\n" + a.screen())
    time.sleep(0.5)
    check(len([l for l in b.lines[mark:] if l.startswith("msg ")]) == 1,
          "bob got more than one message: %r" % b.lines[mark:])

    # Alt-Enter: a new line in the message, not a send
    mark = b.mark()
    a.type("first")
    a.keys("M-Enter")
    a.type("second")
    a.wait(r"^> first\s*$")
    a.wait(r"^  second\s*$")
    a.keys("Enter")
    b.wait(r"^msg \S+ 2 alice \d+ first\\nsecond$", since=mark)

    # more than four lines: Enter asks, Enter again sends, as one
    mark = b.mark()
    a.paste("\n".join("row %d" % i for i in range(1, 7)))
    a.wait(r"^  row 6\s*$")
    a.keys("Enter")
    a.wait(r"Send these 6 lines as one message\? Enter: send  Esc: keep editing")
    time.sleep(0.5)
    check(not [l for l in b.lines[mark:] if l.startswith("msg ")], "sent without asking")
    a.keys("Escape")
    a.wait(r"Send these 6 lines", absent=True)
    a.wait(r"^  row 6\s*$")
    a.keys("Enter")
    a.wait(r"Send these 6 lines as one message\?")
    a.keys("Enter")
    b.wait(r"^msg \S+ 3 alice \d+ row 1\\nrow 2\\nrow 3\\nrow 4\\nrow 5\\nrow 6$", since=mark)
    a.wait(r"^  row 6\s*$", absent=True)


# ------------------------------------------------------------------ 5

def _list_row(pane, index, name):
    """The list row of conversation index (its name): the unread count in it
    (0 for none)."""
    for line in pane.lines():
        left = line.split("\u2502", 1)[0]
        m = re.match(r"^[ >]*%d\s+%s\b.*?(\d+)?\s*$" % (index, re.escape(name)), left)
        if m:
            return int(m.group(1) or 0)
    return None


def _wait_unread(pane, index, name, count, what):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if _list_row(pane, index, name) == count:
            return
        time.sleep(0.1)
    raise Failure("%s: conversation %d (%s) never showed %d unread (%s):\n%s"
                  % (pane.name, index, name, count, what, pane.screen()))


def case_readmarks(w):
    """5. Unread counts are the main server's: messages that came while
    logged out count, the user's own (from another session) do not, two
    sessions agree, and a line marks the first new message."""
    w.register("alice", "bob", "carol")
    a = w.client("marks")
    login(a, "alice")
    opened_with(a, "carol")             # conversation 1, on the screen
    bob = w.plain("marks-bob")
    bob.ok("login bob pw-bob")
    bob.ok("new alice")
    a.wait(r"^[ >]*2\s+bob", what="bob's conversation in the list")
    # a stranger's conversation: a message request (no unread) until accepted
    a.command("/accept 2")
    a.wait(r"Accepted", what="the request accepted")
    _wait_unread(a, 2, "bob", 0, "nothing yet")
    for i in range(3):
        bob.ok("send 1 hello %d" % i)
    _wait_unread(a, 2, "bob", 3, "three from bob")
    # alice's other session writes there: not unread for her
    phone = w.plain("marks-phone")
    phone.ok("login alice pw-alice")
    phone.ok("send 2 from my phone")
    time.sleep(1)
    _wait_unread(a, 2, "bob", 3, "her own message not counted")
    # she reads it on the phone: the full screen agrees at once
    phone.ok("open 2")
    _wait_unread(a, 2, "bob", 0, "read in her other session")
    # two more: the line goes before the first of them
    bob.ok("send 1 later 0")
    bob.ok("send 1 later 1")
    _wait_unread(a, 2, "bob", 2, "two more")
    a.keys("M-2")
    a.wait(r"bob: later 1")
    rows = body_rows(a)
    at = [i for i, r in enumerate(rows) if "bob: later 0" in r]
    check(at and at[0] > 0 and re.search(r"\u2500 new \u2500", rows[at[0] - 1]),
          "no 'new' line right above the first new message:\n%s" % "\n".join(rows))
    check(not any(re.search(r"\u2500 new \u2500", r) for r in rows[:at[0] - 1]),
          "a 'new' line elsewhere:\n%s" % "\n".join(rows))
    _wait_unread(a, 2, "bob", 0, "read by opening it")
    # logged out, more came: counted when she is back, and the phone agrees
    a.keys("M-1")
    a.wait(r"^>1\s+carol")
    a.command("/logout")
    a.wait(r"^\s+Login:")
    bob.ok("send 1 while you were away")
    login(a, "alice")
    _wait_unread(a, 2, "bob", 1, "the message that came while logged out")
    mark = phone.mark()
    phone.ok("list")
    check(any(re.match(r"^conv 2 \S+ alice,bob unread=1 ", l) for l in phone.lines[mark:]),
          "the other session disagrees: %r" % phone.lines[mark:])


# ------------------------------------------------------------------ 6

def case_picker_filter(w):
    """6. Space selects and does not move; typing filters the users."""
    names = ["user%02d" % i for i in range(1, 61)]
    w.register(*names)
    a = w.client("filter")
    login(a, "user01")
    a.command("/new")
    a.wait(r"\[ \] user02")
    # the report's case: Space Down Space Enter makes a group of exactly
    # the first two
    a.keys("Space")
    a.wait(r"\[x\] user02")
    a.wait(r"1 selected")
    a.expect_not(r"\[x\] user03")
    a.keys("Down", "Space")
    a.wait(r"\[x\] user03")
    a.wait(r"2 selected: Enter creates a group of 3")
    a.expect_not(r"\[x\] user04")
    a.keys("Enter")
    a.wait(r"user02, user03\s+\(group of 3\)", what="the group of user02 and user03")

    # typing filters: user05 of sixty
    a.command("/new")
    a.wait(r"\[ \] user02")
    a.wait(r"Find: *$")
    a.type("user05")
    a.wait(r"Find: user05")
    a.wait(r"\[ \] user05")
    for other in ("user04", "user06", "user50", "user02"):
        a.expect_not(r"\] %s" % other, other + " shown under the filter user05")
    a.keys("Space")
    a.wait(r"\[x\] user05")
    # Backspace widens it again; what was selected stays selected
    a.keys("BSpace")
    a.wait(r"Find: user0\s*$")
    a.wait(r"\[ \] user09")
    a.wait(r"\[x\] user05")
    a.expect_not(r"\] user10", "user10 under the filter user0")
    a.type("9")
    a.wait(r"Find: user09")
    a.keys("Space")
    a.wait(r"\[x\] user09")
    # Esc clears the filter (both still selected), Esc again goes back
    a.keys("Escape")
    a.wait(r"Find: *$")
    a.wait(r"\[ \] user10")
    a.wait(r"2 selected")
    a.keys("Enter")
    a.wait(r"user05, user09\s+\(group of 3\)", what="the group of user05 and user09")
    a.command("/new")
    a.wait(r"\[ \] user02")
    a.keys("Escape")
    a.wait(r"Create new conversation", absent=True, what="the picker gone after Esc")
    a.wait(r"^ User: user01\b")


# ------------------------------------------------------------------ 7

def case_scrollback(w):
    """7. Scrolled back, arriving messages do not move the text; the counter
    below is on the rule, not over a message, and counts the new ones; Home
    and End go to the first and the newest."""
    w.register("alice", "bob")
    a = w.client("scroll", width=100, height=30)
    login(a, "alice")
    b = w.plain("scroll-bob")
    b.ok("login bob pw-bob")
    opened_with(a, "bob")
    b.wait(r"^event conversation 1 ")
    for i in range(60):
        b.ok("send 1 message %02d" % i)
    a.wait(r"bob: message 59")
    a.keys("PPage")
    a.wait(r"more lines below: PgDn, End", what="the counter after PgUp")
    before = body_rows(a)
    check(not any("message 59" in r for r in before), "PgUp did not scroll:\n%s"
          % "\n".join(before))
    for i in range(5):
        b.ok("send 1 new %d" % i)
    a.wait(r"more lines below, 5 new: PgDn, End", what="the counter with 5 new")
    after = body_rows(a)
    check(after == before, "the text moved while scrolled back:\n%s\n--- now:\n%s"
          % ("\n".join(before), "\n".join(after)))
    # the counter sits on the rule under the messages, over none of them
    counter = [l for l in a.lines() if "more lines below" in l]
    check(len(counter) == 1 and "\u2500" in counter[0] and "bob:" not in counter[0],
          "the counter is not on the rule: %r" % counter)
    a.keys("Home")
    a.wait(r"bob: message 00", what="the first message after Home")
    a.wait(r"more lines below, 5 new")
    a.keys("End")
    a.wait(r"bob: new 4", what="the newest after End")
    a.wait(r"more lines? below", absent=True)
    # following again: the next message shows at once
    b.ok("send 1 after End")
    a.wait(r"bob: after End")
    # PgDn back to the end follows too
    a.keys("PPage")
    a.wait(r"more lines below")
    a.keys("NPage", "NPage", "NPage")
    a.wait(r"more lines? below", absent=True)
    b.ok("send 1 following")
    a.wait(r"bob: following")


# ------------------------------------------------------------------ 8

def case_recovery(w):
    """8. A conversation made while the key server is away (protocol 2: its
    members' identity keys and its epoch key go through the key server)
    waits for it, says so, and is made and loaded once it is back; one
    whose making gave up says why and can be made again; a message sent
    while the main server is away shows as sending, then as sent."""
    w.register("alice", "bob", "carol")
    a = w.client("recover")
    login(a, "alice")
    w.stop_keyserver()
    a.wait(r"key server: (reconnecting|not running)")
    a.command("/new")
    a.wait(r"\[ \] bob")
    a.type("bob")
    a.wait(r"Find: bob")
    a.keys("Enter")
    a.wait(r"Creating the conversation", what="the creation waiting")
    w.start_keyserver()
    a.wait(r"^[ >]*\d+\s+bob\b", timeout=30, what="the conversation made once the key "
           "server is back")
    a.wait(r"No messages yet: say something", timeout=30,
           what="the conversation loaded once the key server is back")
    a.command("the key is here")
    a.wait(r"alice: the key is here")
    a.wait("sending" + ELLIPSIS, absent=True)

    b = w.plain("recover-bob")
    b.ok("login bob pw-bob")
    mark = b.mark()
    w.stop_mainserver()
    a.wait(r"main server: (reconnecting|not running)")
    a.command("are you there?")
    a.wait(r"alice: are you there\?", what="the message at once")
    a.wait(r"^\s*\u2502\s+sending" + ELLIPSIS, what="its 'sending' line")
    w.start_mainserver()
    a.wait(r"main server: ok", timeout=30)
    a.wait("sending" + ELLIPSIS, absent=True, timeout=30, what="the send done")
    a.wait(r"alice: are you there\?")
    b.wait(r"^msg \S+ \d+ alice \d+ are you there\?$", since=mark)


# ------------------------------------------------------------------ 9

def _help_text(pane, width):
    """Every line of the help, scrolled through, and the number of lines."""
    pane.keys("F1")
    pane.wait(r"lines 1-\d+ of \d+", what="the help's position")
    seen = []
    for _ in range(40):
        screen = pane.lines()
        for line in screen:
            check(len(line) <= width, "a line wider than %d: %r" % (width, line))
        seen.append([l.rstrip() for l in screen[1:-1]])
        m = re.search(r"lines (\d+)-(\d+) of (\d+)", screen[-1])
        check(m, "no position on the help's last line: %r" % screen[-1])
        if m.group(2) == m.group(3):
            break
        pane.keys("NPage")
        pane.wait(r"lines (?!%s-)\d+-" % m.group(1), what="the next page")
    else:
        raise Failure("the help never reached its end")
    return seen


def case_help(w):
    """9. Help is a screen of its own that fits 40 columns (and 79), scrolls,
    and lists every key and command; the README lists them too."""
    readme = open(os.path.join(TOP, "README.md"), encoding="utf-8").read()
    using = readme[readme.index("## Using the client"):]
    using = using[:using.index("\n## ", 5)]
    for width, height in ((40, 16), (79, 24)):
        a = w.client("help%d" % width, width=width, height=height)
        pages = _help_text(a, width)
        text = " ".join(" ".join(p) for p in pages)
        words = " ".join(text.split())
        # nothing cut: whole long sentences, whatever the width
        for sentence in ("ring the bell (and show a desktop notification where the terminal "
                         "can) for a message in a conversation you cannot see",
                         "scroll the conversation back or forward; new messages do not move "
                         "what you are reading",
                         "quit; asks first while a message is typed or still sending"):
            check(sentence in words, "at %d columns the help lacks %r:\n%s"
                  % (width, sentence, "\n---\n".join("\n".join(p) for p in pages)))
        a.keys("Escape")
        a.wait(r"Login:", what="back to the login screen")
        a.expect_not(r"lines \d+-\d+ of")
    # every key and command of the help (its wide layout: keys in a column)
    a = w.client("help-wide", width=160, height=60)
    pages = _help_text(a, 160)
    keys = set()
    for page in pages:
        for line in page:
            m = re.match(r"^  (\S.{0,17}?)\s{2,}\S", line)
            if m:
                keys.add(m.group(1).strip())
    check(len(keys) > 25, "too few keys read from the help: %r" % sorted(keys))
    missing = [k for k in sorted(keys) if k not in using and k != "letters"]
    check(not missing, "README's 'Using the client' lacks %r" % missing)


# ------------------------------------------------------------------ 10

def _sessions_gone(w, user):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        main, key = w.admin_sessions("main"), w.admin_sessions("key")
        if user not in main and user not in key:
            return
        time.sleep(0.2)
    raise Failure("%s still has a session: main %r, key %r" % (user, main, key))


def case_sessions(w):
    """10. Leaving (/quit, F10, Ctrl-C) logs out at both servers first."""
    w.register("alice", "bob")
    a = w.client("leave-a")
    login(a, "alice")
    check("alice" in w.admin_sessions("main") and "alice" in w.admin_sessions("key"),
          "alice's sessions not in the overviews before she leaves")
    a.command("/quit")
    check(a.exit_status() == 0, "chat did not exit 0 after /quit")
    _sessions_gone(w, "alice")
    b = w.client("leave-b")
    login(b, "bob")
    check("bob" in w.admin_sessions("main"), "bob's session not in the overview")
    b.keys("C-c")           # nothing typed: leaves at once
    check(b.exit_status() == 0, "chat did not exit 0 after Ctrl-C")
    _sessions_gone(w, "bob")


# ------------------------------------------------------------------ 11

def case_small(w):
    """11. The small things, each before and after."""
    w.register("alice", "bob", "carol")
    a = w.client("small", width=100, height=30)
    # an empty username on register says so
    a.keys("M-r", "Tab")
    a.type("pw")
    a.keys("Enter")
    a.wait(a.message_line("Enter the username first"), what="the empty username said")
    # the rate limit says its wait once
    for _ in range(6):
        a.login("alice", "wrong")
        time.sleep(0.3)
    a.wait(r"Too many failed attempts, try again in \d+ s", timeout=WAIT)
    a.expect_not(r"wait \d+ s before trying again", "the wait said twice")
    # (the back-off is the server's: wait it out for the next login)
    deadline = time.monotonic() + 60
    while True:
        a.login("alice", "pw-alice")
        try:
            a.wait(r"^ User: alice\b", timeout=5)
            break
        except Failure:
            if time.monotonic() > deadline:
                raise
    # a line typed with no conversation open stays, and says why
    a.wait(r"No conversations yet")
    a.command("kept for later")
    a.wait(r"No conversation is open: /new starts one")
    a.wait(r"^> kept for later\s*$", what="the line kept in the input")
    # the status stops saying that once one is open
    a.keys("C-u")
    opened_with(a, "bob")
    a.expect_not(r"No conversation is open", "a stale status line")
    # only spaces: not sent
    b = w.plain("small-bob")
    b.ok("login bob pw-bob")
    mark = b.mark()
    a.command("    ")
    a.wait(r"Nothing to send: the message is only spaces")
    time.sleep(0.5)
    check(not [l for l in b.lines[mark:] if l.startswith("msg ")], "spaces were sent")
    # numbers: the same in the full screen and in plain mode, whatever the
    # activity (the second conversation is the busier one)
    opened_with(a, "carol")
    a.command("to carol")
    a.wait(r"alice: to carol")
    p = w.plain("small-alice")
    p.ok("login alice pw-alice")
    mark = p.mark()
    p.ok("list")
    convs = [l for l in p.lines[mark:] if l.startswith("conv ")]
    check(len(convs) == 2 and convs[0].split()[3] == "alice,bob"
          and convs[1].split()[3] == "alice,carol",
          "plain mode numbers them otherwise: %r" % convs)
    a.wait(r"^[ >]*1\s+bob\b")
    a.wait(r"^[ >]*2\s+carol\b")
    # a long group name is cut with an ellipsis, its size kept
    long_names = ["a%s" % ("x" * 30), "b%s" % ("y" * 30), "c%s" % ("z" * 30)]
    w.register(*long_names)
    a.command("/new")
    for name in long_names:
        a.wait(r"\[ \] %s" % name)
    for count, name in enumerate(long_names, 1):
        a.type(name[:3])
        a.wait(r"Find: %s" % name[:3])
        a.keys("Space")
        a.wait(r"\[x\] %s" % name)
        a.keys("Escape")        # (an Esc and a letter at once would be Alt-letter)
        a.wait(r"Find: *$")
    a.wait(r"3 selected")
    a.keys("Enter")
    a.wait(ELLIPSIS + r"\s+\(group of 4\)", what="the cut header with its size")
    # Ctrl-C with a half-typed line: asks, keeps the text; again: leaves
    a.type("half typed")
    a.keys("C-c")
    a.wait(r"Ctrl-C again quits")
    a.wait(r"^> half typed\s*$")
    check(a.exit_status(timeout=1) is None, "Ctrl-C left at once with text typed")
    a.keys("C-c")
    check(a.exit_status() == 0, "a second Ctrl-C did not leave")
    # "Logging out..." does not stay behind on the login screen
    c = w.client("small-c")
    login(c, "carol")
    c.command("/logout")
    c.wait(r"^\s+Login:")
    c.wait(c.message_line("Logged out"))
    c.expect_not(r"Logging out", "a stale 'Logging out...'")


def case_dumb(w):
    """11. TERM=dumb: plain mode, said, instead of a garbled screen."""
    a = w.client("dumb", connected=False, env={"TERM": "dumb"})
    a.wait(r"^event connected keyserver ", what="plain mode's lines")
    with open(a.stderr_path) as f:
        said = f.read()
    check("chat: this terminal (TERM=dumb) cannot show a full-screen interface; using plain "
          "mode (type help)" in said, "not said why: %r" % said)
    a.type("help")
    a.keys("Enter")
    a.wait(r"^ok help")
    a.expect_not(r"\x1b|\[\d+;\d+H", "escape sequences on a dumb terminal")


def case_cli(w):
    """11. The command line: -h, config files missing, malformed, with an
    unknown setting (no CZMQ log line leaks)."""
    chat = w.args.chat
    r = subprocess.run([chat, "-h"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("Usage: chat"), "chat -h: %r" % r.stderr)
    with tempfile.TemporaryDirectory() as d:
        missing = os.path.join(d, "none.cfg")
        bad = os.path.join(d, "bad.cfg")
        with open(bad, "w") as f:
            f.write('client\n    keyserver = "tcp://127.0.0.1:1\n')
        unknown = os.path.join(d, "unknown.cfg")
        with open(unknown, "w") as f:
            f.write("client\n    keyserver = tcp://127.0.0.1:1\n    mainserver = "
                    "tcp://127.0.0.1:2\n    colour = blue\n")
        wants = (
            (missing, "chat: cannot read the config file %s: No such file or directory"
             % missing),
            (bad, 'chat: the config file %s is not valid ZPL: line 2: missing "' % bad),
            (unknown, "chat: %s: unknown setting 'client/colour'" % unknown),
        )
        for path, want in wants:
            r = subprocess.run([chat, "--config", path, "--plain"], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
            check(r.returncode == 2, "--config %s exited %d" % (path, r.returncode))
            check(want in r.stderr, "--config %s said %r, not %r" % (path, r.stderr, want))
            check(r.stdout == "" and "zconfig" not in r.stderr,
                  "a CZMQ log line leaked: %r %r" % (r.stdout, r.stderr))


# ------------------------------------------------------------------ notifications

def _count(path, data):
    try:
        with open(path, "rb") as f:
            return f.read().count(data)
    except OSError:
        return 0


def case_notify(w):
    """Notifications: a message in a conversation not on the screen rings
    the bell, and where the terminal shows them (here: as WezTerm says it
    is) a desktop notification naming the sender, never the text; none for
    the conversation on the screen; /notify off stops them."""
    w.register("alice", "bob", "carol")
    raw = os.path.join(w.workdir, "notify.raw")
    a = w.client("notify", env={"TERM_PROGRAM": "WezTerm"})
    a.record(raw)
    login(a, "alice")
    opened_with(a, "bob")
    bob = w.plain("notify-bob")
    bob.ok("login bob pw-bob")
    carol = w.plain("notify-carol")
    carol.ok("login carol pw-carol")
    carol.ok("new alice")
    a.wait(r"^[ >]*2\s+carol")
    # a stranger's conversation: a message request (no notification) until
    # accepted
    a.command("/accept 2")
    a.wait(r"Accepted", what="the request accepted")
    osc = b"\x1b]777;notify;chat: new message;from carol in carol\x1b\\"
    bells = _count(raw, b"\x07")
    time.sleep(1.2)
    carol.ok("send 1 secret words")
    a.wait(r"^[ >]*2\s+carol\s+1\b", what="carol's unread count")
    deadline = time.monotonic() + WAIT
    while _count(raw, osc) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    check(_count(raw, osc) == 1, "no desktop notification for carol's message")
    check(_count(raw, b"\x07") == bells + 1, "no bell for carol's message")
    check(_count(raw, b"secret words") == 0, "the message's text went to the terminal")
    # on the screen: no bell
    time.sleep(1.2)
    bells = _count(raw, b"\x07")
    bob.ok("send 1 hello alice")
    a.wait(r"bob: hello alice")
    time.sleep(0.5)
    check(_count(raw, b"\x07") == bells, "a bell for the conversation on the screen")
    # off
    a.command("/notify off")
    a.wait(r"Notifications off")
    carol.ok("send 1 more")
    a.wait(r"^[ >]*2\s+carol\s+2\b")
    time.sleep(0.5)
    check(_count(raw, b"\x07") == bells and _count(raw, osc) == 1,
          "a notification after /notify off")
    a.command("/notify on")
    a.wait(r"Notifications on: the bell and a desktop notification \(OSC 777\)")


CASES = {
    "servers_down": case_servers_down,
    "stale": case_stale,
    "endpoints": case_endpoints,
    "paste": case_paste,
    "readmarks": case_readmarks,
    "picker_filter": case_picker_filter,
    "scrollback": case_scrollback,
    "recovery": case_recovery,
    "help": case_help,
    "sessions": case_sessions,
    "small": case_small,
    "dumb": case_dumb,
    "cli": case_cli,
    "notify": case_notify,
}


if __name__ == "__main__":
    sys.exit(driver_main(CASES))
