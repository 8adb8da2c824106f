"""Devnet state edits (opcode 0xF0): installed only when the node runs in devnet mode."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from .engine import DevEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> DevEngine:
    return DevEngine()


__all__ = ["DevEngine", "make_engine"]
