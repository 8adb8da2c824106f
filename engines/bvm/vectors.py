"""Bitcoin Core's own test vectors, read and run the way Core's unit tests run them.

- `script_tests.json` rows `[[witness…, amount]?, scriptSig, scriptPubKey, flags, expected_error, comment?]`
  (src/test/script_tests.cpp, `script_json_test`): the input of a spending transaction that spends the
  one output of a crediting transaction; the verdict must be exactly `expected_error` ("OK" for valid).
  Witness items `#SCRIPT# <text>` and `#CONTROLBLOCK#`, and the scriptPubKey `0x51 0x20 #TAPROOTOUTPUT#`,
  stand for a one-leaf tapscript tree over the internal key of secret 1, as Core expands them.
- `tx_valid.json` / `tx_invalid.json` rows `[[[prevout txid, index, scriptPubKey, amount?], …], tx hex, flags]`
  (src/test/transaction_tests.cpp): valid transactions pass `CheckTransaction` and verify with every flag
  except those listed; invalid ones fail with the flags listed, and `BADTX` ones fail `CheckTransaction`.
  The two files' rows look alike, so which one a file is comes from the caller (or its name).
- `bip341_wallet_vectors.json` (BIP341's wallet vectors): script trees to leaf hashes, tweaks, output
  keys, addresses and control blocks; a transaction's taproot signature hashes and key-path signatures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from coincurve import PrivateKey

from chain.address import segwit_address

from .errors import ScriptError, TxError
from .flags import ALL_FLAGS, STANDARD_FLAGS, Flags, fill_flags, is_valid_combination, parse_flags, trim_flags
from .opcodes import OP_0, parse_script
from .script import TxChecker, verify_script, verify_tx
from .sighash import PrecomputedTx, taproot_sighash, taproot_sigmsg, tapsighash
from .taproot import Leaf, ScriptTree, taproot_output, taptweak_hash, tweak_secret
from .tx import SEQUENCE_FINAL, OutPoint, Tx, TxIn, TxOut, check_transaction, parse_tx

SCRIPT_PLACEHOLDER = "#SCRIPT#"
CONTROLBLOCK_PLACEHOLDER = "#CONTROLBLOCK#"
TAPROOT_OUTPUT_PLACEHOLDER = "0x51 0x20 #TAPROOTOUTPUT#"
# script_tests.cpp's KeyData key0: the secret 1, whose x-only public key is G's x coordinate.
_KEY0_XONLY = PrivateKey((1).to_bytes(32, "big")).public_key.format(compressed=True)[1:]


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    detail: str = ""


# --- script_tests.json -------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptCase:
    name: str
    script_sig: bytes
    script_pubkey: bytes
    witness: tuple[bytes, ...]
    amount: int  # satoshis
    flags: Flags
    expected: str


def _satoshis(value: Any) -> int:
    """Core's AmountFromValue: a JSON number of bitcoins, exactly."""
    amount = Decimal(str(value)) * 100_000_000
    if amount != amount.to_integral_value():
        raise ValueError(f"amount {value} is not a whole number of satoshis")
    return int(amount)


def read_script_case(row: Sequence[Any], name: str) -> ScriptCase | None:
    """A script_tests.json row as a case; None for a comment row."""
    pos = 0
    witness: list[bytes] = []
    amount = 0
    output_key: bytes | None = None
    if row and isinstance(row[0], list):
        *items, value = row[0]
        for item in items:
            if item.startswith(SCRIPT_PLACEHOLDER):
                witness.append(parse_script(item[len(SCRIPT_PLACEHOLDER) :]))
            elif item == CONTROLBLOCK_PLACEHOLDER:
                output = taproot_output(_KEY0_XONLY, Leaf(witness[-1]))
                output_key = output.output_key
                witness.append(output.control_block(0))
            else:
                witness.append(bytes.fromhex(item))
        amount = _satoshis(value)
        pos = 1
    if len(row) < pos + 4:
        if len(row) != 1:
            raise ValueError(f"bad script test row: {row!r}")
        return None
    script_sig = parse_script(row[pos])
    if row[pos + 1] == TAPROOT_OUTPUT_PLACEHOLDER:
        if output_key is None:
            raise ValueError(f"{TAPROOT_OUTPUT_PLACEHOLDER} without {CONTROLBLOCK_PLACEHOLDER}: {row!r}")
        script_pubkey = bytes((0x51, 0x20)) + output_key
    else:
        script_pubkey = parse_script(row[pos + 1])
    comment = row[pos + 4] if len(row) > pos + 4 else ""
    return ScriptCase(
        f"{name}: {comment}".rstrip(": "),
        script_sig,
        script_pubkey,
        tuple(witness),
        amount,
        parse_flags(row[pos + 2]),
        row[pos + 3],
    )


