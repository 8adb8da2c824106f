"""`SqlStore`: the chain.node.Store protocol over Django's database connection."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from django.db import IntegrityError, connection, transaction

from chain import statefile
from chain.blocks import Header
from chain.dispatcher import Recent, Tx
from chain.errors import AdmissionError, ChainError, mempool_conflict
from chain.genesis import CHAIN_ID_KEY
from chain.hashing import H
from chain.node import RECENT_BLOCKS, Block, Loaded, StaleHead, chain_id_of, decode_diff, encode_diff

from . import models as m

BATCH = 5000
PAGE_TXS = 20_000  # transactions a dump reads at a time, about
Row = tuple[Any, ...]


def _b(v: object) -> bytes:
    return bytes(v)  # type: ignore[call-overload]  # memoryview on some backends


STATE_TABLE = m.StateEntry._meta.db_table


class SqlEntries(Mapping[bytes, bytes]):
    """The committed state read straight from SQL, for processes that do not hold it in memory
    (admission in the web server). Reads one key at a time; it is never iterated in bulk."""

    def __getitem__(self, key: bytes) -> bytes:
        # One indexed look-up without the ORM's query building, prepared once per connection on
        # PostgreSQL (RPC reads make several a request).
        row = _fetch_one(f"SELECT value FROM {STATE_TABLE} WHERE key = %s", [key])
        if row is None:
            raise KeyError(key)
        return _b(row[0])

    def __iter__(self) -> Iterator[bytes]:
        return (_b(k) for k in m.StateEntry.objects.values_list("key", flat=True).iterator())

    def __len__(self) -> int:
        return m.StateEntry.objects.count()


class HeadCachedEntries(SqlEntries):
    """Committed state reads remembered by this process for as long as the head block is the same one
    (the committed state changes only with a block): read-only RPCs that poll the same accounts ask
    SQL once a block. The head is read when the mapping is made; a block committed after that is
    seen by the next one."""

    LIMIT = 200_000  # entries remembered per head, at most
    _head: bytes | None = None
    _memo: dict[bytes, bytes | None] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        head = head_hash()
        cls = type(self)
        with cls._lock:
            if cls._head != head or len(cls._memo) > cls.LIMIT:
                cls._head, cls._memo = head, {}
            self._seen = cls._memo

    def __getitem__(self, key: bytes) -> bytes:
        value = self._seen.get(key, _UNSEEN)
        if value is _UNSEEN:
            try:
                value = super().__getitem__(key)
            except KeyError:
                value = None
            self._seen[key] = value  # type: ignore[assignment]
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[return-value]


_UNSEEN = object()


def nodes_on_path(key: bytes) -> dict[str, bytes]:
    """Every stored tree node on the way to `key`, in one query (one consistent snapshot)."""
    h = key.hex()
    rows = m.TreeNode.objects.filter(path__in=[h[:i] for i in range(65)]).values_list("path", "blob")
    return {p: _b(b) for p, b in rows}


def _fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    if connection.vendor == "postgresql":
        with _bound_cursor() as cur:
            cur.execute(sql, params, prepare=True, binary=True)
            return cur.fetchone()  # type: ignore[no-any-return]
    with connection.cursor() as c:
        c.execute(sql, params)
        return c.fetchone()  # type: ignore[no-any-return]


def head_hash() -> bytes | None:
    """The head block's hash alone (one prepared look-up: the explorer asks it on every page)."""
    row = _fetch_one(f"SELECT hash FROM {m.Block._meta.db_table} ORDER BY height DESC LIMIT 1", [])
    return None if row is None else _b(row[0])


def recent_hashes(n: int = RECENT_BLOCKS) -> Recent:
    """The latest `n` block hashes, newest first, with the head's height and time (chain.dispatcher.Recent)."""
    rows = list(m.Block.objects.order_by("-height").values_list("hash", "height", "timestamp_ms")[:n])
    return Recent([_b(h) for h, _, _ in rows], rows[0][1] if rows else -1, rows[0][2] if rows else 0)


def head() -> Header | None:
    row = m.Block.objects.order_by("-height").values_list("header", flat=True).first()
    return None if row is None else Header.decode(_b(row))


