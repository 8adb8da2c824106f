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
