"""SPL Token (`TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA`) as a view of the one ledger (SPEC §2–§3,
docs/PROTOCOL.md §13).

Instructions are spl-token's own encodings (first byte the instruction tag, little-endian fields, a
`COption<Pubkey>` in instruction data as a u8 tag then 32 bytes) and so are its checks, their order,
its `TokenError` custom codes and its log lines ("Instruction: TransferChecked"). Tokens are never
copied into SVM accounts: an SPL mint *is* a ledger mint and a token account is a window on one
ledger balance slot, so the ERC-20 view, the native view and SPL always show the same numbers.

**Mints.** An SPL mint's pubkey is its ledger mint id. InitializeMint on an 82-byte account that the
System program created for the Token program creates the ledger mint (supply 0, the decimals,
authority = the identity of the mint authority's pubkey, empty symbol and name). Any ledger mint —
made here, by the native runtime or in genesis — reads as an initialized mint in the 82-byte SPL
layout, rebuilt from the ledger on every read. What the ledger cannot say is kept in

    H("nvm/svm/mint" || mint) → mint_authority 32 || freeze tag u8 (0/1) || freeze_authority 32   (65 bytes)

`mint_authority` is the pubkey the ledger authority was set from; it is shown only while the ledger
authority is still that pubkey's identity. Otherwise (a mint made elsewhere, or no record) the mint
authority shows as the authority identity's SVM address (`vm_address(id_com, "svm")`), and a ledger
authority of 32 zero bytes is "no mint authority" (fixed supply).

**Token accounts.** A token account is registered by InitializeAccount/2/3 on a 165-byte account the
System program created for the Token program (the Associated Token Account program does this), or on
the fly (below). Its record is

    H("nvm/svm/token" || pubkey) → mint 32 || owner 32 || holder 32 || delegate tag u8 (0/1) || delegate 32
                                   || close tag u8 (0/1) || close_authority 32                      (162 bytes)

`holder` is the identity whose ledger balance the account shows: for the associated token account of
(wallet, mint) the wallet's own identity — so a wallet's ATA shows exactly its ERC-20 and native
balance — and for any other token account the identity of the token account's own pubkey. amount =
`balance(mint, holder)`; delegated_amount = `allowance(mint, holder, identity(delegate))`: Approve
writes that ledger allowance, a delegate's transfer spends it, Revoke zeroes it. The 165-byte SPL
Account layout is built on every read. Two windows on one balance slot (the ATAs of two pubkeys bound
to the same identity) show the same amount, since they are the same balance.

Both kinds are answered through `accounts.VIEWS`, which `account_info` consults before raw records:
the raw record the System program wrote (owner Token program, zeroed data) stays as the account's
shell, so the System program and the fee-payer checks keep treating it as a program-owned account
with data, but its bytes are never shown. An associated token account that was never created has no
record and no view (`account_info` answers None, so the ATA program can still create it); its balance
is listed by `owned_token_accounts`, and a TransferChecked, BurnChecked, Burn or ApproveChecked from
it signed by its wallet registers it on the fly.

Not on this devnet, each a clear error: multisig authorities (InitializeMultisig/2), FreezeAccount and
ThawAccount (a freeze could not hold against the ERC-20 and native views of the same balance), native
SOL accounts (there is no wrapped SOL: SyncNative answers NonNativeNotSupported, as for any other
account), any token account of the native mint (its mint account is shown, but the native token is
every wallet's lamports: an SPL account of it would show one balance twice and move lamports outside the
System program's rules), and a new owner for an ATA (its balance is its wallet's own).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache

from solders.pubkey import Pubkey

from chain.errors import ExecutionError
from chain.hashing import U64_MAX, ZERO32, H
from chain.identity import vm_address
from chain.ledger import (
    NATIVE_MINT,
    MintRecord,
    allowance,
    approve,
    balance,
    burn,
    get_mint,
    mint_slot,
    mint_to,
    put_mint,
    spend_allowance,
    transfer,
    ui_amount,
)
from chain.state import State

from . import accounts as acc
from .accounts import SYSTEM_PROGRAM, Account, identity_for, identity_of, rent_exempt_minimum
from .engine import DESCRIBERS, TOKEN_BALANCES
from .errors import ProgramError, custom
from .programs import ATA_PROGRAM, RENT_SYSVAR, TOKEN_PROGRAM, Data, pubkey
from .receipt import TokenBalance
from .runtime import Invocation, Meta, b58, register

MINT_LEN = 82  # spl-token's Mint::LEN
ACCOUNT_LEN = 165  # spl-token's Account::LEN
INCINERATOR = pubkey("1nc1nerator11111111111111111111111111111111")

# TokenError (spl-token 3.x / 4.x), as custom program errors.
NOT_RENT_EXEMPT = 0
INSUFFICIENT_FUNDS = 1
INVALID_MINT = 2
MINT_MISMATCH = 3
OWNER_MISMATCH = 4
FIXED_SUPPLY = 5
ALREADY_IN_USE = 6
NATIVE_NOT_SUPPORTED = 10
# The native token already is every wallet's lamports: an SPL account of it would show one balance twice
# in a wallet (as SOL and as a token) and move lamports without the System program's rules.
NATIVE_AS_LAMPORTS = "the native token is lamports on the SVM: move it with the System program"
NON_NATIVE_HAS_BALANCE = 11
INVALID_INSTRUCTION = 12
OVERFLOW = 14
AUTHORITY_TYPE_NOT_SUPPORTED = 15
MINT_CANNOT_FREEZE = 16
MINT_DECIMALS_MISMATCH = 18
NON_NATIVE_NOT_SUPPORTED = 19

# Compute units per instruction: approximations of what spl-token 3.x (4.0 on mainnet) consumes, read
# from mainnet logs; the real program's cost varies a little with its path.
COMPUTE_UNITS = {
    0: 3_000,  # InitializeMint (reads the Rent sysvar account)
    1: 4_500,  # InitializeAccount
    2: 3_000,  # InitializeMultisig
    3: 4_645,  # Transfer
    4: 2_904,  # Approve
    5: 2_800,  # Revoke
    6: 3_000,  # SetAuthority
    7: 4_500,  # MintTo
    8: 4_750,  # Burn
    9: 2_915,  # CloseAccount
    10: 4_200,  # FreezeAccount
    11: 4_200,  # ThawAccount
    12: 6_200,  # TransferChecked
    13: 4_450,  # ApproveChecked
    14: 4_550,  # MintToChecked
    15: 4_800,  # BurnChecked
    16: 4_400,  # InitializeAccount2
    17: 3_000,  # SyncNative
    18: 4_200,  # InitializeAccount3
    19: 2_900,  # InitializeMultisig2
    20: 2_900,  # InitializeMint2
    21: 1_569,  # GetAccountDataSize
    22: 1_405,  # InitializeImmutableOwner
    23: 2_600,  # AmountToUiAmount
    24: 3_034,  # UiAmountToAmount
}
DECODE_CU = 1_000  # an instruction the program cannot decode

# SetAuthority's AuthorityType
MINT_TOKENS, FREEZE_ACCOUNT, ACCOUNT_OWNER, CLOSE_ACCOUNT = range(4)


# -- the views ------------------------------------------------------------------------------------
@lru_cache(maxsize=1 << 14)
def ata_address(wallet: bytes, mint: bytes) -> bytes:
    """The associated token account of (wallet, mint): `find_program_address([wallet, TOKEN_PROGRAM, mint], ATA_PROGRAM)`."""
    return derive_ata(wallet, TOKEN_PROGRAM, mint)


def derive_ata(wallet: bytes, token_program: bytes, mint: bytes) -> bytes:
    """The ATA address for any token program (the ATA program derives with the one it is given)."""
    address, _bump = Pubkey.find_program_address([wallet, token_program, mint], Pubkey(ATA_PROGRAM))
    return bytes(address)


def _option(value: bytes | None) -> bytes:
    """A COption<Pubkey> in account data: u32 LE tag (0/1) then 32 bytes (zeros for None)."""
    return struct.pack("<I", 0) + ZERO32 if value is None else struct.pack("<I", 1) + value


@dataclass(frozen=True)
class MintInfo:
    """A ledger mint as SPL shows it."""

    mint_authority: bytes | None
    supply: int
    decimals: int
    freeze_authority: bytes | None

    def pack(self) -> bytes:
        """The 82-byte SPL Mint layout: mint_authority COption, supply u64, decimals u8, is_initialized u8 (1),
        freeze_authority COption."""
        return b"".join(
            (
                _option(self.mint_authority),
                struct.pack("<QBB", self.supply, self.decimals, 1),
                _option(self.freeze_authority),
            )
        )


@dataclass(frozen=True)
class TokenAccount:
    """A token account as SPL shows it, and the ledger balance slot behind it."""

    mint: bytes
    owner: bytes
    holder: bytes  # the id_com whose ledger balance this account shows
    amount: int
    decimals: int  # the mint's
    delegate: bytes | None = None
    delegated_amount: int = 0
    close_authority: bytes | None = None
    registered: bool = True  # False: an associated token account not created yet, listed for its balance

    def pack(self) -> bytes:
        """The 165-byte SPL Account layout: mint, owner, amount u64, delegate COption, state u8 (1 = initialized),
        is_native COption<u64> (None), delegated_amount u64, close_authority COption."""
        return b"".join(
            (
                self.mint,
                self.owner,
                struct.pack("<Q", self.amount),
                _option(self.delegate),
                b"\x01",
                bytes(12),
                struct.pack("<Q", self.delegated_amount),
                _option(self.close_authority),
            )
        )


@lru_cache(maxsize=1 << 14)
def mint_record_key(mint: bytes) -> bytes:
    return H(b"nvm/svm/mint" + mint)


@lru_cache(maxsize=1 << 16)
def token_record_key(pubkey: bytes) -> bytes:
    return H(b"nvm/svm/token" + pubkey)


def mint_info(state: State, mint: bytes) -> MintInfo | None:
    """The SPL view of a ledger mint; None if no ledger mint has this id."""
    record = get_mint(state, mint)
    if record is None:
        return None
    spl = state.get(mint_record_key(mint))
    authority: bytes | None = None
    if record.authority != ZERO32:
        named = None if spl is None else spl[:32]
        still_named = named is not None and identity_of(state, named) == record.authority
        authority = named if still_named else vm_address(record.authority, "svm")
    freeze = None if spl is None else _stored_key(spl[32:65])
    return MintInfo(authority, record.supply, record.decimals, freeze)


def _put_mint_authorities(state: State, mint: bytes, authority: bytes | None, freeze: bytes | None) -> None:
    state.set(mint_record_key(mint), (authority or ZERO32) + _stored_option(freeze))


def _stored_option(key: bytes | None) -> bytes:
    """An optional pubkey in this module's records: u8 tag (0/1) then 32 bytes (zeros for None)."""
    return b"\x00" + ZERO32 if key is None else b"\x01" + key


