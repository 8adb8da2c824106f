"""The native runtime (opcodes 0x01–0x08, SPEC §1): accounts, auth keys, mints and the one ledger.

Admission checks everything that does not depend on other pending transactions: the format,
the chain id, the credential (signature or attestation), that the key is a registered factor of
the signer, that the nonce is not spent and that the fee can be paid. Execution re-checks what
another transaction may have changed since: the nonce (exact), the factor, the balances.

Fee: `NATIVE_FEE` base units of NVM per transaction, paid to the fee collector (so fees never
change the supply); creating an account is free, since a new account has nothing to pay with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain import auth, ledger
from chain.accounts import bind_identity, derived_index_keys, lookup, resolve
from chain.auth import (
    SCHEME_NAMES,
    Problem,
    SealedKeys,
    credential_problem,
    is_multisig_terms_of,
    members_problem,
    multisig_terms,
)
from chain.dispatcher import Access, BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import H
from chain.identity import legacy_id_com
from chain.ledger import FEE_COLLECTOR, NATIVE_MINT
from chain.state import State, reverse_index_key

from .tx import (
    ADD,
    APPROVE,
    ATTESTATION,
    AUTH_KEY,
    BURN,
    CREATE_ACCOUNT,
    CREATE_MINT,
    MINT_TO,
    MULTISIG,
    OPCODE_NAMES,
    REF_ID_COM,
    REMOVE,
    REPLACE,
    TRANSFER,
    TRANSFER_FROM,
    Factor,
    NativeTx,
    Ref,
    decode,
    verify_signature,
)

NATIVE_FEE = 5_000  # base units (0.000005 NVM) per transaction
MAX_NONCE_AHEAD = 1_000  # how far past the account's nonce a transaction may be queued


def signer_problem(ntx: NativeTx, state: State, sealed: SealedKeys | None, check_tags: bool) -> Problem:
    """Whether the signer's account can sign this transaction (chain.auth), with account creation's own
    rules: a new single-key account is signed by the key it registers (checked in `admit`), a new
    multisig account by enough members, with terms that hash to its id_com."""
    if ntx.opcode != CREATE_ACCOUNT:
        return credential_problem(state, ntx.signer, ntx.credential, ntx.digest, sealed, check_tags)
    if auth.factors(state, ntx.signer):
        return "account_exists", "this account already exists"
    if ntx.scheme != MULTISIG:
        return None
    factor: Factor = ntx.payload["factor"]  # type: ignore[assignment]
    if factor.scheme != MULTISIG:
        return "bad_factor", "a multisig credential creates a multisig account"
    if not is_multisig_terms_of(ntx.signer, factor.data):
        return "bad_factor", "these members and threshold do not make the signer's multisig id_com (SPEC §4)"
    threshold, members = multisig_terms(factor.data)
    return members_problem(state, ntx.credential, ntx.digest, threshold, members, sealed, check_tags)


def _binding(state: State, id_com: bytes, skip: str | None, writes: set[bytes]) -> None:
    """The reverse-index keys binding an identity's derived addresses may write (chain.accounts)."""
    for tag, _address, key in derived_index_keys(id_com):
        if tag != skip:
            writes.add(key)


def _account_keys(state: State, ref: Ref, writes: set[bytes]) -> bytes:
    """The identity a payload's reference resolves to against `state`, with the index keys resolving it
    may write (NativeEngine._account)."""
    if ref.kind == REF_ID_COM:
        _binding(state, ref.data, None, writes)
        return ref.data
    assert ref.tag is not None
    key = reverse_index_key(ref.tag, ref.data)
    writes.add(key)  # read, and written when the address is new
    found = lookup(state, ref.tag, ref.data)
    if found is not None:
        return found
    id_com = legacy_id_com(ref.tag, ref.data)
    _binding(state, id_com, ref.tag, writes)
    return id_com


def user_mint_id(authority: bytes, nonce: int) -> bytes:
    return H(b"nvm/mint/user" + authority + nonce.to_bytes(8, "big"))


