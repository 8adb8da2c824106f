"""One balance in three units (issue 9): against a running devnet with the shipped genesis, the genesis Tron
wallet's identity is paid wei through the EVM (web3.py, signed by eth-account), paid lamports through the SVM
(solana-py, signed by solders) and pays TRX through the TVM (tronpy); after each, its balance in sun (Tron's
`getaccount`), in wei (`eth_getBalance` of its EVM address) and in lamports (`getBalance` of its Solana address)
are one number: lamports = base units, sun = base units / 1,000, wei = base units × 10^9 + its dust."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from eth_account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from web3 import Web3

from chain.address import tron_text
from chain.identity import legacy_id_com, vm_address
from tests.support.devnet import running_devnet
from tests.test_rpc_solana import balance, send_and_confirm, signed
from tests.test_tron_api import tronpy

TRON_KEY = bytes.fromhex("15f0bbb1774be40b7a8d7965d637f324bda2f711fc5726a3dcc19585c6950954")  # genesis, m/44'/195'/0'/0/0
TRON_WALLET = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"
METAMASK = Account.from_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")  # anvil #1 of genesis
SOL0 = Keypair.from_seed(bytes.fromhex("a01c67efb5cb8f62f15907a9fcf124c73d2695c8a9a31f21c05742a31ca1dc72"))  # genesis Solana #0
CHAIN_ID = 7231053


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_devnet(tmp_path_factory.mktemp("node")) as base:
        yield base


def post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def views(base: str) -> tuple[int, int, int]:
    """The identity's balance as Tron, Ethereum and Solana wallets read it: sun, wei, lamports."""
    from base58 import b58decode_check

    identity = legacy_id_com("tron", b58decode_check(TRON_WALLET))
    evm = Web3.to_checksum_address(vm_address(identity, "evm"))
    w3 = Web3(Web3.HTTPProvider(f"{base}/rpc/eth", request_kwargs={"timeout": 30}))
    sun = int(post(f"{base}/api/tron/wallet/getaccount", {"address": TRON_WALLET, "visible": True}).get("balance", 0))
    return sun, w3.eth.get_balance(evm), balance(f"{base}/rpc/solana", Pubkey(vm_address(identity, "svm")))


def agree(sun: int, wei: int, lamports: int) -> None:
    assert lamports == wei // 10**9 and sun == lamports // 1_000


def test_sun_wei_and_lamports_of_one_identity_agree_after_transfers_in_each_vm(node: str) -> None:
    from base58 import b58decode_check

    identity = legacy_id_com("tron", b58decode_check(TRON_WALLET))
    sun0, wei0, lamports0 = views(node)
    agree(sun0, wei0, lamports0)
    assert sun0 > 0

    # EVM: MetaMask's key pays the identity's EVM address 1.5 ETH and 7 wei (wei below a base unit: the dust)
    w3 = Web3(Web3.HTTPProvider(f"{node}/rpc/eth", request_kwargs={"timeout": 30}))
    tx = {
        "to": Web3.to_checksum_address(vm_address(identity, "evm")),
        "value": 15 * 10**17 + 7,
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "nonce": w3.eth.get_transaction_count(METAMASK.address),
        "chainId": CHAIN_ID,
        "type": 2,
    }
    h = w3.eth.send_raw_transaction(METAMASK.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(h, timeout=30)["status"] == 1
    sun1, wei1, lamports1 = views(node)
    assert wei1 == wei0 + 15 * 10**17 + 7
    agree(sun1, wei1, lamports1)

    # SVM: Solana wallet #0 pays the identity's Solana address 2.5 SOL
    sol = f"{node}/rpc/solana"
    pay = transfer(TransferParams(from_pubkey=SOL0.pubkey(), to_pubkey=Pubkey(vm_address(identity, "svm")), lamports=25 * 10**8))
    send_and_confirm(sol, signed(sol, [pay], (SOL0,)))
    sun2, wei2, lamports2 = views(node)
    assert lamports2 == lamports1 + 25 * 10**8
    agree(sun2, wei2, lamports2)

    # TVM: the Tron wallet pays 3.25 TRX with tronpy
    sent = tronpy("transfer", f"{node}/api/tron/", TRON_KEY.hex(), tron_text(b"\x41" + bytes(19) + b"\x33"), str(3_250_000))
    assert sent["info"]["receipt"]["result"] == "SUCCESS"
    sun3, wei3, lamports3 = views(node)
    assert sun3 == sun2 - 3_250_000 and wei3 == wei2 - 3_250_000 * 10**12
    agree(sun3, wei3, lamports3)
