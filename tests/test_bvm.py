"""The BVM engine: Bitcoin transactions built and signed by bitcoin-utils (a peer we did not write) spending
account coins over the shared ledger — P2PKH, P2WPKH, P2WSH 2-of-3, P2TR key path, a CLTV lock — and
refused with Bitcoin Core's reasons when they should be."""

from __future__ import annotations

import hashlib

import pytest
from bitcoinutils.constants import TYPE_ABSOLUTE_TIMELOCK
from bitcoinutils.keys import P2wshAddress, PrivateKey
from bitcoinutils.script import Script
from bitcoinutils.setup import setup as btc_setup
from bitcoinutils.transactions import Locktime, Sequence, Transaction, TxInput, TxOutput, TxWitnessInput
from bitcoinutils.utils import ControlBlock
from nacl.signing import SigningKey

from chain.accounts import index_bytes
from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import parse
from chain.identity import legacy_id_com, vm_address
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, balance, wei_balance
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.bvm import make_engine
from engines.bvm.coins import coin_of
from engines.bvm.engine import decode_output
from engines.evm import make_engine as evm_engine
from engines.native import make_engine as native_engine

CHAIN_ID = 7231053
SAT = 10  # base units
ALICE_EVM = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
btc_setup("regtest")
KEYS = [PrivateKey(secret_exponent=n) for n in (11, 12, 13, 14)]
P2PKH, P2WPKH, P2TR = (
    KEYS[0].get_public_key().get_address(),
    KEYS[1].get_public_key().get_segwit_address(),
    KEYS[2].get_public_key().get_taproot_address(),
)
MULTISIG = Script(["OP_2", *(k.get_public_key().to_hex() for k in KEYS[:3]), "OP_3", "OP_CHECKMULTISIG"])
P2WSH = P2wshAddress.from_script(MULTISIG)
FUNDS = 10**8  # 1 BTC, in sats
PREIMAGE = b"n-VM hash lock"
HASH_LOCK = Script(["OP_SHA256", hashlib.sha256(PREIMAGE).hexdigest(), "OP_EQUAL"])  # anyone with the preimage spends
P2TR_TREE = KEYS[3].get_public_key().get_taproot_address([[HASH_LOCK]])


@pytest.fixture
def node():
    reg = Registry()
    for engine in (native_engine(), evm_engine(), make_engine()):
        reg.register(engine)
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(range(4, 36))))
    wallets = (P2PKH, P2WPKH, P2TR, P2WSH, P2TR_TREE)
    alloc = [{"legacy": "btc", "address": a.to_string(), "balance": str(FUNDS * SAT)} for a in wallets]
    alloc.append({"legacy": "evm", "address": ALICE_EVM, "balance": "0"})
    chain.create_genesis(parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate, 1_700_000_000_000)
    return chain


def who(address) -> bytes:
    return legacy_id_com("btc", bytes.fromhex(address.to_script_pub_key().to_hex()))


def coin(node, address):
    found = coin_of(State(node.entries), who(address))
    assert found is not None
    return found


def pay(node, address, outputs, sign, locktime=None, sequence=None) -> bytes:
    """Spend `address`'s coin to `outputs` [(sats, scriptPubKey Script)]; `sign(tx, coin)` adds the signatures."""
    c = coin(node, address)
    txin = TxInput(c.txid_hex, 0, sequence=sequence.for_input_sequence() if sequence else b"\xff\xff\xff\xff")
    kwargs = {"has_segwit": True} if address is not P2PKH else {}
    if locktime is not None:
        kwargs["locktime"] = locktime.for_transaction()
    tx = Transaction([txin], [TxOutput(v, s) for v, s in outputs], **kwargs)
    sign(tx, c)
    return b"\x30" + bytes.fromhex(tx.serialize())


def run(node, envelope):
    node.admit(envelope)
    (e,) = node.produce(10).txs
    return e


