"""Malformed requests to the chain dialects' interfaces are answered in the dialect and write nothing: JSON-RPC
error objects with geth's codes on /rpc/eth, java-tron's `{"Error": …}` on the Tron HTTP API — never an internal
error, and never a control or a block the node cannot honour. Against a live devnet (devnet mode, on-demand
blocks), as wallets and scripts meet it."""

from __future__ import annotations

import json

import pytest

from tests.support.devnet import devnet_fixture
from tests.test_rpc_eth import post, rpc, rpc_error

ALICE = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # anvil #0, funded by the shipped genesis
INVALID_PARAMS, SERVER_ERROR = -32602, -32000
U64_MAX = 2**64 - 1
WEI_PER_BASE = 10**9


base = devnet_fixture()


@pytest.fixture(scope="module")
def eth(base):
    return f"{base}/rpc/eth"


def height(eth: str) -> int:
    return int(rpc(eth, "eth_blockNumber")["result"], 16)


def status(base: str) -> dict:
    code, body = post(f"{base}/api/v1/status", b"", method="GET")
    assert code == 200 and isinstance(body, dict), body
    return body


# -- Ethereum devnet controls --------------------------------------------------------------------
def test_a_timestamp_no_block_header_can_hold_is_refused(eth):
    """A header's milliseconds are a signed 64-bit column: a later next timestamp was once stored, and the block
    producer then failed on it."""
    for method, value in (("evm_setNextBlockTimestamp", "0x" + "ff" * 10), ("evm_mine", 2**64), ("evm_mine", -1)):
        error = rpc_error(eth, method, value)
        assert error["code"] == INVALID_PARAMS and "timestamp" in error["message"], (method, error)
    before = height(eth)
    assert rpc(eth, "evm_mine")["result"] == "0x0"  # the next block is an ordinary one
    assert height(eth) == before + 1


def test_mining_with_an_interval_refuses_a_count_it_cannot_mine(eth):
    """With an interval, blocks are mined one at a time: a count of 0 or less once answered success having mined
    nothing, and a huge one never ended."""
    before = height(eth)
    for method in ("anvil_mine", "hardhat_mine"):
        for blocks in (-1, 0, "0x0"):
            error = rpc_error(eth, method, blocks, 1)
            assert error["code"] == SERVER_ERROR and "mine between 1 and" in error["message"], (method, blocks, error)
        assert rpc_error(eth, method, 1, -5)["code"] == INVALID_PARAMS
    assert height(eth) == before


def test_null_is_no_snapshot_id_and_no_number_of_seconds(eth):
    """null once stood for 1: evm_revert(null) reverted to snapshot 1, evm_increaseTime(null) moved the clock."""
    snapshot = rpc(eth, "evm_snapshot")["result"]
    before = height(eth)
    rpc(eth, "evm_mine")
    for method in ("evm_revert", "evm_increaseTime", "evm_setIntervalMining", "evm_setNextBlockTimestamp"):
        error = rpc_error(eth, method, None)
        assert error["code"] == INVALID_PARAMS, (method, error)
    assert height(eth) == before + 1  # not reverted
    assert rpc(eth, "evm_revert", snapshot)["result"] is True
    assert height(eth) == before


def test_reset_takes_an_options_object_or_nothing(eth):
    rpc(eth, "evm_mine")
    before = height(eth)
    for method in ("anvil_reset", "hardhat_reset"):
        for options in (0, False, [], ""):
            error = rpc_error(eth, method, options)
            assert error["code"] == INVALID_PARAMS, (method, options, error)
    assert height(eth) == before  # nothing was reset


def test_a_balance_the_ledger_cannot_hold_is_refused_and_nothing_is_written(base, eth):
    """Beyond u128 wei the edit did not encode (an internal error); beyond the u64 supply of base units it was
    written into a block as a failed transaction while the method answered success."""
    before = height(eth)
    balance = rpc(eth, "eth_getBalance", ALICE, "latest")["result"]
    for wei in (2**128, 2**256 - 1, (U64_MAX + 1) * WEI_PER_BASE):
        error = rpc_error(eth, "anvil_setBalance", ALICE, hex(wei))
        assert error["code"] == INVALID_PARAMS and "balance" in error["message"], (wei, error)
    error = rpc_error(eth, "hardhat_setBalance", ALICE, hex(U64_MAX * WEI_PER_BASE))
    assert error["code"] == SERVER_ERROR and "supply" in error["message"], error
    assert height(eth) == before
    assert status(base)["mempool_size"] == 0
    assert rpc(eth, "eth_getBalance", ALICE, "latest")["result"] == balance
    assert rpc(eth, "anvil_setBalance", ALICE, hex(7 * 10**18))["result"] is None  # an ordinary one still works
    assert rpc(eth, "eth_getBalance", ALICE, "latest")["result"] == hex(7 * 10**18)


def test_a_filter_id_that_is_not_hex_is_refused(eth):
    """A lone surrogate once reached the cache key and failed there (-32603)."""
    for method in ("eth_getFilterChanges", "eth_getFilterLogs"):
        for filter_id in ("0x\ud800", "0xzz", "0x"):
            error = rpc_error(eth, method, filter_id)
            assert error["code"] == INVALID_PARAMS, (method, filter_id, error)
    for filter_id in ("\ud800", "0x\udfff1", "nope"):
        assert rpc(eth, "eth_uninstallFilter", filter_id)["result"] is False  # geth: no such filter
    filter_id = rpc(eth, "eth_newBlockFilter")["result"]
    assert rpc(eth, "eth_uninstallFilter", filter_id.upper().replace("0X", "0x"))["result"] is True


# -- Tron ----------------------------------------------------------------------------------------
def test_tron_text_with_a_lone_surrogate_is_a_request_error(base):
    """JSON's `\\ud800` escape decodes to a string no text field can be encoded from: the node once failed on it
    ("the node failed to answer this request")."""
    owner = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"  # the genesis's Tron dev wallet
    requests = {
        "triggersmartcontract": {"owner_address": owner, "contract_address": owner, "function_selector": "\ud800()"},
        "triggerconstantcontract": {"owner_address": owner, "contract_address": owner, "function_selector": "f(\udc00)"},
        "deploycontract": {"owner_address": owner, "abi": [], "bytecode": "00", "name": "\ud800"},
    }
    requests["estimateenergy"] = requests["triggerconstantcontract"]
    abi = [{"type": "function", "name": "\ud800", "inputs": []}]
    requests["deploycontract (abi)"] = {"owner_address": owner, "abi": abi, "bytecode": "00", "visible": True}
    for name, body in requests.items():
        code, answer = post(f"{base}/api/tron/wallet/{name.split()[0]}", json.dumps(body))
        assert code == 200 and isinstance(answer, dict), (name, answer)
        assert "surrogate" in answer.get("Error", ""), (name, answer)
