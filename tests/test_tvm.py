"""The TVM engine, so far TRX transfers: Tron `Transaction` protobufs built here field by field and signed as
tronpy signs (a recoverable secp256k1 signature over SHA-256(raw_data)), checked as a Tron node checks them."""

from __future__ import annotations

import hashlib

import coincurve
import pytest
from eth_hash.auto import keccak
from nacl.signing import SigningKey

from chain.address import tron_text
from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import parse
from chain.identity import legacy_id_com, vm_address
from chain.ledger import NATIVE_MINT, balance, sun_balance, wei_balance
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm import make_engine as evm_engine
from engines.native import make_engine as native_engine
from engines.tvm import make_engine
from engines.tvm.engine import tron_block_id
from engines.tvm.proto import field

CHAIN_ID = 7231053
KEY = coincurve.PrivateKey(bytes(range(1, 33)))
SUN = 1_000  # base units
FUNDS = 100 * 10**6  # 100 TRX in sun


def address(key: coincurve.PrivateKey) -> bytes:
    return b"\x41" + keccak(key.public_key.format(compressed=False)[1:])[-20:]


OWNER = address(KEY)
BOB = address(coincurve.PrivateKey(bytes(range(2, 34))))


def tron_chain(funds_sun: int = FUNDS) -> Chain:
    """A chain with the native, EVM and TVM engines whose genesis gives OWNER `funds_sun` sun."""
    reg = Registry()
    for engine in (native_engine(), evm_engine(), make_engine()):
        reg.register(engine)
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(range(5, 37))))
    alloc = [{"legacy": "tron", "address": tron_text(OWNER), "balance": str(funds_sun * SUN)}]
    chain.create_genesis(parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate, 1_700_000_000_000)
    return chain


@pytest.fixture
def node():
    return tron_chain()


def transfer(
    node, amount: int, to: bytes = BOB, key=KEY, expiration: int | None = None, ref: tuple[bytes, bytes] | None = None
) -> bytes:
    block_id = tron_block_id(node.head.height, node.head.hash)  # what tronpy reads from getnowblock
    ref_bytes, ref_hash = ref or (block_id[6:8], block_id[8:16])
    body = field(1, address(key)) + field(2, to) + field(3, amount)
    contract = field(1, 1) + field(2, field(1, b"type.googleapis.com/protocol.TransferContract") + field(2, body))
    expires = expiration if expiration is not None else node.head.timestamp_ms + 60_000
    raw = field(1, ref_bytes) + field(4, ref_hash) + field(8, expires) + field(11, contract) + field(14, node.head.timestamp_ms)
    txid = hashlib.sha256(raw).digest()
    signature = key.sign_recoverable(txid, hasher=None)
    return b"\x40" + field(1, raw) + field(2, signature)


def run(node, envelope):
    node.admit(envelope)
    (e,) = node.produce(10, timestamp_ms=node.head.timestamp_ms + 3_000).txs
    return e


def refused(node, envelope) -> str:
    with pytest.raises(AdmissionError) as e:
        node.admit(envelope)
    return e.value.code


def test_a_trx_transfer_moves_sun_between_identities(node):
    e = run(node, transfer(node, 12_345_678))
    assert e.receipt.success, e.receipt.message
    s = State(node.entries)
    owner, bob = legacy_id_com("tron", OWNER), legacy_id_com("tron", BOB)
    assert sun_balance(s, owner) == FUNDS - 12_345_678 and sun_balance(s, bob) == 12_345_678
    # one balance, every view: Bob's sun are his wei and his lamports
    assert wei_balance(s, bob) == 12_345_678 * 10**12 and balance(s, NATIVE_MINT, bob) == 12_345_678 * SUN


def test_an_identitys_derived_tron_address_receives_too(node):
    ace = bytes(range(90, 122))
    to = b"\x41" + vm_address(ace, "tron")
    e = run(node, transfer(node, 5_000_000, to=to))
    assert e.receipt.success
    assert sun_balance(State(node.entries), legacy_id_com("tron", to)) == 5_000_000  # never bound before: its legacy id


def test_refusals_with_tron_errors_write_nothing(node):
    before = dict(node.entries)
    assert refused(node, transfer(node, FUNDS + 1)) == "CONTRACT_VALIDATE_ERROR"
    assert refused(node, transfer(node, 0)) == "CONTRACT_VALIDATE_ERROR"
    assert refused(node, transfer(node, 1, to=OWNER)) == "CONTRACT_VALIDATE_ERROR"  # to yourself
    assert refused(node, transfer(node, 1, expiration=node.head.timestamp_ms)) == "TRANSACTION_EXPIRATION_ERROR"
    assert refused(node, transfer(node, 1, ref=(b"\x12\x34", bytes(8)))) == "TAPOS_ERROR"
    forged = bytearray(transfer(node, 1))
    forged[-10] ^= 1
    assert refused(node, bytes(forged)) == "SIGERROR"
    other = coincurve.PrivateKey(bytes(range(3, 35)))
    stranger = transfer(node, 1, key=other)
    assert refused(node, stranger) == "CONTRACT_VALIDATE_ERROR"  # an owner account that does not exist
    assert refused(node, b"\x40\x0a\x05garbage") == "OTHER_ERROR"
    assert node.entries == before and node.store.pending(10) == []


def test_a_transaction_is_processed_once(node):
    env = transfer(node, 1_000_000)
    assert run(node, env).receipt.success
    assert refused(node, env) == "DUP_TRANSACTION_ERROR"


@pytest.mark.django_db(transaction=True)
def test_the_explorer_shows_a_tron_transfer_by_its_txid(client, settings, tmp_path):
    from rpc.native import views
    from tests.conftest import sql_node

    alloc = [{"legacy": "tron", "address": tron_text(OWNER), "balance": str(FUNDS * SUN)}]
    chain = sql_node(settings, tmp_path, {"chain_id": CHAIN_ID, "alloc": alloc}, ("engines.native", "engines.tvm"))
    try:
        e = run(chain, transfer(chain, 2_500_000))
        assert e.receipt.success
        body = client.get(f"/tx/{e.tx.ids[0].hex()}").content.decode()
        assert "Tron txid" in body and "TransferContract" in body and tron_text(BOB) in body and "2,500,000 sun" in body
    finally:
        views._registry.cache_clear()
