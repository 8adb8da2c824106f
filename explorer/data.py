"""What the explorer's pages show, read from the SQL store: blocks, transactions (decoded by their
engine, with a state diff in words), identities and mints. Views only format it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import base58
from eth_hash.auto import keccak

from chain import auth
from chain.accounts import TAGS, derived_addresses
from chain.address import tron_text
from chain.blocks import Header
from chain.dispatcher import VM_TITLES, Field, Receipt, Tx
from chain.errors import AdmissionError
from chain.identity import erc20_address
from chain.ledger import (
    FEE_COLLECTOR,
    MintRecord,
    allowance_slot,
    amount_of,
    balance_slot,
    dust_slot,
    erc20_map_slot,
    mint_slot,
)
from chain.node import decode_diff
from chain.state import reverse_index_key
from chain.store import models as m
from chain.store.sql import SqlEntries
from engines.evm.accounts import (
    account_key,
    code_hash_key,
    code_key,
    generation_key,
    nonce_key,
    slot_count_key,
    storage_key,
)
from nvmsite.node import web_registry
from rpc.rawtx import NATIVE_ID_LABEL, native_id_text

PER_PAGE = 25


def vm_of(opcode: int) -> str:
    from rpc.native.views import vm_of as range_of

    return range_of(opcode) or "unknown"


registry = web_registry  # the same engines the APIs admit with


def mints() -> dict[bytes, MintRecord]:
    from rpc.native.identity import mint_records

    return mint_records()


# -- blocks ------------------------------------------------------------------------------------
@dataclass
class BlockSummary:
    height: int
    hash: bytes
    timestamp_ms: int
    tx_count: int
    header: Header
    schedule: dict[str, Any] | None = None


def block_summary(row: m.Block) -> BlockSummary:
    schedule = json.loads(row.schedule) if row.schedule else None
    return BlockSummary(row.height, bytes(row.hash), row.timestamp_ms, row.tx_count, Header.decode(bytes(row.header)), schedule)


def latest_blocks(offset: int, limit: int) -> list[BlockSummary]:
    return [block_summary(r) for r in m.Block.objects.order_by("-height")[offset : offset + limit]]


def block_count() -> int:
    top = m.Block.objects.order_by("-height").values_list("height", flat=True).first()
    return 0 if top is None else top + 1


def find_block(ref: str) -> BlockSummary | None:
    text = ref.strip().lower()
    if text.isascii() and text.isdigit():  # str.isdigit() alone takes "²", which int() refuses
        row = m.Block.objects.filter(height=int(text)).first()
    else:
        raw = hex_bytes(text, 32)
        row = None if raw is None else m.Block.objects.filter(hash=raw).first()
    return None if row is None else block_summary(row)


# -- transactions ------------------------------------------------------------------------------
@dataclass
class TxSummary:
    id: bytes
    height: int
    position: int
    vm: str
    title: str
    success: bool
    code: str
    fee: int
    exec_us: int | None = None
    native: str | None = None  # the id its own chain knows it by (what the wallet showed), written that chain's way


STORAGE_SLOTS = 16  # a contract's first slots, which a diff names (its simple variables and mappings)
RAW_CHAIN_VMS = ("evm", "svm", "bvm", "tvm")  # their transactions' first id is the one their wallets show


def tx_summaries(rows: Any) -> list[TxSummary]:
    out = []
    for r in rows:
        receipt = Receipt.decode(bytes(r.receipt))
        envelope_id, vm = bytes(r.envelope_id), vm_of(r.opcode)
        title, native = _title(bytes(r.envelope))
        out.append(
            TxSummary(
                envelope_id,
                r.block_id,
                r.position,
                vm,
                title,
                receipt.success,
                receipt.code,
                receipt.fee,
                r.exec_us,
                native_id_text(vm, native) if native is not None and vm in RAW_CHAIN_VMS else None,
            )
        )
    return out


def latest_txs(offset: int, limit: int) -> list[TxSummary]:
    rows = m.Transaction.objects.order_by("-block_id", "-position")[offset : offset + limit]
    return tx_summaries(rows)


def block_txs(height: int, offset: int, limit: int) -> list[TxSummary]:
    return tx_summaries(m.Transaction.objects.filter(block_id=height).order_by("position")[offset : offset + limit])


def identity_txs(id_com: bytes, offset: int, limit: int) -> tuple[list[TxSummary], bool]:
    """Newest first; and whether there are more."""
    ids = list(
        m.TxParty.objects.filter(id_com=id_com)
        .order_by("-height", "-position")
        .values_list("envelope_id", flat=True)[offset : offset + limit + 1]
    )
    more = len(ids) > limit
    rows = {bytes(r.envelope_id): r for r in m.Transaction.objects.filter(envelope_id__in=[bytes(i) for i in ids[:limit]])}
    return tx_summaries(rows[bytes(i)] for i in ids[:limit] if bytes(i) in rows), more


def _decode(envelope: bytes) -> Tx | None:
    try:
        return registry().route(envelope).decode(envelope)
    except (AdmissionError, ValueError):
        return None


def _title(envelope: bytes) -> tuple[str, bytes | None]:
    """What the transaction is, in a few words, and its first id (its chain's own, for a raw transaction)."""
    tx = _decode(envelope)
    if tx is None:
        return "undecodable", None
    describe = getattr(registry().route(envelope), "describe", None)
    title = describe(tx)[0] if describe is not None else VM_TITLES.get(vm_of(envelope[0]), "transaction")
    return title, tx.ids[0] if tx.ids else None


@dataclass
class DiffLine:
    key: bytes
    meaning: str
    old: str
    new: str
    id_com: bytes | None = None


@dataclass
class TxDetail:
    id: bytes
    ids: list[bytes]
    height: int
    position: int
    vm: str
    vm_title: str
    title: str
    fields: list[Field]
    receipt: Receipt
    envelope: bytes
    context: bytes | None
    diff: list[DiffLine]
    logs: list[dict[str, Any]]
    parties: list[bytes] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)  # a Solana transaction's program log
    balances: list[dict[str, Any]] = field(default_factory=list)  # a Solana transaction's accounts, before and after
    coins: dict[str, Any] | None = None  # a Bitcoin transaction's spent coins and paid outputs
    created: bytes | None = None  # the contract an EVM creation made

    @property
    def native_id_text(self) -> list[tuple[str, str]]:
        """The ids the transaction's own chain knows it by, labelled and written that chain's way."""
        if self.vm == "bvm":
            return list(zip(("Bitcoin txid", "Bitcoin wtxid"), (native_id_text("bvm", a) for a in self.ids), strict=False))
        return [(NATIVE_ID_LABEL.get(self.vm, "Native id"), native_id_text(self.vm, a)) for a in self.ids]


