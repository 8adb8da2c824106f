"""Routing envelopes to engines by their first byte (SPEC §1), and running one transaction safely.

An envelope is one opcode byte and a body. The registry is a 256-entry table from opcode to
engine, so routing is one index, and no engine is ever asked whether a transaction is its own.
The five VMs' ranges are reserved by SPEC §1 whether or not their engine is installed; an
opcode outside every reserved range and every registered engine is unassigned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from .errors import AdmissionError, ExecutionError
from .hashing import H, Reader
from .state import State

log = logging.getLogger(__name__)
VERIFY_THREADS = os.cpu_count() or 2

# SPEC §1: VM name -> (first opcode, last opcode)
VM_RANGES: dict[str, tuple[int, int]] = {
    "native": (0x01, 0x0F),
    "evm": (0x10, 0x1F),
    "svm": (0x20, 0x2F),
    "bvm": (0x30, 0x3F),
    "tvm": (0x40, 0x4F),
}
VM_TITLES = {"native": "native runtime", "evm": "EVM", "svm": "SVM", "bvm": "BVM", "tvm": "TVM"}


@dataclass(frozen=True)
class Access:
    """The keys a transaction may read and write (chain/parallel.py); none at all: a global transaction."""

    reads: frozenset[bytes]
    writes: frozenset[bytes]


@dataclass
class Tx:
    """An admitted transaction: what an engine decoded from an envelope.

    `ids` are the names it can be found by besides the envelope id (an Ethereum tx hash, a
    Solana signature, a Bitcoin txid and wtxid, a Tron txid); `body` is engine-private.
    """

    envelope: bytes
    ids: tuple[bytes, ...] = ()
    sender: bytes | None = None
    body: object = None
    context: bytes | None = None  # the optional 16-byte context tag (SPEC §2 context shards)
    # Engine-private: the state value the signer's credential was checked against at admission
    # (execution may skip the check while that value is unchanged).
    admitted_against: bytes | None = None
    # Its access set as judged at admission (Registry.declare_access), None for a global one; `declared`
    # says whether it was judged at all (else the block builder asks the engine).
    access: Access | None = None
    declared: bool = False
    # What no two pending transactions may both hold — a Bitcoin spend's coins (Core's mempool conflict
    # rule): the mempool refuses a second claim until the first is in a block.
    claims: tuple[bytes, ...] = ()

    @cached_property
    def envelope_id(self) -> bytes:
        return H(self.envelope)

    @property
    def opcode(self) -> int:
        return self.envelope[0]


@dataclass(frozen=True)
class Field:
    """One decoded field of a transaction, in its source chain's terms, for people (the explorer).

    `kind` says how to show `value`: "text", "int", "hex", "id_com" (32 bytes), "address" (`tag` names
    the VM, `value` the raw address bytes), "mint" (32 bytes), "amount" (base units of `mint`),
    "wei" (an EVM amount), "time" (milliseconds since 1970)."""

    label: str
    value: object
    kind: str = "text"
    tag: str | None = None
    mint: bytes | None = None


class Recent(tuple[bytes, ...]):
    """The latest block hashes, newest first, with the head's height and time: what admission checks a
    Solana blockhash, a Tron reference block or a Bitcoin lock-time against (the next block is height + 1)."""

    height: int
    timestamp_ms: int

    def __new__(cls, hashes: Sequence[bytes], height: int, timestamp_ms: int) -> Recent:
        made = super().__new__(cls, hashes)
        made.height, made.timestamp_ms = height, timestamp_ms
        return made


@dataclass(frozen=True)
class BlockContext:
    height: int
    timestamp_ms: int
    chain_id: int
    proposer: bytes
    recent_hashes: tuple[bytes, ...] = ()  # hashes of the blocks before this one, newest first (at most 256)


@dataclass
class Outcome:
    """What an execution returns. A failure that must undo everything raises ExecutionError instead;
    `failure` (code, message) is for a VM whose failed transactions still change state the chain's
    way (an EVM revert keeps the gas paid and the nonce used), so its writes are kept."""

    gas_used: int = 0
    output: bytes = b""
    logs: list[bytes] = field(default_factory=list)
    fee: int = 0  # base units charged inside the execution (an EVM's gas), added to charge_fee's
    failure: tuple[str, str] | None = None


class Engine(Protocol):
    """What a VM implements to run on the shared state. It touches the chain only through `State`."""

    name: str
    first_opcode: int
    last_opcode: int

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        """Decode an envelope and check it against the committed state; raise AdmissionError to refuse it.

        `recent` are the hashes of the latest blocks, newest first (a Solana blockhash or a Tron
        reference block must be one of them)."""
        ...

    def verify(self, tx: Tx) -> None:
        """Check the transaction's signature(s); raise AdmissionError if one fails.

        Kept apart from `admit` because it needs no state and, for the usual curves, runs in C
        without the GIL: a batch is verified on every core at once.
        """
        ...

    def decode(self, envelope: bytes) -> Tx:
        """Decode an envelope that was already admitted (no signature check)."""
        ...

    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        """Charge the fee before execution, outside the transaction's snapshot; return it in base units."""
        ...

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome: ...


