"""Impersonation (issue 10): a devnet accepts unsigned transactions from an address it impersonates — the EVM's
0x1F (an EIP-1559 transaction with a zero signature, after its sender) and the TVM's 0x4F (a Tron raw_data) —
and nothing else does. The engines refuse both unless the node runs in devnet mode."""

from __future__ import annotations

import hashlib

import pytest
from eth.vm.forks.shanghai import ShanghaiVM
from eth_hash.auto import keccak
from nacl.signing import SigningKey

from chain.address import tron_text
from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import parse
from chain.identity import legacy_id_com
from chain.ledger import sun_balance, wei_balance
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm import make_engine as evm_engine
from engines.evm.engine import BASE_FEE_WEI, impersonated_envelope
from engines.tvm import make_engine as tvm_engine
from engines.tvm.engine import tron_block_id
from engines.tvm.proto import field

CHAIN_ID = 7231053
WHALE = bytes.fromhex("28c6c06298d514db089934071355e5743bf21d60")  # no key here: only impersonation moves it
BOB = bytes.fromhex("0000000000000000000000000000000000000b0b")
TRON_WHALE = b"\x41" + bytes(range(20))
builder = ShanghaiVM.get_transaction_builder()


def make_node(impersonation: bool) -> Chain:
    reg = Registry()
    evm, tvm = evm_engine(), tvm_engine()
    evm.impersonation = tvm.impersonation = impersonation
    reg.register(evm)
    reg.register(tvm)
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(range(5, 37))))
    alloc = [
        {"legacy": "evm", "address": "0x" + WHALE.hex(), "balance": str(10**12)},
        {"legacy": "tron", "address": tron_text(TRON_WHALE), "balance": str(10**12)},
    ]
    chain.create_genesis(parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate, 1_700_000_000_000)
    return chain


def evm_tx(nonce: int, to: bytes, value: int, data: bytes = b"", gas: int = 21_000) -> bytes:
    tx = builder.new_dynamic_fee_transaction(CHAIN_ID, nonce, 0, 2 * BASE_FEE_WEI, gas, to, value, data, [], 0, 0, 0)
    return impersonated_envelope(WHALE, tx.encode())


def tron_raw(node: Chain, to: bytes, sun: int) -> bytes:
    block_id = tron_block_id(node.head.height, node.head.hash)
    body = field(1, TRON_WHALE) + field(2, to) + field(3, sun)
    contract = field(1, 1) + field(2, field(1, b"type.googleapis.com/protocol.TransferContract") + field(2, body))
    return field(1, block_id[6:8]) + field(4, block_id[8:16]) + field(8, node.head.timestamp_ms + 60_000) + field(11, contract)


def run(node: Chain, envelope: bytes):
    node.admit(envelope)
    (e,) = node.produce(10, timestamp_ms=node.head.timestamp_ms + 3_000).txs
    return e


def test_unsigned_transactions_of_an_impersonated_address_run_in_devnet_mode():
    node = make_node(impersonation=True)
    env = evm_tx(0, BOB, 12_345)
    e = run(node, env)
    assert e.receipt.success, e.receipt.message
    assert e.tx.ids == (keccak(env[1:]),)  # its Ethereum hash: keccak(sender ‖ transaction)
    assert wei_balance(State(node.entries), legacy_id_com("evm", BOB)) == 12_345
    # Tron: the raw_data alone, its txid as Tron's
    raw = tron_raw(node, b"\x41" + BOB, 4_000_000)
    e = run(node, b"\x4f" + raw)
    assert e.receipt.success and e.tx.ids == (hashlib.sha256(raw).digest(),)
    assert sun_balance(State(node.entries), legacy_id_com("tron", b"\x41" + BOB)) == 4_000_000


def test_an_impersonated_contract_may_send_despite_eip_3607():
    node = make_node(impersonation=True)
    init = bytes.fromhex("6001600c60003960016000f300")  # deploys the one-byte code 0x00
    made = run(node, evm_tx(0, b"", 0, init, gas=100_000))
    assert made.receipt.success
    contract = bytes(made.receipt.output)
    assert run(node, evm_tx(1, contract, 10**17)).receipt.success  # give it gas money
    tx = builder.new_dynamic_fee_transaction(
        CHAIN_ID, 1, 0, 2 * BASE_FEE_WEI, 21_000, BOB, 5, b"", [], 0, 0, 0
    )  # EIP-161: a contract starts at nonce 1
    e = run(node, impersonated_envelope(contract, tx.encode()))  # a signed one would be refused (EIP-3607)
    assert e.receipt.success and wei_balance(State(node.entries), legacy_id_com("evm", BOB)) == 5


def test_outside_devnet_mode_they_are_refused_and_nothing_is_written():
    node = make_node(impersonation=False)
    before = dict(node.entries)
    for envelope in (evm_tx(0, BOB, 1), b"\x4f" + tron_raw(node, b"\x41" + BOB, 1)):
        with pytest.raises(AdmissionError) as refused:
            node.admit(envelope)
        assert refused.value.code == "devnet_off" and "devnet mode" in refused.value.message
    assert node.entries == before and node.store.pending(10) == []


def test_a_signed_looking_transaction_is_not_an_impersonated_one():
    node = make_node(impersonation=True)
    tx = builder.new_dynamic_fee_transaction(CHAIN_ID, 0, 0, 2 * BASE_FEE_WEI, 21_000, BOB, 1, b"", [], 1, 5, 7)
    with pytest.raises(AdmissionError) as refused:
        node.admit(impersonated_envelope(WHALE, tx.encode()))
    assert refused.value.code == "malformed"
