"""Blocks, transactions, receipts and logs in Ethereum's shape, read from the store's tables.

A block's Ethereum view holds its EVM transactions only — raw ones (opcode 0x10) and, on a devnet, unsigned ones
from an impersonated address (0x1F, shown with a zero signature) — in block order:
`transactionIndex` counts them, `cumulativeGasUsed` and `logIndex` run over them. The roots are the
chain's own (SHA-256 RFC 6962 roots and the sparse Merkle state root, docs/PROTOCOL.md §3, §7), not
Ethereum tries; a client that recomputes a trie root will not match them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import SignedTransactionAPI
from eth.vm.forks.shanghai import ShanghaiVM
from eth_bloom.bloom import BloomFilter
from eth_hash.auto import keccak
from eth_typing import Address

from chain.blocks import Header
from chain.dispatcher import Receipt
from chain.store import models as m
from engines.evm.engine import BASE_FEE_WEI, BLOCK_GAS_LIMIT, IMPERSONATED, RAW_TX, recover_sender

from .codec import address_out, data, qty

ETHEREUM_OPCODES = (RAW_TX, IMPERSONATED)  # what the Ethereum view shows

EMPTY_UNCLES_HASH = keccak(rlp.encode([]))  # sha3Uncles of a block without ommers
EMPTY_TRIE_ROOT = keccak(rlp.encode(b""))  # withdrawalsRoot of a block without withdrawals
ZERO_NONCE = bytes(8)

_builder: Any = ShanghaiVM.get_transaction_builder()


def decode_raw(raw: bytes) -> SignedTransactionAPI:
    """A raw Ethereum transaction that was admitted (so it decodes)."""
    tx: SignedTransactionAPI = _builder.decode(raw)
    return tx


def view_of(envelope: bytes) -> tuple[bytes, SignedTransactionAPI, bytes | None]:
    """An admitted Ethereum-view envelope: the bytes its hash is keccak of, the transaction, and its sender when the
    envelope names it (0x1F: sender ‖ a zero-signature transaction) rather than a signature does."""
    raw = envelope[1:]
    if envelope[0] == IMPERSONATED:
        return raw, decode_raw(raw[20:]), raw[:20]
    return raw, decode_raw(raw), None


class _Senders:
    """Senders by transaction hash: recovering one costs more than everything else a receipt needs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._map: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tx_hash: bytes, tx: SignedTransactionAPI) -> bytes:
        with self._lock:
            found = self._map.get(tx_hash)
            if found is not None:
                self._map.move_to_end(tx_hash)
                return found
        sender = bytes(recover_sender(tx))  # the engine's own recovery (libsecp256k1)
        with self._lock:
            self._map[tx_hash] = sender
            while len(self._map) > self.size:
                self._map.popitem(last=False)
        return sender


senders = _Senders(65_536)


def effective_gas_price(tx: SignedTransactionAPI) -> int:
    """What each unit of gas cost (EIP-1559; a legacy transaction's max fee and tip are both its gas price)."""
    return min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + BASE_FEE_WEI)


