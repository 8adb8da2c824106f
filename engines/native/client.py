"""Building and signing native transactions from an ACE identity's REV: for the CLI, tests and wallets."""

from __future__ import annotations

from dataclasses import dataclass

from nacl.signing import VerifyKey

from chain.auth import factor_id, seal_attestation_key
from chain.identity import derive_keys, id_com, multisig_id_com

from . import tx as t


@dataclass
class AceSigner:
    rev: bytes
    chain_id: int

    def __post_init__(self) -> None:
        self.keys = derive_keys(self.rev)
        self.id_com = id_com(self.rev, chain_id=self.chain_id)

    def sign(self, unsigned: bytes, scheme: int = t.ED25519) -> bytes:
        if scheme == t.ED25519:
            return t.sign_ed25519(unsigned, self.keys.ed25519)
        if scheme == t.SECP256K1:
            return t.sign_secp256k1(unsigned, self.keys.evm)
        return t.attest(unsigned, self.keys.attestation_key)

    def credential(self, unsigned: bytes, scheme: int = t.ED25519) -> bytes:
        """This identity's credential alone (for a multisig's members)."""
        return self.sign(unsigned, scheme)[len(unsigned) :]

    def envelope(
        self, opcode: int, nonce: int, scheme: int = t.ED25519, context: bytes | None = None, **payload: object
    ) -> bytes:
        body = t.encode_payload(opcode, **payload)
        return self.sign(t.unsigned(opcode, self.chain_id, self.id_com, nonce, body, context), scheme)

    # -- the usual transactions --------------------------------------------------------------
    def create_account(self) -> bytes:
        return self.envelope(t.CREATE_ACCOUNT, 0, factor=t.Factor(t.ED25519, self.keys.ed25519_public))

    def add_secp256k1_factor(self, nonce: int) -> bytes:
        key = self.keys.evm.public_key.format(compressed=True)
        return self.envelope(t.AUTH_KEY, nonce, action=t.ADD, factor=t.Factor(t.SECP256K1, key))

    def add_attestation_factor(self, nonce: int, validator: VerifyKey | bytes) -> bytes:
        sealed = seal_attestation_key(self.keys.attestation_key, validator)
        return self.envelope(t.AUTH_KEY, nonce, action=t.ADD, factor=t.Factor(t.ATTESTATION, sealed))

    def ed25519_factor_id(self) -> bytes:
        return factor_id(t.ED25519, self.keys.ed25519_public)


def multisig_envelope(
    chain_id: int,
    threshold: int,
    members: list[bytes],
    signers: list[AceSigner],
    opcode: int,
    nonce: int,
    scheme: int = t.ED25519,
    context: bytes | None = None,
    **payload: object,
) -> bytes:
    """A transaction of the multisig identity of (threshold, members), signed by `signers` (members)."""
    ordered = sorted(members)
    body = t.encode_payload(opcode, **payload)
    unsigned = t.unsigned(opcode, chain_id, multisig_id_com(threshold, ordered), nonce, body, context)
    parts = sorted((ordered.index(s.id_com), s.credential(unsigned, scheme)) for s in signers)
    return t.cosign(unsigned, parts)
