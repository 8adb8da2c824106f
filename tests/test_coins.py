"""Account coins (SPEC §3): one coin per identity whose version moves with every change of its balance — by
any VM — so a coin is spent, or outdated, exactly once; Bitcoin wallets' coins are found by txid."""

from __future__ import annotations

from eth_account import Account
from nacl.signing import SigningKey
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from chain.accounts import resolve
from chain.address import p2pkh_script
from chain.coins import coin_index_key, coin_txid, read_index, split
from chain.dispatcher import Registry
from chain.genesis import parse
from chain.identity import legacy_id_com, vm_address
from chain.ledger import NATIVE_MINT, balance, balance_slot, coin_version, credit, debit
from chain.memstore import MemoryStore
from chain.node import Chain
from chain.state import State
from engines.evm import make_engine as evm_engine
from engines.native import make_engine as native_engine
from engines.svm import make_engine as svm_engine

CHAIN_ID = 7231053
METAMASK = Account.from_key("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
PHANTOM = Keypair.from_seed(bytes(range(32)))
WALLET_SCRIPT = p2pkh_script(bytes(range(20)))  # a Bitcoin wallet's P2PKH scriptPubKey


def test_the_version_moves_with_every_change_and_only_then():
    s = State({})
    who = bytes(range(32))
    assert coin_version(s, who) == 0
    credit(s, NATIVE_MINT, who, 50)
    credit(s, NATIVE_MINT, who, 0)  # no change, no new coin
    debit(s, NATIVE_MINT, who, 50)
    assert balance(s, NATIVE_MINT, who) == 0 and coin_version(s, who) == 2
    assert split(s.get(balance_slot(NATIVE_MINT, who))) == (0, 2, False)  # kept at zero: the version must not restart
    credit(s, NATIVE_MINT, who, 50)
    assert coin_version(s, who) == 3  # the same amount as once before, yet a new coin
    assert len({coin_txid(who, v) for v in range(4)}) == 4


def test_a_bitcoin_wallets_coin_is_indexed_by_txid_and_the_index_moves():
    s = State({}, (7, 1_700_000_000_000))  # building block 7
    wallet = resolve(s, "btc", WALLET_SCRIPT)
    assert wallet == legacy_id_com("btc", WALLET_SCRIPT)
    assert read_index(s.get(coin_index_key(coin_txid(wallet, 0)))) == (wallet, 7, 1_700_000_000_000)
    s.block = (8, 1_700_000_000_400)
    credit(s, NATIVE_MINT, wallet, 10**9)
    assert s.get(coin_index_key(coin_txid(wallet, 0))) is None  # the old coin is gone
    assert read_index(s.get(coin_index_key(coin_txid(wallet, 1)))) == (wallet, 8, 1_700_000_000_400)  # born in block 8
    other = bytes(32)  # not a Bitcoin wallet: its coins are not indexed (no raw transaction can spend them)
    credit(s, NATIVE_MINT, other, 5)
    assert s.get(coin_index_key(coin_txid(other, 1))) is None and coin_version(s, other) == 1


def test_every_vm_moves_the_coin():
    reg = Registry()
    for engine in (native_engine(), evm_engine(), svm_engine()):
        reg.register(engine)
    chain = Chain(MemoryStore(), reg, SigningKey(bytes(range(3, 35))))
    alloc = [
        {"legacy": "evm", "address": METAMASK.address, "balance": str(10**15)},
        {"legacy": "svm", "address": str(PHANTOM.pubkey()), "balance": str(10**15)},
    ]
    chain.create_genesis(parse({"chain_id": CHAIN_ID, "alloc": alloc}).populate, 0)
    evm_id = legacy_id_com("evm", bytes.fromhex(METAMASK.address[2:]))
    sol_id = legacy_id_com("svm", bytes(PHANTOM.pubkey()))

    def versions() -> tuple[int, int]:
        s = State(chain.entries)
        return coin_version(s, evm_id), coin_version(s, sol_id)

    before = versions()
    tx = {"chainId": CHAIN_ID, "nonce": 0, "to": METAMASK.address, "value": 1, "gas": 21_000, "maxFeePerGas": 10**9}
    tx["maxPriorityFeePerGas"] = 0
    chain.admit(b"\x10" + bytes(METAMASK.sign_transaction(tx).raw_transaction))  # 1 wei to itself: the gas moves
    chain.produce(10)
    after_evm = versions()
    assert after_evm[0] > before[0] and after_evm[1] == before[1]  # gas bought, refunded, paid: each a change

    to = Pubkey(vm_address(evm_id, "svm"))  # the MetaMask key's identity, paid in lamports
    ix = transfer(TransferParams(from_pubkey=PHANTOM.pubkey(), to_pubkey=to, lamports=10**9))
    chain.admit(b"\x20" + bytes(Transaction([PHANTOM], Message([ix], PHANTOM.pubkey()), Hash(chain.head.hash))))
    chain.produce(10)
    assert versions() == (after_evm[0] + 1, after_evm[1] + 2)  # credited once; the payer's fee and transfer
