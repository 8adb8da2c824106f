"""Cross-VM transfers end to end: value moving between the VMs that have landed, each signed the way its
own wallets sign, through the one ledger — no bridge (DESIGN.md: ≥ 10,000 tx/s for the EVM ⇄ SVM ⇄ BVM ⇄
TVM mix; the BVM and TVM join the mix when their engines land).

The mix, in equal parts, every transaction crossing a VM boundary:
- `evm→svm`: an Ethereum EIP-1559 value transfer (eth-account signs) to the EVM address of a Solana wallet's
  identity;
- `svm→evm`: a Solana System transfer (solders signs) to the SVM address of a MetaMask-style key's identity;
- `native→evm/svm`: a native transfer by an ACE identity to a Solana pubkey or an Ethereum address;
- `tron→svm`: a TRX transfer (a Tron protobuf, signed as tronpy signs) to the Tron address of a Solana wallet's identity;
- `btc→evm`: a P2WPKH spend (BIP143, signed with libsecp256k1) paying a MetaMask-style key's identity's BTC address.

Setup, not timed: genesis funding every sender, the signed transactions (signing is the wallets' work).
Timed: admission (decode, signatures, state checks) and blocks (execute, state root, commit) — in memory, or
on the SQL store (a scratch database) with `--sql`. Every run checks that every transfer succeeded and
that the native supply is unchanged.
"""

from __future__ import annotations

import gc
import hashlib
import time
from dataclasses import replace
from typing import Any

import coincurve
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from nacl.signing import SigningKey
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from chain import auth
from chain.accounts import index_bytes, resolve
from chain.blocks import Header
from chain.coins import coin_txid
from chain.genesis import CHAIN_ID_KEY
from chain.hashing import H
from chain.identity import legacy_id_com, vm_address
from chain.ledger import (
    BASE_PER_SAT,
    FEE_COLLECTOR,
    NATIVE_DECIMALS,
    NATIVE_MINT,
    MintRecord,
    balance,
    credit,
    get_mint,
    put_mint,
)
from chain.memstore import MemoryStore
from chain.node import Chain, Store
from chain.state import State
from engines.bvm import make_engine as bvm_engine
from engines.bvm.crypto import hash160
from engines.bvm.sighash import PrecomputedTx, segwit_v0_sighash
from engines.bvm.tx import OutPoint, TxIn, TxOut
from engines.bvm.tx import Tx as BtcTx
from engines.evm import make_engine as evm_engine
from engines.native import make_engine as native_engine
from engines.native import tx as t
from engines.svm import make_engine as svm_engine
from engines.tvm import make_engine as tvm_engine
from engines.tvm.engine import tron_block_id
from engines.tvm.proto import field

from .native_transfer import CHAIN_ID, close_connections

FUNDS = 10**13  # base units per sender
GENESIS_MS = 1_767_225_600_000  # block times are fixed (a coin records its block's), so every run gives one state root
KINDS = ("evm-to-svm", "svm-to-evm", "native-to-svm", "native-to-evm", "tron-to-svm", "btc-to-evm")


