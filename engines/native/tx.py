"""Native transactions (opcodes 0x01–0x08): the byte format, signing and decoding (docs/PROTOCOL.md §7).

    envelope   = opcode u8 || chain_id u64 || signer 32 (id_com) || nonce u64 || flags u8
                 || [context 16, when flags bit 0] || payload || credential
    credential = 0x01 ed25519 pubkey 32 || signature 64
               | 0x02 secp256k1 compressed pubkey 33 || compact signature 64 (low s)
               | 0x03 attestation tag 32 = HMAC-SHA256(stream-8 key, digest)
    digest     = H("nvm/native/v1" || envelope without the credential)

Payloads reference accounts by `Ref` (an id_com or any VM's address) so a transfer can name a
MetaMask address, a Phantom pubkey, a Bitcoin script or a Tron address directly.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

import coincurve
from nacl.signing import SigningKey

from chain.auth import (
    ATTESTATION as ATTESTATION,
)
from chain.auth import (
    ED25519 as ED25519,
)
from chain.auth import (
    MAX_MEMBERS,
    Cosig,
    Credential,
    attestation_credential,
    ed25519_credential,
    read_credential,
    secp256k1_credential,
    verify_credential,
)
from chain.auth import (
    MULTISIG as MULTISIG,
)
from chain.auth import (
    SECP256K1 as SECP256K1,
)
from chain.errors import AdmissionError
from chain.hashing import H, Reader

SIGNING_DOMAIN = b"nvm/native/v1"

TRANSFER, CREATE_ACCOUNT, AUTH_KEY, CREATE_MINT, MINT_TO, BURN, APPROVE, TRANSFER_FROM = range(0x01, 0x09)
OPCODE_NAMES = {
    TRANSFER: "transfer",
    CREATE_ACCOUNT: "create_account",
    AUTH_KEY: "auth_key",
    CREATE_MINT: "create_mint",
    MINT_TO: "mint_to",
    BURN: "burn",
    APPROVE: "approve",
    TRANSFER_FROM: "transfer_from",
}
FLAG_CONTEXT = 0x01


# AUTH_KEY actions
ADD, REMOVE, REPLACE = 0x01, 0x02, 0x03

# Ref kinds: how a payload names an account
REF_ID_COM, REF_EVM, REF_SVM, REF_BTC, REF_TRON = 0x00, 0x01, 0x02, 0x03, 0x04
REF_TAGS = {REF_EVM: "evm", REF_SVM: "svm", REF_BTC: "btc", REF_TRON: "tron"}
REF_KINDS = {v: k for k, v in REF_TAGS.items()}
REF_FIXED_LEN = {REF_ID_COM: 32, REF_EVM: 20, REF_SVM: 32, REF_TRON: 21}
MAX_SCRIPT = 10_000  # Bitcoin Core's MAX_SCRIPT_SIZE

MAX_SYMBOL, MAX_NAME, MAX_DECIMALS = 16, 64, 18


@dataclass(frozen=True)
class Ref:
    """An account named in a payload: kind 0 is an id_com, the others an address of that VM."""

    kind: int
    data: bytes

    def encode(self) -> bytes:
        if self.kind == REF_BTC:
            return bytes((REF_BTC,)) + len(self.data).to_bytes(2, "big") + self.data
        return bytes((self.kind,)) + self.data

    @property
    def tag(self) -> str | None:
        return REF_TAGS.get(self.kind)


@dataclass(frozen=True)
class Factor:
    """An auth factor as a payload carries it. For attestation, `data` is the sealed box of the key."""

    scheme: int
    data: bytes

    def encode(self) -> bytes:
        if self.scheme == ATTESTATION:
            return bytes((ATTESTATION,)) + len(self.data).to_bytes(2, "big") + self.data
        return bytes((self.scheme,)) + self.data


def multisig_factor(threshold: int, members: list[bytes]) -> Factor:
    """A multisig account's only factor: `threshold u8 || n u8 || sorted member id_coms`."""
    ordered = sorted(members)
    return Factor(MULTISIG, bytes((threshold, len(ordered))) + b"".join(ordered))


