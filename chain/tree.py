"""
The state tree: an authenticated 16-ary sparse Merkle tree, Jellyfish-style.

Keys are 32 bytes, read as 64 nibbles (the hex digits of ``key.hex()``).
Values are arbitrary non-empty bytes; the tree commits to ``SHA256(value)``.

Node encoding (a protocol decision — docs/PROTOCOL.md §7):

- leaf:     ``0x00 || key (32) || SHA256(value) (32)``          (65 bytes)
- internal: ``0x01 || 16 x child hash (32), empty = 32 zero bytes`` (513 bytes)
- node hash = ``SHA256(blob)``; the empty tree's root is 32 zero bytes.

Paths are compressed: a subtree holding exactly one entry is that leaf
itself, sitting at the shortest prefix where it is alone. Every prefix
shared by two or more entries is an internal node (there are no extension
nodes), so the root depends only on the set of entries, never on the order
of updates.

Nodes are stored as packed blobs in a flat mapping keyed by nibble path
(``''`` is the root, ``'a3'`` is child 3 of child 10 of the root). Blobs
rather than node objects keep a million-key tree cheap to update and
invisible to the garbage collector; an update sorts the block's keys once
and walks only their paths, grouping keys by index ranges (bench/state_root.py).
"""

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

HASH_SIZE = 32
KEY_SIZE = 32
KEY_NIBBLES = 2 * KEY_SIZE
RADIX = 16

LEAF_TAG = b"\x00"
INTERNAL_TAG = b"\x01"
LEAF = LEAF_TAG[0]  # blob[0] of a leaf, for the hot paths
LEAF_SIZE = 1 + KEY_SIZE + HASH_SIZE
INTERNAL_SIZE = 1 + RADIX * HASH_SIZE
KEY_END = 1 + KEY_SIZE  # a leaf blob holds its key at [1:KEY_END], its value hash after

EMPTY_HASH = bytes(HASH_SIZE)
EMPTY_ROOT = EMPTY_HASH

HEX_DIGITS = "0123456789abcdef"
NIBBLE = {digit: value for value, digit in enumerate(HEX_DIGITS)}

# One level of a proof: bit i of the bitmap is set when child i is a
# non-empty sibling; the hashes are those siblings' hashes in slot order.
ProofLevel = tuple[int, tuple[bytes, ...]]


def leaf_blob(key: bytes, value_hash: bytes) -> bytes:
    """Encode a leaf."""
    return LEAF_TAG + key + value_hash


def is_leaf(blob: bytes) -> bool:
    """Tell a leaf blob from an internal one by its tag."""
    return blob[0] == LEAF


def child_hash(blob: bytes, slot: int) -> bytes:
    """The hash in child slot ``slot`` of an internal blob."""
    offset = 1 + HASH_SIZE * slot
    return blob[offset : offset + HASH_SIZE]


def _nonempty_slots(blob: bytes | bytearray) -> list[int]:
    """The child slots of an internal blob that hold a node."""
    return [slot for slot in range(RADIX) if blob[1 + HASH_SIZE * slot : 1 + HASH_SIZE * (slot + 1)] != EMPTY_HASH]


def _groups(keys: list[str], path: str, lo: int, hi: int) -> Iterator[tuple[str, int, int]]:
    """
    Split the sorted hex keys ``keys[lo:hi]``, which all start with ``path``,
    into runs sharing the next nibble: yields ``(nibble, start, end)``.
    """
    depth = len(path)
    while lo < hi:
        digit = keys[lo][depth]
        # 'g' sorts after every hex digit, so this bounds the run of `digit`.
        end = bisect_left(keys, path + digit + "g", lo + 1, hi)
        yield digit, lo, end
        lo = end


