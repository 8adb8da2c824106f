"""JSON-RPC error codes and the hex encoding of the Ethereum JSON-RPC (EIP-1474, execution-apis).

Output is strict: a quantity is `0x` and hex digits without leading zeros (`0x0` for zero), data is
`0x` and an even number of hex digits. Input is read as geth reads it, a little more leniently:
quantities may carry leading zeros or be JSON integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rpc.jsonrpc import INVALID_PARAMS
from rpc.jsonrpc import RpcError as RpcError  # JSON-RPC's error object, as this dialect's modules import it

# EIP-1474 error codes beyond JSON-RPC's own (rpc/jsonrpc.py)
INVALID_INPUT = -32000  # geth's code for a refused transaction and other failed requests
RESOURCE_NOT_FOUND = -32001
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3  # geth: eth_call / eth_estimateGas hit REVERT; `data` holds the revert data

UINT256_MAX = 2**256 - 1
BLOCK_TAGS = ("latest", "pending", "safe", "finalized", "earliest")


def invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


# -- output ------------------------------------------------------------------------------------
def qty(n: int) -> str:
    return hex(n)


def data(b: bytes | memoryview) -> str:
    return "0x" + bytes(b).hex()


def address_out(b: bytes) -> str:
    """Addresses go out in lower case, as geth sends them; clients checksum them themselves."""
    return "0x" + bytes(b).hex()


# -- input -------------------------------------------------------------------------------------
def parse_quantity(value: Any, what: str, limit: int = UINT256_MAX) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            n = int(value[2:], 16)
        except ValueError:
            raise invalid(f"{what} must be a hex quantity such as 0x1a") from None
    else:
        raise invalid(f"{what} must be a hex quantity such as 0x1a")
    if not 0 <= n <= limit:
        raise invalid(f"{what} is out of range (0 to {limit})")
    return n


def parse_data(value: Any, what: str, length: int | None = None, max_length: int | None = None) -> bytes:
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise invalid(f"{what} must be 0x-prefixed hex")
    if max_length is not None and len(value) > 2 + 2 * max_length:
        raise invalid(f"{what} is longer than {max_length} bytes")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise invalid(f"{what} must be 0x-prefixed hex with an even number of digits") from None
    if length is not None and len(raw) != length:
        raise invalid(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def parse_address(value: Any, what: str = "address") -> bytes:
    return parse_data(value, what, 20)


def parse_hash(value: Any, what: str = "hash") -> bytes:
    return parse_data(value, what, 32)


def parse_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"{what} must be true or false")
    return value


@dataclass(frozen=True)
class BlockRef:
    """A block parameter: a tag, a number or (EIP-1898) a hash."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None


def parse_block_ref(value: Any, what: str = "block") -> BlockRef:
    if value is None:
        return BlockRef(tag="latest")
    if isinstance(value, str) and value in BLOCK_TAGS:
        return BlockRef(tag=value)
    if isinstance(value, dict):  # EIP-1898
        if "blockHash" in value and "blockNumber" not in value:
            return BlockRef(hash=parse_hash(value["blockHash"], f"{what}.blockHash"))
        if "blockNumber" in value and "blockHash" not in value:
            return parse_block_ref(value["blockNumber"], f"{what}.blockNumber")
        raise invalid(f"{what} must give exactly one of blockHash or blockNumber")
    if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) == 66:
        return BlockRef(hash=parse_hash(value, what))
    try:
        return BlockRef(number=parse_quantity(value, what, 2**63 - 1))
    except RpcError:
        raise invalid(f'{what} must be a block number, a block hash or one of "{", ".join(BLOCK_TAGS)}"') from None


def require_current_state(value: Any, what: str = "block") -> None:
    """The node holds the current state only: a state read or a call is answered at the head."""
    ref = parse_block_ref(value, what)
    if ref.tag in ("latest", "pending", "safe", "finalized"):
        return
    asked = ref.tag or (f"block {ref.number}" if ref.number is not None else "a block hash")
    raise invalid(f'this node keeps only the current state: use "latest" or "pending" ({asked} is not available)')
