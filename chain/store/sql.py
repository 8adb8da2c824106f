"""`SqlStore`: the chain.node.Store protocol over Django's database connection."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db import IntegrityError, transaction

from chain.blocks import Header
from chain.dispatcher import Tx
from chain.errors import AdmissionError
from chain.node import Block, Loaded, encode_diff

from . import models as m

BATCH = 5000


def _b(v: object) -> bytes:
    return bytes(v)  # type: ignore[call-overload]  # memoryview on some backends


class SqlEntries(Mapping[bytes, bytes]):
    """The committed state read straight from SQL, for processes that do not hold it in memory
    (admission in the web server). Reads one key at a time; it is never iterated in bulk."""

    def __getitem__(self, key: bytes) -> bytes:
        row = m.StateEntry.objects.filter(key=key).values_list("value", flat=True).first()
        if row is None:
            raise KeyError(key)
        return _b(row)

    def __iter__(self) -> Iterator[bytes]:
        return (_b(k) for k in m.StateEntry.objects.values_list("key", flat=True).iterator())

    def __len__(self) -> int:
        return m.StateEntry.objects.count()


def nodes_on_path(key: bytes) -> dict[str, bytes]:
    """Every stored tree node on the way to `key`, in one query (one consistent snapshot)."""
    h = key.hex()
    rows = m.TreeNode.objects.filter(path__in=[h[:i] for i in range(65)]).values_list("path", "blob")
    return {p: _b(b) for p, b in rows}


def head() -> Header | None:
    row = m.Block.objects.order_by("-height").values_list("header", flat=True).first()
    return None if row is None else Header.decode(_b(row))


class SqlStore:
    def load(self) -> Loaded:
        with transaction.atomic():
            entries = {_b(k): _b(v) for k, v in m.StateEntry.objects.values_list("key", "value").iterator(BATCH)}
            nodes = {p: _b(b) for p, b in m.TreeNode.objects.values_list("path", "blob").iterator(BATCH)}
            return Loaded(entries, nodes, head())

    def pending(self, limit: int) -> list[tuple[int, bytes]]:
        rows = list(m.MempoolEntry.objects.order_by("seq").values_list("seq", "envelope_id", "envelope")[:limit])
        if not rows:
            return []
        # An envelope admitted again while its first copy was being committed is already in a
        # block: drop it here instead of executing it twice.
        ids = [_b(eid) for _, eid, _ in rows]
        included = {_b(e) for e in m.Transaction.objects.filter(envelope_id__in=ids).values_list("envelope_id", flat=True)}
        if included:
            m.MempoolEntry.objects.filter(envelope_id__in=list(included)).delete()
        return [(seq, _b(env)) for seq, eid, env in rows if _b(eid) not in included]

    def add_pending(self, tx: Tx) -> None:
        eid = tx.envelope_id
        try:
            with transaction.atomic():
                if m.Transaction.objects.filter(envelope_id=eid).exists():
                    raise AdmissionError("this transaction is already in a block", "already_known")
                m.MempoolEntry.objects.create(envelope_id=eid, opcode=tx.opcode, envelope=tx.envelope)
        except IntegrityError:
            raise AdmissionError("this transaction is already in the mempool", "already_known") from None

    def commit_block(self, block: Block) -> None:
        h = block.header
        with transaction.atomic():
            brow = m.Block.objects.create(
                height=h.height,
                hash=h.hash,
                header=h.encode(),
                timestamp_ms=h.timestamp_ms,
                state_root=h.state_root,
                tx_count=len(block.txs),
            )
            txs = [
                m.Transaction(
                    block=brow,
                    position=i,
                    envelope_id=e.tx.envelope_id,
                    opcode=e.tx.envelope[0] if e.tx.envelope else 0,
                    envelope=e.tx.envelope,
                    success=e.receipt.success,
                    receipt=e.receipt.encode(),
                    diff=encode_diff(e.diff),
                )
                for i, e in enumerate(block.txs)
            ]
            created = m.Transaction.objects.bulk_create(txs, batch_size=BATCH)
            aliases = []
            for row, e in zip(created, block.txs, strict=True):
                aliases.append(m.TxAlias(alias=row.envelope_id, tx_id=row.id))
                aliases += [m.TxAlias(alias=a, tx_id=row.id) for a in e.tx.ids if a != row.envelope_id]
            m.TxAlias.objects.bulk_create(aliases, batch_size=BATCH)
            _write(m.StateEntry, "key", "value", block.state_diff)
            _write(m.TreeNode, "path", "blob", block.node_writes)
            if block.index_records:
                m.AddressIndex.objects.bulk_create(
                    [m.AddressIndex(tag=t, address=a, id_com=i, height=h.height) for t, a, i in block.index_records],
                    batch_size=BATCH,
                    update_conflicts=True,
                    unique_fields=["tag", "address"],
                    update_fields=["id_com", "height"],
                )
            if block.mempool_seqs:
                for i in range(0, len(block.mempool_seqs), BATCH):
                    m.MempoolEntry.objects.filter(seq__in=block.mempool_seqs[i : i + BATCH]).delete()


def _write(
    model: type, key_field: str, value_field: str, changes: Mapping[bytes, bytes | None] | Mapping[str, bytes | None]
) -> None:
    gone = [k for k, v in changes.items() if v is None]
    for i in range(0, len(gone), BATCH):
        model.objects.filter(**{f"{key_field}__in": gone[i : i + BATCH]}).delete()  # type: ignore[attr-defined]
    rows = [model(**{key_field: k, value_field: v}) for k, v in changes.items() if v is not None]
    model.objects.bulk_create(  # type: ignore[attr-defined]
        rows, batch_size=BATCH, update_conflicts=True, unique_fields=[key_field], update_fields=[value_field]
    )


def genesis_root() -> bytes:
    row = m.Block.objects.filter(height=0).values_list("state_root", flat=True).first()
    if row is None:
        raise LookupError("no genesis block")
    return _b(row)
