"""The node's own senders in the Ethereum dialect (issue 10), as local EVM devnets have them — devnet mode only:

- **Dev accounts.** The genesis's EVM wallets whose well-known keys it lists (anvil's test mnemonic, #0–#2) are
  unlocked: `eth_accounts` names them and `eth_sendTransaction` from one is signed with its key — an ordinary
  signed transaction (0x10), as anvil does for its accounts.
- **Impersonation.** `anvil_impersonateAccount` / `anvil_stopImpersonatingAccount` (and hardhat's names),
  `anvil_autoImpersonateAccount`; `eth_sendTransaction` from an impersonated address is an unsigned EIP-1559
  transaction the node wraps as the EVM's 0x1F envelope (docs/PROTOCOL.md §16), so it runs, is mined and is found
  by its hash like any other.

From any other address `eth_sendTransaction` is refused (the node holds no one else's key), and outside devnet
mode `eth_accounts` is empty and all of it is refused."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from eth.vm.forks.shanghai import ShanghaiVM
from eth_keys.datatypes import PrivateKey

from chain.errors import AdmissionError
from chain.store.sql import consistent_reads
from engines.evm.engine import BASE_FEE_WEI, RAW_TX, impersonated_envelope
from nvmsite import impersonation
from nvmsite.node import admit_to_mempool

from .codec import INVALID_INPUT, RpcError, address_out, data, invalid, parse_address, parse_bool, parse_quantity
from .methods import SUGGESTED_TIP_WEI, _dev, chain_id, evm_engine, pending_nonce, rpc
from .simulate import Simulator, parse_call_args

_builder: Any = ShanghaiVM.get_transaction_builder()


@lru_cache(maxsize=4)
def _genesis_keys(path: str) -> dict[bytes, bytes]:
    from chain.genesis import GenesisError, load

    try:
        accounts = load(Path(path)).accounts
    except GenesisError:
        return {}
    return {a.address: a.private_key for a in accounts if a.legacy == "evm" and a.address and a.private_key}


def dev_keys() -> dict[bytes, bytes]:
    """The unlocked dev accounts (address → key) of the genesis file, in devnet mode; none otherwise."""
    if not settings.NVM_DEVNET:
        return {}
    return _genesis_keys(str(settings.NVM_GENESIS))


def dev_accounts() -> list[str]:
    return [address_out(a) for a in dev_keys()]


@rpc("anvil_impersonateAccount")
def impersonate_account(address: Any) -> None:
    _dev(impersonation.impersonate, address_out(parse_address(address)), True)


@rpc("anvil_stopImpersonatingAccount")
def stop_impersonating(address: Any) -> None:
    _dev(impersonation.impersonate, address_out(parse_address(address)), False)


rpc("hardhat_impersonateAccount")(impersonate_account)
rpc("hardhat_stopImpersonatingAccount")(stop_impersonating)


@rpc("anvil_autoImpersonateAccount")
def auto_impersonate(enabled: Any) -> None:
    _dev(impersonation.auto_impersonate, parse_bool(enabled, "enabled"))


@rpc("eth_sendTransaction")
def send_transaction(obj: Any) -> str:
    """A dev account's or an impersonated address's transaction (`filled_transaction`), sent."""
    if not isinstance(obj, dict) or obj.get("from") is None:
        raise invalid('eth_sendTransaction needs "from"')
    envelope = filled_transaction(obj)
    try:
        admitted = admit_to_mempool(envelope)
    except AdmissionError as e:
        raise RpcError(INVALID_INPUT, e.message, {"reason": e.code}) from None
    return data(admitted.ids[0])


def filled_transaction(obj: dict[str, Any]) -> bytes:
    """The envelope for a transaction object from a dev account (signed with its key: 0x10) or an impersonated
    address (0x1F): gas estimated and the nonce taken after its waiting ones unless given, a tip of the
    suggested one and a max fee of twice the base fee plus it unless given."""
    args = parse_call_args(obj)
    key = dev_keys().get(args.sender)
    if key is None and not impersonation.impersonating("evm", args.sender):
        raise RpcError(
            INVALID_INPUT,
            f"no signer for {address_out(args.sender)}: this node holds only its dev accounts' keys (eth_accounts) — "
            "sign the transaction and use eth_sendRawTransaction, or impersonate the address first "
            "(anvil_impersonateAccount, devnet mode)",
        )
    engine = evm_engine()
    if args.max_fee_per_gas is None:
        args.max_priority_fee_per_gas = SUGGESTED_TIP_WEI
        args.max_fee_per_gas = 2 * BASE_FEE_WEI + SUGGESTED_TIP_WEI
    nonce = parse_quantity(obj["nonce"], "nonce", 2**64 - 1) if obj.get("nonce") is not None else pending_nonce(args.sender)
    if args.gas is None:
        with consistent_reads():
            args.gas = Simulator(engine).estimate_gas(args)
    fields = (
        chain_id(), nonce, args.max_priority_fee_per_gas, args.max_fee_per_gas, args.gas, args.to, args.value,
        args.data, [(a, tuple(slots)) for a, slots in args.access_list],
    )  # fmt: skip
    if key is not None:  # a dev account: signed with its key, an ordinary raw transaction
        signed = _builder.new_unsigned_dynamic_fee_transaction(*fields).as_signed_transaction(PrivateKey(key))
        return bytes((RAW_TX,)) + signed.encode()
    return impersonated_envelope(args.sender, _builder.new_dynamic_fee_transaction(*fields, 0, 0, 0).encode())
