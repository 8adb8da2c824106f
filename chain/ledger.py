"""The one token ledger's storage (SPEC §2–§3): mint records and balance slots, in base units.

Balances and supplies are u64; every credit checks overflow and every debit checks funds, and
a failure raises ExecutionError before anything is written. A zero balance is an absent key
(state values are never empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ExecutionError
from .hashing import U64_MAX, H, Reader
from .state import State

NATIVE_MINT = H(b"nvm/mint/native")  # SPEC §2
NATIVE_DECIMALS = 9  # SPEC §3


def balance_slot(mint: bytes, id_com: bytes) -> bytes:
    return H(b"nvm/bal" + mint + id_com)


def allowance_slot(mint: bytes, owner: bytes, spender: bytes) -> bytes:
    return H(b"nvm/allow" + mint + owner + spender)


def mint_slot(mint: bytes) -> bytes:
    return H(b"nvm/mint" + mint)


@dataclass(frozen=True)
class MintRecord:
    """`supply u64 || decimals u8 || authority 32 || u8 len || symbol || u8 len || name` (docs/PROTOCOL.md)."""

    supply: int
    decimals: int
    authority: bytes
    symbol: str
    name: str

    def encode(self) -> bytes:
        sym, name = self.symbol.encode(), self.name.encode()
        return b"".join(
            (
                self.supply.to_bytes(8, "big"),
                bytes((self.decimals,)),
                self.authority,
                bytes((len(sym),)),
                sym,
                bytes((len(name),)),
                name,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> MintRecord:
        r = Reader(data)
        rec = cls(r.uint(8), r.uint(1), r.take(32), r.var(1).decode(), r.var(1).decode())
        r.done()
        return rec


def get_mint(state: State, mint: bytes) -> MintRecord | None:
    raw = state.get(mint_slot(mint))
    return None if raw is None else MintRecord.decode(raw)


def put_mint(state: State, mint: bytes, record: MintRecord) -> None:
    state.set(mint_slot(mint), record.encode())


def balance(state: State, mint: bytes, id_com: bytes) -> int:
    raw = state.get(balance_slot(mint, id_com))
    return 0 if raw is None else int.from_bytes(raw, "big")


def _set_balance(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    slot = balance_slot(mint, id_com)
    if amount:
        state.set(slot, amount.to_bytes(8, "big"))
    else:
        state.delete(slot)


def credit(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    new = balance(state, mint, id_com) + amount
    if amount < 0 or new > U64_MAX:
        raise ExecutionError("balance would exceed the u64 maximum", "overflow")
    _set_balance(state, mint, id_com, new)


def debit(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    have = balance(state, mint, id_com)
    if amount < 0 or amount > have:
        raise ExecutionError(f"insufficient funds: have {have}, need {amount} base units", "insufficient_funds")
    _set_balance(state, mint, id_com, have - amount)


def mint_to(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    """Create `amount` new units for `id_com`, raising the supply; both checked before either is written."""
    record = get_mint(state, mint)
    if record is None:
        raise ExecutionError("no such mint", "unknown_mint")
    supply = record.supply + amount
    if amount < 0 or supply > U64_MAX:
        raise ExecutionError("supply would exceed the u64 maximum", "overflow")
    credit(state, mint, id_com, amount)
    put_mint(state, mint, MintRecord(supply, record.decimals, record.authority, record.symbol, record.name))
