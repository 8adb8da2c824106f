"""The Ethereum JSON-RPC (/rpc/eth) as web3.py and eth-account see it.

Most tests talk to a live node: `manage.py nvm devnet` in a subprocess (embedded SQLite, on-demand
blocks, the shipped genesis with anvil #0 funded), reached over HTTP by `Web3.HTTPProvider`. The last
ones run in-process against the test database with the block producer under the test's control, for
what a live node makes racy (the mempool, the pending nonce) or slow (the call timeout).
"""

import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from tests.support.devnet import devnet_output, free_port, start_devnet, stop_devnet

ROOT = Path(__file__).resolve().parents[1]
CHAIN_ID = 7231053
GWEI = 10**9
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # anvil #0
# runtime: SSTORE(0, CALLDATALOAD(0)); return SLOAD(0) as 32 bytes
STORE_RUNTIME = bytes.fromhex("6000355f555f545f5260205ff3")
# runtime: LOG2(data = calldata[32:64], topic0 = calldata[0:32], topic1 = CALLER)
LOGGER_RUNTIME = bytes.fromhex("6020355f52335f3560205fa200")
ERROR_NOPE = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (4).to_bytes(32, "big") + b"nope".ljust(32, b"\0")
# runtime: REVERT with the Error("nope") that follows the code
REVERTER_RUNTIME = bytes.fromhex("6064600a5f3960645ffd") + ERROR_NOPE


def deployer(runtime: bytes) -> bytes:
    """Init code that returns `runtime` (CODECOPY from after this 10-byte prefix)."""
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0A, 0x5F, 0x39, 0x60, n, 0x5F, 0xF3]) + runtime


def fresh_address() -> str:
    return Web3.to_checksum_address(secrets.token_bytes(20))


# -- the live node -------------------------------------------------------------------------------
def post(url: str, body: bytes | str, method: str = "POST") -> tuple[int, object]:
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data if method == "POST" else None, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def rpc(url: str, method: str, *params: object) -> dict:
    status, body = post(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}))
    assert status == 200 and isinstance(body, dict) and body["id"] == 1, body
    return body


def rpc_error(url: str, method: str, *params: object) -> dict:
    body = rpc(url, method, *params)
    assert "error" in body and "result" not in body, body
    return body["error"]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    port = free_port()
    home = tmp_path_factory.mktemp("node")
    proc = start_devnet(home, port, NVM_ON_DEMAND="1")
    endpoint = f"http://127.0.0.1:{port}/rpc/eth"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if rpc(endpoint, "eth_chainId")["result"] == hex(CHAIN_ID):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the devnet did not start: " + devnet_output(home)[-2000:])
            time.sleep(0.2)
        yield endpoint
    finally:
        stop_devnet(proc, home)


@pytest.fixture(scope="module")
def w3(url):
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))


def sign(w3: Web3, tx: dict, key=ALICE) -> bytes:
    base = {"chainId": CHAIN_ID, "nonce": w3.eth.get_transaction_count(key.address, "pending"), "value": 0, "data": b""}
    if "gasPrice" not in tx:
        base |= {"maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI // 10}
    return bytes(key.sign_transaction(base | tx).raw_transaction)


def send(w3: Web3, tx: dict, key=ALICE):
    tx_hash = w3.eth.send_raw_transaction(sign(w3, tx, key))
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20, poll_latency=0.05)


def deploy(w3: Web3, runtime: bytes) -> str:
    init = deployer(runtime)
    gas = w3.eth.estimate_gas({"from": ALICE.address, "data": init})
    receipt = send(w3, {"data": init, "gas": gas})
    assert receipt.status == 1 and receipt.to is None
    return receipt.contractAddress


