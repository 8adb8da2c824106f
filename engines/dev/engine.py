"""Devnet state edits (issue 10): `anvil_setBalance` and friends as transactions of their own, opcode 0xF0.

A state edit is an ordinary transaction in an ordinary block — so it has a receipt and a diff, a snapshot's
revert undoes it, and replaying the blocks replays it — but it carries no signature: the engine is installed
only in devnet mode (nvmsite/node.py), and only the devnet controls (nvmsite/devctl.py) make such envelopes.

    0xF0 || kind u8 || [edit nonce 8, when kind has bit 0x80] || body
    kind 1  set balance: tag u8 (0 id_com, 1 EVM, 2 SVM, 3 BVM scriptPubKey, 4 Tron) || u8 len || address
            || amount u128 in that VM's unit (base units, wei, lamports, sats, sun)
    kind 2  set EVM nonce: address 20 || nonce u64
    kind 3  set EVM code: address 20 || code
    kind 4  set EVM storage: address 20 || slot 32 || value 32

A balance set by an edit moves the native supply with it (minted or burnt), so the ledger still adds up.
The edit nonce (random) makes two equal edits two transactions: setting the same balance twice, as a test's
setup does before each case, is two edits, not a duplicate of the first.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from eth_typing import Address

from chain.accounts import resolve
from chain.dispatcher import BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import U64_MAX, Reader
from chain.ledger import (
    BASE_PER_SAT,
    BASE_PER_SUN,
    NATIVE_MINT,
    WEI_PER_BASE,
    balance,
    burn,
    mint_to,
    set_wei_balance,
)
from chain.state import State
from engines.evm.accounts import SharedAccounts

OPCODE = 0xF0
SET_BALANCE, SET_NONCE, SET_CODE, SET_STORAGE = 1, 2, 3, 4
WITH_NONCE = 0x80  # kind bit: an 8-byte edit nonce follows the kind (what the controls make; older files lack it)
TAGS = {0: "id_com", 1: "evm", 2: "svm", 3: "btc", 4: "tron"}
UNIT_BASE = {"svm": 1, "btc": BASE_PER_SAT, "tron": BASE_PER_SUN, "id_com": 1}  # EVM: wei, kept exactly


@dataclass(frozen=True)
class Edit:
    kind: int
    tag: str = ""
    address: bytes = b""
    amount: int = 0
    data: bytes = b""
    slot: int = 0


def _head(kind: int) -> bytes:
    return bytes((OPCODE, kind | WITH_NONCE)) + secrets.token_bytes(8)


def set_balance(tag: str, address: bytes, amount: int) -> bytes:
    code = next(k for k, v in TAGS.items() if v == tag)
    return _head(SET_BALANCE) + bytes((code, len(address))) + address + amount.to_bytes(16, "big")


def set_nonce(address: bytes, nonce: int) -> bytes:
    return _head(SET_NONCE) + address + nonce.to_bytes(8, "big")


def set_code(address: bytes, code: bytes) -> bytes:
    return _head(SET_CODE) + address + code


def set_storage(address: bytes, slot: int, value: int) -> bytes:
    return _head(SET_STORAGE) + address + slot.to_bytes(32, "big") + value.to_bytes(32, "big")


def read(envelope: bytes) -> Edit:
    r = Reader(envelope)
    try:
        r.take(1)
        kind = r.uint(1)
        if kind & WITH_NONCE:
            kind &= ~WITH_NONCE
            r.take(8)
        if kind == SET_BALANCE:
            tag = TAGS[r.uint(1)]
            edit = Edit(kind, tag, r.var(1), r.uint(16))
        elif kind == SET_NONCE:
            edit = Edit(kind, "evm", r.take(20), r.uint(8))
        elif kind == SET_CODE:
            edit = Edit(kind, "evm", r.take(20), data=envelope[r.pos :])
            r.pos = len(envelope)
        elif kind == SET_STORAGE:
            edit = Edit(kind, "evm", r.take(20), slot=r.uint(32), amount=r.uint(32))
        else:
            raise ValueError(f"unknown edit {kind}")
        r.done()
    except (ValueError, KeyError) as e:
        raise AdmissionError(f"not a devnet state edit: {e}", "malformed") from None
    return edit


class DevEngine:
    name = "devnet"
    first_opcode = OPCODE
    last_opcode = OPCODE

    def decode(self, envelope: bytes) -> Tx:
        return Tx(envelope, body=read(envelope))

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        return self.decode(envelope)

    def verify(self, tx: Tx) -> None:
        """Unsigned by design: only a node in devnet mode installs this engine."""

    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        return 0

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        e: Edit = tx.body  # type: ignore[assignment]
        if e.kind == SET_BALANCE:
            who = e.address if e.tag == "id_com" else resolve(state, e.tag, e.address)
            base = e.amount // WEI_PER_BASE if e.tag == "evm" else e.amount * UNIT_BASE[e.tag]
            if base > U64_MAX:
                raise ExecutionError("the balance would exceed the u64 maximum of base units", "overflow")
            now = balance(state, NATIVE_MINT, who)
            if base > now:
                mint_to(state, NATIVE_MINT, who, base - now)  # the supply follows the edit
            elif base < now:
                burn(state, NATIVE_MINT, who, now - base)
            if e.tag == "evm":
                set_wei_balance(state, who, e.amount)  # the wei below one base unit too
            return Outcome()
        accounts = SharedAccounts(state)
        address = Address(e.address)
        if e.kind == SET_NONCE:
            accounts.set_nonce(address, e.amount)
        elif e.kind == SET_CODE:
            accounts.set_code(address, e.data)
        else:
            accounts.set_storage(address, e.slot, e.amount)
        return Outcome()

    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        e: Edit = tx.body  # type: ignore[assignment]
        names = {SET_BALANCE: "set balance", SET_NONCE: "set EVM nonce", SET_CODE: "set EVM code", SET_STORAGE: "set EVM storage"}
        fields = [Field("Edit", names[e.kind]), Field("Address", "0x" + e.address.hex()), Field("VM", e.tag)]
        if e.kind in (SET_BALANCE, SET_NONCE, SET_STORAGE):
            fields.append(Field("Value", e.amount, "int"))
        return "devnet state edit", fields
