#!/usr/bin/python3
"""End-to-end interop of protocol 2: a client written from proto/README.md
alone (sections 5, 10, 11, 12 and 13, field numbers from the .proto files),
with python3-cryptography, against libchat through e2e-tool.

1. Python makes a sealed identity for alice, an epoch key wrapped for her, a
   CREATE statement signed by Bob with the key check, and a message from Bob;
   e2e-tool (libchat, as alice's client) must accept all of it, and refuse
   each thing the spec says a client refuses.
2. e2e-tool makes the same for alice with Python's Bob as the other member;
   Python opens the sealed identity with the password, unwraps both copies of
   the key, checks the key check, verifies the statement and the message.
3. Safety numbers agree.

The formats themselves are tests/support/spec2.py, written from the spec
text alone (protobuf by hand: nothing but python3-cryptography is needed).

Usage: e2e_interop.py PATH-TO-e2e-tool
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    from cryptography.fernet import InvalidToken
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
except ImportError as error:
    sys.exit("FAIL: python3-cryptography is missing (%s); tools/setup installs it" % error)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from spec2 import (NAME_ORDER, OAEP, PSS, decode, der, f_varint,  # noqa: E402
                   fernet, fingerprint, identity_secret, key_check, message_body,
                   one, safety_number, salted_password, seal_key, sign, signed,
                   statement, verify)

failures = []


def check(condition, what):
    if condition:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)


# ---------------------------------------------------------------- the tool

TOOL = sys.argv[1] if len(sys.argv) == 2 else sys.exit("usage: e2e_interop.py E2E-TOOL")


def tool(*args):
    run = subprocess.run([TOOL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=120)
    return run.returncode, run.stdout.decode(), run.stderr.decode()


def write(directory, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def read(directory, name):
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# ---------------------------------------------------------------- 1. Python -> libchat

def make_python_side(directory, alice, bob, **change):
    """Everything alice's client receives when Bob creates a conversation
    with her and writes to it. change overrides single pieces."""
    password = change.get("password", "interop password")
    salt = os.urandom(16)
    iterations = 4096
    salted = salted_password(change.get("sealing_password", password), salt, iterations)
    secret = identity_secret(change.get("sealed_name", "alice"), alice)
    sealed = fernet(seal_key(salted)).encrypt(secret)
    conversation = os.urandom(16)
    epoch_key = os.urandom(32)
    oaep = change.get("oaep", OAEP)
    wrapped = change.get("wrap_for", alice).public_key().encrypt(epoch_key, oaep)
    members = sorted(["Bob", "alice"], key=NAME_ORDER)
    check_epoch = change.get("check_epoch", 1)
    made_at = int(time.time() * 1000)
    st = change.get("statement_bytes") or statement(
        conversation, 1, "Bob", 1, change.get("members", members),
        change.get("admins", ["Bob"]), "from python",
        key_check(epoch_key, conversation, check_epoch), made_at)
    if "reorder" in change:
        # the same fields, made_at (12, the last) moved to the front
        last = f_varint(12, made_at)
        assert st.endswith(last)
        st = last + st[:-len(last)]
    statement_label = change.get("statement_label", "chat/2 statement")
    statement_key = change.get("statement_signer", bob)
    if statement_label is None:
        st_signature = statement_key.sign(st, PSS, hashes.SHA256())
    else:
        st_signature = sign(statement_key, statement_label, st)
    text = "hello from python, \u00e9t\u00e9 \u2713"
    body = message_body(change.get("body_conversation", conversation),
                        change.get("body_sender", "Bob"), made_at, os.urandom(16), text,
                        change.get("body_epoch", 1))
    signature = sign(bob, change.get("message_label", "chat/2 message"), body,
                     change.get("message_pss", PSS))
    token = fernet(change.get("message_key", epoch_key)).encrypt(signed(body, signature))
    files = {
        "username": "alice", "password": password, "salt": salt,
        "iterations": str(iterations), "identity.sealed": sealed,
        "identity.pub": change.get("announced", der(alice)), "conversation": conversation,
        "wrapped": wrapped, "create": signed(st, st_signature), "creator": "Bob",
        "creator.pub": der(bob), "message": token, "sender": "Bob", "text": text,
    }
    for name, data in files.items():
        write(directory, name, data)
    return text


def python_to_libchat(work):
    alice, bob, mallory = new_key(), new_key(), new_key()
    good = os.path.join(work, "good")
    os.mkdir(good)
    text = make_python_side(good, alice, bob)
    code, out, err = tool("accept", good)
    check(code == 0, "libchat accepts what Python made from the spec (%s)" % err.strip())
    lines = out.splitlines()
    check("ok identity " + fingerprint(der(alice)) in lines,
          "libchat opens the sealed identity to alice's key (fingerprint %s)"
          % fingerprint(der(alice)))
    check("ok statement epoch 1 actor Bob members alice,Bob" in lines,
          "libchat verifies Bob's CREATE: epoch 1, members sorted by lower-case name")
    check("ok unwrap" in lines and "ok key-check" in lines,
          "libchat unwraps the epoch key and it matches the statement's key check")
    check("ok message " + text in lines, "libchat opens Bob's signed message")

    # What the spec says a client refuses
    refusals = [
        ("wrong password", dict(sealing_password="other password"), "identity", "ERR_BAD_MAC"),
        ("identity sealed for another name", dict(sealed_name="mallory"),
         "identity", "ERR_BAD_REQUEST"),
        ("identity announced as another key", dict(announced=der(mallory)),
         "identity", "ERR_BAD_KEY"),
        ("statement signed by another key", dict(statement_signer=mallory),
         "statement", "ERR_BAD_STATEMENT"),
        ("statement signed without its label", dict(statement_label=None),
         "statement", "ERR_BAD_STATEMENT"),
        ("statement signed as a message", dict(statement_label="chat/2 message"),
         "statement", "ERR_BAD_STATEMENT"),
        ("statement not canonically encoded", dict(reorder=True),
         "statement", "ERR_BAD_STATEMENT"),
        ("statement naming another admin", dict(admins=["alice"]),
         "statement", "ERR_BAD_STATEMENT"),
        ("statement with members unsorted", dict(members=["Bob", "alice"]),
         "statement", "ERR_BAD_STATEMENT"),
        ("key check of another epoch", dict(check_epoch=2), "key-check", "ERR_BAD_MAC"),
        ("key wrapped for someone else", dict(wrap_for=mallory), "unwrap", "ERR_MALFORMED"),
        ("key wrapped with OAEP-SHA-1", dict(oaep=padding.OAEP(
            mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)),
         "unwrap", "ERR_MALFORMED"),
        ("message naming another sender", dict(body_sender="alice"),
         "message", "ERR_BAD_REQUEST"),
        ("message naming another epoch", dict(body_epoch=2), "message", "ERR_BAD_REQUEST"),
        ("message naming another conversation", dict(body_conversation=os.urandom(16)),
         "message", "ERR_BAD_REQUEST"),
        ("message signed as a statement", dict(message_label="chat/2 statement"),
         "message", "ERR_BAD_SIGNATURE"),
        ("message signed with PSS salt 20", dict(message_pss=padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()), salt_length=20)),
         "message", "ERR_BAD_SIGNATURE"),
        ("message under another key", dict(message_key=os.urandom(32)),
         "message", "ERR_BAD_MAC"),
    ]
    for index, (what, change, step, code_name) in enumerate(refusals):
        directory = os.path.join(work, "refusal%d" % index)
        os.mkdir(directory)
        make_python_side(directory, alice, bob, **change)
        code, out, err = tool("accept", directory)
        check(code == 1 and ("FAIL %s %s" % (step, code_name)) in err,
              "%s: libchat refuses at %s with %s (exit %d, %r)"
              % (what, step, code_name, code, err.strip()))


# ---------------------------------------------------------------- 2. libchat -> Python

def libchat_to_python(work):
    bob = new_key()
    directory = os.path.join(work, "made")
    os.mkdir(directory)
    write(directory, "peer.pub", der(bob))
    write(directory, "peer", "bob")
    code, out, err = tool("make", directory)
    check(code == 0, "e2e-tool makes a conversation with Python's bob (%s)" % err.strip())
    if code != 0:
        return

    # The sealed identity, opened with the password alone
    password = read(directory, "password").decode()
    salt = read(directory, "salt")
    iterations = int(read(directory, "iterations"))
    check(len(salt) >= 16 and iterations >= 4096, "salt of 16 bytes, at least 4096 iterations")
    key = seal_key(salted_password(password, salt, iterations))
    try:
        secret = fernet(key).decrypt(read(directory, "identity.sealed"))
    except InvalidToken:
        check(False, "Python opens libchat's sealed identity with the password")
        return
    check(True, "Python opens libchat's sealed identity with the password")
    fields, _ = decode(secret)
    check(one(fields, 1, b"") == b"alice", "the IdentitySecret names alice")
    identity = serialization.load_der_private_key(one(fields, 2, b""), password=None)
    check(isinstance(identity, rsa.RSAPrivateKey)
          and identity.public_key().public_numbers().e == 65537
          and 2048 <= identity.key_size <= 4096,
          "its private_key is PKCS#8 RSA (%d bits, e = 65537)" % identity.key_size)
    announced = read(directory, "identity.pub")
    check(der(identity) == announced, "and it is the identity key libchat announces")
    try:
        fernet(seal_key(salted_password(password + "x", salt, iterations))).decrypt(
            read(directory, "identity.sealed"))
        check(False, "another password does not open it")
    except InvalidToken:
        check(True, "another password does not open it")

    # The epoch key: both members' copies
    wrapped = read(directory, "wrapped")
    wrapped_peer = read(directory, "wrapped.peer")
    check(len(wrapped) == 256 and len(wrapped_peer) == 256, "wrapped keys are 256 bytes")
    epoch_key = identity.decrypt(wrapped, OAEP)
    check(len(epoch_key) == 32, "alice's copy unwraps to 32 bytes with her identity")
    check(bob.decrypt(wrapped_peer, OAEP) == epoch_key, "bob's copy unwraps to the same key")

    # The CREATE statement
    conversation = read(directory, "conversation")
    fields, _ = decode(read(directory, "create"))
    st, st_signature = one(fields, 1, b""), one(fields, 2, b"")
    public = serialization.load_der_public_key(announced)
    check(verify(public, "chat/2 statement", st, st_signature),
          "the statement verifies: SIGN(alice, \"chat/2 statement\", statement)")
    check(not verify(public, "chat/2 message", st, st_signature),
          "and not under another label")
    fields, order = decode(st)
    check(order == sorted(order)
          and all(order.count(n) == 1 for n in set(order) - {6, 7, 8}),
          "the statement is canonically encoded (fields ascending, each once)")
    check(one(fields, 1, b"") == conversation and one(fields, 2, 0) == 1
          and one(fields, 3, b"") == b"" and one(fields, 4, b"") == b"alice"
          and one(fields, 5, 0) == 1,
          "CREATE by alice: conversation id, epoch 1, no previous hash")
    members = [m.decode() for m in fields.get(7, [])]
    check(members == sorted(["alice", "bob"], key=NAME_ORDER) and
          [a.decode() for a in fields.get(8, [])] == ["alice"] and not fields.get(6)
          and one(fields, 10, 0) == 0 and one(fields, 9, b"") == b"interop",
          "members %s, admins [alice], no subjects, a group titled 'interop'" % members)
    check(one(fields, 11, b"") == key_check(epoch_key, conversation, 1),
          "its key_check is HMAC-SHA-256(key, \"chat/2 key check\" || id || BE64(1))")
    rebuilt = statement(one(fields, 1, b""), 1, "alice", 1, members, ["alice"], "interop",
                        one(fields, 11, b""), one(fields, 12, 0))
    check(rebuilt == st, "re-encoded from its fields it is the very same bytes")

    # The message
    try:
        plain = fernet(epoch_key).decrypt(read(directory, "message"))
    except InvalidToken:
        check(False, "Python opens libchat's message with the epoch key")
        return
    fields, _ = decode(plain)
    body, signature = one(fields, 1, b""), one(fields, 2, b"")
    check(verify(public, "chat/2 message", body, signature),
          "the message verifies: SIGN(alice, \"chat/2 message\", body)")
    fields, order = decode(body)
    check(order == sorted(order), "the body is canonically encoded")
    text = read(directory, "text").decode()
    check(one(fields, 1, b"") == conversation and one(fields, 2, b"") == b"alice"
          and one(fields, 6, 0) == 1 and len(one(fields, 4, b"")) == 16
          and one(fields, 5, b"").decode() == text
          and abs(one(fields, 3, 0) - time.time() * 1000) < 600000,
          "MessageBody names the conversation, alice, epoch 1, a 16-byte id, the text %r"
          % text)

    # Section 10: the same safety number on both sides
    write(directory, "bob.pub", der(bob))
    code, out, err = tool("safety", "alice", os.path.join(directory, "identity.pub"),
                          "bob", os.path.join(directory, "bob.pub"))
    expected = safety_number("alice", announced, "bob", der(bob))
    check(code == 0 and out.strip() == expected,
          "safety number: libchat %r, Python %r" % (out.strip(), expected))
    code, out, err = tool("safety", "Bob", os.path.join(directory, "bob.pub"),
                          "ALICE", os.path.join(directory, "identity.pub"))
    check(code == 0 and out.strip() == expected,
          "the same in the other order, any case of the names")


def main():
    code, out, _ = tool("--help")
    check(code == 0 and "usage" in out, "e2e-tool --help exits 0")
    code, out, _ = tool("--version")
    check(code == 0 and out.startswith("e2e-tool "), "e2e-tool --version exits 0")
    code, _, _ = tool("accept")
    check(code == 2, "e2e-tool with a missing DIR exits 2")
    work = tempfile.mkdtemp(prefix="e2e_interop.")
    try:
        python_to_libchat(work)
        libchat_to_python(work)
    finally:
        shutil.rmtree(work)
    if failures:
        print("\n%d check(s) failed" % len(failures))
        sys.exit(1)
    print("\nall end-to-end interop checks passed")


if __name__ == "__main__":
    main()
