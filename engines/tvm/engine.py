"""The TVM engine (opcodes 0x40–0x4F, SPEC §1, §3): Tron transactions over the shared ledger.

0x40 carries a Tron `Transaction` protobuf byte-exact (engines/tvm/proto.py). Admission checks what a Tron
node checks before it broadcasts one, with Tron's error names as codes:
- the protobuf, read strictly, with one contract (`OTHER_ERROR` when it does not read);
- TaPoS: `ref_block_bytes` and `ref_block_hash` name one of the latest blocks (`TAPOS_ERROR`). A block's Tron
  id is its height (u64) followed by bytes 8–32 of its hash, so `ref_block_bytes` = height bytes 6–8 and
  `ref_block_hash` = hash bytes 8–16, as tronpy builds them from `getnowblock`;
- expiration after the head block's time and at most 24 h past it, or past now when the head is older
  (`TRANSACTION_EXPIRATION_ERROR`);
- one secp256k1 signature over the txid = SHA-256(raw_data), recovering the owner address (`SIGERROR`);
- a txid processed once (`DUP_TRANSACTION_ERROR`), marked in the state;
- the contract's own rules (`CONTRACT_VALIDATE_ERROR`).
So far the engine runs `TransferContract` (a plain TRX transfer; it runs no receiver code): amounts in sun
(1 sun = 1,000 base units, SPEC §3), debited in whole sun. Bandwidth is free on this devnet, as a Tron
account's daily free allowance makes it for transfers. Smart contracts (`TriggerSmartContract`,
`CreateSmartContract`) are refused plainly until the TVM's EVM side is built. Its id is the txid.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve
from eth_hash.auto import keccak

from chain.accounts import lookup, resolve
from chain.address import tron_text
from chain.dispatcher import BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import H
from chain.identity import TRON_ADDRESS_PREFIX
from chain.ledger import BASE_PER_SUN, NATIVE_MINT, balance, transfer
from chain.state import State

from .proto import ProtoError, TronTx, as_bytes, as_int, message, parse_transaction

RAW_TX, ACE_CALL = 0x40, 0x41
TRANSFER_CONTRACT, CREATE_SMART_CONTRACT, TRIGGER_SMART_CONTRACT = 1, 30, 31
CONTRACT_NAMES = {
    TRANSFER_CONTRACT: "TransferContract",
    CREATE_SMART_CONTRACT: "CreateSmartContract",
    TRIGGER_SMART_CONTRACT: "TriggerSmartContract",
}
TRANSFER_TYPE_URL = "type.googleapis.com/protocol.TransferContract"
MAX_EXPIRATION_MS = 24 * 3600 * 1000  # Tron's limit on how far past the head a transaction may expire
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def processed_key(txid: bytes) -> bytes:
    return H(b"nvm/tvm/tx" + txid)


def tron_block_id(height: int, block_hash: bytes) -> bytes:
    """A block's id as Tron shows it: height u64, then the block hash from byte 8 on."""
    return height.to_bytes(8, "big") + block_hash[8:]


def owner_of(txid: bytes, signature: bytes) -> bytes:
    """The 21-byte Tron address whose key made `signature` (r ‖ s ‖ v, v 0/1 or 27/28) over the txid."""
    if len(signature) != 65:
        raise AdmissionError("a Tron signature is 65 bytes", "SIGERROR")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1) or int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        raise AdmissionError("bad signature: recovery id or high s", "SIGERROR")
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes((v,)), txid, hasher=None)
    except (ValueError, TypeError) as e:
        raise AdmissionError(f"the signature does not recover a key: {e}", "SIGERROR") from None
    return bytes((TRON_ADDRESS_PREFIX,)) + keccak(public.format(compressed=False)[1:])[-20:]


@dataclass(frozen=True)
class Transfer:
    owner: bytes  # 21 bytes
    to: bytes
    amount: int  # sun


@dataclass(frozen=True)
class TvmTx:
    tx: TronTx
    txid: bytes
    transfer: Transfer


def _address(value: bytes, what: str) -> bytes:
    if len(value) != 21 or value[0] != TRON_ADDRESS_PREFIX:
        raise AdmissionError(f"{what} is not a Tron address (0x41 and 20 bytes)", "CONTRACT_VALIDATE_ERROR")
    return value


def _transfer(tx: TronTx) -> Transfer:
    c = tx.contract
    if c.type in (CREATE_SMART_CONTRACT, TRIGGER_SMART_CONTRACT):
        raise AdmissionError(
            f"{CONTRACT_NAMES[c.type]} is not built yet on this devnet's TVM (TRX transfers are)", "CONTRACT_VALIDATE_ERROR"
        )
    if c.type != TRANSFER_CONTRACT or c.type_url != TRANSFER_TYPE_URL:
        raise AdmissionError(f"contract type {c.type} is not one this devnet runs", "CONTRACT_VALIDATE_ERROR")
    try:
        body = message(c.value, {1: bytes, 2: bytes, 3: int}, "TransferContract")
    except ProtoError as e:
        raise AdmissionError(str(e), "OTHER_ERROR") from None
    t = Transfer(_address(as_bytes(body, 1), "owner_address"), _address(as_bytes(body, 2), "to_address"), as_int(body, 3))
    if t.amount <= 0:
        raise AdmissionError("Amount must be greater than 0.", "CONTRACT_VALIDATE_ERROR")
    if t.owner == t.to:
        raise AdmissionError("Cannot transfer TRX to yourself.", "CONTRACT_VALIDATE_ERROR")
    return t


