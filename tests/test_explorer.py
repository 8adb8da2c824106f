"""Explorer pages, search, faucet and the /ws/live consumer, on the real database (Django's test client;
the browser tests are separate)."""

import hashlib
import json
import re
import threading
from contextlib import contextmanager

import coincurve
import pytest
from asgiref.sync import async_to_sync
from bitcoinutils.keys import PrivateKey
from bitcoinutils.setup import setup as btc_setup
from bitcoinutils.transactions import Transaction as BtcTx
from bitcoinutils.transactions import TxInput, TxOutput, TxWitnessInput
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from chain.address import addresses_of, svm_text, tron_text
from chain.dispatcher import Receipt
from chain.identity import erc20_address, id_com, legacy_id_com
from chain.ledger import NATIVE_MINT
from chain.store import models as m
from engines.evm.engine import BASE_FEE_WEI
from engines.native import tx as t
from engines.native.client import AceSigner
from engines.native.engine import user_mint_id
from engines.tvm.engine import tron_block_id
from engines.tvm.proto import field
from explorer import live
from rpc.native import views
from tests.conftest import sql_node

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN_ID = 7231053
REV = b"\x11" * 32
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
btc_setup("regtest")
BTC_KEY = PrivateKey(secret_exponent=21)
BTC_WALLET = BTC_KEY.get_public_key().get_segwit_address()
TRON_KEY = coincurve.PrivateKey(bytes(range(1, 33)))
TRON_OWNER = b"\x41" + keccak(TRON_KEY.public_key.format(compressed=False)[1:])[-20:]
TRON_BOB = b"\x41" + bytes(range(20))


@pytest.fixture
def node(settings, tmp_path):
    alloc = [
        {"id_com": "0x" + id_com(REV).hex(), "balance": "5000000000000"},
        {"legacy": "evm", "address": ALICE.address, "balance": "1000000000000"},
    ]
    chain = sql_node(settings, tmp_path, {"alloc": alloc}, ("engines.native", "engines.evm"))
    cache.clear()
    yield chain
    views._registry.cache_clear()


def produce(node, *envelopes):
    for e in envelopes:
        node.admit(e)
    return node.produce(100)


@contextmanager
def producing(node):
    """Blocks made in the background (the faucet's first drip waits for the block that opens its account)."""
    stop = threading.Event()

    def producer():
        try:
            while not stop.is_set():
                node.produce(100)
                stop.wait(0.05)
        finally:
            connection.close()  # this thread's own connection, or the test database outlives the run

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def busy(node):
    """A native account, a native transfer to an EVM address, and an ERC-20 view transfer."""
    s = AceSigner(REV, CHAIN_ID)
    bob = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    produce(node, s.create_account())
    b1 = produce(
        node, s.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, bytes.fromhex(bob[2:])), amount=2_500_000_000)
    )
    transfer = bytes.fromhex("a9059cbb") + bytes(12) + bytes.fromhex(bob[2:]) + (7 * 10**9).to_bytes(32, "big")
    raw = ALICE.sign_transaction(
        {
            "chainId": CHAIN_ID,
            "nonce": 0,
            "to": to_checksum_address(erc20_address(NATIVE_MINT)),
            "data": transfer,
            "gas": 60_000,
            "maxFeePerGas": 2 * BASE_FEE_WEI,
            "maxPriorityFeePerGas": 1,
            "value": 0,
        }
    ).raw_transaction
    b2 = produce(node, b"\x10" + bytes(raw))
    return {"signer": s, "bob": bob, "native": b1.txs[0], "evm": b2.txs[0], "eth_hash": b2.txs[0].tx.ids[0]}


def test_home_lists_blocks_and_transactions_with_a_chart(client, node, busy):
    r = client.get("/")
    assert r.status_code == 200
    body = text(r)
    assert "Latest blocks" in body and "Latest transactions" in body and "<svg" in body
    assert f'href="/tx/0x{busy["evm"].tx.envelope_id.hex()}"' in body
    assert 'class="badge vm-evm"' in body and 'class="badge vm-native"' in body
    assert client.get("/live/home").status_code == 200