@dataclass
class Receipt:
    """The result of one transaction. `code` is "" on success, a machine-readable reason otherwise."""

    success: bool
    fee: int = 0
    gas_used: int = 0
    code: str = ""
    message: str = ""
    output: bytes = b""
    logs: list[bytes] = field(default_factory=list)

    def encode(self) -> bytes:
        """Canonical bytes (docs/PROTOCOL.md, "Receipts"); the receipts root commits to these."""
        code = self.code.encode()
        msg = self.message.encode()[:1024]
        out = [
            b"\x01" if self.success else b"\x00",
            self.fee.to_bytes(8, "big"),
            self.gas_used.to_bytes(8, "big"),
            len(code).to_bytes(1, "big"),
            code,
            len(msg).to_bytes(2, "big"),
            msg,
            len(self.output).to_bytes(4, "big"),
            self.output,
            len(self.logs).to_bytes(2, "big"),
        ]
        for entry in self.logs:
            out += [len(entry).to_bytes(4, "big"), entry]
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        r = Reader(data)
        success = r.take(1) == b"\x01"
        fee, gas = r.uint(8), r.uint(8)
        code = r.var(1).decode()
        msg = r.var(2).decode()
        output = r.var(4)
        logs = [r.var(4) for _ in range(r.uint(2))]
        r.done()
        return cls(success, fee, gas, code, msg, output, logs)


def declared_access(engine: Engine, tx: Tx, state: State) -> Access | None:
    declare = getattr(engine, "access", None)
    return None if declare is None else declare(tx, state)  # type: ignore[no-any-return]


