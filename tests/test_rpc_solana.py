"""The Solana JSON-RPC (/rpc/solana) and its websocket (/rpc/solana/ws) as solana-py and solders see them.

Most tests talk to a live node: `manage.py nvm devnet` in a subprocess (embedded SQLite, on-demand
blocks, the shipped genesis with the test mnemonic's first Solana wallet funded), reached by solana-py's
`AsyncClient` and `SolanaWsClient` (solana-py 0.41 has no synchronous client), with transactions built
and signed by solders. Every answer read raw is also given to solders' own response parser
(`solders.rpc.responses.*Resp.from_json`): that is the check that the shapes are exact. The last tests run
in-process over the test database with the block producer under the test's control, for what a live node
makes racy (a transaction waiting in the mempool, paging through an address's history).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import base58
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.models import MemcmpOpts, TokenAccountOpts
from solana.rpc.websocket_api import SolanaWsClient
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.rpc import responses as r
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.token.state import TokenAccount
from solders.transaction import Transaction, VersionedTransaction
from spl.memo.instructions import create_memo
from spl.memo.models import MemoParams
from spl.token import instructions as spl
from spl.token import models as spl_models
from spl.token.constants import TOKEN_PROGRAM_ID

from tests.support.devnet import free_port, start_devnet, stop_devnet, wait_ready
from tests.test_rpc_eth import post  # the same JSON POST

ALICE = Keypair.from_seed(bytes.fromhex("a01c67efb5cb8f62f15907a9fcf124c73d2695c8a9a31f21c05742a31ca1dc72"))  # genesis: 10^15
SYSTEM = Pubkey.from_string("11111111111111111111111111111111")
RENT = Pubkey.from_string("SysvarRent111111111111111111111111111111111")
MEMO = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
SOL = 10**9
FEE = 5_000
RENT_EXEMPT_0 = 890_880  # Solana's Rent::default().minimum_balance(0)
ERROR_TYPES = r.RPCError.__args__  # type: ignore[attr-defined]


# -- the live node -------------------------------------------------------------------------------
def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    status, body = post(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}))
    assert status == 200 and isinstance(body, dict) and body["id"] == 1, body
    return body


def result(url: str, method: str, *params: Any, parser: Any = None) -> Any:
    """The result, after solders' parser for the method (when given) accepted the whole answer."""
    body = rpc(url, method, *params)
    assert "error" not in body, body
    if parser is not None:
        parsed = parser.from_json(json.dumps(body))
        assert not isinstance(parsed, ERROR_TYPES), parsed
    return body["result"]


def error(url: str, method: str, *params: Any, parser: Any = None) -> dict[str, Any]:
    body = rpc(url, method, *params)
    assert "error" in body and "result" not in body, body
    assert "traceback" not in json.dumps(body).lower()
    if parser is not None:
        assert isinstance(parser.from_json(json.dumps(body)), ERROR_TYPES)
    return body["error"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The devnet's base URL; NVM_ENGINES is the default, which includes engines.svm."""
    port = free_port()
    home = tmp_path_factory.mktemp("solana-node")
    proc = start_devnet(home, port, NVM_ON_DEMAND="1")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, home, base, timeout_s=60, min_height=0)  # on-demand: genesis is all there is
        yield base
    finally:
        stop_devnet(proc, home)


@pytest.fixture(scope="module")
def url(node: str) -> str:
    return node + "/rpc/solana"


def call(url: str, make: Callable[[AsyncClient], Awaitable[Any]]) -> Any:
    """One solana-py request (or several) on a client of its own."""

    async def run() -> Any:
        async with AsyncClient(url, timeout=30) as client:
            return await make(client)

    return asyncio.run(run())


def blockhash(url: str) -> Hash:
    return call(url, lambda c: c.get_latest_blockhash()).value.blockhash


def pay(lamports: int, to: Pubkey, source: Keypair = ALICE) -> Any:
    return transfer(TransferParams(from_pubkey=source.pubkey(), to_pubkey=to, lamports=lamports))


def signed(url: str, instructions: list[Any], signers: tuple[Keypair, ...] = (ALICE,), recent: Hash | None = None) -> Transaction:
    recent = recent or blockhash(url)
    return Transaction(list(signers), Message(instructions, signers[0].pubkey()), recent)


def send_and_confirm(url: str, tx: Transaction | VersionedTransaction) -> Signature:
    async def run(c: AsyncClient) -> Signature:
        sig = (await c.send_transaction(tx)).value
        await c.confirm_transaction(sig, sleep_seconds=0.05)
        return sig

    return call(url, run)


def b64(tx: Transaction | VersionedTransaction) -> str:
    return base64.b64encode(bytes(tx)).decode()


def balance(url: str, who: Pubkey) -> int:
    return call(url, lambda c: c.get_balance(who)).value


def head(node: str) -> dict[str, Any]:
    with urllib.request.urlopen(node + "/api/v1/status", timeout=10) as resp:
        return json.loads(resp.read())


