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
import rlp

from chain.address import tron_text
from chain.blocks import HEADER_VERSION, Header
from chain.dispatcher import Receipt
from chain.identity import TRON_ADDRESS_PREFIX
from chain.ledger import BASE_PER_SUN
from engines.tvm.contracts import SMART_CONTRACT_FIELDS
from engines.tvm.engine import (
    CONTRACT_NAMES,
    CONTRACT_RESULT_CODES,
    CREATE_SMART_CONTRACT,
    TRANSFER_CONTRACT,
    TRIGGER_SMART_CONTRACT,
    tron_block_id,
)
from engines.tvm.proto import ProtoError, TronTx, as_bytes, as_int, field, fields, message, parse_transaction

from .abi import AbiError, abi_bytes, abi_json

CONTRACT_TYPES = {name: number for number, name in CONTRACT_NAMES.items()}
TYPE_URL_PREFIX = "type.googleapis.com/protocol."
RAW_KEYS = {"contract", "ref_block_bytes", "ref_block_num", "ref_block_hash", "expiration", "timestamp", "data", "fee_limit"}
TRIGGER_KEYS = ("owner_address", "contract_address", "call_value", "data", "call_token_value", "token_id")
SMART_CONTRACT_KEYS = (
    "origin_address",
    "contract_address",
    "abi",
    "bytecode",
    "call_value",
    "consume_user_resource_percent",
    "name",
    "origin_energy_limit",
    "code_hash",
    "trx_hash",
    "version",
)
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


def _keys(value: dict[str, Any], allowed: set[str], what: str) -> None:
    if set(value) - allowed:
        raise RequestError(f"{what} has no field {sorted(set(value) - allowed)}")


def _parts(parts: list[tuple[int, int | bytes]]) -> bytes:
    """A message's bytes as java-tron serialises it: fields in number order, default values left out."""
    return b"".join(field(n, v) for n, v in parts if v)


def _optional_address(value: Any, what: str) -> bytes:
    return b"" if value in (None, "") else parse_tron_address(value, what)


def _new_contract_bytes(value: Any) -> bytes:
    if not isinstance(value, dict):
        raise RequestError("new_contract must be an object")
    _keys(value, set(SMART_CONTRACT_KEYS), "new_contract")
    try:
        abi = abi_bytes(value.get("abi", []))
    except AbiError as e:
        raise RequestError(str(e)) from None
    name = value.get("name") or ""  # tronpy posts null for a contract without a name
    if not isinstance(name, str):
        raise RequestError("name must be a string")
    return _parts(
        [
            (1, _optional_address(value.get("origin_address"), "origin_address")),
            (2, _optional_address(value.get("contract_address"), "contract_address")),
            (3, abi),
            (4, _hex(value.get("bytecode", ""), "bytecode")),
            (5, _uint(value.get("call_value", 0), "call_value")),
            (6, _uint(value.get("consume_user_resource_percent", 0), "consume_user_resource_percent")),
            (7, name.encode()),
            (8, _uint(value.get("origin_energy_limit", 0), "origin_energy_limit")),
            (9, _hex(value.get("code_hash", ""), "code_hash")),
            (10, _hex(value.get("trx_hash", ""), "trx_hash")),
            (11, _uint(value.get("version", 0), "version")),
        ]
    )


def _value_bytes(number: int, value: dict[str, Any]) -> bytes:
    """The body of one contract from its JSON `parameter.value`."""
    if number == TRANSFER_CONTRACT:
        _keys(value, {"owner_address", "to_address", "amount"}, "TransferContract")
        return _parts(
            [
                (1, parse_tron_address(value.get("owner_address"), "owner_address")),
                (2, parse_tron_address(value.get("to_address"), "to_address")),
                (3, _uint(value.get("amount", 0), "amount")),
            ]
        )
    if number == TRIGGER_SMART_CONTRACT:
        _keys(value, set(TRIGGER_KEYS), "TriggerSmartContract")
        return _parts(
            [
                (1, parse_tron_address(value.get("owner_address"), "owner_address")),
                (2, parse_tron_address(value.get("contract_address"), "contract_address")),
                (3, _uint(value.get("call_value", 0), "call_value")),
                (4, _hex(value.get("data", ""), "data")),
                (5, _uint(value.get("call_token_value", 0), "call_token_value")),
                (6, _uint(value.get("token_id", 0), "token_id")),
            ]
        )
    _keys(value, {"owner_address", "new_contract", "call_token_value", "token_id"}, "CreateSmartContract")
    return _parts(
        [
            (1, parse_tron_address(value.get("owner_address"), "owner_address")),
            (2, _new_contract_bytes(value.get("new_contract"))),
            (3, _uint(value.get("call_token_value", 0), "call_token_value")),
            (4, _uint(value.get("token_id", 0), "token_id")),
        ]
    )


def _contract_bytes(contract: Any, visible: bool) -> bytes:
    if not isinstance(contract, dict):
        raise RequestError("a contract must be an object")
    name = contract.get("type")
    number = CONTRACT_TYPES.get(name) if isinstance(name, str) else None
    if number is None or not isinstance(name, str):
        raise RequestError(f"contract type {name!r} is not one this devnet knows ({', '.join(CONTRACT_TYPES)})")
    parameter = contract.get("parameter")
    if not isinstance(parameter, dict) or not isinstance(parameter.get("value"), dict):
        raise RequestError("contract.parameter.value must be an object")
    body = _value_bytes(number, parameter["value"])
    type_url = parameter.get("type_url", TYPE_URL_PREFIX + name)
    if type_url != TYPE_URL_PREFIX + name:
        raise RequestError(f"type_url {type_url!r} does not match contract type {name}")
    _keys(contract, {"type", "parameter", "Permission_id"}, "a contract")
    permission = _uint(contract.get("Permission_id", 0), "Permission_id")
    return _parts([(1, number), (2, field(1, type_url.encode()) + field(2, body)), (5, permission)])


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
    try:
        value = contract_value_json(c.type, c.value, visible)
    except ProtoError:
        value = {}
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


