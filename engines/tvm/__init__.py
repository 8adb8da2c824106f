"""The TVM engine (opcodes 0x40–0x4F): Tron transactions — TRX transfers and smart contracts — over the shared ledger."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.auth import SealedKeys
from chain.ledger import FEE_COLLECTOR

from .engine import TvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> TvmEngine:
    """With the validator's key, 0x41 calls may be signed with an attestation credential too."""
    sealed = None if validator is None else SealedKeys(validator, None if home is None else home / "sealed-keys.bin")
    return TvmEngine(FEE_COLLECTOR, sealed)


__all__ = ["TvmEngine", "make_engine"]