# -- the node and its clock ----------------------------------------------------------------------
def test_node_version_clock_and_constants(node, url):
    async def run(c: AsyncClient) -> dict[str, Any]:
        return {
            "connected": await c.is_connected(),
            "version": (await c.get_version()).value,
            "genesis": (await c.get_genesis_hash()).value,
            "slot": (await c.get_slot()).value,
            "height": (await c.get_block_height()).value,
            "epoch": (await c.get_epoch_info()).value,
            "latest": await c.get_latest_blockhash(),
            "rent0": (await c.get_minimum_balance_for_rent_exemption(0)).value,
            "rent165": (await c.get_minimum_balance_for_rent_exemption(165)).value,
            "first": (await c.get_first_available_block()).value,
            "schedule": (await c.get_epoch_schedule()).value,
            "identity": (await c.get_identity()).value,
            "fees": (await c.get_recent_prioritization_fees()).value,
            "votes": (await c.get_vote_accounts()).value,
            "nodes": (await c.get_cluster_nodes()).value,
        }

    got = call(url, run)
    status = head(node)
    with urllib.request.urlopen(node + "/api/v1/blocks/0", timeout=10) as resp:
        genesis = json.loads(resp.read())
    assert got["connected"] and got["version"].solana_core == "2.2.0" and got["version"].feature_set > 0
    assert str(got["genesis"]) == base58.b58encode(bytes.fromhex(genesis["hash"][2:])).decode()
    assert got["slot"] >= status["height"] and got["height"] == got["slot"]
    epoch = got["epoch"]
    assert epoch.slots_in_epoch == 432_000 and epoch.epoch == epoch.absolute_slot // 432_000
    assert epoch.slot_index == epoch.absolute_slot % 432_000 and epoch.block_height == epoch.absolute_slot
    latest = got["latest"]
    assert latest.value.last_valid_block_height == latest.context.slot + 150
    assert result(url, "isBlockhashValid", str(latest.value.blockhash), parser=r.IsBlockhashValidResp)["value"] is True
    assert result(url, "isBlockhashValid", str(Hash.new_unique()))["value"] is False
    assert got["rent0"] == RENT_EXEMPT_0 and got["rent165"] == 2_039_280 and got["first"] == 0
    assert got["schedule"].slots_per_epoch == 432_000 and got["identity"].identity is not None
    assert got["fees"] == [] and got["votes"].current == [] and len(got["nodes"]) == 1
    for commitment in ("processed", "confirmed", "finalized"):  # all read the head
        assert result(url, "getSlot", {"commitment": commitment}, parser=r.GetSlotResp) >= got["slot"]
    result(url, "getTransactionCount", parser=r.GetTransactionCountResp)
    result(url, "getInflationRate", parser=r.GetInflationRateResp)
    result(url, "getInflationGovernor", parser=r.GetInflationGovernorResp)
    supply = result(url, "getSupply", parser=r.GetSupplyResp)["value"]
    assert supply["total"] == supply["circulating"] > 0 and supply["nonCirculatingAccounts"] == []
    assert error(url, "getSlot", {"commitment": "max"})["code"] == -32602
    slot_err = error(url, "getSlot", {"minContextSlot": got["slot"] + 1_000}, parser=r.GetSlotResp)
    assert slot_err["code"] == -32016 and slot_err["data"] == {"contextSlot": slot_err["data"]["contextSlot"]}


# -- a transfer, end to end ----------------------------------------------------------------------
def test_transfer_send_confirm_get_transaction_and_balances(node, url):
    bob = Keypair().pubkey()
    before = balance(url, ALICE.pubkey())
    tx = signed(url, [pay(3 * SOL, bob)])
    fee = call(url, lambda c: c.get_fee_for_message(tx.message)).value
    assert fee == FEE
    sig = send_and_confirm(url, tx)
    assert sig == tx.signatures[0]
    assert balance(url, bob) == 3 * SOL and balance(url, ALICE.pubkey()) == before - 3 * SOL - FEE

    found = call(url, lambda c: c.get_transaction(sig)).value
    meta = found.transaction.meta
    assert meta.fee == FEE and meta.err is None and meta.compute_units_consumed == 150
    assert meta.pre_balances == [before, 0, 1] and meta.post_balances == [before - 3 * SOL - FEE, 3 * SOL, 1]
    assert meta.log_messages == [f"Program {SYSTEM} invoke [1]", f"Program {SYSTEM} success"]
    assert meta.pre_token_balances == [] and meta.inner_instructions == []
    raw = found.transaction.transaction
    assert raw.signatures == [sig] and raw.message.account_keys == [ALICE.pubkey(), bob, SYSTEM]
    assert found.block_time is not None and found.block_time <= time.time() + 1

    statuses = call(url, lambda c: c.get_signature_statuses([sig, Signature.default()])).value
    assert statuses[0].slot == found.slot and statuses[0].err is None and statuses[1] is None
    assert str(statuses[0].confirmation_status) == "TransactionConfirmationStatus.Finalized" and statuses[0].confirmations is None
    by_search = result(url, "getSignatureStatuses", [str(sig)], {"searchTransactionHistory": True})["value"][0]
    assert by_search == {
        "slot": found.slot,
        "confirmations": None,
        "err": None,
        "status": {"Ok": None},
        "confirmationStatus": "finalized",
    }

    for encoding in ("base64", "base58"):
        encoded = result(url, "getTransaction", str(sig), {"encoding": encoding}, parser=r.GetTransactionResp)
        text = encoded["transaction"][0]
        assert Transaction.from_bytes(base64.b64decode(text) if encoding == "base64" else base58.b58decode(text)) == tx
    parsed = result(url, "getTransaction", str(sig), "jsonParsed", parser=r.GetTransactionResp)["transaction"]["message"]
    assert parsed["instructions"][0]["parsed"] == {
        "info": {"destination": str(bob), "lamports": 3 * SOL, "source": str(ALICE.pubkey())},
        "type": "transfer",
    }
    assert parsed["accountKeys"][1] == {"pubkey": str(bob), "signer": False, "source": "transaction", "writable": True}

    history = call(url, lambda c: c.get_signatures_for_address(bob)).value
    assert [h.signature for h in history] == [sig] and history[0].slot == found.slot
    block = call(url, lambda c: c.get_block(found.slot)).value
    assert sig in [t.transaction.signatures[0] for t in block.transactions]
    assert block.block_height == found.slot and block.parent_slot == found.slot - 1
    assert block.rewards == [] and block.previous_blockhash == call(url, lambda c: c.get_block(found.slot - 1)).value.blockhash
    accounts = result(url, "getBlock", found.slot, {"transactionDetails": "accounts"}, parser=r.GetBlockResp)["transactions"]
    payer = {"pubkey": str(ALICE.pubkey()), "signer": True, "source": "transaction", "writable": True}
    assert accounts[0]["transaction"]["accountKeys"][0] == payer
    assert accounts[0]["meta"]["fee"] == FEE and "logMessages" not in accounts[0]["meta"]
    signatures = result(url, "getBlock", found.slot, {"transactionDetails": "signatures"}, parser=r.GetBlockResp)
    assert signatures["signatures"] == [str(sig)] and "transactions" not in signatures
    assert call(url, lambda c: c.get_block_time(found.slot)).value == found.block_time
    assert found.slot in call(url, lambda c: c.get_blocks(max(0, found.slot - 2))).value


