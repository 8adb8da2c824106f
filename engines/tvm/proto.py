"""The protobuf bytes of a Tron transaction (Tron's `Transaction` message, core/Tron.proto), read strictly.

Only the wire format is generic (varints, length-delimited fields); the messages are Tron's: a
`Transaction {raw_data = 1, signature = 2 (repeated), ret = 5 (repeated)}` whose `raw` holds the reference
block (`ref_block_bytes = 1`, `ref_block_num = 3`, `ref_block_hash = 4`), `expiration = 8`, `data = 10`
(a memo), one `contract = 11`, `timestamp = 14` and `fee_limit = 18`. A `Contract {type = 1, parameter = 2}`
wraps its body in a `google.protobuf.Any {type_url = 1, value = 2}`. A field this devnet does not know is
refused: a transaction is taken byte-exact or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

VARINT, LENGTH = 0, 2


class ProtoError(ValueError):
    pass


def varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise ProtoError("a varint runs past the end")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i and byte == 0:
                raise ProtoError("a varint is not minimally encoded")
            return value, pos + i + 1
    raise ProtoError("a varint longer than 10 bytes")


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) in order: an int for a varint, bytes for a length-delimited field."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == VARINT:
            value, pos = varint(data, pos)
            out.append((number, value))
        elif wire == LENGTH:
            n, pos = varint(data, pos)
            if pos + n > len(data):
                raise ProtoError(f"field {number} runs past the end")
            out.append((number, data[pos : pos + n]))
            pos += n
        else:
            raise ProtoError(f"field {number} has wire type {wire}, which no Tron transaction field uses")
    return out


def field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return encode_varint(number << 3 | VARINT) + encode_varint(value)
    return encode_varint(number << 3 | LENGTH) + encode_varint(len(value)) + value


def _single(found: list[tuple[int, int | bytes]], allowed: dict[int, type], what: str) -> dict[int, int | bytes]:
    """Fields of a message where each known field appears at most once, of its kind."""
    out: dict[int, int | bytes] = {}
    for number, value in found:
        kind = allowed.get(number)
        if kind is None:
            raise ProtoError(f"{what}: field {number} is not one this devnet takes")
        if not isinstance(value, kind) or number in out:
            raise ProtoError(f"{what}: field {number} is malformed or repeated")
        out[number] = value
    return out


@dataclass(frozen=True)
class Contract:
    type: int
    type_url: str
    value: bytes  # the contract body (TransferContract, TriggerSmartContract, …)


@dataclass(frozen=True)
class TronTx:
    raw_data: bytes
    signatures: tuple[bytes, ...]
    ref_block_bytes: bytes
    ref_block_hash: bytes
    expiration: int
    timestamp: int
    fee_limit: int
    memo: bytes
    contract: Contract


RAW_FIELDS: dict[int, type] = {1: bytes, 3: int, 4: bytes, 8: int, 10: bytes, 11: bytes, 14: int, 18: int}


def parse_transaction(data: bytes) -> TronTx:
    top = fields(data)
    raw = [v for n, v in top if n == 1]
    sigs = tuple(v for n, v in top if n == 2)
    if any(n not in (1, 2, 5) for n, _ in top) or len(raw) != 1 or not isinstance(raw[0], bytes):
        raise ProtoError("not a Transaction {raw_data, signature, ret}")
    if any(not isinstance(s, bytes) for s in sigs):
        raise ProtoError("a signature is not bytes")
    body = fields(raw[0])
    contracts = [v for n, v in body if n == 11]
    if len(contracts) != 1 or not isinstance(contracts[0], bytes):
        raise ProtoError("raw_data must hold exactly one contract")
    r = _single([(n, v) for n, v in body if n != 11], RAW_FIELDS, "raw_data")
    c = _single(fields(contracts[0]), {1: int, 2: bytes, 3: bytes, 4: bytes, 5: int}, "contract")
    param = _single(fields(as_bytes(c, 2)), {1: bytes, 2: bytes}, "contract parameter")
    return TronTx(
        raw[0],
        tuple(s for s in sigs if isinstance(s, bytes)),
        as_bytes(r, 1),
        as_bytes(r, 4),
        as_int(r, 8),
        as_int(r, 14),
        as_int(r, 18),
        as_bytes(r, 10),
        Contract(as_int(c, 1), as_bytes(param, 1).decode("utf-8", "replace"), as_bytes(param, 2)),
    )


def as_bytes(found: dict[int, int | bytes], number: int) -> bytes:
    value = found.get(number, b"")
    return value if isinstance(value, bytes) else b""


def as_int(found: dict[int, int | bytes], number: int) -> int:
    value = found.get(number, 0)
    return value if isinstance(value, int) else 0


def message(data: bytes, allowed: dict[int, type], what: str) -> dict[int, int | bytes]:
    """A contract body's fields (each once)."""
    return _single(fields(data), allowed, what)
