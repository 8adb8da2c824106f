"""geth's txpool namespace over the mempool's EVM transactions (anvil answers it too): `txpool_status`,
`txpool_content`, `txpool_contentFrom` and `txpool_inspect`, keyed by EIP-55 sender and decimal nonce as geth keys
them.

A waiting transaction is *pending* when its nonce follows on from its sender's committed nonce through the
sender's other waiting ones (the next block can take it), *queued* when a nonce before it is missing. Only the
Ethereum view's transactions are listed (0x10 raw, 0x1F impersonated); other VMs' waiting transactions are in
the native API's mempool (`GET /api/v1/status`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from eth_typing import Address
from eth_utils import to_checksum_address

from .chaindata import PendingTx, pending_transactions, tx_json
from .codec import parse_address
from .methods import MEMPOOL_SCAN, accounts, rpc

Pool = dict[str, dict[bytes, dict[int, PendingTx]]]


def _pool(only: bytes | None = None) -> Pool:
    by_sender: dict[bytes, dict[int, PendingTx]] = defaultdict(dict)
    for p in pending_transactions(MEMPOOL_SCAN):
        if only is None or p.sender == only:
            by_sender[p.sender].setdefault(p.tx.nonce, p)  # the first of two with one nonce is the one a block takes
    pool: Pool = {"pending": {}, "queued": {}}
    state = accounts()
    for sender, txs in by_sender.items():
        nonce = state.get_nonce(Address(sender))
        for n in sorted(txs):
            if n < nonce:
                continue  # its nonce is used: it fails when a block takes it, but it is no longer waiting for one
            where = "pending" if n == nonce else "queued"
            pool[where].setdefault(sender, {})[n] = txs[n]
            if where == "pending":
                nonce += 1
    return pool


def _shaped(pool: Pool, shape: Any) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        where: {to_checksum_address(sender): {str(n): shape(p) for n, p in txs.items()} for sender, txs in senders.items()}
        for where, senders in pool.items()
    }


def _summary(p: PendingTx) -> str:
    """geth's one-line form: `to: value wei + gas gas × price wei`."""
    to = to_checksum_address(p.tx.to) if p.tx.to else "contract creation"
    return f"{to}: {p.tx.value} wei + {p.tx.gas} gas × {p.tx.max_fee_per_gas} wei"


@rpc("txpool_status")
def status() -> dict[str, str]:
    pool = _pool()
    return {where: hex(sum(len(txs) for txs in senders.values())) for where, senders in pool.items()}


@rpc("txpool_content")
def content() -> dict[str, dict[str, dict[str, Any]]]:
    return _shaped(_pool(), lambda p: tx_json(p.tx, p.hash, p.sender, None))


@rpc("txpool_contentFrom")
def content_from(address: Any) -> dict[str, dict[str, Any]]:
    who = parse_address(address)
    shaped = _shaped(_pool(who), lambda p: tx_json(p.tx, p.hash, p.sender, None))
    return {where: senders.get(to_checksum_address(who), {}) for where, senders in shaped.items()}


@rpc("txpool_inspect")
def inspect() -> dict[str, dict[str, dict[str, str]]]:
    return _shaped(_pool(), _summary)
