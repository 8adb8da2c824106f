"""Native transfers end to end: admit (decode, signature, nonce, fee) → mempool → execute → state
root → block committed (PostgreSQL or SQLite through the SQL store, or memory with --in-memory).

Setup, not timed: a genesis with `senders` funded accounts holding an Ed25519 factor, and the
signed envelopes (signing is the wallet's work). Timed: everything the node does with them.
The SQL run uses a scratch database made and dropped like Django's test database, so the
devnet's own data is never touched.
"""

from __future__ import annotations

import gc
import queue
import random
import threading
import time
from typing import Any

import coincurve
from nacl.signing import SigningKey

from chain import auth
from chain.accounts import bind_identity
from chain.auth import SealedKeys
from chain.dispatcher import Registry
from chain.errors import AdmissionError
from chain.genesis import CHAIN_ID_KEY
from chain.hashing import H
from chain.ledger import FEE_COLLECTOR, NATIVE_DECIMALS, NATIVE_MINT, MintRecord, balance, credit, get_mint, put_mint
from chain.memstore import MemoryStore
from chain.node import Chain, Store
from chain.state import State
from engines.native import NativeEngine
from engines.native import tx as t

from .cpu import CpuMeter

CHAIN_ID = 7231053
FUNDS = 10**15


def _accounts(n: int) -> list[tuple[SigningKey, bytes]]:
    keys = [SigningKey(H(b"bench/sender/%d" % i)) for i in range(n)]
    return [(k, H(b"bench/id/" + bytes(k.verify_key))) for k in keys]


def _attestation_key(key: SigningKey) -> bytes:
    return H(b"bench/attest/" + bytes(key))


def _secp_key(key: SigningKey) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(H(b"bench/secp/" + bytes(key)))


def _factor(credential: str, key: SigningKey) -> tuple[int, bytes]:
    if credential == "attestation":
        return t.ATTESTATION, auth.attestation_commitment(_attestation_key(key))
    if credential == "secp256k1":
        return t.SECP256K1, _secp_key(key).public_key.format(compressed=True)
    return t.ED25519, bytes(key.verify_key)


def _genesis(accounts: list[tuple[SigningKey, bytes]], credential: str, funds: int = FUNDS) -> Any:
    def populate(state: State) -> None:
        state.set(CHAIN_ID_KEY, CHAIN_ID.to_bytes(8, "big"))
        put_mint(state, NATIVE_MINT, MintRecord(funds * len(accounts), NATIVE_DECIMALS, bytes(32), "NVM", "n-VM"))
        for key, id_com in accounts:
            credit(state, NATIVE_MINT, id_com, funds)
            auth.put_factors(state, id_com, [_factor(credential, key)])
            bind_identity(state, id_com)

    return populate


