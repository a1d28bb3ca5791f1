#!/usr/bin/python3
"""Fernet interop: libchat (through fernet-tool) against python3-cryptography.

Each side must read the other's tokens, and fernet-tool must refuse tampered,
expired, future and wrong-key tokens made by Python with the right error
name. The clock is fixed on both sides (encrypt_at_time / --now), so nothing
depends on the wall clock. Usage: fernet_interop.py PATH-TO-fernet-tool
"""
import base64
import os
import random
import subprocess
import sys

try:
    from cryptography.fernet import Fernet, InvalidToken
except ImportError as error:
    sys.exit("FAIL: python3-cryptography is missing (%s); tools/setup installs it" % error)

NOW = 1700000000
TTL = 60
failures = []


def check(condition, what):
    if condition:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)


def tool(args, data, now=NOW):
    """Runs fernet-tool; returns (exit code, stdout bytes, stderr text)."""
    run = subprocess.run([TOOL, "--now", str(now), "--"] + args, input=data,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return run.returncode, run.stdout, run.stderr.decode("utf-8", "replace")


def tool_decrypt(key, token, ttl=TTL, now=NOW):
    return tool(["decrypt", key.decode(), str(ttl)], token, now)


def flip(token, index):
    """The token with one bit of decoded byte `index` flipped."""
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw))


def expect_refused(key, token, name, what, ttl=TTL, now=NOW):
    code, out, err = tool_decrypt(key, token, ttl, now)
    check(code == 1 and out == b"" and name in err,
          "%s: fernet-tool refuses with %s (exit %d, stderr %r)" % (what, name, code, err.strip()))


TOOL = sys.argv[1] if len(sys.argv) == 2 else sys.exit("usage: fernet_interop.py FERNET-TOOL")

rng = random.Random(20240601)
PLAINTEXTS = [
    ("empty", b""),
    ("ascii", b"hello"),
    ("one block", b"0123456789abcdef"),
    ("utf-8", "héllo wörld ✓ — 你好 🎉".encode("utf-8")),
    ("all bytes", bytes(range(256))),
    ("nul bytes", b"\x00" * 17),
    ("newlines", b"\n\r\n trailing newline\n"),
    ("random 1000", bytes(rng.getrandbits(8) for _ in range(1000))),
    ("64 KiB", bytes(rng.getrandbits(8) for _ in range(65536))),
]

key = Fernet.generate_key()
fernet = Fernet(key)
other = Fernet.generate_key()

# Sanity for the tool itself.
run = subprocess.run([TOOL, "--help"], stdout=subprocess.PIPE, timeout=60)
check(run.returncode == 0 and b"usage" in run.stdout, "fernet-tool --help exits 0")
# A key may begin with '-' (a sixty-fourth of them do): not an option.
dash = base64.urlsafe_b64encode(b"\xf8" + bytes(31))
run = subprocess.run([TOOL, "encrypt", dash.decode()], input=b"dash",
                     stdout=subprocess.PIPE, timeout=60)
check(dash.startswith(b"-") and run.returncode == 0
      and Fernet(dash).decrypt(run.stdout.strip()) == b"dash",
      "fernet-tool takes a key that begins with '-'")
code, _, _ = tool(["encrypt"], b"")
check(code == 2, "fernet-tool with a missing KEY exits 2")
code, _, _ = tool(["encrypt", "not-a-key"], b"")
check(code == 2, "fernet-tool with a bad KEY exits 2")

for name, plain in PLAINTEXTS:
    # libchat -> Python
    code, out, err = tool(["encrypt", key.decode()], plain)
    check(code == 0, "%s: fernet-tool encrypts (%s)" % (name, err.strip()))
    token = out.strip()
    try:
        back = fernet.decrypt_at_time(token, TTL, NOW + 5)
        check(back == plain, "%s: Python decrypts the libchat token" % name)
    except InvalidToken:
        check(False, "%s: Python decrypts the libchat token" % name)
    check(fernet.extract_timestamp(token) == NOW, "%s: Python reads the libchat timestamp" % name)
    try:
        Fernet(other).decrypt(token)
        check(False, "%s: Python refuses the libchat token under another key" % name)
    except InvalidToken:
        check(True, "%s: Python refuses the libchat token under another key" % name)

    # Python -> libchat
    token = fernet.encrypt_at_time(plain, NOW)
    code, out, err = tool_decrypt(key, token, TTL, NOW + 5)
    check(code == 0 and out == plain, "%s: fernet-tool decrypts the Python token (%s)"
          % (name, err.strip()))
    code, out, err = tool_decrypt(key, token + b"\n", 0, NOW + 10**8)
    check(code == 0 and out == plain, "%s: no TTL, no age limit" % name)

# Refusals of Python-made tokens.
token = fernet.encrypt_at_time(b"attack at dawn, bring the good biscuits", NOW)
raw_len = len(base64.urlsafe_b64decode(token))
expect_refused(key, flip(token, 0), "ERR_MALFORMED", "version byte flipped")
for index, region in ((8, "timestamp's last"), (12, "IV"), (30, "ciphertext"),
                      (raw_len - 1, "HMAC")):
    expect_refused(key, flip(token, index), "ERR_BAD_MAC", "%s byte flipped" % region)
# A stamp moved far (byte 4: 2**32 seconds) is read before the HMAC and
# refused for its time under a ttl, as the reference implementations do;
# with no ttl the HMAC still refuses it.
expect_refused(key, flip(token, 4), "ERR_BAD_MAC", "timestamp byte flipped, no ttl",
               ttl=0)
code, out, err = tool_decrypt(key, flip(token, 4), TTL, NOW)
check(code == 1 and out == b"" and ("ERR_EXPIRED" in err or "ERR_FUTURE" in err),
      "timestamp byte flipped: refused for its time (exit %d, stderr %r)" % (code, err.strip()))
expect_refused(other, token, "ERR_BAD_MAC", "wrong key")
expect_refused(key, token[:-8], "ERR_MALFORMED", "truncated text")
expect_refused(key, base64.urlsafe_b64encode(base64.urlsafe_b64decode(token)[:-16]),
               "ERR_BAD_MAC", "one block cut off")
expect_refused(key, b"%" + token[1:], "ERR_MALFORMED", "invalid base64")
expect_refused(key, fernet.encrypt_at_time(b"old", NOW - 1000), "ERR_EXPIRED", "expired")
expect_refused(key, fernet.encrypt_at_time(b"new", NOW + 1000), "ERR_FUTURE", "far future")

# The edges agree with Python's: stamp + ttl == now is still fine.
edge = fernet.encrypt_at_time(b"edge", NOW - TTL)
code, out, _ = tool_decrypt(key, edge)
check(code == 0 and out == b"edge", "stamp + ttl == now accepted by fernet-tool")
check(fernet.decrypt_at_time(edge, TTL, NOW) == b"edge", "and by Python")
code, out, _ = tool(["encrypt", key.decode()], b"old", now=NOW - TTL - 1)
try:
    fernet.decrypt_at_time(out.strip(), TTL, NOW)
    check(False, "Python refuses an expired libchat token")
except InvalidToken:
    check(True, "Python refuses an expired libchat token")

if failures:
    print("\n%d check(s) failed" % len(failures))
    sys.exit(1)
print("\nall interop checks passed")
