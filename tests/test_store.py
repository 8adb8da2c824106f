"""The SQL store on the real database (PostgreSQL under `make test`): round trips, atomic blocks, mempool."""

import pytest
from django.db import DatabaseError, connection

from chain.genesis import parse
from chain.node import Chain
from chain.store import models as m
from chain.store.sql import SqlStore
from chain.tree import StateTree, build_root
from tests.conftest import GENESIS_CONFIG, kv_registry
from tests.support.kv_engine import DELETE, FAIL, SET, envelope

pytestmark = pytest.mark.django_db(transaction=True)


def sql_chain(validator) -> Chain:
    chain = Chain(SqlStore(), kv_registry(), validator)
    if chain.head is None:
        gen = parse(GENESIS_CONFIG)
        chain.create_genesis(gen.populate, gen.timestamp_ms)
    return chain


def test_make_test_runs_on_postgresql():
    import os

    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        assert connection.vendor == "postgresql"


def test_blocks_round_trip_through_sql(validator):
    chain = sql_chain(validator)
    keys = [bytes([i]) * 32 for i in range(20)]
    for i, k in enumerate(keys):
        chain.admit(envelope(SET, k, b"value %d" % i))
    chain.admit(envelope(DELETE, keys[3]))
    chain.admit(envelope(FAIL, keys[4], b"nope"))
    b1 = chain.produce(10)
    b2 = chain.produce(100)
    assert len(b1.txs) == 10 and len(b2.txs) == 12

    again = sql_chain(validator)  # a fresh node over the same database
    assert again.head == b2.header
    assert again.entries == chain.entries
    assert again.tree.root == b2.header.state_root == build_root(again.entries)
    assert keys[3] not in again.entries and again.entries[keys[4]] == b"value 4"
    assert m.MempoolEntry.objects.count() == 0
    row = m.Transaction.objects.get(envelope_id=b2.txs[-1].tx.envelope_id)
    assert not row.success and row.block_id == 2
    rebuilt = StateTree({})
    rebuilt.update(again.entries)
    stored = {p: bytes(b) for p, b in m.TreeNode.objects.values_list("path", "blob")}
    assert stored == dict(rebuilt.nodes)  # no orphaned or missing tree node


def test_the_reverse_index_is_mirrored_in_sql(validator):
    sql_chain(validator)
    from chain.identity import legacy_id_com

    wallet = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    row = m.AddressIndex.objects.get(tag="evm", address=wallet)
    assert bytes(row.id_com) == legacy_id_com("evm", wallet) and row.height == 0
    # its addresses in the other three VMs are bound too, and every state binding is mirrored
    assert set(m.AddressIndex.objects.filter(id_com=row.id_com).values_list("tag", flat=True)) == {"evm", "svm", "btc", "tron"}
    assert m.AddressIndex.objects.count() == 4 + 4  # conftest genesis: one identity, one wallet


def _fail_mempool_deletes(on: bool) -> None:
    """A database-level failure at the last write of a block: a trigger that aborts deleting mempool rows."""
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            if on:
                c.execute(
                    "CREATE FUNCTION nvm_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
                )
                c.execute(
                    "CREATE TRIGGER nvm_test_fail BEFORE DELETE ON nvm_mempool FOR EACH ROW EXECUTE FUNCTION nvm_test_fail()"
                )
            else:
                c.execute("DROP TRIGGER nvm_test_fail ON nvm_mempool")
                c.execute("DROP FUNCTION nvm_test_fail()")
        elif on:
            c.execute("CREATE TRIGGER nvm_test_fail BEFORE DELETE ON nvm_mempool BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        else:
            c.execute("DROP TRIGGER nvm_test_fail")


def test_a_failed_block_commit_writes_nothing(validator):
    chain = sql_chain(validator)
    chain.admit(envelope(SET, b"\x01" * 32, b"x"))
    tables = (m.Block, m.Transaction, m.TxAlias, m.StateEntry, m.TreeNode, m.MempoolEntry, m.AddressIndex)
    before = {t: t.objects.count() for t in tables}
    state_before = {bytes(k): bytes(v) for k, v in m.StateEntry.objects.values_list("key", "value")}
    _fail_mempool_deletes(True)
    try:
        with pytest.raises(DatabaseError, match="disk full"):
            chain.produce(10)
    finally:
        _fail_mempool_deletes(False)
    assert {t: t.objects.count() for t in tables} == before
    assert {bytes(k): bytes(v) for k, v in m.StateEntry.objects.values_list("key", "value")} == state_before
    # a node reopened after the failure produces the block again from the kept mempool entry
    again = sql_chain(validator)
    block = again.produce(10)
    assert block.header.height == 1 and again.entries[b"\x01" * 32] == b"x"


def test_admitting_the_same_envelope_twice_is_refused(validator):
    from chain.errors import AdmissionError

    chain = sql_chain(validator)
    env = envelope(SET, b"\x02" * 32, b"y")
    chain.admit(env)
    with pytest.raises(AdmissionError, match="mempool"):
        chain.admit(env)
    chain.produce(10)
    with pytest.raises(AdmissionError, match="already in a block"):
        chain.admit(env)


def test_a_duplicate_that_slipped_into_the_mempool_is_not_executed_twice(validator):
    chain = sql_chain(validator)
    env = envelope(SET, b"\x03" * 32, b"z")
    chain.admit(env)
    chain.produce(10)
    # as if admitted concurrently with the commit of its first copy
    m.MempoolEntry.objects.create(envelope_id=chain.registry.route(env).decode(env).envelope_id, opcode=env[0], envelope=env)
    assert chain.produce(10).txs == []
    assert m.MempoolEntry.objects.count() == 0


def test_head_cached_reads_last_until_the_next_block(validator):
    """RPC reads remembered per head block: the same value within a block, the new one after the next."""
    from chain.store.sql import HeadCachedEntries

    chain = sql_chain(validator)
    key = bytes([7]) * 32
    chain.admit(envelope(SET, key, b"first"))
    chain.produce(10)
    assert HeadCachedEntries()[key] == b"first"
    assert HeadCachedEntries().get(bytes([8]) * 32) is None  # absence is remembered too
    m.StateEntry.objects.filter(key=key).update(value=b"behind the node's back")
    assert HeadCachedEntries()[key] == b"first"  # no new block: the remembered value
    chain.admit(envelope(SET, key, b"second"))
    chain.admit(envelope(SET, bytes([8]) * 32, b"now here"))
    chain.produce(10)
    fresh = HeadCachedEntries()
    assert fresh[key] == b"second" and fresh[bytes([8]) * 32] == b"now here"
