"""Blocks and transactions in Solana's shape, read from the store's tables (chain/store/models.py).

A slot is a block height and a block's blockhash its 32-byte block hash. The transactions a Solana
client sees are those this node can show in Solana's terms, in block order:
- Solana wire transactions (0x20), byte-exact, found by their first signature (a `TxAlias`);
- SVM calls authorised by an ACE credential (0x21): their message is a Solana message; their first
  "signature" is their *native signature* (below), the other signers' Ed25519 signatures follow;
- native transfers of the native token (0x01) — what the faucet and `requestAirdrop` send —, shown as the
  System transfer they amount to: from the sender identity's SVM address to the recipient's, the
  block's parent hash as recent blockhash, the native fee, the balances before and after from the
  transaction's state diff. Their one signature is their native signature.
Other VMs' transactions (EVM, other native operations, …) have no Solana form and are left out.

**Native signatures.** A transaction without an Ed25519 signature of its own is named by 64 bytes,
`envelope_id || H("nvm/svm/native-id" || envelope_id)`: base58 like any signature, never a valid Ed25519
signature by accident, and resolvable from its first half. `getSignatureStatuses`, `getTransaction` and
`signatureSubscribe` accept it, `requestAirdrop` returns it, and the wire bytes shown for such a
transaction (encoding base64/base58) carry it where a signature would be; it does not verify as one.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from solders.transaction_status import TransactionErrorFieldless

from chain.blocks import Header
from chain.dispatcher import Receipt
from chain.hashing import H
from chain.identity import legacy_id_com, vm_address
from chain.ledger import NATIVE_MINT, amount_of, balance, balance_slot, ui_amount
from chain.node import decode_diff
from chain.state import State
from chain.store import models as m
from chain.store.sql import SqlEntries, no_genesis
from engines.native import tx as native
from engines.svm.accounts import SYSTEM_PROGRAM
from engines.svm.engine import ACE_CALL, RAW_TX, SvmEngine, SvmTx
from engines.svm.errors import InstructionFailed, err_of
from engines.svm.programs import MEMO_PROGRAM, MEMO_V1_PROGRAM, TOKEN_PROGRAM
from engines.svm.receipt import SvmOutput, TokenBalance
from engines.svm.wire import Instruction, Message, encode_message, shortvec
from rpc.jsonrpc import RpcError

from .codec import UNSUPPORTED_TRANSACTION_VERSION, b58

NATIVE_ID_DOMAIN = b"nvm/svm/native-id"
SYSTEM_TRANSFER_CU = 150  # what Solana's System program charges a transfer
SHOWN_OPCODES = (RAW_TX, ACE_CALL, native.TRANSFER)
_decoder = SvmEngine()  # decoding needs no keys


def native_signature(envelope_id: bytes) -> bytes:
    return envelope_id + H(NATIVE_ID_DOMAIN + envelope_id)


def native_envelope_id(signature: bytes) -> bytes | None:
    """The envelope id a native signature names (None: not one)."""
    head = signature[:32]
    return head if len(signature) == 64 and signature[32:] == H(NATIVE_ID_DOMAIN + head) else None


# -- rows -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Head:
    height: int
    hash: bytes
    timestamp_ms: int


def head() -> Head:
    row = m.Block.objects.order_by("-height").values_list("height", "hash", "timestamp_ms").first()
    if row is None:
        raise no_genesis()
    return Head(int(row[0]), bytes(row[1]), int(row[2]))


def block_row(slot: int) -> tuple[bytes, bytes, int] | None:
    """(hash, parent hash, timestamp_ms) of the block at `slot`."""
    row = m.Block.objects.filter(height=slot).values_list("hash", "header", "timestamp_ms").first()
    return None if row is None else (bytes(row[0]), Header.decode(bytes(row[1])).parent_hash, int(row[2]))


@dataclass
class Included:
    """A transaction in a block, as the store holds it."""

    height: int
    position: int
    timestamp_ms: int
    parent_hash: bytes  # of its block: a native transfer's "recent blockhash"
    envelope_id: bytes
    envelope: bytes
    receipt: Receipt
    diff: bytes

    @property
    def block_time(self) -> int:
        return self.timestamp_ms // 1000

    @cached_property
    def view(self) -> SolanaTx | None:
        return solana_view(self)


_FIELDS = ("block_id", "position", "block__timestamp_ms", "block__header", "envelope_id", "envelope", "receipt", "diff")


def _included(row: tuple[Any, ...]) -> Included:
    height, position, ts, header, eid, envelope, receipt, diff = row
    parent = Header.decode(bytes(header)).parent_hash
    return Included(height, position, ts, parent, bytes(eid), bytes(envelope), Receipt.decode(bytes(receipt)), bytes(diff))


def find(signature: bytes) -> Included | None:
    """A committed transaction by its Solana signature or native signature, if it has a Solana form."""
    rows = m.Transaction.objects.filter(aliases__alias=signature, opcode__in=SHOWN_OPCODES)
    row = rows.values_list(*_FIELDS).first()
    if row is None:
        envelope_id = native_envelope_id(signature)
        if envelope_id is None:
            return None
        rows = m.Transaction.objects.filter(envelope_id=envelope_id, opcode__in=SHOWN_OPCODES)
        row = rows.values_list(*_FIELDS).first()
    if row is None:
        return None
    found = _included(row)
    return found if found.view is not None else None


def block_transactions(height: int) -> list[Included]:
    """The block's transactions that have a Solana form, in block order."""
    rows = m.Transaction.objects.filter(block_id=height, opcode__in=SHOWN_OPCODES).order_by("position")
    out = [_included(r) for r in rows.values_list(*_FIELDS).iterator(chunk_size=500)]
    return [t for t in out if t.view is not None]