def find_tx(ref: str) -> m.Transaction | None:
    """By envelope id or native id, in hex — or a Solana signature in base58."""
    raw = hex_bytes(ref.strip(), None)
    if raw is None:
        raw = solana_signature(ref)
    if raw is None:
        return None
    row = m.Transaction.objects.filter(envelope_id=raw).first()
    if row is None:
        alias = m.TxAlias.objects.filter(alias=raw).values_list("tx_id", flat=True).first()
        row = None if alias is None else m.Transaction.objects.filter(envelope_id=alias).first()
    return row


def tx_detail(row: m.Transaction) -> TxDetail:
    envelope = bytes(row.envelope)
    vm = vm_of(row.opcode)
    tx = _decode(envelope)
    title, fields = "undecodable envelope", []
    if tx is not None:
        describe = getattr(registry().route(envelope), "describe", None)
        if describe is not None:
            title, fields = describe(tx)
    receipt = Receipt.decode(bytes(row.receipt))
    parties = [bytes(p) for p in m.TxParty.objects.filter(envelope_id=row.envelope_id).values_list("id_com", flat=True)]
    svm = vm == "svm"
    logs = [] if svm else [_log(raw, vm) for raw in receipt.logs]
    created = created_contract(tx, receipt) if vm == "evm" else None
    # the EVM accounts it touched besides those its fields name: the contract it created, those that logged, the
    # addresses its logs' topics name (an ERC-20 Transfer's recipient)
    contracts = [created] if created else []
    evm_logs = [log for log in logs if vm == "evm" and isinstance(log.get("address"), bytes)]
    contracts += [log["address"] for log in evm_logs]
    holders = [t[12:] for log in evm_logs for t in log["topics"][1:] if len(t) == 32 and not any(t[:12])]
    diff = explain_diff(
        decode_diff(bytes(row.diff)),
        parties + ([tx.sender] if tx is not None and tx.sender and len(tx.sender) == 32 else []),
        fields,
        contracts,
        holders,
    )
    lines = [raw.decode("utf-8", "replace") for raw in receipt.logs] if svm else []
    balances = _svm_balances(tx, receipt) if svm and tx is not None else []
    coins = _btc_coins(tx, receipt) if vm == "bvm" and tx is not None and receipt.success else None
    aliases = [bytes(a) for a in m.TxAlias.objects.filter(tx_id=row.envelope_id).values_list("alias", flat=True)]
    return TxDetail(
        bytes(row.envelope_id),
        aliases,
        row.block_id,
        row.position,
        vm,
        VM_TITLES.get(vm, vm),
        title,
        fields,
        receipt,
        envelope,
        None if row.context is None else bytes(row.context),
        diff,
        logs,
        parties=parties,
        log_lines=lines,
        balances=balances,
        coins=coins,
        created=created,
    )


