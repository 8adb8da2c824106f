"""The EVM engine (opcodes 0x10–0x1F): py-evm over the shared state."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.ledger import FEE_COLLECTOR

from .engine import EvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> EvmEngine:
    return EvmEngine(FEE_COLLECTOR)


__all__ = ["EvmEngine", "make_engine"]