def test_block_page_shows_the_header_and_its_transactions(client, node, busy):
    height = node.head.height
    for ref in (str(height), "0x" + node.head.hash.hex()):
        r = client.get(f"/block/{ref}")
        assert r.status_code == 200, ref
        body = text(r)
        assert node.head.state_root.hex() in body and node.head.signature.hex() in body
        assert f"<h1>Block {height}</h1>" in body and node.head.hash.hex() in body
        assert busy["evm"].tx.envelope_id.hex()[:6] in body
    assert client.get("/block/999999").status_code == 404
    assert "Not found" in text(client.get("/block/999999"))


def test_native_transaction_page_decodes_fields_and_explains_the_diff(client, node, busy):
    tx = busy["native"]
    r = client.get(f"/tx/0x{tx.tx.envelope_id.hex()}")
    assert r.status_code == 200
    body = text(r)
    assert "Transfer" in body and "success" in body and "2.5" in body  # amount 2.5 NVM
    bob_id = legacy_id_com("evm", bytes.fromhex(busy["bob"][2:]))
    assert "balance in NVM" in body and "0x" + bob_id.hex() in body
    assert "reverse index: evm address" in body  # bob's address bound on first receipt


def test_evm_transaction_is_found_by_its_ethereum_hash_and_shows_its_log(client, node, busy):
    r = client.get(f"/tx/0x{busy['eth_hash'].hex()}")
    assert r.status_code == 200
    body = text(r)
    fee = Receipt.decode(busy["evm"].receipt_bytes).fee
    assert f"{fee * 10**9:,} wei" in body  # the fee in the EVM's unit too
    assert "EIP-1559 transaction" in body and "transfer(address,uint256)" in body
    assert "Logs" in body and "ddf252ad" in body  # the Transfer topic
    assert "EVM nonce of 0x" + ALICE.address[2:].lower() in body


def test_identity_page_from_any_address_shows_every_vm_and_unit(client, node, busy):
    ic = id_com(REV)
    pages = [client.get(f"/identity/{a}") for a in ["0x" + ic.hex(), *addresses_of(ic).values()]]
    assert all(p.status_code == 200 for p in pages)
    body = text(pages[0])
    assert all(text(p) == body for p in pages[1:])  # one identity, whichever address led there
    for address in addresses_of(ic).values():
        assert address in body
    assert body.count("<svg") >= 4  # a QR code per address
    assert 'data-unit="evm"' in body and "wei" in body and "lamport" in body and "sat" in body and "sun" in body
    assert f'href="/tx/0x{busy["native"].tx.envelope_id.hex()}"' in body  # its transactions


def test_search_goes_to_the_right_page(client, node, busy):
    ic = id_com(REV)
    cases = {
        str(node.head.height): f"/block/{node.head.height}",
        "0x" + node.head.hash.hex(): f"/block/0x{node.head.hash.hex()}",
        "0x" + busy["eth_hash"].hex(): f"/tx/0x{busy['eth_hash'].hex()}",
        addresses_of(ic)["svm"]: f"/identity/0x{ic.hex()}",
        addresses_of(ic)["evm"]: f"/identity/0x{ic.hex()}",
        "0x" + NATIVE_MINT.hex(): f"/mint/0x{NATIVE_MINT.hex()}",
    }
    for q, target in cases.items():
        r = client.get("/search", {"q": q})
        assert r.status_code == 302 and r["Location"] == target, (q, r.status_code)
    missing = client.get("/search", {"q": "no-such-thing"})
    assert missing.status_code == 404 and "Nothing matches" in text(missing)


def test_mint_page_lists_supply_and_holders(client, node, busy):
    r = client.get(f"/mint/0x{NATIVE_MINT.hex()}")
    assert r.status_code == 200
    body = text(r)
    assert "NVM" in body and erc20_address(NATIVE_MINT).hex()[:8] in body.lower() and "Holders" in body
    assert id_com(REV).hex()[:8] in body
    assert client.get("/mint/0x" + "00" * 32).status_code == 404


def test_pages_paginate(client, node, busy):
    r = client.get("/blocks?page=1")
    assert r.status_code == 200
    assert client.get("/blocks?page=99").status_code == 200  # an empty page, not an error
    assert client.get("/txs?page=x").status_code == 200


