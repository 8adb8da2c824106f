"""The EVM engine over the shared state, fed transactions signed by eth-account (a peer we did not write)."""

import pytest
import rlp
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
    assert refused(node, b"\x11" + b"\x00" * 10) == "malformed"
    tampered = bytearray(sign({"nonce": 1, "to": BOB, "gas": 21_000}))
    tampered[-5] ^= 1
    assert refused(node, bytes(tampered)) in ("bad_signature", "malformed", "insufficient_funds", "nonce_too_low")


def erc20_call(fn: str, types: list[str], args: list) -> bytes:
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(text=fn)[:4] + encode(types, args)


def native_erc20() -> str:
    from chain.identity import erc20_address

    return to_checksum_address(erc20_address(NATIVE_MINT))


def test_the_native_mint_answers_as_an_erc20_over_the_same_balances(node):
    from eth_abi import decode

    token = native_erc20()
    accounts = SharedAccounts(State(node.entries))
    assert accounts.get_code(bytes.fromhex(token[2:])) == b"\xfe"  # tools see a contract
    txs = run(
        node,
        sign(
            {
                "nonce": 0,
                "to": token,
                "gas": 100_000,
                "data": erc20_call("transfer(address,uint256)", ["address", "uint256"], [BOB, 7_000]),
            }
        ),
        sign({"nonce": 1, "to": token, "gas": 100_000, "data": erc20_call("symbol()", [], [])}),
        sign({"nonce": 2, "to": token, "gas": 100_000, "data": erc20_call("balanceOf(address)", ["address"], [BOB])}),
        sign(
            {
                "nonce": 3,
                "to": token,
                "gas": 100_000,
                "data": erc20_call("transfer(address,uint256)", ["address", "uint256"], [BOB, 10**18]),
            }
        ),
    )
    assert [e.receipt.success for e in txs] == [True, True, True, False]
    assert decode(["string"], txs[1].receipt.output) == ("NVM",)
    assert decode(["uint256"], txs[2].receipt.output) == (7_000,)
    assert txs[3].receipt.code == "reverted" and b"insufficient funds" in txs[3].receipt.output
    # the standard Transfer log, from the token's address
    (log,) = [rlp.decode(x) for x in txs[0].receipt.logs]
    assert log[0] == bytes.fromhex(token[2:]) and len(log[1]) == 3 and int.from_bytes(log[2], "big") == 7_000
    # the same balance in every view: 7,000 base units are 7,000 × 10^9 wei
    assert wei(node, BOB) == 7_000 * 10**9
    assert balance(State(node.entries), NATIVE_MINT, legacy_id_com("evm", bytes.fromhex(BOB[2:]))) == 7_000


def test_erc20_approve_and_transfer_from_by_another_wallet(node):
    bob = Account.from_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")  # anvil #1 = BOB
    token = native_erc20()
    carol = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    run(node, sign({"nonce": 0, "to": BOB, "value": 10**16, "gas": 21_000}))  # gas money for bob
    txs = run(
        node,
        sign(
            {
                "nonce": 1,
                "to": token,
                "gas": 100_000,
                "data": erc20_call("approve(address,uint256)", ["address", "uint256"], [BOB, 500]),
            }
        ),
        sign(
            {
                "nonce": 0,
                "to": token,
                "gas": 100_000,
                "data": erc20_call(
                    "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [ALICE.address, carol, 300]
                ),
            },
            bob,
        ),
        sign(
            {
                "nonce": 1,
                "to": token,
                "gas": 100_000,
                "data": erc20_call(
                    "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [ALICE.address, carol, 300]
                ),
            },
            bob,
        ),
    )
    assert [e.receipt.success for e in txs] == [True, True, False]
    assert b"allowance too small" in txs[2].receipt.output
    assert wei(node, carol) == 300 * 10**9


