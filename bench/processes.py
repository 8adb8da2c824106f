"""Benchmark: could worker processes take a 20,000-transfer block ≥ 1.6× faster than one process? Two designs
that share out the state root as well as the execution, measured against the sequential block:

- `forked`: at each block the producer forks 2 children, which see the committed state and the tree as the
  producer holds them (copy-on-write), each executes half the block, then updates half the tree (the root's
  children 0–7 or 8–f);
- `replicas`: 2 long-lived workers, each holding its own copy of the state and of its half of the tree (kept
  up to date off the timed path), so nothing is shared and no page is copied on write.

Both send the transactions out and take back what `run_work` answers (chain/parallel.py: receipts and
diffs, MessagePack); the producer merges the diffs, sends each worker its half of the changed keys, takes back
the half-tree's node writes and puts the root together. Every run must give the sequential block's diff and
node writes exactly, or the bench fails. Not timed: genesis, signing, admission, starting the workers.

This is the measurement behind the parallel-execution issue's note: it is not how the node runs blocks (that
is chain/parallel.py's batches and shards, on Celery workers).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from hashlib import sha256
from multiprocessing.connection import Connection
from typing import Any

import msgpack
from nacl.signing import SigningKey

from chain import parallel as par
from chain import tree
from chain.dispatcher import Access, BlockContext, Registry, Tx
from chain.hashing import H
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State

from .native_transfer import _genesis
from .parallel import _registry, _workload

HALVES = ("01234567", "89abcdef")  # the root's children each worker updates
Nodes = dict[str, bytes]


def _private(entries: dict[bytes, bytes], nodes: Nodes, digits: str) -> tuple[dict[bytes, bytes], Nodes]:
    """New objects for every key and value: nothing left shared with the process this one was forked from."""
    own = {bytes(bytearray(k)): bytes(bytearray(v)) for k, v in entries.items()}
    own_nodes = {(p + ".")[:-1]: bytes(bytearray(b)) for p, b in nodes.items() if p == "" or p[0] in digits}
    return own, own_nodes


def _half_tree(nodes: Nodes, changes: dict[bytes, bytes | None]) -> tuple[dict[str, bytes | None], dict[str, bytes | None]]:
    """The new subtree under each changed child of the root, and the node writes below the root."""
    batch = tree._Batch(nodes, changes)
    root = nodes[""]
    tops: dict[str, bytes | None] = {}
    for digit, lo, hi in tree._groups(batch.keys, "", 0, len(batch.keys)):
        old = batch.stored(digit) if tree.child_hash(root, tree.NIBBLE[digit]) != tree.EMPTY_HASH else None
        tops[digit] = batch.update_node(digit, lo, hi, old)
    return tops, batch.writes


def _serve(conn: Connection, registry: Registry, entries: dict[bytes, bytes], nodes: Nodes, ctx: BlockContext) -> None:
    """A worker: ("exec", [[envelope, reads, writes], …]) → run_work's answer; ("tree", changes) → (tops, writes)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    conn.send_bytes(b"ready")
    while True:
        kind, payload = msgpack.unpackb(conn.recv_bytes(), raw=False, strict_map_key=False)
        if kind == "exec":
            out = []
            for envelope, reads, writes in payload:
                tx = registry.route(envelope).decode(envelope)
                r = par.run_one(registry, tx, entries, ctx, Access(frozenset(reads), frozenset(writes)))
                rc = r.receipt
                receipt = [rc.success, rc.fee, rc.gas_used, rc.code, rc.message, rc.output, rc.logs]
                out.append([receipt, r.diff, r.notes, r.exec_ns, r.kept_to_access])
            conn.send_bytes(msgpack.packb(out, use_bin_type=True))
        elif kind == "tree":
            conn.send_bytes(msgpack.packb(_half_tree(nodes, payload), use_bin_type=True))
        else:
            os._exit(0)


