"""The Tron HTTP API endpoints (rpc/tron/__init__.py says what they answer on this chain). Parameters come
from the JSON body (POST, as tronpy and TronWeb send them) or the query string (GET). Answers are JSON with
HTTP 200, errors included, as java-tron answers: `{"Error": "<text>"}` for a request it cannot read,
`{"code": …, "message": "<hex of the text>", "txid": …}` for a transaction it does not broadcast — never a
stack trace. Reads run on one database snapshot; broadcasts admit to the mempool outside one."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from chain.errors import AdmissionError, ChainError
from chain.store.sql import consistent_reads, header_at, require_head
from engines.tvm.engine import MAX_EXPIRATION_MS, RAW_TX, TvmEngine, TvmTx, owner_of, tron_block_id
from engines.tvm.proto import ProtoError, parse_transaction
from nvmsite.node import admit_to_mempool
from rpc.jsonbody import too_deep

from . import chaindata as cd
from .codec import (
    RequestError,
    block_json,
    parse_tron_address,
    raw_data_bytes,
    raw_data_json,
    refusal,
    show_address,
    signatures_of,
    transaction_bytes,
    transaction_info_json,
    transaction_json,
    txid_of,
    visible_of,
)

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024
EXPIRATION_MS = 60_000  # createtransaction: expires a minute after the head, as java-tron sets it
TRON_CODES = {
    "SIGERROR",
    "TAPOS_ERROR",
    "TRANSACTION_EXPIRATION_ERROR",
    "DUP_TRANSACTION_ERROR",
    "CONTRACT_VALIDATE_ERROR",
    "OTHER_ERROR",
}
FREE_NET_LIMIT = 600  # Tron's daily free bandwidth per account, which covers any TRX transfer
TOTAL_NET_LIMIT = 43_200_000_000  # Tron's network-wide bandwidth limit (a constant here: nothing is staked)
NOT_BUILT = "smart contracts are not built yet on this devnet's TVM (TRX transfers are): {}"


def tron(reads: bool = True) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """Params from JSON body or query; Tron's error objects; reads on one snapshot; CORS open."""

    def wrap(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":
                resp = HttpResponse(status=204)
                resp["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                resp["Access-Control-Allow-Headers"] = "Content-Type"
            elif request.method not in ("GET", "POST"):
                resp = JsonResponse({"Error": "use GET or POST"}, status=405)
                resp["Allow"] = "GET, POST"
            else:
                resp = JsonResponse(_answer(view, request, reads, args, kwargs), safe=False)
            resp["Access-Control-Allow-Origin"] = "*"
            return resp

        exempt: Callable[..., HttpResponse] = csrf_exempt(inner)  # wallets POST without a CSRF token
        return exempt

    return wrap


def _params(request: HttpRequest) -> dict[str, Any]:
    if request.method == "GET":
        out: dict[str, Any] = dict(request.GET.items())
        if "num" in out and out["num"].isdigit():
            out["num"] = int(out["num"])
        return out
    try:
        body = request.body
    except RequestDataTooBig:
        raise RequestError("the request body is too large") from None
    if len(body) > MAX_BODY:
        raise RequestError("the request body is too large")
    if not body.strip():
        return {}
    if too_deep(body):
        raise RequestError("JSON nested too deeply")
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestError(f"invalid JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise RequestError("the request body must be a JSON object")
    return parsed


def _answer(view: Callable[..., Any], request: HttpRequest, reads: bool, args: Any, kwargs: Any) -> Any:
    try:
        params = _params(request)
        with consistent_reads() if reads else nullcontext():
            return view(params, *args, **kwargs)
    except RequestError as e:
        return {"Error": str(e)}
    except ChainError as e:
        return {"Error": e.message}
    except Exception:
        log.exception("unhandled error in %s", request.path)
        return {"Error": "the node failed to answer this request; see its log"}


# -- parameters -------------------------------------------------------------------------------------
def _hash_param(params: dict[str, Any], key: str = "value") -> bytes:
    value = params.get(key)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise RequestError(f"{key} must be 64 hex digits")
    return raw


def _num_param(params: dict[str, Any]) -> int:
    num = params.get("num")
    if isinstance(num, bool) or not isinstance(num, int) or not 0 <= num < 2**63:
        raise RequestError("num must be a non-negative integer")
    return num


# -- node and blocks --------------------------------------------------------------------------------
@tron()
def getnodeinfo(params: dict[str, Any]) -> dict[str, Any]:
    """What tronpy reads the head from (`block`, `solidityBlock`: blocks are final once made, so both are the
    head)."""
    head = require_head()
    ref = f"Num:{head.height},ID:{tron_block_id(head.height, head.hash).hex()}"
    return {
        "activeConnectCount": 0,
        "beginSyncNum": head.height,
        "block": ref,
        "solidityBlock": ref,
        "currentConnectCount": 0,
        "passiveConnectCount": 0,
        "totalFlow": 0,
        "peerList": [],
        "configNodeInfo": {"codeVersion": "nvm-devnet", "versionNum": "1", "discoverEnable": False, "activeNodeSize": 0},
        "machineInfo": {},
        "cheatWitnessInfoMap": {},
    }


def _block(header: Any, params: dict[str, Any]) -> dict[str, Any]:
    if header is None:
        return {}
    return block_json(header, cd.block_txs(header.height), visible_of(params))


@tron()
def getnowblock(params: dict[str, Any]) -> dict[str, Any]:
    return _block(require_head(), params)


@tron()
def getblockbynum(params: dict[str, Any]) -> dict[str, Any]:
    return _block(header_at(_num_param(params)), params)


@tron()
def getblockbyid(params: dict[str, Any]) -> dict[str, Any]:
    return _block(cd.header_by_tron_id(_hash_param(params)), params)


# -- accounts ---------------------------------------------------------------------------------------
def _owner_permission(address: bytes, visible: bool) -> dict[str, Any]:
    return {
        "permission_name": "owner",
        "threshold": 1,
        "keys": [{"address": show_address(address, visible), "weight": 1}],
    }


@tron()
def getaccount(params: dict[str, Any]) -> dict[str, Any]:
    """The account's balance in sun (floored), when it was bound (`create_time`) and its owner permission
    (its own key); `{}` for an address the chain does not know, as Tron answers."""
    address, visible = parse_tron_address(params.get("address")), visible_of(params)
    st = cd.state()
    who = cd.account_of(address, st)
    if who is None:
        return {}
    out: dict[str, Any] = {"address": show_address(address, visible)}
    sun = cd.balance_sun(who, st)
    if sun:
        out["balance"] = sun
    created = cd.bound_at_ms(address)
    if created:
        out["create_time"] = created
    out["account_resource"] = {}
    out["owner_permission"] = _owner_permission(address, visible)
    return out


def _resources(params: dict[str, Any], names: tuple[str, str]) -> dict[str, Any]:
    address = parse_tron_address(params.get("address"))
    if cd.account_of(address, cd.state()) is None:
        return {}
    free, total = names
    return {free: FREE_NET_LIMIT, total: TOTAL_NET_LIMIT}


@tron()
def getaccountresource(params: dict[str, Any]) -> dict[str, Any]:
    """Bandwidth is free here and nothing is staked: the free allowance, none of it used, and no energy."""
    return _resources(params, ("freeNetLimit", "TotalNetLimit"))


@tron()
def getaccountnet(params: dict[str, Any]) -> dict[str, Any]:
    return _resources(params, ("freeNetLimit", "TotalNetLimit"))


@tron()
def getchainparameters(params: dict[str, Any]) -> dict[str, Any]:
    """What this devnet charges: nothing for bandwidth or a new account; no energy (no contracts yet).
    As java-tron prints them, a parameter whose value is 0 has no `value`."""
    values = [
        ("getMaintenanceTimeInterval", 0),
        ("getTransactionFee", 0),  # sun per byte of bandwidth beyond the free allowance: bandwidth is free here
        ("getEnergyFee", 0),  # no energy is metered: smart contracts are not built yet
        ("getCreateAccountFee", 0),
        ("getCreateNewAccountFeeInSystemContract", 0),
        ("getFreeNetLimit", FREE_NET_LIMIT),
        ("getTotalNetLimit", TOTAL_NET_LIMIT),
        ("getMaxFeeLimit", 0),
        ("getAllowCreationOfContracts", 0),
        ("getAllowTvmTransferTrc10", 0),
        ("getAllowMultiSign", 0),
    ]
    return {"chainParameter": [{"key": k, "value": v} if v else {"key": k} for k, v in values]}


# -- transactions -----------------------------------------------------------------------------------
@tron()
def createtransaction(params: dict[str, Any]) -> dict[str, Any]:
    """An unsigned TransferContract with TaPoS from the head, expiring a minute after the later of the head's
    time and the node's clock (a devnet that makes blocks on demand can have an old head)."""
    visible = visible_of(params)
    owner = parse_tron_address(params.get("owner_address"), "owner_address")
    to = parse_tron_address(params.get("to_address"), "to_address")
    amount = params.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**63:
        raise RequestError("amount must be a non-negative integer (sun)")
    head = require_head()
    now = int(time.time() * 1000)
    expiration = min(max(head.timestamp_ms, now) + EXPIRATION_MS, head.timestamp_ms + MAX_EXPIRATION_MS)
    raw_json = {
        "contract": [
            {
                "parameter": {
                    "value": {"owner_address": owner.hex(), "to_address": to.hex(), "amount": amount},
                    "type_url": "type.googleapis.com/protocol.TransferContract",
                },
                "type": "TransferContract",
            }
        ],
        "ref_block_bytes": head.height.to_bytes(8, "big")[6:8].hex(),
        "ref_block_hash": head.hash[8:16].hex(),
        "expiration": expiration,
        "timestamp": now,
    }
    raw = raw_data_bytes(raw_json)
    try:
        engine = TvmEngine()
        found = engine.decode(bytes((RAW_TX,)) + transaction_bytes(raw, []))
        t: TvmTx = found.body  # type: ignore[assignment]
        engine._validate(t, cd.state())
    except AdmissionError as e:
        raise RequestError(f"Contract validate error : {e.message}") from None
    tx = parse_transaction(transaction_bytes(raw, []))
    return {"visible": visible, "txID": txid_of(raw).hex(), "raw_data": raw_data_json(tx, visible), "raw_data_hex": raw.hex()}


def _posted_tx(params: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    """raw_data bytes and signatures of a transaction posted as JSON: from `raw_data_hex` when given, else
    rebuilt from `raw_data` (as java-tron does; tronpy sends only that)."""
    if "raw_data_hex" in params:
        hex_text = params["raw_data_hex"]
        try:
            raw = bytes.fromhex(hex_text) if isinstance(hex_text, str) else b""
        except ValueError:
            raw = b""
        if not raw:
            raise RequestError("raw_data_hex must be hex")
    else:
        raw = raw_data_bytes(params.get("raw_data"), visible_of(params))
    return raw, signatures_of(params.get("signature"))


@tron()
def getsignweight(params: dict[str, Any]) -> dict[str, Any]:
    """The txid of a transaction posted as JSON and who may sign it: the owner's own key (weight 1,
    threshold 1). tronpy asks this for the txid of a transaction it built itself."""
    raw, sigs = _posted_tx(params)
    visible = visible_of(params)
    try:
        tx = parse_transaction(transaction_bytes(raw, sigs))
        owner = TvmEngine().decode(bytes((RAW_TX,)) + transaction_bytes(raw, sigs)).body.transfer.owner  # type: ignore[attr-defined]
    except (ProtoError, AdmissionError) as e:
        return {"result": {"code": "OTHER_ERROR", "message": str(e)}}
    txid = txid_of(raw)
    approved: list[str] = []
    for s in sigs:
        try:
            approved.append(show_address(owner_of(txid, s), visible))
        except AdmissionError:
            return {"result": {"code": "SIGNATURE_FORMAT_ERROR", "message": "a signature does not recover a key"}}
    shown = {"txID": txid.hex(), "raw_data": raw_data_json(tx, visible), "raw_data_hex": raw.hex()}
    if sigs:
        shown["signature"] = [s.hex() for s in sigs]
    out: dict[str, Any] = {}
    if cd.account_of(owner, cd.state()) is None:
        out["result"] = {"code": "PERMISSION_ERROR", "message": "account does not exist"}
    else:
        weight = 1 if show_address(owner, visible) in approved else 0
        out["result"] = {"code": "ENOUGH_PERMISSION" if weight else "NOT_ENOUGH_PERMISSION"}
        out["permission"] = _owner_permission(owner, visible)
        if approved:
            out["approved_list"] = approved
        if weight:
            out["current_weight"] = weight
    out["transaction"] = {"result": {"result": True}, "txid": txid.hex(), "transaction": shown}
    return out


def _broadcast(raw: bytes, sigs: list[bytes]) -> dict[str, Any]:
    txid = txid_of(raw)
    envelope = bytes((RAW_TX,)) + transaction_bytes(raw, sigs)
    try:
        admit_to_mempool(envelope)
    except AdmissionError as e:
        code = "DUP_TRANSACTION_ERROR" if e.code == "already_known" else e.code
        return refusal(code if code in TRON_CODES else "OTHER_ERROR", e.message, txid)
    return {"result": True, "txid": txid.hex()}


@tron(reads=False)
def broadcasttransaction(params: dict[str, Any]) -> dict[str, Any]:
    try:
        raw, sigs = _posted_tx(params)
    except RequestError as e:
        return refusal("OTHER_ERROR", str(e), None)
    return _broadcast(raw, sigs)


@tron(reads=False)
def broadcasthex(params: dict[str, Any]) -> dict[str, Any]:
    """A whole signed `Transaction` protobuf as hex (`transaction`)."""
    hex_text = params.get("transaction")
    try:
        data = bytes.fromhex(hex_text) if isinstance(hex_text, str) else b""
        tx = parse_transaction(data)
    except (ValueError, ProtoError) as e:
        return refusal("OTHER_ERROR", f"not a Tron transaction: {e}", None)
    return _broadcast(tx.raw_data, list(tx.signatures))


@tron()
def gettransactionbyid(params: dict[str, Any]) -> dict[str, Any]:
    found = cd.committed_tx(_hash_param(params))
    if found is None:
        return {}
    return transaction_json(found.body, visible_of(params), "SUCCESS")


@tron()
def gettransactioninfobyid(params: dict[str, Any]) -> dict[str, Any]:
    found = cd.committed_tx(_hash_param(params))
    return {} if found is None else transaction_info_json(found)


@tron()
def contracts_not_built(params: dict[str, Any], what: str) -> dict[str, Any]:
    """Smart-contract endpoints: Tron's refusal, never a made-up result."""
    text = NOT_BUILT.format(what)
    if what == "deploycontract":  # java-tron's deploycontract answers a refusal as {"Error": …}
        return {"Error": f"Contract validate error : {text}"}
    return {"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": text.encode().hex()}}


@tron()
def unknown(params: dict[str, Any], what: str) -> dict[str, Any]:
    return {"Error": f"endpoint {what!r} is not served by this devnet's Tron API (see rpc/tron/__init__.py)"}
