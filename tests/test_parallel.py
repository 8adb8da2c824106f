"""Parallel block execution (issue 6, first part): the batch and shard schedules give the sequential
result byte for byte — state roots, receipts, per-transaction diffs, notes — on random native, EVM, Solana and
Tron blocks (TRX transfers and contract calls, some reverting) with conflicts, failures, new addresses,
allowances and context tags."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import cache

import coincurve
import hypothesis.strategies as st
import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from nacl.signing import SigningKey
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolTx
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import create_idempotent_associated_token_account, get_associated_token_address, transfer_checked
from spl.token.models import TransferCheckedParams

from chain.address import tron_text
from chain.dispatcher import Access, Registry
from chain.genesis import parse
from chain.hashing import H
from chain.identity import erc20_address, legacy_id_com, vm_address
from chain.ledger import NATIVE_MINT, MintRecord, credit, put_mint
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.parallel import Pool, batch_schedule, run_work, shard_of, shard_schedule
from chain.state import State
from engines.evm import make_engine as evm_engine
from engines.evm.engine import BASE_FEE_WEI
from engines.native import make_engine
from engines.native import tx as t
from engines.native.client import AceSigner
from engines.svm import make_engine as svm_engine
from engines.tvm import make_engine as tvm_engine
from engines.tvm.engine import contract_address_of, tron_block_id
from engines.tvm.proto import field

CHAIN_ID = 7231053
REVS = [H(b"parallel/%d" % i) for i in range(6)]
SIGNERS = [AceSigner(rev, CHAIN_ID) for rev in REVS]
STRANGERS = [bytes([0xAB, i]) * 10 for i in range(4)]  # EVM addresses no one has used yet
CONTEXTS = [bytes([c]) * 16 for c in range(3)]
VALIDATOR = SigningKey(H(b"parallel/validator"))
SOL_KEYS = [Keypair.from_seed(H(b"parallel/sol/%d" % i)) for i in range(4)]
SOL_STRANGERS = [Pubkey(H(b"parallel/sol/stranger/%d" % i)) for i in range(3)]


def k(n: int) -> bytes:
    return bytes([n]) * 32


def A(reads=(), writes=()) -> Access:
    return Access(frozenset(k(x) for x in reads), frozenset(k(x) for x in writes))


def test_batches_keep_conflicting_transactions_in_order():
    accesses = [A(writes=[1]), A(writes=[2]), A(reads=[1], writes=[3]), None, A(writes=[4]), A(reads=[4]), A(writes=[5])]
    assert batch_schedule(accesses) == [[0, 1], [2], [3], [4, 6], [5]]
    assert batch_schedule([A(reads=[1]), A(reads=[1]), A(writes=[1]), A(reads=[1])]) == [[0, 1], [2], [3]]
    assert batch_schedule([]) == []


def test_shards_follow_the_spec_formula_and_crossing_transactions_go_shared():
    assert shard_of(b"", bytes(16), 64) == int.from_bytes(H(b"\x00\x00" + bytes(16))[:8], "big") % 64
    c0, c1 = bytes(16), b"\x01" * 16
    s0, s1 = shard_of(b"nvm/ctx", c0), shard_of(b"nvm/ctx", c1)
    assert s0 != s1
    groups = shard_schedule([A(writes=[1]), A(writes=[2]), A(reads=[1]), A(writes=[3]), A(writes=[9])], [c0, c1, c1, None, c0])
    assert groups[s0] == [0, 4] and groups[s1] == [1] and groups[-1] == [2, 3]
    after_global = shard_schedule([None, A(writes=[7])], [c0, c0])
    assert after_global[-1] == [0, 1]
    reading_alike = shard_schedule([A(reads=[5], writes=[1]), A(reads=[5], writes=[2]), A(writes=[5])], [c0, c1, c0])
    assert reading_alike[s0] == [0] and reading_alike[s1] == [1]  # both read key 5: no conflict
    assert reading_alike[-1] == [2]  # writing what shard s1 read: after the shards


EVM_KEYS = [Account.from_key(H(b"parallel/evm/%d" % i)) for i in range(3)]
TOKEN = erc20_address(NATIVE_MINT)


def registry() -> Registry:
    reg = Registry()
    reg.register(make_engine(VALIDATOR, None))
    reg.register(evm_engine(VALIDATOR, None))
    reg.register(svm_engine(VALIDATOR, None))
    reg.register(tvm_engine(VALIDATOR, None))
    return reg


@cache
def genesis_hash() -> Hash:
    """Every chain here starts from the same genesis: its hash is a valid blockhash for the test's blocks."""
    return Hash(chain_for("sequential").head.hash)


