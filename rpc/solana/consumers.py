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
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from engines.svm import accounts as acc
from explorer.live import GROUP, ensure_watcher
from rpc.jsonbody import MAX_JSON_DEPTH, too_deep
from rpc.jsonrpc import INVALID_REQUEST, MAX_BATCH, PARSE_ERROR, Endpoint, Methods, RpcError, error_response

from .accounts import DataSlice, account_encoding, ui_account
from .chaindata import find
from .codec import b58, commitment, config, flag, invalid, pubkey, signature, u64
from .methods import arity, not_found, state
from .views import chain_error

log = logging.getLogger(__name__)
MAX_SUBSCRIPTIONS = 1_000  # per connection
MAX_FRAME = 64 * 1024
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


@dataclass
class Subscriptions:
    """One connection's subscriptions; methods run on a worker thread (they read the database), notifications
    to send once the answer is sent collect in `pending`."""

    subs: dict[int, Subscription] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
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
    def _notify(self, method: str, sub_id: int, result: Any) -> None:
        self.pending.append({"jsonrpc": "2.0", "method": method, "params": {"result": result, "subscription": sub_id}})

    def _check_signature(self, sub_id: int) -> None:
        found = find(self.subs[sub_id].key)
        if found is not None and found.view is not None:
            self._notify("signatureNotification", sub_id, {"context": {"slot": found.height}, "value": {"err": found.view.err}})
            del self.subs[sub_id]  # a signature subscription ends with its notification

    def _account(self, sub: Subscription) -> dict[str, Any]:
        s = state()
        info = acc.account_info(s, sub.key)
        return _empty_account(sub.encoding) if info is None else ui_account(s, sub.key, info, sub.encoding, sub.data_slice)

    def on_block(self, slot: int) -> list[dict[str, Any]]:
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
        return self.take()

    def answer(self, text: str) -> tuple[Any, list[dict[str, Any]]]:
        """A frame's JSON-RPC answer (None: only notifications came) and the notifications to follow it."""
        if too_deep(text.encode()):
            return error_response(None, RpcError(PARSE_ERROR, f"parse error: JSON nested deeper than {MAX_JSON_DEPTH}")), []
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):
            return error_response(None, RpcError(PARSE_ERROR, "parse error: the frame is not valid JSON")), []
        if isinstance(payload, list):
            if not payload or len(payload) > MAX_BATCH:
                return error_response(None, RpcError(INVALID_REQUEST, f"a batch holds 1 to {MAX_BATCH} requests")), []
            responses = [r for r in map(self.endpoint.handle, payload) if r is not None]
            return responses or None, self.take()
        return self.endpoint.handle(payload), self.take()

    def take(self) -> list[dict[str, Any]]:
        out, self.pending = self.pending, []
        return out


class SolanaPubSub(AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        self.subscriptions = Subscriptions()
        await self.channel_layer.group_add(GROUP, self.channel_name)
        ensure_watcher()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME:
            err = RpcError(INVALID_REQUEST, f"send JSON-RPC requests as text frames of at most {MAX_FRAME} bytes")
            await self._send(error_response(None, err))
            return
        response, notifications = await database_sync_to_async(self.subscriptions.answer)(text_data)
        if response is not None:
            await self._send(response)
        for note in notifications:
            await self._send(note)

    async def live_event(self, message: dict[str, Any]) -> None:
        """A new block (explorer/live.py's event)."""
        if not self.subscriptions.subs:
            return
        try:
            notifications = await database_sync_to_async(self.subscriptions.on_block)(int(message["event"]["height"]))
        except Exception:  # a block that cannot be read now is not this connection's end
            log.exception("solana pubsub: could not read block %s", message["event"].get("height"))
            return
        for note in notifications:
            await self._send(note)

    async def _send(self, content: Any) -> None:
        await self.send(text_data=json.dumps(content))
