"""Bitcoin transactions on the wire (BIP144) and Core's context-free checks (`CheckTransaction`).

Serialization: version u32 · [marker 0x00, flag 0x01 when any input has a witness] · inputs ·
outputs · [one witness stack per input] · lock time u32, little-endian throughout, counts and
lengths as CompactSize. Decoding is strict the way Core's is (`UnserializeTransaction`,
`ReadCompactSize`): a CompactSize must be minimal and at most MAX_SIZE, a witness flag with only
empty witnesses ("superfluous witness record") or an unknown flag bit is refused, and — as
`DecodeHexTx` requires — every byte must be consumed.

The txid hashes the serialization without witnesses, the wtxid (BIP141) with them; both are
kept in internal byte order (`txid_hex` gives the reversed hex that explorers and RPCs show).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from chain.hashing import Reader

from .crypto import hash256
from .errors import TxError

MAX_SIZE = 0x02000000  # serialize.h: the largest CompactSize a length may be
MAX_MONEY = 21_000_000 * 100_000_000  # consensus/amount.h, in satoshis
MAX_BLOCK_WEIGHT = 4_000_000  # consensus/consensus.h
WITNESS_SCALE_FACTOR = 4
SEQUENCE_FINAL = 0xFFFFFFFF
NULL_INDEX = 0xFFFFFFFF  # COutPoint::NULL_INDEX
# BIP68 / BIP112 fields of nSequence.
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF
LOCKTIME_THRESHOLD = 500_000_000  # below: a block height; at or above: a UNIX time


class OutPoint(NamedTuple):
    """A previous output: its transaction's txid (internal byte order) and output index (`vout`)."""

    txid: bytes
    vout: int

    def is_null(self) -> bool:
        return self.vout == NULL_INDEX and self.txid == bytes(32)

    def serialize(self) -> bytes:
        return self.txid + self.vout.to_bytes(4, "little")


class TxOut(NamedTuple):
    """An output: value in satoshis (signed 64-bit on the wire) and the script that locks it."""

    value: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return self.value.to_bytes(8, "little", signed=True) + compact_size(len(self.script_pubkey)) + self.script_pubkey


@dataclass(frozen=True)
class TxIn:
    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = SEQUENCE_FINAL
    witness: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Tx:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int = 0

    @property
    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    def serialize(self, with_witness: bool = True) -> bytes:
        """BIP144 serialization; the extended form only when asked and some input has a witness."""
        return self._extended if with_witness else self._base

    @cached_property
    def _base(self) -> bytes:
        return self._serialize(False)

    @cached_property
    def _extended(self) -> bytes:
        return self._serialize(self.has_witness)

    def _serialize(self, extended: bool) -> bytes:
        out = bytearray(self.version.to_bytes(4, "little"))
        if extended:
            out += b"\x00\x01"
        out += compact_size(len(self.inputs))
        for txin in self.inputs:
            out += txin.prevout.serialize()
            out += compact_size(len(txin.script_sig)) + txin.script_sig
            out += txin.sequence.to_bytes(4, "little")
        out += compact_size(len(self.outputs))
        for txout in self.outputs:
            out += txout.serialize()
        if extended:
            for txin in self.inputs:
                out += serialize_witness(txin.witness)
        out += self.locktime.to_bytes(4, "little")
        return bytes(out)

    @cached_property
    def txid(self) -> bytes:
        return hash256(self.serialize(with_witness=False))

    @cached_property
    def wtxid(self) -> bytes:
        return hash256(self.serialize(with_witness=True))

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()

    @property
    def wtxid_hex(self) -> str:
        return self.wtxid[::-1].hex()

    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].prevout.is_null()

    @property
    def weight(self) -> int:
        """BIP141 weight: base size × 3 + total size."""
        return len(self.serialize(False)) * (WITNESS_SCALE_FACTOR - 1) + len(self.serialize(True))


def compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def serialize_witness(stack: Sequence[bytes]) -> bytes:
    """A witness stack as it is serialized: item count, then each item with its length."""
    out = bytearray(compact_size(len(stack)))
    for item in stack:
        out += compact_size(len(item)) + item
    return bytes(out)


