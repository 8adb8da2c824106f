"""Blocks over the in-memory store: headers, signatures, roots, genesis, failed transactions."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from chain.blocks import Header
from chain.dispatcher import Receipt
from chain.genesis import GenesisError, parse
from chain.hashing import H, merkle_root
from chain.identity import legacy_id_com
from chain.ledger import NATIVE_MINT, balance, get_mint
from chain.memstore import MemoryStore
from chain.node import Chain, CorruptStore, decode_diff, encode_diff
from chain.state import State, reverse_index_key
from chain.tree import build_root
from tests.conftest import GENESIS_CONFIG, kv_registry
from tests.support.kv_engine import DELETE, FAIL, FEE_KEY, SET, envelope

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "nvm" / "derivations.json"


def test_merkle_root_matches_rfc6962_vectors():
    v = json.loads((DATA / "rfc6962_merkle.json").read_text())
    leaves = [bytes.fromhex(x) for x in v["leaves"]]
    assert merkle_root([]).hex() == v["empty_root"]
    for n, root in enumerate(v["roots"], start=1):
        assert merkle_root(leaves[:n]).hex() == root


def test_header_round_trips_and_signature_covers_every_field(validator):
    h = Header(7, b"\x01" * 32, 123, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, validator.verify_key.encode()).sign(validator)
    assert Header.decode(h.encode()) == h
    assert h.signature_valid()
    assert h.hash == H(h.encode())
    for field, value in [("height", 8), ("parent_hash", b"\x09" * 32), ("timestamp_ms", 124), ("state_root", b"\x00" * 32)]:
        assert not replace(h, **{field: value}).signature_valid()


def test_genesis_is_deterministic_and_independent_of_the_validator(validator):
    from nacl.signing import SigningKey

    roots = []
    for key in (validator, SigningKey.generate()):
        chain = Chain(MemoryStore(), kv_registry(), key)
        gen = parse(GENESIS_CONFIG)
        header = chain.create_genesis(gen.populate, gen.timestamp_ms)
        assert header.height == 0 and header.signature_valid()
        roots.append(header.state_root)
    assert roots[0] == roots[1]


def test_genesis_funds_accounts_and_binds_legacy_addresses(mem_chain):
    s = State(mem_chain.entries)
    evm = bytes.fromhex("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    lid = legacy_id_com("evm", evm)
    assert lid.hex() == json.loads(SHARED.read_text())["legacy"][0]["id_com"][2:]
    assert balance(s, NATIVE_MINT, b"\x11" * 32) == 1000
    assert balance(s, NATIVE_MINT, lid) == 5
    assert get_mint(s, NATIVE_MINT).supply == 1005
    assert s.get(reverse_index_key("evm", evm)) == lid
    assert mem_chain.chain_id == 7231053


@pytest.mark.parametrize(
    "patch",
    [
        {"alloc": [{"id_com": "0x12", "balance": "1"}]},
        {"alloc": [{"id_com": "0x" + "11" * 32, "balance": "-1"}]},
        {"alloc": [{"id_com": "0x" + "11" * 32, "balance": str(2**64)}]},
        {"alloc": [{"legacy": "dogecoin", "address": "0x00", "balance": "1"}]},
        {"chain_id": "seven"},
        {"alloc": [{"legacy": "evm", "address": "0x" + "00" * 20, "private_key": "0x" + "11" * 32, "balance": "1"}]},
        {"alloc": [{"rev": "0x1234", "balance": "1"}]},
    ],
)
def test_bad_genesis_configs_are_refused_clearly(patch):
    with pytest.raises(GenesisError):
        parse({**GENESIS_CONFIG, **patch})


def test_blocks_chain_by_parent_hash_and_commit_roots(mem_chain):
    k1, k2 = b"\xaa" * 32, b"\xbb" * 32
    for env in (envelope(SET, k1, b"one"), envelope(SET, k2, b"two"), envelope(FAIL, k1, b"never")):
        mem_chain.admit(env)
    genesis = mem_chain.head
    block = mem_chain.produce(100)
    h = block.header
    assert h.height == 1 and h.parent_hash == genesis.hash and h.signature_valid()
    assert h.timestamp_ms > genesis.timestamp_ms
    assert [e.receipt.success for e in block.txs] == [True, True, False]
    assert block.txs[2].receipt.code == "kv_failed" and block.txs[2].receipt.fee == 1
    assert h.tx_root == merkle_root([e.tx.envelope for e in block.txs])
    assert h.receipts_root == merkle_root([e.receipt.encode() for e in block.txs])
    assert mem_chain.entries[k1] == b"one" and mem_chain.entries[FEE_KEY] == (3).to_bytes(8, "big")
    assert h.state_root == build_root(mem_chain.entries)
    # the failed transaction's diff holds only its fee
    assert [k for k, _, _ in block.txs[2].diff] == [FEE_KEY]
    assert mem_chain.store.mempool == {}


def test_max_txs_per_block_leaves_the_rest_for_the_next_block(mem_chain):
    for i in range(5):
        mem_chain.admit(envelope(SET, bytes([i]) * 32, b"v"))
    assert len(mem_chain.produce(3).txs) == 3
    assert len(mem_chain.produce(3).txs) == 2
    assert len(mem_chain.produce(3).txs) == 0


def test_empty_blocks_keep_the_root(mem_chain):
    root = mem_chain.head.state_root
    assert mem_chain.produce(10).header.state_root == root


def test_diff_encoding_round_trips():
    diff = [(b"\x01" * 32, None, b"new"), (b"\x02" * 32, b"old", None), (b"\x03" * 32, b"a", b"b")]
    assert decode_diff(encode_diff(diff)) == diff


def test_reopening_a_store_resumes_from_its_head(mem_chain, validator):
    mem_chain.admit(envelope(SET, b"\x01" * 32, b"x"))
    mem_chain.admit(envelope(DELETE, b"\x01" * 32))
    mem_chain.produce(1)
    again = Chain(mem_chain.store, kv_registry(), validator)
    assert again.head == mem_chain.head and again.entries == mem_chain.entries
    block = again.produce(10)
    assert block.header.height == 2 and b"\x01" * 32 not in again.entries


def test_a_store_whose_tree_disagrees_with_its_head_is_refused(mem_chain, validator):
    mem_chain.store.nodes.clear()
    with pytest.raises(CorruptStore):
        Chain(mem_chain.store, kv_registry(), validator)


def test_same_blocks_give_same_roots_and_receipts(validator):
    def run():
        chain = Chain(MemoryStore(), kv_registry(), validator)
        gen = parse(GENESIS_CONFIG)
        chain.create_genesis(gen.populate, gen.timestamp_ms)
        out = []
        for b in range(3):
            for i in range(10):
                op = (SET, FAIL, DELETE)[(b + i) % 3]
                chain.admit(envelope(op, bytes([i % 4]) * 32, b"v%d" % b))
            blk = chain.produce(100, timestamp_ms=1767225600000 + 1000 * (b + 1))
            out.append((blk.header.hash, [e.receipt.encode() for e in blk.txs]))
        return out

    assert run() == run()
    assert isinstance(Receipt.decode(run()[0][1][0]), Receipt)
