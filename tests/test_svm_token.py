"""SPL Token and the Associated Token Account program over the one ledger, fed instructions built by
solana-py's `spl.token` and transactions signed by solders (peers we did not write); every mint and
token account is parsed with solders' own `Mint` / `TokenAccount` to prove the layouts byte-exact."""

from __future__ import annotations

import base64

import pytest
from eth_abi import decode, encode
from eth_account import Account as EthAccount
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account
from solders.system_program import transfer as sol_transfer
from solders.token.state import Mint, TokenAccount, TokenAccountState
from solders.transaction import Transaction
from spl.token import instructions as spl
from spl.token import models
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID

from chain.dispatcher import Registry
from chain.genesis import parse
from chain.identity import erc20_address, legacy_id_com, vm_address
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, MintRecord, allowance, balance, balance_slot, credit, get_mint, put_mint
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm import make_engine as evm_engine
from engines.evm.engine import BASE_FEE_WEI
from engines.native import make_engine as native_engine
from engines.svm import accounts as acc
from engines.svm import make_engine
from engines.svm.engine import describe_instruction, signature_key
from engines.svm.errors import ProgramError, err_of
from engines.svm.programs import TOKEN_PROGRAM
from engines.svm.receipt import SvmOutput, TokenBalance
from engines.svm.runtime import Meta, Runtime
from engines.svm.token import ata_address, mint_info, owned_token_accounts, token_account

CHAIN_ID = 7231053
ALICE = Keypair.from_seed(bytes(range(32)))
BOB = Keypair.from_seed(bytes(range(1, 33)))
CAROL = Keypair.from_seed(bytes(range(2, 34)))
MINT = Keypair.from_seed(bytes(range(5, 37)))
OTHER_MINT = Keypair.from_seed(bytes(range(6, 38)))
ETH = EthAccount.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # anvil #0
ETH_BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FUNDS = 5 * 10**9
GENESIS_MINT = bytes(range(200, 232))  # a ledger mint made in genesis, never seen by the SVM
GENESIS_AUTHORITY = bytes(range(100, 132))
MINT_RENT = acc.rent_exempt_minimum(82)  # 1,461,600
ATA_RENT = acc.rent_exempt_minimum(165)  # 2,039,280
FEE = 5_000
ALICE_KEY, MINT_KEY = ALICE.pubkey(), MINT.pubkey()


def populate(state: State) -> None:
    alloc = [
        {"legacy": "svm", "address": str(ALICE.pubkey()), "balance": str(FUNDS)},
        {"legacy": "evm", "address": ETH.address, "balance": str(FUNDS)},
    ]
    parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate(state)
    alice = acc.identity_for(state, bytes(ALICE.pubkey()))
    put_mint(state, GENESIS_MINT, MintRecord(7_000, 2, GENESIS_AUTHORITY, "GEN", "Genesis token"))
    credit(state, GENESIS_MINT, alice, 7_000)


@pytest.fixture
def node():
    reg = Registry()
    for engine in (native_engine(), evm_engine(), make_engine()):
        reg.register(engine)
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(range(2, 34))))
    chain.create_genesis(populate, 0)
    return chain


def signed(node, instructions, signers=(ALICE,)) -> bytes:
    recent = Hash(node.head.hash)
    message = Message.new_with_blockhash(instructions, signers[0].pubkey(), recent)
    return b"\x20" + bytes(Transaction(list(signers), message, recent))


def run_block(node, instructions, signers=(ALICE,)):
    node.admit(signed(node, instructions, signers))
    return node.produce(100)


def run(node, instructions, signers=(ALICE,)):
    (e,) = run_block(node, instructions, signers).txs
    return e


def ok(node, instructions, signers=(ALICE,)):
    e = run(node, instructions, signers)
    assert e.receipt.success, (e.receipt.message, [line.decode() for line in e.receipt.logs])
    return e


def state(node) -> State:
    return State(node.entries)


def mint_of(node, mint: Pubkey) -> Mint:
    info = acc.account_info(state(node), bytes(mint))
    assert info is not None and info.owner == bytes(TOKEN_PROGRAM_ID)
    return Mint.from_bytes(info.data)


def account_of(node, address: Pubkey) -> TokenAccount:
    info = acc.account_info(state(node), bytes(address))
    assert info is not None and info.owner == bytes(TOKEN_PROGRAM_ID)
    return TokenAccount.from_bytes(info.data)


def ata(wallet: Pubkey, mint: Pubkey = MINT_KEY) -> Pubkey:
    return spl.get_associated_token_address(wallet, mint)


def identity(node, key: Pubkey) -> bytes:
    found = acc.identity_of(state(node), bytes(key))
    assert found is not None
    return found


