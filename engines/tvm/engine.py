"""The TVM engine (opcodes 0x40–0x4F, SPEC §1, §3): Tron transactions over the shared ledger and the EVM engine.

0x40 carries a Tron `Transaction` protobuf byte-exact (engines/tvm/proto.py). Admission checks what a Tron
node checks before it broadcasts one, with Tron's error names as codes:
- the protobuf, read strictly, with one contract (`OTHER_ERROR` when it does not read);
- TaPoS: `ref_block_bytes` and `ref_block_hash` name one of the latest blocks (`TAPOS_ERROR`). A block's Tron
  id is its height (u64) followed by bytes 8–32 of its hash, so `ref_block_bytes` = height bytes 6–8 and
  `ref_block_hash` = hash bytes 8–16, as tronpy builds them from `getnowblock`;
- expiration after the head block's time and at most 24 h past it, or past now when the head is older
  (`TRANSACTION_EXPIRATION_ERROR`);
- one secp256k1 signature over the txid = SHA-256(raw_data), recovering the owner address (`SIGERROR`);
- a txid processed once (`DUP_TRANSACTION_ERROR`), marked in the state;
- the contract's own rules (`CONTRACT_VALIDATE_ERROR`).
Contracts:
- `TransferContract`: a plain TRX transfer in sun (1 sun = 1,000 base units, SPEC §3), debited in whole sun; it
  runs no receiver code, even when the receiver is a contract.
- `CreateSmartContract` and `TriggerSmartContract` run on the TVM (engines/tvm/vm.py: py-evm with Tron's
  opcodes, over engines/tvm/accounts.py). Energy is gas, bought at the energy price (`ENERGY_PRICE_SUN`, Tron's
  `getEnergyFee`) up to the fee limit; what is used goes to the fee collector (Tron burns it; here it stays in
  the supply), split between caller and contract origin by the contract's `consume_user_resource_percent` and
  `origin_energy_limit` as java-tron splits it. A deployed contract's address is `keccak(txid ‖ owner)[12:]`.
  A contract that fails (REVERT, OUT_OF_ENERGY, …) still pays its energy, and its receipt says why.
Bandwidth is free on this devnet, as a Tron account's daily free allowance makes it for most transactions. The
transaction's id is its txid.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import coincurve
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import (
    ContractCreationCollision,
    FullStack,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfGas,
    ReservedBytesInCode,
    Revert,
    WriteProtection,
)
from eth.vm.execution_context import ExecutionContext
from eth.vm.message import Message
from eth_hash.auto import keccak
from eth_typing import Address, BlockNumber, Hash32
from rlp.codec import encode_raw

from chain.accounts import bind_identity, lookup, resolve
from chain.address import tron_text
from chain.auth import (
    SCHEME_NAMES,
    AceAuth,
    SealedKeys,
    admit_ace,
    factors,
    read_credential,
    recheck_ace,
    verify_credential,
)
from chain.dispatcher import BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import H, Reader
from chain.identity import TRON_ADDRESS_PREFIX, vm_address
from chain.ledger import BASE_PER_SUN, FEE_COLLECTOR, NATIVE_MINT, credit, debit, sun_balance, sun_text, transfer
from chain.state import State

from .accounts import TronAccounts, contract_key, tron_address
from .contracts import Create, Trigger, parse_create, parse_trigger, stored_fields
from .proto import ProtoError, TronTx, as_bytes, as_int, field, message, parse_transaction
from .vm import TokenShortfall, TransferFailed, TronState

RAW_TX, ACE_CALL = 0x40, 0x41
IMPERSONATED = 0x4F  # devnet mode only: an unsigned Tron transaction of an impersonated owner (docs/PROTOCOL.md §16)
TRON_OPCODES = (RAW_TX, ACE_CALL, IMPERSONATED)
TRANSFER_CONTRACT, CREATE_SMART_CONTRACT, TRIGGER_SMART_CONTRACT = 1, 30, 31
CONTRACT_NAMES = {
    TRANSFER_CONTRACT: "TransferContract",
    CREATE_SMART_CONTRACT: "CreateSmartContract",
    TRIGGER_SMART_CONTRACT: "TriggerSmartContract",
}
TYPE_URL_PREFIX = "type.googleapis.com/protocol."
ENERGY_PRICE_SUN = 100  # getEnergyFee: sun per unit of energy
MAX_FEE_LIMIT_SUN = 15_000 * 10**6  # getMaxFeeLimit: 15,000 TRX
CONSTANT_ENERGY_LIMIT = 100_000_000  # java-tron's maxEnergyLimitForConstant: a constant call's energy
MAX_NAME_BYTES = 32
# py-evm's errors as the contractRet a Tron node gives them (protocol Transaction.Result.contractResult)
CONTRACT_RESULTS: tuple[tuple[type[Exception], str], ...] = (
    (TokenShortfall, "TRANSFER_FAILED"),
    (Revert, "REVERT"),
    (OutOfGas, "OUT_OF_ENERGY"),
    (InvalidJumpDestination, "BAD_JUMP_DESTINATION"),
    (InsufficientStack, "STACK_TOO_SMALL"),
    (FullStack, "STACK_TOO_LARGE"),
    (InvalidInstruction, "ILLEGAL_OPERATION"),
    (WriteProtection, "ILLEGAL_OPERATION"),
    (TransferFailed, "TRANSFER_FAILED"),
    (ReservedBytesInCode, "INVALID_CODE"),
    (ContractCreationCollision, "UNKNOWN"),
)
CONTRACT_RESULT_CODES = frozenset(code for _, code in CONTRACT_RESULTS) | {"UNKNOWN"}
MAX_EXPIRATION_MS = 24 * 3600 * 1000  # Tron's limit on how far past the head a transaction may expire
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def processed_key(txid: bytes) -> bytes:
    return H(b"nvm/tvm/tx" + txid)


def tron_block_id(height: int, block_hash: bytes) -> bytes:
    """A block's id as Tron shows it: height u64, then the block hash from byte 8 on."""
    return height.to_bytes(8, "big") + block_hash[8:]


