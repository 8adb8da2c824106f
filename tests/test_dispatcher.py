"""Routing by opcode, refusal of unknown opcodes, and failure isolation (SPEC §1)."""

import pytest

from chain.dispatcher import VM_RANGES, BlockContext, Receipt, Registry, execute_tx
from chain.errors import AdmissionError
from chain.state import State
from tests.conftest import kv_registry
from tests.support.kv_engine import CRASH, ENGINE, FAIL, FEE_KEY, SET, KvEngine, envelope

CTX = BlockContext(1, 0, 7231053, bytes(32))
KEY = b"\x07" * 32


def refused(reg: Registry, env: bytes) -> AdmissionError:
    with pytest.raises(AdmissionError) as e:
        reg.admit(env, State({}), 7231053)
    return e.value


def test_reserved_vm_ranges_without_an_engine_say_so():
    reg = kv_registry()
    for lo, hi in VM_RANGES.values():
        for op in (lo, hi):
            err = refused(reg, bytes([op]) + b"x")
            assert err.code == "engine_not_installed"
            assert f"{op:#04x}" in err.message


@pytest.mark.parametrize("op", [0x00, 0x60, 0xFF])
def test_unassigned_opcodes_are_refused(op):
    err = refused(kv_registry(), bytes([op, 1, 2]))
    assert err.code == "unassigned_opcode"


def test_empty_envelope_is_refused():
    assert refused(kv_registry(), b"").code == "empty_envelope"


def test_engine_refuses_unassigned_opcodes_inside_its_range():
    assert refused(kv_registry(), bytes([0x5F]) + KEY + b"v").code == "unassigned_opcode"


def test_routing_picks_the_engine_by_first_byte():
    tx = kv_registry().admit(envelope(SET, KEY, b"v"), State({}), 7231053)
    assert tx.opcode == SET and tx.envelope == envelope(SET, KEY, b"v")


def test_a_range_cannot_be_registered_twice_or_overlap_a_vm():
    reg = kv_registry()
    with pytest.raises(ValueError):
        reg.register(KvEngine())
    overlapping = KvEngine()
    overlapping.name, overlapping.first_opcode, overlapping.last_opcode = "x", 0x48, 0x52
    with pytest.raises(ValueError):
        Registry().register(overlapping)


def test_success_commits_writes_and_charges_the_fee():
    s = State({})
    r = execute_tx(ENGINE, ENGINE.decode(envelope(SET, KEY, b"v")), s, CTX)
    assert r.success and r.fee == 1 and r.code == ""
    assert s.get(KEY) == b"v" and s.get(FEE_KEY) == (1).to_bytes(8, "big")


@pytest.mark.parametrize(("op", "code"), [(FAIL, "kv_failed"), (CRASH, "internal_error")])
def test_failure_restores_the_snapshot_keeps_the_fee_and_records_a_reason(op, code):
    s = State({KEY: b"before"})
    r = execute_tx(ENGINE, ENGINE.decode(envelope(op, KEY, b"after")), s, CTX)
    assert not r.success and r.code == code and r.message
    assert s.get(KEY) == b"before"
    assert s.get(FEE_KEY) == (1).to_bytes(8, "big")


def test_receipt_encoding_round_trips():
    r = Receipt(False, 5, 7, "kv_failed", "asked to fail", b"\x01\x02", [b"log1", b""])
    assert Receipt.decode(r.encode()) == r
