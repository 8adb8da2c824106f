"""JSON-RPC over a websocket, with subscriptions fed by new blocks: what the Solana PubSub socket
(`/rpc/solana/ws`) and the Ethereum one (`ws://…/rpc/eth`) share.

A `Session` is one connection's state: its endpoint answers the frames (single requests and batches,
rpc/jsonrpc.py's framing and errors), its `on_block` says what a new block brings to its subscriptions, and
`on_tick`, every TICK_S while `ticking()`, what else arrived (transactions admitted since). All of them run on
one worker thread (they read the database), one at a time. Notifications made while answering a frame are sent
after its answer. New blocks come from the explorer's live feed (explorer/live.py: the block producer's
announcement, or this process's watcher of the blocks table).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import ABC, abstractmethod
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from explorer.live import GROUP, ensure_watcher

from .jsonbody import MAX_JSON_DEPTH, too_deep
from .jsonrpc import INVALID_REQUEST, MAX_BATCH, PARSE_ERROR, Endpoint, RpcError, error_response

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024
TICK_S = 0.1  # how often a ticking session looks for what arrived between blocks


class Session(ABC):
    """One connection: `endpoint` answers its requests, `subscribed()` says whether blocks concern it, and
    `on_block(height)` queues (with `notify`) what a new block brings."""

    endpoint: Endpoint
    max_frame = MAX_FRAME

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []

    @abstractmethod
    def subscribed(self) -> bool: ...

    @abstractmethod
    def on_block(self, height: int) -> None: ...

    def ticking(self) -> bool:
        """Whether `on_tick` has anything to look for."""
        return False

    def on_tick(self) -> None:
        """Queue (with `notify`) what arrived since the last look, between blocks: nothing, unless a session has
        something to look for."""
        return None

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.pending.append({"jsonrpc": "2.0", "method": method, "params": params})

    def take(self) -> list[dict[str, Any]]:
        out, self.pending = self.pending, []
        return out

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

    def block_notifications(self, height: int) -> list[dict[str, Any]]:
        self.on_block(height)
        return self.take()

    def tick_notifications(self) -> list[dict[str, Any]]:
        self.on_tick()
        return self.take()


class PubSubConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """The websocket of a `Session` subclass (`session`)."""

    session: type[Session]
    name = "pubsub"

    async def connect(self) -> None:
        self.state = self.session()
        await self.channel_layer.group_add(GROUP, self.channel_name)
        ensure_watcher()
        await self.accept()
        self.ticker = asyncio.ensure_future(self._tick())

    async def disconnect(self, code: int) -> None:
        ticker = getattr(self, "ticker", None)
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if not self.state.ticking():
                continue
            try:
                notifications = await database_sync_to_async(self.state.tick_notifications)()
            except Exception:  # the database out of reach for a moment is not this connection's end
                log.exception("%s: could not look for new arrivals", self.name)
                continue
            for note in notifications:
                await self._send(note)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A text frame, or a binary one holding UTF-8 JSON (web3.py sends those), of at most `max_frame` bytes."""
        size = len(bytes_data) if text_data is None and bytes_data is not None else len(text_data or "")
        if size > self.state.max_frame or (text_data is None and bytes_data is None):
            err = RpcError(INVALID_REQUEST, f"send JSON-RPC requests in frames of at most {self.state.max_frame} bytes")
            await self._send(error_response(None, err))
            return
        if text_data is None:
            try:
                text_data = (bytes_data or b"").decode()
            except UnicodeDecodeError:
                await self._send(error_response(None, RpcError(PARSE_ERROR, "parse error: the frame is not UTF-8 JSON")))
                return
        response, notifications = await database_sync_to_async(self.state.answer)(text_data)
        if response is not None:
            await self._send(response)
        for note in notifications:
            await self._send(note)

    async def live_event(self, message: dict[str, Any]) -> None:
        """A new block (explorer/live.py's event)."""
        if not self.state.subscribed():
            return
        height = int(message["event"]["height"])
        try:
            notifications = await database_sync_to_async(self.state.block_notifications)(height)
        except Exception:  # a block that cannot be read now is not this connection's end
            log.exception("%s: could not read block %s", self.name, height)
            return
        for note in notifications:
            await self._send(note)

    async def _send(self, content: Any) -> None:
        await self.send(text_data=json.dumps(content))
