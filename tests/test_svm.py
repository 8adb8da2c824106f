"""The SVM engine over the shared state, fed transactions built and signed by solders (a peer we did not write)."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.system_program import (
    CreateAccountParams,
    CreateAccountWithSeedParams,
    TransferParams,
    TransferWithSeedParams,
    create_account,
    create_account_with_seed,
    transfer,
    transfer_with_seed,
)
from solders.transaction import Transaction, VersionedTransaction

from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import parse
from chain.identity import legacy_id_com, vm_address
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, balance, get_mint
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm import make_engine as evm_engine
from engines.native import make_engine as native_engine
from engines.svm import accounts as acc
from engines.svm import make_engine
from engines.svm.errors import err_of
from engines.svm.programs import MEMO_PROGRAM
from engines.svm.receipt import SvmOutput
from engines.svm.wire import PACKET_DATA_SIZE, encode_message
from engines.svm.wire import parse as parse_wire

CHAIN_ID = 7231053
ALICE = Keypair.from_seed(bytes(range(32)))
BOB = Keypair.from_seed(bytes(range(1, 33)))
FUNDS = 5 * 10**9  # 5 SOL
ACE_ID = bytes(range(100, 132))
RENT_MIN = acc.rent_exempt_minimum(0)  # 890,880 lamports


@pytest.fixture
def node():
    reg = Registry()
    for engine in (native_engine(), evm_engine(), make_engine()):
        reg.register(engine)
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(range(2, 34))))
    alloc = [
        {"legacy": "svm", "address": str(ALICE.pubkey()), "balance": str(FUNDS)},
        {"id_com": "0x" + ACE_ID.hex(), "balance": "0"},  # an ACE identity the chain knows
    ]
    chain.create_genesis(parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate, 0)
    return chain


def blockhash(node) -> Hash:
    return Hash(node.head.hash)


def signed(node, instructions, signers=(ALICE,), payer=None, v0=False, recent=None) -> bytes:
    payer = payer or signers[0].pubkey()
    recent = recent or blockhash(node)
    if v0:
        tx = VersionedTransaction(MessageV0.try_compile(payer, instructions, [], recent), list(signers))
        return b"\x20" + bytes(tx)
    return b"\x20" + bytes(Transaction(list(signers), Message.new_with_blockhash(instructions, payer, recent), recent))


def pay(lamports: int, to: Pubkey | None = None):
    return transfer(TransferParams(from_pubkey=ALICE.pubkey(), to_pubkey=to or BOB.pubkey(), lamports=lamports))


def run(node, *envelopes):
    for e in envelopes:
        node.admit(e)
    return node.produce(100).txs


def lamports(node, who: Pubkey) -> int:
    return acc.lamports(State(node.entries), bytes(who))


def refused(node, envelope) -> AdmissionError:
    with pytest.raises(AdmissionError) as e:
        node.admit(envelope)
    return e.value


def supply_held(node) -> bool:
    s = State(node.entries)
    mint = get_mint(s, NATIVE_MINT)
    return mint is not None


def test_transfer_moves_lamports_between_identities_and_charges_the_signature_fee(node):
    amount = 1_234_567_890
    (e,) = run(node, signed(node, [pay(amount)]))
    assert e.receipt.success, e.receipt
    assert e.receipt.fee == 5_000 and e.receipt.gas_used == 150
    assert lamports(node, BOB.pubkey()) == amount
    assert lamports(node, ALICE.pubkey()) == FUNDS - amount - 5_000
    s = State(node.entries)
    bob = legacy_id_com("svm", bytes(BOB.pubkey()))
    assert balance(s, NATIVE_MINT, bob) == amount  # one ledger: the native view is the same number
    assert balance(s, NATIVE_MINT, FEE_COLLECTOR) == 5_000
    logs = [line.decode() for line in e.receipt.logs]
    assert logs == ["Program 11111111111111111111111111111111 invoke [1]", "Program 11111111111111111111111111111111 success"]
    assert e.tx.ids == (bytes(Transaction.from_bytes(e.tx.envelope[1:]).signatures[0]),)
    out = SvmOutput.decode(e.receipt.output)  # what getTransaction's meta shows
    assert out.pre == [FUNDS, 0, 1] and out.post == [FUNDS - amount - 5_000, amount, 1]
    assert out.return_data is None and out.token_pre == out.token_post == []


def test_v0_messages_run_like_legacy_ones(node):
    ix = pay(RENT_MIN)
    (e,) = run(node, signed(node, [ix], v0=True))
    assert e.receipt.success and lamports(node, BOB.pubkey()) == RENT_MIN


def test_a_transfer_to_an_identitys_derived_address_credits_that_identity(node):
    id_com = ACE_ID
    to = Pubkey(vm_address(id_com, "svm"))
    (e,) = run(node, signed(node, [transfer(TransferParams(from_pubkey=ALICE.pubkey(), to_pubkey=to, lamports=10**9))]))
    assert e.receipt.success
    assert balance(State(node.entries), NATIVE_MINT, id_com) == 10**9  # the reverse index knows it: no legacy identity


def test_failed_instruction_keeps_the_fee_and_nothing_else(node):
    too_much = FUNDS  # the fee comes first: then the transfer cannot be covered
    (e,) = run(node, signed(node, [pay(too_much)]))
    assert not e.receipt.success
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 1}]}  # SystemError::ResultWithNegativeLamports
    assert e.receipt.message == "Error processing Instruction 0: custom program error: 0x1"
    assert lamports(node, ALICE.pubkey()) == FUNDS - 5_000 and lamports(node, BOB.pubkey()) == 0
    logs = [line.decode() for line in e.receipt.logs]
    assert f"Program log: Transfer: insufficient lamports {FUNDS - 5_000}, need {FUNDS}" in logs  # ic_msg!, as Solana logs it
    assert logs[-1] == "Program 11111111111111111111111111111111 failed: custom program error: 0x1"


def test_second_instruction_failing_undoes_the_first(node):
    ok = pay(RENT_MIN)
    bad = pay(10 * FUNDS)
    (e,) = run(node, signed(node, [ok, bad]))
    assert err_of(e.receipt.code) == {"InstructionError": [1, {"Custom": 1}]}
    assert lamports(node, BOB.pubkey()) == 0 and lamports(node, ALICE.pubkey()) == FUNDS - 5_000


def test_rent_a_new_account_must_be_left_rent_exempt(node):
    (e,) = run(node, signed(node, [pay(1_000)]))
    assert err_of(e.receipt.code) == {"InsufficientFundsForRent": {"account_index": 1}}
    assert lamports(node, BOB.pubkey()) == 0


def test_compute_budget_sets_limit_and_priority_fee(node):
    ixs = [
        set_compute_unit_limit(10_000),
        set_compute_unit_price(250_000),  # micro-lamports per unit
        pay(RENT_MIN),
    ]
    (e,) = run(node, signed(node, ixs))
    assert e.receipt.success
    assert e.receipt.fee == 5_000 + 10_000 * 250_000 // 1_000_000
    assert e.receipt.gas_used == 150 * 3


def test_compute_budget_exceeded_fails_the_instruction(node):
    ixs = [set_compute_unit_limit(200), pay(RENT_MIN)]
    (e,) = run(node, signed(node, ixs))
    assert err_of(e.receipt.code) == {"InstructionError": [1, "ComputationalBudgetExceeded"]}


def test_duplicate_compute_budget_instruction_is_refused(node):
    ixs = [set_compute_unit_limit(10_000), set_compute_unit_limit(20_000)]
    assert refused(node, signed(node, ixs)).code == '{"DuplicateInstruction":1}'


def test_create_account_then_it_exists_with_owner_and_space(node):
    new = Keypair.from_seed(bytes(range(3, 35)))
    owner = Pubkey.from_string("Stake11111111111111111111111111111111111111")
    rent = acc.rent_exempt_minimum(200)
    ix = create_account(
        CreateAccountParams(from_pubkey=ALICE.pubkey(), to_pubkey=new.pubkey(), lamports=rent, space=200, owner=owner)
    )
    (e,) = run(node, signed(node, [ix], signers=(ALICE, new)))
    assert e.receipt.success, e.receipt.message
    info = acc.account_info(State(node.entries), bytes(new.pubkey()))
    assert info == acc.Account(rent, bytes(owner), bytes(200), False)
    # again: already in use
    (e,) = run(node, signed(node, [ix], signers=(ALICE, new)))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 0}]}


def test_create_account_needs_the_new_accounts_signature(node):
    new = Keypair.from_seed(bytes(range(4, 36)))
    ix = create_account(
        CreateAccountParams(
            from_pubkey=ALICE.pubkey(), to_pubkey=new.pubkey(), lamports=RENT_MIN, space=0, owner=Pubkey.default()
        )
    )
    # solders marks `to` as a signer; strip it to an unsigned writable account
    unsigned = Instruction(ix.program_id, ix.data, [ix.accounts[0], AccountMeta(new.pubkey(), False, True)])
    (e,) = run(node, signed(node, [unsigned]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, "MissingRequiredSignature"]}


def test_with_seed_variants(node):
    owner = Pubkey.from_string("Vote111111111111111111111111111111111111111")
    derived = Pubkey.create_with_seed(ALICE.pubkey(), "vault", owner)
    ix = create_account_with_seed(
        CreateAccountWithSeedParams(
            from_pubkey=ALICE.pubkey(),
            to_pubkey=derived,
            base=ALICE.pubkey(),
            seed="vault",
            lamports=RENT_MIN,
            space=0,
            owner=owner,
        )
    )
    (e,) = run(node, signed(node, [ix]))
    assert e.receipt.success, e.receipt.message
    assert acc.account_info(State(node.entries), bytes(derived)).owner == bytes(owner)
    # a system-owned seeded account can be spent from by its base's signature
    sys_derived = Pubkey.create_with_seed(ALICE.pubkey(), "wallet", Pubkey.default())
    fund = transfer(TransferParams(from_pubkey=ALICE.pubkey(), to_pubkey=sys_derived, lamports=2 * RENT_MIN))
    out = transfer_with_seed(
        TransferWithSeedParams(
            from_pubkey=sys_derived,
            from_base=ALICE.pubkey(),
            from_seed="wallet",
            from_owner=Pubkey.default(),
            to_pubkey=BOB.pubkey(),
            lamports=RENT_MIN,
        )
    )
    (e,) = run(node, signed(node, [fund, out]))
    assert e.receipt.success, e.receipt.message
    assert lamports(node, BOB.pubkey()) == RENT_MIN and lamports(node, sys_derived) == RENT_MIN


def test_memo_logs_and_checks_signers(node):
    memo = Instruction(Pubkey(MEMO_PROGRAM), b"hello, n-VM", [AccountMeta(ALICE.pubkey(), True, True)])
    (e,) = run(node, signed(node, [memo]))
    assert e.receipt.success
    logs = [line.decode() for line in e.receipt.logs]
    assert f"Program log: Signed by {ALICE.pubkey()}" in logs
    assert 'Program log: Memo (len 11): "hello, n-VM"' in logs
    assert any(line.startswith(f"Program {Pubkey(MEMO_PROGRAM)} consumed ") for line in logs)
    bad = Instruction(Pubkey(MEMO_PROGRAM), b"\xff\xfe", [])
    (e,) = run(node, signed(node, [bad]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, "InvalidInstructionData"]}


def test_unknown_program_fails_the_instruction(node):
    ix = Instruction(Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"), b"\x00", [])
    (e,) = run(node, signed(node, [ix]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, "UnsupportedProgramId"]}


# -- admission -----------------------------------------------------------------------------------
def test_bad_signature_is_refused(node):
    env = bytearray(signed(node, [pay(RENT_MIN)]))
    env[-1] ^= 1  # the message changes under the signature
    assert refused(node, bytes(env)).code == "SignatureFailure"


def test_unknown_or_stale_blockhash_is_refused_and_expires_at_150_blocks(node):
    ix = pay(RENT_MIN)
    assert refused(node, signed(node, [ix], recent=Hash(bytes(32)))).code == "BlockhashNotFound"
    old = blockhash(node)
    for _ in range(149):
        node.produce(10)
    ok = signed(node, [ix], recent=old)
    node.admit(ok)  # the 150th block from it may still include it
    node.produce(10)
    stale = signed(node, [pay(RENT_MIN + 1)], recent=old)
    assert refused(node, stale).code == "BlockhashNotFound"


def test_a_signature_is_processed_once(node):
    env = signed(node, [pay(RENT_MIN)])
    (e,) = run(node, env)
    assert e.receipt.success
    assert refused(node, env).code == "AlreadyProcessed"
    assert lamports(node, BOB.pubkey()) == RENT_MIN


def test_fee_payer_must_exist_and_afford_the_fee(node):
    ix = transfer(TransferParams(from_pubkey=BOB.pubkey(), to_pubkey=ALICE.pubkey(), lamports=1))
    assert refused(node, signed(node, [ix], signers=(BOB,))).code == "AccountNotFound"


def test_malformed_wire_is_refused_with_sanitize_failure(node):
    env = signed(node, [pay(RENT_MIN)])
    assert refused(node, env + b"\x00").code == "SanitizeFailure"
    assert refused(node, env[:-3]).code == "SanitizeFailure"
    big = Instruction(Pubkey(MEMO_PROGRAM), b"x" * PACKET_DATA_SIZE, [])
    assert refused(node, signed(node, [big])).code == "SanitizeFailure"


def test_wire_codec_round_trips_what_solders_writes(node):
    ix = pay(7)
    for v0 in (False, True):
        raw = signed(node, [ix], v0=v0)[1:]
        tx = parse_wire(raw)
        assert encode_message(tx.message) == tx.message.raw
        assert tx.message.is_writable(0) and tx.message.is_writable(1) and not tx.message.is_writable(2)


# -- ACE: the ACE program and 0x21 calls -------------------------------------------------------------
ACE_KEY = SigningKey(bytes(range(50, 82)))


@pytest.fixture
def ace_node(node):
    """The node, with ACE_ID holding an Ed25519 factor and 5 SOL."""
    from chain import auth
    from chain.ledger import credit
    from engines.native import tx as ntx

    state = State(node.entries)
    auth.put_factors(state, ACE_ID, [(ntx.ED25519, bytes(ACE_KEY.verify_key))])
    credit(state, NATIVE_MINT, ACE_ID, FUNDS)
    node.entries.update({k: v for k, v in state.block_diff().items() if v is not None})
    return node


def ace_call(node, instructions, key=ACE_KEY, chain_id=CHAIN_ID, extra=()) -> bytes:
    from chain.auth import ed25519_credential
    from engines.svm.ace import ace_digest, ace_unsigned

    payer = Pubkey(vm_address(ACE_ID, "svm"))
    message = bytes(Message.new_with_blockhash(instructions, payer, blockhash(node)))
    unsigned = ace_unsigned(chain_id, ACE_ID, message)
    return unsigned + ed25519_credential(ace_digest(unsigned), key) + b"".join(bytes(k.sign_message(message)) for k in extra)


def test_ace_call_moves_lamports_with_the_identitys_credential(ace_node):
    node = ace_node
    payer = Pubkey(vm_address(ACE_ID, "svm"))
    env = ace_call(node, [transfer(TransferParams(from_pubkey=payer, to_pubkey=BOB.pubkey(), lamports=10**9))])
    (e,) = run(node, env)
    assert e.receipt.success, e.receipt.message
    assert lamports(node, BOB.pubkey()) == 10**9
    assert balance(State(node.entries), NATIVE_MINT, ACE_ID) == FUNDS - 10**9 - 5_000
    assert refused(node, env).code == "AlreadyProcessed"


def test_ace_call_with_another_signer_needs_its_ed25519_signature(ace_node):
    node = ace_node
    payer = Pubkey(vm_address(ACE_ID, "svm"))
    new = Keypair.from_seed(bytes(range(7, 39)))
    params = CreateAccountParams(from_pubkey=payer, to_pubkey=new.pubkey(), lamports=RENT_MIN, space=0, owner=Pubkey.default())
    ix = create_account(params)
    (e,) = run(node, ace_call(node, [ix], extra=(new,)))
    assert e.receipt.success, e.receipt.message
    assert lamports(node, new.pubkey()) == RENT_MIN
    bad = ace_call(node, [ix], extra=(BOB,))  # signed by the wrong key
    assert refused(node, bad).code == "SignatureFailure"


def test_ace_call_refusals(ace_node):
    node = ace_node
    payer = Pubkey(vm_address(ACE_ID, "svm"))
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=BOB.pubkey(), lamports=10**9))
    assert refused(node, ace_call(node, [ix], chain_id=1)).code == "wrong_chain"
    assert refused(node, ace_call(node, [ix], key=SigningKey(bytes(32)))).code == "unknown_key"
    env = bytearray(ace_call(node, [ix]))
    env[-1] ^= 1
    assert refused(node, bytes(env)).code == "SignatureFailure"
    other = pay(10**9)  # fee payer ALICE, not the signer's own SVM address
    from chain.auth import ed25519_credential
    from engines.svm.ace import ace_digest, ace_unsigned

    unsigned = ace_unsigned(CHAIN_ID, ACE_ID, bytes(Message.new_with_blockhash([other], ALICE.pubkey(), blockhash(node))))
    assert refused(node, unsigned + ed25519_credential(ace_digest(unsigned), ACE_KEY)).code == "SanitizeFailure"


def test_ace_program_attest_and_id_com(ace_node):
    from chain.auth import attestation_credential, ed25519_credential
    from engines.svm.programs import ACE_PROGRAM

    node = ace_node
    digest = bytes(range(200, 232))
    program = Pubkey(ACE_PROGRAM)

    def attest(cred: bytes) -> Instruction:
        return Instruction(program, b"\x00" + ACE_ID + digest + cred, [])

    (e,) = run(node, signed(node, [attest(ed25519_credential(digest, ACE_KEY))]))
    assert e.receipt.success, e.receipt.message
    (e,) = run(node, signed(node, [attest(ed25519_credential(digest, SigningKey(bytes(32))))]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 1}]}
    (e,) = run(node, signed(node, [attest(attestation_credential(digest, bytes(32)))]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 2}]}
    (e,) = run(node, signed(node, [Instruction(program, b"\x01", [AccountMeta(ALICE.pubkey(), False, False)])]))
    alice_id = legacy_id_com("svm", bytes(ALICE.pubkey()))
    assert e.receipt.success and e.receipt.output and SvmOutput.decode(e.receipt.output).return_data == (ACE_PROGRAM, alice_id)
    assert any(line.decode().startswith(f"Program return: {program} ") for line in e.receipt.logs)
    (e,) = run(node, signed(node, [Instruction(program, b"\x01", [AccountMeta(BOB.pubkey(), False, False)])]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, {"Custom": 3}]}
    (e,) = run(node, signed(node, [Instruction(program, b"\x02", [])]))
    assert err_of(e.receipt.code) == {"InstructionError": [0, "InvalidInstructionData"]}
    assert "not built yet" in e.receipt.message
