"""The one token ledger's storage (SPEC §2–§3): mint records and balance slots, in base units.

Balances and supplies are u64; every credit checks overflow and every debit checks funds, and
a failure raises ExecutionError before anything is written. A zero balance is an absent key
(state values are never empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from . import coins
from .errors import ExecutionError
from .hashing import U64_MAX, H, Reader
from .identity import erc20_address
from .state import State

NATIVE_MINT = H(b"nvm/mint/native")  # SPEC §2
NATIVE_DECIMALS = 9  # SPEC §3
FEE_COLLECTOR = H(b"nvm/fee-collector")  # the id_com every VM pays fees to, so fees never change the supply


@lru_cache(maxsize=1 << 16)  # pure; the same accounts come back block after block
def balance_slot(mint: bytes, id_com: bytes) -> bytes:
    return H(b"nvm/bal" + mint + id_com)


def allowance_slot(mint: bytes, owner: bytes, spender: bytes) -> bytes:
    return H(b"nvm/allow" + mint + owner + spender)


@lru_cache(maxsize=4096)
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


@lru_cache(maxsize=1 << 16)
def erc20_map_slot(erc20: bytes) -> bytes:
    """Which mint answers at an ERC-20 address (SPEC §2 derives the address from the mint; this inverts it)."""
    return H(b"nvm/erc20map" + erc20)


def put_mint(state: State, mint: bytes, record: MintRecord) -> None:
    slot = mint_slot(mint)
    if state.get(slot) is None:
        state.note("mint", mint)  # the store lists mints for balance look-ups
        state.set(erc20_map_slot(erc20_address(mint)), mint)
    state.set(slot, record.encode())


def mint_exists(state: State, mint: bytes) -> bool:
    return state.get(mint_slot(mint)) is not None


def amount_of(raw: bytes | None) -> int:
    """The amount in a balance slot's value (a native one carries its coin version after it)."""
    return 0 if raw is None else int.from_bytes(raw[:8], "big")


def ui_amount(amount: int, decimals: int) -> str:
    """Base units in whole units, exact and trimmed as spl-token's `amount_to_ui_amount_string_trimmed` writes them:
    1500000 at 6 decimals is "1.5", 0 is "0"."""
    sign, digits = ("-" if amount < 0 else ""), str(abs(amount))
    if decimals == 0:
        return sign + digits
    text = digits.rjust(decimals + 1, "0")
    fraction = text[-decimals:].rstrip("0")
    return sign + text[:-decimals] + ("." + fraction if fraction else "")


def sun_text(sun: int) -> str:
    """An amount of TRX as Tron's wallets and this node's pages write it: "1,000 sun (0.001 TRX)"."""
    return f"{sun:,} sun ({ui_amount(sun, 6)} TRX)"


def balance(state: State, mint: bytes, id_com: bytes) -> int:
    return amount_of(state.get(balance_slot(mint, id_com)))