# -- node and chain --------------------------------------------------------------------------------
def test_identifies_the_chain_and_the_node(w3, url):
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID and w3.net.version == str(CHAIN_ID) and w3.net.listening
    assert w3.eth.syncing is False
    assert w3.eth.accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # devnet mode: genesis's unlocked dev accounts
    assert w3.client_version.startswith("nvm-devnet/")
    assert w3.eth.gas_price == GWEI and w3.eth.max_priority_fee == 0
    genesis = w3.eth.get_block(0)
    assert genesis.number == 0 and genesis.parentHash == bytes(32) and genesis.transactions == []
    assert genesis.baseFeePerGas == GWEI and genesis.gasLimit == 30_000_000 and genesis.difficulty == 0
    native = json.loads(urllib.request.urlopen(url.replace("/rpc/eth", "/api/v1/blocks/0"), timeout=10).read())
    assert genesis.hash.to_0x_hex() == native["hash"] and genesis.stateRoot.to_0x_hex() == native["state_root"]
    assert w3.eth.get_balance(ALICE.address) == 10**15 * GWEI  # genesis: 10^15 base units, 10^9 wei each


# -- value transfers -------------------------------------------------------------------------------
def test_eip1559_and_legacy_transfers_move_exact_wei(w3, url):
    bob = fresh_address()
    before = w3.eth.get_balance(ALICE.address)
    v1, v2 = 10**18 + 7, 123_456_789  # neither a whole number of base units: the dust slot keeps the rest
    r1 = send(w3, {"to": bob, "value": v1, "gas": 21_000})
    r2 = send(w3, {"to": bob, "value": v2, "gas": 21_000, "gasPrice": 3 * GWEI})
    assert (r1.status, r1.type, r1.gasUsed) == (1, 2, 21_000) and (r2.status, r2.type) == (1, 0)
    assert r1.effectiveGasPrice == GWEI + GWEI // 10 and r2.effectiveGasPrice == 3 * GWEI
    assert r1["from"] == ALICE.address and r1.to == bob and r1.contractAddress is None and r1.logs == []
    assert r1.cumulativeGasUsed >= r1.gasUsed and r1.logsBloom == bytes(256)
    assert w3.eth.get_balance(bob) == v1 + v2
    fees = 21_000 * (r1.effectiveGasPrice + r2.effectiveGasPrice)
    assert w3.eth.get_balance(ALICE.address) == before - v1 - v2 - fees

    tx = w3.eth.get_transaction(r1.transactionHash)
    assert tx.hash == r1.transactionHash and tx.blockHash == r1.blockHash and tx.value == v1 and tx["from"] == ALICE.address
    assert tx.maxFeePerGas == 2 * GWEI and tx.type == 2 and tx.chainId == CHAIN_ID
    legacy = w3.eth.get_transaction(r2.transactionHash)
    assert legacy.type == 0 and legacy.gasPrice == 3 * GWEI and legacy.v in (2 * CHAIN_ID + 35, 2 * CHAIN_ID + 36)
    block = w3.eth.get_block(r1.blockNumber, full_transactions=True)
    assert block.hash == r1.blockHash and r1.transactionHash in [t.hash for t in block.transactions]
    assert block.miner.lower() == rpc(url, "eth_coinbase")["result"] and block.timestamp <= time.time() + 1
    assert w3.eth.get_block(r1.blockHash).number == r1.blockNumber
    assert w3.eth.get_block_transaction_count(r1.blockNumber) == len(block.transactions)
    assert w3.eth.get_transaction_by_block(r1.blockNumber, r1.transactionIndex).hash == r1.transactionHash
    assert w3.eth.get_block_receipts(r1.blockNumber)[r1.transactionIndex].transactionHash == r1.transactionHash


