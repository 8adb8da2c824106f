"""Native transfers end to end: admit (decode, signature, nonce, fee) → mempool → execute → state
root → block committed (PostgreSQL or SQLite through the SQL store, or memory with --in-memory).

Setup, not timed: a genesis with `senders` funded accounts holding an Ed25519 factor, and the
signed envelopes (signing is the wallet's work). Timed: everything the node does with them.
The SQL run uses a scratch database made and dropped like Django's test database, so the
devnet's own data is never touched.
"""

from __future__ import annotations

import gc
import random
import time
from typing import Any

from nacl.signing import SigningKey

from chain.accounts import bind_identity
from chain.dispatcher import Registry
from chain.genesis import CHAIN_ID_KEY
from chain.hashing import H
from chain.ledger import NATIVE_DECIMALS, NATIVE_MINT, MintRecord, balance, credit, get_mint, put_mint
from chain.memstore import MemoryStore
from chain.node import Chain, Store
from chain.state import State
from engines.native import NativeEngine, auth
from engines.native import tx as t
from engines.native.engine import FEE_COLLECTOR

CHAIN_ID = 7231053
FUNDS = 10**15


def _accounts(n: int) -> list[tuple[SigningKey, bytes]]:
    keys = [SigningKey(H(b"bench/sender/%d" % i)) for i in range(n)]
    return [(k, H(b"bench/id/" + bytes(k.verify_key))) for k in keys]


def _genesis(accounts: list[tuple[SigningKey, bytes]]) -> Any:
    def populate(state: State) -> None:
        state.set(CHAIN_ID_KEY, CHAIN_ID.to_bytes(8, "big"))
        put_mint(state, NATIVE_MINT, MintRecord(FUNDS * len(accounts), NATIVE_DECIMALS, bytes(32), "NVM", "n-VM"))
        for key, id_com in accounts:
            credit(state, NATIVE_MINT, id_com, FUNDS)
            auth.put_factors(state, id_com, [(t.ED25519, bytes(key.verify_key))])
            bind_identity(state, id_com)

    return populate


def _envelopes(accounts: list[tuple[SigningKey, bytes]], txs: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    nonces = [0] * len(accounts)
    out = []
    for i in range(txs):
        s = i % len(accounts)
        key, sender = accounts[s]
        receiver = accounts[rng.randrange(len(accounts))][1]
        payload = t.encode_payload(t.TRANSFER, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, receiver), amount=rng.randrange(1, 10**6))
        out.append(t.sign_ed25519(t.unsigned(t.TRANSFER, CHAIN_ID, sender, nonces[s], payload), key))
        nonces[s] += 1
    return out


def run_with(store: Store, txs: int, senders: int, block_txs: int, seed: int = 1) -> dict[str, Any]:
    accounts = _accounts(min(senders, txs))
    reg = Registry()
    reg.register(NativeEngine())
    chain = Chain(store, reg, SigningKey(H(b"bench/validator")))
    chain.create_genesis(_genesis(accounts), 0)
    envelopes = _envelopes(accounts, txs, seed)
    gc.collect()
    t0 = time.perf_counter()
    _admitted, refused = chain.admit_many(envelopes)
    t1 = time.perf_counter()
    blocks = []
    while True:
        block = chain.produce(block_txs)
        if not block.txs:
            break
        blocks.append(block)
    t2 = time.perf_counter()
    receipts = [e.receipt for b in blocks for e in b.txs]
    state = State(chain.entries)
    held = sum(balance(state, NATIVE_MINT, a) for _, a in accounts) + balance(state, NATIVE_MINT, FEE_COLLECTOR)
    supply = get_mint(state, NATIVE_MINT)
    assert not refused and len(receipts) == txs and all(r.success for r in receipts), "every transfer must succeed"
    assert supply is not None and held == supply.supply, "supply must be conserved"
    seconds = t2 - t0
    return {
        "txs": txs,
        "seconds": round(seconds, 4),
        "tx_per_s": round(txs / seconds),
        "admit_seconds": round(t1 - t0, 4),
        "produce_seconds": round(t2 - t1, 4),
        "blocks": len(blocks),
        "senders": len(accounts),
        "state_root": "0x" + chain.head.state_root.hex() if chain.head else None,  # same in every mode
    }


def run(txs: int, in_memory: bool, senders: int = 1000, block_txs: int = 20_000) -> dict[str, Any]:
    if in_memory:
        result = run_with(MemoryStore(), txs, senders, block_txs)
        return {"scenario": "native-transfer", "mode": "in-memory", **result}
    from django.db import connection

    from chain.store.sql import SqlStore

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        result = run_with(SqlStore(), txs, senders, block_txs)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return {"scenario": "native-transfer", "mode": connection.vendor, **result}
