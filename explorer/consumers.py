"""`/ws/live`: every connected client gets each new block's event (explorer/live.py)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .live import GROUP, ensure_watcher


class LiveConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        await self.channel_layer.group_add(GROUP, self.channel_name)
        ensure_watcher()
        await self.accept()
        await self.send_json({"type": "hello", "feed": "blocks"})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "error", "message": "this feed takes no messages"})

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