def test_a_memo_shows_in_the_address_history(url):
    carol = Keypair().pubkey()
    sig = send_and_confirm(
        url, signed(url, [pay(SOL, carol), create_memo(MemoParams(program_id=MEMO, signer=ALICE.pubkey(), message=b"hello"))])
    )
    (entry,) = result(url, "getSignaturesForAddress", str(carol), {"limit": 5}, parser=r.GetSignaturesForAddressResp)
    assert entry["signature"] == str(sig) and entry["memo"] == "[5] hello" and entry["err"] is None
    assert entry["confirmationStatus"] == "finalized"
    assert error(url, "getSignaturesForAddress", str(carol), {"limit": 1001})["message"] == "Invalid limit; max 1000"


# -- refusals --------------------------------------------------------------------------------------
def test_failing_simulation_and_refused_sends_write_nothing(node, url):
    poor = Keypair()
    before, height = balance(url, ALICE.pubkey()), head(node)["height"]
    too_much = signed(url, [pay(10**18, poor.pubkey())])
    sim = call(url, lambda c: c.simulate_transaction(VersionedTransaction.from_legacy(too_much))).value
    assert str(sim.err) == "TransactionErrorInstructionError((0, Tagged(InstructionErrorCustom(1))))"
    assert sim.logs == [
        f"Program {SYSTEM} invoke [1]",
        f"Program log: Transfer: insufficient lamports {before - FEE}, need {10**18}",  # the fee is paid first
        f"Program {SYSTEM} failed: custom program error: 0x1",
    ]
    assert sim.units_consumed == 150

    failed = error(url, "sendTransaction", b64(too_much), {"encoding": "base64"}, parser=r.SendTransactionResp)
    assert failed["code"] == -32002
    assert failed["message"] == "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1"
    assert failed["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]} and failed["data"]["accounts"] is None
    assert failed["data"]["logs"] == sim.logs and failed["data"]["unitsConsumed"] == 150 and failed["data"]["returnData"] is None
    with pytest.raises(RPCException) as e:  # what solana-py raises, with solders' typed error
        call(url, lambda c: c.send_transaction(too_much))
    assert isinstance(e.value.args[0], SendTransactionPreflightFailureMessage)

    stale = signed(url, [pay(1, poor.pubkey())], recent=Hash.new_unique())
    refused = error(url, "sendTransaction", b64(stale), {"encoding": "base64"}, parser=r.SendTransactionResp)
    assert refused == {
        "code": -32002,
        "message": "Transaction simulation failed: Blockhash not found",
        "data": {
            "err": "BlockhashNotFound",
            "logs": [],
            "accounts": None,
            "unitsConsumed": 0,
            "returnData": None,
            "innerInstructions": None,
            "replacementBlockhash": None,
        },
    }
    assert error(url, "sendTransaction", b64(stale), {"encoding": "base64", "skipPreflight": True})["code"] == -32002

    good = signed(url, [pay(SOL, poor.pubkey())])
    forged = bytearray(bytes(good))
    forged[1] ^= 0x01  # the first byte of the signature
    bad_sig = error(url, "sendTransaction", base64.b64encode(bytes(forged)).decode(), {"encoding": "base64"})
    assert bad_sig == {"code": -32003, "message": "Transaction signature verification failure"}
    assert (
        error(url, "simulateTransaction", base64.b64encode(bytes(forged)).decode(), {"encoding": "base64", "sigVerify": True})
        == bad_sig
    )
    unverified = result(url, "simulateTransaction", base64.b64encode(bytes(forged)).decode(), {"encoding": "base64"})
    assert unverified["value"]["err"] is None  # sigVerify is off by default, as on Solana

    assert balance(url, ALICE.pubkey()) == before and head(node)["height"] == height and head(node)["mempool_size"] == 0
    for tx in (too_much, stale):
        assert result(url, "getSignatureStatuses", [str(tx.signatures[0])])["value"] == [None]

    sig = send_and_confirm(url, good)
    duplicate = error(url, "sendTransaction", b64(good), {"encoding": "base64"})
    assert duplicate["code"] == -32002 and duplicate["data"]["err"] == "AlreadyProcessed"
    assert duplicate["message"] == "Transaction simulation failed: This transaction has already been processed"
    assert balance(url, poor.pubkey()) == SOL and balance(url, ALICE.pubkey()) == before - SOL - FEE
    assert call(url, lambda c: c.get_signature_statuses([sig])).value[0] is not None


def test_simulate_replaces_the_blockhash_and_shows_accounts_after(url):
    dave = Keypair().pubkey()
    stale = signed(url, [pay(2 * SOL, dave)], recent=Hash.new_unique())
    assert call(url, lambda c: c.simulate_transaction(VersionedTransaction.from_legacy(stale))).value.err is not None
    sim = result(
        url,
        "simulateTransaction",
        b64(stale),
        {"encoding": "base64", "replaceRecentBlockhash": True, "accounts": {"addresses": [str(dave)], "encoding": "base64"}},
        parser=r.SimulateTransactionResp,
    )["value"]
    assert sim["err"] is None and sim["replacementBlockhash"]["blockhash"] == str(blockhash(url))
    (after,) = sim["accounts"]
    assert after["lamports"] == 2 * SOL and after["owner"] == str(SYSTEM) and after["data"] == ["", "base64"]
    assert balance(url, dave) == 0  # nothing written
    conflict = error(
        url, "simulateTransaction", b64(stale), {"encoding": "base64", "sigVerify": True, "replaceRecentBlockhash": True}
    )
    assert conflict == {"code": -32602, "message": "sigVerify may not be used with replaceRecentBlockhash"}


def test_bad_input_is_answered_in_solanas_dialect(url):
    assert error(url, "getBalance", "not-base58!", parser=r.GetBalanceResp) == {
        "code": -32602,
        "message": "Invalid param: Invalid",
    }
    assert error(url, "getBalance", "1" * 50)["message"] == "Invalid param: WrongSize"
    assert error(url, "getBalance", 5)["message"] == "Invalid params: invalid type: integer `5`, expected a string."
    assert error(url, "getBalance")["message"] == "`params` should have at least 1 argument(s)"
    assert error(url, "getBalance", str(ALICE.pubkey()), {}, 3)["code"] == -32602
    assert error(url, "getNothing", parser=r.GetBalanceResp) == {"code": -32601, "message": "Method not found"}
    assert error(url, "sendTransaction", "!!!")["message"].startswith("invalid base58 encoding")
    assert error(url, "sendTransaction", "abc")["message"].startswith("invalid transaction: ")
    assert error(url, "sendTransaction", "A" * 2000, {"encoding": "base64"})["message"].startswith("base64 encoded ")
    assert error(url, "sendTransaction", "abc", {"encoding": "json"})["message"].startswith(
        "Invalid params: unknown variant `json`"
    )
    assert (
        error(url, "getAccountInfo", str(RENT), {"encoding": "jsonParsed", "dataSlice": {"offset": 0, "length": 1}})["code"]
        == -32600
    )
    assert error(url, "getSignatureStatuses", [str(Signature.default())] * 257)["message"] == "Too many inputs provided; max 256"
    assert error(url, "getMultipleAccounts", [str(SYSTEM)] * 101)["message"] == "Too many inputs provided; max 100"
    assert error(url, "getTransaction", str(Signature.default()), {"commitment": "processed"})["code"] == -32602
    assert error(url, "getBlock", 10**9, parser=r.GetBlockResp)["code"] == -32004
    assert error(url, "getProgramAccounts", str(SYSTEM))["code"] == -32010
    assert result(url, "getTransaction", str(Signature.default()), parser=r.GetTransactionResp) is None

    status, body = post(url, "{not json")
    assert status == 200 and body["error"]["code"] == -32700 and body["id"] is None
    status, body = post(
        url,
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": "a", "method": "getSlot"},
                {"jsonrpc": "2.0", "id": 2, "method": "getNothing"},
                {"jsonrpc": "2.0", "method": "getSlot"},  # a notification: no answer
                {"jsonrpc": "1.0", "id": 3, "method": "getSlot"},
            ]
        ),
    )
    assert status == 200 and [x["id"] for x in body] == ["a", 2, 3]
    assert isinstance(body[0]["result"], int) and [x["error"]["code"] for x in body[1:]] == [-32601, -32600]


