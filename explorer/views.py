"""Explorer pages: server-rendered; the live parts are fragments the page's script fetches again
when `/ws/live` announces a block."""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise
from typing import Any

import segno
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe

from chain.address import AddressError, parse_address, svm_text
from chain.identity import erc20_address
from chain.ledger import NATIVE_MINT, MintRecord, ui_amount
from chain.store import models as m
from chain.store.sql import consistent_reads
from rpc.native.identity import identity_payload, resolve_text

from . import data
from .cache import per_block
from .data import PER_PAGE
from .submit import tx_status


def _page(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10**9))
    except ValueError:
        return 1


def _pager(page: int, more: bool) -> dict[str, int | None]:
    return {"page": page, "prev": page - 1 if page > 1 else None, "next": page + 1 if more else None}


def _chart(blocks: list[data.BlockSummary]) -> dict[str, Any]:
    """Block times and transactions per block of the recent blocks, oldest first, as SVG bar heights."""
    # genesis's time is the config's, not when the chain started: the gap after it says nothing
    seq = list(reversed(blocks))
    pairs = [(a, b) for a, b in pairwise(seq) if a.height > 0]
    times = [max(0, b.timestamp_ms - a.timestamp_ms) for a, b in pairs]
    counts = [b.tx_count for _, b in pairs]
    top_t, top_c = max(times, default=1) or 1, max(counts, default=1) or 1
    bars = [
        {
            "x": i * 12,
            "h_time": round(60 * t / top_t, 1),
            "y_time": round(60 - 60 * t / top_t, 1),
            "h_txs": round(60 * c / top_c, 1),
            "time": t,
            "txs": c,
            "height": b.height,
        }
        for i, (t, c, (_, b)) in enumerate(zip(times, counts, pairs, strict=True))
    ]
    return {"bars": bars, "width": 12 * len(bars), "max_time": top_t, "max_txs": top_c}


def _home_context() -> dict[str, Any]:
    blocks = data.latest_blocks(0, 50)
    return {
        "blocks": blocks[:10],
        "txs": data.latest_txs(0, 10),
        "chart": _chart(blocks),
        "height": blocks[0].height if blocks else None,
    }


@per_block
def home(request: HttpRequest) -> HttpResponse:
    with consistent_reads():
        return render(request, "explorer/home.html", _home_context())


@per_block
def home_live(request: HttpRequest) -> HttpResponse:
    with consistent_reads():
        return render(request, "explorer/_home_live.html", _home_context())


@per_block
def blocks(request: HttpRequest) -> HttpResponse:
    page = _page(request)
    with consistent_reads():
        rows = data.latest_blocks((page - 1) * PER_PAGE, PER_PAGE + 1)
    return render(request, "explorer/blocks.html", {"blocks": rows[:PER_PAGE], "pager": _pager(page, len(rows) > PER_PAGE)})


@per_block
def txs(request: HttpRequest) -> HttpResponse:
    page = _page(request)
    with consistent_reads():
        rows = data.latest_txs((page - 1) * PER_PAGE, PER_PAGE + 1)
    return render(request, "explorer/txs.html", {"txs": rows[:PER_PAGE], "pager": _pager(page, len(rows) > PER_PAGE)})


@per_block
def block(request: HttpRequest, ref: str) -> HttpResponse:
    page = _page(request)
    with consistent_reads():
        found = data.find_block(ref)
        if found is None:
            raise Http404(f"no block {ref}")
        rows = data.block_txs(found.height, (page - 1) * PER_PAGE, PER_PAGE + 1)
    return render(
        request,
        "explorer/block.html",
        {"blk": found, "h": found.header, "txs": rows[:PER_PAGE], "pager": _pager(page, len(rows) > PER_PAGE)},
    )


@per_block
def tx(request: HttpRequest, ref: str) -> HttpResponse:
    with consistent_reads():
        row = data.find_tx(ref)
        if row is None:
            pending = _pending_id(ref)
            if pending is None:
                raise Http404(f"no transaction {ref}")
            return render(request, "explorer/tx_pending.html", {"s": tx_status(pending)})
        detail = data.tx_detail(row)
        mints = data.mints()
    context: dict[str, Any] = {"t": detail, "mints": mints, "native": mints.get(NATIVE_MINT)}
    if detail.vm == "evm" and detail.ids and request.GET.get("trace") == "call":
        context["trace"], context["trace_error"] = _call_trace(detail.ids[0])
    return render(request, "explorer/tx.html", context)


