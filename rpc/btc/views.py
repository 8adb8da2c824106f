"""The Esplora endpoints (rpc/btc/__init__.py says what they answer on this chain). Answers are JSON or plain
text; errors are plain text with Esplora's status (400 bad input, 404 unknown), never a stack trace. Reads
run on one database snapshot; `POST /tx` admits to the mempool and runs outside one. Every answer is open
to any origin, as public Esplora instances are (wallets in a browser call them directly)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from chain.address import AddressError, parse_address
from chain.blocks import HEADER_VERSION, Header
from chain.errors import AdmissionError, ChainError
from chain.hashing import H
from chain.state import State
from chain.store import models as m
from chain.store.sql import consistent_reads, header_at, header_by_hash, require_head
from engines.bvm.engine import RAW_TX
from engines.bvm.tx import TxOut, parse_tx
from nvmsite.node import admit_to_mempool

from . import chaindata as cd
from .codec import (
    RPC_DESERIALIZATION_ERROR,
    RPC_TRANSACTION_ALREADY_IN_CHAIN,
    RPC_TRANSACTION_ERROR,
    RPC_TRANSACTION_REJECTED,
    TX_DECODE_FAILED,
    block_json,
    coin_tx_json,
    core_reason,
    rpc_error_text,
    status_json,
)

log = logging.getLogger(__name__)
BLOCK_LIMIT = 10  # blocks a /blocks page lists
CHAIN_TXS_PER_PAGE = 25
MAX_MEMPOOL_TXS = 50
RECENT_MEMPOOL_TXS = 10
FEE_TARGETS = (*range(1, 26), 144, 504, 1008)  # the confirmation targets electrs estimates for
RELAY_FLOOR_SAT_PER_VB = 1.0
MAX_TX_HEX = 2 * 128 * 1024  # the largest envelope the node's APIs take, in hex
MISSING_INPUTS = "bad-txns-inputs-missingorspent"


class EsploraError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain")


def not_found(what: str) -> EsploraError:
    return EsploraError(404, what)


def esplora(*methods: str, reads: bool = True) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """Plain-text errors, JSON or text answers, CORS; reads on one snapshot."""

    def wrap(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":  # CORS preflight
                resp = HttpResponse(status=204)
                resp["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
                resp["Access-Control-Allow-Headers"] = "Content-Type"
            elif request.method not in methods:
                resp = text(f"use {' or '.join(methods)}", 405)
                resp["Allow"] = ", ".join(methods)
            else:
                resp = _answer(view, request, reads, args, kwargs)
            resp["Access-Control-Allow-Origin"] = "*"
            return resp

        exempt: Callable[..., HttpResponse] = csrf_exempt(inner)  # wallets POST without a CSRF token
        return exempt

    return wrap


def _answer(view: Callable[..., Any], request: HttpRequest, reads: bool, args: Any, kwargs: Any) -> HttpResponse:
    try:
        with consistent_reads() if reads else nullcontext():
            result = view(request, *args, **kwargs)
    except EsploraError as e:
        return text(e.text, e.status)
    except cd.TooPopular:
        return text("Too many history entries", 400)
    except ChainError as e:
        return text(e.message, 503 if e.code == "no_genesis" else 400)
    except Exception:
        log.exception("unhandled error in %s", request.path)
        return text("the node failed to answer this request; see its log", 500)
    if isinstance(result, HttpResponse):
        return result
    if isinstance(result, str):
        return text(result)
    return JsonResponse(result, safe=False)


# -- parameters -------------------------------------------------------------------------------------
def hash_param(value: str) -> bytes:
    """A txid or block hash: 64 hex digits, as Bitcoin shows it."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise EsploraError(400, "Invalid hex string") from None
    if len(raw) != 32:
        raise EsploraError(400, "Invalid hex string")
    return raw


