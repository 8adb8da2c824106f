"""The BVM (opcodes 0x30–0x3F): Bitcoin transactions checked and their scripts run exactly as Bitcoin Core would.

The interpreter modules know nothing of the chain. The engine's path through them, for a raw
transaction and the outputs it spends (amount in satoshis, scriptPubKey):

    transaction = parse_tx(raw)                               # tx: TxError("tx-decode") if malformed
    check_transaction(transaction)                            # tx: TxError with Core's reject reason
    verify_tx(transaction, spent_outputs, STANDARD_FLAGS)     # script, flags: ScriptError with Core's error name

Modules, one wire concept each:

- `tx`: the transaction wire format (BIP144 witness serialization), txid / wtxid, and Core's `CheckTransaction`;
- `opcodes`: the script alphabet, script numbers, pushes, and Core's text form of scripts (`ParseScript`);
- `sighash`: the three signature hashes — legacy, BIP143 (segwit v0) and BIP341/342 (taproot);
- `crypto`: ECDSA (with Core's lax DER parsing) and BIP340 Schnorr over libsecp256k1, tagged hashes;
- `taproot`: leaf / branch / tweak hashes, output keys, control blocks and key tweaking (BIP341);
- `flags`: the verification flags under Core's names, and its standard and mandatory sets;
- `errors`: `ScriptError` (`.error` is Core's name, e.g. "EVAL_FALSE") and `TxError` (`.reason`);
- `script`: the interpreter — `verify_input` / `verify_tx`;
- `vectors`: Bitcoin Core's own test vector formats, read and run (`nvm btc testvectors`);
- `coins`, `engine`: the chain side — account coins, and the engine (0x30) that spends them.
"""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from chain.auth import SealedKeys

from .engine import BvmEngine


def make_engine(validator: SigningKey | None = None, home: Path | None = None) -> BvmEngine:
    """With the validator's key, 0x31 spends may be signed with an attestation credential too."""
    if validator is None:
        return BvmEngine()
    return BvmEngine(SealedKeys(validator, None if home is None else home / "sealed-keys.bin"))


__all__ = ["BvmEngine", "make_engine"]