def test_faucet_sends_a_native_transfer_and_rate_limits(client, node):
    target = "0x000000000000000000000000000000000000bEEF"
    with producing(node) as stop:
        r = client.post("/api/v1/faucet", {"address": target}, content_type="application/json")
        assert r.status_code == 202, r.content
        tx_id = r.json()["tx"]
        again = client.post("/api/v1/faucet", {"address": target}, content_type="application/json")
        assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited" and "Retry-After" in again
        page = client.post("/faucet/", {"address": target})
        assert page.status_code == 429 and "funded recently" in text(page)
        bad = client.post("/faucet/", {"address": "0xnot-an-address"})
        assert bad.status_code == 400 and "notice bad" in text(bad)
        for _ in range(100):
            if m.Transaction.objects.filter(envelope_id=bytes.fromhex(tx_id[2:])).exists():
                break
            stop.wait(0.05)
    identity = text(client.get(f"/identity/{target}"))
    assert "10" in identity and f"/tx/{tx_id}" in identity


def test_live_consumer_sends_each_block(node, busy, settings):
    from nvmsite.asgi import application

    async def run():
        ws = WebsocketCommunicator(application, "/ws/live")
        connected, _ = await ws.connect()
        assert connected
        assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
        layer = get_channel_layer()
        event = await __import__("asgiref.sync").sync.sync_to_async(live.block_event)(node.head.height)
        await layer.group_send(live.GROUP, {"type": "live.event", "event": event})
        got = await ws.receive_json_from(timeout=5)
        assert got["type"] == "block" and got["height"] == node.head.height
        assert got["txs"][0]["vm"] == "evm" and got["txs"][0]["success"] and got["txs"][0]["writes"] > 0
        assert isinstance(got["txs"][0]["time_us"], int) and got["txs"][0]["time_us"] >= 0
        await ws.disconnect()

    async_to_sync(run)()


def test_unknown_pages_are_html_and_unknown_api_paths_json(client, node):
    assert "text/html" in client.get("/nowhere")["Content-Type"]
    assert client.get("/api/v1/nowhere")["Content-Type"].startswith("application/json")


def test_in_memory_layer_watcher_announces_a_block_made_by_another_process(node, busy, settings):
    """The embedded default: the producer cannot reach this process's in-memory layer, so the web
    process watches the blocks table."""
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers

    from nvmsite.asgi import application

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends = {}
    live._watcher = None
    s = busy["signer"]

    async def run():
        ws = WebsocketCommunicator(application, "/ws/live")
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
        await sync_to_async(lambda: None)()
        await __import__("asyncio").sleep(3 * live.POLL_S)  # the watcher has read the current height
        block = await sync_to_async(produce)(
            node, s.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, s.id_com), amount=1)
        )
        got = await ws.receive_json_from(timeout=5)
        assert got["type"] == "block" and got["height"] == block.header.height
        assert "0x" + s.id_com.hex() in got["parties"]
        await ws.disconnect()
        live._watcher.cancel()

    try:
        async_to_sync(run)()
    finally:
        channel_layers.backends = {}
        live._watcher = None


def test_evm_transaction_page_shows_its_call_trace_on_request(client, node, busy):
    page = f"/tx/0x{busy['eth_hash'].hex()}"
    body = text(client.get(page))
    assert 'href="?trace=call#trace"' in body and 'data-testid="call-trace"' not in body  # not run until asked
    r = client.get(page + "?trace=call")
    assert r.status_code == 200
    body = text(r)
    assert 'data-testid="call-trace"' in body and '<span class="badge">CALL</span>' in body
    token = to_checksum_address(erc20_address(NATIVE_MINT))
    assert token.lower() in body.lower() and ALICE.address.lower() in body.lower()
    assert "a9059cbb" in body  # the transfer's input
    native = text(client.get(f"/tx/0x{busy['native'].tx.envelope_id.hex()}?trace=call"))
    assert "Call trace" not in native  # only EVM transactions have one


def test_pages_are_rendered_again_when_a_block_lands(client, node, busy):
    """The per-block page cache: the same URL answers the same until the head moves, then anew."""
    s = busy["signer"]
    page = f"/identity/{busy['bob']}"
    first = text(client.get(page))
    assert text(client.get(page)) == first  # the same head: the kept page
    produce(node, s.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, bytes.fromhex(busy["bob"][2:])), amount=10**9))
    again = text(client.get(page))
    assert again != first and f"at block {node.head.height}" in again