# -- the faucet ------------------------------------------------------------------------------------
def test_request_airdrop_credits_a_fresh_keypair_and_is_confirmable(url):
    fresh = Keypair().pubkey()

    async def run(c: AsyncClient) -> tuple[Signature, int]:
        sig = (await c.request_airdrop(fresh, 2 * SOL)).value
        await c.confirm_transaction(sig, sleep_seconds=0.05)
        return sig, (await c.get_balance(fresh)).value

    sig, got = call(url, run)
    assert got == 2 * SOL
    shown = call(url, lambda c: c.get_transaction(sig)).value
    assert shown.transaction.meta.err is None and shown.transaction.meta.post_balances[1] == 2 * SOL
    message = shown.transaction.transaction.message
    assert message.account_keys[1:] == [fresh, SYSTEM] and shown.transaction.transaction.signatures == [sig]
    assert [h.signature for h in call(url, lambda c: c.get_signatures_for_address(fresh)).value] == [sig]
    too_much = error(url, "requestAirdrop", str(Keypair().pubkey()), 10**15, parser=r.RequestAirdropResp)
    assert too_much["code"] == -32602 and too_much["message"] == "airdrop request too large; req: ◎1000000, cap: ◎1000"
    assert error(url, "requestAirdrop", str(fresh), 0)["code"] == -32602
    again = error(url, "requestAirdrop", str(fresh), SOL)  # the faucet's window holds across the devnet's web processes
    assert again["code"] == -32603 and again["message"].startswith("airdrop refused: this address was funded recently")


# -- accounts --------------------------------------------------------------------------------------
def test_accounts_of_programs_sysvars_and_wallets(url):
    async def run(c: AsyncClient) -> Any:
        return (
            (await c.get_account_info(SYSTEM)).value,
            (await c.get_account_info(RENT)).value,
            (await c.get_account_info_json_parsed(RENT)).value,
            (await c.get_multiple_accounts([ALICE.pubkey(), Keypair().pubkey()])).value,
        )

    system, rent, rent_parsed, (alice, nobody) = call(url, run)
    assert system.executable and str(system.owner) == "NativeLoader1111111111111111111111111111111" and system.lamports == 1
    assert system.data == b"system_program"
    assert str(rent.owner) == "Sysvar1111111111111111111111111111111111111" and len(rent.data) == 17
    assert rent_parsed.data.parsed == {
        "info": {"burnPercent": 50, "exemptionThreshold": 2.0, "lamportsPerByteYear": 3480},
        "type": "rent",
    }
    assert alice.owner == SYSTEM and alice.lamports > 0 and alice.data == b"" and nobody is None
    legacy = result(url, "getAccountInfo", str(RENT), parser=r.GetAccountInfoResp)["value"]  # default encoding: binary
    assert isinstance(legacy["data"], str) and base58.b58decode(legacy["data"]) == rent.data
    assert legacy["rentEpoch"] == 2**64 - 1 and legacy["space"] == 17
    sliced = result(url, "getMultipleAccounts", [str(RENT)], {"encoding": "base58", "dataSlice": {"offset": 8, "length": 8}})
    assert base58.b58decode(sliced["value"][0]["data"][0]) == rent.data[8:16]


