"""Formatting for the explorer: hashes shortened (full value kept for copying), amounts with units."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from chain.address import evm_text, svm_text, tron_text
from chain.dispatcher import Field
from chain.ledger import WEI_PER_BASE, MintRecord, ui_amount
from rpc.native.identity import address_text

register = template.Library()


@register.filter
def hx(value: bytes | None) -> str:
    return "" if value is None else "0x" + bytes(value).hex()


@register.filter
def short(value: bytes | str | None, keep: int = 8) -> str:
    text = hx(value) if isinstance(value, bytes | bytearray | memoryview) else (value or "")
    return text if len(text) <= 2 * keep + 3 else f"{text[: keep + 2]}…{text[-keep:]}"


# two overlapping sheets, drawn (a font may lack a copy glyph)
COPY_ICON = (
    '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><rect x="5" y="5" width="9" height="9" rx="1.5" '
    'fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M3.5 11H3a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1h7a1 1 0 0 1 1 1v.5" '
    'fill="none" stroke="currentColor" stroke-width="1.5"/></svg>'
)


@register.simple_tag
def copyable(value: bytes | str, href: str | None = None, keep: int = 8) -> str:
    """A shortened value with its full text on hover and a copy button."""
    full = hx(value) if isinstance(value, bytes | bytearray | memoryview) else value
    shown = short(full, keep)
    inner = (
        format_html('<a href="{}" class="mono">{}</a>', href, shown)
        if href
        else format_html('<span class="mono">{}</span>', shown)
    )
    return format_html(
        '<span class="copy" title="{}">{}'
        '<button type="button" class="copy-btn" data-copy="{}" aria-label="Copy {}">' + COPY_ICON + "</button></span>",
        full,
        inner,
        full,
        full,
    )


def identity_url(value: bytes | str) -> str:
    """The identity page of an id_com or of any VM's address (bytes as 0x-hex, text as it is written)."""
    text = hx(value) if isinstance(value, bytes | bytearray | memoryview) else str(value)
    return reverse("identity", args=[text])


@register.simple_tag
def identity(value: bytes | str, keep: int = 8) -> str:
    """An id_com or address, shortened, copyable, and linked to its identity's page."""
    return copyable(value, identity_url(value), keep)


@register.filter
def when(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    except (ValueError, OverflowError, OSError):  # past year 9999 (a devnet clock moved far ahead): no calendar date
        return f"{ms:,} ms after 1970-01-01 UTC"


@register.filter
def nvm(base_units: int) -> str:
    return ui_amount(int(base_units), 9)


@register.filter
def grouped(amount: str | int) -> str:
    """Thousands separated: 1234567.5 -> 1,234,567.5 (the text of an exact amount, never a float)."""
    whole, dot, frac = str(amount).partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-') or 0):,}{dot}{frac}"


@register.filter
def breakable(text: str) -> str:
    """A long grouped number that may wrap after its commas (a wei amount is 30 digits wide)."""
    return mark_safe(",<wbr>".join(escape(part) for part in str(text).split(",")))  # each part escaped


@register.filter
def nvm_of(base_units: int, decimals: int) -> str:
    return ui_amount(int(base_units), int(decimals))


@register.filter
def vm_unit(base_units: int, vm: str) -> str:
    from explorer.submit import in_vm_unit

    return in_vm_unit(int(base_units), vm)


@register.filter
def vm_change(base_units: int, vm: str) -> str:
    """A change of a native balance in the VM's own unit, signed as the change in NVM is: +3 wei, −3 wei."""
    from explorer.submit import in_vm_unit

    n = int(base_units)
    return ("+" if n > 0 else "−" if n < 0 else "") + in_vm_unit(abs(n), vm)


@register.filter
def wei_as_eth(wei: int) -> str:
    return ui_amount(int(wei), 18)


@register.filter
def wei_as_base(wei: int) -> str:
    return f"{int(wei) // WEI_PER_BASE}"


ADDRESS_TEXT = {"evm": evm_text, "svm": svm_text, "tron": tron_text}


@register.simple_tag
def field_value(f: Field, mints: dict[bytes, MintRecord]) -> str:
    v = f.value
    if f.kind == "id_com" and isinstance(v, bytes):
        return identity(v)
    if f.kind == "address" and isinstance(v, bytes) and f.tag:
        try:
            text = address_text(f.tag, v)
        except Exception:
            text = "0x" + v.hex()
        return identity(text, 10)
    if f.kind == "mint" and isinstance(v, bytes):
        rec = mints.get(v)
        label = rec.symbol if rec else short(v)
        return format_html('<a href="/mint/0x{}">{}</a>', v.hex(), label)
    if f.kind == "amount" and isinstance(v, int):
        rec = mints.get(f.mint or b"")
        if rec is None:
            return format_html('<span class="num">{}</span> base units', f"{v:,}")
        return format_html(
            '<span class="num">{}</span> {} <span class="muted">({} base units)</span>',
            grouped(ui_amount(v, rec.decimals)),
            rec.symbol,
            f"{v:,}",
        )
    if f.kind == "wei" and isinstance(v, int):
        return format_html('<span class="num">{}</span> wei <span class="muted">({} ETH)</span>', f"{v:,}", ui_amount(v, 18))
    if f.kind == "time" and isinstance(v, int):
        return format_html("{}", when(v))
    if f.kind == "hex" and isinstance(v, bytes):
        if not v:
            return format_html('<span class="muted">{}</span>', "empty")
        return copyable(v, None, 16)
    return format_html("{}", v)


@register.filter
def an_article(word: str) -> str:
    """ "EVM" -> "an EVM", "BTC" -> "a BTC" (by the letter's sound)."""
    return ("an " if word[:1].upper() in "AEFHILMNORSX" else "a ") + word


@register.filter
def vm_title(vm: str) -> str:
    return {"native": "Native", "evm": "EVM", "svm": "SVM", "bvm": "BVM", "tvm": "TVM"}.get(vm, vm)


@register.filter
def get(d: dict[Any, Any], key: Any) -> Any:
    return d.get(key)


@register.simple_tag
def svm_account(pubkey: bytes) -> str:
    """A Solana account in base58, linked to the identity it belongs to."""
    text = svm_text(bytes(pubkey))
    return identity(text)


@register.filter
def signed(amount: int) -> str:
    """A change: +1,234 or −1,234 (a true minus sign)."""
    n = int(amount)
    return f"+{n:,}" if n >= 0 else f"−{-n:,}"
