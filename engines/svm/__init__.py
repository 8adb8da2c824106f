"""The SVM engine (opcodes 0x20–0x2F): Solana transactions and built-in programs over the shared ledger."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from . import programs as _programs  # noqa: F401  (registers the built-in programs)
from .engine import SvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> SvmEngine:
    return SvmEngine()


__all__ = ["SvmEngine", "make_engine"]
