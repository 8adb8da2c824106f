"""Block headers (SPEC §6): canonical encoding, hash, and the validator's Ed25519 signature.

Encoding (docs/PROTOCOL.md, "Blocks"): the unsigned header is
`version u8 || height u64 || parent_hash 32 || timestamp_ms u64 || state_root 32 ||
tx_root 32 || receipts_root 32 || proposer 32` (177 bytes, integers big-endian); the
validator signs `b"nvm/block" || unsigned`; the full header is `unsigned || signature 64`
and the block hash is H(full header).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .hashing import ZERO32, H, Reader

HEADER_VERSION = 1
SIGNING_DOMAIN = b"nvm/block"
HEADER_LEN = 177 + 64


@dataclass(frozen=True)
class Header:
    height: int
    parent_hash: bytes
    timestamp_ms: int
    state_root: bytes
    tx_root: bytes
    receipts_root: bytes
    proposer: bytes
    signature: bytes = b""

    def unsigned(self) -> bytes:
        return b"".join(
            (
                HEADER_VERSION.to_bytes(1, "big"),
                self.height.to_bytes(8, "big"),
                self.parent_hash,
                self.timestamp_ms.to_bytes(8, "big"),
                self.state_root,
                self.tx_root,
                self.receipts_root,
                self.proposer,
            )
        )

    def encode(self) -> bytes:
        if len(self.signature) != 64:
            raise ValueError("header is not signed")
        return self.unsigned() + self.signature

    @property
    def hash(self) -> bytes:
        return H(self.encode())

    def sign(self, key: SigningKey) -> Header:
        if key.verify_key.encode() != self.proposer:
            raise ValueError("signing key is not the proposer's")
        return replace(self, signature=key.sign(SIGNING_DOMAIN + self.unsigned()).signature)

    def signature_valid(self) -> bool:
        try:
            VerifyKey(self.proposer).verify(SIGNING_DOMAIN + self.unsigned(), self.signature)
        except (BadSignatureError, ValueError):
            return False
        return True

    @classmethod
    def decode(cls, data: bytes) -> Header:
        r = Reader(data)
        if r.uint(1) != HEADER_VERSION:
            raise ValueError("unknown header version")
        h = cls(r.uint(8), r.take(32), r.uint(8), r.take(32), r.take(32), r.take(32), r.take(32), r.take(64))
        r.done()
        return h

    def to_json(self) -> dict[str, object]:
        return {
            "height": self.height,
            "hash": "0x" + self.hash.hex(),
            "parent_hash": "0x" + self.parent_hash.hex(),
            "timestamp_ms": self.timestamp_ms,
            "state_root": "0x" + self.state_root.hex(),
            "tx_root": "0x" + self.tx_root.hex(),
            "receipts_root": "0x" + self.receipts_root.hex(),
            "proposer": "0x" + self.proposer.hex(),
            "signature": "0x" + self.signature.hex(),
        }


GENESIS_PARENT = ZERO32
