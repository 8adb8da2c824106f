"""The SVM engine (opcodes 0x20–0x2F, SPEC §1): Solana transactions over the shared ledger.

0x20 carries a Solana wire transaction byte-exact (engines/svm/wire.py). Admission reads it whole,
checks what a Solana leader checks before it takes a transaction — recent blockhash (one of the last
150 blocks' hashes: a block hash is a Solana blockhash here), signature not already processed, fee
payer a system account able to pay the fee, the compute budget instructions — and verification checks
every signature (Ed25519, libsodium, off the GIL). Execution charges the fee first (kept when the
transaction fails, as on Solana), records the signature (so it is processed once), then runs the
instructions under a snapshot: a failure reverts every write but the fee, and the receipt carries
Solana's `TransactionError` as its code and the program logs (docs/PROTOCOL.md §13).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from chain.accounts import bind_identity, derived_index_keys
from chain.auth import MULTISIG, SCHEME_NAMES, SealedKeys, admit_ace, auth_slot, recheck_ace, verify_credential
from chain.dispatcher import Access, BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import H
from chain.identity import legacy_id_com
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT, balance, balance_slot, transfer
from chain.parallel import RecordingState
from chain.state import State, reverse_index_key

from . import accounts as acc
from . import programs as prog
from .ace import AceEnvelope, read_envelope
from .errors import SvmError
from .fees import Budget, budget
from .receipt import SvmOutput, TokenBalance
from .runtime import PROGRAMS, Runtime, accounts_of, b58, rent_transition_ok, run_message
from .wire import Message, Transaction, parse

RAW_TX, ACE_CALL = 0x20, 0x21
ACCESS_TRIAL = BlockContext(0, 0, 0, bytes(32))  # the context of the trial run that finds an access set
# programs whose accounts are all the keys they touch (access sets for parallel execution)
STATIC_PROGRAMS = frozenset((acc.SYSTEM_PROGRAM, prog.MEMO_PROGRAM, prog.MEMO_V1_PROGRAM, prog.COMPUTE_BUDGET_PROGRAM))
BLOCKHASH_VALIDITY = 150  # blocks a blockhash stays valid (Solana's MAX_PROCESSING_AGE)

# program id -> (instruction data, account pubkeys) -> a line for people; token.py adds SPL's
DESCRIBERS: dict[bytes, Callable[[bytes, list[bytes]], str]] = {}
# (state, account keys) -> the token balances among them (token.py registers SPL's)
TOKEN_BALANCES: list[Callable[[State, tuple[bytes, ...]], list[TokenBalance]]] = []


def token_balances(state: State, keys: tuple[bytes, ...]) -> list[TokenBalance]:
    return [b for find in TOKEN_BALANCES for b in find(state, keys)]


def signature_key(signature: bytes) -> bytes:
    """Marks a processed signature (its block height, u64): Solana's status cache, in the state."""
    return H(b"nvm/svm/sig" + signature)


@dataclass(frozen=True)
class SvmTx:
    """A decoded SVM transaction: a Solana wire transaction (0x20, `tx`) or an ACE call (0x21, `ace`)."""

    tx: Transaction | None
    budget: Budget
    ace: AceEnvelope | None = None

    @property
    def message(self) -> Message:
        if self.tx is not None:
            return self.tx.message
        assert self.ace is not None
        return self.ace.message

    def signed(self) -> list[tuple[bytes, bytes]]:
        """(signature, pubkey) of every Ed25519 signature to check: all of a wire transaction's; an ACE
        call's other signers (its fee payer is authorised by the credential)."""
        keys = self.message.keys
        if self.tx is not None:
            return list(zip(self.tx.signatures, keys, strict=False))
        assert self.ace is not None
        return list(zip(self.ace.signatures, keys[1:], strict=False))

    def processed_mark(self, envelope: bytes) -> bytes:
        """What is recorded once processed: the first signature (Solana's id), or an ACE call's envelope id."""
        return self.tx.signature if self.tx is not None else H(envelope)


def _fee_payer_problem(state: State, message: Message, fee: int, signer: bytes | None = None) -> SvmError | None:
    """Solana's fee payer checks; an ACE call's payer is its signer's identity (bound at execution)."""
    payer = message.payer
    who = signer or acc.identity_of(state, payer)
    have = 0 if who is None else balance(state, NATIVE_MINT, who)
    if have == 0:
        return SvmError("AccountNotFound", "Attempt to debit an account but found no record of a prior credit.")
    if acc.get_record(state, payer) is not None:
        return SvmError("InvalidAccountForFee", "This account may not be used to pay transaction fees")
    if have < fee:
        return SvmError("InsufficientFundsForFee", "Insufficient funds for fee")
    if not rent_transition_ok(_system_rent(have), _system_rent(have - fee)):
        return SvmError(
            {"InsufficientFundsForRent": {"account_index": 0}},
            "Transaction results in an account (0) with insufficient funds for rent",
        )
    return None


def _system_rent(lamports: int) -> tuple[str, int, int]:
    if lamports == 0:
        return "uninitialized", 0, 0
    return ("exempt" if lamports >= acc.rent_exempt_minimum(0) else "paying"), lamports, 0


