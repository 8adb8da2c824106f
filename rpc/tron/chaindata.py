"""Blocks, Tron transactions and accounts in Tron's terms, read from the store's tables
(chain/store/models.py) and the committed state.

- A *Tron transaction* is a TVM raw transaction (0x40) that a block executed, found by its txid (a `TxAlias`):
  one that ran, or whose contract failed (REVERT, OUT_OF_ENERGY, …) and paid its energy. One the block refused
  (it expired waiting, or the balance moved) never happened in Tron's terms — a Tron node never puts such a
  transaction in a block — so it is not found here; `/api/v1/tx/<txid>` shows its failed receipt.
- An *account* is the identity the reverse index binds to a Tron address (tag `tron`, 21 bytes): a legacy
  Tron wallet's, or any identity's derived Tron address. An address the index does not know is no account
  (Tron answers `{}` for it) until a transfer pays it.
"""

from __future__ import annotations

from chain.accounts import lookup
from chain.blocks import Header
from chain.dispatcher import Receipt
from chain.ledger import sun_balance
from chain.state import State
from chain.store import models as m
from chain.store.sql import HeadCachedEntries, header_at
from engines.tvm.engine import RAW_TX, TRON_OPCODES, raw_data_of
from engines.tvm.proto import field

from .codec import Shown, shown_in_tron

PAGE = 500


def state() -> State:
    """The committed state at the head (reads remembered for the rest of the block: wallets poll)."""
    return State(HeadCachedEntries())


def header_by_tron_id(block_id: bytes) -> Header | None:
    """By Tron block id (height u64 ‖ hash[8:32]): the block at that height, if its hash ends that way."""
    found = header_at(int.from_bytes(block_id[:8], "big")) if len(block_id) == 32 else None
    return found if found is not None and found.hash[8:] == block_id[8:] else None


def _tron_txs() -> object:
    return m.Transaction.objects.filter(opcode__in=TRON_OPCODES)


def transaction_bytes_of(envelope: bytes) -> bytes:
    """A TVM envelope as the Tron `Transaction` it stands for: a 0x40's own bytes; an ACE call's (0x41) or an
    impersonated one's (0x4F) raw_data without signatures (it has none a Tron wallet could check)."""
    if envelope[0] == RAW_TX:
        return envelope[1:]
    return field(1, raw_data_of(envelope))


_FIELDS = ("envelope", "block_id", "block__timestamp_ms", "position", "receipt")


def _shown(row: tuple[object, ...]) -> Shown | None:
    envelope, height, timestamp_ms, position, receipt = row
    r = Receipt.decode(bytes(receipt))  # type: ignore[call-overload]
    if not shown_in_tron(r):
        return None
    body = transaction_bytes_of(bytes(envelope))  # type: ignore[call-overload]
    return Shown(body, int(height), int(timestamp_ms), int(position), r)  # type: ignore[call-overload]


def block_txs(height: int) -> list[Shown]:
    rows = _tron_txs().filter(block_id=height).order_by("position").values_list(*_FIELDS)  # type: ignore[attr-defined]
    return [shown for shown in map(_shown, rows.iterator(chunk_size=PAGE)) if shown is not None]


def committed_tx(txid: bytes) -> Shown | None:
    row = _tron_txs().filter(aliases__alias=txid).values_list(*_FIELDS).first()  # type: ignore[attr-defined]
    return None if row is None else _shown(row)


def account_of(address: bytes, st: State) -> bytes | None:
    """The identity behind a 21-byte Tron address, if the reverse index knows it."""
    return lookup(st, "tron", address)


def balance_sun(id_com: bytes, st: State) -> int:
    return sun_balance(st, id_com)


def bound_at_ms(address: bytes) -> int:
    """When the address was bound to its identity (its block's time): Tron's `create_time`."""
    height = m.AddressIndex.objects.filter(tag="tron", address=address).values_list("height", flat=True).first()
    if height is None:
        return 0
    ts = m.Block.objects.filter(height=height).values_list("timestamp_ms", flat=True).first()
    return int(ts or 0)
