"""Parallel block execution (SPEC §6): access sets, the batch and shard schedules, and running a block
by them so that the result is the sequential one, byte for byte.

Every transaction gets an `Access` (the keys it may read and write) from its engine's `access(tx, state)`
against the state before the block, or none: a *global* transaction. Two transactions conflict when a
write of one meets a read or write of the other.

- **batched**: transaction i goes to batch 1 + the highest batch of an earlier transaction it conflicts
  with (a global one: after every earlier batch, and every later one after it). No two transactions
  of a batch conflict, and of two that conflict the earlier is in the earlier batch, so running the
  batches in order, each transaction against the state after the previous batches, is sequential
  execution reordered only among transactions that cannot see each other.
- **sharded**: a transaction with a context tag goes to shard `shard(b"nvm/ctx", ctx)` of S (SPEC §2);
  one without a tag, a global one, or one that touches a key an earlier transaction of another shard
  (or of the shared shard) touched goes to the shared shard S, which runs after the shards, in block
  order. Shards share no key, so they run side by side.

The fee collector's balance is credited by every transaction: it is not a conflict but an addition.
Each transaction runs seeing it as before its batch; the merge, walking the block in order, gives each
transaction's diff the running before/after values the sequential run has.

Access sets are declarations: each transaction runs on a `RecordingState` and what it actually read
and wrote must lie inside what it declared (an earlier transaction of the block can change what a
declaration computed from the state before the block assumed: an address bound to another identity).
If one does not, the block is run again sequentially — the result is the same either way, only slower.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .dispatcher import BlockContext, Receipt, Registry, Tx, execute_tx
from .errors import AdmissionError
from .hashing import U64_MAX, H
from .ledger import FEE_COLLECTOR, NATIVE_MINT, balance_slot
from .state import Diff, State

SHARDS = 64  # SPEC §2 default S
SHARD_PREFIX = b"nvm/ctx"  # the prefix a transaction's context tag is sharded under (docs/PROTOCOL.md)
FEE_KEY = balance_slot(NATIVE_MINT, FEE_COLLECTOR)
STRATEGIES = ("sequential", "batched", "sharded")


@dataclass(frozen=True)
class Access:
    reads: frozenset[bytes]
    writes: frozenset[bytes]


def shard_of(prefix: bytes, ctx: bytes, shards: int = SHARDS) -> int:
    """SPEC §2: int(H(len(prefix) u16 || prefix || ctx16)[:8]) mod S."""
    return int.from_bytes(H(len(prefix).to_bytes(2, "big") + prefix + ctx)[:8], "big") % shards


# -- schedules ---------------------------------------------------------------------------------------
def batch_schedule(accesses: list[Access | None]) -> list[list[int]]:
    """Transaction indices by batch (each batch in block order)."""
    last_write: dict[bytes, int] = {}
    last_read: dict[bytes, int] = {}
    barrier = 0  # the batch of the latest global transaction
    top = 0
    levels: list[int] = []
    for a in accesses:
        if a is None:
            level = top + 1
            barrier = level
        else:
            level = barrier + 1
            for k in a.reads:
                level = max(level, last_write.get(k, 0) + 1)
            for k in a.writes:
                level = max(level, last_write.get(k, 0) + 1, last_read.get(k, 0) + 1)
            for k in a.reads:
                if last_read.get(k, 0) < level:
                    last_read[k] = level
            for k in a.writes:
                last_write[k] = level
        top = max(top, level)
        levels.append(level)
    out: list[list[int]] = [[] for _ in range(top)]
    for i, level in enumerate(levels):
        out[level - 1].append(i)
    return out


def shard_schedule(accesses: list[Access | None], contexts: list[bytes | None], shards: int = SHARDS) -> list[list[int]]:
    """`shards` + 1 lists of transaction indices in block order; the last is the shared shard."""
    owner: dict[bytes, int] = {}  # key -> the shard that touched it first (shards = shared)
    out: list[list[int]] = [[] for _ in range(shards + 1)]
    after_global = False  # the shards run before the shared shard: nothing after a global one may
    for i, (a, ctx) in enumerate(zip(accesses, contexts, strict=True)):
        after_global = after_global or a is None
        if a is None or ctx is None or after_global:
            s = shards
        else:
            s = shard_of(SHARD_PREFIX, ctx, shards)
            if any(owner.get(k, s) != s for k in (*a.reads, *a.writes)):
                s = shards
        if a is not None:
            for k in (*a.reads, *a.writes):
                owner.setdefault(k, s)
                if s == shards:
                    owner[k] = shards  # later transactions touching it run after the shards too
        out[s].append(i)
    return out


# -- running ----------------------------------------------------------------------------------------
class RecordingState(State):
    """A State that remembers every key read and written (to check a transaction kept to its access set)."""

    __slots__ = ("read", "written")

    def __init__(self, base: Mapping[bytes, bytes]) -> None:
        super().__init__(base)
        self.read: set[bytes] = set()
        self.written: set[bytes] = set()

    def get(self, key: bytes) -> bytes | None:
        self.read.add(key)
        return super().get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.written.add(key)
        super().set(key, value)

    def delete(self, key: bytes) -> None:
        self.written.add(key)
        super().delete(key)


class Layered(Mapping[bytes, bytes]):
    """The block's writes so far (None = deleted) over the committed entries."""

    def __init__(self, top: dict[bytes, bytes | None], base: Mapping[bytes, bytes]) -> None:
        self.top, self.base = top, base

    def __getitem__(self, key: bytes) -> bytes:
        v = self.top.get(key, _ABSENT)
        if v is _ABSENT:
            return self.base[key]
        if v is None:
            raise KeyError(key)
        return v  # type: ignore[return-value]

    def get(self, key: bytes, default: Any = None) -> Any:
        v = self.top.get(key, _ABSENT)
        if v is _ABSENT:
            return self.base.get(key, default)
        return default if v is None else v

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("the block's state is read key by key")

    def __len__(self) -> int:
        raise TypeError("the block's state is read key by key")


