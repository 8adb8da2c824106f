"""Blocks, Bitcoin transactions, account coins and address histories in Esplora's terms, read from the store's
tables (chain/store/models.py) and the committed state.

- A *Bitcoin transaction* is a BVM raw transaction (0x30) that a block executed successfully, found by its
  txid (a `TxAlias`), or one waiting in the mempool. Its inputs' `prevout`s are the account coins it spent
  (the receipt records them: engines/bvm/engine.py `decode_output`); a pending one's are the coins its
  inputs name now.
- An address is a scriptPubKey; the identity the reverse index binds to it (SPEC §2) holds one coin.
- An identity's *coin history* is read from the transactions that wrote its balance (`TxParty`) and their
  state diffs: the coin a block leaves is the balance slot's value after the block's last change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, Sum
from django.db.models.functions import Length

from chain import coins
from chain.accounts import lookup
from chain.blocks import HEADER_LEN, Header
from chain.dispatcher import Receipt
from chain.hashing import ZERO32
from chain.ledger import BASE_PER_SAT, NATIVE_MINT, balance_slot
from chain.node import decode_diff
from chain.state import State
from chain.store import models as m
from chain.store.sql import HeadCachedEntries, no_genesis
from engines.bvm.coins import Coin, coin_by_txid, coin_of
from engines.bvm.engine import RAW_TX, decode_output, vsize
from engines.bvm.errors import TxError
from engines.bvm.tx import WITNESS_SCALE_FACTOR, TxOut, parse_tx
from engines.bvm.tx import Tx as BtcTx

from .codec import BlockRef, fee_of, stats_json, status_json, tx_json

PAGE = 500  # TxParty rows read at a time
HISTORY_LIMIT = 50_000  # an identity with more transactions is "too popular" to summarise (electrs's limit too)


class TooPopular(Exception):
    """electrs's refusal for an address whose history is too long to walk on request."""


def state() -> State:
    """The committed state at the head (reads remembered for the rest of the block: wallets poll)."""
    return State(HeadCachedEntries())


# -- blocks -----------------------------------------------------------------------------------------
def ref_of(header: Header) -> BlockRef:
    return BlockRef(header.height, header.hash, header.timestamp_ms)


def block_ref_at(height: int) -> BlockRef:
    row = m.Block.objects.filter(height=height).values_list("hash", "timestamp_ms").first()
    if row is None:
        raise no_genesis()
    return BlockRef(height, bytes(row[0]), int(row[1]))


@dataclass(frozen=True)
class BlockShape:
    """What Esplora counts in a block: its Bitcoin transactions, and the block's bytes and weight."""

    tx_count: int
    size: int
    weight: int


def block_shape(height: int) -> BlockShape:
    """`size` is the block as this chain stores it — the header and every envelope, of every VM; `weight`
    counts those bytes four times, but a Bitcoin transaction's witness once (BIP141), as in Bitcoin."""
    rows = m.Transaction.objects.filter(block_id=height)
    others = rows.exclude(opcode=RAW_TX).aggregate(n=Sum(Length("envelope")))["n"] or 0
    size, weight, count = HEADER_LEN + others, WITNESS_SCALE_FACTOR * (HEADER_LEN + others), 0
    for envelope, success in rows.filter(opcode=RAW_TX).values_list("envelope", "success").iterator(chunk_size=PAGE):
        raw = bytes(envelope)
        size += len(raw)
        weight += WITNESS_SCALE_FACTOR + parse_tx(raw[1:]).weight  # the opcode byte, then the transaction
        count += bool(success)
    return BlockShape(count, size, weight)


# -- Bitcoin transactions ---------------------------------------------------------------------------
@dataclass
class Shown:
    """A Bitcoin transaction with what Esplora shows of it. A committed one knows whose coins its inputs
    spent and whom its outputs paid (an OP_RETURN output pays the zero id)."""

    tx: BtcTx
    prevouts: list[TxOut | None]
    block: BlockRef | None = None
    position: int = -1
    envelope_id: bytes = b""
    spenders: list[bytes] = field(default_factory=list)
    payees: list[bytes] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return tx_json(self.tx, self.prevouts, self.block)

    @property
    def fee(self) -> int:
        return fee_of(self.tx, self.prevouts)


_COMMITTED = ("envelope_id", "envelope", "receipt", "block_id", "position", "block__hash", "block__timestamp_ms")