def created_contract(tx: Any, receipt: Receipt) -> bytes | None:
    """The contract a successful EVM creation made: the engine puts its address in the receipt's output."""
    if tx is None or not receipt.success or tx.body.tx.to:
        return None
    return bytes(receipt.output)


def _btc_coins(tx: Any, receipt: Receipt) -> dict[str, Any] | None:
    """The coins a Bitcoin transaction spent (whose, which version, sats) and whom each output paid."""
    from chain.address import btc_script_text
    from chain.coins import coin_txid
    from engines.bvm.engine import decode_output

    try:
        spent, paid = decode_output(receipt.output)
    except (ValueError, IndexError):
        return None
    inputs = [
        {"coin": f"{coin_txid(who, version)[::-1].hex()}:0", "id_com": who, "sats": sats, "address": btc_script_text(script)}
        for who, version, sats, script in spent
    ]
    outputs = [
        {"id_com": who if any(who) else None, "sats": o.value, "address": btc_script_text(o.script_pubkey) or "(no address)"}
        for who, o in zip(paid, tx.body.tx.outputs, strict=False)
    ]
    return {"inputs": inputs, "outputs": outputs, "fee_sats": sum(i["sats"] for i in inputs) - sum(o["sats"] for o in outputs)}


def _svm_balances(tx: Any, receipt: Receipt) -> list[dict[str, Any]]:
    """Every account of a Solana transaction with its lamports (and tokens) before and after."""
    from engines.svm.receipt import SvmOutput

    try:
        out = SvmOutput.decode(receipt.output)
    except ValueError:
        return []
    m_ = tx.body.message
    rows = [
        {
            "pubkey": key,
            "signer": m_.is_signer(i),
            "writable": m_.is_writable(i),
            "pre": out.pre[i],
            "post": out.post[i],
            "delta": out.post[i] - out.pre[i],
            "tokens": [],
        }
        for i, key in enumerate(m_.keys)
        if i < len(out.pre)
    ]
    pre = {(b.index, b.mint): b for b in out.token_pre}
    for b in out.token_post:
        before = pre.pop((b.index, b.mint), None)
        if b.index < len(rows):
            was = before.amount if before else 0
            rows[b.index]["tokens"].append({"mint": b.mint, "decimals": b.decimals, "pre": was, "post": b.amount})
    for b in pre.values():
        if b.index < len(rows):
            rows[b.index]["tokens"].append({"mint": b.mint, "decimals": b.decimals, "pre": b.amount, "post": 0})
    return rows


