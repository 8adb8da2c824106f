"""Runner for ethereum/tests GeneralStateTests at the Shanghai fork.

A fixture file holds filled state tests; every entry of a test's `post.Shanghai` list is one
`Case`: run one transaction in one block on top of `pre` with the `env` values, then compare
the post-state root (`hash`) and the hash of the logs (`logs`) with the fixture's. The format
and the execution rules are in /work/shared/vectors/ethereum/SOURCE.md and, upstream, in
ethereum/tests `docs/test_types/gstate_tests.rst`.

An executor is any callable `Case -> Outcome`. The runner owns the comparison, and with it
the secure Merkle-Patricia trie and the log hash. The executor owns execution and its rules:
it reports the post-state as every account that still exists, so EIP-161's removal of
touched empty accounts (and SELFDESTRUCT's deletions) are the executor's job, and
`state_root` hashes every account it is given. `reference_executor` runs stock py-evm and
exists to show that the runner itself is right; an engine under test brings its own
executor with the same signature.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TextIO, TypeAlias

import rlp
from eth.abc import ComputationAPI, SignedTransactionAPI
from eth.consensus.context import ConsensusContext
from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.exceptions import UnrecognizedTransactionType
from eth.vm.chain_context import ChainContext
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.blocks import ShanghaiBlockHeader
from eth.vm.forks.shanghai.state import ShanghaiState
from eth_hash.auto import keccak
from eth_keys.exceptions import BadSignature
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.exceptions import ValidationError
from rlp.exceptions import RLPException
from trie.hexary import HexaryTrie

FORK = "Shanghai"

# The chain id every GeneralStateTest is filled with (retesteth's default; EIP-155 signatures
# in the fixtures' txbytes use it).
STATE_TEST_CHAIN_ID = 1

# Base fee when a fixture's env has no `currentBaseFee`: geth's state-test runner
# (tests/state_test_util.go) defaults it to 0x0a for London and later.
DEFAULT_BASE_FEE_WEI = 0x0A

# keccak256(rlp([])): the `logs` value of a case that emits no log.
EMPTY_LOGS_HASH = keccak(rlp.encode([]))


class Account(NamedTuple):
    nonce: int
    balance_wei: int
    code: bytes
    storage: dict[int, int]


# 20-byte address -> account. Zero-valued storage slots may be present; they are not hashed.
Accounts: TypeAlias = dict[bytes, Account]
# (20-byte address, [32-byte topic, ...], data)
Log: TypeAlias = tuple[bytes, list[bytes], bytes]


@dataclass(frozen=True)
class Env:
    coinbase: bytes
    gas_limit: int
    number: int
    timestamp: int
    difficulty: int
    prev_randao: bytes  # `currentRandom`; the value PREVRANDAO (0x44) pushes
    base_fee_wei: int


@dataclass(frozen=True)
class Transaction:
    """The transaction of one case: the fixture's fields with data/gas/value already selected."""

    nonce: int
    gas_limit: int
    value_wei: int
    data: bytes
    to: bytes | None  # None: contract creation (the fixture's "to" is "")
    sender: bytes
    secret_key: bytes
    gas_price_wei: int | None  # legacy and type 1
    max_fee_per_gas_wei: int | None  # type 2
    max_priority_fee_per_gas_wei: int | None  # type 2
    access_list: list[tuple[bytes, list[int]]] | None  # types 1, 2 and 3
    max_fee_per_blob_gas_wei: int | None  # type 3 (EIP-4844), which Shanghai must reject
    blob_versioned_hashes: list[bytes] | None  # type 3

    @property
    def tx_type(self) -> int:
        if self.blob_versioned_hashes is not None:
            return 3
        if self.max_fee_per_gas_wei is not None:
            return 2
        return 0 if self.access_list is None else 1


@dataclass(frozen=True)
class Case:
    name: str  # "<test>[d,g,v]"
    path: Path
    env: Env
    pre: Accounts
    tx: Transaction
    txbytes: bytes  # the signed transaction as the filler encoded it
    expected_hash: bytes
    expected_logs_hash: bytes
    expect_exception: str | None


@dataclass(frozen=True)
class Outcome:
    accounts: Accounts  # every account that exists after the transaction
    logs: list[Log]
    rejected: str | None  # why the transaction is invalid; then nothing was applied


Executor: TypeAlias = Callable[[Case], Outcome]


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    detail: str


# --- Fixture loading --------------------------------------------------------------------


