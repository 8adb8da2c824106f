"""Native contracts the EVM sees: every mint's ERC-20 view (SPEC §3) and the n-VM precompiles (SPEC §5).

They run as py-evm precompiles: `NvmComputation.precompiles` answers for the fixed addresses
0x…0100–0x…0107 and, through the state, for any mint's ERC-20 address. Each handler charges its
gas, refuses writes under STATICCALL, refuses DELEGATECALL/CALLCODE and value, writes only
through the journaled state (so an outer revert undoes it), and reverts with a Solidity-style
`Error(string)` (docs/PROTOCOL.md §10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.exceptions import Revert
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils.address import to_canonical_address

from chain import auth, ledger
from chain.accounts import lookup, resolve
from chain.errors import ExecutionError
from chain.hashing import U64_MAX
from chain.identity import context_shard, multisig_id_com, vm_address
from chain.state import State

ERROR_SELECTOR = keccak(b"Error(string)")[:4]
TRANSFER_TOPIC = int.from_bytes(keccak(b"Transfer(address,address,uint256)"), "big")
APPROVAL_TOPIC = int.from_bytes(keccak(b"Approval(address,address,uint256)"), "big")

# gas of each ERC-20 call: about what a Solidity ERC-20 spends (cold reads, writes, its log)
TRUE_WORD = (1).to_bytes(32, "big")
GAS_READ = 2_600
GAS_TRANSFER = 2_600 + 2 * 5_000 + 1_756
GAS_APPROVE = 2_600 + 5_000 + 1_756
GAS_TRANSFER_FROM = 2_600 + 3 * 5_000 + 1_756


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


TOTAL_SUPPLY, BALANCE_OF, ALLOWANCE = (
    selector("totalSupply()"),
    selector("balanceOf(address)"),
    selector("allowance(address,address)"),
)
DECIMALS, SYMBOL, NAME = selector("decimals()"), selector("symbol()"), selector("name()")
TRANSFER, APPROVE = selector("transfer(address,uint256)"), selector("approve(address,uint256)")
TRANSFER_FROM = selector("transferFrom(address,address,uint256)")


def fail(computation: Any, reason: str) -> None:
    computation.output = ERROR_SELECTOR + encode(["string"], [reason])
    raise Revert(reason)


def chain_state(computation: Any) -> State:
    return computation.state._account_db.state  # type: ignore[no-any-return]


def mint_at(state: State, address: bytes) -> bytes | None:
    return state.get(ledger.erc20_map_slot(address))


def _args(computation: Any, types: list[str]) -> tuple[Any, ...]:
    """Static ABI arguments (address, uint256) by slicing 32-byte words: the ERC-20 hot path."""
    data = computation.msg.data_as_bytes[4:]
    if len(data) < 32 * len(types):
        fail(computation, "malformed call data")
    out: list[Any] = []
    for i, kind in enumerate(types):
        word = data[32 * i : 32 * i + 32]
        if kind == "address":
            if any(word[:12]):
                fail(computation, "malformed call data: an address has 12 zero bytes first")
            out.append(word[12:])
        else:
            out.append(int.from_bytes(word, "big"))
    return tuple(out)


def _amount(computation: Any, value: int) -> int:
    if value > U64_MAX:
        fail(computation, "amount exceeds the ledger's u64 range")
    return value


def _ledger(computation: Any, op: Callable[[], None]) -> None:
    """Run a ledger operation; its own error (funds, overflow) becomes the call's revert reason."""
    try:
        op()
    except ExecutionError as e:
        fail(computation, e.message)


def _guard(computation: Any, writes: bool) -> None:
    msg = computation.msg
    if msg.is_delegation or msg.storage_address != msg.code_address:
        fail(computation, "native contracts cannot be called by DELEGATECALL or CALLCODE")
    if msg.value:
        fail(computation, "native contracts take no value")
    if writes and msg.is_static:
        fail(computation, "state change in a static call")