# -- contracts, calls, gas -------------------------------------------------------------------------
def test_deploy_then_call_and_estimate_without_writing(w3):
    contract = deploy(w3, STORE_RUNTIME)
    assert w3.eth.get_code(contract) == STORE_RUNTIME
    forty_two = (42).to_bytes(32, "big")
    assert w3.eth.call({"to": contract, "data": forty_two}) == forty_two
    assert w3.eth.call({"to": contract, "data": forty_two}, "pending") == forty_two
    assert w3.eth.get_storage_at(contract, 0) == bytes(32)  # the call ran on a copy

    gas = w3.eth.estimate_gas({"from": ALICE.address, "to": contract, "data": forty_two})
    assert 21_000 + 20_000 < gas < 60_000
    short = send(w3, {"to": contract, "data": (7).to_bytes(32, "big"), "gas": gas - 1})
    assert short.status == 0  # the estimate is the least that works
    ok = send(w3, {"to": contract, "data": forty_two, "gas": gas})
    assert ok.status == 1 and ok.gasUsed <= gas
    assert w3.eth.get_storage_at(contract, 0) == forty_two
    assert w3.eth.estimate_gas({"from": ALICE.address, "to": fresh_address(), "value": 1}) == 21_000


def test_reverted_call_is_error_3_with_the_revert_data(w3, url):
    contract = deploy(w3, REVERTER_RUNTIME)
    err = rpc_error(url, "eth_call", {"to": contract, "data": "0x"}, "latest")
    assert err == {"code": 3, "message": "execution reverted: nope", "data": "0x" + ERROR_NOPE.hex()}
    assert rpc_error(url, "eth_estimateGas", {"from": ALICE.address, "to": contract})["code"] == 3
    with pytest.raises(ContractLogicError) as e:
        w3.eth.call({"to": contract})
    assert "nope" in str(e.value)
    assert rpc_error(url, "eth_call", {"to": contract}, "0x1")["code"] == -32602  # no historical state


# -- logs and filters ------------------------------------------------------------------------------
def test_logs_by_address_and_topic_and_through_a_filter(w3, url):
    contract = deploy(w3, LOGGER_RUNTIME)
    log_filter = w3.eth.filter({"address": contract})
    topic_a, topic_b = keccak(b"A"), keccak(b"B")
    ra = send(w3, {"to": contract, "data": topic_a + (1).to_bytes(32, "big"), "gas": 60_000})
    rb = send(w3, {"to": contract, "data": topic_b + (2).to_bytes(32, "big"), "gas": 60_000})
    (log,) = ra.logs
    assert log.address == contract and log.topics[0] == topic_a and log.data == (1).to_bytes(32, "big")
    assert log.topics[1] == bytes(12) + bytes.fromhex(ALICE.address[2:])
    assert log.transactionHash == ra.transactionHash and log.blockHash == ra.blockHash and log.logIndex == 0
    assert ra.logsBloom != bytes(256) and w3.eth.get_block(ra.blockNumber).logsBloom == ra.logsBloom

    every = w3.eth.get_logs({"address": contract, "fromBlock": ra.blockNumber})
    assert [x.transactionHash for x in every] == [ra.transactionHash, rb.transactionHash]
    only_b = w3.eth.get_logs({"fromBlock": 0, "topics": ["0x" + topic_b.hex()]})
    assert [x.transactionHash for x in only_b] == [rb.transactionHash]
    either = w3.eth.get_logs(
        {"fromBlock": 0, "topics": [["0x" + topic_a.hex(), "0x" + topic_b.hex()], "0x" + log.topics[1].hex()]}
    )
    assert len(either) == 2
    assert w3.eth.get_logs({"blockHash": rb.blockHash})[0].data == (2).to_bytes(32, "big")

    assert [x.transactionHash for x in log_filter.get_new_entries()] == [ra.transactionHash, rb.transactionHash]
    assert log_filter.get_new_entries() == []
    assert w3.eth.uninstall_filter(log_filter.filter_id) is True
    assert w3.eth.uninstall_filter(log_filter.filter_id) is False
    assert rpc_error(url, "eth_getFilterChanges", log_filter.filter_id)["code"] == -32000


