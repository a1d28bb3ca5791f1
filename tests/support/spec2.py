"""spec2 - protocol 2's end-to-end formats, written from proto/README.md
alone (sections 5, 10, 11, 12 and 13; field numbers from the .proto files),
with python3-cryptography and the standard library; never from libchat's
code. Shared by tests/interop/e2e_interop.py (a second client, against
libchat) and tests/vectors/v2/compute.py (the unit tests' known answers).

Protobuf is encoded and decoded by hand: proto3's wire format for the few
messages used here is varints and length-delimited fields, and writing it
out checks the byte layout the spec promises (canonical encoding, section
11) instead of trusting a library's.
"""
import base64
import hashlib
import hmac
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


# ---------------------------------------------------------------- proto3 by hand

def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f_varint(number, value):
    """A varint field; proto3 leaves a default (0, false) out."""
    return varint(number << 3) + varint(value) if value else b""


def f_bytes(number, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return varint(number << 3 | 2) + varint(len(data)) + data if data else b""


def f_repeated(number, items):
    return b"".join(varint(number << 3 | 2) + varint(len(s.encode())) + s.encode()
                    for s in items)


def decode(data):
    """Fields of a message: {number: [values]} (ints for varints, bytes
    for length-delimited), and their numbers in the order they came."""
    fields, order, i = {}, [], 0

    def read_varint():
        nonlocal i
        shift = value = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(data):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value = read_varint()
        elif wire_type == 2:
            length = read_varint()
            if i + length > len(data):
                raise ValueError("field runs past the end")
            value = data[i:i + length]
            i += length
        else:
            raise ValueError("wire type %d not used by these messages" % wire_type)
        fields.setdefault(number, []).append(value)
        order.append(number)
    return fields, order


def one(fields, number, default):
    values = fields.get(number)
    return values[-1] if values else default


# ---------------------------------------------------------------- the spec's crypto

NAME_ORDER = lambda name: name.lower().encode()   # section 11: lower-case form, bytewise

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def der(key):
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(der_bytes):
    """Section "Notation": SHA256: and the standard base64 without '='."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(der_bytes).digest()).decode().rstrip("=")


def sign(key, label, data, pss=PSS):
    """SIGN(key, label, data) = RSA-PSS over label || 0x00 || data."""
    return key.sign(label.encode() + b"\x00" + data, pss, hashes.SHA256())


def verify(public, label, data, signature):
    try:
        public.verify(signature, label.encode() + b"\x00" + data, PSS, hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def salted_password(password, salt, iterations):
    """Section 5: PBKDF2-HMAC-SHA-256(password, salt, iterations), 32 bytes."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)


def seal_key(salted):
    """Section 10: HKDF-SHA-256(ikm = SaltedPassword, no salt,
    info = "chat/2 identity seal", 32 bytes), used as a Fernet key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"chat/2 identity seal").derive(salted)


def fernet(key):
    return Fernet(base64.urlsafe_b64encode(key))


def key_check(key, conversation, epoch):
    """Section 11: HMAC-SHA-256(key, "chat/2 key check" || id || BE64(epoch))."""
    return hmac.new(key, b"chat/2 key check" + conversation + struct.pack(">Q", epoch),
                    "sha256").digest()


def identity_secret(username, private_key):
    pkcs8 = private_key.private_bytes(serialization.Encoding.DER,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    return f_bytes(1, username) + f_bytes(2, pkcs8)


def statement(conversation, epoch, actor, action, members, admins, title, check, made_at,
              previous=b"", subjects=(), direct=False):
    """A MembershipStatement, canonical: fields ascending, defaults left out."""
    return (f_bytes(1, conversation) + f_varint(2, epoch) + f_bytes(3, previous)
            + f_bytes(4, actor) + f_varint(5, action) + f_repeated(6, subjects)
            + f_repeated(7, members) + f_repeated(8, admins) + f_bytes(9, title)
            + f_varint(10, 1 if direct else 0) + f_bytes(11, check) + f_varint(12, made_at))


def signed(body, signature):
    """SignedStatement / SignedMessage: body = 1, signature = 2."""
    return f_bytes(1, body) + f_bytes(2, signature)


def message_body(conversation, sender, sent_at, client_message_id, text, epoch):
    return (f_bytes(1, conversation) + f_bytes(2, sender) + f_varint(3, sent_at)
            + f_bytes(4, client_message_id) + f_bytes(5, text) + f_varint(6, epoch))


def safety_number(user_a, der_a, user_b, der_b):
    """Section 10."""
    def half(user, key_der):
        h = hashlib.sha256(b"chat/2 safety number\x00" + user.lower().encode() + b"\x00"
                           + key_der).digest()
        for _ in range(5199):
            h = hashlib.sha256(h + key_der).digest()
        return ["%05d" % (int.from_bytes(h[5 * i:5 * i + 5], "big") % 100000)
                for i in range(6)]
    first, second = sorted([(user_a, der_a), (user_b, der_b)], key=lambda p: NAME_ORDER(p[0]))
    return " ".join(half(*first) + half(*second))
