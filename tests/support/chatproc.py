"""chatproc - what the Python test libraries (tests/client/plainlib.py,
tests/e2e/e2elib.py) share about the processes they drive: a reader thread
that keeps every line of a stream, a deadline-bounded search over those
lines, and the plain-mode command word.

Each library keeps its own Proc class and its own failure type; these are
the parts that are the same in both.
"""
import glob
import hashlib
import os
import re
import shutil
import subprocess
import time
import urllib.parse

# A test that waits for a live message waits this long, no longer: plenty
# for a push on a loaded 2-core machine, and since every client these tests
# start re-lists its conversations only every REFRESH_SECONDS (far longer
# than any test runs), nothing but a push can deliver the message in time.
# E.g. with the main server's pushes gone a live wait fails after
# LIVE_TIMEOUT, instead of passing at the client's next re-list.
LIVE_TIMEOUT = float(os.environ.get("CHAT_LIVE_TIMEOUT", "5"))
REFRESH_SECONDS = 86400
REFRESH_ARGS = ["--refresh-interval", str(REFRESH_SECONDS)]

# ctest's SKIP_RETURN_CODE. A test that cannot run here (no tmux, no
# namespace, ...) exits with it and says why; under CHAT_TEST_STRICT=1 (CI,
# where every tool is there) skip_status turns it into a failure.
SKIP = 77
STRICT = os.environ.get("CHAT_TEST_STRICT") == "1"


def skip_status(reason):
    """Print why a test (or part of one) could not run; the exit status to
    use: SKIP, or 1 under CHAT_TEST_STRICT=1."""
    if STRICT:
        print("FAIL: CHAT_TEST_STRICT=1, and this would have been skipped: %s" % reason,
              flush=True)
        return 1
    print("SKIP: %s" % reason, flush=True)
    return SKIP


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                     "\u2066-\u2069]")


# The suite's PostgreSQL pass (tools/test): CHAT_TEST_STORE=pg puts every
# server these libraries start (main servers and key servers) on a
# PostgreSQL database of its own, on the server tests/support/pgtemp.sh
# started for the pass (CHAT_TEST_PG_URL).
STORE = os.environ.get("CHAT_TEST_STORE", "")


def psql_program():
    """psql's path, or None."""
    found = shutil.which("psql")
    if found:
        return found
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else None


def store_url(data_dir):
    """The store of the server whose data directory is data_dir: None
    (SQLite in data_dir), or under CHAT_TEST_STORE=pg the URL of a database
    named for data_dir, made on first use: the same database every time a
    server starts on that directory (restarts keep their data), another for
    each directory (a key server's is not its main server's) and each
    test."""
    if STORE == "":
        return None
    base = os.environ.get("CHAT_TEST_PG_URL", "")
    if STORE != "pg" or not base:
        raise RuntimeError("CHAT_TEST_STORE=%r needs CHAT_TEST_STORE=pg and CHAT_TEST_PG_URL "
                           "(run under tests/support/pgtemp.sh)" % STORE)
    name = "t_" + hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:20]
    parts = urllib.parse.urlsplit(base)
    url = "%s://%s/%s%s" % (parts.scheme, parts.netloc, name,
                            "?" + parts.query if parts.query else "")
    psql = psql_program()
    if not psql:
        raise RuntimeError("CHAT_TEST_STORE=pg but there is no psql")
    exists = subprocess.run([psql, base, "-qAt", "-c",
                             "SELECT 1 FROM pg_database WHERE datname = '%s'" % name],
                            capture_output=True, text=True, check=True).stdout.strip()
    if exists != "1":
        subprocess.run([psql, base, "-q", "-c", "CREATE DATABASE %s" % name],
                       capture_output=True, text=True, check=True)
    return url


def store_args(data_dir):
    """The options that choose the store of a server (main or key server)
    whose data directory is data_dir: none (SQLite in data_dir), or under
    CHAT_TEST_STORE=pg ["--store", store_url(data_dir)]."""
    url = store_url(data_dir)
    return ["--store", url] if url else []


def printable(text):
    """text with terminal controls shown as escapes: for printing what a
    child process wrote (which may be hostile) to the developer's terminal."""
    return _UNSAFE.sub(lambda m: ("\\x%02x" if ord(m.group()) < 0x100 else "\\u%04x")
                       % ord(m.group()), text)


def plain_word(text):
    """A command word for plain mode (src/client/plain/plainfmt.h): backslash,
    spaces and control bytes escaped."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == " " or ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def plain_text(text):
    """The text of a send: the rest of the line, spaces kept, backslashes
    and control bytes escaped."""
    return plain_word(text).replace("\\x20", " ")


def read_lines(stream, lines, cv):
    """Thread body: append every line of stream (decoded, newline
    stripped) to lines, notifying cv; notify once more at the end."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with cv:
            lines.append(line)
            cv.notify_all()
    with cv:
        cv.notify_all()


def search_lines(cv, lines, pattern, since, deadline, dead):
    """(index, match) of the first line at or after since matching the
    compiled pattern, waiting on cv until the monotonic deadline or until
    dead() says no more lines can come; None then."""
    with cv:
        i = since
        while True:
            while i < len(lines):
                m = pattern.search(lines[i])
                if m:
                    return i, m
                i += 1
            left = deadline - time.monotonic()
            if left <= 0 or dead():
                return None
            cv.wait(min(left, 0.2))
