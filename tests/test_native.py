"""The native runtime: accounts, credentials, the ledger, and everything refused (SPEC §1, §3, §4)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from chain.accounts import derived_addresses, lookup
from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import parse
from chain.identity import id_com, legacy_id_com
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, allowance, balance, get_mint
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.native import make_engine
from engines.native import tx as t
from engines.native.client import AceSigner
from engines.native.engine import NATIVE_FEE, user_mint_id

CHAIN_ID = 7231053
REV_A, REV_B = b"\x11" * 32, bytes(range(32))
FUNDS = 10**12


def ref(id_com_: bytes) -> t.Ref:
    return t.Ref(t.REF_ID_COM, id_com_)


@pytest.fixture
def node(tmp_path):
    validator = SigningKey(bytes(range(1, 33)))
    reg = Registry()
    reg.register(make_engine(validator, tmp_path))
    chain = Chain(MemoryStore(), reg, validator)
    gen = parse(
        {
            "chain_id": CHAIN_ID,
            "alloc": [
                {"id_com": "0x" + id_com(REV_A).hex(), "balance": str(FUNDS)},
                {"id_com": "0x" + id_com(REV_B).hex(), "balance": str(FUNDS)},
            ],
        }
    )
    chain.create_genesis(gen.populate, 0)
    chain.validator_key = validator
    return chain


def account(node, rev: bytes) -> AceSigner:
    """An ACE identity whose account exists (created in a block of its own)."""
    s = AceSigner(rev, CHAIN_ID)
    run(node, s.create_account())
    return s


@pytest.fixture
def a(node):
    return account(node, REV_A)


@pytest.fixture
def b(node):
    return account(node, REV_B)


def run(node, *envelopes):
    for e in envelopes:
        node.admit(e)
    return node.produce(1000).txs


def bal(node, who, mint=NATIVE_MINT):
    return balance(State(node.entries), mint, who)


def refused(node, envelope) -> str:
    before = dict(node.entries)
    with pytest.raises(AdmissionError) as e:
        node.admit(envelope)
    assert node.entries == before and node.store.mempool == {}
    return e.value.code


def test_create_account_binds_the_four_addresses(node, a):
    s = State(node.entries)
    for tag, address in derived_addresses(a.id_com).items():
        assert lookup(s, tag, address) == a.id_com
    assert refused(node, a.create_account()) == "account_exists"


def test_transfer_to_an_id_com_charges_the_fee_to_the_collector(node, a, b):
    (e,) = run(node, a.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=ref(b.id_com), amount=123))
    assert e.receipt.success and e.receipt.fee == NATIVE_FEE
    assert bal(node, a.id_com) == FUNDS - 123 - NATIVE_FEE
    assert bal(node, b.id_com) == FUNDS + 123
    assert bal(node, FEE_COLLECTOR) == NATIVE_FEE


def test_transfer_to_any_vm_address_resolves_through_the_reverse_index(node, a, b):
    to_b_svm = t.Ref(t.REF_SVM, derived_addresses(b.id_com)["svm"])
    metamask = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    txs = run(
        node,
        a.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=to_b_svm, amount=5),
        a.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, metamask), amount=7),
    )
    assert all(e.receipt.success for e in txs)
    assert bal(node, b.id_com) == FUNDS + 5
    wallet = legacy_id_com("evm", metamask)
    assert bal(node, wallet) == 7
    s = State(node.entries)
    assert lookup(s, "evm", metamask) == wallet  # bound on first receipt
    assert lookup(s, "svm", derived_addresses(wallet)["svm"]) == wallet  # with its other VMs' addresses


def test_replayed_mis_signed_wrong_chain_and_unfunded_transactions_are_refused(node, a, b):
    ok = a.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)
    run(node, ok)
    assert refused(node, ok) == "nonce_too_low"  # a replay
    tampered = bytearray(a.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=ref(b.id_com), amount=1))
    tampered[-1] ^= 1
    assert refused(node, bytes(tampered)) == "bad_signature"
    other_chain = AceSigner(REV_A, CHAIN_ID + 1)
    other_chain.id_com = a.id_com
    assert refused(node, other_chain.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)) == "wrong_chain"
    stranger = AceSigner(b"\x99" * 32, CHAIN_ID)
    assert refused(node, stranger.envelope(t.TRANSFER, 0, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)) == "no_account"
    assert refused(node, a.envelope(t.TRANSFER, 2, scheme=t.SECP256K1, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)) == (
        "unknown_key"
    )
    assert refused(node, a.envelope(t.TRANSFER, 5000, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)) == "nonce_too_high"
    assert refused(node, b"\x01" + b"\x00" * 10) == "malformed"
    assert refused(node, b"\x09" + b"\x00" * 60) == "unassigned_opcode"


def test_an_account_that_cannot_pay_the_fee_is_refused(node):
    poor = AceSigner(b"\x42" * 32, CHAIN_ID)
    run(node, poor.create_account())  # creating an account is free
    assert refused(node, poor.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=ref(poor.id_com), amount=0)) == "insufficient_fee"


def test_underfunded_and_overflowing_transactions_fail_and_change_only_the_fee(node, a, b):
    run(node, a.envelope(t.CREATE_MINT, 1, decimals=6, symbol="USD", name="dollar"))
    mint = user_mint_id(a.id_com, 1)
    before = dict(node.entries)
    txs = run(
        node,
        a.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=ref(b.id_com), amount=FUNDS * 2),
        a.envelope(t.MINT_TO, 3, mint=mint, to=ref(b.id_com), amount=2**64 - 1),
        a.envelope(t.MINT_TO, 4, mint=mint, to=ref(b.id_com), amount=1),
    )
    assert [e.receipt.code for e in txs] == ["insufficient_funds", "", "overflow"]
    assert bal(node, b.id_com, mint) == 2**64 - 1 and get_mint(State(node.entries), mint).supply == 2**64 - 1
    for e in (txs[0], txs[2]):
        changed = {k for k, _, _ in e.diff}
        assert len(changed) == 3  # the signer's balance, the collector's balance, the nonce
    assert bal(node, a.id_com) == balance(State(before), NATIVE_MINT, a.id_com) - 3 * NATIVE_FEE


def test_mints_approve_and_transfer_from(node, a, b):
    run(node, a.envelope(t.CREATE_MINT, 1, decimals=2, symbol="GLD", name="gold"))
    mint = user_mint_id(a.id_com, 1)
    txs = run(
        node,
        a.envelope(t.MINT_TO, 2, mint=mint, to=ref(a.id_com), amount=1000),
        a.envelope(t.APPROVE, 3, mint=mint, spender=ref(b.id_com), amount=300),
        b.envelope(t.TRANSFER_FROM, 1, mint=mint, owner=ref(a.id_com), to=ref(b.id_com), amount=200),
        b.envelope(t.TRANSFER_FROM, 2, mint=mint, owner=ref(a.id_com), to=ref(b.id_com), amount=200),
        b.envelope(t.MINT_TO, 3, mint=mint, to=ref(b.id_com), amount=1),
        a.envelope(t.BURN, 4, mint=mint, amount=50),
    )
    assert [e.receipt.code for e in txs] == ["", "", "", "insufficient_allowance", "not_authority", ""]
    s = State(node.entries)
    assert balance(s, mint, a.id_com) == 750 and balance(s, mint, b.id_com) == 200
    assert allowance(s, mint, a.id_com, b.id_com) == 100
    assert get_mint(s, mint).supply == 950 and get_mint(s, mint).symbol == "GLD"


def test_secp256k1_factor_and_key_rotation(node, a, b):
    run(node, a.add_secp256k1_factor(1))
    (e,) = run(node, a.envelope(t.TRANSFER, 2, scheme=t.SECP256K1, mint=NATIVE_MINT, to=ref(b.id_com), amount=9))
    assert e.receipt.success
    # remove the Ed25519 key: it no longer signs
    run(node, a.envelope(t.AUTH_KEY, 3, scheme=t.SECP256K1, action=t.REMOVE, old=a.ed25519_factor_id()))
    assert refused(node, a.envelope(t.TRANSFER, 4, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)) == "unknown_key"
    (last,) = run(node, a.envelope(t.AUTH_KEY, 4, scheme=t.SECP256K1, action=t.REMOVE, old=b"\x00" * 32))
    assert last.receipt.code == "unknown_factor"


def test_a_key_removed_after_admission_no_longer_signs_in_the_same_block(node, a, b):
    """Both admitted against the same state; the removal runs first, so the transfer's key is gone."""
    run(node, a.add_secp256k1_factor(1))
    removal = a.envelope(t.AUTH_KEY, 2, scheme=t.SECP256K1, action=t.REMOVE, old=a.ed25519_factor_id())
    transfer = a.envelope(t.TRANSFER, 3, mint=NATIVE_MINT, to=ref(b.id_com), amount=9)
    before = bal(node, b.id_com)
    removed, sent = run(node, removal, transfer)
    assert removed.receipt.success
    assert not sent.receipt.success and sent.receipt.code == "unknown_key"
    assert bal(node, b.id_com) == before