def test_block_page_and_live_event_show_the_execution_schedule(client, node, busy):
    node.strategy = "batched"
    s = busy["signer"]
    transfer = s.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, bytes.fromhex(busy["bob"][2:])), amount=1)
    block = produce(node, transfer)
    body = text(client.get(f"/block/{block.header.height}"))
    row = m.Block.objects.get(height=block.header.height)
    assert row.schedule and '"batched"' in row.schedule, (row.height, row.schedule)
    assert 'data-testid="schedule">batched: 1 batch of 1 ' in body or 'data-testid="schedule">batched: 1 batch of 1<' in body, (
        body[body.find('"schedule"') :][:200]
    )
    assert "execute" in body
    event = live.block_event(block.header.height)
    assert event["schedule"]["strategy"] == "batched" and event["schedule"]["batches"] == [1]
    assert "sequential" in text(client.get(f"/block/{block.header.height - 1}"))


def test_a_faucet_request_that_sends_nothing_does_not_count_against_the_limits(client, node, settings):
    target = "0x000000000000000000000000000000000000c0DE"
    settings.NVM_FAUCET_CLIENT_LIMIT = 1
    settings.NVM_CHAIN_ID, real = 1, settings.NVM_CHAIN_ID  # the faucet's identity now belongs to another chain
    refused = client.post("/api/v1/faucet", {"address": target}, content_type="application/json")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "misconfigured"
    settings.NVM_CHAIN_ID = real
    with producing(node):
        ok = client.post("/api/v1/faucet", {"address": target}, content_type="application/json")
    assert ok.status_code == 202, ok.content  # neither the address nor the client (limit 1) was used up


def test_identity_page_shows_the_spl_token_account_of_each_user_mint(client, node, busy):
    from solders.pubkey import Pubkey
    from spl.token.instructions import get_associated_token_address

    from chain.identity import vm_address
    from engines.native.engine import user_mint_id

    s = busy["signer"]
    produce(node, s.envelope(t.CREATE_MINT, 2, decimals=6, symbol="USD", name="dollar"))
    mint = user_mint_id(s.id_com, 2)
    produce(node, s.envelope(t.MINT_TO, 3, mint=mint, to=t.Ref(t.REF_ID_COM, s.id_com), amount=1_250_000))
    ata = get_associated_token_address(Pubkey(vm_address(s.id_com, "svm")), Pubkey(mint))  # spl-token's own derivation
    body = text(client.get(f"/identity/0x{s.id_com.hex()}"))
    assert 'data-testid="spl-token-account"' in body and str(ata) in body
    usd = next(b for b in client.get(f"/api/v1/identity/0x{s.id_com.hex()}").json()["balances"] if b["symbol"] == "USD")
    assert usd["views"]["svm"] == {
        "unit": "USD base unit",
        "amount": "1250000",
        "whole_unit": "USD",
        "whole": "1.25",
        "token_account": str(ata),
    }


def test_the_devnet_panel_drives_the_controls(client, node, settings):
    settings.NVM_DEVNET = True
    page = client.get("/devnet")
    assert page.status_code == 200 and 'href="/devnet"' in page.content.decode()  # and the nav links to it
    body = text(client.post("/devnet", {"action": "increase", "seconds": "3600"}))
    assert "The clock is now 3,600 s ahead." in body and "3,600,000 ms ahead" in body
    body = text(client.post("/devnet", {"action": "snapshot"}))
    assert "Snapshot 1 taken." in body and "#1" in body
    with producing(node):
        body = text(client.post("/devnet", {"action": "mine", "blocks": "2"}))
    assert "Mined: the head is now block" in body
    bad = client.post("/devnet", {"action": "balance", "address": "not an address", "amount": "5"})
    assert bad.status_code == 400 and 'data-testid="devnet-error"' in bad.content.decode()
    settings.NVM_DEVNET = False
    off = client.get("/devnet")
    assert off.status_code == 403 and "Devnet controls are off" in off.content.decode()
    assert 'href="/devnet"' not in client.get("/").content.decode()


