#!/usr/bin/python3
"""Known-answer vectors of protocol 2, computed from proto/README.md alone.

Written from the text of proto/README.md sections 10 (sealed identity,
safety number), 11 (key check, wrapped epoch key) and 5 (SaltedPassword),
with python3-cryptography and the standard library; not from libchat's
code. The C unit tests (test_identity.c, test_epochkey.c) hold the printed
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

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))

# RFC 7677 section 3's password and salt, so SaltedPassword is checkable
PASSWORD = b"pencil"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
ITERATIONS = 4096
SEAL_TIME = 1700000000
SEAL_IV = bytes(range(16))
EPOCH_KEY = bytes(range(32))
CONVERSATION = bytes(range(0xA0, 0xB0))


def load(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def public_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def hkdf(ikm, info):
    """HKDF-SHA-256, no salt, 32 bytes (sections 3 and 10)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def fernet(key, plaintext, now, iv):
    """A Fernet token (github.com/fernet/spec) with a given IV and time."""
    signing, encryption = key[:16], key[16:]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(encryption), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    body = b"\x80" + struct.pack(">Q", now) + iv + ciphertext
    return base64.urlsafe_b64encode(body + hmac.new(signing, body, "sha256").digest())


def field(number, wire_type, payload):
    """One proto3 field: the tag as a varint, then the payload."""
    return varint(number << 3 | wire_type) + payload


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def length_delimited(number, data):
    return field(number, 2, varint(len(data)) + data)


def safety_half(name, der):
    """Section 10: one user's six groups of five digits."""
    h = hashlib.sha256(b"chat/2 safety number" + b"\x00" + name.lower().encode()
                       + b"\x00" + der).digest()
    for _ in range(5199):
        h = hashlib.sha256(h + der).digest()
    return ["%05d" % (int.from_bytes(h[5 * i:5 * i + 5], "big") % 100000) for i in range(6)]


def safety_number(user_a, der_a, user_b, der_b):
    halves = sorted([(user_a.lower().encode(), safety_half(user_a, der_a)),
                     (user_b.lower().encode(), safety_half(user_b, der_b))])
    return " ".join(halves[0][1] + halves[1][1])


def key_check(key, conversation, epoch):
    """Section 11: HMAC-SHA-256(key, "chat/2 key check" || id || BE64(epoch))."""
    return hmac.new(key, b"chat/2 key check" + conversation + struct.pack(">Q", epoch),
                    "sha256").digest()


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
    der_a, der_b = public_der(alice), public_der(bob)

    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD, SALT, ITERATIONS, 32)
    print("SaltedPassword(pencil, RFC 7677 salt, 4096) =", salted.hex())
    rfc7677_check(salted)
    seal_key = hkdf(salted, b"chat/2 identity seal")
    print("identity seal key =", seal_key.hex())

    pkcs8 = alice.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    secret = length_delimited(1, b"alice") + length_delimited(2, pkcs8)
    # The seal key as a Fernet key: signing half first (the Fernet spec)
    sealed = fernet(seal_key, secret, SEAL_TIME, SEAL_IV)
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
        wrapped = alice.public_key().encrypt(
            EPOCH_KEY, asym.OAEP(mgf=asym.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                                 label=None))
        with open(os.path.join(HERE, "wrapped_alice.hex"), "w") as f:
            f.write(wrapped.hex() + "\n")
        print("wrote sealed_alice.txt and wrapped_alice.hex")


if __name__ == "__main__":
    main()
