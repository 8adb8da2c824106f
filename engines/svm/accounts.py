"""SVM accounts over the shared state (SPEC §3, docs/PROTOCOL.md §13).

An account's lamports are not stored with it: they are the unified native balance (base units, 1:1
lamports) of the identity its pubkey is bound to in the reverse index. A pubkey never seen has no
identity and no lamports; crediting it binds its legacy identity (chain.accounts.resolve).

What else an account holds lives in one record, `H("nvm/svm/acct" || pubkey)` →
`owner 32 || flags u8 (bit 0: executable) || data`, present only for an account that is not a plain
system account (owner not the System program, or data allocated). Built-in programs and sysvars
answer as Solana's do; SPL mints and token accounts are views of the ledger (engines/svm/token.py)
and are answered through `VIEWS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from chain.accounts import lookup, resolve
from chain.hashing import H
from chain.ledger import NATIVE_MINT, balance
from chain.state import State

SYSTEM_PROGRAM = bytes(32)
ACCOUNT_STORAGE_OVERHEAD = 128  # bytes Solana charges rent for on top of the data
LAMPORTS_PER_BYTE_YEAR = 3480
EXEMPTION_THRESHOLD_YEARS = 2
MAX_PERMITTED_DATA_LENGTH = 10 * 1024 * 1024  # Solana's largest account
RENT_EPOCH_EXEMPT = 2**64 - 1  # what Solana shows as rentEpoch for rent-exempt accounts
EXECUTABLE = 0x01


def rent_exempt_minimum(size: int) -> int:
    """Solana's `Rent::default().minimum_balance(size)`: two years of rent at 3,480 lamports per byte-year."""
    return (ACCOUNT_STORAGE_OVERHEAD + size) * LAMPORTS_PER_BYTE_YEAR * EXEMPTION_THRESHOLD_YEARS


@dataclass(frozen=True)
class Account:
    """An account as Solana clients see it."""

    lamports: int
    owner: bytes
    data: bytes = b""
    executable: bool = False

    @property
    def space(self) -> int:
        return len(self.data)


@lru_cache(maxsize=1 << 14)
def record_key(pubkey: bytes) -> bytes:
    return H(b"nvm/svm/acct" + pubkey)


def get_record(state: State, pubkey: bytes) -> tuple[bytes, bool, bytes] | None:
    """(owner, executable, data) of an account with a record."""
    raw = state.get(record_key(pubkey))
    if raw is None:
        return None
    return raw[:32], bool(raw[32] & EXECUTABLE), raw[33:]


def put_record(state: State, pubkey: bytes, owner: bytes, data: bytes, executable: bool = False) -> None:
    """Store an account's owner and data; a plain system account (system-owned, no data) keeps no record."""
    if owner == SYSTEM_PROGRAM and not data and not executable:
        state.delete(record_key(pubkey))
    else:
        state.set(record_key(pubkey), owner + bytes((EXECUTABLE if executable else 0,)) + data)


def identity_of(state: State, pubkey: bytes) -> bytes | None:
    return lookup(state, "svm", pubkey)


def identity_for(state: State, pubkey: bytes) -> bytes:
    """The identity behind a pubkey, its legacy identity bound now if it had none."""
    return resolve(state, "svm", pubkey)


def lamports(state: State, pubkey: bytes) -> int:
    who = identity_of(state, pubkey)
    return 0 if who is None else balance(state, NATIVE_MINT, who)


# (state, pubkey) -> the account, if the pubkey is one a program shows as a view of the ledger.
View = Callable[[State, bytes], Account | None]
VIEWS: list[View] = []
# pubkey -> the state keys a view reads to find that the pubkey is not one of its accounts (access sets)
VIEW_KEYS: list[Callable[[bytes], list[bytes]]] = []
# Built-in programs and sysvars: pubkey -> (owner, data) — filled in by engines/svm/programs.py.
FIXED: dict[bytes, Callable[[State], Account]] = {}


def account_info(state: State, pubkey: bytes) -> Account | None:
    """What `getAccountInfo` shows for a pubkey: None for an account that does not exist."""
    fixed = FIXED.get(pubkey)
    if fixed is not None:
        return fixed(state)
    for view in VIEWS:
        found = view(state, pubkey)
        if found is not None:
            return found
    held = lamports(state, pubkey)
    record = get_record(state, pubkey)
    if record is not None:
        owner, executable, data = record
        return Account(held, owner, data, executable)
    return Account(held, SYSTEM_PROGRAM) if held else None
