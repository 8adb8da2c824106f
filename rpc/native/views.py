"""The native JSON API (/api/v1): thin views over chain/ and the store's tables.

Every error is `{"error": {"code": ..., "message": ...}}` with a 4xx status; nothing is
written on a refused request.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

import base58
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from nacl.signing import VerifyKey

from chain.address import AddressError
from chain.blocks import Header
from chain.dispatcher import VM_RANGES, Receipt
from chain.errors import AdmissionError, ChainError
from chain.hashing import H
from chain.node import RECENT_BLOCKS, chain_id_of, decode_diff
from chain.store import models as m
from chain.store.sql import SqlEntries, head, nodes_on_path, require_head
from chain.tree import StateTree, verify_proof
from engines.native.engine import NATIVE_FEE
from nvmsite.node import admit_to_mempool, web_registry
from rpc.jsonbody import MAX_JSON_DEPTH, too_deep

from .identity import identity_payload
from .schema import openapi

log = logging.getLogger(__name__)
MAX_LIMIT = 100
# a ChainError's HTTP status by its code; any other is the request's fault (400)
CHAIN_ERROR_STATUS = {"no_genesis": 409, "devnet_off": 403, "too_large": 413, "producer_timeout": 503, "producer_busy": 503}
MAX_ENVELOPE = 128 * 1024
SIGNATURE_B58_MAX = 88  # characters of a 64-byte Solana signature in base58, at most
HEX_ID = re.compile(r"(?:0[xX])?[0-9a-fA-F]*")  # a hex id is read as hex, even one that is valid base58 too
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,1000}")  # ASCII digits: int() would also take "1_000" and "١٢"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def api(*methods: str) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """JSON in, JSON out; ApiError and ChainError become their JSON error, anything else a 500 without a trace."""

    def wrap(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                resp = error(405, "method_not_allowed", f"use {' or '.join(methods)}")
                resp["Allow"] = ", ".join(methods)
                return resp
            try:
                result = view(request, *args, **kwargs)
            except ApiError as e:
                return error(e.status, e.code, e.message)
            except AdmissionError as e:
                return error(400, e.code, e.message)
            except ChainError as e:
                return error(CHAIN_ERROR_STATUS.get(e.code, 400), e.code, e.message)
            except Exception:
                log.exception("unhandled error in %s", request.path)
                return error(500, "internal_error", "the node failed to answer this request; see its log")
            return result if isinstance(result, HttpResponse) else JsonResponse(result)

        return inner

    return wrap


def parse_hex(text: str, what: str, length: int | None = None) -> bytes:
    s = text.strip()
    if s[:2].lower() == "0x":
        s = s[2:]
    try:
        raw = bytes.fromhex(s)
    except ValueError:
        raise ApiError(400, "bad_hex", f"{what} must be hex (with or without 0x)") from None
    if length is not None and len(raw) != length:
        raise ApiError(400, "bad_length", f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def hx(b: bytes | memoryview | None) -> str | None:
    return None if b is None else "0x" + bytes(b).hex()


def vm_of(opcode: int) -> str | None:
    for vm, (lo, hi) in VM_RANGES.items():
        if lo <= opcode <= hi:
            return vm
    return None


# -- status and blocks ----------------------------------------------------------------------
def status_payload() -> dict[str, Any]:
    h = require_head()
    return {
        "chain_id": chain_id_of(SqlEntries()),
        "height": h.height,
        "hash": hx(h.hash),
        "state_root": hx(h.state_root),
        "timestamp_ms": h.timestamp_ms,
        "mempool_size": m.MempoolEntry.objects.count(),
        "engines": [e.name for e in _registry().engines()],
        "native_fee": str(NATIVE_FEE),
        "validator": {
            "ed25519": hx(h.proposer),
            # where wallets seal attestation keys to (docs/PROTOCOL.md §8)
            "x25519": hx(bytes(VerifyKey(h.proposer).to_curve25519_public_key())),
        },
    }


@api("GET")
def status(request: HttpRequest) -> dict[str, Any]:
    return status_payload()


def block_json(row: m.Block, with_txs: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = Header.decode(bytes(row.header)).to_json()
    out["tx_count"] = row.tx_count
    if with_txs:
        out["transactions"] = [
            {"position": t.position, "id": hx(t.envelope_id), "opcode": t.opcode, "vm": vm_of(t.opcode), "success": t.success}
            for t in row.txs.order_by("position").only("position", "envelope_id", "opcode", "success")
        ]
    return out


def int_param(request: HttpRequest, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name} must be an integer") from None
    if not lo <= v <= hi:
        raise ApiError(400, "bad_parameter", f"{name} must be between {lo} and {hi}")
    return v


@api("GET")
def blocks(request: HttpRequest) -> dict[str, Any]:
    limit = int_param(request, "limit", 20, 1, MAX_LIMIT)
    before = int_param(request, "before", None, 0, 2**63 - 1)
    qs = m.Block.objects.order_by("-height")
    if before is not None:
        qs = qs.filter(height__lt=before)
    rows = list(qs[:limit])
    return {
        "blocks": [block_json(r) for r in rows],
        "next_before": rows[-1].height if rows and rows[-1].height > 0 else None,
    }


@api("GET")
def block(request: HttpRequest, ref: str) -> dict[str, Any]:
    if ref.isascii() and ref.isdigit():  # not str.isdigit() alone: "²" is a digit that int() refuses
        row = m.Block.objects.filter(height=int(ref)).first() if len(ref) < 20 else None
    else:
        row = m.Block.objects.filter(hash=parse_hex(ref, "block hash", 32)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no block {ref}")
    return block_json(row, with_txs=True)


# -- transactions ---------------------------------------------------------------------------
_registry = web_registry  # the web process's one registry (tests clear it between nodes)


def body_json(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body or b"{}"
    except RequestDataTooBig:
        raise ApiError(413, "too_large", "the request body is too large") from None
    if too_deep(raw):
        raise ApiError(400, "bad_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "bad_json", "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return body


@api("POST")
def submit_tx(request: HttpRequest) -> JsonResponse:
    body = body_json(request)
    text = body.get("envelope")
    if text is None:
        raise ApiError(400, "missing_envelope", 'send {"envelope": "<hex>"}')
    if not isinstance(text, str):
        raise ApiError(400, "bad_envelope", f'"envelope" must be a hex string, not {type(text).__name__}')
    if len(text) > 2 * MAX_ENVELOPE + 2:
        raise ApiError(400, "too_large", f"an envelope is at most {MAX_ENVELOPE} bytes")
    tx = admit_to_mempool(parse_hex(text, "envelope"))
    return JsonResponse({"id": hx(tx.envelope_id), "ids": [hx(i) for i in tx.ids], "status": "pending"}, status=202)


@api("POST")
def simulate(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    """A raw signed transaction of any chain (as the explorer's Submit page takes it): what it is, and
    what the node would do with it now — nothing is written."""
    from chain.store.sql import consistent_reads
    from rpc.rawtx import MAX_TEXT, Unrecognised, balance_changes, dry_run, native_id_text, recognise

    from .identity import mint_records

    text = body_json(request).get("raw")
    if not isinstance(text, str):
        raise ApiError(400, "missing_raw", 'send {"raw": "<a signed transaction: hex, base58, base64 or TronLink JSON>"}')
    if len(text) > MAX_TEXT:
        raise ApiError(400, "too_large", f"a transaction is at most {MAX_ENVELOPE} bytes")
    try:
        found = recognise(text, _registry())
    except Unrecognised as e:
        return JsonResponse({"error": {"code": "unrecognised", "message": e.message, "tried": e.tried}}, status=400)
    with consistent_reads():
        run = dry_run(found.envelope, _registry())
        known = mint_records()
    out: dict[str, Any] = {
        "recognised": {
            "chain": found.chain,
            "vm": vm_of(found.envelope[0]),  # null for an envelope of no VM (a devnet state edit), as in /tx
            "encoding": found.encoding,
            "native_id": None if found.native_id is None else hx(found.native_id),
            "native_id_text": None if found.native_id is None else native_id_text(vm_of(found.envelope[0]), found.native_id),
            "envelope": hx(found.envelope),
            "envelope_id": hx(H(found.envelope)),
        },
        "admitted": run.refused is None,
        "error": (
            {"code": run.refused.code, "message": run.refused.message}
            if run.refused is not None
            else {"code": "dry_run_stopped", "message": run.stopped}
            if run.stopped is not None
            else None
        ),
        "included": None if run.included_at is None else {"height": run.included_at[0], "position": run.included_at[1]},
        "pending": run.pending,
        "receipt": None,
        "balance_changes": [],
        "diff": [],
    }
    if run.receipt is not None:
        out["receipt"] = receipt_json(run.receipt, vm_of(found.envelope[0]))
        out["balance_changes"] = [
            {"id_com": hx(c.id_com), "mint": hx(c.mint), "symbol": c.symbol, "before": str(c.old), "after": str(c.new)}
            for c in balance_changes(run, known)
        ]
        out["diff"] = [{"key": hx(k), "old": hx(o), "new": hx(n)} for k, o, n in run.diff]
    return out


def tx_key(ref: str) -> bytes:
    """A transaction's id as any chain names it: hex (the envelope id, an Ethereum hash, a Bitcoin txid or wtxid, a
    Tron txid; 0x or not) or a Solana signature in base58."""
    text = ref.strip()
    if len(text) <= SIGNATURE_B58_MAX and not HEX_ID.fullmatch(text):
        try:
            raw = base58.b58decode(text)
        except ValueError:
            raw = b""
        if len(raw) == 64:
            return raw
    return parse_hex(text, "transaction id (hex, or a Solana signature in base58)")


@api("GET")
def tx(request: HttpRequest, ref: str) -> dict[str, Any]:
    key = tx_key(ref)
    t = m.Transaction.objects.select_related("block").filter(envelope_id=key).first()
    if t is None:
        alias = m.TxAlias.objects.select_related("tx__block").filter(alias=key).first()
        t = alias.tx if alias is not None else None
    if t is None:
        pending = m.MempoolEntry.objects.filter(envelope_id=key).first()
        if pending is not None:
            return {
                "id": hx(pending.envelope_id),
                "status": "pending",
                "opcode": pending.opcode,
                "vm": vm_of(pending.opcode),
                "envelope": hx(pending.envelope),
            }
        raise ApiError(404, "not_found", f"no transaction {ref}")
    receipt = Receipt.decode(bytes(t.receipt))
    return {
        "id": hx(t.envelope_id),
        "ids": [hx(t.envelope_id)] + [hx(a.alias) for a in t.aliases.all()],
        "status": "committed",
        "block": {"height": t.block.height, "hash": hx(t.block.hash)},
        "position": t.position,
        "opcode": t.opcode,
        "vm": vm_of(t.opcode),
        "envelope": hx(t.envelope),
        "receipt": receipt_json(receipt, vm_of(t.opcode)),
        "diff": [{"key": hx(k), "old": hx(o), "new": hx(n)} for k, o, n in decode_diff(bytes(t.diff))],
    }


def receipt_json(r: Receipt, vm: str | None) -> dict[str, Any]:
    out = {
        "success": r.success,
        "fee": str(r.fee),
        "gas_used": r.gas_used,
        "code": r.code or None,
        "message": r.message or None,
        "output": hx(r.output),
        "logs": [hx(x) for x in r.logs],
    }
    if vm == "svm":  # a Solana transaction's logs are its program log, lines of text
        out["log_lines"] = [x.decode(errors="replace") for x in r.logs]
    return out


# -- state ----------------------------------------------------------------------------------
@api("GET")
def state_proof(request: HttpRequest) -> dict[str, Any]:
    raw = request.GET.get("key")
    if not raw:
        raise ApiError(400, "missing_key", "pass ?key=<32-byte hex>")
    key = parse_hex(raw, "key", 32)
    for _ in range(5):
        h = head()
        if h is None:
            raise ChainError("no genesis block", "no_genesis")
        tree = StateTree(nodes_on_path(key))
        value = m.StateEntry.objects.filter(key=key).values_list("value", flat=True).first()
        # The nodes were read in one statement; if a block landed between the reads, read again.
        if tree.root == h.state_root and head() == h:
            value = None if value is None else bytes(value)
            proof = tree.prove(key)
            return {
                "key": hx(key),
                "value": hx(value),
                "value_hash": hx(H(value)) if value is not None else None,
                "included": value is not None,
                "height": h.height,
                "block_hash": hx(h.hash),
                "root": hx(h.state_root),
                "proof": proof.to_json(),
                "verified": verify_proof(h.state_root, key, value, proof),
            }
    raise ApiError(503, "busy", "the state moved on while the proof was read; try again")


@api("GET")
def identity(request: HttpRequest, ref: str) -> dict[str, Any]:
    try:
        return identity_payload(ref)
    except AddressError as e:
        raise ApiError(400, "bad_address", str(e)) from None


@api("GET")
def schema(request: HttpRequest) -> dict[str, Any]:
    return openapi()


# -- devnet controls (nvmsite/devctl.py) ---------------------------------------------------------
def _dev_int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "bad_request", f"{name} must be a whole number")
    return value


@api("GET")
def dev(request: HttpRequest) -> dict[str, Any]:
    """The devnet controls in force (403 when the node is not in devnet mode)."""
    from nvmsite import devctl

    devctl.require_devnet()
    return {"devnet": True, **devctl.controls()}


@api("POST")
def dev_mine(request: HttpRequest) -> dict[str, Any]:
    """`{"blocks": n}` (default 1): n blocks now, empty or not; answers when they are made."""
    from nvmsite import devctl

    body = body_json(request)
    blocks = _dev_int(body, "blocks") if "blocks" in body else 1
    return {"height": devctl.mine(blocks)}


@api("POST")
def dev_time(request: HttpRequest) -> dict[str, Any]:
    """`{"increase_s": n}` moves the clock forward; `{"next_timestamp": unix_s}` fixes the next block's time."""
    from nvmsite import devctl

    devctl.require_devnet()
    body = body_json(request)
    if "increase_s" in body and "next_timestamp" in body:
        raise ApiError(400, "bad_request", 'give "increase_s" or "next_timestamp", not both')
    if "increase_s" in body:
        return {"offset_s": devctl.increase_time(_dev_int(body, "increase_s"))}
    if "next_timestamp" in body:
        devctl.set_next_timestamp(_dev_int(body, "next_timestamp"))
        return {"next_timestamp": body["next_timestamp"]}
    raise ApiError(400, "bad_request", 'give "increase_s" or "next_timestamp"')


