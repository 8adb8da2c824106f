"""The TVM's account database: py-evm's accounts (engines/evm/accounts.py) in Tron's namespace (SPEC §1, §3).

A TVM account is the EVM's record layout under its own prefix, `H("nvm/tvm/…" ‖ address)` — nonce, code, code
hash, storage generation and slots — so a contract deployed through Tron and one deployed through Ethereum at the
same 20 bytes are different contracts, as on the two chains. Inside the VM an address is 20 bytes; at every
boundary (the reverse index, the API, logs shown to people) it is Tron's `0x41 ‖ 20 bytes`.

A balance is the identity's native balance in sun (1 sun = 1,000 base units): what the reverse index binds to
`0x41 ‖ address` under the tag `tron`. A change moves whole sun; the sub-sun remainder of a balance stays.
"""

from __future__ import annotations

from typing import Any

from chain.hashing import H
from chain.identity import TRON_ADDRESS_PREFIX
from chain.ledger import set_sun_balance, sun_balance
from engines.evm.accounts import SharedAccounts

TVM_NS = b"nvm/tvm"
_PREFIX = bytes((TRON_ADDRESS_PREFIX,))


def tron_address(address: bytes) -> bytes:
    """The 21-byte Tron form of a 20-byte VM address."""
    return _PREFIX + address


def contract_key(address: bytes) -> bytes:
    """Where a contract's Tron metadata lives: its `SmartContract` protobuf without the bytecode."""
    return H(TVM_NS + b"/contract" + address)


class TronAccounts(SharedAccounts):
    TAG = "tron"
    NS = TVM_NS
    # What one Tron transaction's run keeps besides the state (engines/tvm/vm.py): its root txid and internal
    # nonce (for CREATE addresses), and the TRC-10 token id each call depth was called with.
    root_txid = bytes(32)
    internal_nonce = 0
    pending_token_id = 0
    pending_token_shortfall = False
    token_ids: dict[int, int]

    def begin(self, txid: bytes) -> None:
        self.root_txid, self.internal_nonce, self.token_ids = txid, 0, {}

    @staticmethod
    def chain_address(address: bytes) -> bytes:
        return tron_address(address)

    def __init__(self, db: Any, *args: Any) -> None:
        super().__init__(db, *args)
        self.token_ids: dict[int, int] = {}

    def read_balance(self, id_com: bytes) -> int:
        return sun_balance(self.state, id_com)

    def write_balance(self, id_com: bytes, value: int) -> None:
        set_sun_balance(self.state, id_com, value)
