"""eth_call and eth_estimateGas: a transaction run by the EVM engine over a throw-away overlay of the committed state.

The overlay (`State` over the SQL entries) is reverted after every run and never written back.
The run is the engine's own transaction processing (py-evm's executor with the engine's account
database), as the next block would see it: block number head + 1, the engine's coinbase, the recent
block hashes. A call that names no fee is free, as in geth: the base fee is zero for it, so neither
the sender's balance nor BASEFEE gets in the way; a call that names a fee pays it from the sender's
balance in the overlay, and the base fee is the chain's.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import ComputationAPI
from eth.exceptions import Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from chain.state import State
from chain.store.sql import SqlEntries
from engines.evm.accounts import SharedAccounts
from engines.evm.engine import BASE_FEE_WEI, BLOCK_GAS_LIMIT, EvmEngine, NvmExecutor, failure_words
from rpc.vmcall import CALL_TIMEOUT_S, CallTimeout, ReadOnce, next_block_context, timed_computation

from .codec import EXECUTION_REVERTED, INVALID_INPUT, RpcError, data, invalid, parse_address, parse_data, parse_quantity

CALL_STIPEND = 2300  # yellow paper G_callstipend: estimateGas's first guess leaves room for it
MAX_CALL_DATA = 128 * 1024

_builder: Any = ShanghaiVM.get_transaction_builder()


@dataclass
class CallArgs:
    """eth_call's transaction object. `max_fee_per_gas` None = a free call."""

    sender: bytes = bytes(20)
    to: bytes = b""  # b"" creates a contract
    gas: int | None = None
    value: int = 0
    data: bytes = b""
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int = 0
    access_list: list[tuple[bytes, list[int]]] = field(default_factory=list)


def parse_call_args(obj: Any) -> CallArgs:
    if not isinstance(obj, dict):
        raise invalid("the call must be a transaction object")
    args = CallArgs()
    if obj.get("from") is not None:
        args.sender = parse_address(obj["from"], "from")
    if obj.get("to") is not None:
        args.to = parse_address(obj["to"], "to")
    if obj.get("gas") is not None:
        args.gas = parse_quantity(obj["gas"], "gas", 2**64 - 1)
    if obj.get("value") is not None:
        args.value = parse_quantity(obj["value"], "value")
    inputs = {k: parse_data(obj[k], k, max_length=MAX_CALL_DATA) for k in ("input", "data") if obj.get(k) is not None}
    if len(set(inputs.values())) > 1:
        raise invalid('"input" and "data" are both given and differ')
    args.data = next(iter(inputs.values()), b"")
    gas_price = obj.get("gasPrice")
    max_fee, tip = obj.get("maxFeePerGas"), obj.get("maxPriorityFeePerGas")
    if gas_price is not None and (max_fee is not None or tip is not None):
        raise invalid("give either gasPrice or maxFeePerGas / maxPriorityFeePerGas, not both")
    if gas_price is not None:
        price = parse_quantity(gas_price, "gasPrice")
        args.max_fee_per_gas, args.max_priority_fee_per_gas = price, price
    elif max_fee is not None or tip is not None:
        args.max_priority_fee_per_gas = parse_quantity(tip, "maxPriorityFeePerGas") if tip is not None else 0
        args.max_fee_per_gas = (
            parse_quantity(max_fee, "maxFeePerGas") if max_fee is not None else BASE_FEE_WEI + args.max_priority_fee_per_gas
        )
        if args.max_priority_fee_per_gas > args.max_fee_per_gas:
            raise invalid("maxPriorityFeePerGas is above maxFeePerGas")
    if args.max_fee_per_gas == 0:
        args.max_fee_per_gas = None  # a zero price is a free call
    access_list = obj.get("accessList")
    if access_list is not None:
        if not isinstance(access_list, list) or not all(isinstance(a, dict) for a in access_list):
            raise invalid("accessList must be a list of {address, storageKeys}")
        args.access_list = [
            (
                parse_address(a.get("address"), "accessList address"),
                [int.from_bytes(parse_data(k, "storage key", 32), "big") for k in a.get("storageKeys") or []],
            )
            for a in access_list
        ]
    return args