class Registry:
    """Opcode -> engine table. With `declare_access`, admission also gives each transaction its access
    set (for a node that runs blocks in parallel)."""

    def __init__(self) -> None:
        self._table: list[Engine | None] = [None] * 256
        self.declare_access = False

    def register(self, engine: Engine) -> None:
        first, last = engine.first_opcode, engine.last_opcode
        if not 0 < first <= last <= 0xFF:
            raise ValueError(f"engine {engine.name}: bad opcode range {first:#x}-{last:#x}")
        for vm, (lo, hi) in VM_RANGES.items():
            overlaps = not (last < lo or first > hi)
            if overlaps and (vm != engine.name or (first, last) != (lo, hi)):
                raise ValueError(f"engine {engine.name}: {first:#04x}-{last:#04x} overlaps the {vm} range {lo:#04x}-{hi:#04x}")
        for op in range(first, last + 1):
            other = self._table[op]
            if other is not None and other is not engine:
                raise ValueError(f"engine {engine.name}: opcode {op:#04x} is taken by {other.name}")
        for op in range(first, last + 1):
            self._table[op] = engine

    def engines(self) -> list[Engine]:
        seen: list[Engine] = []
        for e in self._table:
            if e is not None and e not in seen:
                seen.append(e)
        return seen

    def route(self, envelope: bytes) -> Engine:
        if not envelope:
            raise AdmissionError("empty envelope: the first byte must be an opcode", "empty_envelope")
        op = envelope[0]
        engine = self._table[op]
        if engine is not None:
            return engine
        for vm, (lo, hi) in VM_RANGES.items():
            if lo <= op <= hi:
                raise AdmissionError(
                    f"opcode {op:#04x} belongs to the {VM_TITLES[vm]} ({lo:#04x}-{hi:#04x}), which this node does not run yet",
                    "engine_not_installed",
                )
        raise AdmissionError(f"opcode {op:#04x} is not assigned to any virtual machine", "unassigned_opcode")

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        engine = self.route(envelope)
        tx = engine.admit(envelope, state, chain_id, recent)
        if tx.envelope != envelope:
            raise AssertionError("an engine must keep the envelope byte-exact")
        engine.verify(tx)
        self._declare(engine, tx, state)
        return tx

    def _declare(self, engine: Engine, tx: Tx, state: State) -> None:
        if self.declare_access:
            tx.access, tx.declared = declared_access(engine, tx, state), True

    def admit_many(
        self, envelopes: list[bytes], state: State, chain_id: int, recent: Sequence[bytes] = ()
    ) -> list[Tx | AdmissionError]:
        """Admit a batch: state checks in order, then every signature on a pool of threads."""
        checked: list[tuple[Engine, Tx] | AdmissionError] = []
        for envelope in envelopes:
            try:
                engine = self.route(envelope)
                tx = engine.admit(envelope, state, chain_id, recent)
                self._declare(engine, tx, state)
                checked.append((engine, tx))
            except AdmissionError as e:
                checked.append(e)

        def verify(item: tuple[Engine, Tx] | AdmissionError) -> Tx | AdmissionError:
            if isinstance(item, AdmissionError):
                return item
            engine, tx = item
            try:
                engine.verify(tx)
            except AdmissionError as e:
                return e
            return tx

        if len(checked) < 64:
            return [verify(item) for item in checked]
        # One contiguous slice per thread: per-item futures would cost more than the GIL-free work.
        step = -(-len(checked) // VERIFY_THREADS)
        slices = [checked[i : i + step] for i in range(0, len(checked), step)]
        with ThreadPoolExecutor(len(slices)) as pool:
            done = pool.map(lambda part: [verify(item) for item in part], slices)
            return [result for part in done for result in part]


def execute_tx(engine: Engine, tx: Tx, state: State, ctx: BlockContext) -> Receipt:
    """Run one transaction: fee first (kept on failure), then the body under a snapshot.

    Any failure — an ExecutionError from the engine, or an unexpected exception inside it —
    restores the snapshot and yields a failed receipt; the block goes on.
    """
    fee_snap = state.snapshot()
    try:
        fee = engine.charge_fee(tx, state, ctx)
    except ExecutionError as e:
        state.revert(fee_snap)
        return Receipt(False, 0, 0, e.code, e.message)
    state.commit(fee_snap)
    snap = state.snapshot()
    try:
        outcome = engine.execute(tx, state, ctx)
    except ExecutionError as e:
        state.revert(snap)
        return Receipt(False, fee, 0, e.code, e.message)
    except Exception:
        state.revert(snap)
        log.exception("engine %s raised while executing %s", engine.name, tx.envelope_id.hex())
        return Receipt(False, fee, 0, "internal_error", f"the {engine.name} engine failed unexpectedly")
    state.commit(snap)
    code, message = outcome.failure or ("", "")
    return Receipt(
        outcome.failure is None, fee + outcome.fee, outcome.gas_used, code, message, outcome.output, list(outcome.logs)
    )
