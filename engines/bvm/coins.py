"""Account coins as the BVM and its interfaces see them (SPEC §3, chain/coins.py, docs/PROTOCOL.md §4).

Every identity has at most one coin: its native balance, floored to whole sats, at outpoint
`(coin_txid(id_com, version), 0)`, locked by the identity's scriptPubKey — a Bitcoin wallet's own script
(kept when its legacy identity was bound), anyone else's derived Taproot output `OP_1 <vm_address(id, "btc")>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain import coins
from chain.accounts import index_bytes
from chain.identity import vm_address
from chain.ledger import BASE_PER_SAT, NATIVE_MINT, balance_slot
from chain.state import State


@dataclass(frozen=True)
class Coin:
    id_com: bytes
    txid: bytes  # internal byte order (Bitcoin shows it reversed)
    version: int
    sats: int
    script_pubkey: bytes
    wallet: bool  # a Bitcoin wallet's: a raw Bitcoin transaction may spend it
    born: tuple[int, int] | None = None  # (height, timestamp_ms) of the block that made it, where indexed

    @property
    def vout(self) -> int:
        return 0

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()


def script_of(state: State, id_com: bytes) -> bytes:
    """The scriptPubKey that locks the identity's coin."""
    own = state.get(coins.script_key(id_com))
    return own if own is not None else index_bytes("btc", vm_address(id_com, "btc"))


def coin_of(state: State, id_com: bytes) -> Coin | None:
    """The identity's coin now; None while it holds less than one sat."""
    amount, version, wallet = coins.split(state.get(balance_slot(NATIVE_MINT, id_com)))
    sats = amount // BASE_PER_SAT
    if not sats:
        return None
    txid = coins.coin_txid(id_com, version)
    born = None
    if wallet:
        entry = state.get(coins.coin_index_key(txid))
        if entry is not None:
            _who, height, time_ms = coins.read_index(entry)
            born = (height, time_ms)
    return Coin(id_com, txid, version, sats, script_of(state, id_com), wallet, born)


def coin_by_txid(state: State, txid: bytes) -> Coin | None:
    """The current coin with this txid (internal order), if a raw Bitcoin transaction may spend it."""
    entry = state.get(coins.coin_index_key(txid))
    if entry is None:
        return None
    found = coin_of(state, coins.read_index(entry)[0])
    return found if found is not None and found.txid == txid else None