def crediting_tx(script_pubkey: bytes, amount: int) -> Tx:
    """Core's BuildCreditingTransaction: a coinbase-like transaction paying `amount` to `script_pubkey`."""
    coinbase = TxIn(OutPoint(bytes(32), 0xFFFFFFFF), bytes((OP_0, OP_0)), SEQUENCE_FINAL)
    return Tx(1, (coinbase,), (TxOut(amount, script_pubkey),), 0)


def spending_tx(script_sig: bytes, witness: Sequence[bytes], credit: Tx) -> Tx:
    """Core's BuildSpendingTransaction: spends the crediting transaction's output into an empty script."""
    txin = TxIn(OutPoint(credit.txid, 0), script_sig, SEQUENCE_FINAL, tuple(witness))
    return Tx(1, (txin,), (TxOut(credit.outputs[0].value, b""),), 0)


def script_case_verdict(case: ScriptCase, flags: int | None = None) -> str:
    """The error name the case's scripts give ("OK" if they verify), under its own flags or `flags`."""
    flags = case.flags if flags is None else flags
    if flags & Flags.CLEANSTACK:  # as script_tests.cpp's DoTest does
        flags |= Flags.P2SH | Flags.WITNESS
    credit = crediting_tx(case.script_pubkey, case.amount)
    spend = spending_tx(case.script_sig, case.witness, credit)
    pre = PrecomputedTx(spend, [credit.outputs[0]])
    try:
        verify_script(case.script_sig, case.script_pubkey, case.witness, flags, TxChecker(pre, 0, case.amount))
    except ScriptError as e:
        return e.error
    return "OK"


def run_script_case(case: ScriptCase) -> CaseResult:
    got = script_case_verdict(case)
    return CaseResult(case.name, got == case.expected, "" if got == case.expected else f"got {got}, expected {case.expected}")


# --- tx_valid.json / tx_invalid.json -----------------------------------------------------


@dataclass(frozen=True)
class TxCase:
    name: str
    prevouts: dict[OutPoint, tuple[int, bytes]]  # amount (0 when the row gives none) and scriptPubKey
    tx_hex: str
    flags_text: str  # valid: flags to leave out; invalid: flags to apply, or BADTX
    expect_valid: bool

    @property
    def flags(self) -> Flags:
        """The flags the case runs under."""
        if self.expect_valid:
            return Flags(ALL_FLAGS & ~parse_flags(self.flags_text))
        return parse_flags(self.flags_text)


def is_tx_row(row: Sequence[Any]) -> bool:
    return bool(row) and isinstance(row[0], list) and (not row[0] or isinstance(row[0][0], list))


def read_tx_case(row: Sequence[Any], name: str, expect_valid: bool) -> TxCase:
    if len(row) != 3 or not isinstance(row[1], str) or not isinstance(row[2], str):
        raise ValueError(f"bad transaction test row: {row!r}")
    prevouts: dict[OutPoint, tuple[int, bytes]] = {}
    for prevout in row[0]:
        if not 3 <= len(prevout) <= 4:
            raise ValueError(f"bad prevout in transaction test row: {prevout!r}")
        outpoint = OutPoint(bytes.fromhex(prevout[0])[::-1], prevout[1] & 0xFFFFFFFF)
        prevouts[outpoint] = (prevout[3] if len(prevout) == 4 else 0, parse_script(prevout[2]))
    return TxCase(name, prevouts, row[1], row[2], expect_valid)


def tx_case_verdict(case: TxCase, flags: int | None = None) -> str:
    """Why the case's transaction is refused ("OK" if it is not): a TxError reason or a ScriptError name."""
    try:
        tx = parse_tx(bytes.fromhex(case.tx_hex))
        check_transaction(tx)
    except TxError as e:
        return e.reason
    spent = [case.prevouts[txin.prevout] for txin in tx.inputs]
    try:
        verify_tx(tx, spent, case.flags if flags is None else flags)
    except ScriptError as e:
        return e.error
    return "OK"


