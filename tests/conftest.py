import pytest
from nacl.signing import SigningKey

from chain.dispatcher import Registry
from chain.memstore import MemoryStore
from chain.node import Chain
from tests.support.kv_engine import ENGINE

GENESIS_CONFIG = {
    "chain_id": 7231053,
    "timestamp_ms": 1767225600000,
    "alloc": [
        {"label": "a", "id_com": "0x" + "11" * 32, "balance": "1000"},
        {"label": "b", "legacy": "evm", "address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "balance": "5"},
    ],
}


def kv_registry() -> Registry:
    reg = Registry()
    reg.register(ENGINE)
    return reg


@pytest.fixture
def validator() -> SigningKey:
    return SigningKey(bytes(range(32)))


@pytest.fixture
def mem_chain(validator: SigningKey) -> Chain:
    from chain.genesis import parse

    chain = Chain(MemoryStore(), kv_registry(), validator)
    gen = parse(GENESIS_CONFIG)
    chain.create_genesis(gen.populate, gen.timestamp_ms)
    return chain


def sql_node(settings, tmp_path, config: dict, engine_modules: tuple = ("engines.native",)) -> Chain:
    """A node over the test database with the node's own engines, its validator key in a fresh NVM_HOME
    (so the web views' registry — rebuilt here — opens the same sealed keys)."""
    import importlib

    from chain.genesis import parse
    from chain.store.sql import SqlStore
    from rpc.native import views

    settings.NVM_HOME = tmp_path
    validator = SigningKey(bytes(range(1, 33)))
    (tmp_path / "validator.key").write_text(bytes(validator).hex())
    views._registry.cache_clear()
    reg = Registry()
    for module in engine_modules:
        reg.register(importlib.import_module(module).make_engine(validator, tmp_path))
    chain = Chain(SqlStore(), reg, validator)
    gen = parse(config)
    chain.create_genesis(gen.populate, 0)
    return chain