def _stored_key(raw: bytes) -> bytes | None:
    return raw[1:33] if raw[0] else None


def token_account(state: State, pubkey: bytes) -> TokenAccount | None:
    """The registered token account at `pubkey` (None for any other pubkey, an uncreated ATA included)."""
    raw = state.get(token_record_key(pubkey))
    if raw is None:
        return None
    mint, owner, holder = raw[:32], raw[32:64], raw[64:96]
    delegate, close = _stored_key(raw[96:129]), _stored_key(raw[129:162])
    record = get_mint(state, mint)
    assert record is not None, "a token account's mint is a ledger mint, and mints are never removed"
    spender = None if delegate is None else identity_of(state, delegate)
    delegated = 0 if spender is None else allowance(state, mint, holder, spender)
    return TokenAccount(mint, owner, holder, balance(state, mint, holder), record.decimals, delegate, delegated, close)


def _put_token(state: State, pubkey: bytes, account: TokenAccount) -> None:
    """Store a token account's record: the facts the ledger does not hold (its amount and delegated amount it does)."""
    stored = (
        account.mint + account.owner + account.holder + _stored_option(account.delegate) + _stored_option(account.close_authority)
    )
    state.set(token_record_key(pubkey), stored)


def owned_token_accounts(state: State, wallet: bytes, mints: Iterable[bytes]) -> list[tuple[bytes, TokenAccount]]:
    """The wallet's associated token accounts among `mints`, as (pubkey, account): registered ones, and
    uncreated ones that hold a balance (`registered=False`). Token accounts a wallet owns at other
    addresses cannot be found from the state (records are keyed by account, not by owner): callers
    (the Solana JSON-RPC) pass every mint they know of, and look other accounts up by pubkey."""
    out = []
    for mint in mints:
        if mint == NATIVE_MINT:
            continue  # the wallet's lamports (NATIVE_AS_LAMPORTS)
        address = ata_address(wallet, mint)
        found = token_account(state, address)
        if found is not None:
            out.append((address, found))  # an ATA's owner never changes (SetAuthority refuses it)
            continue
        record, holder = get_mint(state, mint), identity_of(state, wallet)
        amount = 0 if record is None or holder is None else balance(state, mint, holder)
        if record is not None and holder is not None and amount:
            out.append((address, TokenAccount(mint, wallet, holder, amount, record.decimals, registered=False)))
    return out


