"""One token, two wallets' views, no bridge: against a running devnet, a Solana wallet (solders + solana-py's
client) makes an SPL mint and mints to a MetaMask-style key's identity; that key (eth-account + web3.py)
pays a Solana wallet through the mint's ERC-20 view; solana-py sees the Solana wallet's SPL balance move
by exactly the amount — and the lamports of a Solana wallet paid in wei through the EVM."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.token import instructions as spl
from spl.token import models
from spl.token.constants import TOKEN_PROGRAM_ID
from web3 import Web3

from chain.identity import erc20_address, legacy_id_com, vm_address
from engines.svm.accounts import rent_exempt_minimum
from tests.support.devnet import free_port, start_devnet, stop_devnet, wait_ready
from tests.test_rpc_solana import balance, call, send_and_confirm, signed

CHAIN_ID = 7231053
METAMASK = Account.from_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")  # anvil #1 of genesis
SOL0 = Keypair.from_seed(bytes.fromhex("a01c67efb5cb8f62f15907a9fcf124c73d2695c8a9a31f21c05742a31ca1dc72"))  # genesis Solana #0
SOL1 = Keypair.from_seed(bytes.fromhex("3f25626cf245c8dd65a2b91a70e6f4c285182489fda230e2553c3752aa962b61"))  # genesis Solana #1
DECIMALS = 6


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A devnet (on-demand blocks, the shipped genesis); its Solana RPC URL and web3 on its Ethereum RPC."""
    port = free_port()
    home = tmp_path_factory.mktemp("node")
    proc = start_devnet(home, port, NVM_ON_DEMAND="1")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, home, base, timeout_s=60, min_height=0)
        yield f"{base}/rpc/solana", Web3(Web3.HTTPProvider(f"{base}/rpc/eth", request_kwargs={"timeout": 30}))
    finally:
        stop_devnet(proc, home)


def send(sol: str, instructions, signers) -> None:
    sig = send_and_confirm(sol, signed(sol, instructions, tuple(signers)))
    status = call(sol, lambda c: c.get_signature_statuses([sig])).value[0]
    assert status is not None and status.err is None, status


def token_amount(sol: str, account: Pubkey) -> int:
    return int(call(sol, lambda c: c.get_token_account_balance(account)).value.amount)


def test_a_metamask_key_pays_a_solana_wallet_through_the_erc20_view(node):
    sol, w3 = node
    mint = Keypair()
    metamask_svm = Pubkey(vm_address(legacy_id_com("evm", bytes.fromhex(METAMASK.address[2:])), "svm"))
    metamask_ata = spl.get_associated_token_address(metamask_svm, mint.pubkey())
    sol1_ata = spl.get_associated_token_address(SOL1.pubkey(), mint.pubkey())
    rent = rent_exempt_minimum(82)
    create = CreateAccountParams(
        from_pubkey=SOL0.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=TOKEN_PROGRAM_ID
    )
    init = models.InitializeMintParams(
        decimals=DECIMALS, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=SOL0.pubkey()
    )
    mint_to = models.MintToCheckedParams(
        program_id=TOKEN_PROGRAM_ID,
        mint=mint.pubkey(),
        dest=metamask_ata,
        mint_authority=SOL0.pubkey(),
        amount=5_000_000,
        decimals=DECIMALS,
    )
    send(
        sol,
        [
            create_account(create),
            spl.initialize_mint(init),
            spl.create_idempotent_associated_token_account(SOL0.pubkey(), metamask_svm, mint.pubkey()),
            spl.create_idempotent_associated_token_account(SOL0.pubkey(), SOL1.pubkey(), mint.pubkey()),
            spl.mint_to_checked(mint_to),
        ],
        [SOL0, mint],
    )
    assert token_amount(sol, metamask_ata) == 5_000_000
    before = token_amount(sol, sol1_ata)

    # MetaMask's side: the mint's ERC-20 view, to the EVM address of SOL1's identity
    token = to_checksum_address(erc20_address(bytes(mint.pubkey())))
    sol1_evm = vm_address(legacy_id_com("svm", bytes(SOL1.pubkey())), "evm")
    balance_of = keccak(text="balanceOf(address)")[:4] + encode(["address"], [METAMASK.address])
    assert int.from_bytes(w3.eth.call({"to": token, "data": balance_of}), "big") == 5_000_000
    amount = 1_234_567
    data = keccak(text="transfer(address,uint256)")[:4] + encode(["address", "uint256"], [sol1_evm, amount])
    tx = {
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(METAMASK.address, "pending"),
        "to": token,
        "data": data,
        "value": 0,
        "gas": 80_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**8,
    }
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(METAMASK.sign_transaction(tx).raw_transaction), 30)
    assert receipt.status == 1

    assert token_amount(sol, sol1_ata) - before == amount  # exactly the amount, seen by solana-py
    assert token_amount(sol, metamask_ata) == 5_000_000 - amount
    supply = call(sol, lambda c: c.get_token_supply(mint.pubkey())).value
    assert (int(supply.amount), supply.decimals) == (5_000_000, DECIMALS)


def test_wei_sent_through_the_evm_are_lamports_of_the_solana_wallet(node):
    sol, w3 = node
    fresh = Keypair()
    before = balance(sol, fresh.pubkey())
    # its first lamports bind the pubkey to its legacy identity, and that identity's EVM address with it
    send(sol, [system_transfer(SOL0.pubkey(), fresh.pubkey(), rent_exempt_minimum(0))], [SOL0])
    to = vm_address(legacy_id_com("svm", bytes(fresh.pubkey())), "evm")
    tx = {
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(METAMASK.address, "pending"),
        "to": to_checksum_address(to),
        "value": 3 * 10**18,  # 3 ETH in the EVM's unit = 3 SOL
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**8,
    }
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(METAMASK.sign_transaction(tx).raw_transaction), 30)
    assert receipt.status == 1
    assert balance(sol, fresh.pubkey()) - before == rent_exempt_minimum(0) + 3 * 10**9


def system_transfer(source: Pubkey, dest: Pubkey, lamports: int):
    from solders.system_program import TransferParams, transfer

    return transfer(TransferParams(from_pubkey=source, to_pubkey=dest, lamports=lamports))