def refused(node, envelope) -> str:
    with pytest.raises(AdmissionError) as e:
        node.admit(envelope)
    return e.value.code


def bob_script() -> Script:
    return PrivateKey(secret_exponent=99).get_public_key().get_segwit_address().to_script_pub_key()


def sign_p2pkh(tx, c):
    tx.inputs[0].script_sig = Script([KEYS[0].sign_input(tx, 0, P2PKH.to_script_pub_key()), KEYS[0].get_public_key().to_hex()])


def sign_p2wpkh(tx, c):
    sig = KEYS[1].sign_segwit_input(tx, 0, KEYS[1].get_public_key().get_address().to_script_pub_key(), c.sats)
    tx.witnesses.append(TxWitnessInput([sig, KEYS[1].get_public_key().to_hex()]))


def sign_p2tr(tx, c):
    sig = KEYS[2].sign_taproot_input(tx, 0, [P2TR.to_script_pub_key()], [c.sats])
    tx.witnesses.append(TxWitnessInput([sig]))


def sign_p2wsh(tx, c):
    sigs = [k.sign_segwit_input(tx, 0, MULTISIG, c.sats) for k in KEYS[:2]]
    tx.witnesses.append(TxWitnessInput(["", *sigs, MULTISIG.to_hex()]))


@pytest.mark.parametrize(
    ("address", "sign"),
    [(P2PKH, sign_p2pkh), (P2WPKH, sign_p2wpkh), (P2TR, sign_p2tr), (P2WSH, sign_p2wsh)],
    ids=["p2pkh", "p2wpkh", "p2tr", "p2wsh-2of3"],
)
def test_a_wallet_spends_its_coin_and_the_outputs_credit_identities(node, address, sign):
    old = coin(node, address)
    assert old.sats == FUNDS
    env = pay(node, address, [(30_000_000, bob_script()), (69_990_000, address.to_script_pub_key())], sign)
    e = run(node, env)
    assert e.receipt.success, e.receipt.message
    assert e.receipt.fee == 10_000 * SAT
    s = State(node.entries)
    bob = legacy_id_com("btc", bytes.fromhex(bob_script().to_hex()))
    assert balance(s, NATIVE_MINT, bob) == 30_000_000 * SAT
    assert balance(s, NATIVE_MINT, who(address)) == 69_990_000 * SAT  # its change
    assert balance(s, NATIVE_MINT, FEE_COLLECTOR) == 10_000 * SAT
    new = coin(node, address)
    assert new.txid != old.txid and new.sats == 69_990_000  # a new coin
    spent, paid = decode_output(e.receipt.output)
    assert spent == [(who(address), old.version, FUNDS, bytes.fromhex(address.to_script_pub_key().to_hex()))]
    assert paid == [bob, who(address)]
    assert e.tx.ids[0] == bytes.fromhex(Transaction.from_raw(env[1:].hex()).get_txid())  # the txid as Bitcoin shows it
    assert refused(node, env) == "bad-txns-inputs-missingorspent"  # the coin is spent


def test_a_bitcoin_wallet_pays_an_evm_users_derived_address_in_wei(node):
    alice = legacy_id_com("evm", bytes.fromhex(ALICE_EVM[2:]))
    to = Script.from_raw(index_bytes("btc", vm_address(alice, "btc")).hex())  # Alice's BTC address: a P2TR output
    before = wei_balance(State(node.entries), alice)
    e = run(node, pay(node, P2WPKH, [(12_345_678, to)], sign_p2wpkh))
    assert e.receipt.success, e.receipt.message
    assert wei_balance(State(node.entries), alice) - before == 12_345_678 * 10**10  # sats × 10^10 wei