def test_revert_to_on_postgresql_restores_the_state_root_of_the_block(node, busy):
    """The store's revert (what evm_revert runs in the producer) over PostgreSQL: it checks the rebuilt tree
    against the block's own state root, so returning at all means the state is that block's."""
    from chain.store.sql import head, revert_to

    top = head()
    assert top is not None and top.height >= 2
    back = m.Block.objects.get(height=1)
    assert revert_to(1, []) == bytes(back.hash)
    assert head().height == 1 and not m.Transaction.objects.filter(block_id__gt=1).exists()
    assert not m.TxAlias.objects.filter(alias=busy["eth_hash"]).exists()  # the explorer's index forgot it


# -- every VM's pages --------------------------------------------------------------------------------
@pytest.fixture
def every_vm(settings, tmp_path):
    """A node running every VM, with a funded ACE identity, EVM account, Bitcoin wallet and Tron account."""
    alloc = [
        {"id_com": "0x" + id_com(REV).hex(), "balance": "5000000000000"},
        {"legacy": "evm", "address": ALICE.address, "balance": "1000000000000"},
        {"legacy": "btc", "address": BTC_WALLET.to_string(), "balance": str(10**8 * 10)},  # 1 BTC
        {"legacy": "tron", "address": tron_text(TRON_OWNER), "balance": str(100 * 10**6 * 1_000)},  # 100 TRX
    ]
    engines = ("engines.native", "engines.evm", "engines.svm", "engines.bvm", "engines.tvm")
    chain = sql_node(settings, tmp_path, {"alloc": alloc}, engines)
    cache.clear()
    yield chain
    views._registry.cache_clear()


def eth_tx(nonce: int, **fields) -> bytes:
    fee = {"gas": 200_000, "maxFeePerGas": 2 * BASE_FEE_WEI, "maxPriorityFeePerGas": 1, "value": 0}
    return b"\x10" + bytes(ALICE.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce, **fee, **fields}).raw_transaction)


def btc_spend(node) -> tuple[bytes, str]:
    """BTC_WALLET's coin, 0.6 BTC to a new wallet and the change back: (envelope, txid)."""
    from chain.state import State
    from chain.store.sql import SqlEntries
    from engines.bvm.coins import coin_of

    wallet = legacy_id_com("btc", bytes.fromhex(BTC_WALLET.to_script_pub_key().to_hex()))
    coin = coin_of(State(SqlEntries()), wallet)
    payee = PrivateKey(secret_exponent=22).get_public_key().get_taproot_address()
    tx = BtcTx([TxInput(coin.txid_hex, 0)], [TxOutput(60_000_000, payee.to_script_pub_key())], has_segwit=True)
    tx.outputs.append(TxOutput(39_990_000, BTC_WALLET.to_script_pub_key()))
    sig = BTC_KEY.sign_segwit_input(tx, 0, BTC_KEY.get_public_key().get_address().to_script_pub_key(), coin.sats)
    tx.witnesses.append(TxWitnessInput([sig, BTC_KEY.get_public_key().to_hex()]))
    return b"\x30" + bytes.fromhex(tx.serialize()), tx.get_txid()


def tron_transfer(node, sun: int) -> tuple[bytes, bytes]:
    """A TRX transfer from TRON_OWNER to TRON_BOB, signed as tronpy signs: (envelope, txid)."""
    block_id = tron_block_id(node.head.height, node.head.hash)
    body = field(1, TRON_OWNER) + field(2, TRON_BOB) + field(3, sun)
    contract = field(1, 1) + field(2, field(1, b"type.googleapis.com/protocol.TransferContract") + field(2, body))
    raw = field(1, block_id[6:8]) + field(4, block_id[8:16]) + field(8, node.head.timestamp_ms + 60_000) + field(11, contract)
    txid = hashlib.sha256(raw).digest()
    return b"\x40" + field(1, raw) + field(2, TRON_KEY.sign_recoverable(txid, hasher=None)), txid