def create_mint_ixs(mint: Keypair = MINT, decimals: int = 6, authority: Pubkey = ALICE_KEY, freeze=None, v2=True):
    return [
        create_account(
            CreateAccountParams(
                from_pubkey=ALICE.pubkey(), to_pubkey=mint.pubkey(), lamports=MINT_RENT, space=82, owner=TOKEN_PROGRAM_ID
            )
        ),
        spl.initialize_mint2(
            models.InitializeMint2Params(
                decimals=decimals,
                program_id=TOKEN_PROGRAM_ID,
                mint=mint.pubkey(),
                mint_authority=authority,
                freeze_authority=freeze,
            )
        )
        if v2
        else spl.initialize_mint(  # InitializeMint: the Rent sysvar account too
            models.InitializeMintParams(
                decimals=decimals,
                program_id=TOKEN_PROGRAM_ID,
                mint=mint.pubkey(),
                mint_authority=authority,
                freeze_authority=freeze,
            )
        ),
    ]


def mint_to(amount: int, dest: Pubkey, mint: Pubkey = MINT_KEY, authority: Pubkey = ALICE_KEY):
    return spl.mint_to(
        models.MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint, dest=dest, mint_authority=authority, amount=amount)
    )


def transfer_checked(amount: int, source: Pubkey, dest: Pubkey, owner: Pubkey, decimals: int = 6, mint: Pubkey = MINT_KEY):
    params = models.TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID, source=source, mint=mint, dest=dest, owner=owner, amount=amount, decimals=decimals
    )
    return spl.transfer_checked(params)


def transfer(amount: int, source: Pubkey, dest: Pubkey, owner: Pubkey):
    return spl.transfer(models.TransferParams(program_id=TOKEN_PROGRAM_ID, source=source, dest=dest, owner=owner, amount=amount))


@pytest.fixture
def token(node):
    """A mint of 6 decimals with Alice as its authority, Alice's and Bob's ATAs, 1,000,000 minted to Alice."""
    ok(node, create_mint_ixs(), signers=(ALICE, MINT))
    ok(
        node,
        [
            spl.create_associated_token_account(ALICE.pubkey(), ALICE.pubkey(), MINT.pubkey()),
            spl.create_idempotent_associated_token_account(ALICE.pubkey(), BOB.pubkey(), MINT.pubkey()),
            mint_to(1_000_000, ata(ALICE.pubkey())),
        ],
    )
    return node


def logs(e) -> list[str]:
    return [line.decode() for line in e.receipt.logs]


# -- the whole life of a token ------------------------------------------------------------------------
def test_create_mint_is_a_ledger_mint_in_the_82_byte_layout(node):
    e = ok(node, create_mint_ixs(freeze=CAROL.pubkey()), signers=(ALICE, MINT))
    assert "Program log: Instruction: InitializeMint2" in logs(e)
    m = mint_of(node, MINT.pubkey())
    assert (m.mint_authority, m.supply, m.decimals, m.is_initialized, m.freeze_authority) == (
        ALICE.pubkey(),
        0,
        6,
        True,
        CAROL.pubkey(),
    )
    s = state(node)
    record = get_mint(s, bytes(MINT.pubkey()))  # one ledger: the mint's pubkey is its ledger id
    assert record == MintRecord(0, 6, legacy_id_com("svm", bytes(ALICE.pubkey())), "", "")
    assert acc.account_info(s, bytes(MINT.pubkey())).lamports == MINT_RENT
    assert mint_info(s, bytes(MINT.pubkey())).mint_authority == bytes(ALICE.pubkey())


def test_associated_token_account_create_logs_and_layout(node):
    ok(node, create_mint_ixs(), signers=(ALICE, MINT))
    e = ok(node, [spl.create_associated_token_account(ALICE.pubkey(), ALICE.pubkey(), MINT.pubkey())])
    address = ata(ALICE.pubkey())
    assert bytes(address) == ata_address(bytes(ALICE.pubkey()), bytes(MINT.pubkey()))
    a = account_of(node, address)
    assert (a.mint, a.owner, a.amount, a.state, a.delegate, a.is_native, a.delegated_amount, a.close_authority) == (
        MINT.pubkey(),
        ALICE.pubkey(),
        0,
        TokenAccountState.Initialized,
        None,
        None,
        0,
        None,
    )
    assert acc.account_info(state(node), bytes(address)).lamports == ATA_RENT
    token, system, ata_program = str(TOKEN_PROGRAM_ID), "11111111111111111111111111111111", str(ASSOCIATED_TOKEN_PROGRAM_ID)
    lines = logs(e)
    limit = 200_000  # the default budget of one instruction that is not a built-in
    assert lines == [
        f"Program {ata_program} invoke [1]",
        "Program log: Create",
        f"Program {token} invoke [2]",
        "Program log: Instruction: GetAccountDataSize",
        f"Program {token} consumed 1569 of {limit - 4_000 - 9_000} compute units",
        f"Program return: {token} pQAAAAAAAAA=",
        f"Program {token} success",
        f"Program {system} invoke [2]",
        f"Program {system} success",
        "Program log: Initialize the associated token account",
        f"Program {token} invoke [2]",
        "Program log: Instruction: InitializeImmutableOwner",
        "Program log: Please upgrade to SPL Token 2022 for immutable owner support",
        f"Program {token} consumed 1405 of {limit - 13_000 - 1_569 - 150} compute units",
        f"Program {token} success",
        f"Program {token} invoke [2]",
        "Program log: Instruction: InitializeAccount3",
        f"Program {token} consumed 4200 of {limit - 13_000 - 1_569 - 150 - 1_405} compute units",
        f"Program {token} success",
        f"Program {ata_program} consumed {e.receipt.gas_used} of {limit} compute units",
        f"Program {ata_program} success",
    ]
    assert e.receipt.gas_used == 13_000 + 1_569 + 150 + 1_405 + 4_200  # about the real program's 20,300
    out = SvmOutput.decode(e.receipt.output)
    assert out.return_data == (bytes(TOKEN_PROGRAM_ID), (165).to_bytes(8, "little"))
    index = list(Transaction.from_bytes(e.tx.envelope[1:]).message.account_keys).index(address)
    assert out.token_pre == [] and out.token_post == [TokenBalance(index, bytes(MINT.pubkey()), bytes(ALICE.pubkey()), 0, 6)]