def test_refusals_with_core_reasons_write_nothing(node):
    good = pay(node, P2WPKH, [(50_000_000, bob_script())], sign_p2wpkh)
    before = dict(node.entries)
    forged = bytearray(good)
    forged[-40] ^= 1  # inside the witness signature
    assert refused(node, bytes(forged)).startswith("mandatory-script-verify-flag-failed")
    assert refused(node, pay(node, P2WPKH, [(FUNDS + 1, bob_script())], sign_p2wpkh)) == "bad-txns-in-belowout"
    assert refused(node, pay(node, P2WPKH, [(FUNDS, bob_script())], sign_p2wpkh)) == "min relay fee not met"
    assert refused(node, pay(node, P2WPKH, [(100, bob_script())], sign_p2wpkh)) == "dust"
    assert refused(node, b"\x30" + bytes.fromhex("deadbeef")) == "tx-decode"
    assert node.entries == before and node.store.pending(10) == []


def test_a_cltv_locked_output_is_refused_too_early_and_spent_in_time(node):
    key = KEYS[3]
    unlock_at = 3
    locked = Script([unlock_at, "OP_CHECKLOCKTIMEVERIFY", "OP_DROP", key.get_public_key().to_hex(), "OP_CHECKSIG"])
    locked_address = P2wshAddress.from_script(locked)
    e = run(node, pay(node, P2WPKH, [(40_000_000, locked_address.to_script_pub_key())], sign_p2wpkh))
    assert e.receipt.success, e.receipt.message

    def spend() -> bytes:
        lock = Sequence(TYPE_ABSOLUTE_TIMELOCK, unlock_at)  # nSequence 0xfffffffe: nLockTime counts

        def sign(tx, c):
            sig = key.sign_segwit_input(tx, 0, locked, c.sats)
            tx.witnesses.append(TxWitnessInput([sig, locked.to_hex()]))

        return pay(node, locked_address, [(39_990_000, bob_script())], sign, locktime=Locktime(unlock_at), sequence=lock)

    assert node.head.height == 1
    assert refused(node, spend()) == "non-final"  # the next block is 2: nLockTime 3 is final from block 4 on
    node.produce(10)
    assert refused(node, spend()) == "non-final"  # still: block 3
    node.produce(10)
    e = run(node, spend())  # block 4
    assert e.receipt.success, e.receipt.message


def test_a_taproot_script_path_hash_lock(node):
    """The script path of a P2TR output whose one leaf is a hash lock: the preimage, the leaf, the control block."""
    control = ControlBlock(KEYS[3].get_public_key(), [[HASH_LOCK]], 0, is_odd=P2TR_TREE.is_odd())

    def reveal(preimage: bytes):
        def sign(tx, c):
            tx.witnesses.append(TxWitnessInput([preimage.hex(), HASH_LOCK.to_hex(), control.to_hex()]))

        return sign

    wrong = pay(node, P2TR_TREE, [(FUNDS - 10_000, bob_script())], reveal(b"not it"))
    assert refused(node, wrong) == "mandatory-script-verify-flag-failed"  # EVAL_FALSE: the leaf says no
    e = run(node, pay(node, P2TR_TREE, [(FUNDS - 10_000, bob_script())], reveal(PREIMAGE)))
    assert e.receipt.success, e.receipt.message
    assert coin_of(State(node.entries), who(P2TR_TREE)) is None  # spent whole


# -- 0x31: an ACE identity spends its coin with its native credential ---------------------------------
ACE_ID = bytes(range(150, 182))
ACE_KEY = SigningKey(bytes(range(60, 92)))


@pytest.fixture
def ace_node(node):
    from chain import auth
    from chain.ledger import credit
    from engines.native import tx as ntx

    state = State(node.entries)
    auth.put_factors(state, ACE_ID, [(ntx.ED25519, bytes(ACE_KEY.verify_key))])
    credit(state, NATIVE_MINT, ACE_ID, FUNDS * SAT)
    node.entries.update({k: v for k, v in state.block_diff().items() if v is not None})
    return node


