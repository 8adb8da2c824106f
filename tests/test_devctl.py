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
    sent = post(base, pay.serialize())
    assert sent[0] == 200, sent
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
    assert status == 400 and "non-final" in text, (status, text)  # two days early
    w3.provider.make_request("evm_increaseTime", [3 * 86_400])
    w3.provider.make_request("evm_mine", [])  # a block at the new time: lock-times now see it
    status, txid = post(base, spend())
    assert status == 200 and len(txid) == 64, (status, txid)


def post(base: str, raw_hex: str) -> tuple[int, str]:
    req = urllib.request.Request(f"{base}/api/btc/tx", data=raw_hex.encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for_utxo(base: str, address: str) -> None:
    deadline = time.monotonic() + 60
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


# -- snapshots: every VM's transactions undone at once ------------------------------------------------
SOLANA0 = "a01c67efb5cb8f62f15907a9fcf124c73d2695c8a9a31f21c05742a31ca1dc72"  # genesis Solana #0's seed
TRON0 = "15f0bbb1774be40b7a8d7965d637f324bda2f711fc5726a3dcc19585c6950954"  # genesis Tron wallet's key
ANVIL0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def everything(base: str, w3) -> dict:
    """What a snapshot must bring back: the head, the root, every VM's view of its dev wallets."""
    _, status = call(base, "/api/v1/status")
    ids = ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "oeYf6KAJkLYhBuR8CiGc6L4D4Xtfepr85fuDgA9kq96", WALLET.to_string()]
    ids.append("TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6")
    balances = {i: call(base, f"/api/v1/identity/{i}")[1]["balances"][0]["base_units"] for i in ids}
    return {"height": status["height"], "root": status["state_root"], "balances": balances, "mempool": status["mempool_size"]}


def one_of_each_vm(base: str, w3) -> None:
    """A transfer in each VM, each signed by its own chain's library, each in a block."""
    import base64
    import hashlib

    import coincurve
    from eth_account import Account
    from eth_hash.auto import keccak
    from solders.hash import Hash
    from solders.keypair import Keypair
    from solders.message import Message
    from solders.pubkey import Pubkey
    from solders.system_program import TransferParams, transfer
    from solders.transaction import Transaction as SolTx

    from engines.tvm.engine import tron_block_id
    from engines.tvm.proto import field

    anvil = Account.from_key(ANVIL0)
    tx = {"chainId": 7231053, "nonce": w3.eth.get_transaction_count(anvil.address, "pending"), "to": "0x" + "11" * 20}
    tx |= {"value": 10**18, "gas": 21_000, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 1}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(anvil.sign_transaction(tx).raw_transaction), 30)

    sol = Keypair.from_seed(bytes.fromhex(SOLANA0))
    latest = json.loads(post_json(f"{base}/rpc/solana", {"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash"}))
    blockhash = Hash.from_string(latest["result"]["value"]["blockhash"])
    ix = transfer(TransferParams(from_pubkey=sol.pubkey(), to_pubkey=Pubkey(bytes(range(32))), lamports=10**9))
    raw = base64.b64encode(bytes(SolTx([sol], Message([ix], sol.pubkey()), blockhash))).decode()
    sent = {"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": [raw, {"encoding": "base64"}]}
    assert "result" in json.loads(post_json(f"{base}/rpc/solana", sent))
    w3.provider.make_request("evm_mine", [])

    (coin,) = call(base, f"/api/btc/address/{WALLET.to_string()}/utxo")[1]
    pay = Transaction([TxInput(coin["txid"], 0)], [TxOutput(coin["value"] - 10_000, WALLET.to_script_pub_key())], has_segwit=True)
    sig = WALLET_KEY.sign_segwit_input(pay, 0, WALLET_KEY.get_public_key().get_address().to_script_pub_key(), coin["value"])
    pay.witnesses.append(TxWitnessInput([sig, WALLET_KEY.get_public_key().to_hex()]))
    assert post(base, pay.serialize())[0] == 200

    key = coincurve.PrivateKey(bytes.fromhex(TRON0))
    owner = b"\x41" + keccak(key.public_key.format(compressed=False)[1:])[-20:]
    _, now = call(base, "/api/v1/status")  # the head (its clock may have been moved: expire after its time)
    head_hash, head_height = bytes.fromhex(now["hash"][2:]), now["height"]
    block_id = tron_block_id(head_height, head_hash)
    body = field(1, owner) + field(2, b"\x41" + bytes(range(20))) + field(3, 1_000_000)
    contract = field(1, 1) + field(2, field(1, b"type.googleapis.com/protocol.TransferContract") + field(2, body))
    tron_raw = field(1, block_id[6:8]) + field(4, block_id[8:16]) + field(8, now["timestamp_ms"] + 60_000) + field(11, contract)
    tron = b"\x40" + field(1, tron_raw) + field(2, key.sign_recoverable(hashlib.sha256(tron_raw).digest(), hasher=None))
    sent_tron = call(base, "/api/v1/tx", {"envelope": tron.hex()})
    assert sent_tron[0] == 202, sent_tron
    w3.provider.make_request("evm_mine", [])