@dataclass(frozen=True)
class NativeTx:
    opcode: int
    chain_id: int
    signer: bytes
    nonce: int
    context: bytes | None
    payload: dict[str, object]
    credential: Credential
    signed: bytes  # the envelope without the credential

    @property
    def scheme(self) -> int:
        return self.credential.scheme

    @property
    def public(self) -> bytes:
        return self.credential.public

    @property
    def cosigs(self) -> tuple[Cosig, ...]:
        return self.credential.cosigs

    @property
    def digest(self) -> bytes:
        return H(SIGNING_DOMAIN + self.signed)


# -- encoding ---------------------------------------------------------------------------------
def encode_payload(opcode: int, **p: object) -> bytes:
    def u64(name: str) -> bytes:
        v = p[name]
        if not isinstance(v, int) or not 0 <= v < 2**64:
            raise ValueError(f"{name} must be a u64")
        return v.to_bytes(8, "big")

    def ref(name: str) -> bytes:
        r = p[name]
        assert isinstance(r, Ref)
        return r.encode()

    def mint() -> bytes:
        m = p["mint"]
        assert isinstance(m, bytes) and len(m) == 32
        return m

    if opcode == TRANSFER or opcode == MINT_TO:
        return mint() + ref("to") + u64("amount")
    if opcode == CREATE_ACCOUNT:
        f = p["factor"]
        assert isinstance(f, Factor)
        return f.encode()
    if opcode == AUTH_KEY:
        action = p["action"]
        out = bytes((action,))  # type: ignore[arg-type]
        if action in (REMOVE, REPLACE):
            out += p["old"]  # type: ignore[operator]
        if action in (ADD, REPLACE):
            out += p["factor"].encode()  # type: ignore[attr-defined]
        return out
    if opcode == CREATE_MINT:
        sym, name = str(p["symbol"]).encode(), str(p["name"]).encode()
        return bytes((p["decimals"], len(sym))) + sym + bytes((len(name),)) + name  # type: ignore[arg-type]
    if opcode == BURN:
        return mint() + u64("amount")
    if opcode == APPROVE:
        return mint() + ref("spender") + u64("amount")
    if opcode == TRANSFER_FROM:
        return mint() + ref("owner") + ref("to") + u64("amount")
    raise ValueError(f"no native opcode {opcode:#04x}")


def unsigned(opcode: int, chain_id: int, signer: bytes, nonce: int, payload: bytes, context: bytes | None = None) -> bytes:
    head = bytes((opcode,)) + chain_id.to_bytes(8, "big") + signer + nonce.to_bytes(8, "big")
    if context is None:
        return head + b"\x00" + payload
    if len(context) != 16:
        raise ValueError("a context tag is 16 bytes")
    return head + bytes((FLAG_CONTEXT,)) + context + payload


def digest_of(unsigned_envelope: bytes) -> bytes:
    return H(SIGNING_DOMAIN + unsigned_envelope)


def sign_ed25519(unsigned_envelope: bytes, key: SigningKey) -> bytes:
    return unsigned_envelope + ed25519_credential(digest_of(unsigned_envelope), key)


def sign_secp256k1(unsigned_envelope: bytes, key: coincurve.PrivateKey) -> bytes:
    return unsigned_envelope + secp256k1_credential(digest_of(unsigned_envelope), key)


def attest(unsigned_envelope: bytes, attestation_key: bytes) -> bytes:
    return unsigned_envelope + attestation_credential(digest_of(unsigned_envelope), attestation_key)


# -- decoding ---------------------------------------------------------------------------------
def _bad(msg: str) -> AdmissionError:
    return AdmissionError(msg, "malformed")


def _ref(r: Reader) -> Ref:
    kind = r.uint(1)
    if kind == REF_BTC:
        n = r.uint(2)
        if not 0 < n <= MAX_SCRIPT:
            raise _bad(f"a Bitcoin script reference must be 1–{MAX_SCRIPT} bytes")
        return Ref(kind, r.take(n))
    if kind not in REF_FIXED_LEN:
        raise _bad(f"unknown account reference kind {kind}")
    data = r.take(REF_FIXED_LEN[kind])
    if kind == REF_TRON and data[0] != 0x41:
        raise _bad("a Tron address is 0x41 followed by 20 bytes")
    return Ref(kind, data)