class Wallets:
    def __init__(self, n: int, btc: int) -> None:
        self.evm = [Account.from_key(H(b"bench/cross/evm/%d" % i)) for i in range(n)]
        self.sol = [Keypair.from_seed(H(b"bench/cross/sol/%d" % i)) for i in range(n)]
        self.ace = [SigningKey(H(b"bench/cross/ace/%d" % i)) for i in range(n)]
        self.ace_ids = [H(b"bench/cross/ace-id/" + bytes(k.verify_key)) for k in self.ace]
        self.tron = [coincurve.PrivateKey(H(b"bench/cross/tron/%d" % i)) for i in range(n)]
        # Bitcoin wallets (P2WPKH): each coin is spent once in the run — a spend makes a new coin
        self.btc = [coincurve.PrivateKey(H(b"bench/cross/btc/%d" % i)) for i in range(btc)]

    def btc_script(self, i: int) -> bytes:
        return b"\x00\x14" + hash160(self.btc[i].public_key.format())

    def tron_address(self, i: int) -> bytes:
        return b"\x41" + keccak(self.tron[i].public_key.format(compressed=False)[1:])[-20:]

    def evm_id(self, i: int) -> bytes:
        return legacy_id_com("evm", bytes.fromhex(self.evm[i].address[2:]))

    def sol_id(self, i: int) -> bytes:
        return legacy_id_com("svm", bytes(self.sol[i].pubkey()))

    def populate(self, state: State) -> None:
        n = len(self.evm)
        state.set(CHAIN_ID_KEY, CHAIN_ID.to_bytes(8, "big"))
        supply = (4 * n + len(self.btc)) * FUNDS
        put_mint(state, NATIVE_MINT, MintRecord(supply, NATIVE_DECIMALS, bytes(32), "NVM", "n-VM"))
        for i in range(n):
            wallets = (
                ("evm", bytes.fromhex(self.evm[i].address[2:])),
                ("svm", bytes(self.sol[i].pubkey())),
                ("tron", self.tron_address(i)),
            )
            for tag, address in wallets:
                credit(state, NATIVE_MINT, resolve(state, tag, address), FUNDS)
            credit(state, NATIVE_MINT, self.ace_ids[i], FUNDS)
            auth.put_factors(state, self.ace_ids[i], [(t.ED25519, bytes(self.ace[i].verify_key))])
            resolve(state, "svm", vm_address(self.ace_ids[i], "svm"))  # binds nothing new: the ACE identity's own
        for i in range(len(self.btc)):
            credit(state, NATIVE_MINT, resolve(state, "btc", self.btc_script(i)), FUNDS)


def _registry() -> Any:
    from chain.dispatcher import Registry

    reg = Registry()
    for engine in (native_engine(), evm_engine(), svm_engine(), bvm_engine(), tvm_engine()):
        reg.register(engine)
    return reg


def _tron_transfer(w: Wallets, who: int, to: bytes, amount_sun: int, head: Header) -> bytes:
    """A TRX transfer as tronpy builds and signs one: TaPoS on `head`, expiring an hour after it."""
    block_id = tron_block_id(head.height, head.hash)
    body = field(1, w.tron_address(who)) + field(2, to) + field(3, amount_sun)
    contract = field(1, 1) + field(2, field(1, b"type.googleapis.com/protocol.TransferContract") + field(2, body))
    raw = field(1, block_id[6:8]) + field(4, block_id[8:16]) + field(8, head.timestamp_ms + 3_600_000) + field(11, contract)
    return b"\x40" + field(1, raw) + field(2, w.tron[who].sign_recoverable(hashlib.sha256(raw).digest(), hasher=None))


def _btc_spend(w: Wallets, who: int, to: bytes, sats: int) -> bytes:
    """A P2WPKH spend of wallet `who`'s genesis coin (version 1): `sats` to `to`, the rest less 1,000 sats back."""
    me = w.btc_script(who)
    coin = FUNDS // BASE_PER_SAT
    tx = BtcTx(2, (TxIn(OutPoint(coin_txid(legacy_id_com("btc", me), 1), 0)),), (TxOut(sats, to), TxOut(coin - sats - 1_000, me)))
    key = w.btc[who]
    script_code = b"\x76\xa9\x14" + me[2:] + b"\x88\xac"
    digest = segwit_v0_sighash(PrecomputedTx(tx, [(coin, me)]), 0, script_code, coin, 1)
    signature = key.sign(digest, hasher=None) + b"\x01"  # libsecp256k1 signs low-s, DER
    witness = (signature, key.public_key.format())
    signed = BtcTx(tx.version, (replace(tx.inputs[0], witness=witness),), tx.outputs, tx.locktime)
    return b"\x30" + signed.serialize()