@dataclass
class SvmEngine:
    sealed: SealedKeys | None = None  # the validator's attestation keys, for 0x21 calls signed that way
    name: str = "svm"
    first_opcode: int = 0x20
    last_opcode: int = 0x2F

    def decode(self, envelope: bytes) -> Tx:
        op = envelope[0]
        if op not in (RAW_TX, ACE_CALL):
            raise AdmissionError(f"opcode {op:#04x} is not assigned in the SVM range", "unassigned_opcode")
        try:
            if op == ACE_CALL:
                ace = read_envelope(envelope)
                return Tx(envelope, sender=ace.signer, body=SvmTx(None, budget(ace.message), ace))
            tx = parse(envelope[1:])
            return Tx(envelope, ids=(tx.signature,), body=SvmTx(tx, budget(tx.message)))
        except SvmError as e:
            raise e.admission() from None

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        tx = self.decode(envelope)
        stx: SvmTx = tx.body  # type: ignore[assignment]
        message = stx.message
        if stx.ace is not None:
            admit_ace(stx.ace, state, chain_id, self.sealed)
        if message.blockhash not in recent[:BLOCKHASH_VALIDITY]:
            raise AdmissionError("Blockhash not found", "BlockhashNotFound")
        if state.get(signature_key(stx.processed_mark(envelope))) is not None:
            raise AdmissionError("This transaction has already been processed", "AlreadyProcessed")
        fee_problem = _fee_payer_problem(state, message, stx.budget.fee, stx.ace.signer if stx.ace else None)
        if fee_problem is not None:
            raise fee_problem.admission()
        tx.sender = stx.ace.signer if stx.ace else acc.identity_of(state, message.payer)
        return tx

    def verify(self, tx: Tx) -> None:
        stx: SvmTx = tx.body  # type: ignore[assignment]
        if stx.ace is not None and not verify_credential(stx.ace.credential, stx.ace.digest):
            raise AdmissionError("the ACE credential does not verify", "SignatureFailure")
        message = stx.message.raw
        for signature, key in stx.signed():
            try:
                crypto_sign_open(signature + message, key)
            except (BadSignatureError, ValueError):
                raise AdmissionError("Transaction did not pass signature verification", "SignatureFailure") from None

    # -- execution -------------------------------------------------------------------------
    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        stx: SvmTx = tx.body  # type: ignore[assignment]
        message = stx.message
        if message.blockhash not in ctx.recent_hashes[:BLOCKHASH_VALIDITY]:
            raise ExecutionError("Blockhash not found", "BlockhashNotFound")
        key = signature_key(stx.processed_mark(tx.envelope))
        if state.get(key) is not None:
            raise ExecutionError("This transaction has already been processed", "AlreadyProcessed")
        signer = stx.ace.signer if stx.ace else None
        if stx.ace is not None:
            recheck_ace(stx.ace, state, self.sealed)
            bind_identity(state, stx.ace.signer)  # its SVM address now names it
        fee = stx.budget.fee
        fee_problem = _fee_payer_problem(state, message, fee, signer)
        if fee_problem is not None:
            raise fee_problem.execution()
        state.set(key, ctx.height.to_bytes(8, "big"))
        payer = signer or acc.identity_of(state, message.payer)
        assert payer is not None
        transfer(state, NATIVE_MINT, payer, FEE_COLLECTOR, fee)
        return fee

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        stx: SvmTx = tx.body  # type: ignore[assignment]
        keys = stx.message.keys
        before = accounts_of(state, keys)
        pre = [0 if a is None else a.lamports for a in before]
        pre[0] += stx.budget.fee  # Solana's preBalances are before the fee
        token_pre = token_balances(state, keys)
        rt = Runtime(state, stx.budget.limit, ctx.height, ctx.timestamp_ms // 1000)
        snap = state.snapshot()
        failure = None
        try:
            after = run_message(rt, stx.message, before)
            state.commit(snap)
        except SvmError as e:
            state.revert(snap)
            failure = (e.code, e.message)
            after = accounts_of(state, keys)
        output = SvmOutput(
            pre,
            [0 if a is None else a.lamports for a in after],
            token_pre,
            token_balances(state, keys),
            rt.return_data if failure is None else None,
        )
        return Outcome(rt.consumed, output.encode(), [line.encode() for line in rt.logs], failure=failure)

    # -- access sets (chain/parallel.py) -------------------------------------------------------
    def access(self, tx: Tx, state: State) -> Access | None:
        """The keys the transaction may touch, judged against the state before its block, from its
        declared accounts. For each account: its reverse-index entry, its identity's balance, its record
        and what the ledger views read — written where the account is writable (a new pubkey's legacy
        identity may be bound then). Instructions of the System, Memo and Compute Budget programs touch
        nothing else. Others (SPL Token, the ATA and ACE programs) touch what their accounts hold — a token
        account's holder balance, its mint, a delegate's allowance: those keys are found by running the
        instructions once over the state (the block checks that the transaction kept to them, or runs
        sequentially). A multisig ACE signer makes the transaction global."""
        stx: SvmTx = tx.body  # type: ignore[assignment]
        m = stx.message
        reads: set[bytes] = set()
        writes = {signature_key(stx.processed_mark(tx.envelope))}
        if stx.ace is not None:
            if stx.ace.credential.scheme == MULTISIG:
                return None  # its check reads the members' keys too
            reads.add(auth_slot(stx.ace.signer))
            writes.update(key for _tag, _address, key in derived_index_keys(stx.ace.signer))
        static = all(m.keys[ix.program_index] in STATIC_PROGRAMS for ix in m.instructions)
        for i, key in enumerate(m.keys):
            if static and any(view(state, key) is not None for view in acc.VIEWS):
                static = False  # a mint or token account: what its view reads depends on what it holds
            touched = {reverse_index_key("svm", key), acc.record_key(key)}
            who = stx.ace.signer if stx.ace is not None and i == 0 else acc.identity_of(state, key)
            if who is None:  # crediting it binds its legacy identity
                who = legacy_id_com("svm", key)
                touched.update(k for tag, _a, k in derived_index_keys(who) if tag != "svm")
            touched.add(balance_slot(NATIVE_MINT, who))
            (writes if m.is_writable(i) else reads).update(touched)
            reads.update(k for keys_of in acc.VIEW_KEYS for k in keys_of(key))
        if not static:
            trial = RecordingState(cast(Mapping[bytes, bytes], state))
            trial.begin_tx()
            try:
                self.execute(tx, trial, ACCESS_TRIAL)
            except Exception:  # an engine fault: let the block run it alone
                return None
            reads |= trial.read
            writes |= trial.written
        return Access(frozenset(reads), frozenset(writes))

    # -- for people ------------------------------------------------------------------------
    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        stx: SvmTx = tx.body  # type: ignore[assignment]
        m = stx.message
        fields = [Field("Signature", stx.tx.id_text)] if stx.tx is not None else []
        if stx.ace is not None:
            fields += [
                Field("Signer", stx.ace.signer, "id_com"),
                Field("Credential", SCHEME_NAMES.get(stx.ace.credential.scheme, "?")),
            ]
        fields += [
            Field("Fee payer", m.payer, "address", tag="svm"),
            Field("Recent blockhash", b58(m.blockhash)),
            Field("Message", "legacy" if m.version is None else f"v{m.version}"),
            Field("Fee", stx.budget.fee, "amount", mint=NATIVE_MINT),
            Field("Compute unit limit", stx.budget.limit, "int"),
        ]
        if stx.budget.price:
            fields.append(Field("Compute unit price", f"{stx.budget.price} micro-lamports"))
        for i, key in enumerate(m.keys):
            flags = ", ".join(f for f, on in (("signer", m.is_signer(i)), ("writable", m.is_writable(i))) if on) or "read-only"
            fields.append(Field(f"Account {i} ({flags})", key, "address", tag="svm"))
        for i, ix in enumerate(m.instructions):
            fields.append(
                Field(
                    f"Instruction {i}", describe_instruction(m.keys[ix.program_index], ix.data, [m.keys[a] for a in ix.accounts])
                )
            )
        return ("ACE-authorised Solana instructions (0x21)" if stx.ace else "Solana transaction"), fields


def describe_instruction(program: bytes, data: bytes, accounts: list[bytes]) -> str:
    name = prog.PROGRAM_NAMES.get(program) or (PROGRAMS[program].name if program in PROGRAMS else b58(program))
    describer = DESCRIBERS.get(program)
    if describer is not None:
        try:
            return f"{name}: {describer(data, accounts)}"
        except Exception:  # a malformed instruction is still shown, as what it is
            pass
    return f"{name}, {len(accounts)} accounts, {len(data)} bytes of data"


def _system_line(data: bytes, accounts: list[bytes]) -> str:
    d = prog.Data(data)
    kind = d.u32()
    if kind == 2:
        lamports = d.u64()
        return f"transfer {lamports:,} lamports ({lamports / 10**9:.9f} SOL) from {b58(accounts[0])} to {b58(accounts[1])}"
    if kind == 0:
        lamports, space, owner = d.u64(), d.u64(), d.pubkey()
        return f"create account {b58(accounts[1])} with {lamports:,} lamports, {space} bytes, owner {b58(owner)}"
    names = {
        1: "assign",
        3: "create account with seed",
        8: "allocate",
        9: "allocate with seed",
        10: "assign with seed",
        11: "transfer with seed",
    }
    return names.get(kind, f"instruction {kind}")


def _memo_line(data: bytes, accounts: list[bytes]) -> str:
    return repr(data.decode("utf-8"))


DESCRIBERS[acc.SYSTEM_PROGRAM] = _system_line
DESCRIBERS[prog.MEMO_PROGRAM] = _memo_line
DESCRIBERS[prog.MEMO_V1_PROGRAM] = _memo_line
__all__ = ["ACE_CALL", "RAW_TX", "SvmEngine", "SvmTx", "rent_transition_ok", "signature_key"]