class _Reader(Reader):
    """The chain's strict byte cursor with Bitcoin's little-endian fields and CompactSize; a short read is a ValueError."""

    __slots__ = ()

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def compact_size(self) -> int:
        """Core's ReadCompactSize with its range check: the shortest form only, and at most MAX_SIZE."""
        first = self.u8()
        if first < 0xFD:
            n, least = first, 0
        elif first == 0xFD:
            n, least = int.from_bytes(self.take(2), "little"), 0xFD
        elif first == 0xFE:
            n, least = int.from_bytes(self.take(4), "little"), 0x10000
        else:
            n, least = int.from_bytes(self.take(8), "little"), 0x100000000
        if n < least:
            raise ValueError(f"non-canonical CompactSize at offset {self.pos}")
        if n > MAX_SIZE:
            raise ValueError("CompactSize too large")
        return n

    def var_bytes(self) -> bytes:
        return self.take(self.compact_size())

    def inputs(self) -> list[TxIn]:
        out = []
        for _ in range(self.compact_size()):
            prevout = OutPoint(self.take(32), self.u32())
            out.append(TxIn(prevout, self.var_bytes(), self.u32()))
        return out

    def outputs(self) -> list[TxOut]:
        out = []
        for _ in range(self.compact_size()):
            value = int.from_bytes(self.take(8), "little", signed=True)
            out.append(TxOut(value, self.var_bytes()))
        return out


def parse_tx(data: bytes) -> Tx:
    """Decode a serialized transaction (with or without witnesses); TxError("tx-decode") if malformed."""
    try:
        return _parse_tx(_Reader(bytes(data)))
    except ValueError as e:
        raise TxError("tx-decode", str(e)) from None


def _parse_tx(r: _Reader) -> Tx:
    version = r.u32()
    inputs = r.inputs()
    outputs: list[TxOut] = []
    flag = 0
    if not inputs:  # a 0x00 marker reads as an empty input list; the flag byte follows it
        flag = r.u8()
        if flag:
            inputs = r.inputs()
            outputs = r.outputs()
    else:
        outputs = r.outputs()
    if flag & 1:
        flag ^= 1
        inputs = [
            TxIn(txin.prevout, txin.script_sig, txin.sequence, tuple(r.var_bytes() for _ in range(r.compact_size())))
            for txin in inputs
        ]
        if not any(txin.witness for txin in inputs):
            raise ValueError("superfluous witness record")
    if flag:
        raise ValueError("unknown transaction optional data")
    locktime = r.u32()
    r.done()
    return Tx(version, tuple(inputs), tuple(outputs), locktime)


def check_transaction(tx: Tx) -> None:
    """Core's CheckTransaction (consensus/tx_check.cpp): the checks that need no chain state."""
    if not tx.inputs:
        raise TxError("bad-txns-vin-empty", "the transaction has no inputs")
    if not tx.outputs:
        raise TxError("bad-txns-vout-empty", "the transaction has no outputs")
    # The witness is left out: it has not been checked for malleability yet.
    if len(tx.serialize(with_witness=False)) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise TxError("bad-txns-oversize", "the transaction is larger than a block")
    total = 0
    for txout in tx.outputs:
        if txout.value < 0:
            raise TxError("bad-txns-vout-negative", "an output value is negative")
        if txout.value > MAX_MONEY:
            raise TxError("bad-txns-vout-toolarge", "an output value exceeds MAX_MONEY")
        total += txout.value
        if total > MAX_MONEY:
            raise TxError("bad-txns-txouttotal-toolarge", "the outputs together exceed MAX_MONEY")
    if len({txin.prevout for txin in tx.inputs}) != len(tx.inputs):  # CVE-2018-17144
        raise TxError("bad-txns-inputs-duplicate", "an output is spent twice")
    if tx.is_coinbase():
        if not 2 <= len(tx.inputs[0].script_sig) <= 100:
            raise TxError("bad-cb-length", "a coinbase scriptSig is 2 to 100 bytes")
    elif any(txin.prevout.is_null() for txin in tx.inputs):
        raise TxError("bad-txns-prevout-null", "an input spends the null outpoint")
