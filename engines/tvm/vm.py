"""The TVM: py-evm's Shanghai interpreter with Tron's differences (docs/PROTOCOL.md §15), over the TVM's accounts.

What differs from the EVM, as java-tron does it (actuator/…/vm/OperationActions.java, Program.java,
PrecompiledContracts.java):
- `CALLTOKEN` 0xd0 is CALL with a TRC-10 token id and token value (8 stack items: gas, to, token value, token id,
  in, in size, out, out size). The id must be in (1,000,000, 2^63-1], else the frame fails (`TRANSFER_FAILED`).
  This chain has no TRC-10 tokens, so a call that sends a token value fails like an underfunded CALL (0 pushed,
  its energy returned); with a token value of 0 it is a plain call that sees the id as `CALLTOKENID`.
- `TOKENBALANCE` 0xd1 (id, address): 0 for any valid id; `CALLTOKENVALUE` 0xd2: 0; `CALLTOKENID` 0xd3: the id
  the current call was made with (0 for a plain call); `ISCONTRACT` 0xd4 (address): 1 if it holds code.
- `CREATE` addresses are `keccak(root txid ‖ internal nonce u64)[12:]`, the internal nonce counting the
  transaction's internal calls and creations in order; `CREATE2` addresses are
  `keccak(0x41 ‖ creator ‖ salt ‖ keccak(initcode))[12:]`. Neither bumps an account nonce (Tron has none).
- `GASPRICE` and `BASEFEE` answer the energy price in sun; `BLOCKHASH` answers a block's Tron id (height u64 ‖
  hash[8:]); `COINBASE` the fee collector's Tron address; `PREVRANDAO` 0.
- Precompiles 0x09 BatchValidateSign and 0x0a ValidateMultiSign replace Ethereum's BLAKE2F (kept at 0x020009, as
  on Tron) and the KZG point evaluation (not on Tron).
Energy is gas: each opcode costs what the Shanghai schedule charges, and value is in sun.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, cast

import coincurve
from eth._utils.address import force_bytes_to_address
from eth.abc import ComputationAPI, MessageAPI
from eth.exceptions import Revert, VMError
from eth.vm.forks.berlin.logic import CallEIP2929
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth.vm.forks.shanghai.logic import Create2EIP3860, CreateEIP3860
from eth.vm.logic.call import CallParams
from eth.vm.logic.system import CreateOpcodeStackData
from eth.vm.opcode import Opcode
from eth_abi.abi import decode
from eth_hash.auto import keccak
from eth_typing import Address

from chain.accounts import lookup
from engines.evm.contracts import chain_state, with_native_contracts
from engines.evm.engine import BaseFeeToCoinbase

from .accounts import TronAccounts, tron_address

MIN_TOKEN_ID = 1_000_000  # java-tron VMConstant.MIN_TOKEN_ID: TRC-10 ids are above it
LONG_MAX = 2**63 - 1
ENERGY_PER_SIGNATURE = 1_500  # java-tron: half an ecrecover
BATCH_MAX_SIGNATURES, MULTISIGN_MAX_SIGNATURES = 16, 5
OWNER_PERMISSION, ACTIVE_PERMISSION = 0, 2


class TransferFailed(VMError):
    """Tron's TransferException: the frame fails and its energy is spent (`TRANSFER_FAILED`)."""


class TokenShortfall(Revert):
    """A CALLTOKEN whose sender lacks the token value: the call fails (0 pushed) and its energy comes back."""


def _accounts(computation: Any) -> TronAccounts:
    return cast(TronAccounts, computation.state._account_db)


def _valid_token_id(token_id: int) -> None:
    if not MIN_TOKEN_ID < token_id <= LONG_MAX:
        raise TransferFailed("validateForSmartContract failure: not valid token id")


# -- opcodes ------------------------------------------------------------------------------------------
class CallToken(CallEIP2929):
    """0xd0: CALL with a TRC-10 token (id and value) in place of TRX."""

    def get_call_params(self, computation: ComputationAPI) -> CallParams:
        gas = computation.stack_pop1_int()
        to = force_bytes_to_address(computation.stack_pop1_bytes())
        token_value, token_id, in_start, in_size, out_start, out_size = computation.stack_pop_ints(6)
        _valid_token_id(token_id)
        accounts = _accounts(computation)
        accounts.pending_token_id = token_id
        # No TRC-10 token exists here, so no one holds any: a token value is never there to send
        accounts.pending_token_shortfall = token_value > 0
        return (gas, 0, to, None, None, in_start, in_size, out_start, out_size, True, computation.msg.is_static)