def _view(state: State, pubkey: bytes) -> Account | None:
    mint = mint_info(state, pubkey)
    if mint is not None:
        return Account(acc.lamports(state, pubkey), TOKEN_PROGRAM, mint.pack())
    found = token_account(state, pubkey)
    if found is not None:
        return Account(acc.lamports(state, pubkey), TOKEN_PROGRAM, found.pack())
    return None


def _view_keys(pubkey: bytes) -> list[bytes]:
    """What `_view` reads to find that a pubkey is neither a mint nor a token account (for access sets)."""
    return [mint_slot(pubkey), token_record_key(pubkey)]


acc.VIEWS.append(_view)
acc.VIEW_KEYS.append(_view_keys)


# -- reading accounts as the program does (Pack::unpack) ----------------------------------------------
def _token(inv: Invocation, meta: Meta) -> TokenAccount:
    found = token_account(inv.state, meta.pubkey)
    if found is None:
        raise _unpack_error(inv.state, meta.pubkey, ACCOUNT_LEN, "token account")
    return found


def _mint(inv: Invocation, mint: bytes) -> MintInfo:
    found = mint_info(inv.state, mint)
    if found is None:
        raise _unpack_error(inv.state, mint, MINT_LEN, "mint")
    return found


def _unpack_error(state: State, pubkey: bytes, size: int, what: str) -> ProgramError:
    """Pack::unpack's errors: data of another size is InvalidAccountData, zeroed data UninitializedAccount."""
    info = acc.account_info(state, pubkey)
    if info is None or info.space != size:
        return ProgramError("InvalidAccountData", f"{b58(pubkey)} is not a {what} ({0 if info is None else info.space} bytes)")
    return ProgramError("UninitializedAccount", f"{b58(pubkey)} is not an initialized {what}")


