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

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from . import coins
from .dispatcher import Access, BlockContext, Receipt, Registry, Tx, declared_access, execute_tx
from .errors import AdmissionError
from .hashing import U64_MAX, H
from .ledger import FEE_COLLECTOR, NATIVE_MINT, balance_slot
from .state import Diff, State

SHARDS = 64  # SPEC §2 default S
SHARD_PREFIX = b"nvm/ctx"  # the prefix a transaction's context tag is sharded under (docs/PROTOCOL.md)
FEE_KEY = balance_slot(NATIVE_MINT, FEE_COLLECTOR)
STRATEGIES = ("sequential", "batched", "sharded")
log = logging.getLogger("nvm.parallel")


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
    """`shards` + 1 lists of transaction indices in block order; the last is the shared shard.

    A transaction goes to the shared shard when a key it writes was read or written, or a key it reads
    was written, by a transaction of another shard or of the shared shard (reading the same key, as
    every transfer reads its mint's record, is no conflict)."""
    shared = shards
    writers: dict[bytes, set[int]] = {}
    readers: dict[bytes, set[int]] = {}
    out: list[list[int]] = [[] for _ in range(shards + 1)]
    after_global = False  # the shards run before the shared shard: nothing after a global one may
    for i, (a, ctx) in enumerate(zip(accesses, contexts, strict=True)):
        after_global = after_global or a is None
        if a is None or ctx is None or after_global:
            s = shared
        else:
            s = shard_of(SHARD_PREFIX, ctx, shards)
            others = {s}
            crossing = any(writers.get(k, others) - others or readers.get(k, others) - others for k in a.writes) or any(
                writers.get(k, others) - others for k in a.reads
            )
            if crossing:
                s = shared
        if a is not None:
            for k in a.writes:
                writers.setdefault(k, set()).add(s)
            for k in a.reads:
                readers.setdefault(k, set()).add(s)
        out[s].append(i)
    return out


