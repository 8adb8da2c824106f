"""The SVM engine (opcodes 0x20–0x2F): Solana transactions and built-in programs over the shared ledger."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.auth import SealedKeys

from . import ace as _ace  # noqa: F401  (registers the ACE program)
from . import ata as _ata  # noqa: F401  (registers the Associated Token Account program)
from . import programs as _programs  # noqa: F401  (registers the built-in programs)
from . import token as _token  # noqa: F401  (registers SPL Token and its views of the ledger)
from .engine import SvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> SvmEngine:
    """With the validator's key, 0x21 calls may be signed with an attestation credential too."""
    if validator is None:
        return SvmEngine()
    return SvmEngine(SealedKeys(validator, None if home is None else home / "sealed-keys.bin"))


__all__ = ["SvmEngine", "make_engine"]
