"""Behaviour of the state tree (chain/tree.py): encoding, canonical shape, proofs."""

from dataclasses import replace
from hashlib import sha256

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.tree import EMPTY_ROOT, Proof, StateTree, build_root, verify_proof

ZERO = bytes(32)


def H(data: bytes) -> bytes:
    return sha256(data).digest()


def key(hex_prefix: str) -> bytes:
    """A 32-byte key starting with the given nibbles, zero-filled."""
    return bytes.fromhex(hex_prefix.ljust(64, "0"))


def leaf(k: bytes, value: bytes) -> bytes:
    return b"\x00" + k + H(value)


def internal(children: dict[int, bytes]) -> bytes:
    return b"\x01" + b"".join(children.get(slot, ZERO) for slot in range(16))


def reference_nodes(entries: dict[bytes, bytes]) -> dict[str, bytes]:
    """The node set of the tree holding ``entries``, straight from the spec's wording."""
    nodes: dict[str, bytes] = {}

    def place(path: str, ks: list[bytes]) -> bytes | None:
        if not ks:
            return None
        if len(ks) == 1:
            blob = leaf(ks[0], entries[ks[0]])
        else:
            children = {}
            for slot, digit in enumerate("0123456789abcdef"):
                child = place(path + digit, [k for k in ks if k.hex()[len(path)] == digit])
                if child is not None:
                    children[slot] = H(child)
            blob = internal(children)
        nodes[path] = blob
        return blob

    place("", sorted(entries))
    return nodes


