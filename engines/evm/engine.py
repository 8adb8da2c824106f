"""The EVM engine (opcodes 0x10–0x1F, SPEC §1): py-evm's interpreter over the shared state.

0x10 carries a raw Ethereum transaction byte-exact (legacy with EIP-155, EIP-2930, EIP-1559).
Admission decodes it with py-evm's transaction builder, recovers the sender (coincurve, through
eth-keys) and checks what py-evm does not (shared/notes/py-evm-over-shared-state.md): the chain id,
gas ≥ intrinsic gas, priority fee ≤ max fee ≤ … ≥ base fee, EIP-3607 (no code at the sender), the
nonce, the initcode size and that the sender can pay gas × max fee + value.

Fees (docs/PROTOCOL.md §10): the base fee is a constant 1 gwei per gas (one base unit). Nothing
is burned — base fee and tip both go to the fee collector, whose EVM address is the block's
coinbase — so the EVM's fees, like the native runtime's, never change the supply.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import coincurve
import rlp
from eth.abc import SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import PyEVMError, Revert, UnrecognizedTransactionType
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.spoof import SpoofTransaction
from eth_hash.auto import keccak
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.exceptions import ValidationError
from rlp.codec import encode_raw

from chain import ledger
from chain.accounts import bind_identity, derived_index_keys, lookup, resolve
from chain.auth import SCHEME_NAMES, Credential, SealedKeys, credential_problem, read_credential, verify_credential
from chain.dispatcher import Access, BlockContext, Field, Outcome, Tx
from chain.errors import AdmissionError, ExecutionError
from chain.hashing import U64_MAX, H, Reader
from chain.identity import legacy_id_com, vm_address
from chain.ledger import WEI_PER_BASE
from chain.state import State, reverse_index_key

from .accounts import (
    SharedAccounts,
    account_key,
    code_hash_key,
    code_key,
    generation_key,
    nonce_key,
    slot_count_key,
    storage_key,
)
from .contracts import GAS_TRANSFER, TRANSFER, TRANSFER_TOPIC, TRUE_WORD, mint_at, with_native_contracts

RAW_TX, ACE_CALL = 0x10, 0x11
IMPERSONATED = 0x1F  # devnet mode only: an unsigned transaction from an impersonated address (docs/PROTOCOL.md §16)
BASE_FEE_WEI = 10**9  # 1 gwei per gas = one base unit
BLOCK_GAS_LIMIT = 30_000_000
MAX_INITCODE = 2 * 24_576  # EIP-3860
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX_NONCE_AHEAD = 1_000


def check_transaction(
    etx: EvmTx, accounts: SharedAccounts, chain_id: int, base_fee: int, gas_limit: int, exact_nonce: bool
) -> None:
    """Ethereum's validity rules for a transaction against the state, including those py-evm skips; each refusal
    opens with geth's words for it (ethers and viem tell errors apart by them).

    The node runs it at admission (a nonce may be ahead, for queued transactions); the
    conformance runner runs it before each state test with the test's block values.
    """
    tx = etx.tx
    if tx.chain_id is not None and tx.chain_id != chain_id:
        raise AdmissionError(
            f"invalid chain id for signer: signed for chain {tx.chain_id}, this is chain {chain_id}", "wrong_chain"
        )
    if tx.gas > gas_limit:
        raise AdmissionError(f"exceeds block gas limit: gas {tx.gas}, block gas limit {gas_limit}", "gas_limit")
    if tx.gas < tx.intrinsic_gas:
        raise AdmissionError(f"intrinsic gas too low: gas {tx.gas}, minimum needed {tx.intrinsic_gas}", "intrinsic_gas")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise AdmissionError(
            f"max priority fee per gas higher than max fee per gas: maxPriorityFeePerGas {tx.max_priority_fee_per_gas}, "
            f"maxFeePerGas {tx.max_fee_per_gas}",
            "fee_cap",
        )
    if tx.max_fee_per_gas < base_fee:
        raise AdmissionError(
            f"max fee per gas less than block base fee: maxFeePerGas {tx.max_fee_per_gas}, baseFee {base_fee}", "fee_too_low"
        )
    if tx.to == b"" and len(tx.data) > MAX_INITCODE:
        raise AdmissionError(f"initcode is longer than {MAX_INITCODE} bytes (EIP-3860)", "initcode_size")
    if tx.nonce >= 2**64 - 1:
        raise AdmissionError("nonce has max value (EIP-2681)", "nonce_max")
    if accounts.get_code(etx.sender) and not etx.impersonated:  # an impersonated contract may send (anvil's rule)
        raise AdmissionError("sender not an eoa: the sender has code (EIP-3607)", "sender_has_code")
    have = accounts.get_nonce(etx.sender)
    if tx.nonce < have:
        raise AdmissionError(f"nonce too low: next nonce {have}, tx nonce {tx.nonce}", "nonce_too_low")
    if tx.nonce > have + (0 if exact_nonce else MAX_NONCE_AHEAD):
        raise AdmissionError(
            f"nonce too high: next nonce {have}, tx nonce {tx.nonce} (at most {MAX_NONCE_AHEAD} ahead)", "nonce_too_high"
        )
    cost = tx.gas * tx.max_fee_per_gas + tx.value
    balance = accounts.get_balance(etx.sender)
    if cost > balance:
        raise AdmissionError(f"insufficient funds for gas * price + value: have {balance} want {cost}", "insufficient_funds")


def signing_message(raw: bytes, recovery: int | None) -> bytes:
    """What the sender signed, cut from the raw bytes (strictly decoded already): a typed transaction's
    type byte and its fields before (y_parity, r, s); a legacy one's six fields, plus (chain id, 0, 0)
    under EIP-155 (`recovery` is then the chain id)."""
    if raw[0] < 0x80:  # EIP-2718 typed
        typed: bytes = raw[:1] + encode_raw(rlp.decode(raw[1:])[:-3])
        return typed
    fields = rlp.decode(raw)[:6]
    if recovery is not None:
        fields += [recovery.to_bytes((recovery.bit_length() + 7) // 8, "big"), b"", b""]
    encoded: bytes = encode_raw(fields)
    return encoded


def recover_sender(tx: SignedTransactionAPI, raw: bytes | None = None) -> Address:
    """The signer's address, recovered by libsecp256k1 (coincurve) straight from (r, s, recovery id)."""
    recovery_id = tx.y_parity  # py-evm derives it for every type (EIP-155's v included)
    if recovery_id not in (0, 1):
        raise AdmissionError("bad signature recovery id", "bad_signature")
    signature = tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big") + bytes((recovery_id,))
    if raw is None:
        message = tx.get_message_for_signing()
    elif raw[0] < 0x80:  # typed
        message = signing_message(raw, None)
    else:
        message = signing_message(raw, None if getattr(tx, "v", 27) in (27, 28) else tx.chain_id)
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature, keccak(message), hasher=None)
    except (ValueError, TypeError) as e:
        raise AdmissionError(f"the signature does not recover a sender: {e}", "bad_signature") from None
    return Address(keccak(public.format(compressed=False)[1:])[-20:])


