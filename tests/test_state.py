"""The state overlay: nested snapshots, per-transaction diffs, the block's net diff."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.state import State, apply_diff, reverse_index_key
from chain.tree import StateTree, build_root

K = [bytes([i]) * 32 for i in range(8)]


def test_reads_fall_through_to_committed_entries():
    s = State({K[0]: b"a"})
    assert s.get(K[0]) == b"a"
    assert s.get(K[1]) is None
    s.set(K[0], b"b")
    assert s.get(K[0]) == b"b"
    s.delete(K[0])
    assert s.get(K[0]) is None


def test_keys_are_32_bytes_and_values_non_empty():
    s = State({})
    with pytest.raises(ValueError):
        s.set(b"short", b"v")
    with pytest.raises(ValueError):
        s.set(K[0], b"")


def test_nested_snapshots_revert_and_commit():
    s = State({K[0]: b"base"})
    outer = s.snapshot()
    s.set(K[0], b"outer")
    inner = s.snapshot()
    s.set(K[1], b"inner")
    s.delete(K[0])
    s.revert(inner)
    assert s.get(K[0]) == b"outer" and s.get(K[1]) is None
    inner2 = s.snapshot()
    s.set(K[2], b"kept")
    s.commit(inner2)
    assert s.get(K[2]) == b"kept"
    s.revert(outer)  # an outer revert undoes committed inner snapshots too
    assert s.get(K[0]) == b"base" and s.get(K[2]) is None
    assert s.block_diff() == {}


def test_reverting_an_outer_snapshot_closes_inner_ones():
    s = State({})
    outer = s.snapshot()
    inner = s.snapshot()
    s.revert(outer)
    with pytest.raises(ValueError):
        s.revert(inner)


def test_tx_diff_has_old_and_new_values_and_skips_no_op_writes():
    s = State({K[0]: b"a", K[1]: b"b"})
    s.begin_tx()
    s.set(K[0], b"x")
    s.set(K[0], b"y")
    s.delete(K[1])
    s.set(K[2], b"new")
    s.set(K[3], b"tmp")
    s.delete(K[3])  # created and removed in the same tx: no change
    assert s.end_tx() == [(K[0], b"a", b"y"), (K[1], b"b", None), (K[2], None, b"new")]
    s.begin_tx()
    s.set(K[0], b"z")
    assert s.end_tx() == [(K[0], b"y", b"z")]
    assert s.block_diff() == {K[0]: b"z", K[1]: None, K[2]: b"new"}


def test_reverse_index_binding_is_undone_with_its_snapshot():
    s = State({})
    s.bind_address("evm", b"\x01" * 20, K[5])
    snap = s.snapshot()
    s.bind_address("evm", b"\x02" * 20, K[6])
    s.revert(snap)
    assert s.notes == [("address", "evm", b"\x01" * 20, K[5])]
    assert s.get(reverse_index_key("evm", b"\x01" * 20)) == K[5]
    assert s.get(reverse_index_key("evm", b"\x02" * 20)) is None


op = st.tuples(
    st.sampled_from(["set", "delete", "snap", "revert", "commit"]), st.integers(0, 7), st.binary(min_size=1, max_size=4)
)
txs = st.lists(st.lists(op, max_size=12), max_size=12)  # snapshots open and close within a transaction


def _apply_tx(s: State, tx) -> None:
    snaps: list[int] = []
    for name, k, v in tx:
        if name == "set":
            s.set(K[k], v)
        elif name == "delete":
            s.delete(K[k])
        elif name == "snap":
            snaps.append(s.snapshot())
        elif snaps:
            sid = snaps.pop()
            (s.revert if name == "revert" else s.commit)(sid)
    while snaps:
        s.commit(snaps.pop())


@settings(max_examples=150, deadline=None)
@given(txs, st.integers(1, 4))
def test_writes_in_one_block_or_split_across_blocks_give_the_same_root(seq, parts):
    """Random transactions of writes with nested snapshots, applied as one block or split across
    `parts` blocks, give the root of a tree rebuilt from the final entries."""

    def run(blocks):
        entries: dict[bytes, bytes] = {}
        tree = StateTree({})
        for block in blocks:
            s = State(entries)
            for tx in block:
                s.begin_tx()
                _apply_tx(s, tx)
                s.end_tx()
            diff = s.block_diff()
            tree.update(diff)
            apply_diff(entries, diff)
        return entries, tree.root

    size = max(1, len(seq) // parts + 1)
    one_entries, one_root = run([seq])
    split_entries, split_root = run([seq[i : i + size] for i in range(0, len(seq), size)])
    assert one_entries == split_entries
    assert one_root == split_root == build_root(one_entries)