def post_json(url: str, body: dict) -> str:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode()


def test_a_snapshot_and_revert_undo_transactions_in_every_vm(w3, base):
    deadline = time.monotonic() + 20
    while call(base, "/api/v1/status")[1]["mempool_size"] and time.monotonic() < deadline:
        time.sleep(0.05)  # what earlier tests sent is in a block (a waiting one would come back with the snapshot)
    before = everything(base, w3)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    one_of_each_vm(base, w3)
    moved = everything(base, w3)
    assert moved["height"] > before["height"] and moved["root"] != before["root"]
    assert all(moved["balances"][k] != before["balances"][k] for k in before["balances"])  # every VM's wallet paid
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    assert everything(base, w3) == before  # the same head, root, balances and mempool
    assert w3.provider.make_request("evm_revert", [snap])["result"] is False  # used up
    status, body = call(base, "/api/v1/dev/revert", {"id": int(snap, 16)})  # the REST API says so with its 404
    assert status == 404 and body["error"]["code"] == "no_such_snapshot" and "used up" in body["error"]["message"]
    # the chain goes on from there
    w3.provider.make_request("evm_mine", [])
    assert everything(base, w3)["height"] == before["height"] + 1


def test_reset_returns_to_genesis(w3, base):
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.block_number > 0
    assert w3.provider.make_request("anvil_reset", [])["result"] is None
    assert w3.eth.block_number == 0
    status, body = call(base, "/api/v1/dev/reset", {})
    assert status == 200 and body == {"height": 0}


def test_state_edits_as_local_evm_devnets_make_them(w3, base):
    who = Web3.to_checksum_address("0x" + "ab" * 20)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    assert w3.provider.make_request("anvil_setBalance", [who, hex(12_345 * 10**18 + 7)])["result"] is None
    assert w3.eth.get_balance(who) == 12_345 * 10**18 + 7  # exactly: the wei below a base unit are kept
    w3.provider.make_request("hardhat_setNonce", [who, "0x2a"])
    assert w3.eth.get_transaction_count(who) == 42
    w3.provider.make_request("anvil_setCode", [who, "0x6000355f555f545f5260205ff3"])
    assert w3.eth.get_code(who).hex() == "6000355f555f545f5260205ff3"
    w3.provider.make_request("anvil_setStorageAt", [who, "0x1", "0x" + "00" * 31 + "05"])
    assert int.from_bytes(w3.eth.get_storage_at(who, 1), "big") == 5
    # the same balance in every VM's unit: the identity's lamports
    solana = {"jsonrpc": "2.0", "id": 1, "method": "getBalance"}
    from chain.address import svm_text
    from chain.identity import legacy_id_com, vm_address

    sol_address = svm_text(vm_address(legacy_id_com("evm", bytes.fromhex(who[2:])), "svm"))
    lamports = json.loads(post_json(f"{base}/rpc/solana", {**solana, "params": [sol_address]}))["result"]["value"]
    assert lamports == 12_345 * 10**9
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True  # edits are transactions: undone too
    assert w3.eth.get_balance(who) == 0 and w3.eth.get_code(who) == b""


def test_set_the_balance_of_any_vms_address_in_its_unit(w3, base):
    status, body = call(
        base, "/api/v1/dev/balance", {"address": "oeYf6KAJkLYhBuR8CiGc6L4D4Xtfepr85fuDgA9kq96", "amount": "5000000000"}
    )
    assert status == 200 and body["height"] > 0
    lamports = {"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": ["oeYf6KAJkLYhBuR8CiGc6L4D4Xtfepr85fuDgA9kq96"]}
    assert json.loads(post_json(f"{base}/rpc/solana", lamports))["result"]["value"] == 5 * 10**9
    status, body = call(base, "/api/v1/dev/balance", {"address": WALLET.to_string(), "amount": "123456789", "unit": "vm"})
    (coin,) = call(base, f"/api/btc/address/{WALLET.to_string()}/utxo")[1]
    assert coin["value"] == 123_456_789  # sats
    assert (
        call(base, "/api/v1/dev/balance", {"address": WALLET.to_string(), "amount": "15", "unit": "base"})[1]["error"]["code"]
        == "bad_amount"
    )
    assert call(base, "/api/v1/dev/balance", {"address": "nope", "amount": "1"})[1]["error"]["code"] == "bad_address"


