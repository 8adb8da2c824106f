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
from eth_hash.auto import keccak
from eth_typing import Address

from chain.errors import AdmissionError, ChainError, ExecutionError
from chain.ledger import get_mint
from chain.store.sql import consistent_reads, header_at, require_head
from engines.evm.contracts import mint_at
from engines.tvm.accounts import TronAccounts, contract_key
from engines.tvm.engine import (
    ENERGY_PRICE_SUN,
    IMPERSONATED,
    MAX_EXPIRATION_MS,
    MAX_FEE_LIMIT_SUN,
    RAW_TX,
    TYPE_URL_PREFIX,
    TvmEngine,
    contract_address_of,
    owner_of,
    tron_block_id,
)
from engines.tvm.proto import ProtoError, parse_transaction
from engines.tvm.vm import TronComputation, TronState
from nvmsite import impersonation
from nvmsite.node import admit_to_mempool
from rpc.jsonbody import too_deep
from rpc.vmcall import CALL_TIMEOUT_S, CallTimeout, next_block_context, timed_computation

from . import chaindata as cd
from .abi import TRC20_VIEW_ABI
from .codec import (
    RequestError,
    block_json,
    parse_tron_address,
    raw_data_bytes,
    raw_data_json,
    refusal,
    show_address,
    signatures_of,
    smart_contract_json,
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
        # A `\ud800` escape decodes to a lone surrogate, which no text field can be encoded from: refused here, once.
        json.dumps(parsed, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise RequestError("invalid JSON: a string holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
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
    (its own key); a contract is an account too (`type` Contract) even before it holds TRX; `{}` for an address
    the chain does not know, as Tron answers."""
    address, visible = parse_tron_address(params.get("address")), visible_of(params)
    st = cd.state()
    who = cd.account_of(address, st)
    contract = bool(TronAccounts(st).get_code(Address(address[1:])))
    if who is None and not contract:
        return {}
    out: dict[str, Any] = {"address": show_address(address, visible)}
    sun = 0 if who is None else cd.balance_sun(who, st)
    if sun:
        out["balance"] = sun
    created = cd.bound_at_ms(address)
    if created:
        out["create_time"] = created
    if contract:
        out["type"] = "Contract"  # java-tron's AccountType of a contract (a wallet's, Normal, is the default)
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
    """What this devnet charges: nothing for bandwidth or a new account; energy at `ENERGY_PRICE_SUN` sun, up to
    the maximum fee limit. As java-tron prints them, a parameter whose value is 0 has no `value`."""
    values = [
        ("getMaintenanceTimeInterval", 0),
        ("getTransactionFee", 0),  # sun per byte of bandwidth beyond the free allowance: bandwidth is free here
        ("getEnergyFee", ENERGY_PRICE_SUN),
        ("getCreateAccountFee", 0),
        ("getCreateNewAccountFeeInSystemContract", 0),
        ("getFreeNetLimit", FREE_NET_LIMIT),
        ("getTotalNetLimit", TOTAL_NET_LIMIT),
        ("getMaxFeeLimit", MAX_FEE_LIMIT_SUN),
        ("getAllowCreationOfContracts", 1),
        ("getAllowTvmTransferTrc10", 0),  # no TRC-10 tokens
        ("getAllowMultiSign", 0),
        ("getAllowTvmConstantinople", 1),
        ("getAllowTvmSolidity059", 1),
        ("getAllowTvmIstanbul", 1),
        ("getAllowTvmLondon", 1),
        ("getAllowTvmCompatibleEvm", 1),
        ("getAllowTvmShangHai", 1),
    ]
    return {"chainParameter": [{"key": k, "value": v} if v else {"key": k} for k, v in values]}


# -- transactions -----------------------------------------------------------------------------------
def _uint_param(params: dict[str, Any], key: str) -> int:
    value = params.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise RequestError(f"{key} must be a non-negative integer")
    return value


def _unsigned(
    kind: str, value: dict[str, Any], params: dict[str, Any], fee_limit: int | None = None, constant: bool = False
) -> dict[str, Any]:
    """An unsigned transaction of one contract, validated as a node validates it before building it: TaPoS from
    the head, expiring a minute after the later of the head's time and the node's clock (a devnet that makes
    blocks on demand can have an old head)."""
    visible = visible_of(params)
    head = require_head()
    now = int(time.time() * 1000)
    expiration = min(max(head.timestamp_ms, now) + EXPIRATION_MS, head.timestamp_ms + MAX_EXPIRATION_MS)
    contract: dict[str, Any] = {"parameter": {"value": value, "type_url": TYPE_URL_PREFIX + kind}, "type": kind}
    permission = _uint_param(params, "Permission_id")
    if permission:
        contract["Permission_id"] = permission
    raw_json: dict[str, Any] = {
        "contract": [contract],
        "ref_block_bytes": head.height.to_bytes(8, "big")[6:8].hex(),
        "ref_block_hash": head.hash[8:16].hex(),
        "expiration": expiration,
        "timestamp": now,
    }
    if fee_limit:
        raw_json["fee_limit"] = fee_limit
    raw = raw_data_bytes(raw_json)
    try:
        engine = TvmEngine()
        found = engine.decode(bytes((RAW_TX,)) + transaction_bytes(raw, []))
        engine.validate(found.body, cd.state(), constant)  # type: ignore[arg-type]
    except (AdmissionError, ExecutionError) as e:
        raise ContractInvalid(e.message) from None
    tx = parse_transaction(transaction_bytes(raw, []))
    return {"visible": visible, "txID": txid_of(raw).hex(), "raw_data": raw_data_json(tx, visible), "raw_data_hex": raw.hex()}


class ContractInvalid(RequestError):
    """A contract a node would not build: java-tron's `Contract validate error : …`."""


@tron()
def createtransaction(params: dict[str, Any]) -> dict[str, Any]:
    """An unsigned TransferContract (validated: owner known, enough sun, not to itself)."""
    owner = parse_tron_address(params.get("owner_address"), "owner_address")
    to = parse_tron_address(params.get("to_address"), "to_address")
    amount = params.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**63:
        raise RequestError("amount must be a non-negative integer (sun)")
    try:
        return _unsigned("TransferContract", {"owner_address": owner.hex(), "to_address": to.hex(), "amount": amount}, params)
    except ContractInvalid as e:
        raise RequestError(f"Contract validate error : {e}") from None


def _call_data(params: dict[str, Any]) -> bytes:
    """`function_selector` + `parameter` (java-tron's Util.parseMethod: keccak of the signature, first 4 bytes,
    then the ABI-encoded arguments as hex), or `data` as hex."""
    selector = params.get("function_selector")
    if selector:
        if not isinstance(selector, str):
            raise RequestError("function_selector must be a string such as transfer(address,uint256)")
        head = keccak(selector.replace(" ", "").encode())[:4]
        return head + _hex_param(params, "parameter")
    return _hex_param(params, "data")


def _hex_param(params: dict[str, Any], key: str) -> bytes:
    value = params.get(key) or ""
    if not isinstance(value, str):
        raise RequestError(f"{key} must be hex")
    try:
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    except ValueError:
        raise RequestError(f"{key} must be hex") from None


def _trigger_value(params: dict[str, Any]) -> tuple[dict[str, Any], bytes, bytes, bytes, int]:
    owner = parse_tron_address(params.get("owner_address"), "owner_address")
    contract = parse_tron_address(params.get("contract_address"), "contract_address")
    data = _call_data(params)
    value = {
        "owner_address": owner.hex(),
        "contract_address": contract.hex(),
        "data": data.hex(),
        "call_value": _uint_param(params, "call_value"),
        "call_token_value": _uint_param(params, "call_token_value"),
        "token_id": _uint_param(params, "token_id"),
    }
    return {k: v for k, v in value.items() if v}, owner, contract, data, value["call_value"]  # type: ignore[return-value]


def _extention_error(code: str, text: str) -> dict[str, Any]:
    """java-tron's TransactionExtention with a failed result (its message printed as hex)."""
    return {"result": {"code": code, "message": text.encode().hex()}}


@tron()
def triggersmartcontract(params: dict[str, Any]) -> dict[str, Any]:
    """An unsigned TriggerSmartContract: `{"result": {"result": true}, "transaction": …}`."""
    value, *_ = _trigger_value(params)
    try:
        tx = _unsigned("TriggerSmartContract", value, params, _uint_param(params, "fee_limit"))
    except ContractInvalid as e:
        return _extention_error("CONTRACT_VALIDATE_ERROR", str(e))
    return {"result": {"result": True}, "transaction": tx}


def _constant(params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """A constant call's transaction (as java-tron returns it) and its run, on the committed state at the head,
    cut after CALL_TIMEOUT_S."""
    value, owner, contract, data, call_value = _trigger_value(params)
    tx = _unsigned("TriggerSmartContract", value, params, _uint_param(params, "fee_limit"), constant=True)
    st = cd.state()
    deadline = time.monotonic() + CALL_TIMEOUT_S
    timed = timed_computation(TronComputation, deadline)
    state_class = type("TimedTronState", (TronState,), {"computation_class": timed})
    ctx = next_block_context(st.base)
    try:
        run = TvmEngine().run_constant(st, ctx, owner, contract, data, call_value, state_class)
    except CallTimeout:
        raise ContractInvalid(f"CPU timeout: the call ran past {CALL_TIMEOUT_S:g} s") from None
    return tx, run


@tron()
def triggerconstantcontract(params: dict[str, Any]) -> dict[str, Any]:
    """Run a call on the head's state without a transaction: `constant_result`, `energy_used`, its logs; a REVERT
    is `result.message` "REVERT opcode executed" with the revert data as the result, as java-tron answers."""
    try:
        tx, run = _constant(params)
    except ContractInvalid as e:
        return _extention_error("CONTRACT_VALIDATE_ERROR", str(e))
    if run.result not in ("SUCCESS", "REVERT"):
        return _extention_error("OTHER_ERROR", f"{run.result}: {run.message}")
    result: dict[str, Any] = {"result": True}
    if run.result == "REVERT":
        result["message"] = b"REVERT opcode executed".hex()
    out: dict[str, Any] = {"result": result, "energy_used": run.energy_used, "constant_result": [run.output.hex()]}
    if run.logs:
        out["logs"] = [
            {"address": a.hex(), "topics": [t.to_bytes(32, "big").hex() for t in topics], "data": d.hex()}
            for a, topics, d in run.logs
        ]
    tx["ret"] = [{"ret": "FAILED"}] if run.result == "REVERT" else [{}]
    out["transaction"] = tx
    return out


@tron()
def estimateenergy(params: dict[str, Any]) -> dict[str, Any]:
    """The energy a call needs: what its constant run spent before refunds."""
    try:
        _tx, run = _constant(params)
    except ContractInvalid as e:
        return _extention_error("CONTRACT_VALIDATE_ERROR", str(e))
    if run.result != "SUCCESS":
        return _extention_error("CONTRACT_EXE_ERROR", f"{run.result}: {run.message}")
    return {"result": {"result": True}, "energy_required": run.energy_used}


@tron()
def deploycontract(params: dict[str, Any]) -> dict[str, Any]:
    """An unsigned CreateSmartContract from `abi`, `bytecode` (+ `parameter`, the constructor's arguments),
    `name`, `call_value`, `consume_user_resource_percent`, `origin_energy_limit` and `fee_limit`; with the
    address the contract will have (`contract_address`), as java-tron prints it."""
    owner = parse_tron_address(params.get("owner_address"), "owner_address")
    bytecode = _hex_param(params, "bytecode") + _hex_param(params, "parameter")
    name = params.get("name") or ""
    if not isinstance(name, str):
        raise RequestError("name must be a string")
    new_contract: dict[str, Any] = {
        "origin_address": owner.hex(),
        "abi": params.get("abi") or [],
        "bytecode": bytecode.hex(),
        "call_value": _uint_param(params, "call_value"),
        "consume_user_resource_percent": _uint_param(params, "consume_user_resource_percent"),
        "name": name,
        "origin_energy_limit": _uint_param(params, "origin_energy_limit"),
    }
    value: dict[str, Any] = {"owner_address": owner.hex(), "new_contract": new_contract}
    for key in ("call_token_value", "token_id"):
        if _uint_param(params, key):
            value[key] = _uint_param(params, key)
    try:
        tx = _unsigned("CreateSmartContract", value, params, _uint_param(params, "fee_limit"))
    except ContractInvalid as e:
        return {"Error": f"Contract validate error : {e}"}
    tx["contract_address"] = contract_address_of(bytes.fromhex(tx["txID"]), owner).hex()
    return tx


def _contract(params: dict[str, Any]) -> tuple[bytes, bytes, dict[str, Any]] | None:
    """A contract's address, code and metadata as java-tron prints a SmartContract (`{}`-worthy when none)."""
    address = parse_tron_address(params.get("value"), "value")
    st = cd.state()
    code = TronAccounts(st).get_code(Address(address[1:]))
    if not code:
        return None
    stored = st.get(contract_key(address[1:]))
    visible = visible_of(params)
    if stored is not None:
        return address, code, smart_contract_json(stored, visible)
    meta: dict[str, Any] = {"contract_address": show_address(address, visible)}
    mint = mint_at(st, address[1:])
    record = None if mint is None else get_mint(st, mint)
    if record is not None:  # a mint's TRC-20 view: the one ledger's token, with TIP-20's ABI
        meta.update({"name": record.name, "abi": {"entrys": TRC20_VIEW_ABI}, "consume_user_resource_percent": 100})
    return address, code, meta


@tron()
def getcontract(params: dict[str, Any]) -> dict[str, Any]:
    found = _contract(params)
    if found is None:
        return {}
    _address, code, meta = found
    return {**meta, "bytecode": code.hex()}


@tron()
def getcontractinfo(params: dict[str, Any]) -> dict[str, Any]:
    found = _contract(params)
    if found is None:
        return {}
    _address, code, meta = found
    return {"runtimecode": code.hex(), "smart_contract": {**meta, "bytecode": code.hex()}, "contract_state": {}}


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
        owner = TvmEngine().decode(bytes((RAW_TX,)) + transaction_bytes(raw, sigs)).body.owner  # type: ignore[attr-defined]
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
    if not sigs and _impersonated_owner(envelope):  # a devnet's impersonated owner: its unsigned raw_data, 0x4F
        envelope = bytes((IMPERSONATED,)) + raw
    try:
        admit_to_mempool(envelope)
    except AdmissionError as e:
        code = "DUP_TRANSACTION_ERROR" if e.code == "already_known" else e.code
        return refusal(code if code in TRON_CODES else "OTHER_ERROR", e.message, txid)
    return {"result": True, "txid": txid.hex()}


def _impersonated_owner(envelope: bytes) -> bool:
    try:
        owner = TvmEngine().decode(envelope).body.owner  # type: ignore[attr-defined]
    except AdmissionError:
        return False  # admission says why it does not read
    return impersonation.impersonating("tron", owner)


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
    return transaction_json(found.body, visible_of(params), found.contract_ret)


@tron()
def gettransactioninfobyid(params: dict[str, Any]) -> dict[str, Any]:
    found = cd.committed_tx(_hash_param(params))
    return {} if found is None else transaction_info_json(found)


@tron()
def unknown(params: dict[str, Any], what: str) -> dict[str, Any]:
    return {"Error": f"endpoint {what!r} is not served by this devnet's Tron API (see rpc/tron/__init__.py)"}