def envelopes(w: Wallets, txs: int, head: Header) -> list[bytes]:
    blockhash = head.hash
    spent = 0
    n = len(w.evm)
    evm_nonce, ace_nonce = [0] * n, [0] * n
    out = []
    for i in range(txs):
        kind, who, other = KINDS[i % len(KINDS)], (i // len(KINDS)) % n, (i * 7 + 3) % n
        amount = 10**6 + i  # distinct amounts keep equal Solana transfers distinct
        if kind == "btc-to-evm":
            to = index_bytes("btc", vm_address(w.evm_id(other), "btc"))  # a MetaMask key's identity's BTC address
            out.append(_btc_spend(w, spent, to, amount // BASE_PER_SAT))
            spent += 1
        elif kind == "tron-to-svm":
            out.append(_tron_transfer(w, who, b"\x41" + vm_address(w.sol_id(other), "tron"), amount, head))
        elif kind == "evm-to-svm":
            to = vm_address(w.sol_id(other), "evm")
            tx = {
                "chainId": CHAIN_ID,
                "nonce": evm_nonce[who],
                "to": to_checksum_address(to),
                "value": amount * 10**9,
                "gas": 21_000,
                "maxFeePerGas": 10**9,
                "maxPriorityFeePerGas": 0,
            }
            evm_nonce[who] += 1
            out.append(b"\x10" + bytes(w.evm[who].sign_transaction(tx).raw_transaction))
        elif kind == "svm-to-evm":
            payer = w.sol[who]
            to = Pubkey(vm_address(w.evm_id(other), "svm"))
            ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=amount))
            out.append(b"\x20" + bytes(Transaction([payer], Message([ix], payer.pubkey()), Hash(blockhash))))
        else:
            ref = (
                t.Ref(t.REF_SVM, bytes(w.sol[other].pubkey()))
                if kind == "native-to-svm"
                else t.Ref(t.REF_EVM, bytes.fromhex(w.evm[other].address[2:]))
            )
            payload = t.encode_payload(t.TRANSFER, mint=NATIVE_MINT, to=ref, amount=amount)
            unsigned = t.unsigned(t.TRANSFER, CHAIN_ID, w.ace_ids[who], ace_nonce[who], payload)
            ace_nonce[who] += 1
            out.append(t.sign_ed25519(unsigned, w.ace[who]))
    return out


def run_with(store: Store, txs: int, senders: int, block_txs: int) -> dict[str, Any]:
    w = Wallets(senders, -(-txs // len(KINDS)))
    chain = Chain(store, _registry(), SigningKey(H(b"bench/validator")))
    chain.create_genesis(w.populate, GENESIS_MS)
    assert chain.head is not None
    signed = envelopes(w, txs, chain.head)
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        admit_s = build_s = 0.0
        blocks = []
        t0 = time.perf_counter()
        for i in range(0, txs, block_txs):
            a0 = time.perf_counter()
            _ok, refused = chain.admit_many(signed[i : i + block_txs])
            admit_s += time.perf_counter() - a0
            assert not refused, refused[:3]
            b0 = time.perf_counter()
            blocks.append(chain.produce(block_txs, timestamp_ms=GENESIS_MS + 400 * (len(blocks) + 1)))
            build_s += time.perf_counter() - b0
        seconds = time.perf_counter() - t0
    finally:
        gc.enable()
    receipts = [e.receipt for b in blocks for e in b.txs]
    assert len(receipts) == txs and all(r.success for r in receipts), next(r for r in receipts if not r.success)
    state = State(chain.entries)
    holders = [w.evm_id(i) for i in range(senders)] + [w.sol_id(i) for i in range(senders)] + w.ace_ids + [FEE_COLLECTOR]
    holders += [legacy_id_com("tron", w.tron_address(i)) for i in range(senders)]
    holders += [legacy_id_com("btc", w.btc_script(i)) for i in range(len(w.btc))]
    supply = get_mint(state, NATIVE_MINT)
    held = sum(balance(state, NATIVE_MINT, h) for h in holders)
    assert supply is not None and held == supply.supply, "supply must be conserved"
    return {
        "txs": txs,
        "mix": list(KINDS),
        "seconds": round(seconds, 4),
        "tx_per_s": round(txs / seconds),
        "admit_seconds": round(admit_s, 4),
        "block_seconds": round(build_s, 4),  # execute, state root, commit
        "blocks": len(blocks),
        "senders_per_vm": senders,
        "target_tx_per_s": 10_000,
        "state_root": "0x" + chain.head.state_root.hex(),
    }


def run(txs: int = 20_000, sql: bool = False, senders: int = 500, block_txs: int = 5_000) -> dict[str, Any]:
    if not sql:
        return {"scenario": "cross-vm", "mode": "in-memory", **run_with(MemoryStore(), txs, senders, block_txs)}
    from django.db import connection

    from chain.store.sql import SqlStore

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        result = run_with(SqlStore(), txs, senders, block_txs)
    finally:
        close_connections()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return {"scenario": "cross-vm", "mode": connection.vendor, **result}
