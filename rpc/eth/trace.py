"""debug_traceTransaction: a committed transaction run again as its block ran it, with a tracer in py-evm's
opcode dispatch and message calls, answered in geth's shapes.

The state just before the transaction is the committed state with the stored per-transaction diffs
(docs/PROTOCOL.md §2) of every later transaction undone, newest first — those after it in its own block
and those of every later block; the diffs of the transactions before it in its block are already part of
what is left. That is an overlay over the SQL entries, read from one snapshot and never written. The
transaction then runs through the block builder's own path (`chain.dispatcher.execute_tx` and the
engine's `execute`, so fees, precompiles and the ERC-20 views behave as they did) in its block's
context, with a computation class that reports to the tracer. The run must reproduce the stored receipt
(status, gas used) and diff; if it does not, the answer is an error, never a trace of something else.

Tracers, as geth answers (geth.ethereum.org/docs/developers/evm-tracing):

- the struct logger (no `tracer`): `{gas, failed, returnValue, structLogs}`, one entry an opcode with
  its pc, name, gas left, cost and depth, the stack and the storage the opcode reads or writes (unless
  `disableStack` / `disableStorage`), memory (`enableMemory`) and the last call's return data
  (`enableReturnData`). Stack and memory words and storage slots are 64 hex digits without 0x, as
  geth's documentation shows them; `returnValue` is hex without 0x;
- `callTracer`: the tree of calls `{type, from, to, value, gas, gasUsed, input, output, error,
  revertReason, calls}` with hex quantities; `tracerConfig` may ask for `onlyTopCall` and `withLog`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from eth.exceptions import FullStack, Halt, InsufficientStack, InvalidInstruction, OutOfGas, Revert, VMError
from eth.vm.logic.invalid import InvalidOpcode
from eth_hash.auto import keccak

from chain.blocks import Header
from chain.dispatcher import VM_TITLES, BlockContext, Receipt, execute_tx
from chain.errors import AdmissionError
from chain.node import RECENT_BLOCKS, chain_id_of, decode_diff
from chain.state import Diff, State
from chain.store import models as m
from chain.store.sql import SqlEntries, consistent_reads
from engines.evm.engine import VM_ERROR_TEXT, EvmEngine, EvmTx, revert_reason
from rpc.native.views import _registry
from rpc.vmcall import ReadOnce

from .codec import INVALID_INPUT, LIMIT_EXCEEDED, RpcError, address_out, data, invalid, parse_bool, parse_hash, qty

MAX_BLOCKS_BACK = 10_000  # how old a transaction may be: the diffs of every block since are undone
MAX_UNDONE_WRITES = 1_000_000  # state writes undone to rebuild the state before it
DIFF_ROWS_PER_READ = 1_000
DEFAULT_TIMEOUT_S = 5.0  # geth's default tracer timeout
MAX_TIMEOUT_S = 30.0  # web requests share the server's threads
MAX_STRUCT_LOGS = 250_000  # struct-log entries kept in memory for one answer
MAX_TRACE_CHARS = 64 * 1024 * 1024  # about the size of the struct-log answer
CLOCK_EVERY = 1024  # opcodes between looks at the clock

# geth's opcode names where py-evm's differ, and the undefined opcode 0xfe has one
GETH_OPCODE_NAMES = {0x20: "KECCAK256", 0x44: "DIFFICULTY", 0xFE: "INVALID"}
CREATE_KINDS = ("CREATE", "CREATE2")
CALL_KINDS = {0xF0: "CREATE", 0xF1: "CALL", 0xF2: "CALLCODE", 0xF4: "DELEGATECALL", 0xF5: "CREATE2", 0xFA: "STATICCALL"}
SLOAD, SSTORE = 0x54, 0x55
PANIC_SELECTOR = keccak(b"Panic(uint256)")[:4]
# Solidity's panic codes with geth's words for them (accounts/abi UnpackRevert)
PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


# -- options -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TraceOptions:
    tracer: str = ""  # "" = the struct logger
    stack: bool = True
    storage: bool = True
    memory: bool = False
    return_data: bool = False
    limit: int = 0  # struct-log entries to keep; 0 = all
    timeout_s: float = DEFAULT_TIMEOUT_S
    only_top_call: bool = False
    with_log: bool = False

    @property
    def struct_logs(self) -> bool:
        return self.tracer == ""


_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """A Go duration such as "10s" or "1m30s" (geth's `timeout`), in seconds."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise invalid('timeout must be a duration such as "10s" or "500ms"')
    return sum(float(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(value))


def parse_options(value: Any) -> TraceOptions:
    """geth's TraceConfig. Unknown fields are ignored, as geth ignores them."""
    if value is None:
        return TraceOptions()
    if not isinstance(value, dict):
        raise invalid("the trace config must be an object")

    def flag(name: str) -> bool | None:
        return None if value.get(name) is None else parse_bool(value[name], name)

    tracer = value.get("tracer") or ""
    if not isinstance(tracer, str):
        raise invalid("tracer must be a string")
    if tracer not in ("", "callTracer"):
        raise invalid(f'tracer "{tracer}" is not available on this node: leave it out for the struct logger, or use "callTracer"')
    config = value.get("tracerConfig") or {}
    if not isinstance(config, dict):
        raise invalid("tracerConfig must be an object")
    memory = flag("enableMemory")
    if memory is None:  # the older option: memory was on unless disabled
        memory = flag("disableMemory") is False
    limit = value.get("limit") or 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise invalid("limit must be a non-negative integer")
    timeout_s = DEFAULT_TIMEOUT_S if value.get("timeout") is None else parse_duration(value["timeout"])
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise invalid(f"timeout must be above zero and at most {MAX_TIMEOUT_S:g}s")
    return TraceOptions(
        tracer=tracer,
        stack=not flag("disableStack"),
        storage=not flag("disableStorage"),
        memory=memory,
        return_data=bool(flag("enableReturnData")),
        limit=limit,
        timeout_s=timeout_s,
        only_top_call=config.get("onlyTopCall") is not None and parse_bool(config["onlyTopCall"], "onlyTopCall"),
        with_log=config.get("withLog") is not None and parse_bool(config["withLog"], "withLog"),
    )


# -- the transaction and the state before it ---------------------------------------------------------
@dataclass(frozen=True)
class Committed:
    envelope: bytes
    height: int
    position: int
    receipt: Receipt
    diff: Diff


def find_committed(tx_hash: bytes) -> Committed | None:
    """A committed transaction by any of its ids: an Ethereum hash (or another native id), else the envelope id."""
    fields = ("envelope", "block_id", "position", "receipt", "diff")
    row = m.Transaction.objects.filter(aliases__alias=tx_hash).values_list(*fields).first()
    if row is None:
        row = m.Transaction.objects.filter(envelope_id=tx_hash).values_list(*fields).first()
    if row is None:
        return None
    envelope, height, position, receipt, diff = row
    return Committed(bytes(envelope), int(height), int(position), Receipt.decode(bytes(receipt)), decode_diff(bytes(diff)))


class Rewound(Mapping[bytes, bytes]):
    """The committed entries with later writes undone: `undone[key]` is the value from before them (None = absent)."""

    def __init__(self, base: Mapping[bytes, bytes], undone: dict[bytes, bytes | None]) -> None:
        self.base = base
        self.undone = undone

    def __getitem__(self, key: bytes) -> bytes:
        if key in self.undone:
            value = self.undone[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.base[key]

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("the rebuilt state is read key by key, never listed")

    def __len__(self) -> int:
        raise TypeError("the rebuilt state is read key by key, never listed")


def state_before(height: int, position: int) -> Rewound:
    """The state just before transaction `position` of block `height`: every later diff undone, newest first."""
    head = m.Block.objects.order_by("-height").values_list("height", flat=True).first()
    assert head is not None  # the transaction's own block is there
    if head - height > MAX_BLOCKS_BACK:
        raise RpcError(
            LIMIT_EXCEEDED,
            f"the transaction is {head - height} blocks old: this node rebuilds the state at most {MAX_BLOCKS_BACK} blocks back",
        )
    later = m.Transaction.objects.filter(Q(block_id__gt=height) | Q(block_id=height, position__gte=position))
    undone: dict[bytes, bytes | None] = {}
    writes = 0
    rows = later.order_by("-block_id", "-position").values_list("diff", flat=True)
    for diff in rows.iterator(chunk_size=DIFF_ROWS_PER_READ):
        entries = decode_diff(bytes(diff))
        writes += len(entries)
        if writes > MAX_UNDONE_WRITES:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"rebuilding the state before the transaction would undo more than {MAX_UNDONE_WRITES} writes "
                "of later transactions",
            )
        for key, old, _new in entries:
            undone[key] = old  # newest first: the oldest later write's old value is the one left
    return Rewound(ReadOnce(SqlEntries()), undone)


def block_context(height: int, chain_id: int) -> BlockContext:
    """The context the block builder gave the transaction's block (chain.node.Chain.build_block)."""
    header = Header.decode(bytes(m.Block.objects.values_list("header", flat=True).get(height=height)))
    recent = (
        m.Block.objects.filter(height__lt=height, height__gte=height - RECENT_BLOCKS)
        .order_by("-height")
        .values_list("hash", flat=True)
    )
    return BlockContext(height, header.timestamp_ms, chain_id, header.proposer, tuple(bytes(h) for h in recent))


def engine_of(envelope: bytes) -> EvmEngine:
    try:
        engine = _registry().route(envelope)
    except AdmissionError as e:
        raise RpcError(INVALID_INPUT, f"this node cannot run the transaction again: {e.message}") from None
    if not isinstance(engine, EvmEngine):
        vm = VM_TITLES.get(engine.name, engine.name)
        raise RpcError(
            INVALID_INPUT, f"not an EVM transaction: it is a {vm} transaction (opcode {envelope[0]:#04x}), which has no EVM trace"
        )
    return engine


# -- errors and revert data in geth's words ----------------------------------------------------------
def opcode_name(opcode: int, fn: Any) -> str:
    if opcode in GETH_OPCODE_NAMES:
        return GETH_OPCODE_NAMES[opcode]
    mnemonic = getattr(fn, "mnemonic", None) or getattr(getattr(fn, "__wrapped__", None), "mnemonic", None)
    return str(mnemonic) if mnemonic else f"opcode {opcode:#x} not defined"


def vm_error_text(err: BaseException) -> str:
    if isinstance(err, Revert):
        return "execution reverted"
    if isinstance(err, InvalidInstruction):
        found = re.search(r"0x([0-9a-fA-F]+)", str(err))
        return "invalid opcode: " + (opcode_name(int(found.group(1), 16), None) if found else "INVALID")
    name = type(err).__name__
    return VM_ERROR_TEXT.get(name) or str(err) or name


def unpack_revert(output: bytes) -> str | None:
    """geth's reading of revert data: Solidity's Error(string) or Panic(uint256)."""
    if output[:4] == PANIC_SELECTOR and len(output) >= 36:
        code = int.from_bytes(output[4:36], "big")
        return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    return revert_reason(output)


# -- the tracer ----------------------------------------------------------------------------------------
class TraceAborted(BaseException):
    """Ends a trace early (its time is up, or it grew too large). A BaseException, so that no handler in
    the engine or the dispatcher takes it for the transaction's own failure."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(eq=False)
class CallLog:
    address: bytes
    topics: tuple[int, ...]
    data: bytes
    position: int  # how many calls of its frame came before it


@dataclass(eq=False)
class Frame:
    """One message call or creation: a node of the call tree, and where the struct logger keeps its step."""

    kind: str  # CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2
    sender: bytes
    to: bytes
    value: int | None  # None: a STATICCALL, which has none
    gas: int
    input: bytes
    depth: int  # geth's: 1 is the transaction's own call
    computation: Any
    calls: list[Frame] = field(default_factory=list)
    logs: list[CallLog] = field(default_factory=list)
    gas_used: int = 0
    output: bytes = b""
    error: str | None = None
    reverted: bool = False
    children_refund: int = 0  # gas refunds of its finished, successful calls
    step: Step | None = None  # the opcode running now
    create_gas: int = 0  # gas the running CREATE handed to its child (geth leaves it out of the cost)

    def close(self, computation: Any) -> None:
        self.gas_used = self.gas - computation.get_gas_remaining()
        if computation.is_success:
            self.output = bytes(computation.output)
            return
        err = computation.error
        self.error = vm_error_text(err)
        self.reverted = isinstance(err, Revert)
        if self.reverted:
            self.output = bytes(computation.output)

    def refund(self) -> int:
        return int(self.computation.get_gas_meter().gas_refunded) + self.children_refund


class Step:
    """One struct-log entry, captured before its opcode runs and completed after."""

    __slots__ = (
        "charged",
        "cost",
        "depth",
        "error",
        "gas",
        "memory",
        "op",
        "opcode",
        "pc",
        "refund",
        "return_data",
        "stack",
        "storage",
    )

    def __init__(self, pc: int, opcode: int, op: str, gas: int, depth: int, charged: int) -> None:
        self.pc, self.opcode, self.op, self.gas, self.depth, self.charged = pc, opcode, op, gas, depth, charged
        self.cost = 0
        self.error: str | None = None
        self.stack: list[str] | None = None
        self.memory: bytes | None = None
        self.storage: dict[str, str] | None = None
        self.return_data = b""
        self.refund = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pc": self.pc, "op": self.op, "gas": self.gas, "gasCost": self.cost, "depth": self.depth}
        if self.error is not None:
            out["error"] = self.error
        if self.stack is not None:
            out["stack"] = self.stack
        if self.return_data:
            out["returnData"] = data(self.return_data)
        if self.memory is not None:
            out["memory"] = [self.memory[i : i + 32].hex() for i in range(0, len(self.memory), 32)]
        if self.storage is not None:
            out["storage"] = self.storage
        if self.refund:
            out["refund"] = self.refund
        return out


def _word(value: int | bytes) -> str:
    return f"{value if isinstance(value, int) else int.from_bytes(value, 'big'):064x}"


class Tracer:
    def __init__(self, options: TraceOptions, deadline: float) -> None:
        self.options = options
        self.deadline = deadline
        self.frames: list[Frame] = []  # the calls running now, outermost first
        self.top: Frame | None = None
        self.steps: list[Step] = []
        self.keep = min(options.limit or MAX_STRUCT_LOGS, MAX_STRUCT_LOGS)
        self.storage: dict[bytes, dict[str, str]] = {}  # per contract: the slots read or written so far
        self.size = 0
        self.opcodes_run = 0

    def check_clock(self) -> None:
        self.opcodes_run += 1
        if not self.opcodes_run % CLOCK_EVERY and time.monotonic() > self.deadline:
            took = f"execution timeout: the trace took longer than {self.options.timeout_s:g}s"
            raise TraceAborted(RpcError(INVALID_INPUT, took))

    # -- messages ------------------------------------------------------------------------------------
    def enter(self, computation: Any) -> None:
        msg = computation.msg
        parent = self.frames[-1] if self.frames else None
        if parent is None:
            kind, sender = ("CREATE" if msg.is_create else "CALL"), msg.sender
        else:
            code = parent.computation.code
            kind = CALL_KINDS.get(code[code.program_counter - 1], "CALL")  # the opcode running in the parent
            sender = parent.computation.msg.storage_address  # for a DELEGATECALL too: the contract that calls
        frame = Frame(
            kind=kind,
            sender=bytes(sender),
            to=bytes(msg.storage_address if msg.is_create else msg.code_address),
            value=None if kind == "STATICCALL" else int(msg.value),
            gas=int(msg.gas),
            input=bytes(msg.code if msg.is_create else msg.data_as_bytes),
            depth=int(msg.depth) + 1,
            computation=computation,
        )
        computation.trace_frame = frame
        if parent is None:
            self.top = frame
        elif not self.options.only_top_call:
            parent.calls.append(frame)
        self.frames.append(frame)

    def exit(self, computation: Any) -> None:
        frame = self.frames.pop()
        assert frame.computation is computation, "the tracer lost track of the call stack"
        frame.close(computation)
        if computation.is_success:
            self.frames[-1].children_refund += frame.refund()

    def log(self, computation: Any, address: bytes, topics: tuple[int, ...], payload: bytes) -> None:
        if self.options.with_log:
            frame: Frame = computation.trace_frame
            frame.logs.append(CallLog(bytes(address), tuple(topics), bytes(payload), len(frame.calls)))

    def refund_now(self) -> int:
        """geth's refund counter: the refunds of the running calls and of their finished, successful calls."""
        return sum(f.refund() for f in self.frames)

    # -- opcodes (struct logger) -------------------------------------------------------------------------
    def before(self, computation: Any, opcode: int, op: str) -> None:
        self.check_clock()
        frame: Frame = computation.trace_frame
        if len(self.steps) >= self.keep:
            frame.step = None
            if not self.options.limit or self.options.limit > MAX_STRUCT_LOGS:
                raise TraceAborted(
                    RpcError(
                        LIMIT_EXCEEDED,
                        f"the trace has more than {MAX_STRUCT_LOGS} steps: pass a smaller `limit`, or use the callTracer",
                    )
                )
            return
        opts = self.options
        code = computation.code
        pc = code.program_counter - 1
        if opcode == 0 and code.program_counter >= len(code) and not (pc >= 0 and code[pc] == 0 and code.is_valid_opcode(pc)):
            pc = code.program_counter  # the STOP py-evm runs past the end of the code, where geth reads one too
        step = Step(
            pc,
            opcode,
            op,
            computation.get_gas_remaining(),
            frame.depth,
            computation.trace_charged,
        )
        values = computation._stack.values
        size = 120
        if opts.stack:
            step.stack = [_word(v) for v in values]
            size += 67 * len(values)
        if opts.memory:
            step.memory = bytes(computation._memory._bytes)
            size += len(step.memory) * 67 // 32
        if opts.return_data:
            step.return_data = bytes(computation.return_data)
            size += 2 * len(step.return_data)
        if opts.storage and opcode in (SLOAD, SSTORE):
            size += self._storage(computation, step, values)
        if opcode != SSTORE:  # an SSTORE's own refund counts in its entry, as geth charges it before logging
            step.refund = self.refund_now()
        self.size += size
        if self.size > MAX_TRACE_CHARS:
            raise TraceAborted(
                RpcError(
                    LIMIT_EXCEEDED,
                    f"the trace is larger than {MAX_TRACE_CHARS // 2**20} MiB: pass `limit`, disableStack, "
                    "leave memory off, or use the callTracer",
                )
            )
        frame.step = step
        self.steps.append(step)

    def _storage(self, computation: Any, step: Step, values: list[Any]) -> int:
        """The contract's slots seen so far, with the one this SLOAD reads (its current value) or this SSTORE writes."""
        address = bytes(computation.msg.storage_address)
        if values and step.opcode == SLOAD:
            slot = values[-1]
            slot_int = slot if isinstance(slot, int) else int.from_bytes(slot, "big")
            value: int | bytes = computation.state.get_storage(address, slot_int)
        elif len(values) >= 2 and step.opcode == SSTORE:
            slot, value = values[-1], values[-2]
        else:
            return 0
        seen = self.storage.setdefault(address, {})
        seen[_word(slot)] = _word(value)
        step.storage = dict(seen)
        return 132 * len(seen)

    def after(self, computation: Any, error: BaseException | None) -> None:
        frame: Frame = computation.trace_frame
        step, frame.step = frame.step, None
        create_gas, frame.create_gas = frame.create_gas, 0
        if step is None:
            return
        step.cost = computation.trace_charged - step.charged - create_gas
        if isinstance(error, OutOfGas | InsufficientStack | FullStack):  # geth's failures before an opcode runs
            step.error = vm_error_text(error)
        if step.opcode == SSTORE:
            step.refund = self.refund_now()

    def opcode_table(self, table: dict[int, Any]) -> dict[int, Any]:
        if not self.options.struct_logs:
            return ClockedOpcodes(table, self)
        steps: dict[int, Any] = {}
        for opcode in range(256):
            fn = table.get(opcode)
            steps[opcode] = TracedOpcode(fn if fn is not None else InvalidOpcode(opcode), opcode, opcode_name(opcode, fn), self)
        return steps

    def finish(self) -> None:
        """The transaction's own call has ended (the executor does not hand it back like a child)."""
        if self.top is not None:
            self.top.close(self.top.computation)

    # -- answers -------------------------------------------------------------------------------------
    def struct_result(self, receipt: Receipt) -> dict[str, Any]:
        top = self.top
        return_value = ""
        if top is not None and (top.error is None or top.reverted):
            return_value = top.output.hex()  # the return data, or the revert data; nothing for other failures
        return {
            "gas": receipt.gas_used,
            "failed": not receipt.success,
            "returnValue": return_value,
            "structLogs": [s.to_json() for s in self.steps],
        }

    def call_result(self, etx: EvmTx, receipt: Receipt) -> dict[str, Any]:
        tx = etx.tx
        top = self.top
        if top is None:  # the engine refused it before the EVM ran (a nonce that was no longer next)
            top = Frame("CALL" if tx.to else "CREATE", bytes(etx.sender), bytes(tx.to), 0, 0, bytes(tx.data), 1, None)
            top.error = receipt.message or receipt.code
        top.value = int(tx.value)
        top.gas, top.gas_used = int(tx.gas), receipt.gas_used  # geth: the transaction's gas, and its receipt's
        return frame_json(top, self.options.with_log, failed_above=False)


def frame_json(frame: Frame, with_log: bool, failed_above: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": frame.kind, "from": address_out(frame.sender)}
    if not (frame.error is not None and frame.kind in CREATE_KINDS):  # a failed creation made no contract
        out["to"] = address_out(frame.to)
    if frame.value is not None:
        out["value"] = qty(frame.value)
    out |= {"gas": qty(frame.gas), "gasUsed": qty(frame.gas_used), "input": data(frame.input)}
    if frame.output and (frame.error is None or frame.reverted):
        out["output"] = data(frame.output)
    if frame.error is not None:
        out["error"] = frame.error
        reason = unpack_revert(frame.output) if frame.reverted else None
        if reason:
            out["revertReason"] = reason
    failed = failed_above or frame.error is not None
    if frame.calls:
        out["calls"] = [frame_json(c, with_log, failed) for c in frame.calls]
    if with_log and frame.logs and not failed:  # geth drops the logs of a failed call and of all it called
        out["logs"] = [
            {
                "address": address_out(log.address),
                "topics": [data(t.to_bytes(32, "big")) for t in log.topics],
                "data": data(log.data),
                "position": qty(log.position),
            }
            for log in frame.logs
        ]
    return out


class TracedOpcode:
    """An opcode as py-evm's dispatch loop calls it, with the struct logger around it."""

    __slots__ = ("fn", "op", "opcode", "tracer")

    def __init__(self, fn: Any, opcode: int, op: str, tracer: Tracer) -> None:
        self.fn, self.opcode, self.op, self.tracer = fn, opcode, op, tracer

    def __call__(self, computation: Any) -> None:
        if not len(computation.code):  # py-evm runs a STOP for code that is empty; geth runs nothing
            self.fn(computation=computation)
            return
        self.tracer.before(computation, self.opcode, self.op)
        try:
            self.fn(computation=computation)
        except Halt:
            self.tracer.after(computation, None)
            raise
        except VMError as e:
            self.tracer.after(computation, e)
            raise
        self.tracer.after(computation, None)


class ClockedOpcodes(dict[int, Any]):
    """The opcode table unchanged but for the clock: the call tracer needs no step, only a time limit."""

    def __init__(self, table: dict[int, Any], tracer: Tracer) -> None:
        super().__init__(table)
        self.tracer = tracer

    def __getitem__(self, opcode: int) -> Any:
        self.tracer.check_clock()
        return super().__getitem__(opcode)


class TracedComputation:
    """Mixed in before the engine's computation class: tells the tracer of each message, its end, its
    logs and, for the struct logger, every unit of gas charged (memory expansion included)."""

    tracer: Tracer
    trace_frame: Frame
    trace_charged: int

    def __init__(self, *args: Any) -> None:
        self.trace_charged = 0
        super().__init__(*args)
        self.tracer.enter(self)

    def _configure_gas_meter(self) -> Any:
        meter = super()._configure_gas_meter()  # type: ignore[misc]
        if self.tracer.options.struct_logs:
            consume = meter.consume_gas

            def counted(amount: int, reason: str) -> None:
                self.trace_charged += amount  # before the charge: a cost that fails counts, as in geth
                consume(amount, reason)

            meter.consume_gas = counted
        return meter

    def generate_child_computation(self, child_msg: Any) -> Any:
        if child_msg.is_create:
            self.trace_frame.create_gas = int(child_msg.gas)
        child = super().generate_child_computation(child_msg)  # type: ignore[misc]
        self.tracer.exit(child)
        return child

    def add_log_entry(self, account: bytes, topics: tuple[int, ...], data: bytes) -> None:  # py-evm passes them by name
        super().add_log_entry(account, topics, data)  # type: ignore[misc]
        self.tracer.log(self, account, topics, data)


def traced_engine(engine: EvmEngine, tracer: Tracer) -> EvmEngine:
    """A copy of the engine whose EVM state runs the tracer's computation class; the engine itself is untouched."""
    from .simulate import engine_with

    base = engine.state_class.computation_class
    computation = type(
        f"Traced{base.__name__}", (TracedComputation, base), {"tracer": tracer, "opcodes": tracer.opcode_table(base.opcodes)}
    )
    # the tracer watches py-evm run the call (the direct path has the same effects)
    return engine_with(engine, computation, "Traced", direct=False)


# -- the method ----------------------------------------------------------------------------------------
def trace_transaction(tx_hash: Any, config: Any = None) -> dict[str, Any]:
    wanted = parse_hash(tx_hash, "transaction hash")
    options = parse_options(config)
    with consistent_reads():
        found = find_committed(wanted)
        if found is None:
            raise RpcError(INVALID_INPUT, "transaction not found")
        engine = engine_of(found.envelope)
        try:
            tx = engine.decode(found.envelope)
        except AdmissionError as e:
            raise RpcError(INVALID_INPUT, f"the transaction no longer decodes: {e.message}") from None
        entries = state_before(found.height, found.position)
        ctx = block_context(found.height, chain_id_of(entries))
        tracer = Tracer(options, time.monotonic() + options.timeout_s)
        state = State(entries)
        state.begin_tx()
        try:
            receipt = execute_tx(traced_engine(engine, tracer), tx, state, ctx)
        except TraceAborted as e:
            raise e.error from None
        diff = state.end_tx()
        tracer.finish()
    check_reproduced(found, receipt, diff)
    etx: EvmTx = tx.body  # type: ignore[assignment]
    return tracer.struct_result(receipt) if options.struct_logs else tracer.call_result(etx, receipt)


def check_reproduced(found: Committed, receipt: Receipt, diff: Diff) -> None:
    stored = found.receipt
    if receipt.code == "internal_error" and stored.code != "internal_error":
        raise RpcError(INVALID_INPUT, "the engine failed while running the transaction again; see the node's log")
    if (receipt.success, receipt.gas_used) != (stored.success, stored.gas_used):
        raise RpcError(
            INVALID_INPUT,
            "running the transaction again did not reproduce its receipt: "
            f"status {int(receipt.success)} and gasUsed {receipt.gas_used} now, "
            f"status {int(stored.success)} and gasUsed {stored.gas_used} in block {found.height}",
        )
    if {k: (old, new) for k, old, new in diff} != {k: (old, new) for k, old, new in found.diff}:
        raise RpcError(
            INVALID_INPUT,
            f"running the transaction again reproduced its receipt but not its state changes in block {found.height}",
        )
