"""py-evm's account database over the chain's shared state (SPEC §3; shared/notes/py-evm-over-shared-state.md).

Every write goes straight to the chain `State`, whose snapshots are py-evm's checkpoints, so a
reverted call, a failed transaction and an outer revert by the dispatcher all undo the same way.

Where an EVM account lives in the shared state (docs/PROTOCOL.md §10):
- balance: the native ledger balance of the identity the address is bound to (reverse index),
  shown in wei = base units × 10^9 + that identity's dust slot; an address never seen is bound to
  its legacy identity when it first receives value;
- `H("nvm/evm/account" || address)` = 0x01 while the account exists (Ethereum tells an empty
  account from a missing one);
- `H("nvm/evm/nonce" || address)` u64; `H("nvm/evm/code" || address)` the code and
  `H("nvm/evm/codehash" || address)` its keccak;
- storage slot `H("nvm/evm/storage" || address || generation u32 || slot 32)`, minimal big-endian
  value; `H("nvm/evm/gen" || address)` the generation, bumped by SELFDESTRUCT, so wiping an
  account's storage is one write, not a scan.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth.abc import AccountDatabaseAPI
from eth.constants import BLANK_ROOT_HASH
from eth.typing import JournalDBCheckpoint
from eth_hash.auto import keccak
from eth_typing import Address, Hash32

from chain.accounts import lookup, resolve
from chain.hashing import H
from chain.ledger import erc20_map_slot, set_wei_balance, wei_balance
from chain.state import State

EMPTY_CODE_HASH = keccak(b"")
EXISTS = b"\x01"
ERC20_MARKER_CODE = b"\xfe"  # what an ERC-20 view of a mint shows as its code
EVM_NS = b"nvm/evm"  # the EVM's records; the TVM keeps its own under b"nvm/tvm" (engines/tvm/accounts.py)


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def account_key(address: bytes, ns: bytes = EVM_NS) -> bytes:
    return H(ns + b"/account" + address)


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def nonce_key(address: bytes, ns: bytes = EVM_NS) -> bytes:
    return H(ns + b"/nonce" + address)


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def code_key(address: bytes, ns: bytes = EVM_NS) -> bytes:
    return H(ns + b"/code" + address)


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def code_hash_key(address: bytes, ns: bytes = EVM_NS) -> bytes:
    return H(ns + b"/codehash" + address)


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def generation_key(address: bytes, ns: bytes = EVM_NS) -> bytes:
    return H(ns + b"/gen" + address)


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def slot_count_key(address: bytes, generation: int, ns: bytes = EVM_NS) -> bytes:
    """How many non-zero slots the account's storage holds: EIP-7610 makes creating over them a collision."""
    return H(ns + b"/nslots" + address + generation.to_bytes(4, "big"))


@lru_cache(maxsize=1 << 16)  # pure, and the same accounts come back transaction after transaction
def storage_key(address: bytes, generation: int, slot: int, ns: bytes = EVM_NS) -> bytes:
    return H(ns + b"/storage" + address + generation.to_bytes(4, "big") + slot.to_bytes(32, "big"))


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def _min_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