def by_envelope_ids(ids: Iterable[bytes]) -> dict[bytes, Included]:
    rows = m.Transaction.objects.filter(envelope_id__in=list(ids), opcode__in=SHOWN_OPCODES).values_list(*_FIELDS)
    found = (_included(r) for r in rows)
    return {t.envelope_id: t for t in found if t.view is not None}


# -- the Solana view of one transaction -------------------------------------------------------------
@dataclass
class SolanaTx:
    signatures: list[bytes]
    message: Message
    fee: int
    pre: list[int]
    post: list[int]
    token_pre: list[TokenBalance]
    token_post: list[TokenBalance]
    logs: list[str]
    units: int
    err: Any  # Solana's TransactionError value, None on success
    return_data: tuple[bytes, bytes] | None = None
    wire: bytes | None = None  # the transaction's own bytes (a 0x20 envelope's body)

    @property
    def signature(self) -> bytes:
        return self.signatures[0]

    def wire_bytes(self) -> bytes:
        """What the transaction is on Solana's wire (rebuilt with its native signature where it has no other)."""
        if self.wire is not None:
            return self.wire
        return shortvec(len(self.signatures)) + b"".join(self.signatures) + encode_message(self.message)


def solana_err(receipt: Receipt) -> Any:
    """The receipt's failure as Solana's TransactionError value (None for success)."""
    return None if receipt.success else solana_err_of(receipt.code)


def solana_err_of(code: str) -> Any:
    """An SVM receipt's or refusal's code as Solana's TransactionError value. A code that is none (the engine
    failed unexpectedly) shows as the first instruction's GenericError."""
    err = err_of(code) if code else "GenericError"
    if isinstance(err, str) and not hasattr(TransactionErrorFieldless, err):
        return {"InstructionError": [0, "GenericError"]}
    return err


def err_text(err: Any, message: str) -> str:
    """Solana's Display of a TransactionError (the engine's message may carry a detail after it)."""
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        return InstructionFailed(index, inner).message
    return message


def solana_view(t: Included) -> SolanaTx | None:
    op = t.envelope[0] if t.envelope else 0
    if op in (RAW_TX, ACE_CALL):
        stx: SvmTx = _decoder.decode(t.envelope).body  # type: ignore[assignment]
        return _svm_view(t, stx)
    if op == native.TRANSFER:
        return _native_transfer_view(t)
    return None


def _svm_view(t: Included, stx: SvmTx) -> SolanaTx:
    r = t.receipt
    n = len(stx.message.keys)
    try:
        out = SvmOutput.decode(r.output)
    except ValueError:  # refused before it ran (its blockhash expired on the way): nothing was charged or read
        out = SvmOutput([0] * n, [0] * n)
    if stx.tx is not None:
        signatures, wire = list(stx.tx.signatures), stx.tx.raw
    else:
        assert stx.ace is not None
        signatures, wire = [native_signature(t.envelope_id), *stx.ace.signatures], None
    logs = [line.decode("utf-8", "replace") for line in r.logs]
    return SolanaTx(
        signatures, stx.message, r.fee, out.pre, out.post, out.token_pre, out.token_post, logs, r.gas_used, solana_err(r),
        out.return_data, wire,
    )  # fmt: skip


