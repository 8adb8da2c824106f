"""`POST /rpc/eth`: JSON-RPC 2.0 framing — single requests, batches, notifications, EIP-1474 errors.

Every answer is a JSON-RPC response with HTTP 200, but for a body too large to read (413) or a method
other than POST (405), still JSON-RPC errors, and 204 when only notifications came. Nothing unexpected
leaks: an exception is logged and answered with -32603.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from chain.errors import ChainError
from rpc.jsonbody import MAX_JSON_DEPTH, too_deep

from .codec import INTERNAL_ERROR, INVALID_INPUT, INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, RpcError
from .methods import call_method

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 2 * 1024 * 1024  # below Django's DATA_UPLOAD_MAX_MEMORY_SIZE, so this check is the one that answers
MAX_BATCH = 100


# Deeper JSON is refused before it is parsed: py_ecc (through eth-keys) raises the recursion limit to
# 100,000, which lets the C JSON decoder recurse until the thread's stack overflows and the server dies.
def error_response(request_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": err.to_json()}


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)


def handle(request: Any) -> dict[str, Any] | None:
    """One request object → its response, or None for a notification (a request without an id)."""
    if not isinstance(request, dict):
        return error_response(None, RpcError(INVALID_REQUEST, "a request must be a JSON object"))
    is_notification = "id" not in request
    request_id = request.get("id")
    if not _valid_id(request_id):
        return error_response(None, RpcError(INVALID_REQUEST, "id must be a string, a number or null"))
    if request.get("jsonrpc") != "2.0":
        return error_response(request_id, RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0"'))
    method = request.get("method")
    if not isinstance(method, str):
        return error_response(request_id, RpcError(INVALID_REQUEST, "method must be a string"))
    params = request.get("params")
    if params is None:
        params = []
    if isinstance(params, dict):
        return error_response(request_id, RpcError(INVALID_PARAMS, "params must be an array (positional)"))
    if not isinstance(params, list):
        return error_response(request_id, RpcError(INVALID_REQUEST, "params must be an array"))
    try:
        result = call_method(method, params)
    except RpcError as e:
        response = error_response(request_id, e)
    except ChainError as e:
        response = error_response(request_id, RpcError(INVALID_INPUT, e.message))
    except Exception:
        log.exception("eth JSON-RPC %s failed", method)
        response = error_response(request_id, RpcError(INTERNAL_ERROR, "internal error; see the node's log"))
    else:
        response = {"jsonrpc": "2.0", "id": request_id, "result": result}
    return None if is_notification else response


def _too_large() -> JsonResponse:
    err = RpcError(INVALID_REQUEST, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    return JsonResponse(error_response(None, err), status=413)


@csrf_exempt
def eth_rpc(request: HttpRequest) -> HttpResponse:
    """Open to every origin, as a devnet node's RPC is: dapps in a browser call it directly."""
    if request.method == "OPTIONS":  # CORS preflight
        resp = HttpResponse(status=204)
        resp["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        resp["Access-Control-Allow-Headers"] = "Content-Type"
        resp["Access-Control-Max-Age"] = "600"
    else:
        resp = answer(request)
    resp["Access-Control-Allow-Origin"] = "*"
    return resp


def answer(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        resp = JsonResponse(error_response(None, RpcError(INVALID_REQUEST, "send JSON-RPC requests with POST")), status=405)
        resp["Allow"] = "POST, OPTIONS"
        return resp
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return _too_large()
    try:
        body = request.body
    except RequestDataTooBig:
        return _too_large()
    if len(body) > MAX_BODY_BYTES:
        return _too_large()
    if too_deep(body):
        return JsonResponse(error_response(None, RpcError(PARSE_ERROR, f"parse error: JSON nested deeper than {MAX_JSON_DEPTH}")))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return JsonResponse(error_response(None, RpcError(PARSE_ERROR, "parse error: the body is not valid JSON")))
    if isinstance(payload, list):
        if not payload:
            return JsonResponse(error_response(None, RpcError(INVALID_REQUEST, "empty batch")))
        if len(payload) > MAX_BATCH:
            err = RpcError(INVALID_REQUEST, f"a batch holds at most {MAX_BATCH} requests, got {len(payload)}")
            return JsonResponse(error_response(None, err))
        responses = [r for r in map(handle, payload) if r is not None]
        return JsonResponse(responses, safe=False) if responses else HttpResponse(status=204)
    response = handle(payload)
    return HttpResponse(status=204) if response is None else JsonResponse(response)
