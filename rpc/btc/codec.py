"""Esplora's JSON vocabulary (Blockstream's electrs, `src/rest.rs`, with mempool.space's additions): scripts
in rust-bitcoin's assembly, output types, transaction and block objects, confirmation statuses, and the
text of a node's refusal as Esplora relays it.

Pure functions of their arguments; what they show is read by rpc/btc/chaindata.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chain.address import btc_script_text, script_kind
from engines.bvm.opcodes import (
    DISABLED_OPCODES,
    OP_0,
    OP_1,
    OP_1NEGATE,
    OP_16,
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGADD,
    OP_INVALIDOPCODE,
    OP_PUSHDATA1,
    OP_PUSHDATA4,
    OP_RESERVED,
    OP_RESERVED1,
    OP_RESERVED2,
    OP_RETURN,
    OP_VER,
    OP_VERIF,
    OP_VERNOTIF,
    OPCODE_NAMES,
    get_op,
)
from engines.bvm.tx import Tx as BtcTx
from engines.bvm.tx import TxIn, TxOut

# Bitcoin Core's RPC error codes (rpc/protocol.h) that sendrawtransaction answers with.
RPC_DESERIALIZATION_ERROR = -22
RPC_TRANSACTION_ERROR = -25  # the inputs are missing or spent
RPC_TRANSACTION_REJECTED = -26
RPC_TRANSACTION_ALREADY_IN_CHAIN = -27
TX_DECODE_FAILED = "TX decode failed. Make sure the tx has at least one input."
# Core's reject reasons whose text carries a detail after the reason (`TxValidationState::ToString`:
# "reason, detail"); the others are the bare reason.
DETAILED_REASONS = frozenset(("bad-txns-in-belowout",))

# Regtest's proof-of-work limit (chainparams.cpp): the bits every block of this chain shows, and the
# difficulty they mean (the genesis target 0x1d00ffff over this one).
REGTEST_BITS = 0x207FFFFF
DIFF1_TARGET = 0xFFFF << 208


def target_of(bits: int) -> int:
    return (bits & 0xFFFFFF) << (8 * ((bits >> 24) - 3))


REGTEST_DIFFICULTY = DIFF1_TARGET / target_of(REGTEST_BITS)


# -- scripts ------------------------------------------------------------------------------------------
ESPLORA_TYPES = {"p2pkh": "p2pkh", "p2sh": "p2sh", "p2wpkh": "v0_p2wpkh", "p2wsh": "v0_p2wsh", "p2tr": "v1_p2tr"}


def _asm_names() -> list[str]:
    """rust-bitcoin's opcode names (`opcodes::All`'s Display): Core's, except the pushes, CLTV / CSV and the
    undefined opcodes above OP_CHECKSIGADD, which it names OP_RETURN_<n>."""
    names = []
    for op in range(256):
        if op == OP_0:
            name = "OP_0"
        elif op < OP_PUSHDATA1:
            name = f"OP_PUSHBYTES_{op}"
        elif op == OP_1NEGATE:
            name = "OP_PUSHNUM_NEG1"
        elif OP_1 <= op <= OP_16:
            name = f"OP_PUSHNUM_{op - OP_1 + 1}"
        elif op == OP_CHECKLOCKTIMEVERIFY:
            name = "OP_CLTV"
        elif op == OP_CHECKSEQUENCEVERIFY:
            name = "OP_CSV"
        elif OP_CHECKSIGADD < op < OP_INVALIDOPCODE:
            name = f"OP_RETURN_{op}"
        else:
            name = OPCODE_NAMES[op]
        names.append(name)
    return names


ASM_NAMES = _asm_names()


def script_asm(script: bytes) -> str:
    """The script as Esplora writes it (rust-bitcoin's `Script::to_asm`): opcode names, each push followed
    by its bytes in hex; a cut-off push ends the text with `<unexpected end>` or `<push past end>`."""
    out: list[str] = []
    pos = 0
    while pos < len(script):
        op = script[pos]
        pos += 1
        size = op if op < OP_PUSHDATA1 else 0
        if OP_PUSHDATA1 <= op <= OP_PUSHDATA4:
            width = 1 << (op - OP_PUSHDATA1)  # 1, 2 or 4 length bytes
            if len(script) - pos < width:
                return " ".join(out) + "<unexpected end>"  # rust-bitcoin writes it with no separator
            size = int.from_bytes(script[pos : pos + width], "little")
            pos += width
        word = ASM_NAMES[op]
        if size:
            if size > len(script) - pos:
                out.append(word + " <push past end>")
                break
            word += " " + script[pos : pos + size].hex()
            pos += size
        out.append(word)
    return " ".join(out)


def _provably_unspendable(first: int) -> bool:
    """rust-bitcoin: the first opcode is a return op or an illegal one (in legacy context)."""
    if first in DISABLED_OPCODES or first in (OP_VERIF, OP_VERNOTIF):
        return True
    return first in (OP_RESERVED, OP_VER, OP_RETURN, OP_RESERVED1, OP_RESERVED2) or first >= OP_CHECKSIGADD


def _bare_multisig(script: bytes) -> bool:
    """mempool.space's electrs: OP_m … OP_n OP_CHECKMULTISIG, 37 bytes or more, 1 ≤ m ≤ n ≤ 15."""
    n = len(script)
    return n >= 37 and script[-1] == OP_CHECKMULTISIG and OP_1 <= script[-2] <= OP_1 + 14 and OP_1 <= script[0] <= script[-2]


def script_type(script: bytes) -> str:
    """Esplora's `scriptpubkey_type`."""
    n = len(script)
    if not n:
        return "empty"
    if script[0] == OP_RETURN:
        return "op_return"
    if ((n == 67 and script[0] == 65) or (n == 35 and script[0] == 33)) and script[-1] == OP_CHECKSIG:
        return "p2pk"
    kind = ESPLORA_TYPES.get(script_kind(script) or "")
    if kind is not None:
        return kind
    if _provably_unspendable(script[0]):
        return "provably_unspendable"
    if _bare_multisig(script):
        return "multisig"
    return "unknown"


def txout_json(out: TxOut) -> dict[str, Any]:
    """An output (or a spent one, as an input's `prevout`): value in sats."""
    shown: dict[str, Any] = {
        "scriptpubkey": out.script_pubkey.hex(),
        "scriptpubkey_asm": script_asm(out.script_pubkey),
        "scriptpubkey_type": script_type(out.script_pubkey),
    }
    address = btc_script_text(out.script_pubkey)
    if address is not None:
        shown["scriptpubkey_address"] = address
    shown["value"] = out.value
    return shown


def _last_push(script: bytes) -> bytes | None:
    """The data of a scriptSig's last operation, if that is a push (what wraps a P2SH redeemScript)."""
    pc, last = 0, None
    while pc < len(script):
        op, data, pc = get_op(script, pc)
        if op < 0:
            return None
        last = data
    return last


def inner_scripts(txin: TxIn, prevout: TxOut) -> tuple[bytes | None, bytes | None]:
    """(redeemScript, witnessScript) an input reveals, as electrs's `get_innerscripts` finds them: a P2SH
    spend's last scriptSig push; a P2WSH (or P2SH-P2WSH) spend's last witness item; a Taproot script-path
    spend's tapscript (the item before the control block, an annex left aside)."""
    script = prevout.script_pubkey
    redeem = None
    if script_type(script) == "p2sh":
        redeem = _last_push(txin.script_sig)
    witness: bytes | None = None
    if txin.witness and (script_type(script) == "v0_p2wsh" or (redeem is not None and script_type(redeem) == "v0_p2wsh")):
        witness = txin.witness[-1]
    elif script_type(script) == "v1_p2tr":
        stack = list(txin.witness)
        if len(stack) >= 2 and stack[-1][:1] == b"\x50":
            stack.pop()  # the annex
        if len(stack) >= 2:
            witness = stack[-2]
    return redeem, witness


def txin_json(txin: TxIn, prevout: TxOut | None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "txid": txin.prevout.txid[::-1].hex(),
        "vout": txin.prevout.vout,
        "prevout": None if prevout is None else txout_json(prevout),
        "scriptsig": txin.script_sig.hex(),
        "scriptsig_asm": script_asm(txin.script_sig),
    }
    if txin.witness:
        shown["witness"] = [item.hex() for item in txin.witness]
    shown["is_coinbase"] = False  # this chain has no coinbase transactions
    shown["sequence"] = txin.sequence
    if prevout is not None:
        redeem, witness = inner_scripts(txin, prevout)
        if redeem is not None:
            shown["inner_redeemscript_asm"] = script_asm(redeem)
        if witness is not None:
            shown["inner_witnessscript_asm"] = script_asm(witness)
    return shown


# -- confirmations, transactions, blocks --------------------------------------------------------------
@dataclass(frozen=True)
class BlockRef:
    """A block as a confirmation names it."""

    height: int
    hash: bytes
    timestamp_ms: int

    @property
    def time(self) -> int:
        return self.timestamp_ms // 1000


def status_json(block: BlockRef | None) -> dict[str, Any]:
    if block is None:
        return {"confirmed": False}
    return {"confirmed": True, "block_height": block.height, "block_hash": block.hash.hex(), "block_time": block.time}


def fee_of(tx: BtcTx, prevouts: list[TxOut | None]) -> int:
    """Inputs minus outputs, in sats (0 while an input's coin is unknown: it moved since the transaction was
    admitted, and the block will refuse it)."""
    if any(p is None for p in prevouts):
        return 0
    return sum(p.value for p in prevouts if p is not None) - sum(o.value for o in tx.outputs)


def tx_json(tx: BtcTx, prevouts: list[TxOut | None], block: BlockRef | None) -> dict[str, Any]:
    return {
        "txid": tx.txid_hex,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": [txin_json(i, p) for i, p in zip(tx.inputs, prevouts, strict=True)],
        "vout": [txout_json(o) for o in tx.outputs],
        "size": len(tx.serialize()),
        "weight": tx.weight,
        "fee": fee_of(tx, prevouts),
        "status": status_json(block),
    }


def coin_tx_json(txid: str, coin: TxOut, block: BlockRef) -> dict[str, Any]:
    """An account coin as a transaction (rpc/btc/__init__.py): no inputs, its one output, confirmed in the
    block that made it; it has no bytes (its txid hashes no serialization), so size and weight are 0."""
    return {
        "txid": txid,
        "version": 2,
        "locktime": 0,
        "vin": [],
        "vout": [txout_json(coin)],
        "size": 0,
        "weight": 0,
        "fee": 0,
        "status": status_json(block),
    }


def block_json(
    block: BlockRef, parent: bytes | None, tx_root: bytes, version: int, tx_count: int, size: int, weight: int
) -> dict[str, Any]:
    """Esplora's block object over this chain's header (rpc/btc/__init__.py says which fields are constants)."""
    return {
        "id": block.hash.hex(),
        "height": block.height,
        "version": version,
        "timestamp": block.time,
        "tx_count": tx_count,
        "size": size,
        "weight": weight,
        "merkle_root": tx_root.hex(),
        "previousblockhash": None if parent is None else parent.hex(),
        "mediantime": block.time,
        "nonce": 0,
        "bits": REGTEST_BITS,
        "difficulty": REGTEST_DIFFICULTY,
    }


def stats_json(funded: tuple[int, int], spent: tuple[int, int], tx_count: int) -> dict[str, int]:
    """An address's chain_stats / mempool_stats: (count, sats) funded and spent, and its transactions."""
    return {
        "funded_txo_count": funded[0],
        "funded_txo_sum": funded[1],
        "spent_txo_count": spent[0],
        "spent_txo_sum": spent[1],
        "tx_count": tx_count,
    }


# -- refusals ---------------------------------------------------------------------------------------
def core_reason(code: str, message: str) -> str:
    """The text Bitcoin Core gives for a reject reason (`TxValidationState::ToString`): the reason, with its
    detail where Core gives one. The engine's message already is that text when it starts with the reason; a
    refusal that is this node's own (a snake_case code, e.g. no BVM engine installed) is told in its words."""
    if message.startswith(code) or "_" in code:
        return message
    if code in DETAILED_REASONS:
        return f"{code}, {message}"
    return code


def rpc_error_text(code: int, message: str) -> str:
    """How electrs relays a refused sendrawtransaction: the method, then bitcoind's JSON-RPC error object."""
    return "sendrawtransaction RPC error: " + json.dumps({"code": code, "message": message}, separators=(",", ":"))
