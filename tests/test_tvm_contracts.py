"""The TVM's smart contracts (issue 9): CreateSmartContract and TriggerSmartContract on py-evm with Tron's opcodes,
energy bought at the energy price within the fee limit, and Tron's addresses at every boundary."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import coincurve
import pytest
from eth_abi.abi import decode, encode
from eth_hash.auto import keccak
from nacl.signing import SigningKey
from rlp import decode as rlp_decode

from chain.address import tron_text
from chain.identity import legacy_id_com
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, balance, sun_balance, wei_balance
from chain.state import State
from engines.tvm.engine import CONTRACT_RESULT_CODES, ENERGY_PRICE_SUN, contract_address_of, tron_block_id
from engines.tvm.proto import field
from engines.tvm.vm import MIN_TOKEN_ID
from tests.test_tvm import BOB, CHAIN_ID, KEY, OWNER, SUN, address, refused, tron_chain

FUNDS = 100_000 * 10**6  # 100,000 TRX: a TRC-20's deployment costs tens of TRX at the energy price
TOKEN = json.loads((Path(__file__).parent / "data" / "solidity" / "Token.json").read_text())
FEE_LIMIT = 1_000 * 10**6  # 1,000 TRX
SELECTOR = {name: keccak(sig.encode())[:4] for name, sig in {
    "transfer": "transfer(address,uint256)",
    "balanceOf": "balanceOf(address)",
}.items()}  # fmt: skip


@pytest.fixture
def node():
    return tron_chain(FUNDS)


def signed(
    node, kind: int, name: str, body: bytes, fee_limit: int = FEE_LIMIT, key=KEY, expiration: int | None = None
) -> tuple[bytes, bytes]:
    """A 0x40 envelope of one contract, signed; and its txid."""
    block_id = tron_block_id(node.head.height, node.head.hash)
    contract = field(1, kind) + field(2, field(1, f"type.googleapis.com/protocol.{name}".encode()) + field(2, body))
    raw = (
        field(1, block_id[6:8])
        + field(4, block_id[8:16])
        + field(8, expiration or node.head.timestamp_ms + 60_000)
        + field(11, contract)
        + field(14, node.head.timestamp_ms)
        + (field(18, fee_limit) if fee_limit else b"")
    )
    txid = hashlib.sha256(raw).digest()
    return b"\x40" + field(1, raw) + field(2, key.sign_recoverable(txid, hasher=None)), txid


def deploy(node, initcode: bytes, owner: bytes = OWNER, key=KEY, percent: int = 100, energy_limit: int = 10**7, **kw):
    smart = field(1, owner) + field(4, initcode) + field(6, percent) if percent else field(1, owner) + field(4, initcode)
    smart += field(7, b"Probe") + field(8, energy_limit)
    return signed(node, 30, "CreateSmartContract", field(1, owner) + field(2, smart), key=key, **kw)


def trigger(node, contract: bytes, data: bytes, value: int = 0, owner: bytes = OWNER, key=KEY, **kw):
    body = field(1, owner) + field(2, contract) + (field(3, value) if value else b"") + field(4, data)
    return signed(node, 31, "TriggerSmartContract", body, key=key, **kw)


def run(node, envelope):
    node.admit(envelope)
    (e,) = node.produce(10, timestamp_ms=node.head.timestamp_ms + 3_000).txs
    return e


def token_initcode(supply: int) -> bytes:
    return bytes.fromhex(TOKEN["bytecode"][2:]) + encode(["string", "string", "uint256"], ["Tether", "USDT", supply])


def returning(runtime: bytes) -> bytes:
    """Initcode that deploys `runtime` (at most 255 bytes)."""
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


def word_of(ops: bytes) -> bytes:
    """Runtime code: run `ops` (leaving one word on the stack) and return that word."""
    return ops + bytes([0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xF3])


def probe(node, ops: bytes, data: bytes = b"") -> tuple[object, bytes]:
    env, _ = deploy(node, returning(word_of(ops)))
    created = run(node, env)
    assert created.receipt.success, created.receipt.message
    at = created.receipt.output[:21]
    e = run(node, trigger(node, at, data)[0])
    return e, at


def test_a_trc20_deploys_at_tron_s_address_and_transfers_with_its_logs(node):
    env, txid = deploy(node, token_initcode(10**12))
    e = run(node, env)
    assert e.receipt.success, e.receipt.message
    at = contract_address_of(txid, OWNER)
    assert e.receipt.output[:21] == at and at == b"\x41" + keccak(txid + OWNER)[12:]
    assert e.receipt.gas_used > 100_000 and e.receipt.fee == e.receipt.gas_used * ENERGY_PRICE_SUN * SUN
    s = State(node.entries)
    assert sun_balance(s, legacy_id_com("tron", OWNER)) == FUNDS - e.receipt.gas_used * ENERGY_PRICE_SUN

    to = BOB[1:]
    e = run(node, trigger(node, at, SELECTOR["transfer"] + encode(["address", "uint256"], ["0x" + to.hex(), 2_500]))[0])
    assert e.receipt.success, e.receipt.message
    assert decode(["bool"], e.receipt.output) == (True,)
    (log,) = e.receipt.logs
    emitter, topics, data = rlp_decode(log)
    assert emitter == at[1:] and topics[1][12:] == OWNER[1:] and topics[2][12:] == to  # 20-byte words in the VM
    assert int.from_bytes(data, "big") == 2_500


def test_a_revert_pays_its_energy_and_keeps_nothing_else(node):
    env, _ = deploy(node, token_initcode(100))
    at = run(node, env).receipt.output[:21]
    before = sun_balance(State(node.entries), legacy_id_com("tron", OWNER))
    e = run(node, trigger(node, at, SELECTOR["transfer"] + encode(["address", "uint256"], ["0x" + BOB[1:].hex(), 101]))[0])
    assert not e.receipt.success and e.receipt.code == "REVERT" and "REVERT" in CONTRACT_RESULT_CODES
    assert e.receipt.output[:4] == keccak(b"InsufficientBalance(uint256,uint256)")[:4]
    s = State(node.entries)
    assert sun_balance(s, legacy_id_com("tron", OWNER)) == before - e.receipt.gas_used * ENERGY_PRICE_SUN
    assert e.receipt.gas_used > 0


def test_the_fee_limit_caps_energy_and_out_of_energy_spends_it_all(node):
    env, _ = deploy(node, token_initcode(100), fee_limit=5_000 * ENERGY_PRICE_SUN)
    e = run(node, env)
    assert not e.receipt.success and e.receipt.code == "OUT_OF_ENERGY"
    assert e.receipt.gas_used == 5_000 and e.receipt.fee == 5_000 * ENERGY_PRICE_SUN * SUN
    s = State(node.entries)
    assert sun_balance(s, legacy_id_com("tron", OWNER)) == FUNDS - 5_000 * ENERGY_PRICE_SUN


def test_fees_go_to_the_fee_collector_so_the_supply_is_unchanged(node):
    total = lambda: sum(balance(State(node.entries), NATIVE_MINT, who) for who in (  # noqa: E731
        legacy_id_com("tron", OWNER), FEE_COLLECTOR))  # fmt: skip
    before = total()
    env, _ = deploy(node, token_initcode(100))
    assert run(node, env).receipt.success
    assert total() == before


def test_tron_opcodes_answer_as_tron_does_on_a_chain_without_trc10_tokens(node):
    push20 = lambda a: b"\x73" + a  # noqa: E731
    # ISCONTRACT: a contract yes, a wallet no
    env, _ = deploy(node, token_initcode(1))
    token = run(node, env).receipt.output[:21]
    e, _ = probe(node, push20(token[1:]) + b"\xd4")
    assert int.from_bytes(e.receipt.output, "big") == 1
    e, _ = probe(node, push20(BOB[1:]) + b"\xd4")
    assert int.from_bytes(e.receipt.output, "big") == 0
    # TOKENBALANCE of a valid id: 0; CALLTOKENVALUE and CALLTOKENID of a plain call: 0
    valid = (MIN_TOKEN_ID + 1).to_bytes(4, "big")
    e, _ = probe(node, push20(OWNER[1:]) + b"\x63" + valid + b"\xd1")
    assert e.receipt.success and int.from_bytes(e.receipt.output, "big") == 0
    for op in (b"\xd2", b"\xd3"):
        e, _ = probe(node, op)
        assert e.receipt.success and int.from_bytes(e.receipt.output, "big") == 0
    # an id at or below 1,000,000 is not a TRC-10 id: the frame fails
    e, _ = probe(node, push20(OWNER[1:]) + b"\x62" + (1000).to_bytes(3, "big") + b"\xd1")
    assert e.receipt.code == "TRANSFER_FAILED"
    # GASPRICE and BASEFEE: the energy price in sun
    for op in (b"\x3a", b"\x48"):
        e, _ = probe(node, op)
        assert int.from_bytes(e.receipt.output, "big") == ENERGY_PRICE_SUN


def test_calltoken_with_a_token_value_fails_the_call_and_with_none_calls_with_its_id(node):
    # callee: returns CALLTOKENID
    env, _ = deploy(node, returning(word_of(b"\xd3")))
    callee = run(node, env).receipt.output[1:21]
    token_id = MIN_TOKEN_ID + 7

    def caller_code(token_value: int) -> bytes:
        # CALLTOKEN(gas, to, token value, token id, in 0, 0, out 0, 32); then return [success ‖ output word]
        return (
            b"\x60\x20\x60\x00\x60\x00\x60\x00"  # out size 32, out 0, in size 0, in 0
            + b"\x63" + token_id.to_bytes(4, "big")
            + b"\x60" + bytes([token_value])
            + b"\x73" + callee
            + b"\x5a"  # GAS
            + b"\xd0"
            + b"\x60\x20\x52"  # success at 0x20
            + b"\x60\x40\x60\x00\xf3"
        )  # fmt: skip

    for value, ok, seen in ((0, 1, token_id), (5, 0, 0)):
        env, _ = deploy(node, returning(caller_code(value)))
        at = run(node, env).receipt.output[:21]
        e = run(node, trigger(node, at, b"")[0])
        assert e.receipt.success, e.receipt.message
        assert int.from_bytes(e.receipt.output[32:], "big") == ok
        assert int.from_bytes(e.receipt.output[:32], "big") == seen


def test_create2_uses_tron_s_0x41_prefix_and_create_the_transaction_s_internal_nonce(node):
    child = returning(b"\x00")  # deploys a one-byte contract
    salt = 0x1234

    def factory(op: bytes) -> bytes:
        # copy the child initcode into memory from the calldata, then CREATE/CREATE2 it and return the address
        code = b"\x36\x60\x00\x60\x00\x37"  # CALLDATACOPY(0, 0, CALLDATASIZE)
        if op == b"\xf5":
            code += b"\x61" + salt.to_bytes(2, "big") + b"\x36\x60\x00\x60\x00\xf5"
        else:
            code += b"\x36\x60\x00\x60\x00\xf0"
        return word_of(code)

    for op in (b"\xf5", b"\xf0"):
        env, _ = deploy(node, returning(factory(op)))
        at = run(node, env).receipt.output[:21]
        env, txid = trigger(node, at, child)
        e = run(node, env)
        assert e.receipt.success, e.receipt.message
        made = e.receipt.output[12:]
        if op == b"\xf5":
            assert made == keccak(at + salt.to_bytes(32, "big") + keccak(child))[12:]
        else:
            assert made == keccak(txid + (0).to_bytes(8, "big"))[12:]  # the transaction's first internal transaction


def _sign65(key: coincurve.PrivateKey, digest: bytes) -> bytes:
    sig = key.sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([sig[64] + 27])


def _staticcall_precompile(n: int) -> bytes:
    """Runtime: STATICCALL precompile `n` with the calldata, return its 32-byte output."""
    return (
        b"\x36\x60\x00\x60\x00\x37"  # calldata to memory 0
        + b"\x60\x20\x60\x00\x36\x60\x00\x60" + bytes([n]) + b"\x5a\xfa\x50"  # STATICCALL(gas, n, 0, size, 0, 32); pop
        + b"\x60\x20\x60\x00\xf3"
    )  # fmt: skip


def test_batch_validate_sign_and_validate_multi_sign_precompiles(node):
    digest = keccak(b"message")
    other = coincurve.PrivateKey(bytes(range(7, 39)))
    sigs = [_sign65(KEY, digest), _sign65(other, digest), _sign65(other, digest)]
    addrs = ["0x" + OWNER[1:].hex(), "0x" + address(other)[1:].hex(), "0x" + OWNER[1:].hex()]
    env, _ = deploy(node, returning(_staticcall_precompile(0x09)))
    at = run(node, env).receipt.output[:21]
    e = run(node, trigger(node, at, encode(["bytes32", "bytes[]", "address[]"], [digest, sigs, addrs]))[0])
    assert e.receipt.success and e.receipt.output[:3] == b"\x01\x01\x00" and not any(e.receipt.output[3:])

    env, _ = deploy(node, returning(_staticcall_precompile(0x0A)))
    at = run(node, env).receipt.output[:21]
    data = keccak(b"payload")
    signed_digest = hashlib.sha256(OWNER + (2).to_bytes(4, "big") + data).digest()
    good = encode(["address", "uint256", "bytes32", "bytes[]"], ["0x" + OWNER[1:].hex(), 2, data, [_sign65(KEY, signed_digest)]])
    bad = encode(["address", "uint256", "bytes32", "bytes[]"], ["0x" + OWNER[1:].hex(), 2, data, [_sign65(other, signed_digest)]])
    assert int.from_bytes(run(node, trigger(node, at, good)[0]).receipt.output, "big") == 1
    assert int.from_bytes(run(node, trigger(node, at, bad)[0]).receipt.output, "big") == 0


def test_a_trx_transfer_to_a_contract_runs_none_of_its_code(node):
    env, _ = deploy(node, returning(b"\x60\x00\x60\x00\xfd"))  # its code always reverts
    at = run(node, env).receipt.output[:21]
    body = field(1, OWNER) + field(2, at) + field(3, 1_000_000)
    e = run(node, signed(node, 1, "TransferContract", body, fee_limit=0)[0])
    assert e.receipt.success and e.receipt.gas_used == 0
    assert sun_balance(State(node.entries), legacy_id_com("tron", at)) == 1_000_000
    # the same through TriggerSmartContract runs the code, which reverts
    e = run(node, trigger(node, at, b"", value=1_000_000)[0])
    assert e.receipt.code == "REVERT"


def test_call_value_moves_sun_and_the_contract_sees_it_as_msg_value(node):
    env, _ = deploy(node, returning(word_of(b"\x34")))  # CALLVALUE
    at = run(node, env).receipt.output[:21]
    e = run(node, trigger(node, at, b"", value=2_000_000)[0])
    assert e.receipt.success and int.from_bytes(e.receipt.output, "big") == 2_000_000
    s = State(node.entries)
    contract = legacy_id_com("tron", at)
    assert sun_balance(s, contract) == 2_000_000 and wei_balance(s, contract) == 2_000_000 * 10**12


def test_the_origin_pays_its_share_of_energy_by_the_resource_percent(node):
    other = coincurve.PrivateKey(bytes(range(9, 41)))
    caller = address(other)
    run(node, signed(node, 1, "TransferContract", field(1, OWNER) + field(2, caller) + field(3, 50 * 10**6), fee_limit=0)[0])
    env, _ = deploy(node, returning(word_of(b"\x60\x01\x60\x00\x55\x60\x01")), percent=40, energy_limit=10**6)  # SSTORE
    at = run(node, env).receipt.output[:21]
    s = State(node.entries)
    origin_before, caller_before = (sun_balance(s, legacy_id_com("tron", a)) for a in (OWNER, caller))
    e = run(node, trigger(node, at, b"", owner=caller, key=other)[0])
    assert e.receipt.success, e.receipt.message
    used = e.receipt.gas_used
    s = State(node.entries)
    origin_paid = origin_before - sun_balance(s, legacy_id_com("tron", OWNER))
    caller_paid = caller_before - sun_balance(s, legacy_id_com("tron", caller))
    assert origin_paid + caller_paid == used * ENERGY_PRICE_SUN
    assert origin_paid == used * 60 // 100 * ENERGY_PRICE_SUN


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"fee_limit": 15_000 * 10**6 + 1}, "feeLimit"),
        ({"percent": 101}, "percent"),
        ({"energy_limit": 0}, "originEnergyLimit"),
    ],
)
def test_bad_creations_are_refused_with_tron_s_texts_and_write_nothing(node, change, reason):
    before = dict(node.entries)
    env, _ = deploy(node, token_initcode(1), **change)
    assert refused(node, env) == "CONTRACT_VALIDATE_ERROR"
    assert node.entries == before


def test_a_trigger_of_an_address_without_code_is_refused(node):
    assert refused(node, trigger(node, BOB, b"")[0]) == "CONTRACT_VALIDATE_ERROR"
    assert tron_text(BOB).startswith("T")


@pytest.mark.django_db(transaction=True)
def test_the_explorer_decodes_tron_contract_transactions_and_submit_takes_tronpy_json(client, settings, tmp_path):
    from chain.store import models as m
    from rpc.native import views
    from tests.conftest import sql_node

    alloc = [{"legacy": "tron", "address": tron_text(OWNER), "balance": str(FUNDS * SUN)}]
    chain = sql_node(settings, tmp_path, {"chain_id": CHAIN_ID, "alloc": alloc}, ("engines.native", "engines.tvm"))
    try:
        env, txid = deploy(chain, token_initcode(10**6))
        e = run(chain, env)
        at = e.receipt.output[:21]
        body = client.get(f"/tx/{txid.hex()}").content.decode()
        assert "CreateSmartContract" in body and tron_text(at) in body and "energy used" in body
        assert f"{e.receipt.gas_used:,}" in body

        data = SELECTOR["transfer"] + encode(["address", "uint256"], ["0x" + BOB[1:].hex(), 77])
        env, txid = trigger(chain, at, data, expiration=int(time.time() * 1000) + 60_000)  # the dry run runs now
        raw = env[1:]  # the protobuf: rebuild tronpy's JSON of it (to_json(): txID, raw_data, signature)
        from engines.tvm.proto import parse_transaction

        tx = parse_transaction(raw)
        block_id = tron_block_id(chain.head.height, chain.head.hash)
        tronpy_json = {
            "txID": txid.hex(),
            "raw_data": {
                "contract": [
                    {
                        "parameter": {
                            "value": {
                                "owner_address": OWNER.hex(),
                                "contract_address": at.hex(),
                                "data": data.hex(),
                                "call_token_value": 0,
                                "call_value": 0,
                                "token_id": 0,
                            },
                            "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                        },
                        "type": "TriggerSmartContract",
                    }
                ],
                "timestamp": tx.timestamp,
                "expiration": tx.expiration,
                "ref_block_bytes": block_id[6:8].hex(),
                "ref_block_hash": block_id[8:16].hex(),
                "fee_limit": FEE_LIMIT,
            },
            "signature": [s.hex() for s in tx.signatures],
            "permission": None,
        }
        page = client.post("/submit", {"raw": json.dumps(tronpy_json), "action": "preview"}).content.decode()
        assert "TriggerSmartContract" in page and "would refuse" not in page and "energy used" in page, page[-3000:]
        r = client.post("/submit", {"raw": json.dumps(tronpy_json), "action": "submit"})
        assert r.status_code == 200 and m.MempoolEntry.objects.count() == 1
        (done,) = chain.produce(10, timestamp_ms=chain.head.timestamp_ms + 3_000).txs
        assert done.receipt.success and done.tx.ids == (txid,)
        body = client.get(f"/tx/{txid.hex()}").content.decode()
        assert "TriggerSmartContract" in body and "Function selector" in body and tron_text(at) in body
        assert "0x" + SELECTOR["transfer"].hex() in body
    finally:
        views._registry.cache_clear()


def test_an_ace_identity_signs_tron_transactions_with_its_own_credential(node):
    from chain.auth import ed25519_credential
    from chain.identity import vm_address
    from engines.native.client import AceSigner
    from engines.tvm.engine import ace_digest, ace_unsigned
    from engines.tvm.proto import parse_transaction

    ace = AceSigner(b"\x11" * 32, CHAIN_ID)
    me = b"\x41" + vm_address(ace.id_com, "tron")
    node.admit(ace.create_account())
    node.produce(10, timestamp_ms=node.head.timestamp_ms + 3_000)
    pay = field(1, OWNER) + field(2, me) + field(3, 500 * 10**6)
    assert run(node, signed(node, 1, "TransferContract", pay, fee_limit=0)[0]).receipt.success
    assert sun_balance(State(node.entries), ace.id_com) == 500 * 10**6  # its Tron address is its own

    def ace_call(kind: int, name: str, body: bytes, key=ace.keys.ed25519, fee_limit: int = FEE_LIMIT) -> bytes:
        raw = parse_transaction(signed(node, kind, name, body, fee_limit=fee_limit)[0][1:]).raw_data
        unsigned = ace_unsigned(CHAIN_ID, ace.id_com, raw)
        return unsigned + ed25519_credential(ace_digest(unsigned), key)

    send = ace_call(1, "TransferContract", field(1, me) + field(2, BOB) + field(3, 7_000_000), fee_limit=0)
    e = run(node, send)
    assert e.receipt.success and e.tx.sender == ace.id_com
    assert sun_balance(State(node.entries), legacy_id_com("tron", BOB)) == 7_000_000
    # a contract it deploys and calls sees its Tron address as the caller
    smart = field(1, me) + field(4, returning(word_of(b"\x33"))) + field(6, 100) + field(8, 10**7)
    made = run(node, ace_call(30, "CreateSmartContract", field(1, me) + field(2, smart)))
    assert made.receipt.success, made.receipt.message
    at = made.receipt.output[:21]
    called = run(node, ace_call(31, "TriggerSmartContract", field(1, me) + field(2, at) + field(4, b"")))
    assert called.receipt.success and called.receipt.output[12:] == me[1:]
    # refused: a replay, a key that is not the account's, a tampered credential, an owner that is not the signer's
    assert refused(node, send) == "DUP_TRANSACTION_ERROR"
    stranger = SigningKey(b"\x05" * 32)
    assert refused(
        node, ace_call(1, "TransferContract", field(1, me) + field(2, BOB) + field(3, 1), key=stranger, fee_limit=0)
    ) == ("unknown_key")
    bad = bytearray(ace_call(1, "TransferContract", field(1, me) + field(2, BOB) + field(3, 2), fee_limit=0))
    bad[-1] ^= 1
    assert refused(node, bytes(bad)) == "SIGERROR"
    theirs = ace_call(1, "TransferContract", field(1, OWNER) + field(2, BOB) + field(3, 3), fee_limit=0)
    assert refused(node, theirs) == "CONTRACT_VALIDATE_ERROR"
