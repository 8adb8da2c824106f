"""Running a Solana message's instructions over the shared state, as Solana's runtime does
(docs/PROTOCOL.md §13).

Each instruction goes to its program (a built-in: engines/svm/programs.py, token.py, …) with its
accounts as `Meta`s (pubkey, signer, writable). Programs check what Solana's runtime and programs
check — a debit only from an account the program owns (or, for the System program, that signed),
writes only to writable accounts — and raise `ProgramError`; the runtime turns it into
`{"InstructionError": [index, error]}`, writes Solana's log lines, meters compute units against the
transaction's limit, and finally checks every writable account's rent state transition.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import base58

from chain.errors import ExecutionError
from chain.ledger import NATIVE_MINT, balance, transfer
from chain.state import State

from . import accounts as acc
from .errors import InstructionFailed, ProgramError, SvmError
from .wire import Message

MAX_INVOKE_DEPTH = 5  # Solana's max instruction stack height (4 levels of CPI)
MAX_LOG_BYTES = 10_000  # Solana truncates a transaction's logs past this


@dataclass(frozen=True)
class Meta:
    pubkey: bytes
    signer: bool
    writable: bool


# program(invocation) -> return data (or None)
Program = Callable[["Invocation"], bytes | None]


@dataclass(frozen=True)
class ProgramInfo:
    name: str
    run: Program
    builtin: bool  # a runtime built-in in Solana (no "consumed" log line, 3,000 CUs default budget)


PROGRAMS: dict[bytes, ProgramInfo] = {}


def register(program_id: bytes, name: str, builtin: bool) -> Callable[[Program], Program]:
    def wrap(run: Program) -> Program:
        PROGRAMS[program_id] = ProgramInfo(name, run, builtin)
        return run

    return wrap


@lru_cache(maxsize=4096)  # program ids and a block's accounts come back again and again
def b58(data: bytes) -> str:
    return base58.b58encode(data).decode()


@dataclass
class Runtime:
    """One transaction's execution: the state, its compute meter and its logs."""

    state: State
    limit: int
    slot: int = 0
    unix_timestamp: int = 0
    consumed: int = 0
    logs: list[str] = field(default_factory=list)
    return_data: tuple[bytes, bytes] | None = None  # (program, data)
    _log_bytes: int = 0

    def log(self, line: str) -> None:
        if self._log_bytes > MAX_LOG_BYTES:
            return
        self._log_bytes += len(line)
        self.logs.append(line if self._log_bytes <= MAX_LOG_BYTES else "Log truncated")

    def consume(self, units: int) -> None:
        self.consumed += units
        if self.consumed > self.limit:
            self.consumed = self.limit
            raise ProgramError("ComputationalBudgetExceeded", f"exceeded the {self.limit} compute unit limit")

    def invoke(self, program_id: bytes, metas: list[Meta], data: bytes, depth: int = 1) -> None:
        """Run one instruction (depth 1) or a cross-program invocation from a built-in (depth > 1)."""
        info = PROGRAMS.get(program_id)
        pid = b58(program_id)
        if depth > MAX_INVOKE_DEPTH:
            raise ProgramError("CallDepth", "cross-program invocation nested too deeply")
        self.log(f"Program {pid} invoke [{depth}]")
        if info is None:
            self.log(f"Program {pid} failed: Unsupported program id")
            raise ProgramError("UnsupportedProgramId", f"{pid} is not a program this devnet runs")
        before = self.consumed
        available = self.limit - before  # Solana's "consumed X of Y": Y is what was left when the program was invoked
        try:
            out = info.run(Invocation(self, program_id, metas, data, depth))
        except ProgramError as e:
            if not info.builtin:
                self.log(f"Program {pid} consumed {self.consumed - before} of {available} compute units")
            self.log(f"Program {pid} failed: {_error_text(e)}")
            raise
        if not info.builtin:
            self.log(f"Program {pid} consumed {self.consumed - before} of {available} compute units")
        if out is not None:  # Solana logs it after the units consumed, before "success"
            self.return_data = (program_id, out)
            self.log(f"Program return: {pid} {base64.b64encode(out).decode()}")
        self.log(f"Program {pid} success")

    # -- lamports ---------------------------------------------------------------------------
    def lamports(self, pubkey: bytes) -> int:
        return acc.lamports(self.state, pubkey)

    def move_lamports(self, source: bytes, dest: bytes, amount: int) -> None:
        """Move lamports between two accounts' identities (the caller has checked the rules)."""
        if amount == 0 or source == dest:
            return
        src = acc.identity_of(self.state, source)
        have = 0 if src is None else balance(self.state, NATIVE_MINT, src)
        if src is None or have < amount:
            raise ProgramError("InsufficientFunds", f"{b58(source)} has {have} lamports, needs {amount}")
        try:
            transfer(self.state, NATIVE_MINT, src, acc.identity_for(self.state, dest), amount)
        except ExecutionError as e:  # a u64 overflow of the destination
            raise ProgramError("ArithmeticOverflow", e.message) from None


