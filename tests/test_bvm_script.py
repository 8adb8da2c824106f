"""The BVM's Bitcoin Script interpreter (engines/bvm) behaves as Bitcoin Core.

External conformance: Bitcoin Core's own vectors in tests/data/bitcoin/ (see SOURCE.md), every row,
read as Core's unit tests read them; BIP341's wallet vectors; and transactions signed by another
wallet library (bitcoin-utils). Then the rules those vectors do not reach: tapscript's budget,
OP_SUCCESSx, annex, and the transaction codec's strictness and Core's CheckTransaction reasons.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.bvm.errors import ScriptError, TxError
from engines.bvm.flags import ALL_FLAGS, MANDATORY_FLAGS, STANDARD_FLAGS, Flags, format_flags, parse_flags
from engines.bvm.opcodes import (
    OP_CHECKSIG,
    OP_CHECKSIGADD,
    OP_CHECKSIGVERIFY,
    OP_DUP,
    encode_push,
    parse_script,
)
from engines.bvm.script import verify_input
from engines.bvm.sighash import PrecomputedTx, annex_hash, taproot_sighash
from engines.bvm.taproot import Leaf, tapleaf_hash, taproot_output, tweak_secret
from engines.bvm.tx import OutPoint, Tx, TxIn, TxOut, check_transaction, parse_tx
from engines.bvm.vectors import (
    ScriptCase,
    bip341_output_fields,
    bip341_spending_fields,
    is_tx_row,
    read_script_case,
    read_tx_case,
    run_tx_case,
    script_case_verdict,
    tx_case_flag_variants,
    tx_case_needed_flags,
    tx_case_verdict,
)

DATA = Path(__file__).resolve().parent / "data" / "bitcoin"
VECTOR_FILES = ("script_tests.json", "tx_valid.json", "tx_invalid.json", "bip341_wallet_vectors.json")


def _rows(name: str) -> Any:
    return json.loads((DATA / name).read_text())


SCRIPT_ROWS = _rows("script_tests.json")
SCRIPT_CASES: list[ScriptCase] = [
    case for i, row in enumerate(SCRIPT_ROWS) if (case := read_script_case(row, f"script_tests.json#{i}")) is not None
]
TX_VALID = [read_tx_case(row, f"tx_valid.json#{i}", True) for i, row in enumerate(_rows("tx_valid.json")) if is_tx_row(row)]
TX_INVALID = [
    read_tx_case(row, f"tx_invalid.json#{i}", False) for i, row in enumerate(_rows("tx_invalid.json")) if is_tx_row(row)
]
BIP341 = _rows("bip341_wallet_vectors.json")


# --- the vector files ---------------------------------------------------------------------


def test_vector_files_are_the_documented_bitcoin_core_blobs():
    source = (DATA / "SOURCE.md").read_text()
    for name in VECTOR_FILES:
        data = (DATA / name).read_bytes()
        blob = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
        assert f"`{name}` | {blob}" in source, name


def test_every_script_test_row_is_a_case_or_a_comment():
    comments = [row for row in SCRIPT_ROWS if len(row) == 1]
    assert len(SCRIPT_CASES) == 1222 and len(SCRIPT_CASES) + len(comments) == len(SCRIPT_ROWS)
    tapscript = [c for c in SCRIPT_CASES if c.script_pubkey[:2] == b"\x51\x20" and len(c.witness) >= 2]
    assert len(tapscript) >= 5  # the #SCRIPT# / #CONTROLBLOCK# / #TAPROOTOUTPUT# rows
    assert len(TX_VALID) == 121 and len(TX_INVALID) == 93


# --- script_tests.json --------------------------------------------------------------------


def test_every_script_test_gives_exactly_the_expected_error():
    wrong = [f"{c.name}: got {got}, expected {c.expected}" for c in SCRIPT_CASES if (got := script_case_verdict(c)) != c.expected]
    assert not wrong, "\n".join(wrong[:30])


def test_script_test_verdicts_hold_with_fewer_flags_when_valid_and_more_when_invalid():
    """Core's DoTest: removing flags from a passing case, or adding flags to a failing one, keeps the verdict."""
    rng = random.Random(20260425)
    wrong = []
    for case in SCRIPT_CASES:
        valid = case.expected == "OK"
        for _ in range(16):
            extra = rng.getrandbits(len(Flags) - 1)
            flags = case.flags & ~extra if valid else case.flags | extra
            if flags & Flags.CLEANSTACK and ~flags & (Flags.P2SH | Flags.WITNESS):
                continue
            if flags & Flags.WITNESS and not flags & Flags.P2SH:
                continue
            if (script_case_verdict(case, flags) == "OK") != valid:
                wrong.append(f"{case.name} with flags {format_flags(flags)}")
    assert not wrong, "\n".join(wrong[:30])