# -- running ----------------------------------------------------------------------------------------
class RecordingState(State):
    """A State that remembers every key read and written (to check a transaction kept to its access set)."""

    __slots__ = ("read", "written")

    def __init__(self, base: Mapping[bytes, bytes], block: tuple[int, int] = (0, 0)) -> None:
        super().__init__(base, block)
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
    state = RecordingState(base, (ctx.height, ctx.timestamp_ms))
    state.begin_tx()
    started = time.perf_counter_ns()
    receipt = execute_tx(registry.route(tx.envelope), tx, state, ctx)
    took = time.perf_counter_ns() - started
    diff = state.end_tx()
    # A write that left the value as it was is a read (the transaction depended on that value, no one
    # else sees a change): what must lie among the declared writes is what the diff changed.
    kept = access is None or (
        {k for k, _, _ in diff} - {FEE_KEY} <= access.writes
        and (state.read | state.written) - {FEE_KEY} <= access.reads | access.writes
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


# The fee collector's native balance as (amount, coin version): every fee moves both (chain/coins.py).
Fee = tuple[int, int]


def _fee(state: Mapping[bytes, bytes]) -> Fee:
    amount, version, _wallet = coins.split(state.get(FEE_KEY))
    return amount, version


def _encode_fee(value: Fee) -> bytes | None:
    return coins.join(value[0], value[1], False) if value != (0, 0) else None


def _fee_delta(diff: Diff) -> Fee:
    for key, old, new in diff:
        if key == FEE_KEY:
            (a0, v0, _), (a1, v1, _) = coins.split(old), coins.split(new)
            return a1 - a0, v1 - v0
    return 0, 0


def _add(a: Fee, b: Fee) -> Fee:
    return a[0] + b[0], a[1] + b[1]


@dataclass
class BlockRun:
    results: list[TxResult]
    top: dict[bytes, bytes | None]  # every key the block wrote, its last value
    schedule: Schedule


def access_of(registry: Registry, tx: Tx, pre: State) -> Access | None:
    """Its access set: as declared at admission, else from its engine now."""
    if tx.declared:
        return tx.access
    try:
        engine = registry.route(tx.envelope)
    except AdmissionError:
        return None
    return declared_access(engine, tx, pre)


def run_block(
    registry: Registry,
    txs: list[Tx],
    entries: Mapping[bytes, bytes],
    ctx: BlockContext,
    strategy: str,
    parallel: Runner | None = None,
    serial: Runner | None = None,
    shards_runner: ShardRunner | None = None,
) -> BlockRun:
    """Run decoded transactions by `strategy` over the committed `entries`; results in block order.

    `parallel` runs a group of transactions that cannot see each other, each against the same base
    (in this process by default; a worker pool elsewhere); `serial` a group in order."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown execution strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    parallel = parallel or run_in_process(registry)
    serial = serial or run_serially(registry)
    run_serial = serial

    def each_serially(
        groups: list[list[tuple[int, Tx, Access | None]]], base: Mapping[bytes, bytes], ctx: BlockContext
    ) -> list[list[TxResult]]:
        return [run_serial(g, base, ctx) for g in groups]

    shards_runner = shards_runner or each_serially
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
            fee_total = _add(fee_total, _fee_delta(r.diff))
        if fee_total[0] > U64_MAX:
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
        shards = [g for g in schedule.groups[:-1] if g]
        shared = schedule.groups[-1]
        answers = shards_runner([items(g) for g in shards], Layered(dict(top), entries), ctx) if shards else []
        absorb([(i, r) for g, rs in zip(shards, answers, strict=True) for i, r in zip(g, rs, strict=True)])
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
        again = run_block(registry, txs, entries, ctx, "sequential")
        again.schedule.strategy = strategy
        again.schedule.groups = schedule.groups
        again.schedule.fallback = f"transaction {broken.tx.envelope_id.hex()} went outside its access set"
        return again
    # each transaction's view of the fee collector, as the sequential run has it
    running = _fee(entries)
    for r in ordered:
        delta = _fee_delta(r.diff)
        if delta != (0, 0):
            after = _add(running, delta)
            r.diff = [(k, _encode_fee(running), _encode_fee(after)) if k == FEE_KEY else (k, o, n) for k, o, n in r.diff]
            running = after
    schedule.stages_ms["merge"] = (time.perf_counter() - clock) * 1000
    return BlockRun(ordered, top, schedule)


# -- work for another process (a Celery worker) ---------------------------------------------------------
# A group's transactions, the values of every key they declared (and the fee collector's), the block
# context: bytes in, bytes out (MessagePack), so any transport carries it. docs/PROTOCOL.md §12 gives
# the layout. MessagePack because a block's part holds some 100,000 small fields: its C codec reads and
# writes them ten times faster than a hand-written reader walking them one by one.
WORK_VERSION = 1
# a part's answer that is not the shape below (a worker of another version, a damaged message)
BAD_ANSWER = (ValueError, TypeError, IndexError, KeyError, OverflowError)


def encode_work(
    group: list[tuple[int, Tx, Access | None]], base: Mapping[bytes, bytes], ctx: BlockContext, serial: bool = False
) -> bytes:
    """`serial`: each transaction sees the ones before it (a shard's), else each runs alone (a batch's)."""
    keys: set[bytes] = {FEE_KEY}
    txs = []
    for _, tx, access in group:
        if access is None:
            raise ValueError("a global transaction runs in the coordinator, never on a worker")
        keys |= access.reads | access.writes
        txs.append([tx.envelope, tx.admitted_against, list(access.reads), list(access.writes)])
    values = {}
    for key in keys:
        value = base.get(key)
        if value is not None:
            values[key] = value  # an absent key is not sent: absent there too
    context = [ctx.height, ctx.timestamp_ms, ctx.chain_id, ctx.proposer, list(ctx.recent_hashes)]
    packed: bytes = msgpack.packb([WORK_VERSION, serial, context, values, txs], use_bin_type=True)
    return packed


def run_work(registry: Registry, work: bytes) -> bytes:
    """What a worker does with `encode_work`'s bytes: each transaction alone against the values sent
    (or, `serial`, each after the ones before it)."""
    version, serial, context, values, txs = msgpack.unpackb(work, raw=False, strict_map_key=False)
    if version != WORK_VERSION:
        raise ValueError(f"work of version {version}; this worker reads version {WORK_VERSION}")
    height, timestamp_ms, chain_id, proposer, recent = context
    ctx = BlockContext(height, timestamp_ms, chain_id, proposer, tuple(recent))
    base: dict[bytes, bytes] = values
    out = []
    for envelope, admitted_against, reads, writes in txs:
        tx = registry.route(envelope).decode(envelope)
        tx.admitted_against = admitted_against
        result = run_one(registry, tx, base, ctx, Access(frozenset(reads), frozenset(writes)))
        if serial:
            for key, _old, value in result.diff:
                if value is None:
                    base.pop(key, None)
                else:
                    base[key] = value
        # a key the transaction reads that was not sent is missing here, not absent: the check fails then
        rc = result.receipt
        receipt = [rc.success, rc.fee, rc.gas_used, rc.code, rc.message, rc.output, rc.logs]
        out.append([receipt, result.diff, result.notes, result.exec_ns, result.kept_to_access])
    packed: bytes = msgpack.packb(out, use_bin_type=True)
    return packed


def decode_results(data: bytes, txs: list[Tx]) -> list[TxResult]:
    """A worker's answer for `txs`; ValueError when it is not one."""
    try:
        answers = msgpack.unpackb(data, raw=False, use_list=False)  # arrays as tuples: a diff entry, a note
        if len(answers) != len(txs):
            raise ValueError("a worker answered for another number of transactions")
        out = []
        for tx, ((success, fee, gas, code, message, output, logs), diff, notes, exec_ns, kept) in zip(txs, answers, strict=True):
            receipt = Receipt(success, fee, gas, code, message, output, list(logs))
            out.append(TxResult(tx, receipt, list(diff), list(notes), exec_ns, kept))
        return out
    except BAD_ANSWER as e:
        raise ValueError(f"a worker's answer does not read: {e}") from None


ShardRunner = Callable[[list[list[tuple[int, Tx, Access | None]]], Mapping[bytes, bytes], BlockContext], list[list[TxResult]]]


@dataclass
class Pool:
    """How a block's independent work leaves this process: `send` takes parts of work (bytes) and gives
    back, in order, each part's results, or None where a worker died, timed out or failed."""

    send: Callable[[Iterable[bytes]], list[bytes | None]]
    workers: int
    min_group: int = 64  # a smaller batch runs here: shipping it would cost more than running it
    sent: int = 0  # parts answered by workers
    local: int = 0  # parts that ran here instead

    def groups(self, registry: Registry) -> Runner:
        local = run_in_process(registry)

        def run(group: list[tuple[int, Tx, Access | None]], base: Mapping[bytes, bytes], ctx: BlockContext) -> list[TxResult]:
            if len(group) < max(2, self.min_group) or any(a is None for _, _, a in group):
                return local(group, base, ctx)
            size = -(-len(group) // self.workers)
            parts = [group[i : i + size] for i in range(0, len(group), size)]
            return [r for rs in self._run(registry, parts, base, ctx, serial=False) for r in rs]

        return run

    def shards(self, registry: Registry) -> ShardRunner:
        def run(
            shards: list[list[tuple[int, Tx, Access | None]]], base: Mapping[bytes, bytes], ctx: BlockContext
        ) -> list[list[TxResult]]:
            # shards share no key: several in one part run one after another, each seeing only its own
            bins: list[list[int]] = [[] for _ in range(min(self.workers, len(shards)) or 1)]
            for i in sorted(range(len(shards)), key=lambda i: -len(shards[i])):
                min(bins, key=lambda b: sum(len(shards[j]) for j in b)).append(i)
            parts = [[item for j in b for item in shards[j]] for b in bins if b]
            answers = self._run(registry, parts, base, ctx, serial=True)
            by_index = {item[0]: r for part, rs in zip(parts, answers, strict=True) for item, r in zip(part, rs, strict=True)}
            return [[by_index[item[0]] for item in shard] for shard in shards]

        return run

    def _run(
        self,
        registry: Registry,
        parts: list[list[tuple[int, Tx, Access | None]]],
        base: Mapping[bytes, bytes],
        ctx: BlockContext,
        serial: bool,
    ) -> list[list[TxResult]]:
        # a generator: each part leaves as soon as it is encoded, its worker starts while the next is
        answers = self.send(encode_work(part, base, ctx, serial) for part in parts)
        out = []
        for part, answer in zip(parts, answers, strict=True):
            results = None
            if answer is not None:
                try:
                    results = decode_results(answer, [tx for _, tx, _ in part])
                except ValueError:
                    log.warning("a worker's answer did not read; running its part here")
                    results = None
            if results is None:
                self.local += 1
                results = (run_serially(registry) if serial else run_in_process(registry))(part, base, ctx)
            else:
                self.sent += 1
            out.append(results)
        return out