def svm_envelope(who: int, other: int, amount: int, serial: int) -> bytes:
    """A System transfer to another funded wallet or to a stranger (amount 1 to a stranger fails for rent,
    10**13 for funds); `serial` lamports more keep equal transfers distinct."""
    payer = SOL_KEYS[who % len(SOL_KEYS)]
    to = SOL_STRANGERS[other % 3] if other % 2 else SOL_KEYS[other % len(SOL_KEYS)].pubkey()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=amount + serial))
    return b"\x20" + bytes(SolTx([payer], Message([ix], payer.pubkey()), genesis_hash()))


def evm_envelope(who: int, nonce: int, kind: str, other: int, amount: int) -> bytes:
    to = STRANGERS[other % len(STRANGERS)] if other % 2 else bytes.fromhex(EVM_KEYS[other % 3].address[2:])
    tx = {"chainId": CHAIN_ID, "nonce": nonce, "gas": 60_000, "maxFeePerGas": 2 * BASE_FEE_WEI, "maxPriorityFeePerGas": other % 3}
    if kind == "evm_transfer":
        tx.update(to=to, value=min(amount, 10**9) * 10**9)  # admission refuses more than the sender has
    elif kind == "evm_erc20":
        tx.update(to=TOKEN, value=0, data=bytes.fromhex("a9059cbb") + bytes(12) + to + amount.to_bytes(32, "big"))
    else:  # calldata to an account without code: global
        tx.update(to=to, value=0, data=b"\x01\x02")
    return b"\x10" + bytes(EVM_KEYS[who % 3].sign_transaction(tx).raw_transaction)


