"""Tron's JSON vocabulary (java-tron's HTTP API, `JsonFormat` with `visible`): a transaction's `raw_data` as
JSON and back to the protobuf bytes it stands for, addresses as base58 `T…` or hex `41…`, blocks, transaction
infos, and the error objects a Tron node answers.

Pure functions of their arguments; what they show is read by rpc/tron/chaindata.py. The protobuf writer
serialises as java-tron does (fields in number order, default values left out), so a `raw_data` a wallet
built as JSON hashes to the txid a Tron node would give it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import base58

from chain.address import tron_text
from chain.blocks import HEADER_VERSION, Header
from chain.identity import TRON_ADDRESS_PREFIX
from engines.tvm.engine import CONTRACT_NAMES, TRANSFER_CONTRACT, tron_block_id
from engines.tvm.proto import ProtoError, TronTx, as_bytes, as_int, field, fields, message, parse_transaction

CONTRACT_TYPES = {name: number for number, name in CONTRACT_NAMES.items()}
TYPE_URL_PREFIX = "type.googleapis.com/protocol."
RAW_KEYS = {"contract", "ref_block_bytes", "ref_block_num", "ref_block_hash", "expiration", "timestamp", "data", "fee_limit"}
MAX_RESULT_SIZE_IN_TX = 64  # java-tron counts this many bytes of result per contract in a transaction's bandwidth


class RequestError(ValueError):
    """A request a Tron node cannot read: answered `{"Error": "<text>"}`, as java-tron does."""


# -- addresses --------------------------------------------------------------------------------------
def parse_tron_address(value: Any, what: str = "address") -> bytes:
    """A Tron address as base58check `T…` or hex `41…` (java-tron takes either, whatever `visible` says)."""
    if not isinstance(value, str) or not value:
        raise RequestError(f"{what} must be a Tron address (T… or 41…)")
    raw = b""
    if len(value) == 42 and value[:2] == "41":
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
    elif len(value) <= 40 and value.isascii():
        try:
            raw = base58.b58decode_check(value)
        except ValueError:
            raw = b""
    if len(raw) != 21 or raw[0] != TRON_ADDRESS_PREFIX:
        raise RequestError(f"Invalid {what}: {value[:64]!r} is not a Tron address")
    return raw


def show_address(raw: bytes, visible: bool) -> str:
    return tron_text(raw) if visible else raw.hex()


def visible_of(params: dict[str, Any]) -> bool:
    v = params.get("visible", False)
    return v is True or (isinstance(v, str) and v.lower() == "true")


# -- raw_data JSON -> protobuf ----------------------------------------------------------------------
def _hex(value: Any, what: str, length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise RequestError(f"{what} must be hex")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise RequestError(f"{what} must be hex") from None
    if length is not None and len(raw) != length:
        raise RequestError(f"{what} must be {length} bytes")
    return raw


def _uint(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise RequestError(f"{what} must be a non-negative integer")
    return value


def _contract_bytes(contract: Any, visible: bool) -> bytes:
    if not isinstance(contract, dict):
        raise RequestError("a contract must be an object")
    name = contract.get("type")
    number = CONTRACT_TYPES.get(name) if isinstance(name, str) else None
    if number is None or not isinstance(name, str):
        raise RequestError(f"contract type {name!r} is not one this devnet knows ({', '.join(CONTRACT_TYPES)})")
    if number != TRANSFER_CONTRACT:
        raise RequestError(f"{name} is not built yet on this devnet's TVM (TRX transfers are)")
    parameter = contract.get("parameter")
    if not isinstance(parameter, dict) or not isinstance(parameter.get("value"), dict):
        raise RequestError("contract.parameter.value must be an object")
    value = parameter["value"]
    if set(value) - {"owner_address", "to_address", "amount"}:
        raise RequestError(f"TransferContract has no field {sorted(set(value) - {'owner_address', 'to_address', 'amount'})}")
    body = b"".join(
        (
            field(1, parse_tron_address(value.get("owner_address"), "owner_address")),
            field(2, parse_tron_address(value.get("to_address"), "to_address")),
            field(3, _uint(value.get("amount", 0), "amount")) if value.get("amount") else b"",
        )
    )
    type_url = parameter.get("type_url", TYPE_URL_PREFIX + name)
    if type_url != TYPE_URL_PREFIX + name:
        raise RequestError(f"type_url {type_url!r} does not match contract type {name}")
    if set(contract) - {"type", "parameter", "Permission_id"}:
        raise RequestError(f"a contract has no field {sorted(set(contract) - {'type', 'parameter', 'Permission_id'})}")
    permission = _uint(contract.get("Permission_id", 0), "Permission_id")
    return b"".join(
        (
            field(1, number),
            field(2, field(1, type_url.encode()) + field(2, body)),
            field(5, permission) if permission else b"",
        )
    )


def raw_data_bytes(raw: Any, visible: bool = False) -> bytes:
    """The protobuf `Transaction.raw` a `raw_data` JSON object stands for (java-tron's field order)."""
    if not isinstance(raw, dict):
        raise RequestError("raw_data must be an object")
    unknown = set(raw) - RAW_KEYS
    if unknown:
        raise RequestError(f"raw_data has no field {sorted(unknown)}")
    contracts = raw.get("contract")
    if not isinstance(contracts, list) or len(contracts) != 1:
        raise RequestError("raw_data.contract must hold exactly one contract")
    parts: list[tuple[int, int | bytes]] = [
        (1, _hex(raw.get("ref_block_bytes", ""), "ref_block_bytes")),
        (3, _uint(raw.get("ref_block_num", 0), "ref_block_num")),
        (4, _hex(raw.get("ref_block_hash", ""), "ref_block_hash")),
        (8, _uint(raw.get("expiration", 0), "expiration")),
        (10, _hex(raw.get("data", ""), "data")),
        (11, _contract_bytes(contracts[0], visible)),
        (14, _uint(raw.get("timestamp", 0), "timestamp")),
        (18, _uint(raw.get("fee_limit", 0), "fee_limit")),
    ]
    return b"".join(field(n, v) for n, v in parts if v)


def transaction_bytes(raw_data: bytes, signatures: list[bytes]) -> bytes:
    return field(1, raw_data) + b"".join(field(2, s) for s in signatures)


def signatures_of(value: Any) -> list[bytes]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 5:
        raise RequestError("signature must be a list of hex strings")
    return [_hex(s, "signature") for s in value]


def txid_of(raw_data: bytes) -> bytes:
    return hashlib.sha256(raw_data).digest()


# -- protobuf -> JSON -------------------------------------------------------------------------------
def raw_data_json(tx: TronTx, visible: bool) -> dict[str, Any]:
    """`raw_data` as java-tron prints it (default values left out)."""
    c = tx.contract
    name = CONTRACT_NAMES.get(c.type, str(c.type))
    value: dict[str, Any] = {}
    if c.type == TRANSFER_CONTRACT:
        try:
            body = message(c.value, {1: bytes, 2: bytes, 3: int}, "TransferContract")
        except ProtoError:
            body = {}
        if as_int(body, 3):
            value["amount"] = as_int(body, 3)
        for number, key in ((1, "owner_address"), (2, "to_address")):
            raw = as_bytes(body, number)
            value[key] = show_address(raw, visible) if len(raw) == 21 and raw[0] == TRON_ADDRESS_PREFIX else raw.hex()
    contract: dict[str, Any] = {"parameter": {"value": value, "type_url": c.type_url}, "type": name}
    permission = _permission_id(tx.raw_data)
    if permission:
        contract["Permission_id"] = permission
    out: dict[str, Any] = {"contract": [contract]}
    ref_num = as_int(dict(f for f in fields(tx.raw_data) if f[0] == 3), 3)
    for key, present, shown in (
        ("ref_block_bytes", tx.ref_block_bytes, tx.ref_block_bytes.hex()),
        ("ref_block_num", ref_num, ref_num),
        ("ref_block_hash", tx.ref_block_hash, tx.ref_block_hash.hex()),
        ("expiration", tx.expiration, tx.expiration),
        ("data", tx.memo, tx.memo.hex()),
        ("timestamp", tx.timestamp, tx.timestamp),
        ("fee_limit", tx.fee_limit, tx.fee_limit),
    ):
        if present:
            out[key] = shown
    return out


def _permission_id(raw_data: bytes) -> int:
    for number, value in fields(raw_data):
        if number == 11 and isinstance(value, bytes):
            return as_int(dict(fields(value)), 5)
    return 0


def transaction_json(envelope_body: bytes, visible: bool, contract_ret: str | None = None) -> dict[str, Any]:
    """A transaction as `gettransactionbyid` and blocks show it; `contract_ret` for one a block executed."""
    tx = parse_transaction(envelope_body)
    out: dict[str, Any] = {}
    if contract_ret is not None:
        out["ret"] = [{"contractRet": contract_ret}]
    out.update(
        {
            "signature": [s.hex() for s in tx.signatures],
            "txID": txid_of(tx.raw_data).hex(),
            "raw_data": raw_data_json(tx, visible),
            "raw_data_hex": tx.raw_data.hex(),
        }
    )
    if not out["signature"]:
        del out["signature"]
    return out


def net_usage(envelope_body: bytes) -> int:
    """The bandwidth a Tron node counts for a transaction: its bytes with a result, plus 64 per contract."""
    return len(envelope_body) + len(field(5, field(3, 1))) + MAX_RESULT_SIZE_IN_TX


# -- blocks -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """A Tron transaction a block executed: its protobuf bytes (after the opcode) and where it is."""

    body: bytes
    height: int
    timestamp_ms: int
    position: int


def block_id(header: Header) -> str:
    return tron_block_id(header.height, header.hash).hex()


def witness_address(header: Header) -> bytes:
    """The validator as a Tron address: 0x41 ‖ the last 20 bytes of its Ed25519 public key (an address no
    secp256k1 key signs for — blocks are signed with Ed25519, shown as `witness_signature`)."""
    return bytes((TRON_ADDRESS_PREFIX,)) + header.proposer[-20:]


def block_json(header: Header, txs: list[Shown], visible: bool) -> dict[str, Any]:
    parent = tron_block_id(header.height - 1, header.parent_hash) if header.height > 0 else header.parent_hash
    raw: dict[str, Any] = {
        "number": header.height,
        "txTrieRoot": header.tx_root.hex(),
        "witness_address": show_address(witness_address(header), visible),
        "parentHash": parent.hex(),
        "version": HEADER_VERSION,
        "timestamp": header.timestamp_ms,
    }
    if raw["number"] == 0:
        del raw["number"]  # proto3 JSON leaves a default out, as java-tron shows its genesis
    out: dict[str, Any] = {
        "blockID": block_id(header),
        "block_header": {"raw_data": raw, "witness_signature": header.signature.hex()},
    }
    if txs:
        out["transactions"] = [transaction_json(t.body, visible, "SUCCESS") for t in txs]
    return out


def transaction_info_json(t: Shown) -> dict[str, Any]:
    """`gettransactioninfobyid` for a transfer: no fee (bandwidth is free here), the block, the receipt."""
    return {
        "id": txid_of(parse_transaction(t.body).raw_data).hex(),
        "blockNumber": t.height,
        "blockTimeStamp": t.timestamp_ms,
        "contractResult": [""],
        "receipt": {"net_usage": net_usage(t.body), "result": "SUCCESS"},
    }


# -- errors -----------------------------------------------------------------------------------------
def refusal(code: str, text: str, txid: bytes | None) -> dict[str, Any]:
    """java-tron's answer to a transaction it does not broadcast: the code, the message as hex of its text."""
    out: dict[str, Any] = {"code": code, "message": text.encode().hex()}
    if txid is not None:
        out["txid"] = txid.hex()
    return out