class SharedAccounts(AccountDatabaseAPI):
    """`db` is the chain's `State` (BaseState hands its `db` straight to this class)."""

    TAG = "evm"  # the reverse index's tag for this VM's addresses
    NS = EVM_NS  # the prefix of this VM's account records

    def __init__(self, db: Any, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        self.state: State = db
        self._warm: set[object] = set()
        self._warm_log: list[object] = []  # undo log of marks, cut back on discard
        # every address and (address, slot) warmed since the transaction began, reverted frames' too: what it
        # touched (eth_createAccessList reads it)
        self.accessed: set[object] = set()
        self._checkpoints: dict[int, int] = {}
        self._original: dict[tuple[bytes, int], int] = {}
        # every address and slot this database saw written: the conformance runner lists accounts from them
        self.touched: set[bytes] = set()
        self.slots_written: set[tuple[bytes, int]] = set()

    # -- roots: the chain's state root covers all of this, per block --------------------------
    @property
    def state_root(self) -> Hash32:
        return BLANK_ROOT_HASH

    @state_root.setter
    def state_root(self, value: Hash32) -> None:
        pass  # BaseState.revert() writes it back; the snapshot already restored everything

    def has_root(self, state_root: bytes) -> bool:
        return True

    def make_state_root(self) -> Hash32:
        return BLANK_ROOT_HASH

    def persist(self) -> Any:
        raise RuntimeError("the chain persists the shared state per block; py-evm never does")

    # -- balance -----------------------------------------------------------------------------
    def get_balance(self, address: Address) -> int:
        id_com = lookup(self.state, self.TAG, self.chain_address(address))
        return 0 if id_com is None else self.read_balance(id_com)

    def set_balance(self, address: Address, balance: int) -> None:
        id_com = lookup(self.state, self.TAG, self.chain_address(address))
        if id_com is None:
            if balance == 0:
                self._mark(address)
                return
            id_com = resolve(self.state, self.TAG, self.chain_address(address))  # first receipt binds its identity
        self.write_balance(id_com, balance)
        self._mark(address)

    # -- what makes this the EVM's namespace (the TVM overrides these: engines/tvm/accounts.py) ------
    @staticmethod
    def chain_address(address: bytes) -> bytes:
        """The address as the reverse index keys it under `TAG`."""
        return address

    def read_balance(self, id_com: bytes) -> int:
        return wei_balance(self.state, id_com)

    def write_balance(self, id_com: bytes, value: int) -> None:
        set_wei_balance(self.state, id_com, value)

    # -- nonce and code ----------------------------------------------------------------------
    def get_nonce(self, address: Address) -> int:
        return _int(self.state.get(nonce_key(address, self.NS)))

    def set_nonce(self, address: Address, nonce: int) -> None:
        if nonce:
            self.state.set(nonce_key(address, self.NS), nonce.to_bytes(8, "big"))
        else:
            self.state.delete(nonce_key(address, self.NS))
        self._mark(address)

    def increment_nonce(self, address: Address) -> None:
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code(self, address: Address) -> bytes:
        code = self.state.get(code_key(address, self.NS))
        if code is None and self.state.get(erc20_map_slot(address)) is not None:
            return ERC20_MARKER_CODE  # a mint's ERC-20 view: tools see a contract
        return code or b""

    def set_code(self, address: Address, code: bytes) -> None:
        if code:
            self.state.set(code_key(address, self.NS), code)
            self.state.set(code_hash_key(address, self.NS), keccak(code))
        else:
            self.state.delete(code_key(address, self.NS))
            self.state.delete(code_hash_key(address, self.NS))
        self._mark(address)

    def get_code_hash(self, address: Address) -> Hash32:
        stored = self.state.get(code_hash_key(address, self.NS))
        return Hash32(stored if stored is not None else keccak(self.get_code(address)))

    def delete_code(self, address: Address) -> None:
        self.set_code(address, b"")

    # -- storage -----------------------------------------------------------------------------
    def _slot_key(self, address: bytes, slot: int) -> bytes:
        return storage_key(address, _int(self.state.get(generation_key(address, self.NS))), slot, self.NS)

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        if not from_journal and (address, slot) in self._original:
            return self._original[(address, slot)]  # the value when the transaction began (SSTORE gas)
        return _int(self.state.get(self._slot_key(address, slot)))

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        generation = _int(self.state.get(generation_key(address, self.NS)))
        key = storage_key(address, generation, slot, self.NS)
        current = _int(self.state.get(key))
        if (address, slot) not in self._original:
            self._original[(address, slot)] = current
        if bool(current) != bool(value):
            count_key = slot_count_key(address, generation, self.NS)
            count = _int(self.state.get(count_key)) + (1 if value else -1)
            if count:
                self.state.set(count_key, count.to_bytes(8, "big"))
            else:
                self.state.delete(count_key)
        if value:
            self.state.set(key, _min_bytes(value))
        else:
            self.state.delete(key)
        self.touched.add(address)
        self.slots_written.add((address, slot))

    def delete_storage(self, address: Address) -> None:
        generation = _int(self.state.get(generation_key(address, self.NS))) + 1
        self.state.set(generation_key(address, self.NS), generation.to_bytes(4, "big"))
        # the new generation is empty: every slot now reads zero, and so does its original value
        self._original = {k: v for k, v in self._original.items() if k[0] != address}
        self.touched.add(address)

    # -- existence ---------------------------------------------------------------------------
    def _mark(self, address: bytes) -> None:
        if self.state.get(account_key(address, self.NS)) is None:
            self.state.set(account_key(address, self.NS), EXISTS)
        self.touched.add(address)

    def _has_code_or_nonce(self, address: bytes) -> bool:
        return self.get_nonce(Address(address)) != 0 or self.get_code(Address(address)) != b""

    def account_has_code_or_nonce(self, address: Address) -> bool:
        """py-evm asks this only to detect a creation's address collision; EIP-7610 adds storage to it."""
        generation = _int(self.state.get(generation_key(address, self.NS)))
        return self._has_code_or_nonce(address) or self.state.get(slot_count_key(address, generation, self.NS)) is not None

    def account_exists(self, address: Address) -> bool:
        return self.state.get(account_key(address, self.NS)) is not None or self.get_balance(address) > 0

    def touch_account(self, address: Address) -> None:
        self._mark(address)

    def account_is_empty(self, address: Address) -> bool:
        return not self._has_code_or_nonce(address) and self.get_balance(address) == 0  # EIP-161: storage aside

    def delete_account(self, address: Address) -> None:
        """SELFDESTRUCT's end and EIP-161's clearing: the account goes; its identity (and any balance
        it holds in other VMs' terms) stays, since identities are never deleted."""
        if self.get_balance(address):
            self.set_balance(address, 0)
        self.state.delete(nonce_key(address, self.NS))
        self.state.delete(code_key(address, self.NS))
        self.state.delete(code_hash_key(address, self.NS))
        self.delete_storage(address)
        self.state.delete(account_key(address, self.NS))

    # -- warm / cold (EIP-2929), journaled with the checkpoints ------------------------------
    def _warm_up(self, item: object) -> None:
        if item not in self._warm:
            self._warm.add(item)
            self._warm_log.append(item)
            self.accessed.add(item)

    def is_address_warm(self, address: Address) -> bool:
        return address in self._warm

    def mark_address_warm(self, address: Address) -> None:
        self._warm_up(address)

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return (address, slot) in self._warm

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        self._warm_up((address, slot))

    # -- checkpoints -------------------------------------------------------------------------
    def record(self) -> JournalDBCheckpoint:
        snap = self.state.snapshot()
        self._checkpoints[snap] = len(self._warm_log)
        return JournalDBCheckpoint(snap)

    def discard(self, checkpoint: JournalDBCheckpoint) -> None:
        self.state.revert(checkpoint)
        self._cut_warm(checkpoint)

    def commit(self, checkpoint: JournalDBCheckpoint) -> None:
        self.state.commit(checkpoint)
        self._checkpoints = {k: v for k, v in self._checkpoints.items() if k < checkpoint}

    def _cut_warm(self, checkpoint: int) -> None:
        keep = self._checkpoints.get(checkpoint, len(self._warm_log))
        for item in self._warm_log[keep:]:
            self._warm.discard(item)
        del self._warm_log[keep:]
        self._checkpoints = {k: v for k, v in self._checkpoints.items() if k < checkpoint}

    def lock_changes(self) -> None:
        """A new transaction: nothing is warm, and original storage values are read afresh."""
        self._warm.clear()
        self._warm_log.clear()
        self.accessed.clear()
        self._checkpoints.clear()
        self._original.clear()