def test_attestation_credential_through_a_sealed_key(node, a, b):
    run(node, a.add_attestation_factor(1, node.validator_key.verify_key))
    (e,) = run(node, a.envelope(t.TRANSFER, 2, scheme=t.ATTESTATION, mint=NATIVE_MINT, to=ref(b.id_com), amount=4))
    assert e.receipt.success and bal(node, b.id_com) == FUNDS + 4
    forged = AceSigner(b"\x77" * 32, CHAIN_ID)  # a different stream-8 key
    env = t.attest(
        t.unsigned(t.TRANSFER, CHAIN_ID, a.id_com, 3, t.encode_payload(t.TRANSFER, mint=NATIVE_MINT, to=ref(b.id_com), amount=1)),
        forged.keys.attestation_key,
    )
    assert refused(node, env) == "bad_signature"
    key = a.keys.attestation_key
    assert not any(key in v for v in node.entries.values())
    assert not any(key in b_.header.encode() or any(key in x.tx.envelope for x in b_.txs) for b_ in node.store.blocks)


def test_the_context_tag_is_carried_and_recorded(node, a, b):
    ctx = bytes(range(16))
    (e,) = run(node, a.envelope(t.TRANSFER, 1, context=ctx, mint=NATIVE_MINT, to=ref(b.id_com), amount=1))
    assert e.tx.context == ctx and e.receipt.success


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["transfer", "approve", "transfer_from"]), st.booleans(), st.integers(0, 3 * 10**12)),
        max_size=25,
    )
)
def test_total_supply_is_conserved_by_any_sequence(tmp_path_factory, ops):
    validator = SigningKey(bytes(range(1, 33)))
    reg = Registry()
    reg.register(make_engine(validator, tmp_path_factory.mktemp("h")))
    node = Chain(MemoryStore(), reg, validator)
    gen = parse({"alloc": [{"id_com": "0x" + id_com(r).hex(), "balance": str(FUNDS)} for r in (REV_A, REV_B)]})
    node.create_genesis(gen.populate, 0)
    signers = [AceSigner(REV_A, CHAIN_ID), AceSigner(REV_B, CHAIN_ID)]
    nonces = [1, 1]
    run(node, *(s.create_account() for s in signers))
    for op, flip, amount in ops:
        i = int(flip)
        me, other = signers[i], signers[1 - i]
        if op == "transfer":
            env = me.envelope(t.TRANSFER, nonces[i], mint=NATIVE_MINT, to=ref(other.id_com), amount=amount)
        elif op == "approve":
            env = me.envelope(t.APPROVE, nonces[i], mint=NATIVE_MINT, spender=ref(other.id_com), amount=amount)
        else:
            env = me.envelope(
                t.TRANSFER_FROM, nonces[i], mint=NATIVE_MINT, owner=ref(other.id_com), to=ref(me.id_com), amount=amount
            )
        try:
            node.admit(env)
            nonces[i] += 1
        except AdmissionError:
            pass
        if len(node.store.mempool) > 3:
            node.produce(100)
    node.produce(1000)
    s = State(node.entries)
    holders = [signers[0].id_com, signers[1].id_com, FEE_COLLECTOR]
    assert sum(balance(s, NATIVE_MINT, h) for h in holders) == get_mint(s, NATIVE_MINT).supply == 2 * FUNDS


