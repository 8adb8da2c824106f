"""Tron's smart-contract messages (core/contract/smart_contract.proto), read strictly from a transaction's contract.

    TriggerSmartContract {owner_address = 1, contract_address = 2, call_value = 3, data = 4,
                          call_token_value = 5, token_id = 6}
    CreateSmartContract  {owner_address = 1, new_contract = 2 (SmartContract), call_token_value = 3, token_id = 4}
    SmartContract        {origin_address = 1, contract_address = 2, abi = 3, bytecode = 4, call_value = 5,
                          consume_user_resource_percent = 6, name = 7, origin_energy_limit = 8, code_hash = 9,
                          trx_hash = 10, version = 11}

A contract's metadata is kept in the state as its `SmartContract` bytes without the bytecode (the code is the
account's code), with `contract_address` and `trx_hash` filled in, as java-tron's ContractStore keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .proto import ProtoError, as_bytes, as_int, field, message

SMART_CONTRACT_FIELDS: dict[int, type] = {
    1: bytes,
    2: bytes,
    3: bytes,
    4: bytes,
    5: int,
    6: int,
    7: bytes,
    8: int,
    9: bytes,
    10: bytes,
    11: int,
}
LONG_MAX = 2**63 - 1


@dataclass(frozen=True)
class Trigger:
    owner: bytes  # 21 bytes
    contract: bytes  # 21 bytes
    call_value: int  # sun
    data: bytes
    call_token_value: int
    token_id: int


@dataclass(frozen=True)
class SmartContract:
    origin: bytes
    abi: bytes  # the ABI message's bytes, as signed
    bytecode: bytes  # initcode, constructor arguments appended
    call_value: int
    consume_user_resource_percent: int
    name: str
    origin_energy_limit: int
    version: int

    def stored(self, contract_address: bytes, txid: bytes) -> bytes:
        """The metadata the state keeps for the deployed contract (no bytecode), java-tron's field order."""
        parts: list[tuple[int, int | bytes]] = [
            (1, self.origin),
            (2, contract_address),
            (3, self.abi),
            (5, self.call_value),
            (6, self.consume_user_resource_percent),
            (7, self.name.encode()),
            (8, self.origin_energy_limit),
            (10, txid),
            (11, self.version),
        ]
        return b"".join(field(n, v) for n, v in parts if v)


@dataclass(frozen=True)
class Create:
    owner: bytes
    contract: SmartContract
    call_token_value: int
    token_id: int


def _signed(value: int, what: str) -> int:
    """A protobuf int64 read as a varint: above 2^63 it is negative, which no amount here may be."""
    if value > LONG_MAX:
        raise ProtoError(f"{what} is negative")
    return value


def parse_trigger(body: bytes) -> Trigger:
    found = message(body, {1: bytes, 2: bytes, 3: int, 4: bytes, 5: int, 6: int}, "TriggerSmartContract")
    return Trigger(
        as_bytes(found, 1),
        as_bytes(found, 2),
        _signed(as_int(found, 3), "call_value"),
        as_bytes(found, 4),
        _signed(as_int(found, 5), "call_token_value"),
        _signed(as_int(found, 6), "token_id"),
    )


def parse_smart_contract(raw: bytes) -> SmartContract:
    found = message(raw, SMART_CONTRACT_FIELDS, "SmartContract")
    try:
        name = as_bytes(found, 7).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtoError("SmartContract: name is not UTF-8") from None
    return SmartContract(
        as_bytes(found, 1),
        as_bytes(found, 3),
        as_bytes(found, 4),
        _signed(as_int(found, 5), "call_value"),
        _signed(as_int(found, 6), "consume_user_resource_percent"),
        name,
        _signed(as_int(found, 8), "origin_energy_limit"),
        as_int(found, 11),
    )


def parse_create(body: bytes) -> Create:
    found = message(body, {1: bytes, 2: bytes, 3: int, 4: int}, "CreateSmartContract")
    return Create(
        as_bytes(found, 1),
        parse_smart_contract(as_bytes(found, 2)),
        _signed(as_int(found, 3), "call_token_value"),
        _signed(as_int(found, 4), "token_id"),
    )


def stored_fields(raw: bytes) -> dict[int, int | bytes]:
    """A stored `SmartContract`'s fields (engines/tvm/accounts.contract_key)."""
    return message(raw, SMART_CONTRACT_FIELDS, "SmartContract")
