"""The state file (`nvm state dump` / `nvm state load`, docs/PROTOCOL.md §16.1): a whole chain — every VM's
state, the reverse-index and mint mirrors, the blocks and their transactions — as gzip-compressed JSON lines.

    line 1     {"format": "nvm-state", "version": 1, "created_by", "chain_id", "genesis_hash", "head": {…},
                "entries": n, "addresses": n, "mints": n, "blocks": n, "txs": n}
    entries    {"k": hex, "v": hex}                                    ascending by key
    addresses  {"tag": "evm", "address": hex, "id_com": hex, "height": n}  ascending by (tag, address)
    mints      {"mint": hex, "height": n}                              ascending by mint
    blocks     {"header": hex, "schedule": {…} | null, "txs": n}      ascending by height, the last one the head,
               each followed by its n transactions:
               {"envelope": hex, "context": hex | null, "success": bool, "receipt": hex, "diff": hex,
                "aliases": [hex, …], "parties": [hex, …], "exec_us": n | null}

A reader takes the header's `version` first and hands the rest to that version's reader (`READERS`), so a later
version of this module keeps reading version 1 files; it refuses a file of a newer version than it knows. Reading
checks everything that can be checked — counts, order, the state root of the entries against the head's, every
mirror row against the state, each block's parent hash and its transaction and receipt roots — before a caller
writes anything.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO, Any, TypeVar

from .blocks import GENESIS_PARENT, Header
from .errors import ChainError
from .genesis import CHAIN_ID_KEY
from .hashing import U64_MAX, H, merkle_root
from .ledger import mint_slot
from .node import decode_diff
from .state import reverse_index_key
from .tree import StateTree

FORMAT = "nvm-state"
VERSION = 1  # the newest version this module writes and reads
CREATED_BY = "nvm-devnet 0.1.0"  # pyproject.toml's version; informative, no reader looks at it
MAX_LINE = 64 << 20  # bytes a line may hold: a transaction line carries an envelope, its receipt and its diff
# Brackets ([ or {) a line may hold in all, strings included: a version 1 line holds a handful, and a cap on the
# count caps the nesting, so no line can take the JSON parser deeper than the interpreter's stack allows.
MAX_BRACKETS = 64


class StateFileError(ChainError):
    """The file is not a state file this node can load (not gzip, truncated, corrupt, inconsistent, too new)."""

    code = "bad_state_file"


@dataclass(frozen=True)
class FileTx:
    envelope: bytes
    context: bytes | None
    success: bool
    receipt: bytes  # chain.dispatcher.Receipt.encode()
    diff: bytes  # chain.node.encode_diff()
    aliases: tuple[bytes, ...]  # the native ids it is known by besides its envelope id
    parties: tuple[bytes, ...]  # the identities it wrote balances, allowances or keys of
    exec_us: int | None  # how long the dumping node took to run it (not consensus)


@dataclass(frozen=True)
class FileBlock:
    header: Header
    schedule: dict[str, Any] | None  # how the dumping node executed it (chain/parallel.py; not consensus)
    txs: list[FileTx]


@dataclass(frozen=True)
class Counts:
    entries: int
    addresses: int
    mints: int
    blocks: int
    txs: int


@dataclass
class StateFile:
    version: int
    created_by: str
    chain_id: int
    genesis_hash: bytes | None  # None when the dumping node no longer held block 0 (it loaded a partial file)
    head: Header
    entries: dict[bytes, bytes]
    addresses: list[tuple[str, bytes, bytes, int]]  # (tag, address, id_com, height that bound it)
    mints: list[tuple[bytes, int]]  # (mint, height that created it)
    blocks: list[FileBlock]
    nodes: dict[str, bytes] = field(default_factory=dict)  # the state tree over `entries`, rebuilt by the reader


# -- writing --------------------------------------------------------------------------------------------
def write(
    out: IO[bytes],
    chain_id: int,
    genesis_hash: bytes | None,
    head: Header,
    counts: Counts,
    entries: Iterable[tuple[bytes, bytes]],
    addresses: Iterable[tuple[str, bytes, bytes, int]],
    mints: Iterable[tuple[bytes, int]],
    blocks: Iterable[FileBlock],
) -> None:
    """A version 1 file, each section in the order it must be in (the caller's reads give it). Fixed gzip
    header fields (no name, time 0): the same chain dumps to the same bytes."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "created_by": CREATED_BY,
        "chain_id": chain_id,
        "genesis_hash": None if genesis_hash is None else genesis_hash.hex(),
        "head": {
            "height": head.height,
            "hash": head.hash.hex(),
            "timestamp_ms": head.timestamp_ms,
            "state_root": head.state_root.hex(),
            "header": head.encode().hex(),
        },
        **asdict(counts),
    }
    written = dict.fromkeys(asdict(counts), 0)
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:

        def line(obj: dict[str, Any], section: str) -> None:
            gz.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
            written[section] += 1

        gz.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        for key, value in entries:
            line({"k": key.hex(), "v": value.hex()}, "entries")
        for tag, address, id_com, height in addresses:
            line({"tag": tag, "address": address.hex(), "id_com": id_com.hex(), "height": height}, "addresses")
        for mint, height in mints:
            line({"mint": mint.hex(), "height": height}, "mints")
        for block in blocks:
            line({"header": block.header.encode().hex(), "schedule": block.schedule, "txs": len(block.txs)}, "blocks")
            for tx in block.txs:
                line(_tx_json(tx), "txs")
    if written != asdict(counts):
        raise ChainError(f"the store changed while it was dumped (counted {asdict(counts)}, wrote {written})", "dump_failed")


