"""A `Store` that keeps everything in process memory: for tests, benchmarks and `--in-memory` runs."""

from __future__ import annotations

from .blocks import Header
from .dispatcher import Tx
from .errors import mempool_conflict
from .node import RECENT_BLOCKS, Block, Loaded
from .state import apply_diff


class MemoryStore:
    def __init__(self) -> None:
        self.entries: dict[bytes, bytes] = {}
        self.nodes: dict[str, bytes] = {}
        self.blocks: list[Block] = []
        self.mempool: dict[int, bytes] = {}
        self.claims: dict[bytes, bytes] = {}  # claim -> envelope id (chain.dispatcher.Tx.claims)
        self._seq = 0

    def load(self) -> Loaded:
        head: Header | None = self.blocks[-1].header if self.blocks else None
        recent = [b.header.hash for b in reversed(self.blocks[-RECENT_BLOCKS:])]
        return Loaded(dict(self.entries), dict(self.nodes), head, recent)

    def pending(self, limit: int) -> list[tuple[int, bytes]]:
        return list(self.mempool.items())[:limit]

    def add_pending(self, txs: list[Tx]) -> None:
        keys = [c for tx in txs for c in tx.claims]
        if len(set(keys)) != len(keys) or any(c in self.claims for c in keys):
            raise mempool_conflict()
        for tx in txs:
            self._seq += 1
            self.mempool[self._seq] = tx.envelope
            self.claims.update((c, tx.envelope_id) for c in tx.claims)

    def commit_block(self, block: Block) -> None:
        apply_diff(self.entries, block.state_diff)
        apply_diff(self.nodes, block.node_writes)
        for seq in block.mempool_seqs:
            del self.mempool[seq]
        for e in block.txs:
            for c in e.tx.claims:
                self.claims.pop(c, None)
        self.blocks.append(block)
