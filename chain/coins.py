"""Account coins (SPEC §3, docs/PROTOCOL.md §4): the BVM shows each identity's native balance as one coin.

The coin's outpoint is `(txid = H(H("nvm/coin" || id_com || version_u64_be)), vout 0)` and its value the
balance in whole sats. `version` counts the changes of that balance — every VM's — so a Bitcoin
transaction that spent a coin, or was signed for it before the balance moved, can never spend again. It
lives in the native balance slot itself (chain/ledger.py): `amount u64 || version u64`, the top bit of the
version word marking a *Bitcoin wallet* (a legacy identity of a Bitcoin scriptPubKey, whose coin a raw
Bitcoin transaction may spend). Only those need the coin index `H("nvm/btc/coin" || txid) → id_com`, which
finds the identity a raw transaction's input spends; the ledger keeps it as their balances change.
"""

from __future__ import annotations

from functools import lru_cache

from .hashing import H

WALLET_FLAG = 1 << 63  # in the version word: this identity is a Bitcoin wallet's
VERSION_MASK = WALLET_FLAG - 1


@lru_cache(maxsize=1 << 14)
def coin_txid(id_com: bytes, version: int) -> bytes:
    """The coin's txid in internal byte order (Bitcoin shows it reversed)."""
    return H(H(b"nvm/coin" + id_com + version.to_bytes(8, "big")))


def coin_index_key(txid: bytes) -> bytes:
    return H(b"nvm/btc/coin" + txid)


def script_key(id_com: bytes) -> bytes:
    """A Bitcoin wallet's identity's scriptPubKey (its legacy id_com is a hash of it: this keeps the script)."""
    return H(b"nvm/btc/script" + id_com)


def index_entry(id_com: bytes, block: tuple[int, int]) -> bytes:
    """The coin index's value: whose coin, and the block that made it — height u64, timestamp_ms u64 (its
    age, for BIP68 relative lock-times)."""
    return id_com + block[0].to_bytes(8, "big") + block[1].to_bytes(8, "big")


def read_index(raw: bytes) -> tuple[bytes, int, int]:
    """(id_com, birth height, birth timestamp_ms) of a coin index entry."""
    return raw[:32], int.from_bytes(raw[32:40], "big"), int.from_bytes(raw[40:48], "big")


def split(raw: bytes | None) -> tuple[int, int, bool]:
    """(amount, version, Bitcoin wallet?) of a native balance slot's value."""
    if raw is None:
        return 0, 0, False
    word = int.from_bytes(raw[8:16], "big") if len(raw) >= 16 else 0
    return int.from_bytes(raw[:8], "big"), word & VERSION_MASK, bool(word & WALLET_FLAG)


def join(amount: int, version: int, wallet: bool) -> bytes:
    return amount.to_bytes(8, "big") + (version | (WALLET_FLAG if wallet else 0)).to_bytes(8, "big")
