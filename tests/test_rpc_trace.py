"""debug_traceTransaction: committed EVM transactions run again on the state rebuilt from before them.

In-process over the test database: a chain on the SQL store with the native and EVM engines, blocks made
under the test's control, `/rpc/eth` called through Django's test client.
"""

import itertools
import json
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from nacl.signing import SigningKey

from chain.dispatcher import Receipt, Registry
from chain.genesis import parse
from chain.identity import erc20_address
from chain.ledger import NATIVE_MINT
from chain.node import Chain
from chain.store import models as m
from chain.store.sql import SqlStore
from engines.evm import make_engine as make_evm
from engines.native import make_engine as make_native
from engines.native.client import AceSigner
from rpc.eth import trace as trace_module
from rpc.native import views

pytestmark = pytest.mark.django_db(transaction=True)

CHAIN_ID = 7231053
GWEI = 10**9
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # anvil #0
BOB = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"  # anvil #1
# SSTORE(0, CALLDATALOAD(0)); return SLOAD(0)
STORE_RUNTIME = bytes.fromhex("6000355f555f545f5260205ff3")
STORE_OPS = ["PUSH1", "CALLDATALOAD", "PUSH0", "SSTORE", "PUSH0", "SLOAD", "PUSH0", "MSTORE", "PUSH1", "PUSH0", "RETURN"]
# old = SLOAD(0); SSTORE(0, CALLDATALOAD(0)); return old
SWAP_RUNTIME = bytes.fromhex("5f545f355f555f5260205ff3")
LOOP_RUNTIME = bytes.fromhex("5b5f56")  # JUMPDEST; JUMP(0): until the gas runs out


def deployer(runtime: bytes) -> bytes:
    """Init code that returns `runtime` (CODECOPY from after this 10-byte prefix)."""
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0A, 0x5F, 0x39, 0x60, n, 0x5F, 0xF3]) + runtime


def forwarder(target: str) -> bytes:
    """Runtime: CALL `target` with all the calldata and all the gas; return its 32-byte answer."""
    return (
        bytes.fromhex("365f5f37")  # CALLDATACOPY(0, 0, CALLDATASIZE)
        + bytes.fromhex("60205f365f5f")  # retSize 32, retOffset 0, argsSize, argsOffset 0, value 0
        + b"\x73"
        + bytes.fromhex(target[2:])  # PUSH20 target
        + bytes.fromhex("5af150")  # GAS; CALL; POP
        + bytes.fromhex("60205ff3")  # RETURN(0, 32)
    )


def word(n: int) -> str:
    return f"{n:064x}"


def token() -> dict:
    return json.loads((Path(__file__).parent / "data" / "solidity" / "Token.json").read_text())


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def error_string(reason: str) -> bytes:
    return selector("Error(string)") + encode(["string"], [reason])


@pytest.fixture
def chain(settings, tmp_path):
    settings.NVM_HOME = tmp_path
    settings.NVM_ENGINES = ["engines.native", "engines.evm"]
    views._registry.cache_clear()
    validator = SigningKey(bytes(range(32)))
    registry = Registry()
    registry.register(make_native(validator, tmp_path))
    registry.register(make_evm(validator, tmp_path, settings.NVM_EVM_FORK))
    c = Chain(SqlStore(), registry, validator)
    gen = parse({"chain_id": CHAIN_ID, "alloc": [{"legacy": "evm", "address": ALICE.address, "balance": str(10**15)}]})
    c.create_genesis(gen.populate, 1767225600000)
    yield c
    views._registry.cache_clear()