@api("POST")
def dev_mining(request: HttpRequest) -> dict[str, Any]:
    """`{"mode": "interval", "interval_ms": n}` or `{"mode": "on_demand"}`."""
    from nvmsite import devctl

    body = body_json(request)
    interval = _dev_int(body, "interval_ms") if "interval_ms" in body else None
    return devctl.set_mining(str(body.get("mode")), interval)


@api("POST")
def dev_balance(request: HttpRequest) -> dict[str, Any]:
    """`{"address": any VM's address or an id_com, "amount": "<integer>", "unit": "vm" | "base"}`: the
    identity's balance in that VM's smallest unit (wei, lamports, sats, sun) or in base units."""
    from nvmsite import devctl

    devctl.require_devnet()
    body = body_json(request)
    amount = body.get("amount")
    if isinstance(amount, str) and WHOLE_NUMBER.fullmatch(amount.strip()):
        amount = int(amount)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ApiError(400, "bad_amount", "amount must be a whole number (a string of digits)")
    unit = body.get("unit", "vm")
    if unit not in ("vm", "base"):
        raise ApiError(400, "bad_unit", 'unit is "vm" or "base"')
    address = str(body.get("address", ""))
    try:
        return {"height": devctl.set_balance(address, amount, unit == "base")}
    except AddressError as e:
        raise ApiError(400, "bad_address", str(e)) from None