def ace_spend(node, outputs, key=ACE_KEY, chain_id=CHAIN_ID) -> bytes:
    from chain.auth import ed25519_credential
    from engines.bvm.engine import ace_digest, ace_unsigned

    c = coin_of(State(node.entries), ACE_ID)
    assert c is not None
    tx = Transaction([TxInput(c.txid_hex, 0)], [TxOutput(v, s) for v, s in outputs])
    unsigned = ace_unsigned(chain_id, ACE_ID, bytes.fromhex(tx.serialize()))
    return unsigned + ed25519_credential(ace_digest(unsigned), key)


def test_an_ace_identity_spends_its_coin_with_its_credential(ace_node):
    node = ace_node
    env = ace_spend(node, [(25_000_000, bob_script()), (74_990_000, P2WPKH.to_script_pub_key())])
    e = run(node, env)
    assert e.receipt.success, e.receipt.message
    s = State(node.entries)
    assert balance(s, NATIVE_MINT, ACE_ID) == 0 and balance(s, NATIVE_MINT, who(P2WPKH)) == (FUNDS + 74_990_000) * SAT
    assert refused(node, env) == "bad-txns-inputs-missingorspent"  # its coin is spent: no replay


def test_ace_spend_refusals(ace_node):
    node = ace_node
    outputs = [(99_990_000, bob_script())]
    assert refused(node, ace_spend(node, outputs, chain_id=1)) == "wrong_chain"
    assert refused(node, ace_spend(node, outputs, key=SigningKey(bytes(32)))) == "unknown_key"
    forged = bytearray(ace_spend(node, outputs))
    forged[-1] ^= 1
    assert refused(node, bytes(forged)) == "bad_signature"
    assert refused(node, ace_spend(node, [(FUNDS, bob_script())])) == "min relay fee not met"


def test_independent_spends_share_a_batch_and_give_the_sequential_block():
    def chain(strategy: str) -> Chain:
        reg = Registry()
        for engine in (native_engine(), evm_engine(), make_engine()):
            reg.register(engine)
        made = Chain(MemoryStore(), reg, SigningKey(bytes(range(4, 36))), strategy)
        alloc = [{"legacy": "btc", "address": a.to_string(), "balance": str(FUNDS * SAT)} for a in (P2WPKH, P2TR)]
        made.create_genesis(parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate, 1_700_000_000_000)
        return made

    seq, batched = chain("sequential"), chain("batched")
    spends = [
        pay(seq, P2WPKH, [(10_000_000, bob_script()), (89_990_000, P2WPKH.to_script_pub_key())], sign_p2wpkh),
        pay(seq, P2TR, [(20_000_000, P2WSH.to_script_pub_key())], sign_p2tr),
    ]
    blocks = []
    for c in (seq, batched):
        for env in spends:
            c.admit(env)
        blocks.append(c.produce(10, timestamp_ms=1_700_000_001_000))
    assert all(e.receipt.success for b in blocks for e in b.txs)
    assert blocks[0].header.state_root == blocks[1].header.state_root
    assert [e.receipt_bytes for e in blocks[0].txs] == [e.receipt_bytes for e in blocks[1].txs]
    assert blocks[1].schedule["batches"] == [2] and "fallback" not in blocks[1].schedule


def test_a_second_spend_of_a_waiting_coin_is_a_mempool_conflict(node):
    first = pay(node, P2WPKH, [(10_000_000, bob_script()), (89_990_000, P2WPKH.to_script_pub_key())], sign_p2wpkh)
    second = pay(node, P2WPKH, [(20_000_000, bob_script()), (79_990_000, P2WPKH.to_script_pub_key())], sign_p2wpkh)
    node.admit(first)
    assert refused(node, second) == "txn-mempool-conflict"
    (e,) = node.produce(10).txs
    assert e.tx.envelope == first and e.receipt.success
    assert refused(node, second) == "bad-txns-inputs-missingorspent"  # its coin is spent now