def _set_balance(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    slot = balance_slot(mint, id_com)
    _store(state, mint, id_com, slot, state.get(slot), amount)
    state.note("party", id_com)


def _store(state: State, mint: bytes, id_com: bytes, slot: bytes, raw: bytes | None, amount: int) -> None:
    """Write a new amount. A user mint's zero balance is an absent key. A native balance keeps its coin
    version (chain/coins.py), one more for every change, so it stays even at zero; a Bitcoin wallet's coin
    index moves to the new coin."""
    if mint != NATIVE_MINT:
        if amount:
            state.set(slot, amount.to_bytes(8, "big"))
        else:
            state.delete(slot)
        return
    old, version, wallet = coins.split(raw)
    if amount == old:
        return  # no change, no new coin
    state.set(slot, coins.join(amount, version + 1, wallet))
    if wallet:
        state.delete(coins.coin_index_key(coins.coin_txid(id_com, version)))
        state.set(coins.coin_index_key(coins.coin_txid(id_com, version + 1)), coins.index_entry(id_com, state.block))


def mark_bitcoin_wallet(state: State, id_com: bytes, script_pubkey: bytes) -> None:
    """A raw Bitcoin transaction may spend this identity's coin (locked by `script_pubkey`): flag it, keep its
    script and index its current coin."""
    state.set(coins.script_key(id_com), script_pubkey)
    slot = balance_slot(NATIVE_MINT, id_com)
    amount, version, wallet = coins.split(state.get(slot))
    if not wallet:
        state.set(slot, coins.join(amount, version, True))
        state.set(coins.coin_index_key(coins.coin_txid(id_com, version)), coins.index_entry(id_com, state.block))


def coin_version(state: State, id_com: bytes) -> int:
    return coins.split(state.get(balance_slot(NATIVE_MINT, id_com)))[1]


def credit(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    slot = balance_slot(mint, id_com)
    raw = state.get(slot)
    new = amount_of(raw) + amount
    if amount < 0 or new > U64_MAX:
        raise ExecutionError("balance would exceed the u64 maximum", "overflow")
    _store(state, mint, id_com, slot, raw, new)
    state.note("party", id_com)


def debit(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    slot = balance_slot(mint, id_com)
    raw = state.get(slot)
    have = amount_of(raw)
    if amount < 0 or amount > have:
        raise ExecutionError(f"insufficient funds: have {have}, need {amount} base units", "insufficient_funds")
    _store(state, mint, id_com, slot, raw, have - amount)
    state.note("party", id_com)


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


def transfer(state: State, mint: bytes, source: bytes, dest: bytes, amount: int) -> None:
    """Move `amount` base units between two balance slots of one mint: the only two keys written."""
    if amount < 0:
        raise ExecutionError("amount must not be negative", "bad_amount")
    if source == dest:
        if balance(state, mint, source) < amount:
            raise ExecutionError(f"insufficient funds: need {amount} base units", "insufficient_funds")
        return
    debit(state, mint, source, amount)
    credit(state, mint, dest, amount)


def burn(state: State, mint: bytes, id_com: bytes, amount: int) -> None:
    record = get_mint(state, mint)
    if record is None:
        raise ExecutionError("no such mint", "unknown_mint")
    debit(state, mint, id_com, amount)
    put_mint(state, mint, MintRecord(record.supply - amount, record.decimals, record.authority, record.symbol, record.name))


def allowance(state: State, mint: bytes, owner: bytes, spender: bytes) -> int:
    raw = state.get(allowance_slot(mint, owner, spender))
    return 0 if raw is None else int.from_bytes(raw, "big")


def approve(state: State, mint: bytes, owner: bytes, spender: bytes, amount: int) -> None:
    if not 0 <= amount <= U64_MAX:
        raise ExecutionError("allowance must fit in a u64", "overflow")
    slot = allowance_slot(mint, owner, spender)
    if amount:
        state.set(slot, amount.to_bytes(8, "big"))
    else:
        state.delete(slot)
    state.note("party", owner)
    state.note("party", spender)


def spend_allowance(state: State, mint: bytes, owner: bytes, spender: bytes, amount: int) -> None:
    have = allowance(state, mint, owner, spender)
    if amount > have:
        raise ExecutionError(f"allowance too small: {have} approved, {amount} asked", "insufficient_allowance")
    approve(state, mint, owner, spender, have - amount)


# -- unit views (SPEC §3) --------------------------------------------------------------------
WEI_PER_BASE = 10**9  # EVM: 18 decimals over the native 9
BASE_PER_SUN = 1_000  # TVM: 6 decimals
BASE_PER_SAT = 10  # BVM: 8 decimals
DUST_LIMIT = WEI_PER_BASE  # dust is always < 1 base unit


@lru_cache(maxsize=1 << 16)
def dust_slot(id_com: bytes) -> bytes:
    """Sub-base-unit wei of an identity's native balance (SPEC §3), u32."""
    return H(b"nvm/dust" + id_com)


def wei_balance(state: State, id_com: bytes) -> int:
    raw = state.get(dust_slot(id_com))
    return balance(state, NATIVE_MINT, id_com) * WEI_PER_BASE + (0 if raw is None else int.from_bytes(raw, "big"))


def set_wei_balance(state: State, id_com: bytes, wei: int) -> None:
    """Set a native balance given in wei, keeping the sub-gwei remainder in the dust slot; nothing is rounded."""
    base, dust = divmod(wei, WEI_PER_BASE)
    if wei < 0 or base > U64_MAX:
        raise ExecutionError("balance out of the u64 range of base units", "overflow")
    _set_balance(state, NATIVE_MINT, id_com, base)
    if dust:
        state.set(dust_slot(id_com), dust.to_bytes(4, "big"))
    else:
        state.delete(dust_slot(id_com))


def sun_balance(state: State, id_com: bytes) -> int:
    return balance(state, NATIVE_MINT, id_com) // BASE_PER_SUN


def set_sun_balance(state: State, id_com: bytes, sun: int) -> None:
    """Set a native balance given in sun (the TVM's view): whole sun move, the sub-sun remainder stays."""
    base = balance(state, NATIVE_MINT, id_com)
    new = sun * BASE_PER_SUN + base % BASE_PER_SUN
    if sun < 0 or new > U64_MAX:
        raise ExecutionError("balance out of the u64 range of base units", "overflow")
    _set_balance(state, NATIVE_MINT, id_com, new)


def sat_balance(state: State, id_com: bytes) -> int:
    return balance(state, NATIVE_MINT, id_com) // BASE_PER_SAT