def test_mint_transfer_approve_revoke_burn_close(token):
    node = token
    alice_ata, bob_ata = ata(ALICE.pubkey()), ata(BOB.pubkey())
    mint = bytes(MINT.pubkey())
    alice, bob = identity(node, ALICE.pubkey()), identity(node, BOB.pubkey())
    assert account_of(node, alice_ata).amount == 1_000_000 and mint_of(node, MINT.pubkey()).supply == 1_000_000
    assert balance(state(node), mint, alice) == 1_000_000  # the ATA is Alice's own ledger balance

    block = run_block(node, [transfer_checked(250_000, alice_ata, bob_ata, ALICE.pubkey())])
    (e,) = block.txs
    assert "Program log: Instruction: TransferChecked" in logs(e) and e.receipt.gas_used == 6_200
    # exactly the two balance slots moved (and the fee payer's native balance, the fee collector's, the signature mark)
    fee = {balance_slot(NATIVE_MINT, alice), balance_slot(NATIVE_MINT, FEE_COLLECTOR), signature_key(bytes(e.tx.ids[0]))}
    assert set(block.state_diff) == fee | {balance_slot(mint, alice), balance_slot(mint, bob)}
    out = SvmOutput.decode(e.receipt.output)
    assert sorted(b.amount for b in out.token_pre) == [0, 1_000_000] and sorted(b.amount for b in out.token_post) == [
        250_000,
        750_000,
    ]
    ok(node, [transfer(50_000, alice_ata, bob_ata, ALICE.pubkey())])
    assert account_of(node, alice_ata).amount == 700_000 and account_of(node, bob_ata).amount == 300_000
    assert balance(state(node), mint, bob) == 300_000

    # a delegate: Carol may move 100,000 of Alice's; the ledger allowance is the delegated amount
    ok(
        node,
        [
            spl.approve(
                models.ApproveParams(
                    program_id=TOKEN_PROGRAM_ID, source=alice_ata, delegate=CAROL.pubkey(), owner=ALICE.pubkey(), amount=100_000
                )
            )
        ],
    )
    a = account_of(node, alice_ata)
    assert (a.delegate, a.delegated_amount) == (CAROL.pubkey(), 100_000)
    assert allowance(state(node), mint, alice, identity(node, CAROL.pubkey())) == 100_000
    ok(node, [transfer(60_000, alice_ata, bob_ata, CAROL.pubkey())], signers=(ALICE, CAROL))
    a = account_of(node, alice_ata)
    assert (a.amount, a.delegate, a.delegated_amount) == (640_000, CAROL.pubkey(), 40_000)
    e = run(node, [transfer(50_000, alice_ata, bob_ata, CAROL.pubkey())], signers=(ALICE, CAROL))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 1}]}  # more than delegated
    ok(node, [spl.revoke(models.RevokeParams(program_id=TOKEN_PROGRAM_ID, account=alice_ata, owner=ALICE.pubkey()))])
    a = account_of(node, alice_ata)
    assert (a.delegate, a.delegated_amount) == (None, 0) and allowance(
        state(node), mint, alice, identity(node, CAROL.pubkey())
    ) == 0
    e = run(node, [transfer(1, alice_ata, bob_ata, CAROL.pubkey())], signers=(ALICE, CAROL))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 4}]}  # OwnerMismatch: no delegate any more

    # burning lowers the supply
    ok(
        node,
        [
            spl.burn(
                models.BurnParams(
                    program_id=TOKEN_PROGRAM_ID, account=alice_ata, mint=MINT.pubkey(), owner=ALICE.pubkey(), amount=140_000
                )
            )
        ],
    )
    assert account_of(node, alice_ata).amount == 500_000 and mint_of(node, MINT.pubkey()).supply == 860_000
    ok(
        node,
        [
            spl.burn_checked(
                models.BurnCheckedParams(
                    program_id=TOKEN_PROGRAM_ID, account=alice_ata, mint=MINT.pubkey(), owner=ALICE.pubkey(), amount=1, decimals=6
                )
            )
        ],
    )
    assert get_mint(state(node), mint).supply == 859_999

    # Bob empties his account and closes it: its rent comes back to him, the account is gone
    ok(node, [sol_transfer(TransferParams(from_pubkey=ALICE.pubkey(), to_pubkey=BOB.pubkey(), lamports=10**8))])
    bob_lamports = acc.lamports(state(node), bytes(BOB.pubkey()))
    close = spl.close_account(
        models.CloseAccountParams(program_id=TOKEN_PROGRAM_ID, account=bob_ata, dest=BOB.pubkey(), owner=BOB.pubkey())
    )
    e = run(node, [close], signers=(BOB,))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 11}]}  # NonNativeHasBalance
    e = ok(node, [transfer_checked(360_000, bob_ata, alice_ata, BOB.pubkey()), close], signers=(BOB,))
    assert "Program log: Instruction: CloseAccount" in logs(e)
    s = state(node)
    assert acc.account_info(s, bytes(bob_ata)) is None and token_account(s, bytes(bob_ata)) is None
    assert acc.lamports(s, bytes(BOB.pubkey())) == bob_lamports - 2 * FEE + ATA_RENT
    assert account_of(node, alice_ata).amount == 859_999 == mint_of(node, MINT.pubkey()).supply
    # the ATA can be made again, and shows what the wallet holds
    ok(node, [spl.create_idempotent_associated_token_account(ALICE.pubkey(), BOB.pubkey(), MINT.pubkey())])
    assert account_of(node, bob_ata).amount == 0


