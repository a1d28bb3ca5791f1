#!/usr/bin/env python3
"""bench.cluster: `chat-bench cluster --quick` against two main servers on one
PostgreSQL database (run under tests/support/pgtemp.sh, which sets
CHAT_TEST_PG_URL). Speed is never asserted; what is: it exits 0 and its
JSON has the rate and the send->push figures of both the sender's server
and the other one, each a finite number above zero, and no push lost.

    cluster.py PATH/chat-bench
"""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from chatproc import skip_status  # noqa: E402

FIGURES = ["messages/s into a group, 2 servers", "send->push p50, sender's server",
           "send->push p99, sender's server", "send->push p50, other servers",
           "send->push p99, other servers"]


def fail(message):
    print("bench.cluster: FAIL: %s" % message, flush=True)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        print("usage: cluster.py PATH/chat-bench", file=sys.stderr)
        return 2
    url = os.environ.get("CHAT_TEST_PG_URL")
    if not url:
        return skip_status("no CHAT_TEST_PG_URL (run under tests/support/pgtemp.sh, which "
                           "needs PostgreSQL)")
    r = subprocess.run([sys.argv[1], "cluster", "--quick", "--json", "--mainservers", "2",
                        "--store", url], capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr[-4000:])
    if r.returncode != 0:
        fail("chat-bench cluster exited %d" % r.returncode)
    rows = {row.get("figure"): row for row in json.loads(r.stdout)["rows"]
            if row.get("scenario") == "cluster"}
    for figure in FIGURES:
        value = rows.get(figure, {}).get("value")
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            fail("%r is %r (rows: %s)" % (figure, value, sorted(rows)))
    if rows.get("pushes lost", {}).get("value") != 0:
        fail("pushes were lost: %r" % rows.get("pushes lost"))
    print("bench.cluster: two main servers, every figure there, no push lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
