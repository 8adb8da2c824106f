"""The Submit page: a raw transaction of any chain recognised, previewed and dry-run against the committed
state, submitted, and followed to its block. Transactions are signed by the chains' own libraries."""

import base64
import hashlib
import json
import re

import base58
import pytest
from bitcoinutils.keys import PrivateKey
from bitcoinutils.setup import setup as btc_setup
from bitcoinutils.transactions import Transaction as BtcTx
from bitcoinutils.transactions import TxInput, TxOutput, TxWitnessInput
from django.core.cache import cache
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolTx

from chain.address import tron_text
from chain.identity import legacy_id_com
from chain.ledger import FEE_COLLECTOR, ui_amount
from chain.store import models as m
from engines.evm.engine import BASE_FEE_WEI
from explorer.submit import in_vm_unit
from nvmsite.node import web_registry
from rpc.native import views
from rpc.rawtx import Unrecognised, recognise
from tests.conftest import sql_node

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN_ID = 7231053
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
btc_setup("regtest")
BTC_KEY = PrivateKey(secret_exponent=21)
BTC_WALLET = BTC_KEY.get_public_key().get_segwit_address()
SOL_PAYER = Keypair.from_seed(bytes(range(32)))
SOL_PAYEE = Keypair.from_seed(bytes(32))


