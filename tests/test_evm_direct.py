"""Plain value transfers and ERC-20 view transfers done directly (engines/evm/engine.py `_direct`) against the
same transactions through py-evm: byte-identical receipts, per-transaction diffs, notes and state roots.

Random blocks mix every way such a transaction can go: the three transaction types, gas prices at and
above the base fee, tight and generous gas limits, too little gas, value attached to a view call, other
selectors, malformed arguments, amounts beyond the balance and beyond u64, recipients that are
new, existing, the sender itself, the fee collector, a view and a precompile, and a second mint whose
balance is not the one gas is paid from. Value transfers move nothing, less than a base unit (the wei
dust), whole base units, or more than the sender has; some carry a byte of data.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from chain.dispatcher import Registry
from chain.genesis import parse
from chain.identity import erc20_address, legacy_id_com, vm_address
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, MintRecord, credit, get_mint, put_mint
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm.contracts import GAS_TRANSFER
from engines.evm.engine import BASE_FEE_WEI, EvmEngine
from engines.native import make_engine as native_engine

CHAIN_ID = 7231053
KEYS = [Account.from_key(keccak(b"direct/%d" % i)) for i in range(3)]
GOLD = keccak(b"direct/gold-mint")
VIEWS = [erc20_address(NATIVE_MINT), erc20_address(GOLD)]
TRANSFER = keccak(b"transfer(address,uint256)")[:4]
FUNDS = 10**6  # base units: a few transactions' gas and transfers, so funds run out within some blocks


def chain(direct: bool, fork: str = "shanghai") -> Chain:
    reg = Registry()
    reg.register(native_engine())
    reg.register(EvmEngine(FEE_COLLECTOR, fork=fork, direct=direct))
    c = Chain(MemoryStore(), reg, SigningKey(bytes(range(1, 33))))
    gen = parse(
        {"chain_id": CHAIN_ID, "alloc": [{"legacy": "evm", "address": k.address, "balance": str(FUNDS)} for k in KEYS[:2]]}
    )

    def populate(state: State) -> None:
        gen.populate(state)
        put_mint(state, GOLD, MintRecord(3 * 10**9, 6, bytes(32), "GLD", "Gold"))
        for k in KEYS:
            credit(state, GOLD, legacy_id_com("evm", bytes.fromhex(k.address[2:])), 10**9)

    c.create_genesis(populate, 0)
    return c


RECIPIENTS = st.one_of(
    st.sampled_from([bytes.fromhex(k.address[2:]) for k in KEYS]),
    st.sampled_from([*VIEWS, vm_address(FEE_COLLECTOR, "evm")]),
    st.binary(min_size=20, max_size=20),
)
PRECOMPILES = [bytes(19) + bytes([n]) for n in (1, 2, 4, 9, 10)]
WEI = st.sampled_from([0, 1, 5 * 10**8, 10**9, 10**9 + 7, 10**12, 10**15, 2**70])
AMOUNTS = st.one_of(st.integers(0, 2 * 10**6), st.integers(2**64 - 2, 2**64 + 1), st.integers(0, 2**256 - 1))


@st.composite
def calls(draw: st.DrawFn) -> tuple[int, dict]:
    if draw(st.booleans()):
        return draw(value_transfers())
    sender = draw(st.integers(0, len(KEYS) - 1))
    data = TRANSFER + bytes(12) + draw(RECIPIENTS) + draw(AMOUNTS).to_bytes(32, "big")
    data = draw(
        st.sampled_from(
            [
                data,
                data + b"\x00\x01",  # trailing bytes: the view ignores them
                data[:-1],  # short
                b"\x09\x5e\xa7\xb3" + data[4:],  # approve
                data[:4] + b"\x01" + data[5:],  # dirty address word
            ]
        )
        if draw(st.integers(0, 5)) == 0
        else st.just(data)
    )
    tx: dict = {
        "chainId": CHAIN_ID,
        "to": draw(st.sampled_from(VIEWS)),
        "data": data,
        "value": draw(st.sampled_from([0, 0, 0, 1])),
    }
    kind = draw(st.sampled_from(["legacy", "2930", "1559"]))
    intrinsic = 21_000 + sum(4 if b == 0 else 16 for b in data) + (2_400 + 1_900 if kind == "2930" else 0)
    # around the exact need (intrinsic + the view's 14,356), far above it, and below the intrinsic gas
    tx["gas"] = intrinsic + GAS_TRANSFER + draw(st.sampled_from([-1, 0, 1, 2, 60_000, -GAS_TRANSFER - 1]))
    if kind == "1559":
        tx |= {"maxFeePerGas": draw(st.sampled_from([BASE_FEE_WEI, 2 * BASE_FEE_WEI + 7])), "maxPriorityFeePerGas": 10**8}
    else:
        tx["gasPrice"] = draw(st.sampled_from([BASE_FEE_WEI, BASE_FEE_WEI + 123_456_789]))
        if kind == "2930":
            tx["accessList"] = [{"address": "0x" + VIEWS[0].hex(), "storageKeys": ["0x" + "00" * 32]}]
    return sender, tx


@st.composite
def value_transfers(draw: st.DrawFn) -> tuple[int, dict]:
    sender = draw(st.integers(0, len(KEYS) - 1))
    to = draw(st.one_of(RECIPIENTS, st.sampled_from(PRECOMPILES)))
    data = draw(st.sampled_from([b"", b"", b"", b"\x00"]))
    tx: dict = {"chainId": CHAIN_ID, "to": to, "data": data, "value": draw(WEI)}
    kind = draw(st.sampled_from(["legacy", "2930", "1559"]))
    intrinsic = 21_000 + 4 * len(data) + (2_400 if kind == "2930" else 0)
    tx["gas"] = intrinsic + draw(st.sampled_from([-1, 0, 0, 1, 30_000]))
    if kind == "1559":
        tx |= {"maxFeePerGas": draw(st.sampled_from([BASE_FEE_WEI, 3 * BASE_FEE_WEI + 1])), "maxPriorityFeePerGas": 7}
    else:
        tx["gasPrice"] = draw(st.sampled_from([BASE_FEE_WEI, BASE_FEE_WEI + 1]))
        if kind == "2930":
            tx["accessList"] = [{"address": "0x" + to.hex(), "storageKeys": []}]
    return sender, tx


def signed(batch: list[tuple[int, dict]], nonces: list[int]) -> list[bytes]:
    out = []
    for sender, tx in batch:
        out.append(b"\x10" + bytes(KEYS[sender].sign_transaction(tx | {"nonce": nonces[sender]}).raw_transaction))
        nonces[sender] += 1
    return out


@pytest.mark.parametrize("fork", ["shanghai", "cancun"])  # Prague never takes the direct path
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=st.lists(st.lists(calls(), min_size=1, max_size=12), min_size=1, max_size=4))
def test_direct_transfers_equal_py_evm(fork, blocks):
    fast, slow = chain(True, fork), chain(False, fork)
    nonces = [0] * len(KEYS)
    for batch in blocks:
        envelopes = signed(batch, nonces)
        admitted_fast, refused_fast = fast.admit_many(envelopes)
        admitted_slow, refused_slow = slow.admit_many(envelopes)
        assert [t.envelope for t in admitted_fast] == [t.envelope for t in admitted_slow]
        assert [(i, e.code) for i, e in refused_fast] == [(i, e.code) for i, e in refused_slow]
        a = fast.produce(100, timestamp_ms=1_000)
        b = slow.produce(100, timestamp_ms=1_000)
        assert [e.receipt_bytes for e in a.txs] == [e.receipt_bytes for e in b.txs]
        assert [e.diff for e in a.txs] == [e.diff for e in b.txs]
        assert a.header.state_root == b.header.state_root
        assert a.notes == b.notes
        nonces = [_nonce(fast, k) for k in KEYS]
    assert get_mint(State(fast.entries), GOLD) == get_mint(State(slow.entries), GOLD)


def _nonce(c: Chain, key) -> int:
    from engines.evm.accounts import SharedAccounts

    return SharedAccounts(State(c.entries)).get_nonce(bytes.fromhex(key.address[2:]))


def test_the_direct_path_is_taken_for_a_view_transfer_and_a_value_transfer():
    """So the property above compares two different code paths, not py-evm with itself."""
    c = chain(True)
    engine = c.registry.route(b"\x10")
    taken: list[object] = []
    original = engine._direct

    def spy(etx, state):
        out = original(etx, state)
        taken.append(out)
        return out

    engine._direct = spy
    to = bytes.fromhex(KEYS[2].address[2:])
    fees = {"chainId": CHAIN_ID, "maxFeePerGas": 2 * BASE_FEE_WEI, "maxPriorityFeePerGas": 1}
    view = {"to": VIEWS[0], "data": TRANSFER + bytes(12) + to + (10**5).to_bytes(32, "big"), "gas": 60_000}
    plain = {"to": to, "value": 10**9 + 7, "gas": 21_000}
    for nonce, tx in enumerate((view, plain)):
        c.admit(b"\x10" + bytes(KEYS[0].sign_transaction(fees | tx | {"nonce": nonce}).raw_transaction))
    a, b = c.produce(10).txs
    assert a.receipt.success and b.receipt.success and b.receipt.gas_used == 21_000
    assert len(taken) == 2 and None not in taken