def _committed(row: tuple[Any, ...]) -> Shown:
    envelope_id, envelope, receipt, height, position, block_hash, timestamp_ms = row
    spent, paid = decode_output(Receipt.decode(bytes(receipt)).output)
    return Shown(
        parse_tx(bytes(envelope)[1:]),
        [TxOut(sats, script) for _, _, sats, script in spent],
        BlockRef(height, bytes(block_hash), int(timestamp_ms)),
        position,
        bytes(envelope_id),
        [who for who, _, _, _ in spent],
        paid,
    )


def _bitcoin_txs() -> Any:
    """The committed transactions Esplora shows: Bitcoin ones that ran (a refused one never happened)."""
    return m.Transaction.objects.filter(opcode=RAW_TX, success=True)


def committed_tx(txid: bytes) -> Shown | None:
    """By txid as Bitcoin shows it (a wtxid finds nothing, as in Esplora)."""
    row = _bitcoin_txs().filter(aliases__alias=txid).values_list(*_COMMITTED).first()
    if row is None:
        return None
    found = _committed(row)
    return found if found.tx.txid[::-1] == txid else None


def block_txs(height: int) -> list[Shown]:
    rows = _bitcoin_txs().filter(block_id=height).order_by("position").values_list(*_COMMITTED)
    return [_committed(r) for r in rows.iterator(chunk_size=PAGE)]


def block_txids(height: int) -> list[str]:
    return [t.tx.txid_hex for t in block_txs(height)]


def pending() -> list[BtcTx]:
    """The Bitcoin transactions in the mempool, oldest first."""
    out = []
    for envelope in m.MempoolEntry.objects.filter(opcode=RAW_TX).order_by("seq").values_list("envelope", flat=True):
        try:
            out.append(parse_tx(bytes(envelope)[1:]))
        except TxError:  # admitted, so it decodes; but never let one row break every answer
            continue
    return out


def pending_shown(tx: BtcTx, st: State) -> Shown:
    """A pending transaction's inputs spend the coins their outpoints name now (None: that coin moved on)."""
    prevouts: list[TxOut | None] = []
    for txin in tx.inputs:
        found = coin_by_txid(st, txin.prevout.txid) if txin.prevout.vout == 0 else None
        prevouts.append(None if found is None else TxOut(found.sats, found.script_pubkey))
    return Shown(tx, prevouts)


def find_tx(txid: bytes, st: State, pend: list[BtcTx] | None = None) -> Shown | None:
    found = committed_tx(txid)
    if found is not None:
        return found
    for tx in pending() if pend is None else pend:
        if tx.txid[::-1] == txid:
            return pending_shown(tx, st)
    return None


def pending_spender(outpoint_txid: bytes, pend: list[BtcTx]) -> tuple[BtcTx, int] | None:
    """The pending transaction (and its input) spending `(outpoint_txid, 0)`, internal byte order."""
    for tx in pend:
        for vin, txin in enumerate(tx.inputs):
            if txin.prevout.txid == outpoint_txid and txin.prevout.vout == 0:
                return tx, vin
    return None


# -- account coins ----------------------------------------------------------------------------------
def current_coin(txid: bytes, st: State) -> Coin | None:
    """The current coin of a Bitcoin wallet with this txid (as Bitcoin shows it): the coins a raw Bitcoin
    transaction can spend are indexed by txid; other identities' coins are not, and past coins are gone."""
    return coin_by_txid(st, txid[::-1])


def coin_block(c: Coin) -> BlockRef:
    """The block that made the coin: a Bitcoin wallet's coin index records it; for another identity it is
    the block of the last change of its balance (genesis if none was ever recorded)."""
    if c.born is not None:
        return block_ref_at(c.born[0])
    for change in _walk(c.id_com, newest_first=True):
        if change.moved:
            return block_ref_at(change.height)
    return block_ref_at(0)


# -- identities' histories ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PartyTx:
    """A transaction that wrote an identity's balances, allowances or keys (`TxParty`), with the change it
    made to its native balance slot (old and new value, or None)."""

    height: int
    position: int
    envelope_id: bytes
    opcode: int
    success: bool
    change: tuple[bytes | None, bytes | None] | None

    @property
    def moved(self) -> bool:
        """It made a new coin (changed the amount, and so the version)."""
        if self.change is None:
            return False
        return coins.split(self.change[0])[:2] != coins.split(self.change[1])[:2]

    @property
    def bitcoin(self) -> bool:
        return self.opcode == RAW_TX and self.success