def _int(text: str) -> int:
    # retesteth writes a number too wide for 256 bits as "0x:bigint 0x<hex>".
    return int(text.removeprefix("0x:bigint "), 16)


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def _accounts(raw: Mapping[str, Any]) -> Accounts:
    return {
        _bytes(address): Account(
            nonce=_int(account["nonce"]),
            balance_wei=_int(account["balance"]),
            code=_bytes(account["code"]),
            storage={_int(slot): _int(value) for slot, value in account["storage"].items()},
        )
        for address, account in raw.items()
    }


def _env(raw: Mapping[str, Any]) -> Env:
    difficulty = _int(raw["currentDifficulty"])
    random = raw.get("currentRandom")
    base_fee = raw.get("currentBaseFee")
    return Env(
        coinbase=_bytes(raw["currentCoinbase"]),
        gas_limit=_int(raw["currentGasLimit"]),
        number=_int(raw["currentNumber"]),
        timestamp=_int(raw["currentTimestamp"]),
        difficulty=difficulty,
        prev_randao=_bytes(random) if random is not None else difficulty.to_bytes(32, "big"),
        base_fee_wei=_int(base_fee) if base_fee is not None else DEFAULT_BASE_FEE_WEI,
    )


def _transaction(raw: Mapping[str, Any], data: int, gas: int, value: int) -> Transaction:
    access_list = None
    if "accessLists" in raw:
        # A filler may leave one data index's list out (null); that is an empty list.
        entries = raw["accessLists"][data] or []
        access_list = [(_bytes(e["address"]), [_int(key) for key in e["storageKeys"]]) for e in entries]
    to = raw["to"]
    return Transaction(
        nonce=_int(raw["nonce"]),
        gas_limit=_int(raw["gasLimit"][gas]),
        value_wei=_int(raw["value"][value]),
        data=_bytes(raw["data"][data]),
        to=_bytes(to) if to else None,
        sender=_bytes(raw["sender"]),
        secret_key=_bytes(raw["secretKey"]),
        gas_price_wei=_int(raw["gasPrice"]) if "gasPrice" in raw else None,
        max_fee_per_gas_wei=_int(raw["maxFeePerGas"]) if "maxFeePerGas" in raw else None,
        max_priority_fee_per_gas_wei=_int(raw["maxPriorityFeePerGas"]) if "maxPriorityFeePerGas" in raw else None,
        access_list=access_list,
        max_fee_per_blob_gas_wei=_int(raw["maxFeePerBlobGas"]) if "maxFeePerBlobGas" in raw else None,
        blob_versioned_hashes=[_bytes(h) for h in raw["blobVersionedHashes"]] if "blobVersionedHashes" in raw else None,
    )


def load_cases(path: Path | str) -> list[Case]:
    """Every `post.Shanghai` entry of every test in one fixture file, in file order."""
    path = Path(path)
    with path.open("rb") as f:
        fixture = json.load(f)
    cases = []
    for test_name, test in fixture.items():
        env = _env(test["env"])
        pre = _accounts(test["pre"])
        for entry in test["post"].get(FORK, []):
            d, g, v = (entry["indexes"][k] for k in ("data", "gas", "value"))
            cases.append(
                Case(
                    name=f"{test_name}[{d},{g},{v}]",
                    path=path,
                    env=env,
                    pre=pre,
                    tx=_transaction(test["transaction"], d, g, v),
                    txbytes=_bytes(entry["txbytes"]),
                    expected_hash=_bytes(entry["hash"]),
                    expected_logs_hash=_bytes(entry["logs"]),
                    expect_exception=entry.get("expectException"),
                )
            )
    return cases


# --- Hashes -----------------------------------------------------------------------------


def storage_root(storage: Mapping[int, int]) -> bytes:
    """Root of an account's storage trie: keccak(slot as 32 bytes) -> rlp(value), zeros left out."""
    trie = HexaryTrie({})
    with trie.squash_changes() as batch:
        for slot, value in storage.items():
            if value:
                batch[keccak(slot.to_bytes(32, "big"))] = rlp.encode(value)
    return bytes(trie.root_hash)


def state_root(accounts: Mapping[bytes, Account]) -> bytes:
    """Root of the secure account trie: keccak(address) -> rlp([nonce, balance, storageRoot, codeHash]).

    Every account given is hashed, empty or not: leaving out the accounts EIP-161 deletes is
    the executor's job.
    """
    trie = HexaryTrie({})
    with trie.squash_changes() as batch:
        for address, account in accounts.items():
            batch[keccak(address)] = rlp.encode(
                [account.nonce, account.balance_wei, storage_root(account.storage), keccak(account.code)]
            )
    return bytes(trie.root_hash)


