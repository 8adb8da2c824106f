"""Raw Bitcoin transaction verification on one core: what BVM ingress does with a wallet's transaction.

Two kinds of spend, each a one-input, two-output transaction as a wallet would send it:
P2WPKH (BIP143 ECDSA) and P2TR key path (BIP341 Schnorr). Setup, not timed: keys, funding
outputs and signatures (signing is the wallet's work). Timed, per transaction: decode the raw
bytes, Core's CheckTransaction, and the input's script verification under Bitcoin Core's standard
flags — so one transaction is one input verification. DESIGN.md's target is ≥ 5,000 per second
per core for raw-chain ingress verification.

    python manage.py nvm bench bvm-verify --json
"""

from __future__ import annotations

import gc
import time
from typing import Any

from coincurve import PrivateKey

from engines.bvm.crypto import hash160, sha256
from engines.bvm.flags import STANDARD_FLAGS
from engines.bvm.script import verify_input
from engines.bvm.sighash import SIGHASH_ALL, SIGHASH_DEFAULT, PrecomputedTx, segwit_v0_sighash, taproot_sighash
from engines.bvm.taproot import taproot_output, tweak_secret
from engines.bvm.tx import OutPoint, Tx, TxIn, TxOut, check_transaction, parse_tx

TARGET_PER_S = 5_000  # DESIGN.md: raw-chain ingress verification, per core
FUNDING = 50_000  # satoshis in each spent output
FEE = 500


def _key(kind: str, i: int) -> PrivateKey:
    return PrivateKey(sha256(f"bench/bvm/{kind}/{i}".encode()))


def _unsigned(i: int, script_pubkey: bytes) -> tuple[Tx, list[TxOut]]:
    spent = [TxOut(FUNDING, script_pubkey)]
    prevout = OutPoint(sha256(b"bench/bvm/funding/%d" % i), i % 4)
    pay = TxOut(FUNDING // 2, bytes((0, 20)) + hash160(b"bench/bvm/payee/%d" % i))
    change = TxOut(FUNDING - FUNDING // 2 - FEE, script_pubkey)
    return Tx(2, (TxIn(prevout, b"", 0xFFFFFFFD),), (pay, change), 0), spent


def _with_witness(tx: Tx, witness: tuple[bytes, ...]) -> Tx:
    txin = tx.inputs[0]
    return Tx(tx.version, (TxIn(txin.prevout, txin.script_sig, txin.sequence, witness),), tx.outputs, tx.locktime)


def p2wpkh_spend(i: int) -> tuple[bytes, list[TxOut]]:
    """A signed P2WPKH spend: witness <DER signature + SIGHASH_ALL> <compressed public key>."""
    key = _key("p2wpkh", i)
    pubkey = key.public_key.format(compressed=True)
    tx, spent = _unsigned(i, bytes((0, 20)) + hash160(pubkey))
    script_code = bytes((0x76, 0xA9, 20)) + hash160(pubkey) + bytes((0x88, 0xAC))  # BIP143: P2PKH of the key
    digest = segwit_v0_sighash(PrecomputedTx(tx, spent), 0, script_code, FUNDING, SIGHASH_ALL)
    sig = key.sign(digest, hasher=None) + bytes((SIGHASH_ALL,))
    return _with_witness(tx, (sig, pubkey)).serialize(), spent


def p2tr_keypath_spend(i: int) -> tuple[bytes, list[TxOut]]:
    """A signed BIP86-style P2TR key-path spend: witness <64-byte Schnorr signature> (SIGHASH_DEFAULT)."""
    key = _key("p2tr", i)
    output = taproot_output(key.public_key.format(compressed=True)[1:], None)
    tx, spent = _unsigned(i, output.script_pubkey)
    tweaked = PrivateKey(tweak_secret(key.secret, None))
    digest = taproot_sighash(PrecomputedTx(tx, spent), 0, SIGHASH_DEFAULT)
    assert digest is not None
    return _with_witness(tx, (tweaked.sign_schnorr(digest, bytes(32)),)).serialize(), spent


def verify_raw(raw: bytes, spent: list[TxOut]) -> None:
    """What ingress does with a wallet's transaction: decode, basic checks, every input's scripts."""
    tx = parse_tx(raw)
    check_transaction(tx)
    pre = PrecomputedTx(tx, spent)
    for index in range(len(tx.inputs)):
        verify_input(tx, index, spent, STANDARD_FLAGS, pre)


def _measure(kind: str, txs: int) -> dict[str, Any]:
    make = p2wpkh_spend if kind == "p2wpkh" else p2tr_keypath_spend
    work = [make(i) for i in range(txs)]
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for raw, spent in work:
            verify_raw(raw, spent)
        seconds = time.perf_counter() - t0
    finally:
        gc.enable()
    return {"txs": txs, "seconds": round(seconds, 4), "tx_per_s": round(txs / seconds)}


def run(txs: int = 5_000) -> dict[str, Any]:
    """`txs` transactions of each kind; the headline figures are over both."""
    runs = {kind: _measure(kind, txs) for kind in ("p2wpkh", "p2tr_keypath")}
    seconds = sum(r["seconds"] for r in runs.values())
    total = 2 * txs
    return {
        "scenario": "bvm-verify",
        "txs": total,
        "inputs": total,
        "seconds": round(seconds, 4),
        "tx_per_s": round(total / seconds),
        "flags": "STANDARD",
        "target_per_s": TARGET_PER_S,
        "runs": runs,
    }
