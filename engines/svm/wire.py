"""Solana's transaction wire format, read whole and exactly (docs/PROTOCOL.md §13).

A transaction is `compact-u16 n || n × 64-byte signatures || message`. A message is legacy or
versioned (first byte `0x80 | version`, only version 0 exists): a 3-byte header (required
signatures, read-only signed, read-only unsigned), the account keys, the recent blockhash, the
instructions (program index, account indexes, data) and, in v0, address-table lookups.

`parse` checks what Solana's `sanitize` checks, so a transaction it returns can be executed without
re-checking indexes: the header against the key count, the fee payer writable, every index in range,
no key twice, the program of an instruction never the fee payer. It also refuses what this devnet
does not run, each with its own error: address-table lookups (no lookup tables exist here) and a
transaction over Solana's 1,232-byte packet limit. Every error is an `SvmError` carrying Solana's
`TransactionError` name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import base58

from .errors import SvmError

PACKET_DATA_SIZE = 1232  # Solana's largest transaction (an IPv6 MTU minus headers)
SIGNATURE_LEN = 64
PUBKEY_LEN = 32


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SvmError("SanitizeFailure", f"the transaction ends early (needs {n} more bytes at offset {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def shortvec(self) -> int:
        """compact-u16: 7 bits per byte, little-endian, at most 3 bytes, no redundant trailing byte."""
        value = 0
        for i in range(3):
            byte = self.u8()
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i and byte == 0:
                    raise SvmError("SanitizeFailure", "a compact-u16 length is not minimally encoded")
                if value > 0xFFFF:
                    raise SvmError("SanitizeFailure", "a compact-u16 length exceeds 65535")
                return value
        raise SvmError("SanitizeFailure", "a compact-u16 length is longer than 3 bytes")


def shortvec(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@dataclass(frozen=True)
class Instruction:
    program_index: int
    accounts: tuple[int, ...]
    data: bytes


@dataclass(frozen=True)
class Lookup:
    table: bytes
    writable: tuple[int, ...]
    readonly: tuple[int, ...]


# Accounts a transaction can never write (Solana demotes them to read-only): the built-in
# programs and sysvars. Filled in by the programs' module (engines/svm/programs.py).
RESERVED: set[bytes] = set()


@dataclass(frozen=True)
class Message:
    version: int | None  # None: legacy
    required: int  # signatures required (the first `required` keys sign)
    readonly_signed: int
    readonly_unsigned: int
    keys: tuple[bytes, ...]
    blockhash: bytes
    instructions: tuple[Instruction, ...]
    lookups: tuple[Lookup, ...] = ()
    raw: bytes = b""  # the message's bytes, what every signature signs

    @property
    def payer(self) -> bytes:
        return self.keys[0]

    def is_signer(self, i: int) -> bool:
        return i < self.required

    @cached_property
    def writable(self) -> tuple[bool, ...]:
        """Each key's writable flag: the header's, demoted for invoked programs and reserved accounts as Solana does."""
        programs = {ix.program_index for ix in self.instructions}
        n, signed_rw = len(self.keys), self.required - self.readonly_signed
        return tuple(
            (i < signed_rw if i < self.required else i < n - self.readonly_unsigned) and i not in programs and key not in RESERVED
            for i, key in enumerate(self.keys)
        )

    def is_writable(self, i: int) -> bool:
        return self.writable[i]


@dataclass(frozen=True)
class Transaction:
    signatures: tuple[bytes, ...]
    message: Message
    raw: bytes

    @property
    def signature(self) -> bytes:
        """The first signature: the transaction's id on Solana."""
        return self.signatures[0]

    @property
    def id_text(self) -> str:
        return base58.b58encode(self.signatures[0]).decode()


def parse(raw: bytes) -> Transaction:
    """A transaction, read whole and sanitized as Solana does before it takes one."""
    tx = read(raw)
    _sanitize(tx.message)
    return tx