def assert_identity_links(client, body: str) -> set[str]:
    """Every identity link on a page names an identity (an id_com or an address) whose page answers."""
    hrefs = set(re.findall(r'href="(/identity/[^"]*)"', body))
    assert hrefs
    for href in hrefs:
        assert re.fullmatch(r"/identity/\S+", href), href
        assert client.get(href).status_code == 200, href
    return hrefs


def test_every_identity_link_on_transaction_mint_and_submit_pages_answers(client, every_vm):
    node, s = every_vm, AceSigner(REV, CHAIN_ID)
    bob = bytes.fromhex("70997970C51812dc3A010C7d01b50e0d17dc79C8")
    produce(node, s.create_account())
    native = produce(node, s.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, bob), amount=10**9)).txs[0]
    transfer = bytes.fromhex("a9059cbb") + bytes(12) + bob + (7 * 10**9).to_bytes(32, "big")
    evm = produce(node, eth_tx(0, to=to_checksum_address(erc20_address(NATIVE_MINT)), data=transfer)).txs[0]
    spend, _txid = btc_spend(node)
    btc = produce(node, spend).txs[0]
    assert native.receipt.success and evm.receipt.success and btc.receipt.success
    produce(node, s.envelope(t.CREATE_MINT, 2, decimals=2, symbol="GLD", name="gold"))
    gld = user_mint_id(s.id_com, 2)
    produce(node, s.envelope(t.MINT_TO, 3, mint=gld, to=t.Ref(t.REF_EVM, bob), amount=1_234))

    native_page = text(client.get(f"/tx/0x{native.tx.envelope_id.hex()}"))
    assert f'href="/identity/0x{s.id_com.hex()}"' in native_page  # the state changes' identities
    evm_page = text(client.get(f"/tx/0x{evm.tx.envelope_id.hex()}?trace=call"))
    assert f'href="/identity/0x{erc20_address(NATIVE_MINT).hex()}"' in evm_page  # the log's emitter
    assert f'href="/identity/{ALICE.address.lower()}"' in evm_page  # the call trace's caller
    btc_page = text(client.get(f"/tx/0x{btc.tx.envelope_id.hex()}"))
    coins = btc_page[btc_page.index('data-testid="btc-coins"') :]
    assert 'href="/identity/0x' in coins[: coins.index("</table>")]
    mint_page = text(client.get(f"/mint/0x{gld.hex()}"))  # its authority and holders
    assert mint_page.count(f'href="/identity/0x{s.id_com.hex()}"') == 1
    submit_page = text(client.post("/submit", {"raw": eth_tx(1, to=to_checksum_address(bob), value=10**18)[1:].hex()}))
    assert "Balance changes" in submit_page
    for body in (native_page, evm_page, btc_page, mint_page, submit_page):
        assert_identity_links(client, body)


def test_transaction_lists_name_a_raw_transaction_by_the_id_its_wallet_showed(client, every_vm):
    """MetaMask shows an Ethereum hash, a Bitcoin wallet a txid, TronLink a txid: the lists do too (the envelope id
    stays in the link and on hover); a native transaction keeps its envelope id."""
    node, s = every_vm, AceSigner(REV, CHAIN_ID)
    native = produce(node, s.create_account()).txs[0]
    evm = produce(node, eth_tx(0, to=to_checksum_address(bytes(20)), value=1)).txs[0]
    spend, txid = btc_spend(node)
    btc = produce(node, spend).txs[0]
    tron, tron_txid = tron_transfer(node, 1_000)
    produce(node, tron)
    for page in ("/", "/txs", f"/block/{node.head.height}"):
        body = text(client.get(page))
        table = body[body.index("<table") :]
        if page != f"/block/{node.head.height}":
            assert f'title="0x{evm.tx.ids[0].hex()} (envelope 0x{evm.tx.envelope_id.hex()})"' in table
            assert f'title="{txid} (envelope 0x{btc.tx.envelope_id.hex()})"' in table  # a Bitcoin txid: no 0x
            assert f'title="0x{native.tx.envelope_id.hex()}"' in table
        assert f'title="{tron_txid.hex()} (envelope ' in table