def erc20(computation: Any, mint: bytes) -> None:
    """The ERC-20 interface over the unified ledger (a TRC-20 one in the TVM); amounts in the mint's base units."""
    state = chain_state(computation)
    msg = computation.msg
    sel = msg.data_as_bytes[:4]
    me = Address(msg.code_address)

    def record() -> ledger.MintRecord:
        found = ledger.get_mint(state, mint)
        if found is None:
            fail(computation, "no such mint")
        assert found is not None
        return found

    accounts = computation.state._account_db  # the EVM's or the TVM's (a TRC-20 view): whose addresses these are

    def identity(address: bytes) -> bytes | None:
        return lookup(state, accounts.TAG, accounts.chain_address(address))

    def bind(address: bytes) -> bytes:
        return resolve(state, accounts.TAG, accounts.chain_address(address))

    def bal(address: bytes) -> int:
        who = identity(address)
        return 0 if who is None else ledger.balance(state, mint, who)

    if sel == TOTAL_SUPPLY:
        computation.consume_gas(GAS_READ, "ERC-20 totalSupply")
        _guard(computation, False)
        computation.output = encode(["uint256"], [record().supply])
    elif sel == BALANCE_OF:
        computation.consume_gas(GAS_READ, "ERC-20 balanceOf")
        _guard(computation, False)
        (owner,) = _args(computation, ["address"])
        computation.output = bal(owner).to_bytes(32, "big")
    elif sel == ALLOWANCE:
        computation.consume_gas(GAS_READ, "ERC-20 allowance")
        _guard(computation, False)
        owner, spender = (identity(a) for a in _args(computation, ["address", "address"]))
        allowed = 0 if owner is None or spender is None else ledger.allowance(state, mint, owner, spender)
        computation.output = encode(["uint256"], [allowed])
    elif sel == DECIMALS:
        computation.consume_gas(GAS_READ, "ERC-20 decimals")
        computation.output = encode(["uint8"], [record().decimals])
    elif sel == SYMBOL:
        computation.consume_gas(GAS_READ, "ERC-20 symbol")
        computation.output = encode(["string"], [record().symbol])
    elif sel == NAME:
        computation.consume_gas(GAS_READ, "ERC-20 name")
        computation.output = encode(["string"], [record().name])
    elif sel == TRANSFER:
        computation.consume_gas(GAS_TRANSFER, "ERC-20 transfer")
        _guard(computation, True)
        to, value = _args(computation, ["address", "uint256"])
        amount = _amount(computation, value)
        sender = identity(msg.sender)
        if sender is None:
            fail(computation, "insufficient balance")
            return
        _ledger(computation, lambda: ledger.transfer(state, mint, sender, bind(to), amount))
        computation.add_log_entry(
            me, (TRANSFER_TOPIC, int.from_bytes(msg.sender, "big"), int.from_bytes(to, "big")), amount.to_bytes(32, "big")
        )
        computation.output = TRUE_WORD
    elif sel == APPROVE:
        computation.consume_gas(GAS_APPROVE, "ERC-20 approve")
        _guard(computation, True)
        spender, value = _args(computation, ["address", "uint256"])
        amount = _amount(computation, value)
        owner = bind(msg.sender)
        grantee: bytes = spender
        _ledger(computation, lambda: ledger.approve(state, mint, owner, bind(grantee), amount))
        computation.add_log_entry(
            me, (APPROVAL_TOPIC, int.from_bytes(msg.sender, "big"), int.from_bytes(spender, "big")), amount.to_bytes(32, "big")
        )
        computation.output = TRUE_WORD
    elif sel == TRANSFER_FROM:
        computation.consume_gas(GAS_TRANSFER_FROM, "ERC-20 transferFrom")
        _guard(computation, True)
        src, to, value = _args(computation, ["address", "address", "uint256"])
        amount = _amount(computation, value)
        owner, spender = identity(src), identity(msg.sender)
        if owner is None or spender is None:
            fail(computation, "insufficient allowance")
            return

        def move() -> None:
            ledger.spend_allowance(state, mint, owner, spender, amount)
            ledger.transfer(state, mint, owner, bind(to), amount)

        _ledger(computation, move)
        computation.add_log_entry(
            me, (TRANSFER_TOPIC, int.from_bytes(src, "big"), int.from_bytes(to, "big")), amount.to_bytes(32, "big")
        )
        computation.output = TRUE_WORD
    else:
        computation.consume_gas(GAS_READ, "ERC-20 unknown selector")
        fail(computation, "unknown ERC-20 function")


