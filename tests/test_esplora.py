"""Esplora's REST API (/api/btc/) as a Bitcoin wallet uses it: a live node (`manage.py nvm devnet` in a
subprocess, on-demand blocks) whose genesis funds Bitcoin wallets, reached over HTTP only — UTXOs read from
`/address/:a/utxo`, transactions built and signed by bitcoin-utils (a peer we did not write), broadcast with
`POST /tx`, then read back: the transaction, its status and outspends, addresses' stats, histories and
coins, blocks. Refused transactions answer bitcoind's error as electrs relays it and write nothing.
The last tests check the script codec against Esplora's own output, without a node."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from bitcoinutils.keys import PrivateKey
from bitcoinutils.script import Script
from bitcoinutils.setup import setup as btc_setup
from bitcoinutils.transactions import Transaction, TxInput, TxOutput, TxWitnessInput

from chain.address import addresses_of
from rpc.btc.codec import core_reason, rpc_error_text, script_asm, script_type
from tests.support.devnet import devnet_with_genesis

btc_setup("regtest")
SAT = 10  # base units
FUNDS = 10**8  # each wallet's genesis coin: 1 BTC, in sats
FEE = 10_000  # sats: well above 1 sat/vB for these sizes
WPKH_KEY, TR_KEY, PAYEE_KEY = (PrivateKey(secret_exponent=n) for n in (0xE501, 0xE502, 0xE503))
WPKH = WPKH_KEY.get_public_key().get_segwit_address()
TR = TR_KEY.get_public_key().get_taproot_address()
PAYEE = PAYEE_KEY.get_public_key().get_segwit_address()  # never funded: its first payment binds it
ACE_ID = bytes.fromhex("42" * 32)  # an identity that is no Bitcoin wallet: its BTC address is a derived P2TR output
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- the live node -------------------------------------------------------------------------------
def request(url: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, or a POST when there is a body; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def get(api: str, path: str) -> Any:
    """A successful JSON answer."""
    status, kind, body = request(api + path)
    assert status == 200 and kind.startswith("application/json"), (path, status, body)
    return json.loads(body)


def text(api: str, path: str, body: bytes | None = None) -> str:
    """A successful plain-text answer."""
    status, kind, raw = request(api + path, body)
    assert status == 200 and kind.startswith("text/plain"), (path, status, raw)
    return raw.decode()


def error(api: str, path: str, status: int, body: bytes | None = None) -> str:
    """A refusal: its status, and a plain-text reason (never a stack trace)."""
    got, kind, raw = request(api + path, body)
    assert got == status and kind.startswith("text/plain"), (path, got, raw)
    assert b"Traceback" not in raw
    return raw.decode()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The node's base URL. Its genesis funds a P2WPKH and a P2TR wallet with 1 BTC each."""
    home = tmp_path_factory.mktemp("esplora-node")
    genesis = {
        "chain_id": 7231053,
        "timestamp_ms": 1767225600000,
        "alloc": [
            {"label": "P2WPKH", "legacy": "btc", "address": WPKH.to_string(), "balance": str(FUNDS * SAT)},
            {"label": "P2TR", "legacy": "btc", "address": TR.to_string(), "balance": str(FUNDS * SAT)},
            {"label": "an identity", "id_com": "0x" + ACE_ID.hex(), "balance": str(FUNDS * SAT + 9)},
        ],
    }
    with devnet_with_genesis(Path(home), genesis) as base:
        yield base


@pytest.fixture(scope="module")
def api(node: str) -> str:
    return node + "/api/btc"


def mempool_size(node: str) -> int:
    return int(json.loads(urllib.request.urlopen(node + "/api/v1/status", timeout=10).read())["mempool_size"])


def the_utxo(api: str, address: Any) -> dict[str, Any]:
    (utxo,) = get(api, f"/address/{address.to_string()}/utxo")
    return dict(utxo)


def signed(utxo: dict[str, Any], key: PrivateKey, address: Any, outputs: list[tuple[int, Any]]) -> str:
    """Spend the UTXO (a P2WPKH or P2TR wallet's coin) to [(sats, address)]; the signed transaction's hex."""
    tx = Transaction(
        [TxInput(utxo["txid"], utxo["vout"])], [TxOutput(v, a.to_script_pub_key()) for v, a in outputs], has_segwit=True
    )
    if address.get_type() == "p2trv1":
        sig = key.sign_taproot_input(tx, 0, [address.to_script_pub_key()], [utxo["value"]])
        tx.witnesses.append(TxWitnessInput([sig]))
    else:
        script_code = key.get_public_key().get_address().to_script_pub_key()
        sig = key.sign_segwit_input(tx, 0, script_code, utxo["value"])
        tx.witnesses.append(TxWitnessInput([sig, key.get_public_key().to_hex()]))
    return str(tx.serialize())