def _owner(state: State, pubkey: bytes) -> bytes:
    info = acc.account_info(state, pubkey)
    return SYSTEM_PROGRAM if info is None else info.owner


def _write(inv: Invocation, meta: Meta) -> None:
    """What Solana's runtime checks when a program changes an account's data."""
    if not meta.writable:
        raise ProgramError("ReadonlyDataModified", f"{b58(meta.pubkey)} is not writable in this transaction")
    if _owner(inv.state, meta.pubkey) != TOKEN_PROGRAM:
        raise ProgramError("ExternalAccountDataModified", f"{b58(meta.pubkey)} is not owned by the Token program")


def _validate_owner(expected: bytes, meta: Meta) -> None:
    if meta.pubkey != expected:
        raise custom(OWNER_MISMATCH, f"the authority is {b58(expected)}, not {b58(meta.pubkey)}")
    if not meta.signer:
        raise ProgramError("MissingRequiredSignature", f"{b58(meta.pubkey)} must sign")


def _authorize(account: TokenAccount, authority: Meta, amount: int) -> bool:
    """The owner or the delegate may move tokens out; True when it is the delegate (its allowance is spent)."""
    if account.delegate is not None and authority.pubkey == account.delegate:
        _validate_owner(account.delegate, authority)
        if account.delegated_amount < amount:
            raise custom(INSUFFICIENT_FUNDS, f"the delegate may move {account.delegated_amount}, not {amount}")
        return True
    _validate_owner(account.owner, authority)
    return False


def _source(inv: Invocation, meta: Meta, mint: bytes, authority: Meta) -> TokenAccount:
    """A token account to move tokens out of; an uncreated ATA of `mint`, signed for by its wallet, is registered now."""
    state = inv.state
    if (
        meta.writable
        and authority.signer
        and state.get(token_record_key(meta.pubkey)) is None
        and meta.pubkey == ata_address(authority.pubkey, mint)
        and mint != NATIVE_MINT
        and get_mint(state, mint) is not None
    ):
        _put_token(state, meta.pubkey, TokenAccount(mint, authority.pubkey, identity_for(state, authority.pubkey), 0, 0))
    return _token(inv, meta)


def _check_mint(inv: Invocation, meta: Meta, mint: bytes, decimals: int | None) -> MintInfo:
    """The *Checked instructions' mint: the account's own, with the decimals the signer saw."""
    if meta.pubkey != mint:
        raise custom(MINT_MISMATCH, f"the account's mint is {b58(mint)}, not {b58(meta.pubkey)}")
    found = _mint(inv, mint)
    if decimals is not None and decimals != found.decimals:
        raise custom(MINT_DECIMALS_MISMATCH, f"the mint has {found.decimals} decimals, the instruction says {decimals}")
    return found


@contextmanager
def _ledger() -> Iterator[None]:
    """A ledger operation's own refusal (checked before, so only an overflow in practice) as a TokenError."""
    try:
        yield
    except ExecutionError as e:
        code = OVERFLOW if e.code == "overflow" else INSUFFICIENT_FUNDS
        raise custom(code, e.message) from None


def _forget_delegate(state: State, account: TokenAccount) -> None:
    """Zero the recorded delegate's ledger allowance (SPL has one delegate per account)."""
    spender = None if account.delegate is None else identity_of(state, account.delegate)
    if spender is not None:
        approve(state, account.mint, account.holder, spender, 0)


# -- instructions -----------------------------------------------------------------------------------
class _Args(Data):
    """spl-token's instruction fields; running short or a bad option tag is TokenError::InvalidInstruction."""

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise custom(INVALID_INSTRUCTION, "the instruction data ends early")
        return super().take(n)

    def option(self) -> bytes | None:
        tag = self.u8()
        if tag not in (0, 1):
            raise custom(INVALID_INSTRUCTION, f"an option tag is {tag}")
        return self.pubkey() if tag else None


@dataclass(frozen=True)
class _Ix:
    """A decoded instruction's fields (spl-token decodes the whole instruction before it runs any of it)."""

    amount: int = 0
    decimals: int | None = None  # the *Checked instructions' and InitializeMint's
    key: bytes = b""  # InitializeMint's mint authority, InitializeAccount2/3's owner
    option: bytes | None = None  # InitializeMint's freeze authority, SetAuthority's new authority
    kind: int = 0  # SetAuthority's authority type
    text: str = ""  # UiAmountToAmount's amount


def _no_fields(d: _Args) -> _Ix:
    return _Ix()


def _amount(d: _Args) -> _Ix:
    return _Ix(amount=d.u64())


def _amount_decimals(d: _Args) -> _Ix:
    return _Ix(amount=d.u64(), decimals=d.u8())


def _owner_key(d: _Args) -> _Ix:
    return _Ix(key=d.pubkey())


def _mint_fields(d: _Args) -> _Ix:
    return _Ix(decimals=d.u8(), key=d.pubkey(), option=d.option())