def test_a_solidity_tokens_writes_are_named_in_the_diff(client, every_vm):
    """A creation's code and storage, and an ERC-20 transfer's balance entries (a mapping keyed by the sender and
    by the recipient its Transfer log names), are described rather than shown as hashed keys."""
    from pathlib import Path

    from eth_abi import encode as abi_encode

    node = every_vm
    art = json.loads((Path(__file__).parent / "data" / "solidity" / "Token.json").read_text())
    deploy = bytes.fromhex(art["bytecode"].removeprefix("0x")) + abi_encode(
        ["string", "string", "uint256"], ["Gold", "GLD", 10**24]
    )
    created = produce(node, eth_tx(0, data=deploy, gas=2_000_000)).txs[0]
    assert created.receipt.success
    token = bytes(created.receipt.output)
    bob = bytes(range(1, 21))
    call = bytes.fromhex("a9059cbb") + bytes(12) + bob + (77).to_bytes(32, "big")
    sent = produce(node, eth_tx(1, to=to_checksum_address(token), data=call)).txs[0]
    assert sent.receipt.success
    creation_page = text(client.get(f"/tx/0x{created.tx.envelope_id.hex()}"))
    assert f"EVM code of 0x{token.hex()}" in creation_page and f"EVM storage of 0x{token.hex()}, slot " in creation_page
    transfer_page = text(client.get(f"/tx/0x{sent.tx.envelope_id.hex()}"))
    alice = ALICE.address.lower()
    assert f"EVM storage of 0x{token.hex()}, slot " in transfer_page
    assert f"[{alice}]" in transfer_page and f"[0x{bob.hex()}]" in transfer_page  # both balances of the mapping
    assert "state entry (hashed key)" not in transfer_page


def test_every_link_of_the_header_and_footer_answers(client, node, settings):
    settings.NVM_DEVNET = True
    body = client.get("/").content.decode()
    chrome = body[body.index("<header") : body.index("</header>")] + body[body.index("<footer") : body.index("</footer>")]
    hrefs = set(re.findall(r'href="(/[^"]*)"', chrome))
    assert {"/api/v1/schema", "/devnet", "/faucet/"} <= hrefs
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def test_a_mint_page_shows_its_spl_mint_and_whole_token_amounts(client, node, busy):
    s = busy["signer"]
    produce(node, s.envelope(t.CREATE_MINT, 2, decimals=2, symbol="GLD", name="gold"))
    gld = user_mint_id(s.id_com, 2)
    produce(node, s.envelope(t.MINT_TO, 3, mint=gld, to=t.Ref(t.REF_ID_COM, s.id_com), amount=123_456_789))
    page = text(client.get(f"/mint/0x{gld.hex()}"))
    assert "not built yet" not in page
    assert re.search(rf'data-testid="spl-mint"><span class="copy" title="{svm_text(gld)}">', page)
    holders = page[page.index("Holders") :]
    assert '1,234,567.89 <span class="unit">GLD</span>' in holders and "123,<wbr>456,<wbr>789 <span" in holders
    assert 'Supply</dt><dd><span class="num">1,234,567.89</span> GLD' in page
    assert '<td class="num">1,234,567.89</td>' in text(client.get("/mints"))
    identity = text(client.get(f"/identity/0x{s.id_com.hex()}"))
    row = identity[identity.index(f'data-mint="0x{gld.hex()}"') :]
    row = row[: row.index("</tr>")]
    for vm in ("native", "evm", "svm", "tron"):
        cell = row[row.index(f'data-unit="{vm}"') :]
        assert cell.index('1,234,567.89 <span class="unit">GLD</span>') < cell.index("123,<wbr>456,<wbr>789"), vm


def test_a_tron_transaction_page_dates_its_expiration_and_links_its_accounts(client, every_vm):
    node = every_vm
    produce(node)  # a head with the wall clock's time, for the expiration
    envelope, txid = tron_transfer(node, 1_500_000)
    preview = text(client.post("/submit", {"raw": envelope[1:].hex(), "action": "preview"}))
    tron = produce(node, envelope).txs[0]
    assert tron.receipt.success, tron.receipt.message
    body = text(client.get(f"/tx/{txid.hex()}"))
    assert f'<span class="copy" title="{txid.hex()}">' in body and f"0x{txid.hex()}" not in body  # Tron's own spelling
    for page in (body, preview):
        for label, who in (("Owner", TRON_OWNER), ("To", TRON_BOB)):
            dd = page[page.index(f"<dt>{label}</dt>") :]
            assert dd.index(f'href="/identity/{tron_text(who)}"') < dd.index("</dd>"), label
        expiration = page[page.index("<dt>Expiration</dt><dd>") :][:60]
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", expiration), expiration