# -- refusals --------------------------------------------------------------------------------------
def test_refused_transactions_are_32000_and_change_nothing(w3, url):
    nonce = w3.eth.get_transaction_count(ALICE.address, "pending")
    balance = w3.eth.get_balance(ALICE.address)
    wrong_chain = ALICE.sign_transaction(
        {"chainId": 1, "nonce": nonce, "to": fresh_address(), "value": 1, "gas": 21_000, "gasPrice": 2 * GWEI}
    ).raw_transaction
    err = rpc_error(url, "eth_sendRawTransaction", "0x" + bytes(wrong_chain).hex())
    assert err["code"] == -32000 and "chain" in err["message"] and err["data"] == {"reason": "wrong_chain"}
    with pytest.raises(Web3RPCError):
        w3.eth.send_raw_transaction(wrong_chain)

    raw = sign(w3, {"to": fresh_address(), "value": 1, "gas": 21_000})
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=20, poll_latency=0.05)
    replay = rpc_error(url, "eth_sendRawTransaction", "0x" + raw.hex())
    assert replay["code"] == -32000 and replay["data"]["reason"] in ("nonce_too_low", "already_known")

    assert rpc_error(url, "eth_sendRawTransaction", "0xf8")["code"] == -32000  # malformed RLP
    assert rpc_error(url, "eth_sendRawTransaction", "0x02c0")["code"] == -32000  # typed, empty payload
    assert rpc_error(url, "eth_sendRawTransaction", "0xzz")["code"] == -32602
    assert rpc_error(url, "eth_sendRawTransaction", "f86c")["code"] == -32602  # no 0x
    assert rpc_error(url, "eth_sendRawTransaction", 5)["code"] == -32602
    oversized = rpc_error(url, "eth_sendRawTransaction", "0x" + "00" * 200_000)
    assert oversized["code"] == -32000 and "oversized" in oversized["message"]
    assert w3.eth.get_transaction_count(ALICE.address, "pending") == nonce + 1
    assert w3.eth.get_balance(ALICE.address) == balance - 21_000 * (GWEI + GWEI // 10) - 1
    status, body = post(url, b"0" * (3 * 1024 * 1024))  # a devnet reads up to 256 MiB (anvil_loadState), then parses
    assert status == 200 and body["error"]["code"] == -32700  # outside devnet mode: 413 (tests/test_statefile.py)


# -- JSON-RPC framing ------------------------------------------------------------------------------
def test_json_rpc_framing_batches_and_errors(url):
    status, body = post(url, "{not json")
    assert status == 200 and body == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": body["error"]["message"]},
    }
    status, body = post(
        url,
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
                {"jsonrpc": "2.0", "id": 2, "method": "eth_nothing", "params": []},
                {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # a notification: no answer
                {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x1234"]},
                {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": {"address": ALICE.address}},
                {"jsonrpc": "1.0", "id": 5, "method": "eth_chainId"},
                {"jsonrpc": "2.0", "id": 6, "method": "eth_chainId", "params": [1]},
                7,
            ]
        ),
    )
    assert status == 200 and [r["id"] for r in body] == ["a", 2, 3, 4, 5, 6, None]
    assert body[0]["result"] == hex(CHAIN_ID)
    assert [r["error"]["code"] for r in body[1:]] == [-32601, -32602, -32602, -32600, -32602, -32600]
    assert all("stack" not in json.dumps(r).lower() and "traceback" not in json.dumps(r).lower() for r in body)
    assert post(url, "[]")[1]["error"]["code"] == -32600
    assert (
        post(url, json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(101)]))[1]["error"]["code"]
        == -32600
    )
    assert post(url, json.dumps({"jsonrpc": "2.0", "method": "eth_chainId"}))[0] == 204
    assert post(url, "[" * 100_000)[1]["error"]["code"] == -32700
    assert post(url, b"", method="GET")[0] == 405
    with urllib.request.urlopen(urllib.request.Request(url, method="OPTIONS"), timeout=10) as r:  # CORS preflight
        assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "*"


