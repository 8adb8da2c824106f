"""Impersonation (issue 10): the addresses whose unsigned transactions a devnet accepts, as local EVM devnets'
`anvil_impersonateAccount` does — for the EVM (20-byte addresses) and the TVM (21-byte Tron addresses) at once.

The list lives in the devnet controls' SQL row (nvmsite/devctl.py) under `impersonating` (`{"evm": [hex…],
"tron": [hex…]}`) and `auto_impersonate` (every address, as `anvil_autoImpersonateAccount(true)`). The web
processes consult it before they turn an unsigned request into an impersonated envelope (the EVM's 0x1F, the
TVM's 0x4F, docs/PROTOCOL.md §16); the engines accept those envelopes only in devnet mode. A reset forgets it.
"""

from __future__ import annotations

from typing import Any

from chain.address import AddressError, parse_address
from chain.errors import ChainError
from nvmsite import devctl

TAGS = ("evm", "tron")


def _target(address_text: str) -> tuple[str, bytes]:
    try:
        parsed = parse_address(address_text)
    except AddressError as e:
        raise ChainError(str(e), "bad_address") from None  # its message says what is wrong with the text
    if parsed.vm not in TAGS:
        raise ChainError("only EVM (0x…) and Tron (T…) addresses can be impersonated", "bad_address")
    return parsed.vm, parsed.raw


def _listed(c: dict[str, Any]) -> dict[str, list[str]]:
    found = c.get("impersonating") or {}
    return {tag: list(found.get(tag, [])) for tag in TAGS}


def impersonate(address_text: str, on: bool = True) -> dict[str, Any]:
    """Start (or stop) accepting unsigned transactions from the address; what is impersonated now."""
    devctl.require_devnet()
    tag, raw = _target(address_text)

    def change(c: dict[str, Any]) -> None:
        listed = _listed(c)
        addresses = [a for a in listed[tag] if a != raw.hex()]
        listed[tag] = [*addresses, raw.hex()] if on else addresses
        c["impersonating"] = listed

    return state(devctl.update(change))


def auto_impersonate(on: bool) -> dict[str, Any]:
    """Every address impersonated (anvil_autoImpersonateAccount), or only those listed."""
    devctl.require_devnet()

    def change(c: dict[str, Any]) -> None:
        c["auto_impersonate"] = bool(on)

    return state(devctl.update(change))


def state(c: dict[str, Any] | None = None) -> dict[str, Any]:
    c = devctl.controls() if c is None else c
    return {"auto": bool(c.get("auto_impersonate")), **_listed(c)}


def impersonating(tag: str, raw: bytes) -> bool:
    """Whether the devnet takes unsigned transactions from this address now (False outside devnet mode)."""
    from django.conf import settings

    if not settings.NVM_DEVNET:
        return False
    c = devctl.controls()
    return bool(c.get("auto_impersonate")) or raw.hex() in _listed(c).get(tag, [])


def forget() -> None:
    """A reset's: nobody impersonated any more."""

    def change(c: dict[str, Any]) -> None:
        c["impersonating"], c["auto_impersonate"] = {}, False

    devctl.update(change)