# geth's wording for the EVM's failures, so tools that match on it keep working
VM_ERROR_TEXT = {
    "OutOfGas": "out of gas",
    "InsufficientStack": "stack underflow",
    "FullStack": "stack limit reached",
    "InvalidJumpDestination": "invalid jump destination",
    "InvalidInstruction": "invalid opcode",
    "InsufficientFunds": "insufficient balance for transfer",
    "StackDepthLimit": "max call depth exceeded",
    "ContractCreationCollision": "contract address collision",
    "WriteProtection": "write protection",
    "OutOfBoundsRead": "return data out of bounds",
}
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Solidity's Error(string)


def revert_reason(output: bytes) -> str | None:
    """The message of a Solidity `Error(string)`, if that is what the revert data holds."""
    if output[:4] != ERROR_STRING_SELECTOR or len(output) < 68:
        return None
    offset = int.from_bytes(output[4:36], "big")
    if offset + 32 > len(output) - 4:
        return None
    length = int.from_bytes(output[4 + offset : 36 + offset], "big")
    text = output[36 + offset : 36 + offset + length]
    if len(text) != length:
        return None
    try:
        return text.decode()
    except UnicodeDecodeError:
        return None


def failure_words(err: Exception, output: bytes) -> str:
    """A failed computation's error as geth words it: "execution reverted" (with the Solidity reason the revert
    data holds), "out of gas", "invalid opcode", …"""
    if isinstance(err, Revert):
        reason = revert_reason(output)
        return "execution reverted" + (f": {reason}" if reason else "")
    name = type(err).__name__
    return VM_ERROR_TEXT.get(name) or str(err) or name


