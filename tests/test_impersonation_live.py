"""Impersonation against a live devnet (issue 10): web3.py's `anvil_impersonateAccount` then `eth_sendTransaction`
from an address whose key nobody here holds — a wallet and a contract — mined and found by its hash; the Tron API
takes an unsigned transaction of an impersonated Tron owner; the native API and the CLI switch it; stopping it,
and any address never impersonated, is refused with a clear error and nothing written."""

from __future__ import annotations

import json
import urllib.request

import pytest
from base58 import b58decode_check
from web3 import Web3

from chain.address import tron_text
from tests.support.devnet import devnet_fixture
from tests.test_devctl import call

WHALE = "0x28C6c06298d514Db089934071355E5743bf21d60"  # never funded by genesis, no key: impersonation only
BOB = Web3.to_checksum_address("0x0000000000000000000000000000000000000b0b")
TRON_WHALE = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"  # genesis's Tron wallet: sent from here without its key
TRON_TO = tron_text(b"\x41" + bytes(19) + b"\x77")


base = devnet_fixture()


@pytest.fixture(scope="module")
def w3(base):
    return Web3(Web3.HTTPProvider(f"{base}/rpc/eth", request_kwargs={"timeout": 60}))


def status(base: str) -> tuple[int, int]:
    s = call(base, "/api/v1/status")[1]
    return int(s["height"]), int(s["mempool_size"])


def test_send_transaction_from_an_impersonated_address_as_on_a_local_evm_devnet(w3, base):
    refused = w3.provider.make_request("eth_sendTransaction", [{"from": WHALE, "to": BOB, "value": "0x1"}])
    assert "no signer" in refused["error"]["message"]
    assert w3.provider.make_request("anvil_setBalance", [WHALE, hex(10**21)])["result"] is None
    assert w3.provider.make_request("anvil_impersonateAccount", [WHALE])["result"] is None
    before = w3.eth.get_balance(BOB)
    tx_hash = w3.eth.send_transaction({"from": WHALE, "to": BOB, "value": 10**18})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1 and receipt["from"] == WHALE and receipt["gasUsed"] == 21_000
    assert w3.eth.get_balance(BOB) == before + 10**18
    tx = w3.eth.get_transaction(tx_hash)
    assert tx["from"] == WHALE and tx["nonce"] == 0
    assert int.from_bytes(tx["r"], "big") == int.from_bytes(tx["s"], "big") == 0  # no signature: impersonated
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert [t["hash"] for t in block["transactions"]] == [tx_hash]
    # a second one takes the next nonce; hardhat's name stops it
    assert w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": WHALE, "to": BOB, "value": 1}))["status"] == 1
    assert w3.eth.get_transaction_count(WHALE) == 2
    assert w3.provider.make_request("hardhat_stopImpersonatingAccount", [WHALE])["result"] is None
    height, pool = status(base)
    again = w3.provider.make_request("eth_sendTransaction", [{"from": WHALE, "to": BOB, "value": "0x1"}])
    assert "no signer" in again["error"]["message"] and status(base) == (height, pool)


def test_an_impersonated_contract_sends_despite_having_code(w3, base):
    runtime = bytes.fromhex("00")
    contract = Web3.to_checksum_address("0x00000000000000000000000000000000000c0de1")
    w3.provider.make_request("anvil_setCode", [contract, "0x" + runtime.hex()])
    w3.provider.make_request("anvil_setBalance", [contract, hex(10**18)])
    w3.provider.make_request("anvil_impersonateAccount", [contract])
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": contract, "to": BOB, "value": 5}))
    assert receipt["status"] == 1


def test_auto_impersonation_takes_every_address(w3, base):
    stranger = Web3.to_checksum_address("0x00000000000000000000000000000000000a11ce")
    w3.provider.make_request("anvil_setBalance", [stranger, hex(10**18)])
    assert "no signer" in w3.provider.make_request("eth_sendTransaction", [{"from": stranger, "to": BOB}])["error"]["message"]
    assert w3.provider.make_request("anvil_autoImpersonateAccount", [True])["result"] is None
    assert w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": stranger, "to": BOB}))["status"] == 1
    w3.provider.make_request("anvil_autoImpersonateAccount", [False])


def test_the_tron_api_takes_an_unsigned_transaction_of_an_impersonated_owner(base):
    api = f"{base}/api/tron/wallet/"

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(api + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req, timeout=30).read())

    unsigned = post(
        "createtransaction", {"owner_address": TRON_WHALE, "to_address": TRON_TO, "amount": 2_000_000, "visible": True}
    )
    refused = post("broadcasttransaction", {**unsigned, "signature": []})
    assert refused["code"] == "SIGERROR"
    status_code, answer = call(base, "/api/v1/dev/impersonate", {"address": TRON_WHALE})
    assert status_code == 200 and answer["tron"] == [b58decode_check(TRON_WHALE).hex()]
    sent = post("broadcasttransaction", {**unsigned, "signature": []})
    assert sent == {"result": True, "txid": unsigned["txID"]}
    call(base, "/api/v1/dev/mine", {"blocks": 1})
    account = post("getaccount", {"address": TRON_TO, "visible": True})
    assert account["balance"] == 2_000_000
    info = post("gettransactioninfobyid", {"value": unsigned["txID"]})
    assert info["receipt"]["result"] == "SUCCESS"
    call(base, "/api/v1/dev/impersonate", {"address": TRON_WHALE, "stop": True})
    again = post("createtransaction", {"owner_address": TRON_WHALE, "to_address": TRON_TO, "amount": 1, "visible": True})
    assert post("broadcasttransaction", {**again, "signature": []})["code"] == "SIGERROR"