class _Batch:
    """
    The working state of one ``StateTree.update``: the changes sorted by hex
    key, and the node writes made so far. Writes are collected here and
    applied only once the whole batch has been processed, so reads during the
    walk always see the tree as it was before the block.

    Contract of ``update_node(path, ...)``: it returns the subtree's new root
    blob (or None when the subtree is now empty), with every write strictly
    below ``path`` recorded. An internal result is also recorded at ``path``;
    a leaf or an empty result is left for the caller to place, because the
    caller may pull a lone leaf further up. An unchanged subtree returns
    ``old`` itself, so callers can skip it with ``is``.
    """

    def __init__(self, nodes: MutableMapping[str, bytes], changes: Mapping[bytes, bytes | None]):
        self.nodes = nodes
        self.writes: dict[str, bytes | None] = {}
        rows: list[tuple[str, bytes | None]] = []
        for key, value in changes.items():
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise ValueError(f"state tree key must be {KEY_SIZE} bytes, got {key!r}")
            if value is None:
                rows.append((key.hex(), None))
            elif isinstance(value, bytes) and value:
                rows.append((key.hex(), leaf_blob(key, sha256(value).digest())))
            else:
                raise ValueError(f"state tree value for {key.hex()} must be non-empty bytes or None")
        # Hex order is byte order; sorting the fresh hex strings rather than the
        # caller's keys keeps the comparisons in cache.
        rows.sort()
        self.keys = [key for key, _ in rows]  # sorted hex keys
        self.leaves = [leaf for _, leaf in rows]  # each key's new leaf blob, None to delete

    def stored(self, path: str) -> bytes:
        blob = self.nodes.get(path)
        if blob is None:
            raise KeyError(f"state tree node {path!r} is referenced by its parent but not stored")
        return blob

    def update_node(self, path: str, lo: int, hi: int, old: bytes | None) -> bytes | None:
        """Apply ``keys[lo:hi]`` to the subtree at ``path`` whose root is ``old``."""
        if old is None:
            return self.build(path, lo, hi, None)
        if old[0] != LEAF:
            return self.update_internal(path, lo, hi, old)
        if hi - lo == 1:
            new = self.leaves[lo]
            if new is not None and new[1:KEY_END] == old[1:KEY_END]:  # rewritten in place
                return old if new == old else new
        old_key = old[1:KEY_END].hex()
        at = bisect_left(self.keys, old_key, lo, hi)
        if at < hi and self.keys[at] == old_key:
            return self.build(path, lo, hi, None)
        # The old leaf survives and now shares its subtree with the new keys.
        return self.build(path, lo, hi, old)

    def update_internal(self, path: str, lo: int, hi: int, old: bytes) -> bytes | None:
        """Update a stored internal node: recurse only into the changed slots."""
        node = bytearray(old)
        # (slot, new child, old child) for every child that changed.
        changed: list[tuple[int, bytes | None, bytes | None]] = []
        # A canonical internal node has two or more children, or one internal
        # child. It can only be left with a lone leaf below it if a child
        # emptied or an internal child shrank to a leaf.
        thinned = False
        if hi - lo == 1:
            groups: Iterable[tuple[str, int, int]] = ((self.keys[lo][len(path)], lo, hi),)
        else:
            groups = _groups(self.keys, path, lo, hi)
        for digit, start, end in groups:
            slot = NIBBLE[digit]
            offset = 1 + HASH_SIZE * slot
            child_old = None
            if node[offset : offset + HASH_SIZE] != EMPTY_HASH:
                child_old = self.stored(path + digit)
            child_new = self.update_node(path + digit, start, end, child_old)
            if child_new is child_old or child_new == child_old:
                continue
            changed.append((slot, child_new, child_old))
            if child_new is None:
                node[offset : offset + HASH_SIZE] = EMPTY_HASH
                thinned = True
            else:
                node[offset : offset + HASH_SIZE] = sha256(child_new).digest()
                if child_new[0] == LEAF and child_old is not None and child_old[0] != LEAF:
                    thinned = True
        if not changed:
            return old
        if thinned:
            slots = _nonempty_slots(node)
            if not slots:
                self.settle(path, changed)
                return None
            if len(slots) == 1:
                lone = self.lone_leaf(path, slots[0], changed)
                if lone is not None:
                    self.settle(path, changed)
                    return lone
        self.settle(path, changed)
        blob = bytes(node)
        self.writes[path] = blob
        return blob

    def lone_leaf(self, path: str, slot: int, changed: list[tuple[int, bytes | None, bytes | None]]) -> bytes | None:
        """
        If the only child left, in ``slot``, is a leaf, take it out of its slot
        (it moves up to replace the node at ``path``) and return it.
        """
        for i, (changed_slot, new, old) in enumerate(changed):
            if changed_slot == slot:
                if new is None or new[0] != LEAF:
                    return None
                changed[i] = (slot, None, old)
                return new
        blob = self.stored(path + HEX_DIGITS[slot])
        if blob[0] != LEAF:
            return None
        changed.append((slot, None, blob))
        return blob

    def settle(self, path: str, changed: list[tuple[int, bytes | None, bytes | None]]) -> None:
        """Record the changed children of an internal node at ``path``: leaves placed, emptied slots removed."""
        for slot, new, old in changed:
            if new is None:
                if old is not None:
                    self.writes[path + HEX_DIGITS[slot]] = None
            elif new[0] == LEAF:
                self.writes[path + HEX_DIGITS[slot]] = new
        # Internal children recorded themselves.

    def build(self, path: str, lo: int, hi: int, carry: bytes | None) -> bytes | None:
        """
        Build the subtree at ``path`` from scratch: nothing is stored below it.
        Its entries are the inserts among ``keys[lo:hi]`` plus ``carry``, an
        existing leaf whose key is not among them (deletes here are no-ops).
        """
        if lo == hi:
            return carry
        if hi - lo == 1 and carry is None:
            return self.leaves[lo]
        carry_digit = ""
        if carry is not None:
            byte = carry[1 + len(path) // 2]
            carry_digit = HEX_DIGITS[byte & 0xF if len(path) % 2 else byte >> 4]
        children: list[tuple[str, bytes]] = []
        carried = False
        for digit, start, end in _groups(self.keys, path, lo, hi):
            child_carry = None
            if digit == carry_digit:
                child_carry, carried = carry, True
            child = self.build(path + digit, start, end, child_carry)
            if child is not None:
                children.append((digit, child))
        if carry is not None and not carried:
            children.append((carry_digit, carry))
        if not children:
            return None
        if len(children) == 1 and is_leaf(children[0][1]):
            return children[0][1]
        hashes = [EMPTY_HASH] * RADIX
        for digit, child in children:
            hashes[NIBBLE[digit]] = sha256(child).digest()
            if is_leaf(child):
                self.writes[path + digit] = child
        blob = INTERNAL_TAG + b"".join(hashes)
        self.writes[path] = blob
        return blob


@dataclass(frozen=True)
class Proof:
    """
    A Merkle proof for one key: for each internal node on the key's path,
    top-down, its non-empty children other than the one on the path
    (``(bitmap, hashes)``, see ``ProofLevel``), then the leaf the walk
    ended at, ``(key, value_hash)``, or None if it ended at an empty slot.
    """

    siblings: tuple[ProofLevel, ...]
    leaf: tuple[bytes, bytes] | None

    def to_json(self) -> dict[str, Any]:
        """
        ``{"siblings": [{"bitmap": int, "hashes": [hex, ...]}, ...],
        "leaf": {"key": hex, "value_hash": hex} | null}``; hex is lowercase.
        """
        return {
            "siblings": [{"bitmap": bitmap, "hashes": [h.hex() for h in hashes]} for bitmap, hashes in self.siblings],
            "leaf": None if self.leaf is None else {"key": self.leaf[0].hex(), "value_hash": self.leaf[1].hex()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Proof":
        """Parse ``to_json``'s shape exactly; anything else raises ValueError."""
        _expect_fields(d, {"siblings", "leaf"}, "proof")
        raw_levels = d["siblings"]
        if not isinstance(raw_levels, list):
            raise ValueError("proof.siblings must be a list")
        if len(raw_levels) > KEY_NIBBLES:
            raise ValueError(f"proof has {len(raw_levels)} levels; a key has only {KEY_NIBBLES} nibbles")
        levels = []
        for depth, raw in enumerate(raw_levels):
            where = f"proof.siblings[{depth}]"
            _expect_fields(raw, {"bitmap", "hashes"}, where)
            bitmap, raw_hashes = raw["bitmap"], raw["hashes"]
            if type(bitmap) is not int or not 0 <= bitmap < 1 << RADIX:
                raise ValueError(f"{where}.bitmap must be an integer in [0, 65535]")
            if not isinstance(raw_hashes, list) or len(raw_hashes) != bitmap.bit_count():
                raise ValueError(f"{where}.hashes must be a list of one hash per bit set in bitmap")
            hashes = tuple(_parse_hash(h, f"{where}.hashes[{i}]") for i, h in enumerate(raw_hashes))
            if EMPTY_HASH in hashes:
                raise ValueError(f"{where}.hashes must not list empty (all-zero) children")
            levels.append((bitmap, hashes))
        raw_leaf = d["leaf"]
        leaf = None
        if raw_leaf is not None:
            _expect_fields(raw_leaf, {"key", "value_hash"}, "proof.leaf")
            leaf = (_parse_hash(raw_leaf["key"], "proof.leaf.key"), _parse_hash(raw_leaf["value_hash"], "proof.leaf.value_hash"))
        return cls(siblings=tuple(levels), leaf=leaf)


def _expect_fields(d: object, fields: set[str], where: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be an object")
    if set(d) != fields:
        raise ValueError(f"{where} must have exactly the fields {sorted(fields)}, got {sorted(map(str, d))}")


def _parse_hash(text: object, where: str) -> bytes:
    # bytes.fromhex alone would also accept upper case and spaces.
    if not isinstance(text, str) or len(text) != 2 * HASH_SIZE or not set(text) <= set(HEX_DIGITS):
        raise ValueError(f"{where} must be {2 * HASH_SIZE} lowercase hex digits")
    return bytes.fromhex(text)


class StateTree:
    """
    The state tree over a node store ``nodes`` (path -> blob). The store may
    be pre-loaded from, or backed by, a database: the tree only calls
    ``.get``, ``__setitem__`` and ``.pop`` on it.
    """

    def __init__(self, nodes: MutableMapping[str, bytes] | None = None) -> None:
        self.nodes: MutableMapping[str, bytes] = {} if nodes is None else nodes

    @property
    def root(self) -> bytes:
        blob = self.nodes.get("")
        return EMPTY_ROOT if blob is None else sha256(blob).digest()

    def update(self, changes: Mapping[bytes, bytes | None]) -> dict[str, bytes | None]:
        """
        Apply one block's changes (value None deletes; deleting an absent key
        is a no-op), walking only the paths of the changed keys. Returns the
        node writes made — path -> new blob, or None where a node was removed —
        which the caller persists. Invalid input raises ValueError before any
        node is touched; a store missing a node its parent references raises
        KeyError.
        """
        batch = _Batch(self.nodes, changes)
        if not batch.keys:
            return {}
        old = self.nodes.get("")
        new = batch.update_node("", 0, len(batch.keys), old)
        # An internal root recorded itself; a leaf or empty root is ours to place.
        if new != old and (new is None or is_leaf(new)):
            batch.writes[""] = new
        for path, blob in batch.writes.items():
            if blob is None:
                self.nodes.pop(path, None)
            else:
                self.nodes[path] = blob
        return batch.writes

    def get(self, key: bytes) -> bytes | None:
        """The value hash stored for ``key``, or None if the key is absent."""
        leaf = self._walk(key)[1]
        if leaf is None or leaf[1:KEY_END] != key:
            return None
        return leaf[KEY_END:]

    def prove(self, key: bytes) -> Proof:
        """An inclusion proof if ``key`` is present, else a non-inclusion proof."""
        internals, leaf = self._walk(key)
        nibbles = key.hex()
        levels = []
        for depth, node in enumerate(internals):
            on_path = NIBBLE[nibbles[depth]]
            bitmap, hashes = 0, []
            for slot in range(RADIX):
                sibling = child_hash(node, slot)
                if slot != on_path and sibling != EMPTY_HASH:
                    bitmap |= 1 << slot
                    hashes.append(sibling)
            levels.append((bitmap, tuple(hashes)))
        end = None if leaf is None else (leaf[1:KEY_END], leaf[KEY_END:])
        return Proof(siblings=tuple(levels), leaf=end)

    def _walk(self, key: bytes) -> tuple[list[bytes], bytes | None]:
        """The internal nodes on ``key``'s path, and the leaf it ends at (if any)."""
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise ValueError(f"state tree key must be {KEY_SIZE} bytes, got {key!r}")
        nibbles = key.hex()
        internals = []
        path = ""
        node = self.nodes.get(path)
        while node is not None and not is_leaf(node):
            internals.append(node)
            digit = nibbles[len(path)]
            if child_hash(node, NIBBLE[digit]) == EMPTY_HASH:
                return internals, None
            path += digit
            node = self.nodes.get(path)
            if node is None:
                raise KeyError(f"state tree node {path!r} is referenced by its parent but not stored")
        return internals, node


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: Proof) -> bool:
    """
    Check ``proof`` against ``root`` using nothing but the proof: that
    ``key`` maps to ``value``, or, when ``value`` is None, that ``key`` is
    absent (the walk ends at an empty slot, or at a leaf of another key
    sharing every nibble walked). Malformed proofs verify as False.
    """
    if not (isinstance(root, bytes) and len(root) == HASH_SIZE):
        return False
    if not (isinstance(key, bytes) and len(key) == KEY_SIZE):
        return False
    if not isinstance(proof, Proof) or not isinstance(proof.siblings, tuple):
        return False
    levels = proof.siblings
    if len(levels) > KEY_NIBBLES:
        return False
    nibbles = key.hex()
    if proof.leaf is None:
        if value is not None:
            return False
        node_hash = EMPTY_HASH
    else:
        if not (isinstance(proof.leaf, tuple) and len(proof.leaf) == 2):
            return False
        leaf_key, value_hash = proof.leaf
        if not (isinstance(leaf_key, bytes) and len(leaf_key) == KEY_SIZE):
            return False
        if not (isinstance(value_hash, bytes) and len(value_hash) == HASH_SIZE):
            return False
        # A leaf sits at its own key's prefix; any other position is forged.
        if leaf_key.hex()[: len(levels)] != nibbles[: len(levels)]:
            return False
        if value is None:
            if leaf_key == key:
                return False
        elif not isinstance(value, bytes) or leaf_key != key or value_hash != sha256(value).digest():
            return False
        node_hash = sha256(leaf_blob(leaf_key, value_hash)).digest()
    for depth in reversed(range(len(levels))):
        children = _level_children(levels[depth], NIBBLE[nibbles[depth]], node_hash)
        if children is None:
            return False
        node_hash = sha256(INTERNAL_TAG + b"".join(children)).digest()
    return node_hash == root


def _level_children(level: object, on_path: int, node_hash: bytes) -> list[bytes] | None:
    """Rebuild an internal node's 16 child hashes from a proof level, or None if malformed."""
    if not (isinstance(level, tuple) and len(level) == 2):
        return None
    bitmap, hashes = level
    if type(bitmap) is not int or not 0 <= bitmap < 1 << RADIX or bitmap >> on_path & 1:
        return None
    if not isinstance(hashes, tuple) or len(hashes) != bitmap.bit_count():
        return None
    siblings = iter(hashes)
    children = []
    for slot in range(RADIX):
        if slot == on_path:
            children.append(node_hash)
        elif bitmap >> slot & 1:
            sibling = next(siblings)
            if not isinstance(sibling, bytes) or len(sibling) != HASH_SIZE or sibling == EMPTY_HASH:
                return None
            children.append(sibling)
        else:
            children.append(EMPTY_HASH)
    return children


def build_root(entries: Mapping[bytes, bytes]) -> bytes:
    """
    The root of the tree holding exactly ``entries``, computed from scratch
    and independently of ``StateTree`` (no node store, no incremental
    logic) — for tests and for recomputing a root from a full state.
    """
    ordered = sorted(entries.items())
    if any(len(key) != KEY_SIZE for key, _ in ordered):
        raise ValueError(f"state tree keys must be {KEY_SIZE} bytes")
    keys = [key.hex() for key, _ in ordered]
    leaves = [leaf_blob(key, sha256(value).digest()) for key, value in ordered]
    if not leaves:
        return EMPTY_ROOT

    def subtree_hash(path: str, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return sha256(leaves[lo]).digest()
        hashes = [EMPTY_HASH] * RADIX
        for digit, start, end in _groups(keys, path, lo, hi):
            hashes[NIBBLE[digit]] = subtree_hash(path + digit, start, end)
        return sha256(INTERNAL_TAG + b"".join(hashes)).digest()

    return subtree_hash("", 0, len(leaves))