def run_tx_case(case: TxCase) -> CaseResult:
    if case.flags_text != "BADTX" and not is_valid_combination(case.flags):
        return CaseResult(case.name, False, f"bad test flags {case.flags_text!r}: CLEANSTACK needs WITNESS, WITNESS needs P2SH")
    got = tx_case_verdict(case)
    if case.expect_valid:
        return CaseResult(case.name, got == "OK", "" if got == "OK" else f"refused: {got}")
    if case.flags_text == "BADTX":
        ok = got.startswith("bad-")
        return CaseResult(case.name, ok, "" if ok else f"expected to fail the basic checks, got {got}")
    if got.startswith(("bad-", "tx-")):
        return CaseResult(case.name, False, f"failed the basic checks ({got}) though the case is not BADTX")
    return CaseResult(case.name, got != "OK", "" if got != "OK" else "accepted")


def tx_case_flag_variants(case: TxCase) -> Iterable[Flags]:
    """Flag sets the verdict must not change under (Core's transaction_tests.cpp): a valid transaction stays
    valid with any one flag more left out, an invalid one stays invalid with any one flag more applied."""
    for flag in Flags:
        if not flag:
            continue
        if case.expect_valid:
            yield trim_flags(case.flags & ~flag)
        else:
            yield fill_flags(case.flags | flag)


def tx_case_needed_flags(case: TxCase) -> Iterable[tuple[Flags, Flags]]:
    """For a valid case: (flag, flags with it put back) for each flag it leaves out — Core checks each one is
    needed, i.e. the transaction fails once that flag is applied too (the excluded set is minimal)."""
    excluded = parse_flags(case.flags_text)
    for flag in Flags:
        if flag and excluded & flag:
            yield flag, Flags(ALL_FLAGS & ~trim_flags(excluded & ~flag))


# --- bip341_wallet_vectors.json -----------------------------------------------------------


def _tree(node: Any) -> ScriptTree | None:
    if node is None:
        return None
    if isinstance(node, dict):
        return Leaf(bytes.fromhex(node["script"]), node["leafVersion"])
    return [_tree_required(child) for child in node]


def _tree_required(node: Any) -> ScriptTree:
    tree = _tree(node)
    if tree is None:
        raise ValueError("a script tree has no empty subtrees")
    return tree


def _leaf_ids(node: Any) -> list[int]:
    if node is None:
        return []
    if isinstance(node, dict):
        return [node["id"]]
    return [i for child in node for i in _leaf_ids(child)]


def bip341_output_fields(case: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (expected, computed)} for one `scriptPubKey` case of the wallet vectors."""
    given, intermediary, expected = case["given"], case["intermediary"], case["expected"]
    internal_key = bytes.fromhex(given["internalPubkey"])
    output = taproot_output(internal_key, _tree(given["scriptTree"]))
    ids = _leaf_ids(given["scriptTree"])
    by_id = sorted(range(len(ids)), key=lambda i: ids[i])
    root = output.merkle_root
    fields: dict[str, tuple[Any, Any]] = {
        "merkleRoot": (intermediary["merkleRoot"], None if root is None else root.hex()),
        "tweak": (intermediary["tweak"], output.tweak.hex()),
        "tweakedPubkey": (intermediary["tweakedPubkey"], output.output_key.hex()),
        "scriptPubKey": (expected["scriptPubKey"], output.script_pubkey.hex()),
        "bip350Address": (expected["bip350Address"], segwit_address("bc", 1, output.output_key)),
    }
    if "leafHashes" in intermediary:
        fields["leafHashes"] = (intermediary["leafHashes"], [output.leaves[i][0].hash.hex() for i in by_id])
    if "scriptPathControlBlocks" in expected:
        fields["scriptPathControlBlocks"] = (expected["scriptPathControlBlocks"], [output.control_block(i).hex() for i in by_id])
    return fields


def bip341_spending_fields(vector: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (expected, computed)} for the `keyPathSpending` transaction: the shared hashes, then per input
    the keys, tweak, signature message and hash, and the signature (BIP340 with all-zero auxiliary randomness,
    as Core signs); and the fully signed transaction, which must verify under the standard flags."""
    given, intermediary = vector["given"], vector["intermediary"]
    tx = parse_tx(bytes.fromhex(given["rawUnsignedTx"]))
    utxos = [TxOut(u["amountSats"], bytes.fromhex(u["scriptPubKey"])) for u in given["utxosSpent"]]
    pre = PrecomputedTx(tx, utxos)
    fields: dict[str, tuple[Any, Any]] = {
        "hashAmounts": (intermediary["hashAmounts"], pre.amounts_sha.hex()),
        "hashOutputs": (intermediary["hashOutputs"], pre.outputs_sha.hex()),
        "hashPrevouts": (intermediary["hashPrevouts"], pre.prevouts_sha.hex()),
        "hashScriptPubkeys": (intermediary["hashScriptPubkeys"], pre.scripts_sha.hex()),
        "hashSequences": (intermediary["hashSequences"], pre.sequences_sha.hex()),
    }
    signed = parse_tx(bytes.fromhex(vector["auxiliary"]["fullySignedTx"]))
    for spend in vector["inputSpending"]:
        g, inter = spend["given"], spend["intermediary"]
        index, hash_type = g["txinIndex"], g["hashType"]
        root = None if g["merkleRoot"] is None else bytes.fromhex(g["merkleRoot"])
        secret = PrivateKey(bytes.fromhex(g["internalPrivkey"]))
        public = secret.public_key.format(compressed=True)
        internal_key = public[1:]
        tweak = taptweak_hash(internal_key, root)
        tweaked = tweak_secret(secret.secret, root)
        msg = taproot_sigmsg(pre, index, hash_type)
        digest = taproot_sighash(pre, index, hash_type)
        sig = b"" if digest is None else PrivateKey(tweaked).sign_schnorr(digest, bytes(32))
        witness = [(sig + (bytes((hash_type,)) if hash_type else b"")).hex()]
        fields.update(
            {
                f"input {index} internalPubkey": (inter["internalPubkey"], internal_key.hex()),
                f"input {index} tweak": (inter["tweak"], tweak.hex()),
                f"input {index} tweakedPrivkey": (inter["tweakedPrivkey"], tweaked.hex()),
                f"input {index} sigMsg": (inter["sigMsg"], None if msg is None else msg.hex()),
                f"input {index} sigHash": (inter["sigHash"], None if digest is None else digest.hex()),
                f"input {index} sigHash of the given sigMsg": (
                    inter["sigHash"],
                    tapsighash(bytes.fromhex(inter["sigMsg"])).hex(),
                ),
                f"input {index} witness": (spend["expected"]["witness"], witness),
                f"input {index} witness in the signed tx": (
                    spend["expected"]["witness"],
                    [w.hex() for w in signed.inputs[index].witness],
                ),
            }
        )
    try:
        verify_tx(signed, utxos, STANDARD_FLAGS)
        verdict = "OK"
    except ScriptError as e:
        verdict = e.error
    fields["fullySignedTx verifies"] = ("OK", verdict)
    return fields


