"""The TVM engine (opcodes 0x40–0x4F): Tron transactions — TRX transfers and smart contracts — over the shared ledger."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.ledger import FEE_COLLECTOR

from .engine import TvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> TvmEngine:
    return TvmEngine(FEE_COLLECTOR)


__all__ = ["TvmEngine", "make_engine"]