@pytest.fixture
def c(node):
    return account(node, b"\x33" * 32)


def test_a_multisig_identity_receives_creates_its_account_and_spends_with_a_threshold(node, a, b, c):
    from chain.identity import multisig_id_com
    from engines.native.client import multisig_envelope

    members = [a.id_com, b.id_com, c.id_com]
    ms = multisig_id_com(2, members)

    def ms_env(signers, opcode, nonce, **payload):
        return multisig_envelope(CHAIN_ID, 2, members, signers, opcode, nonce, **payload)

    run(node, a.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=ref(ms), amount=50_000))
    assert bal(node, ms) == 50_000
    factor = t.multisig_factor(2, members)
    # its terms must hash to its id_com, and a threshold of members must consent
    assert refused(node, ms_env([a], t.CREATE_ACCOUNT, 0, factor=factor)) == "too_few_signatures"
    wrong_terms = multisig_envelope(CHAIN_ID, 2, members, [a, c], t.CREATE_ACCOUNT, 0, factor=t.multisig_factor(1, members))
    assert refused(node, wrong_terms) == "bad_factor"
    (created,) = run(node, ms_env([a, c], t.CREATE_ACCOUNT, 0, factor=factor))
    assert created.receipt.success
    (spent,) = run(node, ms_env([a, b], t.TRANSFER, 1, mint=NATIVE_MINT, to=ref(c.id_com), amount=7))
    assert spent.receipt.success and bal(node, ms) == 50_000 - 7 - NATIVE_FEE
    assert refused(node, ms_env([b], t.TRANSFER, 2, mint=NATIVE_MINT, to=ref(c.id_com), amount=1)) == "too_few_signatures"
    outsider = AceSigner(b"\x44" * 32, CHAIN_ID)
    run(node, outsider.create_account())
    forged = multisig_envelope(
        CHAIN_ID, 2, [*members, outsider.id_com], [a, outsider], t.TRANSFER, 2, mint=NATIVE_MINT, to=ref(c.id_com), amount=1
    )
    forged = forged[:9] + ms + forged[41:]  # claim to be the real multisig
    assert refused(node, forged) in ("bad_signature", "unknown_key")
    single = AceSigner(REV_A, CHAIN_ID)
    single.id_com = ms
    assert refused(node, single.envelope(t.TRANSFER, 2, mint=NATIVE_MINT, to=ref(c.id_com), amount=1)) == "unknown_key"
    (fixed,) = run(node, ms_env([b, c], t.AUTH_KEY, 2, action=t.ADD, factor=t.Factor(t.ED25519, a.keys.ed25519_public)))
    assert fixed.receipt.code == "multisig_fixed"


def test_a_tampered_member_signature_is_refused(node, a, b, c):
    from chain.identity import multisig_id_com
    from engines.native.client import multisig_envelope

    members = [a.id_com, b.id_com, c.id_com]
    ms = multisig_id_com(2, members)
    run(node, a.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=ref(ms), amount=50_000))
    env = bytearray(multisig_envelope(CHAIN_ID, 2, members, [a, b], t.CREATE_ACCOUNT, 0, factor=t.multisig_factor(2, members)))
    env[-1] ^= 1
    assert refused(node, bytes(env)) == "bad_signature"