def _fields_result(name: str, fields: dict[str, tuple[Any, Any]]) -> CaseResult:
    wrong = [f"{key}: expected {want}, got {got}" for key, (want, got) in fields.items() if want != got]
    return CaseResult(name, not wrong, "; ".join(wrong))


# --- files --------------------------------------------------------------------------------


def run_file(path: Path, expect_invalid: bool | None = None) -> list[CaseResult]:
    """Every case of a vector file. Transaction rows are tx_invalid's when `expect_invalid`, or — when it is
    None — when the file's name contains "invalid"."""
    data = json.loads(Path(path).read_text())
    stem = Path(path).name
    if isinstance(data, dict):
        if "scriptPubKey" not in data or "keyPathSpending" not in data:
            raise ValueError(f"{stem}: not a file of Bitcoin Core test vectors")
        results = [
            _fields_result(f"{stem} scriptPubKey[{i}]", bip341_output_fields(case)) for i, case in enumerate(data["scriptPubKey"])
        ]
        for i, vector in enumerate(data["keyPathSpending"]):
            groups: dict[str, dict[str, tuple[Any, Any]]] = {}
            for key, pair in bip341_spending_fields(vector).items():
                group = " ".join(key.split()[:2]) if key.startswith("input ") else "transaction"
                groups.setdefault(group, {})[key] = pair
            results += [_fields_result(f"{stem} keyPathSpending[{i}] {group}", fields) for group, fields in groups.items()]
        return results
    if expect_invalid is None:
        expect_invalid = "invalid" in stem
    results = []
    for i, row in enumerate(data):
        name = f"{stem}#{i}"
        try:
            if is_tx_row(row):
                results.append(run_tx_case(read_tx_case(row, name, not expect_invalid)))
            else:
                case = read_script_case(row, name)
                if case is not None:
                    results.append(run_script_case(case))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            results.append(CaseResult(name, False, f"unreadable row: {e}"))
    return results


def print_report(results: Sequence[CaseResult], out: TextIO, max_failures: int = 20) -> int:
    """The first failures, then `N passed, M failed`; returns M."""
    failed = [r for r in results if not r.passed]
    lines = [f"FAIL {r.name}: {r.detail}" for r in failed[:max_failures]]
    if len(failed) > max_failures:
        lines.append(f"… and {len(failed) - max_failures} more failures")
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    out.write("".join(line + "\n" for line in lines))
    return len(failed)
