#!/usr/bin/env python3
"""client.escapes - what a message can carry never reaches a terminal raw
through `chat --plain` or `chat --json` (DESIGN.md section 10).

alice sends bob texts holding terminal controls: ESC sequences (CSI, OSC),
C0 controls and DEL, the C1 controls CSI, OSC and ST as UTF-8 (U+009B,
U+009D, U+009C), and the bidi controls (U+202A..U+202E overrides and
embeddings, U+2066..U+2069 isolates: the set the TUI filters). bob
reads them live (`msg`) and as history (`hist`) in text mode, bob2 the same
in JSON mode, alice her own history. No line any of them prints may hold
one of those characters raw: escaped (\\xHH, \\uHHHH) or removed, as
plainfmt does it, either is fine; what the text says around them must
still be there.

Each kind found raw is named, so a failure says which escaping is missing.
"""
import json
import re

from plainlib import check, log, run

# (name, text between the markers); every one is sent as its own message
NASTY = [
    ("ESC CSI", "\x1b[2J\x1b[31m"),
    ("ESC OSC", "\x1b]0;owned\x07"),
    ("C0 and DEL", "\x07\x08\x0b\x0c\x7f"),
    ("C1 CSI", "\u009b31m"),
    ("C1 OSC and ST", "\u009d0;owned\u009c"),
    ("C1 others", "\u0080\u0085\u008d\u009f"),
    ("bidi overrides", "\u202eevil\u202c\u202dx\u202c"),
    ("bidi embeddings", "\u202ax\u202c\u202bx\u202c"),
    ("bidi isolates", "\u2066x\u2069\u2067x\u2069\u2068x\u2069"),
]

# Characters no output line may hold raw, by kind
KINDS = [
    ("ESC", re.compile("\x1b")),
    ("C0 controls or DEL", re.compile("[\x00-\x1a\x1c-\x1f\x7f]")),
    ("C1 controls (U+0080..U+009F)", re.compile("[\u0080-\u009f]")),
    ("bidi controls", re.compile("[\u202a-\u202e\u2066-\u2069]")),
]


def typed(text):
    """The text as a `send` argument: every byte outside printable ASCII
    (and the backslash) as \\xHH, so the command line itself is plain."""
    out = []
    for byte in text.encode("utf-8"):
        if byte == 0x5c or byte < 0x20 or byte >= 0x7f:
            out.append("\\x%02x" % byte)
        else:
            out.append(chr(byte))
    return "".join(out)


def raw_kinds(lines):
    """{kind: [line, ...]} of the forbidden characters found raw."""
    found = {}
    for line in lines:
        for kind, pattern in KINDS:
            if pattern.search(line):
                found.setdefault(kind, []).append(line)
    return found


def escapes(w):
    w.start_keyserver()
    w.start_mainserver()
    alice = w.client("alice")
    alice.ok("register alice apw apw apw")
    alice.ok("register bob bpw bpw bpw")
    alice.ok("login alice apw")
    bob = w.client("bob")
    bob.ok("login bob bpw")
    bob2 = w.client("bob2", json_mode=True)
    bob2.ok("login bob bpw")
    _, lines = alice.ok("new bob")
    conv = lines[-1].split(" ")[2]

    markers = []
    for i, (name, nasty) in enumerate(NASTY):
        before, after = "m%d-start" % i, "m%d-end" % i
        markers.append((name, before, after))
        alice.ok("send %s %s%s%s" % (conv, before, typed(nasty), after))
    # live, then as history, in both modes; and the sender's own history
    for name, before, after in markers:
        bob.wait_line(r"^msg %s \d+ alice \d+ %s.*%s$" % (conv, before, after),
                      what="(%s, live)" % name)
        bob2.wait_line(r'^\{"type":"msg".*"text":"%s.*%s"\}$' % (before, after),
                       what="(%s, live, JSON)" % name)
    _, hist = bob.ok("history %s" % conv)
    _, hist2 = bob2.ok("history %s" % conv)
    _, own = alice.ok("history %s" % conv)
    for got, what in ((hist, "bob's history"), (own, "alice's history")):
        check(len([h for h in got if h.startswith("hist ")]) == len(NASTY),
              "%s: %d hist lines, expected %d: %r" % (what, len(got), len(NASTY), got))
    check(len([l for l in hist2 if l.startswith('{"type":"hist"')]) == len(NASTY),
          "bob2's history: %r" % hist2)

    # the markers made it through in order, whatever happened between them
    for client in (bob, bob2):
        text = "\n".join(client.lines())
        for name, before, after in markers:
            check(re.search(re.escape(before) + ".*" + re.escape(after), text),
                  "%s: the text around %s is gone" % (client.name, name))

    problems = []
    for client in (alice, bob, bob2):
        for kind, lines in sorted(raw_kinds(client.lines()).items()):
            problems.append("%s prints %s raw, e.g. %r" % (client.name, kind, lines[0]))
    for p in problems:
        log(p)
    check(not problems, "terminal controls reach stdout raw:\n  " + "\n  ".join(problems))
    # and JSON mode printed valid JSON (a raw control byte in a string is not)
    for line in bob2.lines():
        try:
            json.loads(line)
        except ValueError as e:
            check(False, "bob2 printed a line that is not JSON (%s): %r" % (e, line))
    for client in (alice, bob, bob2):
        check(client.quit() == 0, "%s exited non-zero" % client.name)


if __name__ == "__main__":
    run(escapes)
