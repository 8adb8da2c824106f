"""The three signature hashes a Bitcoin signature commits to.

- legacy (`SignatureHash` for SigVersion::BASE): a modified copy of the transaction, double SHA-256'd,
  with the script code stripped of OP_CODESEPARATORs (and, by the interpreter, of the signature
  itself: FindAndDelete) and Core's SIGHASH_SINGLE bug — no output at the input's index gives the
  hash 1 instead of an error;
- BIP143 (segwit v0): fixed-size preimage committing to the spent amount, with the per-transaction
  hashPrevouts / hashSequence / hashOutputs computed once;
- BIP341 (taproot key path) and BIP342 (tapscript, ext_flag 1 with the leaf hash, key version and
  last executed OP_CODESEPARATOR position), committing to every spent amount and scriptPubKey and
  to the annex when present.

`PrecomputedTx` is Core's `PrecomputedTransactionData`: the hashes shared by every input of one
transaction, computed on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from .crypto import hash256, sha256, tagged_hasher
from .opcodes import OP_CODESEPARATOR, get_op
from .tx import Tx, TxOut, compact_size

SIGHASH_DEFAULT = 0  # taproot only: no hash type byte, same as ALL
SIGHASH_ALL = 1
SIGHASH_NONE = 2
SIGHASH_SINGLE = 3
SIGHASH_ANYONECANPAY = 0x80
SIGHASH_OUTPUT_MASK = 3
SIGHASH_INPUT_MASK = 0x80

# What the legacy hash "is" when SIGHASH_SINGLE has no matching output: the number 1 (uint256::ONE).
SIGHASH_SINGLE_BUG = b"\x01" + bytes(31)

_TAPSIGHASH = tagged_hasher("TapSighash")
_EMPTY_TXOUT = (-1).to_bytes(8, "little", signed=True) + b"\x00"  # CTxOut(): value -1, empty script


class PrecomputedTx:
    """Per-transaction hashes for BIP143 and BIP341 (single SHA-256 each; BIP143 hashes them once more)."""

    def __init__(self, tx: Tx, spent_outputs: Sequence[tuple[int, bytes]] | None = None) -> None:
        if spent_outputs is not None and len(spent_outputs) != len(tx.inputs):
            raise ValueError(f"{len(spent_outputs)} spent outputs for {len(tx.inputs)} inputs")
        self.tx = tx
        self.spent_outputs = None if spent_outputs is None else [TxOut(value, script) for value, script in spent_outputs]

    @cached_property
    def prevouts_sha(self) -> bytes:
        return sha256(b"".join(txin.prevout.serialize() for txin in self.tx.inputs))

    @cached_property
    def sequences_sha(self) -> bytes:
        return sha256(b"".join(txin.sequence.to_bytes(4, "little") for txin in self.tx.inputs))

    @cached_property
    def outputs_sha(self) -> bytes:
        return sha256(b"".join(txout.serialize() for txout in self.tx.outputs))

    @cached_property
    def amounts_sha(self) -> bytes:
        return sha256(b"".join(out.value.to_bytes(8, "little", signed=True) for out in self._spent()))

    @cached_property
    def scripts_sha(self) -> bytes:
        return sha256(b"".join(compact_size(len(out.script_pubkey)) + out.script_pubkey for out in self._spent()))

    # BIP143's names: the same data, double SHA-256.
    @cached_property
    def hash_prevouts(self) -> bytes:
        return sha256(self.prevouts_sha)

    @cached_property
    def hash_sequence(self) -> bytes:
        return sha256(self.sequences_sha)

    @cached_property
    def hash_outputs(self) -> bytes:
        return sha256(self.outputs_sha)

    def _spent(self) -> list[TxOut]:
        if self.spent_outputs is None:
            raise ValueError("taproot signature hashes need every spent output")
        return self.spent_outputs


def _legacy_script_code(script: bytes) -> bytes:
    """The script code as `SerializeScriptCode` writes it: length, then the bytes minus each OP_CODESEPARATOR."""
    if OP_CODESEPARATOR not in script:
        return compact_size(len(script)) + script
    parts = []
    separators = begin = pc = 0
    while pc < len(script):
        opcode, _, pc = get_op(script, pc)
        if opcode < 0:
            break  # Core stops at a truncated push, copying up to where its reader stopped
        if opcode == OP_CODESEPARATOR:
            separators += 1
            parts.append(script[begin : pc - 1])
            begin = pc
    if begin != len(script):
        parts.append(script[begin:pc])
    return compact_size(len(script) - separators) + b"".join(parts)


def legacy_sighash(tx: Tx, index: int, script_code: bytes, hash_type: int) -> bytes:
    """The pre-segwit signature hash of input `index` (hash_type is the signature's last byte)."""
    base_type = hash_type & 0x1F
    single = base_type == SIGHASH_SINGLE
    none = base_type == SIGHASH_NONE
    if single and index >= len(tx.outputs):
        return SIGHASH_SINGLE_BUG
    out = bytearray(tx.version.to_bytes(4, "little"))
    positions = [index] if hash_type & SIGHASH_ANYONECANPAY else range(len(tx.inputs))
    out += compact_size(len(positions))
    for i in positions:
        txin = tx.inputs[i]
        out += txin.prevout.serialize()
        if i == index:
            out += _legacy_script_code(script_code)
            out += txin.sequence.to_bytes(4, "little")
        else:
            out += b"\x00"  # other inputs' scripts are blanked
            out += bytes(4) if single or none else txin.sequence.to_bytes(4, "little")
    n_outputs = 0 if none else index + 1 if single else len(tx.outputs)
    out += compact_size(n_outputs)
    for i in range(n_outputs):
        out += _EMPTY_TXOUT if single and i != index else tx.outputs[i].serialize()
    out += tx.locktime.to_bytes(4, "little")
    out += hash_type.to_bytes(4, "little")
    return hash256(bytes(out))


def segwit_v0_sighash(pre: PrecomputedTx, index: int, script_code: bytes, amount: int, hash_type: int) -> bytes:
    """BIP143: the witness v0 signature hash of input `index`, which spends `amount` satoshis."""
    tx = pre.tx
    base_type = hash_type & 0x1F
    anyone_can_pay = hash_type & SIGHASH_ANYONECANPAY
    some_outputs = base_type in (SIGHASH_SINGLE, SIGHASH_NONE)
    zero = bytes(32)
    hash_prevouts = zero if anyone_can_pay else pre.hash_prevouts
    hash_sequence = zero if anyone_can_pay or some_outputs else pre.hash_sequence
    if not some_outputs:
        hash_outputs = pre.hash_outputs
    elif base_type == SIGHASH_SINGLE and index < len(tx.outputs):
        hash_outputs = hash256(tx.outputs[index].serialize())
    else:
        hash_outputs = zero
    txin = tx.inputs[index]
    preimage = b"".join(
        (
            tx.version.to_bytes(4, "little"),
            hash_prevouts,
            hash_sequence,
            txin.prevout.serialize(),
            compact_size(len(script_code)),
            script_code,
            amount.to_bytes(8, "little", signed=True),
            txin.sequence.to_bytes(4, "little"),
            hash_outputs,
            tx.locktime.to_bytes(4, "little"),
            hash_type.to_bytes(4, "little"),
        )
    )
    return hash256(preimage)


def annex_hash(annex: bytes) -> bytes:
    """BIP341 sha_annex: SHA-256 of the annex (0x50 …) serialized with its length."""
    return sha256(compact_size(len(annex)) + annex)


def is_valid_taproot_hash_type(hash_type: int) -> bool:
    return hash_type <= 0x03 or 0x81 <= hash_type <= 0x83


def taproot_sigmsg(
    pre: PrecomputedTx,
    index: int,
    hash_type: int,
    annex_sha: bytes | None = None,
    leaf_hash: bytes | None = None,
    codeseparator_pos: int = 0xFFFFFFFF,
) -> bytes | None:
    """BIP341 SigMsg preceded by the epoch byte 0 — what `TapSighash` hashes — or None for an undefined hash
    type or SIGHASH_SINGLE without a matching output. A leaf hash makes it BIP342's (ext_flag 1)."""
    if not is_valid_taproot_hash_type(hash_type):
        return None
    tx = pre.tx
    output_type = SIGHASH_ALL if hash_type == SIGHASH_DEFAULT else hash_type & SIGHASH_OUTPUT_MASK
    anyone_can_pay = hash_type & SIGHASH_INPUT_MASK == SIGHASH_ANYONECANPAY
    parts = [bytes((0, hash_type)), tx.version.to_bytes(4, "little"), tx.locktime.to_bytes(4, "little")]
    if not anyone_can_pay:
        parts += (pre.prevouts_sha, pre.amounts_sha, pre.scripts_sha, pre.sequences_sha)
    if output_type == SIGHASH_ALL:
        parts.append(pre.outputs_sha)
    ext_flag = 0 if leaf_hash is None else 1
    parts.append(bytes((ext_flag * 2 + (annex_sha is not None),)))
    if anyone_can_pay:
        txin = tx.inputs[index]
        parts += (txin.prevout.serialize(), pre._spent()[index].serialize(), txin.sequence.to_bytes(4, "little"))
    else:
        parts.append(index.to_bytes(4, "little"))
    if annex_sha is not None:
        parts.append(annex_sha)
    if output_type == SIGHASH_SINGLE:
        if index >= len(tx.outputs):
            return None
        parts.append(sha256(tx.outputs[index].serialize()))
    if leaf_hash is not None:
        parts += (leaf_hash, b"\x00", codeseparator_pos.to_bytes(4, "little"))  # key_version 0
    return b"".join(parts)


def taproot_sighash(
    pre: PrecomputedTx,
    index: int,
    hash_type: int,
    annex_sha: bytes | None = None,
    leaf_hash: bytes | None = None,
    codeseparator_pos: int = 0xFFFFFFFF,
) -> bytes | None:
    """hash_TapSighash(taproot_sigmsg(…)), or None where the message is undefined."""
    msg = taproot_sigmsg(pre, index, hash_type, annex_sha, leaf_hash, codeseparator_pos)
    return None if msg is None else tapsighash(msg)


def tapsighash(msg: bytes) -> bytes:
    h = _TAPSIGHASH.copy()
    h.update(msg)
    return bytes(h.digest())