def test_precompiles_answer_or_say_they_cannot(node):
    from eth_abi import decode, encode

    from chain.identity import legacy_id_com as lid

    alice_id = lid("evm", bytes.fromhex(ALICE.address[2:]))
    txs = run(
        node,
        sign(
            {
                "nonce": 0,
                "to": "0x" + "00" * 18 + "0100",
                "gas": 100_000,
                "data": encode(["bytes32", "address"], [alice_id, ALICE.address]),
            }
        ),
        sign({"nonce": 1, "to": "0x" + "00" * 18 + "0106", "gas": 100_000, "data": b""}),
        sign({"nonce": 2, "to": "0x" + "00" * 18 + "0103", "gas": 100_000, "data": b""}),
    )
    assert txs[0].receipt.success and decode(["bool"], txs[0].receipt.output) == (True,)
    assert not txs[1].receipt.success and b"not available" in txs[1].receipt.output
    assert not txs[2].receipt.success  # zkace_batch_verify never says true for what it cannot check


def token_artifact() -> dict:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "data" / "solidity" / "Token.json").read_text())


def test_a_solidity_erc20_compiled_by_solc_deploys_transfers_and_reverts_with_its_reason(node):
    from eth_abi import decode, encode
    from eth_utils import keccak

    art = token_artifact()
    init = bytes.fromhex(art["bytecode"][2:]) + encode(["string", "string", "uint256"], ["Gold", "GLD", 10**21])
    (deploy,) = run(node, sign({"nonce": 0, "data": init, "gas": 2_000_000}))
    assert deploy.receipt.success, deploy.receipt.message
    token = to_checksum_address(deploy.receipt.output)
    assert SharedAccounts(State(node.entries)).get_code(deploy.receipt.output).hex() == art["deployedBytecode"][2:]
    txs = run(
        node,
        sign(
            {
                "nonce": 1,
                "to": token,
                "gas": 100_000,
                "data": erc20_call("transfer(address,uint256)", ["address", "uint256"], [BOB, 25]),
            }
        ),
        sign({"nonce": 2, "to": token, "gas": 100_000, "data": erc20_call("balanceOf(address)", ["address"], [BOB])}),
        sign(
            {
                "nonce": 3,
                "to": token,
                "gas": 100_000,
                "data": erc20_call("transfer(address,uint256)", ["address", "uint256"], [BOB, 10**30]),
            }
        ),
        sign(
            {
                "nonce": 4,
                "to": token,
                "gas": 100_000,
                "data": erc20_call(
                    "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [BOB, ALICE.address, 1]
                ),
            }
        ),
    )
    assert [e.receipt.success for e in txs] == [True, True, False, False]
    assert decode(["uint256"], txs[1].receipt.output) == (25,)
    transfer_log = rlp.decode(txs[0].receipt.logs[0])
    assert transfer_log[1][0] == keccak(text="Transfer(address,address,uint256)")
    # the custom error and the require message come back as the revert data
    assert txs[2].receipt.output[:4] == keccak(text="InsufficientBalance(uint256,uint256)")[:4]
    assert decode(["uint256", "uint256"], txs[2].receipt.output[4:]) == (10**21 - 25, 10**30)
    assert txs[3].receipt.output[:4] == keccak(text="Error(string)")[:4]
    assert decode(["string"], txs[3].receipt.output[4:]) == ("allowance too small",)


def test_a_high_s_signature_is_refused_as_ethereum_does(node):
    from eth.vm.forks.shanghai import ShanghaiVM

    from engines.evm.engine import SECP256K1_N

    raw = sign({"nonce": 0, "to": BOB, "value": 1, "gas": 21_000, "gasPrice": 2 * BASE_FEE_WEI})[1:]
    tx = ShanghaiVM.get_transaction_builder().decode(raw)
    # (r, n - s) with the other parity is the same signature in malleated form: Ethereum refuses it (EIP-2)
    v = tx.v + (1 if tx.v % 2 == 1 else -1)
    malleated = rlp.encode([tx.nonce, tx.gas_price, tx.gas, tx.to, tx.value, tx.data, v, tx.r, SECP256K1_N - tx.s])
    assert refused(node, b"\x10" + malleated) == "bad_signature"