def owner_of(txid: bytes, signature: bytes) -> bytes:
    """The 21-byte Tron address whose key made `signature` (r ‖ s ‖ v, v 0/1 or 27/28) over the txid."""
    if len(signature) != 65:
        raise AdmissionError("a Tron signature is 65 bytes", "SIGERROR")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1) or int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        raise AdmissionError("bad signature: recovery id or high s", "SIGERROR")
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes((v,)), txid, hasher=None)
    except (ValueError, TypeError) as e:
        raise AdmissionError(f"the signature does not recover a key: {e}", "SIGERROR") from None
    return bytes((TRON_ADDRESS_PREFIX,)) + keccak(public.format(compressed=False)[1:])[-20:]


@dataclass(frozen=True)
class Transfer:
    owner: bytes  # 21 bytes
    to: bytes
    amount: int  # sun


@dataclass(frozen=True)
class TvmTx:
    tx: TronTx
    txid: bytes
    action: Transfer | Trigger | Create
    ace: AceAuth | None = None
    impersonated: bool = False  # 0x4F: no signature, its owner impersonated by the devnet

    @property
    def owner(self) -> bytes:
        return self.action.owner


@dataclass(frozen=True)
class ContractRun:
    """What running a contract gave: energy used, fee in sun, output, logs, the contractRet and the new
    contract's 21-byte address for a creation."""

    energy_used: int
    fee_sun: int
    output: bytes
    logs: list[tuple[bytes, list[int], bytes]]
    result: str  # "SUCCESS" or a contractRet such as "REVERT"
    message: str
    contract_address: bytes = b""


def _address(value: bytes, what: str) -> bytes:
    if len(value) != 21 or value[0] != TRON_ADDRESS_PREFIX:
        raise AdmissionError(f"{what} is not a Tron address (0x41 and 20 bytes)", "CONTRACT_VALIDATE_ERROR")
    return value


def _body(tx: TronTx) -> Transfer | Trigger | Create:
    c = tx.contract
    name = CONTRACT_NAMES.get(c.type)
    if name is None:
        raise AdmissionError(f"contract type {c.type} is not one this devnet runs", "CONTRACT_VALIDATE_ERROR")
    if c.type_url != TYPE_URL_PREFIX + name:
        raise AdmissionError(f"type_url {c.type_url!r} does not match {name}", "CONTRACT_VALIDATE_ERROR")
    try:
        if c.type == TRIGGER_SMART_CONTRACT:
            trigger = parse_trigger(c.value)
            _address(trigger.owner, "owner_address")
            _address(trigger.contract, "contract_address")
            return trigger
        if c.type == CREATE_SMART_CONTRACT:
            create = parse_create(c.value)
            _address(create.owner, "owner_address")
            return create
        body = message(c.value, {1: bytes, 2: bytes, 3: int}, "TransferContract")
    except ProtoError as e:
        raise AdmissionError(str(e), "OTHER_ERROR") from None
    t = Transfer(_address(as_bytes(body, 1), "owner_address"), _address(as_bytes(body, 2), "to_address"), as_int(body, 3))
    if t.amount <= 0:
        raise AdmissionError("Amount must be greater than 0.", "CONTRACT_VALIDATE_ERROR")
    if t.owner == t.to:
        raise AdmissionError("Cannot transfer TRX to yourself.", "CONTRACT_VALIDATE_ERROR")
    return t


