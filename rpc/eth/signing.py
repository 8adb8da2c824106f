"""Signing with the unlocked dev accounts (rpc/eth/impersonate.py), as local EVM devnets sign with theirs —
devnet mode only: `eth_sign` and `personal_sign` (EIP-191 personal messages), `eth_signTypedData_v4` (and `_v3`,
and plain `eth_signTypedData`, which anvil answers as v4: EIP-712), and `eth_signTransaction` (the raw signed
transaction eth_sendTransaction would send, not sent).

Signatures are eth-account's: 65 bytes `r ‖ s ‖ v` with v = 27 or 28, as MetaMask and anvil give them. An
impersonated address has no key: it can send (eth_sendTransaction) but not sign, as on anvil.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct, encode_typed_data

from .codec import INVALID_INPUT, RpcError, address_out, data, invalid, parse_address, parse_data
from .impersonate import dev_keys, filled_transaction
from .methods import rpc


def _key(address: Any) -> bytes:
    who = parse_address(address)
    key = dev_keys().get(who)
    if key is None:
        raise RpcError(
            INVALID_INPUT,
            f"no key for {address_out(who)}: this node signs only with its dev accounts (eth_accounts, devnet mode)",
        )
    return key


def _message(value: Any) -> bytes:
    """A message as wallets send it: 0x-hex bytes, or text (MetaMask takes both)."""
    if not isinstance(value, str):
        raise invalid("the message must be 0x-prefixed hex or text")
    return parse_data(value, "message") if value.startswith(("0x", "0X")) else value.encode()


def _sign(key: bytes, message: SignableMessage) -> str:
    return data(bytes(Account.sign_message(message, key).signature))


@rpc("eth_sign")
def eth_sign(address: Any, message: Any) -> str:
    return _sign(_key(address), encode_defunct(primitive=_message(message)))


@rpc("personal_sign")
def personal_sign(message: Any, address: Any, _password: Any = None) -> str:
    return _sign(_key(address), encode_defunct(primitive=_message(message)))


@rpc("eth_signTypedData")
@rpc("eth_signTypedData_v3")
@rpc("eth_signTypedData_v4")
def sign_typed_data(address: Any, typed: Any) -> str:
    key = _key(address)
    if isinstance(typed, str):
        try:
            typed = json.loads(typed)
        except ValueError as e:
            raise invalid(f"typed data is not JSON: {e}") from None
    if not isinstance(typed, dict) or not {"types", "primaryType", "domain", "message"} <= typed.keys():
        raise invalid("typed data is an object with types, primaryType, domain and message (EIP-712)")
    try:
        message = encode_typed_data(full_message=typed)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise invalid(f"typed data does not encode (EIP-712): {e}") from None
    return _sign(key, message)


@rpc("eth_signTransaction")
def sign_transaction(obj: Any) -> str:
    """The raw transaction eth_sendTransaction would send for a dev account, signed and not sent."""
    if not isinstance(obj, dict) or obj.get("from") is None:
        raise invalid('eth_signTransaction needs "from"')
    _key(obj["from"])
    return data(filled_transaction(obj)[1:])  # the Ethereum transaction, without the envelope's opcode
