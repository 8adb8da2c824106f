"""`/rpc/solana/ws`: Solana's PubSub websocket — signatureSubscribe, accountSubscribe, slotSubscribe,
rootSubscribe and their unsubscribes, with Agave's notification shapes.

Requests are JSON-RPC 2.0 text frames (rpc/jsonrpc.py's framing and errors); a subscription answers its
id, a number unique in this process, counted from 0 as Agave counts them. New blocks come from the
explorer's live feed (explorer/live.py: the block producer's announcement, or this process's watcher of
the blocks table); on each:
- slotSubscribe: `{"parent", "root", "slot"}` — the block is final as soon as it is made, so root = slot;
- rootSubscribe: the slot;
- signatureSubscribe: once the signature is in a block, `{"context": {"slot"}, "value": {"err"}}`, and the
  subscription ends (as Agave ends it). A signature already in a block when subscribed is notified at
  once: with on-demand blocks no later block may come. `enableReceivedNotification` is accepted; no
  "receivedSignature" notification is sent (the mempool is not searched by signature);
- accountSubscribe: the account (in the asked encoding) whenever its lamports, owner or data differ from
  what was last sent; an account that disappears is shown empty (0 lamports, System-owned, no data).
Other subscriptions (logs, program, block, vote, slotsUpdates) answer "Method not found".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from engines.svm import accounts as acc
from rpc.jsonrpc import INVALID_REQUEST, Endpoint, Methods, RpcError
from rpc.pubsub import PubSubConsumer, Session

from .accounts import DataSlice, account_encoding, ui_account
from .chaindata import find
from .codec import b58, commitment, config, flag, invalid, pubkey, signature, u64
from .methods import arity, not_found, state
from .views import chain_error

MAX_SUBSCRIPTIONS = 1_000  # per connection
_ids = itertools.count()  # subscription ids, unique in this process


@dataclass
class Subscription:
    kind: str  # "signature" | "account" | "slot" | "root"
    key: bytes = b""
    encoding: str = "binary"
    data_slice: DataSlice | None = None
    last: Any = None  # an account subscription: the account as last sent


def _empty_account(encoding: str) -> dict[str, Any]:
    data: Any = "" if encoding == "binary" else ["", "base58" if encoding == "base58" else "base64"]
    return {"data": data, "executable": False, "lamports": 0, "owner": b58(acc.SYSTEM_PROGRAM), "rentEpoch": 0, "space": 0}


class Subscriptions(Session):
    """One connection's subscriptions (rpc/pubsub.py: its methods run on a worker thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.subs: dict[int, Subscription] = {}
        self.methods = Methods(not_found, arity)
        for name, fn in (
            ("signatureSubscribe", self.signature_subscribe),
            ("accountSubscribe", self.account_subscribe),
            ("slotSubscribe", self.slot_subscribe),
            ("rootSubscribe", self.root_subscribe),
            ("signatureUnsubscribe", self.unsubscriber("signature")),
            ("accountUnsubscribe", self.unsubscriber("account")),
            ("slotUnsubscribe", self.unsubscriber("slot")),
            ("rootUnsubscribe", self.unsubscriber("root")),
        ):
            self.methods.register(name)(fn)
        self.endpoint = Endpoint("solana pubsub", self.methods.call, chain_error)

    def _add(self, sub: Subscription) -> int:
        if len(self.subs) >= MAX_SUBSCRIPTIONS:
            raise RpcError(INVALID_REQUEST, f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        sub_id = next(_ids)
        self.subs[sub_id] = sub
        return sub_id

    # -- methods ---------------------------------------------------------------------------------
    def signature_subscribe(self, sig: Any, cfg: Any = None) -> int:
        key = signature(sig)
        c = config(cfg)
        commitment(c)
        flag(c, "enableReceivedNotification")  # accepted; see the module's docstring
        sub_id = self._add(Subscription("signature", key))
        self._check_signature(sub_id)
        return sub_id

    def account_subscribe(self, address: Any, cfg: Any = None) -> int:
        key = pubkey(address)
        c = config(cfg)
        commitment(c)
        encoding, data_slice = account_encoding(c, "binary")
        sub = Subscription("account", key, encoding, data_slice)
        sub.last = self._account(sub)  # refuses now what could not be encoded later (large data in base58)
        return self._add(sub)

    def slot_subscribe(self) -> int:
        return self._add(Subscription("slot"))

    def root_subscribe(self) -> int:
        return self._add(Subscription("root"))

    def unsubscriber(self, kind: str) -> Any:
        def unsubscribe(sub_id: Any) -> bool:
            n = u64(sub_id)
            if n not in self.subs or self.subs[n].kind != kind:
                raise invalid("Invalid subscription id.")
            del self.subs[n]
            return True

        return unsubscribe

    # -- notifications ---------------------------------------------------------------------------
    def subscribed(self) -> bool:
        return bool(self.subs)

    def _notify(self, method: str, sub_id: int, result: Any) -> None:
        self.notify(method, {"result": result, "subscription": sub_id})

    def _check_signature(self, sub_id: int) -> None:
        found = find(self.subs[sub_id].key)
        if found is not None and found.view is not None:
            self._notify("signatureNotification", sub_id, {"context": {"slot": found.height}, "value": {"err": found.view.err}})
            del self.subs[sub_id]  # a signature subscription ends with its notification

    def _account(self, sub: Subscription) -> dict[str, Any]:
        s = state()
        info = acc.account_info(s, sub.key)
        return _empty_account(sub.encoding) if info is None else ui_account(s, sub.key, info, sub.encoding, sub.data_slice)

    def on_block(self, slot: int) -> None:
        """The notifications a new block brings."""
        for sub_id, sub in list(self.subs.items()):
            if sub.kind == "slot":
                self._notify("slotNotification", sub_id, {"parent": max(slot - 1, 0), "root": slot, "slot": slot})
            elif sub.kind == "root":
                self._notify("rootNotification", sub_id, slot)
            elif sub.kind == "signature":
                self._check_signature(sub_id)
            elif sub.kind == "account":
                now = self._account(sub)
                if now != sub.last:
                    sub.last = now
                    self._notify("accountNotification", sub_id, {"context": {"slot": slot}, "value": now})


class SolanaPubSub(PubSubConsumer):
    session = Subscriptions
    name = "solana pubsub"
