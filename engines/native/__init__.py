"""The native runtime engine (opcodes 0x01–0x0F)."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.auth import SealedKeys

from .engine import NativeEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> NativeEngine:
    """The node's native engine; with a validator key it can open and check attestation keys."""
    if validator is None:
        return NativeEngine()
    return NativeEngine(SealedKeys(validator, None if home is None else home / "sealed-keys.bin"))


__all__ = ["NativeEngine", "make_engine"]
