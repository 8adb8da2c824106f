"""The SVM's built-in programs that need no ledger view: System, Compute Budget, Memo; the program
and sysvar accounts every Solana client expects (docs/PROTOCOL.md §13).

Instruction encodings are Solana's own (bincode: u32 little-endian discriminant, then the fields),
and so are the checks and errors (`SystemError` custom codes, the runtime's InstructionError names).
"""

from __future__ import annotations

import json
import struct

import base58

from chain.hashing import H

from . import accounts as acc
from .accounts import SYSTEM_PROGRAM, Account, rent_exempt_minimum
from .errors import ProgramError, custom
from .runtime import Invocation, Meta, b58, register
from .wire import RESERVED


def pubkey(text: str) -> bytes:
    raw = base58.b58decode(text)
    assert len(raw) == 32, text
    return raw


TOKEN_PROGRAM = pubkey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = pubkey("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ATA_PROGRAM = pubkey("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
MEMO_PROGRAM = pubkey("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
MEMO_V1_PROGRAM = pubkey("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")
COMPUTE_BUDGET_PROGRAM = pubkey("ComputeBudget111111111111111111111111111111")
ACE_PROGRAM = pubkey("AceProgram111111111111111111111111111111111")  # this devnet's (SPEC §5)
NATIVE_LOADER = pubkey("NativeLoader1111111111111111111111111111111")
BPF_LOADER = pubkey("BPFLoader2111111111111111111111111111111111")
SYSVAR_OWNER = pubkey("Sysvar1111111111111111111111111111111111111")
RENT_SYSVAR = pubkey("SysvarRent111111111111111111111111111111111")

PROGRAM_NAMES = {
    SYSTEM_PROGRAM: "System Program",
    TOKEN_PROGRAM: "SPL Token",
    ATA_PROGRAM: "Associated Token Account",
    MEMO_PROGRAM: "Memo",
    MEMO_V1_PROGRAM: "Memo (v1)",
    COMPUTE_BUDGET_PROGRAM: "Compute Budget",
    ACE_PROGRAM: "ACE",
}

# Compute units each instruction costs (docs/PROTOCOL.md §13): Solana's figures for its built-ins.
SYSTEM_CU = 150
COMPUTE_BUDGET_CU = 150
MEMO_BASE_CU = 500  # ours: the Memo program is a BPF program on Solana, its cost varies with the build

# SystemError (solana-system-interface), as custom program errors.
ACCOUNT_ALREADY_IN_USE = 0
RESULT_WITH_NEGATIVE_LAMPORTS = 1
INVALID_ACCOUNT_DATA_LENGTH = 3
MAX_SEED_LENGTH_EXCEEDED = 4
ADDRESS_WITH_SEED_MISMATCH = 5
MAX_SEED_LEN = 32
PDA_MARKER = b"ProgramDerivedAddress"


class Data:
    """bincode fields of an instruction, read in order; running short is InvalidInstructionData."""

    def __init__(self, data: bytes, start: int = 0) -> None:
        self.data, self.pos = data, start

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProgramError("InvalidInstructionData", "the instruction data ends early")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def pubkey(self) -> bytes:
        return self.take(32)

    def string(self) -> bytes:
        return self.take(self.u64())


def create_with_seed(base: bytes, seed: bytes, owner: bytes) -> bytes:
    """Solana's `Pubkey::create_with_seed`."""
    if len(seed) > MAX_SEED_LEN:
        raise custom(MAX_SEED_LENGTH_EXCEEDED, "seed longer than 32 bytes")
    if owner[-len(PDA_MARKER) :] == PDA_MARKER:
        raise ProgramError("IllegalOwner", "an owner may not end with the program-derived-address marker")
    return H(base + seed + owner)


# -- System ---------------------------------------------------------------------------------------
def _address(inv: Invocation, n: int, base: bytes | None, seed: bytes, owner: bytes) -> Meta:
    """The account at `n`, which must sign — or, with a seed, be the address derived from a signing base."""
    meta = inv.account(n)
    if base is None:
        if not meta.signer:
            raise ProgramError("MissingRequiredSignature", f"account {b58(meta.pubkey)} must sign")
        return meta
    if create_with_seed(base, seed, owner) != meta.pubkey:
        raise custom(ADDRESS_WITH_SEED_MISMATCH, f"{b58(meta.pubkey)} is not derived from base {b58(base)} and its seed")
    return meta


def _base_signed(inv: Invocation, base: bytes) -> None:
    if not any(m.pubkey == base and m.signer for m in inv.metas):
        raise ProgramError("MissingRequiredSignature", f"base {b58(base)} must sign")


def _allocate(inv: Invocation, meta: Meta, space: int) -> None:
    owner, executable, data = inv.record(meta.pubkey)
    if data or owner != SYSTEM_PROGRAM or _is_view(inv, meta.pubkey):
        inv.log(f"Allocate: account {b58(meta.pubkey)} already in use")
        raise custom(ACCOUNT_ALREADY_IN_USE)
    if space > acc.MAX_PERMITTED_DATA_LENGTH:
        inv.log(f"Allocate: requested {space}, max allowed {acc.MAX_PERMITTED_DATA_LENGTH}")
        raise custom(INVALID_ACCOUNT_DATA_LENGTH)
    if not meta.writable:
        raise ProgramError("ReadonlyDataModified")
    acc.put_record(inv.state, meta.pubkey, owner, bytes(space), executable)


def _is_view(inv: Invocation, pubkey: bytes) -> bool:
    """An account that is a view of the ledger (a mint, a token account) or a built-in is never free."""
    if pubkey in acc.FIXED:
        return True
    return any(view(inv.state, pubkey) is not None for view in acc.VIEWS)


def _assign(inv: Invocation, meta: Meta, owner: bytes) -> None:
    current, executable, data = inv.record(meta.pubkey)
    if current == owner:
        return
    if current != SYSTEM_PROGRAM or _is_view(inv, meta.pubkey):
        raise ProgramError("ExternalAccountDataModified", f"{b58(meta.pubkey)} is not owned by the System program")
    if not meta.writable:
        raise ProgramError("ReadonlyDataModified")
    acc.put_record(inv.state, meta.pubkey, owner, data, executable)


def _transfer(inv: Invocation, source: Meta, dest: Meta, lamports: int, source_signed: bool) -> None:
    if not source_signed:
        inv.log(f"Transfer: `from` account {b58(source.pubkey)} must sign")
        raise ProgramError("MissingRequiredSignature")
    owner, _executable, data = inv.record(source.pubkey)
    if data:
        inv.log("Transfer: `from` must not carry data")
        raise ProgramError("InvalidArgument")
    have = inv.rt.lamports(source.pubkey)
    if lamports > have:
        inv.log(f"Transfer: insufficient lamports {have}, need {lamports}")
        raise custom(RESULT_WITH_NEGATIVE_LAMPORTS)
    if lamports and owner != SYSTEM_PROGRAM:
        raise ProgramError("ExternalAccountLamportSpend")
    if lamports and not (source.writable and dest.writable):
        raise ProgramError("ReadonlyLamportChange")
    inv.rt.move_lamports(source.pubkey, dest.pubkey, lamports)


def _create(inv: Invocation, base: bytes | None, seed: bytes, lamports: int, space: int, owner: bytes) -> None:
    funder = inv.account(0)
    to = _address(inv, 1, base, seed, owner)
    if base is not None:
        _base_signed(inv, base)
    if inv.rt.lamports(to.pubkey) > 0 or _is_view(inv, to.pubkey):
        inv.log(f"Create Account: account {b58(to.pubkey)} already in use")
        raise custom(ACCOUNT_ALREADY_IN_USE)
    _allocate(inv, to, space)
    _assign(inv, to, owner)
    _transfer(inv, funder, to, lamports, funder.signer)


@register(SYSTEM_PROGRAM, "System Program", builtin=True)
def system(inv: Invocation) -> None:
    inv.rt.consume(SYSTEM_CU)
    d = Data(inv.data)
    kind = d.u32()
    if kind == 0:  # CreateAccount
        lamports, space, owner = d.u64(), d.u64(), d.pubkey()
        _create(inv, None, b"", lamports, space, owner)
    elif kind == 1:  # Assign
        owner = d.pubkey()
        _assign(inv, _address(inv, 0, None, b"", owner), owner)
    elif kind == 2:  # Transfer
        lamports = d.u64()
        source = inv.account(0)
        _transfer(inv, source, inv.account(1), lamports, source.signer)
    elif kind == 3:  # CreateAccountWithSeed
        base, seed, lamports, space, owner = d.pubkey(), d.string(), d.u64(), d.u64(), d.pubkey()
        _create(inv, base, seed, lamports, space, owner)
    elif kind == 8:  # Allocate
        _allocate(inv, _address(inv, 0, None, b"", b""), d.u64())
    elif kind == 9:  # AllocateWithSeed
        base, seed, space, owner = d.pubkey(), d.string(), d.u64(), d.pubkey()
        meta = _address(inv, 0, base, seed, owner)
        _base_signed(inv, base)
        _allocate(inv, meta, space)
        _assign(inv, meta, owner)
    elif kind == 10:  # AssignWithSeed
        base, seed, owner = d.pubkey(), d.string(), d.pubkey()
        meta = _address(inv, 0, base, seed, owner)
        _base_signed(inv, base)
        _assign(inv, meta, owner)
    elif kind == 11:  # TransferWithSeed
        lamports, seed, from_owner = d.u64(), d.string(), d.pubkey()
        source, signer, dest = inv.account(0), inv.account(1), inv.account(2)
        if not signer.signer:
            inv.log(f"Transfer: `from` account {b58(signer.pubkey)} must sign")
            raise ProgramError("MissingRequiredSignature")
        if create_with_seed(signer.pubkey, seed, from_owner) != source.pubkey:
            inv.log(f"Transfer: `from` address {b58(source.pubkey)} does not match its derived address")
            raise custom(ADDRESS_WITH_SEED_MISMATCH)
        _transfer(inv, source, dest, lamports, True)
    elif kind in (4, 5, 6, 7, 12):
        raise ProgramError("InvalidInstructionData", "durable nonce accounts are not supported on this devnet")
    else:
        raise ProgramError("InvalidInstructionData", f"unknown System instruction {kind}")


# -- Compute Budget: read before execution (engines/svm/fees.py); executing it only costs units ----
@register(COMPUTE_BUDGET_PROGRAM, "Compute Budget", builtin=True)
def compute_budget(inv: Invocation) -> None:
    inv.rt.consume(COMPUTE_BUDGET_CU)


# -- Memo ------------------------------------------------------------------------------------------
def _memo(inv: Invocation, check_signers: bool) -> None:
    inv.rt.consume(MEMO_BASE_CU + len(inv.data))
    if check_signers:
        for meta in inv.metas:
            if not meta.signer:
                inv.log(f"Invalid signer: {b58(meta.pubkey)}")  # spl-memo's message
                raise ProgramError("MissingRequiredSignature")
            inv.log(f"Signed by {b58(meta.pubkey)}")
    try:
        text = inv.data.decode("utf-8")
    except UnicodeDecodeError as e:
        inv.log(f"Invalid UTF-8, from byte {e.start}")
        raise ProgramError("InvalidInstructionData", "the memo is not valid UTF-8") from None
    if check_signers:
        inv.log(f"Memo (len {len(inv.data)}): {json.dumps(text, ensure_ascii=False)}")


@register(MEMO_PROGRAM, "Memo", builtin=False)
def memo(inv: Invocation) -> None:
    _memo(inv, True)


@register(MEMO_V1_PROGRAM, "Memo (v1)", builtin=False)
def memo_v1(inv: Invocation) -> None:
    _memo(inv, False)


# -- accounts every client may ask for -------------------------------------------------------------
def _program_account(owner: bytes, name: bytes) -> Account:
    return Account(1, owner, name, True)


RENT_DATA = struct.pack("<Qd", acc.LAMPORTS_PER_BYTE_YEAR, float(acc.EXEMPTION_THRESHOLD_YEARS)) + bytes((50,))
acc.FIXED.update(
    {
        SYSTEM_PROGRAM: lambda _s: _program_account(NATIVE_LOADER, b"system_program"),
        COMPUTE_BUDGET_PROGRAM: lambda _s: _program_account(NATIVE_LOADER, b"compute_budget_program"),
        ACE_PROGRAM: lambda _s: _program_account(NATIVE_LOADER, b"nvm_ace_program"),
        TOKEN_PROGRAM: lambda _s: _program_account(BPF_LOADER, b""),
        ATA_PROGRAM: lambda _s: _program_account(BPF_LOADER, b""),
        MEMO_PROGRAM: lambda _s: _program_account(BPF_LOADER, b""),
        MEMO_V1_PROGRAM: lambda _s: _program_account(BPF_LOADER, b""),
        RENT_SYSVAR: lambda _s: Account(rent_exempt_minimum(len(RENT_DATA)), SYSVAR_OWNER, RENT_DATA),
    }
)
RESERVED.update(acc.FIXED)
RESERVED.update((NATIVE_LOADER, BPF_LOADER, SYSVAR_OWNER, TOKEN_2022_PROGRAM))