def test_create_idempotent_twice_and_create_on_an_existing_ata(token):
    node = token
    bob_ata = ata(BOB.pubkey())
    before = account_of(node, bob_ata)
    e = ok(node, [spl.create_idempotent_associated_token_account(ALICE.pubkey(), BOB.pubkey(), MINT.pubkey())] * 2)
    assert logs(e).count(
        "Program log: CreateIdempotent"
    ) == 2 and "Program log: Initialize the associated token account" not in logs(e)
    assert account_of(node, bob_ata) == before
    e = run(node, [spl.create_associated_token_account(ALICE.pubkey(), BOB.pubkey(), MINT.pubkey())])
    assert err_of(e.receipt.code) == {"InstructionError": [0, "IllegalOwner"]}


def test_an_ata_address_that_already_holds_lamports_is_topped_up_allocated_and_assigned(token):
    node = token
    carol_ata = ata(CAROL.pubkey())
    ok(node, [sol_transfer(TransferParams(from_pubkey=ALICE.pubkey(), to_pubkey=carol_ata, lamports=1_000_000))])
    e = ok(node, [spl.create_idempotent_associated_token_account(ALICE.pubkey(), CAROL.pubkey(), MINT.pubkey())])
    assert logs(e).count("Program 11111111111111111111111111111111 invoke [2]") == 3  # Transfer, Allocate, Assign
    assert acc.account_info(state(node), bytes(carol_ata)).lamports == ATA_RENT
    assert account_of(node, carol_ata).owner == CAROL.pubkey()


def test_a_non_associated_token_account_holds_its_own_balance(token):
    node = token
    account = Keypair.from_seed(bytes(range(9, 41)))
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=ALICE.pubkey(), to_pubkey=account.pubkey(), lamports=ATA_RENT, space=165, owner=TOKEN_PROGRAM_ID
            )
        ),
        spl.initialize_account(
            models.InitializeAccountParams(
                program_id=TOKEN_PROGRAM_ID, account=account.pubkey(), mint=MINT.pubkey(), owner=BOB.pubkey()
            )
        ),
        transfer_checked(1_000, ata(ALICE.pubkey()), account.pubkey(), ALICE.pubkey()),
    ]
    ok(node, ixs, signers=(ALICE, account))
    a = account_of(node, account.pubkey())
    assert (a.owner, a.amount) == (BOB.pubkey(), 1_000)
    s = state(node)
    assert balance(s, bytes(MINT.pubkey()), identity(node, account.pubkey())) == 1_000  # the account's own identity holds it
    assert balance(s, bytes(MINT.pubkey()), identity(node, BOB.pubkey())) == 0
    # its owner can be changed (an ATA's cannot: it shows the wallet's own balance)
    set_owner = spl.set_authority(
        models.SetAuthorityParams(
            program_id=TOKEN_PROGRAM_ID,
            account=account.pubkey(),
            authority=models.AuthorityType.ACCOUNT_OWNER,
            current_authority=BOB.pubkey(),
            new_authority=CAROL.pubkey(),
        )
    )
    ok(node, [set_owner], signers=(ALICE, BOB))
    assert account_of(node, account.pubkey()).owner == CAROL.pubkey()
    set_ata_owner = spl.set_authority(
        models.SetAuthorityParams(
            program_id=TOKEN_PROGRAM_ID,
            account=ata(ALICE.pubkey()),
            authority=models.AuthorityType.ACCOUNT_OWNER,
            current_authority=ALICE.pubkey(),
            new_authority=CAROL.pubkey(),
        )
    )
    assert err_of(run(node, [set_ata_owner]).receipt.code) == {"InstructionError": [0, {"Custom": 15}]}