def no_genesis() -> ChainError:
    return ChainError("no genesis block: run `python manage.py nvm genesis` first", "no_genesis")


def require_head() -> Header:
    """The head block's header; ChainError `no_genesis` before block 0 (every node API answers that)."""
    found = head()
    if found is None:
        raise no_genesis()
    return found


def header_at(height: int) -> Header | None:
    row = m.Block.objects.filter(height=height).values_list("header", flat=True).first()
    return None if row is None else Header.decode(_b(row))


def header_by_hash(block_hash: bytes) -> Header | None:
    row = m.Block.objects.filter(hash=block_hash).values_list("header", flat=True).first()
    return None if row is None else Header.decode(_b(row))


class SqlStore:
    def load(self) -> Loaded:
        with transaction.atomic():
            entries = {_b(k): _b(v) for k, v in m.StateEntry.objects.values_list("key", "value").iterator(BATCH)}
            nodes = {p: _b(b) for p, b in m.TreeNode.objects.values_list("path", "blob").iterator(BATCH)}
            recent = list(recent_hashes())
            return Loaded(entries, nodes, head(), recent)

    def pending(self, limit: int) -> list[tuple[int, bytes]]:
        with connection.cursor() as c:  # raw: the ORM's per-row work would cost more than the query
            if connection.vendor == "postgresql":
                with _bound_cursor() as b:  # binary results: no hex decoding of envelopes
                    b.execute("SELECT seq, envelope_id, envelope FROM nvm_mempool ORDER BY seq LIMIT %s", [limit], binary=True)
                    rows = b.fetchall()
            else:
                c.execute("SELECT seq, envelope_id, envelope FROM nvm_mempool ORDER BY seq LIMIT %s", [limit])
                rows = c.fetchall()
        if not rows:
            return []
        # An envelope admitted again while its first copy was being committed is already in a
        # block: drop it here instead of executing it twice.
        included = _included([_b(eid) for _, eid, _ in rows])
        if included:
            m.MempoolEntry.objects.filter(envelope_id__in=list(included)).delete()
            m.MempoolClaim.objects.filter(envelope_id__in=list(included)).delete()
        return [(seq, _b(env)) for seq, eid, env in rows if _b(eid) not in included]

    def add_pending(self, txs: list[Tx]) -> None:
        """Persist admitted transactions in the mempool, all or none; a duplicate refuses the batch."""
        rows = [(tx.envelope_id, tx.opcode, tx.envelope) for tx in txs]
        ids = [r[0] for r in rows]
        if len(set(ids)) != len(ids):
            raise AdmissionError("the same transaction twice in one batch", "already_known")
        claims = [m.MempoolClaim(claim=c, envelope_id=tx.envelope_id) for tx in txs for c in tx.claims]
        try:
            with transaction.atomic():
                if _included(ids):
                    raise AdmissionError("this transaction is already in a block", "already_known")
                if claims:
                    keys = [c.claim for c in claims]
                    held = m.MempoolClaim.objects.filter(claim__in=keys).exclude(envelope_id__in=ids).exists()
                    if held or len(set(keys)) != len(keys):
                        raise mempool_conflict()
                    if m.MempoolEntry.objects.filter(envelope_id__in=ids).exists():
                        raise AdmissionError("this transaction is already in the mempool", "already_known")
                    m.MempoolClaim.objects.bulk_create(claims)
                if connection.vendor == "postgresql":
                    now = _now()
                    with connection.cursor() as wrapper, connection.wrap_database_errors:
                        _copy(
                            wrapper.cursor,
                            "nvm_mempool (envelope_id, opcode, envelope, admitted_at)",
                            ["bytea", "int2", "bytea", "timestamptz"],
                            [(*r, now) for r in rows],
                        )
                else:
                    m.MempoolEntry.objects.bulk_create(
                        [m.MempoolEntry(envelope_id=e, opcode=o, envelope=v) for e, o, v in rows], batch_size=BATCH
                    )
        except IntegrityError:
            raise AdmissionError("this transaction is already in the mempool", "already_known") from None

    def commit_block(self, block: Block) -> None:
        """Write the whole block in one database transaction (COPY on PostgreSQL, bulk ORM elsewhere), on top of
        the stored head only (StaleHead otherwise: the chain was replaced under this node, which must reload)."""
        h = block.header
        with transaction.atomic():
            if h.height > 0:
                parent = m.Block.objects.select_for_update().filter(height=h.height - 1).values_list("hash", flat=True)
                if _b(parent.first() or b"") != h.parent_hash:
                    raise StaleHead(f"block {h.height} does not go on the stored head: the store was replaced")
            _write_rows(rows_of(block))