def byte_pool(workers: int = 2, lose: int | None = None, damage: int | None = None) -> Pool:
    """Work through the bytes a worker would get and give back, run by a registry of its own; part
    `lose` of every dispatch comes back as a dead worker's (None), part `damage` cut short."""
    worker = registry()

    def answer(i: int, part: bytes) -> bytes | None:
        if i == lose:
            return None
        out = run_work(worker, part)
        return out[: len(out) // 2] if i == damage else out

    def send(parts: Iterable[bytes]) -> list[bytes | None]:
        return [answer(i, part) for i, part in enumerate(parts)]

    return Pool(send, workers, min_group=2)


TRON_KEYS = [coincurve.PrivateKey(H(b"parallel/tron/%d" % i)) for i in range(2)]
TRON_STRANGER = b"\x41" + H(b"parallel/tron/stranger")[:20]
# runtime: slot 0 = the calldata word; REVERT when it is 1
TRON_RUNTIME = bytes.fromhex("600035600055600035600114601057005b60006000fd")
TRON_FEE_LIMIT = 10**8  # sun


def tron_address(key: coincurve.PrivateKey) -> bytes:
    from eth_hash.auto import keccak

    return b"\x41" + keccak(key.public_key.format(compressed=False)[1:])[-20:]


def tron_envelope(key: coincurve.PrivateKey, kind: int, name: str, body: bytes, serial: int) -> tuple[bytes, bytes]:
    """A signed 0x40 transaction referring to the genesis block, unique by its memo (`serial`); and its txid."""
    import hashlib

    block_id = tron_block_id(0, bytes(genesis_hash()))
    contract = field(1, kind) + field(2, field(1, f"type.googleapis.com/protocol.{name}".encode()) + field(2, body))
    raw = field(1, block_id[6:8]) + field(4, block_id[8:16]) + field(8, 10**7) + field(10, b"%d" % serial)
    raw += field(11, contract) + field(18, TRON_FEE_LIMIT)
    txid = hashlib.sha256(raw).digest()
    return b"\x40" + field(1, raw) + field(2, key.sign_recoverable(txid, hasher=None)), txid


@cache
def tron_deploy() -> tuple[bytes, bytes]:
    """The setup block's contract deployment (the same bytes for every chain): its envelope and the contract."""
    owner = tron_address(TRON_KEYS[0])
    n = len(TRON_RUNTIME)
    initcode = bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + TRON_RUNTIME
    smart = field(1, owner) + field(4, initcode) + field(6, 100) + field(8, 10**7)
    env, txid = tron_envelope(TRON_KEYS[0], 30, "CreateSmartContract", field(1, owner) + field(2, smart), -1)
    return env, contract_address_of(txid, owner)


def tvm_op(kind: str, who: int, other: int, amount: int, serial: int) -> bytes:
    key = TRON_KEYS[who % 2]
    owner = tron_address(key)
    if kind == "tvm_transfer":
        to = TRON_STRANGER if other % 3 == 2 else tron_address(TRON_KEYS[(who + 1) % 2])
        body = field(1, owner) + field(2, to) + field(3, min(amount, 10**6))  # within what admission lets through
        return tron_envelope(key, 1, "TransferContract", body, serial)[0]
    word = (1 if amount == 1 else amount + serial).to_bytes(32, "big")  # amount 1 makes the call revert
    body = field(1, owner) + field(2, tron_deploy()[1]) + field(4, word)
    return tron_envelope(key, 31, "TriggerSmartContract", body, serial)[0]


SERIALS = itertools.count()
TOKEN_MINT = H(b"parallel/token")  # a ledger mint the Solana wallets hold, moved by SPL TransferChecked


def chain_for(strategy: str, pool: Pool | None = None) -> Chain:
    chain = Chain(MemoryStore(), registry(), VALIDATOR, strategy, pool)
    alloc = [{"id_com": "0x" + s.id_com.hex(), "balance": str(10**12)} for s in SIGNERS]
    alloc += [{"legacy": "evm", "address": a.address, "balance": str(10**12)} for a in EVM_KEYS]
    alloc += [{"legacy": "svm", "address": str(k.pubkey()), "balance": str(10**12)} for k in SOL_KEYS]
    alloc += [{"legacy": "tron", "address": tron_text(tron_address(k)), "balance": str(10**15)} for k in TRON_KEYS]
    gen = parse({"chain_id": CHAIN_ID, "timestamp_ms": 0, "alloc": alloc})

    def populate(state: State) -> None:
        gen.populate(state)
        put_mint(state, TOKEN_MINT, MintRecord(len(SOL_KEYS) * 10**12, 9, bytes(32), "TOK", "token"))
        for key in SOL_KEYS:
            credit(state, TOKEN_MINT, legacy_id_com("svm", bytes(key.pubkey())), 10**12)

    chain.create_genesis(populate, gen.timestamp_ms)
    return chain


def sol_setup() -> list[bytes]:
    """Each Solana wallet creates its token account (the ATA program), so SPL transfers can land."""
    out = []
    for key in SOL_KEYS:
        ix = create_idempotent_associated_token_account(key.pubkey(), key.pubkey(), Pubkey(TOKEN_MINT))
        out.append(b"\x20" + bytes(SolTx([key], Message([ix], key.pubkey()), genesis_hash())))
    return out


def spl_envelope(who: int, other: int, amount: int, serial: int) -> bytes:
    payer, dest = SOL_KEYS[who % len(SOL_KEYS)], SOL_KEYS[other % len(SOL_KEYS)]
    mint = Pubkey(TOKEN_MINT)
    params = TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID,
        source=get_associated_token_address(payer.pubkey(), mint),
        mint=mint,
        dest=get_associated_token_address(dest.pubkey(), mint),
        owner=payer.pubkey(),
        amount=amount + serial,
        decimals=9,
    )
    return b"\x20" + bytes(SolTx([payer], Message([transfer_checked(params)], payer.pubkey()), genesis_hash()))


def make_ref(choice: int, who: int) -> t.Ref:
    if choice == 0:
        return t.Ref(t.REF_ID_COM, SIGNERS[who].id_com)
    if choice == 1:
        return t.Ref(t.REF_EVM, vm_address(SIGNERS[who].id_com, "evm"))
    return t.Ref(t.REF_EVM, STRANGERS[who % len(STRANGERS)])


op = st.tuples(
    st.sampled_from(
        [
            "transfer",
            "transfer",
            "approve",
            "transfer_from",
            "bad_nonce",
            "evm_transfer",
            "evm_erc20",
            "evm_call",
            "svm_transfer",
            "spl_transfer",
            "tvm_transfer",
            "tvm_call",
        ]
    ),
    st.integers(0, len(SIGNERS) - 1),  # signer
    st.integers(0, 2),  # reference kind: id_com, derived EVM address, a stranger's address
    st.integers(0, len(SIGNERS) - 1),  # the other party
    st.sampled_from([1, 10**9, 10**13]),  # amount: small, 1 NVM, more than anyone has
    st.sampled_from([None, *CONTEXTS]),
)


