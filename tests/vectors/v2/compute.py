#!/usr/bin/python3
"""Known-answer vectors of protocol 2, computed from proto/README.md alone.

Written from the text of proto/README.md sections 10 (sealed identity,
safety number), 11 (key check, wrapped epoch key) and 5 (SaltedPassword),
with python3-cryptography and the standard library (the formats are
tests/support/spec2.py, which the end-to-end interop test shares); not from
libchat's code. The C unit tests (test_identity.c, test_epochkey.c) hold the printed
values as constants and open the files written here.

    compute.py            print every vector
    compute.py --write    also (re)write sealed_alice.txt and wrapped_alice.hex
                          (the wrapped key is randomized: OAEP)

Keys: alice.pem / bob.pem, RSA-2048 test keys made with
`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` (test data,
never used for anything else).
"""
import base64
import hashlib
import hmac
import os
import struct
import sys

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "support"))
from spec2 import (OAEP, der, identity_secret, key_check, safety_number,  # noqa: E402
                   salted_password, seal_key)

# RFC 7677 section 3's password and salt, so SaltedPassword is checkable
PASSWORD = "pencil"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
ITERATIONS = 4096
SEAL_TIME = 1700000000
SEAL_IV = bytes(range(16))
EPOCH_KEY = bytes(range(32))
CONVERSATION = bytes(range(0xA0, 0xB0))


def load(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def fernet_at(key, plaintext, now, iv):
    """A Fernet token (github.com/fernet/spec) with a given IV and time."""
    signing, encryption = key[:16], key[16:]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(encryption), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    body = b"\x80" + struct.pack(">Q", now) + iv + ciphertext
    return base64.urlsafe_b64encode(body + hmac.new(signing, body, "sha256").digest())


def rfc7677_check(salted):
    """The SaltedPassword is RFC 7677's: it gives section 3's proof and
    server signature (RFC 5802 section 3's formulas)."""
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = ("n=user,r=rOprNGfwEbeRWgbNEkqO,r=%s,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
            "c=biws,r=%s" % (nonce, nonce)).encode()
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    signature = hmac.new(stored_key, auth, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    server_signature = hmac.new(server_key, auth, "sha256").digest()
    assert base64.b64encode(proof) == b"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    assert base64.b64encode(server_signature) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    print("  (gives RFC 7677's ClientProof and ServerSignature)")
    print("  StoredKey =", stored_key.hex())
    print("  ServerKey =", server_key.hex())


def main():
    alice, bob = load("alice.pem"), load("bob.pem")
    der_a, der_b = der(alice), der(bob)

    salted = salted_password(PASSWORD, SALT, ITERATIONS)
    print("SaltedPassword(pencil, RFC 7677 salt, 4096) =", salted.hex())
    rfc7677_check(salted)
    key = seal_key(salted)
    print("identity seal key =", key.hex())

    # The seal key as a Fernet key: signing half first (the Fernet spec)
    sealed = fernet_at(key, identity_secret("alice", alice), SEAL_TIME, SEAL_IV)
    print("sealed identity of alice: %d characters, sha256 %s"
          % (len(sealed), hashlib.sha256(sealed).hexdigest()))

    print('safety number ("alice", alice.pem; "bob", bob.pem) =',
          safety_number("alice", der_a, "bob", der_b))
    print('safety number ("Zed", alice.pem; "bob", bob.pem) =',
          safety_number("Zed", der_a, "bob", der_b))

    for epoch in (1, 0x0102030405060708):
        print("key check (key 00..1f, id a0..af, epoch %#x) = %s"
              % (epoch, key_check(EPOCH_KEY, CONVERSATION, epoch).hex()))

    if "--write" in sys.argv:
        with open(os.path.join(HERE, "sealed_alice.txt"), "wb") as f:
            f.write(sealed + b"\n")
        wrapped = alice.public_key().encrypt(EPOCH_KEY, OAEP)
        with open(os.path.join(HERE, "wrapped_alice.hex"), "w") as f:
            f.write(wrapped.hex() + "\n")
        print("wrote sealed_alice.txt and wrapped_alice.hex")


if __name__ == "__main__":
    main()