def _tapos(tx: TronTx, recent: Sequence[bytes]) -> None:
    height = getattr(recent, "height", None)
    if height is None or len(tx.ref_block_bytes) != 2 or len(tx.ref_block_hash) != 8:
        raise AdmissionError("ref_block_bytes and ref_block_hash must name a recent block", "TAPOS_ERROR")
    for i, block_hash in enumerate(recent):
        number = height - i
        if number.to_bytes(8, "big")[6:8] == tx.ref_block_bytes and block_hash[8:16] == tx.ref_block_hash:
            return
    raise AdmissionError("Tapos check error: the reference block is not one of the latest blocks", "TAPOS_ERROR")


class TvmEngine:
    name = "tvm"
    first_opcode = 0x40
    last_opcode = 0x4F

    def decode(self, envelope: bytes) -> Tx:
        op = envelope[0]
        if op == ACE_CALL:
            raise AdmissionError(
                "ACE-authorised TVM calls (0x41) are not built yet: sign a Tron transaction (0x40)", "not_supported"
            )
        if op != RAW_TX:
            raise AdmissionError(f"opcode {op:#04x} is not assigned in the TVM range", "unassigned_opcode")
        try:
            tx = parse_transaction(envelope[1:])
        except ProtoError as e:
            raise AdmissionError(f"not a Tron transaction: {e}", "OTHER_ERROR") from None
        txid = hashlib.sha256(tx.raw_data).digest()
        return Tx(envelope, ids=(txid,), body=TvmTx(tx, txid, _transfer(tx)))

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        found = self.decode(envelope)
        t: TvmTx = found.body  # type: ignore[assignment]
        _tapos(t.tx, recent)
        head_ms = getattr(recent, "timestamp_ms", 0)
        # After the head block; at most 24 h past it — or past now, on a devnet whose blocks come on demand and
        # whose head may be old (wallets set expirations from their own clocks; policy, not consensus).
        latest = max(head_ms, int(time.time() * 1000)) + MAX_EXPIRATION_MS
        if not head_ms < t.tx.expiration <= latest:
            raise AdmissionError(
                "Transaction expired" if t.tx.expiration <= head_ms else "expiration is more than 24 hours ahead",
                "TRANSACTION_EXPIRATION_ERROR",
            )
        if state.get(processed_key(t.txid)) is not None:
            raise AdmissionError("Dup transaction", "DUP_TRANSACTION_ERROR")
        self._validate(t, state)
        found.sender = lookup(state, "tron", t.transfer.owner)
        return found

    def verify(self, tx: Tx) -> None:
        t: TvmTx = tx.body  # type: ignore[assignment]
        if len(t.tx.signatures) != 1:
            raise AdmissionError("a transaction carries exactly one signature here (no multi-signature permissions)", "SIGERROR")
        if owner_of(t.txid, t.tx.signatures[0]) != t.transfer.owner:
            raise AdmissionError("Validate signature error: the signature is not the owner's", "SIGERROR")

    @staticmethod
    def _validate(t: TvmTx, state: State) -> None:
        who = lookup(state, "tron", t.transfer.owner)
        have = 0 if who is None else balance(state, NATIVE_MINT, who) // BASE_PER_SUN
        if who is None:
            raise AdmissionError(
                f"Validate TransferContract error, no OwnerAccount {tron_text(t.transfer.owner)}", "CONTRACT_VALIDATE_ERROR"
            )
        if have < t.transfer.amount:
            raise AdmissionError(
                f"Validate TransferContract error, balance is not sufficient: {have} sun", "CONTRACT_VALIDATE_ERROR"
            )

    # -- execution -------------------------------------------------------------------------
    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        """Bandwidth is free here; what is checked first is that the transaction may still run: not
        expired, not processed — else it writes nothing."""
        t: TvmTx = tx.body  # type: ignore[assignment]
        if t.tx.expiration <= ctx.timestamp_ms:  # waited in the mempool past its expiration
            raise ExecutionError("Transaction expired", "TRANSACTION_EXPIRATION_ERROR")
        key = processed_key(t.txid)
        if state.get(key) is not None:
            raise ExecutionError("Dup transaction", "DUP_TRANSACTION_ERROR")
        state.set(key, ctx.height.to_bytes(8, "big"))
        return 0

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        t: TvmTx = tx.body  # type: ignore[assignment]
        who = lookup(state, "tron", t.transfer.owner)
        if who is None or balance(state, NATIVE_MINT, who) < t.transfer.amount * BASE_PER_SUN:
            raise ExecutionError("balance is not sufficient", "CONTRACT_VALIDATE_ERROR")
        transfer(state, NATIVE_MINT, who, resolve(state, "tron", t.transfer.to), t.transfer.amount * BASE_PER_SUN)
        return Outcome()

    # -- for people ------------------------------------------------------------------------
    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        t: TvmTx = tx.body  # type: ignore[assignment]
        amount = t.transfer.amount
        fields = [
            Field("Txid", t.txid.hex()),
            Field("Contract", CONTRACT_NAMES.get(t.tx.contract.type, str(t.tx.contract.type))),
            Field("Owner", tron_text(t.transfer.owner)),
            Field("To", tron_text(t.transfer.to)),
            Field("Amount", f"{amount:,} sun ({amount / 10**6:.6f} TRX)"),
            Field("Expiration", t.tx.expiration, "int"),
        ]
        if t.tx.memo:
            fields.append(Field("Memo", t.tx.memo.decode("utf-8", "replace")))
        return "Tron transaction", fields
