"""The Tron HTTP API at /api/tron/ (rpc/tron), driven by tronpy against a live devnet whose genesis funds a
Tron wallet. tronpy cannot share the project's venv (it needs eth_abi<6), so it runs as small scripts under
`.venv-tron/bin/python` (tests/support/tron_client.py, made by `make .venv-tron/.installed`) that print JSON.

The flow: tronpy builds, signs, broadcasts a TRX transfer and waits for it; then reads balances, blocks,
the transaction and its info. A transaction expired, with a wrong reference block, signed by another key, or
sent twice is refused with Tron's error, and nothing is written. The receiver's sun × 10^12 is its wei in
the EVM view of the same identity.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import coincurve
import pytest
from eth_abi.abi import encode
from eth_hash.auto import keccak

from chain.address import evm_text, tron_text
from chain.identity import erc20_address, legacy_id_com, vm_address
from chain.ledger import NATIVE_MINT
from tests.support.devnet import devnet_with_genesis

ROOT = Path(__file__).resolve().parent.parent
TRON_PY = ROOT / ".venv-tron" / "bin" / "python"
SCRIPT = ROOT / "tests" / "support" / "tron_client.py"
KEY = bytes.fromhex("8a1d1c6e7f1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbc")
FUNDS_SUN = 5_000 * 10**6  # 5,000 TRX
AMOUNT_SUN = 1_234_567
BASE_PER_SUN = 1_000


def tron_address(key: bytes) -> bytes:
    public = coincurve.PrivateKey(key).public_key.format(compressed=False)[1:]
    return b"\x41" + keccak(public)[-20:]


OWNER = tron_address(KEY)
RECEIVER = tron_address(bytes(31) + b"\x2a")  # never seen by the chain before the transfer


def tronpy(*args: str) -> dict[str, Any]:
    # `make test` builds tronpy's venv; without it these tests fail (they are never skipped)
    assert TRON_PY.exists(), "tronpy's venv is missing: run `make .venv-tron/.installed` (make test does)"
    done = subprocess.run([str(TRON_PY), str(SCRIPT), *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def get(url: str) -> Any:
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The node's base URL. Its genesis (a minute old: tronpy's expiration is its clock + 60 s, which must
    be within 24 h of the head) funds one Tron wallet."""
    home = tmp_path_factory.mktemp("tron-node")
    genesis = {
        "chain_id": 7231053,
        "timestamp_ms": int(time.time() * 1000) - 60_000,
        "alloc": [{"label": "Tron", "legacy": "tron", "address": tron_text(OWNER), "balance": str(FUNDS_SUN * BASE_PER_SUN)}],
    }
    with devnet_with_genesis(Path(home), genesis) as base:
        yield base


@pytest.fixture(scope="module")
def api(node: str) -> str:
    return node + "/api/tron/"


@pytest.fixture(scope="module")
def sent(api: str) -> dict[str, Any]:
    return tronpy("transfer", api, KEY.hex(), tron_text(RECEIVER), str(AMOUNT_SUN))


def status(node: str) -> tuple[int, int]:
    s = get(node + "/api/v1/status")
    return int(s["mempool_size"]), int(s["height"])


