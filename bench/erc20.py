"""ERC-20 transfers three ways, measured in one run (DESIGN.md performance table):

- `solidity_ours`: a Solidity ERC-20 (tests/data/solidity/Token.sol, solc 0.8.26) through our EVM
  engine — admission (decode, sender recovery, checks), execution, state root, in memory;
- `solidity_eth_tester`: the same contract and the same kind of signed transactions through
  eth-tester's py-evm backend (auto-mine), what a Python user would pick instead;
- `ledger_view`: transfers through the native mint's ERC-20 view (the unified ledger), same engine;
- `native`: the same value moves as native transfers (opcode 0x01), the ledger without the EVM.

Ratios: our engine vs eth-tester on the Solidity contract (target ≥ 1.0×), and the unified-ledger
paths vs the Solidity contract on py-evm (target ≥ 20×).
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from nacl.signing import SigningKey

from chain.dispatcher import Registry
from chain.genesis import parse
from chain.identity import erc20_address
from chain.ledger import NATIVE_MINT
from chain.memstore import MemoryStore
from chain.node import Chain
from engines.evm import make_engine as evm_engine
from engines.native import make_engine as native_engine

ARTIFACT = Path(__file__).resolve().parents[1] / "tests" / "data" / "solidity" / "Token.json"
CHAIN_ID = 7231053
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil #0, funded at genesis


def _call(fn: str, types: list[str], args: list[Any]) -> bytes:
    return keccak(text=fn)[:4] + encode(types, args)


def _recipients(n: int) -> list[str]:
    return [Account.from_key(keccak(b"bench/erc20/%d" % (i % 64))).address for i in range(n)]


def _signed(account: Any, chain_id: int, nonce0: int, to: str, datas: list[bytes], gas: int) -> list[bytes]:
    return [
        bytes(
            account.sign_transaction(
                {
                    "chainId": chain_id,
                    "nonce": nonce0 + i,
                    "to": to,
                    "data": d,
                    "gas": gas,
                    "value": 0,
                    "maxFeePerGas": 2 * 10**9,
                    "maxPriorityFeePerGas": 10**8,
                }
            ).raw_transaction
        )
        for i, d in enumerate(datas)
    ]


def _our_chain() -> Chain:
    reg = Registry()
    reg.register(native_engine())
    reg.register(evm_engine())
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(32)))
    alice = Account.from_key(KEY)
    gen = parse({"chain_id": CHAIN_ID, "alloc": [{"legacy": "evm", "address": alice.address, "balance": str(10**15)}]})
    chain.create_genesis(gen.populate, 0)
    return chain


BLOCK_TXS = 500  # one sender queues at most 1,000 nonces ahead, so the run is cut into blocks


def _timed_ours(chain: Chain, envelopes: list[bytes]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    receipts = []
    for i in range(0, len(envelopes), BLOCK_TXS):
        _admitted, refused = chain.admit_many(envelopes[i : i + BLOCK_TXS])
        assert not refused, refused[0][1].message
        receipts += [e.receipt for e in chain.produce(BLOCK_TXS + 1).txs]
    seconds = time.perf_counter() - t0
    assert len(receipts) == len(envelopes) and all(r.success for r in receipts), "every transfer must succeed"
    return seconds


def _one_round(txs: int, init: bytes, datas: list[bytes]) -> dict[str, float]:
    """Seconds each way for the same `txs` transfers, every chain fresh."""
    alice = Account.from_key(KEY)
    results: dict[str, float] = {}

    # -- our engine, Solidity contract
    chain = _our_chain()
    chain.admit_many([b"\x10" + _signed(alice, CHAIN_ID, 0, "", [init], 3_000_000)[0]])
    created = chain.produce(10).txs[0].receipt
    assert created.success, created.message
    token_address = to_checksum_address(created.output)
    results["solidity_ours"] = _timed_ours(
        chain, [b"\x10" + raw for raw in _signed(alice, CHAIN_ID, 1, token_address, datas, 100_000)]
    )

    # -- our engine, the native mint's ERC-20 view
    chain = _our_chain()
    view = to_checksum_address(erc20_address(NATIVE_MINT))
    results["ledger_view"] = _timed_ours(chain, [b"\x10" + raw for raw in _signed(alice, CHAIN_ID, 0, view, datas, 100_000)])

    # -- eth-tester with py-evm, the same contract and transfers
    from eth_tester import EthereumTester, PyEVMBackend

    tester = EthereumTester(PyEVMBackend())
    funder = tester.get_accounts()[0]
    tester.send_transaction({"from": funder, "to": alice.address, "value": 10**23, "gas": 21_000})
    tester_chain_id = PyEVMBackend().chain.chain_id
    receipt_hash = tester.send_raw_transaction("0x" + _signed(alice, tester_chain_id, 0, "", [init], 3_000_000)[0].hex())
    contract = tester.get_transaction_receipt(receipt_hash)["contract_address"]
    raws = ["0x" + raw.hex() for raw in _signed(alice, tester_chain_id, 1, contract, datas, 100_000)]
    gc.collect()
    t0 = time.perf_counter()
    hashes = [tester.send_raw_transaction(raw) for raw in raws]
    results["solidity_eth_tester"] = time.perf_counter() - t0
    # One balance read proves every transfer landed (eth-tester looks a receipt up by scanning blocks:
    # reading 1,500 receipts would take minutes).
    left = tester.call(
        {"from": alice.address, "to": contract, "data": "0x" + _call("balanceOf(address)", ["address"], [alice.address]).hex()}
    )
    assert int(left, 16) == 10**27 - len(hashes) * 10**9, "eth-tester transfers must succeed"
    return results


def run(txs: int = 500, repeat: int = 3) -> dict[str, Any]:
    """`repeat` rounds; each way's figure is its median round (this machine's timings drift by ±20 %)."""
    art = json.loads(ARTIFACT.read_text())
    init = bytes.fromhex(art["bytecode"][2:]) + encode(["string", "string", "uint256"], ["Gold", "GLD", 10**27])
    datas = [_call("transfer(address,uint256)", ["address", "uint256"], [to, 10**9]) for to in _recipients(txs)]
    rounds = [_one_round(txs, init, datas) for _ in range(max(1, repeat))]
    results = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    rate = {k: txs / v for k, v in results.items()}
    return {
        "scenario": "erc20",
        "txs": txs,
        "repeat": len(rounds),
        "seconds": round(results["solidity_ours"], 4),
        "tx_per_s": round(rate["solidity_ours"]),
        "runs": {
            k: {"seconds": round(v, 4), "tx_per_s": round(txs / v), "all_seconds": [round(r[k], 4) for r in rounds]}
            for k, v in results.items()
        },
        "ratio": round(rate["solidity_ours"] / rate["solidity_eth_tester"], 2),  # target ≥ 1.0
        "ratio_ledger_view_vs_solidity_py_evm": round(rate["ledger_view"] / rate["solidity_eth_tester"], 2),  # target ≥ 20
        "ratio_ledger_view_vs_solidity_ours": round(rate["ledger_view"] / rate["solidity_ours"], 2),
    }