def envelopes(ops, nonces: list[int], evm_nonces: list[int] | None = None) -> list[bytes]:
    out = []
    evm_nonces = evm_nonces if evm_nonces is not None else [0, 0, 0]
    for kind, who, ref_kind, other, amount, ctx in ops:
        if kind in ("svm_transfer", "spl_transfer"):
            make = svm_envelope if kind == "svm_transfer" else spl_envelope
            out.append(make(who, other, amount, next(SERIALS)))  # no two Solana transfers alike, across blocks
            continue
        if kind.startswith("tvm"):
            out.append(tvm_op(kind, who, other, amount, next(SERIALS)))
            continue
        if kind.startswith("evm"):
            out.append(evm_envelope(who, evm_nonces[who % 3], kind, other, amount))
            evm_nonces[who % 3] += 1
            continue
        s = SIGNERS[who]
        ref = make_ref(ref_kind, other)
        if kind == "bad_nonce":
            out.append(s.envelope(t.TRANSFER, nonces[who] + 1, context=ctx, mint=NATIVE_MINT, to=ref, amount=amount))
            continue  # fails at execution (or runs later, if the skipped nonce is filled in first)
        if kind == "transfer":
            env = s.envelope(t.TRANSFER, nonces[who], context=ctx, mint=NATIVE_MINT, to=ref, amount=amount)
        elif kind == "approve":
            env = s.envelope(t.APPROVE, nonces[who], context=ctx, mint=NATIVE_MINT, spender=ref, amount=amount)
        else:
            owner = t.Ref(t.REF_ID_COM, SIGNERS[other].id_com)
            env = s.envelope(t.TRANSFER_FROM, nonces[who], context=ctx, mint=NATIVE_MINT, owner=owner, to=ref, amount=amount)
        nonces[who] += 1
        out.append(env)
    return out


def run(strategy: str, blocks: list[list[bytes]], pool: Pool | None = None) -> tuple[list, Chain]:
    chain = chain_for(strategy, pool)
    made = []
    for i, block in enumerate(blocks):
        for env in block:
            chain.admit(env)
        made.append(chain.produce(1000, timestamp_ms=1000 * (i + 1)))
    return made, chain


def fingerprint(block):
    return (
        block.header.hash,
        [(e.tx.envelope, e.receipt_bytes, e.diff, e.parties) for e in block.txs],
        block.notes,
        block.state_diff,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(op, min_size=1, max_size=25), min_size=1, max_size=3))
def test_every_strategy_gives_the_sequential_block(blocks_ops):
    nonces = [1] * len(SIGNERS)  # nonce 0 opens each account
    evm_nonces = [0] * len(EVM_KEYS)
    setup = [s.create_account() for s in SIGNERS] + sol_setup() + [tron_deploy()[0]]
    blocks = [setup] + [envelopes(ops, nonces, evm_nonces) for ops in blocks_ops]
    seq, _ = run("sequential", blocks)
    for strategy, pool in (
        ("batched", None),
        ("sharded", None),
        ("batched", byte_pool(2)),
        ("sharded", byte_pool(2)),
        ("batched", byte_pool(3, lose=1)),
    ):
        other, _ = run(strategy, blocks, pool)
        assert [fingerprint(b) for b in other] == [fingerprint(b) for b in seq], (strategy, pool)
        assert all(b.schedule["strategy"] == strategy for b in other)


def test_independent_transfers_run_in_one_batch_without_falling_back():
    chain = chain_for("batched")
    for s in SIGNERS:
        chain.admit(s.create_account())
    chain.produce(100, timestamp_ms=1000)
    for i, s in enumerate(SIGNERS):
        chain.admit(s.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, STRANGERS[0][:19] + bytes([i])), amount=5))
    block = chain.produce(100, timestamp_ms=2000)
    assert all(e.receipt.success for e in block.txs)
    assert block.schedule["batches"] == [len(SIGNERS)] and "fallback" not in block.schedule