class BaseFeeToCoinbase:
    """Mixed into a fork's state: the coinbase (the fee collector) is paid the whole gas price — base
    fee and tip — where Ethereum burns the base fee. py-evm asks `get_tip` only to pay the coinbase."""

    def get_tip(self, transaction: SignedTransactionAPI) -> int:
        return self.get_gas_price(transaction)  # type: ignore[attr-defined,no-any-return]


FORKS: dict[str, type[Any]] = {"shanghai": ShanghaiVM, "cancun": CancunVM, "prague": PragueVM}


@cache
def fork_state_class(fork: str) -> type[Any]:
    """The fork's state class over the shared state, with the native contracts and the fee rule."""
    if fork not in FORKS:
        raise ValueError(f"unknown EVM fork {fork!r}: one of {', '.join(FORKS)}")
    base = FORKS[fork].get_state_class()
    return type(
        f"Nvm{base.__name__}",
        (BaseFeeToCoinbase, base),
        {"account_db_class": SharedAccounts, "computation_class": with_native_contracts(base.computation_class)},
    )


NvmShanghaiState = fork_state_class("shanghai")
NvmExecutor = NvmShanghaiState.transaction_executor_class


def _identity_keys(state: State, address: bytes, reads: set[bytes], writes: set[bytes]) -> bytes:
    """The identity behind an EVM address against `state` (chain.accounts.resolve), with the index keys
    resolving it may bind."""
    key = reverse_index_key("evm", address)
    writes.add(key)
    found = lookup(state, "evm", address)
    if found is not None:
        who = found
    else:
        who = legacy_id_com("evm", address)
        writes.update(k for tag, _a, k in derived_index_keys(who) if tag != "evm")
    for _tag, _a, k in derived_index_keys(who):  # bind_identity looks at them all
        reads.add(k)
    return who


def _account_keys(state: State, address: bytes, reads: set[bytes], writes: set[bytes]) -> None:
    """What the shared account database may touch for one address: its EVM records and its identity's
    wei (balance and dust)."""
    writes.update((account_key(address), nonce_key(address)))
    reads.update((code_key(address), code_hash_key(address), ledger.erc20_map_slot(address), generation_key(address)))
    who = _identity_keys(state, address, reads, writes)
    writes.update((ledger.balance_slot(ledger.NATIVE_MINT, who), ledger.dust_slot(who)))


@dataclass
class AceAuth:
    """What authorises a 0x11 call: an ACE identity's credential over the envelope's digest."""

    signer: bytes  # id_com
    credential: Credential
    digest: bytes


@dataclass
class EvmTx:
    tx: SignedTransactionAPI
    sender: Address
    hash: bytes
    ace: AceAuth | None = None
    impersonated: bool = False  # 0x1F: unsigned, from an address the devnet impersonates


def impersonated_envelope(sender: bytes, tx: bytes) -> bytes:
    """0x1F ‖ sender 20 ‖ an EIP-1559 transaction whose signature is zero (y_parity = r = s = 0)."""
    return bytes((IMPERSONATED,)) + sender + tx


def impersonated_hash(envelope: bytes) -> bytes:
    """Its Ethereum hash: keccak(sender ‖ transaction), so two senders' equal transactions differ."""
    return keccak(envelope[1:])