def _token_balance(computation: ComputationAPI) -> None:
    token_id, _address = computation.stack_pop_ints(2)
    _valid_token_id(token_id)
    computation.stack_push_int(0)


def _call_token_value(computation: ComputationAPI) -> None:
    computation.stack_push_int(0)


def _call_token_id(computation: ComputationAPI) -> None:
    computation.stack_push_int(_accounts(computation).token_ids.get(computation.msg.depth, 0))


def _is_contract(computation: ComputationAPI) -> None:
    address = force_bytes_to_address(computation.stack_pop1_bytes())
    computation.stack_push_int(1 if computation.state.get_code(address) else 0)


def _energy_price(computation: ComputationAPI) -> None:
    computation.stack_push_int(computation.transaction_context.gas_price)


class TronCreate(CreateEIP3860):
    def generate_contract_address(
        self, stack_data: CreateOpcodeStackData, call_data: bytes, computation: ComputationAPI
    ) -> Address:
        accounts = _accounts(computation)
        address = Address(keccak(accounts.root_txid + accounts.internal_nonce.to_bytes(8, "big"))[12:])
        computation.state.mark_address_warm(address)
        return address


class TronCreate2(Create2EIP3860):
    def generate_contract_address(
        self, stack_data: CreateOpcodeStackData, call_data: bytes, computation: ComputationAPI
    ) -> Address:
        creator = tron_address(computation.msg.storage_address)
        address = Address(keccak(creator + (stack_data.salt or 0).to_bytes(32, "big") + keccak(call_data))[12:])
        computation.state.mark_address_warm(address)
        return address


def _tron_opcodes(base: dict[int, Any]) -> dict[int, Any]:
    table = dict(base)
    plain = Opcode.as_opcode
    call = base[0xF1]
    table.update(
        {
            0x3A: plain(_energy_price, "GASPRICE", 2),
            0x48: plain(_energy_price, "BASEFEE", 2),
            0xD0: CallToken.configure(__name__="opcode:CALLTOKEN", mnemonic="CALLTOKEN", gas_cost=call.gas_cost)(),
            0xD1: plain(_token_balance, "TOKENBALANCE", 20),
            0xD2: plain(_call_token_value, "CALLTOKENVALUE", 2),
            0xD3: plain(_call_token_id, "CALLTOKENID", 2),
            0xD4: plain(_is_contract, "ISCONTRACT", 20),
            0xF0: TronCreate.configure(__name__="opcode:CREATE", mnemonic="CREATE", gas_cost=base[0xF0].gas_cost)(),
            0xF5: TronCreate2.configure(__name__="opcode:CREATE2", mnemonic="CREATE2", gas_cost=base[0xF5].gas_cost)(),
        }
    )
    return table


# -- precompiles ----------------------------------------------------------------------------------------
def _recover(signature: bytes, digest: bytes) -> bytes:
    """The 20-byte address whose key made a 65-byte (r, s, v) signature of `digest`, or b"" (java-tron's
    recoverAddrBySign: v of 0/1 or 27/28)."""
    if len(signature) < 65:
        return b""
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1):
        return b""
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes((v,)), digest, hasher=None)
    except (ValueError, TypeError):
        return b""
    return keccak(public.format(compressed=False)[1:])[-20:]