def _tx_json(tx: FileTx) -> dict[str, Any]:
    return {
        "envelope": tx.envelope.hex(),
        "context": None if tx.context is None else tx.context.hex(),
        "success": tx.success,
        "receipt": tx.receipt.hex(),
        "diff": tx.diff.hex(),
        "aliases": [a.hex() for a in tx.aliases],
        "parties": [p.hex() for p in tx.parties],
        "exec_us": tx.exec_us,
    }


# -- reading --------------------------------------------------------------------------------------------
class Lines:
    """The decompressed file a JSON object a line, each line checked for size, ending and nesting first."""

    def __init__(self, gz: gzip.GzipFile) -> None:
        self.gz = gz
        self.number = 0

    def next(self, what: str) -> dict[str, Any]:
        raw = self.gz.readline(MAX_LINE + 1)
        self.number += 1
        n = self.number
        if not raw:
            raise StateFileError(f"the file ends before line {n} ({what}): it is truncated")
        if len(raw) > MAX_LINE:
            raise StateFileError(f"line {n} ({what}) is longer than {MAX_LINE:,} bytes")
        if not raw.endswith(b"\n"):
            raise StateFileError(f"line {n} ({what}) does not end with a newline: the file is truncated")
        if raw.count(b"[") + raw.count(b"{") > MAX_BRACKETS:
            raise StateFileError(f"line {n} ({what}) holds more than {MAX_BRACKETS} brackets")
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            raise StateFileError(f"line {n} ({what}) is not JSON") from None
        if not isinstance(obj, dict):
            raise StateFileError(f"line {n} ({what}) is not a JSON object")
        return obj

    def end(self) -> None:
        if self.gz.readline(1):
            raise StateFileError(f"the file goes on after line {self.number}, past what its header counts")


def read(src: IO[bytes]) -> StateFile:
    """Every line read and checked; StateFileError says what is wrong, with the line."""
    with _opened(src) as (header, lines):
        return READERS[header["version"]](header, lines)


def read_header(src: IO[bytes]) -> dict[str, Any]:
    """The header line alone, its format and version checked: a file this node cannot load at all is refused
    before anything else is read."""
    with _opened(src) as (header, _):
        return header


@contextmanager
def _opened(src: IO[bytes]) -> Iterator[tuple[dict[str, Any], Lines]]:
    """The header, checked, and the lines after it; any error of the compressed stream read meanwhile becomes a
    StateFileError."""
    try:
        with gzip.GzipFile(fileobj=src, mode="rb") as gz:
            lines = Lines(gz)
            header = lines.next("the header")
            if header.get("format") != FORMAT:
                raise StateFileError(f'not an nvm state file: its first line has no "format": "{FORMAT}"')
            version = header.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise StateFileError('the header\'s "version" is not a positive whole number')
            if version > VERSION:
                raise StateFileError(
                    f"this state file is format version {version}, newer than this node reads (up to {VERSION}): "
                    "load it with the nvm that wrote it, or a later one",
                    "state_file_too_new",
                )
            yield header, lines
    except gzip.BadGzipFile as e:
        raise StateFileError(f"not a gzip file, or a corrupt one ({e}): a state file is gzip-compressed JSON lines") from None
    except EOFError:
        raise StateFileError("the compressed data ends early: the file is truncated") from None
    except (zlib.error, OSError) as e:
        raise StateFileError(f"the compressed data is corrupt ({e})") from None