ACE_DOMAIN = b"nvm/evm-ace/v1"
# opcode, chain_id, signer, nonce, gas, max_fee_per_gas, max_priority_fee_per_gas, to length
_ACE_HEAD = struct.Struct(">BQ32sQQQQB")


def ace_unsigned(
    chain_id: int, signer: bytes, nonce: int, gas: int, max_fee: int, priority: int, to: bytes, value: int, data: bytes
) -> bytes:
    """A 0x11 envelope without its credential (docs/PROTOCOL.md §10); sign `ace_digest` of it."""
    if len(to) not in (0, 20):
        raise ValueError("`to` is 20 bytes, or empty for a contract creation")
    return (
        _ACE_HEAD.pack(ACE_CALL, chain_id, signer, nonce, gas, max_fee, priority, len(to))
        + to
        + value.to_bytes(32, "big")
        + len(data).to_bytes(4, "big")
        + data
    )


def ace_digest(unsigned: bytes) -> bytes:
    return H(ACE_DOMAIN + unsigned)


@dataclass
class EvmEngine:
    fee_collector: bytes  # id_com that receives every EVM fee
    sealed: SealedKeys | None = None  # the validator's attestation keys, for 0x11 calls signed that way
    fork: str = "shanghai"  # or "cancun", "prague" (NVM_EVM_FORK)
    # A plain value transfer or an ERC-20 view `transfer` that will succeed skips py-evm's message machinery:
    # the same writes in the same order, the same gas, logs and receipt (tests/test_evm_direct.py runs both ways).
    direct: bool = True
    impersonation: bool = False  # devnet mode: 0x1F transactions are accepted (nvmsite/node.py sets it)
    name: str = "evm"
    first_opcode: int = 0x10
    last_opcode: int = 0x1F

    def __post_init__(self) -> None:
        self.builder = FORKS[self.fork].get_transaction_builder()
        self.state_class = fork_state_class(self.fork)
        self._last_context: tuple[BlockContext, ExecutionContext] | None = None
        self.coinbase = Address(vm_address(self.fee_collector, "evm"))

    # -- admission ---------------------------------------------------------------------------
    def decode(self, envelope: bytes) -> Tx:
        op = envelope[0]
        if op == ACE_CALL:
            return self._decode_ace(envelope)
        if op == IMPERSONATED:
            return self._decode_impersonated(envelope)
        if op != RAW_TX:
            raise AdmissionError(f"opcode {op:#04x} is not assigned in the EVM range", "unassigned_opcode")
        raw = envelope[1:]
        try:
            tx = self.builder.decode(raw)
        except (
            rlp.DecodingError,
            rlp.DeserializationError,
            UnrecognizedTransactionType,
            ValidationError,
            ValueError,
            TypeError,
            IndexError,
        ) as e:
            raise AdmissionError(f"not a valid Ethereum transaction: {e}", "malformed") from None
        # no re-encoding check needed: rlp's strict decoding already refuses non-canonical bytes
        # (leading zeros, long-form lengths, trailing data) — tests/test_evm.py shows each
        if raw[0] in (0x03, 0x04):  # EIP-2718 type byte
            raise AdmissionError("blob (EIP-4844) and set-code (EIP-7702) transactions are not supported here", "unsupported")
        if not (0 < tx.r < SECP256K1_N and 0 < tx.s <= SECP256K1_N // 2):
            raise AdmissionError("signature values out of range (EIP-2 requires a low s)", "bad_signature")
        sender = recover_sender(tx, raw)
        tx.__dict__["sender"] = sender  # py-evm's cached property: it never recovers the sender again
        tx_hash = keccak(raw)  # what py-evm's `hash` re-encodes the transaction for: the bytes are canonical
        return Tx(envelope, ids=(tx_hash,), sender=sender, body=EvmTx(tx, Address(sender), tx_hash))

    def _decode_impersonated(self, envelope: bytes) -> Tx:
        if not self.impersonation:
            raise AdmissionError("impersonated transactions (0x1F) exist only in devnet mode", "devnet_off")
        sender, raw = envelope[1:21], envelope[21:]
        try:
            if len(sender) != 20 or not raw or raw[0] != 0x02:
                raise ValueError("0x1F is a 20-byte sender and an EIP-1559 transaction")
            tx = self.builder.decode(raw)
            if tx.r or tx.s or tx.y_parity:
                raise ValueError("an impersonated transaction's signature is zero")
        except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError, TypeError, IndexError) as e:
            raise AdmissionError(f"not an impersonated transaction: {e}", "malformed") from None
        unsigned = self.builder.new_unsigned_dynamic_fee_transaction(  # type: ignore[attr-defined]
            tx.chain_id, tx.nonce, tx.max_priority_fee_per_gas, tx.max_fee_per_gas, tx.gas, tx.to, tx.value, tx.data,
            tx.access_list,
        )  # fmt: skip
        spoof = cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=Address(sender)))  # as a 0x11 call runs
        tx_hash = impersonated_hash(envelope)
        return Tx(envelope, ids=(tx_hash,), sender=sender, body=EvmTx(spoof, Address(sender), tx_hash, impersonated=True))

    def _decode_ace(self, envelope: bytes) -> Tx:
        r = Reader(envelope)
        try:
            if len(envelope) < _ACE_HEAD.size:
                raise ValueError("shorter than the header")
            _op, chain_id, signer, nonce, gas, max_fee, priority, to_len = _ACE_HEAD.unpack_from(envelope)
            r.pos = _ACE_HEAD.size
            if to_len not in (0, 20):
                raise ValueError("`to` is 20 bytes or empty")
            to, value, data = r.take(to_len), r.uint(32), r.var(4)
            signed = envelope[: r.pos]
            credential = read_credential(r)
            r.done()
        except ValueError as e:
            raise AdmissionError(f"EVM ACE call: {e}", "malformed") from None
        sender = Address(vm_address(signer, "evm"))  # msg.sender: the identity's own EVM address
        try:
            unsigned = self.builder.new_unsigned_dynamic_fee_transaction(  # type: ignore[attr-defined]
                chain_id, nonce, priority, max_fee, gas, Address(to), value, data, []
            )
        except (ValidationError, ValueError, TypeError) as e:
            raise AdmissionError(f"EVM ACE call: {e}", "malformed") from None
        tx = cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=sender))
        ace = AceAuth(signer, credential, ace_digest(signed))
        return Tx(envelope, sender=signer, body=EvmTx(tx, sender, H(envelope), ace))

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Sequence[bytes] = ()) -> Tx:
        wrapped = self.decode(envelope)
        etx: EvmTx = wrapped.body  # type: ignore[assignment]
        if etx.ace is not None:
            problem = credential_problem(state, etx.ace.signer, etx.ace.credential, etx.ace.digest, self.sealed, check_tags=True)
            if problem is not None:
                raise AdmissionError(problem[1], problem[0])
        elif etx.tx.chain_id is None:
            raise AdmissionError("only replay-protected (EIP-155) transactions allowed", "wrong_chain")
        check_transaction(etx, SharedAccounts(state), chain_id, BASE_FEE_WEI, BLOCK_GAS_LIMIT, exact_nonce=False)
        return wrapped

    def verify(self, tx: Tx) -> None:
        etx: EvmTx = tx.body  # type: ignore[assignment]
        # a raw transaction's signature was checked by recovering its sender in `decode`
        if etx.ace is not None and not verify_credential(etx.ace.credential, etx.ace.digest):
            raise AdmissionError("signature does not verify", "bad_signature")

    # -- for people --------------------------------------------------------------------------
    def describe(self, tx: Tx) -> tuple[str, list[Field]]:
        """The transaction in Ethereum's terms (chain.dispatcher.Field); an ERC-20 call decoded."""
        etx: EvmTx = tx.body  # type: ignore[assignment]
        t = etx.tx
        fields: list[Field] = []
        if etx.ace is not None:
            title = "ACE-authorised EVM call (0x11)"
            fields += [
                Field("Signer", etx.ace.signer, "id_com"),
                Field("Credential", SCHEME_NAMES.get(etx.ace.credential.scheme, "?")),
            ]
        else:
            title = {0: "legacy transaction", 1: "EIP-2930 transaction", 2: "EIP-1559 transaction"}.get(
                t.type_id or 0, "transaction"
            )
            if etx.impersonated:
                title = "impersonated EIP-1559 transaction (0x1F, devnet: unsigned)"
            fields.append(Field("Hash", etx.hash, "hex"))
        fields.append(Field("From", bytes(etx.sender), "address", tag="evm"))
        if t.to in (b"", CREATE_CONTRACT_ADDRESS):
            fields.append(Field("To", "contract creation"))
        else:
            fields.append(Field("To", bytes(t.to), "address", tag="evm"))
        fields += [
            Field("Nonce", t.nonce, "int"),
            Field("Value", t.value, "wei"),
            Field("Gas limit", t.gas, "int"),
        ]
        if etx.ace is None and (t.type_id or 0) < 2:
            fields.append(Field("Gas price", t.gas_price, "wei"))
        else:
            fields += [
                Field("Max fee per gas", t.max_fee_per_gas, "wei"),
                Field("Max priority fee", t.max_priority_fee_per_gas, "wei"),
            ]
        if t.chain_id is not None:
            fields.append(Field("Chain id", t.chain_id, "int"))
        access = getattr(t, "access_list", ())
        if access:
            fields.append(Field("Access list", f"{len(access)} addresses, {sum(len(k) for _, k in access)} storage keys"))
        data = bytes(t.data)
        fields.append(Field("Input data", data, "hex"))
        if len(data) >= 68 and data[:4] == TRANSFER and not any(data[4:16]):
            fields += [
                Field("ERC-20 call", "transfer(address,uint256)"),
                Field("Recipient", data[16:36], "address", tag="evm"),
                Field("Amount (base units)", int.from_bytes(data[36:68], "big"), "int"),
            ]
        return title, fields

    # -- access sets (chain/parallel.py) -------------------------------------------------------
    def access(self, tx: Tx, state: State) -> Access | None:
        """The keys of the transactions whose footprint is known before they run: a plain value transfer
        to an address without code, `transfer` on a mint's ERC-20 view, and a contract call carrying an
        EIP-2930 access list (taken as complete). Anything else (creations, calls without a list, ACE
        calls) is global."""
        etx: EvmTx = tx.body  # type: ignore[assignment]
        t = etx.tx
        to = bytes(t.to)
        if etx.ace is not None or len(to) != 20 or to in self.state_class.computation_class._precompiles:
            return None
        reads: set[bytes] = set()
        writes: set[bytes] = set()
        data = bytes(t.data)
        mint = mint_at(state, to)
        if state.get(code_key(to)) is not None:
            listed = getattr(t, "access_list", ())
            if not listed:
                return None  # a contract call without an EIP-2930 list: anything may happen
            # EIP-2930: taken as the call's whole footprint; if it reaches further, the block runs sequentially
            holders = [etx.sender, to]
            for address, slots in listed:
                address = bytes(address)
                holders.append(address)
                generation = int.from_bytes(state.get(generation_key(address)) or b"", "big")
                writes.add(slot_count_key(address, generation))
                writes.update(storage_key(address, generation, slot) for slot in slots)
        elif mint is None:
            if data:
                return None  # calldata to an account without code: harmless, but rare enough to run alone
            holders = [etx.sender, to]
        else:
            if t.value or len(data) != 68 or data[:4] != TRANSFER or any(data[4:16]):
                return None
            recipient = data[16:36]
            holders = [etx.sender, to, recipient]
            reads.add(ledger.mint_slot(mint))
            for address in (etx.sender, recipient):
                writes.add(ledger.balance_slot(mint, _identity_keys(state, address, reads, writes)))
        for address in holders:
            _account_keys(state, address, reads, writes)
        # The coinbase is the fee collector's EVM address, bound to it first thing (evm_state). Every EVM
        # transaction pays it, so what is already there is only read: its account record and
        # the binding of its addresses are written once, by the first EVM transaction ever.
        fixed = [account_key(self.coinbase), *(k for _tag, _a, k in derived_index_keys(self.fee_collector))]
        for key in fixed:
            (reads if state.get(key) is not None else writes).add(key)
        reads.update((nonce_key(self.coinbase), code_key(self.coinbase), code_hash_key(self.coinbase)))
        reads.update((generation_key(self.coinbase), ledger.erc20_map_slot(self.coinbase), ledger.dust_slot(self.fee_collector)))
        if t.max_priority_fee_per_gas or BASE_FEE_WEI % WEI_PER_BASE:
            writes.add(ledger.dust_slot(self.fee_collector))  # a fee that is not whole base units moves its wei
        return Access(frozenset(reads), frozenset(writes))

    # -- execution ---------------------------------------------------------------------------
    def charge_fee(self, tx: Tx, state: State, ctx: BlockContext) -> int:
        return 0  # gas is bought and refunded inside the EVM's own transaction processing

    def evm_state(self, state: State, ctx: BlockContext) -> Any:
        bind_identity(state, self.fee_collector)  # every time: a reverted transaction may have undone it
        return self.state_class(cast(Any, state), self._context(ctx), Hash32(bytes(32)))  # the shared State is its db

    def _context(self, ctx: BlockContext) -> ExecutionContext:
        """py-evm's block context, made once per block (every transaction of the block shares it)."""
        cached = self._last_context
        if cached is not None and cached[0] == ctx:
            return cached[1]
        context = ExecutionContext(
            coinbase=self.coinbase,
            timestamp=ctx.timestamp_ms // 1000,
            block_number=BlockNumber(ctx.height),
            difficulty=0,
            mix_hash=Hash32(ctx.recent_hashes[0] if ctx.recent_hashes else bytes(32)),  # PREVRANDAO: the parent hash
            gas_limit=BLOCK_GAS_LIMIT,
            prev_hashes=[Hash32(h) for h in ctx.recent_hashes],
            chain_id=ctx.chain_id,
            base_fee_per_gas=BASE_FEE_WEI,
            excess_blob_gas=None if self.fork == "shanghai" else 0,  # no blobs on this chain
        )
        self._last_context = (ctx, context)
        return context

    def execute(self, tx: Tx, state: State, ctx: BlockContext) -> Outcome:
        etx: EvmTx = tx.body  # type: ignore[assignment]
        if self.direct and etx.ace is None and self.fork != "prague":  # Prague adds a calldata floor
            done = self._direct(etx, state)
            if done is not None:
                return done
        evm = self.evm_state(state, ctx)
        evm.lock_changes()
        accounts: SharedAccounts = evm._account_db  # type: ignore[assignment]
        if etx.ace is not None:  # admitted against an older state: the key may have been rotated since
            problem = credential_problem(state, etx.ace.signer, etx.ace.credential, etx.ace.digest, self.sealed, check_tags=False)
            if problem is not None:
                raise ExecutionError(problem[1], problem[0])
            bind_identity(state, etx.ace.signer)
        if accounts.get_nonce(etx.sender) != etx.tx.nonce:
            raise ExecutionError(f"nonce {etx.tx.nonce} is not the sender's next ({accounts.get_nonce(etx.sender)})", "bad_nonce")
        try:
            computation = evm.apply_transaction(etx.tx)
        except (ValidationError, PyEVMError) as e:
            raise ExecutionError(str(e), "invalid_transaction") from None
        gas_used = (
            etx.tx.gas
            - computation.get_gas_remaining()
            - evm.transaction_executor_class.calculate_gas_refund(computation, etx.tx.gas - computation.get_gas_remaining())
        )
        price = evm.get_gas_price(etx.tx)
        fee_wei = gas_used * price
        logs = [
            encode_raw([address, [t.to_bytes(32, "big") for t in topics], data])
            for address, topics, data in computation.get_log_entries()
        ]
        failure = None
        if computation.is_error:
            err = computation.error
            code = "reverted" if isinstance(err, Revert) else "evm_" + type(err).__name__.lower()
            failure = (code, failure_words(err, bytes(computation.output)))
        output = computation.output
        if etx.tx.to in (b"", CREATE_CONTRACT_ADDRESS) and computation.is_success:
            output = computation.msg.storage_address  # a creation's receipt names the new contract
        return Outcome(gas_used=gas_used, output=output, logs=logs, fee=fee_wei // WEI_PER_BASE, failure=failure)

    def _direct(self, etx: EvmTx, state: State) -> Outcome | None:
        """A raw transaction that only moves value, done without py-evm — or None (nothing written) when it is
        anything else or would not succeed, and py-evm runs it. Two kinds: a plain value transfer (value, no
        data) to an address without code, and `transfer(address,uint256)` on a mint's ERC-20 view. On success
        it makes exactly the calls py-evm's transaction executor makes on the account database, in its order:
        buy gas, bump the nonce, move the value and touch the recipient (or touch the view and make the view's
        ledger transfer, its recipient resolved first), refund the unused gas, pay the coinbase. EIP-161 clears
        nothing: the coinbase was paid, and the recipient received value or is a view."""
        tx = etx.tx
        to, data = tx.to, tx.data
        if etx.impersonated or len(to) != 20 or to in self.state_class.computation_class._precompiles:
            return None
        if state.get(code_key(to)) is not None:
            return None
        mint = mint_at(state, to)
        if mint is None:
            if data or not tx.value:  # a call, or nothing moved (an empty recipient would be cleared: py-evm's)
                return None
            gas_used, amount, recipient = tx.intrinsic_gas, 0, b""
        else:
            if tx.value or len(data) < 68 or data[:4] != TRANSFER or any(data[4:16]):
                return None
            gas_used, amount, recipient = tx.intrinsic_gas + GAS_TRANSFER, int.from_bytes(data[36:68], "big"), data[16:36]
            if amount > U64_MAX:
                return None
        if tx.gas < gas_used or tx.max_fee_per_gas < BASE_FEE_WEI or tx.s > SECP256K1_N // 2 or tx.s == 0:
            return None
        sender = etx.sender
        accounts = SharedAccounts(state)
        balance = accounts.get_balance(sender)
        if accounts.get_nonce(sender) != tx.nonce or balance < tx.gas * tx.max_fee_per_gas + tx.value:
            return None
        try:
            tx.validate()
        except ValidationError:
            return None
        price = min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + BASE_FEE_WEI)
        snap = state.snapshot()
        try:
            bind_identity(state, self.fee_collector)  # as evm_state() does
            accounts.set_balance(sender, balance - tx.gas * price)
            accounts.increment_nonce(sender)
            if mint is None:
                accounts.set_balance(sender, accounts.get_balance(sender) - tx.value)
                accounts.set_balance(to, accounts.get_balance(to) + tx.value)
                accounts.touch_account(to)
            else:
                accounts.touch_account(to)
                payer = lookup(state, "evm", sender)
                if payer is None:
                    raise ExecutionError("no payer", "fallback")
                ledger.transfer(state, mint, payer, resolve(state, "evm", recipient), amount)
            if tx.gas > gas_used:
                accounts.set_balance(sender, accounts.get_balance(sender) + (tx.gas - gas_used) * price)
            accounts.set_balance(self.coinbase, accounts.get_balance(self.coinbase) + gas_used * price)
        except ExecutionError:
            state.revert(snap)  # it would revert (funds, overflow): py-evm says how
            return None
        state.commit(snap)
        fee = gas_used * price // WEI_PER_BASE
        if mint is None:
            return Outcome(gas_used=gas_used, fee=fee)
        topics = [TRANSFER_TOPIC.to_bytes(32, "big"), bytes(12) + sender, bytes(12) + recipient]
        log = encode_raw([to, topics, amount.to_bytes(32, "big")])
        return Outcome(gas_used=gas_used, output=TRUE_WORD, logs=[log], fee=fee)
