"""chatproc - what the Python test libraries (tests/client/plainlib.py,
tests/e2e/e2elib.py) share about the processes they drive: a reader thread
that keeps every line of a stream, a deadline-bounded search over those
lines, and the plain-mode command word.

Each library keeps its own Proc class and its own failure type; these are
the parts that are the same in both.
"""
import os
import re
import time

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
