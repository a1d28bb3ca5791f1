#!/usr/bin/env python3
"""bench.smoke: chat-bench runs every scenario at tiny sizes against the
real servers (`all --quick`), once printing its table and once as JSON.
Speed is never asserted here; what is: both runs exit 0, the table has a
row for every scenario, and the JSON has every scenario's rows (FIGURES),
no failed row, and every figure a finite number above zero (zero allowed
only where it is a count that should be zero, or a CPU time that may stay
under one clock tick in so short a run).

    smoke.py PATH/chat-bench
"""
import json
import math
import subprocess
import sys

# Per scenario, the start of every figure it must report. The CPU figures
# of the main server appear only when its CPU time grew by a clock tick or
# more, which a --quick run does not promise: not required, checked if there.
FIGURES = {
    "ceiling": ["RSA-2048 PSS signatures", "RSA-2048 OAEP decryptions", "fernet_encrypt 1 KiB",
                "fernet_encrypt 256 B", "PBKDF2-HMAC-SHA256", "ZMQ DEALER->ROUTER",
                "ZMQ round trip p50", "ZMQ round trip p99", "4 KiB write + fdatasync p50",
                "4 KiB write + fdatasync p99"],
    "handshake": ["handshakes/s, main server"],
    "login": ["registrations/s", "registration p50", "logins/s", "login p50"],
    "create": ["create, ", "re-key, ", "a member caught up, "],
    "messages": ["messages/s, ", "pushes delivered/s (same run)", "send->ack p50 (max rate)",
                 "send->ack p99 (max rate)", "send->push p99 (max rate)",
                 "client CPU per message (max)", "messages/s sent (asked", "send->ack p99 at",
                 "send->push p99 at", "client CPU per message (rate)"],
    "fanout": ["pushes delivered/s, ", "messages/s into the group", "send->push p50",
               "send->push p99", "pushes lost"],
    "history": ["page of 100, first (cold)", "page of 100, newest",
                "page of 100 at random, p50", "page of 100 at random, p99"],
    "sessions": ["server RSS before", "server RSS with", "RSS per idle session"],
    "shutdown": ["SIGTERM to exit"],
    "abuse": ["login p50 (no attack)", "login p99 (no attack)", "send->ack p99 (no attack)",
              "send->push p99 (no attack)", "login p50 (Hello flood)", "login p99 (Hello flood)",
              "send->ack p99 (Hello flood)", "send->push p99 (Hello flood)",
              "login p50 (never-reading subscribers)", "send->push p99 (never-reading subscribers)",
              "main server RSS, never-reading subscribers"],
}
ZERO_ALLOWED = ("pushes lost", "client CPU per message")


def fail(message):
    print("bench.smoke: FAIL: %s" % message, flush=True)
    sys.exit(1)


def run(bench, *args):
    r = subprocess.run([bench] + list(args), capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr[-4000:])
    if r.returncode != 0:
        fail("chat-bench %s exited %d" % (" ".join(args), r.returncode))
    return r.stdout


def check_table(text):
    for scenario in FIGURES:
        rows = [l for l in text.splitlines() if l.startswith(scenario + " ")]
        if not rows or all("FAILED" in l for l in rows):
            fail("the table has no row for %s" % scenario)


def check_json(text):
    try:
        rows = json.loads(text)["rows"]
    except (ValueError, KeyError, TypeError) as e:
        fail("--json did not print an object with rows: %s" % e)
    problems = []
    for row in rows:
        name = "%s / %s" % (row.get("scenario"), row.get("figure"))
        value = row.get("value")
        if row.get("error") or row.get("status") == "FAILED":
            problems.append("%s failed: %s" % (name, row.get("error")))
        elif not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value):
            problems.append("%s is not a number: %r" % (name, value))
        elif value < 0 or (value == 0 and not row.get("figure", "").startswith(ZERO_ALLOWED)):
            problems.append("%s is %r, expected above zero" % (name, value))
    for scenario, figures in FIGURES.items():
        have = [r.get("figure", "") for r in rows if r.get("scenario") == scenario]
        for figure in figures:
            if not any(h.startswith(figure) for h in have):
                problems.append("%s reports no '%s...' (it has: %s)"
                                % (scenario, figure, "; ".join(have) or "nothing"))
    if problems:
        fail("the JSON rows:\n  " + "\n  ".join(problems))
    print("bench.smoke: %d rows of %d scenarios, every one a number" % (len(rows), len(FIGURES)))


def main():
    if len(sys.argv) != 2:
        print("usage: smoke.py PATH/chat-bench", file=sys.stderr)
        return 2
    bench = sys.argv[1]
    check_table(run(bench, "all", "--quick"))
    check_json(run(bench, "all", "--quick", "--json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
