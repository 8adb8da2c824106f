"""What every interface needs to run a VM call from a web request over the committed state, without writing:
the state read key by key from SQL once (`ReadOnce`), the block the call runs in (`next_block_context`), and a
clock in the opcode table (`TimedOpcodes`, `timed_computation`) — used by eth_call and eth_estimateGas, Tron's
constant calls and energy estimates, and the dry runs of the Submit page and the native API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from chain.dispatcher import BlockContext
from chain.errors import ChainError
from chain.node import RECENT_BLOCKS, chain_id_of
from chain.store import models as m

CALL_TIMEOUT_S = 5.0  # geth's RPCEVMTimeout: one request's runs together


class ReadOnce(Mapping[bytes, bytes]):
    """The committed state, each key read from SQL once: estimateGas runs the same call a dozen times."""

    def __init__(self, base: Mapping[bytes, bytes]) -> None:
        self.base = base
        self._seen: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        if key not in self._seen:
            self._seen[key] = self.base.get(key)
        value = self._seen[key]
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("the committed state is read key by key, never listed")

    def __len__(self) -> int:
        raise TypeError("the committed state is read key by key, never listed")


def next_block_context(entries: Mapping[bytes, bytes]) -> BlockContext:
    """The block a call or dry run runs in: the head's successor, now, with the recent block hashes."""
    recent = list(m.Block.objects.order_by("-height").values_list("height", "hash", "timestamp_ms")[:RECENT_BLOCKS])
    if not recent:
        raise ChainError("no genesis block yet", "no_genesis")
    height, _, timestamp_ms = recent[0]
    return BlockContext(
        height + 1,
        max(int(time.time() * 1000), timestamp_ms + 1),
        chain_id_of(entries),
        bytes(32),
        tuple(bytes(h) for _, h, _ in recent),
    )


class CallTimeout(BaseException):
    """A call ran past its time. A BaseException, so no engine-level `except Exception` mistakes it for
    a failure of the transaction: it ends the whole request."""


class TimedOpcodes(dict[int, Any]):
    """The opcode table with a clock: py-evm looks up every opcode it runs here, so this is where a call that
    runs too long is cut (web requests share the server's threads; a 30M-gas loop takes seconds)."""

    def __init__(self, table: dict[int, Any], deadline: float) -> None:
        super().__init__(table)
        self.deadline = deadline
        self.lookups = 0

    def __getitem__(self, opcode: int) -> Any:
        self.lookups += 1
        if not self.lookups & 0xFFF and time.monotonic() > self.deadline:
            raise CallTimeout
        return super().__getitem__(opcode)


def timed_computation(base: Any, deadline: float) -> Any:
    """A subclass of a py-evm computation class whose runs stop with CallTimeout past `deadline`."""
    return type(f"Timed{base.__name__}", (base,), {"opcodes": TimedOpcodes(base.opcodes, deadline)})