def _factor(r: Reader) -> Factor:
    scheme = r.uint(1)
    if scheme == ED25519:
        return Factor(scheme, r.take(32))
    if scheme == SECP256K1:
        key = r.take(33)
        if key[0] not in (2, 3):
            raise _bad("a secp256k1 auth key is a 33-byte compressed point")
        return Factor(scheme, key)
    if scheme == ATTESTATION:
        return Factor(scheme, r.var(2))
    if scheme == MULTISIG:
        threshold, n = r.uint(1), r.uint(1)
        members = [r.take(32) for _ in range(n)]
        if not 1 <= threshold <= n <= MAX_MEMBERS:
            raise _bad(f"a multisig has 1–{MAX_MEMBERS} members and a threshold of 1 to their number")
        if any(a >= b for a, b in itertools.pairwise(members)):
            raise _bad("multisig members must be distinct and sorted")
        return Factor(scheme, bytes((threshold, n)) + b"".join(members))
    raise _bad(f"unknown auth scheme {scheme}")


def _payload(opcode: int, r: Reader) -> dict[str, object]:
    if opcode in (TRANSFER, MINT_TO):
        return {"mint": r.take(32), "to": _ref(r), "amount": r.uint(8)}
    if opcode == CREATE_ACCOUNT:
        return {"factor": _factor(r)}
    if opcode == AUTH_KEY:
        action = r.uint(1)
        if action not in (ADD, REMOVE, REPLACE):
            raise _bad(f"unknown auth-key action {action}")
        out: dict[str, object] = {"action": action}
        if action in (REMOVE, REPLACE):
            out["old"] = r.take(32)
        if action in (ADD, REPLACE):
            out["factor"] = _factor(r)
        return out
    if opcode == CREATE_MINT:
        decimals = r.uint(1)
        try:
            symbol, name = r.var(1).decode(), r.var(1).decode()
        except UnicodeDecodeError:
            raise _bad("symbol and name must be UTF-8") from None
        if decimals > MAX_DECIMALS or not 0 < len(symbol.encode()) <= MAX_SYMBOL or len(name.encode()) > MAX_NAME:
            raise _bad(f"a mint has 0–{MAX_DECIMALS} decimals, a 1–{MAX_SYMBOL} byte symbol and a name of ≤ {MAX_NAME} bytes")
        return {"decimals": decimals, "symbol": symbol, "name": name}
    if opcode == BURN:
        return {"mint": r.take(32), "amount": r.uint(8)}
    if opcode == APPROVE:
        return {"mint": r.take(32), "spender": _ref(r), "amount": r.uint(8)}
    if opcode == TRANSFER_FROM:
        return {"mint": r.take(32), "owner": _ref(r), "to": _ref(r), "amount": r.uint(8)}
    raise AdmissionError(f"opcode {opcode:#04x} is not assigned in the native runtime", "unassigned_opcode")


_HEAD = struct.Struct(">BQ32sQB")  # opcode, chain_id, signer, nonce, flags


def decode(envelope: bytes) -> NativeTx:
    """Strict decoding; every defect is an AdmissionError with code `malformed` (or `unassigned_opcode`)."""
    r = Reader(envelope)
    try:
        if len(envelope) < _HEAD.size:
            raise ValueError(f"{len(envelope)} bytes is shorter than the {_HEAD.size}-byte header")
        opcode, chain_id, signer, nonce, flags = _HEAD.unpack_from(envelope)
        r.pos = _HEAD.size
        if opcode not in OPCODE_NAMES:
            raise AdmissionError(f"opcode {opcode:#04x} is not assigned in the native runtime", "unassigned_opcode")
        if flags & ~FLAG_CONTEXT:
            raise _bad(f"unknown flags {flags:#04x}")
        context = r.take(16) if flags & FLAG_CONTEXT else None
        payload = _payload(opcode, r)
        signed = envelope[: r.pos]
        credential = read_credential(r)
        r.done()
    except ValueError as e:
        raise _bad(f"native transaction: {e}") from None
    return NativeTx(opcode, chain_id, signer, nonce, context, payload, credential, signed)


def verify_signature(tx: NativeTx) -> bool:
    return verify_credential(tx.credential, tx.digest)


def cosign(unsigned_envelope: bytes, parts: list[tuple[int, bytes]]) -> bytes:
    """A multisig credential from the members' single-key credentials (as `sign_ed25519` & co. append them):
    `parts` is (member index, that member's credential bytes)."""
    return unsigned_envelope + bytes((MULTISIG, len(parts))) + b"".join(bytes((i,)) + cred for i, cred in parts)