def svm_pubkey(id_com: bytes) -> bytes:
    """The pubkey an identity is known by in the SVM: a Solana wallet's own, else its derived SVM address."""
    found = m.AddressIndex.objects.filter(tag="svm", id_com=id_com).values_list("address", flat=True).first()
    return vm_address(id_com, "svm") if found is None else bytes(found)


def _identity_of_ref(ref: native.Ref) -> bytes:
    if ref.kind == native.REF_ID_COM:
        return ref.data
    tag = ref.tag or ""
    found = m.AddressIndex.objects.filter(tag=tag, address=ref.data).values_list("id_com", flat=True).first()
    return legacy_id_com(tag, ref.data) if found is None else bytes(found)


def _native_transfer_view(t: Included) -> SolanaTx | None:
    ntx = native.decode(t.envelope)
    p = ntx.payload
    if p["mint"] != NATIVE_MINT:
        return None
    to: native.Ref = p["to"]  # type: ignore[assignment]
    receiver = _identity_of_ref(to)
    source_key = svm_pubkey(ntx.signer)
    dest_key = to.data if to.kind == native.REF_SVM else svm_pubkey(receiver)
    keys = [source_key] + ([dest_key] if dest_key != source_key else []) + [SYSTEM_PROGRAM]
    ids = [ntx.signer] + ([receiver] if dest_key != source_key else [])
    amount: int = p["amount"]  # type: ignore[assignment]
    transfer = Instruction(len(keys) - 1, (0, len(ids) - 1), struct.pack("<IQ", 2, amount))
    message = Message(None, 1, 0, 1, tuple(keys), t.parent_hash, (transfer,))
    message = replace(message, raw=encode_message(message))
    changes = {key: (old, new) for key, old, new in decode_diff(t.diff)}
    state = State(SqlEntries())
    pre, post = [], []
    for who in ids:
        slot = balance_slot(NATIVE_MINT, who)
        if slot in changes:
            old, new = changes[slot]
            pre.append(amount_of(old))
            post.append(amount_of(new))
        else:  # the transaction did not change it (a failed transfer's receiver): its balance now
            pre.append(balance(state, NATIVE_MINT, who))
            post.append(pre[-1])
    pre.append(1)  # the System program's one lamport
    post.append(1)
    r = t.receipt
    program = b58(SYSTEM_PROGRAM)
    logs = [f"Program {program} invoke [1]"]
    logs.append(f"Program {program} success" if r.success else f"Program {program} failed: {r.message or r.code}")
    err = None if r.success else {"InstructionError": [0, "GenericError"]}
    units = SYSTEM_TRANSFER_CU if r.success else 0
    return SolanaTx([native_signature(t.envelope_id)], message, r.fee, pre, post, [], [], logs, units, err)


# -- JSON ---------------------------------------------------------------------------------------------
def version_of(view: SolanaTx, max_version: int | None) -> Any:
    """The transaction's version as getTransaction shows it; refuses a v0 one a legacy-only client asked for."""
    version = view.message.version
    if version is not None and (max_version is None or version > max_version):
        raise RpcError(
            UNSUPPORTED_TRANSACTION_VERSION,
            f"Transaction version ({version}) is not supported by the requesting client. Please try the request again "
            f'with the following configuration parameter: "maxSupportedTransactionVersion": {version}',
        )
    return "legacy" if version is None else version


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": amount / 10**decimals,
        "uiAmountString": ui_amount(amount, decimals),
    }


def _token_balance(b: TokenBalance) -> dict[str, Any]:
    return {
        "accountIndex": b.index,
        "mint": b58(b.mint),
        "owner": b58(b.owner),
        "programId": b58(TOKEN_PROGRAM),
        "uiTokenAmount": ui_token_amount(b.amount, b.decimals),
    }


def status_of(err: Any) -> dict[str, Any]:
    return {"Ok": None} if err is None else {"Err": err}


def meta_json(view: SolanaTx, parsed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "err": view.err,
        "status": status_of(view.err),
        "fee": view.fee,
        "preBalances": view.pre,
        "postBalances": view.post,
        "innerInstructions": [],  # cross-program invocations are not recorded on this node
        "logMessages": view.logs,
        "preTokenBalances": [_token_balance(b) for b in view.token_pre],
        "postTokenBalances": [_token_balance(b) for b in view.token_post],
        "rewards": [],
        "computeUnitsConsumed": view.units,
    }
    if not parsed:
        out["loadedAddresses"] = {"writable": [], "readonly": []}  # no address lookup tables here
    if view.return_data is not None:
        out["returnData"] = return_data_json(view.return_data)
    return out