@dataclass
class NativeEngine:
    sealed: SealedKeys | None = None  # the validator's attestation keys; None: attestation unsupported
    name: str = "native"
    first_opcode: int = 0x01
    last_opcode: int = 0x0F

    # -- admission -------------------------------------------------------------------------
    def decode(self, envelope: bytes) -> Tx:
        ntx = decode(envelope)
        return Tx(envelope, sender=ntx.signer, body=ntx, context=ntx.context)

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        tx = self.decode(envelope)
        ntx: NativeTx = tx.body  # type: ignore[assignment]
        if ntx.chain_id != chain_id:
            raise AdmissionError(f"signed for chain {ntx.chain_id}, this is chain {chain_id}", "wrong_chain")
        problem = signer_problem(ntx, state, self.sealed, check_tags=True)
        if problem is not None:
            raise AdmissionError(problem[1], problem[0])
        if ntx.opcode == CREATE_ACCOUNT and ntx.scheme != MULTISIG:
            factor: Factor = ntx.payload["factor"]  # type: ignore[assignment]
            if factor.scheme in (ATTESTATION, MULTISIG):
                raise AdmissionError("an account's first factor is a signature key (or a multisig's terms)", "bad_factor")
            if (ntx.scheme, ntx.public) != (factor.scheme, factor.data):
                raise AdmissionError("create_account must be signed by the key it registers", "bad_signature")
        have = auth.nonce(state, ntx.signer)
        if ntx.nonce < have:
            raise AdmissionError(f"nonce {ntx.nonce} was already used (next is {have})", "nonce_too_low")
        if ntx.nonce > have + MAX_NONCE_AHEAD:
            raise AdmissionError(f"nonce {ntx.nonce} is too far ahead (next is {have})", "nonce_too_high")
        if self.fee(ntx) > ledger.balance(state, NATIVE_MINT, ntx.signer):
            raise AdmissionError(f"cannot pay the fee of {NATIVE_FEE} base units", "insufficient_fee")
        if ntx.opcode != CREATE_ACCOUNT and ntx.scheme != MULTISIG:
            tx.admitted_against = state.get(auth.auth_slot(ntx.signer))
        return tx

    def verify(self, tx: Tx) -> None:
        """Signatures (attestation tags were checked in `admit`: they need the validator's keys)."""
        ntx: NativeTx = tx.body  # type: ignore[assignment]
        if ntx.scheme != ATTESTATION and not verify_signature(ntx):
            raise AdmissionError("signature does not verify", "bad_signature")

    @staticmethod
    def fee(ntx: NativeTx) -> int:
        return 0 if ntx.opcode == CREATE_ACCOUNT else NATIVE_FEE

    # -- for people ------------------------------------------------------------------------
    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        """The operation's name and its fields (chain.dispatcher.Field)."""
        ntx: NativeTx = tx.body  # type: ignore[assignment]
        fields = [
            Field("Signer", ntx.signer, "id_com"),
            Field("Nonce", ntx.nonce, "int"),
            Field("Chain id", ntx.chain_id, "int"),
            Field("Credential", SCHEME_NAMES.get(ntx.scheme, str(ntx.scheme))),
        ]
        if ntx.context is not None:
            fields.append(Field("Context tag", ntx.context, "hex"))
        p = ntx.payload
        mint = p.get("mint")
        for name, value in p.items():
            label = name.replace("_", " ").capitalize()
            if isinstance(value, Ref):
                if value.kind == REF_ID_COM:
                    fields.append(Field(label, value.data, "id_com"))
                else:
                    fields.append(Field(label, value.data, "address", tag=value.tag))
            elif name == "mint":
                fields.append(Field("Mint", value, "mint"))
            elif name == "amount":
                fields.append(Field("Amount", value, "amount", mint=mint if isinstance(mint, bytes) else None))
            elif isinstance(value, Factor):
                fields.append(Field(label, f"{SCHEME_NAMES.get(value.scheme, value.scheme)} {value.data.hex()}"))
            elif name == "action":
                fields.append(Field("Action", {ADD: "add", REMOVE: "remove", REPLACE: "replace"}.get(value, str(value))))  # type: ignore[call-overload]
            elif isinstance(value, bytes):
                fields.append(Field(label, value, "hex"))
            else:
                fields.append(Field(label, value, "int" if isinstance(value, int) else "text"))
        return OPCODE_NAMES[ntx.opcode].replace("_", " "), fields

    # -- execution -------------------------------------------------------------------------
    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        """Nonce and factor checks, then the fee: a transaction that fails here writes nothing."""
        ntx: NativeTx = tx.body  # type: ignore[assignment]
        have = auth.nonce(state, ntx.signer)
        if ntx.nonce != have:
            raise ExecutionError(f"nonce {ntx.nonce} is not the account's next ({have})", "bad_nonce")
        # Admitted against an older state: another transaction may have rotated the key since. A
        # single-key signer whose factors are byte-for-byte those admission checked needs no second look.
        if tx.admitted_against is None or state.get(auth.auth_slot(ntx.signer)) != tx.admitted_against:
            problem = signer_problem(ntx, state, self.sealed, check_tags=False)
            if problem is not None:
                raise ExecutionError(problem[1], problem[0])
        fee = self.fee(ntx)
        ledger.transfer(state, NATIVE_MINT, ntx.signer, FEE_COLLECTOR, fee)
        auth.set_nonce(state, ntx.signer, have + 1)
        return fee

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        ntx: NativeTx = tx.body  # type: ignore[assignment]
        p = ntx.payload
        signer = ntx.signer
        if ntx.opcode == TRANSFER:
            mint = self._mint(state, p["mint"])  # type: ignore[arg-type]
            ledger.transfer(state, mint, signer, self._account(state, p["to"]), p["amount"])  # type: ignore[arg-type]
            return Outcome()
        if ntx.opcode == CREATE_ACCOUNT:
            factor: Factor = p["factor"]  # type: ignore[assignment]
            auth.put_factors(state, signer, [(factor.scheme, factor.data)])
            bind_identity(state, signer)
            return Outcome()
        if ntx.opcode == AUTH_KEY:
            self._auth_key(state, signer, p)
            return Outcome()
        if ntx.opcode == CREATE_MINT:
            mint = user_mint_id(signer, ntx.nonce)
            if ledger.get_mint(state, mint) is not None:
                raise ExecutionError("mint exists", "mint_exists")
            record = ledger.MintRecord(0, p["decimals"], signer, p["symbol"], p["name"])  # type: ignore[arg-type]
            ledger.put_mint(state, mint, record)
            return Outcome(output=mint)
        if ntx.opcode == MINT_TO:
            mint = self._mint(state, p["mint"])  # type: ignore[arg-type]
            if ledger.get_mint(state, mint).authority != signer:  # type: ignore[union-attr]
                raise ExecutionError("only the mint's authority can mint", "not_authority")
            ledger.mint_to(state, mint, self._account(state, p["to"]), p["amount"])  # type: ignore[arg-type]
            return Outcome()
        if ntx.opcode == BURN:
            ledger.burn(state, self._mint(state, p["mint"]), signer, p["amount"])  # type: ignore[arg-type]
            return Outcome()
        if ntx.opcode == APPROVE:
            mint = self._mint(state, p["mint"])  # type: ignore[arg-type]
            ledger.approve(state, mint, signer, self._account(state, p["spender"]), p["amount"])  # type: ignore[arg-type]
            return Outcome()
        if ntx.opcode == TRANSFER_FROM:
            mint = self._mint(state, p["mint"])  # type: ignore[arg-type]
            owner = self._existing(state, p["owner"])  # type: ignore[arg-type]
            amount: int = p["amount"]  # type: ignore[assignment]
            ledger.spend_allowance(state, mint, owner, signer, amount)
            ledger.transfer(state, mint, owner, self._account(state, p["to"]), amount)  # type: ignore[arg-type]
            return Outcome()
        raise ExecutionError(f"opcode {ntx.opcode:#04x} is not assigned", "unassigned_opcode")

    # -- access sets (chain/parallel.py) -------------------------------------------------------
    def access(self, tx: Tx, state: State) -> Access | None:
        """The keys the transaction may read and write, judged against the state before its block;
        None (global) for a key rotation (it may register a sealed key in this process)."""
        ntx: NativeTx = tx.body  # type: ignore[assignment]
        p = ntx.payload
        signer = ntx.signer
        reads = {auth.auth_slot(signer), auth.nonce_slot(signer)}
        writes = {auth.nonce_slot(signer), ledger.balance_slot(NATIVE_MINT, signer)}
        op = ntx.opcode
        if op == AUTH_KEY or ntx.scheme == MULTISIG:
            return None  # a multisig's check reads its members' keys too
        if op == CREATE_ACCOUNT:
            writes.add(auth.auth_slot(signer))
            _binding(state, signer, None, writes)
        elif op in (TRANSFER, APPROVE, MINT_TO, BURN, TRANSFER_FROM):
            mint: bytes = p["mint"]  # type: ignore[assignment]
            reads.add(ledger.mint_slot(mint))
            if op in (MINT_TO, BURN):
                writes.add(ledger.mint_slot(mint))
            if op in (TRANSFER, BURN):
                writes.add(ledger.balance_slot(mint, signer))
            if op in (TRANSFER, MINT_TO, TRANSFER_FROM):
                writes.add(ledger.balance_slot(mint, _account_keys(state, p["to"], writes)))  # type: ignore[arg-type]
            if op == APPROVE:
                spender = _account_keys(state, p["spender"], writes)  # type: ignore[arg-type]
                writes.add(ledger.allowance_slot(mint, signer, spender))
            if op == TRANSFER_FROM:
                ref: Ref = p["owner"]  # type: ignore[assignment]
                if ref.kind == REF_ID_COM:
                    owner = ref.data
                else:
                    assert ref.tag is not None
                    reads.add(reverse_index_key(ref.tag, ref.data))
                    found = lookup(state, ref.tag, ref.data)
                    if found is None:
                        return Access(frozenset(reads), frozenset(writes))  # fails: reads only the index
                    owner = found
                writes |= {ledger.allowance_slot(mint, owner, signer), ledger.balance_slot(mint, owner)}
        elif op == CREATE_MINT:
            writes.add(ledger.mint_slot(user_mint_id(signer, ntx.nonce)))
            return None  # its ERC-20 address mapping too: keep it simple, alone
        else:
            return None
        return Access(frozenset(reads), frozenset(writes))

    def _auth_key(self, state: State, signer: bytes, p: dict[str, object]) -> None:
        current = auth.factors(state, signer)
        if current and current[0][0] == MULTISIG:
            raise ExecutionError("a multisig account's members are fixed by its id_com", "multisig_fixed")
        action = p["action"]
        opened: bytes | None = None
        if action in (REMOVE, REPLACE):
            old = p["old"]
            kept = [f for f in current if auth.factor_id(*f) != old]
            if len(kept) == len(current):
                raise ExecutionError("no registered factor has that id", "unknown_factor")
            current = kept
        if action in (ADD, REPLACE):
            factor: Factor = p["factor"]  # type: ignore[assignment]
            if factor.scheme == MULTISIG:
                raise ExecutionError("a multisig is an account of its own, not a factor of another", "bad_factor")
            key = factor.data
            if factor.scheme == ATTESTATION:
                opened = self.sealed.open(factor.data) if self.sealed is not None else None
                if opened is None:
                    raise ExecutionError("the sealed attestation key does not open for this validator", "bad_sealed_key")
                key = auth.attestation_commitment(opened)
            if (factor.scheme, key) in current:
                raise ExecutionError("that factor is already registered", "factor_exists")
            current.append((factor.scheme, key))
        if not current:
            raise ExecutionError("an account keeps at least one factor", "last_factor")
        if len(current) > auth.MAX_FACTORS:
            raise ExecutionError(f"an account has at most {auth.MAX_FACTORS} factors", "too_many_factors")
        auth.put_factors(state, signer, current)
        if opened is not None and self.sealed is not None:
            # Kept outside the state (which holds only the commitment); a key whose registration
            # is later reverted stays unused, since checks go through the commitment.
            self.sealed.add(signer, opened)

    @staticmethod
    def _mint(state: State, mint: bytes) -> bytes:
        if not ledger.mint_exists(state, mint):
            raise ExecutionError("no such mint", "unknown_mint")
        return mint

    @staticmethod
    def _account(state: State, ref: Ref) -> bytes:
        """The identity a reference names; an address never seen before gets its identity bound now."""
        if ref.kind == REF_ID_COM:
            bind_identity(state, ref.data)
            return ref.data
        assert ref.tag is not None
        return resolve(state, ref.tag, ref.data)

    @staticmethod
    def _existing(state: State, ref: Ref) -> bytes:
        if ref.kind == REF_ID_COM:
            return ref.data
        assert ref.tag is not None
        found = lookup(state, ref.tag, ref.data)
        if found is None:
            raise ExecutionError("the owner address belongs to no identity", "unknown_owner")
        return found