def _walk(
    id_com: bytes, newest_first: bool, after_height: int | None = None, before: tuple[int, int] | None = None
) -> Iterator[PartyTx]:
    """The identity's transactions in block order (or newest first), a page of rows at a time."""
    slot = balance_slot(NATIVE_MINT, id_com)
    rows = m.TxParty.objects.filter(id_com=id_com)
    if after_height is not None:
        rows = rows.filter(height__gt=after_height)
    order = ("-height", "-position") if newest_first else ("height", "position")
    mark = before  # keyset paging: the rows past the last one read
    while True:
        page_rows = rows
        if mark is not None:
            h, p = mark
            if newest_first:
                page_rows = rows.filter(Q(height__lt=h) | Q(height=h, position__lt=p))
            else:
                page_rows = rows.filter(Q(height__gt=h) | Q(height=h, position__gt=p))
        listed = page_rows.order_by(*order).values_list("height", "position", "envelope_id")[:PAGE]
        page = [(int(h), int(p), bytes(e)) for h, p, e in listed]
        if not page:
            return
        found = {
            bytes(e): (op, ok, bytes(d))
            for e, op, ok, d in m.Transaction.objects.filter(envelope_id__in=[e for _, _, e in page]).values_list(
                "envelope_id", "opcode", "success", "diff"
            )
        }
        for height, position, envelope_id in page:
            if envelope_id not in found:
                continue
            opcode, success, diff = found[envelope_id]
            change = next(((old, new) for key, old, new in decode_diff(diff) if key == slot), None)
            yield PartyTx(height, position, envelope_id, opcode, success, change)
        mark = page[-1][:2]


def identity_of(script: bytes, st: State) -> bytes | None:
    """The identity an address's scriptPubKey is bound to (an address never seen has none, and no coin)."""
    return lookup(st, "btc", script)


def chain_history(id_com: bytes, limit: int, before: tuple[int, int] | None = None) -> list[Shown]:
    """The Bitcoin transactions that touched the identity, newest first, older than `before` (height,
    position) when given."""
    out: list[Shown] = []
    batch: list[bytes] = []

    def flush() -> None:
        rows = {bytes(r[0]): r for r in _bitcoin_txs().filter(envelope_id__in=batch).values_list(*_COMMITTED)}
        out.extend(_committed(rows[e]) for e in batch if e in rows)
        batch.clear()

    for t in _walk(id_com, newest_first=True, before=before):
        if t.bitcoin:
            batch.append(t.envelope_id)
            if len(out) + len(batch) >= limit:
                break
            if len(batch) >= PAGE:
                flush()
    flush()
    return out[:limit]


def position_in_history(id_com: bytes, txid: bytes) -> tuple[int, int] | None:
    """Where a Bitcoin transaction of this identity's history stands (None: not one of them)."""
    found = committed_tx(txid)
    if found is None or found.block is None:
        return None
    if not m.TxParty.objects.filter(id_com=id_com, envelope_id=found.envelope_id).exists():
        return None
    return found.block.height, found.position


def _sats(raw: bytes | None) -> int:
    return coins.split(raw)[0] // BASE_PER_SAT


def chain_stats(id_com: bytes | None, st: State) -> dict[str, int]:
    """Every coin the identity has had is a funded output, every coin it no longer has a spent one — so
    funded minus spent is its coin now. A block that changed its balance ended one coin and made the next;
    `tx_count` counts the Bitcoin transactions that touched it (what `/txs` lists)."""
    if id_com is None:
        return stats_json((0, 0), (0, 0), 0)
    if m.TxParty.objects.filter(id_com=id_com).count() > HISTORY_LIMIT:
        raise TooPopular
    values: list[bytes | None] = []  # the balance slot's value at each block boundary
    block, start, end, count = -1, None, None, 0
    for t in _walk(id_com, newest_first=False):
        count += t.bitcoin
        if not t.moved or t.change is None:
            continue
        if t.height != block:
            if block >= 0:
                values += [start, end]
            block, start = t.height, t.change[0]
        end = t.change[1]
    if block >= 0:
        values += [start, end]
    values.append(st.get(balance_slot(NATIVE_MINT, id_com)))
    coins_seen = [v for i, v in enumerate(values) if i == 0 or coins.split(v)[:2] != coins.split(values[i - 1])[:2]]
    funded = [s for s in map(_sats, coins_seen) if s]
    spent = [s for s in map(_sats, coins_seen[:-1]) if s]
    return stats_json((len(funded), sum(funded)), (len(spent), sum(spent)), count)