def _authority_fields(d: _Args) -> _Ix:
    kind = d.u8()
    if kind > CLOSE_ACCOUNT:
        raise custom(INVALID_INSTRUCTION, f"authority type {kind}")
    return _Ix(kind=kind, option=d.option())


def _ui_text(d: _Args) -> _Ix:
    try:
        return _Ix(text=d.data[1:].decode("utf-8"))
    except UnicodeDecodeError:
        raise custom(INVALID_INSTRUCTION, "the UI amount is not UTF-8") from None


def _rent_sysvar(inv: Invocation, n: int) -> None:
    if inv.account(n).pubkey != RENT_SYSVAR:
        raise ProgramError("InvalidArgument", "the Rent sysvar account is expected here")


def _initialize_mint(inv: Invocation, ix: _Ix, rent_account: bool) -> None:
    meta = inv.account(0)
    if rent_account:
        _rent_sysvar(inv, 1)
    state = inv.state
    info = acc.account_info(state, meta.pubkey)
    if info is None or info.space != MINT_LEN:
        raise ProgramError("InvalidAccountData", f"a mint account has {MINT_LEN} bytes")
    if get_mint(state, meta.pubkey) is not None:
        raise custom(ALREADY_IN_USE, f"{b58(meta.pubkey)} is already a mint")
    if info.lamports < rent_exempt_minimum(MINT_LEN):
        raise custom(NOT_RENT_EXEMPT, f"a mint needs {rent_exempt_minimum(MINT_LEN)} lamports")
    _write(inv, meta)
    assert ix.decimals is not None
    put_mint(state, meta.pubkey, MintRecord(0, ix.decimals, identity_for(state, ix.key), "", ""))
    _put_mint_authorities(state, meta.pubkey, ix.key, ix.option)


def _initialize_account(inv: Invocation, owner: bytes | None, rent_account: bool) -> None:
    meta, mint_meta = inv.account(0), inv.account(1)
    rent_at = 2
    if owner is None:
        owner, rent_at = inv.account(2).pubkey, 3
    if rent_account:
        _rent_sysvar(inv, rent_at)
    state = inv.state
    info = acc.account_info(state, meta.pubkey)
    if info is None or info.space != ACCOUNT_LEN:
        raise ProgramError("InvalidAccountData", f"a token account has {ACCOUNT_LEN} bytes")
    if state.get(token_record_key(meta.pubkey)) is not None:
        raise custom(ALREADY_IN_USE, f"{b58(meta.pubkey)} is already a token account")
    if info.lamports < rent_exempt_minimum(ACCOUNT_LEN):
        raise custom(NOT_RENT_EXEMPT, f"a token account needs {rent_exempt_minimum(ACCOUNT_LEN)} lamports")
    mint = mint_meta.pubkey
    if _owner(state, mint) != TOKEN_PROGRAM:
        raise ProgramError("IncorrectProgramId", f"{b58(mint)} is not owned by the Token program")
    record = get_mint(state, mint)
    if record is None:
        raise custom(INVALID_MINT, f"{b58(mint)} is not an initialized mint")
    associated = meta.pubkey == ata_address(owner, mint)
    if mint == NATIVE_MINT:
        raise custom(NATIVE_NOT_SUPPORTED, NATIVE_AS_LAMPORTS)
    _write(inv, meta)
    holder = identity_for(state, owner if associated else meta.pubkey)
    _put_token(state, meta.pubkey, TokenAccount(mint, owner, holder, 0, record.decimals))


def _transfer(inv: Invocation, ix: _Ix) -> None:
    checked = ix.decimals is not None
    n = 1 if checked else 0
    source_meta, dest_meta, authority = inv.account(0), inv.account(1 + n), inv.account(2 + n)
    state = inv.state
    source = _source(inv, source_meta, inv.account(1).pubkey, authority) if checked else _token(inv, source_meta)
    dest = _token(inv, dest_meta)
    if source.amount < ix.amount:
        raise custom(INSUFFICIENT_FUNDS, f"the account holds {source.amount}, not {ix.amount}")
    if source.mint != dest.mint:
        raise custom(MINT_MISMATCH, "the two token accounts are of different mints")
    if checked:
        _check_mint(inv, inv.account(1), source.mint, ix.decimals)
    by_delegate = _authorize(source, authority, ix.amount)
    if source_meta.pubkey == dest_meta.pubkey or ix.amount == 0:
        return
    _write(inv, source_meta)
    _write(inv, dest_meta)
    with _ledger():
        if by_delegate:
            spend_allowance(state, source.mint, source.holder, identity_for(state, authority.pubkey), ix.amount)
        transfer(state, source.mint, source.holder, dest.holder, ix.amount)
    if by_delegate and source.delegated_amount == ix.amount:
        _put_token(state, source_meta.pubkey, replace(source, delegate=None))


