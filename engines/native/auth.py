"""Auth factors of native accounts, nonces, and the validator's sealed attestation keys (SPEC §4).

State: `H("nvm/auth" || id_com)` holds the account's factors, each `scheme u8 || key` with the
key 32 bytes (Ed25519 public key), 33 (compressed secp256k1 public key) or 32 (for an
attestation factor: the commitment `H("nvm/attest" || key)`, never the key); a multisig
account holds instead its one factor `0x04 || threshold u8 || n u8 || sorted member id_coms`. `H("nvm/nonce" ||
id_com)` holds the next nonce, u64. An account exists when it has a factor.

Attestation keys reach the validator in a sealed box (X25519, to the Curve25519 form of the
validator's Ed25519 key): the block carries only the box, the state only the commitment. The
validator keeps opened keys in `SealedKeys`, a file in its data directory encrypted under a key
derived from its own secret, so no key is stored in clear anywhere.
"""

from __future__ import annotations

import hmac
import json
import os
import threading
from functools import lru_cache
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey

from chain.hashing import H
from chain.state import State

from .tx import ATTESTATION, ED25519, MULTISIG, SECP256K1

KEY_LEN = {ED25519: 32, SECP256K1: 33, ATTESTATION: 32}
MAX_FACTORS = 16


@lru_cache(maxsize=1 << 16)
def auth_slot(id_com: bytes) -> bytes:
    return H(b"nvm/auth" + id_com)


@lru_cache(maxsize=1 << 16)
def nonce_slot(id_com: bytes) -> bytes:
    return H(b"nvm/nonce" + id_com)


def attestation_commitment(key: bytes) -> bytes:
    return H(b"nvm/attest" + key)


def factor_id(scheme: int, key: bytes) -> bytes:
    """How an AUTH_KEY remove/replace names a registered factor."""
    return H(b"nvm/factor" + bytes((scheme,)) + key)


def factors(state: State, id_com: bytes) -> list[tuple[int, bytes]]:
    return parse_factors(state.get(auth_slot(id_com)) or b"")


def parse_factors(raw: bytes) -> list[tuple[int, bytes]]:
    if raw[:1] == bytes((MULTISIG,)):
        return [(MULTISIG, raw[1:])]  # a multisig account's one factor: its terms
    out, i = [], 0
    while i < len(raw):
        scheme = raw[i]
        n = KEY_LEN[scheme]
        out.append((scheme, raw[i + 1 : i + 1 + n]))
        i += 1 + n
    return out


def put_factors(state: State, id_com: bytes, items: list[tuple[int, bytes]]) -> None:
    state.set(auth_slot(id_com), b"".join(bytes((s,)) + k for s, k in items))


def nonce(state: State, id_com: bytes) -> int:
    raw = state.get(nonce_slot(id_com))
    return 0 if raw is None else int.from_bytes(raw, "big")


def set_nonce(state: State, id_com: bytes, value: int) -> None:
    state.set(nonce_slot(id_com), value.to_bytes(8, "big"))


def validator_box_key(validator: SigningKey) -> PublicKey:
    """The X25519 public key wallets seal attestation keys to (published at /api/v1/status)."""
    return PublicKey(bytes(validator.verify_key.to_curve25519_public_key()))


def seal_attestation_key(key: bytes, validator_public: VerifyKey | bytes) -> bytes:
    vk = validator_public if isinstance(validator_public, VerifyKey) else VerifyKey(validator_public)
    return SealedBox(PublicKey(bytes(vk.to_curve25519_public_key()))).encrypt(key)


class SealedKeys:
    """The validator's store of opened attestation keys, by id_com; encrypted at rest, shared between
    the producer (which adds keys when registrations execute) and the web process (which checks tags)."""

    def __init__(self, validator: SigningKey, path: Path | None) -> None:
        self._box_secret = PrivateKey(bytes(validator.to_curve25519_private_key()))
        self._store = SecretBox(H(b"nvm/sealed-store" + bytes(validator)))
        self._path = path
        self._keys: dict[bytes, bytes] = {}
        self._mtime = -1.0
        self._lock = threading.Lock()

    def open(self, sealed: bytes) -> bytes | None:
        try:
            key = SealedBox(self._box_secret).decrypt(sealed)
        except CryptoError:
            return None
        return key if len(key) == 32 else None

    def add(self, id_com: bytes, key: bytes) -> None:
        with self._lock:
            self._reload()
            self._keys[id_com + attestation_commitment(key)] = key
            if self._path is not None:
                blob = json.dumps({k.hex(): v.hex() for k, v in self._keys.items()}).encode()
                tmp = self._path.with_suffix(".tmp")
                tmp.write_bytes(self._store.encrypt(blob))
                os.replace(tmp, self._path)
                self._mtime = self._path.stat().st_mtime

    def key_for(self, id_com: bytes, commitment: bytes) -> bytes | None:
        with self._lock:
            found = self._keys.get(id_com + commitment)
            if found is None:
                self._reload()
                found = self._keys.get(id_com + commitment)
            return found

    def _reload(self) -> None:
        if self._path is None or not self._path.exists():
            return
        mtime = self._path.stat().st_mtime
        if mtime != self._mtime:
            data = json.loads(self._store.decrypt(self._path.read_bytes()))
            self._keys = {bytes.fromhex(k): bytes.fromhex(v) for k, v in data.items()}
            self._mtime = mtime


def check_attestation(key: bytes, digest: bytes, tag: bytes) -> bool:
    return hmac.compare_digest(hmac.digest(key, digest, "sha256"), tag)
