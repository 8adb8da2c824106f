"""Ethereum GeneralStateTests through our EVM engine and its shared-state adapter (issue 4's conformance).

`shared_state_executor` runs one state-test case the way `engines/evm/statetest.py` expects:
the pre-state is written into a fresh chain `State` through `SharedAccounts` (so balances live in
the ledger, as base units and dust of legacy identities), the transaction is decoded and checked by
the engine's own code (`EvmEngine.decode`, `check_transaction`), and py-evm's Shanghai interpreter
runs it over the adapter. Two things follow Ethereum instead of the devnet, because the fixtures
expect them: the base fee is burned and the coinbase gets only the tip (the devnet pays both to its
fee collector), and the SPEC §5 precompiles and ERC-20 views are not installed (a state test may
call any address). Unprotected legacy transactions are accepted, as on Ethereum.
"""

from __future__ import annotations

from typing import Any, cast

from eth.exceptions import PyEVMError
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth.vm.forks.shanghai.state import ShanghaiState, ShanghaiTransactionExecutor
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from chain.errors import AdmissionError
from chain.ledger import FEE_COLLECTOR
from chain.state import State, apply_diff

from .accounts import SharedAccounts, account_key
from .engine import EvmEngine, EvmTx, check_transaction
from .statetest import STATE_TEST_CHAIN_ID, Account, Case, Log, Outcome


class EthereumRulesState(ShanghaiState):
    account_db_class = SharedAccounts
    computation_class = ShanghaiComputation
    transaction_executor_class = ShanghaiTransactionExecutor


def _block_hash(number: int) -> Hash32:
    return Hash32(keccak(str(number).encode()))  # state tests' BLOCKHASH (geth's vmTestBlockHash)


def shared_state_executor(case: Case) -> Outcome:
    entries: dict[bytes, bytes] = {}
    setup = State(entries)
    pre = SharedAccounts(setup)
    for address, account in case.pre.items():
        addr = Address(address)
        pre.touch_account(addr)
        pre.set_balance(addr, account.balance_wei)
        pre.set_nonce(addr, account.nonce)
        pre.set_code(addr, account.code)
        for slot, value in account.storage.items():
            pre.set_storage(addr, slot, value)
    apply_diff(entries, setup.block_diff())

    state = State(entries)
    env = case.env
    context = ExecutionContext(
        coinbase=Address(env.coinbase),
        timestamp=env.timestamp,
        block_number=BlockNumber(env.number),
        difficulty=0,
        mix_hash=Hash32(env.prev_randao),
        gas_limit=env.gas_limit,
        prev_hashes=[_block_hash(n) for n in range(env.number - 1, max(env.number - 257, -1), -1)],
        chain_id=STATE_TEST_CHAIN_ID,
        base_fee_per_gas=env.base_fee_wei,
        excess_blob_gas=None,
    )
    evm = EthereumRulesState(cast(Any, state), context, Hash32(bytes(32)))
    accounts: SharedAccounts = evm._account_db  # type: ignore[assignment]
    engine = EvmEngine(FEE_COLLECTOR)
    snapshot = state.snapshot()
    try:
        tx = engine.decode(b"\x10" + case.txbytes)
        etx: EvmTx = tx.body  # type: ignore[assignment]
        check_transaction(etx, accounts, STATE_TEST_CHAIN_ID, env.base_fee_wei, env.gas_limit, exact_nonce=True)
        evm.lock_changes()
        computation = evm.apply_transaction(etx.tx)
    except (AdmissionError, ValidationError, PyEVMError) as e:
        state.revert(snapshot)
        return Outcome(accounts=_read(state, case, set(), set()), logs=[], rejected=f"{type(e).__name__}: {e}")
    state.commit(snapshot)
    logs: list[Log] = [
        (bytes(address), [topic.to_bytes(32, "big") for topic in topics], bytes(data))
        for address, topics, data in computation.get_log_entries()
    ]
    candidates = accounts.touched | {etx.sender, Address(env.coinbase)}
    return Outcome(accounts=_read(state, case, candidates, accounts.slots_written), logs=logs, rejected=None)


def _read(state: State, case: Case, candidates: set[bytes], slots_written: set[tuple[bytes, int]]) -> dict[bytes, Account]:
    """Every account that exists after the transaction, with its storage at every slot it ever had."""
    reader = SharedAccounts(state)
    slots: dict[bytes, set[int]] = {address: set(account.storage) for address, account in case.pre.items()}
    for address, slot in slots_written:
        slots.setdefault(address, set()).add(slot)
    out: dict[bytes, Account] = {}
    for address in set(case.pre) | candidates:
        if state.get(account_key(address)) is None:
            continue  # never created, or deleted (EIP-161, SELFDESTRUCT)
        addr = Address(address)
        storage = {slot: value for slot in slots.get(address, ()) if (value := reader.get_storage(addr, slot))}
        out[address] = Account(reader.get_nonce(addr), reader.get_balance(addr), reader.get_code(addr), storage)
    return out
