"""The Ethereum JSON-RPC over a websocket at `ws://…/rpc/eth`, as web3.py's WebSocketProvider drives it: every
method, and eth_subscribe for new heads, logs and pending transactions. Against a live devnet (on-demand blocks)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from eth_account import Account
from web3 import AsyncWeb3, Web3, WebSocketProvider

from tests.support.devnet import devnet_fixture

ROOT = Path(__file__).resolve().parents[1]
ALICE = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # anvil #0
GWEI = 10**9


base = devnet_fixture()


def test_web3_websocket_provider_calls_and_subscribes_to_heads_and_logs(base):
    """web3.py over the websocket: ordinary calls answer as over HTTP; a token transfer made over HTTP brings one
    newHeads notification for its block and one logs notification for its Transfer event (the logs subscription
    filters by the token's address); unsubscribing answers true."""
    http = Web3(Web3.HTTPProvider(f"{base}/rpc/eth"))
    art = json.loads((ROOT / "tests" / "data" / "solidity" / "Token.json").read_text())
    build = {"from": ALICE.address, "chainId": http.eth.chain_id, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": 0}
    nonce = http.eth.get_transaction_count(ALICE.address)
    created = http.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor("Gold", "GLD", 10**24)
    signed = ALICE.sign_transaction(created.build_transaction(build | {"nonce": nonce}))
    token = http.eth.wait_for_transaction_receipt(http.eth.send_raw_transaction(signed.raw_transaction)).contractAddress
    contract = http.eth.contract(address=token, abi=art["abi"])
    bob = Web3.to_checksum_address("0x" + "00" * 19 + "b0")

    async def scenario() -> None:
        async with AsyncWeb3(WebSocketProvider(base.replace("http://", "ws://") + "/rpc/eth")) as w3:
            assert await w3.eth.chain_id == http.eth.chain_id
            assert await w3.eth.get_balance(token) == 0
            heads = await w3.eth.subscribe("newHeads")
            logs = await w3.eth.subscribe("logs", {"address": token})
            tx = contract.functions.transfer(bob, 77).build_transaction(build | {"nonce": nonce + 1, "gas": 100_000})
            tx_hash = await w3.eth.send_raw_transaction(ALICE.sign_transaction(tx).raw_transaction)  # over the socket
            seen: dict[str, list] = {heads: [], logs: []}
            async for message in w3.socket.process_subscriptions():
                seen[message["subscription"]].append(message["result"])
                if seen[heads] and seen[logs]:
                    break
            (log,) = seen[logs]
            assert log["transactionHash"] == tx_hash and log["address"] == token
            assert log["topics"][0] == Web3.keccak(text="Transfer(address,address,uint256)")
            receipt = await w3.eth.wait_for_transaction_receipt(tx_hash)
            head = seen[heads][-1]
            assert head["number"] == receipt["blockNumber"] and head["hash"] == receipt["blockHash"]
            assert "transactions" not in head and head["parentHash"] == (await w3.eth.get_block(head["number"] - 1))["hash"]
            assert await w3.eth.unsubscribe(heads) is True
            again = await w3.provider.make_request("eth_unsubscribe", [heads])  # web3 itself refuses a second one
            assert again["result"] is False
            assert await w3.eth.unsubscribe(logs) is True

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_pending_transactions_are_announced_before_their_block(base):
    """eth_subscribe("newPendingTransactions") as web3.py makes it: each transaction sent afterwards, once, its hash
    (or, subscribed with true, the transaction without a block) before the newHeads of the block that takes it."""
    http = Web3(Web3.HTTPProvider(f"{base}/rpc/eth"))
    bob = Web3.to_checksum_address("0x" + "00" * 19 + "b1")

    async def scenario() -> None:
        async with AsyncWeb3(WebSocketProvider(base.replace("http://", "ws://") + "/rpc/eth")) as w3:
            hashes = await w3.eth.subscribe("newPendingTransactions")
            whole = await w3.eth.subscribe("newPendingTransactions", True)
            heads = await w3.eth.subscribe("newHeads")
            nonce = http.eth.get_transaction_count(ALICE.address, "pending")
            fees = {"maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": 0, "gas": 21_000, "chainId": http.eth.chain_id}
            sent = [
                http.eth.send_raw_transaction(
                    ALICE.sign_transaction(fees | {"to": bob, "value": 1 + i, "nonce": nonce + i}).raw_transaction
                )
                for i in range(2)
            ]
            order: list[tuple[str, object]] = []
            async for message in w3.socket.process_subscriptions():
                order.append((message["subscription"], message["result"]))
                mined = [r for s, r in order if s == heads]
                if mined and mined[-1]["number"] >= http.eth.get_transaction_receipt(sent[-1])["blockNumber"]:
                    break
            assert [r for s, r in order if s == hashes] == sent
            objects = [r for s, r in order if s == whole]
            assert [t["hash"] for t in objects] == sent and [t["value"] for t in objects] == [1, 2]
            assert all(t["blockHash"] is None and t["from"] == ALICE.address for t in objects)
            first_head = next(i for i, (s, _) in enumerate(order) if s == heads)
            assert first_head > max(i for i, (s, _) in enumerate(order) if s == hashes)  # announced before their block
            assert await w3.eth.unsubscribe(hashes) is True and await w3.eth.unsubscribe(whole) is True

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_websocket_errors_are_json_rpc_errors(base):
    from websockets.sync.client import connect

    with connect(base.replace("http://", "ws://") + "/rpc/eth") as ws:

        def ask(payload: object, binary: bool = False) -> dict:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            ws.send(text.encode() if binary else text)
            return json.loads(ws.recv(timeout=10))

        assert ask("{nope")["error"]["code"] == -32700
        assert ask(b"\xff".decode("latin1"), binary=True)["error"]["code"] == -32700  # not UTF-8
        assert ask({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, binary=True)["result"] == hex(7231053)
        for params in (
            ["newPendingTransactions", "yes"],
            ["syncing"],
            ["nope"],
            ["logs", {"fromBlock": "0x0"}],
            ["newHeads", {}],
        ):
            error = ask({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": params})["error"]
            assert error["code"] == -32602, (params, error)
        assert ask({"jsonrpc": "2.0", "id": 3, "method": "eth_unsubscribe", "params": ["0x00"]})["result"] is False
        assert ask({"jsonrpc": "2.0", "id": 4, "method": "eth_nothing"})["error"]["code"] == -32601
        batch = ask(
            [{"jsonrpc": "2.0", "id": 5, "method": "eth_blockNumber"}, {"jsonrpc": "2.0", "id": 6, "method": "net_version"}]
        )
        assert [r["id"] for r in batch] == [5, 6]
