"""
Benchmark: how long the state tree takes to absorb one block.

Builds an in-memory tree of ``keys`` random keys, then times ``StateTree.update``
on blocks of ``updates`` changed keys — about 80% rewrites of existing keys,
10% inserts, 10% deletes — and reports the median of three blocks. The node
store is a plain dict, so this measures hashing and tree work, not database I/O.
A full garbage collection runs before each timed block so that the benchmark's
own million-key bookkeeping is not what the collector ends up scanning.

    python -m bench.state_root --keys 1000000 --updates 10000
"""

import argparse
import gc
import json
import random
import statistics
import time
from typing import Any

from chain.tree import StateTree

BLOCKS = 3
VALUE_SIZE = 32


def random_block(rng: random.Random, live: list[bytes], updates: int) -> dict[bytes, bytes | None]:
    """About 80% rewrites of live keys, 10% inserts, 10% deletes."""
    inserts = updates // 10
    deletes = min(updates // 10, len(live))
    rewrites = min(updates - inserts - deletes, len(live) - deletes)
    picked = rng.sample(range(len(live)), rewrites + deletes)
    changes: dict[bytes, bytes | None] = {}
    for i in picked[:rewrites]:
        changes[live[i]] = rng.randbytes(VALUE_SIZE)
    for i in picked[rewrites:]:
        changes[live[i]] = None
    while len(changes) < rewrites + deletes + inserts:
        changes[rng.randbytes(32)] = rng.randbytes(VALUE_SIZE)
    return changes


def next_live(live: list[bytes], changes: dict[bytes, bytes | None]) -> list[bytes]:
    """The live keys after a block from ``random_block``."""
    kept = set(live)
    inserted = [key for key, value in changes.items() if value is not None and key not in kept]
    return [key for key in live if changes.get(key, b"") is not None] + inserted


def run(keys: int, updates: int, seed: int = 1) -> dict[str, Any]:
    """Build a ``keys``-key tree, then time blocks of ``updates`` changes; seconds are per block."""
    rng = random.Random(seed)
    entries = {rng.randbytes(32): rng.randbytes(VALUE_SIZE) for _ in range(keys)}
    tree = StateTree()
    started = time.perf_counter()
    tree.update(entries)
    build_seconds = time.perf_counter() - started
    live = list(entries)
    del entries
    runs = []
    for _ in range(BLOCKS):
        changes = random_block(rng, live, updates)
        gc.collect()
        started = time.perf_counter()
        tree.update(changes)
        runs.append(time.perf_counter() - started)
        live = next_live(live, changes)
    seconds = statistics.median(runs)
    return {
        "scenario": "state-root",
        "keys": keys,
        "updates": updates,
        "txs": updates,
        "seconds": seconds,
        "tx_per_s": updates / seconds if seconds else None,
        "build_seconds": build_seconds,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Time state-tree updates of one block.")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(args.keys, args.updates, args.seed), indent=2))


if __name__ == "__main__":
    main()