def engine_with(engine: EvmEngine, computation: type[Any], name: str, direct: bool | None = None) -> EvmEngine:
    """A copy of the engine whose EVM state runs `computation`; the engine itself is untouched."""
    base_state = engine.state_class
    copied = copy.copy(engine)
    if direct is not None:
        copied.direct = direct
    copied.state_class = type(f"{name}{base_state.__name__}", (base_state,), {"computation_class": computation})
    return copied


def timed_engine(engine: EvmEngine, deadline: float) -> EvmEngine:
    """The engine with a clock in its opcode table: past `deadline` a run stops with CallTimeout."""
    return engine_with(engine, timed_computation(engine.state_class.computation_class, deadline), "Timed")


@dataclass
class Run:
    computation: ComputationAPI | None
    gas_used: int = 0  # after refunds, as a receipt reports it
    refund: int = 0
    refused: str | None = None  # py-evm's validation refused the transaction before it ran
    accessed: frozenset[object] = frozenset()  # addresses and (address, slot)s it touched (SharedAccounts.accessed)
    precompiles: frozenset[bytes] = frozenset()

    @property
    def ok(self) -> bool:
        return self.computation is not None and not self.computation.is_error


class Simulator:
    def __init__(self, engine: EvmEngine) -> None:
        self.engine = engine
        self.deadline = time.monotonic() + CALL_TIMEOUT_S
        entries = ReadOnce(SqlEntries())
        self.state = State(entries)
        self.ctx = next_block_context(entries)
        self.chain_id = self.ctx.chain_id

    def accounts(self) -> SharedAccounts:
        return SharedAccounts(self.state)

    def intrinsic_gas(self, args: CallArgs) -> int:
        return int(self._unsigned(args, 0, BLOCK_GAS_LIMIT).intrinsic_gas)

    def _unsigned(self, args: CallArgs, nonce: int, gas: int) -> Any:
        max_fee = args.max_fee_per_gas or 0
        return _builder.new_unsigned_dynamic_fee_transaction(
            self.chain_id,
            nonce,
            args.max_priority_fee_per_gas if max_fee else 0,
            max_fee,
            gas,
            Address(args.to),
            args.value,
            args.data,
            [(Address(a), tuple(slots)) for a, slots in args.access_list],
        )

    def run(self, args: CallArgs, gas: int) -> Run:
        snap = self.state.snapshot()
        try:
            evm = self.engine.evm_state(self.state, self.ctx)
            if args.max_fee_per_gas is None:
                c = evm.execution_context
                evm.execution_context = ExecutionContext(
                    c.coinbase, c.timestamp, c.block_number, c.difficulty, c.mix_hash, c.gas_limit, c.prev_hashes, c.chain_id, 0
                )
            base: Any = evm.computation_class
            evm.computation_class = timed_computation(base, self.deadline)
            evm.lock_changes()
            nonce = evm.get_nonce(Address(args.sender))  # a call never fails on its nonce
            tx: Any = SpoofTransaction(self._unsigned(args, nonce, gas), from_=Address(args.sender))
            try:
                computation = evm.apply_transaction(tx)
            except ValidationError as e:
                return Run(None, refused=refusal_words(e))
            except CallTimeout:
                raise RpcError(INVALID_INPUT, f"execution aborted (timeout = {CALL_TIMEOUT_S:g}s)") from None
            remaining = computation.get_gas_remaining()
            refund = NvmExecutor.calculate_gas_refund(computation, gas - remaining)
            touched = frozenset(evm._account_db.accessed)
            precompiles = frozenset(base._precompiles)
            return Run(computation, gas - remaining - refund, computation.get_gas_refund(), None, touched, precompiles)
        finally:
            self.state.revert(snap)

    def call(self, args: CallArgs) -> bytes:
        gas = min(args.gas if args.gas is not None else BLOCK_GAS_LIMIT, BLOCK_GAS_LIMIT)
        self._check_intrinsic(args, gas)
        result = self.run(args, gas)
        raise_if_failed(result)
        assert result.computation is not None
        return bytes(result.computation.output)

    def access_list(self, args: CallArgs) -> tuple[AccessList, Run]:
        """geth's eth_createAccessList: run the call with the list found so far until it finds no more — every
        address and slot it touched but the sender, the recipient, the coinbase and the precompiles, which a
        transaction warms anyway (each still listed with the slots of it that were read or written)."""
        gas = min(args.gas if args.gas is not None else BLOCK_GAS_LIMIT, BLOCK_GAS_LIMIT)
        self._check_intrinsic(args, gas)
        given = [(bytes(a), list(slots)) for a, slots in args.access_list]
        for _ in range(MAX_ACCESS_LIST_ROUNDS):
            args.access_list = given
            result = self.run(args, gas)
            if result.refused is not None:
                raise RpcError(INVALID_INPUT, result.refused)
            sender = Address(args.sender)
            created = b"" if args.to else generate_contract_address(sender, self.accounts().get_nonce(sender))
            warm_anyway = {args.sender, args.to or created, bytes(self.engine.coinbase), *result.precompiles}
            found = _access_list(result.accessed, warm_anyway)
            if found == given:
                break
            given = found
        return given, result

    def estimate_gas(self, args: CallArgs) -> int:
        """The least gas with which the transaction does not fail, by binary search (as geth's estimator)."""
        intrinsic = self.intrinsic_gas(args)
        hi = min(args.gas if args.gas is not None else BLOCK_GAS_LIMIT, BLOCK_GAS_LIMIT)
        if args.max_fee_per_gas is not None:
            funds = self.accounts().get_balance(Address(args.sender)) - args.value
            if funds < 0:
                raise RpcError(INVALID_INPUT, "insufficient funds for transfer")
            hi = min(hi, funds // args.max_fee_per_gas)
        self._check_intrinsic(args, hi)
        if args.to and not args.data and not self.accounts().get_code(Address(args.to)):
            plain = self.run(args, intrinsic)  # a transfer to an account without code
            if plain.ok:
                return intrinsic
        first = self.run(args, hi)
        raise_if_failed(first)
        lo = max(intrinsic, first.gas_used) - 1
        optimistic = (first.gas_used + first.refund + CALL_STIPEND) * 64 // 63
        if lo < optimistic < hi:
            if self.run(args, optimistic).ok:
                hi = optimistic
            else:
                lo = optimistic
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.run(args, mid).ok:
                hi = mid
            else:
                lo = mid
        return hi

    def _check_intrinsic(self, args: CallArgs, gas: int) -> None:
        intrinsic = self.intrinsic_gas(args)
        if gas < intrinsic:
            raise RpcError(INVALID_INPUT, f"intrinsic gas too low: gas {gas}, minimum needed {intrinsic}")


AccessList = list[tuple[bytes, list[int]]]  # (address, slots), EIP-2930's shape
MAX_ACCESS_LIST_ROUNDS = 10  # geth stops when the list no longer grows; a list this long to settle is not settling


def _access_list(accessed: frozenset[object], warm_anyway: set[Any]) -> AccessList:
    slots: dict[bytes, list[int]] = {}
    for item in accessed:
        if isinstance(item, tuple):
            slots.setdefault(bytes(item[0]), []).append(item[1])
        elif bytes(item) not in warm_anyway:  # type: ignore[call-overload]
            slots.setdefault(bytes(item), [])  # type: ignore[call-overload]
    return [(address, sorted(found)) for address, found in sorted(slots.items())]


def refusal_words(e: ValidationError) -> str:
    """py-evm's refusal of a call's transaction, in geth's words where it has them."""
    text = str(e)
    if "enough balance" in text or "cannot afford" in text:
        found = re.search(r"has (\d+), needs (\d+)", text) or re.search(r"gas (\d+) with account balance (\d+)", text)
        if found and "cannot afford" in text:
            return f"insufficient funds for gas * price + value: have {found[2]} want {found[1]}"
        if found:
            return f"insufficient funds for gas * price + value: have {found[1]} want {found[2]}"
        return "insufficient funds for gas * price + value"
    if "lower than block's base fee" in text:
        return "max fee per gas less than block base fee"
    return text


def failure_text(result: Run) -> str | None:
    """What a failed run's error says (as raise_if_failed words it); None when it succeeded."""
    try:
        raise_if_failed(result)
    except RpcError as e:
        return e.message
    return None


def raise_if_failed(result: Run) -> None:
    if result.refused is not None:
        raise RpcError(INVALID_INPUT, result.refused)
    computation = result.computation
    assert computation is not None
    if not computation.is_error:
        return
    err, output = computation.error, bytes(computation.output)
    if isinstance(err, Revert):
        raise RpcError(EXECUTION_REVERTED, failure_words(err, output), data(output))
    raise RpcError(INVALID_INPUT, failure_words(err, output))