def logs_hash(logs: Sequence[Log]) -> bytes:
    """keccak256(rlp([[address, [topic, ...], data], ...])), the fixtures' `logs` value."""
    return keccak(rlp.encode([[address, list(topics), data] for address, topics, data in logs]))


# --- Running ----------------------------------------------------------------------------


def run_case(case: Case, executor: Executor) -> CaseResult:
    try:
        outcome = executor(case)
    except Exception as exc:  # one broken case must not stop the run
        return CaseResult(case.name, False, f"executor raised {type(exc).__name__}: {exc}")
    problems = []
    if case.expect_exception is not None and outcome.rejected is None:
        problems.append(f"expected the transaction to be rejected ({case.expect_exception}) but it was applied")
    if case.expect_exception is None and outcome.rejected is not None:
        problems.append(f"transaction rejected: {outcome.rejected}")
    root = state_root(outcome.accounts)
    if root != case.expected_hash:
        problems.append(f"state root 0x{root.hex()} != expected 0x{case.expected_hash.hex()}")
    logs = logs_hash(outcome.logs)
    if logs != case.expected_logs_hash:
        problems.append(f"logs hash 0x{logs.hex()} != expected 0x{case.expected_logs_hash.hex()} ({len(outcome.logs)} logs)")
    return CaseResult(case.name, not problems, "; ".join(problems))


def run_files(paths: Iterable[Path | str], executor: Executor) -> list[CaseResult]:
    return [run_case(case, executor) for path in paths for case in load_cases(path)]


