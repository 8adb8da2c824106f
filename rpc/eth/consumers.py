"""`ws://…/rpc/eth`: the Ethereum JSON-RPC over a websocket, as geth and anvil serve it on the same URL —
every method of `POST /rpc/eth` (ethers' and viem's WebSocket providers send all their requests this way),
plus `eth_subscribe` / `eth_unsubscribe`:

- `newHeads`: each new block's header (the block object without transactions, uncles or withdrawals), one
  notification per block, none skipped (up to MAX_CATCH_UP blocks at a time);
- `logs` (with `address` / `topics` as eth_getLogs takes them): each matching log of each new block, in
  chain order, one notification per log;
- `newPendingTransactions`: each EVM transaction admitted after the subscription, once, in the order the node
  admitted it — its hash, or (with `true`, as geth 1.11+ takes it) the transaction without a block. Looked for
  every rpc/pubsub.py TICK_S and before each new block's notifications, so a transaction is announced before
  the block that takes it, even when both come between two looks.

A subscription id is 16 random bytes in hex, as geth makes them. `syncing` is not offered: the node never
syncs. After a reset or a revert the chain is shorter: the next header is the new head's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from chain.store.sql import consistent_reads
from rpc.jsonrpc import INVALID_REQUEST, Endpoint, RpcError
from rpc.pubsub import PubSubConsumer, Session

from .chaindata import Arrivals, arrival_mark, arrivals, block_hash_at, block_json
from .codec import invalid
from .logs import MAX_ARRIVALS, LogFilter, head_height, parse_filter, pending_json, read_logs
from .methods import block_row, call_method, coinbase
from .views import chain_error

MAX_SUBSCRIPTIONS = 1_000  # per connection
MAX_CATCH_UP = 64  # blocks notified at once after a gap (the live feed announces the head only)
NOT_IN_HEADS = ("transactions", "uncles", "withdrawals", "size", "totalDifficulty")


PENDING = "newPendingTransactions"


@dataclass
class Subscription:
    kind: str  # "newHeads" | "logs" | PENDING
    logs: LogFilter | None = None
    full: bool = False  # PENDING: whole transactions, not hashes


class EthSession(Session):
    def __init__(self) -> None:
        super().__init__()
        self.subs: dict[str, Subscription] = {}
        # (height, hash) of the last block notified, or of the head when the first subscription came
        self.last: tuple[int, bytes | None] | None = None
        self.arrived: Arrivals | None = None  # where the next look for admitted transactions starts, while PENDING
        self.endpoint = Endpoint("eth pubsub", self.call, chain_error)

    def call(self, method: str, params: list[Any]) -> Any:
        if method == "eth_subscribe":
            return self.subscribe(*params)
        if method == "eth_unsubscribe":
            if len(params) != 1:
                raise invalid("eth_unsubscribe takes the subscription id")
            gone = self.subs.pop(params[0], None) is not None if isinstance(params[0], str) else False
            if not any(s.kind == PENDING for s in self.subs.values()):
                self.arrived = None
            return gone
        return call_method(method, params)

    def subscribe(self, kind: Any = None, criteria: Any = None, *extra: Any) -> str:
        if extra:
            raise invalid("eth_subscribe takes a kind and, for logs, a filter")
        if kind == "newHeads":
            if criteria is not None:
                raise invalid("newHeads takes no options")
            sub = Subscription("newHeads")
        elif kind == "logs":
            criteria = {} if criteria is None else criteria
            if isinstance(criteria, dict) and ({"fromBlock", "toBlock", "blockHash"} & criteria.keys()):
                raise invalid("a logs subscription follows new blocks: give address and topics only")
            sub = Subscription("logs", parse_filter(criteria))
        elif kind == PENDING:
            if criteria is not None and not isinstance(criteria, bool):
                raise invalid(f"{PENDING} takes one optional boolean: whole transactions or hashes")
            sub = Subscription(PENDING, full=bool(criteria))
        elif kind == "syncing":
            raise invalid("syncing is not offered here: the node never syncs")
        else:
            raise invalid(f"no subscription {kind!r}: newHeads, logs or {PENDING}")
        if len(self.subs) >= MAX_SUBSCRIPTIONS:
            raise RpcError(INVALID_REQUEST, f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        if self.last is None:
            height = head_height()
            self.last = (height, block_hash_at(height))
        if sub.kind == PENDING and self.arrived is None:
            with consistent_reads():
                self.arrived = arrival_mark()
        sub_id = "0x" + secrets.token_hex(16)
        self.subs[sub_id] = sub
        return sub_id

    def subscribed(self) -> bool:
        return bool(self.subs)

    def ticking(self) -> bool:
        return self.arrived is not None

    def on_tick(self) -> None:
        mark = self.arrived
        if mark is None:
            return
        with consistent_reads():
            found = arrivals(mark.seq, mark.height, MAX_ARRIVALS)
        self.arrived = Arrivals([], found.seq, found.height)
        pending = [(sub_id, sub.full) for sub_id, sub in self.subs.items() if sub.kind == PENDING]
        for p in found.txs:
            for sub_id, full in pending:
                self.notify("eth_subscription", {"subscription": sub_id, "result": pending_json(p, full)})

    def on_block(self, height: int) -> None:
        self.on_tick()  # what was admitted comes before the block that takes it
        head = (height, block_hash_at(height))
        if self.last is None or height > self.last[0]:
            first = height if self.last is None else self.last[0] + 1
        elif head == self.last:
            return  # announced late: that block was notified already
        else:
            first = height  # shorter than before, or another block at the same height: a reset or revert
        first = max(first, height - MAX_CATCH_UP + 1)
        self.last = head
        heads = [s for s in self.subs.items() if s[1].kind == "newHeads"]
        for n in range(first, height + 1):
            if heads:
                row = block_row(hex(n))
                if row is None:
                    continue
                header = {k: v for k, v in block_json(*row, False, coinbase()).items() if k not in NOT_IN_HEADS}
                for sub_id, _ in heads:
                    self.notify("eth_subscription", {"subscription": sub_id, "result": header})
            for sub_id, sub in list(self.subs.items()):
                if sub.kind == "logs" and sub.logs is not None:
                    for entry in read_logs(sub.logs, n, n):
                        self.notify("eth_subscription", {"subscription": sub_id, "result": entry})


class EthPubSub(PubSubConsumer):
    session = EthSession
    name = "eth pubsub"
