"""The reverse index at work: from any VM's address to an identity, binding identities on first use.

Address bytes in the index (docs/PROTOCOL.md §4): EVM 20 bytes, SVM 32-byte pubkey, BTC the
scriptPubKey (an identity's own BVM address, a P2TR program, is indexed as `0x51 0x20 || program`),
Tron 21 bytes `0x41 || 20`. An identity's four derived addresses are bound the first time it is
touched; a raw-chain wallet's real address is bound to its legacy identity, and that identity's
derived addresses in the other three VMs are bound with it (SPEC §2).
"""

from __future__ import annotations

from functools import lru_cache

from .identity import legacy_id_com, vm_address
from .ledger import mark_bitcoin_wallet
from .state import State, reverse_index_key

TAGS = ("evm", "svm", "btc", "tron")


def index_bytes(tag: str, derived: bytes) -> bytes:
    """The index form of a derived VM address (SPEC §2 gives BTC as a 32-byte program, Tron as 20 bytes)."""
    if tag == "btc":
        return b"\x51\x20" + derived
    if tag == "tron":
        return b"\x41" + derived
    return derived


def derived_addresses(id_com: bytes) -> dict[str, bytes]:
    """The identity's address in each VM, in index form."""
    return {tag: index_bytes(tag, vm_address(id_com, tag)) for tag in TAGS}


@lru_cache(maxsize=65536)
def derived_index_keys(id_com: bytes) -> tuple[tuple[str, bytes, bytes], ...]:
    # A pure function of the id_com, cached: binding is checked on every transfer to an id_com.
    return tuple((tag, address, reverse_index_key(tag, address)) for tag, address in derived_addresses(id_com).items())


def lookup(state: State, tag: str, address: bytes) -> bytes | None:
    return state.get(reverse_index_key(tag, address))


def bind_identity(state: State, id_com: bytes, skip: str | None = None) -> None:
    """Bind the identity's derived addresses (all but `skip`'s), once."""
    for tag, address, key in derived_index_keys(id_com):
        if tag != skip and state.get(key) is None:
            state.bind_address(tag, address, id_com)


def resolve(state: State, tag: str, address: bytes) -> bytes:
    """The identity behind an address; an address never seen gets its legacy identity, bound now."""
    found = lookup(state, tag, address)
    if found is not None:
        return found
    id_com = legacy_id_com(tag, address)
    state.bind_address(tag, address, id_com)
    bind_identity(state, id_com, skip=tag)
    if tag == "btc":  # a Bitcoin scriptPubKey: a raw Bitcoin transaction may spend this identity's coin
        mark_bitcoin_wallet(state, id_com, address)
    return id_com