@api("GET", "POST")
def dev_impersonate(request: HttpRequest) -> dict[str, Any]:
    """GET: who is impersonated. POST `{"address": EVM 0x… or Tron T…, "stop": false}` starts (or stops) taking
    unsigned transactions from the address (eth_sendTransaction, Tron's broadcast without a signature);
    `{"auto": true}` takes them from every address. Answers `{"auto", "evm": [hex], "tron": [hex]}`."""
    from nvmsite import devctl, impersonation

    devctl.require_devnet()
    if request.method == "GET":
        return impersonation.state()
    body = body_json(request)
    if "auto" in body:
        if "address" in body or "stop" in body:
            raise ApiError(400, "bad_request", 'give "auto", or "address" (and "stop"), not both')
        if not isinstance(body["auto"], bool):
            raise ApiError(400, "bad_request", "auto is true or false")
        return impersonation.auto_impersonate(body["auto"])
    stop = body.get("stop", False)
    if not isinstance(stop, bool):
        raise ApiError(400, "bad_request", "stop is true or false")
    return impersonation.impersonate(str(body.get("address", "")), not stop)


@api("POST")
def dev_snapshot(request: HttpRequest) -> dict[str, Any]:
    """A snapshot of the whole chain: its id."""
    from nvmsite import devctl

    return {"id": devctl.snapshot()}