def _signature_energy(data: bytes, fixed_words: int, words_per_signature: int) -> int:
    count = int((len(data) // 32 - fixed_words) / words_per_signature)  # Java's long division: toward zero
    return max(0, count) * ENERGY_PER_SIGNATURE


def batch_validate_sign(computation: Any) -> Any:
    """0x09 (bytes32 hash, bytes[] signatures, address[] addresses) → bytes32 whose byte i is 1 when signature i
    recovers address i; all zero when the lists are empty, longer than 16 or of different lengths."""
    data = computation.msg.data_as_bytes
    computation.consume_gas(_signature_energy(data, 5, 6), "BatchValidateSign")
    result = bytearray(32)
    try:
        digest, signatures, addresses = decode(["bytes32", "bytes[]", "address[]"], data)
    except Exception:  # java-tron answers a malformed input with 32 zero bytes, never an error
        computation.output = bytes(result)
        return computation
    if 0 < len(signatures) <= BATCH_MAX_SIGNATURES and len(signatures) == len(addresses):
        for i, (signature, address) in enumerate(zip(signatures, addresses, strict=True)):
            if _recover(signature, digest) == bytes.fromhex(address[2:]):
                result[i] = 1
    computation.output = bytes(result)
    return computation


def validate_multi_sign(computation: Any) -> Any:
    """0x0a (address account, uint256 permission id, bytes32 data, bytes[] signatures) → 1 when the signatures
    of sha256(0x41 ‖ account ‖ permission id u32 ‖ data) reach the permission's threshold. An account here has the
    owner (0) and active (2) permissions of a fresh Tron account: its own key, weight 1, threshold 1."""
    data = computation.msg.data_as_bytes
    computation.consume_gas(_signature_energy(data, 5, 5), "ValidateMultiSign")
    computation.output = bytes(32)
    try:
        account, permission, message, signatures = decode(["address", "uint256", "bytes32", "bytes[]"], data)
    except Exception:
        return computation
    owner = bytes.fromhex(account[2:])
    if not 0 < len(signatures) <= MULTISIGN_MAX_SIGNATURES or permission not in (OWNER_PERMISSION, ACTIVE_PERMISSION):
        return computation
    if lookup(chain_state(computation), "tron", tron_address(owner)) is None:
        return computation  # no such account
    digest = hashlib.sha256(tron_address(owner) + permission.to_bytes(4, "big") + message).digest()
    weight = 0
    for signature in signatures:
        if _recover(signature, digest) != owner:
            return computation  # a key without weight in the permission: java-tron answers false
        weight = 1  # the same key twice adds nothing
    computation.output = weight.to_bytes(32, "big")
    return computation


def _tron_precompiles(base: dict[Address, Callable[[Any], Any]]) -> dict[Address, Callable[[Any], Any]]:
    table = {address: handler for address, handler in base.items() if int.from_bytes(address, "big") not in (0x09, 0x0A)}
    table[force_bytes_to_address(b"\x02\x00\x09")] = base[force_bytes_to_address(b"\x09")]  # BLAKE2F, where Tron has it
    table[force_bytes_to_address(b"\x09")] = batch_validate_sign
    table[force_bytes_to_address(b"\x0a")] = validate_multi_sign
    return table


_NvmShanghai: Any = with_native_contracts(ShanghaiComputation)


class TronComputation(_NvmShanghai):  # type: ignore[misc,valid-type]
    """Shanghai's computation with Tron's opcodes and precompiles; every child message it starts counts as one
    internal transaction (Tron's internal nonce) and carries the token id of its call."""

    opcodes = _tron_opcodes(ShanghaiComputation.opcodes)
    _precompiles = _tron_precompiles(_NvmShanghai._precompiles)

    def apply_child_computation(self, child_msg: MessageAPI) -> ComputationAPI:
        accounts = _accounts(self)
        token_id, accounts.pending_token_id = accounts.pending_token_id, 0
        shortfall, accounts.pending_token_shortfall = accounts.pending_token_shortfall, False
        if shortfall:  # CALLTOKEN with a token value no one holds: fails before it starts, its energy returned
            child = type(self)(self.state, child_msg, self.transaction_context)
            child.error = TokenShortfall("balance is not sufficient")
            self.add_child_computation(child)
            return cast(ComputationAPI, child)
        if child_msg.is_create or child_msg.code_address not in self._precompiles:
            accounts.internal_nonce += 1
        accounts.token_ids[child_msg.depth] = token_id
        return cast(ComputationAPI, super().apply_child_computation(child_msg))


def state_class() -> type[Any]:
    base = ShanghaiVM.get_state_class()
    return type("TronState", (BaseFeeToCoinbase, base), {"account_db_class": TronAccounts, "computation_class": TronComputation})


TronState = state_class()