def _approve(inv: Invocation, ix: _Ix) -> None:
    checked = ix.decimals is not None
    n = 1 if checked else 0
    source_meta, delegate, owner = inv.account(0), inv.account(1 + n), inv.account(2 + n)
    source = _source(inv, source_meta, inv.account(1).pubkey, owner) if checked else _token(inv, source_meta)
    if checked:
        _check_mint(inv, inv.account(1), source.mint, ix.decimals)
    _validate_owner(source.owner, owner)
    _write(inv, source_meta)
    state = inv.state
    if source.delegate != delegate.pubkey:
        _forget_delegate(state, source)
    approve(state, source.mint, source.holder, identity_for(state, delegate.pubkey), ix.amount)
    _put_token(state, source_meta.pubkey, replace(source, delegate=delegate.pubkey))


def _revoke(inv: Invocation, ix: _Ix) -> None:
    source_meta = inv.account(0)
    source = _token(inv, source_meta)
    _validate_owner(source.owner, inv.account(1))
    _write(inv, source_meta)
    _forget_delegate(inv.state, source)
    _put_token(inv.state, source_meta.pubkey, replace(source, delegate=None))


def _set_authority(inv: Invocation, ix: _Ix) -> None:
    meta, authority = inv.account(0), inv.account(1)
    state, new = inv.state, ix.option
    info = acc.account_info(state, meta.pubkey)
    size = 0 if info is None else info.space
    if size == ACCOUNT_LEN:
        account = _token(inv, meta)
        if ix.kind == ACCOUNT_OWNER:
            _validate_owner(account.owner, authority)
            if new is None:
                raise custom(INVALID_INSTRUCTION, "a token account always has an owner")
            if account.holder != identity_of(state, meta.pubkey):
                raise custom(
                    AUTHORITY_TYPE_NOT_SUPPORTED,
                    "an associated token account's balance is its wallet's own: its owner cannot change",
                )
            _write(inv, meta)
            _forget_delegate(state, account)
            _put_token(state, meta.pubkey, replace(account, owner=new, delegate=None))
        elif ix.kind == CLOSE_ACCOUNT:
            _validate_owner(account.close_authority or account.owner, authority)
            _write(inv, meta)
            _put_token(state, meta.pubkey, replace(account, close_authority=new))
        else:
            raise custom(AUTHORITY_TYPE_NOT_SUPPORTED, "a token account has an owner and a close authority")
    elif size == MINT_LEN:
        mint = _mint(inv, meta.pubkey)
        if ix.kind == MINT_TOKENS:
            if mint.mint_authority is None:
                raise custom(FIXED_SUPPLY, "the mint's supply is fixed")
            _validate_owner(mint.mint_authority, authority)
            _write(inv, meta)
            record = get_mint(state, meta.pubkey)
            assert record is not None
            put_mint(state, meta.pubkey, replace(record, authority=ZERO32 if new is None else identity_for(state, new)))
            _put_mint_authorities(state, meta.pubkey, new, mint.freeze_authority)
        elif ix.kind == FREEZE_ACCOUNT:
            if mint.freeze_authority is None:
                raise custom(MINT_CANNOT_FREEZE, "the mint has no freeze authority")
            _validate_owner(mint.freeze_authority, authority)
            _write(inv, meta)
            _put_mint_authorities(state, meta.pubkey, mint.mint_authority, new)
        else:
            raise custom(AUTHORITY_TYPE_NOT_SUPPORTED, "a mint has a mint authority and a freeze authority")
    else:
        raise ProgramError("InvalidArgument", f"{b58(meta.pubkey)} is neither a mint nor a token account")


def _mint_to(inv: Invocation, ix: _Ix) -> None:
    mint_meta, dest_meta, authority = inv.account(0), inv.account(1), inv.account(2)
    dest = _token(inv, dest_meta)
    if mint_meta.pubkey != dest.mint:
        raise custom(MINT_MISMATCH, f"the token account's mint is {b58(dest.mint)}")
    mint = _check_mint(inv, mint_meta, dest.mint, ix.decimals)
    if mint.mint_authority is None:
        raise custom(FIXED_SUPPLY, "the mint's supply is fixed")
    _validate_owner(mint.mint_authority, authority)
    if mint.supply + ix.amount > U64_MAX:
        raise custom(OVERFLOW, "the supply would exceed the u64 maximum")
    if ix.amount == 0:
        return
    _write(inv, mint_meta)
    _write(inv, dest_meta)
    with _ledger():
        mint_to(inv.state, dest.mint, dest.holder, ix.amount)


def _burn(inv: Invocation, ix: _Ix) -> None:
    source_meta, mint_meta, authority = inv.account(0), inv.account(1), inv.account(2)
    state = inv.state
    source = _source(inv, source_meta, mint_meta.pubkey, authority)
    _mint(inv, mint_meta.pubkey)
    if source.amount < ix.amount:
        raise custom(INSUFFICIENT_FUNDS, f"the account holds {source.amount}, not {ix.amount}")
    _check_mint(inv, mint_meta, source.mint, ix.decimals)
    by_delegate = False
    if source.owner not in (SYSTEM_PROGRAM, INCINERATOR):  # tokens given to these may be burned by anyone
        by_delegate = _authorize(source, authority, ix.amount)
    if ix.amount == 0:
        return
    _write(inv, source_meta)
    _write(inv, mint_meta)
    with _ledger():
        if by_delegate:
            spend_allowance(state, source.mint, source.holder, identity_for(state, authority.pubkey), ix.amount)
        burn(state, source.mint, source.holder, ix.amount)
    if by_delegate and source.delegated_amount == ix.amount:
        _put_token(state, source_meta.pubkey, replace(source, delegate=None))