def _tapos(tx: TronTx, recent: Sequence[bytes]) -> None:
    height = getattr(recent, "height", None)
    if height is None or len(tx.ref_block_bytes) != 2 or len(tx.ref_block_hash) != 8:
        raise AdmissionError("ref_block_bytes and ref_block_hash must name a recent block", "TAPOS_ERROR")
    for i, block_hash in enumerate(recent):
        number = height - i
        if number.to_bytes(8, "big")[6:8] == tx.ref_block_bytes and block_hash[8:16] == tx.ref_block_hash:
            return
    raise AdmissionError("Tapos check error: the reference block is not one of the latest blocks", "TAPOS_ERROR")


ACE_DOMAIN = b"nvm/tvm-ace/v1"
_ACE_HEAD = struct.Struct(">BQ32sI")  # opcode, chain id, signer id_com, raw_data length


def ace_unsigned(chain_id: int, signer: bytes, raw_data: bytes) -> bytes:
    """A 0x41 envelope up to its credential (docs/PROTOCOL.md §15): sign `ace_digest` of it and append the
    credential. `raw_data` is a Tron `Transaction.raw` whose contract's owner is the signer's Tron address."""
    return _ACE_HEAD.pack(ACE_CALL, chain_id, signer, len(raw_data)) + raw_data


def ace_digest(unsigned: bytes) -> bytes:
    return H(ACE_DOMAIN + unsigned)


def _read_ace(envelope: bytes) -> tuple[TronTx, AceAuth]:
    r = Reader(envelope)
    try:
        if len(envelope) < _ACE_HEAD.size:
            raise ValueError("shorter than its header")
        _op, chain_id, signer, n = _ACE_HEAD.unpack_from(envelope)
        r.pos = _ACE_HEAD.size
        raw_data = r.take(n)
        digest = ace_digest(envelope[: r.pos])
        credential = read_credential(r)
        r.done()
        tx = parse_transaction(field(1, raw_data))
    except (ValueError, AdmissionError) as e:  # ProtoError is a ValueError
        raise AdmissionError(f"not a TVM ACE call: {e}", "OTHER_ERROR") from None
    return tx, AceAuth(chain_id, signer, credential, digest)


def raw_data_of(envelope: bytes) -> bytes:
    """The Tron `Transaction.raw` an admitted TVM envelope carries, whichever its opcode."""
    if envelope[0] == ACE_CALL:
        return _read_ace(envelope)[0].raw_data
    if envelope[0] == IMPERSONATED:
        return envelope[1:]
    return parse_transaction(envelope[1:]).raw_data


def contract_address_of(txid: bytes, owner: bytes) -> bytes:
    """A deployed contract's 21-byte address (java-tron WalletUtil.generateContractAddress)."""
    return tron_address(keccak(txid + owner)[12:])


def _refuse(text: str) -> None:
    raise ExecutionError(text, "CONTRACT_VALIDATE_ERROR")


def _result_of(error: Exception) -> str:
    for kind, code in CONTRACT_RESULTS:
        if isinstance(error, kind):
            return code
    return "UNKNOWN"


