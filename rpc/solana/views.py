"""`POST /rpc/solana`: JSON-RPC 2.0 (rpc/jsonrpc.py: single requests, batches, notifications) with Solana's errors.

A read runs on one database snapshot, so a block committed meanwhile cannot tear its answer (the context
slot and the value are the same head's); sendTransaction and requestAirdrop, which admit a transaction to
the mempool, run outside one. A chain-level error (ChainError, e.g. no genesis yet) is an internal error
with the chain's message. The client's address (the faucet's rate limit) and the host it reached
(getClusterNodes) are handed to the methods for the request.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from chain.errors import ChainError
from chain.store.sql import consistent_reads
from rpc.jsonrpc import INTERNAL_ERROR, Endpoint, RpcError

from .codec import CLIENT, CLIENT_HOST
from .methods import call_method

WRITERS = frozenset(("sendTransaction", "requestAirdrop"))  # they admit to the mempool: not on a read-only snapshot


def _call(name: str, params: list[Any]) -> Any:
    with nullcontext() if name in WRITERS else consistent_reads():
        return call_method(name, params)


def chain_error(e: ChainError) -> RpcError:
    return RpcError(INTERNAL_ERROR, e.message)


ENDPOINT = Endpoint("solana", _call, chain_error)
_view = ENDPOINT.view()


@csrf_exempt
def solana_rpc(request: HttpRequest) -> HttpResponse:
    client = CLIENT.set(request.META.get("REMOTE_ADDR") or "unknown")
    host = CLIENT_HOST.set(request.get_host() if request.META.get("HTTP_HOST") else None)
    try:
        return _view(request)
    finally:
        CLIENT.reset(client)
        CLIENT_HOST.reset(host)