def test_a_failing_script_says_why_in_cores_words():
    tx = Tx(1, (TxIn(OutPoint(b"\x01" * 32, 0), b""),), (TxOut(0, b""),))
    with pytest.raises(ScriptError) as e:
        verify_input(tx, 0, [(0, parse_script("1 IF"))], STANDARD_FLAGS)
    assert e.value.error == "UNBALANCED_CONDITIONAL"
    assert "Invalid OP_IF construction" in str(e.value)


# --- tx_valid.json / tx_invalid.json ------------------------------------------------------


def test_every_valid_transaction_passes_the_basic_checks_and_verifies():
    wrong = [f"{c.name}: {r.detail}" for c in TX_VALID if not (r := run_tx_case(c)).passed]
    assert not wrong, "\n".join(wrong)


def test_valid_transactions_stay_valid_with_any_flag_left_out_and_each_excluded_flag_is_needed():
    """Core's tx_valid checks: fewer flags never invalidate, and applying any one excluded flag invalidates."""
    wrong = []
    for case in TX_VALID:
        wrong += [
            f"{case.name}: refused with {format_flags(f)}"
            for f in tx_case_flag_variants(case)
            if tx_case_verdict(case, f) != "OK"
        ]
        wrong += [
            f"{case.name}: {flag.name} is not needed"
            for flag, f in tx_case_needed_flags(case)
            if tx_case_verdict(case, f) == "OK"
        ]
    assert not wrong, "\n".join(wrong[:30])


def test_every_invalid_transaction_fails_and_badtx_ones_fail_the_basic_checks():
    wrong = [f"{c.name}: {r.detail}" for c in TX_INVALID if not (r := run_tx_case(c)).passed]
    assert not wrong, "\n".join(wrong)
    reasons = {tx_case_verdict(c) for c in TX_INVALID if c.flags_text == "BADTX"}
    assert reasons >= {"bad-txns-vout-negative", "bad-txns-inputs-duplicate", "bad-cb-length", "bad-txns-prevout-null"}


def test_invalid_transactions_stay_invalid_with_any_flag_added():
    wrong = [
        f"{c.name}: accepted with {format_flags(f)}"
        for c in TX_INVALID
        if c.flags_text != "BADTX"
        for f in tx_case_flag_variants(c)
        if tx_case_verdict(c, f) == "OK"
    ]
    assert not wrong, "\n".join(wrong[:30])


def test_every_vector_transaction_reserializes_byte_for_byte():
    for case in TX_VALID + TX_INVALID:
        raw = bytes.fromhex(case.tx_hex)
        assert parse_tx(raw).serialize() == raw, case.name


# --- bip341_wallet_vectors.json -----------------------------------------------------------


@pytest.mark.parametrize("index", range(len(BIP341["scriptPubKey"])))
def test_bip341_script_trees_give_every_commitment_and_address(index: int):
    case = BIP341["scriptPubKey"][index]
    fields = bip341_output_fields(case)
    required = {"merkleRoot", "tweak", "tweakedPubkey", "scriptPubKey", "bip350Address"}
    if case["given"]["scriptTree"] is not None:
        required |= {"leafHashes", "scriptPathControlBlocks"}
    assert set(fields) == required
    assert {k: want for k, (want, _) in fields.items()} == {k: got for k, (_, got) in fields.items()}