def test_an_ace_identity_calls_the_evm_with_its_own_credential_as_its_derived_address(node):
    from chain.auth import ed25519_credential
    from chain.identity import vm_address
    from engines.evm.engine import ace_digest, ace_unsigned
    from engines.native.client import AceSigner

    ace = AceSigner(b"\x11" * 32, CHAIN_ID)
    me = vm_address(ace.id_com, "evm")
    # fund the identity (through its derived EVM address) and give it a native account
    run(node, sign({"nonce": 0, "to": to_checksum_address(me), "value": 10**17, "gas": 21_000}))
    run(node, ace.create_account())
    caller_runtime = bytes.fromhex("335f5260205ff3")  # return CALLER
    (deploy,) = run(node, sign({"nonce": 1, "data": bytes.fromhex("6007600a5f3960075ff3") + caller_runtime, "gas": 200_000}))

    def ace_call(nonce, to, value=0, data=b"", key=ace.keys.ed25519):
        unsigned = ace_unsigned(CHAIN_ID, ace.id_com, nonce, 100_000, 2 * BASE_FEE_WEI, 0, to, value, data)
        return b"".join([unsigned, ed25519_credential(ace_digest(unsigned), key)])

    txs = run(node, ace_call(0, deploy.receipt.output), ace_call(1, bytes.fromhex(BOB[2:]), value=123))
    assert [e.receipt.success for e in txs] == [True, True]
    assert txs[0].receipt.output[-20:] == me  # msg.sender is the identity's derived EVM address
    assert wei(node, BOB) == 123
    assert SharedAccounts(State(node.entries)).get_nonce(me) == 2
    # refused: a key that is not the account's, a replay, a tampered credential
    assert refused(node, ace_call(2, bytes.fromhex(BOB[2:]), key=SigningKey(b"\x05" * 32))) == "unknown_key"
    assert refused(node, ace_call(1, bytes.fromhex(BOB[2:]), value=1)) == "nonce_too_low"
    bad = bytearray(ace_call(2, bytes.fromhex(BOB[2:])))
    bad[-1] ^= 1
    assert refused(node, bytes(bad)) == "bad_signature"


@pytest.mark.parametrize("fork", ["shanghai", "cancun", "prague"])
def test_the_fork_is_a_setting(fork):
    """Each selectable fork runs the same transfers; Cancun's TSTORE/TLOAD exist only from Cancun on."""
    validator = SigningKey(bytes(range(1, 33)))
    reg = Registry()
    reg.register(make_engine(fork=fork))
    chain = Chain(MemoryStore(), reg, validator)
    gen = parse({"chain_id": CHAIN_ID, "alloc": [{"legacy": "evm", "address": ALICE.address, "balance": str(FUNDS)}]})
    chain.create_genesis(gen.populate, 0)
    # runtime: TSTORE(0, 7); MSTORE(0, TLOAD(0)); RETURN(0, 32)
    transient = bytes.fromhex("60075f5d5f5c5f5260205ff3")
    init = bytes.fromhex("600c600a5f39600c5ff3") + transient
    (deploy,) = run(chain, sign({"nonce": 0, "data": init, "gas": 200_000}))
    (call,) = run(chain, sign({"nonce": 1, "to": to_checksum_address(deploy.receipt.output), "gas": 100_000}))
    (pay,) = run(chain, sign({"nonce": 2, "to": BOB, "value": 5, "gas": 21_000}))
    assert deploy.receipt.success and pay.receipt.success
    if fork == "shanghai":
        assert not call.receipt.success and call.receipt.code == "evm_invalidinstruction"
    else:
        assert call.receipt.success and int.from_bytes(call.receipt.output, "big") == 7