@dataclass
class Invocation:
    """What a program sees: its accounts (checked on access), its data, the runtime."""

    rt: Runtime
    program_id: bytes
    metas: list[Meta]
    data: bytes
    depth: int

    @property
    def state(self) -> State:
        return self.rt.state

    def account(self, n: int) -> Meta:
        if n >= len(self.metas):
            raise ProgramError("NotEnoughAccountKeys", f"the instruction needs at least {n + 1} accounts")
        return self.metas[n]

    def signer(self, n: int) -> Meta:
        meta = self.account(n)
        if not meta.signer:
            raise ProgramError("MissingRequiredSignature", f"{b58(meta.pubkey)} must sign")
        return meta

    def writable(self, n: int) -> Meta:
        meta = self.account(n)
        if not meta.writable:
            raise ProgramError("ReadonlyDataModified", f"{b58(meta.pubkey)} is not writable in this transaction")
        return meta

    def log(self, text: str) -> None:
        self.rt.log(f"Program log: {text}")

    def record(self, pubkey: bytes) -> tuple[bytes, bool, bytes]:
        """(owner, executable, data) of an account; a plain system account has (System, False, b"")."""
        return acc.get_record(self.state, pubkey) or (acc.SYSTEM_PROGRAM, False, b"")

    def invoke(self, program_id: bytes, metas: list[Meta], data: bytes) -> None:
        """A cross-program invocation. A callee gets no privilege its caller lacks, except the caller
        program's own derived addresses (already marked signer by the caller)."""
        self.rt.invoke(program_id, metas, data, self.depth + 1)


def _error_text(e: ProgramError) -> str:
    if isinstance(e.error, dict) and "Custom" in e.error:
        return f"custom program error: {e.error['Custom']:#x}"
    from .errors import INSTRUCTION_ERRORS

    return INSTRUCTION_ERRORS.get(e.error, str(e.error)) if isinstance(e.error, str) else str(e.error)


# -- the whole message ---------------------------------------------------------------------------
def rent_state(info: acc.Account | None) -> tuple[str, int, int]:
    """("uninitialized" | "exempt" | "paying", lamports, data size), as Solana's RentState."""
    if info is None or info.lamports == 0:
        return "uninitialized", 0, 0 if info is None else info.space
    if info.lamports >= acc.rent_exempt_minimum(info.space):
        return "exempt", info.lamports, info.space
    return "paying", info.lamports, info.space


def rent_transition_ok(pre: tuple[str, int, int], post: tuple[str, int, int]) -> bool:
    """Solana's `transition_allowed`: into rent-paying only from rent-paying, same size, not richer."""
    if post[0] != "paying":
        return True
    return pre[0] == "paying" and pre[2] == post[2] and post[1] <= pre[1]


def accounts_of(state: State, keys: tuple[bytes, ...]) -> list[acc.Account | None]:
    return [acc.account_info(state, key) for key in keys]


def run_message(rt: Runtime, message: Message, before: list[acc.Account | None]) -> list[acc.Account | None]:
    """Every instruction in order, then the rent check of every writable account against `before` (the
    accounts as the transaction found them); the accounts after. Raises SvmError (the caller reverts)."""
    keys, writable = message.keys, message.writable
    for index, ix in enumerate(message.instructions):
        metas = [Meta(keys[a], a < message.required, writable[a]) for a in ix.accounts]
        try:
            rt.invoke(keys[ix.program_index], metas, ix.data)
        except ProgramError as e:
            raise InstructionFailed(index, e.error, e.detail) from None
    after = accounts_of(rt.state, keys)
    for i, is_writable in enumerate(writable):
        if is_writable and not rent_transition_ok(rent_state(before[i]), rent_state(after[i])):
            raise SvmError(
                {"InsufficientFundsForRent": {"account_index": i}},
                f"Transaction results in an account ({i}) with insufficient funds for rent",
            )
    return after