def broadcast(api: str, raw_hex: str) -> str:
    txid = text(api, "/tx", raw_hex.encode())
    assert HEX64.match(txid) and txid == Transaction.from_raw(raw_hex).get_txid()
    return txid


def confirmed(api: str, txid: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = get(api, f"/tx/{txid}/status")
        if status["confirmed"]:
            return dict(status)
        assert time.monotonic() < deadline, f"{txid} not confirmed"
        time.sleep(0.05)


def pay(api: str, key: PrivateKey, address: Any, outputs: list[tuple[int, Any]]) -> tuple[str, str, dict[str, Any]]:
    """Spend the wallet's coin; (txid, raw hex, the UTXO it spent) once the block holds it."""
    utxo = the_utxo(api, address)
    raw = signed(utxo, key, address, outputs)
    txid = broadcast(api, raw)
    confirmed(api, txid)
    return txid, raw, utxo


@pytest.fixture(scope="module")
def flow(api: str) -> dict[str, Any]:
    """Three payments. tx1: the P2WPKH wallet pays PAYEE, change to itself. tx2: the P2TR wallet pays the
    P2WPKH wallet (a payment into its coin). tx3: the P2WPKH wallet spends that coin to PAYEE."""
    genesis_utxo = the_utxo(api, WPKH)
    tx1, raw1, _ = pay(api, WPKH_KEY, WPKH, [(30_000_000, PAYEE), (FUNDS - 30_000_000 - FEE, WPKH)])
    tx2, raw2, _ = pay(api, TR_KEY, TR, [(20_000_000, WPKH), (FUNDS - 20_000_000 - FEE, TR)])
    before_tx3 = the_utxo(api, WPKH)
    tx3, raw3, _ = pay(api, WPKH_KEY, WPKH, [(before_tx3["value"] - FEE, PAYEE)])
    return {"genesis_utxo": genesis_utxo, "before_tx3": before_tx3, "txids": (tx1, tx2, tx3), "raws": (raw1, raw2, raw3)}


# -- blocks ---------------------------------------------------------------------------------------
BLOCK_KEYS = {
    "id", "height", "version", "timestamp", "tx_count", "size", "weight", "merkle_root", "previousblockhash",
    "mediantime", "nonce", "bits", "difficulty",
}  # fmt: skip


def test_blocks_in_esploras_shape(api: str) -> None:
    height = int(text(api, "/blocks/tip/height"))
    tip = text(api, "/blocks/tip/hash")
    assert HEX64.match(tip) and text(api, f"/block-height/{height}") == tip
    genesis_hash = text(api, "/block-height/0")
    genesis = get(api, f"/block/{genesis_hash}")
    assert set(genesis) == BLOCK_KEYS
    assert genesis["id"] == genesis_hash and genesis["height"] == 0 and genesis["previousblockhash"] is None
    assert genesis["timestamp"] == 1767225600 == genesis["mediantime"] and genesis["tx_count"] == 0
    assert (genesis["version"], genesis["nonce"], genesis["bits"]) == (1, 0, 0x207FFFFF)
    assert genesis["difficulty"] == pytest.approx(4.656542373906925e-10)
    assert genesis["size"] == 241 and genesis["weight"] == 4 * 241  # the header alone
    assert HEX64.match(genesis["merkle_root"])
    native = json.loads(urllib.request.urlopen(api.replace("/api/btc", "/api/v1/blocks/0"), timeout=10).read())
    assert native["hash"] == "0x" + genesis_hash and native["tx_root"] == "0x" + genesis["merkle_root"]
    assert get(api, f"/block/{genesis_hash}/txids") == []
    status = get(api, f"/block/{genesis_hash}/status")
    assert status["in_best_chain"] is True and status["height"] == 0
    assert ("next_best" in status) == (height > 0)
    assert get(api, f"/block/{'ab' * 32}/status") == {"in_best_chain": False}
    listed = get(api, "/blocks")
    assert [b["height"] for b in listed] == list(range(height, max(height - 10, -1), -1))
    assert all(set(b) == BLOCK_KEYS for b in listed) and listed[0]["id"] == tip


def test_a_block_lists_its_bitcoin_transactions(api: str, flow: dict[str, Any]) -> None:
    tx1 = flow["txids"][0]
    where = get(api, f"/tx/{tx1}/status")
    block = get(api, f"/block/{where['block_hash']}")
    assert block["height"] == where["block_height"] and block["timestamp"] == where["block_time"]
    assert block["tx_count"] == 1 and get(api, f"/block/{block['id']}/txids") == [tx1]
    assert text(api, f"/block/{block['id']}/txid/0") == tx1
    assert [t["txid"] for t in get(api, f"/block/{block['id']}/txs")] == [tx1]
    raw1 = bytes.fromhex(flow["raws"][0])
    assert block["size"] == 241 + 1 + len(raw1)  # header, then the envelope: opcode byte and the transaction
    parent = get(api, f"/block/{block['previousblockhash']}")
    assert parent["height"] == block["height"] - 1
    assert get(api, f"/block/{parent['id']}/status")["next_best"] == block["id"]
    assert error(api, f"/block/{block['id']}/txid/1", 404) == "tx index out of range"
    assert error(api, f"/block/{block['id']}/txs/25", 404) == "start index out of range"


def test_block_errors_are_plain_text(api: str) -> None:
    assert error(api, "/block/nothex", 400) == "Invalid hex string"
    assert error(api, f"/block/{'ab' * 32}", 404) == "Block not found"
    assert error(api, "/block-height/99999999", 404) == "Block not found"
    assert error(api, "/block-height/-1", 400) == "Invalid number"
    assert "no 80-byte Bitcoin header" in error(api, f"/block/{'ab' * 32}/header", 404)
    assert "script hash" in error(api, f"/scripthash/{'ab' * 32}/utxo", 404)
    assert error(api, "/no/such/thing", 404) == 'endpoint does not exist "/api/btc/no/such/thing"'
    assert error(api, "", 404) == 'endpoint does not exist "/api/btc"'  # the base URL, without its slash


# -- a wallet's round trip --------------------------------------------------------------------------
def test_genesis_funds_the_wallets_with_one_coin_each(api: str, flow: dict[str, Any]) -> None:
    utxo = flow["genesis_utxo"]
    assert set(utxo) == {"txid", "vout", "status", "value"}
    assert utxo["vout"] == 0 and utxo["value"] == FUNDS and HEX64.match(utxo["txid"])
    assert utxo["status"]["confirmed"] is True and utxo["status"]["block_height"] == 0


def test_a_payment_reads_back_as_bitcoin_shows_it(api: str, flow: dict[str, Any]) -> None:
    tx1 = flow["txids"][0]
    shown = get(api, f"/tx/{tx1}")
    assert set(shown) == {"txid", "version", "locktime", "vin", "vout", "size", "weight", "fee", "status"}
    assert shown["txid"] == tx1 and shown["fee"] == FEE and shown["status"]["confirmed"] is True
    raw = bytes.fromhex(flow["raws"][0])
    assert shown["size"] == len(raw) and text(api, f"/tx/{tx1}/hex") == raw.hex()
    status, kind, body = request(f"{api}/tx/{tx1}/raw")
    assert status == 200 and kind == "application/octet-stream" and body == raw
    (vin,) = shown["vin"]
    assert vin["txid"] == flow["genesis_utxo"]["txid"] and vin["vout"] == 0 and vin["is_coinbase"] is False
    assert vin["scriptsig"] == "" and len(vin["witness"]) == 2 and vin["sequence"] == 0xFFFFFFFD  # bitcoin-utils signals RBF
    program = WPKH.to_script_pub_key().to_hex()
    assert vin["prevout"] == {
        "scriptpubkey": program,
        "scriptpubkey_asm": f"OP_0 OP_PUSHBYTES_20 {program[4:]}",
        "scriptpubkey_type": "v0_p2wpkh",
        "scriptpubkey_address": WPKH.to_string(),
        "value": FUNDS,
    }
    assert [(o["scriptpubkey_address"], o["value"], o["scriptpubkey_type"]) for o in shown["vout"]] == [
        (PAYEE.to_string(), 30_000_000, "v0_p2wpkh"),
        (WPKH.to_string(), FUNDS - 30_000_000 - FEE, "v0_p2wpkh"),
    ]
    assert error(api, f"/tx/{'cd' * 32}", 404) == "Transaction not found"
    assert get(api, f"/tx/{'cd' * 32}/status") == {"confirmed": False}  # as electrs answers an unknown txid


def test_a_taproot_key_path_spend(api: str, flow: dict[str, Any]) -> None:
    shown = get(api, f"/tx/{flow['txids'][1]}")
    (vin,) = shown["vin"]
    assert vin["prevout"]["scriptpubkey_type"] == "v1_p2tr" and vin["prevout"]["scriptpubkey_address"] == TR.to_string()
    assert vin["prevout"]["scriptpubkey_asm"].startswith("OP_PUSHNUM_1 OP_PUSHBYTES_32 ")
    assert len(vin["witness"]) == 1 and len(vin["witness"][0]) == 128  # one 64-byte Schnorr signature
    assert shown["fee"] == FEE and shown["vout"][0]["scriptpubkey_address"] == WPKH.to_string()
    assert shown["weight"] < 4 * shown["size"]  # the witness is discounted


def test_outputs_are_spent_when_their_coin_is(api: str, flow: dict[str, Any]) -> None:
    tx1, tx2, tx3 = flow["txids"]
    block3 = get(api, f"/tx/{tx3}/status")
    # tx2 paid the P2WPKH wallet; tx3 spent that wallet's coin: its input 0 spent the output
    assert get(api, f"/tx/{tx2}/outspends") == [
        {"spent": True, "txid": tx3, "vin": 0, "status": block3},
        {"spent": False},  # the P2TR wallet's change: its coin has not moved since
    ]
    assert get(api, f"/tx/{tx2}/outspend/0") == {"spent": True, "txid": tx3, "vin": 0, "status": block3}
    # tx1's change went into the wallet's coin, which tx2's payment replaced: spent, by no Bitcoin input
    assert get(api, f"/tx/{tx1}/outspends") == [{"spent": True}, {"spent": True}]
    assert get(api, f"/tx/{tx3}/outspends") == [{"spent": False}]
    assert get(api, f"/tx/{tx3}/outspend/7") == {"spent": False}


def test_addresses_count_coins_and_list_bitcoin_transactions(api: str, flow: dict[str, Any]) -> None:
    tx1, tx2, tx3 = flow["txids"]
    wallet = get(api, f"/address/{WPKH.to_string()}")
    assert wallet["address"] == WPKH.to_string() and set(wallet) == {"address", "chain_stats", "mempool_stats"}
    stats = wallet["chain_stats"]
    # its coins: genesis, tx1's change, that with tx2's payment; tx3 spent it all (no coin left)
    assert get(api, f"/address/{WPKH.to_string()}/utxo") == []
    assert stats["funded_txo_count"] == 3 and stats["spent_txo_count"] == 3
    assert stats["funded_txo_sum"] == stats["spent_txo_sum"]
    assert stats["funded_txo_sum"] == FUNDS + (FUNDS - 30_000_000 - FEE) + flow["before_tx3"]["value"]
    assert stats["tx_count"] == 3
    assert wallet["mempool_stats"] == dict.fromkeys(stats, 0)
    assert [t["txid"] for t in get(api, f"/address/{WPKH.to_string()}/txs")] == [tx3, tx2, tx1]
    assert [t["txid"] for t in get(api, f"/address/{WPKH.to_string()}/txs/chain/{tx3}")] == [tx2, tx1]
    assert get(api, f"/address/{WPKH.to_string()}/txs/chain/{tx2}")[0]["txid"] == tx1
    assert get(api, f"/address/{WPKH.to_string()}/txs/mempool") == []
    assert get(api, f"/address/{WPKH.to_string()}/txs/chain/{'cd' * 32}") == []


def test_the_payee_holds_one_coin_of_everything_it_was_paid(api: str, flow: dict[str, Any]) -> None:
    tx1, _, tx3 = flow["txids"]
    paid = 30_000_000 + flow["before_tx3"]["value"] - FEE
    utxo = the_utxo(api, PAYEE)
    assert utxo["value"] == paid and utxo["vout"] == 0 and utxo["txid"] not in flow["txids"]
    assert utxo["status"] == get(api, f"/tx/{tx3}/status")  # the block of its last payment made it
    stats = get(api, f"/address/{PAYEE.to_string()}")["chain_stats"]
    assert stats == {
        "funded_txo_count": 2,
        "funded_txo_sum": 30_000_000 + paid,
        "spent_txo_count": 1,
        "spent_txo_sum": 30_000_000,
        "tx_count": 2,
    }
    assert [t["txid"] for t in get(api, f"/address/{PAYEE.to_string()}/txs")] == [tx3, tx1]


def test_an_account_coin_reads_as_a_transaction_with_one_output(api: str, flow: dict[str, Any]) -> None:
    utxo = the_utxo(api, TR)
    coin = get(api, f"/tx/{utxo['txid']}")
    assert coin["txid"] == utxo["txid"] and coin["vin"] == [] and coin["fee"] == 0
    (out,) = coin["vout"]
    assert out["value"] == utxo["value"] == FUNDS - 20_000_000 - FEE and out["scriptpubkey_address"] == TR.to_string()
    assert coin["status"] == utxo["status"] == get(api, f"/tx/{utxo['txid']}/status")
    assert get(api, f"/tx/{utxo['txid']}/outspends") == [{"spent": False}]
    assert "account coin" in error(api, f"/tx/{utxo['txid']}/hex", 404)
    assert error(api, f"/tx/{flow['genesis_utxo']['txid']}", 404) == "Transaction not found"  # spent: gone


def test_another_identitys_coin_is_listed_but_not_indexed_by_txid(api: str) -> None:
    derived = addresses_of(ACE_ID)["btc"]
    (utxo,) = get(api, f"/address/{derived}/utxo")
    assert utxo["value"] == FUNDS and utxo["status"]["block_height"] == 0  # 9 base units below a sat are no part of it
    stats = get(api, f"/address/{derived}")["chain_stats"]
    assert (stats["funded_txo_count"], stats["funded_txo_sum"], stats["spent_txo_count"], stats["tx_count"]) == (1, FUNDS, 0, 0)
    assert error(api, f"/tx/{utxo['txid']}", 404) == "Transaction not found"  # no raw transaction can spend it


def test_addresses_never_seen_and_bad_ones(api: str) -> None:
    fresh = PrivateKey(secret_exponent=0xE5FF).get_public_key().get_address().to_string()  # P2PKH m…/n…
    assert get(api, f"/address/{fresh}")["chain_stats"] == dict.fromkeys(
        ("funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count"), 0
    )
    assert get(api, f"/address/{fresh}/utxo") == [] and get(api, f"/address/{fresh}/txs") == []
    assert error(api, "/address/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 400).startswith("Address on invalid network")
    assert error(api, "/address/notanaddress/utxo", 400).startswith("Invalid Bitcoin address")
    assert error(api, "/address/0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", 400).startswith("Invalid Bitcoin address")


# -- refusals ---------------------------------------------------------------------------------------
def refused(api: str, node: str, raw_hex: str) -> str:
    """POST /tx of a transaction the node must refuse: the text, after checking nothing was written."""
    height, pending = text(api, "/blocks/tip/height"), mempool_size(node)
    reason = error(api, "/tx", 400, raw_hex.encode())
    assert reason.startswith("sendrawtransaction RPC error: {")
    assert mempool_size(node) == pending == 0 and text(api, "/blocks/tip/height") == height
    return reason


def core_error(reason: str) -> dict[str, Any]:
    return dict(json.loads(reason.removeprefix("sendrawtransaction RPC error: ")))


def test_refusals_carry_bitcoin_cores_reasons_and_write_nothing(api: str, node: str, flow: dict[str, Any]) -> None:
    # the same transaction again, and another spending the same (now spent) coin
    again = core_error(refused(api, node, flow["raws"][0]))
    assert again == {"code": -25, "message": "bad-txns-inputs-missingorspent"}
    other = signed(flow["genesis_utxo"], WPKH_KEY, WPKH, [(50_000_000, PAYEE)])
    assert core_error(refused(api, node, other)) == again
    utxo = the_utxo(api, TR)
    good = signed(utxo, TR_KEY, TR, [(1_000_000, PAYEE), (utxo["value"] - 1_000_000 - FEE, TR)])
    forged = bytearray.fromhex(good)
    forged[-10] ^= 1  # inside the Schnorr signature
    bad_sig = core_error(refused(api, node, forged.hex()))
    assert bad_sig["code"] == -26 and bad_sig["message"].startswith("mandatory-script-verify-flag-failed (")
    too_much = signed(utxo, TR_KEY, TR, [(utxo["value"] + 1, PAYEE)])
    below = core_error(refused(api, node, too_much))
    assert below["code"] == -26 and below["message"].startswith("bad-txns-in-belowout, ")
    no_fee = signed(utxo, TR_KEY, TR, [(utxo["value"], PAYEE)])
    assert core_error(refused(api, node, no_fee))["message"].startswith("min relay fee not met, 0 < ")
    dust = signed(utxo, TR_KEY, TR, [(100, PAYEE), (utxo["value"] - 100 - FEE, TR)])
    assert core_error(refused(api, node, dust)) == {"code": -26, "message": "dust"}
    decode = {"code": -22, "message": "TX decode failed. Make sure the tx has at least one input."}
    assert core_error(refused(api, node, "deadbeef")) == decode
    assert core_error(refused(api, node, "not hex at all")) == decode
    assert core_error(refused(api, node, "")) == decode
    assert the_utxo(api, TR) == utxo  # the coin is where it was


def test_fee_estimates_and_the_empty_mempool(api: str, flow: dict[str, Any]) -> None:
    fees = get(api, "/fee-estimates")
    assert list(fees) == [*map(str, range(1, 26)), "144", "504", "1008"] and set(fees.values()) == {1.0}
    assert get(api, "/mempool") == {"count": 0, "vsize": 0, "total_fee": 0, "fee_histogram": []}
    assert get(api, "/mempool/txids") == [] and get(api, "/mempool/recent") == []


def test_cors_and_methods(api: str) -> None:
    status, _, _ = request(api + "/fee-estimates", b"x")
    assert status == 405
    with urllib.request.urlopen(api + "/blocks/tip/height", timeout=10) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"


# -- in-process, over the test database: what a live node makes racy (a transaction waiting) ----------
@pytest.fixture
def chain(settings: Any, tmp_path: Path) -> Any:
    from rpc.native import views
    from tests.conftest import sql_node

    alloc = [{"legacy": "btc", "address": a.to_string(), "balance": str(FUNDS * SAT)} for a in (WPKH, TR)]
    c = sql_node(settings, tmp_path, {"chain_id": 7231053, "alloc": alloc}, ("engines.native", "engines.bvm"))
    yield c
    views._registry.cache_clear()


def local(client: Any, path: str, body: str | None = None) -> Any:
    resp = client.get("/api/btc" + path) if body is None else client.post("/api/btc" + path, body, content_type="text/plain")
    assert resp.status_code == 200, (path, resp.status_code, resp.content)
    return resp.json() if resp["Content-Type"].startswith("application/json") else resp.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_pending_transaction_and_a_conflicting_one(client: Any, chain: Any) -> None:
    (coin,) = local(client, f"/address/{WPKH.to_string()}/utxo")
    first = signed(coin, WPKH_KEY, WPKH, [(30_000_000, PAYEE), (FUNDS - 30_000_000 - FEE, WPKH)])
    txid = local(client, "/tx", first)
    assert local(client, "/tx", first) == txid  # already waiting: bitcoind answers its txid again
    shown = local(client, f"/tx/{txid}")
    assert shown["status"] == {"confirmed": False} and shown["fee"] == FEE
    assert shown["vin"][0]["prevout"]["value"] == FUNDS and shown["vin"][0]["txid"] == coin["txid"]
    vsize = (shown["weight"] + 3) // 4
    assert local(client, "/mempool") == {"count": 1, "vsize": vsize, "total_fee": FEE, "fee_histogram": [[FEE / vsize, vsize]]}
    assert local(client, "/mempool/txids") == [txid]
    assert local(client, "/mempool/recent") == [{"txid": txid, "fee": FEE, "vsize": vsize, "value": FUNDS - FEE}]
    wallet = local(client, f"/address/{WPKH.to_string()}")["mempool_stats"]
    assert wallet == {
        "funded_txo_count": 1,
        "funded_txo_sum": FUNDS - 30_000_000 - FEE,
        "spent_txo_count": 1,
        "spent_txo_sum": FUNDS,
        "tx_count": 1,
    }
    assert local(client, f"/address/{WPKH.to_string()}/utxo") == []  # a pending transaction spends the coin
    assert [t["txid"] for t in local(client, f"/address/{PAYEE.to_string()}/txs")] == [txid]
    unconfirmed = {"spent": True, "txid": txid, "vin": 0, "status": {"confirmed": False}}
    assert local(client, f"/tx/{coin['txid']}/outspends") == [unconfirmed]
    assert local(client, f"/tx/{txid}/outspends") == [{"spent": False}, {"spent": False}]
    # a second spend of the same coin while the first waits: Bitcoin Core's mempool conflict, nothing written
    second = signed(coin, WPKH_KEY, WPKH, [(50_000_000, PAYEE), (FUNDS - 50_000_000 - FEE, WPKH)])
    refused = client.post("/api/btc/tx", second, content_type="text/plain")
    assert refused.status_code == 400 and "txn-mempool-conflict" in refused.content.decode()
    assert local(client, "/mempool/txids") == [txid]
    chain.produce(10)
    assert local(client, f"/tx/{txid}/status")["confirmed"] is True
    assert [t["txid"] for t in local(client, f"/address/{WPKH.to_string()}/txs")] == [txid]
    assert local(client, "/mempool/txids") == []
    (change,) = local(client, f"/address/{WPKH.to_string()}/utxo")  # once in a block, its change is spendable again
    third = signed(change, WPKH_KEY, WPKH, [(10_000_000, PAYEE), (change["value"] - 10_000_000 - FEE, WPKH)])
    assert len(local(client, "/tx", third)) == 64  # the claim went with the block


# -- the codec, without a node ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "kind", "asm"),
    [
        (  # Esplora's own answer for this output (mempool.space, a Taproot output)
            "5120727da28731cccc6f227d0200b43c384ae06e717f6f14f62f31145a8cbb145048",
            "v1_p2tr",
            "OP_PUSHNUM_1 OP_PUSHBYTES_32 727da28731cccc6f227d0200b43c384ae06e717f6f14f62f31145a8cbb145048",
        ),
        (
            "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac",
            "p2pkh",
            "OP_DUP OP_HASH160 OP_PUSHBYTES_20 751e76e8199196d454941c45d1b3a323f1433bd6 OP_EQUALVERIFY OP_CHECKSIG",
        ),
        ("a914" + "75" * 20 + "87", "p2sh", f"OP_HASH160 OP_PUSHBYTES_20 {'75' * 20} OP_EQUAL"),
        ("0020" + "11" * 32, "v0_p2wsh", "OP_0 OP_PUSHBYTES_32 " + "11" * 32),
        ("6a0568656c6c6f", "op_return", "OP_RETURN OP_PUSHBYTES_5 68656c6c6f"),
        ("6a4c0568656c6c6f", "op_return", "OP_RETURN OP_PUSHDATA1 68656c6c6f"),
        ("21" + "02" + "33" * 32 + "ac", "p2pk", "OP_PUSHBYTES_33 02" + "33" * 32 + " OP_CHECKSIG"),
        ("5221" + "02" + "44" * 32 + "21" + "03" + "55" * 32 + "52ae", "multisig",
         f"OP_PUSHNUM_2 OP_PUSHBYTES_33 02{'44' * 32} OP_PUSHBYTES_33 03{'55' * 32} OP_PUSHNUM_2 OP_CHECKMULTISIG"),
        ("5a", "unknown", "OP_PUSHNUM_10"),
        ("", "empty", ""),
        ("50", "provably_unspendable", "OP_RESERVED"),
        ("b1b275bbff4f", "unknown", "OP_CLTV OP_CSV OP_DROP OP_RETURN_187 OP_INVALIDOPCODE OP_PUSHNUM_NEG1"),
        ("7605aabb", "unknown", "OP_DUP OP_PUSHBYTES_5 <push past end>"),
        ("764d01", "unknown", "OP_DUP<unexpected end>"),  # rust-bitcoin writes it with no space
    ],
)  # fmt: skip
def test_scripts_read_as_esplora_writes_them(script: str, kind: str, asm: str) -> None:
    raw = bytes.fromhex(script)
    assert script_type(raw) == kind and script_asm(raw) == asm


def test_refusal_texts() -> None:
    assert core_reason("dust", "an output of 100 sats is below the dust threshold 294") == "dust"
    assert core_reason("min relay fee not met", "min relay fee not met, 0 < 110") == "min relay fee not met, 0 < 110"
    detail = "value in (1) < value out (2)"
    assert core_reason("bad-txns-in-belowout", detail) == f"bad-txns-in-belowout, {detail}"
    assert rpc_error_text(-26, "dust") == 'sendrawtransaction RPC error: {"code":-26,"message":"dust"}'
    assert Script(["OP_1"]).to_hex() == "51"  # bitcoin-utils agrees on what the opcodes are


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["p2pkh", "p2wsh-2of3", "p2tr-script-hash-lock", "cltv"])
def test_every_kind_of_spend_from_a_coin_read_through_esplora(client: Any, settings: Any, tmp_path: Path, kind: str) -> None:
    """The wallet reads its coin from /address/:a/utxo, bitcoin-utils signs (tests/test_bvm.py's signers),
    POST /tx sends it, /tx/:txid/status sees it confirmed — for each kind of script the issue names."""
    from types import SimpleNamespace

    from bitcoinutils.keys import P2wshAddress
    from bitcoinutils.script import Script
    from bitcoinutils.transactions import Transaction, TxInput, TxOutput, TxWitnessInput

    from rpc.native import views
    from tests import test_bvm as b
    from tests.conftest import sql_node

    if kind == "cltv":
        lock_key = b.KEYS[3]
        script = Script([3, "OP_CHECKLOCKTIMEVERIFY", "OP_DROP", lock_key.get_public_key().to_hex(), "OP_CHECKSIG"])
        address: Any = P2wshAddress.from_script(script)

        def sign(tx: Any, c: Any) -> None:
            sig = lock_key.sign_segwit_input(tx, 0, script, c.sats)
            tx.witnesses.append(TxWitnessInput([sig, script.to_hex()]))
    else:
        address, sign = {
            "p2pkh": (b.P2PKH, b.sign_p2pkh),
            "p2wsh-2of3": (b.P2WSH, b.sign_p2wsh),
            "p2tr-script-hash-lock": (b.P2TR_TREE, None),
        }[kind]
        if sign is None:
            control = b.ControlBlock(b.KEYS[3].get_public_key(), [[b.HASH_LOCK]], 0, is_odd=b.P2TR_TREE.is_odd())

            def sign(tx: Any, c: Any) -> None:
                tx.witnesses.append(TxWitnessInput([b.PREIMAGE.hex(), b.HASH_LOCK.to_hex(), control.to_hex()]))

    alloc = [{"legacy": "btc", "address": address.to_string(), "balance": str(FUNDS * SAT)}]
    chain = sql_node(settings, tmp_path, {"chain_id": 7231053, "alloc": alloc}, ("engines.native", "engines.bvm"))
    try:
        (utxo,) = local(client, f"/address/{address.to_string()}/utxo")
        locktime = b.Locktime(3).for_transaction() if kind == "cltv" else None
        sequence = b.Sequence(b.TYPE_ABSOLUTE_TIMELOCK, 3).for_input_sequence() if kind == "cltv" else b"\xff\xff\xff\xff"
        txin = TxInput(utxo["txid"], utxo["vout"], sequence=sequence)
        extra = {"locktime": locktime} if locktime else {}
        tx = Transaction([txin], [TxOutput(utxo["value"] - FEE, PAYEE.to_script_pub_key())], has_segwit=kind != "p2pkh", **extra)
        sign(tx, SimpleNamespace(sats=utxo["value"]))
        raw = tx.serialize()
        if kind == "cltv":  # block 1 next: nLockTime 3 is final from block 4 on
            refused = client.post("/api/btc/tx", raw, content_type="text/plain")
            assert refused.status_code == 400 and "non-final" in refused.content.decode()
            for _ in range(3):
                chain.produce(10)
        txid = local(client, "/tx", raw)
        chain.produce(10)
        status = local(client, f"/tx/{txid}/status")
        assert status["confirmed"] is True and local(client, f"/address/{address.to_string()}/utxo") == []
    finally:
        views._registry.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_a_bitcoin_wallet_pays_an_evm_users_btc_address_and_eth_get_balance_rises_by_sats_times_1e10(
    client: Any, settings: Any, tmp_path: Path
) -> None:
    from bitcoinutils.script import Script
    from bitcoinutils.transactions import Transaction, TxInput, TxOutput

    from chain.accounts import index_bytes
    from chain.identity import legacy_id_com, vm_address
    from rpc.native import views
    from tests.conftest import sql_node

    metamask = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    alloc = [
        {"legacy": "btc", "address": WPKH.to_string(), "balance": str(FUNDS * SAT)},
        {"legacy": "evm", "address": metamask, "balance": "0"},
    ]
    chain = sql_node(settings, tmp_path, {"chain_id": 7231053, "alloc": alloc}, ("engines.native", "engines.evm", "engines.bvm"))
    try:
        user = legacy_id_com("evm", bytes.fromhex(metamask[2:]))
        btc_address = Script.from_raw(index_bytes("btc", vm_address(user, "btc")).hex())  # the user's BTC address (P2TR)

        def wei() -> int:
            body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [metamask, "latest"]}
            return int(client.post("/rpc/eth", body, content_type="application/json").json()["result"], 16)

        before = wei()
        (utxo,) = local(client, f"/address/{WPKH.to_string()}/utxo")
        tx = Transaction([TxInput(utxo["txid"], 0)], [TxOutput(7_654_321, btc_address)], has_segwit=True)
        tx.outputs.append(TxOutput(utxo["value"] - 7_654_321 - FEE, WPKH.to_script_pub_key()))
        sig = WPKH_KEY.sign_segwit_input(tx, 0, WPKH_KEY.get_public_key().get_address().to_script_pub_key(), utxo["value"])
        from bitcoinutils.transactions import TxWitnessInput

        tx.witnesses.append(TxWitnessInput([sig, WPKH_KEY.get_public_key().to_hex()]))
        local(client, "/tx", tx.serialize())
        chain.produce(10)
        assert wei() - before == 7_654_321 * 10**10  # exactly sats × 10^10 wei
    finally:
        views._registry.cache_clear()
