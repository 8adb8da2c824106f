"""The GeneralStateTests harness (engines/evm/statetest.py), checked on stock py-evm.

Every Shanghai case of the ethereum/tests sample in tests/data/ethereum/ and of the shared
sample in /work/shared/vectors/ethereum/ must pass on the reference executor; that shows the
harness (fixture reading, secure trie, log hash, verdicts) is right. The remaining tests show
that the harness notices a wrong post-state, wrong logs and a wrong verdict.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from engines.evm.statetest import (
    EMPTY_LOGS_HASH,
    Case,
    Outcome,
    load_cases,
    logs_hash,
    print_report,
    reference_executor,
    run_case,
    run_files,
    state_root,
)

SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "ethereum"
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "ethereum"
SAMPLE = sorted(SAMPLE_DIR.glob("*.json"))
SHARED = sorted(SHARED_DIR.glob("*.json"))


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=f"sample/{p.stem}") for p in SAMPLE] + [pytest.param(p, id=f"shared/{p.stem}") for p in SHARED],
)
def test_reference_executor_passes_every_shanghai_case(path: Path) -> None:
    cases = load_cases(path)
    assert cases, f"{path.name} has no post.Shanghai entry"
    failures = [f"{r.name}: {r.detail}" for r in (run_case(case, reference_executor) for case in cases) if not r.passed]
    assert not failures, "\n".join(failures)


def test_the_samples_are_broad() -> None:
    assert len(SHARED) == 25
    cases = [case for path in SAMPLE for case in load_cases(path)]
    assert len(cases) >= 300
    assert len({path.name.split("__")[0] for path in SAMPLE}) >= 20
    assert any(case.expect_exception for case in cases)
    assert {case.tx.tx_type for case in cases} == {0, 1, 2, 3}
    assert any(case.tx.to is None for case in cases)
    assert any(case.expected_logs_hash != EMPTY_LOGS_HASH for case in cases)


def test_case_names_and_selected_transaction_fields() -> None:
    [first, second] = load_cases(SHARED_DIR / "stRevertTest__RevertOpcodeInInit.json")
    assert (first.name, second.name) == ("RevertOpcodeInInit[0,0,0]", "RevertOpcodeInInit[0,0,1]")
    assert first.tx.to is None and first.tx.value_wei != second.tx.value_wei
    [invalid] = load_cases(SHARED_DIR / "stExample__invalidTr.json")
    assert invalid.expect_exception == "TR_IntrinsicGas"


def test_a_rejected_transaction_leaves_the_pre_state_root() -> None:
    [case] = load_cases(SHARED_DIR / "stExample__invalidTr.json")
    assert state_root(case.pre) == case.expected_hash
    assert logs_hash([]) == EMPTY_LOGS_HASH == case.expected_logs_hash


def _case(name: str) -> Case:
    return load_cases(SHARED_DIR / name)[0]


def test_a_wrong_post_state_fails() -> None:
    case = _case("stExample__add11.json")

    def off_by_one_wei(c: Case) -> Outcome:
        outcome = reference_executor(c)
        coinbase = outcome.accounts[c.env.coinbase]
        accounts = outcome.accounts | {c.env.coinbase: coinbase._replace(balance_wei=coinbase.balance_wei + 1)}
        return dataclasses.replace(outcome, accounts=accounts)

    result = run_case(case, off_by_one_wei)
    assert not result.passed and "state root" in result.detail


def _without_logs(case: Case) -> Outcome:
    return dataclasses.replace(reference_executor(case), logs=[])


def test_missing_logs_fail() -> None:
    result = run_case(_case("stLogTests__log1_Caller.json"), _without_logs)
    assert not result.passed and "logs hash" in result.detail


def test_a_wrong_verdict_fails() -> None:
    invalid = _case("stExample__invalidTr.json")
    applied = run_case(invalid, lambda c: dataclasses.replace(reference_executor(c), rejected=None))
    assert not applied.passed and "expected the transaction to be rejected" in applied.detail
    valid = _case("stExample__add11.json")
    refused = run_case(valid, lambda c: dataclasses.replace(reference_executor(c), rejected="nope"))
    assert not refused.passed and "transaction rejected: nope" in refused.detail


def test_an_executor_that_raises_fails_its_case_only() -> None:
    def broken(c: Case) -> Outcome:
        raise RuntimeError("boom")

    results = run_files([SHARED_DIR / "stEIP2930__coinbaseT2.json"], broken)
    assert [r.passed for r in results] == [False, False]
    assert results[0].detail == "executor raised RuntimeError: boom"


def test_report_lines_and_summary() -> None:
    results = run_files([SHARED_DIR / "stExample__add11.json"], reference_executor)
    results += run_files([SHARED_DIR / "stLogTests__log1_Caller.json"], _without_logs)
    out = io.StringIO()
    assert print_report(results, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "PASS add11[0,0,0]"
    assert lines[1].startswith("FAIL log1_Caller[0,0,0]: logs hash 0x")
    assert lines[-1] == "1 passed, 1 failed"