# -- the transfer -----------------------------------------------------------------------------------
def test_tronpy_transfer_is_broadcast_and_confirmed(sent: dict[str, Any]) -> None:
    assert sent["owner"] == tron_text(OWNER)
    assert sent["owner_before_trx"] == str(FUNDS_SUN // 10**6)
    assert sent["broadcast"] == {"result": True, "txid": sent["txid"]}
    info = sent["info"]
    assert info["id"] == sent["txid"] and info["blockNumber"] >= 1 and info["blockTimeStamp"] > 0
    assert "fee" not in info and info["receipt"]["result"] == "SUCCESS" and info["receipt"]["net_usage"] > 0


def test_tronpy_reads_accounts_blocks_and_the_transaction(api: str, sent: dict[str, Any]) -> None:
    r = tronpy("read", api, tron_text(RECEIVER), sent["txid"])
    assert r["account"]["address"] == tron_text(RECEIVER) and r["account"]["balance"] == AMOUNT_SUN
    assert r["account"]["create_time"] == sent["info"]["blockTimeStamp"]
    assert r["balance_trx"] == "1.234567"
    assert r["resource"]["freeNetLimit"] == 600 and r["bandwidth"] == 600
    height = sent["info"]["blockNumber"]
    block = r["by_num"]
    assert block["block_header"]["raw_data"]["number"] == height
    assert block["blockID"][:16] == f"{height:016x}" and r["by_id"] == block
    assert [t["txID"] for t in block["transactions"]] == [sent["txid"]]
    assert r["latest"]["blockID"] == r["latest_id"] == r["solid"]["blockID"] and r["latest_number"] >= height
    tx = r["tx"]
    assert tx["txID"] == sent["txid"] and tx["ret"] == [{"contractRet": "SUCCESS"}]
    value = tx["raw_data"]["contract"][0]["parameter"]["value"]
    assert value == {"amount": AMOUNT_SUN, "owner_address": tron_text(OWNER), "to_address": tron_text(RECEIVER)}
    assert tx["raw_data"]["data"] == b"hello tron".hex() and tx["signature"] == sent["signed"]["signature"]
    assert r["info"] == r["solid_info"] == sent["info"]
    params = {p["key"]: p.get("value", 0) for p in r["params"]}
    assert params["getTransactionFee"] == 0 and params["getEnergyFee"] == 100 and params["getFreeNetLimit"] == 600
    assert params["getMaxFeeLimit"] == 15_000 * 10**6 and params["getAllowCreationOfContracts"] == 1


def test_owner_was_debited_in_whole_sun(api: str, sent: dict[str, Any]) -> None:
    owner = post(api + "wallet/getaccount", {"address": OWNER.hex()})
    assert owner["address"] == OWNER.hex() and owner["balance"] == FUNDS_SUN - AMOUNT_SUN
    assert owner["owner_permission"]["keys"] == [{"address": OWNER.hex(), "weight": 1}]
    height = sent["info"]["blockNumber"]
    block = get(api + f"wallet/getblockbynum?num={height}")  # GET with a query string, hex addresses
    assert block["block_header"]["raw_data"]["witness_address"].startswith("41")
    assert block["transactions"][0]["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"] == OWNER.hex()
    parent = get(api + f"wallet/getblockbynum?num={height - 1}")
    assert block["block_header"]["raw_data"]["parentHash"] == parent["blockID"]


def test_receiver_sun_is_its_wei(node: str, sent: dict[str, Any]) -> None:
    evm = evm_text(vm_address(legacy_id_com("tron", RECEIVER), "evm"))
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [evm, "latest"]}
    wei = int(post(node + "/rpc/eth", body)["result"], 16)
    assert wei == AMOUNT_SUN * 10**12


# -- refusals ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "code", "text"),
    [
        ("expired", "TRANSACTION_EXPIRATION_ERROR", "expired"),
        ("tapos", "TAPOS_ERROR", "Tapos check error"),
        ("badsig", "SIGERROR", "not the owner's"),
    ],
)
def test_refused_with_trons_error_and_nothing_written(
    node: str, api: str, sent: dict[str, Any], kind: str, code: str, text: str
) -> None:
    before = status(node), post(api + "wallet/getaccount", {"address": tron_text(OWNER), "visible": True})
    r = tronpy("refused", api, KEY.hex(), tron_text(RECEIVER), "1000", kind)
    answer = r["answer"]
    assert answer["code"] == code and answer["txid"] == r["txid"]
    assert text in bytes.fromhex(answer["message"]).decode()
    assert (status(node), post(api + "wallet/getaccount", {"address": tron_text(OWNER), "visible": True})) == before
    assert post(api + "wallet/gettransactionbyid", {"value": r["txid"]}) == {}


def test_duplicate_refused(node: str, api: str, sent: dict[str, Any]) -> None:
    before = status(node)
    answer = tronpy("rebroadcast", api, json.dumps(sent["signed"]))["answer"]
    assert answer["code"] == "DUP_TRANSACTION_ERROR" and answer["txid"] == sent["txid"]
    assert status(node) == before


# -- building on the node, and what is not built ----------------------------------------------------
def test_createtransaction_then_broadcast_hex(node: str, api: str, sent: dict[str, Any]) -> None:
    made = post(api + "wallet/createtransaction", {"owner_address": tron_text(OWNER), "to_address": tron_text(RECEIVER),
                                                   "amount": 5, "visible": True})  # fmt: skip
    head = post(api + "wallet/getnowblock", {})
    raw = made["raw_data"]
    assert made["visible"] is True and raw["ref_block_hash"] == head["blockID"][16:32]
    assert raw["ref_block_bytes"] == head["blockID"][12:16]
    assert raw["expiration"] > head["block_header"]["raw_data"]["timestamp"]
    sig = coincurve.PrivateKey(KEY).sign_recoverable(bytes.fromhex(made["txID"]), hasher=None)
    answer = post(api + "wallet/broadcasttransaction", {**made, "signature": [sig.hex()]})
    assert answer == {"result": True, "txid": made["txID"]}
    deadline = time.monotonic() + 30
    while post(api + "wallet/gettransactioninfobyid", {"value": made["txID"]}) == {}:
        assert time.monotonic() < deadline, "the transaction built by createtransaction was not confirmed"
        time.sleep(0.2)
    assert post(api + "wallet/gettransactionbyid", {"value": made["txID"]})["raw_data_hex"] == made["raw_data_hex"]
    poor = post(api + "wallet/createtransaction", {"owner_address": tron_text(RECEIVER), "to_address": tron_text(OWNER),
                                                   "amount": 10**15, "visible": True})  # fmt: skip
    assert "balance is not sufficient" in poor["Error"]


