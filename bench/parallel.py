"""Benchmark: a block executed sequentially, by write-set batches and by context shards, in this process
and on 1 and 2 real Celery workers (Redis broker) — DESIGN.md: ≥ 1.6× on 2 workers vs sequential for a
block of 20,000 independent transfers.

Two blocks, each built from the same genesis (not timed: genesis, signing, admission):
- `independent`: every transfer from its own sender to its own new recipient, each with its own context
  tag — no two conflict;
- `mix`: 20 transfers per sender among a tenth as many accounts, recipients drawn from the same accounts,
  context tag per sender — chains of conflicts through shared balances.
Timed: `Chain.build_block` — schedule, execution, merge, state root. Every run must give the sequential
run's state root, or the bench fails. `ceiling_ratio` is what 2 workers could give at most on this block:
the sequential run's execution stage halved at no cost, its state root and the rest unchanged.

The n-VM paper's projections for comparison (Rust, 16 cores): sequential, write-set batching, and
16,000–66,000 tx/s with 64-shard context sharding.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from chain.dispatcher import Registry
from chain.hashing import H
from chain.ledger import NATIVE_MINT
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.parallel import Pool
from engines.native import NativeEngine
from engines.native import tx as t

from .native_transfer import CHAIN_ID, _accounts, _genesis

BROKER = "redis://127.0.0.1:6379/7"
ROOT = Path(__file__).resolve().parents[1]
WORKER = [sys.executable, "-m", "celery", "-A", "nvmsite", "worker", "--pool", "solo", "-l", "warning"]
WORKER += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
PAPER = {"sharded_64_rust_16_cores_tx_per_s": [16_000, 66_000]}


def _workload(kind: str, txs: int) -> tuple[list[tuple[SigningKey, bytes]], list[bytes]]:
    senders = txs if kind == "independent" else max(2, txs // 20)
    accounts = _accounts(senders)
    nonces = [0] * senders
    out = []
    for i in range(txs):
        s = i % senders
        key, sender = accounts[s]
        if kind == "independent":
            to = H(b"bench/parallel/recipient/%d" % i)
        else:
            to = accounts[(s * 7919 + i * 104729) % senders][1]
        body = t.encode_payload(t.TRANSFER, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, to), amount=1 + i % 997)
        ctx = H(b"bench/parallel/ctx" + sender)[:16]
        out.append(t.sign_ed25519(t.unsigned(t.TRANSFER, CHAIN_ID, sender, nonces[s], body, ctx), key))
        nonces[s] += 1
    return accounts, out


def _registry() -> Registry:
    reg = Registry()
    reg.register(NativeEngine())
    return reg


def _one(accounts: list[tuple[SigningKey, bytes]], envelopes: list[bytes], strategy: str, pool: Pool | None) -> dict[str, Any]:
    validator = SigningKey(H(b"bench/validator"))
    chain = Chain(MemoryStore(), _registry(), validator, strategy, pool)
    chain.create_genesis(_genesis(accounts, "ed25519", funds=10**12), 0)  # 20,000 × 1,000 NVM fits a u64 supply
    _, refused = chain.admit_many(envelopes)
    assert not refused, refused[:3]
    pending = chain.store.pending(len(envelopes))
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        block = chain.build_block(pending, 1000)
        seconds = time.perf_counter() - t0
    finally:
        gc.enable()
    assert all(e.receipt.success for e in block.txs), next(e.receipt for e in block.txs if not e.receipt.success)
    out = {
        "seconds": round(seconds, 4),
        "tx_per_s": round(len(envelopes) / seconds, 1),
        "state_root": block.header.state_root.hex(),
    }
    out["stages_ms"] = block.schedule["stages_ms"]
    if strategy != "sequential":
        s = block.schedule
        out["schedule"] = {k: s[k] for k in ("batches", "shared", "workers", "fallback") if k in s}
        if "batches" in s:
            out["schedule"]["batches"] = len(s["batches"])  # type: ignore[arg-type]
        if "shards" in s:
            out["schedule"]["shards"] = len(s["shards"])  # type: ignore[arg-type]
    return out


def _start_workers(home: Path, count: int) -> list[subprocess.Popen[bytes]]:
    from nvmsite import celery_app

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(CELERY_BROKER_URL=BROKER, NVM_HOME=str(home), NVM_ENGINES="engines.native")
    procs = [
        subprocess.Popen(
            [*WORKER, "-n", f"bench{i}@%h"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(count)
    ]
    deadline = time.monotonic() + 60
    while len(celery_app.control.ping(timeout=0.5) or []) < count:
        if time.monotonic() > deadline:
            _stop(procs)
            raise RuntimeError("the Celery workers did not start")
    return procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def run(txs: int = 20_000) -> dict[str, Any]:
    import redis

    from nvmsite import celery_app
    from nvmsite.tasks import celery_pool

    redis.Redis.from_url(BROKER).flushdb()
    celery_app.conf.update(broker_url=BROKER, result_backend=BROKER, task_always_eager=False)
    workloads = {kind: _workload(kind, txs) for kind in ("independent", "mix")}
    results: dict[str, Any] = {kind: {} for kind in workloads}
    for kind, (accounts, envelopes) in workloads.items():
        results[kind]["sequential"] = _one(accounts, envelopes, "sequential", None)
        for strategy in ("batched", "sharded"):
            results[kind][f"{strategy}_in_process"] = _one(accounts, envelopes, strategy, None)
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "validator.key").write_text(bytes(SigningKey(H(b"bench/validator"))).hex())
        for workers in (1, 2):
            procs = _start_workers(Path(home), workers)
            try:
                accounts, envelopes = workloads["independent"]
                warm = envelopes[: 200 * workers]  # each worker loads Django and the engines on its first part
                _one(accounts, warm, "batched", celery_pool(workers, timeout_s=120))
                for kind, (accounts, envelopes) in workloads.items():
                    for strategy in ("batched", "sharded"):
                        results[kind][f"{strategy}_{workers}_workers"] = _one(
                            accounts, envelopes, strategy, celery_pool(workers, timeout_s=120)
                        )
            finally:
                _stop(procs)
    for kind in results:
        roots = {r["state_root"] for r in results[kind].values()}
        if len(roots) != 1:
            raise AssertionError(f"{kind}: the strategies disagree on the state root")
    seq = results["independent"]["sequential"]["seconds"]
    best = min(results["independent"][f"{s}_2_workers"]["seconds"] for s in ("batched", "sharded"))
    # Amdahl: the sequential block with its execution halved at no cost and everything else (decoding,
    # the state root, signing the header) as it is — the most 2 workers could give on this block
    halved = seq - results["independent"]["sequential"]["stages_ms"]["execute"] / 2000
    return {
        "scenario": "parallel",
        "txs": txs,
        "seconds": results["independent"]["sequential"]["seconds"],
        "tx_per_s": results["independent"]["sequential"]["tx_per_s"],
        "ratio": round(seq / best, 3),  # 2 workers vs sequential, independent transfers
        "target_ratio": 1.6,
        "ceiling_ratio": round(seq / halved, 3),
        "workloads": results,
        "paper": PAPER,
        "cpus": os.cpu_count(),
    }