def read(raw: bytes) -> Transaction:
    """The structure alone (every byte accounted for), not yet sanitized: what recognising a pasted
    transaction needs, so that one this devnet refuses is still shown for what it is."""
    if len(raw) > PACKET_DATA_SIZE:
        raise SvmError("SanitizeFailure", f"the transaction is {len(raw)} bytes, over Solana's limit of {PACKET_DATA_SIZE}")
    r = _Reader(raw)
    signatures = tuple(r.take(SIGNATURE_LEN) for _ in range(r.shortvec()))
    start = r.pos
    message = _message(r, raw)
    if r.pos != len(raw):
        raise SvmError("SanitizeFailure", f"{len(raw) - r.pos} bytes left over after the message")
    message = replace(message, raw=raw[start:])
    if len(signatures) != message.required:
        raise SvmError("SanitizeFailure", f"{len(signatures)} signatures for a message that requires {message.required}")
    return Transaction(signatures, message, raw)


def _message(r: _Reader, raw: bytes) -> Message:
    version: int | None = None
    if r.pos < len(raw) and raw[r.pos] & 0x80:
        version = r.u8() & 0x7F
        if version != 0:
            raise SvmError("UnsupportedVersion", f"message version {version} is not supported (only legacy and v0)")
    required, readonly_signed, readonly_unsigned = r.u8(), r.u8(), r.u8()
    keys = tuple(r.take(PUBKEY_LEN) for _ in range(r.shortvec()))
    blockhash = r.take(32)
    instructions = []
    for _ in range(r.shortvec()):
        program = r.u8()
        accounts = tuple(r.take(r.shortvec()))
        instructions.append(Instruction(program, accounts, r.take(r.shortvec())))
    lookups = []
    if version == 0:
        for _ in range(r.shortvec()):
            table = r.take(PUBKEY_LEN)
            writable = tuple(r.take(r.shortvec()))
            lookups.append(Lookup(table, writable, tuple(r.take(r.shortvec()))))
    return Message(version, required, readonly_signed, readonly_unsigned, keys, blockhash, tuple(instructions), tuple(lookups))


def _sanitize(m: Message) -> None:
    n = len(m.keys)
    if m.required == 0 or m.required > n:
        raise SvmError("SanitizeFailure", f"the header requires {m.required} signatures of {n} account keys")
    if m.readonly_signed >= m.required:
        raise SvmError("SanitizeFailure", "the fee payer must be a writable signer")
    if m.readonly_unsigned > n - m.required:
        raise SvmError("SanitizeFailure", "more read-only unsigned accounts than unsigned account keys")
    if len(set(m.keys)) != n:
        raise SvmError("AccountLoadedTwice", "an account key appears twice in the message")
    if m.lookups:
        raise SvmError(
            "AddressLookupTableNotFound",
            "address lookup tables are not supported on this devnet: list every account in the message's keys",
        )
    for ix in m.instructions:
        if ix.program_index == 0 or ix.program_index >= n:
            raise SvmError("SanitizeFailure", f"program index {ix.program_index} is out of range or the fee payer")
        if any(a >= n for a in ix.accounts):
            raise SvmError("SanitizeFailure", "an instruction names an account index past the account keys")


def encode_message(m: Message) -> bytes:
    """The bytes of a message (what `parse` reads); used by tests and the dry run's fee answer."""
    out = [bytes((0x80 | m.version,))] if m.version is not None else []
    out += [bytes((m.required, m.readonly_signed, m.readonly_unsigned)), shortvec(len(m.keys)), *m.keys, m.blockhash]
    out.append(shortvec(len(m.instructions)))
    for ix in m.instructions:
        out += [bytes((ix.program_index,)), shortvec(len(ix.accounts)), bytes(ix.accounts), shortvec(len(ix.data)), ix.data]
    if m.version is not None:
        out.append(shortvec(len(m.lookups)))
        for lk in m.lookups:
            out += [lk.table, shortvec(len(lk.writable)), bytes(lk.writable), shortvec(len(lk.readonly)), bytes(lk.readonly)]
    return b"".join(out)


def parse_message(raw: bytes) -> Message:
    """A message alone (getFeeForMessage): read whole, sanitized."""
    r = _Reader(raw)
    message = _message(r, raw)
    if r.pos != len(raw):
        raise SvmError("SanitizeFailure", f"{len(raw) - r.pos} bytes left over after the message")
    _sanitize(message)
    return replace(message, raw=raw)
