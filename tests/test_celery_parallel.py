"""Blocks executed on real Celery workers (Redis broker): the same blocks as sequential execution with one
and with two workers, and a worker killed in the middle of a block costs time, not correctness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nvmsite import celery_app
from nvmsite.tasks import celery_pool
from tests.test_parallel import EVM_KEYS, SIGNERS, VALIDATOR, envelopes, fingerprint, op, run, tron_deploy

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
BROKER = "redis://127.0.0.1:6379/6"
WORKER = [sys.executable, "-m", "celery", "-A", "nvmsite", "worker", "--pool", "solo", "-l", "warning"]
WORKER += ["--without-gossip", "--without-mingle", "--without-heartbeat"]


def start_workers(home: Path, count: int, **env: str) -> list[subprocess.Popen[bytes]]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update(CELERY_BROKER_URL=BROKER, NVM_HOME=str(home), **env)
    procs = []
    for i in range(count):
        log = open(home / f"worker{i}.log", "wb")
        procs.append(
            subprocess.Popen(
                [*WORKER, "-n", f"w{i}@%h"],
                cwd=ROOT,
                env=base,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    deadline = time.monotonic() + 60
    while len(celery_app.control.ping(timeout=0.5) or []) < count:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop_workers(procs)
            logs = "\n".join((home / f"worker{i}.log").read_text(errors="replace")[-2000:] for i in range(count))
            pytest.fail("the Celery workers did not start:\n" + logs)
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Path]:
    redis.Redis.from_url(BROKER).flushdb()
    (tmp_path / "validator.key").write_text(bytes(VALIDATOR).hex())
    saved = dict(celery_app.conf)
    celery_app.conf.update(broker_url=BROKER, result_backend=BROKER, task_always_eager=False)
    yield tmp_path
    restore = {k: saved.get(k) for k in ("broker_url", "result_backend", "task_always_eager")}
    celery_app.conf.update(**restore)


def blocks_of(ops_per_block: list[list[tuple]]) -> list[list[bytes]]:
    nonces, evm_nonces = [1] * len(SIGNERS), [0] * len(EVM_KEYS)
    setup = [s.create_account() for s in SIGNERS] + [tron_deploy()[0]]  # tvm_call ops call the deployed contract
    return [setup] + [envelopes(ops, nonces, evm_nonces) for ops in ops_per_block]


@pytest.mark.parametrize("workers", [1, 2])
def test_celery_workers_give_the_sequential_blocks(broker: Path, workers: int) -> None:
    procs = start_workers(broker, workers)
    try:

        @settings(
            max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
        )
        @given(st.lists(st.lists(op, min_size=8, max_size=30), min_size=1, max_size=2))
        def check(ops_per_block: list[list[tuple]]) -> None:
            blocks = blocks_of(ops_per_block)
            seq, _ = run("sequential", blocks)
            for strategy in ("batched", "sharded"):
                pool = celery_pool(workers, timeout_s=30)
                pool.min_group = 2
                other, _ = run(strategy, blocks, pool)
                assert [fingerprint(b) for b in other] == [fingerprint(b) for b in seq], strategy
                assert all(b.schedule["workers"]["parts_here"] == 0 for b in other[1:]), [b.schedule for b in other]

        check()
    finally:
        stop_workers(procs)


def test_a_worker_killed_mid_block_costs_time_not_the_block(broker: Path) -> None:
    [worker] = start_workers(broker, 1, NVM_WORKER_HOLD_S="30")  # it takes the part, then sits on it
    try:
        transfers = [("transfer", i % len(SIGNERS), 2, i % 4, 1, None) for i in range(24)]
        blocks = blocks_of([transfers])
        seq, _ = run("sequential", blocks)
        pool = celery_pool(2, timeout_s=4)
        pool.min_group = 2
        result: dict[str, object] = {}
        producer = threading.Thread(target=lambda: result.update(made=run("batched", blocks, pool)))
        producer.start()
        r = redis.Redis.from_url(BROKER)
        deadline = time.monotonic() + 20
        while not r.hlen("unacked") and time.monotonic() < deadline:  # the worker has taken a part
            time.sleep(0.01)
        assert r.hlen("unacked"), "the worker never took its part"
        os.killpg(worker.pid, signal.SIGKILL)
        producer.join(60)
        assert not producer.is_alive()
        made, chain = result["made"]  # type: ignore[misc]
        assert [fingerprint(b) for b in made] == [fingerprint(b) for b in seq]
        assert chain.head.height == len(blocks)  # each block committed once
        assert made[1].schedule["workers"]["parts_here"] >= 1
    finally:
        stop_workers([worker])