def apply(entries: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    for k, v in changes.items():
        if v is None:
            entries.pop(k, None)
        else:
            entries[k] = v


def tree_of(entries: dict[bytes, bytes]) -> StateTree:
    tree = StateTree()
    tree.update(entries)
    return tree


# -- known answers ----------------------------------------------------------------------


def test_empty_tree_root_is_32_zero_bytes() -> None:
    assert EMPTY_ROOT == ZERO
    assert StateTree().root == ZERO
    assert build_root({}) == ZERO


def test_single_key_root_is_the_hash_of_its_leaf_at_the_root() -> None:
    k = key("7f3")
    tree = tree_of({k: b"value"})
    assert tree.root == H(b"\x00" + k + H(b"value"))
    assert tree.nodes == {"": leaf(k, b"value")}


def test_two_keys_differing_in_the_first_nibble_hang_off_the_root() -> None:
    a, b = key("3"), key("c")
    tree = tree_of({a: b"A", b: b"B"})
    assert tree.root == H(internal({3: H(leaf(a, b"A")), 12: H(leaf(b, b"B"))}))
    assert set(tree.nodes) == {"", "3", "c"}


def test_keys_sharing_a_prefix_get_one_internal_node_per_shared_nibble() -> None:
    a, b = key("12a"), key("12b")
    two_leaves = internal({10: H(leaf(a, b"A")), 11: H(leaf(b, b"B"))})
    # No extension nodes: an internal node whose only child is internal stays.
    expected = H(internal({1: H(internal({2: H(two_leaves)}))}))
    tree = tree_of({a: b"A", b: b"B"})
    assert tree.root == expected
    assert set(tree.nodes) == {"", "1", "12", "12a", "12b"}


# The worked example in docs/PROTOCOL.md §7.
DOC_ENTRIES = {key("a1"): b"alpha", key("a2"): b"beta", key("50"): b"gamma"}
DOC_ROOT = "f8d3f6d6b649f843144c499bcffdfc3d4233bca2a74950ea2a976fc5544dfae3"
DOC_NODE_HASHES = {
    "a1": "a07a2cbd74f14756190f24e9f71c5980178cc722745130ad0ecd75496385ab27",
    "a2": "03922ee45a15d90842079294e7dc846091c2944f9bd2ed337fe681264d553e1e",
    "5": "085d598ac04ae09d6ea4923e4524111247d01578e30396b7f67d09467985aef5",
    "a": "43ea9667504300933c939921a007ea9e31a592217c3d3341369439b804902d25",
    "": DOC_ROOT,
}


def test_documented_vector() -> None:
    node_a = internal({1: H(leaf(key("a1"), b"alpha")), 2: H(leaf(key("a2"), b"beta"))})
    by_hand = H(internal({5: H(leaf(key("50"), b"gamma")), 10: H(node_a)}))
    assert by_hand.hex() == DOC_ROOT
    tree = tree_of(DOC_ENTRIES)
    assert tree.root.hex() == DOC_ROOT
    assert {path: H(blob).hex() for path, blob in tree.nodes.items()} == DOC_NODE_HASHES
    assert build_root(DOC_ENTRIES).hex() == DOC_ROOT


def test_documented_proof_json() -> None:
    tree = tree_of(DOC_ENTRIES)
    node = DOC_NODE_HASHES
    assert tree.prove(key("a2")).to_json() == {
        "siblings": [{"bitmap": 32, "hashes": [node["5"]]}, {"bitmap": 2, "hashes": [node["a1"]]}],
        "leaf": {"key": key("a2").hex(), "value_hash": H(b"beta").hex()},
    }
    assert tree.prove(key("a3")).to_json() == {
        "siblings": [{"bitmap": 32, "hashes": [node["5"]]}, {"bitmap": 6, "hashes": [node["a1"], node["a2"]]}],
        "leaf": None,
    }
    assert tree.prove(key("5f")).to_json() == {
        "siblings": [{"bitmap": 1024, "hashes": [node["a"]]}],
        "leaf": {"key": key("50").hex(), "value_hash": H(b"gamma").hex()},
    }


# -- updates ----------------------------------------------------------------------------


def test_insert_update_delete() -> None:
    k, other = key("01"), key("02")
    tree = tree_of({other: b"x"})
    before = tree.root
    tree.update({k: b"one"})
    assert tree.get(k) == H(b"one")
    assert tree.root == build_root({other: b"x", k: b"one"})
    tree.update({k: b"two"})
    assert tree.get(k) == H(b"two")
    assert tree.root == build_root({other: b"x", k: b"two"})
    tree.update({k: None})
    assert tree.get(k) is None
    assert tree.root == before
    assert tree.nodes == reference_nodes({other: b"x"})


def test_update_returns_exactly_the_node_writes() -> None:
    tree = tree_of({key("1"): b"a", key("2"): b"b"})
    old_nodes = dict(tree.nodes)
    writes = tree.update({key("11"): b"c", key("2"): None})
    assert writes == {"": tree.nodes[""], "1": tree.nodes["1"], "10": tree.nodes["10"], "11": tree.nodes["11"], "2": None}
    for path, blob in writes.items():
        assert old_nodes.get(path) != blob
    assert tree.nodes == reference_nodes({key("1"): b"a", key("11"): b"c"})


def test_rewriting_a_value_unchanged_writes_nothing() -> None:
    tree = tree_of({key("1"): b"a", key("2"): b"b"})
    assert tree.update({key("1"): b"a"}) == {}


def test_deleting_collapses_a_lone_leaf_upward_through_every_level() -> None:
    shared = "5" * 40
    a, b, c, far = key(shared + "1"), key(shared + "2"), key(shared + "31"), key("9")
    tree = tree_of({a: b"A", b: b"B", c: b"C", far: b"F"})
    assert len(tree.nodes) > 40
    writes = tree.update({a: None, c: None})
    # b is now alone under nibble 5, so its leaf sits right below the root.
    assert tree.nodes == {"": tree.nodes[""], "5": leaf(b, b"B"), "9": leaf(far, b"F")}
    assert tree.root == build_root({b: b"B", far: b"F"})
    assert sum(blob is None for blob in writes.values()) == len(writes) - 2
    tree.update({far: None})
    assert tree.nodes == {"": leaf(b, b"B")}


def test_deleting_every_key_empties_the_store() -> None:
    entries = {key(f"{i:02x}7"): b"v" for i in range(40)}
    tree = tree_of(entries)
    tree.update(dict.fromkeys(entries))
    assert tree.root == EMPTY_ROOT
    assert tree.nodes == {}


def test_deleting_absent_keys_is_a_no_op() -> None:
    tree = tree_of({key("a1"): b"A", key("a2"): b"B"})
    nodes, root = dict(tree.nodes), tree.root
    # One lands in an empty slot, one on a leaf of another key, one deep under it.
    assert tree.update({key("3"): None, key("a2f"): None, key("a1" + "0" * 61 + "1"): None}) == {}
    assert (tree.nodes, tree.root) == (nodes, root)
    assert StateTree().update({key("3"): None}) == {}


def test_an_empty_batch_changes_nothing() -> None:
    tree = tree_of({key("1"): b"a"})
    assert tree.update({}) == {}


def test_root_does_not_depend_on_update_order() -> None:
    entries = {key(h): h.encode() for h in ["1", "12", "123", "1234", "2", "fff", "ffe"]}
    one_by_one = StateTree()
    for k in reversed(list(entries)):
        one_by_one.update({k: entries[k]})
    assert one_by_one.root == tree_of(entries).root == build_root(entries)
    assert one_by_one.nodes == reference_nodes(entries)


def test_a_tree_over_preloaded_nodes_continues_where_it_left_off() -> None:
    entries = {key(h): b"v" for h in ["1", "2", "21"]}
    loaded = StateTree(dict(tree_of(entries).nodes))
    assert loaded.root == build_root(entries)
    loaded.update({key("22"): b"w"})
    assert loaded.root == build_root({**entries, key("22"): b"w"})


@pytest.mark.parametrize(
    "changes",
    [
        {b"short": b"v"},
        {"00" * 32: b"v"},
        {key("1"): b""},
        {key("1"): "text"},
        {key("1"): b"ok", key("2"): b""},
    ],
)
def test_invalid_changes_are_rejected_before_anything_is_written(changes: dict) -> None:  # type: ignore[type-arg]
    tree = tree_of({key("1"): b"a"})
    nodes = dict(tree.nodes)
    with pytest.raises(ValueError):
        tree.update(changes)
    assert tree.nodes == nodes


# -- random histories -------------------------------------------------------------------


@st.composite
def key_pools(draw: st.DrawFn) -> list[bytes]:
    """Up to 12 keys, many sharing long nibble prefixes with a common base."""
    base = draw(st.binary(min_size=32, max_size=32)).hex()
    pool = set()
    for _ in range(draw(st.integers(1, 12))):
        shared = draw(st.sampled_from([0, 1, 2, 3, 10, 31, 40, 62, 63, 64]))
        own = draw(st.binary(min_size=32, max_size=32)).hex()
        pool.add(bytes.fromhex(base[:shared] + own[shared:]))
    return sorted(pool)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[bytes], list[dict[bytes, bytes | None]]]:
    pool = draw(key_pools())
    values = st.one_of(st.none(), st.binary(min_size=1, max_size=3))
    batches = draw(st.lists(st.dictionaries(st.sampled_from(pool), values, max_size=8), min_size=1, max_size=8))
    return pool, batches


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_incremental_updates_match_a_from_scratch_build(history: tuple[list[bytes], list[dict[bytes, bytes | None]]]) -> None:
    _, batches = history
    tree = StateTree()
    entries: dict[bytes, bytes] = {}
    merged: dict[bytes, bytes | None] = {}
    for changes in batches:
        before = dict(tree.nodes)
        writes = tree.update(changes)
        apply(entries, changes)
        merged.update(changes)
        assert tree.root == build_root(entries)
        # Exactly the store's difference, no orphans: the caller can persist `writes` alone.
        assert writes == {p: tree.nodes.get(p) for p in set(before) | set(tree.nodes) if before.get(p) != tree.nodes.get(p)}
    assert tree.nodes == reference_nodes(entries)
    single = StateTree()
    single.update(merged)
    assert single.root == tree.root
    assert single.nodes == tree.nodes


def flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


def with_level(proof: Proof, depth: int, bitmap: int, hashes: tuple[bytes, ...]) -> Proof:
    levels = list(proof.siblings)
    levels[depth] = (bitmap, hashes)
    return replace(proof, siblings=tuple(levels))


def tampered_proofs(proof: Proof) -> list[Proof]:
    """Every single-field tampering of a proof: each sibling, each bitmap bit, the leaf, the depth."""
    out = []
    for depth, (bitmap, hashes) in enumerate(proof.siblings):
        for i, h in enumerate(hashes):
            out.append(with_level(proof, depth, bitmap, (*hashes[:i], flip(h), *hashes[i + 1 :])))
        for slot in range(16):
            # Toggle one slot, keeping the hash count consistent with the bitmap.
            toggled = bitmap ^ (1 << slot)
            more = toggled.bit_count() > len(hashes)
            out.append(with_level(proof, depth, toggled, (*hashes, H(b"extra")) if more else hashes[:-1]))
    if proof.siblings:
        out.append(replace(proof, siblings=proof.siblings[:-1]))
        out.append(replace(proof, siblings=proof.siblings[1:]))
    out.append(replace(proof, siblings=(*proof.siblings, (1, (H(b"x"),)))))
    if proof.leaf is None:
        out.append(replace(proof, leaf=(bytes(32), H(b"v"))))
    else:
        k, vh = proof.leaf
        out.append(replace(proof, leaf=(flip(k), vh)))
        out.append(replace(proof, leaf=(k[:-1] + bytes([k[-1] ^ 1]), vh)))
        out.append(replace(proof, leaf=(k, flip(vh))))
        out.append(replace(proof, leaf=None))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.binary(min_size=32, max_size=32))
