"""JSON-RPC 2.0 over HTTP, shared by the node's JSON-RPC dialects (`/rpc/eth`, `/rpc/solana`): the framing —
single requests, batches, notifications —, error objects, and a table of positional methods.

Every answer is a JSON-RPC response with HTTP 200, but for a body too large to read (413) or a method
other than POST (405), still JSON-RPC errors, and 204 when only notifications came. Nothing unexpected
leaks: an exception is logged and answered with -32603. What differs between dialects — the wording of
"no such method" and "wrong number of params", the error a chain-level failure becomes — each gives.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from chain.errors import ChainError
from rpc.jsonbody import MAX_JSON_DEPTH, too_deep

# JSON-RPC 2.0's own error codes
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

MAX_BODY_BYTES = 2 * 1024 * 1024  # below Django's DATA_UPLOAD_MAX_MEMORY_SIZE, so this check is the one that answers
MAX_BATCH = 100

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def error_response(request_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": err.to_json()}


# -- methods -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    fn: Callable[..., Any]
    least: int
    most: int


class Methods:
    """A dialect's methods by name. Each takes its positional params (trailing ones optional, as its
    Python signature says) and returns the JSON result, or raises RpcError."""

    def __init__(self, not_found: Callable[[str], RpcError], arity: Callable[[str, int, int, int], RpcError]) -> None:
        self.table: dict[str, Method] = {}
        self._not_found = not_found
        self._arity = arity  # (name, least, most, got) -> the error for a wrong number of params

    def register(self, name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            params = inspect.signature(fn).parameters.values()
            least = sum(1 for p in params if p.default is inspect.Parameter.empty)
            self.table[name] = Method(fn, least, len(params))
            return fn

        return register

    def call(self, name: str, params: list[Any]) -> Any:
        method = self.table.get(name)
        if method is None:
            raise self._not_found(name)
        if not method.least <= len(params) <= method.most:
            raise self._arity(name, method.least, method.most, len(params))
        return method.fn(*params)


# -- framing -----------------------------------------------------------------------------------------
def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)


class Endpoint:
    """One JSON-RPC endpoint: `call(method, params)` answers a request; `chain_error` turns the chain's
    own errors (ChainError) into the dialect's error object."""

    def __init__(
        self,
        name: str,
        call: Callable[[str, list[Any]], Any],
        chain_error: Callable[[ChainError], RpcError],
        max_body: Callable[[], int] = lambda: MAX_BODY_BYTES,
    ) -> None:
        self.name = name
        self.call = call
        self.chain_error = chain_error
        self.max_body = max_body  # asked per request: a devnet takes a state file back (anvil_loadState)

    def handle(self, request: Any) -> dict[str, Any] | None:
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
            result = self.call(method, params)
        except RpcError as e:
            response = error_response(request_id, e)
        except ChainError as e:
            response = error_response(request_id, self.chain_error(e))
        except Exception:
            log.exception("%s JSON-RPC %s failed", self.name, method)
            response = error_response(request_id, RpcError(INTERNAL_ERROR, "internal error; see the node's log"))
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        return None if is_notification else response

    def answer(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            resp = JsonResponse(error_response(None, RpcError(INVALID_REQUEST, "send JSON-RPC requests with POST")), status=405)
            resp["Allow"] = "POST, OPTIONS"
            return resp
        limit = self.max_body()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return _too_large(limit)
        try:
            # above Django's own cap (DATA_UPLOAD_MAX_MEMORY_SIZE, which request.body enforces) only when the
            # endpoint allows it: read from the stream, at most one byte past the limit
            body = request.body if limit <= MAX_BODY_BYTES else request.read(limit + 1)
        except RequestDataTooBig:
            return _too_large(limit)
        if len(body) > limit:
            return _too_large(limit)
        # Deeper JSON is refused before it is parsed (rpc/jsonbody.py says why).
        if too_deep(body):
            err = RpcError(PARSE_ERROR, f"parse error: JSON nested deeper than {MAX_JSON_DEPTH}")
            return JsonResponse(error_response(None, err))
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
            responses = [r for r in map(self.handle, payload) if r is not None]
            return JsonResponse(responses, safe=False) if responses else HttpResponse(status=204)
        response = self.handle(payload)
        return HttpResponse(status=204) if response is None else JsonResponse(response)

    def view(self) -> Callable[[HttpRequest], HttpResponse]:
        """The Django view. Open to every origin, as a devnet node's RPC is: dapps in a browser call it directly."""

        @csrf_exempt
        def rpc_view(request: HttpRequest) -> HttpResponse:
            if request.method == "OPTIONS":  # CORS preflight
                resp = HttpResponse(status=204)
                resp["Access-Control-Allow-Methods"] = "POST, OPTIONS"
                resp["Access-Control-Allow-Headers"] = "Content-Type"
                resp["Access-Control-Max-Age"] = "600"
            else:
                resp = self.answer(request)
            resp["Access-Control-Allow-Origin"] = "*"
            return resp

        rpc_view.__name__ = f"{self.name}_rpc"
        return rpc_view


def _too_large(limit: int) -> JsonResponse:
    err = RpcError(INVALID_REQUEST, f"the request body is larger than {limit} bytes")
    return JsonResponse(error_response(None, err), status=413)
