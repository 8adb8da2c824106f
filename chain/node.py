"""The integrated node's core: committed state, the state tree, the head, and block production.

`Chain` is pure Python over a `Store` (chain/store for SQL, chain/memstore for memory). It
loads the committed entries and tree nodes, builds a block from mempool entries by running
each through its engine over a `State` overlay, updates the tree from the block's net diff
once, signs the header, and hands everything to the store, which writes it in one
database transaction. Only after the store returns does the in-memory view move on.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from time import perf_counter_ns
from typing import Any, Protocol

from nacl.signing import SigningKey

from .blocks import GENESIS_PARENT, Header
from .dispatcher import BlockContext, Receipt, Recent, Registry, Tx, execute_tx
from .errors import AdmissionError, ChainError
from .genesis import CHAIN_ID_KEY
from .hashing import Reader, merkle_root
from .ledger import FEE_COLLECTOR
from .parallel import STRATEGIES, Pool, run_block
from .state import Diff, State, apply_diff
from .tree import StateTree


@dataclass
class ExecutedTx:
    tx: Tx
    receipt: Receipt
    diff: Diff
    parties: tuple[bytes, ...] = ()  # identities it wrote balances, allowances or keys of (fee collector aside)
    exec_ns: int | None = None  # time this node took to execute it (not consensus; the explorer shows it)

    @cached_property
    def receipt_bytes(self) -> bytes:
        return self.receipt.encode()


@dataclass
class Block:
    header: Header
    txs: list[ExecutedTx]
    state_diff: dict[bytes, bytes | None]
    node_writes: dict[str, bytes | None]
    notes: list[tuple[object, ...]] = field(default_factory=list)
    mempool_seqs: list[int] = field(default_factory=list)
    schedule: dict[str, object] | None = None  # how it was executed (chain/parallel.py); not consensus


@dataclass
class Loaded:
    entries: dict[bytes, bytes]
    nodes: dict[str, bytes]
    head: Header | None
    recent_hashes: list[bytes] = field(default_factory=list)  # newest first, at most RECENT_BLOCKS


class Store(Protocol):
    def load(self) -> Loaded: ...
    def pending(self, limit: int) -> list[tuple[int, bytes]]: ...
    def add_pending(self, txs: list[Tx]) -> None: ...
    def commit_block(self, block: Block) -> None: ...


RECENT_BLOCKS = 256  # how far back a VM may ask for a block hash (the EVM's BLOCKHASH)


class CorruptStore(ChainError):
    code = "corrupt_store"


class StaleHead(ChainError):
    """A block built on a head the store no longer has (a state file was loaded meanwhile): reload, build again."""

    code = "stale_head"


_DIFF_HEAD = struct.Struct(">32sBI")
_LEN = struct.Struct(">I")


def encode_diff(diff: Diff) -> bytes:
    """Per-transaction diff as stored: key 32 || flags u8 (1 old present, 2 new present) || u32 len || old || u32 len || new."""
    out = []
    for key, old, new in diff:
        o, n = old or b"", new or b""
        out += [_DIFF_HEAD.pack(key, (old is not None) | ((new is not None) << 1), len(o)), o, _LEN.pack(len(n)), n]
    return b"".join(out)


def decode_diff(data: bytes) -> Diff:
    r = Reader(data)
    diff: Diff = []
    while r.pos < len(data):
        key, flags = r.take(32), r.uint(1)
        old, new = r.var(4), r.var(4)
        diff.append((key, old if flags & 1 else None, new if flags & 2 else None))
    return diff


def parties_of(notes: list[tuple[object, ...]], start: int) -> tuple[bytes, ...]:
    seen: dict[bytes, None] = {}
    for note in notes[start:]:
        if note[0] == "party" and note[1] != FEE_COLLECTOR:  # every transaction pays it: no row for that
            seen[note[1]] = None  # type: ignore[index]
    return tuple(seen)


def chain_id_of(entries: Mapping[bytes, bytes]) -> int:
    raw = entries.get(CHAIN_ID_KEY)
    if raw is None:
        raise ChainError("no genesis block: run `python manage.py nvm genesis` first", "no_genesis")
    return int.from_bytes(raw, "big")


class Chain:
    def __init__(
        self, store: Store, registry: Registry, validator: SigningKey, strategy: str = "sequential", pool: Pool | None = None
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown execution strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
        self.store = store
        self.registry = registry
        self.validator = validator
        self.strategy = strategy  # chain/parallel.py: sequential, batched or sharded; the same blocks either way
        self.pool = pool  # where batches and shards run; None: in this process
        registry.declare_access = strategy != "sequential"  # what this process admits comes with its keys
        # Transactions this process admitted, by envelope: the block builder takes them from here
        # instead of decoding the mempool rows again.
        self._decoded: dict[bytes, Tx] = {}
        loaded = store.load()
        self.entries = loaded.entries
        self.tree = StateTree(loaded.nodes)
        self.head = loaded.head
        self.recent_hashes: deque[bytes] = deque(loaded.recent_hashes, maxlen=RECENT_BLOCKS)
        if self.head is not None and self.tree.root != self.head.state_root:
            raise CorruptStore(f"stored tree root {self.tree.root.hex()} differs from block {self.head.height}'s state root")

    @property
    def chain_id(self) -> int:
        return chain_id_of(self.entries)

    # -- genesis ---------------------------------------------------------------------------
    def create_genesis(self, populate: Callable[[State], None], timestamp_ms: int) -> Header:
        """Block 0: the state `populate` writes, no transactions."""
        if self.head is not None:
            raise ChainError("genesis already exists", "genesis_exists")
        state = State(self.entries, (0, timestamp_ms))
        populate(state)
        diff = state.block_diff()
        writes = self.tree.update(diff)
        header = Header(
            0,
            GENESIS_PARENT,
            timestamp_ms,
            self.tree.root,
            merkle_root([]),
            merkle_root([]),
            self.validator.verify_key.encode(),
        ).sign(self.validator)
        self.commit(Block(header, [], diff, writes, state.notes))
        return header

    # -- admission -------------------------------------------------------------------------
    def admit(self, envelope: bytes) -> Tx:
        tx = self.registry.admit(envelope, State(self.entries), self.chain_id, self.recent())
        self.store.add_pending([tx])
        self._decoded[envelope] = tx
        return tx

    def recent(self) -> Recent:
        head = self._require_head()
        return Recent(tuple(self.recent_hashes), head.height, head.timestamp_ms)

    def admit_many(self, envelopes: list[bytes]) -> tuple[list[Tx], list[tuple[int, AdmissionError]]]:
        """Admit a batch against the committed state; the admitted ones reach the mempool in one write."""
        admitted: list[Tx] = []
        refused: list[tuple[int, AdmissionError]] = []
        for i, result in enumerate(self.registry.admit_many(envelopes, State(self.entries), self.chain_id, self.recent())):
            if isinstance(result, AdmissionError):
                refused.append((i, result))
            else:
                admitted.append(result)
        if admitted:
            self.store.add_pending(admitted)
            self._decoded.update((tx.envelope, tx) for tx in admitted)
        return admitted, refused

    # -- production ------------------------------------------------------------------------
    def build_block(self, pending: list[tuple[int, bytes]], timestamp_ms: int) -> Block:
        head = self._require_head()
        timestamp_ms = max(timestamp_ms, head.timestamp_ms + 1)
        proposer = self.validator.verify_key.encode()
        ctx = BlockContext(head.height + 1, timestamp_ms, self.chain_id, proposer, tuple(self.recent_hashes))
        if self.strategy != "sequential":
            return self._seal(ctx, head, timestamp_ms, *self._run_scheduled(pending, ctx), pending)
        started_block = perf_counter_ns()
        state = State(self.entries, (ctx.height, ctx.timestamp_ms))
        executed: list[ExecutedTx] = []
        for _seq, envelope in pending:
            state.begin_tx()
            first_note = len(state.notes)
            try:
                engine = self.registry.route(envelope)
                tx = self._decoded.pop(envelope, None) or engine.decode(envelope)
            except (AdmissionError, ValueError) as e:
                # Admitted under another configuration (an engine since removed): it is
                # recorded as failed rather than dropped, so nothing admitted is ever lost.
                code = e.code if isinstance(e, AdmissionError) else "undecodable"
                executed.append(ExecutedTx(Tx(envelope), Receipt(False, code=code, message=str(e)), state.end_tx()))
                continue
            started = perf_counter_ns()
            receipt = execute_tx(engine, tx, state, ctx)
            took = perf_counter_ns() - started
            executed.append(ExecutedTx(tx, receipt, state.end_tx(), parties_of(state.notes, first_note), took))
        diff = state.block_diff()
        schedule = {"strategy": "sequential", "stages_ms": {"execute": round((perf_counter_ns() - started_block) / 1e6, 3)}}
        return self._seal(ctx, head, timestamp_ms, executed, diff, state.notes, schedule, pending)

    def _run_scheduled(
        self, pending: list[tuple[int, bytes]], ctx: BlockContext
    ) -> tuple[list[ExecutedTx], dict[bytes, bytes | None], list[tuple[object, ...]], dict[str, object]]:
        """The block by the batch or shard schedule (chain/parallel.py): the sequential result, reordered
        only among transactions that cannot see each other."""
        slots: list[ExecutedTx | None] = []
        txs: list[Tx] = []
        for _seq, envelope in pending:
            try:
                engine = self.registry.route(envelope)
                known = self._decoded.pop(envelope, None)
                txs.append(known if known is not None else engine.decode(envelope))
                slots.append(None)
            except (AdmissionError, ValueError) as e:
                code = e.code if isinstance(e, AdmissionError) else "undecodable"
                slots.append(ExecutedTx(Tx(envelope), Receipt(False, code=code, message=str(e)), []))
        pool = self.pool
        if pool is None:
            run = run_block(self.registry, txs, self.entries, ctx, self.strategy)
        else:
            pool.sent = pool.local = 0
            run = run_block(
                self.registry,
                txs,
                self.entries,
                ctx,
                self.strategy,
                parallel=pool.groups(self.registry),
                shards_runner=pool.shards(self.registry),
            )
        results = iter(run.results)
        executed: list[ExecutedTx] = []
        notes: list[tuple[object, ...]] = []
        for slot in slots:
            if slot is not None:
                executed.append(slot)
                continue
            r = next(results)
            executed.append(ExecutedTx(r.tx, r.receipt, r.diff, parties_of(r.notes, 0), r.exec_ns))
            notes += r.notes
        entries = self.entries
        diff = {k: v for k, v in sorted(run.top.items()) if entries.get(k) != v}
        summary = run.schedule.summary()
        if pool is not None:
            summary["workers"] = {"pool": pool.workers, "parts_on_workers": pool.sent, "parts_here": pool.local}
        return executed, diff, notes, summary

    def _seal(
        self,
        ctx: BlockContext,
        head: Header,
        timestamp_ms: int,
        executed: list[ExecutedTx],
        diff: dict[bytes, bytes | None],
        notes: list[tuple[object, ...]],
        schedule: dict[str, Any],
        pending: list[tuple[int, bytes]],
    ) -> Block:
        started = perf_counter_ns()
        writes = self.tree.update(diff)
        # every strategy shares this stage: the part of a block no worker can take (bench/parallel.py's bound)
        schedule.setdefault("stages_ms", {})["state_root"] = round((perf_counter_ns() - started) / 1e6, 3)
        header = Header(
            ctx.height,
            head.hash,
            timestamp_ms,
            self.tree.root,
            merkle_root([e.tx.envelope for e in executed]),
            merkle_root([e.receipt_bytes for e in executed]),
            ctx.proposer,
        ).sign(self.validator)
        return Block(header, executed, diff, writes, notes, [seq for seq, _ in pending], schedule)

    def produce(self, max_txs: int, timestamp_ms: int | None = None, pending: list[tuple[int, bytes]] | None = None) -> Block:
        """Build, sign and commit the next block from the mempool (or from `pending` already read from it)."""
        if pending is None:
            pending = self.store.pending(max_txs)
        block = self.build_block(pending, int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
        self.commit(block)
        return block

    def commit(self, block: Block) -> None:
        """Persist a block made by `build_block`, then move the in-memory view to it."""
        self.store.commit_block(block)
        apply_diff(self.entries, block.state_diff)
        self.head = block.header
        self.recent_hashes.appendleft(block.header.hash)

    def _require_head(self) -> Header:
        if self.head is None:
            raise ChainError("no genesis block: run `python manage.py nvm genesis` first", "no_genesis")
        return self.head
