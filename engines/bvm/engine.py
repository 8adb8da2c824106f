"""The BVM engine (opcodes 0x30–0x3F, SPEC §1, §3): Bitcoin transactions spending account coins.

0x30 carries a serialized Bitcoin transaction byte-exact (with or without witness, engines/bvm/tx.py). It
is admitted as Bitcoin Core's mempool would take it, with Core's reject reasons as codes:
- decoding and `CheckTransaction` (`tx-decode`, `bad-txns-…`), no coinbase (`coinbase`);
- standardness: version 1–3 (`version`), weight ≤ 400,000 (`tx-size`), scriptSigs ≤ 1,650 bytes and push-only
  (`scriptsig-size`, `scriptsig-not-pushonly`), standard output scripts (`scriptpubkey`) above the dust
  threshold (`dust`);
- every input spends a current coin of a Bitcoin wallet, vout 0 (`bad-txns-inputs-missingorspent`);
- inputs ≥ outputs (`bad-txns-in-belowout`) and a fee of at least 1 sat/vB (`min relay fee not met`);
- lock-times: nLockTime against the next block (`non-final`), BIP68 relative locks against the coin's age
  (`non-BIP68-final`);
- every input's scripts with Core's standard flags, and — when those fail — the mandatory ones, to tell
  `non-mandatory-script-verify-flag (…)` from `mandatory-script-verify-flag-failed (…)`.
The coin, fee and lock checks run again when the block executes it (a coin may have moved since): a
transaction that fails them there writes nothing and pays nothing. Its scripts need not run again: a coin's
txid pins the value and script they signed. Execution debits each input's coin (its whole value: the
base units below one sat stay), credits every output to the identity bound to its scriptPubKey (an unknown
script gets its legacy identity, SPEC §2) and pays the fee to the fee collector — all in base units
(1 sat = 10). Its ids are the txid and the wtxid, as Bitcoin shows them (byte-reversed).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from chain.accounts import resolve
from chain.address import btc_script_text, script_kind
from chain.auth import AceAuth, SealedKeys, admit_ace, read_credential, recheck_ace, verify_credential
from chain.dispatcher import Access, BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import H, Reader
from chain.ledger import BASE_PER_SAT, FEE_COLLECTOR, NATIVE_MINT, credit, debit
from chain.parallel import FEE_KEY, RecordingState
from chain.state import State

from .coins import Coin, coin_by_txid, coin_of
from .errors import ScriptError, TxError
from .flags import MANDATORY_FLAGS, STANDARD_FLAGS
from .opcodes import is_push_only
from .script import verify_input
from .sighash import PrecomputedTx
from .tx import (
    LOCKTIME_THRESHOLD,
    SEQUENCE_FINAL,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_MASK,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
    WITNESS_SCALE_FACTOR,
    check_transaction,
    parse_tx,
)
from .tx import Tx as BtcTx

RAW_TX, ACE_SPEND = 0x30, 0x31
TRIAL_CONTEXT = BlockContext(2**62, 2**62, 0, bytes(32))  # finds an access set: every lock-time reached
MAX_STANDARD_VERSION = 3  # policy.h TX_MAX_STANDARD_VERSION
MAX_STANDARD_TX_WEIGHT = 400_000
MAX_STANDARD_SCRIPTSIG_SIZE = 1_650
DUST_RELAY_SAT_PER_KVB = 3_000
MIN_RELAY_SAT_PER_VB = 1
OP_RETURN = 0x6A
SEQUENCE_LOCKTIME_GRANULARITY = 9  # BIP68 time locks count units of 512 s


def _claims(tx: BtcTx) -> tuple[bytes, ...]:
    """The outpoints it spends: the mempool holds one waiting spend of each (`txn-mempool-conflict`)."""
    return tuple(txin.prevout.serialize() for txin in tx.inputs)


class Refused(Exception):
    """A reason to turn a Bitcoin transaction away (Core's reject reason and a message)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason, self.message = reason, message or reason


@dataclass(frozen=True)
class BvmTx:
    tx: BtcTx
    ace: AceAuth | None = None  # a 0x31 spend: the identity's credential stands for the scripts


ACE_DOMAIN = b"nvm/bvm-ace/v1"
_ACE_HEAD = struct.Struct(">BQ32sI")


def ace_unsigned(chain_id: int, signer: bytes, tx: bytes) -> bytes:
    """A 0x31 envelope up to its credential: sign `ace_digest` of it and append the credential (docs/PROTOCOL.md §14)."""
    return _ACE_HEAD.pack(ACE_SPEND, chain_id, signer, len(tx)) + tx


def ace_digest(unsigned: bytes) -> bytes:
    return H(ACE_DOMAIN + unsigned)


def _read_ace(envelope: bytes) -> BvmTx:
    """The spend in a 0x31 envelope; AdmissionError `malformed` / Core's decode reasons."""
    if len(envelope) < _ACE_HEAD.size:
        raise AdmissionError("an ACE spend is shorter than its header", "malformed")
    _op, chain_id, signer, n = _ACE_HEAD.unpack_from(envelope)
    end = _ACE_HEAD.size + n
    if end > len(envelope):
        raise AdmissionError("the transaction runs past the envelope", "malformed")
    try:
        tx = parse_tx(envelope[_ACE_HEAD.size : end])
    except TxError as e:
        raise AdmissionError(e.message, e.reason) from None
    r = Reader(envelope)
    r.pos = end
    try:
        credential = read_credential(r)
        r.done()
    except ValueError as e:
        raise AdmissionError(f"ACE spend: {e}", "malformed") from None
    if tx.has_witness or any(txin.script_sig for txin in tx.inputs):
        raise AdmissionError("an ACE spend carries no scriptSig or witness: its credential authorises it", "malformed")
    return BvmTx(tx, AceAuth(chain_id, signer, credential, ace_digest(envelope[:end])))


@dataclass(frozen=True)
class Spend:
    """What a checked Bitcoin transaction does: the coins it spends, the fee (sats)."""

    coins: list[Coin]
    fee_sats: int


def vsize(tx: BtcTx) -> int:
    return -(-tx.weight // WITNESS_SCALE_FACTOR)


def dust_threshold(script_pubkey: bytes) -> int:
    """Core's GetDustThreshold at the default dust relay fee: what spending the output would cost."""
    if script_pubkey[:1] == bytes((OP_RETURN,)):
        return 0
    size = 8 + len(_compact(len(script_pubkey))) + len(script_pubkey)
    size += 32 + 4 + 1 + 107 // WITNESS_SCALE_FACTOR + 4 if _is_witness_program(script_pubkey) else 32 + 4 + 1 + 107 + 4
    return size * DUST_RELAY_SAT_PER_KVB // 1000


def _compact(n: int) -> bytes:
    return bytes((n,)) if n < 0xFD else b"\xfd" + struct.pack("<H", n)


def _is_witness_program(script: bytes) -> bool:
    return 4 <= len(script) <= 42 and (script[0] == 0 or 0x51 <= script[0] <= 0x60) and script[1] == len(script) - 2


def _standard_output(script: bytes) -> bool:
    if script_kind(script) is not None:
        return True
    if script[:1] == bytes((OP_RETURN,)):
        return is_push_only(script[1:])
    return _bare_multisig(script)


def _bare_multisig(script: bytes) -> bool:
    """OP_m <1–3 pubkeys> OP_n OP_CHECKMULTISIG, as Core's Solver accepts it (permitbaremultisig)."""
    if len(script) < 3 or script[-1] != 0xAE or not 0x51 <= script[0] <= 0x53 or not 0x51 <= script[-2] <= 0x53:
        return False
    m, n, pos, keys = script[0] - 0x50, script[-2] - 0x50, 1, 0
    while pos < len(script) - 2:
        size = script[pos]
        if size not in (33, 65) or pos + 1 + size > len(script) - 2:
            return False
        pos, keys = pos + 1 + size, keys + 1
    return keys == n and 1 <= m <= n


def check_policy(tx: BtcTx) -> None:
    """Core's IsStandardTx, as far as one transaction shows it."""
    if not 1 <= tx.version <= MAX_STANDARD_VERSION:
        raise Refused("version", f"transaction version {tx.version} is not standard (1 to {MAX_STANDARD_VERSION})")
    if tx.weight > MAX_STANDARD_TX_WEIGHT:
        raise Refused("tx-size", f"weight {tx.weight} is over {MAX_STANDARD_TX_WEIGHT}")
    for txin in tx.inputs:
        if len(txin.script_sig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            raise Refused("scriptsig-size", f"a scriptSig is over {MAX_STANDARD_SCRIPTSIG_SIZE} bytes")
        if not is_push_only(txin.script_sig):
            raise Refused("scriptsig-not-pushonly", "a scriptSig does more than push data")
    for txout in tx.outputs:
        if not _standard_output(txout.script_pubkey):
            raise Refused("scriptpubkey", "an output script is not a standard one")
        if txout.value < dust_threshold(txout.script_pubkey):
            raise Refused(
                "dust", f"an output of {txout.value} sats is below the dust threshold {dust_threshold(txout.script_pubkey)}"
            )


def check_spend(
    state: State, tx: BtcTx, next_height: int, next_time_ms: int, signer: bytes | None = None, scripts: bool = True
) -> Spend:
    """Everything that depends on the coins: they exist, the fee, lock-times, scripts (a 0x31 spend's `signer`
    spends its own coin, authorised by its credential instead). Raises Refused.

    A coin's txid names one version of one identity's balance, so the outputs an input spends — value and
    scriptPubKey — are the same whenever its coin still exists: scripts verified at admission need not run
    again when the block executes the transaction (`scripts=False`)."""
    spent: list[Coin] = []
    for txin in tx.inputs:
        if signer is None:
            found = coin_by_txid(state, txin.prevout.txid)
        else:
            found = coin_of(state, signer)
            found = found if found is not None and found.txid == txin.prevout.txid and len(tx.inputs) == 1 else None
        if found is None or txin.prevout.vout != 0:
            raise Refused("bad-txns-inputs-missingorspent", f"input {len(spent)} spends no current coin")
        spent.append(found)
    total_in = sum(c.sats for c in spent)
    total_out = sum(o.value for o in tx.outputs)
    if total_in < total_out:
        raise Refused("bad-txns-in-belowout", f"value in ({total_in}) < value out ({total_out})")
    fee = total_in - total_out
    if fee < MIN_RELAY_SAT_PER_VB * vsize(tx):
        raise Refused("min relay fee not met", f"min relay fee not met, {fee} < {MIN_RELAY_SAT_PER_VB * vsize(tx)}")
    _check_locks(tx, spent, next_height, next_time_ms)
    if signer is not None or not scripts:
        return Spend(spent, fee)
    outputs = [(c.sats, c.script_pubkey) for c in spent]
    pre = PrecomputedTx(tx, outputs)
    for index in range(len(tx.inputs)):
        try:
            verify_input(tx, index, outputs, STANDARD_FLAGS, pre)
        except ScriptError as e:
            try:
                verify_input(tx, index, outputs, MANDATORY_FLAGS, pre)
            except ScriptError as hard:
                raise Refused(
                    "mandatory-script-verify-flag-failed", f"mandatory-script-verify-flag-failed ({hard.message})"
                ) from None
            raise Refused("non-mandatory-script-verify-flag", f"non-mandatory-script-verify-flag ({e.message})") from None
    return Spend(spent, fee)


def _check_locks(tx: BtcTx, spent: list[Coin], height: int, time_ms: int) -> None:
    """IsFinalTx and BIP68 sequence locks, against the block the transaction would be in (its height and
    time; this devnet has one block time, not a median of eleven)."""
    if tx.locktime and not all(i.sequence == SEQUENCE_FINAL for i in tx.inputs):
        reached = height if tx.locktime < LOCKTIME_THRESHOLD else time_ms // 1000
        if tx.locktime >= reached:
            raise Refused("non-final", f"nLockTime {tx.locktime} is not reached yet")
    if tx.version < 2:
        return
    for txin, coin in zip(tx.inputs, spent, strict=True):
        if txin.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            continue
        lock = txin.sequence & SEQUENCE_LOCKTIME_MASK
        if lock == 0:
            continue
        if coin.born is None:
            raise Refused("non-BIP68-final", "this coin's age is not recorded (only Bitcoin wallets' coins have one)")
        born_height, born_ms = coin.born
        if txin.sequence & SEQUENCE_LOCKTIME_TYPE_FLAG:
            if time_ms // 1000 - born_ms // 1000 < lock << SEQUENCE_LOCKTIME_GRANULARITY:
                raise Refused("non-BIP68-final", "a relative time lock is not reached yet")
        elif height - born_height < lock:
            raise Refused("non-BIP68-final", f"a relative lock of {lock} blocks is not reached yet")


@dataclass
class BvmEngine:
    sealed: SealedKeys | None = None  # the validator's attestation keys, for 0x31 spends signed that way
    name: str = "bvm"
    first_opcode: int = 0x30
    last_opcode: int = 0x3F

    def decode(self, envelope: bytes) -> Tx:
        op = envelope[0]
        if op == ACE_SPEND:
            spend = _read_ace(envelope)
            assert spend.ace is not None
            ids = (spend.tx.txid[::-1],)
            return Tx(envelope, ids=ids, sender=spend.ace.signer, body=spend, claims=_claims(spend.tx))
        if op != RAW_TX:
            raise AdmissionError(f"opcode {op:#04x} is not assigned in the BVM range", "unassigned_opcode")
        try:
            tx = parse_tx(envelope[1:])
        except TxError as e:
            raise AdmissionError(e.message, e.reason) from None
        txid, wtxid = tx.txid[::-1], tx.wtxid[::-1]
        return Tx(envelope, ids=(txid,) if txid == wtxid else (txid, wtxid), body=BvmTx(tx), claims=_claims(tx))

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        found = self.decode(envelope)
        body: BvmTx = found.body  # type: ignore[assignment]
        tx, ace = body.tx, body.ace
        height = getattr(recent, "height", -1) + 1
        time_ms = getattr(recent, "timestamp_ms", 0)
        if ace is not None:
            admit_ace(ace, state, chain_id, self.sealed)
        try:
            check_transaction(tx)
            if tx.is_coinbase():
                raise Refused("coinbase", "a coinbase transaction cannot be sent")
            check_policy(tx)
            spend = check_spend(state, tx, height, time_ms, ace.signer if ace else None)
        except TxError as e:
            raise AdmissionError(e.message, e.reason) from None
        except Refused as e:
            raise AdmissionError(e.message, e.reason) from None
        found.sender = spend.coins[0].id_com
        return found

    def verify(self, tx: Tx) -> None:
        """A 0x31 spend's credential; a raw transaction's scripts were verified in `admit` (they need the
        coins: BIP341 signs every spent output)."""
        ace = tx.body.ace  # type: ignore[attr-defined]
        if ace is not None and not verify_credential(ace.credential, ace.digest):
            raise AdmissionError("the ACE credential does not verify", "bad_signature")

    # -- execution -------------------------------------------------------------------------
    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        """Nothing is charged before the spend: a transaction whose coins moved, or whose locks are not
        reached, fails writing nothing (execute checks it all again)."""
        return 0

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        body: BvmTx = tx.body  # type: ignore[assignment]
        btc, ace = body.tx, body.ace
        if ace is not None:
            recheck_ace(ace, state, self.sealed)
        try:
            spend = check_spend(state, btc, ctx.height, ctx.timestamp_ms, ace.signer if ace else None, scripts=False)
        except Refused as e:
            raise ExecutionError(e.message, e.reason) from None
        for coin in spend.coins:
            debit(state, NATIVE_MINT, coin.id_com, coin.sats * BASE_PER_SAT)
        paid = []
        for txout in btc.outputs:
            if txout.script_pubkey[:1] == bytes((OP_RETURN,)):
                paid.append(bytes(32))  # burnt: an OP_RETURN output pays no one (its value, if any, is lost)
                continue
            who = resolve(state, "btc", txout.script_pubkey)
            credit(state, NATIVE_MINT, who, txout.value * BASE_PER_SAT)
            paid.append(who)
        fee = spend.fee_sats * BASE_PER_SAT
        credit(state, NATIVE_MINT, FEE_COLLECTOR, fee)
        return Outcome(fee=fee, output=encode_output(spend.coins, paid))

    # -- access sets (chain/parallel.py) -------------------------------------------------------
    def access(self, tx: Tx, state: State) -> Access | None:
        """The keys a spend touches — its coins' index entries and balances, its outputs' identities (their
        reverse-index entries, balances, and a new wallet's bindings) — found by running it once over the
        pre-block state, its lock-times taken as reached (the block checks that it kept to them, or runs
        sequentially). A spend that cannot run now is global."""
        trial = RecordingState(cast(Mapping[bytes, bytes], state))
        trial.begin_tx()
        try:
            self.execute(tx, trial, TRIAL_CONTEXT)
        except Exception:  # refused now, or an engine fault: let the block run it alone
            return None
        fee = {FEE_KEY}  # every transaction pays it: the block adds fees up in order, it is no conflict
        return Access(frozenset(trial.read - fee), frozenset(trial.written - fee))

    # -- for people ------------------------------------------------------------------------
    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        btc: BtcTx = tx.body.tx  # type: ignore[attr-defined]
        fields = (
            [Field("Txid", btc.txid_hex), Field("Wtxid", btc.wtxid_hex)] if btc.has_witness else [Field("Txid", btc.txid_hex)]
        )
        fields += [
            Field("Version", btc.version, "int"),
            Field("Locktime", btc.locktime, "int"),
            Field("Virtual size", vsize(btc), "int"),
        ]
        for i, txin in enumerate(btc.inputs):
            fields.append(Field(f"Input {i}", f"{txin.prevout.txid[::-1].hex()}:{txin.prevout.vout}"))
        for i, txout in enumerate(btc.outputs):
            to = btc_script_text(txout.script_pubkey) or (
                "OP_RETURN" if txout.script_pubkey[:1] == b"\x6a" else "0x" + txout.script_pubkey.hex()
            )
            fields.append(Field(f"Output {i}", f"{txout.value:,} sats ({txout.value / 10**8:.8f} BTC) to {to}"))
        return "Bitcoin transaction", fields


def encode_output(spent: list[Coin], paid: list[bytes]) -> bytes:
    """The receipt's output (docs/PROTOCOL.md §14): what each input spent and whom each output paid.

    `u16 n || n × (id_com 32 || coin version u64 || sats u64 || u16 len || scriptPubKey) || u16 m || m × id_com 32`
    (an OP_RETURN output's id_com is 32 zero bytes)."""
    out = [struct.pack(">H", len(spent))]
    for c in spent:
        out += [c.id_com, struct.pack(">QQH", c.version, c.sats, len(c.script_pubkey)), c.script_pubkey]
    out.append(struct.pack(">H", len(paid)))
    out += paid
    return b"".join(out)


def decode_output(data: bytes) -> tuple[list[tuple[bytes, int, int, bytes]], list[bytes]]:
    """(spent: (id_com, version, sats, scriptPubKey) per input, paid: id_com per output)."""
    pos, spent = 2, []
    for _ in range(struct.unpack_from(">H", data)[0]):
        who = data[pos : pos + 32]
        version, sats, n = struct.unpack_from(">QQH", data, pos + 32)
        pos += 50
        spent.append((who, version, sats, data[pos : pos + n]))
        pos += n
    (m,) = struct.unpack_from(">H", data, pos)
    pos += 2
    paid = [data[pos + 32 * i : pos + 32 * i + 32] for i in range(m)]
    if pos + 32 * m != len(data):
        raise ValueError("not a BVM receipt output")
    return spent, paid
