"""Solana's error vocabulary (docs/PROTOCOL.md §13).

A failed Solana transaction is described by a `TransactionError`: a unit variant (`"BlockhashNotFound"`),
or a variant with data (`{"InstructionError": [0, {"Custom": 1}]}`, `{"InsufficientFundsForRent":
{"account_index": 2}}`). Receipts and admission errors of the SVM carry it as their `code`, in the
compact JSON Solana's RPC shows as `err` (a unit variant as its bare name), so every interface can give it
back exactly; the message is Solana's own wording for people.
"""

from __future__ import annotations

import json
from typing import Any

from chain.errors import AdmissionError, ExecutionError

# InstructionError variants without data, and Solana's Display text for them.
INSTRUCTION_ERRORS = {
    "GenericError": "generic instruction error",
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "NotEnoughAccountKeys": "insufficient account keys for instruction",
    "ExternalAccountLamportSpend": "instruction spent from the balance of an account it does not own",
    "ExternalAccountDataModified": "instruction modified data of an account it does not own",
    "ReadonlyLamportChange": "instruction changed the balance of a read-only account",
    "ReadonlyDataModified": "instruction modified data of a read-only account",
    "InvalidSeeds": "Provided seeds do not result in a valid address",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
    "InvalidRealloc": "Failed to reallocate account data",
    "IllegalOwner": "Provided owner is not allowed",
    "ArithmeticOverflow": "Program arithmetic overflowed",
    "UnsupportedProgramId": "Unsupported program id",
    "AccountNotRentExempt": "An account does not have enough lamports to be rent-exempt",
    "Immutable": "Account is immutable",
    "IncorrectAuthority": "Incorrect authority provided",
}


def code_of(err: Any) -> str:
    """The receipt / admission code for a TransactionError value."""
    return err if isinstance(err, str) else json.dumps(err, separators=(",", ":"))


def err_of(code: str) -> Any:
    """Back from a code to the value Solana's RPC shows as `err`."""
    return json.loads(code) if code[:1] in "{[" else code


class SvmError(Exception):
    """A TransactionError: `err` is Solana's value, `message` its wording."""

    def __init__(self, err: Any, message: str) -> None:
        super().__init__(message)
        self.err = err
        self.message = message

    @property
    def code(self) -> str:
        return code_of(self.err)

    def admission(self) -> AdmissionError:
        return AdmissionError(self.message, self.code)

    def execution(self) -> ExecutionError:
        return ExecutionError(self.message, self.code)


class InstructionFailed(SvmError):
    """`{"InstructionError": [index, error]}`; `error` is a variant name or `{"Custom": n}`."""

    def __init__(self, index: int, error: Any, detail: str = "") -> None:
        if isinstance(error, dict) and "Custom" in error:
            text = f"custom program error: {error['Custom']:#x}"
        else:
            text = INSTRUCTION_ERRORS.get(error, str(error))
        super().__init__(
            {"InstructionError": [index, error]},
            f"Error processing Instruction {index}: {text}" + (f" ({detail})" if detail else ""),
        )
        self.index = index
        self.error = error


class ProgramError(Exception):
    """Raised inside a program: the runtime adds the instruction's index (InstructionFailed)."""

    def __init__(self, error: Any, detail: str = "") -> None:
        super().__init__(detail or str(error))
        self.error = error
        self.detail = detail


def custom(n: int, detail: str = "") -> ProgramError:
    return ProgramError({"Custom": n}, detail)