def test_a_transaction_outside_its_declared_keys_sends_the_block_back_to_sequential():
    """An address bound by an earlier transaction of the block to another identity than the state before
    the block implies: the declaration is wrong, the block runs sequentially, the result is the same."""
    newcomer = AceSigner(H(b"parallel/newcomer"), CHAIN_ID)  # not in genesis: its addresses are bound when it opens
    address = vm_address(newcomer.id_com, "evm")
    blocks = [
        [s.create_account() for s in SIGNERS],
        [newcomer.create_account(), SIGNERS[0].envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, address), amount=7)],
    ]
    seq, _ = run("sequential", blocks)
    par, _ = run("batched", blocks)
    assert [fingerprint(b) for b in par] == [fingerprint(b) for b in seq]
    assert "fallback" in par[1].schedule, par[1].schedule


@pytest.mark.parametrize("strategy", ["batched", "sharded"])
def test_the_fee_collector_sees_each_fee_in_block_order(strategy):
    blocks = [
        [s.create_account() for s in SIGNERS],
        [s.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=make_ref(0, 0), amount=1) for s in SIGNERS],
    ]
    seq, _ = run("sequential", blocks)
    par, _ = run(strategy, blocks)
    assert [e.diff for e in par[1].txs] == [e.diff for e in seq[1].txs]


def test_work_leaves_the_process_as_bytes_and_a_lost_part_runs_here():
    pool = byte_pool(2, lose=0)
    blocks = [
        [s.create_account() for s in SIGNERS],
        [
            s.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, STRANGERS[0][:19] + bytes([i])), amount=5)
            for i, s in enumerate(SIGNERS)
        ],
    ]
    seq, _ = run("sequential", blocks)
    par, _ = run("batched", blocks, pool)
    assert [fingerprint(b) for b in par] == [fingerprint(b) for b in seq]
    assert par[1].schedule["workers"] == {"pool": 2, "parts_on_workers": 1, "parts_here": 1}


def test_an_answer_that_does_not_read_runs_its_part_here():
    blocks = [
        [s.create_account() for s in SIGNERS],
        [
            s.envelope(t.TRANSFER, 1, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, STRANGERS[1][:19] + bytes([i])), amount=7)
            for i, s in enumerate(SIGNERS)
        ],
    ]
    seq, _ = run("sequential", blocks)
    par, _ = run("batched", blocks, byte_pool(2, damage=1))
    assert [fingerprint(b) for b in par] == [fingerprint(b) for b in seq]
    assert par[1].schedule["workers"] == {"pool": 2, "parts_on_workers": 1, "parts_here": 1}


def test_plain_evm_transfers_and_erc20_view_transfers_run_batched_without_falling_back():
    """Their keys are known before they run: different senders to different recipients share a batch."""
    ops = [("evm_transfer", 0, 0, 3, 5, None), ("evm_erc20", 1, 0, 9, 7, None), ("transfer", 2, 0, 3, 1, None)]  # no tips
    nonces, evm_nonces = [1] * len(SIGNERS), [0] * len(EVM_KEYS)
    # block 1: the accounts, and a first EVM transaction (it makes the coinbase's account, once ever)
    setup = [s.create_account() for s in SIGNERS] + envelopes([("evm_transfer", 2, 0, 1, 1, None)], nonces, evm_nonces)
    blocks = [setup, envelopes(ops, nonces, evm_nonces)]
    seq, _ = run("sequential", blocks)
    par, _ = run("batched", blocks)
    assert [fingerprint(b) for b in par] == [fingerprint(b) for b in seq]
    assert all(e.receipt.success for e in par[1].txs), [e.receipt for e in par[1].txs]
    assert "fallback" not in par[1].schedule, par[1].schedule
    assert par[1].schedule["batches"] == [3]