@dataclass
class Rows:
    """What one database transaction writes: table rows in COPY's column order, state and tree-node changes (None
    deletes), the mempool rows it empties."""

    blocks: list[Row] = field(default_factory=list)  # (height, hash, header, timestamp_ms, state_root, tx_count, schedule)
    txs: list[Row] = field(default_factory=list)  # tx_row()
    aliases: list[Row] = field(default_factory=list)  # (alias, envelope_id)
    index: list[Row] = field(default_factory=list)  # (tag, address, id_com, height)
    mints: list[Row] = field(default_factory=list)  # (mint, height)
    parties: list[Row] = field(default_factory=list)  # (id_com, height, position, envelope_id)
    state: Mapping[bytes, bytes | None] = field(default_factory=dict)
    nodes: Mapping[str, bytes | None] = field(default_factory=dict)
    mempool_seqs: list[int] = field(default_factory=list)
    claimed: list[bytes] = field(default_factory=list)  # envelope ids whose mempool claims go

    def add_block(self, header: Header, schedule: dict[str, Any] | None, txs: list[Row]) -> None:
        sched = None if schedule is None else json.dumps(schedule, separators=(",", ":"))
        h = header
        self.blocks.append((h.height, h.hash, h.encode(), h.timestamp_ms, h.state_root, len(txs), sched))
        self.txs += txs


def tx_row(
    height: int,
    position: int,
    envelope: bytes,
    context: bytes | None,
    success: bool,
    receipt: bytes,
    diff: bytes,
    exec_us: int | None,
    envelope_id: bytes | None = None,
    seq: int | None = None,
) -> Row:
    """A transaction's row (nvm_tx's columns); `envelope_id` when it is known already (it is H(envelope)), `seq` its
    mempool entry's when it came from this node's mempool."""
    opcode = envelope[0] if envelope else 0
    return (envelope_id or H(envelope), height, position, opcode, envelope, context, success, receipt, diff, exec_us, seq)


