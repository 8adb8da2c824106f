"""A contract's ABI as Tron keeps it (`SmartContract.ABI`, core/contract/smart_contract.proto) and as JSON.

    ABI   {repeated Entry entrys = 1}
    Entry {anonymous = 1, constant = 2, name = 3, repeated Param inputs = 4, repeated Param outputs = 5,
           EntryType type = 6, payable = 7, StateMutabilityType stateMutability = 8}
    Param {indexed = 1, name = 2, type = 3}

JSON in is what solc and wallets write (tronpy posts solc's ABI): enum names in any case java-tron takes —
its own ("Function", "View") or all lower case ("function", "view") — and keys the message has no field for
(solc's `internalType`, `components`) left out, as java-tron's JsonFormat skips them. JSON out is java-tron's:
its enum names, default values left out.
"""

from __future__ import annotations

import json
from typing import Any

from engines.tvm.proto import ProtoError, field, fields


class AbiError(ValueError):
    """An ABI that cannot be read (rpc/tron/codec.py answers it as a request error)."""


ENTRY_TYPES = ("UnknownEntryType", "Constructor", "Function", "Event", "Fallback", "Receive", "Error")
MUTABILITY = ("UnknownMutabilityType", "Pure", "View", "Nonpayable", "Payable")


def _enum(value: Any, names: tuple[str, ...], what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return value
    if isinstance(value, str):
        name = value[:1].upper() + value[1:] if value.islower() else value
        if name in names:
            return names.index(name)
    raise AbiError(f"{what} {value!r} is not one of {', '.join(names)}")


def _text(value: Any, what: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise AbiError(f"{what} must be a string")
    return value.encode()


def _flag(value: Any, what: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, bool):
        raise AbiError(f"{what} must be true or false")
    return int(value)


def _param(p: Any) -> bytes:
    if not isinstance(p, dict):
        raise AbiError("an ABI parameter must be an object")
    parts: list[tuple[int, int | bytes]] = [
        (1, _flag(p.get("indexed"), "indexed")),
        (2, _text(p.get("name"), "a parameter's name")),
        (3, _text(p.get("type"), "a parameter's type")),
    ]
    return b"".join(field(n, v) for n, v in parts if v)


def _params(value: Any, what: str) -> list[bytes]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AbiError(f"{what} must be a list")
    return [_param(p) for p in value]


def _entry(e: Any) -> bytes:
    if not isinstance(e, dict):
        raise AbiError("an ABI entry must be an object")
    out = [field(1, 1)] if _flag(e.get("anonymous"), "anonymous") else []
    if _flag(e.get("constant"), "constant"):
        out.append(field(2, 1))
    name = _text(e.get("name"), "an entry's name")
    if name:
        out.append(field(3, name))
    out += [field(4, p) for p in _params(e.get("inputs"), "inputs")]
    out += [field(5, p) for p in _params(e.get("outputs"), "outputs")]
    kind = _enum(e["type"], ENTRY_TYPES, "type") if "type" in e else 0
    if kind:
        out.append(field(6, kind))
    if _flag(e.get("payable"), "payable"):
        out.append(field(7, 1))
    mutability = _enum(e["stateMutability"], MUTABILITY, "stateMutability") if "stateMutability" in e else 0
    if mutability:
        out.append(field(8, mutability))
    return b"".join(out)


def abi_bytes(value: Any) -> bytes:
    """The ABI message of `{"entrys": [...]}`, a bare list of entries, or either as a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError as e:
            raise AbiError(f"abi is not JSON: {e}") from None
    if isinstance(value, dict):
        value = value.get("entrys", [])
    if not isinstance(value, list):
        raise AbiError('abi must be a list of entries or {"entrys": [...]}')
    return b"".join(field(1, _entry(e)) for e in value)


def _read_param(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1 and value:
            out["indexed"] = True
        elif number == 2 and isinstance(value, bytes):
            out["name"] = value.decode("utf-8", "replace")
        elif number == 3 and isinstance(value, bytes):
            out["type"] = value.decode("utf-8", "replace")
    return out


def _read_entry(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in fields(raw):
        if number in (1, 2, 7) and value:
            out[{1: "anonymous", 2: "constant", 7: "payable"}[number]] = True
        elif number == 3 and isinstance(value, bytes):
            out["name"] = value.decode("utf-8", "replace")
        elif number in (4, 5) and isinstance(value, bytes):
            out.setdefault("inputs" if number == 4 else "outputs", []).append(_read_param(value))
        elif number == 6 and isinstance(value, int) and value < len(ENTRY_TYPES):
            out["type"] = ENTRY_TYPES[value]
        elif number == 8 and isinstance(value, int) and value < len(MUTABILITY):
            out["stateMutability"] = MUTABILITY[value]
    return out


def abi_json(raw: bytes) -> dict[str, Any]:
    """`{"entrys": [...]}` as java-tron prints an ABI; `{}` for none."""
    try:
        entries = [_read_entry(v) for n, v in fields(raw) if n == 1 and isinstance(v, bytes)]
    except ProtoError:
        return {}
    return {"entrys": entries} if entries else {}


def _function(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "type": "Function", "stateMutability": mutability}
    if inputs:
        entry["inputs"] = [{"name": n, "type": t} for n, t in inputs]
    if outputs:
        entry["outputs"] = [{"type": t} for t in outputs]
    if mutability == "View":
        entry["constant"] = True
    return entry


def _event(name: str, params: list[tuple[str, str, bool]]) -> dict[str, Any]:
    inputs = [{"indexed": True, "name": n, "type": t} if indexed else {"name": n, "type": t} for n, t, indexed in params]
    return {"name": name, "type": "Event", "inputs": inputs}


# What a mint's TRC-20 view answers (engines/evm/contracts.py `erc20`): TIP-20's interface, as java-tron prints it
TRC20_VIEW_ABI: list[dict[str, Any]] = [
    _function("name", [], ["string"], "View"),
    _function("symbol", [], ["string"], "View"),
    _function("decimals", [], ["uint8"], "View"),
    _function("totalSupply", [], ["uint256"], "View"),
    _function("balanceOf", [("owner", "address")], ["uint256"], "View"),
    _function("allowance", [("owner", "address"), ("spender", "address")], ["uint256"], "View"),
    _function("transfer", [("to", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _function("approve", [("spender", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _function("transferFrom", [("from", "address"), ("to", "address"), ("value", "uint256")], ["bool"], "Nonpayable"),
    _event("Transfer", [("from", "address", True), ("to", "address", True), ("value", "uint256", False)]),
    _event("Approval", [("owner", "address", True), ("spender", "address", True), ("value", "uint256", False)]),
]