class TvmEngine:
    name = "tvm"
    first_opcode = 0x40
    last_opcode = 0x4F

    def __init__(self, fee_collector: bytes = FEE_COLLECTOR, sealed: SealedKeys | None = None) -> None:
        self.impersonation = False  # devnet mode: 0x4F transactions are accepted (nvmsite/node.py sets it)
        self.fee_collector = fee_collector
        self.sealed = sealed  # the validator's attestation keys, for 0x41 calls signed that way
        self.coinbase = Address(vm_address(fee_collector, "tron"))

    def decode(self, envelope: bytes) -> Tx:
        op = envelope[0]
        ace = None
        if op == ACE_CALL:
            tx, ace = _read_ace(envelope)
        elif op == IMPERSONATED:
            if not self.impersonation:
                raise AdmissionError("impersonated transactions (0x4F) exist only in devnet mode", "devnet_off")
            try:
                tx = parse_transaction(field(1, envelope[1:]))
            except ProtoError as e:
                raise AdmissionError(f"not a Tron transaction's raw_data: {e}", "OTHER_ERROR") from None
        elif op == RAW_TX:
            try:
                tx = parse_transaction(envelope[1:])
            except ProtoError as e:
                raise AdmissionError(f"not a Tron transaction: {e}", "OTHER_ERROR") from None
        else:
            raise AdmissionError(f"opcode {op:#04x} is not assigned in the TVM range", "unassigned_opcode")
        txid = hashlib.sha256(tx.raw_data).digest()
        action = _body(tx)
        if ace is not None:
            if tx.signatures:
                raise AdmissionError("an ACE call carries its credential, not Tron signatures", "OTHER_ERROR")
            if action.owner != tron_address(vm_address(ace.signer, "tron")):
                raise AdmissionError("the contract's owner must be the signer's own Tron address", "CONTRACT_VALIDATE_ERROR")
        body = TvmTx(tx, txid, action, ace, impersonated=op == IMPERSONATED)
        return Tx(envelope, ids=(txid,), sender=ace.signer if ace else None, body=body)

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        found = self.decode(envelope)
        t: TvmTx = found.body  # type: ignore[assignment]
        _tapos(t.tx, recent)
        head_ms = getattr(recent, "timestamp_ms", 0)
        # After the head block; at most 24 h past it — or past now, on a devnet whose blocks come on demand and
        # whose head may be old (wallets set expirations from their own clocks; policy, not consensus).
        latest = max(head_ms, int(time.time() * 1000)) + MAX_EXPIRATION_MS
        if not head_ms < t.tx.expiration <= latest:
            raise AdmissionError(
                "Transaction expired" if t.tx.expiration <= head_ms else "expiration is more than 24 hours ahead",
                "TRANSACTION_EXPIRATION_ERROR",
            )
        if state.get(processed_key(t.txid)) is not None:
            raise AdmissionError("Dup transaction", "DUP_TRANSACTION_ERROR")
        if t.ace is not None:
            admit_ace(t.ace, state, chain_id, self.sealed)
        try:
            self.validate(t, state)
        except ExecutionError as e:
            raise AdmissionError(e.message, e.code) from None
        found.sender = t.ace.signer if t.ace is not None else lookup(state, "tron", t.owner)
        return found

    def verify(self, tx: Tx) -> None:
        t: TvmTx = tx.body  # type: ignore[assignment]
        if t.ace is not None:
            if not verify_credential(t.ace.credential, t.ace.digest):
                raise AdmissionError("the ACE credential does not verify", "SIGERROR")
            return
        if t.impersonated:
            return  # unsigned: the devnet impersonates its owner
        if len(t.tx.signatures) != 1:
            raise AdmissionError("a transaction carries exactly one signature here (no multi-signature permissions)", "SIGERROR")
        if owner_of(t.txid, t.tx.signatures[0]) != t.owner:
            raise AdmissionError("Validate signature error: the signature is not the owner's", "SIGERROR")

    def validate(self, t: TvmTx, state: State, constant: bool = False) -> None:
        """The contract's own rules against `state`, java-tron's texts (ExecutionError CONTRACT_VALIDATE_ERROR).
        A constant call may come from any address, known or not, with any balance (java-tron does not check)."""
        a = t.action
        who = self.owner_identity(t, state)
        kind = CONTRACT_NAMES[t.tx.contract.type]
        if constant:
            if isinstance(a, Trigger) and not TronAccounts(state).get_code(Address(a.contract[1:])):
                _refuse("Smart contract is not exist.")
            return
        if who is None:
            _refuse(f"Validate {kind} error, no OwnerAccount {tron_text(a.owner)}")
        have = 0 if who is None else sun_balance(state, who)
        if isinstance(a, Transfer):
            if have < a.amount:
                _refuse(f"Validate TransferContract error, balance is not sufficient: {have} sun")
            return
        if not 0 <= t.tx.fee_limit <= MAX_FEE_LIMIT_SUN:
            _refuse(f"feeLimit must be >= 0 and <= {MAX_FEE_LIMIT_SUN}")
        if a.call_token_value or a.token_id:
            _refuse("this devnet has no TRC-10 tokens: call_token_value and token_id must be 0")
        if isinstance(a, Create):
            c = a.contract
            if c.origin != a.owner:
                _refuse("OwnerAddress is not equals OriginAddress")
            if len(c.name.encode()) > MAX_NAME_BYTES:
                _refuse("contractName's length cannot be greater than 32")
            if not 0 <= c.consume_user_resource_percent <= 100:
                _refuse("percent must be >= 0 and <= 100")
            if c.origin_energy_limit <= 0:
                _refuse("The originEnergyLimit must be > 0")
            if not c.bytecode:
                _refuse("the contract has no bytecode")
            value = c.call_value
        else:
            if not TronAccounts(state).get_code(Address(a.contract[1:])):
                _refuse("No contract or not a smart contract")
            value = a.call_value
        if have < value:
            _refuse(f"Validate {kind} error, balance is not sufficient: {have} sun, call value {value}")

    @staticmethod
    def owner_identity(t: TvmTx, state: State) -> bytes | None:
        """Whose the owner's TRX are: an ACE call's signer (its Tron address is its own), else the identity the
        reverse index binds to the owner address."""
        if t.ace is not None:
            return t.ace.signer if factors(state, t.ace.signer) else None
        return lookup(state, "tron", t.owner)

    # -- execution -------------------------------------------------------------------------
    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        """Bandwidth is free here; what is checked first is that the transaction may still run: not
        expired, not processed — else it writes nothing."""
        t: TvmTx = tx.body  # type: ignore[assignment]
        if t.tx.expiration <= ctx.timestamp_ms:  # waited in the mempool past its expiration
            raise ExecutionError("Transaction expired", "TRANSACTION_EXPIRATION_ERROR")
        key = processed_key(t.txid)
        if state.get(key) is not None:
            raise ExecutionError("Dup transaction", "DUP_TRANSACTION_ERROR")
        state.set(key, ctx.height.to_bytes(8, "big"))
        return 0

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        t: TvmTx = tx.body  # type: ignore[assignment]
        if t.ace is not None:
            recheck_ace(t.ace, state, self.sealed)
            bind_identity(state, t.ace.signer)  # its Tron address answers for it in the VM
        self.validate(t, state)  # the state may have moved since admission: refused, it writes nothing
        a = t.action
        if isinstance(a, Transfer):
            who = self.owner_identity(t, state)
            assert who is not None  # validated
            transfer(state, NATIVE_MINT, who, resolve(state, "tron", a.to), a.amount * BASE_PER_SUN)
            return Outcome()
        run = self.run_contract(t, state, ctx)
        logs = [
            encode_raw([address, [topic.to_bytes(32, "big") for topic in topics], data]) for address, topics, data in run.logs
        ]
        return Outcome(
            gas_used=run.energy_used,
            output=run.contract_address + run.output,  # a creation's: the new address, then the code it deployed
            logs=logs,
            fee=run.fee_sun * BASE_PER_SUN,
            failure=None if run.result == "SUCCESS" else (run.result, run.message),
        )

    def _context(self, ctx: BlockContext) -> ExecutionContext:
        return ExecutionContext(
            coinbase=self.coinbase,
            timestamp=ctx.timestamp_ms // 1000,
            block_number=BlockNumber(ctx.height),
            difficulty=0,
            mix_hash=Hash32(bytes(32)),
            gas_limit=MAX_FEE_LIMIT_SUN // ENERGY_PRICE_SUN,
            # BLOCKHASH answers a Tron block id: height u64 ‖ hash[8:]
            prev_hashes=[Hash32(tron_block_id(ctx.height - 1 - i, h)) for i, h in enumerate(ctx.recent_hashes)],
            chain_id=ctx.chain_id,
            base_fee_per_gas=ENERGY_PRICE_SUN,
            excess_blob_gas=None,
        )

    def _limits(self, t: TvmTx, state: State) -> tuple[bytes, int, bytes | None, int, int]:
        """Who pays how much energy at most (java-tron's getTotalEnergyLimitWithFixRatio): the caller up to its
        fee limit and balance; for a call, the contract's origin too, by its resource percent and energy limit."""
        a = t.action
        assert not isinstance(a, Transfer)
        caller = self.owner_identity(t, state)
        assert caller is not None  # validated
        value = a.contract.call_value if isinstance(a, Create) else a.call_value
        caller_limit = min(t.tx.fee_limit, sun_balance(state, caller) - value) // ENERGY_PRICE_SUN
        if isinstance(a, Create):
            return caller, caller_limit, None, 0, 100
        stored = state.get(contract_key(a.contract[1:]))
        meta = None if stored is None else _metadata(stored)
        if meta is None or meta[0] == a.owner or meta[1] >= 100:
            return caller, caller_limit, None, 0, 100
        origin = lookup(state, "tron", meta[0])
        if origin is None:
            return caller, caller_limit, None, 0, 100
        origin_left = min(sun_balance(state, origin) // ENERGY_PRICE_SUN, meta[2])
        percent = meta[1]
        by_percent = origin_left if percent <= 0 else caller_limit * (100 - percent) // percent
        return caller, caller_limit, origin, min(origin_left, by_percent), percent

    def run_contract(self, t: TvmTx, state: State, ctx: BlockContext) -> ContractRun:
        """Run a Create/Trigger contract on `state`: energy bought from its payers, the message, energy paid."""
        a = t.action
        assert not isinstance(a, Transfer)
        evm = TronState(cast(Any, state), self._context(ctx), Hash32(bytes(32)))
        evm.lock_changes()
        accounts: TronAccounts = evm._account_db  # type: ignore[assignment]
        accounts.begin(t.txid)
        caller, caller_limit, origin, origin_limit, percent = self._limits(t, state)
        debit(state, NATIVE_MINT, caller, caller_limit * ENERGY_PRICE_SUN * BASE_PER_SUN)
        if origin is not None:
            debit(state, NATIVE_MINT, origin, origin_limit * ENERGY_PRICE_SUN * BASE_PER_SUN)
        limit = caller_limit + origin_limit
        sender = Address(a.owner[1:])
        created = b""
        if isinstance(a, Create):
            created = contract_address_of(t.txid, a.owner)
            msg = Message(
                gas=limit, to=CREATE_CONTRACT_ADDRESS, sender=sender, value=a.contract.call_value, data=b"",
                code=a.contract.bytecode, create_address=Address(created[1:]),
            )  # fmt: skip
        else:
            to = Address(a.contract[1:])
            msg = Message(gas=limit, to=to, sender=sender, value=a.call_value, data=a.data, code=evm.get_code(to))
        computation = _apply(evm, msg)
        used = limit - computation.get_gas_remaining()
        used -= evm.transaction_executor_class.calculate_gas_refund(computation, used)
        for address in computation.get_accounts_for_deletion():
            evm.delete_account(address)
        # energy paid (java-tron's payEnergyBill): the origin its share by percent, within what it put up; the
        # caller the rest
        origin_used = min(origin_limit, used * (100 - percent) // 100)
        caller_used = used - origin_used
        if caller_used > caller_limit:  # rounding of the split: the origin covers what the caller did not put up
            origin_used, caller_used = used - caller_limit, caller_limit
        credit(state, NATIVE_MINT, caller, (caller_limit - caller_used) * ENERGY_PRICE_SUN * BASE_PER_SUN)
        if origin is not None:
            credit(state, NATIVE_MINT, origin, (origin_limit - origin_used) * ENERGY_PRICE_SUN * BASE_PER_SUN)
        fee_sun = used * ENERGY_PRICE_SUN
        credit(state, NATIVE_MINT, self.fee_collector, fee_sun * BASE_PER_SUN)
        if computation.is_success:
            if isinstance(a, Create):
                state.set(contract_key(created[1:]), a.contract.stored(created, t.txid))
            logs = [(bytes(addr), list(topics), bytes(data)) for addr, topics, data in computation.get_log_entries()]
            return ContractRun(used, fee_sun, bytes(computation.output), logs, "SUCCESS", "", created)
        err = computation.error
        return ContractRun(used, fee_sun, bytes(computation.output), [], _result_of(err), str(err) or type(err).__name__)

    def run_constant(
        self,
        state: State,
        ctx: BlockContext,
        owner: bytes,
        contract: bytes,
        data: bytes,
        call_value: int = 0,
        state_class: type[Any] | None = None,
    ) -> ContractRun:
        """A constant call (`triggerconstantcontract`, `estimateenergy`): the contract run on `state` with
        `CONSTANT_ENERGY_LIMIT` energy and nothing paid; everything it wrote is undone. `state_class` may carry a
        timed opcode table (the API's)."""
        snap = state.snapshot()
        try:
            evm = (state_class or TronState)(cast(Any, state), self._context(ctx), Hash32(bytes(32)))
            evm.lock_changes()
            accounts: TronAccounts = evm._account_db
            accounts.begin(bytes(32))
            to, sender = Address(contract[1:]), Address(owner[1:])
            msg = Message(gas=CONSTANT_ENERGY_LIMIT, to=to, sender=sender, value=call_value, data=data, code=evm.get_code(to))
            computation = _apply(evm, msg)
            used = CONSTANT_ENERGY_LIMIT - computation.get_gas_remaining()
            used -= evm.transaction_executor_class.calculate_gas_refund(computation, used)
            output = bytes(computation.output)
            if computation.is_success:
                logs = [(bytes(addr), list(topics), bytes(d)) for addr, topics, d in computation.get_log_entries()]
                return ContractRun(used, 0, output, logs, "SUCCESS", "")
            err = computation.error
            return ContractRun(used, 0, output, [], _result_of(err), str(err) or type(err).__name__)
        finally:
            state.revert(snap)

    # -- for people ------------------------------------------------------------------------
    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        t: TvmTx = tx.body  # type: ignore[assignment]
        a = t.action
        fields = [Field("Txid", t.txid.hex())]
        if t.ace is not None:
            fields += [
                Field("Signer", t.ace.signer, "id_com"),
                Field("Credential", SCHEME_NAMES.get(t.ace.credential.scheme, "?")),
            ]
        fields += [
            Field("Contract", CONTRACT_NAMES.get(t.tx.contract.type, str(t.tx.contract.type))),
            Field("Owner", a.owner, "address", tag="tron"),
        ]
        if isinstance(a, Transfer):
            fields += [Field("To", a.to, "address", tag="tron"), Field("Amount", sun_text(a.amount))]
        elif isinstance(a, Trigger):
            fields += [Field("Contract address", a.contract, "address", tag="tron"), Field("Call value", sun_text(a.call_value))]
            fields.append(Field("Data", a.data, "hex"))
            if len(a.data) >= 4:
                fields.append(Field("Function selector", "0x" + a.data[:4].hex()))
        else:
            fields += [
                Field("New contract", contract_address_of(t.txid, a.owner), "address", tag="tron"),
                Field("Name", a.contract.name or "(none)"),
                Field("Call value", sun_text(a.contract.call_value)),
                Field("Bytecode", f"{len(a.contract.bytecode):,} bytes"),
                Field("User resource percent", a.contract.consume_user_resource_percent, "int"),
                Field("Origin energy limit", a.contract.origin_energy_limit, "int"),
            ]
        if not isinstance(a, Transfer):
            fields += [
                Field("Fee limit", sun_text(t.tx.fee_limit)),
                Field("Energy price", f"{ENERGY_PRICE_SUN} sun"),
            ]
        fields.append(Field("Expiration", t.tx.expiration, "time"))
        if t.tx.memo:
            fields.append(Field("Memo", t.tx.memo.decode("utf-8", "replace")))
        if t.ace is not None:
            return "ACE-authorised Tron transaction (0x41)", fields
        return ("impersonated Tron transaction (0x4F, devnet: unsigned)" if t.impersonated else "Tron transaction"), fields


def _apply(evm: Any, msg: Message) -> Any:
    """Run one message on the TVM as a transaction's outermost call: sender, target and precompiles warm, the
    energy price as GASPRICE, and a creation refused over an existing contract."""
    for address in (msg.sender, msg.storage_address, *evm.computation_class._precompiles):
        evm.mark_address_warm(address)
    context = evm.get_transaction_context_class()(gas_price=ENERGY_PRICE_SUN, origin=msg.sender)
    if msg.is_create and evm.has_code_or_nonce(msg.storage_address):
        computation = evm.get_computation(msg, context)
        computation.error = ContractCreationCollision("a contract already exists at the new address")
        return computation
    if msg.is_create:
        return evm.computation_class.apply_create_message(evm, msg, context)
    return evm.computation_class.apply_message(evm, msg, context)


def _metadata(stored: bytes) -> tuple[bytes, int, int]:
    """A stored contract's origin, consume_user_resource_percent and origin_energy_limit."""
    found = stored_fields(stored)
    return as_bytes(found, 1), as_int(found, 6), as_int(found, 8)