def test_v0_transactions_need_max_supported_transaction_version(url):
    erin = Keypair().pubkey()
    tx = VersionedTransaction(MessageV0.try_compile(ALICE.pubkey(), [pay(SOL, erin)], [], blockhash(url)), [ALICE])
    sig = send_and_confirm(url, tx)
    err = error(url, "getTransaction", str(sig), parser=r.GetTransactionResp)
    assert err["code"] == -32015 and err["message"] == (
        "Transaction version (0) is not supported by the requesting client. Please try the request again with the "
        'following configuration parameter: "maxSupportedTransactionVersion": 0'
    )
    shown = result(url, "getTransaction", str(sig), {"maxSupportedTransactionVersion": 0}, parser=r.GetTransactionResp)
    assert shown["version"] == 0 and shown["transaction"]["message"]["addressTableLookups"] == []
    assert error(url, "getBlock", shown["slot"])["code"] == -32015
    block = result(url, "getBlock", shown["slot"], {"maxSupportedTransactionVersion": 0}, parser=r.GetBlockResp)
    assert [t["version"] for t in block["transactions"]] == [0]
    fee = result(
        url, "getFeeForMessage", base64.b64encode(to_bytes_versioned(tx.message)).decode(), parser=r.GetFeeForMessageResp
    )
    assert fee["value"] == FEE


# -- SPL Token ---------------------------------------------------------------------------------------
def test_token_mint_ata_and_the_token_methods(url):
    mint = Keypair()
    ata = spl.get_associated_token_address(ALICE.pubkey(), mint.pubkey())
    rent = call(url, lambda c: c.get_minimum_balance_for_rent_exemption(82)).value
    instructions = [
        create_account(
            CreateAccountParams(
                from_pubkey=ALICE.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN_PROGRAM_ID
            )
        ),
        spl.initialize_mint(
            spl_models.InitializeMintParams(
                decimals=6, mint=mint.pubkey(), mint_authority=ALICE.pubkey(), program_id=TOKEN_PROGRAM_ID
            )
        ),
        spl.create_associated_token_account(ALICE.pubkey(), ALICE.pubkey(), mint.pubkey()),
        spl.mint_to(
            spl_models.MintToParams(
                program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=ata, mint_authority=ALICE.pubkey(), amount=1_500_000
            )
        ),
    ]
    sig = send_and_confirm(url, signed(url, instructions, (ALICE, mint)))
    meta = call(url, lambda c: c.get_transaction(sig)).value.transaction.meta
    (post,) = meta.post_token_balances
    assert post.mint == mint.pubkey() and post.owner == ALICE.pubkey() and post.ui_token_amount.amount == "1500000"
    assert meta.pre_token_balances == []

    owned = result(
        url, "getTokenAccountsByOwner", str(ALICE.pubkey()), {"mint": str(mint.pubkey())}, {"encoding": "jsonParsed"},
        parser=r.GetTokenAccountsByOwnerJsonParsedResp,
    )["value"]  # fmt: skip
    assert owned == [
        {
            "pubkey": str(ata),
            "account": {
                "data": {
                    "parsed": {
                        "info": {
                            "isNative": False,
                            "mint": str(mint.pubkey()),
                            "owner": str(ALICE.pubkey()),
                            "state": "initialized",
                            "tokenAmount": {"amount": "1500000", "decimals": 6, "uiAmount": 1.5, "uiAmountString": "1.5"},
                        },
                        "type": "account",
                    },
                    "program": "spl-token",
                    "space": 165,
                },
                "executable": False,
                "lamports": 2_039_280,
                "owner": str(TOKEN_PROGRAM_ID),
                "rentEpoch": 2**64 - 1,
                "space": 165,
            },
        }
    ]

    by_owner_filter = [165, MemcmpOpts(offset=32, bytes=str(ALICE.pubkey()))]
    by_mint_filter = [MemcmpOpts(offset=0, bytes=str(mint.pubkey()))]

    async def run(c: AsyncClient) -> Any:
        return (
            (await c.get_token_accounts_by_owner(ALICE.pubkey(), TokenAccountOpts(program_id=TOKEN_PROGRAM_ID))).value,
            (await c.get_token_account_balance(ata)).value,
            (await c.get_token_supply(mint.pubkey())).value,
            (await c.get_program_accounts(TOKEN_PROGRAM_ID, encoding="base64", filters=by_owner_filter)).value,
            (await c.get_program_accounts(TOKEN_PROGRAM_ID, encoding="base64", filters=by_mint_filter)).value,
            (await c.get_account_info_json_parsed(mint.pubkey())).value,
            (await c.get_token_largest_accounts(mint.pubkey())).value,
        )

    by_program, amount, supply, by_owner, by_mint, mint_parsed, largest = call(url, run)
    assert ata in [a.pubkey for a in by_program]
    assert (amount.amount, amount.decimals, amount.ui_amount, amount.ui_amount_string) == ("1500000", 6, 1.5, "1.5")
    assert (supply.amount, supply.decimals) == ("1500000", 6)
    assert ata in [a.pubkey for a in by_owner] and all(
        TokenAccount.from_bytes(a.account.data).owner == ALICE.pubkey() for a in by_owner
    )
    assert [a.pubkey for a in by_mint] == [ata]  # an account's mint is at offset 0 (a mint's own data starts with its authority)
    assert TokenAccount.from_bytes(by_mint[0].account.data).amount == 1_500_000
    assert mint_parsed.data.parsed["info"] == {
        "decimals": 6,
        "freezeAuthority": None,
        "isInitialized": True,
        "mintAuthority": str(ALICE.pubkey()),
        "supply": "1500000",
    }
    assert [(str(x.address), x.amount.amount) for x in largest] == [(str(ata), "1500000")]
    assert error(url, "getTokenAccountBalance", str(ALICE.pubkey()))["message"] == "Invalid param: not a Token account"
    assert error(url, "getTokenSupply", str(ALICE.pubkey()))["message"] == "Invalid param: not a Token mint"


