"""Error types of the chain core. Each interface (JSON API, JSON-RPC, forms) maps them to its own dialect."""

from __future__ import annotations


class ChainError(Exception):
    """An error with a machine-readable `code` (snake_case) and a human-readable message."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class AdmissionError(ChainError):
    """The envelope is refused before it reaches the mempool; nothing is written."""

    code = "rejected"


class ExecutionError(ChainError):
    """A transaction failed during execution; its snapshot is restored and a failed receipt is recorded."""

    code = "execution_failed"


def mempool_conflict() -> AdmissionError:
    """Bitcoin Core's `txn-mempool-conflict`: a waiting transaction already holds one of these claims."""
    return AdmissionError("txn-mempool-conflict: a waiting transaction already spends one of these coins", "txn-mempool-conflict")