def _log(raw: bytes, vm: str = "evm") -> dict[str, Any]:
    """An EVM-style log; in the TVM its emitter shown as the Tron address `T…` it is."""
    import rlp

    try:
        address, topics, data = rlp.decode(raw)
        emitter: bytes | str = tron_text(b"\x41" + bytes(address)) if vm == "tvm" else bytes(address)
        return {"address": emitter, "topics": [bytes(t) for t in topics], "data": bytes(data)}
    except Exception:
        return {"raw": raw}


# -- the state diff in words -------------------------------------------------------------------
def explain_diff(
    diff: list[tuple[bytes, bytes | None, bytes | None]],
    identities: list[bytes],
    fields: list[Field],
    contracts: Sequence[bytes] = (),
    holders: Sequence[bytes] = (),
) -> list[DiffLine]:
    """Every changed key with what it means where the keys it could be are known: balances, dust,
    nonces and keys of the identities involved, allowances between them, mints, the reverse index of
    their addresses, and EVM account records of the addresses the transaction names and of `contracts` — with
    their storage slots below STORAGE_SLOTS and the entries of those slots keyed by these addresses or `holders`
    (a Solidity `mapping(address => …)`, such as an ERC-20's balances). A storage key is a hash of its slot, so
    any other slot stays a hashed key."""
    known = mints()
    people = list(dict.fromkeys([*identities, FEE_COLLECTOR]))
    named = [bytes(f.value) for f in fields if f.kind == "address" and f.tag == "evm" and isinstance(f.value, bytes)]
    addresses = list(dict.fromkeys([*named, *contracts, *(erc20_address(x) for x in known)]))
    labels: dict[bytes, tuple[str, str, Any]] = {}
    for who in people:
        for mint, rec in known.items():
            labels[balance_slot(mint, who)] = ("balance", rec.symbol, (who, rec.decimals))
            for other in people:
                labels[allowance_slot(mint, who, other)] = ("allowance", rec.symbol, (who, other))
        labels[dust_slot(who)] = ("dust", "wei below one base unit", (who,))
        labels[auth.nonce_slot(who)] = ("nonce", "", (who,))
        labels[auth.auth_slot(who)] = ("keys", "", (who,))
        for tag, address in derived_addresses(who).items():
            labels[reverse_index_key(tag, address)] = ("binding", tag, (address,))
    for mint, rec in known.items():
        labels[mint_slot(mint)] = ("mint", rec.symbol, (mint,))
        labels[erc20_map_slot(erc20_address(mint))] = ("erc20map", rec.symbol, (mint,))
    for a in addresses:
        labels[account_key(a)] = ("evm-account", "exists", (a,))
        labels[nonce_key(a)] = ("evm-nonce", "", (a,))
        labels[code_key(a)] = ("evm-code", "", (a,))
        labels[code_hash_key(a)] = ("evm-codehash", "", (a,))
        for tag in TAGS:
            labels[reverse_index_key(tag, a)] = ("binding", tag, (a,))
    for a in dict.fromkeys([*named, *contracts]):
        generation = _generation(a, diff)
        labels[slot_count_key(a, generation)] = ("evm-slots", "", (a,))
        for slot in range(STORAGE_SLOTS):
            labels[storage_key(a, generation, slot)] = ("evm-storage", f"slot {slot}", (a,))
            for holder in dict.fromkeys([*named, *contracts, *holders]):
                entry = int.from_bytes(keccak(bytes(12) + holder + slot.to_bytes(32, "big")), "big")
                labels[storage_key(a, generation, entry)] = ("evm-storage", f"slot {slot}[0x{holder.hex()}]", (a,))
    out = []
    for key, old, new in diff:
        out.append(_line(key, old, new, labels.get(key)))
    return out