def test_the_same_edit_twice_is_two_edits(w3, base):
    """A test's setup sets the same balance before each case: the second equal edit is an edit of its own, not a
    duplicate of the first (the edit nonce, engines/dev)."""
    who = Web3.to_checksum_address("0x" + "cd" * 20)
    for _ in range(2):
        assert w3.provider.make_request("anvil_setBalance", [who, hex(3 * 10**18)])["result"] is None
        assert w3.eth.get_balance(who) == 3 * 10**18
        w3.provider.make_request("anvil_setBalance", [who, "0x0"])
    before = w3.eth.block_number
    for _ in range(2):
        assert w3.provider.make_request("hardhat_setNonce", [who, "0x7"])["result"] is None
        assert call(base, "/api/v1/dev/balance", {"address": who, "amount": "5"})[0] == 200
    assert w3.eth.block_number == before + 4 and w3.eth.get_transaction_count(who) == 7


def test_the_native_api_refuses_a_timestamp_or_balance_the_chain_cannot_hold(w3, base):
    """The controls themselves check (nvmsite/devctl.py), so every interface refuses alike and nothing is written:
    a next timestamp past a header's signed 64-bit milliseconds, a balance past the supply's u64."""
    before = w3.eth.block_number
    status, body = call(base, "/api/v1/dev/time", {"next_timestamp": 10**17})
    assert status == 400 and body["error"]["code"] == "bad_time", body
    status, body = call(base, "/api/v1/dev/balance", {"address": "0x" + "ce" * 20, "amount": str(2**64 - 1), "unit": "base"})
    assert status == 400 and body["error"]["code"] == "overflow", body
    assert w3.provider.make_request("evm_mine", [])["result"] == "0x0"  # the producer is fine: an ordinary block
    assert w3.eth.block_number == before + 1


def test_the_txpool_namespace_lists_waiting_transactions_as_geth_does(w3):
    """With blocks held back, signed transactions wait: those that can go next are `pending`, one after a missing
    nonce `queued`; txpool_status counts them, _content shows them as eth_getTransactionByHash does, _inspect in
    geth's one-line form. A block takes the pending ones."""
    from eth_account import Account

    key = Account.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")  # anvil #2
    to = Web3.to_checksum_address("0x" + "00" * 18 + "0b0b")
    base_tx = {"to": to, "gas": 21_000, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 0, "chainId": w3.eth.chain_id}
    height = w3.eth.block_number
    assert w3.provider.make_request("evm_setIntervalMining", [3_600_000])["result"] is None  # an hour: nothing mined
    try:
        deadline = time.monotonic() + 10
        while w3.eth.block_number == height and time.monotonic() < deadline:  # the switch's own block first
            time.sleep(0.05)
        nonce = w3.eth.get_transaction_count(key.address)
        hashes = [
            w3.eth.send_raw_transaction(key.sign_transaction({**base_tx, "nonce": n, "value": n + 1}).raw_transaction)
            for n in (nonce, nonce + 1)
        ]
        gap = key.sign_transaction({**base_tx, "nonce": nonce + 3, "value": 9}).raw_transaction
        queued = w3.provider.make_request("eth_sendRawTransaction", ["0x" + gap.hex()])
        status = w3.provider.make_request("txpool_status", [])["result"]
        content = w3.provider.make_request("txpool_content", [])["result"]
        assert key.address in content["pending"], (status, content, queued)
        mine = content["pending"][key.address]
        assert [mine[str(n)]["hash"] for n in (nonce, nonce + 1)] == ["0x" + h.hex().removeprefix("0x") for h in hashes]
        assert mine[str(nonce)]["blockNumber"] is None and mine[str(nonce)]["from"] == key.address.lower()
        inspect = w3.provider.make_request("txpool_inspect", [])["result"]
        assert inspect["pending"][key.address][str(nonce)] == f"{to}: {nonce + 1} wei + 21000 gas × 2000000000 wei"
        if "result" in queued:  # the node keeps a transaction with a nonce gap: it waits, queued
            assert content["queued"][key.address][str(nonce + 3)]["nonce"] == hex(nonce + 3)
            assert status == {"pending": "0x2", "queued": "0x1"}
        else:
            assert status == {"pending": "0x2", "queued": "0x0"}
        only = w3.provider.make_request("txpool_contentFrom", [key.address.lower()])["result"]
        assert set(only["pending"]) == {str(nonce), str(nonce + 1)}
        w3.provider.make_request("evm_mine", [])
        assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)
        assert w3.provider.make_request("txpool_status", [])["result"]["pending"] == "0x0"
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