@dataclass(frozen=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


def parse_log(entry: bytes) -> Log:
    """A receipt's log as the EVM engine records it: `rlp([address20, [topic32...], data])`."""
    address, topics, payload = rlp.decode(entry)
    return Log(address, tuple(topics), payload)


def bloom_of(logs: Iterable[Log]) -> int:
    bloom = BloomFilter()
    for log in logs:
        bloom.add(log.address)
        for topic in log.topics:
            bloom.add(topic)
    return int(bloom)


def bloom_out(value: int) -> str:
    return data(value.to_bytes(256, "big"))


@dataclass
class IncludedTx:
    """An EVM transaction included in a block, with its place in the block's Ethereum view."""

    height: int
    block_hash: bytes
    index: int  # among the block's EVM transactions
    raw: bytes
    receipt: Receipt
    cumulative_gas: int
    first_log_index: int
    impersonated: bool = False  # 0x1F: `raw` is sender ‖ transaction

    @cached_property
    def hash(self) -> bytes:
        return keccak(self.raw)

    @cached_property
    def tx(self) -> SignedTransactionAPI:
        return decode_raw(self.raw[20:] if self.impersonated else self.raw)

    @property
    def sender(self) -> bytes:
        return self.raw[:20] if self.impersonated else senders.get(self.hash, self.tx)

    @cached_property
    def logs(self) -> list[Log]:
        return [parse_log(entry) for entry in self.receipt.logs]


def evm_txs(height: int, block_hash: bytes, through_position: int | None = None) -> list[IncludedTx]:
    """The block's EVM transactions in order (up to and including `through_position`, if given)."""
    qs = m.Transaction.objects.filter(block_id=height, opcode__in=ETHEREUM_OPCODES)
    if through_position is not None:
        qs = qs.filter(position__lte=through_position)
    out: list[IncludedTx] = []
    cumulative = logs = 0
    for envelope, receipt_bytes in qs.order_by("position").values_list("envelope", "receipt"):
        receipt = Receipt.decode(bytes(receipt_bytes))
        cumulative += receipt.gas_used
        env = bytes(envelope)
        impersonated = env[0] == IMPERSONATED
        out.append(IncludedTx(height, block_hash, len(out), env[1:], receipt, cumulative, logs, impersonated))
        logs += len(receipt.logs)
    return out


def find_tx(tx_hash: bytes) -> IncludedTx | None:
    """A committed EVM transaction by its Ethereum hash."""
    row = (
        m.TxAlias.objects.filter(alias=tx_hash, tx__opcode__in=ETHEREUM_OPCODES)
        .values_list("tx__block_id", "tx__block__hash", "tx__position")
        .first()
    )
    if row is None:
        return None
    height, block_hash, position = row
    found = evm_txs(height, bytes(block_hash), through_position=position)
    return found[-1] if found and found[-1].hash == tx_hash else None


def block_hash_at(height: int) -> bytes | None:
    found = m.Block.objects.filter(height=height).values_list("hash", flat=True).first()
    return None if found is None else bytes(found)


@dataclass(frozen=True)
class PendingTx:
    hash: bytes
    tx: SignedTransactionAPI
    sender: bytes


def pending_tx(envelope: bytes) -> PendingTx | None:
    """An admitted Ethereum-view envelope as a pending transaction; None if it no longer decodes (admitted under
    another configuration: nobody's pending transaction now)."""
    try:
        raw, tx, named = view_of(envelope)
        tx_hash = keccak(raw)
        return PendingTx(tx_hash, tx, named or senders.get(tx_hash, tx))
    except Exception:
        return None


def pending_transactions(limit: int = 20_000) -> Iterator[PendingTx]:
    """The EVM transactions waiting in the mempool, in arrival order (the first `limit` of them); an entry that
    no longer decodes is skipped."""
    rows = m.MempoolEntry.objects.filter(opcode__in=ETHEREUM_OPCODES).order_by("seq").values_list("envelope", flat=True)
    for envelope in rows[:limit]:
        found = pending_tx(bytes(envelope))
        if found is not None:
            yield found


@dataclass(frozen=True)
class Arrivals:
    """EVM transactions this node admitted after a mark, in arrival order, and the mark to read on from."""

    txs: list[PendingTx]
    seq: int  # the last mempool seq looked at
    height: int  # the block up to which blocks were looked at


def arrival_mark() -> Arrivals:
    """The mark `arrivals` reads on from to find what comes after now: the newest mempool entry, waiting or in a
    block (seqs only grow: a block takes entries in their order), and the head."""
    head = m.Block.objects.order_by("-height").values_list("height", flat=True).first() or 0
    waiting = m.MempoolEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    mined = (
        m.Transaction.objects.filter(seq__isnull=False).order_by("-block_id", "-position").values_list("seq", flat=True).first()
    )
    return Arrivals([], max(waiting or 0, mined or 0), head)


def arrivals(after_seq: int, after_height: int, limit: int) -> Arrivals:
    """The EVM transactions admitted after mempool entry `after_seq`: those still waiting, and those already in a
    block above `after_height` (admitted and taken between two looks). At most `limit`; the mark then stops at
    the last one given, so the next look goes on from there. Call it inside `consistent_reads()`: a block
    committed meanwhile moves transactions from the mempool into a block."""
    head = m.Block.objects.order_by("-height").values_list("height", flat=True).first() or 0
    mined = (
        m.Transaction.objects.filter(
            block_id__gt=after_height, block_id__lte=head, seq__gt=after_seq, opcode__in=ETHEREUM_OPCODES
        )
        .order_by("seq")
        .values_list("seq", "envelope")[:limit]
    )
    waiting = (
        m.MempoolEntry.objects.filter(seq__gt=after_seq, opcode__in=ETHEREUM_OPCODES)
        .order_by("seq")
        .values_list("seq", "envelope")
    )[:limit]
    rows = sorted([*mined, *waiting])
    if len(rows) > limit:
        rows = rows[:limit]
    full = len(rows) == limit
    txs = [found for _, envelope in rows if (found := pending_tx(bytes(envelope))) is not None]
    last = rows[-1][0] if rows else after_seq
    # every block up to the head was read through, unless the limit cut the answer: then look at them again
    return Arrivals(txs, max(last, after_seq), after_height if full else head)


def find_pending(tx_hash: bytes, limit: int = 20_000) -> bytes | None:
    """An EVM envelope waiting in the mempool, by its Ethereum hash (the mempool is keyed by envelope id)."""
    rows = m.MempoolEntry.objects.filter(opcode__in=ETHEREUM_OPCODES).order_by("seq").values_list("envelope", flat=True)
    for envelope in rows[:limit]:
        if keccak(bytes(envelope)[1:]) == tx_hash:
            return bytes(envelope)
    return None


# -- JSON ---------------------------------------------------------------------------------------
def tx_json(tx: SignedTransactionAPI, tx_hash: bytes, sender: bytes, where: IncludedTx | None) -> dict[str, Any]:
    """eth_getTransactionByHash's object; `where` is None for a pending transaction."""
    type_id = tx.type_id
    out: dict[str, Any] = {
        "hash": data(tx_hash),
        "type": qty(type_id or 0),
        "nonce": qty(tx.nonce),
        "blockHash": None if where is None else data(where.block_hash),
        "blockNumber": None if where is None else qty(where.height),
        "transactionIndex": None if where is None else qty(where.index),
        "from": address_out(sender),
        "to": address_out(tx.to) if tx.to else None,
        "value": qty(tx.value),
        "gas": qty(tx.gas),
        # mined: what it paid per gas; pending: the most it may pay (as geth reports them)
        "gasPrice": qty(effective_gas_price(tx) if where is not None else tx.max_fee_per_gas),
        "input": data(tx.data),
        "r": qty(tx.r),
        "s": qty(tx.s),
    }
    if type_id is None:
        out["v"] = qty(getattr(tx, "v"))  # noqa: B009 — only a legacy transaction has v
        if tx.chain_id is not None:
            out["chainId"] = qty(tx.chain_id)
    else:
        out["v"] = qty(tx.y_parity)
        out["yParity"] = qty(tx.y_parity)
        out["chainId"] = qty(tx.chain_id or 0)
        out["accessList"] = [
            {"address": address_out(address), "storageKeys": [data(slot.to_bytes(32, "big")) for slot in slots]}
            for address, slots in tx.access_list
        ]
    if type_id == 2:
        out["maxFeePerGas"] = qty(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = qty(tx.max_priority_fee_per_gas)
    return out


def log_json(e: IncludedTx, i: int, log: Log) -> dict[str, Any]:
    return {
        "address": address_out(log.address),
        "topics": [data(t) for t in log.topics],
        "data": data(log.data),
        "blockNumber": qty(e.height),
        "blockHash": data(e.block_hash),
        "transactionHash": data(e.hash),
        "transactionIndex": qty(e.index),
        "logIndex": qty(e.first_log_index + i),
        "removed": False,
    }


def receipt_json(e: IncludedTx) -> dict[str, Any]:
    tx = e.tx
    sender = e.sender
    creates = not tx.to
    contract = None
    if creates:
        # as geth: the address the creation was for, whether or not it succeeded
        contract = address_out(generate_contract_address(Address(sender), tx.nonce))
    return {
        "transactionHash": data(e.hash),
        "transactionIndex": qty(e.index),
        "blockHash": data(e.block_hash),
        "blockNumber": qty(e.height),
        "from": address_out(sender),
        "to": None if creates else address_out(tx.to),
        "cumulativeGasUsed": qty(e.cumulative_gas),
        "gasUsed": qty(e.receipt.gas_used),
        "effectiveGasPrice": qty(effective_gas_price(tx)),
        "contractAddress": contract,
        "logs": [log_json(e, i, log) for i, log in enumerate(e.logs)],
        "logsBloom": bloom_out(bloom_of(e.logs)),
        "type": qty(tx.type_id or 0),
        "status": qty(1 if e.receipt.success else 0),
    }


def block_json(height: int, header_bytes: bytes, full: bool, coinbase: bytes) -> dict[str, Any]:
    header = Header.decode(header_bytes)
    txs = evm_txs(height, header.hash)
    bloom = 0
    for e in txs:
        bloom |= bloom_of(e.logs)
    transactions: list[Any] = [tx_json(e.tx, e.hash, e.sender, e) for e in txs] if full else [data(e.hash) for e in txs]
    return {
        "number": qty(height),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "timestamp": qty(header.timestamp_ms // 1000),
        "gasLimit": qty(BLOCK_GAS_LIMIT),
        "gasUsed": qty(txs[-1].cumulative_gas if txs else 0),
        "baseFeePerGas": qty(BASE_FEE_WEI),
        "miner": address_out(coinbase),
        "logsBloom": bloom_out(bloom),
        "transactions": transactions,
        "uncles": [],
        "sha3Uncles": data(EMPTY_UNCLES_HASH),
        "difficulty": qty(0),
        "totalDifficulty": qty(0),
        "nonce": data(ZERO_NONCE),
        "mixHash": data(header.parent_hash),  # the EVM engine's PREVRANDAO is the parent hash
        "stateRoot": data(header.state_root),
        "transactionsRoot": data(header.tx_root),
        "receiptsRoot": data(header.receipts_root),
        "size": qty(len(header_bytes) + sum(len(e.raw) for e in txs)),
        "extraData": "0x",
        "withdrawals": [],
        "withdrawalsRoot": data(EMPTY_TRIE_ROOT),
    }
