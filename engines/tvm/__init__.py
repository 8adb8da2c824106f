"""The TVM engine (opcodes 0x40–0x4F): Tron transactions over the shared ledger (so far TRX transfers)."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from .engine import TvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> TvmEngine:
    return TvmEngine()


__all__ = ["TvmEngine", "make_engine"]