def test_bad_input_answers_trons_error(node: str, api: str) -> None:
    before = status(node)
    assert post(api + "wallet/getaccount", {"address": "Tnope"})["Error"].startswith("Invalid address")
    assert post(api + "wallet/getaccount", {"address": tron_text(b"\x41" + bytes(19) + b"\x01")}) == {}
    assert "num" in post(api + "wallet/getblockbynum", {"num": -1})["Error"]
    assert post(api + "wallet/getblockbynum", {"num": 10**9}) == {}
    assert post(api + "wallet/gettransactioninfobyid", {"value": "00" * 32}) == {}
    assert "value" in post(api + "wallet/gettransactionbyid", {"value": "xyz"})["Error"]
    broken = post(api + "wallet/broadcasttransaction", {"raw_data": {"contract": []}, "signature": []})
    assert broken["code"] == "OTHER_ERROR" and "contract" in bytes.fromhex(broken["message"]).decode()
    assert post(api + "wallet/broadcasthex", {"transaction": "zz"})["code"] == "OTHER_ERROR"
    req = urllib.request.Request(api + "wallet/getaccount", b"{not json", {"Content-Type": "application/json"})
    assert "invalid JSON" in json.loads(urllib.request.urlopen(req, timeout=10).read())["Error"]
    assert "not served" in post(api + "wallet/freezebalancev2", {})["Error"]
    assert status(node) == before


TOKEN = json.loads((ROOT / "tests" / "data" / "solidity" / "Token.json").read_text())
SUPPLY = 10**12


@pytest.fixture(scope="module")
def trc20(api: str, sent: dict[str, Any]) -> dict[str, Any]:
    """tronpy deploys the Solidity ERC-20 (tests/data/solidity) as a TRC-20, transfers and reads it."""
    initcode = TOKEN["bytecode"][2:] + encode(["string", "string", "uint256"], ["Tether", "USDT", SUPPLY]).hex()
    artifact = json.dumps({"abi": TOKEN["abi"], "initcode": initcode})
    return tronpy("trc20", api, KEY.hex(), tron_text(RECEIVER), artifact)


def test_tronpy_deploys_a_trc20_at_trons_contract_address(trc20: dict[str, Any]) -> None:
    deployed = trc20["deployed"]
    assert deployed["receipt"]["result"] == "SUCCESS" and deployed["receipt"]["energy_usage_total"] > 100_000
    expected = b"\x41" + keccak(bytes.fromhex(trc20["deploy_txid"]) + OWNER)[12:]
    assert deployed["contract_address"] == expected.hex() and trc20["address"] == tron_text(expected)
    assert deployed["fee"] == deployed["receipt"]["energy_fee"] == deployed["receipt"]["energy_usage_total"] * 100
    got = trc20["getcontract"]
    assert got["contract_address"] == trc20["address"] and got["origin_address"] == tron_text(OWNER)
    assert got["bytecode"] == TOKEN["deployedBytecode"][2:] and got["name"] == "Tether"
    names = {e["name"] for e in got["abi"]["entrys"] if e.get("type") == "Function"}
    assert {"transfer", "balanceOf", "approve", "transferFrom"} <= names
    assert {"transfer", "balanceOf"} <= set(trc20["functions"])  # tronpy read the ABI back
    assert trc20["contract_account"]["type"] == "Contract"