def _read_v1(header: dict[str, Any], lines: Lines) -> StateFile:
    where = "the header"
    counts = Counts(*(_count(header, k, where) for k in ("entries", "addresses", "mints", "blocks", "txs")))
    chain_id = _int(header, "chain_id", where, 1, U64_MAX)
    genesis_hash = None if header.get("genesis_hash") is None else _hex(header, "genesis_hash", where, 32)
    created_by = header.get("created_by")
    head_json = header.get("head")
    if not isinstance(head_json, dict):
        raise StateFileError('the header has no "head" object')
    head = _header(head_json, "the header's head")
    shown = (head_json.get("height"), head_json.get("hash"), head_json.get("timestamp_ms"), head_json.get("state_root"))
    if shown != (head.height, head.hash.hex(), head.timestamp_ms, head.state_root.hex()):
        raise StateFileError("the header's head fields disagree with its encoded header")
    if counts.blocks < 1:
        raise StateFileError("the file holds no block: at least the head must be in it")

    entries: dict[bytes, bytes] = {}
    last = b""
    for _ in range(counts.entries):
        line = lines.next("a state entry")
        where = f"line {lines.number}"
        key, value = _hex(line, "k", where, 32), _hex(line, "v", where)
        if not value:
            raise StateFileError(f"{where}: a state value is never empty")
        if key <= last:
            raise StateFileError(f"{where}: state entries must be in ascending key order, each key once")
        entries[key], last = value, key
    raw_id = entries.get(CHAIN_ID_KEY)
    if raw_id is None or int.from_bytes(raw_id, "big") != chain_id:
        raise StateFileError(f"the state's chain id is not the header's ({chain_id})")
    tree = StateTree({})
    tree.update(entries)
    if tree.root != head.state_root:
        raise StateFileError(
            f"the state entries give root {tree.root.hex()}, not the head's state root {head.state_root.hex()}: "
            "the file is corrupt"
        )

    bound = _mirror(lines, counts.addresses, "reverse-index row", head.height, lambda obj, at: _address(obj, at, entries))
    minted = _mirror(lines, counts.mints, "mint row", head.height, lambda obj, at: _mint(obj, at, entries))
    blocks = _blocks(lines, counts, head, genesis_hash)
    lines.end()
    return StateFile(
        version=1,
        created_by=created_by if isinstance(created_by, str) else "",
        chain_id=chain_id,
        genesis_hash=genesis_hash,
        head=head,
        entries=entries,
        addresses=[(*row, height) for row, height in bound],
        mints=[(*row, height) for row, height in minted],
        blocks=blocks,
        nodes=dict(tree.nodes),
    )


READERS: dict[int, Callable[[dict[str, Any], Lines], StateFile]] = {1: _read_v1}


Row = TypeVar("Row", tuple[str, bytes, bytes], tuple[bytes])


def _mirror(lines: Lines, count: int, what: str, top: int, parse: Callable[[dict[str, Any], str], Row]) -> list[tuple[Row, int]]:
    """Mirror rows and the height that wrote each, each row checked by `parse` against the state, in ascending
    order of the row, each once."""
    rows: list[tuple[Row, int]] = []
    for _ in range(count):
        line = lines.next(f"a {what}")
        where = f"line {lines.number}"
        row = parse(line, where)
        if rows and row <= rows[-1][0]:
            raise StateFileError(f"{where}: {what}s must be in ascending order, each once")
        rows.append((row, _int(line, "height", where, 0, top)))
    return rows


def _address(line: dict[str, Any], where: str, entries: dict[bytes, bytes]) -> tuple[str, bytes, bytes]:
    tag = line.get("tag")
    if not isinstance(tag, str) or not 1 <= len(tag) <= 8:
        raise StateFileError(f'{where}: "tag" must be a VM tag (a short string)')
    address, id_com = _hex(line, "address", where), _hex(line, "id_com", where, 32)
    if entries.get(reverse_index_key(tag, address)) != id_com:
        raise StateFileError(f"{where}: the state does not bind this {tag} address to this id_com")
    return tag, address, id_com


def _mint(line: dict[str, Any], where: str, entries: dict[bytes, bytes]) -> tuple[bytes]:
    mint = _hex(line, "mint", where, 32)
    if mint_slot(mint) not in entries:
        raise StateFileError(f"{where}: the state holds no such mint")
    return (mint,)