def number_param(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise EsploraError(400, "Invalid number")
    return int(value)


def address_param(value: str) -> bytes:
    """The scriptPubKey a regtest address pays."""
    try:
        parsed = parse_address(value)
    except AddressError as e:
        network = "mainnet" in str(e) or "testnet" in str(e)
        raise EsploraError(400, f"{'Address on invalid network' if network else 'Invalid Bitcoin address'}: {e}") from None
    if parsed.vm != "btc":
        raise EsploraError(400, f"Invalid Bitcoin address: {value} is a {parsed.kind} address, not a Bitcoin one")
    return parsed.raw


# -- blocks -----------------------------------------------------------------------------------------
def _block_value(header: Header) -> dict[str, Any]:
    shape = cd.block_shape(header.height)
    parent = header.parent_hash if header.height > 0 else None
    return block_json(cd.ref_of(header), parent, header.tx_root, HEADER_VERSION, shape.tx_count, shape.size, shape.weight)


def _header(block_hash: str) -> Header:
    found = header_by_hash(hash_param(block_hash))
    if found is None:
        raise not_found("Block not found")
    return found


@esplora("GET")
def tip_height(request: HttpRequest) -> str:
    return str(require_head().height)


@esplora("GET")
def tip_hash(request: HttpRequest) -> str:
    return require_head().hash.hex()


@esplora("GET")
def blocks(request: HttpRequest, start: str = "") -> list[dict[str, Any]]:
    """Ten blocks, newest first, from `start` (a height; anything else, as in electrs, means the tip)."""
    top = require_head().height
    height = int(start) if start.isascii() and start.isdigit() and len(start) < 19 else top
    if height > top:
        raise not_found("Block not found")
    out = []
    for h in range(height, max(height - BLOCK_LIMIT, -1), -1):
        header = header_at(h)
        if header is not None:
            out.append(_block_value(header))
    return out


@esplora("GET")
def block_at_height(request: HttpRequest, height: str) -> str:
    found = header_at(number_param(height))
    if found is None:
        raise not_found("Block not found")
    return found.hash.hex()


@esplora("GET")
def block(request: HttpRequest, block_hash: str) -> dict[str, Any]:
    return _block_value(_header(block_hash))


@esplora("GET")
def block_status(request: HttpRequest, block_hash: str) -> dict[str, Any]:
    found = header_by_hash(hash_param(block_hash))
    if found is None:
        return {"in_best_chain": False}
    out: dict[str, Any] = {"in_best_chain": True, "height": found.height}
    following = header_at(found.height + 1)
    if following is not None:
        out["next_best"] = following.hash.hex()
    return out


@esplora("GET")
def block_txids(request: HttpRequest, block_hash: str) -> list[str]:
    return cd.block_txids(_header(block_hash).height)


@esplora("GET")
def block_txid(request: HttpRequest, block_hash: str, index: str) -> str:
    txids = cd.block_txids(_header(block_hash).height)
    i = number_param(index)
    if i >= len(txids):
        raise not_found("tx index out of range")
    return txids[i]


@esplora("GET")
def block_txs(request: HttpRequest, block_hash: str, start: str = "0") -> list[dict[str, Any]]:
    txs = cd.block_txs(_header(block_hash).height)
    first = number_param(start)
    if first >= len(txs):
        raise not_found("start index out of range")
    if first % CHAIN_TXS_PER_PAGE:
        raise EsploraError(400, f"start index must be a multipication of {CHAIN_TXS_PER_PAGE}")  # electrs's words
    return [t.json() for t in txs[first : first + CHAIN_TXS_PER_PAGE]]


# -- transactions -----------------------------------------------------------------------------------
def _coin_response(txid: bytes, st: State) -> dict[str, Any]:
    c = cd.current_coin(txid, st)
    if c is None:
        raise not_found("Transaction not found")
    return coin_tx_json(c.txid_hex, TxOut(c.sats, c.script_pubkey), cd.coin_block(c))


@esplora("GET")
def tx(request: HttpRequest, txid: str) -> dict[str, Any]:
    wanted, st = hash_param(txid), cd.state()
    found = cd.find_tx(wanted, st)
    return found.json() if found is not None else _coin_response(wanted, st)


def _raw(txid: str) -> bytes:
    wanted, st = hash_param(txid), cd.state()
    found = cd.find_tx(wanted, st)
    if found is not None:
        return found.tx.serialize()
    if cd.current_coin(wanted, st) is not None:
        raise not_found(f"Transaction not found: {txid} is an account coin (spend it as {txid}:0), not a raw transaction")
    raise not_found("Transaction not found")


@esplora("GET")
def tx_hex(request: HttpRequest, txid: str) -> str:
    return _raw(txid).hex()


@esplora("GET")
def tx_raw(request: HttpRequest, txid: str) -> HttpResponse:
    return HttpResponse(_raw(txid), content_type="application/octet-stream")


@esplora("GET")
def tx_status(request: HttpRequest, txid: str) -> dict[str, Any]:
    wanted, st = hash_param(txid), cd.state()
    found = cd.find_tx(wanted, st)
    if found is not None:
        return status_json(found.block)
    c = cd.current_coin(wanted, st)
    return status_json(None if c is None else cd.coin_block(c))


def _spends(txid: str) -> list[dict[str, Any]] | None:
    wanted, st = hash_param(txid), cd.state()
    pend = cd.pending()
    found = cd.find_tx(wanted, st, pend)
    if found is not None:
        return cd.outspends(found, st, pend)
    c = cd.current_coin(wanted, st)
    if c is None:
        return None
    spender = cd.pending_spender(c.txid, pend)
    return [{"spent": False} if spender is None else cd.spend_json(spender[0], spender[1], None)]


@esplora("GET")
def tx_outspends(request: HttpRequest, txid: str) -> list[dict[str, Any]]:
    found = _spends(txid)
    if found is None:
        raise not_found("Transaction not found")
    return found


@esplora("GET")
def tx_outspend(request: HttpRequest, txid: str, vout: str) -> dict[str, Any]:
    index = number_param(vout)
    found = _spends(txid) or []
    return found[index] if index < len(found) else {"spent": False}  # electrs: an output it does not know is unspent


@esplora("POST", reads=False)
def broadcast(request: HttpRequest) -> str:
    """Admit a raw transaction (hex, the whole body) to the mempool; its txid, or Core's refusal."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise EsploraError(413, "the request body is too large") from None
    try:
        hex_text = body.decode().strip()
    except UnicodeDecodeError as e:
        raise EsploraError(400, f"invalid utf-8 sequence from index {e.start}") from None
    if len(hex_text) > MAX_TX_HEX:
        raise EsploraError(400, rpc_error_text(RPC_TRANSACTION_REJECTED, "tx-size"))
    try:
        raw = bytes.fromhex(hex_text) if hex_text.isascii() else b""
    except ValueError:
        raw = b""
    if not raw:
        raise EsploraError(400, rpc_error_text(RPC_DESERIALIZATION_ERROR, TX_DECODE_FAILED))
    envelope = bytes((RAW_TX,)) + raw
    try:
        return admit_to_mempool(envelope).ids[0].hex()
    except AdmissionError as e:
        return _refused(e, envelope)


def _refused(e: AdmissionError, envelope: bytes) -> str:
    """bitcoind's answer to a transaction it would not take (node/transaction.cpp `BroadcastTransaction`)."""
    if e.code == "tx-decode":
        raise EsploraError(400, rpc_error_text(RPC_DESERIALIZATION_ERROR, TX_DECODE_FAILED))
    if e.code == "already_known":
        if m.MempoolEntry.objects.filter(envelope_id=H(envelope)).exists():  # bitcoind answers its txid again
            return parse_tx(envelope[1:]).txid_hex
        raise EsploraError(400, rpc_error_text(RPC_TRANSACTION_ALREADY_IN_CHAIN, "Transaction already in block chain"))
    code = RPC_TRANSACTION_ERROR if e.code == MISSING_INPUTS else RPC_TRANSACTION_REJECTED
    raise EsploraError(400, rpc_error_text(code, core_reason(e.code, e.message)))


# -- addresses --------------------------------------------------------------------------------------
@esplora("GET")
def address(request: HttpRequest, addr: str) -> dict[str, Any]:
    script, st = address_param(addr), cd.state()
    c = cd.address_coin(script, st)
    return {
        "address": addr,
        "chain_stats": cd.chain_stats(cd.identity_of(script, st), st),
        "mempool_stats": cd.mempool_stats(script, c, cd.pending()),
    }


@esplora("GET")
def address_utxo(request: HttpRequest, addr: str) -> list[dict[str, Any]]:
    script, st = address_param(addr), cd.state()
    c = cd.address_coin(script, st)
    if c is None or cd.pending_spender(c.txid, cd.pending()) is not None:
        return []
    return [{"txid": c.txid_hex, "vout": 0, "status": status_json(cd.coin_block(c)), "value": c.sats}]


def _mempool_history(script: bytes, st: State, limit: int) -> list[dict[str, Any]]:
    touching = cd.mempool_touching(script, cd.address_coin(script, st), cd.pending())
    return [cd.pending_shown(t, st).json() for t in reversed(touching[-limit:])]


@esplora("GET")
def address_txs(request: HttpRequest, addr: str) -> list[dict[str, Any]]:
    """Up to 50 pending transactions, newest first, then the 25 newest confirmed ones (as electrs)."""
    script, st = address_param(addr), cd.state()
    out = _mempool_history(script, st, MAX_MEMPOOL_TXS)
    who = cd.identity_of(script, st)
    if who is not None:
        out += [t.json() for t in cd.chain_history(who, CHAIN_TXS_PER_PAGE)]
    return out


@esplora("GET")
def address_txs_chain(request: HttpRequest, addr: str, last_seen: str = "") -> list[dict[str, Any]]:
    """25 confirmed transactions, newest first, after `last_seen` (an unparsable one is ignored, as electrs
    does; one that is not in the address's history lists nothing)."""
    script, st = address_param(addr), cd.state()
    who = cd.identity_of(script, st)
    if who is None:
        return []
    before = None
    if last_seen:
        try:
            seen = hash_param(last_seen)
        except EsploraError:
            seen = None
        if seen is not None:
            before = cd.position_in_history(who, seen)
            if before is None:
                return []
    return [t.json() for t in cd.chain_history(who, CHAIN_TXS_PER_PAGE, before)]


@esplora("GET")
def address_txs_mempool(request: HttpRequest, addr: str) -> list[dict[str, Any]]:
    return _mempool_history(address_param(addr), cd.state(), MAX_MEMPOOL_TXS)


# -- fees and the mempool -----------------------------------------------------------------------------
@esplora("GET")
def fee_estimates(request: HttpRequest) -> dict[str, float]:
    return {str(target): RELAY_FLOOR_SAT_PER_VB for target in FEE_TARGETS}


@esplora("GET")
def mempool(request: HttpRequest) -> dict[str, Any]:
    infos = cd.fee_infos(cd.pending(), cd.state())
    return {
        "count": len(infos),
        "vsize": sum(i.vsize for i in infos),
        "total_fee": sum(i.fee for i in infos),
        "fee_histogram": cd.fee_histogram(infos),
    }


@esplora("GET")
def mempool_txids(request: HttpRequest) -> list[str]:
    return [t.txid_hex for t in cd.pending()]


@esplora("GET")
def mempool_recent(request: HttpRequest) -> list[dict[str, Any]]:
    infos = cd.fee_infos(cd.pending()[-RECENT_MEMPOOL_TXS:], cd.state())
    return [{"txid": i.txid, "fee": i.fee, "vsize": i.vsize, "value": i.value} for i in reversed(infos)]


# -- what this chain cannot answer ------------------------------------------------------------------
UNSUPPORTED = {
    "header": "this chain's blocks have no 80-byte Bitcoin header (see /block/:hash for the block)",
    "raw": "this chain's blocks are not Bitcoin blocks (see /block/:hash/txids and /tx/:txid/raw)",
    "merkle-proof": "this chain's transactions root is not Bitcoin's merkle tree: no merkle proof",
    "merkleblock-proof": "this chain's transactions root is not Bitcoin's merkle tree: no merkleblock proof",
    "scripthash": "no index by script hash on this node: use /address/:address",
    "address-prefix": "no address search on this node",
    "broadcast": "GET /broadcast is deprecated: POST /tx with the hex as the body",
}


@esplora("GET", "POST")
def unsupported(request: HttpRequest, what: str, **_: str) -> str:
    raise not_found(f"endpoint not supported {request.path!r}: {UNSUPPORTED[what]}")


@esplora("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown(request: HttpRequest) -> str:
    raise not_found(f'endpoint does not exist "{request.path}"')
