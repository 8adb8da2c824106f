"""eth_getLogs and the polling filters (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
eth_getFilterChanges).

Logs are read from the EVM receipts of a block range; a query spans at most MAX_BLOCK_RANGE blocks
and returns at most MAX_LOGS logs, so one request cannot make the node read the whole chain. A
filter is its criteria and the next block to read, kept in Django's cache (Redis when configured, so
every web process sees it) and forgotten FILTER_TTL seconds after its last poll, as in geth. A pending-transaction
filter gives each EVM transaction admitted after its last poll once — still waiting or already in a block — in the
order the node admitted them (chaindata.arrivals), at most MAX_ARRIVALS a poll.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from chain.dispatcher import Receipt
from chain.store import models as m
from chain.store.sql import consistent_reads
from engines.evm.engine import IMPERSONATED

from .chaindata import ETHEREUM_OPCODES, IncludedTx, PendingTx, arrival_mark, arrivals, log_json, tx_json
from .codec import (
    INVALID_INPUT,
    LIMIT_EXCEEDED,
    RESOURCE_NOT_FOUND,
    RpcError,
    data,
    invalid,
    parse_address,
    parse_block_ref,
    parse_data,
    parse_hash,
)

MAX_BLOCK_RANGE = 10_000
MAX_LOGS = 10_000
MAX_ARRIVALS = 10_000  # pending transactions a poll gives (the next poll goes on from there)
MAX_FILTER_VALUES = 1_000  # addresses, or alternatives at one topic position
FILTER_TTL = 300  # seconds without a poll before a filter is forgotten
CACHE_PREFIX = "nvm:eth:filter:"
_FILTER_ID = re.compile(r"0[xX][0-9a-fA-F]{1,64}")


def head_height() -> int:
    h = m.Block.objects.order_by("-height").values_list("height", flat=True).first()
    if h is None:
        raise RpcError(INVALID_INPUT, "no genesis block yet")
    return int(h)


def resolve_height(value: Any, what: str, head: int) -> int:
    """A block number for a range bound: tags name the head (or 0 for "earliest"); no hashes."""
    ref = parse_block_ref(value, what)
    if ref.hash is not None:
        raise invalid(f"{what} must be a block number or tag; use blockHash for one block")
    if ref.tag == "earliest":
        return 0
    if ref.tag is not None:
        return head
    assert ref.number is not None
    return ref.number


@dataclass(frozen=True)
class LogFilter:
    addresses: frozenset[bytes] | None  # None: any
    topics: tuple[frozenset[bytes] | None, ...]  # per position; None: any

    def matches(self, address: bytes, topics: tuple[bytes, ...]) -> bool:
        if self.addresses is not None and address not in self.addresses:
            return False
        if len(self.topics) > len(topics):  # geth: more positions than the log has topics never matches
            return False
        return all(want is None or have in want for want, have in zip(self.topics, topics, strict=False))


def _limited(values: list[Any], what: str) -> list[Any]:
    if len(values) > MAX_FILTER_VALUES:
        raise RpcError(LIMIT_EXCEEDED, f"{what} has more than {MAX_FILTER_VALUES} values")
    return values


def parse_filter(obj: Any) -> LogFilter:
    if not isinstance(obj, dict):
        raise invalid("the filter must be an object with address, topics, fromBlock, toBlock or blockHash")
    address = obj.get("address")
    addresses: frozenset[bytes] | None = None
    if isinstance(address, list):
        addresses = frozenset(parse_address(a, "address") for a in _limited(address, "address"))
    elif address is not None:
        addresses = frozenset([parse_address(address, "address")])
    topics_in = obj.get("topics")
    if topics_in is None:
        topics_in = []
    if not isinstance(topics_in, list) or len(topics_in) > 4:
        raise invalid("topics must be a list of at most 4 entries")
    topics: list[frozenset[bytes] | None] = []
    for i, t in enumerate(topics_in):
        if t is None:
            topics.append(None)
        elif isinstance(t, list):
            # an empty list of alternatives matches anything there, as in geth
            topics.append(frozenset(parse_hash(x, f"topic {i}") for x in _limited(t, f"topic {i}")) or None)
        else:
            topics.append(frozenset([parse_data(t, f"topic {i}", 32)]))
    return LogFilter(addresses, tuple(topics))


def block_range(obj: dict[str, Any], head: int) -> tuple[int, int]:
    """(first, last) heights of a query, `last` clipped to the head; first > last when there is nothing to read."""
    if obj.get("blockHash") is not None:
        if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
            raise invalid("blockHash cannot be combined with fromBlock or toBlock")
        height = m.Block.objects.filter(hash=parse_hash(obj["blockHash"], "blockHash")).values_list("height", flat=True).first()
        if height is None:
            raise RpcError(RESOURCE_NOT_FOUND, "unknown block")
        return int(height), int(height)
    first = resolve_height(obj.get("fromBlock"), "fromBlock", head)
    last = resolve_height(obj.get("toBlock"), "toBlock", head)
    if first > last:
        raise invalid(f"fromBlock {first} is after toBlock {last}")
    return first, min(last, head)


def check_span(first: int, last: int) -> None:
    if last - first + 1 > MAX_BLOCK_RANGE:
        raise RpcError(LIMIT_EXCEEDED, f"a log query spans at most {MAX_BLOCK_RANGE} blocks; asked for {last - first + 1}")


def read_logs(flt: LogFilter, first: int, last: int) -> list[dict[str, Any]]:
    """Matching logs of blocks first..last, in chain order."""
    if first > last:
        return []
    rows = (
        m.Transaction.objects.filter(block_id__gte=first, block_id__lte=last, opcode__in=ETHEREUM_OPCODES)
        .order_by("block_id", "position")
        .values_list("block_id", "block__hash", "envelope", "receipt")
    )
    out: list[dict[str, Any]] = []
    height, index, log_index = -1, 0, 0
    for block_id, block_hash, envelope, receipt_bytes in rows.iterator(chunk_size=500):
        if block_id != height:
            height, index, log_index = block_id, 0, 0
        receipt = Receipt.decode(bytes(receipt_bytes))
        if receipt.logs:
            env = bytes(envelope)
            e = IncludedTx(height, bytes(block_hash), index, env[1:], receipt, 0, log_index, env[0] == IMPERSONATED)
            for i, log in enumerate(e.logs):
                if flt.matches(log.address, log.topics):
                    if len(out) == MAX_LOGS:
                        raise RpcError(LIMIT_EXCEEDED, f"query returned more than {MAX_LOGS} results; narrow the block range")
                    out.append(log_json(e, i, log))
        index += 1
        log_index += len(receipt.logs)
    return out


def get_logs(obj: Any) -> list[dict[str, Any]]:
    flt = parse_filter(obj)
    first, last = block_range(obj, head_height())
    check_span(first, last)
    return read_logs(flt, first, last)


# -- filters ---------------------------------------------------------------------------------------
def _save(filter_id: str, record: dict[str, Any]) -> None:
    cache.set(CACHE_PREFIX + filter_id, record, FILTER_TTL)


def _filter_key(filter_id: Any) -> str:
    """The cache key of a filter id: 0x and hex digits, as eth_newFilter makes them (anything else is refused)."""
    if not isinstance(filter_id, str) or not _FILTER_ID.fullmatch(filter_id):
        raise invalid("filter id must be the 0x-prefixed id eth_newFilter returned")
    return CACHE_PREFIX + filter_id.lower()


def _load(filter_id: Any) -> dict[str, Any]:
    record = cache.get(_filter_key(filter_id))
    if record is None:
        raise RpcError(INVALID_INPUT, "filter not found")
    return dict(record)


def new_filter(obj: Any) -> str:
    parse_filter(obj)  # refuse bad criteria now, not at the first poll
    if not isinstance(obj, dict) or obj.get("blockHash") is not None:
        raise invalid("a filter is polled over new blocks: give fromBlock / toBlock, not blockHash")
    head = head_height()
    from_ref = parse_block_ref(obj.get("fromBlock"), "fromBlock")
    to_ref = parse_block_ref(obj.get("toBlock"), "toBlock")
    # fromBlock "latest" (the default) reads from the next block on; a number, from that block, backlog included
    first = resolve_height(obj.get("fromBlock"), "fromBlock", head) if from_ref.tag in (None, "earliest") else head + 1
    # toBlock "latest" (the default) follows the head; a number stops there
    last = resolve_height(obj.get("toBlock"), "toBlock", head) if to_ref.tag in (None, "earliest") else None
    filter_id = "0x" + secrets.token_hex(16)
    _save(filter_id, {"kind": "logs", "criteria": obj, "next": first, "last": last})
    return filter_id


def new_block_filter() -> str:
    filter_id = "0x" + secrets.token_hex(16)
    _save(filter_id, {"kind": "blocks", "next": head_height() + 1})
    return filter_id


def new_pending_filter(full: Any = False) -> str:
    """geth's eth_newPendingTransactionFilter: hashes, or (`full` true, as geth 1.11+ takes it) the transactions."""
    if not isinstance(full, bool):
        raise invalid("eth_newPendingTransactionFilter takes one optional boolean: whole transactions or hashes")
    with consistent_reads():
        mark = arrival_mark()
    filter_id = "0x" + secrets.token_hex(16)
    _save(filter_id, {"kind": "pending", "full": full, "seq": mark.seq, "height": mark.height})
    return filter_id


