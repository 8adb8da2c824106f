"""The `/ws/live` feed: one event per committed block — its header, each transaction (VM, status,
write-set size) and the identities it touched (an identity page refreshes when its id_com is there).

Events are made from what the store holds, by whoever notices the block first:
- with a cross-process channel layer (Redis), the block producer publishes after each commit;
- with the in-memory layer (the embedded default, producer in another process), each web process
  watches the blocks table and publishes to its own consumers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import close_old_connections

from chain.dispatcher import Receipt
from chain.node import decode_diff
from chain.store import models as m

from .data import vm_of

GROUP = "live"
POLL_S = 0.2
log = logging.getLogger("nvm.live")


def block_event(height: int) -> dict[str, Any] | None:
    row = m.Block.objects.filter(height=height).first()
    if row is None:
        return None
    txs = []
    for t in m.Transaction.objects.filter(block_id=height).order_by("position")[:500]:
        receipt = Receipt.decode(bytes(t.receipt))
        txs.append(
            {
                "id": "0x" + bytes(t.envelope_id).hex(),
                "vm": vm_of(t.opcode),
                "success": receipt.success,
                "code": receipt.code or None,
                "writes": len(decode_diff(bytes(t.diff))),
                "time_us": t.exec_us,
            }
        )
    parties = sorted(
        {"0x" + bytes(p).hex() for p in m.TxParty.objects.filter(height=height).values_list("id_com", flat=True)[:5000]}
    )
    return {
        "type": "block",
        "height": row.height,
        "hash": "0x" + bytes(row.hash).hex(),
        "timestamp_ms": row.timestamp_ms,
        "tx_count": row.tx_count,
        "txs": txs,
        "parties": parties,
        "schedule": json.loads(row.schedule) if row.schedule else {"strategy": "sequential"},
    }


def cross_process() -> bool:
    return not isinstance(get_channel_layer(), InMemoryChannelLayer)


def publish(height: int) -> None:
    """From the block producer, after a commit (only where the channel layer reaches other processes)."""
    event = block_event(height)
    layer = get_channel_layer()
    if event is not None and layer is not None:
        async_to_sync(layer.group_send)(GROUP, {"type": "live.event", "event": event})


_watcher: asyncio.Task[None] | None = None


def ensure_watcher() -> None:
    """Start this process's watcher once (in-memory layer only)."""
    global _watcher
    if cross_process() or (_watcher is not None and not _watcher.done()):
        return
    _watcher = asyncio.get_running_loop().create_task(_watch())


def _top() -> int | None:
    close_old_connections()
    return m.Block.objects.order_by("-height").values_list("height", flat=True).first()


async def _watch() -> None:
    layer = get_channel_layer()
    assert layer is not None
    seen = await sync_to_async(_top)()
    while True:
        await asyncio.sleep(POLL_S)
        try:
            top = await sync_to_async(_top)()
            if top is None or (seen is not None and top <= seen):
                seen = top if seen is None else seen
                continue
            start = 0 if seen is None else seen + 1
            for height in range(max(start, top - 20), top + 1):  # a burst: the newest 21 at most
                event = await sync_to_async(block_event)(height)
                if event is not None:
                    await layer.group_send(GROUP, {"type": "live.event", "event": event})
            seen = top
        except Exception:
            log.exception("live feed: reading the blocks failed; trying again")