# -- websockets ------------------------------------------------------------------------------------
def test_websocket_signature_account_and_slot_subscriptions(node, url):
    ws_url = node.replace("http://", "ws://") + "/rpc/solana/ws"
    frank = Keypair().pubkey()
    tx = signed(url, [pay(SOL, frank)])

    async def run() -> list[Any]:
        async with AsyncClient(url, timeout=30) as c, SolanaWsClient(ws_url) as ws:
            slots = await ws.slot_subscribe()
            account = await ws.account_subscribe(pubkey=frank, encoding="base64")
            await ws.signature_subscribe(signature=tx.signatures[0])
            await c.send_transaction(tx)
            seen = [await asyncio.wait_for(ws.recv(), 15) for _ in range(3)]
            await ws.signature_subscribe(signature=tx.signatures[0])  # already in a block: notified at once
            seen.append(await asyncio.wait_for(ws.recv(), 15))
            await ws.unsubscribe(slots)
            await ws.unsubscribe(account)
            return seen

    seen = asyncio.run(run())
    by_kind = {type(n).__name__: n for n in seen[:3]}
    assert set(by_kind) == {"SlotNotification", "AccountNotification", "SignatureNotification"}
    slot = by_kind["SlotNotification"].result
    assert slot.root == slot.slot and slot.parent == slot.slot - 1
    assert by_kind["AccountNotification"].result.value.lamports == SOL
    done = by_kind["SignatureNotification"].result
    assert done.value.err is None and done.context.slot == slot.slot
    assert type(seen[3]).__name__ == "SignatureNotification" and seen[3].result.context.slot == slot.slot


def test_websocket_errors_are_json_rpc_errors(node):
    from websockets.sync.client import connect

    with connect(node.replace("http://", "ws://") + "/rpc/solana/ws") as ws:

        def ask(text: str) -> Any:
            ws.send(text)
            return json.loads(ws.recv(timeout=10))

        assert ask("{nope")["error"]["code"] == -32700
        assert ask('{"jsonrpc": "2.0", "id": 1, "method": "logsSubscribe", "params": ["all"]}')["error"] == {
            "code": -32601,
            "message": "Method not found",
        }
        unknown = ask('{"jsonrpc": "2.0", "id": 2, "method": "signatureUnsubscribe", "params": [999999]}')
        assert unknown == {"jsonrpc": "2.0", "id": 2, "error": {"code": -32602, "message": "Invalid subscription id."}}
        assert ask('{"jsonrpc": "2.0", "id": 3, "method": "accountSubscribe", "params": ["x"]}')["error"]["code"] == -32602
        sub = ask('{"jsonrpc": "2.0", "id": 4, "method": "rootSubscribe"}')["result"]
        assert ask(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "rootUnsubscribe", "params": [sub]})) == {
            "jsonrpc": "2.0",
            "id": 5,
            "result": True,
        }


# -- in-process, over the test database -----------------------------------------------------------
@pytest.fixture
def chain(settings, tmp_path):
    from rpc.native import views
    from tests.conftest import sql_node

    genesis = {"chain_id": 7231053, "alloc": [{"legacy": "svm", "address": str(ALICE.pubkey()), "balance": str(10**15)}]}
    c = sql_node(settings, tmp_path, genesis, ("engines.native", "engines.evm", "engines.svm"))
    yield c
    views._registry.cache_clear()


