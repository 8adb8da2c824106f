"""A raw signed transaction pasted by a person: which chain's it is, its envelope (SPEC §1: base+0 of
that chain's VM carries it byte-exact), and a dry run of it against the committed state.

Recognition reads the wire formats' structure, whole and exactly (every byte accounted for):
- Ethereum: a legacy RLP list, or an EIP-2718 typed transaction (type 1–4 then an RLP list);
- Bitcoin: the serialized transaction (with or without the segwit marker);
- Tron: the protobuf `Transaction` (raw_data with a contract, signatures), or TronLink's JSON of it;
- Solana: the wire format (signatures, then a legacy or v0 message);
- an n-VM envelope (what our own wallet prints), for an engine this node runs.
Text may be hex (0x optional), base58 or base64. Nothing here trusts what it reads: recognising is
only the first step, admission (signatures, nonces, funds) is the engine's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
import time
from dataclasses import dataclass, field

import base58
import rlp

from chain.address import svm_text, tron_text
from chain.dispatcher import VM_RANGES, Receipt, Registry, Tx, execute_tx
from chain.errors import AdmissionError
from chain.ledger import FEE_COLLECTOR, MintRecord, amount_of, balance_slot, sun_text, ui_amount
from chain.node import chain_id_of, parties_of
from chain.state import Diff, State
from chain.store import models as m
from chain.store.sql import SqlEntries, recent_hashes

MAX_TEXT = 2 * 128 * 1024 + 2  # hex of the largest envelope the APIs take
# Base58 is what Solana wallets give, for a transaction of at most 1,232 bytes (Solana's packet); longer text is
# not read as base58 at all — decoding it costs time quadratic in its length (half a minute for 256 KiB).
MAX_BASE58 = 2_048
MIN_TX = 32  # bytes: no chain's signed transaction is shorter (a refusal then says so rather than list every reading)
DRY_RUN_TIMEOUT_S = 5.0  # as eth_call's (geth's RPCEVMTimeout)

CHAIN_TITLES = {"ethereum": "Ethereum", "solana": "Solana", "bitcoin": "Bitcoin", "tron": "Tron", "nvm": "n-VM envelope"}
# Ethereum typed transactions: type -> number of RLP fields (EIP-2930, EIP-1559, EIP-4844, EIP-7702)
ETH_TYPED_FIELDS = {1: 11, 2: 12, 3: 14, 4: 13}
TRON_CONTRACTS = {1: "TransferContract", 2: "TransferAssetContract", 30: "CreateSmartContract", 31: "TriggerSmartContract"}


class Unrecognised(ValueError):
    """Nothing in the text is a transaction we know; `tried` says what each reading found."""

    def __init__(self, message: str, tried: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.tried = tried


NATIVE_ID_LABEL = {"evm": "Ethereum hash", "svm": "Solana signature", "bvm": "Bitcoin txid", "tvm": "Tron txid"}


def native_id_text(vm: str | None, raw: bytes) -> str:
    """A transaction id written as its own chain writes it: a Solana signature in base58, a Bitcoin or Tron txid as
    bare hex, an Ethereum hash (and an n-VM envelope id) as 0x-hex."""
    if vm == "svm":
        return base58.b58encode(raw).decode()
    if vm in ("bvm", "tvm"):
        return raw.hex()
    return "0x" + raw.hex()


@dataclass
class Recognised:
    chain: str  # ethereum | solana | bitcoin | tron | nvm
    encoding: str  # hex | base58 | base64 | json
    raw: bytes  # the chain's own bytes
    envelope: bytes
    native_id: bytes | None = None  # the id the source chain knows it by
    summary: list[tuple[str, str]] = field(default_factory=list)  # the structure, for chains without an engine here

    @property
    def vm(self) -> str:
        op = self.envelope[0]
        return next((vm for vm, (lo, hi) in VM_RANGES.items() if lo <= op <= hi), "unknown")

    @property
    def title(self) -> str:
        return CHAIN_TITLES[self.chain]


# -- reading text ------------------------------------------------------------------------------------
def _readings(text: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    t = "".join(text.split())
    hex_text = t[2:] if t[:2].lower() == "0x" else t
    try:
        out.append(("hex", bytes.fromhex(hex_text)))
    except ValueError:
        pass
    if not t.startswith("0x"):
        try:
            if len(t) <= MAX_BASE58:
                out.append(("base58", base58.b58decode(t)))
        except ValueError:
            pass
        try:
            padded = t + "=" * (-len(t) % 4)
            out.append(("base64", base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)))
        except (binascii.Error, ValueError):
            pass
    return [(name, raw) for name, raw in out if raw]


def recognise(text: str, registry: Registry) -> Recognised:
    """The transaction in `text`, or Unrecognised saying what each reading of it looked like."""
    t = text.strip()
    if not t:
        raise Unrecognised("Paste a raw signed transaction: hex, base58, base64 or TronLink JSON.", [])
    if len(t) > MAX_TEXT:
        raise Unrecognised(f"That is {len(t):,} characters; a transaction is at most 128 KiB.", [])
    if t.startswith("{"):
        return _tron_json(t)
    readings = _readings(t)
    if not readings:
        raise Unrecognised("This is not hex, base58 or base64 text.", [])
    tried: list[str] = []
    for encoding, raw in readings:
        for parse in (_ethereum, _bitcoin, _tron, _solana):
            try:
                found = parse(raw)
            except RecursionError:  # RLP lists nested thousands deep: the decoder recurses once a level
                tried.append(f"{encoding} ({len(raw)} bytes) as {parse.__name__[1:]}: nested thousands of levels deep")
                continue
            except (ValueError, IndexError, struct.error, rlp.exceptions.RLPException) as e:
                tried.append(f"{encoding} ({len(raw)} bytes) as {parse.__name__[1:]}: {e}")
                continue
            found.encoding = encoding
            return found
        if encoding == "hex":
            try:
                return _envelope(raw, registry)
            except (AdmissionError, ValueError) as e:
                tried.append(f"hex ({len(raw)} bytes) as an n-VM envelope: {e}")
    names = " or ".join(dict.fromkeys(e for e, _ in readings))
    longest = max(len(raw) for _, raw in readings)
    if longest < MIN_TX:
        raise Unrecognised(f"This is too short for a signed transaction: {longest} bytes read as {names}.", tried)
    raise Unrecognised(
        f"Read as {names}, this is not an Ethereum, Solana, Bitcoin or Tron transaction, nor an n-VM envelope.", tried
    )


# -- Ethereum ------------------------------------------------------------------------------------------
def _ethereum(raw: bytes) -> Recognised:
    if raw[0] >= 0xC0:
        items = rlp.decode(raw, strict=True)
        if not isinstance(items, list) or len(items) != 9:
            raise ValueError("an RLP list, but not the 9 fields of a legacy transaction")
        kind = "legacy"
    elif raw[0] in ETH_TYPED_FIELDS:
        items = rlp.decode(raw[1:], strict=True)
        if not isinstance(items, list) or len(items) != ETH_TYPED_FIELDS[raw[0]]:
            raise ValueError(f"type {raw[0]} but not its {ETH_TYPED_FIELDS[raw[0]]} RLP fields")
        kind = f"type {raw[0]}"
    else:
        raise ValueError(f"starts with 0x{raw[0]:02x}: neither an RLP list nor a transaction type 1–4")
    keccak = _keccak(raw)
    return Recognised(
        "ethereum", "", raw, bytes([VM_RANGES["evm"][0]]) + raw, keccak, [("Transaction", kind), ("Hash", "0x" + keccak.hex())]
    )


def _keccak(data: bytes) -> bytes:
    from eth_hash.auto import keccak

    return keccak(data)


# -- Bitcoin -------------------------------------------------------------------------------------------
class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"ends early: needs {n} more bytes at offset {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def compact_size(self) -> int:  # Bitcoin's CompactSize
        first = self.u8()
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        return int.from_bytes(self.take(size), "little")

    def varint(self) -> int:  # protobuf
        value = 0
        for i in range(10):
            byte = self.u8()
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                return value
        raise ValueError("a protobuf varint longer than 10 bytes")

    def done(self, what: str) -> None:
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} bytes left over after the {what}")


def _bitcoin(raw: bytes) -> Recognised:
    c = _Cursor(raw)
    version = int.from_bytes(c.take(4), "little", signed=True)
    segwit = raw[4:6] == b"\x00\x01"
    if segwit:
        c.take(2)
    start_ins = c.pos
    n_in = c.compact_size()
    if n_in == 0 or n_in > len(raw) // 41:
        raise ValueError(f"{n_in} inputs")
    inputs = []
    for _ in range(n_in):
        txid, vout = c.take(32)[::-1], int.from_bytes(c.take(4), "little")
        c.take(c.compact_size())
        c.take(4)
        inputs.append(f"{txid.hex()}:{vout}")
    n_out = c.compact_size()
    if n_out == 0 or n_out > len(raw) // 9:
        raise ValueError(f"{n_out} outputs")
    outputs = []
    for _ in range(n_out):
        value = int.from_bytes(c.take(8), "little")
        script = c.take(c.compact_size())
        outputs.append((value, script))
    end_outs = c.pos
    if segwit:
        for _ in range(n_in):
            for _ in range(c.compact_size()):
                c.take(c.compact_size())
    locktime = c.take(4)
    c.done("locktime")
    stripped = raw[:4] + raw[start_ins:end_outs] + locktime
    txid = hashlib.sha256(hashlib.sha256(stripped).digest()).digest()[::-1]
    from chain.address import btc_script_text

    summary = [("Txid", txid.hex()), ("Version", str(version)), ("Segwit", "yes" if segwit else "no")]
    summary += [(f"Input {i}", outpoint) for i, outpoint in enumerate(inputs)]
    for i, (value, script) in enumerate(outputs):
        to = btc_script_text(script) or f"script {script.hex()}"
        summary.append((f"Output {i}", f"{value:,} sats ({value / 10**8:.8f} BTC) to {to}"))
    summary.append(("Locktime", str(int.from_bytes(locktime, "little"))))
    return Recognised("bitcoin", "", raw, bytes([VM_RANGES["bvm"][0]]) + raw, txid, summary)


# -- Tron ----------------------------------------------------------------------------------------------
def _proto_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    c = _Cursor(data)
    out: list[tuple[int, int | bytes]] = []
    while c.pos < len(data):
        key = c.varint()
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("protobuf field number 0")
        if wire == 0:
            out.append((number, c.varint()))
        elif wire == 2:
            out.append((number, c.take(c.varint())))
        elif wire == 1:
            out.append((number, int.from_bytes(c.take(8), "little")))
        elif wire == 5:
            out.append((number, int.from_bytes(c.take(4), "little")))
        else:
            raise ValueError(f"protobuf wire type {wire}")
    return out


def _tron(raw: bytes) -> Recognised:
    if raw[0] != 0x0A:
        raise ValueError("does not start with raw_data (protobuf field 1)")
    top = _proto_fields(raw)
    raw_data = [v for n, v in top if n == 1]
    sigs = [v for n, v in top if n == 2]
    if len(raw_data) != 1 or not isinstance(raw_data[0], bytes) or any(n not in (1, 2, 5) for n, _ in top):
        raise ValueError("not a Transaction {raw_data, signature, ret}")
    body = _proto_fields(raw_data[0])
    contracts = [v for n, v in body if n == 11 and isinstance(v, bytes)]
    if len(contracts) != 1:
        raise ValueError("raw_data holds no contract")
    contract = dict(_proto_fields(contracts[0]))
    kind = contract.get(1, 0)
    txid = hashlib.sha256(raw_data[0]).digest()
    summary = [("Txid", txid.hex()), ("Contract", TRON_CONTRACTS.get(kind, f"type {kind}")), ("Signatures", str(len(sigs)))]
    param = contract.get(2)
    if isinstance(param, bytes):
        value = dict(_proto_fields(param)).get(2)
        if isinstance(value, bytes):
            inner = dict(_proto_fields(value))
            for number, label in ((1, "Owner"), (2, "To" if kind == 1 else "Contract")):
                address = inner.get(number)
                if isinstance(address, bytes) and len(address) == 21:
                    summary.append((label, tron_text(address)))
            amount = inner.get(3)
            if isinstance(amount, int):
                summary.append(("Amount" if kind == 1 else "Call value", sun_text(amount)))
    for number, label in ((8, "Expiration"), (18, "Fee limit")):
        v = dict(body).get(number)
        if isinstance(v, int):
            summary.append((label, f"{v:,} ms" if number == 8 else f"{v:,} sun"))
    return Recognised("tron", "", raw, bytes([VM_RANGES["tvm"][0]]) + raw, txid, summary)


def _tron_json(text: str) -> Recognised:
    """A signed Tron transaction as JSON: TronLink's {"txID", "raw_data_hex", "signature": [...]}, or tronpy's
    `to_json()` {"txID", "raw_data": {...}, "signature": [...]} (its raw_data serialised as java-tron does)."""
    from rpc.tron.codec import raw_data_bytes  # its RequestError is a ValueError

    try:
        obj = json.loads(text)
        if "raw_data_hex" in obj:
            raw_data = bytes.fromhex(obj["raw_data_hex"])
        else:
            raw_data = raw_data_bytes(obj["raw_data"], bool(obj.get("visible")))
        sigs = [bytes.fromhex(s) for s in obj.get("signature") or []]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise Unrecognised(
            'JSON, but not a signed Tron transaction ({"raw_data_hex" or "raw_data": …, "signature": ["…"]}).',
            [f"json: {e}"],
        ) from None

    def field_bytes(number: int, value: bytes) -> bytes:
        return bytes([number << 3 | 2]) + _varint(len(value)) + value

    raw = field_bytes(1, raw_data) + b"".join(field_bytes(2, s) for s in sigs)
    try:
        found = _tron(raw)
    except (ValueError, IndexError) as e:
        raise Unrecognised("JSON with raw_data_hex, but its raw_data is not a Tron transaction.", [f"json: {e}"]) from None
    found.encoding = "json"
    return found


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# -- Solana --------------------------------------------------------------------------------------------
def _solana(raw: bytes) -> Recognised:
    from engines.svm.engine import describe_instruction
    from engines.svm.errors import SvmError
    from engines.svm.wire import read

    try:
        tx = read(raw)
    except SvmError as e:
        raise ValueError(e.message) from None
    m = tx.message
    version = "legacy" if m.version is None else f"v{m.version}"
    summary = [
        ("Signature", tx.id_text),
        ("Message", version + (f", {len(m.lookups)} address table lookups" if m.lookups else "")),
        ("Fee payer", svm_text(m.keys[0]) if m.keys else "none"),
        ("Recent blockhash", base58.b58encode(m.blockhash).decode()),
    ]
    for i, ix in enumerate(m.instructions):
        if ix.program_index >= len(m.keys):
            summary.append((f"Instruction {i}", f"program from a lookup table (index {ix.program_index})"))
            continue
        accounts = [m.keys[a] if a < len(m.keys) else bytes(32) for a in ix.accounts]
        summary.append((f"Instruction {i}", describe_instruction(m.keys[ix.program_index], ix.data, accounts)))
    return Recognised("solana", "", raw, bytes([VM_RANGES["svm"][0]]) + raw, tx.signature, summary)


# -- our own envelopes -------------------------------------------------------------------------------
def _envelope(raw: bytes, registry: Registry) -> Recognised:
    engine = registry.route(raw)
    engine.decode(raw)
    return Recognised("nvm", "hex", raw, raw, None, [("Opcode", f"0x{raw[0]:02x} ({engine.name})")])


# -- the dry run ----------------------------------------------------------------------------------------
@dataclass
class DryRun:
    """What the node would do with the transaction now: refuse it at admission (`refused`), or run it
    in the next block with `receipt` and `diff` (nothing written)."""

    tx: Tx | None = None
    refused: AdmissionError | None = None
    receipt: Receipt | None = None
    diff: Diff = field(default_factory=list)
    parties: tuple[bytes, ...] = ()
    included_at: tuple[int, int] | None = None  # (height, position) if it is already in a block
    pending: bool = False
    stopped: str | None = None  # the dry run gave up (took too long): nothing is known of the outcome


def dry_run(envelope: bytes, registry: Registry) -> DryRun:
    """Admit (signatures, nonce, funds: exactly what submitting checks) and execute over a throw-away
    overlay of the committed state, as the next block would."""
    from engines.evm.engine import EvmEngine
    from rpc.eth.simulate import timed_engine
    from rpc.vmcall import CallTimeout, ReadOnce, next_block_context

    entries = ReadOnce(SqlEntries())
    state = State(entries)
    try:
        tx = registry.admit(envelope, state, chain_id_of(entries), recent_hashes())
    except AdmissionError as e:
        return DryRun(refused=e)
    done = m.Transaction.objects.filter(envelope_id=tx.envelope_id).values_list("block_id", "position").first()
    if done is not None:
        return DryRun(tx, included_at=(done[0], done[1]))
    ctx = next_block_context(entries)
    engine = registry.route(envelope)
    if isinstance(engine, EvmEngine):  # a web request's budget, as eth_call's
        engine = timed_engine(engine, time.monotonic() + DRY_RUN_TIMEOUT_S)
    state.begin_tx()
    try:
        receipt = execute_tx(engine, tx, state, ctx)
    except CallTimeout:
        return DryRun(tx, stopped=f"it ran longer than {DRY_RUN_TIMEOUT_S:g} s (a dry run's budget, as eth_call's)")
    diff = state.end_tx()
    pending = m.MempoolEntry.objects.filter(envelope_id=tx.envelope_id).exists()
    return DryRun(tx, receipt=receipt, diff=diff, parties=parties_of(state.notes, 0), pending=pending)


@dataclass
class BalanceChange:
    id_com: bytes
    mint: bytes
    symbol: str
    decimals: int
    old: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.old

    @property
    def delta_text(self) -> str:
        sign = "+" if self.delta > 0 else "−" if self.delta < 0 else ""
        return f"{sign}{ui_amount(abs(self.delta), self.decimals)} {self.symbol}"


def balance_changes(run: DryRun, known: dict[bytes, MintRecord]) -> list[BalanceChange]:
    """The balance slots the run wrote, for every identity it wrote to (the fee collector included)."""
    people = [*run.parties, FEE_COLLECTOR]
    if run.tx is not None and run.tx.sender and len(run.tx.sender) == 32:
        people.append(run.tx.sender)
    slots = {balance_slot(mint, who): (who, mint) for who in dict.fromkeys(people) for mint in known}
    out = []
    for key, old, new in run.diff:
        if key in slots:
            who, mint = slots[key]
            rec = known[mint]
            before, after = amount_of(old), amount_of(new)
            out.append(BalanceChange(who, mint, rec.symbol, rec.decimals, before, after))
    return out
