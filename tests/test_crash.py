"""Kill the block producer with SIGKILL in the middle of a run of blocks, restart it, and check
that nothing committed was lost and no block was half written (DESIGN: one SQL transaction a block)."""

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from chain.blocks import Header
from chain.hashing import H, merkle_root
from chain.node import Chain
from chain.store import models as m
from chain.store.sql import SqlStore
from chain.tree import StateTree, build_root
from tests.conftest import kv_registry
from tests.support.kv_engine import DELETE, SET, envelope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{s['USER'] or 'root'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    pytest.skip("the crash test needs PostgreSQL (make test provides it)")


def start_producer(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "nvm", "node", "--on-demand", "--max-txs", "150"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def height() -> int:
    return m.Block.objects.order_by("-height").values_list("height", flat=True).first() or 0


def test_sigkill_during_blocks_loses_nothing_and_leaves_no_half_block(tmp_path, validator):
    url = database_url()
    home = tmp_path / "home"
    home.mkdir()
    (home / "validator.key").write_text(validator.encode().hex())
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "NVM_HOME": str(home),
        "NVM_ENGINES": "tests.support.kv_engine",
        "PYTHONPATH": str(ROOT),
    }

    settings.NVM_HOME = home
    chain = Chain(SqlStore(), kv_registry(), validator)
    from chain.genesis import parse
    from tests.conftest import GENESIS_CONFIG

    gen = parse(GENESIS_CONFIG)
    chain.create_genesis(gen.populate, gen.timestamp_ms)

    rng = random.Random(7)
    expected: dict[bytes, bytes] = {}
    admitted = []
    for i in range(3000):
        if expected and rng.random() < 0.1:
            key = rng.choice(sorted(expected))
            env_ = envelope(DELETE, key) + i.to_bytes(8, "big")  # a trailing nonce keeps envelopes distinct
            del expected[key]
        else:
            key = H(b"key %d" % rng.randrange(2000))
            env_ = envelope(SET, key, b"v%d" % i)
            expected[key] = b"v%d" % i
        chain.admit(env_)
        admitted.append(env_)

    kills = 0
    proc = start_producer(env)
    try:
        for _ in range(4):
            start = height()
            deadline = time.monotonic() + 60
            while height() < start + 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.15))  # land anywhere inside a block's execution or commit
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = start_producer(env)
        deadline = time.monotonic() + 120
        while m.MempoolEntry.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    assert kills == 4
    assert not m.MempoolEntry.objects.exists(), err.decode()[-2000:]

    # every admitted transaction is in exactly one block, in admission order
    rows = list(m.Transaction.objects.order_by("block_id", "position").values_list("envelope", flat=True))
    assert [bytes(e) for e in rows] == admitted

    # every block is whole: contiguous heights, parent links, signature, tx root over its stored txs
    headers = [Header.decode(bytes(h)) for h in m.Block.objects.order_by("height").values_list("header", flat=True)]
    assert [h.height for h in headers] == list(range(len(headers)))
    for parent, child in itertools.pairwise(headers):
        assert child.parent_hash == parent.hash and child.signature_valid()
        envs = [
            bytes(e)
            for e in m.Transaction.objects.filter(block_id=child.height).order_by("position").values_list("envelope", flat=True)
        ]
        assert merkle_root(envs) == child.tx_root
        assert m.Block.objects.get(height=child.height).tx_count == len(envs)

    # the root recomputed from the stored entries is the stored root, and the stored tree is exact
    entries = {bytes(k): bytes(v) for k, v in m.StateEntry.objects.values_list("key", "value")}
    assert build_root(entries) == headers[-1].state_root
    rebuilt = StateTree({})
    rebuilt.update(entries)
    assert {p: bytes(b) for p, b in m.TreeNode.objects.values_list("path", "blob")} == dict(rebuilt.nodes)
    for key, value in expected.items():
        assert entries[key] == value
