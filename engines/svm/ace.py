"""The ACE side of the SVM (SPEC §1 base+1, §5; docs/PROTOCOL.md §13): the ACE program, and 0x21 —
Solana instructions authorised by an ACE identity's native credential instead of an Ed25519 key.

**ACE program** (`AceProgram111111111111111111111111111111111`), first data byte = instruction:
- 0 `Attest`: `id_com 32 || digest 32 || credential` — succeeds when the credential (a signature
  credential of chain/auth.py: Ed25519, secp256k1 or multisig; attestation tags need the validator's key
  and are refused, as in the EVM's precompiles) is by a registered factor of `id_com` over `digest`;
  custom error 1 when it is not, 2 when the credential cannot be checked here. No accounts.
- 1 `IdCom`: accounts `[account]` — returns the 32-byte id_com bound to that account's pubkey as return
  data (what `getTransaction` shows as returnData); custom error 3 when the pubkey belongs to no identity.
- 2 `CrossVmCall`: synchronous calls into the EVM are not built yet — error `InvalidInstructionData`
  with that reason, never a pretended success.

**0x21 envelope**: `0x21 || chain_id u64 || signer id_com 32 || u16 len || message || credential ||
(required − 1) × 64-byte Ed25519 signatures`. The message is a Solana message (legacy or v0) whose fee
payer (key 0, the first signer) is the signer's own SVM address `vm_address(id_com, "svm")`; the credential
signs `H("nvm/svm-ace/v1" || everything before it)` with a registered factor of the identity; any further
required signers sign the message bytes with Ed25519 as on Solana. Replays are refused like Solana's: the
recent blockhash must be one of the last 150 blocks', and the envelope id is recorded as processed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from chain import auth
from chain.errors import AdmissionError
from chain.hashing import H, Reader
from chain.identity import vm_address

from . import accounts as acc
from .errors import ProgramError, SvmError, custom
from .programs import ACE_PROGRAM
from .runtime import Invocation, register
from .wire import Message, parse_message

ACE_DOMAIN = b"nvm/svm-ace/v1"
_HEAD = struct.Struct(">BQ32sH")
ATTEST, ID_COM, CROSS_VM_CALL = 0, 1, 2
NOT_AUTHORISED, UNCHECKABLE, NO_IDENTITY = 1, 2, 3
ACE_CU = 150
SIGNATURE_CU = 2_000  # per signature checked (Solana's Ed25519 program charges per signature too)


@dataclass(frozen=True)
class AceEnvelope:
    chain_id: int
    signer: bytes
    message: Message
    credential: auth.Credential
    digest: bytes  # what the credential signs
    signatures: tuple[bytes, ...]  # Ed25519 signatures of signers 1.. over the message


def ace_unsigned(chain_id: int, signer: bytes, message: bytes) -> bytes:
    """A 0x21 envelope up to its credential; sign `ace_digest` of it, then append the credential (and
    the other signers' Ed25519 signatures of `message`, if it names any)."""
    return _HEAD.pack(0x21, chain_id, signer, len(message)) + message


def ace_digest(unsigned: bytes) -> bytes:
    return H(ACE_DOMAIN + unsigned)


def read_envelope(envelope: bytes) -> AceEnvelope:
    if len(envelope) < _HEAD.size:
        raise SvmError("SanitizeFailure", "an ACE envelope is shorter than its header")
    _op, chain_id, signer, n = _HEAD.unpack_from(envelope)
    end = _HEAD.size + n
    if end > len(envelope):
        raise SvmError("SanitizeFailure", "the message runs past the envelope")
    message = parse_message(envelope[_HEAD.size : end])
    r = Reader(envelope)
    r.pos = end
    try:
        credential = auth.read_credential(r)
        signatures = tuple(r.take(64) for _ in range(message.required - 1))
        r.done()
    except (ValueError, AdmissionError) as e:
        raise SvmError("SanitizeFailure", f"ACE envelope: {e}") from None
    if message.payer != vm_address(signer, "svm"):
        raise SvmError("SanitizeFailure", "the fee payer of an ACE call is the signer's own SVM address")
    return AceEnvelope(chain_id, signer, message, credential, ace_digest(envelope[:end]), signatures)


@register(ACE_PROGRAM, "ACE", builtin=True)
def ace_program(inv: Invocation) -> bytes | None:
    inv.rt.consume(ACE_CU)
    if not inv.data:
        raise ProgramError("InvalidInstructionData", "empty ACE instruction")
    kind, body = inv.data[0], inv.data[1:]
    if kind == ATTEST:
        if len(body) < 64:
            raise ProgramError("InvalidInstructionData", "Attest takes id_com 32 || digest 32 || credential")
        id_com, digest = body[:32], body[32:64]
        try:
            cred = auth.vm_checkable_credential(body[64:])
        except ValueError as e:
            inv.log(f"Attest: {e}")
            raise custom(UNCHECKABLE, str(e)) from None
        inv.rt.consume(SIGNATURE_CU * max(1, len(cred.cosigs)))
        if not auth.authorises(inv.state, id_com, cred, digest):
            inv.log("Attest: the credential does not authorise this identity")
            raise custom(NOT_AUTHORISED)
        inv.log(f"Attest: verified for id_com {id_com.hex()}")
        return None
    if kind == ID_COM:
        who = acc.identity_of(inv.state, inv.account(0).pubkey)
        if who is None:
            raise custom(NO_IDENTITY, "the account belongs to no identity yet")
        return who
    if kind == CROSS_VM_CALL:
        raise ProgramError("InvalidInstructionData", "CrossVmCall (synchronous calls into the EVM) is not built yet")
    raise ProgramError("InvalidInstructionData", f"unknown ACE instruction {kind}")