def test_search_finds_only_what_the_chain_knows(client, every_vm):
    node, s = every_vm, AceSigner(REV, CHAIN_ID)
    produce(node)
    envelope, tron_txid = tron_transfer(node, 1_000_000)
    spend, btc_txid = btc_spend(node)
    produce(node, envelope, spend)
    ic = id_com(REV)
    cases = {
        "0x" + ic.hex(): f"/identity/0x{ic.hex()}",  # funded in genesis
        tron_txid.hex(): f"/tx/0x{tron_txid.hex()}",
        btc_txid: f"/tx/0x{btc_txid}",
        TRON_BOB.hex(): f"/identity/0x{legacy_id_com('tron', TRON_BOB).hex()}",  # Tron's hex form, 41…
    }
    for q, target in cases.items():
        r = client.get("/search", {"q": q})
        assert r.status_code == 302 and r["Location"] == target, (q, r.status_code)
    for unknown in ("ab" * 32, "0x" + "cd" * 32, "0x" + s.id_com.hex()[:-2] + "00"):
        r = client.get("/search", {"q": unknown})
        assert r.status_code == 404 and "Nothing matches" in text(r), unknown
    help_text = text(client.get("/search"))
    for kind in ("Ethereum hash", "Solana signature", "Bitcoin txid", "Tron txid", "mint id", "id_com", "bcrt1…", "41…"):
        assert kind in help_text, kind


def test_ether_is_eth_and_a_change_has_one_minus_sign(client, node, busy):
    evm = text(client.get(f"/tx/0x{busy['eth_hash'].hex()}"))
    assert "NVM-ETH" not in evm and " ETH)" in evm
    raw = eth_tx(1, to=to_checksum_address(busy["bob"]), value=10**18, gas=21_000)[1:].hex()
    body = text(client.post("/submit", {"raw": raw, "action": "preview"}))
    assert "NVM-ETH" not in body and " ETH)" in body
    changes = body[body.index("Balance changes") :]
    changes = changes[: changes.index("</table>")]
    assert "−1.000021 NVM" in changes and "−1,000,021,000,000,000,000 wei" in changes  # the sender: value and fee
    assert "+1,000,000,000,000,000,000 wei" in changes
    assert not re.search(r">-\d", changes)  # no ASCII hyphen for a minus


def test_devnet_intro_reads_and_pages_have_a_favicon(client, node, settings):
    from django.contrib.staticfiles import finders

    settings.NVM_DEVNET = True
    body = text(client.get("/devnet"))
    intro = re.sub(r"<[^>]+>", "", body[body.index('<p class="lead">') :].split("</p>")[0])
    assert intro.endswith(".") and not intro.endswith("….") and not intro.endswith("… .")
    icon = re.search(r'<link rel="icon" href="/static/([^"]+)"', body)
    assert icon and finders.find(icon.group(1))


def test_a_contract_creation_names_the_contract_it_created(client, node):
    import rlp

    e = produce(node, eth_tx(0, data=bytes.fromhex("60006000f3"))).txs[0]  # deploys empty code
    assert e.receipt.success, e.receipt.message
    created = keccak(rlp.encode([bytes.fromhex(ALICE.address[2:]), 0]))[-20:]  # CREATE's address: sender and nonce
    body = text(client.get(f"/tx/0x{e.tx.envelope_id.hex()}"))
    assert "<dt>Contract created</dt>" in body and "<dt>Output</dt>" not in body
    assert f'href="/identity/0x{created.hex()}"' in body
    again = keccak(rlp.encode([bytes.fromhex(ALICE.address[2:]), 1]))[-20:]  # Submit's dry run names it too
    preview = text(client.post("/submit", {"raw": eth_tx(1, data=bytes.fromhex("60006000f3"))[1:].hex(), "action": "preview"}))
    assert "<dt>Contract created</dt>" in preview and f'href="/identity/0x{again.hex()}"' in preview