def local(client: Any, method: str, *params: Any) -> dict[str, Any]:
    resp = client.post(
        "/rpc/solana", {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, content_type="application/json"
    )
    assert resp.status_code == 200
    return resp.json()


def local_tx(chain: Any, lamports: int, to: Pubkey) -> Transaction:
    return Transaction([ALICE], Message([pay(lamports, to)], ALICE.pubkey()), Hash(chain.head.hash))


@pytest.mark.django_db(transaction=True)
def test_a_pending_transaction_is_unknown_until_its_block_and_a_resend_is_idempotent(client, chain):
    gus = Keypair().pubkey()
    tx = local_tx(chain, SOL, gus)
    sig = local(client, "sendTransaction", b64(tx), {"encoding": "base64"})["result"]
    assert sig == str(tx.signatures[0])
    assert local(client, "sendTransaction", b64(tx), {"encoding": "base64"})["result"] == sig  # already waiting
    assert local(client, "getSignatureStatuses", [sig])["result"]["value"] == [None]
    assert local(client, "getTransaction", sig)["result"] is None
    chain.produce(100)
    status = local(client, "getSignatureStatuses", [sig])["result"]["value"][0]
    assert status["slot"] == 1 and status["err"] is None
    assert local(client, "getBalance", str(gus))["result"]["value"] == SOL
    found = client.get(f"/api/v1/tx/{sig}").json()  # the native API takes the signature as a Solana wallet shows it
    assert found["status"] == "committed" and "0x" + bytes(tx.signatures[0]).hex() in found["ids"]
    assert client.get(f"/api/v1/tx/{sig[:40]}").json()["error"]["code"] == "bad_hex"  # not 64 bytes: not a signature


@pytest.mark.django_db(transaction=True)
def test_skip_preflight_lands_a_failing_transaction_with_its_fee(client, chain):
    tx = local_tx(chain, 10**18, Keypair().pubkey())
    simulated = local(client, "simulateTransaction", b64(tx), {"encoding": "base64"})["result"][
        "value"
    ]  # on a read-only snapshot
    assert simulated["err"] == {"InstructionError": [0, {"Custom": 1}]} and simulated["unitsConsumed"] == 150
    assert local(client, "sendTransaction", b64(tx), {"encoding": "base64"})["error"]["code"] == -32002
    sig = local(client, "sendTransaction", b64(tx), {"encoding": "base64", "skipPreflight": True})["result"]
    chain.produce(100)
    shown = local(client, "getTransaction", sig)["result"]
    assert shown["meta"]["err"] == {"InstructionError": [0, {"Custom": 1}]} and shown["meta"]["fee"] == FEE
    assert shown["meta"]["status"] == {"Err": shown["meta"]["err"]}
    assert shown["meta"]["postBalances"][0] == 10**15 - FEE
    assert local(client, "getSignatureStatuses", [sig])["result"]["value"][0]["err"] == shown["meta"]["err"]
    reads = [
        ("getProgramAccounts", str(TOKEN_PROGRAM_ID), {"encoding": "base64"}),
        ("getTokenAccountsByOwner", str(ALICE.pubkey()), {"programId": str(TOKEN_PROGRAM_ID)}, {"encoding": "jsonParsed"}),
        ("getEpochInfo",),
        ("getBlock", 1, {"encoding": "jsonParsed"}),
        ("getSignaturesForAddress", str(ALICE.pubkey())),
    ]
    for method, *params in reads:
        assert "result" in local(client, method, *params), method
    by_owner = local(client, "getTokenAccountsByOwner", str(ALICE.pubkey()), {"programId": str(TOKEN_PROGRAM_ID)})
    assert by_owner["result"]["value"] == []  # the native token is lamports on the SVM, never a token account


@pytest.mark.django_db(transaction=True)
def test_signatures_for_address_newest_first_with_limit_before_and_until(client, chain):
    hal = Keypair().pubkey()
    sigs = []
    for i in range(4):
        tx = local_tx(chain, SOL + i, hal)
        sigs.append(local(client, "sendTransaction", b64(tx), {"encoding": "base64"})["result"])
        chain.produce(100)
    newest_first = sigs[::-1]

    def listed(cfg: dict[str, Any]) -> list[str]:
        return [x["signature"] for x in local(client, "getSignaturesForAddress", str(hal), cfg)["result"]]

    assert listed({}) == newest_first
    assert listed({"limit": 2}) == newest_first[:2]
    assert listed({"before": newest_first[1]}) == newest_first[2:]
    assert listed({"until": newest_first[2]}) == newest_first[:2]
    assert listed({"before": newest_first[0], "until": newest_first[3]}) == newest_first[1:3]
    assert listed({"before": str(Signature.default())}) == []
    assert local(client, "getSignaturesForAddress", str(Keypair().pubkey()))["result"] == []
    blocks = local(client, "getBlocks", 1)["result"]
    assert blocks == [1, 2, 3, 4] and local(client, "getBlocksWithLimit", 2, 2)["result"] == [2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_faucet_refusal_is_an_internal_error_with_the_reason(client, chain, monkeypatch):
    from faucet.service import FaucetError
    from rpc.solana import transactions

    def refuse(address: str, client_address: str, amount: int) -> None:
        assert address == str(ALICE.pubkey()) and client_address == "127.0.0.1" and amount == SOL
        raise FaucetError("rate_limited", "this address was funded recently: try again in 42 s", 429, 42)

    monkeypatch.setattr(transactions, "drip", refuse)
    err = local(client, "requestAirdrop", str(ALICE.pubkey()), SOL)["error"]
    assert err == {"code": -32603, "message": "airdrop refused: this address was funded recently: try again in 42 s"}


@pytest.mark.django_db(transaction=True)
def test_native_transfers_and_ace_calls_have_native_signatures(client, settings, tmp_path):
    """A native transfer (what the faucet sends) shows as the System transfer it amounts to; an SVM call authorised
    by an ACE credential (0x21) as its Solana message; both are named by `envelope id || H(domain || envelope id)`."""
    from chain.auth import ed25519_credential
    from chain.identity import vm_address
    from chain.ledger import NATIVE_MINT
    from engines.native import tx as native
    from engines.native.client import AceSigner
    from engines.svm.ace import ace_digest, ace_unsigned
    from rpc.native import views
    from rpc.solana.chaindata import native_envelope_id, native_signature
    from tests.conftest import sql_node

    ace = AceSigner(b"\x11" * 32, 7231053)
    genesis = {"chain_id": 7231053, "alloc": [{"rev": "11" * 32, "balance": str(10**15)}]}
    chain = sql_node(settings, tmp_path, genesis, ("engines.native", "engines.evm", "engines.svm"))
    try:
        chain.admit(ace.create_account())
        chain.produce(10)
        ivy = Keypair().pubkey()
        drip = ace.envelope(native.TRANSFER, 1, mint=NATIVE_MINT, to=native.Ref(native.REF_SVM, bytes(ivy)), amount=3 * SOL)
        drip_id = chain.admit(drip).envelope_id
        chain.produce(10)
        payer = Pubkey(vm_address(ace.id_com, "svm"))
        message = bytes(
            Message.new_with_blockhash(
                [transfer(TransferParams(from_pubkey=payer, to_pubkey=ivy, lamports=SOL))], payer, Hash(chain.head.hash)
            )
        )
        unsigned = ace_unsigned(7231053, ace.id_com, message)
        call_id = chain.admit(unsigned + ed25519_credential(ace_digest(unsigned), ace.keys.ed25519)).envelope_id
        chain.produce(10)

        drip_sig, call_sig = (base58.b58encode(native_signature(i)).decode() for i in (drip_id, call_id))
        assert native_envelope_id(base58.b58decode(drip_sig)) == drip_id and native_envelope_id(bytes(64)) is None
        shown = local(client, "getTransaction", drip_sig)["result"]
        r.GetTransactionResp.from_json(json.dumps({"jsonrpc": "2.0", "id": 1, "result": shown}))
        keys = shown["transaction"]["message"]["accountKeys"]
        assert keys == [str(payer), str(ivy), str(SYSTEM)] and shown["transaction"]["signatures"] == [drip_sig]
        assert shown["meta"]["postBalances"][1] == 3 * SOL and shown["meta"]["preBalances"][1] == 0
        assert shown["meta"]["preBalances"][0] - shown["meta"]["postBalances"][0] == 3 * SOL + shown["meta"]["fee"]
        assert shown["transaction"]["message"]["recentBlockhash"] == local(client, "getBlock", 1)["result"]["blockhash"]

        ace_shown = local(client, "getTransaction", call_sig)["result"]
        assert ace_shown["transaction"]["signatures"] == [call_sig] and ace_shown["meta"]["err"] is None
        assert ace_shown["transaction"]["message"]["accountKeys"][0] == str(payer) and ace_shown["meta"]["fee"] == FEE
        statuses = local(client, "getSignatureStatuses", [drip_sig, call_sig])["result"]["value"]
        assert [s["slot"] for s in statuses] == [2, 3]
        assert [x["signature"] for x in local(client, "getSignaturesForAddress", str(ivy))["result"]] == [call_sig, drip_sig]
        assert local(client, "getBalance", str(ivy))["result"]["value"] == 4 * SOL
        block = local(client, "getBlock", 2, {"encoding": "base64"})["result"]
        wire = Transaction.from_bytes(base64.b64decode(block["transactions"][0]["transaction"][0]))
        assert str(wire.signatures[0]) == drip_sig  # the wire form carries the native signature
    finally:
        views._registry.cache_clear()


def test_spl_transfers_delegation_and_close_through_the_client(url):
    """The token life of a wallet as solana-py's client drives it: mint, transfer, transfer-checked, approve and
    a delegate's transfer, revoke, close — each balance read back through the RPC."""
    mint, bob, carol = Keypair(), Keypair(), Keypair()
    send_and_confirm(url, signed(url, [pay(10 * SOL, bob.pubkey()), pay(10 * SOL, carol.pubkey())]))
    alice_ata, bob_ata = (spl.get_associated_token_address(k.pubkey(), mint.pubkey()) for k in (ALICE, bob))
    rent = call(url, lambda c: c.get_minimum_balance_for_rent_exemption(82)).value
    key, me = mint.pubkey(), ALICE.pubkey()
    create = CreateAccountParams(from_pubkey=me, to_pubkey=key, lamports=rent, space=82, owner=TOKEN_PROGRAM_ID)
    send_and_confirm(
        url,
        signed(
            url,
            [
                create_account(create),
                spl.initialize_mint(
                    spl_models.InitializeMintParams(decimals=2, mint=key, mint_authority=me, program_id=TOKEN_PROGRAM_ID)
                ),
                spl.create_associated_token_account(me, me, key),
                spl.create_associated_token_account(me, bob.pubkey(), key),
                spl.mint_to(
                    spl_models.MintToParams(
                        program_id=TOKEN_PROGRAM_ID, mint=key, dest=alice_ata, mint_authority=me, amount=10_000
                    )
                ),
            ],
            (ALICE, mint),
        ),
    )

    def amount(account: Pubkey) -> int:
        return int(call(url, lambda c: c.get_token_account_balance(account)).value.amount)

    plain = spl_models.TransferParams(program_id=TOKEN_PROGRAM_ID, source=alice_ata, dest=bob_ata, owner=me, amount=1_000)
    send_and_confirm(url, signed(url, [spl.transfer(plain)]))
    checked = spl_models.TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID, source=alice_ata, mint=key, dest=bob_ata, owner=me, amount=250, decimals=2
    )
    send_and_confirm(url, signed(url, [spl.transfer_checked(checked)]))
    assert (amount(alice_ata), amount(bob_ata)) == (8_750, 1_250)

    approve = spl_models.ApproveParams(
        program_id=TOKEN_PROGRAM_ID, source=alice_ata, delegate=carol.pubkey(), owner=me, amount=500
    )
    send_and_confirm(url, signed(url, [spl.approve(approve)]))
    parsed = call(url, lambda c: c.get_account_info_json_parsed(alice_ata)).value.data.parsed["info"]
    assert parsed["delegate"] == str(carol.pubkey()) and parsed["delegatedAmount"]["amount"] == "500"
    by_delegate = spl_models.TransferParams(
        program_id=TOKEN_PROGRAM_ID, source=alice_ata, dest=bob_ata, owner=carol.pubkey(), amount=300
    )
    send_and_confirm(url, signed(url, [spl.transfer(by_delegate)], (carol,)))  # Carol pays the fee and signs as delegate
    assert (amount(alice_ata), amount(bob_ata)) == (8_450, 1_550)
    over = spl_models.TransferParams(
        program_id=TOKEN_PROGRAM_ID, source=alice_ata, dest=bob_ata, owner=carol.pubkey(), amount=201
    )
    refused = error(url, "sendTransaction", b64(signed(url, [spl.transfer(over)], (carol,))), {"encoding": "base64"})
    assert refused["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]}  # TokenError::InsufficientFunds: 200 left
    send_and_confirm(
        url, signed(url, [spl.revoke(spl_models.RevokeParams(program_id=TOKEN_PROGRAM_ID, account=alice_ata, owner=me))])
    )
    parsed = call(url, lambda c: c.get_account_info_json_parsed(alice_ata)).value.data.parsed["info"]
    assert "delegate" not in parsed

    # Bob empties his account and closes it: its rent comes back to him, the account is gone
    back = spl_models.TransferParams(
        program_id=TOKEN_PROGRAM_ID, source=bob_ata, dest=alice_ata, owner=bob.pubkey(), amount=1_550
    )
    close = spl_models.CloseAccountParams(program_id=TOKEN_PROGRAM_ID, account=bob_ata, dest=bob.pubkey(), owner=bob.pubkey())
    before = balance(url, bob.pubkey())
    send_and_confirm(url, signed(url, [spl.transfer(back), spl.close_account(close)], (bob,)))
    assert call(url, lambda c: c.get_account_info(bob_ata)).value is None
    assert balance(url, bob.pubkey()) == before + 2_039_280 - FEE
    assert amount(alice_ata) == 10_000 and int(call(url, lambda c: c.get_token_supply(key)).value.amount) == 10_000


def test_a_missing_signature_is_refused_and_writes_nothing(url):
    other = Keypair()
    needs_two = signed(url, [pay(SOL, other.pubkey()), pay(1, ALICE.pubkey(), source=other)], (ALICE, other))
    raw = bytearray(bytes(needs_two))
    raw[1 + 64 : 1 + 128] = bytes(64)  # the second signer never signed: a wallet's empty slot
    before = balance(url, ALICE.pubkey())
    refused = error(url, "sendTransaction", base64.b64encode(bytes(raw)).decode(), {"encoding": "base64"})
    assert refused == {"code": -32003, "message": "Transaction signature verification failure"}
    one_short = bytes([1]) + bytes(raw[1:65]) + bytes(raw[1 + 128 :])  # one signature for a message that requires two
    refused = error(url, "sendTransaction", base64.b64encode(one_short).decode(), {"encoding": "base64"})
    assert refused == {"code": -32602, "message": "invalid transaction: 1 signatures for a message that requires 2"}
    assert balance(url, ALICE.pubkey()) == before and balance(url, other.pubkey()) == 0
