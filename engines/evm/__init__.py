"""The EVM engine (opcodes 0x10–0x1F): py-evm over the shared state."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.auth import SealedKeys
from chain.ledger import FEE_COLLECTOR

from .engine import EvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None, fork: str = "shanghai") -> EvmEngine:
    """With the validator's key, 0x11 calls may be signed with an attestation credential too."""
    sealed = None if validator is None else SealedKeys(validator, None if home is None else home / "sealed-keys.bin")
    return EvmEngine(FEE_COLLECTOR, sealed, fork)


__all__ = ["EvmEngine", "make_engine"]
