"""`POST /rpc/eth`: JSON-RPC 2.0 (rpc/jsonrpc.py: single requests, batches, notifications) with EIP-1474 errors.

A chain-level error (ChainError) is geth's -32000 with the chain's message.
"""

from __future__ import annotations

from django.conf import settings

from chain.errors import ChainError
from rpc.jsonrpc import MAX_BODY_BYTES, Endpoint, RpcError

from . import impersonate, signing, txpool  # noqa: F401 — register eth_sendTransaction, impersonation, signing, txpool_*
from .codec import INVALID_INPUT
from .methods import call_method


def chain_error(e: ChainError) -> RpcError:
    return RpcError(INVALID_INPUT, e.message)


# In devnet mode a request may carry a state file back (anvil_loadState takes what anvil_dumpState gave, as hex).
DEVNET_MAX_BODY_BYTES = 256 * 1024 * 1024


def _max_body() -> int:
    return DEVNET_MAX_BODY_BYTES if settings.NVM_DEVNET else MAX_BODY_BYTES


ENDPOINT = Endpoint("eth", call_method, chain_error, _max_body)
eth_rpc = ENDPOINT.view()
