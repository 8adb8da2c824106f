"""Signature verification and hashes, as Bitcoin Core does them over libsecp256k1 (through coincurve's bindings).

ECDSA follows `CPubKey::Verify` (src/pubkey.cpp): the public key is parsed by libsecp256k1
(compressed, uncompressed or hybrid), the signature by Core's lenient `ecdsa_signature_parse_der_lax`
— whatever the verification flags, which only decide which *encodings* the interpreter lets through —
then normalised to low S before verifying, since high S has always been valid on chain.
Schnorr is BIP340 (`XOnlyPubKey::VerifySchnorr`); taproot tweaks are checked with libsecp256k1's
`xonly_pubkey_tweak_add_check`, as `XOnlyPubKey::CheckTapTweak` does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

# The order of the secp256k1 group, and half of it (BIP146 low S).
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_ORDER = SECP256K1_ORDER // 2

_CTX: Any = GLOBAL_CONTEXT.ctx


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash256(data: bytes) -> bytes:
    """Double SHA-256: txids and the legacy and BIP143 signature hashes."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256: P2PKH, P2SH and P2WPKH commitments."""
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def ripemd160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", data).digest()


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def tagged_hasher(tag: str) -> Any:
    """BIP340 tagged hash, ready for the message: SHA256(SHA256(tag) || SHA256(tag) || …). Copy before use."""
    tag_hash = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(tag_hash + tag_hash)


def tagged_hash(tag: str, data: bytes) -> bytes:
    h = tagged_hasher(tag)
    h.update(data)
    return bytes(h.digest())


def parse_der_lax(der: bytes) -> tuple[int, int] | None:
    """(r, s) of a DER-ish signature as Core's `ecdsa_signature_parse_der_lax` reads it, or None where it gives up.

    It tolerates what BIP66 forbids — long-form lengths, padding, trailing bytes after S — and an
    integer wider than 32 bytes (after its leading zeros) or not below the group order becomes the
    invalid signature (0, 0), which verifies against nothing.
    """
    n = len(der)
    pos = 0
    if pos == n or der[pos] != 0x30:
        return None
    pos += 1
    if pos == n:
        return None
    lenbyte = der[pos]
    pos += 1
    if lenbyte & 0x80:  # the sequence length is skipped, whatever it says
        lenbyte -= 0x80
        if lenbyte > n - pos:
            return None
        pos += lenbyte
    parts: list[bytes] = []
    for _ in range(2):
        if pos == n or der[pos] != 0x02:
            return None
        pos += 1
        if pos == n:
            return None
        lenbyte = der[pos]
        pos += 1
        if lenbyte & 0x80:
            lenbyte -= 0x80
            if lenbyte > n - pos:
                return None
            while lenbyte > 0 and der[pos] == 0:
                pos += 1
                lenbyte -= 1
            if lenbyte >= 4:
                return None
            length = int.from_bytes(der[pos : pos + lenbyte], "big")
            pos += lenbyte
        else:
            length = lenbyte
        if length > n - pos:
            return None
        parts.append(der[pos : pos + length])
        pos += length
    values = []
    for raw in parts:
        raw = raw.lstrip(b"\x00")
        if len(raw) > 32:
            return 0, 0
        values.append(int.from_bytes(raw, "big"))
    r, s = values
    if r >= SECP256K1_ORDER or s >= SECP256K1_ORDER:
        return 0, 0
    return r, s


def is_low_s(der: bytes) -> bool:
    """Core's `CPubKey::CheckLowS`: S (as the lax parser reads it) is at most half the group order."""
    rs = parse_der_lax(der)
    return rs is not None and rs[1] <= SECP256K1_HALF_ORDER


def pubkey_size(header: int) -> int:
    """`CPubKey::GetLen`: the size a public key must have given its first byte, 0 for an unknown one."""
    if header in (2, 3):
        return 33
    if header in (4, 6, 7):
        return 65
    return 0


def ecdsa_verify(der: bytes, pubkey: bytes, msg32: bytes) -> bool:
    """`CPubKey::Verify`: a lax-DER signature (no hash type byte) by `pubkey` over a 32-byte hash."""
    if not pubkey or pubkey_size(pubkey[0]) != len(pubkey):
        return False
    rs = parse_der_lax(der)
    if rs is None:
        return False
    r, s = rs
    if r == 0 or s == 0:
        return False
    if s > SECP256K1_HALF_ORDER:
        s = SECP256K1_ORDER - s
    key = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ec_pubkey_parse(_CTX, key, pubkey, len(pubkey)):
        return False
    sig = ffi.new("secp256k1_ecdsa_signature *")
    if not lib.secp256k1_ecdsa_signature_parse_compact(_CTX, sig, r.to_bytes(32, "big") + s.to_bytes(32, "big")):
        return False
    return bool(lib.secp256k1_ecdsa_verify(_CTX, sig, msg32, key))


def schnorr_verify(sig64: bytes, xonly: bytes, msg32: bytes) -> bool:
    """BIP340 verification; a 32-byte key that is not the x coordinate of a curve point verifies nothing."""
    key = ffi.new("secp256k1_xonly_pubkey *")
    if not lib.secp256k1_xonly_pubkey_parse(_CTX, key, xonly):
        return False
    return bool(lib.secp256k1_schnorrsig_verify(_CTX, sig64, msg32, 32, key))


def check_tap_tweak(output_key: bytes, internal_key: bytes, tweak: bytes, parity: int) -> bool:
    """BIP341 commitment check: output_key (with the given Y parity) = internal_key + tweak·G."""
    key = ffi.new("secp256k1_xonly_pubkey *")
    if not lib.secp256k1_xonly_pubkey_parse(_CTX, key, internal_key):
        return False
    return bool(lib.secp256k1_xonly_pubkey_tweak_add_check(_CTX, output_key, parity, key, tweak))


def tweak_xonly(internal_key: bytes, tweak: bytes) -> tuple[bytes, int] | None:
    """(output key, its Y parity) of internal_key + tweak·G, or None if the key or tweak is invalid."""
    key = ffi.new("secp256k1_xonly_pubkey *")
    if not lib.secp256k1_xonly_pubkey_parse(_CTX, key, internal_key):
        return None
    full = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_xonly_pubkey_tweak_add(_CTX, full, key, tweak):
        return None
    out = ffi.new("secp256k1_xonly_pubkey *")
    parity = ffi.new("int *")
    lib.secp256k1_xonly_pubkey_from_pubkey(_CTX, out, parity, full)
    buf = ffi.new("unsigned char[32]")
    lib.secp256k1_xonly_pubkey_serialize(_CTX, buf, out)
    return bytes(ffi.buffer(buf, 32)), int(parity[0])