def _envelopes(accounts: list[tuple[SigningKey, bytes]], txs: int, credential: str, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    nonces = [0] * len(accounts)
    out = []
    for i in range(txs):
        s = i % len(accounts)
        key, sender = accounts[s]
        receiver = accounts[rng.randrange(len(accounts))][1]
        payload = t.encode_payload(t.TRANSFER, mint=NATIVE_MINT, to=t.Ref(t.REF_ID_COM, receiver), amount=rng.randrange(1, 10**6))
        unsigned = t.unsigned(t.TRANSFER, CHAIN_ID, sender, nonces[s], payload)
        if credential == "attestation":
            out.append(t.attest(unsigned, _attestation_key(key)))
        elif credential == "secp256k1":
            out.append(t.sign_secp256k1(unsigned, _secp_key(key)))
        else:
            out.append(t.sign_ed25519(unsigned, key))
        nonces[s] += 1
    return out


def _can_overlap(store: Store) -> bool:
    """SQLite has one writer: admitting on a thread while a block commits would only make it wait."""
    if type(store).__name__ != "SqlStore":
        return True
    from django.db import connection

    return connection.vendor != "sqlite"


def run_with(store: Store, txs: int, senders: int, block_txs: int, credential: str = "ed25519", seed: int = 1) -> dict[str, Any]:
    """Admission of the next block's transactions overlaps the execution and commit of the current one,
    as it does in the node (web server and block producer are separate processes) — on a database
    that allows two writers."""
    accounts = _accounts(min(senders, txs))
    validator = SigningKey(H(b"bench/validator"))
    chain = Chain(store, _registry(accounts, validator), validator)
    chain.create_genesis(_genesis(accounts, credential), 0)
    envelopes = _envelopes(accounts, txs, credential, seed)
    chunks = [envelopes[i : i + block_txs] for i in range(0, len(envelopes), block_txs)]
    admitted: queue.Queue[int] = queue.Queue()
    refused: list[object] = []
    admit_seconds = [0.0]
    meter, sql = CpuMeter(), type(store).__name__ == "SqlStore"

    def admit() -> None:
        try:
            if sql:
                meter.watch_backend()
            for chunk in chunks:
                a0 = time.perf_counter()
                ok, bad = chain.admit_many(chunk)
                admit_seconds[0] += time.perf_counter() - a0
                refused.extend(bad)
                admitted.put(len(ok))
            if sql:
                meter.leave_backend()
        finally:
            admitted.put(-1)
            close_connections()

    gc.collect()
    gc.freeze()  # as the node does with its loaded state
    gc.disable()  # a gen-2 collection in the middle of a block says nothing about the node
    try:
        if sql:
            meter.watch_backend()
        meter.start()
        t0 = time.perf_counter()
        admission = threading.Thread(target=admit)
        if _can_overlap(store):
            admission.start()
        else:
            admit()  # everything admitted first, then the blocks
        blocks, build_seconds = [], 0.0
        while admitted.get() > 0:
            pending = store.pending(block_txs)
            b0 = time.perf_counter()
            block = chain.build_block(pending, int(time.time() * 1000))
            build_seconds += time.perf_counter() - b0
            chain.commit(block)
            blocks.append(block)
        t1 = time.perf_counter()
        if admission.is_alive():
            admission.join()
        meter.stop()
    finally:
        gc.enable()
    assert not refused, "every transfer must be admitted"
    return _summary(chain, accounts, blocks, txs, credential, t1 - t0, admit_seconds[0], build_seconds, meter)


def _registry(accounts: list[tuple[SigningKey, bytes]], validator: SigningKey) -> Registry:
    sealed = SealedKeys(validator, None)
    for key, id_com in accounts:
        sealed.add(id_com, _attestation_key(key))
    reg = Registry()
    reg.register(NativeEngine(sealed))
    return reg


def _admission_worker(envelopes: list[bytes], block_txs: int, senders: int, ready: Any, go: Any, report: Any) -> None:
    """The web server's part, in its own process: admit against the committed state, persist to the mempool."""
    from django.db import connections

    from chain.store.sql import SqlStore

    connections.close_all()  # never share the parent's connection
    store = SqlStore()
    accounts = _accounts(senders)
    reg = _registry(accounts, SigningKey(H(b"bench/validator")))
    entries = store.load().entries
    meter = CpuMeter()
    meter.watch_backend()
    ready.set()
    go.wait()
    meter.start()
    spent, refused = 0.0, 0
    for i in range(0, len(envelopes), block_txs):
        a0 = time.perf_counter()
        results = reg.admit_many(envelopes[i : i + block_txs], State(entries), CHAIN_ID)
        ok = [r for r in results if not isinstance(r, AdmissionError)]
        refused += len(results) - len(ok)
        store.add_pending(ok)
        spent += time.perf_counter() - a0
    meter.stop()
    report.put((spent, refused, meter.process_s, meter.database_s or 0.0))
    connections.close_all()


def run_two_processes(txs: int, senders: int, block_txs: int, credential: str = "ed25519", seed: int = 1) -> dict[str, Any]:
    """Admission in one process (as the web server does it) and block production in another (the
    producer), over the SQL mempool: the node's real shape, each with its own core."""
    import multiprocessing

    from django.db import connections

    from chain.store.sql import SqlStore

    accounts = _accounts(min(senders, txs))
    validator = SigningKey(H(b"bench/validator"))
    store = SqlStore()
    chain = Chain(store, _registry(accounts, validator), validator)
    chain.create_genesis(_genesis(accounts, credential), 0)
    envelopes = _envelopes(accounts, txs, credential, seed)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    ready, go, report = ctx.Event(), ctx.Event(), ctx.Queue()
    worker = ctx.Process(target=_admission_worker, args=(envelopes, block_txs, len(accounts), ready, go, report))
    worker.start()
    ready.wait()
    gc.collect()
    gc.freeze()
    blocks, build_seconds, done = [], 0.0, 0
    meter = CpuMeter()
    meter.watch_backend()
    meter.start()
    t0 = time.perf_counter()
    go.set()
    while done < txs:
        pending = store.pending(block_txs)
        if not pending:
            if not worker.is_alive() and report.empty():
                raise RuntimeError("the admission process died")
            time.sleep(0.0005)
            continue
        b0 = time.perf_counter()
        block = chain.build_block(pending, int(time.time() * 1000))
        build_seconds += time.perf_counter() - b0
        chain.commit(block)
        blocks.append(block)
        done += len(block.txs)
    t1 = time.perf_counter()
    meter.stop()
    admit_seconds, refused, admission_cpu, admission_db = report.get(timeout=60)
    meter.elsewhere_s, meter.database_s = admission_cpu, (meter.database_s or 0.0) + admission_db
    worker.join(60)
    assert not refused, "every transfer must be admitted"
    return _summary(chain, accounts, blocks, txs, credential, t1 - t0, admit_seconds, build_seconds, meter)


def _summary(
    chain: Chain,
    accounts: list[tuple[SigningKey, bytes]],
    blocks: list[Any],
    txs: int,
    credential: str,
    seconds: float,
    admit_seconds: float,
    build_seconds: float,
    meter: CpuMeter,
) -> dict[str, Any]:
    receipts = [e.receipt for b in blocks for e in b.txs]
    state = State(chain.entries)
    held = sum(balance(state, NATIVE_MINT, a) for _, a in accounts) + balance(state, NATIVE_MINT, FEE_COLLECTOR)
    supply = get_mint(state, NATIVE_MINT)
    assert len(receipts) == txs and all(r.success for r in receipts), "every transfer must succeed"
    assert supply is not None and held == supply.supply, "supply must be conserved"
    return {
        "txs": txs,
        "credential": credential,
        "seconds": round(seconds, 4),
        "tx_per_s": round(txs / seconds),
        "admit_seconds": round(admit_seconds, 4),
        "execute_seconds": round(build_seconds, 4),
        "execute_tx_per_s": round(txs / build_seconds),  # execution + state root only
        "blocks": len(blocks),
        "senders": len(accounts),
        "state_root": "0x" + chain.head.state_root.hex() if chain.head else None,  # same in every mode
        "cpu": meter.summary(txs, seconds),
    }


def close_connections() -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # no Django in a pure in-memory run
        pass


def run(
    txs: int, in_memory: bool, senders: int = 1000, block_txs: int = 20_000, credential: str = "ed25519", processes: int = 1
) -> dict[str, Any]:
    if in_memory:
        result = run_with(MemoryStore(), txs, senders, block_txs, credential)
        return {"scenario": "native-transfer", "mode": "in-memory", **result}
    from django.db import connection

    from chain.store.sql import SqlStore

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        if processes > 1:
            result = run_two_processes(txs, senders, block_txs, credential)
        else:
            result = run_with(SqlStore(), txs, senders, block_txs, credential)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return {"scenario": "native-transfer", "mode": connection.vendor, "processes": processes, **result}