def test_every_proof_verifies_and_any_tampering_fails(
    history: tuple[list[bytes], list[dict[bytes, bytes | None]]], stranger: bytes
) -> None:
    pool, batches = history
    tree = StateTree()
    entries: dict[bytes, bytes] = {}
    for changes in batches:
        tree.update(changes)
        apply(entries, changes)
    root = tree.root
    for k in [*pool, stranger]:
        value = entries.get(k)
        proof = tree.prove(k)
        assert verify_proof(root, k, value, proof)
        assert Proof.from_json(proof.to_json()) == proof
        assert (proof.leaf is not None and proof.leaf[0] == k) == (value is not None)
        for bad in tampered_proofs(proof):
            assert not verify_proof(root, k, value, bad)
        if value is None:
            assert not verify_proof(root, k, b"anything", proof)
        else:
            assert tree.get(k) == H(value)
            assert not verify_proof(root, k, value + b"!", proof)
            assert not verify_proof(root, k, None, proof)
        assert not verify_proof(H(root), k, value, proof)


# -- proofs -----------------------------------------------------------------------------


def test_absent_key_is_proven_by_the_neighbouring_leaf_on_its_path() -> None:
    tree = tree_of(DOC_ENTRIES)
    proof = tree.prove(key("5f"))
    assert proof.leaf == (key("50"), H(b"gamma"))
    assert verify_proof(tree.root, key("5f"), None, proof)
    assert not verify_proof(tree.root, key("5f"), b"gamma", proof)
    # The same proof, claimed for a key not on the walked path, fails.
    assert not verify_proof(tree.root, key("6f"), None, proof)


def test_absent_key_is_proven_by_an_empty_slot() -> None:
    tree = tree_of(DOC_ENTRIES)
    proof = tree.prove(key("a3"))
    assert proof.leaf is None and len(proof.siblings) == 2
    assert verify_proof(tree.root, key("a3"), None, proof)


def test_the_empty_tree_proves_every_key_absent() -> None:
    proof = StateTree().prove(key("1"))
    assert proof == Proof(siblings=(), leaf=None)
    assert verify_proof(EMPTY_ROOT, key("1"), None, proof)
    assert not verify_proof(EMPTY_ROOT, key("1"), b"v", proof)


def test_a_leaf_off_its_own_path_is_rejected() -> None:
    # A hand-built root whose slot 5 holds a leaf for a key starting with 'a':
    # the hashes chain up correctly, but no canonical tree puts it there.
    stray = key("a")
    root = H(internal({5: H(leaf(stray, b"v"))}))
    proof = Proof(siblings=((0, ()),), leaf=(stray, H(b"v")))
    assert not verify_proof(root, key("5"), None, proof)
    assert not verify_proof(root, stray, b"v", proof)


def test_proofs_deeper_than_a_key_are_rejected() -> None:
    k = key("")
    node_hash = H(leaf(k, b"v"))
    for _ in range(65):
        node_hash = H(internal({0: node_hash}))
    proof = Proof(siblings=((0, ()),) * 65, leaf=(k, H(b"v")))
    assert not verify_proof(node_hash, k, b"v", proof)
    with pytest.raises(ValueError, match="levels"):
        Proof.from_json(proof.to_json())