def test_mint_authority_can_move_and_be_dropped(token):
    node = token

    def set_mint_authority(new):
        return spl.set_authority(
            models.SetAuthorityParams(
                program_id=TOKEN_PROGRAM_ID,
                account=MINT.pubkey(),
                authority=models.AuthorityType.MINT_TOKENS,
                current_authority=ALICE.pubkey(),
                new_authority=new,
            )
        )

    ok(node, [set_mint_authority(CAROL.pubkey())])
    assert mint_of(node, MINT.pubkey()).mint_authority == CAROL.pubkey()
    assert get_mint(state(node), bytes(MINT.pubkey())).authority == identity(node, CAROL.pubkey())  # the ledger's authority too
    e = run(node, [mint_to(1, ata(ALICE.pubkey()))])
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 4}]}  # OwnerMismatch
    ok(node, [mint_to(5, ata(ALICE.pubkey()), authority=CAROL.pubkey())], signers=(ALICE, CAROL))
    drop = spl.set_authority(
        models.SetAuthorityParams(
            program_id=TOKEN_PROGRAM_ID,
            account=MINT.pubkey(),
            authority=models.AuthorityType.MINT_TOKENS,
            current_authority=CAROL.pubkey(),
        )
    )
    ok(node, [drop], signers=(ALICE, CAROL))
    assert mint_of(node, MINT.pubkey()).mint_authority is None and get_mint(state(node), bytes(MINT.pubkey())).authority == bytes(
        32
    )
    e = run(node, [mint_to(1, ata(ALICE.pubkey()), authority=CAROL.pubkey())], signers=(ALICE, CAROL))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 5}]}  # FixedSupply


# -- mints made elsewhere ----------------------------------------------------------------------------------
def test_genesis_and_native_mints_are_spl_mints(node):
    g = mint_of(node, Pubkey(GENESIS_MINT))
    assert (g.mint_authority, g.supply, g.decimals, g.is_initialized, g.freeze_authority) == (
        Pubkey(vm_address(GENESIS_AUTHORITY, "svm")),
        7_000,
        2,
        True,
        None,
    )
    native = mint_of(node, Pubkey(NATIVE_MINT))
    assert (native.supply, native.decimals, native.mint_authority) == (
        2 * FUNDS,
        9,
        None,
    )  # genesis set no authority: fixed supply


def test_the_native_token_has_no_token_accounts_it_is_lamports(node):
    """An SPL account of the native mint would show a wallet's lamports twice (as SOL and as a token)."""
    native = Pubkey(NATIVE_MINT)
    e = run(node, [spl.create_associated_token_account(ALICE.pubkey(), ALICE.pubkey(), native)])
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 10}]}  # NativeNotSupported
    assert "move it with the System program" in " ".join(line.decode() for line in e.receipt.logs) + e.receipt.message
    params = models.TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID,
        source=ata(ALICE.pubkey(), native),
        mint=native,
        dest=ata(BOB.pubkey(), native),
        owner=ALICE.pubkey(),
        amount=1,
        decimals=9,
    )
    e = run(node, [spl.transfer_checked(params)])
    assert not e.receipt.success and acc.lamports(state(node), bytes(BOB.pubkey())) == 0
    assert owned_token_accounts(state(node), bytes(ALICE.pubkey()), [NATIVE_MINT]) == []


def test_a_ledger_balance_shows_in_the_ata_and_moves_from_it_unregistered(node):
    """Genesis credited Alice 7,000 of a ledger mint the SVM never saw: her ATA lists it, and TransferChecked
    from it (signed by her) registers the ATA on the fly."""
    gmint = Pubkey(GENESIS_MINT)
    alice_ata, bob_ata = ata(ALICE.pubkey(), gmint), ata(BOB.pubkey(), gmint)
    s = state(node)
    assert acc.account_info(s, bytes(alice_ata)) is None  # not created: the ATA program may still create it
    ((address, found),) = owned_token_accounts(s, bytes(ALICE.pubkey()), [GENESIS_MINT, bytes(MINT.pubkey())])
    assert address == bytes(alice_ata) and (found.amount, found.decimals, found.registered) == (7_000, 2, False)
    e = ok(
        node,
        [
            spl.create_idempotent_associated_token_account(ALICE.pubkey(), BOB.pubkey(), gmint),
            transfer_checked(2_500, alice_ata, bob_ata, ALICE.pubkey(), decimals=2, mint=gmint),
        ],
    )
    assert "Program log: Instruction: TransferChecked" in logs(e)
    assert account_of(node, alice_ata).amount == 4_500 and account_of(node, bob_ata).amount == 2_500
    s = state(node)
    assert (
        balance(s, GENESIS_MINT, identity(node, ALICE.pubkey())) == 4_500
        and balance(s, GENESIS_MINT, identity(node, BOB.pubkey())) == 2_500
    )
    assert get_mint(s, GENESIS_MINT).supply == 7_000
    # now registered: created by the ATA program idempotently, it changes nothing
    ok(node, [spl.create_idempotent_associated_token_account(ALICE.pubkey(), ALICE.pubkey(), gmint)])
    assert account_of(node, alice_ata).amount == 4_500