def return_data_json(return_data: tuple[bytes, bytes]) -> dict[str, Any]:
    program, data = return_data
    return {"programId": b58(program), "data": [base64.b64encode(data).decode(), "base64"]}


def _header(msg: Message) -> dict[str, int]:
    return {
        "numRequiredSignatures": msg.required,
        "numReadonlySignedAccounts": msg.readonly_signed,
        "numReadonlyUnsignedAccounts": msg.readonly_unsigned,
    }


def _parsed_instruction(msg: Message, ix: Instruction) -> dict[str, Any]:
    """jsonParsed: System transfers and memos parsed as Agave parses them; any other instruction partially decoded."""
    program = msg.keys[ix.program_index]
    accounts = [msg.keys[a] for a in ix.accounts]
    if program == SYSTEM_PROGRAM and len(ix.data) == 12 and ix.data[:4] == b"\x02\x00\x00\x00" and len(accounts) >= 2:
        info = {"destination": b58(accounts[1]), "lamports": struct.unpack("<Q", ix.data[4:])[0], "source": b58(accounts[0])}
        return {"parsed": {"info": info, "type": "transfer"}, "program": "system", "programId": b58(program), "stackHeight": None}
    if program in (MEMO_PROGRAM, MEMO_V1_PROGRAM):
        try:
            text = ix.data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return {"parsed": text, "program": "spl-memo", "programId": b58(program), "stackHeight": None}
    return {"accounts": [b58(a) for a in accounts], "data": b58(ix.data), "programId": b58(program), "stackHeight": None}


def message_json(msg: Message, parsed: bool) -> dict[str, Any]:
    out: dict[str, Any]
    if parsed:
        keys = [
            {"pubkey": b58(k), "signer": msg.is_signer(i), "source": "transaction", "writable": msg.is_writable(i)}
            for i, k in enumerate(msg.keys)
        ]
        out = {"accountKeys": keys, "recentBlockhash": b58(msg.blockhash)}
        out["instructions"] = [_parsed_instruction(msg, ix) for ix in msg.instructions]
    else:
        out = {"accountKeys": [b58(k) for k in msg.keys], "header": _header(msg), "recentBlockhash": b58(msg.blockhash)}
        out["instructions"] = [
            {"programIdIndex": ix.program_index, "accounts": list(ix.accounts), "data": b58(ix.data), "stackHeight": None}
            for ix in msg.instructions
        ]
    if msg.version is not None:
        out["addressTableLookups"] = []
    return out


def transaction_json(view: SolanaTx, encoding: str) -> Any:
    """The `transaction` member of an encoded transaction with status meta."""
    if encoding in ("json", "jsonParsed"):
        return {"signatures": [b58(s) for s in view.signatures], "message": message_json(view.message, encoding == "jsonParsed")}
    wire = view.wire_bytes()
    if encoding == "binary":  # the legacy form: a bare base58 string
        return b58(wire)
    return [b58(wire) if encoding == "base58" else base64.b64encode(wire).decode(), encoding]


def with_meta(view: SolanaTx, encoding: str, max_version: int | None) -> dict[str, Any]:
    version = version_of(view, max_version)
    out: dict[str, Any] = {"transaction": transaction_json(view, encoding), "meta": meta_json(view, encoding == "jsonParsed")}
    if max_version is not None:
        out["version"] = version
    return out


def accounts_json(view: SolanaTx, max_version: int | None) -> dict[str, Any]:
    """getBlock's transactionDetails "accounts": the signatures, the account keys and a short meta."""
    version = version_of(view, max_version)
    msg = view.message
    keys = [
        {"pubkey": b58(k), "signer": msg.is_signer(i), "source": "transaction", "writable": msg.is_writable(i)}
        for i, k in enumerate(msg.keys)
    ]
    meta = meta_json(view)
    short = {k: meta[k] for k in ("err", "status", "fee", "preBalances", "postBalances", "preTokenBalances", "postTokenBalances")}
    out: dict[str, Any] = {"transaction": {"signatures": [b58(s) for s in view.signatures], "accountKeys": keys}, "meta": short}
    if max_version is not None:
        out["version"] = version
    return out


def memo_of(view: SolanaTx) -> str | None:
    """getSignaturesForAddress's memo: each memo instruction as `[len] text`, joined by "; " (as Agave writes it)."""
    memos = []
    for ix in view.message.instructions:
        if view.message.keys[ix.program_index] in (MEMO_PROGRAM, MEMO_V1_PROGRAM):
            memos.append(f"[{len(ix.data)}] {ix.data.decode('utf-8', 'replace')}")
    return "; ".join(memos) or None