def _line(key: bytes, old: bytes | None, new: bytes | None, label: tuple[str, str, Any] | None) -> DiffLine:
    def raw(v: bytes | None) -> str:
        return "—" if v is None else "0x" + v.hex()

    if label is None:
        return DiffLine(key, "state entry (hashed key)", raw(old), raw(new))
    kind, what, args = label
    if kind == "balance":
        who, decimals = args
        return DiffLine(key, f"balance in {what}", _amount(old, decimals), _amount(new, decimals), who)
    if kind == "allowance":
        owner, spender = args
        return DiffLine(key, f"allowance in {what} to 0x{spender.hex()[:8]}…", _int(old), _int(new), owner)
    if kind == "dust":
        return DiffLine(key, "dust (wei below one base unit)", _int(old), _int(new), args[0])
    if kind == "nonce":
        return DiffLine(key, "native nonce", _int(old), _int(new), args[0])
    if kind == "keys":
        return DiffLine(key, "auth keys", raw(old), raw(new), args[0])
    if kind == "binding":
        return DiffLine(key, f"reverse index: {what} address 0x{args[0].hex()} →", raw(old), raw(new))
    if kind == "mint":
        return DiffLine(key, f"mint record of {what}", raw(old), raw(new))
    if kind == "erc20map":
        return DiffLine(key, f"ERC-20 address of {what}", raw(old), raw(new))
    if kind == "evm-nonce":
        return DiffLine(key, f"EVM nonce of 0x{args[0].hex()}", _int(old), _int(new))
    if kind == "evm-slots":
        return DiffLine(key, f"EVM storage slots in use by 0x{args[0].hex()}", _int(old), _int(new))
    if kind == "evm-storage":
        return DiffLine(key, f"EVM storage of 0x{args[0].hex()}, {what}", raw(old), raw(new))
    return DiffLine(key, f"EVM {kind[4:]} of 0x{args[0].hex()}", raw(old), raw(new))


def _generation(address: bytes, diff: list[tuple[bytes, bytes | None, bytes | None]]) -> int:
    """The storage generation an account's slots were written under (a re-created account starts a new one)."""
    key = generation_key(address)
    found = next((new for k, _old, new in diff if k == key), None)
    return int.from_bytes(found or SqlEntries().get(key) or b"", "big")


def _int(v: bytes | None) -> str:
    return "0" if v is None else str(int.from_bytes(v, "big"))


def _amount(v: bytes | None, decimals: int) -> str:
    from chain.ledger import ui_amount

    return ui_amount(amount_of(v), decimals)


def solana_signature(text: str) -> bytes | None:
    try:
        raw = base58.b58decode(text.strip())
    except ValueError:
        return None
    return raw if len(raw) == 64 else None


def hex_bytes(text: str, length: int | None) -> bytes | None:
    t = text[2:] if text[:2].lower() == "0x" else text
    try:
        raw = bytes.fromhex(t)
    except ValueError:
        return None
    if length is not None and len(raw) != length:
        return None
    return raw


def known_identity(id_com: bytes) -> bool:
    """Whether the chain knows the identity: it has an account, a balance of some mint, or an address bound to it."""
    keys = [auth.auth_slot(id_com)] + [balance_slot(mint, id_com) for mint in mints()]
    return m.AddressIndex.objects.filter(id_com=id_com).exists() or m.StateEntry.objects.filter(key__in=keys).exists()


def holders(mint: bytes, offset: int, limit: int) -> tuple[list[tuple[bytes, int]], bool]:
    """Identities holding the mint, largest first. Balance keys are hashes, so the candidates are the
    identities the node has seen: every bound identity (the reverse index's mirror)."""
    candidates = {bytes(i) for i in m.AddressIndex.objects.values_list("id_com", flat=True).distinct()[:100_000]}
    slots = {balance_slot(mint, who): who for who in candidates}
    found: list[tuple[bytes, int]] = []
    keys = list(slots)
    for i in range(0, len(keys), 5000):
        for k, v in m.StateEntry.objects.filter(key__in=keys[i : i + 5000]).values_list("key", "value"):
            amount = amount_of(bytes(v))
            if amount:  # a native balance's key stays at zero (it keeps the coin version)
                found.append((slots[bytes(k)], amount))
    found.sort(key=lambda x: (-x[1], x[0]))
    return found[offset : offset + limit], len(found) > offset + limit