@api("POST")
def dev_revert(request: HttpRequest) -> dict[str, Any]:
    """`{"id": n}`: everything back to that snapshot; 404 no_such_snapshot for an unknown or used-up id."""
    from nvmsite import devctl

    snapshot = _dev_int(body_json(request), "id")
    if not devctl.revert(snapshot):
        raise ApiError(
            404, "no_such_snapshot", f"no snapshot {snapshot}: never taken, or used up by a revert to it or an earlier one"
        )
    return {"reverted": True}


@api("POST")
def dev_reset(request: HttpRequest) -> dict[str, Any]:
    """Back to genesis, with an empty mempool."""
    from nvmsite import devctl

    devctl.reset()
    return {"height": 0}


@api("GET", "POST")
def dev_state(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    """GET: the whole chain as a state file (`?recent=n`: the last n blocks only, n >= 256); POST: the body is a
    state file, which replaces the whole chain (docs/PROTOCOL.md §16.1); answers the new head."""
    from nvmsite import devctl

    devctl.require_devnet()
    if request.method == "POST":
        return devctl.load_state(iter(lambda: request.read(1 << 20), b""))
    recent = int_param(request, "recent", None, RECENT_BLOCKS, 2**63 - 1)
    out = io.BytesIO()
    made = devctl.dump_state(out, recent)
    response = HttpResponse(out.getvalue(), content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="nvm-state-{made["height"]}.jsonl.gz"'
    return response


@api("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown(request: HttpRequest) -> JsonResponse:
    return error(404, "not_found", f"no API endpoint {request.path}; see /api/v1/schema")


def not_found_page(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(404, "not_found", f"nothing at {request.path}")


def server_error_page(request: HttpRequest) -> JsonResponse:
    return error(500, "internal_error", "the node failed to answer this request; see its log")
