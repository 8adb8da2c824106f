"""Solana JSON-RPC's encodings and error vocabulary, as Agave's RPC speaks them: base58 pubkeys, signatures
and hashes, config objects, commitments, and the error objects a Solana node answers with.

Params are read as Agave reads them (serde): a wrong JSON type is "Invalid params: invalid type: …", a
bad base58 key "Invalid param: Invalid" or "Invalid param: WrongSize", an unknown enum value "unknown
variant". Config objects may carry keys this node does not know (newer clients send them); the known
ones are checked.
"""

from __future__ import annotations

import base64
import binascii
import math
from contextvars import ContextVar
from typing import Any

import base58

from rpc.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, RpcError

# Solana's own error codes (solana-rpc-client-api, custom_error.rs)
BLOCK_CLEANED_UP = -32001
SEND_TRANSACTION_PREFLIGHT_FAILURE = -32002
TRANSACTION_SIGNATURE_VERIFICATION_FAILURE = -32003
BLOCK_NOT_AVAILABLE = -32004
KEY_EXCLUDED_FROM_SECONDARY_INDEX = -32010
UNSUPPORTED_TRANSACTION_VERSION = -32015
MIN_CONTEXT_SLOT_NOT_REACHED = -32016

API_VERSION = "2.2.0"  # the Agave release whose RPC this one follows (getVersion's solana-core)
COMMITMENTS = ("processed", "confirmed", "finalized")
U64_MAX = 2**64 - 1

# Who asks, set by the view for each request: the client's address (the faucet's rate limit) and the
# host:port it reached this node at (getClusterNodes' rpc address).
CLIENT: ContextVar[str] = ContextVar("solana_rpc_client", default="unknown")
CLIENT_HOST: ContextVar[str | None] = ContextVar("solana_rpc_host", default=None)


def invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def _kind(value: Any) -> str:
    """serde's words for a JSON value, as its "invalid type" messages use them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value[:64]}"'
    return "sequence" if isinstance(value, list) else "map"


def wrong_type(value: Any, expected: str) -> RpcError:
    return invalid(f"Invalid params: invalid type: {_kind(value)}, expected {expected}.")


def b58(data: bytes) -> str:
    return base58.b58encode(data).decode()


def _base58_key(value: Any, length: int, max_text: int) -> bytes:
    if not isinstance(value, str):
        raise wrong_type(value, "a string")
    if len(value) > max_text:
        raise invalid("Invalid param: WrongSize")
    try:
        raw = base58.b58decode(value)
    except ValueError:
        raise invalid("Invalid param: Invalid") from None
    if len(raw) != length:
        raise invalid("Invalid param: WrongSize")
    return raw


def pubkey(value: Any) -> bytes:
    """A base58 public key (Pubkey::from_str); also a blockhash (Hash::from_str reads the same way)."""
    return _base58_key(value, 32, 44)


def signature(value: Any) -> bytes:
    return _base58_key(value, 64, 88)


def u64(value: Any, what: str = "u64") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(value, what)
    if not 0 <= value <= U64_MAX:
        raise invalid(f"Invalid params: invalid value: integer `{value}`, expected {what}.")
    return value


def flag(cfg: dict[str, Any], what: str, default: bool = False) -> bool:
    """A config object's boolean (absent or null: the default)."""
    value = cfg.get(what)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"Invalid params: invalid type: {_kind(value)}, expected a boolean ({what}).")
    return value


def config(value: Any, what: str = "a config object") -> dict[str, Any]:
    """A method's trailing config object (absent or null: all defaults)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise wrong_type(value, what)
    return value


def variant(value: Any, allowed: tuple[str, ...], default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise wrong_type(value, "a string")
    if value not in allowed:
        listed = ", ".join(f"`{a}`" for a in allowed)
        raise invalid(f"Invalid params: unknown variant `{value[:64]}`, expected one of {listed}.")
    return value


def commitment(cfg: dict[str, Any]) -> str:
    """processed, confirmed or finalized: all read the head (one validator finalises each block at once)."""
    return variant(cfg.get("commitment"), COMMITMENTS, "finalized")


def min_context_slot(cfg: dict[str, Any], head: int) -> None:
    """Refuse a request that needs a slot this node has not reached, as Agave does."""
    wanted = cfg.get("minContextSlot")
    if wanted is not None and u64(wanted) > head:
        raise RpcError(MIN_CONTEXT_SLOT_NOT_REACHED, "Minimum context slot has not been reached", {"contextSlot": head})


def with_context(slot: int, value: Any) -> dict[str, Any]:
    """An RpcResponse: the value and the slot it was read at."""
    return {"context": {"apiVersion": API_VERSION, "slot": slot}, "value": value}


def binary(text: Any, encoding: str, what: str, max_raw: int) -> bytes:
    """Base58 or base64 text of at most `max_raw` bytes (Agave's decode_and_deserialize checks the text's
    length first: a huge string is refused before it is decoded)."""
    if not isinstance(text, str):
        raise wrong_type(text, "a string")
    max_text = _encoded_max(encoding, max_raw)
    if len(text) > max_text:
        raise invalid(f"{encoding} encoded {what} too large: {len(text)} bytes (max: encoded/raw {max_text}/{max_raw})")
    try:
        raw = base58.b58decode(text) if encoding == "base58" else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as e:
        raise invalid(f"invalid {encoding} encoding: {e}") from None
    if len(raw) > max_raw:
        raise invalid(f"decoded {what} too large: {len(raw)} bytes (max: {max_raw} bytes)")
    return raw


def _encoded_max(encoding: str, raw: int) -> int:
    """The longest text of `raw` bytes (1683 base58 / 1644 base64 characters for a 1232-byte packet, as Agave's)."""
    return math.ceil(raw * math.log(256) / math.log(58)) if encoding == "base58" else (raw + 2) // 3 * 4


def invalid_request(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, message)