@pytest.mark.django_db
def test_impersonation_is_refused_outside_devnet_mode(client, settings):
    """Every interface says so, and an unsigned transaction that names the address is not taken either."""
    settings.NVM_DEVNET = False
    r = client.post("/api/v1/dev/impersonate", {"address": WHALE}, content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "devnet_off"
    for method, params in (("anvil_impersonateAccount", [WHALE]), ("anvil_autoImpersonateAccount", [True])):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        answer = client.post("/rpc/eth", body, content_type="application/json").json()
        assert "devnet mode" in answer["error"]["message"]
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [{"from": WHALE, "to": BOB}]}
    assert "no signer" in client.post("/rpc/eth", body, content_type="application/json").json()["error"]["message"]
    assert client.get("/devnet").status_code == 403
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []}
    assert client.post("/rpc/eth", body, content_type="application/json").json()["result"] == []  # no key unlocked
    dev = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction"}
    dev["params"] = [{"from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "to": BOB}]
    assert "no signer" in client.post("/rpc/eth", dev, content_type="application/json").json()["error"]["message"]
    dev.update(method="personal_sign", params=["0x00", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"])
    assert "no key for" in client.post("/rpc/eth", dev, content_type="application/json").json()["error"]["message"]


def test_the_genesis_dev_accounts_are_unlocked_as_on_a_local_evm_devnet(w3):
    """eth_accounts names anvil's #0–#2 (their keys are in the genesis); eth_sendTransaction from one is signed with
    its key — a real signature that recovers to it."""
    assert w3.eth.accounts == [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    ]
    sender = w3.eth.accounts[0]
    before = w3.eth.get_balance(BOB)
    tx_hash = w3.eth.send_transaction({"from": sender, "to": BOB, "value": 777})
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1
    assert w3.eth.get_balance(BOB) == before + 777
    tx = w3.eth.get_transaction(tx_hash)
    # a signed raw transaction (0x10): its sender is what its signature recovers to
    assert int.from_bytes(tx["r"], "big") != 0 and tx["from"] == sender


TYPED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}, {"name": "tags", "type": "string[]"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "n-VM test", "chainId": 7231053},
    "message": {"to": "0x0000000000000000000000000000000000000b0b", "contents": "hello", "tags": ["a", "b"]},
}


def test_the_dev_accounts_sign_messages_typed_data_and_transactions_as_anvils_do(w3):
    """eth_sign / personal_sign (EIP-191), eth_signTypedData_v4 (EIP-712, arrays included) and eth_signTransaction,
    checked by eth-account: each signature recovers to the account; an address without a key is refused."""
    from eth_account import Account
    from eth_account.messages import encode_defunct, encode_typed_data

    sender = w3.eth.accounts[1]
    signed = w3.eth.sign(sender, text="gm")  # web3 sends eth_sign with the text as hex
    assert Account.recover_message(encode_defunct(text="gm"), signature=signed) == sender
    for message in ("0x" + b"gm".hex(), "gm"):  # MetaMask's personal_sign takes hex or text
        sig = w3.provider.make_request("personal_sign", [message, sender])["result"]
        assert Account.recover_message(encode_defunct(text="gm"), signature=sig) == sender
    for method in ("eth_signTypedData_v4", "eth_signTypedData"):
        for typed in (TYPED, json.dumps(TYPED)):  # an object, or the JSON string MetaMask sends
            sig = w3.provider.make_request(method, [sender, typed])["result"]
            assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=sig) == sender
            assert int(sig[-2:], 16) in (27, 28)
    raw = w3.provider.make_request("eth_signTransaction", [{"from": sender, "to": BOB, "value": "0x5"}])["result"]
    assert Account.recover_transaction(raw) == sender
    tx_hash = w3.eth.send_raw_transaction(raw)  # what it signed is a transaction the node takes
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1
    for method, params in (("personal_sign", ["0x00", WHALE]), ("eth_signTypedData_v4", [WHALE, TYPED])):
        answer = w3.provider.make_request(method, params)
        assert "no key for" in answer["error"]["message"], answer
    answer = w3.provider.make_request("eth_signTypedData_v4", [sender, {"types": {}}])
    assert answer["error"]["code"] == -32602, answer