def _blocks(lines: Lines, counts: Counts, head: Header, genesis_hash: bytes | None) -> list[FileBlock]:
    blocks: list[FileBlock] = []
    seen: set[bytes] = set()  # envelope ids and aliases: each names one transaction
    txs = 0
    for _ in range(counts.blocks):
        line = lines.next("a block")
        where = f"line {lines.number}"
        header = _header(line, where)
        schedule = line.get("schedule")
        if schedule is not None and not isinstance(schedule, dict):
            raise StateFileError(f'{where}: "schedule" must be an object or null')
        if blocks:
            parent = blocks[-1].header
            if header.height != parent.height + 1 or header.parent_hash != parent.hash:
                raise StateFileError(f"{where}: block {header.height} does not follow block {parent.height}")
        elif header.height == 0 and (header.parent_hash != GENESIS_PARENT or header.hash != genesis_hash):
            raise StateFileError(f"{where}: block 0 is not the genesis block the header names")
        n = _count(line, "txs", where)
        txs += n
        if txs > counts.txs:
            raise StateFileError(f"{where}: more transactions than the header counts ({counts.txs})")
        block_txs = [_tx(lines, seen) for _ in range(n)]
        if header.tx_root != merkle_root([t.envelope for t in block_txs]):
            raise StateFileError(f"{where}: block {header.height}'s transactions do not give its transactions root")
        if header.receipts_root != merkle_root([t.receipt for t in block_txs]):
            raise StateFileError(f"{where}: block {header.height}'s receipts do not give its receipts root")
        blocks.append(FileBlock(header, schedule, block_txs))
    if blocks[-1].header != head:
        raise StateFileError("the last block is not the head the header names")
    if txs != counts.txs:
        raise StateFileError(f"the blocks hold {txs} transactions, the header counts {counts.txs}")
    return blocks


def _tx(lines: Lines, seen: set[bytes]) -> FileTx:
    line = lines.next("a transaction")
    where = f"line {lines.number}"
    envelope, receipt, diff = _hex(line, "envelope", where), _hex(line, "receipt", where), _hex(line, "diff", where)
    context = None if line.get("context") is None else _hex(line, "context", where, 16)
    success = line.get("success")
    if not isinstance(success, bool) or success != receipt.startswith(b"\x01"):
        raise StateFileError(f'{where}: "success" must be true or false, as its receipt says')
    try:
        decode_diff(diff)
    except ValueError:
        raise StateFileError(f"{where}: the diff is not an encoded diff (docs/PROTOCOL.md §2)") from None
    aliases = tuple(_hex_list(line, "aliases", where))
    parties = tuple(_hex_list(line, "parties", where, 32))
    names = [H(envelope), *aliases]
    if seen.intersection(names) or len(set(names)) != len(names):
        raise StateFileError(f"{where}: a transaction id or alias that names another transaction too")
    seen.update(names)
    exec_us = None if line.get("exec_us") is None else _int(line, "exec_us", where, 0, 2**31 - 1)
    return FileTx(envelope, context, success, receipt, diff, aliases, parties, exec_us)


# -- fields -----------------------------------------------------------------------------------------------
def _hex(obj: dict[str, Any], name: str, where: str, length: int | None = None) -> bytes:
    text = obj.get(name)
    raw = bytes.fromhex(text) if isinstance(text, str) and _HEX.fullmatch(text) else None
    if raw is None or (length is not None and len(raw) != length):
        raise StateFileError(f'{where}: "{name}" must be {"a hex string" if length is None else f"{length} bytes of hex"}')
    return raw


_HEX = re.compile(r"(?:[0-9a-f]{2})*")  # as written: lower case, two digits a byte, nothing else


def _hex_list(obj: dict[str, Any], name: str, where: str, length: int | None = None) -> Iterator[bytes]:
    items = obj.get(name)
    if not isinstance(items, list):
        raise StateFileError(f'{where}: "{name}" must be a list of hex strings')
    return (_hex({name: item}, name, where, length) for item in items)


def _int(obj: dict[str, Any], name: str, where: str, lo: int, hi: int) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise StateFileError(f'{where}: "{name}" must be a whole number from {lo} to {hi}')
    return value


def _count(obj: dict[str, Any], name: str, where: str) -> int:
    return _int(obj, name, where, 0, U64_MAX)


def _header(obj: dict[str, Any], where: str) -> Header:
    try:
        return Header.decode(_hex(obj, "header", where))
    except (ValueError, IndexError):
        raise StateFileError(f'{where}: "header" is not an encoded block header (docs/PROTOCOL.md §3)') from None
