"""SHA-256 and the fixed-width integer encodings every byte-level format of the chain uses (SPEC §2)."""

from __future__ import annotations

import hashlib

U64_MAX = 2**64 - 1
ZERO32 = bytes(32)


def H(data: bytes) -> bytes:
    """SPEC §2's `H`: SHA-256."""
    return hashlib.sha256(data).digest()


def u8(n: int) -> bytes:
    return n.to_bytes(1, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash: leaf = H(0x00 || d), node = H(0x01 || l || r), empty = H("").

    Used for a block's transactions root and receipts root; the split at the largest power of
    two below n keeps every level well defined for any count without duplicating leaves.
    """
    if not leaves:
        return H(b"")
    level = [H(b"\x00" + leaf) for leaf in leaves]
    # Pairing bottom-up and carrying an odd last node up unpaired builds exactly RFC 6962's tree
    # (its split at the largest power of two leaves the same nodes unpaired), without recursion.
    while len(level) > 1:
        paired = [H(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class Reader:
    """Cursor over a byte string for strict decoding; every short read is a ValueError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise ValueError(f"truncated: wanted {n} bytes at offset {self.pos}, {len(self.data) - self.pos} left")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def uint(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big")

    def var(self, len_width: int) -> bytes:
        return self.take(self.uint(len_width))

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} trailing bytes")