def _close(inv: Invocation, ix: _Ix) -> None:
    source_meta, dest_meta, authority = inv.account(0), inv.account(1), inv.account(2)
    if source_meta.pubkey == dest_meta.pubkey:
        raise ProgramError("InvalidAccountData", "an account cannot be closed into itself")
    source = _token(inv, source_meta)
    if source.amount != 0:
        raise custom(NON_NATIVE_HAS_BALANCE, f"the account still holds {source.amount}")
    if source.owner not in (SYSTEM_PROGRAM, INCINERATOR):
        _validate_owner(source.close_authority or source.owner, authority)
    elif dest_meta.pubkey != INCINERATOR:
        raise ProgramError(
            "InvalidAccountData", "an account owned by the System program or the incinerator closes into the incinerator"
        )
    for meta in (source_meta, dest_meta):
        if not meta.writable:
            raise ProgramError("ReadonlyLamportChange", f"{b58(meta.pubkey)} is not writable in this transaction")
    state = inv.state
    inv.rt.move_lamports(source_meta.pubkey, dest_meta.pubkey, inv.rt.lamports(source_meta.pubkey))
    _forget_delegate(state, source)
    state.delete(token_record_key(source_meta.pubkey))
    acc.put_record(state, source_meta.pubkey, SYSTEM_PROGRAM, b"")


def _sync_native(inv: Invocation, ix: _Ix) -> None:
    meta = inv.account(0)
    if _owner(inv.state, meta.pubkey) != TOKEN_PROGRAM:
        raise ProgramError("IncorrectProgramId", f"{b58(meta.pubkey)} is not owned by the Token program")
    _token(inv, meta)
    raise custom(NON_NATIVE_NOT_SUPPORTED, "there are no native (wrapped SOL) token accounts on this devnet")


def _initialize_immutable_owner(inv: Invocation, ix: _Ix) -> None:
    meta = inv.account(0)
    info = acc.account_info(inv.state, meta.pubkey)
    if info is None or info.space != ACCOUNT_LEN:
        raise ProgramError("InvalidAccountData", f"a token account has {ACCOUNT_LEN} bytes")
    if inv.state.get(token_record_key(meta.pubkey)) is not None:
        raise custom(ALREADY_IN_USE, f"{b58(meta.pubkey)} is already a token account")
    inv.log("Please upgrade to SPL Token 2022 for immutable owner support")


def _checked_mint(inv: Invocation) -> MintInfo:
    """GetAccountDataSize's and the UI-amount instructions' mint: owned by the Token program, initialized."""
    mint = inv.account(0).pubkey
    if _owner(inv.state, mint) != TOKEN_PROGRAM:
        raise ProgramError("IncorrectProgramId", f"{b58(mint)} is not owned by the Token program")
    found = mint_info(inv.state, mint)
    if found is None:
        raise custom(INVALID_MINT, f"{b58(mint)} is not an initialized mint")
    return found


def _account_data_size(inv: Invocation, ix: _Ix) -> bytes:
    _checked_mint(inv)
    return struct.pack("<Q", ACCOUNT_LEN)


def _amount_to_ui(inv: Invocation, ix: _Ix) -> bytes:
    return ui_amount(ix.amount, _checked_mint(inv).decimals).encode()


def _ui_to_amount(inv: Invocation, ix: _Ix) -> bytes:
    """spl-token's `try_ui_amount_into_amount`: at most `decimals` places and a u64, else InvalidArgument."""
    decimals = _checked_mint(inv).decimals
    whole, _dot, rest = ix.text.partition(".")
    fraction = rest.rstrip("0")
    digits = (whole + fraction + "0" * (decimals - len(fraction))).removeprefix("+")  # Rust's u64 parse takes a '+'
    if (not whole and not fraction) or "." in rest or len(fraction) > decimals or not (digits.isascii() and digits.isdigit()):
        raise ProgramError("InvalidArgument", f"{ix.text!r} is not an amount with at most {decimals} decimals")
    if int(digits) > U64_MAX:
        raise ProgramError("InvalidArgument", f"{ix.text!r} exceeds the u64 maximum")
    return struct.pack("<Q", int(digits))


Handler = Callable[[Invocation, _Ix], bytes | None]


def _unsupported(what: str) -> Handler:
    def refuse(inv: Invocation, ix: _Ix) -> None:
        raise ProgramError("InvalidInstructionData", f"{what} is not supported on this devnet")

    return refuse