def rows_of(block: Block) -> Rows:
    h = block.header
    rows = Rows(state=block.state_diff, nodes=block.node_writes, mempool_seqs=block.mempool_seqs)
    # each transaction's mempool entry (a block made from the mempool lists one per transaction, in order)
    seqs: list[int | None] = list(block.mempool_seqs) or [None] * len(block.txs)
    txs = [
        tx_row(
            h.height,
            i,
            e.tx.envelope,
            e.tx.context,
            e.receipt.success,
            e.receipt_bytes,
            encode_diff(e.diff),
            None if e.exec_ns is None else min(e.exec_ns // 1000, 2**31 - 1),
            e.tx.envelope_id,
            seq,
        )
        for i, (e, seq) in enumerate(zip(block.txs, seqs, strict=True))
    ]
    rows.add_block(h, block.schedule, txs)
    rows.aliases = [(a, e.tx.envelope_id) for e in block.txs for a in e.tx.ids if a != e.tx.envelope_id]
    rows.index = [(n[1], n[2], n[3], h.height) for n in block.notes if n[0] == "address"]
    rows.mints = [(n[1], h.height) for n in block.notes if n[0] == "mint"]
    rows.parties = [(p, h.height, i, e.tx.envelope_id) for i, e in enumerate(block.txs) for p in e.parties]
    rows.claimed = [e.tx.envelope_id for e in block.txs if e.tx.claims]
    return rows


def _write_rows(rows: Rows) -> None:
    """Inside the caller's database transaction."""
    if connection.vendor == "postgresql":
        _commit_pg(rows)
    else:
        _commit_orm(rows)


def _commit_pg(rows: Rows) -> None:
    # Django's cursor wraps a psycopg 3 cursor, whose binary COPY moves rows without per-row SQL.
    with connection.cursor() as wrapper, connection.wrap_database_errors:
        cur = wrapper.cursor
        _copy(
            cur,
            "nvm_block (height, hash, header, timestamp_ms, state_root, tx_count, schedule)",
            ["int8", "bytea", "bytea", "int8", "bytea", "int4", "text"],
            rows.blocks,
        )
        _copy(
            cur,
            "nvm_tx (envelope_id, height, position, opcode, envelope, context, success, receipt, diff, exec_us, seq)",
            ["bytea", "int8", "int4", "int2", "bytea", "bytea", "bool", "bytea", "bytea", "int4", "int8"],
            rows.txs,
        )
        _copy(cur, "nvm_tx_alias (alias, envelope_id)", ["bytea", "bytea"], rows.aliases)
        _copy(cur, "nvm_mint (mint, height)", ["bytea", "int8"], rows.mints)
        _copy(cur, "nvm_tx_party (id_com, height, position, envelope_id)", ["bytea", "int8", "int4", "bytea"], rows.parties)
        _upsert_pg(cur, "nvm_state", "key", "value", "bytea", rows.state)
        _upsert_pg(cur, "nvm_tree_node", "path", "blob", "text", rows.nodes)
        if rows.index:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS nvm_tmp_index "
                "(tag text, address bytea, id_com bytea, height int8) ON COMMIT DROP"
            )
            _copy(cur, "nvm_tmp_index (tag, address, id_com, height)", ["text", "bytea", "bytea", "int8"], rows.index)
            cur.execute(
                "INSERT INTO nvm_address_index (tag, address, id_com, height) "
                "SELECT tag, address, id_com, height FROM nvm_tmp_index "
                "ON CONFLICT (tag, address) DO UPDATE SET id_com = EXCLUDED.id_com, height = EXCLUDED.height"
            )
        if rows.mempool_seqs:
            cur.execute("DELETE FROM nvm_mempool WHERE seq = ANY(%s)", [rows.mempool_seqs])
        if rows.claimed:
            cur.execute("DELETE FROM nvm_mempool_claim WHERE envelope_id = ANY(%s)", [rows.claimed])


def _copy(cur: Any, target: str, types: list[str], rows: list[Row]) -> None:
    if not rows:
        return
    if not getattr(cur, "_nvm_bytea", False):
        # bytea by psycopg's C dumper: the default one for the type (DB-API's Binary) is Python, per value
        from psycopg.types.string import BytesBinaryDumper

        cur.adapters.register_dumper(None, BytesBinaryDumper)
        cur._nvm_bytea = True
    with cur.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(types)
        for row in rows:
            cp.write_row(row)


def _upsert_pg(cur: Any, table: str, key: str, value: str, key_type: str, changes: Mapping[Any, bytes | None]) -> None:
    gone = [k for k, v in changes.items() if v is None]
    if gone:
        cur.execute(f"DELETE FROM {table} WHERE {key} = ANY(%s)", [gone])
    rows = [(k, v) for k, v in changes.items() if v is not None]
    if rows:
        tmp = f"nvm_tmp_{table}"
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} ({key} {key_type}, {value} bytea) ON COMMIT DROP")
        _copy(cur, f"{tmp} ({key}, {value})", [key_type, "bytea"], rows)
        cur.execute(
            f"INSERT INTO {table} ({key}, {value}) SELECT {key}, {value} FROM {tmp} "
            f"ON CONFLICT ({key}) DO UPDATE SET {value} = EXCLUDED.{value}"
        )


