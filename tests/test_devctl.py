"""Devnet controls for mining and time (issue 10, first part): web3.py's `make_request` with the cheat methods
local EVM devnets answer, the native API, and a Bitcoin time lock opened by moving the clock — against a live
devnet (devnet mode is `make devnet`'s default); refused with a clear error when devnet mode is off."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from bitcoinutils.constants import TYPE_ABSOLUTE_TIMELOCK
from bitcoinutils.keys import P2wshAddress, PrivateKey
from bitcoinutils.script import Script
from bitcoinutils.setup import setup as btc_setup
from bitcoinutils.transactions import Locktime, Sequence, Transaction, TxInput, TxOutput, TxWitnessInput
from web3 import Web3

from tests.support.devnet import free_port, start_devnet, stop_devnet, wait_ready

btc_setup("regtest")
WALLET_KEY = PrivateKey("cTg4nG8mNSaQr1KV1a3erZaAGk3deLnKivYnfEkKaSJrvnja6Pjd")  # genesis: Bitcoin P2WPKH dev wallet
WALLET = WALLET_KEY.get_public_key().get_segwit_address()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    port = free_port()
    home = tmp_path_factory.mktemp("devnet")
    proc = start_devnet(home, port, NVM_ON_DEMAND="1")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, home, url, timeout_s=60, min_height=0)
        yield url
    finally:
        stop_devnet(proc, home)


@pytest.fixture(scope="module")
def w3(base):
    return Web3(Web3.HTTPProvider(f"{base}/rpc/eth", request_kwargs={"timeout": 60}))


def call(base: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_mine_blocks_now_as_a_local_evm_devnet_does(w3, base):
    height = w3.eth.block_number
    assert w3.provider.make_request("evm_mine", [])["result"] == "0x0"
    assert w3.eth.block_number == height + 1
    w3.provider.make_request("anvil_mine", ["0x5"])
    assert w3.eth.block_number == height + 6
    status, body = call(base, "/api/v1/dev/mine", {"blocks": 2})
    assert status == 200 and body["height"] == height + 8
    assert call(base, "/api/v1/dev/mine", {"blocks": 0})[1]["error"]["code"] == "bad_count"


def test_set_the_next_timestamp_and_move_the_clock(w3, base):
    latest = w3.eth.get_block("latest")
    target = latest["timestamp"] + 1_000
    assert w3.provider.make_request("evm_setNextBlockTimestamp", [target])["result"] is None
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_block("latest")["timestamp"] == target
    offset = w3.provider.make_request("evm_increaseTime", [7_200])["result"]
    assert offset >= 7_200
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_block("latest")["timestamp"] >= int(time.time()) + 7_200 - 5  # the clock moved two hours
    past = w3.provider.make_request("evm_setNextBlockTimestamp", [target])  # before the head: refused
    assert past["error"]["code"] == -32000 and "after the head" in past["error"]["message"]


def test_interval_mining_and_back_to_on_demand(w3, base):
    w3.provider.make_request("evm_setIntervalMining", [100])
    start = w3.eth.block_number
    deadline = time.monotonic() + 10
    while w3.eth.block_number < start + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert w3.eth.block_number >= start + 3  # empty blocks, on their own
    w3.provider.make_request("evm_setAutomine", [True])
    time.sleep(0.3)
    settled = w3.eth.block_number
    time.sleep(0.5)
    assert w3.eth.block_number == settled  # on demand again: no transaction, no block
    status, body = call(base, "/api/v1/dev")
    assert status == 200 and body["mode"] == "on_demand" and body["devnet"] is True


def test_moving_the_clock_opens_a_bitcoin_time_lock(w3, base):
    """A P2WSH output locked with CHECKLOCKTIMEVERIFY to a time two days ahead: refused now, spent once the clock
    moves past it (Bitcoin's lock-time sees block times)."""
    unlock_at = int(time.time()) + 2 * 86_400
    script = Script([unlock_at, "OP_CHECKLOCKTIMEVERIFY", "OP_DROP", WALLET_KEY.get_public_key().to_hex(), "OP_CHECKSIG"])
    locked = P2wshAddress.from_script(script)
    status, utxos = call(base, f"/api/btc/address/{WALLET.to_string()}/utxo")
    (coin,) = utxos
    pay = Transaction([TxInput(coin["txid"], 0)], [TxOutput(50_000_000, locked.to_script_pub_key())], has_segwit=True)
    pay.outputs.append(TxOutput(coin["value"] - 50_000_000 - 10_000, WALLET.to_script_pub_key()))
    sig = WALLET_KEY.sign_segwit_input(pay, 0, WALLET_KEY.get_public_key().get_address().to_script_pub_key(), coin["value"])
    pay.witnesses.append(TxWitnessInput([sig, WALLET_KEY.get_public_key().to_hex()]))
    post(base, pay.serialize())
    wait_for_utxo(base, locked.to_string())

    def spend() -> str:
        (c,) = call(base, f"/api/btc/address/{locked.to_string()}/utxo")[1]
        lock = Sequence(TYPE_ABSOLUTE_TIMELOCK, unlock_at)
        txin = TxInput(c["txid"], 0, sequence=lock.for_input_sequence())
        tx = Transaction(
            [txin],
            [TxOutput(c["value"] - 10_000, WALLET.to_script_pub_key())],
            has_segwit=True,
            locktime=Locktime(unlock_at).for_transaction(),
        )
        tx.witnesses.append(TxWitnessInput([WALLET_KEY.sign_segwit_input(tx, 0, script, c["value"]), script.to_hex()]))
        return tx.serialize()

    status, text = post(base, spend())
    assert status == 400 and "non-final" in text  # two days early
    w3.provider.make_request("evm_increaseTime", [3 * 86_400])
    w3.provider.make_request("evm_mine", [])  # a block at the new time: lock-times now see it
    status, txid = post(base, spend())
    assert status == 200 and len(txid) == 64


def post(base: str, raw_hex: str) -> tuple[int, str]:
    req = urllib.request.Request(f"{base}/api/btc/tx", data=raw_hex.encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for_utxo(base: str, address: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if call(base, f"/api/btc/address/{address}/utxo")[1]:
            return
        time.sleep(0.05)
    raise AssertionError("the payment did not land")


@pytest.mark.django_db(transaction=True)
def test_controls_are_refused_outside_devnet_mode(client, settings):
    settings.NVM_DEVNET = False
    r = client.get("/api/v1/dev")
    assert r.status_code == 403 and r.json()["error"]["code"] == "devnet_off"
    assert client.post("/api/v1/dev/mine", {}, content_type="application/json").json()["error"]["code"] == "devnet_off"
    body = {"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}
    answer = client.post("/rpc/eth", body, content_type="application/json").json()
    assert answer["error"]["code"] == -32000 and "devnet mode" in answer["error"]["message"]