def eth_tx(nonce: int, to: str, data: bytes) -> bytes:
    tx = {
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": to,
        "value": 0,
        "data": data,
        "gas": 100_000,
        "maxFeePerGas": 2 * BASE_FEE_WEI,
        "maxPriorityFeePerGas": 0,
    }
    return b"\x10" + bytes(ETH.sign_transaction(tx).raw_transaction)


def erc20(fn: str, types: list[str], args: list) -> bytes:
    return keccak(text=fn)[:4] + encode(types, args)


def test_spl_and_erc20_are_views_of_the_same_balance(token):
    """A MetaMask wallet's SVM address gets tokens through SPL; its ERC-20 view shows them, an ERC-20
    transfer moves them, and the SPL view follows. The supply never changes."""
    node = token
    mint = bytes(MINT.pubkey())
    eth_id = legacy_id_com("evm", bytes.fromhex(ETH.address[2:]))
    eth_svm = Pubkey(vm_address(eth_id, "svm"))  # the same identity's address in the SVM
    eth_ata = ata(eth_svm)
    ok(
        node,
        [
            spl.create_idempotent_associated_token_account(ALICE.pubkey(), eth_svm, MINT.pubkey()),
            transfer_checked(300_000, ata(ALICE.pubkey()), eth_ata, ALICE.pubkey()),
        ],
    )
    assert account_of(node, eth_ata).amount == 300_000 and balance(state(node), mint, eth_id) == 300_000
    token_address = to_checksum_address(erc20_address(mint))
    node.admit(eth_tx(0, token_address, erc20("balanceOf(address)", ["address"], [ETH.address])))
    node.admit(eth_tx(1, token_address, erc20("transfer(address,uint256)", ["address", "uint256"], [ETH_BOB, 120_000])))
    node.admit(eth_tx(2, token_address, erc20("decimals()", [], [])))
    txs = node.produce(10).txs
    assert [t.receipt.success for t in txs] == [True, True, True]
    assert decode(["uint256"], txs[0].receipt.output) == (300_000,) and decode(["uint8"], txs[2].receipt.output) == (6,)
    assert account_of(node, eth_ata).amount == 180_000  # the SPL view follows the ERC-20 transfer
    s = state(node)
    eth_bob = legacy_id_com("evm", bytes.fromhex(ETH_BOB[2:]))
    assert balance(s, mint, eth_bob) == 120_000
    # and SPL can send it on, to the ATA of the EVM recipient's SVM address
    bob_svm = Pubkey(vm_address(eth_bob, "svm"))
    ok(node, [spl.create_idempotent_associated_token_account(ALICE.pubkey(), bob_svm, MINT.pubkey())])
    assert account_of(node, ata(bob_svm)).amount == 120_000
    held = sum(balance(s, mint, who) for who in (identity(node, ALICE.pubkey()), eth_id, eth_bob))
    assert held == get_mint(s, mint).supply == 1_000_000


# -- errors: the exact InstructionError, and nothing written but the fee -------------------------------------
def failing(node, instructions, signers=(ALICE,)):
    """The failed transaction's error; its block changed only the fee payer's and the fee collector's
    balances and the signature's processed mark."""
    node.admit(signed(node, instructions, signers))
    block = node.produce(100)
    (e,) = block.txs
    assert not e.receipt.success
    tx = Transaction.from_bytes(e.tx.envelope[1:])
    payer = identity(node, tx.message.account_keys[0])
    fee_keys = {
        balance_slot(NATIVE_MINT, payer),
        balance_slot(NATIVE_MINT, FEE_COLLECTOR),
        signature_key(bytes(tx.signatures[0])),
    }
    assert set(block.state_diff) == fee_keys
    return err_of(e.receipt.code)