def mempool_touching(script: bytes, c: Coin | None, pend: list[BtcTx]) -> list[BtcTx]:
    """The pending transactions that pay the address or spend its coin, oldest first."""
    return [
        tx
        for tx in pend
        if any(o.script_pubkey == script for o in tx.outputs)
        or (c is not None and any(i.prevout.txid == c.txid and i.prevout.vout == 0 for i in tx.inputs))
    ]


def mempool_stats(script: bytes, c: Coin | None, pend: list[BtcTx]) -> dict[str, int]:
    """What the pending transactions will do to the address: outputs paying it, its coin they spend."""
    touching = mempool_touching(script, c, pend)
    paid = [o.value for tx in touching for o in tx.outputs if o.script_pubkey == script]
    spent = [] if c is None or pending_spender(c.txid, touching) is None else [c.sats]
    return stats_json((len(paid), sum(paid)), (len(spent), sum(spent)), len(touching))


def address_coin(script: bytes, st: State) -> Coin | None:
    """The coin locked by this scriptPubKey now (None: no identity, or less than one sat)."""
    who = identity_of(script, st)
    found = None if who is None else coin_of(st, who)
    return found if found is not None and found.script_pubkey == script else None


# -- where outputs went -------------------------------------------------------------------------------
def coin_spend(id_com: bytes, after_height: int, st: State, pend: list[BtcTx]) -> dict[str, Any]:
    """What became of the coin the identity held at the end of block `after_height` (rpc/btc/__init__.py):
    spent by the first later change of its balance — with the spending input when a Bitcoin transaction
    spent it — or by a pending transaction; else unspent."""
    for t in _walk(id_com, newest_first=False, after_height=after_height):
        if not t.moved:
            continue
        if t.bitcoin:
            row = _bitcoin_txs().filter(envelope_id=t.envelope_id).values_list(*_COMMITTED).first()
            spender = None if row is None else _committed(row)
            if spender is not None and id_com in spender.spenders:
                return spend_json(spender.tx, spender.spenders.index(id_com), spender.block)
        return {"spent": True}
    c = coin_of(st, id_com)
    found = None if c is None else pending_spender(c.txid, pend)
    return {"spent": False} if found is None else spend_json(found[0], found[1], None)


def spend_json(tx: BtcTx, vin: int, block: BlockRef | None) -> dict[str, Any]:
    return {"spent": True, "txid": tx.txid_hex, "vin": vin, "status": status_json(block)}


def outspends(shown: Shown, st: State, pend: list[BtcTx]) -> list[dict[str, Any]]:
    """Each output of a committed transaction went into its payee's coin: spent when that coin is. A pending
    transaction's outputs are in no coin yet (unspent); an OP_RETURN output never is spent."""
    if shown.block is None:
        return [{"spent": False} for _ in shown.tx.outputs]
    seen: dict[bytes, dict[str, Any]] = {}
    out = []
    for who in shown.payees:
        if who == ZERO32:
            out.append({"spent": False})
            continue
        if who not in seen:
            seen[who] = coin_spend(who, shown.block.height, st, pend)
        out.append(seen[who])
    return out


# -- the mempool --------------------------------------------------------------------------------------
VSIZE_BIN_WIDTH = 50_000  # electrs's fee histogram bins, in vbytes


@dataclass(frozen=True)
class FeeInfo:
    txid: str
    fee: int
    vsize: int
    value: int

    @property
    def rate(self) -> float:
        return self.fee / self.vsize


def fee_infos(pend: list[BtcTx], st: State) -> list[FeeInfo]:
    return [FeeInfo(tx.txid_hex, pending_shown(tx, st).fee, vsize(tx), sum(o.value for o in tx.outputs)) for tx in pend]


def fee_histogram(infos: list[FeeInfo]) -> list[list[float]]:
    """electrs's `make_fee_histogram`: from the highest fee rate down, a bin every VSIZE_BIN_WIDTH vbytes,
    each (lowest rate in it, its vbytes)."""
    out: list[list[float]] = []
    size, last = 0, 0.0
    for info in sorted(infos, key=lambda i: i.rate, reverse=True):
        if size > VSIZE_BIN_WIDTH and last != info.rate:
            out.append([last, size])
            size = 0
        last = info.rate
        size += info.vsize
    if size:
        out.append([last, size])
    return out