@pytest.mark.parametrize(
    "proof",
    [
        Proof(siblings=((1 << 3, (ZERO,)),), leaf=None),  # an empty child listed as present
        Proof(siblings=((1 << 3, ()),), leaf=None),  # bitmap and hashes disagree
        Proof(siblings=((1 << 16, (H(b"x"),)),), leaf=None),  # bitmap beyond 16 slots
        Proof(siblings=((-1, ()),), leaf=None),
        Proof(siblings=((True, (H(b"x"),)),), leaf=None),
        Proof(siblings=((1, (b"short",)),), leaf=None),
        Proof(siblings=((1, [H(b"x")]),), leaf=None),  # type: ignore[arg-type]
        Proof(siblings=(("1", ()),), leaf=None),  # type: ignore[arg-type]
        Proof(siblings=((1,),), leaf=None),  # type: ignore[arg-type]
        Proof(siblings=[], leaf=None),  # type: ignore[arg-type]
        Proof(siblings=(), leaf=(b"short", ZERO)),
        Proof(siblings=(), leaf=(key("1"),)),  # type: ignore[arg-type]
        Proof(siblings=(), leaf="leaf"),  # type: ignore[arg-type]
    ],
)
def test_malformed_proofs_verify_false_without_raising(proof: Proof) -> None:
    tree = tree_of(DOC_ENTRIES)
    assert not verify_proof(tree.root, key("1"), None, proof)
    assert not verify_proof(tree.root, key("1"), b"v", proof)


def test_a_bitmap_covering_the_path_slot_is_rejected() -> None:
    tree = tree_of(DOC_ENTRIES)
    proof = tree.prove(key("a2"))
    (bitmap, hashes), rest = proof.siblings[0], proof.siblings[1:]
    bad = replace(proof, siblings=((bitmap | 1 << 10, (*hashes, H(b"x"))), *rest))
    assert not verify_proof(tree.root, key("a2"), b"beta", bad)


def good_json() -> dict:  # type: ignore[type-arg]
    return tree_of(DOC_ENTRIES).prove(key("a2")).to_json()


def broken(edit: str) -> dict:  # type: ignore[type-arg]
    d = good_json()
    level = d["siblings"][0]
    match edit:
        case "extra field":
            d["version"] = 1
        case "missing leaf":
            del d["leaf"]
        case "siblings not a list":
            d["siblings"] = {}
        case "level not an object":
            d["siblings"][0] = [32, level["hashes"]]
        case "bitmap is a bool":
            d["siblings"][1]["bitmap"] = True  # that level's one sibling is in slot 1
        case "bitmap is a string":
            level["bitmap"] = "32"
        case "bitmap too wide":
            level["bitmap"] = 1 << 16
        case "too few hashes":
            level["hashes"] = []
        case "upper-case hex":
            level["hashes"] = [level["hashes"][0].upper()]
        case "short hash":
            level["hashes"] = [level["hashes"][0][:-2]]
        case "hash with spaces":
            level["hashes"] = [" " + level["hashes"][0][1:]]
        case "zero hash":
            level["hashes"] = ["00" * 32]
        case "leaf missing value hash":
            del d["leaf"]["value_hash"]
        case "leaf key not hex":
            d["leaf"]["key"] = "zz" * 32
        case "leaf is a list":
            d["leaf"] = [d["leaf"]["key"], d["leaf"]["value_hash"]]
        case "not an object":
            return ["siblings"]  # type: ignore[return-value]
    return d


@pytest.mark.parametrize(
    "edit",
    [
        "extra field",
        "missing leaf",
        "siblings not a list",
        "level not an object",
        "bitmap is a bool",
        "bitmap is a string",
        "bitmap too wide",
        "too few hashes",
        "upper-case hex",
        "short hash",
        "hash with spaces",
        "zero hash",
        "leaf missing value hash",
        "leaf key not hex",
        "leaf is a list",
        "not an object",
    ],
)
def test_from_json_rejects_malformed_input(edit: str) -> None:
    with pytest.raises(ValueError):
        Proof.from_json(broken(edit))


def test_proof_json_round_trips() -> None:
    tree = tree_of(DOC_ENTRIES)
    for k in [key("a1"), key("a3"), key("5f"), key("00")]:
        proof = tree.prove(k)
        assert Proof.from_json(proof.to_json()) == proof
    assert Proof.from_json(good_json()).to_json() == good_json()