def test_error_paths_give_spls_errors_and_write_only_the_fee(token):
    node = token
    alice_ata, bob_ata = ata(ALICE.pubkey()), ata(BOB.pubkey())
    ok(node, create_mint_ixs(OTHER_MINT, v2=False), signers=(ALICE, OTHER_MINT))
    ok(node, [spl.create_associated_token_account(ALICE.pubkey(), ALICE.pubkey(), OTHER_MINT.pubkey())])
    other_ata = ata(ALICE.pubkey(), OTHER_MINT.pubkey())

    def custom(n):
        return {"InstructionError": [0, {"Custom": n}]}

    assert failing(node, [transfer(1_000_001, alice_ata, bob_ata, ALICE.pubkey())]) == custom(1)  # InsufficientFunds
    assert failing(node, [transfer(1, alice_ata, other_ata, ALICE.pubkey())]) == custom(3)  # MintMismatch
    wrong_mint = transfer_checked(1, alice_ata, bob_ata, ALICE.pubkey(), mint=OTHER_MINT.pubkey())
    assert failing(node, [wrong_mint]) == custom(3)
    assert failing(node, [mint_to(1, other_ata)]) == custom(3)  # the mint is not the account's
    assert failing(node, [transfer(1, alice_ata, bob_ata, BOB.pubkey())], signers=(ALICE, BOB)) == custom(4)  # OwnerMismatch
    again = spl.initialize_mint2(
        models.InitializeMint2Params(decimals=6, program_id=TOKEN_PROGRAM_ID, mint=MINT.pubkey(), mint_authority=BOB.pubkey())
    )
    assert failing(node, [again]) == custom(6)  # AlreadyInUse
    init_again = spl.initialize_account3(
        models.InitializeAccount3Params(program_id=TOKEN_PROGRAM_ID, account=bob_ata, mint=MINT.pubkey(), owner=BOB.pubkey())
    )
    assert failing(node, [init_again]) == custom(6)
    close = spl.close_account(
        models.CloseAccountParams(program_id=TOKEN_PROGRAM_ID, account=alice_ata, dest=ALICE.pubkey(), owner=ALICE.pubkey())
    )
    assert failing(node, [close]) == custom(11)  # NonNativeHasBalance
    assert failing(node, [Instruction(TOKEN_PROGRAM_ID, bytes([3, 1, 2]), [])]) == custom(12)  # InvalidInstruction: short
    assert failing(node, [Instruction(TOKEN_PROGRAM_ID, bytes([99]), [])]) == custom(12)
    assert failing(node, [mint_to(2**64 - 1, alice_ata)]) == custom(14)  # Overflow
    assert failing(node, [transfer_checked(1, alice_ata, bob_ata, ALICE.pubkey(), decimals=9)]) == custom(
        18
    )  # MintDecimalsMismatch
    # a mint account without the rent-exempt minimum: NotRentExempt
    poor = Keypair.from_seed(bytes(range(11, 43)))
    ixs = create_mint_ixs(poor)
    ixs[0] = create_account(
        CreateAccountParams(
            from_pubkey=ALICE.pubkey(), to_pubkey=poor.pubkey(), lamports=MINT_RENT - 1, space=82, owner=TOKEN_PROGRAM_ID
        )
    )
    assert failing(node, ixs, signers=(ALICE, poor)) == {"InstructionError": [1, {"Custom": 0}]}
    # the owner must sign (Bob, not the fee payer, whose signature the message carries anyway)
    unsigned = transfer(0, bob_ata, alice_ata, BOB.pubkey())
    unsigned = Instruction(unsigned.program_id, unsigned.data, [*unsigned.accounts[:2], AccountMeta(BOB.pubkey(), False, False)])
    assert failing(node, [unsigned]) == {"InstructionError": [0, "MissingRequiredSignature"]}
    # the accounts written must be writable
    readonly = transfer(1, alice_ata, bob_ata, ALICE.pubkey())
    readonly = Instruction(
        readonly.program_id, readonly.data, [readonly.accounts[0], AccountMeta(bob_ata, False, False), readonly.accounts[2]]
    )
    assert failing(node, [readonly]) == {"InstructionError": [0, "ReadonlyDataModified"]}
    # accounts that are not token accounts: a wallet (no data), a token-owned account never initialized
    assert failing(node, [transfer(1, alice_ata, BOB.pubkey(), ALICE.pubkey())]) == {
        "InstructionError": [0, "InvalidAccountData"]
    }
    blank = Keypair.from_seed(bytes(range(12, 44)))
    make_blank = create_account(
        CreateAccountParams(
            from_pubkey=ALICE.pubkey(), to_pubkey=blank.pubkey(), lamports=ATA_RENT, space=165, owner=TOKEN_PROGRAM_ID
        )
    )
    code = failing(node, [make_blank, transfer(1, alice_ata, blank.pubkey(), ALICE.pubkey())], signers=(ALICE, blank))
    assert code == {"InstructionError": [1, "UninitializedAccount"]}
    # the ATA program: an address that is not the derivation
    bad = spl.create_associated_token_account(ALICE.pubkey(), BOB.pubkey(), MINT.pubkey())
    bad = Instruction(bad.program_id, bad.data, [bad.accounts[0], AccountMeta(CAROL.pubkey(), False, True), *bad.accounts[2:]])
    assert failing(node, [bad]) == {"InstructionError": [0, "InvalidSeeds"]}
    # what this devnet does not run is a clear error
    freeze = spl.freeze_account(
        models.FreezeAccountParams(program_id=TOKEN_PROGRAM_ID, account=alice_ata, mint=MINT.pubkey(), authority=ALICE.pubkey())
    )
    assert failing(node, [freeze]) == {"InstructionError": [0, "InvalidInstructionData"]}
    assert run(node, [freeze]).receipt.message.endswith("(freezing a token account is not supported on this devnet)")
    assert account_of(node, alice_ata).amount == 1_000_000 and mint_of(node, MINT.pubkey()).supply == 1_000_000