def test_tronpy_transfers_a_trc20_and_reads_balanceof_by_constant_calls(trc20: dict[str, Any]) -> None:
    assert trc20["balance_before"] == SUPPLY
    info = trc20["sent_info"]
    assert info["receipt"]["result"] == "SUCCESS" and info["receipt"]["energy_usage_total"] > 20_000
    assert info["contract_address"] == bytes.fromhex(trc20["deployed"]["contract_address"]).hex()
    assert info["contractResult"] == [(1).to_bytes(32, "big").hex()]
    (log,) = info["log"]
    assert log["address"] == trc20["deployed"]["contract_address"][2:]  # a log's address: 20 bytes, as Tron shows it
    assert log["topics"][0] == keccak(b"Transfer(address,address,uint256)").hex()
    assert log["topics"][2] == (bytes(12) + RECEIVER[1:]).hex() and int(log["data"], 16) == 2_500
    assert trc20["balance_owner"] == SUPPLY - 2_500 and trc20["balance_to"] == 2_500
    assert trc20["sent_tx"]["ret"] == [{"contractRet": "SUCCESS"}]
    assert trc20["sent_tx"]["raw_data"]["contract"][0]["type"] == "TriggerSmartContract"
    assert trc20["estimate"] > 20_000


def test_a_reverted_trc20_transfer_is_in_a_block_with_its_energy_paid(trc20: dict[str, Any]) -> None:
    info = trc20["reverted_info"]
    assert info["result"] == "FAILED" and info["receipt"]["result"] == "REVERT" and info["fee"] > 0
    error = bytes.fromhex(info["contractResult"][0])
    assert error[:4] == keccak(b"InsufficientBalance(uint256,uint256)")[:4]
    assert trc20["constant_revert"].startswith("TvmError")


def test_the_owner_paid_exactly_the_energy_fees_in_sun(trc20: dict[str, Any]) -> None:
    fees = sum(trc20[k]["fee"] for k in ("deployed", "sent_info", "reverted_info"))
    assert fees == sum(trc20[k]["receipt"]["energy_usage_total"] * 100 for k in ("deployed", "sent_info", "reverted_info"))
    assert trc20["account"]["balance"] == trc20["start_sun"] - fees


def test_a_mints_trc20_view_is_the_one_ledger_for_tronpy(api: str, sent: dict[str, Any]) -> None:
    """The native mint seen as a TRC-20 (its ERC-20 view's address in Tron form): tronpy reads its ABI, its
    balanceOf is the owner's balance in base units, and a transfer through it moves the same balance TRX shows."""
    view = tron_text(b"\x41" + erc20_address(NATIVE_MINT))
    r = tronpy("mintview", api, KEY.hex(), tron_text(RECEIVER), view)
    assert r["symbol"] == "NVM" and r["decimals"] == 9
    assert r["info"]["receipt"]["result"] == "SUCCESS" and r["info"]["receipt"]["energy_usage_total"] > 0
    # the owner's one balance paid both the tokens and, in TRX, the energy
    assert r["after"]["owner"] == r["before"]["owner"] - 5_000_000 - r["info"]["fee"] * BASE_PER_SUN
    assert r["after"]["to"] == r["before"]["to"] + 5_000_000
    # one balance: what the view says in base units is what getaccount says in TRX (1 TRX = 10^9 base units)
    assert round(float(r["to_account"]) * 10**6) == r["after"]["to"] // BASE_PER_SUN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_contract_endpoints_answer_bad_requests_in_trons_dialect(node: str, api: str) -> None:
    before = status(node)
    owner, stranger = tron_text(OWNER), tron_text(RECEIVER)
    bad_abi = post(api + "wallet/deploycontract", {"owner_address": owner, "abi": "{not json", "bytecode": "00", "visible": True})
    assert "abi is not JSON" in bad_abi["Error"]
    too_dear = {"owner_address": owner, "abi": [], "bytecode": "6000", "fee_limit": 15_000 * 10**6 + 1, "visible": True}
    too_dear |= {"origin_energy_limit": 1, "consume_user_resource_percent": 100}
    assert post(api + "wallet/deploycontract", too_dear)["Error"].startswith("Contract validate error : feeLimit")
    call = {"owner_address": owner, "contract_address": stranger, "function_selector": "f()", "visible": True}
    for path, text in (
        ("wallet/triggersmartcontract", "No contract or not a smart contract"),
        ("wallet/triggerconstantcontract", "Smart contract is not exist."),
    ):
        answer = post(api + path, call)["result"]
        assert answer["code"] == "CONTRACT_VALIDATE_ERROR" and bytes.fromhex(answer["message"]).decode() == text
    assert "function_selector" in post(api + "wallet/triggersmartcontract", {**call, "function_selector": 7})["Error"]
    assert post(api + "wallet/getcontract", {"value": stranger, "visible": True}) == {}
    assert "Invalid value" in post(api + "wallet/getcontract", {"value": "T123"})["Error"]
    assert status(node) == before
