"""A tiny engine for the chain-core tests, registered in the free opcode range 0x50–0x5F.

It shows the registry at work without any VM: 0x50 sets a key, 0x51 deletes one, 0x52 writes
then fails, 0x53 writes then crashes. Every transaction pays a fee of 1 into a counter key,
charged before execution, so a failed one still pays. Body: key 32 || value (0x50, 0x52, 0x53),
key 32 (0x51); a trailing 8-byte nonce may follow to make otherwise equal envelopes distinct.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.dispatcher import BlockContext, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import H
from chain.state import State

SET, DELETE, FAIL, CRASH = 0x50, 0x51, 0x52, 0x53
FEE_KEY = H(b"tests/kv/fees")


def envelope(op: int, key: bytes, value: bytes = b"") -> bytes:
    return bytes((op,)) + key + value


class KvEngine:
    name = "kv"
    first_opcode = 0x50
    last_opcode = 0x5F

    def decode(self, envelope: bytes) -> Tx:
        op = envelope[0]
        if op not in (SET, DELETE, FAIL, CRASH):
            raise AdmissionError(f"opcode {op:#04x} is not assigned in the kv engine", "unassigned_opcode")
        if len(envelope) < 33 or (op != DELETE and len(envelope) < 34):
            raise AdmissionError("kv body: key 32 bytes, then a non-empty value", "malformed")
        return Tx(envelope, body=(op, envelope[1:33], envelope[33:]))

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        return self.decode(envelope)

    def verify(self, tx: Tx) -> None:
        return None

    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        raw = state.get(FEE_KEY)
        state.set(FEE_KEY, ((int.from_bytes(raw, "big") if raw else 0) + 1).to_bytes(8, "big"))
        return 1

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        op, key, value = tx.body  # type: ignore[misc]
        if op == DELETE:
            state.delete(key)
            return Outcome()
        state.set(key, value)
        if op == FAIL:
            raise ExecutionError("asked to fail", "kv_failed")
        if op == CRASH:
            raise RuntimeError("engine bug")
        return Outcome(gas_used=len(value), output=key[:4])


ENGINE = KvEngine()