def test_nvm_get_identity_answers_for_an_evm_address(url):
    result = rpc(url, "nvm_getIdentity", ALICE.address)["result"]
    assert result["legacy"] == {"chain": "evm", "address": ALICE.address}
    assert result["addresses"]["evm"] == ALICE.address and result["id_com"].startswith("0x")
    assert rpc_error(url, "nvm_getIdentity", "not an address")["code"] == -32602


# -- in-process, over the test database ------------------------------------------------------------
# -- a Solidity contract and the native mint's ERC-20 view ------------------------------------
def test_a_solidity_erc20_through_web3_deploy_transfer_events_estimate_and_revert_reason(w3):
    """Token.sol, compiled by solc 0.8.26 (tests/data/solidity), driven the way a dapp drives it."""
    art = json.loads((ROOT / "tests" / "data" / "solidity" / "Token.json").read_text())
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    nonce = w3.eth.get_transaction_count(ALICE.address, "pending")
    build = {"from": ALICE.address, "chainId": CHAIN_ID, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI // 10}
    deploy_tx = factory.constructor("Gold", "GLD", 10**24).build_transaction(build | {"nonce": nonce})
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(ALICE.sign_transaction(deploy_tx).raw_transaction), timeout=20, poll_latency=0.05
    )
    assert receipt.status == 1
    token = w3.eth.contract(address=receipt.contractAddress, abi=art["abi"])
    assert token.functions.symbol().call() == "GLD" and token.functions.totalSupply().call() == 10**24
    bob = fresh_address()
    gas = token.functions.transfer(bob, 1234).estimate_gas({"from": ALICE.address})
    tx = token.functions.transfer(bob, 1234).build_transaction(build | {"nonce": nonce + 1, "gas": gas})
    sent = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(ALICE.sign_transaction(tx).raw_transaction), timeout=20, poll_latency=0.05
    )
    assert sent.status == 1 and sent.gasUsed <= gas
    assert token.functions.balanceOf(bob).call() == 1234
    (event,) = token.events.Transfer.get_logs(from_block=sent.blockNumber, to_block=sent.blockNumber)
    assert event.args["from"] == ALICE.address and event.args["to"] == bob and event.args["value"] == 1234
    with pytest.raises(ContractLogicError, match="allowance too small"):
        token.functions.transferFrom(bob, ALICE.address, 1).call({"from": ALICE.address})


def test_create_access_list_finds_the_slots_a_solidity_transfer_touches(w3):
    """eth_createAccessList as geth answers it: the token's two balanceOf slots (Solidity's layout: keccak(holder ‖
    slot 3)), not the sender or the recipient contract as addresses; its gasUsed is what the transfer then uses
    when it carries the list; a call that reverts still gets its list, and the error."""
    from eth_utils import keccak

    art = json.loads((ROOT / "tests" / "data" / "solidity" / "Token.json").read_text())
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    build = {"from": ALICE.address, "chainId": CHAIN_ID, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI // 10}
    nonce = w3.eth.get_transaction_count(ALICE.address, "pending")
    created = factory.constructor("Gold", "GLD", 10**24).build_transaction(build | {"nonce": nonce})
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(ALICE.sign_transaction(created).raw_transaction))
    token = w3.eth.contract(address=receipt.contractAddress, abi=art["abi"])
    bob = fresh_address()
    call = token.functions.transfer(bob, 1234).build_transaction(build | {"nonce": nonce + 1, "gas": 200_000})
    answer = w3.provider.make_request("eth_createAccessList", [{k: call[k] for k in ("from", "to", "data")}, "latest"])["result"]
    slot = lambda holder: "0x" + keccak(bytes(12) + bytes.fromhex(holder[2:]) + (3).to_bytes(32, "big")).hex()  # noqa: E731
    (entry,) = answer["accessList"]
    assert entry["address"].lower() == token.address.lower()
    assert sorted(entry["storageKeys"]) == sorted([slot(ALICE.address), slot(bob)])
    assert "error" not in answer
    with_list = call | {"accessList": answer["accessList"]}
    sent = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(ALICE.sign_transaction(with_list).raw_transaction))
    assert sent.status == 1 and sent.gasUsed == int(answer["gasUsed"], 16)
    too_much = token.functions.transfer(bob, 10**30).build_transaction(build | {"nonce": nonce + 2, "gas": 200_000})
    failed = w3.provider.make_request("eth_createAccessList", [{k: too_much[k] for k in ("from", "to", "data")}])["result"]
    assert failed["error"].startswith("execution reverted") and failed["accessList"][0]["storageKeys"] == [slot(ALICE.address)]
    assert rpc_error(w3.provider.endpoint_uri, "eth_createAccessList", {"to": "0x12"})["code"] == -32602