def _commit_orm(rows: Rows) -> None:
    block_fields = ("height", "hash", "header", "timestamp_ms", "state_root", "tx_count", "schedule")
    m.Block.objects.bulk_create([m.Block(**dict(zip(block_fields, r, strict=True))) for r in rows.blocks], batch_size=BATCH)
    tx_fields = (
        "envelope_id",
        "block_id",
        "position",
        "opcode",
        "envelope",
        "context",
        "success",
        "receipt",
        "diff",
        "exec_us",
        "seq",
    )
    m.Transaction.objects.bulk_create([m.Transaction(**dict(zip(tx_fields, r, strict=True))) for r in rows.txs], batch_size=BATCH)
    m.TxAlias.objects.bulk_create([m.TxAlias(alias=a, tx_id=t) for a, t in rows.aliases], batch_size=BATCH)
    m.MintIndex.objects.bulk_create([m.MintIndex(mint=k, height=h) for k, h in rows.mints], batch_size=BATCH)
    m.TxParty.objects.bulk_create(
        [m.TxParty(id_com=p, height=h, position=i, envelope_id=e) for p, h, i, e in rows.parties], batch_size=BATCH
    )
    _write(m.StateEntry, "key", "value", rows.state)
    _write(m.TreeNode, "path", "blob", rows.nodes)
    if rows.index:
        m.AddressIndex.objects.bulk_create(
            [m.AddressIndex(tag=t, address=a, id_com=i, height=h) for t, a, i, h in rows.index],
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["tag", "address"],
            update_fields=["id_com", "height"],
        )
    for i in range(0, len(rows.mempool_seqs), BATCH):
        m.MempoolEntry.objects.filter(seq__in=rows.mempool_seqs[i : i + BATCH]).delete()
    m.MempoolClaim.objects.filter(envelope_id__in=rows.claimed).delete()


def _write(model: type, key_field: str, value_field: str, changes: Mapping[Any, bytes | None]) -> None:
    gone = [k for k, v in changes.items() if v is None]
    for i in range(0, len(gone), BATCH):
        model.objects.filter(**{f"{key_field}__in": gone[i : i + BATCH]}).delete()  # type: ignore[attr-defined]
    rows = [model(**{key_field: k, value_field: v}) for k, v in changes.items() if v is not None]
    model.objects.bulk_create(  # type: ignore[attr-defined]
        rows, batch_size=BATCH, update_conflicts=True, unique_fields=[key_field], update_fields=[value_field]
    )


def _included(ids: list[bytes]) -> set[bytes]:
    """Which of these envelope ids are already in a block."""
    if connection.vendor == "postgresql":
        # one array parameter instead of thousands of IN placeholders, sent in binary (%b: 3x faster
        # than the text form for 20,000 ids)
        with _bound_cursor() as c:
            c.execute("SELECT envelope_id FROM nvm_tx WHERE envelope_id = ANY(%b)", [ids], binary=True)
            return {_b(r[0]) for r in c.fetchall()}
    found: set[bytes] = set()
    for i in range(0, len(ids), 500):
        found.update(
            _b(e) for e in m.Transaction.objects.filter(envelope_id__in=ids[i : i + 500]).values_list("envelope_id", flat=True)
        )
    return found


