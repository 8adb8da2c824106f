"""The EVM engine over the shared state, fed transactions signed by eth-account (a peer we did not write)."""

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from nacl.signing import SigningKey

from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import parse
from chain.identity import legacy_id_com
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, balance, get_mint, wei_balance
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm import make_engine
from engines.evm.accounts import SharedAccounts
from engines.evm.engine import BASE_FEE_WEI
from engines.native import make_engine as native_engine

CHAIN_ID = 7231053
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # anvil #0
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FUNDS = 10**15  # base units = 10**24 wei
# runtime: SSTORE(0, CALLDATALOAD(0)); return SLOAD(0) as 32 bytes. init copies it out.
STORE_RUNTIME = bytes.fromhex("6000355f555f545f5260205ff3")
STORE_INIT = bytes.fromhex("600d600a5f39600d5ff3") + STORE_RUNTIME
REVERTER_RUNTIME = bytes.fromhex("5f5ffd")  # REVERT(0, 0)
REVERTER_INIT = bytes.fromhex("6003600a5f3960035ff3") + REVERTER_RUNTIME


@pytest.fixture
def node():
    validator = SigningKey(bytes(range(1, 33)))
    reg = Registry()
    reg.register(native_engine())
    reg.register(make_engine())
    chain = Chain(MemoryStore(), reg, validator)
    gen = parse({"chain_id": CHAIN_ID, "alloc": [{"legacy": "evm", "address": ALICE.address, "balance": str(FUNDS)}]})
    chain.create_genesis(gen.populate, 0)
    return chain


def sign(tx: dict, key=ALICE) -> bytes:
    base = {"chainId": CHAIN_ID, "gas": 100_000, "value": 0, "data": b""}
    if "gasPrice" not in tx:
        base |= {"maxFeePerGas": 2 * BASE_FEE_WEI, "maxPriorityFeePerGas": 10**8}
    return b"\x10" + bytes(key.sign_transaction(base | tx).raw_transaction)


def run(node, *envelopes):
    for e in envelopes:
        node.admit(e)
    return node.produce(100).txs


def wei(node, address: str) -> int:
    return SharedAccounts(State(node.entries)).get_balance(bytes.fromhex(address[2:]))


def refused(node, envelope) -> str:
    with pytest.raises(AdmissionError) as e:
        node.admit(envelope)
    return e.value.code


def test_value_transfer_moves_wei_between_identities_and_pays_fees(node):
    before = wei(node, ALICE.address)
    value = 1_234_567_890_123  # not a whole number of base units: the dust slot keeps the rest
    (e,) = run(node, sign({"nonce": 0, "to": BOB, "value": value, "gas": 21_000}))
    assert e.receipt.success and e.receipt.gas_used == 21_000
    price = BASE_FEE_WEI + 10**8
    assert wei(node, BOB) == value
    assert wei(node, ALICE.address) == before - value - 21_000 * price
    s = State(node.entries)
    bob_id = legacy_id_com("evm", bytes.fromhex(BOB[2:]))
    assert balance(s, NATIVE_MINT, bob_id) == value // 10**9  # the native view: whole base units
    assert wei_balance(s, FEE_COLLECTOR) == 21_000 * price  # base fee and tip, nothing burned
    total = sum(wei_balance(s, i) for i in (legacy_id_com("evm", bytes.fromhex(ALICE.address[2:])), bob_id, FEE_COLLECTOR))
    assert total == get_mint(s, NATIVE_MINT).supply * 10**9  # supply conserved, to the wei


def test_legacy_eip155_and_typed_transactions(node):
    txs = run(
        node,
        sign({"nonce": 0, "to": BOB, "value": 1, "gas": 21_000, "gasPrice": 2 * BASE_FEE_WEI}),
        sign(
            {
                "nonce": 1,
                "to": BOB,
                "value": 2,
                "gas": 30_000,
                "gasPrice": 2 * BASE_FEE_WEI,
                "accessList": [{"address": BOB, "storageKeys": ["0x" + "00" * 32]}],
            }
        ),
        sign({"nonce": 2, "to": BOB, "value": 3, "gas": 21_000}),
    )
    assert [e.receipt.success for e in txs] == [True, True, True]
    assert wei(node, BOB) == 6
    assert [e.tx.envelope[1] for e in txs][1:] == [0x01, 0x02]


def test_deploy_call_and_revert(node):
    (deploy,) = run(node, sign({"nonce": 0, "data": STORE_INIT, "gas": 200_000}))
    assert deploy.receipt.success
    contract = deploy.receipt.output
    assert len(contract) == 20
    accounts = SharedAccounts(State(node.entries))
    assert accounts.get_code(contract) == STORE_RUNTIME
    (call,) = run(node, sign({"nonce": 1, "to": to_checksum_address(contract), "data": (42).to_bytes(32, "big"), "gas": 100_000}))
    assert call.receipt.success and int.from_bytes(call.receipt.output, "big") == 42
    assert SharedAccounts(State(node.entries)).get_storage(contract, 0) == 42

    (d2,) = run(node, sign({"nonce": 2, "data": REVERTER_INIT, "gas": 200_000}))
    before = wei(node, ALICE.address)
    (reverted,) = run(node, sign({"nonce": 3, "to": to_checksum_address(d2.receipt.output), "value": 5, "gas": 50_000}))
    r = reverted.receipt
    assert not r.success and r.code == "reverted" and r.gas_used > 21_000
    # a reverted transaction still pays its gas and uses its nonce; the value stays
    assert wei(node, ALICE.address) == before - r.gas_used * (BASE_FEE_WEI + 10**8)
    assert SharedAccounts(State(node.entries)).get_nonce(bytes.fromhex(ALICE.address[2:])) == 4


def test_refusals(node):
    ok = sign({"nonce": 0, "to": BOB, "value": 1, "gas": 21_000})
    run(node, ok)
    assert refused(node, ok) == "nonce_too_low"  # a replay
    assert refused(node, sign({"nonce": 1, "to": BOB, "gas": 21_000, "chainId": 1})) == "wrong_chain"
    assert refused(node, sign({"nonce": 1, "to": BOB, "gas": 20_000})) == "intrinsic_gas"
    assert refused(node, sign({"nonce": 1, "to": BOB, "value": 10**40, "gas": 21_000})) == "insufficient_funds"
    assert (
        refused(node, sign({"nonce": 1, "to": BOB, "gas": 21_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 0}))
        == "fee_too_low"
    )
    assert refused(node, b"\x10" + b"\xf8\x01\x00") == "malformed"
    assert refused(node, b"\x11" + b"\x00" * 10) == "unsupported"
    tampered = bytearray(sign({"nonce": 1, "to": BOB, "gas": 21_000}))
    tampered[-5] ^= 1
    assert refused(node, bytes(tampered)) in ("bad_signature", "malformed", "insufficient_funds", "nonce_too_low")