def test_the_native_mint_is_an_erc20_for_web3_too(w3):
    from chain.identity import erc20_address
    from chain.ledger import NATIVE_MINT

    art = json.loads((ROOT / "tests" / "data" / "solidity" / "Token.json").read_text())
    nvm = w3.eth.contract(address=Web3.to_checksum_address(erc20_address(NATIVE_MINT)), abi=art["abi"])
    assert nvm.functions.symbol().call() == "NVM" and nvm.functions.decimals().call() == 9
    assert w3.eth.get_code(nvm.address) == b"\xfe"
    assert nvm.functions.balanceOf(ALICE.address).call() == w3.eth.get_balance(ALICE.address) // 10**9


@pytest.fixture
def chain(settings, tmp_path):
    from nacl.signing import SigningKey

    from chain.genesis import parse
    from chain.node import Chain
    from chain.store.sql import SqlStore
    from rpc.native import views

    settings.NVM_HOME = tmp_path
    views._registry.cache_clear()
    c = Chain(SqlStore(), views._registry(), SigningKey(bytes(range(32))))
    gen = parse({"chain_id": CHAIN_ID, "alloc": [{"legacy": "evm", "address": ALICE.address, "balance": str(10**15)}]})
    c.create_genesis(gen.populate, 1767225600000)
    yield c
    views._registry.cache_clear()


def call(client, method: str, *params: object) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    r = client.post("/rpc/eth", body, content_type="application/json")
    assert r.status_code == 200
    return r.json()


def raw_tx(nonce: int, **fields: object) -> str:
    tx = {"chainId": CHAIN_ID, "nonce": nonce, "to": fresh_address(), "value": 5, "gas": 21_000, "gasPrice": 2 * GWEI}
    tx = {k: v for k, v in (tx | fields).items() if v is not None}
    return "0x" + bytes(ALICE.sign_transaction(tx).raw_transaction).hex()


@pytest.mark.django_db(transaction=True)
def test_pending_transactions_count_for_the_pending_nonce(client, chain):
    hashes = [call(client, "eth_sendRawTransaction", raw_tx(n))["result"] for n in (0, 1)]
    call(client, "eth_sendRawTransaction", raw_tx(5))  # a gap: not counted
    assert call(client, "eth_getTransactionCount", ALICE.address, "pending")["result"] == "0x2"
    assert call(client, "eth_getTransactionCount", ALICE.address, "latest")["result"] == "0x0"
    pending = call(client, "eth_getTransactionByHash", hashes[1])["result"]
    assert pending["blockHash"] is None and pending["nonce"] == "0x1" and pending["from"] == ALICE.address.lower()
    assert call(client, "eth_getTransactionReceipt", hashes[1])["result"] is None

    chain.produce(100)
    receipt = call(client, "eth_getTransactionReceipt", hashes[1])["result"]
    assert receipt["status"] == "0x1" and receipt["transactionIndex"] == "0x1" and receipt["cumulativeGasUsed"] == hex(42_000)
    assert call(client, "eth_getTransactionCount", ALICE.address, "latest")["result"] == "0x2"
    history = call(client, "eth_feeHistory", "0x2", "latest", [50])["result"]
    assert history["oldestBlock"] == "0x0" and len(history["baseFeePerGas"]) == 3
    assert history["gasUsedRatio"][1] == 42_000 / 30_000_000 and history["reward"] == [["0x0"], [hex(GWEI)]]


