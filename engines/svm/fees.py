"""Compute budget and fees of a Solana message, as Solana computes them (docs/PROTOCOL.md §13).

Compute Budget instructions are read before anything runs: `SetComputeUnitLimit` (u32),
`SetComputeUnitPrice` (u64 micro-lamports per unit), `RequestHeapFrame` (u32, a multiple of 1 KiB
from 32 to 256 KiB) and `SetLoadedAccountsDataSizeLimit` (u32). A malformed one is
`InstructionError(i, InvalidInstructionData)`, a repeated kind `DuplicateInstruction(i)`, both before
execution. Without a limit, a transaction may use 3,000 units per built-in instruction and 200,000
per other instruction, at most 1,400,000.

Fee = 5,000 lamports per signature + ceil(price × limit / 1,000,000) — charged to the fee payer even
when the transaction fails.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import InstructionFailed, SvmError
from .programs import COMPUTE_BUDGET_PROGRAM
from .runtime import PROGRAMS
from .wire import Message

LAMPORTS_PER_SIGNATURE = 5_000
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
DEFAULT_INSTRUCTION_LIMIT = 200_000
BUILTIN_INSTRUCTION_LIMIT = 3_000
MIN_HEAP_FRAME, MAX_HEAP_FRAME = 32 * 1024, 256 * 1024
MICRO_LAMPORTS = 1_000_000


@dataclass(frozen=True)
class Budget:
    limit: int
    price: int  # micro-lamports per compute unit
    signatures: int

    @property
    def priority_fee(self) -> int:
        return -(-self.price * self.limit // MICRO_LAMPORTS)

    @property
    def fee(self) -> int:
        return LAMPORTS_PER_SIGNATURE * self.signatures + self.priority_fee


def budget(message: Message) -> Budget:
    limit: int | None = None
    price = 0
    seen: set[int] = set()
    default = 0
    for i, ix in enumerate(message.instructions):
        program = message.keys[ix.program_index]
        info = PROGRAMS.get(program)
        default += BUILTIN_INSTRUCTION_LIMIT if info is not None and info.builtin else DEFAULT_INSTRUCTION_LIMIT
        if program != COMPUTE_BUDGET_PROGRAM:
            continue
        data = ix.data
        kind = data[0] if data else -1
        sizes = {1: 5, 2: 5, 3: 9, 4: 5}
        if kind not in sizes or len(data) != sizes[kind]:
            raise InstructionFailed(i, "InvalidInstructionData", "not a Compute Budget instruction")
        if kind in seen:
            raise SvmError({"DuplicateInstruction": i}, f"Transaction contains a duplicate instruction ({i}) that is not allowed")
        seen.add(kind)
        if kind == 1:
            heap = struct.unpack_from("<I", data, 1)[0]
            if not MIN_HEAP_FRAME <= heap <= MAX_HEAP_FRAME or heap % 1024:
                raise InstructionFailed(i, "InvalidInstructionData", "heap frame must be a multiple of 1 KiB, 32 to 256 KiB")
        elif kind == 2:
            limit = struct.unpack_from("<I", data, 1)[0]
        elif kind == 3:
            price = struct.unpack_from("<Q", data, 1)[0]
    chosen = min(default if limit is None else limit, MAX_COMPUTE_UNIT_LIMIT)
    return Budget(chosen, price, message.required)