def test_authorisation_precompiles_check_real_credentials_and_refuse_what_they_cannot(node):
    from eth_abi import decode, encode

    from chain.auth import attestation_credential, ed25519_credential, factor_id
    from chain.hashing import H as keccak  # any 32-byte digest will do
    from chain.identity import multisig_id_com
    from engines.native import tx as nt
    from engines.native.client import AceSigner

    a, b = AceSigner(b"\x11" * 32, CHAIN_ID), AceSigner(b"\x22" * 32, CHAIN_ID)
    run(node, a.create_account(), b.create_account())
    members = sorted([a.id_com, b.id_com])
    ms = multisig_id_com(2, members)
    run(node, sign({"nonce": 0, "to": to_checksum_address(vm_address_of(ms)), "value": 10**15, "gas": 21_000}))
    from engines.native.client import multisig_envelope

    run(node, multisig_envelope(CHAIN_ID, 2, members, [a, b], nt.CREATE_ACCOUNT, 0, factor=nt.multisig_factor(2, members)))
    digest = keccak(b"a message")
    good = ed25519_credential(digest, a.keys.ed25519)
    bad = ed25519_credential(keccak(b"another"), a.keys.ed25519)
    cosig = [bytes((members.index(s.id_com),)) + ed25519_credential(digest, s.keys.ed25519) for s in (a, b)]

    def call(n: int, nonce: int, data: bytes):
        (e,) = run(
            node, sign({"nonce": nonce, "to": to_checksum_address((0x100 + n).to_bytes(20, "big")), "data": data, "gas": 200_000})
        )
        return e.receipt

    checks = [
        (2, encode(["bytes32", "bytes32"], [a.id_com, factor_id(nt.ED25519, a.keys.ed25519_public)]), True),
        (2, encode(["bytes32", "bytes32"], [a.id_com, bytes(32)]), False),
        (3, encode(["bytes32[]", "bytes32[]", "bytes[]"], [[a.id_com], [digest], [good]]), True),
        (3, encode(["bytes32[]", "bytes32[]", "bytes[]"], [[a.id_com], [digest], [bad]]), False),
        (3, encode(["bytes32[]", "bytes32[]", "bytes[]"], [[b.id_com], [digest], [good]]), False),  # not b's key
        (5, encode(["bytes32", "bytes32", "bytes[]"], [ms, digest, cosig]), True),
        (5, encode(["bytes32", "bytes32", "bytes[]"], [ms, digest, cosig[:1]]), False),  # below the threshold
    ]
    nonce = 1
    for n, data, expected in checks:
        r = call(n, nonce, data)
        nonce += 1
        assert r.success and decode(["bool"], r.output) == (expected,), (n, r.message)
    # a credential the node cannot check is an error, never `true`
    for cred in (attestation_credential(digest, a.keys.attestation_key), b"\x09" + b"\x00" * 64):
        r = call(3, nonce, encode(["bytes32[]", "bytes32[]", "bytes[]"], [[a.id_com], [digest], [cred]]))
        nonce += 1
        assert not r.success and r.code == "reverted"


def vm_address_of(id_com: bytes) -> bytes:
    from chain.identity import vm_address

    return vm_address(id_com, "evm")


def test_non_canonical_rlp_is_refused_without_re_encoding(node):
    """rlp's strict decoding refuses each way of writing the same transaction differently."""
    raw = sign({"nonce": 0, "to": BOB, "value": 1, "gas": 21_000})[1:]
    fields = rlp.decode(raw[1:])
    leading_zero = raw[:1] + rlp.encode([fields[0], b"\x00" + fields[1], *fields[2:]])
    assert refused(node, b"\x10" + leading_zero) == "malformed"
    assert refused(node, b"\x10" + raw + b"\x00") == "malformed"  # trailing bytes
    legacy = sign({"nonce": 0, "to": BOB, "value": 1, "gas": 21_000, "gasPrice": 2 * BASE_FEE_WEI})[1:]
    body = rlp.decode(legacy)
    long_form = b"\xf9" + len(rlp.encode(body)[2:]).to_bytes(2, "big") + rlp.encode(body)[2:]  # long length where short fits
    assert refused(node, b"\x10" + long_form) == "malformed"