@contextmanager
def _bound_cursor() -> Iterator[Any]:
    """A psycopg 3 cursor with server-side binding on Django's connection (Django's own is a client-side
    cursor, which can send and receive only text): binary parameters and results, same transaction."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        yield cur


@contextmanager
def consistent_reads() -> Iterator[None]:
    """On PostgreSQL, every read inside from one snapshot, so a block committed meanwhile cannot tear
    the state a call sees. (SQLite's writer lock would stall the block producer: there each read sees
    the latest commit.)"""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as c:
            c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _now() -> datetime:
    return datetime.now(UTC)


def genesis_root() -> bytes:
    row = m.Block.objects.filter(height=0).values_list("state_root", flat=True).first()
    if row is None:
        raise LookupError("no genesis block")
    return _b(row)


def revert_to(height: int, mempool: list[tuple[bytes, int, bytes, list[bytes]]]) -> bytes:
    """The whole chain back to block `height` in one database transaction (devnet snapshots): every later
    transaction's diff undone on the state, later blocks, transactions, aliases, parties, address and mint index
    rows gone, the state tree rebuilt (and checked against that block's root), the mempool as given. Returns the
    block's hash. The producer reloads from the store after it."""
    from chain.tree import StateTree

    with transaction.atomic():
        block = m.Block.objects.filter(height=height).values_list("hash", "state_root").first()
        if block is None:
            raise ChainError(f"no block {height} to revert to", "no_such_block")
        undo: dict[bytes, bytes | None] = {}
        later = m.Transaction.objects.filter(block_id__gt=height).order_by("-block_id", "-position")
        for diff in later.values_list("diff", flat=True).iterator(BATCH):
            for key, old, _new in decode_diff(_b(diff)):
                undo[key] = old  # walking back, the earliest transaction's "before" is written last
        _write(m.StateEntry, "key", "value", undo)
        m.TxParty.objects.filter(height__gt=height).delete()
        m.AddressIndex.objects.filter(height__gt=height).delete()
        m.MintIndex.objects.filter(height__gt=height).delete()
        later.delete()  # aliases go with their transactions
        m.Block.objects.filter(height__gt=height).delete()
        tree = StateTree({})
        tree.update({_b(k): _b(v) for k, v in m.StateEntry.objects.values_list("key", "value").iterator(BATCH)})
        if tree.root != _b(block[1]):
            raise ChainError("the reverted state does not give the block's state root", "corrupt_store")
        _delete_all(m.TreeNode, m.MempoolClaim, m.MempoolEntry)
        _write_rows(Rows(nodes=tree.nodes))
        m.MempoolEntry.objects.bulk_create([m.MempoolEntry(envelope_id=e, opcode=o, envelope=v) for e, o, v, _ in mempool])
        m.MempoolClaim.objects.bulk_create([m.MempoolClaim(claim=c, envelope_id=e) for e, _, _, cs in mempool for c in cs])
        return _b(block[0])


def _delete_all(*tables: type[Any]) -> None:
    """Every row of these tables, in one statement each (the ORM's delete() would read them first)."""
    with connection.cursor() as c:
        for model in tables:
            c.execute(f"DELETE FROM {model._meta.db_table}")


# -- the state file (chain/statefile.py): `nvm state dump` / `nvm state load` ----------------------------
def dump_state(out: IO[bytes], recent: int | None = None) -> tuple[Header, statefile.Counts]:
    """The store as a state file, from one consistent read: the state, its mirrors, and every stored block with
    its transactions — or the last `recent` blocks only (at least RECENT_BLOCKS, what a VM may look back on).
    The mempool is not in it."""
    if recent is not None and recent < RECENT_BLOCKS:
        raise ChainError(f"a state file keeps at least the last {RECENT_BLOCKS} blocks", "bad_count")
    with _one_snapshot():
        top = require_head()
        first = m.Block.objects.order_by("height").values_list("height", flat=True).first() or 0
        if recent is not None:
            first = max(first, top.height - recent + 1)
        genesis = m.Block.objects.filter(height=0).values_list("hash", flat=True).first()
        counts = statefile.Counts(
            entries=m.StateEntry.objects.count(),
            addresses=m.AddressIndex.objects.count(),
            mints=m.MintIndex.objects.count(),
            blocks=top.height - first + 1,
            txs=m.Transaction.objects.filter(block_id__gte=first).count(),
        )
        entries = ((_b(k), _b(v)) for k, v in m.StateEntry.objects.order_by("key").values_list("key", "value").iterator(BATCH))
        addresses = sorted(
            (t, _b(a), _b(i), h) for t, a, i, h in m.AddressIndex.objects.values_list("tag", "address", "id_com", "height")
        )
        mints = sorted((_b(k), h) for k, h in m.MintIndex.objects.values_list("mint", "height"))
        statefile.write(
            out,
            chain_id_of(SqlEntries()),
            None if genesis is None else _b(genesis),
            top,
            counts,
            entries,
            addresses,
            mints,
            _stored_blocks(first, top.height),
        )
    return top, counts


def _stored_blocks(first: int, last: int) -> Iterator[statefile.FileBlock]:
    """Blocks `first`..`last` with their transactions, read a run of blocks at a time (about PAGE_TXS transactions
    a run)."""
    low = first
    while low <= last:
        runs = m.Block.objects.filter(height__gte=low, height__lte=last).order_by("height")
        run = list(runs.values_list("height", "header", "schedule", "tx_count")[:1000])
        total = 0
        for i, (_, _, _, count) in enumerate(run):
            total += count
            if total >= PAGE_TXS:
                run = run[: i + 1]
                break
        high = run[-1][0]
        txs: dict[int, list[tuple[Any, ...]]] = {}
        for row in (
            m.Transaction.objects.filter(block_id__gte=low, block_id__lte=high)
            .order_by("block_id", "position")
            .values_list("block_id", "envelope_id", "envelope", "context", "success", "receipt", "diff", "exec_us")
            .iterator(BATCH)
        ):
            txs.setdefault(row[0], []).append(row[1:])
        aliases: dict[bytes, list[bytes]] = {}
        for eid, alias in m.TxAlias.objects.filter(tx__block_id__gte=low, tx__block_id__lte=high).values_list("tx_id", "alias"):
            aliases.setdefault(_b(eid), []).append(_b(alias))
        parties: dict[bytes, list[bytes]] = {}
        in_run = m.TxParty.objects.filter(height__gte=low, height__lte=high).order_by("id")
        for eid, party in in_run.values_list("envelope_id", "id_com"):
            parties.setdefault(_b(eid), []).append(_b(party))
        for height, header, schedule, _ in run:
            yield statefile.FileBlock(
                Header.decode(_b(header)),
                None if schedule is None else json.loads(schedule),
                [
                    statefile.FileTx(
                        _b(env),
                        None if ctx is None else _b(ctx),
                        ok,
                        _b(receipt),
                        _b(diff),
                        tuple(sorted(aliases.get(_b(eid), []))),
                        tuple(parties.get(_b(eid), [])),
                        exec_us,
                    )
                    for eid, env, ctx, ok, receipt, diff, exec_us in txs.get(height, [])
                ],
            )
        low = high + 1


def load_state(sf: statefile.StateFile) -> Header:
    """Replace the whole chain with a state file's, read and checked (chain/statefile.py), in one database
    transaction: the state, its tree, the mirrors, the blocks and their transactions; the mempool and devnet
    snapshots emptied. A chain of another chain id is refused; an empty database takes any. A node running on
    this store finds its head gone at its next block (StaleHead) and reloads."""
    rows = Rows(state=sf.entries, nodes=sf.nodes, index=list(sf.addresses), mints=list(sf.mints))
    for block in sf.blocks:
        h = block.header
        txs = [
            tx_row(h.height, i, t.envelope, t.context, t.success, t.receipt, t.diff, t.exec_us) for i, t in enumerate(block.txs)
        ]
        rows.add_block(h, block.schedule, txs)
        rows.aliases += [(a, row[0]) for t, row in zip(block.txs, txs, strict=True) for a in t.aliases]
        rows.parties += [
            (p, h.height, i, row[0]) for i, (t, row) in enumerate(zip(block.txs, txs, strict=True)) for p in t.parties
        ]
    with transaction.atomic():
        # The head row locked first: a block being committed meanwhile goes in before this transaction reads
        # on, and one after it finds its parent gone.
        m.Block.objects.select_for_update().order_by("-height").values_list("height", flat=True).first()
        mine = m.StateEntry.objects.filter(key=CHAIN_ID_KEY).values_list("value", flat=True).first()
        if mine is not None and int.from_bytes(_b(mine), "big") != sf.chain_id:
            raise ChainError(
                f"the state file is of chain {sf.chain_id}, this node's chain is {int.from_bytes(_b(mine), 'big')}: "
                "load it into a node of that chain, or into an empty database",
                "chain_mismatch",
            )
        _delete_all(
            m.TxAlias,
            m.TxParty,
            m.Transaction,
            m.Block,
            m.StateEntry,
            m.TreeNode,
            m.AddressIndex,
            m.MintIndex,
            m.MempoolClaim,
            m.MempoolEntry,
            m.DevSnapshot,
        )
        _write_rows(rows)
    return sf.head


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Reads that see one state of the store, even over many queries (a dump's counts and its rows agree)."""
    if connection.vendor == "postgresql":
        with consistent_reads():
            yield
    else:
        with transaction.atomic():
            yield