def test_bip341_key_path_spending_hashes_signatures_and_witnesses():
    [vector] = BIP341["keyPathSpending"]
    fields = bip341_spending_fields(vector)
    inputs = [spend["given"]["txinIndex"] for spend in vector["inputSpending"]]
    for index in inputs:
        for name in ("internalPubkey", "tweak", "tweakedPrivkey", "sigMsg", "sigHash", "witness"):
            assert f"input {index} {name}" in fields
    assert {"hashAmounts", "hashOutputs", "hashPrevouts", "hashScriptPubkeys", "hashSequences"} <= set(fields)
    assert fields["fullySignedTx verifies"] == ("OK", "OK")
    assert {k: want for k, (want, _) in fields.items()} == {k: got for k, (_, got) in fields.items()}


# --- the command line ---------------------------------------------------------------------


def test_testvectors_command_runs_all_four_files():
    out = io.StringIO()
    call_command("nvm", "btc", "testvectors", *(str(DATA / name) for name in VECTOR_FILES), stdout=out)
    text = out.getvalue()
    assert "script_tests.json: 1222 passed, 0 failed" in text
    assert "tx_valid.json: 121 passed, 0 failed" in text
    assert "tx_invalid.json: 93 passed, 0 failed" in text
    assert text.rstrip().endswith(" passed, 0 failed")


def test_testvectors_command_reports_failures_and_exits_non_zero(tmp_path: Path):
    rows = SCRIPT_ROWS[:40]
    first = next(i for i, row in enumerate(rows) if len(row) >= 4 and row[-2] == "OK")
    rows[first] = [*rows[first][:-2], "EVAL_FALSE", "deliberately wrong"]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(rows))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("nvm", "btc", "testvectors", str(path), stdout=out)
    assert f"FAIL mine.json#{first}: deliberately wrong: got OK, expected EVAL_FALSE" in out.getvalue()
    assert " 1 failed" in out.getvalue()


