"""Ethereum's GeneralStateTests (Shanghai) through our EVM engine and its shared-state adapter.

The fixtures are loaded from files — shared/vectors/ethereum (a first sample) and tests/data/ethereum
(a broad sample of ethereum/tests v13.3, see its SOURCE.md), plus tests/data/ethereum-beyond-py-evm (19
v13.3 cases stock py-evm fails; see its README) — and each case's post-state root and
logs hash must equal Ethereum's, computed from the ledger-backed accounts the adapter reads back.

tests/data/ethereum-beyond-u64 holds the v13.3 fixtures whose pre-state gives an account more wei
than the ledger can hold (SPEC §3: balances are u64 base units, at most 2^64 − 1 × 10^9 wei): the
engine must refuse those, and refuse them for exactly that reason.
"""

from pathlib import Path

import pytest

from chain.hashing import U64_MAX
from chain.ledger import WEI_PER_BASE
from engines.evm.conformance import shared_state_executor
from engines.evm.statetest import load_cases, run_case

SHARED = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "ethereum"
LOCAL = Path(__file__).parent / "data" / "ethereum"
BEYOND = Path(__file__).parent / "data" / "ethereum-beyond-u64"
BEYOND_PY_EVM = Path(__file__).parent / "data" / "ethereum-beyond-py-evm"  # EIP-3607, EIP-1559 validity, EIP-7610
FIXTURES = sorted(SHARED.glob("*.json")) + sorted(LOCAL.glob("*.json")) + sorted(BEYOND_PY_EVM.glob("*.json"))
MAX_WEI = (U64_MAX + 1) * WEI_PER_BASE - 1


def test_the_fixture_samples_are_broad():
    cases = [c for p in FIXTURES for c in load_cases(p)]
    assert len(cases) >= 300
    assert len({p.name.split("__")[0] for p in FIXTURES}) >= 20


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_every_shanghai_case_passes(fixture):
    failures = [r for r in (run_case(c, shared_state_executor) for c in load_cases(fixture)) if not r.passed]
    assert not failures, "; ".join(f"{r.name}: {r.detail}" for r in failures)


@pytest.mark.parametrize("fixture", sorted(BEYOND.glob("*.json")), ids=lambda p: p.name)
def test_pre_states_beyond_the_u64_ledger_are_refused_for_that_reason(fixture):
    for case in load_cases(fixture):
        assert max(a.balance_wei for a in case.pre.values()) > MAX_WEI
        with pytest.raises(Exception, match="u64"):
            shared_state_executor(case)