_ABSENT = object()


@dataclass
class TxResult:
    tx: Tx
    receipt: Receipt
    diff: Diff
    notes: list[tuple[object, ...]]
    exec_ns: int
    kept_to_access: bool = True


@dataclass
class Schedule:
    strategy: str
    groups: list[list[int]] = field(default_factory=list)  # batches, or shards (+ the shared one last)
    fallback: str | None = None  # why the block ran sequentially after all
    stages_ms: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy, "stages_ms": {k: round(v, 3) for k, v in self.stages_ms.items()}}
        if self.strategy == "batched":
            out["batches"] = [len(g) for g in self.groups]
        elif self.strategy == "sharded":
            out["shards"] = {str(i): len(g) for i, g in enumerate(self.groups[:-1]) if g}
            out["shared"] = len(self.groups[-1]) if self.groups else 0
        if self.fallback:
            out["fallback"] = self.fallback
        return out


def run_one(registry: Registry, tx: Tx, base: Mapping[bytes, bytes], ctx: BlockContext, access: Access | None) -> TxResult:
    """One transaction against `base`, alone: the unit of work a worker does."""
    state = RecordingState(base)
    state.begin_tx()
    started = time.perf_counter_ns()
    receipt = execute_tx(registry.route(tx.envelope), tx, state, ctx)
    took = time.perf_counter_ns() - started
    diff = state.end_tx()
    kept = access is None or (
        (state.written - {FEE_KEY}) <= access.writes and (state.read - {FEE_KEY}) <= (access.reads | access.writes)
    )
    return TxResult(tx, receipt, diff, state.notes, took, kept)


Runner = Callable[[list[tuple[int, Tx, Access | None]], Mapping[bytes, bytes], BlockContext], list[TxResult]]


def run_in_process(
    registry: Registry,
) -> Runner:
    def run(group: list[tuple[int, Tx, Access | None]], base: Mapping[bytes, bytes], ctx: BlockContext) -> list[TxResult]:
        return [run_one(registry, tx, base, ctx, access) for _, tx, access in group]

    return run


def run_serially(registry: Registry) -> Runner:
    """A group whose transactions must see each other (a shard, the shared shard): one after another."""

    def run(group: list[tuple[int, Tx, Access | None]], base: Mapping[bytes, bytes], ctx: BlockContext) -> list[TxResult]:
        top: dict[bytes, bytes | None] = {}
        view = Layered(top, base)
        out = []
        for _, tx, access in group:
            r = run_one(registry, tx, view, ctx, access)
            for key, _old, new in r.diff:
                top[key] = new
            out.append(r)
        return out

    return run


def _fee(state: Mapping[bytes, bytes]) -> int:
    raw = state.get(FEE_KEY)
    return 0 if raw is None else int.from_bytes(raw, "big")


def _encode_fee(value: int) -> bytes | None:
    return value.to_bytes(8, "big") if value else None  # the ledger deletes a zero balance