def pending_json(p: PendingTx, full: bool) -> Any:
    """A pending transaction as a filter or a subscription gives it: its hash, or the transaction (no block yet)."""
    return tx_json(p.tx, p.hash, p.sender, None) if full else data(p.hash)


def filter_changes(filter_id: Any) -> list[Any]:
    """What arrived since the last poll (at most MAX_BLOCK_RANGE blocks a poll; the next poll goes on from there)."""
    record = _load(filter_id)
    if record["kind"] == "pending":
        with consistent_reads():
            found = arrivals(record["seq"], record["height"], MAX_ARRIVALS)
        record["seq"], record["height"] = found.seq, found.height
        _save(filter_id.lower(), record)
        return [pending_json(p, record["full"]) for p in found.txs]
    head = head_height()
    first = record["next"]
    last = head if record.get("last") is None else min(head, record["last"])
    last = min(last, first + MAX_BLOCK_RANGE - 1)
    if record["kind"] == "blocks":
        hashes = m.Block.objects.filter(height__gte=first, height__lte=last).order_by("height").values_list("hash", flat=True)
        changes: list[Any] = [data(h) for h in hashes]
    else:
        changes = read_logs(parse_filter(record["criteria"]), first, last)
    record["next"] = max(first, last + 1)
    _save(filter_id.lower(), record)
    return changes


def filter_logs(filter_id: Any) -> list[dict[str, Any]]:
    record = _load(filter_id)
    if record["kind"] != "logs":
        raise invalid("eth_getFilterLogs takes a log filter")
    _save(filter_id.lower(), record)  # a look keeps it alive
    return get_logs(record["criteria"])


def uninstall_filter(filter_id: Any) -> bool:
    if not isinstance(filter_id, str):
        raise invalid("filter id must be a string")
    return _FILTER_ID.fullmatch(filter_id) is not None and bool(cache.delete(_filter_key(filter_id)))
