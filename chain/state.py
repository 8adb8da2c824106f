"""The chain state as engines see it: 32-byte keys to byte values, with nested snapshots.

`State` layers an overlay for the block being built over the committed entries. Every write
goes through an undo log, so `snapshot()` is just a position in it: `revert(id)` replays the
log back to that position and `commit(id)` forgets the position (an outer snapshot can still
revert the writes). The block builder opens one transaction at a time (`begin_tx` /
`end_tx`); `end_tx` yields that transaction's diff as (key, old, new) triples, and
`block_diff()` the net change of the whole block, which is what the state tree and the store
apply. Deleting is writing `None`. Values are never empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final, TypeVar

from .hashing import H

_MISSING: Final = object()  # "key not in the overlay" in the undo log; distinct from None (deleted)
_NOTE: Final = b"note"  # undo-log marker for a note

K = TypeVar("K")
Diff = list[tuple[bytes, bytes | None, bytes | None]]


@lru_cache(maxsize=1 << 16)  # pure; every transfer looks addresses up
def reverse_index_key(tag: str, address: bytes) -> bytes:
    """SPEC §2: the state key that binds a VM address to its identity."""
    return H(b"nvm/rev/" + tag.encode() + address)


class State:
    __slots__ = ("_marks", "_overlay", "_tx_start", "_undo", "base", "block", "notes")

    def __init__(self, base: Mapping[bytes, bytes], block: tuple[int, int] = (0, 0)) -> None:
        self.base = base
        # (height, timestamp_ms) of the block being built: what a new Bitcoin coin records as its birth
        # (its age for relative lock-times, chain/coins.py); genesis and read-only states keep (0, 0).
        self.block = block
        self._overlay: dict[bytes, bytes | None] = {}
        self._undo: list[tuple[bytes, object]] = []
        self._marks: list[int] = []
        self._tx_start = 0
        # Facts the store mirrors into SQL tables for look-ups the hashed state keys cannot serve:
        # ("address", tag, address, id_com) for reverse-index bindings, ("mint", mint_id) for new mints,
        # ("party", id_com) for an identity whose balances, allowances or keys a transaction wrote
        # (the explorer's "transactions of this identity").
        self.notes: list[tuple[object, ...]] = []

    # -- reads and writes ------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        v = self._overlay.get(key, _MISSING)
        if v is _MISSING:
            return self.base.get(key)
        return v  # type: ignore[return-value]

    def set(self, key: bytes, value: bytes) -> None:
        if len(key) != 32:
            raise ValueError("state keys are 32 bytes")
        if not value:
            raise ValueError("state values are non-empty; delete the key instead")
        self._undo.append((key, self._overlay.get(key, _MISSING)))
        self._overlay[key] = bytes(value)

    def delete(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("state keys are 32 bytes")
        self._undo.append((key, self._overlay.get(key, _MISSING)))
        self._overlay[key] = None

    def note(self, *fact: object) -> None:
        """Record a fact for the store's SQL mirrors; undone with its snapshot like a write."""
        self._undo.append((_NOTE, len(self.notes)))
        self.notes.append(fact)

    def bind_address(self, tag: str, address: bytes, id_com: bytes) -> None:
        """Write a reverse-index entry (covered by the state root) and note it for the SQL mirror."""
        self.set(reverse_index_key(tag, address), id_com)
        self.note("address", tag, bytes(address), bytes(id_com))

    # -- snapshots -------------------------------------------------------------------------
    def snapshot(self) -> int:
        self._marks.append(len(self._undo))
        return len(self._marks) - 1

    def revert(self, snap: int) -> None:
        self._check(snap)
        pos = self._marks[snap]
        del self._marks[snap:]
        undo, overlay = self._undo, self._overlay
        while len(undo) > pos:
            key, prev = undo.pop()
            if key is _NOTE:
                del self.notes[prev:]  # type: ignore[misc,arg-type]
            elif prev is _MISSING:
                del overlay[key]
            else:
                overlay[key] = prev  # type: ignore[assignment]

    def commit(self, snap: int) -> None:
        self._check(snap)
        del self._marks[snap:]

    def _check(self, snap: int) -> None:
        if not 0 <= snap < len(self._marks):
            raise ValueError(f"no open snapshot {snap}")

    # -- transactions and the block's diff -------------------------------------------------
    def begin_tx(self) -> None:
        if self._marks:
            raise RuntimeError("a snapshot is still open")
        self._tx_start = len(self._undo)

    def end_tx(self) -> Diff:
        """The diff of the transaction since `begin_tx`: one (key, old, new) per changed key, in first-write order."""
        if self._marks:
            raise RuntimeError("a snapshot is still open")
        first: dict[bytes, object] = {}
        for key, prev in self._undo[self._tx_start :]:
            if key is not _NOTE and key not in first:
                first[key] = prev
        diff: Diff = []
        for key, prev in first.items():
            old = self.base.get(key) if prev is _MISSING else prev
            new = self._overlay[key]
            if old != new:
                diff.append((key, old, new))  # type: ignore[arg-type]
        # The per-transaction log is no longer needed once its diff is taken: a failed
        # transaction has already been reverted by its snapshot.
        del self._undo[self._tx_start :]
        self._tx_start = 0
        return diff

    def block_diff(self) -> dict[bytes, bytes | None]:
        """Net changes against the committed entries (None = deleted), sorted by key."""
        base = self.base
        return {k: v for k, v in sorted(self._overlay.items()) if base.get(k) != v}


def apply_diff(entries: dict[K, bytes], diff: Mapping[K, bytes | None]) -> None:
    """Fold a net diff (None = deleted) into a dict: state entries by key, or tree nodes by path."""
    for key, value in diff.items():
        if value is None:
            entries.pop(key, None)
        else:
            entries[key] = value