def _fee_delta(diff: Diff) -> int:
    for key, old, new in diff:
        if key == FEE_KEY:
            return (0 if new is None else int.from_bytes(new, "big")) - (0 if old is None else int.from_bytes(old, "big"))
    return 0


@dataclass
class BlockRun:
    results: list[TxResult]
    top: dict[bytes, bytes | None]  # every key the block wrote, its last value
    schedule: Schedule


def access_of(registry: Registry, tx: Tx, pre: State) -> Access | None:
    try:
        engine = registry.route(tx.envelope)
    except AdmissionError:
        return None
    declare = getattr(engine, "access", None)
    return None if declare is None else declare(tx, pre)  # type: ignore[no-any-return]


def run_block(
    registry: Registry,
    txs: list[Tx],
    entries: Mapping[bytes, bytes],
    ctx: BlockContext,
    strategy: str,
    parallel: Runner | None = None,
    serial: Runner | None = None,
) -> BlockRun:
    """Run decoded transactions by `strategy` over the committed `entries`; results in block order.

    `parallel` runs a group of transactions that cannot see each other, each against the same base
    (in this process by default; a worker pool elsewhere); `serial` a group in order."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown execution strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    parallel = parallel or run_in_process(registry)
    serial = serial or run_serially(registry)
    clock = time.perf_counter()
    schedule = Schedule(strategy)
    pre = State(entries)
    accesses: list[Access | None] = [access_of(registry, tx, pre) if strategy != "sequential" else None for tx in txs]
    if strategy == "batched":
        schedule.groups = batch_schedule(accesses)
    elif strategy == "sharded":
        schedule.groups = shard_schedule(accesses, [tx.context for tx in txs])
    else:
        schedule.groups = [list(range(len(txs)))]
    now = time.perf_counter()
    schedule.stages_ms["schedule"] = (now - clock) * 1000
    clock = now

    top: dict[bytes, bytes | None] = {}
    fee_total = _fee(entries)
    results: dict[int, TxResult] = {}

    def absorb(group_results: list[tuple[int, TxResult]]) -> None:
        nonlocal fee_total
        for i, r in group_results:
            results[i] = r
            for key, _old, new in r.diff:
                if key != FEE_KEY:
                    top[key] = new
            fee_total += _fee_delta(r.diff)
        if fee_total > U64_MAX:
            raise AssertionError("the fee collector's balance passed the u64 maximum")
        if fee_total != _fee(entries) or FEE_KEY in top:
            top[FEE_KEY] = _encode_fee(fee_total)

    def items(group: list[int]) -> list[tuple[int, Tx, Access | None]]:
        return [(i, txs[i], accesses[i]) for i in group]

    if strategy == "sequential":
        absorb(list(zip(schedule.groups[0], serial(items(schedule.groups[0]), entries, ctx), strict=True)))
    elif strategy == "batched":
        for batch in schedule.groups:
            base = Layered(top, entries)
            runner = parallel if len(batch) > 1 else serial
            absorb(list(zip(batch, runner(items(batch), base, ctx), strict=True)))
    else:
        shards, shared = schedule.groups[:-1], schedule.groups[-1]
        base = Layered(dict(top), entries)
        done = [(i, r) for shard in shards if shard for i, r in zip(shard, serial(items(shard), base, ctx), strict=True)]
        absorb(done)
        now = time.perf_counter()
        schedule.stages_ms["shards"] = (now - clock) * 1000
        clock = now
        if shared:
            absorb(list(zip(shared, serial(items(shared), Layered(top, entries), ctx), strict=True)))
    now = time.perf_counter()
    schedule.stages_ms["shared" if strategy == "sharded" else "execute"] = (now - clock) * 1000
    clock = now

    ordered = [results[i] for i in range(len(txs))]
    broken = next((r for r in ordered if not r.kept_to_access), None)
    if broken is not None and strategy != "sequential":
        again = run_block(registry, txs, entries, ctx, "sequential", parallel, serial)
        again.schedule.strategy = strategy
        again.schedule.groups = schedule.groups
        again.schedule.fallback = f"transaction {broken.tx.envelope_id.hex()} went outside its access set"
        return again
    # each transaction's view of the fee collector, as the sequential run has it
    running = _fee(entries)
    for r in ordered:
        delta = _fee_delta(r.diff)
        if delta:
            r.diff = [
                (k, _encode_fee(running), _encode_fee(running + delta)) if k == FEE_KEY else (k, o, n) for k, o, n in r.diff
            ]
            running += delta
    schedule.stages_ms["merge"] = (time.perf_counter() - clock) * 1000
    return BlockRun(ordered, top, schedule)
