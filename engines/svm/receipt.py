"""What an SVM receipt's `output` holds (docs/PROTOCOL.md §13): every account key's lamports before
the fee and after the transaction, token balances before and after, and the return data — the
facts Solana's `getTransaction` meta shows (preBalances, postBalances, preTokenBalances,
postTokenBalances, returnData), fixed when the transaction ran, so they are covered by the receipts root.

    u8 version (1) || u16 n || n × u64 pre || n × u64 post
    || u16 count || count × token balance (pre)  || u16 count || count × token balance (post)
    || u8 has_return || [program 32 || u16 len || data]
    token balance = u8 account index || mint 32 || owner 32 || u64 amount || u8 decimals

Integers are big-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from chain.hashing import Reader

VERSION = 1
_TOKEN = struct.Struct(">B32s32sQB")


@dataclass(frozen=True)
class TokenBalance:
    index: int  # the account's index in the message's keys
    mint: bytes
    owner: bytes  # the token account's owner (a wallet pubkey)
    amount: int
    decimals: int


@dataclass
class SvmOutput:
    pre: list[int]
    post: list[int]
    token_pre: list[TokenBalance] = field(default_factory=list)
    token_post: list[TokenBalance] = field(default_factory=list)
    return_data: tuple[bytes, bytes] | None = None  # (program id, data)

    def encode(self) -> bytes:
        n = len(self.pre)
        out = [bytes((VERSION,)), struct.pack(f">H{n}Q{n}Q", n, *self.pre, *self.post)]
        for balances in (self.token_pre, self.token_post):
            out.append(struct.pack(">H", len(balances)))
            out += [_TOKEN.pack(b.index, b.mint, b.owner, b.amount, b.decimals) for b in balances]
        if self.return_data is None:
            out.append(b"\x00")
        else:
            program, data = self.return_data
            out += [b"\x01", program, struct.pack(">H", len(data)), data]
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes) -> SvmOutput:
        r = Reader(data)
        if r.uint(1) != VERSION:
            raise ValueError("unknown SVM receipt output version")
        n = r.uint(2)
        pre = [r.uint(8) for _ in range(n)]
        post = [r.uint(8) for _ in range(n)]
        tokens = []
        for _ in range(2):
            tokens.append([TokenBalance(*_TOKEN.unpack(r.take(_TOKEN.size))) for _ in range(r.uint(2))])
        ret = None
        if r.uint(1):
            ret = (r.take(32), r.var(2))
        r.done()
        return cls(pre, post, tokens[0], tokens[1], ret)
