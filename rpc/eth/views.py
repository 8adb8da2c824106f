"""`POST /rpc/eth`: JSON-RPC 2.0 (rpc/jsonrpc.py: single requests, batches, notifications) with EIP-1474 errors.

A chain-level error (ChainError) is geth's -32000 with the chain's message.
"""

from __future__ import annotations

from chain.errors import ChainError
from rpc.jsonrpc import Endpoint, RpcError

from . import impersonate, signing, txpool  # noqa: F401 — register eth_sendTransaction, impersonation, signing, txpool_*
from .codec import INVALID_INPUT
from .methods import call_method


def _chain_error(e: ChainError) -> RpcError:
    return RpcError(INVALID_INPUT, e.message)


ENDPOINT = Endpoint("eth", call_method, _chain_error)
eth_rpc = ENDPOINT.view()
