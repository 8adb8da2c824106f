"""Glue between Django settings and the chain core: engines, validator key, the node, the producer loop."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import threading
import time
from functools import lru_cache

from django.conf import settings
from django.db import close_old_connections, connections
from nacl.signing import SigningKey

from chain.dispatcher import Engine, Registry, Tx
from chain.node import Chain, StaleHead, chain_id_of
from chain.state import State
from chain.store.sql import SqlEntries, SqlStore, recent_hashes
from nvmsite import devctl

log = logging.getLogger("nvm.node")


def load_engine(path: str) -> Engine:
    """`module` (its `make_engine(validator, home)` factory, else its `ENGINE`) or `module:attribute`."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    if not attr and hasattr(module, "make_engine"):
        options = settings.NVM_ENGINE_OPTIONS.get(module_name, {})
        return module.make_engine(validator_key(), settings.NVM_HOME, **options)  # type: ignore[no-any-return]
    obj = getattr(module, attr or "ENGINE")
    return obj() if isinstance(obj, type) else obj  # type: ignore[no-any-return]


def registry() -> Registry:
    reg = Registry()
    for path in settings.NVM_ENGINES:
        reg.register(load_engine(path))
    if settings.NVM_DEVNET:  # devnet state edits (opcode 0xF0), unsigned: never outside devnet mode
        from engines.dev import DevEngine

        reg.register(DevEngine())
        for engine in reg.engines():
            if hasattr(engine, "impersonation"):  # the EVM's 0x1F and the TVM's 0x4F: unsigned, impersonated
                engine.impersonation = True
    return reg


@lru_cache(maxsize=1)
def web_registry() -> Registry:
    """The one registry of a web process (APIs, explorer, faucet): admission everywhere uses the same
    engines, and so the same sealed attestation keys."""
    return registry()


def admit_to_mempool(envelope: bytes) -> Tx:
    """What every web interface does with a submitted envelope: admit it against the committed state
    with the web registry (AdmissionError if refused), then add it to the mempool."""
    entries = SqlEntries()
    tx = web_registry().admit(envelope, State(entries), chain_id_of(entries), recent_hashes())
    SqlStore().add_pending([tx])
    return tx


def validator_key() -> SigningKey:
    """The validator's Ed25519 key, kept in NVM_HOME/validator.key (hex seed); made on first use."""
    path = settings.NVM_HOME / "validator.key"
    if path.exists():
        return SigningKey(bytes.fromhex(path.read_text().strip()))
    settings.NVM_HOME.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.encode().hex() + "\n")
    return key


def open_chain() -> Chain:
    pool = None
    if settings.CELERY_BROKER_URL and settings.NVM_EXECUTION != "sequential":
        from nvmsite.tasks import celery_pool

        pool = celery_pool(settings.NVM_WORKERS, settings.NVM_WORKER_TIMEOUT_S)
    return Chain(SqlStore(), registry(), validator_key(), settings.NVM_EXECUTION, pool)


def _announce(height: int) -> None:
    """Tell /ws/live clients of every web process (a cross-process channel layer only; with the in-memory
    layer each web process watches the blocks table itself: explorer/live.py)."""
    from explorer import live

    if not live.cross_process():
        return
    try:
        live.publish(height)
    except Exception:
        log.warning("could not announce block %d on the live feed", height, exc_info=True)


def run_producer(
    interval_ms: int,
    on_demand: bool,
    max_txs: int,
    stop: threading.Event | None = None,
    max_blocks: int | None = None,
) -> None:
    """Produce blocks until `stop` is set (or `max_blocks` were made).

    Interval mode makes a block every `interval_ms`, empty or not. On-demand mode makes one as
    soon as the mempool holds a transaction (polled every few ms), like a local EVM devnet.
    A failed commit leaves the in-memory view ahead of the database, so the node is reloaded
    from the store before it goes on.
    """
    stop = stop or threading.Event()
    chain = open_chain()
    # The loaded state lives as long as the node: keep it out of every garbage collection
    # (a full collection over a million entries is a pause of its own).
    gc.freeze()
    made = 0
    next_at = time.monotonic()
    while not stop.is_set() and (max_blocks is None or made < max_blocks):
        try:
            task = devctl.pending_task()
            if task is not None:  # a devnet snapshot restored, a state file loaded: the store changed, reload it
                devctl.do_task(task)
                chain = open_chain()
                _announce(chain.head.height if chain.head else 0)
                continue
            demand, mine_now, interval = devctl.block_plan(on_demand, interval_ms)  # devnet controls may change them
            if mine_now:
                block = chain.produce(max_txs, timestamp_ms=devctl.block_timestamp())
            elif demand:
                pending = chain.store.pending(max_txs)
                if not pending:
                    stop.wait(0.01)
                    continue
                block = chain.produce(max_txs, timestamp_ms=devctl.block_timestamp(), pending=pending)
            else:
                delay = min(next_at - time.monotonic(), 0.05)  # a short nap: a mine request may come meanwhile
                if delay > 0:
                    stop.wait(delay)
                    continue
                next_at = max(next_at + interval / 1000, time.monotonic())
                block = chain.produce(max_txs, timestamp_ms=devctl.block_timestamp())
            made += 1
            _announce(block.header.height)
            if block.txs:
                log.info("block %d: %d txs, root %s", block.header.height, len(block.txs), block.header.state_root.hex())
        except StaleHead:  # `nvm state load` replaced the chain on the database: go on from its head
            log.info("the stored chain was replaced under the block producer; reloading it")
            chain = open_chain()
            gc.freeze()
        except Exception:
            log.exception("block production failed; reloading the node from the store")
            close_old_connections()
            connections.close_all()
            stop.wait(0.5)
            chain = open_chain()
            gc.freeze()