# -- SPEC §5 precompiles ----------------------------------------------------------------------
def _precompile_address(n: int) -> Address:
    return Address(n.to_bytes(20, "big"))


ID_COM_VERIFY, CONTEXT_DERIVE, ADMIN_FACTOR_CHECK, ZKACE_BATCH_VERIFY = (_precompile_address(0x100 + i) for i in range(4))
MULTISIG_DERIVE, MULTISIG_VERIFY, CROSS_VM_CALL, RESOLVE_SVM_ADDR = (_precompile_address(0x104 + i) for i in range(4))
GAS_PRECOMPILE = 3_000


def _identity_of(computation: Any, who: str) -> bytes | None:
    """The identity behind an ABI `address` in the calling VM's namespace (EVM, or the TVM's 0x41 form)."""
    accounts = computation.state._account_db
    return lookup(chain_state(computation), accounts.TAG, accounts.chain_address(to_canonical_address(who)))


def id_com_verify(computation: Any) -> None:
    computation.consume_gas(GAS_PRECOMPILE, "id_com_verify")
    _guard(computation, False)
    id_com, who = _args_full(computation, ["bytes32", "address"])
    found = _identity_of(computation, who)
    computation.output = encode(["bool"], [found == id_com])


def context_derive(computation: Any) -> None:
    computation.consume_gas(GAS_PRECOMPILE, "context_derive")
    _guard(computation, False)
    prefix, ctx = _args_full(computation, ["bytes", "bytes16"])
    computation.output = encode(["uint256", "bytes32"], [context_shard(prefix, ctx), keccak(prefix + ctx)])


def multisig_derive(computation: Any) -> None:
    computation.consume_gas(GAS_PRECOMPILE, "multisig_derive")
    _guard(computation, False)
    threshold, members = _args_full(computation, ["uint8", "bytes32[]"])
    try:
        ms = multisig_id_com(threshold, list(members))
    except ValueError as e:
        fail(computation, str(e))
        return
    tag = computation.state._account_db.TAG
    computation.output = encode(["bytes32", "address"], [ms, vm_address(ms, tag)[-20:]])


def resolve_svm_addr(computation: Any) -> None:
    computation.consume_gas(GAS_PRECOMPILE, "resolve_svm_addr")
    _guard(computation, False)
    (who,) = _args_full(computation, ["address"])
    id_com = _identity_of(computation, who)
    if id_com is None:
        fail(computation, "the address belongs to no identity yet")
        return
    computation.output = encode(["bytes32"], [vm_address(id_com, "svm")])


GAS_PER_SIGNATURE = 3_000


def admin_factor_check(computation: Any) -> None:
    """Is `keyHash` (a factor id, H("nvm/factor" || scheme || key), docs/PROTOCOL.md §9) a factor of idCom?"""
    computation.consume_gas(GAS_PRECOMPILE, "admin_factor_check")
    _guard(computation, False)
    id_com, key_hash = _args_full(computation, ["bytes32", "bytes32"])
    registered = auth.factors(chain_state(computation), id_com)
    computation.output = encode(["bool"], [any(auth.factor_id(s, k) == key_hash for s, k in registered)])


def _credential(computation: Any, raw: bytes) -> auth.Credential:
    try:
        return auth.vm_checkable_credential(raw)
    except ValueError as e:
        fail(computation, f"a credential this node cannot check here: {e}")
        raise