class Block:
    """One block of independent transfers over a fresh chain, with everything the designs need."""

    def __init__(self, txs: int) -> None:
        accounts, envelopes = _workload("independent", txs)
        self.chain = Chain(MemoryStore(), _registry(), SigningKey(H(b"bench/validator")))
        self.chain.create_genesis(_genesis(accounts, "ed25519", funds=10**12), 0)
        self.txs: list[Tx] = self.chain.admit_many(envelopes)[0]
        assert len(self.txs) == txs, "every transfer must be admitted"
        registry, pre = self.chain.registry, State(self.chain.entries)
        self.access = [par.access_of(registry, tx, pre) for tx in self.txs]
        self.ctx = BlockContext(1, 1000, self.chain.chain_id, bytes(32), ())

    def diff(self, results: list[par.TxResult]) -> dict[bytes, bytes | None]:
        top: dict[bytes, bytes | None] = {}
        for r in results:
            for key, _old, new in r.diff:
                top[key] = new
        entries = self.chain.entries
        return {k: v for k, v in sorted(top.items()) if entries.get(k) != v}

    def sequential(self) -> tuple[dict[bytes, bytes | None], dict[str, bytes | None], dict[str, float]]:
        nodes = dict(self.chain.tree.nodes)
        t0 = time.perf_counter()
        group = [(i, tx, a) for i, (tx, a) in enumerate(zip(self.txs, self.access, strict=True))]
        results = par.run_in_process(self.chain.registry)(group, self.chain.entries, self.ctx)
        t1 = time.perf_counter()
        diff = self.diff(results)
        t2 = time.perf_counter()
        writes = tree.StateTree(nodes).update(diff)
        t3 = time.perf_counter()
        return diff, writes, {"execute": t1 - t0, "merge": t2 - t1, "state_root": t3 - t2, "total": t3 - t0}

    def on_workers(self, conns: list[Connection]) -> tuple[dict[bytes, bytes | None], dict[str, bytes | None], dict[str, float]]:
        t0 = time.perf_counter()
        size = -(-len(self.txs) // len(conns))
        parts = [list(range(i, min(i + size, len(self.txs)))) for i in range(0, len(self.txs), size)]
        for conn, part in zip(conns, parts, strict=True):
            work = [[self.txs[i].envelope, list(self.access[i].reads), list(self.access[i].writes)] for i in part]  # type: ignore[union-attr]
            conn.send_bytes(msgpack.packb(["exec", work], use_bin_type=True))
        results = []
        for conn, part in zip(conns, parts, strict=True):
            results += par.decode_results(conn.recv_bytes(), [self.txs[i] for i in part])
        t1 = time.perf_counter()
        diff = self.diff(results)
        t2 = time.perf_counter()
        for conn, digits in zip(conns, HALVES, strict=True):
            half = {k: v for k, v in diff.items() if k.hex()[0] in digits}
            conn.send_bytes(msgpack.packb(["tree", half], use_bin_type=True))
        writes: dict[str, bytes | None] = {}
        root = bytearray(self.chain.tree.nodes[""])
        for conn in conns:
            tops, below = msgpack.unpackb(conn.recv_bytes(), raw=False)
            writes.update(below)
            for digit, blob in tops.items():
                at = 1 + tree.HASH_SIZE * tree.NIBBLE[digit]
                root[at : at + tree.HASH_SIZE] = tree.EMPTY_HASH if blob is None else sha256(blob).digest()
                if blob is None or blob[0] == tree.LEAF:
                    writes[digit] = blob  # a leaf or an emptied slot is placed by its parent, the root
        writes[""] = bytes(root)
        t3 = time.perf_counter()
        return diff, writes, {"execute": t1 - t0, "merge": t2 - t1, "state_root": t3 - t2, "total": t3 - t0}


def _worker(conn: Connection, block: Block, digits: str, private: bool) -> None:
    entries, nodes = block.chain.entries, block.chain.tree.nodes
    if private:
        entries, nodes = _private(entries, nodes, digits)
    _serve(conn, block.chain.registry, entries, nodes, block.ctx)


def _start(block: Block, private: bool) -> tuple[list[Connection], list[Any]]:
    ctx = multiprocessing.get_context("fork")  # the arguments are inherited, never pickled
    conns, procs = [], []
    for digits in HALVES:
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(there, block, digits, private), daemon=True)
        proc.start()
        conns.append(here)
        procs.append(proc)
    for conn in conns:
        if conn.recv_bytes() != b"ready":
            raise RuntimeError("a worker did not start")
    return conns, procs


def _stop(conns: list[Connection], procs: list[Any]) -> None:
    for conn in conns:
        conn.send_bytes(msgpack.packb(["exit", None]))
    for proc in procs:
        proc.join(10)


def _rounded(stages: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in stages.items()}


def run(txs: int = 20_000, rounds: int = 3) -> dict[str, Any]:
    block = Block(txs)
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        runs: dict[str, list[dict[str, float]]] = {"sequential": [], "forked": [], "replicas": []}
        replicas = _start(block, private=True)
        try:
            block.on_workers(replicas[0])  # each worker's first part loads its code and touches its pages
            for _ in range(rounds):
                diff, writes, stages = block.sequential()
                runs["sequential"].append(stages)
                forked = _start(block, private=False)  # the fork is part of this design's block
                try:
                    got = block.on_workers(forked[0])
                finally:
                    _stop(*forked)
                runs["forked"].append(got[2])
                if got[:2] != (diff, writes):
                    raise AssertionError("forked workers gave another diff or other node writes")
                got = block.on_workers(replicas[0])
                runs["replicas"].append(got[2])
                if got[:2] != (diff, writes):
                    raise AssertionError("replica workers gave another diff or other node writes")
        finally:
            _stop(*replicas)
    finally:
        gc.enable()
    best = {name: min(stages, key=lambda s: s["total"]) for name, stages in runs.items()}
    seq = best["sequential"]["total"]
    return {
        "scenario": "parallel-processes",
        "txs": txs,
        "seconds": round(seq, 4),
        "tx_per_s": round(txs / seq),
        "ratio": round(seq / min(best["forked"]["total"], best["replicas"]["total"]), 3),  # 2 workers vs sequential
        "target_ratio": 1.6,
        "ratios": {name: round(seq / best[name]["total"], 3) for name in ("forked", "replicas")},
        "best_of": rounds,
        "stages_s": {name: _rounded(stages) for name, stages in best.items()},
        "workers": len(HALVES),
        "cpus": os.cpu_count(),
    }