@pytest.mark.django_db(transaction=True)
def test_a_pending_transaction_filter_gives_each_admitted_transaction_once(client, chain, monkeypatch):
    """As geth's: every EVM transaction admitted after the last poll, in admission order, hashes or (true) whole
    transactions — including one admitted and taken into a block between two polls."""
    from rpc.eth import logs

    call(client, "eth_sendRawTransaction", raw_tx(0))  # before the filters: never theirs
    hashes = call(client, "eth_newPendingTransactionFilter")["result"]
    full = call(client, "eth_newPendingTransactionFilter", True)["result"]
    sent = [call(client, "eth_sendRawTransaction", raw_tx(n))["result"] for n in (1, 2)]
    assert call(client, "eth_getFilterChanges", hashes)["result"] == sent
    assert call(client, "eth_getFilterChanges", hashes)["result"] == []
    sent.append(call(client, "eth_sendRawTransaction", raw_tx(3))["result"])
    chain.produce(100)  # admitted and in a block before the next poll
    assert call(client, "eth_getFilterChanges", hashes)["result"] == sent[2:]
    objects = call(client, "eth_getFilterChanges", full)["result"]
    assert [t["hash"] for t in objects] == sent and [t["nonce"] for t in objects] == ["0x1", "0x2", "0x3"]
    assert all(t["blockHash"] is None and t["from"] == ALICE.address.lower() for t in objects)
    assert call(client, "eth_getFilterChanges", full)["result"] == []

    monkeypatch.setattr(logs, "MAX_ARRIVALS", 2)  # a poll gives at most that many; the next goes on from there
    more = [call(client, "eth_sendRawTransaction", raw_tx(n))["result"] for n in (4, 5, 6)]
    chain.produce(2)
    assert call(client, "eth_getFilterChanges", hashes)["result"] == more[:2]
    assert call(client, "eth_getFilterChanges", hashes)["result"] == more[2:]
    assert call(client, "eth_getFilterChanges", hashes)["result"] == []
    assert call(client, "eth_uninstallFilter", hashes)["result"] is True
    assert call(client, "eth_getFilterChanges", hashes)["error"]["message"] == "filter not found"
    for params in (["yes"], [True, True], [1]):
        assert call(client, "eth_newPendingTransactionFilter", *params)["error"]["code"] == -32602, params
    assert call(client, "eth_getFilterLogs", full)["error"]["code"] == -32602  # a pending filter is no log filter