def test_describe_token_instructions(token):
    ix = transfer_checked(1_500_000, ata(ALICE.pubkey()), ata(BOB.pubkey()), ALICE.pubkey())
    line = describe_instruction(bytes(ix.program_id), bytes(ix.data), [bytes(a.pubkey) for a in ix.accounts])
    shown = f"transfer 1.5 (mint {MINT_KEY}) from {ata(ALICE_KEY)} to {ata(BOB.pubkey())}, authority {ALICE_KEY}"
    assert line == f"SPL Token: {shown}"
    ix = spl.create_idempotent_associated_token_account(ALICE.pubkey(), BOB.pubkey(), MINT.pubkey())
    line = describe_instruction(bytes(ix.program_id), bytes(ix.data), [bytes(a.pubkey) for a in ix.accounts])
    assert line.startswith(f"Associated Token Account: create if missing the associated token account {ata(BOB.pubkey())}")


# -- a property: whatever happens, the supply is what the accounts hold ----------------------------------------
WALLETS = [ALICE, BOB, CAROL]


@st.composite
def operations(draw):
    kind = draw(st.sampled_from(["transfer", "transfer_checked", "approve", "revoke", "burn", "mint"]))
    return (
        kind,
        draw(st.integers(0, len(WALLETS) - 1)),  # source account's wallet
        draw(st.integers(0, len(WALLETS) - 1)),  # destination's wallet, or the delegate
        draw(st.integers(0, len(WALLETS) - 1)),  # who signs
        draw(st.one_of(st.integers(0, 400_000), st.just(2**64 - 1))),
    )


def _as_metas(ix: Instruction) -> list[Meta]:
    return [Meta(bytes(a.pubkey), a.is_signer, a.is_writable) for a in ix.accounts]


def test_random_token_operations_conserve_the_supply(token):
    ok(token, [spl.create_idempotent_associated_token_account(ALICE.pubkey(), CAROL.pubkey(), MINT.pubkey())])
    base = dict(token.entries)
    mint = bytes(MINT.pubkey())
    holders = [acc.identity_of(State(base), bytes(w.pubkey())) for w in WALLETS]

    def instruction(kind, src, dst, signer, amount) -> Instruction:
        s, d, who = WALLETS[src].pubkey(), WALLETS[dst].pubkey(), WALLETS[signer].pubkey()
        if kind == "transfer":
            return transfer(amount, ata(s), ata(d), who)
        if kind == "transfer_checked":
            return transfer_checked(amount, ata(s), ata(d), who)
        if kind == "approve":
            return spl.approve(
                models.ApproveParams(program_id=TOKEN_PROGRAM_ID, source=ata(s), delegate=d, owner=who, amount=amount)
            )
        if kind == "revoke":
            return spl.revoke(models.RevokeParams(program_id=TOKEN_PROGRAM_ID, account=ata(s), owner=who))
        if kind == "burn":
            return spl.burn(
                models.BurnParams(program_id=TOKEN_PROGRAM_ID, account=ata(s), mint=MINT.pubkey(), owner=who, amount=amount)
            )
        return mint_to(amount, ata(d), authority=who)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(operations(), max_size=25))
    def check(ops):
        s = State(base)
        for op in ops:
            ix = instruction(*op)
            rt = Runtime(s, 200_000)
            snap = s.snapshot()
            try:
                rt.invoke(TOKEN_PROGRAM, _as_metas(ix), bytes(ix.data))
                s.commit(snap)
            except ProgramError:
                s.revert(snap)
            held = [balance(s, mint, h) for h in holders]
            assert all(0 <= h < 2**64 for h in held)
            assert sum(held) == get_mint(s, mint).supply
            for wallet, holder, amount in zip(WALLETS, holders, held, strict=True):
                view = TokenAccount.from_bytes(acc.account_info(s, bytes(ata(wallet.pubkey()))).data)
                assert view.amount == amount  # the SPL view is the ledger balance
                spender = None if view.delegate is None else acc.identity_of(s, bytes(view.delegate))
                assert view.delegated_amount == (0 if spender is None else allowance(s, mint, holder, spender))

    check()


def test_return_data_of_amount_to_ui_amount(token):
    ix = Instruction(
        TOKEN_PROGRAM_ID, bytes([23]) + (1_234_500).to_bytes(8, "little"), [AccountMeta(MINT.pubkey(), False, False)]
    )
    e = ok(token, [ix])
    assert f"Program return: {TOKEN_PROGRAM_ID} {base64.b64encode(b'1.2345').decode()}" in logs(e)
    ix = Instruction(TOKEN_PROGRAM_ID, bytes([24]) + b"1.2345", [AccountMeta(MINT.pubkey(), False, False)])
    e = ok(token, [ix])
    assert SvmOutput.decode(e.receipt.output).return_data == (bytes(TOKEN_PROGRAM_ID), (1_234_500).to_bytes(8, "little"))