def token_calls(complete: bool) -> list[list[bytes]]:
    """Two Solidity ERC-20 contracts (tests/data/solidity), then a transfer on each with an EIP-2930 list
    naming the two balance slots it touches — or, with `complete` False, only the sender's."""
    import json
    from pathlib import Path

    import rlp
    from eth_abi import encode
    from eth_utils import keccak, to_checksum_address

    artifact = json.loads((Path(__file__).parent / "data" / "solidity" / "Token.json").read_text())
    init = bytes.fromhex(artifact["bytecode"].removeprefix("0x")) + encode(["string", "string", "uint256"], ["T", "T", 10**24])
    fee = {"maxFeePerGas": 2 * BASE_FEE_WEI, "maxPriorityFeePerGas": 0, "chainId": CHAIN_ID}
    deploys, calls = [], []
    for i, key in enumerate(EVM_KEYS[:2]):
        deploys.append(b"\x10" + bytes(key.sign_transaction({**fee, "nonce": 0, "gas": 2_000_000, "data": init}).raw_transaction))
        token = to_checksum_address(keccak(rlp.encode([bytes.fromhex(key.address[2:]), 0]))[12:])  # CREATE's address
        to = STRANGERS[i]

        def slot(holder: bytes) -> str:
            return "0x" + keccak(bytes(12) + holder + (3).to_bytes(32, "big")).hex()  # balanceOf is slot 3

        sender = bytes.fromhex(key.address[2:])
        slots = [slot(sender), slot(to)] if complete else [slot(sender)]
        data = bytes.fromhex("a9059cbb") + encode(["address", "uint256"], [to_checksum_address(to), 5])
        tx = {**fee, "nonce": 1, "gas": 120_000, "to": token, "data": data, "type": 2}
        tx["accessList"] = [{"address": token, "storageKeys": slots}]
        calls.append(b"\x10" + bytes(key.sign_transaction(tx).raw_transaction))
    return [deploys, calls]


def test_contract_calls_with_complete_access_lists_share_a_batch():
    blocks = token_calls(complete=True)
    seq, _ = run("sequential", blocks)
    par, _ = run("batched", blocks)
    assert [fingerprint(b) for b in par] == [fingerprint(b) for b in seq]
    assert all(e.receipt.success for b in par for e in b.txs), [e.receipt for b in par for e in b.txs]
    assert par[1].schedule["batches"] == [2] and "fallback" not in par[1].schedule, par[1].schedule


def test_an_access_list_that_misses_a_slot_sends_the_block_back_to_sequential():
    blocks = token_calls(complete=False)
    seq, _ = run("sequential", blocks)
    par, _ = run("batched", blocks)
    assert [fingerprint(b) for b in par] == [fingerprint(b) for b in seq]
    assert "fallback" in par[1].schedule, par[1].schedule


def test_independent_solana_transfers_share_a_batch_without_falling_back():
    chain = chain_for("batched")
    for i, key in enumerate(SOL_KEYS):
        to = Pubkey(H(b"parallel/sol/new/%d" % i))
        ix = transfer(TransferParams(from_pubkey=key.pubkey(), to_pubkey=to, lamports=10**9))
        chain.admit(b"\x20" + bytes(SolTx([key], Message([ix], key.pubkey()), Hash(chain.head.hash))))
    block = chain.produce(100, timestamp_ms=1000)
    assert all(e.receipt.success for e in block.txs)
    assert block.schedule["batches"] == [len(SOL_KEYS)] and "fallback" not in block.schedule


def test_independent_spl_transfers_share_a_batch_without_falling_back():
    chain = chain_for("batched")
    for env in sol_setup():
        chain.admit(env)
    chain.produce(100, timestamp_ms=1000)
    n = len(SOL_KEYS)
    for i in range(0, n - 1, 2):  # disjoint pairs: i pays i+1
        chain.admit(spl_envelope(i, i + 1, 10**6, 0))
    block = chain.produce(100, timestamp_ms=2000)
    assert block.txs and all(e.receipt.success for e in block.txs)
    assert block.schedule["batches"] == [len(block.txs)] and "fallback" not in block.schedule


@pytest.mark.parametrize("strategy", ["batched", "sharded"])
def test_tron_contract_calls_and_transfers_run_as_globals_with_the_sequential_result(strategy):
    setup = [s.create_account() for s in SIGNERS] + sol_setup() + [tron_deploy()[0]]
    ops = [("tvm_call", 0, 0, 5), ("tvm_call", 1, 0, 1), ("tvm_transfer", 0, 2, 10**9)]
    block = [tvm_op(k, w, o, a, 100 + i) for i, (k, w, o, a) in enumerate(ops)]
    seq, _ = run("sequential", [setup, block])
    other, _ = run(strategy, [setup, block])
    assert [fingerprint(b) for b in other] == [fingerprint(b) for b in seq]
    assert seq[0].txs[-1].receipt.success  # the deployment
    codes = [e.receipt.code for e in seq[1].txs]
    assert codes == ["", "REVERT", ""]  # a call, a call that reverts (its energy paid), a TRX transfer
