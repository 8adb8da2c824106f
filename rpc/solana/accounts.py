"""Accounts as Solana's RPC shows them (UiAccount), and the SPL Token accounts a client can look for.

Every account is `engines.svm.accounts.account_info`: lamports are the unified native balance of the
pubkey's identity, built-in programs and sysvars answer as Solana's, SPL mints and token accounts are
views of the ledger packed in SPL's own layouts (engines/svm/token.py). Encodings: `binary` (legacy: a
bare base58 string), `base58`, `base64`, `base64+zstd` (when the `zstandard` module is installed) and
`jsonParsed` — SPL mints and token accounts and the Rent sysvar parsed exactly as Agave's account
decoder parses them, anything else falling back to base64 as Agave's does.

**Token accounts a client can find.** The ledger keys balances by identity, so token accounts are found
from what is indexed: every mint (`MintIndex`) and every SVM pubkey bound to an identity
(`AddressIndex`). A wallet's token accounts are its associated token accounts (ATA) of every mint that
are registered or hold a balance (`token.owned_token_accounts`; the native token is lamports, never a
token account, though its mint account is shown); an ATA not created yet is listed for its balance with
0 lamports, though getAccountInfo answers null for it until it is created. A mint's token accounts are those of every
wallet whose identity holds some of it. A token account at a non-associated address is found by its own
pubkey (getAccountInfo, getTokenAccountBalance), not by owner or mint.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chain.ledger import balance_slot, get_mint
from chain.state import State
from chain.store import models as m
from engines.svm import accounts as acc
from engines.svm import token
from engines.svm.accounts import Account
from engines.svm.programs import RENT_DATA, RENT_SYSVAR, SYSVAR_OWNER, TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from rpc.native.identity import mint_records

from .chaindata import ui_token_amount
from .codec import b58, invalid, invalid_request, u64, variant

ENCODINGS = ("binary", "base58", "base64", "jsonParsed", "base64+zstd")
MAX_BASE58_BYTES = 128  # Agave's limit for base58 account data
MAX_MULTIPLE_ACCOUNTS = 100
MAX_HOLDER_CANDIDATES = 100_000  # bound SVM pubkeys looked at for a mint's holders
BATCH = 5000


@dataclass(frozen=True)
class DataSlice:
    offset: int
    length: int


def account_encoding(cfg: dict[str, Any], default: str) -> tuple[str, DataSlice | None]:
    encoding = variant(cfg.get("encoding"), ENCODINGS, default)
    raw = cfg.get("dataSlice")
    data_slice = None
    if raw is not None:
        if not isinstance(raw, dict):
            raise invalid("Invalid params: dataSlice must be {offset, length}.")
        data_slice = DataSlice(u64(raw.get("offset"), "usize"), u64(raw.get("length"), "usize"))
        if encoding == "jsonParsed":
            raise invalid_request("Sliced account data can only be encoded using binary (base 58) or base64 encoding.")
    if encoding == "base64+zstd" and _zstd() is None:
        raise invalid("base64+zstd is not available on this node (no zstandard module): use base64")
    return encoding, data_slice


def _zstd() -> Any:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    return zstandard


def _sliced(data: bytes, data_slice: DataSlice | None) -> bytes:
    if data_slice is None:
        return data
    return data[data_slice.offset : data_slice.offset + data_slice.length]


def encode_data(account: Account, encoding: str, data_slice: DataSlice | None, state: State, pubkey: bytes) -> Any:
    if encoding == "jsonParsed":
        parsed = parse_account(state, pubkey, account)
        if parsed is not None:
            return parsed
        encoding = "base64"
    data = _sliced(account.data, data_slice)
    if encoding in ("binary", "base58"):
        if len(data) > MAX_BASE58_BYTES:
            raise invalid(
                f"Encoded binary (base 58) data should be less than {MAX_BASE58_BYTES} bytes, please use Base64 encoding."
            )
        return b58(data) if encoding == "binary" else [b58(data), "base58"]
    if encoding == "base64+zstd":
        return [base64.b64encode(_zstd().ZstdCompressor().compress(data)).decode(), "base64+zstd"]
    return [base64.b64encode(data).decode(), "base64"]


def ui_account(state: State, pubkey: bytes, account: Account, encoding: str, data_slice: DataSlice | None) -> dict[str, Any]:
    return {
        "data": encode_data(account, encoding, data_slice, state, pubkey),
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": b58(account.owner),
        "rentEpoch": acc.RENT_EPOCH_EXEMPT,
        "space": account.space,
    }


# -- jsonParsed (Agave's account-decoder) ---------------------------------------------------------
def parse_account(state: State, pubkey: bytes, account: Account) -> dict[str, Any] | None:
    parser = PARSERS.get(account.owner)
    return None if parser is None else parser(state, pubkey, account)


def _option(raw: bytes) -> bytes | None:
    """A COption<Pubkey> in account data: u32 LE tag, 32 bytes."""
    return raw[4:36] if struct.unpack_from("<I", raw)[0] else None


def _opt_b58(raw: bytes) -> str | None:
    key = _option(raw)
    return None if key is None else b58(key)


def _token_parsed(state: State, pubkey: bytes, account: Account) -> dict[str, Any] | None:
    data = account.data
    if len(data) == token.ACCOUNT_LEN:
        mint = data[:32]
        record = get_mint(state, mint)
        if record is None:
            return None  # Agave needs the mint's decimals to parse an account
        amount, state_byte = struct.unpack_from("<Q", data, 64)[0], data[108]
        info: dict[str, Any] = {
            "isNative": False,
            "mint": b58(mint),
            "owner": b58(data[32:64]),
            "state": {0: "uninitialized", 1: "initialized", 2: "frozen"}.get(state_byte, "uninitialized"),
            "tokenAmount": ui_token_amount(amount, record.decimals),
        }
        delegate = _opt_b58(data[72:108])
        if delegate is not None:
            info["delegate"] = delegate
            info["delegatedAmount"] = ui_token_amount(struct.unpack_from("<Q", data, 121)[0], record.decimals)
        close = _opt_b58(data[129:165])
        if close is not None:
            info["closeAuthority"] = close
        kind = "account"
    elif len(data) == token.MINT_LEN:
        supply, decimals, initialized = struct.unpack_from("<QBB", data, 36)
        info = {
            "decimals": decimals,
            "freezeAuthority": _opt_b58(data[46:82]),
            "isInitialized": bool(initialized),
            "mintAuthority": _opt_b58(data[0:36]),
            "supply": str(supply),
        }
        kind = "mint"
    else:
        return None
    return {"parsed": {"info": info, "type": kind}, "program": "spl-token", "space": len(data)}


def _sysvar_parsed(state: State, pubkey: bytes, account: Account) -> dict[str, Any] | None:
    if pubkey != RENT_SYSVAR or account.data != RENT_DATA:
        return None
    per_byte_year, threshold, burn = struct.unpack("<QdB", account.data)
    info = {"burnPercent": burn, "exemptionThreshold": threshold, "lamportsPerByteYear": per_byte_year}
    return {"parsed": {"info": info, "type": "rent"}, "program": "sysvar", "space": len(account.data)}


PARSERS: dict[bytes, Callable[[State, bytes, Account], dict[str, Any] | None]] = {
    TOKEN_PROGRAM: _token_parsed,
    SYSVAR_OWNER: _sysvar_parsed,
}


# -- finding token accounts ----------------------------------------------------------------------------
def all_mints() -> list[bytes]:
    """Every ledger mint, the native one first: each is an SPL mint at its own id."""
    return list(mint_records())


def token_account_of(state: State, pubkey: bytes, owned: token.TokenAccount) -> Account:
    """A listed token account as an account (an uncreated ATA has no record: its lamports are the pubkey's)."""
    return Account(acc.lamports(state, pubkey), TOKEN_PROGRAM, owned.pack())


def mint_token_accounts(state: State, mint: bytes) -> Iterator[tuple[bytes, token.TokenAccount]]:
    """Token accounts of a mint: the associated accounts of every SVM pubkey whose identity holds some of it."""
    rows = m.AddressIndex.objects.filter(tag="svm").values_list("address", "id_com")[:MAX_HOLDER_CANDIDATES]
    wallets: dict[bytes, list[bytes]] = {}
    for address, id_com in rows:
        wallets.setdefault(bytes(id_com), []).append(bytes(address))
    slots = {balance_slot(mint, id_com): id_com for id_com in wallets}
    keys = list(slots)
    for i in range(0, len(keys), BATCH):
        held = m.StateEntry.objects.filter(key__in=keys[i : i + BATCH]).values_list("key", flat=True)
        for key in held:
            for wallet in wallets[slots[bytes(key)]]:
                yield from token.owned_token_accounts(state, wallet, [mint])


def token_program_of(program: bytes) -> bool:
    """Whether `program` is a token program a client may name (Token-2022 owns nothing here)."""
    if program not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
        raise invalid("Invalid param: unrecognized Token program id")
    return program == TOKEN_PROGRAM