# tag -> (name, how its data decodes, what it does)
INSTRUCTIONS: dict[int, tuple[str, Callable[[_Args], _Ix], Handler]] = {
    0: ("InitializeMint", _mint_fields, lambda inv, ix: _initialize_mint(inv, ix, True)),
    1: ("InitializeAccount", _no_fields, lambda inv, ix: _initialize_account(inv, None, True)),
    2: ("InitializeMultisig", _no_fields, _unsupported("a multisig authority")),
    3: ("Transfer", _amount, _transfer),
    4: ("Approve", _amount, _approve),
    5: ("Revoke", _no_fields, _revoke),
    6: ("SetAuthority", _authority_fields, _set_authority),
    7: ("MintTo", _amount, _mint_to),
    8: ("Burn", _amount, _burn),
    9: ("CloseAccount", _no_fields, _close),
    10: ("FreezeAccount", _no_fields, _unsupported("freezing a token account")),
    11: ("ThawAccount", _no_fields, _unsupported("thawing a token account")),
    12: ("TransferChecked", _amount_decimals, _transfer),
    13: ("ApproveChecked", _amount_decimals, _approve),
    14: ("MintToChecked", _amount_decimals, _mint_to),
    15: ("BurnChecked", _amount_decimals, _burn),
    16: ("InitializeAccount2", _owner_key, lambda inv, ix: _initialize_account(inv, ix.key, True)),
    17: ("SyncNative", _no_fields, _sync_native),
    18: ("InitializeAccount3", _owner_key, lambda inv, ix: _initialize_account(inv, ix.key, False)),
    19: ("InitializeMultisig2", _no_fields, _unsupported("a multisig authority")),
    20: ("InitializeMint2", _mint_fields, lambda inv, ix: _initialize_mint(inv, ix, False)),
    21: ("GetAccountDataSize", _no_fields, _account_data_size),
    22: ("InitializeImmutableOwner", _no_fields, _initialize_immutable_owner),
    23: ("AmountToUiAmount", _amount, _amount_to_ui),
    24: ("UiAmountToAmount", _ui_text, _ui_to_amount),
}


@register(TOKEN_PROGRAM, "SPL Token", builtin=False)
def token_program(inv: Invocation) -> bytes | None:
    tag = inv.data[0] if inv.data else -1
    inv.rt.consume(COMPUTE_UNITS.get(tag, DECODE_CU))
    entry = INSTRUCTIONS.get(tag)
    if entry is None:
        raise custom(INVALID_INSTRUCTION, f"unknown SPL Token instruction {tag}")
    name, decode, run = entry
    ix = decode(_Args(inv.data, 1))
    inv.log(f"Instruction: {name}")
    return run(inv, ix)


# -- for receipts and people --------------------------------------------------------------------------
def _token_balances(state: State, keys: tuple[bytes, ...]) -> list[TokenBalance]:
    """Every key of the message that is a token account: Solana's pre/post token balances."""
    out = []
    for i, key in enumerate(keys):
        found = token_account(state, key)
        if found is not None:
            out.append(TokenBalance(i, found.mint, found.owner, found.amount, found.decimals))
    return out


def describe(data: bytes, accounts: list[bytes]) -> str:
    """One line for people: what a Token instruction does, with amounts as the instruction gives them."""
    tag = data[0]
    name = INSTRUCTIONS[tag][0]
    d = _Args(data, 1)

    def at(i: int) -> str:
        return b58(accounts[i])

    if tag in (3, 12):
        amount = d.u64()
        src, dst, auth = (0, 2, 3) if tag == 12 else (0, 1, 2)
        shown = f"{ui_amount(amount, d.u8())} (mint {at(1)})" if tag == 12 else f"{amount:,} base units"
        return f"transfer {shown} from {at(src)} to {at(dst)}, authority {at(auth)}"
    if tag in (7, 14):
        amount = d.u64()
        shown = ui_amount(amount, d.u8()) if tag == 14 else f"{amount:,} base units"
        return f"mint {shown} of {at(0)} to {at(1)}"
    if tag in (8, 15):
        amount = d.u64()
        shown = ui_amount(amount, d.u8()) if tag == 15 else f"{amount:,} base units"
        return f"burn {shown} of {at(1)} from {at(0)}"
    if tag in (4, 13):
        amount = d.u64()
        return f"approve {at(2 if tag == 13 else 1)} to move {amount:,} base units from {at(0)}"
    if tag in (0, 20):
        decimals, authority = d.u8(), d.pubkey()
        return f"initialize mint {at(0)}, {decimals} decimals, mint authority {b58(authority)}"
    if tag in (1, 16, 18):
        owner = accounts[2] if tag == 1 else d.pubkey()
        return f"initialize token account {at(0)} of mint {at(1)} for {b58(owner)}"
    if tag == 9:
        return f"close token account {at(0)}, lamports to {at(1)}"
    return f"{name[0].lower()}{name[1:]} ({len(accounts)} accounts)"


TOKEN_BALANCES.append(_token_balances)
DESCRIBERS[TOKEN_PROGRAM] = describe
__all__ = [
    "MintInfo",
    "TokenAccount",
    "ata_address",
    "derive_ata",
    "mint_info",
    "owned_token_accounts",
    "token_account",
]