def print_report(results: Iterable[CaseResult], out: TextIO | None = None) -> int:
    """One line per case, then `N passed, M failed`; returns M."""
    out = out if out is not None else sys.stdout
    passed = failed = 0
    for result in results:
        if result.passed:
            passed += 1
            print(f"PASS {result.name}", file=out)
        else:
            failed += 1
            print(f"FAIL {result.name}: {result.detail}", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return failed


# --- Reference executor: stock py-evm ---------------------------------------------------

# What makes py-evm refuse a transaction before applying it: malformed RLP, an unknown or
# not-yet-active type byte, a bad signature, and eth_utils.ValidationError for the rest
# (intrinsic gas, nonce, balance, fee cap below the base fee, block gas limit).
_REJECTIONS = (ValidationError, RLPException, UnrecognizedTransactionType, BadSignature)


class ReferenceExecutorError(RuntimeError):
    """The reference executor disagrees with itself: a bug here, not in the case."""


class _StorageRecordingState(ShanghaiState):
    """ShanghaiState that remembers which slots were written, because py-evm's account
    database can read a slot but cannot list an account's storage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written_slots: set[tuple[bytes, int]] = set()

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        self.written_slots.add((bytes(address), slot))
        super().set_storage(address, slot, value)


def _state_test_block_hash(number: int) -> Hash32:
    # BLOCKHASH in state tests: keccak256 of the decimal block number (geth's vmTestBlockHash).
    return Hash32(keccak(str(number).encode()))


def _header(env: Env) -> ShanghaiBlockHeader:
    return ShanghaiBlockHeader(
        difficulty=0,  # post-merge; PREVRANDAO reads mix_hash
        block_number=BlockNumber(env.number),
        gas_limit=env.gas_limit,
        timestamp=env.timestamp,
        coinbase=Address(env.coinbase),
        mix_hash=Hash32(env.prev_randao),
        base_fee_per_gas=env.base_fee_wei,
    )


def _touched_addresses(computation: ComputationAPI) -> Iterable[bytes]:
    """Every address a message in the call tree was sent from, to or created at, and every
    SELFDESTRUCT beneficiary. These, with the pre-state's addresses, the sender, `to` and the
    coinbase, are all the accounts one transaction can create or change."""
    msg = computation.msg
    yield msg.sender
    yield msg.storage_address  # the callee, or the new contract of a CREATE/CREATE2
    if msg.to != CREATE_CONTRACT_ADDRESS:
        yield msg.to
        yield msg.code_address
    yield from computation.get_self_destruct_beneficiaries()
    for child in computation.children:
        yield from _touched_addresses(child)


def _read_account(state: _StorageRecordingState, address: bytes, slots: Iterable[int]) -> Account:
    addr = Address(address)
    return Account(
        nonce=state.get_nonce(addr),
        balance_wei=state.get_balance(addr),
        code=bytes(state.get_code(addr)),
        storage={slot: value for slot in slots if (value := state.get_storage(addr, slot))},
    )


def reference_executor(case: Case) -> Outcome:
    """Run the case on stock py-evm's ShanghaiVM over an in-memory AtomicDB.

    No block is finalised, so there is no block reward; the fees (priority fee to the
    coinbase, base fee burned) are py-evm's London rules. The transaction is decoded from
    `txbytes` with the Shanghai transaction builder, so typed and legacy encodings are both
    py-evm's reading. Stock py-evm 0.12.1b1 lacks three Shanghai-era rules and fails the
    fixtures that test them: EIP-3607 (a sender with code is rejected), two EIP-1559 validity
    checks (tip above the fee cap; balance against gasLimit x maxFeePerGas + value), and
    EIP-7610 (creating at an address with storage collides). tests/data/ethereum/SOURCE.md
    lists those fixtures; they are not in the sample.
    """
    db = AtomicDB()
    header = _header(case.env)
    chain_context = ChainContext(STATE_TEST_CHAIN_ID)
    vm = ShanghaiVM(header, ChainDB(db), chain_context, ConsensusContext(db))
    prev_hashes = [_state_test_block_hash(n) for n in range(case.env.number - 1, max(case.env.number - 257, -1), -1)]
    execution_context = ShanghaiVM.create_execution_context(header, prev_hashes, chain_context)
    state = _StorageRecordingState(db, execution_context, BLANK_ROOT_HASH)

    for address, account in case.pre.items():
        addr = Address(address)
        state.set_nonce(addr, account.nonce)
        state.set_balance(addr, account.balance_wei)
        state.set_code(addr, account.code)
        for slot, value in account.storage.items():
            state.set_storage(addr, slot, value)
    state.persist()

    # The post-state's accounts are read back from py-evm at the end, over a candidate set of
    # addresses: the pre-state's, the coinbase, the sender and `to` (from the decoded tx), and
    # every address in the computation tree (`_touched_addresses`). A candidate is reported iff
    # py-evm says it exists, so EIP-161 and SELFDESTRUCT deletions are py-evm's. Each account's
    # storage is read at its pre-state slots plus every slot SSTORE wrote
    # (`_StorageRecordingState`). At the end the root of what was read must equal py-evm's own
    # state root, which proves that nothing was missed.
    candidates: set[bytes] = set(case.pre) | {case.env.coinbase}
    logs: list[Log] = []
    rejected = None
    state.lock_changes()  # a transaction starts: clears py-evm's per-transaction warm sets
    snapshot = state.snapshot()
    try:
        tx: SignedTransactionAPI = ShanghaiVM.get_transaction_builder().decode(case.txbytes)
        vm.validate_transaction_against_header(header, tx)
        candidates.add(tx.sender)
        if tx.to != CREATE_CONTRACT_ADDRESS:
            candidates.add(tx.to)
        with warnings.catch_warnings():
            # py-evm warns on every SELFDESTRUCT that EIP-6780 will change it; Shanghai is before that.
            warnings.filterwarnings("ignore", "SELFDESTRUCT opcode", DeprecationWarning)
            computation = state.apply_transaction(tx)
    except _REJECTIONS as exc:
        state.revert(snapshot)
        rejected = f"{type(exc).__name__}: {exc}"
    else:
        candidates.update(_touched_addresses(computation))
        logs = [
            (bytes(address), [topic.to_bytes(32, "big") for topic in topics], bytes(data))
            for address, topics, data in computation.get_log_entries()
        ]

    slots: dict[bytes, set[int]] = {address: set(account.storage) for address, account in case.pre.items()}
    for address, slot in state.written_slots:
        slots.setdefault(address, set()).add(slot)
    accounts = {
        address: _read_account(state, address, slots.get(address, ()))
        for address in candidates
        if state.account_exists(Address(address))
    }
    if state_root(accounts) != state.make_state_root():
        raise ReferenceExecutorError(f"{case.name}: accounts read back do not hash to py-evm's state root")
    return Outcome(accounts=accounts, logs=logs, rejected=rejected)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m engines.evm.statetest FIXTURE.json ...`: run fixtures on the reference executor."""
    paths = sys.argv[1:] if argv is None else argv
    return 1 if print_report(run_files(paths, reference_executor)) else 0


if __name__ == "__main__":
    sys.exit(main())