def _call_trace(eth_hash: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """debug_traceTransaction's callTracer tree, quantities as integers, for the page."""
    from rpc.eth.codec import RpcError
    from rpc.eth.trace import trace_transaction

    try:
        top = trace_transaction("0x" + eth_hash.hex(), {"tracer": "callTracer"})
    except RpcError as e:
        return None, e.message

    def frame(c: dict[str, Any]) -> dict[str, Any]:
        return {
            **c,
            "value": int(c.get("value") or "0x0", 16),
            "gas": int(c.get("gas") or "0x0", 16),
            "gasUsed": int(c.get("gasUsed") or "0x0", 16),
            "calls": [frame(x) for x in c.get("calls") or []],
        }

    return frame(top), None


def _pending_id(ref: str) -> bytes | None:
    """The envelope id of a transaction waiting in the mempool, by its envelope id, Ethereum hash or Solana signature."""
    from chain.dispatcher import VM_RANGES
    from chain.hashing import H
    from rpc.eth.chaindata import find_pending

    raw = data.hex_bytes(ref.strip(), 32)
    sig = data.solana_signature(ref) if raw is None else None
    if sig is not None:
        # a Solana wire transaction starts with its signature count (one byte below 128), then the first one
        lo, hi = VM_RANGES["svm"]
        for envelope_id, envelope in m.MempoolEntry.objects.filter(opcode__range=(lo, hi)).values_list("envelope_id", "envelope"):
            if bytes(envelope)[2:66] == sig:
                return bytes(envelope_id)
        return None
    if raw is None:
        return None
    if m.MempoolEntry.objects.filter(envelope_id=raw).exists():
        return raw
    eth = find_pending(raw)
    return None if eth is None else H(bytes([VM_RANGES["evm"][0]]) + eth)


@lru_cache(maxsize=8192)  # an address's code never changes; making one costs ~10 ms
def _qr(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=3, dark="#1b2330", light="#ffffff")


def _identity_context(ref: str, page: int) -> dict[str, Any]:
    try:
        payload = identity_payload(ref)
    except AddressError as e:
        raise Http404(str(e)) from None
    id_com = bytes.fromhex(payload["id_com"][2:])
    rows, more = data.identity_txs(id_com, (page - 1) * PER_PAGE, PER_PAGE)
    addresses = [
        {
            "tag": tag,
            "title": {"evm": "EVM", "svm": "SVM", "btc": "Bitcoin", "tron": "Tron"}[tag],
            "text": text,
            "qr": mark_safe(_qr(text)),
        }
        for tag, text in payload["addresses"].items()
    ]
    return {"i": payload, "id_com": id_com, "addresses": addresses, "txs": rows, "pager": _pager(page, more)}


@per_block
def identity(request: HttpRequest, ref: str) -> HttpResponse:
    with consistent_reads():
        return render(request, "explorer/identity.html", _identity_context(ref, _page(request)))


@per_block
def identity_live(request: HttpRequest, ref: str) -> HttpResponse:
    with consistent_reads():
        return render(request, "explorer/_identity_live.html", _identity_context(ref, 1))


@per_block
def mint(request: HttpRequest, ref: str) -> HttpResponse:
    raw = data.hex_bytes(ref, 32)
    page = _page(request)
    with consistent_reads():
        known = data.mints()
        if raw is None or raw not in known:
            raise Http404(f"no mint {ref}")
        rec = known[raw]
        holders, more = data.holders(raw, (page - 1) * PER_PAGE, PER_PAGE)
    # an SPL mint's pubkey is its ledger mint id (engines/svm/token.py), as the identity page's token accounts say
    return render(
        request,
        "explorer/mint.html",
        {
            "mint": raw,
            "rec": rec,
            "supply": ui_amount(rec.supply, rec.decimals),
            "erc20": erc20_address(raw),
            "spl_mint": svm_text(raw),
            "holders": [(who, _amount_view(amount, rec)) for who, amount in holders],
            "pager": _pager(page, more),
        },
    )


def _amount_view(base_units: int, rec: MintRecord) -> dict[str, str]:
    """An amount as the identity page's balance cells show it: whole tokens, and base units."""
    whole = ui_amount(base_units, rec.decimals)
    return {"whole": whole, "whole_unit": rec.symbol, "amount": str(base_units), "unit": "base unit"}


@per_block
def mints(request: HttpRequest) -> HttpResponse:
    with consistent_reads():
        rows = [(k, r, ui_amount(r.supply, r.decimals)) for k, r in data.mints().items()]
    return render(request, "explorer/mints.html", {"mints": rows})


def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    if not q:
        return render(request, "explorer/search.html", {"q": q})
    with consistent_reads():
        target = where(q)
    if target is None:
        return render(request, "explorer/search.html", {"q": q, "not_found": True}, status=404)
    return redirect(target)


def where(q: str) -> str | None:
    """The page a search goes to: a block (height or hash), a transaction (any of its ids), a mint,
    or an identity (an id_com or any address of any VM)."""
    text = q.strip()
    if text.isascii() and text.isdigit() and len(text) < 19:  # not "²": a digit int() refuses
        return f"/block/{int(text)}" if m.Block.objects.filter(height=int(text)).exists() else None
    raw = data.hex_bytes(text, None)
    if raw is not None and len(raw) == 32:
        if m.Block.objects.filter(hash=raw).exists():
            return f"/block/0x{raw.hex()}"
        if data.find_tx(text) is not None:
            return f"/tx/0x{raw.hex()}"
        if raw in data.mints():
            return f"/mint/0x{raw.hex()}"
        # any 32 bytes read as an id_com: only one the chain knows is a match, not a page of zeros
        return f"/identity/0x{raw.hex()}" if data.known_identity(raw) else None
    if raw is None and data.solana_signature(text) is not None and data.find_tx(text) is not None:
        return f"/tx/{text}"
    try:
        parse_address(text)
    except AddressError:
        return None
    id_com, _query, _bound = resolve_text(text)
    return f"/identity/0x{id_com.hex()}"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if isinstance(exception, Http404) and exception.args else "There is no such page."
    return render(request, "explorer/404.html", {"message": message}, status=404)
