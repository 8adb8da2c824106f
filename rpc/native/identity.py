"""What the node knows of one identity, from an id_com or any VM's address: for /api/v1/identity and the CLI."""

from __future__ import annotations

from typing import Any

from chain import auth
from chain.accounts import TAGS, derived_addresses, lookup
from chain.address import btc_script_text, evm_text, parse_address, svm_text, tron_text
from chain.auth import SCHEME_NAMES
from chain.identity import erc20_address, legacy_id_com
from chain.ledger import (
    BASE_PER_SAT,
    BASE_PER_SUN,
    NATIVE_MINT,
    WEI_PER_BASE,
    MintRecord,
    amount_of,
    balance_slot,
    dust_slot,
    mint_slot,
    ui_amount,
)
from chain.state import State
from chain.store import models as m
from chain.store.sql import SqlEntries, head
from engines.svm.token import ata_address

TEXT = {"evm": evm_text, "svm": svm_text, "tron": tron_text}


def address_text(tag: str, raw: bytes) -> str:
    if tag == "btc":
        return btc_script_text(raw) or "0x" + raw.hex()  # a non-standard script has no address
    return TEXT[tag](raw)


def mint_records() -> dict[bytes, MintRecord]:
    """Every mint (the native one first) with its record, from the committed state."""
    ids = [NATIVE_MINT] + [bytes(k) for k in m.MintIndex.objects.exclude(mint=NATIVE_MINT).values_list("mint", flat=True)]
    rows = dict(m.StateEntry.objects.filter(key__in=[mint_slot(x) for x in ids]).values_list("key", "value"))
    return {mint: MintRecord.decode(bytes(rows[mint_slot(mint)])) for mint in ids if mint_slot(mint) in rows}


def _view(unit: str, amount: int, whole_unit: str, decimals: int) -> dict[str, str]:
    """A token as one VM shows it: in its smallest unit, and in its whole unit (how that chain's wallets show it:
    MetaMask's ETH, Phantom's SOL, a Bitcoin wallet's BTC, TronLink's TRX; a user mint's symbol)."""
    return {"unit": unit, "amount": str(amount), "whole_unit": whole_unit, "whole": ui_amount(amount, decimals)}


def resolve_text(text: str) -> tuple[bytes, dict[str, Any], bool]:
    """(id_com, what was asked, whether the identity is bound yet). AddressError for bad text."""
    parsed = parse_address(text)
    query = {"text": text.strip(), "vm": parsed.vm, "kind": parsed.kind, "canonical": parsed.text}
    if parsed.vm == "native":  # an id_com: bound once its addresses are in the reverse index (mirrored in SQL)
        return parsed.raw, query, m.AddressIndex.objects.filter(id_com=parsed.raw).exists()
    found = lookup(State(SqlEntries()), parsed.vm, parsed.raw)
    if found is not None:
        return found, query, True
    # Never seen: the identity this address will get on its first receipt (SPEC §2).
    return legacy_id_com(parsed.vm, parsed.raw), query, False


def identity_payload(text: str) -> dict[str, Any]:
    id_com, query, bound = resolve_text(text)
    rows = {(t, bytes(a)) for t, a in m.AddressIndex.objects.filter(id_com=id_com).values_list("tag", "address")}
    if not bound and query["vm"] != "native":
        rows.add((query["vm"], parse_address(text).raw))
    legacy = next(((t, a) for t, a in rows if legacy_id_com(t, a) == id_com), None)
    derived = derived_addresses(id_com)
    addresses = {}
    for tag in TAGS:
        own = legacy[1] if legacy is not None and legacy[0] == tag else None
        addresses[tag] = address_text(tag, own if own is not None else derived[tag])

    svm_owner = legacy[1] if legacy is not None and legacy[0] == "svm" else derived["svm"]
    mints = [NATIVE_MINT] + [bytes(k) for k in m.MintIndex.objects.exclude(mint=NATIVE_MINT).values_list("mint", flat=True)]
    keys = [mint_slot(x) for x in mints] + [balance_slot(x, id_com) for x in mints] + [dust_slot(id_com)]
    keys += [auth.auth_slot(id_com), auth.nonce_slot(id_com)]
    values = {bytes(k): bytes(v) for k, v in m.StateEntry.objects.filter(key__in=keys).values_list("key", "value")}
    dust = int.from_bytes(values.get(dust_slot(id_com), b""), "big")
    balances = []
    for mint in mints:
        raw = values.get(mint_slot(mint))
        if raw is None:
            continue
        rec = MintRecord.decode(raw)
        base = amount_of(values.get(balance_slot(mint, id_com)))
        entry: dict[str, Any] = {
            "mint": "0x" + mint.hex(),
            "symbol": rec.symbol,
            "name": rec.name,
            "decimals": rec.decimals,
            "base_units": str(base),
            "amount": ui_amount(base, rec.decimals),
            "erc20_address": evm_text(erc20_address(mint)),
        }
        if mint == NATIVE_MINT:
            entry["views"] = {
                "native": _view("base unit", base, "NVM", 9),
                "evm": _view("wei", base * WEI_PER_BASE + dust, "ETH", 18),
                "svm": _view("lamport", base, "SOL", 9),
                "btc": _view("sat", base // BASE_PER_SAT, "BTC", 8),
                "tron": _view("sun", base // BASE_PER_SUN, "TRX", 6),
            }
        else:
            entry["views"] = {
                vm: _view(f"{rec.symbol} base unit", base, rec.symbol, rec.decimals) for vm in ("native", "evm", "svm", "tron")
            }
            # the SPL view: this identity's associated token account for the mint holds the same balance
            entry["views"]["svm"]["token_account"] = svm_text(ata_address(svm_owner, mint))
        if base or mint == NATIVE_MINT:
            balances.append(entry)

    factors = [
        {"scheme": SCHEME_NAMES[scheme], "key": "0x" + key.hex(), "factor_id": "0x" + auth.factor_id(scheme, key).hex()}
        for scheme, key in auth.parse_factors(values.get(auth.auth_slot(id_com), b""))
    ]
    h = head()
    return {
        "id_com": "0x" + id_com.hex(),
        "query": query,
        "bound": bound,
        "legacy": None if legacy is None else {"chain": legacy[0], "address": address_text(*legacy)},
        "addresses": addresses,
        "balances": balances,
        "account": {
            "exists": bool(factors),
            "nonce": int.from_bytes(values.get(auth.nonce_slot(id_com), b""), "big"),
            "factors": factors,
        },
        "height": None if h is None else h.height,
    }