@pytest.fixture
def node(settings, tmp_path):
    alloc = [
        {"legacy": "evm", "address": ALICE.address, "balance": "1000000000000"},
        {"legacy": "svm", "address": str(SOL_PAYER.pubkey()), "balance": "1000000000000"},
        {"legacy": "btc", "address": BTC_WALLET.to_string(), "balance": str(10**8 * 10)},  # 1 BTC
    ]
    chain = sql_node(settings, tmp_path, {"alloc": alloc}, ("engines.native", "engines.evm", "engines.svm", "engines.bvm"))
    cache.clear()
    web_registry.cache_clear()
    yield chain
    views._registry.cache_clear()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def plain(response) -> str:
    """What a reader sees: the text without tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def eth_transfer(nonce=0, value=3 * 10**18, chain_id=CHAIN_ID, gas=21_000) -> bytes:
    signed = ALICE.sign_transaction(
        {
            "chainId": chain_id,
            "nonce": nonce,
            "to": BOB,
            "value": value,
            "gas": gas,
            "maxFeePerGas": 2 * BASE_FEE_WEI,
            "maxPriorityFeePerGas": 1,
        }
    )
    return bytes(signed.raw_transaction)


def solana_transfer(blockhash: Hash | None = None, lamports: int = 5_000) -> bytes:
    payer, blockhash = SOL_PAYER, blockhash or Hash.default()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=SOL_PAYEE.pubkey(), lamports=lamports))
    return bytes(SolTx([payer], Message([ix], payer.pubkey()), blockhash))


def bitcoin_spend() -> tuple[str, str]:
    btc_setup("regtest")
    key = PrivateKey(secret_exponent=7)
    pay_to = key.get_public_key().get_segwit_address().to_script_pub_key()
    tx = BtcTx([TxInput("aa" * 32, 1)], [TxOutput(12_345, pay_to)], has_segwit=True)
    sig = key.sign_segwit_input(tx, 0, key.get_public_key().get_address().to_script_pub_key(), 20_000)
    tx.witnesses.append(TxWitnessInput([sig, key.get_public_key().to_hex()]))
    return tx.serialize(), tx.get_txid()


# -- recognition --------------------------------------------------------------------------------------
def test_recognises_each_chain_in_each_encoding(node):
    reg = web_registry()
    raw = eth_transfer()
    for shown in (raw.hex(), "0x" + raw.hex(), " 0x" + raw.hex()[:40] + "\n" + raw.hex()[40:] + " "):
        found = recognise(shown, reg)
        assert (found.chain, found.vm, found.encoding) == ("ethereum", "evm", "hex")
        assert found.envelope == b"\x10" + raw
    sol = solana_transfer()
    for shown, encoding in ((base58.b58encode(sol).decode(), "base58"), (base64.b64encode(sol).decode(), "base64")):
        found = recognise(shown, reg)
        assert (found.chain, found.vm, found.encoding, found.envelope) == ("solana", "svm", encoding, b"\x20" + sol)
        assert found.native_id == sol[1:65]
        assert any("transfer 5,000 lamports" in v for _, v in found.summary)
    hex_tx, txid = bitcoin_spend()
    found = recognise(hex_tx, reg)
    assert (found.chain, found.vm, found.native_id.hex()) == ("bitcoin", "bvm", txid)
    address = PrivateKey(secret_exponent=7).get_public_key().get_segwit_address().to_string()
    assert ("Output 0", f"12,345 sats (0.00012345 BTC) to {address}") in found.summary


def test_recognises_a_tron_transaction_from_tronlink_json_and_protobuf():
    # QuickNode's wallet/broadcasttransaction example: raw_data {TransferContract amount 1000, owner
    # 41608f8d…, to 41e9d79c…, ref_block_bytes 5e4b, expiration 1591089627000} and its raw_data_hex.
    raw_data = (
        "0a025e4b220847c9dc89341b300d40f8fed3a2a72e5a66080112620a2d747970652e676f6f676c65617069732e636f6d2f70726f"
        "746f636f6c2e5472616e73666572436f6e747261637412310a1541608f8da72479edc7dd921e4c30bb7e7cddbe722e121541e9d7"
        "9cc47518930bc322d9bf7cddd260a0260a8d18e8077093afd0a2a72e"
    )
    sig = "11" * 65
    found = recognise(json.dumps({"raw_data_hex": raw_data, "signature": [sig]}), web_registry())
    assert (found.chain, found.vm, found.encoding) == ("tron", "tvm", "json")
    assert found.native_id == hashlib.sha256(bytes.fromhex(raw_data)).digest()
    assert found.native_id.hex() == "77ddfa7093cc5f745c0d3a54abb89ef070f983343c05e0f89e5a52f3e5401299"  # docs/PROTOCOL.md §11
    assert found.raw == b"\x0a\x84\x01" + bytes.fromhex(raw_data) + b"\x12\x41" + bytes.fromhex(sig)
    summary = dict(found.summary)
    assert summary["Contract"] == "TransferContract" and summary["Amount"] == "1,000 sun (0.001 TRX)"
    assert summary["Owner"] == tron_text(bytes.fromhex("41608f8da72479edc7dd921e4c30bb7e7cddbe722e"))
    assert summary["To"] == tron_text(bytes.fromhex("41e9d79cc47518930bc322d9bf7cddd260a0260a8d"))
    assert summary["Expiration"] == "1,591,089,627,000 ms" and summary["Signatures"] == "1"
    again = recognise(found.raw.hex(), web_registry())  # the protobuf Transaction, as wallet/broadcasthex takes it
    assert again.chain == "tron" and again.raw == found.raw and again.native_id == found.native_id
    assert found.envelope == b"\x40" + found.raw


@pytest.mark.parametrize(
    "garbage, says",
    [
        ("", "Paste a raw signed transaction: hex, base58, base64 or TronLink JSON"),
        ("hello, world!", "not hex, base58 or base64"),
        ("hello not a tx", "too short for a signed transaction: 8 bytes read as base64"),
        ("0x1234", "too short for a signed transaction: 2 bytes read as hex"),
        ("0x" + "02f8" + "00" * 30, "Read as hex"),  # type 2 whose RLP is cut short
        ('{"txID": "00"}', "not a signed Tron transaction"),
        ("ff" * 200_000, "at most 128 KiB"),
    ],
)
def test_garbage_is_unrecognised_with_a_reason(node, garbage, says):
    with pytest.raises(Unrecognised) as e:
        recognise(garbage, web_registry())
    assert says in e.value.message


def test_units_of_each_vm():
    assert in_vm_unit(1_500_000_000, "evm") == "1,500,000,000,000,000,000 wei"
    assert in_vm_unit(1_500_000_005, "bvm") == "150,000,000.5 sats"
    assert in_vm_unit(-2_500, "tvm") == "-2.5 sun"
    assert in_vm_unit(7, "svm") == "7 lamports"


# -- the page -------------------------------------------------------------------------------------------
def test_preview_decodes_and_dry_runs_without_writing(client, node):
    raw = eth_transfer()
    before = (m.MempoolEntry.objects.count(), m.StateEntry.objects.count())
    r = client.post("/submit", {"raw": "0x" + raw.hex(), "action": "preview"})
    assert r.status_code == 200
    body = plain(r)
    assert "Recognised" in body and "Ethereum transaction" in body and "EIP-1559 transaction" in body
    assert "3,000,000,000,000,000,000 wei" in body  # the value, in the EVM's unit
    assert "success" in body and "21000" in body  # the dry run's gas
    bob = legacy_id_com("evm", bytes.fromhex(BOB[2:]))
    assert "0x" + bob.hex() in text(r) and "+3 NVM" in body and "3,000,000,000,000,000,000 wei" in body
    assert (m.MempoolEntry.objects.count(), m.StateEntry.objects.count()) == before


def test_dry_run_reports_the_exact_refusal(client, node):
    too_much = eth_transfer(value=10**40)
    body = text(client.post("/submit", {"raw": too_much.hex(), "action": "preview"}))
    assert "would refuse it" in body and "insufficient funds" in body
    wrong_chain = eth_transfer(chain_id=1)
    body = text(client.post("/submit", {"raw": wrong_chain.hex(), "action": "preview"}))
    assert "would refuse it" in body and "chain" in body.lower()


TRON_TRANSFER = (  # QuickNode's wallet/broadcasttransaction example (raw_data, one placeholder signature)
    "0a84010a025e4b220847c9dc89341b300d40f8fed3a2a72e5a66080112620a2d747970652e676f6f676c65617069732e636f6d2f70726f"
    "746f636f6c2e5472616e73666572436f6e747261637412310a1541608f8da72479edc7dd921e4c30bb7e7cddbe722e121541e9d7"
    "9cc47518930bc322d9bf7cddd260a0260a8d18e8077093afd0a2a72e1241" + "11" * 65
)


def test_a_tron_transaction_is_recognised_and_refused_with_trons_error(client, node):
    r = client.post("/submit", {"raw": TRON_TRANSFER, "action": "preview"})
    body = text(r)
    assert r.status_code == 200 and "Tron transaction" in body
    assert "TAPOS_ERROR" in body  # QuickNode's example names a block of Tron's own chain, not one of ours
    r = client.post("/submit", {"raw": TRON_TRANSFER, "action": "submit"})
    assert r.status_code == 400 and "Recognised a Tron transaction (hex), but the node refused it" in text(r)
    assert m.MempoolEntry.objects.count() == 0


def test_a_solana_transaction_is_dry_run_submitted_and_included(client, node):
    sol = base58.b58encode(solana_transfer(Hash(node.head.hash), 10**9)).decode()
    r = client.post("/submit", {"raw": sol, "action": "preview"})
    body = text(r)
    assert r.status_code == 200 and "Solana transaction" in body and "System Program: transfer 1,000,000,000 lamports" in body
    assert "does not run yet" not in body and "would refuse" not in body
    payee = legacy_id_com("svm", bytes(SOL_PAYEE.pubkey())).hex()
    assert payee in body  # its balance change is shown
    r = client.post("/submit", {"raw": sol, "action": "submit"})
    assert r.status_code == 200 and m.MempoolEntry.objects.count() == 1
    first_sig = base58.b58encode(base58.b58decode(sol)[1:65]).decode()
    assert "pending" in text(client.get(f"/tx/{first_sig}"))  # waiting, found by its signature
    (e,) = node.produce(10).txs
    assert e.receipt.success and e.receipt.fee == 5_000
    sig = base58.b58encode(e.tx.ids[0]).decode()
    page = client.get(f"/tx/{sig}")  # the explorer finds it by its Solana signature
    body = text(page)
    assert page.status_code == 200 and "Solana signature" in body and sig in body
    assert 'compute units consumed <span class="num">150</span>' in body
    assert "Program 11111111111111111111111111111111 invoke [1]" in body and "Program log" in body
    assert f"/identity/{SOL_PAYEE.pubkey()}" in body and "+1,000,000,000" in body and "−1,000,005,000" in body
    assert client.get(f"/search?q={sig}")["Location"] == f"/tx/{sig}"
    stale = base58.b58encode(solana_transfer(Hash.default(), 10**9)).decode()
    r = client.post("/submit", {"raw": stale, "action": "submit"})
    assert r.status_code == 400 and "Blockhash not found" in text(r)


def test_garbage_gets_a_form_error_and_nothing_is_written(client, node):
    r = client.post("/submit", {"raw": "0x" + "ab" * 40, "action": "submit"})
    assert r.status_code == 400
    body = text(r)
    assert 'role="alert"' in body and "not an Ethereum, Solana, Bitcoin or Tron transaction" in body
    assert "hex (40 bytes) as ethereum" in body
    assert m.MempoolEntry.objects.count() == 0


def test_submit_then_follow_to_included(client, node):
    from eth_utils import keccak

    raw = eth_transfer()
    r = client.post("/submit", {"raw": raw.hex(), "action": "submit"})
    assert r.status_code == 200
    body = text(r)
    envelope_id = m.MempoolEntry.objects.get().envelope_id
    assert "Sent" in body and f'data-live="/live/status/0x{bytes(envelope_id).hex()}"' in body
    assert f'Sent: Ethereum hash <a class="mono" href="/tx/0x{bytes(envelope_id).hex()}" title="0x{keccak(raw).hex()}">' in body
    assert "pending" in text(client.get(f"/live/status/0x{bytes(envelope_id).hex()}"))
    pending_page = client.get(f"/tx/0x{bytes(envelope_id).hex()}")
    assert pending_page.status_code == 200 and "pending" in text(pending_page)
    assert client.get(f"/tx/0x{keccak(raw).hex()}").status_code == 200  # pending, by its Ethereum hash
    block = node.produce(10)
    status = text(client.get(f"/live/status/0x{bytes(envelope_id).hex()}"))
    assert "included" in status and f'href="/block/{block.header.height}"' in status and "success" in status
    body = text(client.post("/submit", {"raw": raw.hex(), "action": "preview"}))
    assert "would refuse it" in body or "Already included" in body  # its nonce is used now
    assert client.get("/live/status/0x" + "00" * 32).content.decode().count("unknown") == 1
    assert client.get("/live/status/nothex").status_code == 400


def test_the_fee_shows_in_both_units_and_reaches_the_collector_in_the_dry_run(client, node):
    r = client.post("/submit", {"raw": eth_transfer().hex(), "action": "preview"})
    body = plain(r)
    fee, fee_nvm, fee_wei = re.search(r"Fee ([0-9]+) base units = ([0-9.]+) NVM = ([0-9,]+) wei", body).groups()
    assert int(fee) > 0 and int(fee_wei.replace(",", "")) == int(fee) * 10**9
    collector = text(r).split(FEE_COLLECTOR.hex())[-1]  # the rows after the collector's id
    assert f"+{fee_nvm} NVM" in plain_text(collector.split("</tr>")[0])
    alice_row = text(r).split(legacy_id_com("evm", bytes.fromhex(ALICE.address[2:])).hex())[-1].split("</tr>")[0]
    cost_wei = 3 * 10**18 + int(fee) * 10**9 + 21_000 * 1  # value, base fee, and the 1 wei/gas tip (into dust)
    assert f"−{ui_amount(-(-cost_wei // 10**9), 9)} NVM" in plain_text(alice_row)


def plain_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300), encoding=st.sampled_from(["hex", "0x", "base58", "base64"]))
def test_any_bytes_are_recognised_or_refused_never_an_error(node, raw, encoding):
    text = {
        "hex": raw.hex(),
        "0x": "0x" + raw.hex(),
        "base58": base58.b58encode(raw).decode(),
        "base64": base64.b64encode(raw).decode(),
    }[encoding]
    try:
        found = recognise(text, web_registry())
    except Unrecognised as e:
        assert e.message
    else:
        assert found.envelope[0] in (0x10, 0x20, 0x30, 0x40) or found.chain == "nvm"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["eth", "sol", "btc"]), cut=st.integers(0, 400), flip=st.integers(0, 400), bit=st.integers(0, 7))
def test_damaged_transactions_get_a_page_not_a_crash(client, node, which, cut, flip, bit):
    raw = {"eth": eth_transfer, "sol": solana_transfer, "btc": lambda: bytes.fromhex(bitcoin_spend()[0])}[which]()
    raw = bytearray(raw[: max(1, len(raw) - cut % len(raw))])
    raw[flip % len(raw)] ^= 1 << bit
    for action in ("preview", "submit"):
        r = client.post("/submit", {"raw": bytes(raw).hex(), "action": action})
        assert r.status_code in (200, 400), (r.status_code, which)
        assert b"Traceback" not in r.content


def test_the_simulate_api_answers_in_json(client, node):
    from jsonschema import Draft202012Validator

    doc = client.get("/api/v1/schema").json()
    schema = {"$ref": "#/components/schemas/Simulation", "components": doc["components"]}
    raw = eth_transfer()
    before = m.MempoolEntry.objects.count()
    r = client.post("/api/v1/simulate", {"raw": "0x" + raw.hex()}, content_type="application/json")
    assert r.status_code == 200, r.content
    body = r.json()
    Draft202012Validator(schema).validate(body)
    assert body["recognised"]["chain"] == "ethereum" and body["admitted"] and body["receipt"]["success"]
    bob = "0x" + legacy_id_com("evm", bytes.fromhex(BOB[2:])).hex()
    change = next(c for c in body["balance_changes"] if c["id_com"] == bob)
    assert int(change["after"]) - int(change["before"]) == 3 * 10**9
    assert m.MempoolEntry.objects.count() == before  # nothing written
    refused = client.post("/api/v1/simulate", {"raw": eth_transfer(chain_id=1).hex()}, content_type="application/json").json()
    Draft202012Validator(schema).validate(refused)
    assert not refused["admitted"] and refused["error"]["code"] and refused["receipt"] is None
    sol = client.post("/api/v1/simulate", {"raw": base58.b58encode(solana_transfer()).decode()}, content_type="application/json")
    assert sol.status_code == 200 and sol.json()["error"]["code"] == "BlockhashNotFound"  # Hash.default() is no recent block
    fresh = base58.b58encode(solana_transfer(Hash(node.head.hash), 10**9)).decode()
    sol = client.post("/api/v1/simulate", {"raw": fresh}, content_type="application/json").json()
    Draft202012Validator(schema).validate(sol)
    assert sol["admitted"] and sol["receipt"]["success"] and sol["receipt"]["fee"] == "5000"
    signature = sol["recognised"]["native_id"]
    assert sol["recognised"]["native_id_text"] == base58.b58encode(bytes.fromhex(signature[2:])).decode()  # as wallets show it
    assert sol["receipt"]["log_lines"][0] == "Program 11111111111111111111111111111111 invoke [1]"
    assert body["recognised"]["native_id_text"] == body["recognised"]["native_id"]  # an Ethereum hash: 0x-hex already
    assert "log_lines" not in body["receipt"]
    bad = client.post("/api/v1/simulate", {"raw": "0xdeadbeef"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unrecognised" and bad.json()["error"]["tried"]
    assert client.post("/api/v1/simulate", {}, content_type="application/json").json()["error"]["code"] == "missing_raw"


def test_a_dry_run_that_runs_too_long_is_stopped(client, node, monkeypatch):
    from rpc import rawtx

    # a contract whose code loops until its gas runs out: JUMPDEST PUSH1 0 JUMP
    init = bytes.fromhex("635b600056" + "600052" + "6004601cf3")
    fee = {"chainId": CHAIN_ID, "maxFeePerGas": 2 * BASE_FEE_WEI, "maxPriorityFeePerGas": 0}
    node.admit(b"\x10" + bytes(ALICE.sign_transaction({**fee, "nonce": 0, "gas": 100_000, "data": init}).raw_transaction))
    block = node.produce(10)
    looper = block.txs[0].receipt.output
    assert block.txs[0].receipt.success and len(looper) == 20
    call = ALICE.sign_transaction({**fee, "nonce": 1, "gas": 20_000_000, "to": to_checksum_address(looper)}).raw_transaction
    monkeypatch.setattr(rawtx, "DRY_RUN_TIMEOUT_S", 0.2)
    body = plain(client.post("/submit", {"raw": bytes(call).hex(), "action": "preview"}))
    assert "The dry run stopped: it ran longer than 0.2 s" in body
    api = client.post("/api/v1/simulate", {"raw": bytes(call).hex()}, content_type="application/json").json()
    assert api["admitted"] and api["error"]["code"] == "dry_run_stopped" and api["receipt"] is None


def test_a_bitcoin_spend_is_dry_run_submitted_included_and_shown_with_its_coins(client, node):
    from chain.state import State
    from chain.store.sql import SqlEntries
    from engines.bvm.coins import coin_of

    wallet = legacy_id_com("btc", bytes.fromhex(BTC_WALLET.to_script_pub_key().to_hex()))
    coin = coin_of(State(SqlEntries()), wallet)
    assert coin is not None and coin.sats == 10**8
    payee = PrivateKey(secret_exponent=22).get_public_key().get_taproot_address()
    tx = BtcTx([TxInput(coin.txid_hex, 0)], [TxOutput(60_000_000, payee.to_script_pub_key())], has_segwit=True)
    tx.outputs.append(TxOutput(39_990_000, BTC_WALLET.to_script_pub_key()))
    sig = BTC_KEY.sign_segwit_input(tx, 0, BTC_KEY.get_public_key().get_address().to_script_pub_key(), coin.sats)
    tx.witnesses.append(TxWitnessInput([sig, BTC_KEY.get_public_key().to_hex()]))
    raw = tx.serialize()
    body = text(client.post("/submit", {"raw": raw, "action": "preview"}))
    assert "Bitcoin transaction" in body and "would refuse" not in body and "does not run yet" not in body
    assert client.post("/submit", {"raw": raw, "action": "submit"}).status_code == 200
    (e,) = node.produce(10).txs
    assert e.receipt.success and e.receipt.fee == 10_000 * 10
    page = text(client.get(f"/tx/{tx.get_txid()}"))  # found by its txid, as Bitcoin shows it
    assert "Bitcoin txid" in page and 'data-testid="btc-coins"' in page
    assert f"{coin.txid_hex}:0" in page and payee.to_string() in page and "60,000,000" in page and "10,000" in page
    again = text(client.post("/submit", {"raw": raw, "action": "submit"}))
    assert "bad-txns-inputs-missingorspent" in again  # its coin is spent