@pytest.mark.django_db(transaction=True)
def test_refusals_and_failures_are_in_geths_words(client, chain):
    """ethers and viem tell a refused transaction's cause by geth's words for it; a reverted transaction's receipt
    says what eth_call says of it, not Python's bytes."""

    def refusal(raw: str) -> str:
        return call(client, "eth_sendRawTransaction", raw)["error"]["message"]

    call(client, "eth_sendRawTransaction", raw_tx(0))
    chain.produce(10)
    assert refusal(raw_tx(0)).startswith("nonce too low: next nonce 1")
    assert refusal(raw_tx(5_000)).startswith("nonce too high")
    assert refusal(raw_tx(1, gasPrice=GWEI - 1)).startswith("max fee per gas less than block base fee")
    assert refusal(raw_tx(1, gas=20_000)).startswith("intrinsic gas too low: gas 20000, minimum needed 21000")
    assert refusal(raw_tx(1, chainId=1)).startswith("invalid chain id for signer")
    assert refusal(raw_tx(1, value=10**30)).startswith("insufficient funds for gas * price + value: have ")
    too_much = {"from": ALICE.address, "to": fresh_address(), "value": hex(10**30)}
    estimate = call(client, "eth_estimateGas", too_much)["error"]["message"]
    assert estimate.startswith("insufficient funds for gas * price + value: have "), estimate

    # runtime: CODECOPY Error("nope") (100 bytes, after these 12) into memory, REVERT with it
    reason = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (4).to_bytes(32, "big") + b"nope".ljust(32, b"\0")
    runtime = bytes([0x60, 100, 0x60, 12, 0x60, 0, 0x39, 0x60, 100, 0x60, 0, 0xFD]) + reason
    call(client, "eth_sendRawTransaction", raw_tx(1, to=None, data=deployer(runtime), gas=200_000, value=0))
    chain.produce(10)
    contract = call(client, "eth_getBlockReceipts", "latest")["result"][0]["contractAddress"]
    assert call(client, "eth_call", {"to": contract}, "latest")["error"]["message"] == "execution reverted: nope"
    tx_hash = call(client, "eth_sendRawTransaction", raw_tx(2, to=Web3.to_checksum_address(contract), gas=100_000, value=0))[
        "result"
    ]
    chain.produce(10)
    assert call(client, "eth_getTransactionReceipt", tx_hash)["result"]["status"] == "0x0"
    receipt = client.get(f"/api/v1/tx/{tx_hash}").json()["receipt"]
    assert (receipt["code"], receipt["message"]) == ("reverted", "execution reverted: nope")


@pytest.mark.django_db(transaction=True)
def test_new_heads_come_once_each_even_when_a_block_is_announced_late(chain):
    """The live feed may announce the head after a subscription already counted it: no second notification (viem's
    watchBlockNumber saw block N twice). Another block at the same height — a revert, then a new block — is new."""
    from rpc.eth.consumers import EthSession

    session = EthSession()
    chain.produce(10)
    session.subscribe("newHeads")
    session.on_block(1)  # the head when it subscribed, announced late
    assert session.take() == []
    block = chain.produce(10)
    session.on_block(2)
    (note,) = session.take()
    assert note["params"]["result"]["hash"] == "0x" + block.header.hash.hex()
    session.on_block(2)
    assert session.take() == []


@pytest.mark.django_db(transaction=True)
def test_a_call_that_runs_too_long_is_cut(client, chain, monkeypatch):
    from rpc.eth import simulate

    loop = deployer(bytes.fromhex("5b5f56"))  # JUMPDEST; JUMP(0): forever
    call(client, "eth_sendRawTransaction", raw_tx(0, to=None, data=loop, gas=100_000, value=0))
    chain.produce(10)
    contract = call(client, "eth_getBlockReceipts", "latest")["result"][0]["contractAddress"]
    monkeypatch.setattr(simulate, "CALL_TIMEOUT_S", 0.3)
    started = time.monotonic()
    err = call(client, "eth_call", {"to": contract}, "latest")["error"]
    assert err["code"] == -32000 and "timeout" in err["message"] and time.monotonic() - started < 5
    assert call(client, "eth_call", {"to": contract, "gas": "0x5208"}, "latest")["error"]["message"] == "out of gas"


@pytest.mark.django_db(transaction=True)
def test_log_queries_and_filters_read_a_bounded_range(client, chain, monkeypatch):
    from rpc.eth import logs

    blocks = call(client, "eth_newBlockFilter")["result"]
    hashes = ["0x" + chain.produce(10).header.hash.hex() for _ in range(3)]
    monkeypatch.setattr(logs, "MAX_BLOCK_RANGE", 2)
    err = call(client, "eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})["error"]
    assert err["code"] == -32005 and "2 blocks" in err["message"]
    assert call(client, "eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x99"})["result"] == []  # read up to the head
    assert call(client, "eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x1"})["error"]["code"] == -32602
    assert call(client, "eth_getFilterChanges", blocks)["result"] == hashes[:2]  # a poll reads at most the bound
    assert call(client, "eth_getFilterChanges", blocks)["result"] == hashes[2:]
    assert call(client, "eth_getFilterChanges", blocks)["result"] == []