def test_testvectors_command_is_told_which_transaction_file_is_which(tmp_path: Path):
    """tx_valid and tx_invalid rows look alike: the file name decides, unless --expect-invalid says otherwise."""
    path = tmp_path / "some_txs.json"
    path.write_text((DATA / "tx_invalid.json").read_text())
    with pytest.raises(CommandError):
        call_command("nvm", "btc", "testvectors", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("nvm", "btc", "testvectors", "--expect-invalid", str(path), stdout=out)
    assert "93 passed, 0 failed" in out.getvalue()


# --- signed by another wallet (bitcoin-utils) ---------------------------------------------

AMOUNT = 1_000_000
PREV_TXID = "7b" * 32


def _bitcoin_utils_spend(kind: str) -> tuple[bytes, list[tuple[int, bytes]], list[int]]:
    """(raw transaction, spent outputs, positions of the signatures' bytes in it) for one signed spend."""
    from bitcoinutils.keys import PrivateKey as BuKey
    from bitcoinutils.script import Script
    from bitcoinutils.setup import setup
    from bitcoinutils.transactions import Transaction, TxInput, TxOutput, TxWitnessInput
    from bitcoinutils.utils import ControlBlock

    setup("regtest")
    keys = [BuKey(secret_exponent=0xB17C0 + i) for i in range(4)]
    pubs = [k.get_public_key() for k in keys]
    payee = TxOutput(AMOUNT - 2_000, pubs[3].get_segwit_address().to_script_pub_key())
    witness_tx = kind != "p2pkh"
    tx = Transaction([TxInput(PREV_TXID, 2)], [payee], has_segwit=witness_tx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "p2pkh":
            spk = pubs[0].get_address().to_script_pub_key()
            sigs = [keys[0].sign_input(tx, 0, spk)]
            tx.inputs[0].script_sig = Script([sigs[0], pubs[0].to_hex()])
        elif kind == "p2wpkh":
            spk = pubs[0].get_segwit_address().to_script_pub_key()
            sigs = [keys[0].sign_segwit_input(tx, 0, pubs[0].get_address().to_script_pub_key(), AMOUNT)]
            tx.witnesses.append(TxWitnessInput([sigs[0], pubs[0].to_hex()]))
        elif kind == "p2wsh-2-of-3":
            script = Script(["OP_2", pubs[0].to_hex(), pubs[1].to_hex(), pubs[2].to_hex(), "OP_3", "OP_CHECKMULTISIG"])
            spk = script.to_p2wsh_script_pub_key()
            sigs = [keys[0].sign_segwit_input(tx, 0, script, AMOUNT), keys[2].sign_segwit_input(tx, 0, script, AMOUNT)]
            tx.witnesses.append(TxWitnessInput(["", *sigs, script.to_hex()]))
        elif kind == "p2tr-key-path":
            spk = pubs[0].get_taproot_address().to_script_pub_key()
            sigs = [keys[0].sign_taproot_input(tx, 0, [spk], [AMOUNT])]
            tx.witnesses.append(TxWitnessInput(sigs))
        else:  # p2tr-script-path: <key1> CHECKSIG in a two-leaf tree under key 0
            leaf = Script([pubs[1].to_x_only_hex(), "OP_CHECKSIG"])
            tree = [leaf, Script(["OP_16"])]
            address = pubs[0].get_taproot_address(tree)
            spk = address.to_script_pub_key()
            sigs = [keys[1].sign_taproot_input(tx, 0, [spk], [AMOUNT], script_path=True, tapleaf_script=leaf, tweak=False)]
            control = ControlBlock(pubs[0], tree, 0, is_odd=address.is_odd())
            tx.witnesses.append(TxWitnessInput([sigs[0], leaf.to_hex(), control.to_hex()]))
    raw = bytes.fromhex(tx.serialize())
    ours = parse_tx(raw)
    assert ours.txid_hex == tx.get_txid()
    if witness_tx:
        assert ours.wtxid_hex == tx.get_wtxid()
    positions = []
    for sig in sigs:
        at = raw.index(bytes.fromhex(sig))
        positions += range(at, at + len(sig) // 2)
    return raw, [(AMOUNT, bytes.fromhex(spk.to_hex()))], positions


WALLET_KINDS = ["p2pkh", "p2wpkh", "p2wsh-2-of-3", "p2tr-key-path", "p2tr-script-path"]
_SPENDS: dict[str, tuple[bytes, list[tuple[int, bytes]], list[int]]] = {}


def _spend(kind: str) -> tuple[bytes, list[tuple[int, bytes]], list[int]]:
    if kind not in _SPENDS:
        _SPENDS[kind] = _bitcoin_utils_spend(kind)
    return _SPENDS[kind]


@pytest.mark.parametrize("kind", WALLET_KINDS)
def test_a_bitcoin_utils_signed_spend_verifies_with_standard_flags(kind: str):
    raw, spent, _ = _spend(kind)
    tx = parse_tx(raw)
    check_transaction(tx)
    verify_input(tx, 0, spent, STANDARD_FLAGS)


@pytest.mark.parametrize("kind", WALLET_KINDS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_a_bitcoin_utils_signature_with_one_byte_flipped_is_refused(kind: str, data: st.DataObject):
    raw, spent, positions = _spend(kind)
    at = data.draw(st.sampled_from(positions), label="byte")
    mask = data.draw(st.integers(1, 255), label="xor")
    broken = bytearray(raw)
    broken[at] ^= mask
    tx = parse_tx(bytes(broken))
    with pytest.raises(ScriptError):
        verify_input(tx, 0, spent, STANDARD_FLAGS)


# --- tapscript rules the vectors do not reach ---------------------------------------------

INTERNAL_SECRET = (7).to_bytes(32, "big")
LEAF_SECRET = (11).to_bytes(32, "big")
LEAF_KEY = PrivateKey(LEAF_SECRET).public_key.format(compressed=True)[1:]


def _taproot_spend(leaf_script: bytes, stack: list[bytes], annex: bytes | None = None) -> tuple[Tx, list[tuple[int, bytes]]]:
    """A one-input transaction spending a one-leaf taproot output by its script path; `stack` may contain
    b"SIG", replaced by a valid BIP342 signature of LEAF_KEY (signed over the final witness layout)."""
    internal = PrivateKey(INTERNAL_SECRET).public_key.format(compressed=True)[1:]
    output = taproot_output(internal, Leaf(leaf_script))
    spent = [(AMOUNT, output.script_pubkey)]
    tail = [leaf_script, output.control_block(0)] + ([annex] if annex is not None else [])

    def build(items: list[bytes]) -> Tx:
        txin = TxIn(OutPoint(b"\x42" * 32, 0), b"", 0xFFFFFFFE, tuple(items + tail))
        return Tx(2, (txin,), (TxOut(AMOUNT - 1_000, b"\x51\x20" + bytes(32)),), 0)

    tx = build(stack)
    digest = taproot_sighash(
        PrecomputedTx(tx, spent), 0, 0, None if annex is None else annex_hash(annex), tapleaf_hash(0xC0, leaf_script)
    )
    assert digest is not None
    sig = PrivateKey(LEAF_SECRET).sign_schnorr(digest, bytes(32))
    return build([sig if item == b"SIG" else item for item in stack]), spent


def _verdict(tx: Tx, spent: list[tuple[int, bytes]], flags: int = STANDARD_FLAGS) -> str:
    try:
        verify_input(tx, 0, spent, flags)
    except ScriptError as e:
        return e.error
    return "OK"


def test_tapscript_checksig_and_checksigadd_with_real_signatures():
    checksig = encode_push(LEAF_KEY) + bytes((OP_CHECKSIG,))
    assert _verdict(*_taproot_spend(checksig, [b"SIG"])) == "OK"
    assert _verdict(*_taproot_spend(checksig, [b""])) == "EVAL_FALSE"  # the empty signature is a plain 'no'
    assert _verdict(*_taproot_spend(checksig, [b"\x01" * 64])) == "SCHNORR_SIG"  # a wrong one ends the script
    assert _verdict(*_taproot_spend(checksig, [b"\x01" * 63])) == "SCHNORR_SIG_SIZE"
    other = PrivateKey((12).to_bytes(32, "big")).public_key.format(compressed=True)[1:]
    # 1-of-2 with OP_CHECKSIGADD: <sig or empty> per key, in reverse order of the keys
    multi_a = encode_push(other) + bytes((OP_CHECKSIG,)) + encode_push(LEAF_KEY) + bytes((OP_CHECKSIGADD, 0x51, 0x9C))
    assert _verdict(*_taproot_spend(multi_a, [b"SIG", b""])) == "OK"
    assert _verdict(*_taproot_spend(multi_a, [b"", b""])) == "EVAL_FALSE"


def test_tapscript_signature_budget_is_fifty_per_signature_against_the_witness_size():
    def repeated(n: int) -> bytes:
        check = encode_push(LEAF_KEY) + bytes((OP_CHECKSIGVERIFY,))
        return (bytes((OP_DUP,)) + check) * (n - 1) + check[:-1] + bytes((OP_CHECKSIG,))

    assert _verdict(*_taproot_spend(repeated(3), [b"SIG"])) == "OK"
    assert _verdict(*_taproot_spend(repeated(40), [b"SIG"])) == "TAPSCRIPT_VALIDATION_WEIGHT"
    # padding the witness (here with an annex) buys budget
    assert _verdict(*_taproot_spend(repeated(40), [b"SIG"], annex=b"\x50" + bytes(2_000)), MANDATORY_FLAGS) == "OK"


def test_an_annex_is_committed_to():
    checksig = encode_push(LEAF_KEY) + bytes((OP_CHECKSIG,))
    tx, spent = _taproot_spend(checksig, [b"SIG"], annex=b"\x50\x01\x02")
    assert _verdict(tx, spent) == "OK"
    txin = tx.inputs[0]
    other_annex = Tx(tx.version, (TxIn(txin.prevout, b"", txin.sequence, (*txin.witness[:-1], b"\x50\x01\x03")),), tx.outputs)
    assert _verdict(other_annex, spent) == "SCHNORR_SIG"


def test_op_success_makes_a_tapscript_succeed_unless_discouraged():
    script = parse_script("0x50 0 VERIFY")  # 0x50 is OP_SUCCESS80 in tapscript
    assert _verdict(*_taproot_spend(script, []), MANDATORY_FLAGS) == "OK"
    assert _verdict(*_taproot_spend(script, [])) == "DISCOURAGE_OP_SUCCESS"


def test_tapscript_refuses_checkmultisig_and_non_minimal_if():
    multisig = parse_script("0 0 0 CHECKMULTISIG")
    assert _verdict(*_taproot_spend(multisig, []), MANDATORY_FLAGS) == "TAPSCRIPT_CHECKMULTISIG"
    assert _verdict(*_taproot_spend(parse_script("IF 1 ENDIF"), [b"\x02"]), MANDATORY_FLAGS) == "TAPSCRIPT_MINIMALIF"
    assert _verdict(*_taproot_spend(parse_script("IF 1 ENDIF"), [b"\x01"]), MANDATORY_FLAGS) == "OK"


def test_unknown_leaf_versions_and_key_types_are_upgrade_hooks():
    internal = PrivateKey(INTERNAL_SECRET).public_key.format(compressed=True)[1:]
    output = taproot_output(internal, Leaf(b"\x6a", 0xC2))  # OP_RETURN under an unknown leaf version
    txin = TxIn(OutPoint(b"\x43" * 32, 0), b"", 0xFFFFFFFF, (b"\x6a", output.control_block(0)))
    tx = Tx(2, (txin,), (TxOut(1, b"\x6a"),))
    spent = [(AMOUNT, output.script_pubkey)]
    assert _verdict(tx, spent, MANDATORY_FLAGS) == "OK"
    assert _verdict(tx, spent) == "DISCOURAGE_UPGRADABLE_TAPROOT_VERSION"
    unknown_key = parse_script("0x02 0xabcd 0x21") + bytes(33) + bytes((OP_CHECKSIG,))  # a signature, a 33-byte key
    assert _verdict(*_taproot_spend(unknown_key, []), MANDATORY_FLAGS) == "OK"
    assert _verdict(*_taproot_spend(unknown_key, [])) == "DISCOURAGE_UPGRADABLE_PUBKEYTYPE"


def test_a_key_path_signature_commits_to_every_spent_amount():
    secret = (5).to_bytes(32, "big")
    output = taproot_output(PrivateKey(secret).public_key.format(compressed=True)[1:], None)
    tweaked = PrivateKey(tweak_secret(secret, None))
    unsigned = Tx(2, (TxIn(OutPoint(b"\x44" * 32, 1)),), (TxOut(5_000, b"\x51\x20" + bytes(32)),))
    spent = [(10_000, output.script_pubkey)]
    digest = taproot_sighash(PrecomputedTx(unsigned, spent), 0, 0)
    assert digest is not None
    signed = Tx(2, (TxIn(OutPoint(b"\x44" * 32, 1), witness=(tweaked.sign_schnorr(digest, bytes(32)),)),), unsigned.outputs)
    assert _verdict(signed, spent) == "OK"
    assert _verdict(signed, [(10_001, output.script_pubkey)]) == "SCHNORR_SIG"


# --- flags --------------------------------------------------------------------------------


def test_flags_read_and_write_cores_names():
    assert parse_flags("") == parse_flags("NONE") == Flags.NONE
    assert parse_flags("P2SH,WITNESS") == Flags.P2SH | Flags.WITNESS
    assert parse_flags(format_flags(STANDARD_FLAGS)) == STANDARD_FLAGS
    assert MANDATORY_FLAGS & STANDARD_FLAGS == MANDATORY_FLAGS
    assert STANDARD_FLAGS | Flags.SIGPUSHONLY == ALL_FLAGS  # policy checks push-only scriptSigs elsewhere
    with pytest.raises(ValueError):
        parse_flags("P2SH,NOPE")


# --- the transaction codec and CheckTransaction --------------------------------------------

SIMPLE = Tx(2, (TxIn(OutPoint(b"\x01" * 32, 0), b"\x51"),), (TxOut(1_000, b"\x51"),), 0)
WITNESSED = Tx(2, (TxIn(OutPoint(b"\x01" * 32, 0), b"", 0xFFFFFFFF, (b"\xaa", b"")),), (TxOut(1_000, b"\x51"),), 0)
_SIMPLE_BASE = SIMPLE.serialize()


def test_witness_serialization_uses_the_marker_and_the_txid_leaves_the_witness_out():
    extended = WITNESSED.serialize()
    assert extended[4:6] == b"\x00\x01" and parse_tx(extended) == WITNESSED
    assert WITNESSED.txid == hashlib.sha256(hashlib.sha256(WITNESSED.serialize(with_witness=False)).digest()).digest()
    assert WITNESSED.wtxid != WITNESSED.txid and SIMPLE.wtxid == SIMPLE.txid
    assert parse_tx(SIMPLE.serialize()) == SIMPLE


@pytest.mark.parametrize(
    "raw, why",
    [
        (SIMPLE.serialize() + b"\x00", "1 trailing bytes"),
        (SIMPLE.serialize()[:-1], "truncated"),
        (SIMPLE.serialize()[:4] + b"\xfd\x01\x00" + SIMPLE.serialize()[5:], "non-canonical CompactSize"),
        (WITNESSED.serialize()[:5] + b"\x03" + WITNESSED.serialize()[6:], "unknown transaction optional data"),
        (_SIMPLE_BASE[:4] + b"\x00\x01" + _SIMPLE_BASE[4:-4] + b"\x00" + _SIMPLE_BASE[-4:], "superfluous witness record"),
    ],
)
def test_a_malformed_transaction_does_not_decode(raw: bytes, why: str):
    with pytest.raises(TxError) as e:
        parse_tx(raw)
    assert e.value.reason == "tx-decode" and why in e.value.message


def _with(inputs: list[TxIn] | None = None, outputs: list[TxOut] | None = None) -> Tx:
    return Tx(2, tuple(SIMPLE.inputs if inputs is None else inputs), tuple(SIMPLE.outputs if outputs is None else outputs))


NULL = OutPoint(bytes(32), 0xFFFFFFFF)


@pytest.mark.parametrize(
    "tx, reason",
    [
        (_with(inputs=[]), "bad-txns-vin-empty"),
        (_with(outputs=[]), "bad-txns-vout-empty"),
        (_with(outputs=[TxOut(1, bytes(1_000_001))]), "bad-txns-oversize"),
        (_with(outputs=[TxOut(-1, b"")]), "bad-txns-vout-negative"),
        (_with(outputs=[TxOut(21_000_000 * 10**8 + 1, b"")]), "bad-txns-vout-toolarge"),
        (_with(outputs=[TxOut(21_000_000 * 10**8, b""), TxOut(1, b"")]), "bad-txns-txouttotal-toolarge"),
        (_with(inputs=[SIMPLE.inputs[0], SIMPLE.inputs[0]]), "bad-txns-inputs-duplicate"),
        (_with(inputs=[TxIn(NULL, b"\x51")]), "bad-cb-length"),
        (_with(inputs=[SIMPLE.inputs[0], TxIn(NULL, b"\x51\x51")]), "bad-txns-prevout-null"),
    ],
)
def test_check_transaction_gives_cores_reject_reasons(tx: Tx, reason: str):
    with pytest.raises(TxError) as e:
        check_transaction(tx)
    assert e.value.reason == reason


def test_a_coinbase_with_a_two_to_hundred_byte_script_passes_the_basic_checks():
    check_transaction(_with(inputs=[TxIn(NULL, b"\x51\x51")]))
    check_transaction(SIMPLE)


# --- the benchmark runs and checks itself -------------------------------------------------


def test_bvm_verify_bench_reports_its_figures():
    from bench import bvm

    r = bvm.run(txs=20)
    assert r["scenario"] == "bvm-verify" and r["txs"] == 40 and r["seconds"] > 0 and r["tx_per_s"] > 0
    assert set(r["runs"]) == {"p2wpkh", "p2tr_keypath"}