class Wallet:
    """Alice, signing raw Ethereum transactions into the chain's mempool."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.nonce = 0

    def send(self, to: str | None = None, data: bytes = b"", value: int = 0, gas: int = 300_000) -> str:
        tx = {"chainId": CHAIN_ID, "nonce": self.nonce, "value": value, "gas": gas, "gasPrice": GWEI, "data": data}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        raw = bytes(ALICE.sign_transaction(tx).raw_transaction)
        self.chain.admit(b"\x10" + raw)
        self.nonce += 1
        return "0x" + keccak(raw).hex()


@pytest.fixture
def alice(chain):
    return Wallet(chain)


def rpc(client, method: str, *params: object) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    r = client.post("/rpc/eth", body, content_type="application/json")
    assert r.status_code == 200
    return r.json()


def trace(client, tx_hash: str, config: dict | None = None) -> dict:
    answer = rpc(client, "debug_traceTransaction", tx_hash, *([config] if config is not None else []))
    assert "result" in answer, answer
    return answer["result"]


def trace_error(client, tx_hash: str, config: dict | None = None) -> dict:
    answer = rpc(client, "debug_traceTransaction", tx_hash, *([config] if config is not None else []))
    assert "error" in answer, answer
    return answer["error"]


def receipt(client, tx_hash: str) -> dict:
    return rpc(client, "eth_getTransactionReceipt", tx_hash)["result"]


def deploy(client, chain, alice, init_code: bytes) -> str:
    h = alice.send(data=init_code, gas=3_000_000)
    chain.produce(100)
    found = receipt(client, h)
    assert found["status"] == "0x1"
    return found["contractAddress"]


def assert_gas_runs_down(logs: list[dict]) -> None:
    """Within one call frame, each opcode starts with the gas the one before left."""
    for a, b in itertools.pairwise(logs):
        if a["depth"] == b["depth"] and a["op"] not in ("CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"):
            assert b["gas"] == a["gas"] - a["gasCost"], (a, b)


# -- the struct logger -------------------------------------------------------------------------------
def test_a_value_transfer_runs_no_opcode(client, chain, alice):
    h = alice.send(to=BOB, value=5, gas=21_000)
    chain.produce(100)
    assert trace(client, h) == {"gas": 21_000, "failed": False, "returnValue": "", "structLogs": []}
    assert trace(client, h, {"tracer": "callTracer"}) == {
        "type": "CALL",
        "from": ALICE.address.lower(),
        "to": BOB,
        "value": "0x5",
        "gas": "0x5208",
        "gasUsed": "0x5208",
        "input": "0x",
    }


def test_a_deploy_and_a_call_show_each_opcode_its_gas_stack_and_storage(client, chain, alice):
    creation = alice.send(data=deployer(STORE_RUNTIME))
    chain.produce(100)
    contract = receipt(client, creation)["contractAddress"]
    deployed = trace(client, creation)
    assert [s["op"] for s in deployed["structLogs"]] == ["PUSH1", "PUSH1", "PUSH0", "CODECOPY", "PUSH1", "PUSH0", "RETURN"]
    assert deployed["returnValue"] == STORE_RUNTIME.hex() and deployed["failed"] is False
    assert deployed["gas"] == int(receipt(client, creation)["gasUsed"], 16)

    h = alice.send(to=contract, data=(42).to_bytes(32, "big"), gas=100_000)
    chain.produce(100)
    result = trace(client, h)
    logs = result["structLogs"]
    assert [s["op"] for s in logs] == STORE_OPS and {s["depth"] for s in logs} == {1}
    assert [s["pc"] for s in logs] == [0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert logs[0]["gas"] == 100_000 - (21_000 + 16 + 31 * 4) and logs[0]["stack"] == []  # intrinsic gas: 1 non-zero byte
    assert_gas_runs_down(logs)
    sstore, sload = logs[3], logs[5]
    assert sstore["stack"] == [word(42), word(0)] and sstore["storage"] == {word(0): word(42)}
    assert sstore["gasCost"] == 22_100  # a cold slot from zero to non-zero
    assert sload["storage"] == {word(0): word(42)} and sload["gasCost"] == 100  # now warm
    assert all("storage" not in s for i, s in enumerate(logs) if i not in (3, 5))
    assert all("memory" not in s for s in logs)  # memory is asked for
    assert result == {"gas": int(receipt(client, h)["gasUsed"], 16), "failed": False, "returnValue": word(42), "structLogs": logs}

    with_memory = trace(client, h, {"enableMemory": True})["structLogs"]
    assert with_memory[0]["memory"] == [] and with_memory[-1]["memory"] == [word(42)]
    assert with_memory[7]["gasCost"] == 6  # MSTORE: 3, and one word of new memory
    bare = trace(client, h, {"disableStack": True, "disableStorage": True})["structLogs"]
    assert all("stack" not in s and "storage" not in s for s in bare)
    assert [s["op"] for s in trace(client, h, {"limit": 3})["structLogs"]] == STORE_OPS[:3]


def test_a_nested_call_is_a_child_in_the_call_tracer_and_deeper_steps_in_the_struct_logs(client, chain, alice):
    store = deploy(client, chain, alice, deployer(STORE_RUNTIME))
    caller = deploy(client, chain, alice, deployer(forwarder(store)))
    h = alice.send(to=caller, data=(7).to_bytes(32, "big"))
    chain.produce(100)

    top = trace(client, h, {"tracer": "callTracer"})
    assert top["type"] == "CALL" and top["from"] == ALICE.address.lower() and top["to"] == caller
    assert top["gas"] == hex(300_000) and top["gasUsed"] == receipt(client, h)["gasUsed"]
    assert top["input"] == "0x" + word(7) and top["output"] == "0x" + word(7) and "error" not in top
    [child] = top["calls"]
    assert child["type"] == "CALL" and child["from"] == caller and child["to"] == store and child["value"] == "0x0"
    assert child["input"] == "0x" + word(7) and child["output"] == "0x" + word(7) and "calls" not in child
    assert 22_100 < int(child["gasUsed"], 16) < int(child["gas"], 16)
    assert trace(client, h, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}}).get("calls") is None

    logs = trace(client, h)["structLogs"]
    inner = [s for s in logs if s["depth"] == 2]
    assert [s["op"] for s in inner] == STORE_OPS
    i = next(i for i, s in enumerate(logs) if s["op"] == "CALL")
    call, after = logs[i], logs[i + 1 + len(inner)]
    assert call["depth"] == 1 and call["stack"][-2] == store[2:].rjust(64, "0")  # the address under the gas
    assert call["gasCost"] == 2_600 + int(child["gas"], 16)  # geth's CALL cost: the cold account and the gas handed on
    assert inner[0]["gas"] == int(child["gas"], 16)
    assert after["op"] == "POP" and after["depth"] == 1
    assert after["gas"] == call["gas"] - call["gasCost"] + int(child["gas"], 16) - int(child["gasUsed"], 16)
    assert_gas_runs_down(logs)


def test_a_revert_reports_its_reason_and_its_logs_are_dropped(client, chain, alice):
    compiled = token()
    args = encode(["string", "string", "uint256"], ["Token", "TOK", 10**6])
    contract = deploy(client, chain, alice, bytes.fromhex(compiled["bytecode"][2:]) + args)
    sent = alice.send(to=contract, data=selector("transfer(address,uint256)") + encode(["address", "uint256"], [BOB, 5]))
    allowance_needed = encode(["address", "address", "uint256"], [ALICE.address, BOB, 1])
    refused = alice.send(to=contract, data=selector("transferFrom(address,address,uint256)") + allowance_needed)
    chain.produce(100)
    assert receipt(client, refused)["status"] == "0x0"

    reverted = trace(client, refused)
    assert reverted["failed"] is True and reverted["gas"] == int(receipt(client, refused)["gasUsed"], 16)
    assert reverted["returnValue"] == error_string("allowance too small").hex()
    assert reverted["structLogs"][-1]["op"] == "REVERT" and "error" not in reverted["structLogs"][-1]
    top = trace(client, refused, {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
    assert top["error"] == "execution reverted" and top["revertReason"] == "allowance too small"
    assert top["output"] == "0x" + error_string("allowance too small").hex() and "logs" not in top and "calls" not in top

    transfer = trace(client, sent, {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
    assert transfer["output"] == "0x" + word(1) and "error" not in transfer
    alice_topic, bob_topic = ("0x" + a[2:].lower().rjust(64, "0") for a in (ALICE.address, BOB))
    assert transfer["logs"] == [
        {
            "address": contract,
            "topics": ["0x" + keccak(b"Transfer(address,address,uint256)").hex(), alice_topic, bob_topic],
            "data": "0x" + word(5),
            "position": "0x0",
        }
    ]
    assert "logs" not in trace(client, sent, {"tracer": "callTracer"})


def test_the_native_mints_erc20_view_traces_as_a_call_with_its_log_and_revert_reason(client, chain, alice):
    view = "0x" + erc20_address(NATIVE_MINT).hex()
    transfer = selector("transfer(address,uint256)") + encode(["address", "uint256"], [BOB, 3])
    via = deploy(client, chain, alice, deployer(forwarder(view)))
    sent = alice.send(to=view, data=transfer)
    forwarded = alice.send(to=via, data=transfer)  # the forwarding contract holds nothing: the view refuses
    chain.produce(100)

    assert trace(client, sent) == {
        "gas": int(receipt(client, sent)["gasUsed"], 16),
        "failed": False,
        "returnValue": word(1),
        "structLogs": [],  # a native contract runs no opcode
    }
    top = trace(client, sent, {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
    assert top["to"] == view and top["output"] == "0x" + word(1)
    [log] = top["logs"]
    assert log["address"] == view and log["data"] == "0x" + word(3) and log["position"] == "0x0"

    top = trace(client, forwarded, {"tracer": "callTracer"})
    assert receipt(client, forwarded)["status"] == "0x1" and "error" not in top
    [child] = top["calls"]
    assert child["from"] == via and child["to"] == view and child["input"] == "0x" + transfer.hex()
    assert child["error"] == "execution reverted" and child["revertReason"] == "insufficient balance"
    assert child["output"] == "0x" + error_string("insufficient balance").hex()


def test_the_state_before_an_older_transaction_is_rebuilt_from_the_later_diffs(client, chain, alice):
    contract = deploy(client, chain, alice, deployer(SWAP_RUNTIME))
    newcomer = AceSigner(bytes([9]) * 32, CHAIN_ID)

    def swap(value: int) -> str:
        return alice.send(to=contract, data=value.to_bytes(32, "big"), gas=100_000)

    in_block = [swap(1), swap(0), swap(5)]  # the same slot set, cleared, set again in one block
    chain.admit(newcomer.create_account())  # a native transaction in between
    chain.produce(100)
    swap(7)
    chain.produce(100)
    swap(9)
    chain.produce(100)

    for h, old, new in zip(in_block, (0, 1, 0), (1, 0, 5), strict=True):
        result = trace(client, h)
        sload, sstore = (next(s for s in result["structLogs"] if s["op"] == op) for op in ("SLOAD", "SSTORE"))
        assert result["returnValue"] == word(old)
        assert sload["storage"] == {word(0): word(old)} and sstore["storage"] == {word(0): word(new)}
        assert trace(client, h, {"tracer": "callTracer"})["output"] == "0x" + word(old)
    cleared = next(s for s in trace(client, in_block[1])["structLogs"] if s["op"] == "SSTORE")
    assert cleared["gasCost"] == 2_900 and cleared["refund"] == 4_800  # 1 → 0 in a slot SLOAD warmed: EIP-3529's refund
    assert rpc(client, "eth_getStorageAt", contract, "0x0", "latest")["result"] == "0x" + word(9)  # nothing was written


# -- errors ------------------------------------------------------------------------------------------
def test_errors_in_json_rpc_shape(client, chain, alice):
    h = alice.send(to=BOB, value=1, gas=21_000)
    native = chain.admit(AceSigner(bytes([7]) * 32, CHAIN_ID).create_account())
    chain.produce(100)

    assert trace_error(client, "0x" + "ab" * 32) == {"code": -32000, "message": "transaction not found"}
    assert trace_error(client, "0x1234")["code"] == -32602
    err = trace_error(client, "0x" + native.envelope_id.hex())
    assert err["code"] == -32000 and "not an EVM transaction" in err["message"] and "native runtime" in err["message"]
    assert trace_error(client, h, {"tracer": "prestateTracer"})["code"] == -32602
    assert trace_error(client, h, {"timeout": "soon"})["code"] == -32602
    assert trace_error(client, h, {"limit": -1})["code"] == -32602
    assert trace_error(client, h, "callTracer")["code"] == -32602


def test_work_is_bounded(client, chain, alice, monkeypatch):
    loop = deploy(client, chain, alice, deployer(LOOP_RUNTIME))
    spin = alice.send(to=loop, gas=100_000)
    chain.produce(100)
    assert receipt(client, spin)["status"] == "0x0"  # it ran out of gas
    assert trace(client, spin, {"limit": 4, "disableStack": True})["structLogs"][-1]["op"] == "JUMPDEST"
    spun = trace(client, spin, {"disableStack": True})
    assert spun["failed"] is True and spun["returnValue"] == "" and spun["gas"] == 100_000
    assert spun["structLogs"][-1]["error"] == "out of gas" and all("error" not in s for s in spun["structLogs"][:-1])
    err = trace_error(client, spin, {"timeout": "1ns"})
    assert err["code"] == -32000 and "execution timeout" in err["message"]
    monkeypatch.setattr(trace_module, "MAX_STRUCT_LOGS", 100)
    assert trace_error(client, spin)["code"] == -32005
    assert trace(client, spin, {"tracer": "callTracer"})["error"] == "out of gas"

    chain.produce(100)
    chain.produce(100)
    monkeypatch.setattr(trace_module, "MAX_BLOCKS_BACK", 1)
    err = trace_error(client, spin, {"tracer": "callTracer"})
    assert err["code"] == -32005 and "2 blocks old" in err["message"]
    monkeypatch.setattr(trace_module, "MAX_BLOCKS_BACK", 10_000)
    monkeypatch.setattr(trace_module, "MAX_UNDONE_WRITES", 2)
    err = trace_error(client, spin, {"tracer": "callTracer"})
    assert err["code"] == -32005 and "undo more than 2 writes" in err["message"]


def test_a_run_that_differs_from_the_block_is_an_error_not_a_trace(client, chain, alice):
    h = alice.send(to=BOB, value=1, gas=21_000)
    chain.produce(100)
    row = m.Transaction.objects.get(aliases__alias=bytes.fromhex(h[2:]))
    stored = Receipt.decode(bytes(row.receipt))
    stored.gas_used += 1
    m.Transaction.objects.filter(pk=row.pk).update(receipt=stored.encode())
    err = trace_error(client, h)
    assert err["code"] == -32000 and "did not reproduce its receipt" in err["message"] and "21001" in err["message"]
