"""ACE native authorisation (SPEC §4): accounts' auth factors and nonces, credentials and how they
verify, multisig accounts, and the validator's sealed attestation keys.

Every VM's `base+1` opcode (SPEC §1) is authorised this way, so it lives in the chain, not in an
engine. A credential is `scheme u8 || …` (docs/PROTOCOL.md §9): 0x01 Ed25519 public key 32 ||
signature 64; 0x02 secp256k1 compressed key 33 || compact signature 64 (low s); 0x03 an HMAC-SHA256
attestation tag 32; 0x04 count u8 || count × (member index u8 || one of the three).

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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import coincurve
from coincurve.ecdsa import cdata_to_der, der_to_cdata, deserialize_compact, serialize_compact
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey

from .errors import AdmissionError, ExecutionError
from .hashing import H, Reader
from .identity import multisig_id_com
from .state import State

ED25519, SECP256K1, ATTESTATION, MULTISIG = 0x01, 0x02, 0x03, 0x04
SCHEME_NAMES = {ED25519: "ed25519", SECP256K1: "secp256k1", ATTESTATION: "attestation", MULTISIG: "multisig"}
SIGNATURE_LEN = {ED25519: 32 + 64, SECP256K1: 33 + 64, ATTESTATION: 32}  # single-key credentials
KEY_LEN = {ED25519: 32, SECP256K1: 33, ATTESTATION: 32}
MAX_FACTORS = 16
MAX_MEMBERS = 16  # members of a multisig account

Problem = tuple[str, str] | None  # (code, message) of why a signer cannot sign; None if it can


@dataclass(frozen=True)
class Cosig:
    """One member's part of a multisig credential: the member's index in the sorted member list."""

    index: int
    scheme: int
    public: bytes
    signature: bytes

    def encode(self) -> bytes:
        return bytes((self.index, self.scheme)) + self.public + self.signature


@dataclass(frozen=True)
class Credential:
    scheme: int
    public: bytes = b""  # the signing key (empty for attestation and multisig)
    signature: bytes = b""  # signature or attestation tag
    cosigs: tuple[Cosig, ...] = ()  # a multisig's members' signatures


def ed25519_credential(digest: bytes, key: SigningKey) -> bytes:
    return bytes((ED25519,)) + bytes(key.verify_key) + key.sign(digest).signature


def secp256k1_credential(digest: bytes, key: coincurve.PrivateKey) -> bytes:
    der = key.sign(digest, hasher=None)  # libsecp256k1 signs low-s
    compact: bytes = serialize_compact(der_to_cdata(der))
    return bytes((SECP256K1,)) + key.public_key.format(compressed=True) + compact


def attestation_credential(digest: bytes, attestation_key: bytes) -> bytes:
    return bytes((ATTESTATION,)) + hmac.digest(attestation_key, digest, "sha256")


def _split(scheme: int, cred: bytes) -> tuple[bytes, bytes]:
    return (b"", cred) if scheme == ATTESTATION else (cred[:-64], cred[-64:])


def read_credential(r: Reader) -> Credential:
    """Parse a credential; ValueError (or AdmissionError `malformed`) on any defect."""
    scheme = r.uint(1)
    if scheme == MULTISIG:
        cosigs = tuple(_read_cosig(r) for _ in range(r.uint(1)))
        if not cosigs or len({c.index for c in cosigs}) != len(cosigs):
            raise AdmissionError("a multisig credential has one signature per member, at least one", "malformed")
        return Credential(MULTISIG, cosigs=cosigs)
    if scheme not in SIGNATURE_LEN:
        raise AdmissionError(f"unknown credential scheme {scheme}", "malformed")
    return Credential(scheme, *_split(scheme, r.take(SIGNATURE_LEN[scheme])))


def _read_cosig(r: Reader) -> Cosig:
    index, scheme = r.uint(1), r.uint(1)
    if scheme not in SIGNATURE_LEN:
        raise AdmissionError(f"unknown scheme {scheme} in a multisig credential", "malformed")
    return Cosig(index, scheme, *_split(scheme, r.take(SIGNATURE_LEN[scheme])))


def verify_credential(cred: Credential, digest: bytes) -> bool:
    """Ed25519 / secp256k1 signatures over the digest, a multisig's members' too (attestation tags are
    checked against the validator's keys, in `credential_problem`)."""
    if cred.scheme == MULTISIG:
        return all(c.scheme == ATTESTATION or _verify(c.scheme, c.public, c.signature, digest) for c in cred.cosigs)
    return cred.scheme == ATTESTATION or _verify(cred.scheme, cred.public, cred.signature, digest)


def _verify(scheme: int, public: bytes, signature: bytes, digest: bytes) -> bool:
    if scheme == ED25519:
        try:
            crypto_sign_open(signature + digest, public)  # libsodium, without the GIL
        except (BadSignatureError, ValueError):
            return False
        return True
    if scheme == SECP256K1:
        try:
            der = cdata_to_der(deserialize_compact(signature))
            return bool(coincurve.PublicKey(public).verify(der, digest, hasher=None))
        except ValueError:
            return False
    return False


def vm_checkable_credential(raw: bytes) -> Credential:
    """A credential a VM can check by itself inside a transaction (the EVM's precompiles, the SVM's ACE
    program): signatures only — an attestation tag needs the validator's key. ValueError otherwise."""
    try:
        r = Reader(raw)
        cred = read_credential(r)
        r.done()
    except AdmissionError as e:
        raise ValueError(e.message) from None
    schemes = [c.scheme for c in cred.cosigs] if cred.scheme == MULTISIG else [cred.scheme]
    if ATTESTATION in schemes:
        raise ValueError("attestation credentials cannot be checked inside a VM (the key is the validator's)")
    return cred


def authorises(state: State, id_com: bytes, cred: Credential, digest: bytes) -> bool:
    """Does a signature credential (vm_checkable_credential) authorise `id_com` over `digest` now?"""
    return credential_problem(state, id_com, cred, digest, None, check_tags=False) is None and verify_credential(cred, digest)


def multisig_terms(data: bytes) -> tuple[int, list[bytes]]:
    """(threshold, sorted members) from a multisig account's factor `threshold u8 || n u8 || members`."""
    return data[0], [data[2 + 32 * i : 34 + 32 * i] for i in range(data[1])]


@dataclass(frozen=True)
class AceAuth:
    """What authorises an ACE call of a VM (0x21, 0x31, 0x41): an identity's credential over the call's digest,
    for one chain."""

    chain_id: int
    signer: bytes  # id_com
    credential: Credential
    digest: bytes


class AceCall(Protocol):
    """An AceAuth, or a VM's own envelope that carries the same four (engines/svm/ace.py `AceEnvelope`)."""

    @property
    def chain_id(self) -> int: ...
    @property
    def signer(self) -> bytes: ...
    @property
    def credential(self) -> Credential: ...
    @property
    def digest(self) -> bytes: ...


def admit_ace(ace: AceCall, state: State, chain_id: int, sealed: SealedKeys | None) -> None:
    """Admission of an ACE call: signed for this chain, by a registered factor of its signer (AdmissionError)."""
    if ace.chain_id != chain_id:
        raise AdmissionError(f"signed for chain {ace.chain_id}, this is chain {chain_id}", "wrong_chain")
    problem = credential_problem(state, ace.signer, ace.credential, ace.digest, sealed, check_tags=True)
    if problem is not None:
        raise AdmissionError(problem[1], problem[0])


def recheck_ace(ace: AceCall, state: State, sealed: SealedKeys | None) -> None:
    """At execution: admitted against an older state, the key may have been rotated since (ExecutionError)."""
    problem = credential_problem(state, ace.signer, ace.credential, ace.digest, sealed, check_tags=False)
    if problem is not None:
        raise ExecutionError(problem[1], problem[0])


def credential_problem(
    state: State, signer: bytes, cred: Credential, digest: bytes, sealed: SealedKeys | None, check_tags: bool
) -> Problem:
    """Whether `cred` authorises `signer` (an existing account): its key is registered, or — for a
    multisig account — enough members sign with keys registered on their own accounts.

    Admission passes `check_tags` (attestation tags need the validator's keys); execution asks
    again without, since a key may have been rotated after admission.
    """
    registered = factors(state, signer)
    if not registered:
        return "no_account", "no such account: create it first (native opcode 0x02)"
    if registered[0][0] == MULTISIG:
        if cred.scheme != MULTISIG:
            return "unknown_key", "a multisig account signs with its members' signatures (credential 0x04)"
        threshold, members = multisig_terms(registered[0][1])
        return members_problem(state, cred, digest, threshold, members, sealed, check_tags)
    if cred.scheme == MULTISIG:
        return "unknown_key", "the signer is not a multisig account"
    return key_problem(signer, cred.scheme, cred.public, cred.signature, digest, registered, sealed, check_tags)


def key_problem(
    who: bytes,
    scheme: int,
    public: bytes,
    tag: bytes,
    digest: bytes,
    registered: list[tuple[int, bytes]],
    sealed: SealedKeys | None,
    check_tags: bool,
) -> Problem:
    if scheme != ATTESTATION:
        if (scheme, public) not in registered:
            return "unknown_key", "the signing key is not a registered factor of its account"
        return None
    commitments = [key for s, key in registered if s == ATTESTATION]
    if not commitments:
        return "unknown_key", "the account has no attestation factor"
    if not check_tags:
        return None
    if sealed is None:
        return "attestation_unsupported", "this node holds no attestation keys"
    for commitment in commitments:
        key = sealed.key_for(who, commitment)
        if key is not None and check_attestation(key, digest, tag):
            return None
    return "bad_signature", "attestation does not verify"


def members_problem(
    state: State,
    cred: Credential,
    digest: bytes,
    threshold: int,
    members: list[bytes],
    sealed: SealedKeys | None,
    check_tags: bool,
) -> Problem:
    if len(cred.cosigs) < threshold:
        return "too_few_signatures", f"{threshold} of the {len(members)} members must sign; {len(cred.cosigs)} did"
    for c in cred.cosigs:
        if c.index >= len(members):
            return "bad_signature", f"member index {c.index} is out of range"
        member = members[c.index]
        problem = key_problem(member, c.scheme, c.public, c.signature, digest, factors(state, member), sealed, check_tags)
        if problem is not None:
            return problem[0], f"member {c.index}: {problem[1]}"
    return None


def is_multisig_terms_of(signer: bytes, data: bytes) -> bool:
    threshold, members = multisig_terms(data)
    return multisig_id_com(threshold, members) == signer


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
    state.note("party", id_com)


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