def _authorised(computation: Any, id_com: bytes, cred: auth.Credential, digest: bytes) -> bool:
    computation.consume_gas(GAS_PER_SIGNATURE * max(1, len(cred.cosigs)), "signature checks")
    return auth.authorises(chain_state(computation), id_com, cred, digest)


def zkace_batch_verify(computation: Any) -> None:
    """Every credential verifies for its identity. A format the node cannot check (a ZK proof, an
    attestation tag) is an error, never `true`."""
    computation.consume_gas(GAS_PRECOMPILE, "zkace_batch_verify")
    _guard(computation, False)
    id_coms, digests, credentials = _args_full(computation, ["bytes32[]", "bytes32[]", "bytes[]"])
    if not len(id_coms) == len(digests) == len(credentials):
        fail(computation, "idComs, digests and credentials must be the same length")
    creds = [_credential(computation, raw) for raw in credentials]
    ok = all(_authorised(computation, i, c, d) for i, c, d in zip(id_coms, creds, digests, strict=True))
    computation.output = encode(["bool"], [ok])


def multisig_verify(computation: Any) -> None:
    """Do `sigs` — members' credentials, each `member index u8 || scheme u8 || key || signature` — reach the
    multisig account's threshold over `digest`?"""
    computation.consume_gas(GAS_PRECOMPILE, "multisig_verify")
    _guard(computation, False)
    ms_id_com, digest, sigs = _args_full(computation, ["bytes32", "bytes32", "bytes[]"])
    raw = bytes((auth.MULTISIG, len(sigs))) + b"".join(sigs) if len(sigs) < 256 else b""
    cred = _credential(computation, raw)
    computation.output = encode(["bool"], [_authorised(computation, ms_id_com, cred, digest)])


def not_yet(name: str) -> Callable[[Any], None]:
    def handler(computation: Any) -> None:
        computation.consume_gas(GAS_PRECOMPILE, name)
        fail(computation, f"{name} is not available on this node yet")

    return handler


def _args_full(computation: Any, types: list[str]) -> tuple[Any, ...]:
    try:
        return tuple(decode(types, computation.msg.data_as_bytes))
    except (DecodingError, ValueError, OverflowError):
        fail(computation, "malformed call data")
        raise


NVM_PRECOMPILES: dict[Address, Callable[[Any], None]] = {
    ID_COM_VERIFY: id_com_verify,
    CONTEXT_DERIVE: context_derive,
    ADMIN_FACTOR_CHECK: admin_factor_check,
    ZKACE_BATCH_VERIFY: zkace_batch_verify,
    MULTISIG_DERIVE: multisig_derive,
    MULTISIG_VERIFY: multisig_verify,
    CROSS_VM_CALL: not_yet("cross_vm_call (it needs the SVM engine)"),
    RESOLVE_SVM_ADDR: resolve_svm_addr,
}


class _Contracts:
    """The fork's precompiles and ours, then any mint's ERC-20 view found through the state (py-evm
    only ever asks `.get(address)`)."""

    __slots__ = ("computation", "static")

    def __init__(self, static: dict[Address, Any], computation: Any) -> None:
        self.static = static
        self.computation = computation

    def get(self, address: Any, default: Any = None) -> Any:
        found = self.static.get(address)
        if found is not None:
            return found
        mint = mint_at(chain_state(self.computation), address)
        if mint is None:
            return default
        return lambda computation: erc20(computation, mint)


class NativeContracts:
    """Mixed into a fork's computation class: its precompiles plus the n-VM's and the ERC-20 views."""

    _precompiles: dict[Address, Any]

    @property
    def precompiles(self) -> Any:
        return _Contracts(self._precompiles, self)


def with_native_contracts(base: type) -> type:
    static = {**base.get_precompiles(), **NVM_PRECOMPILES}  # type: ignore[attr-defined]
    # `_precompiles` is also what the executor warms up at the start of a transaction
    return type(f"Nvm{base.__name__}", (NativeContracts, base), {"_precompiles": static})


NvmComputation = with_native_contracts(ShanghaiComputation)