def _shown_address(raw: bytes, visible: bool) -> str:
    return show_address(raw, visible) if len(raw) == 21 and raw[0] == TRON_ADDRESS_PREFIX else raw.hex()


def smart_contract_json(raw: bytes, visible: bool) -> dict[str, Any]:
    """A `SmartContract` message as java-tron prints it (bytes as hex, addresses as `visible` asks)."""
    found = message(raw, SMART_CONTRACT_FIELDS, "SmartContract")
    out: dict[str, Any] = {}
    for number, key in enumerate(SMART_CONTRACT_KEYS, start=1):
        value = found.get(number)
        if not value:
            continue
        if key in ("origin_address", "contract_address"):
            out[key] = _shown_address(as_bytes(found, number), visible)
        elif key == "abi":
            out[key] = abi_json(as_bytes(found, number))
        elif key == "name":
            out[key] = as_bytes(found, number).decode("utf-8", "replace")
        else:
            out[key] = value if isinstance(value, int) else value.hex()
    return out


def contract_value_json(kind: int, body: bytes, visible: bool) -> dict[str, Any]:
    """A contract's `parameter.value` as java-tron prints it (default values left out)."""
    value: dict[str, Any] = {}
    if kind == TRANSFER_CONTRACT:
        found = message(body, {1: bytes, 2: bytes, 3: int}, "TransferContract")
        keys: tuple[str, ...] = ("owner_address", "to_address", "amount")
    elif kind == TRIGGER_SMART_CONTRACT:
        found = message(body, {1: bytes, 2: bytes, 3: int, 4: bytes, 5: int, 6: int}, "TriggerSmartContract")
        keys = TRIGGER_KEYS
    elif kind == CREATE_SMART_CONTRACT:
        found = message(body, {1: bytes, 2: bytes, 3: int, 4: int}, "CreateSmartContract")
        keys = ("owner_address", "new_contract", "call_token_value", "token_id")
    else:
        return value
    for number, key in enumerate(keys, start=1):
        item = found.get(number)
        if not item:
            continue
        if key.endswith("_address"):
            value[key] = _shown_address(as_bytes(found, number), visible)
        elif key == "new_contract":
            value[key] = smart_contract_json(as_bytes(found, number), visible)
        else:
            value[key] = item if isinstance(item, int) else item.hex()
    return value


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
    receipt: Receipt

    @property
    def contract_ret(self) -> str:
        """Tron's `contractRet`: SUCCESS, or why the contract failed (REVERT, OUT_OF_ENERGY, …)."""
        return "SUCCESS" if self.receipt.success else self.receipt.code


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
        out["transactions"] = [transaction_json(t.body, visible, t.contract_ret) for t in txs]
    return out


def transaction_info_json(t: Shown) -> dict[str, Any]:
    """`gettransactioninfobyid`: the block, the fee (energy only: bandwidth is free here), the contract's result,
    address and logs, and the receipt with the energy used."""
    tx = parse_transaction(t.body)
    r = t.receipt
    out: dict[str, Any] = {"id": txid_of(tx.raw_data).hex()}
    fee_sun = r.fee // BASE_PER_SUN
    if fee_sun:
        out["fee"] = fee_sun
    out.update({"blockNumber": t.height, "blockTimeStamp": t.timestamp_ms})
    output = r.output
    receipt: dict[str, Any] = {}
    if tx.contract.type == CREATE_SMART_CONTRACT:
        if r.success:
            out["contract_address"] = output[:21].hex()
        output = output[21:] if r.success else output  # a creation's output: the new address, then its code
    elif tx.contract.type == TRIGGER_SMART_CONTRACT:
        body = message(tx.contract.value, {1: bytes, 2: bytes, 3: int, 4: bytes, 5: int, 6: int}, "TriggerSmartContract")
        out["contract_address"] = as_bytes(body, 2).hex()
    out["contractResult"] = [output.hex()]
    if tx.contract.type != TRANSFER_CONTRACT:
        if fee_sun:
            receipt["energy_fee"] = fee_sun
        if r.gas_used:
            receipt["energy_usage_total"] = r.gas_used
    receipt["net_usage"] = net_usage(t.body)
    receipt["result"] = t.contract_ret
    out["receipt"] = receipt
    logs = []
    for entry in r.logs:
        address, topics, data = rlp.decode(entry)
        shown: dict[str, Any] = {"address": address.hex(), "topics": [topic.hex() for topic in topics]}
        if data:
            shown["data"] = data.hex()
        logs.append(shown)
    if logs:
        out["log"] = logs
    if not r.success:
        out["result"] = "FAILED"
        out["resMessage"] = r.message.encode().hex()
    return out


def shown_in_tron(r: Receipt) -> bool:
    """Whether a block's Tron transaction happened in Tron's terms: it ran, or its contract failed (REVERT, …)
    and paid its energy. One refused when the block ran it (it expired waiting, the balance moved) wrote nothing,
    and a Tron node never puts such a transaction in a block."""
    return r.success or r.code in CONTRACT_RESULT_CODES


# -- errors -----------------------------------------------------------------------------------------
def refusal(code: str, text: str, txid: bytes | None) -> dict[str, Any]:
    """java-tron's answer to a transaction it does not broadcast: the code, the message as hex of its text."""
    out: dict[str, Any] = {"code": code, "message": text.encode().hex()}
    if txid is not None:
        out["txid"] = txid.hex()
    return out
