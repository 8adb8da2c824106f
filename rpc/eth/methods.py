"""The Ethereum JSON-RPC methods: each takes its positional params and returns the JSON result.

Errors are raised as `RpcError` (codec.py); the view turns them, and anything unexpected, into
JSON-RPC error objects.
"""

from __future__ import annotations

import sys
from typing import Any

from eth_hash.auto import keccak
from eth_typing import Address

from chain.address import AddressError
from chain.blocks import Header
from chain.dispatcher import Receipt
from chain.errors import AdmissionError
from chain.hashing import U64_MAX
from chain.identity import vm_address
from chain.ledger import FEE_COLLECTOR, WEI_PER_BASE
from chain.node import chain_id_of
from chain.state import State
from chain.store import models as m
from chain.store.sql import HeadCachedEntries, consistent_reads
from engines.evm.accounts import SharedAccounts
from engines.evm.engine import BASE_FEE_WEI, BLOCK_GAS_LIMIT, RAW_TX, EvmEngine
from nvmsite.node import admit_to_mempool
from rpc.jsonrpc import METHOD_NOT_FOUND, Methods
from rpc.native.identity import identity_payload
from rpc.native.views import _registry

from . import logs
from .chaindata import (
    ETHEREUM_OPCODES,
    block_json,
    effective_gas_price,
    evm_txs,
    find_pending,
    find_tx,
    pending_transactions,
    receipt_json,
    senders,
    tx_json,
    view_of,
)
from .codec import (
    INVALID_INPUT,
    RpcError,
    address_out,
    data,
    invalid,
    parse_address,
    parse_block_ref,
    parse_bool,
    parse_data,
    parse_hash,
    parse_quantity,
    qty,
    require_current_state,
)
from .simulate import Simulator, failure_text, parse_call_args
from .trace import trace_transaction

CLIENT_VERSION = f"nvm-devnet/v0.1.0/{sys.platform}/python{sys.version_info.major}.{sys.version_info.minor}"
MAX_RAW_TX = 128 * 1024  # bytes, as the native API's largest envelope
MAX_FEE_HISTORY_BLOCKS = 1024
MAX_PERCENTILES = 100
MEMPOOL_SCAN = 20_000  # pending transactions looked at for a pending nonce
MAX_BALANCE_WEI = (U64_MAX + 1) * WEI_PER_BASE - 1  # a balance is at most U64_MAX base units (chain/ledger.py)
# Blocks are made in admission order and the base fee never moves, so a tip buys nothing: suggest none.
SUGGESTED_TIP_WEI = 0


def _not_found(name: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, f"the method {name} does not exist/is not available")


def _arity(name: str, least: int, most: int, got: int) -> RpcError:
    expected = str(least) if least == most else f"{least} to {most}"
    return invalid(f"{name} takes {expected} params, got {got}")


METHODS = Methods(_not_found, _arity)
rpc = METHODS.register
call_method = METHODS.call


# -- helpers ---------------------------------------------------------------------------------------
def evm_engine() -> EvmEngine:
    try:
        engine = _registry().route(bytes([RAW_TX]))
    except AdmissionError as e:
        raise RpcError(INVALID_INPUT, e.message) from None
    if not isinstance(engine, EvmEngine):
        raise RpcError(INVALID_INPUT, "the engine at opcode 0x10 is not the EVM engine")
    return engine


def coinbase() -> bytes:
    """The fee collector's EVM address: every EVM fee goes there (engines/evm/engine.py)."""
    try:
        return bytes(evm_engine().coinbase)
    except RpcError:
        return vm_address(FEE_COLLECTOR, "evm")


def accounts() -> SharedAccounts:
    """Read-only account state at the head (reads remembered for the rest of the block: wallets poll)."""
    return SharedAccounts(State(HeadCachedEntries()))


def chain_id() -> int:
    return chain_id_of(HeadCachedEntries())


def block_height(value: Any, what: str = "block") -> int | None:
    """The height a block parameter names, or None when there is no such block."""
    ref = parse_block_ref(value, what)
    if ref.hash is not None:
        raise invalid(f"{what} must be a block number or tag; use the ...ByHash method for a hash")
    if ref.tag == "earliest":
        return 0
    if ref.tag is not None:
        return logs.head_height()
    return ref.number


def block_row(value: Any) -> tuple[int, bytes] | None:
    height = block_height(value)
    row = m.Block.objects.filter(height=height).values_list("height", "header").first() if height is not None else None
    return None if row is None else (int(row[0]), bytes(row[1]))


def block_row_by_hash(value: Any) -> tuple[int, bytes] | None:
    row = m.Block.objects.filter(hash=parse_hash(value, "block hash")).values_list("height", "header").first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def _hash_of(header: bytes) -> bytes:
    return Header.decode(header).hash


# -- node --------------------------------------------------------------------------------------------
@rpc("web3_clientVersion")
def client_version() -> str:
    return CLIENT_VERSION


@rpc("web3_sha3")
def sha3(value: Any) -> str:
    return data(keccak(parse_data(value, "data", max_length=MAX_RAW_TX)))


@rpc("net_version")
def net_version() -> str:
    return str(chain_id())


@rpc("net_listening")
def net_listening() -> bool:
    return True


@rpc("net_peerCount")
def net_peer_count() -> str:
    return qty(0)  # a single-validator devnet has no peers


@rpc("eth_chainId")
def eth_chain_id() -> str:
    return qty(chain_id())


@rpc("eth_blockNumber")
def block_number() -> str:
    return qty(logs.head_height())


@rpc("eth_syncing")
def syncing() -> bool:
    return False


@rpc("eth_accounts")
def eth_accounts() -> list[str]:
    """In devnet mode the genesis's unlocked dev accounts (rpc/eth/impersonate.py); otherwise none: the node holds
    no user keys, wallets sign and send raw transactions."""
    from .impersonate import dev_accounts

    return dev_accounts()


@rpc("eth_coinbase")
def eth_coinbase() -> str:
    return address_out(coinbase())


@rpc("eth_mining")
def mining() -> bool:
    return False


@rpc("eth_hashrate")
def hashrate() -> str:
    return qty(0)


# -- state -------------------------------------------------------------------------------------------
@rpc("eth_getBalance")
def get_balance(address: Any, block: Any = "latest") -> str:
    who = parse_address(address)
    require_current_state(block)
    return qty(accounts().get_balance(Address(who)))


@rpc("eth_getTransactionCount")
def get_transaction_count(address: Any, block: Any = "latest") -> str:
    who = parse_address(address)
    if block == "pending":
        return qty(pending_nonce(who))
    require_current_state(block)
    return qty(accounts().get_nonce(Address(who)))


def pending_nonce(who: bytes) -> int:
    """The next nonce after this sender's transactions waiting in the mempool (contiguous from the committed one).

    The mempool is read before the committed nonce: a block committed in between has then already
    raised the nonce past the transactions that left the mempool with it.
    """
    waiting = {p.tx.nonce for p in pending_transactions(MEMPOOL_SCAN) if p.sender == who}
    nonce = accounts().get_nonce(Address(who))
    while nonce in waiting:
        nonce += 1
    return nonce


@rpc("eth_getCode")
def get_code(address: Any, block: Any = "latest") -> str:
    who = parse_address(address)
    require_current_state(block)
    return data(accounts().get_code(Address(who)))


@rpc("eth_getStorageAt")
def get_storage_at(address: Any, slot: Any, block: Any = "latest") -> str:
    who = parse_address(address)
    key = parse_quantity(slot, "storage slot")
    require_current_state(block)
    return data(accounts().get_storage(Address(who), key).to_bytes(32, "big"))


# -- fees --------------------------------------------------------------------------------------------
@rpc("eth_gasPrice")
def gas_price() -> str:
    return qty(BASE_FEE_WEI + SUGGESTED_TIP_WEI)


@rpc("eth_maxPriorityFeePerGas")
def max_priority_fee() -> str:
    return qty(SUGGESTED_TIP_WEI)


@rpc("eth_feeHistory")
def fee_history(block_count: Any, newest: Any, percentiles: Any = None) -> dict[str, Any]:
    count = parse_quantity(block_count, "blockCount", 2**64 - 1)
    count = min(count, MAX_FEE_HISTORY_BLOCKS)
    head = logs.head_height()
    last = block_height(newest, "newestBlock")
    assert last is not None
    if last > head:
        raise invalid(f"newestBlock {last} is beyond the head {head}")
    wanted = _percentiles(percentiles)
    if count == 0:
        empty: dict[str, Any] = {"oldestBlock": qty(0), "baseFeePerGas": [], "gasUsedRatio": []}
        return empty | ({"reward": []} if wanted is not None else {})
    first = max(0, last - count + 1)
    tips: dict[int, list[tuple[int, int]]] = {h: [] for h in range(first, last + 1)}
    rows = m.Transaction.objects.filter(block_id__gte=first, block_id__lte=last, opcode__in=ETHEREUM_OPCODES).values_list(
        "block_id", "envelope", "receipt"
    )
    for height, envelope, receipt in rows.iterator(chunk_size=500):
        tx = view_of(bytes(envelope))[1]
        gas = Receipt.decode(bytes(receipt)).gas_used
        tips[height].append((effective_gas_price(tx) - BASE_FEE_WEI, gas))
    out: dict[str, Any] = {
        "oldestBlock": qty(first),
        "baseFeePerGas": [qty(BASE_FEE_WEI)] * (len(tips) + 1),  # one more: the next block's
        "gasUsedRatio": [sum(g for _, g in tips[h]) / BLOCK_GAS_LIMIT for h in sorted(tips)],
    }
    if wanted is not None:
        out["reward"] = [[qty(r) for r in _rewards(tips[h], wanted)] for h in sorted(tips)]
    return out


def _percentiles(value: Any) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_PERCENTILES:
        raise invalid(f"rewardPercentiles must be a list of at most {MAX_PERCENTILES} numbers")
    out: list[float] = []
    for p in value:
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100 or (out and p < out[-1]):
            raise invalid("rewardPercentiles must be increasing numbers from 0 to 100")
        out.append(float(p))
    return out


def _rewards(txs: list[tuple[int, int]], percentiles: list[float]) -> list[int]:
    """geth's rule: the tip of the transaction in which the percentile of the block's gas falls, cheapest first."""
    if not txs:
        return [0] * len(percentiles)
    ordered = sorted(txs)
    total = sum(g for _, g in ordered)
    out, i, cumulative = [], 0, ordered[0][1]
    for p in percentiles:
        threshold = total * p / 100
        while cumulative < threshold and i < len(ordered) - 1:
            i += 1
            cumulative += ordered[i][1]
        out.append(ordered[i][0])
    return out


# -- transactions ------------------------------------------------------------------------------------
@rpc("eth_sendRawTransaction")
def send_raw_transaction(raw_hex: Any) -> str:
    if isinstance(raw_hex, str) and len(raw_hex) > 2 + 2 * MAX_RAW_TX:
        raise RpcError(INVALID_INPUT, f"oversized data: a transaction is at most {MAX_RAW_TX} bytes")
    raw = parse_data(raw_hex, "transaction")
    if not raw:
        raise invalid("the transaction is empty")
    envelope = bytes([RAW_TX]) + raw
    try:
        tx = admit_to_mempool(envelope)
    except AdmissionError as e:
        raise RpcError(INVALID_INPUT, e.message, {"reason": e.code}) from None
    return data(tx.ids[0])


@rpc("eth_getTransactionByHash")
def get_transaction_by_hash(tx_hash: Any) -> dict[str, Any] | None:
    wanted = parse_hash(tx_hash, "transaction hash")
    found = find_tx(wanted)
    if found is not None:
        return tx_json(found.tx, found.hash, found.sender, found)
    envelope = find_pending(wanted)
    if envelope is None:
        return None
    _raw, tx, named = view_of(envelope)
    return tx_json(tx, wanted, named or senders.get(wanted, tx), None)


@rpc("eth_getTransactionReceipt")
def get_transaction_receipt(tx_hash: Any) -> dict[str, Any] | None:
    found = find_tx(parse_hash(tx_hash, "transaction hash"))
    return None if found is None else receipt_json(found)


# -- blocks ------------------------------------------------------------------------------------------
@rpc("eth_getBlockByNumber")
def get_block_by_number(block: Any, full: Any = False) -> dict[str, Any] | None:
    row = block_row(block)
    return None if row is None else block_json(*row, parse_bool(full, "full transactions"), coinbase())


@rpc("eth_getBlockByHash")
def get_block_by_hash(block_hash: Any, full: Any = False) -> dict[str, Any] | None:
    row = block_row_by_hash(block_hash)
    return None if row is None else block_json(*row, parse_bool(full, "full transactions"), coinbase())


def _count(row: tuple[int, bytes] | None) -> str | None:
    return None if row is None else qty(m.Transaction.objects.filter(block_id=row[0], opcode__in=ETHEREUM_OPCODES).count())


@rpc("eth_getBlockTransactionCountByNumber")
def block_tx_count_by_number(block: Any) -> str | None:
    return _count(block_row(block))


@rpc("eth_getBlockTransactionCountByHash")
def block_tx_count_by_hash(block_hash: Any) -> str | None:
    return _count(block_row_by_hash(block_hash))


def _tx_at(row: tuple[int, bytes] | None, index: Any) -> dict[str, Any] | None:
    i = parse_quantity(index, "transaction index", 2**31)
    if row is None:
        return None
    txs = evm_txs(row[0], _hash_of(row[1]))
    if i >= len(txs):
        return None
    return tx_json(txs[i].tx, txs[i].hash, txs[i].sender, txs[i])


@rpc("eth_getTransactionByBlockNumberAndIndex")
def tx_by_block_number_and_index(block: Any, index: Any) -> dict[str, Any] | None:
    return _tx_at(block_row(block), index)


@rpc("eth_getTransactionByBlockHashAndIndex")
def tx_by_block_hash_and_index(block_hash: Any, index: Any) -> dict[str, Any] | None:
    return _tx_at(block_row_by_hash(block_hash), index)


@rpc("eth_getBlockReceipts")
def block_receipts(block: Any) -> list[dict[str, Any]] | None:
    ref = parse_block_ref(block)
    row = block_row_by_hash(data(ref.hash)) if ref.hash is not None else block_row(block)
    if row is None:
        return None
    return [receipt_json(e) for e in evm_txs(row[0], _hash_of(row[1]))]


@rpc("eth_getUncleCountByBlockNumber")
def uncle_count_by_number(block: Any) -> str | None:
    return None if block_row(block) is None else qty(0)


@rpc("eth_getUncleCountByBlockHash")
def uncle_count_by_hash(block_hash: Any) -> str | None:
    return None if block_row_by_hash(block_hash) is None else qty(0)


# -- execution ---------------------------------------------------------------------------------------
@rpc("eth_call")
def call(tx: Any, block: Any = "latest") -> str:
    args = parse_call_args(tx)
    require_current_state(block)
    engine = evm_engine()
    with consistent_reads():
        return data(Simulator(engine).call(args))


@rpc("eth_estimateGas")
def estimate_gas(tx: Any, block: Any = "latest") -> str:
    args = parse_call_args(tx)
    require_current_state(block)
    engine = evm_engine()
    with consistent_reads():
        return qty(Simulator(engine).estimate_gas(args))


@rpc("eth_createAccessList")
def create_access_list(tx: Any, block: Any = "latest") -> dict[str, Any]:
    """geth's: the EIP-2930 list of what the call touches, and its gas with that list; `error` when it fails. Sent
    with the transaction, the list is also its declared footprint: a block can then run it beside others
    (NVM_EXECUTION=batched or sharded, docs/PROTOCOL.md §12)."""
    args = parse_call_args(tx)
    require_current_state(block)
    with consistent_reads():
        found, run = Simulator(evm_engine()).access_list(args)
    listed = [{"address": address_out(a), "storageKeys": [data(s.to_bytes(32, "big")) for s in slots]} for a, slots in found]
    out: dict[str, Any] = {"accessList": listed, "gasUsed": qty(run.gas_used)}
    error = failure_text(run)
    if error is not None:
        out["error"] = error
    return out


# -- logs and filters --------------------------------------------------------------------------------
@rpc("eth_getLogs")
def get_logs(criteria: Any) -> list[dict[str, Any]]:
    return logs.get_logs(criteria)


@rpc("eth_newFilter")
def new_filter(criteria: Any) -> str:
    return logs.new_filter(criteria)


@rpc("eth_newBlockFilter")
def new_block_filter() -> str:
    return logs.new_block_filter()


@rpc("eth_newPendingTransactionFilter")
def new_pending_transaction_filter(full: Any = False) -> str:
    return logs.new_pending_filter(full)


@rpc("eth_getFilterChanges")
def get_filter_changes(filter_id: Any) -> list[Any]:
    return logs.filter_changes(filter_id)


@rpc("eth_getFilterLogs")
def get_filter_logs(filter_id: Any) -> list[dict[str, Any]]:
    return logs.filter_logs(filter_id)


@rpc("eth_uninstallFilter")
def uninstall_filter(filter_id: Any) -> bool:
    return logs.uninstall_filter(filter_id)


# -- debug -------------------------------------------------------------------------------------------
rpc("debug_traceTransaction")(trace_transaction)


# -- the n-VM's own ----------------------------------------------------------------------------------
@rpc("nvm_getIdentity")
def get_identity(address: Any) -> dict[str, Any]:
    """The identity behind any VM's address (or an id_com): the native API's /api/v1/identity answer."""
    if not isinstance(address, str):
        raise invalid("address must be a string: an id_com or any VM's address")
    try:
        return identity_payload(address)
    except AddressError as e:
        raise invalid(str(e)) from None


# -- devnet controls: the cheat methods local EVM devnets answer (nvmsite/devctl.py) -----------------
def _dev(call: Any, *args: Any) -> Any:
    from chain.errors import ChainError

    try:
        return call(*args)
    except ChainError as e:
        raise RpcError(INVALID_INPUT, e.message) from None


def _number(value: Any, what: str, default: int | None = None) -> int:
    """A hex quantity or a JSON integer; null only where the param is optional (`default`): a null snapshot id or
    number of seconds must not be taken for 1."""
    if value is None:
        if default is None:
            raise invalid(f"{what} must be a number")
        return default
    n = parse_quantity(value, what) if isinstance(value, str) else value
    if not isinstance(n, int) or isinstance(n, bool):
        raise invalid(f"{what} must be a number")
    return n


def _timestamp(value: Any) -> int:
    """A block timestamp in UNIX seconds that a header can hold: its milliseconds are a signed 64-bit column
    in the store (chain/store/models.py), so a larger one would only make the block producer fail."""
    from nvmsite.devctl import MAX_TIMESTAMP_S

    seconds = _number(value, "timestamp")
    if not 0 <= seconds <= MAX_TIMESTAMP_S:
        raise invalid(f"timestamp is out of range (0 to {MAX_TIMESTAMP_S} seconds)")
    return seconds


@rpc("evm_mine")
def evm_mine(timestamp: Any = None) -> str:
    """One block now (at `timestamp`, UNIX seconds, when given), empty or not."""
    from nvmsite import devctl

    if timestamp is not None:
        _dev(devctl.set_next_timestamp, _timestamp(timestamp))
    _dev(devctl.mine, 1)
    return "0x0"


@rpc("anvil_mine")
def anvil_mine(blocks: Any = None, interval: Any = None) -> None:
    """`blocks` blocks now (default 1), each `interval` seconds after the one before when given."""
    from nvmsite import devctl

    n, step = _number(blocks, "blocks", 1), None if interval is None else _number(interval, "interval")
    if step is None:
        _dev(devctl.mine, n)
        return None
    # checked before the first block: the loop below mines one block at a time
    if not 1 <= n <= devctl.MAX_MINE:
        raise RpcError(INVALID_INPUT, f"mine between 1 and {devctl.MAX_MINE:,} blocks at a time")
    if step < 0:
        raise invalid("interval must not be negative")
    for _ in range(n):
        _dev(devctl.increase_time, step)
        _dev(devctl.mine, 1)
    return None


rpc("hardhat_mine")(anvil_mine)


@rpc("evm_increaseTime")
def evm_increase_time(seconds: Any) -> int:
    from nvmsite import devctl

    return int(_dev(devctl.increase_time, _number(seconds, "seconds")))


@rpc("evm_setNextBlockTimestamp")
def evm_set_next_block_timestamp(timestamp: Any) -> None:
    from nvmsite import devctl

    _dev(devctl.set_next_timestamp, _timestamp(timestamp))


@rpc("evm_setAutomine")
def evm_set_automine(enabled: Any) -> None:
    from nvmsite import devctl

    if not isinstance(enabled, bool):
        raise invalid("evm_setAutomine takes true or false")
    _dev(devctl.set_mining, "on_demand" if enabled else "interval", None if enabled else 1_000)


@rpc("evm_setIntervalMining")
def evm_set_interval_mining(interval_ms: Any) -> None:
    from nvmsite import devctl

    ms = _number(interval_ms, "interval")
    if ms == 0:  # anvil's way to turn interval mining off
        _dev(devctl.set_mining, "on_demand", None)
    else:
        _dev(devctl.set_mining, "interval", ms)


@rpc("evm_snapshot")
def evm_snapshot() -> str:
    """The whole chain's snapshot (every VM's state, blocks, mempool): its id."""
    from nvmsite import devctl

    return qty(_dev(devctl.snapshot))


@rpc("evm_revert")
def evm_revert(snapshot_id: Any) -> bool:
    """Back to the snapshot (it and later ones are used up); false for an unknown id."""
    from nvmsite import devctl

    return bool(_dev(devctl.revert, _number(snapshot_id, "snapshot id")))


@rpc("anvil_reset")
def anvil_reset(options: Any = None) -> None:
    """Back to genesis. Forking another chain is not something this devnet does."""
    from nvmsite import devctl

    if options is not None and not isinstance(options, dict):
        raise invalid("anvil_reset takes an options object or nothing")
    if options:
        raise invalid("forking is not supported: anvil_reset takes no options here")
    _dev(devctl.reset)


rpc("hardhat_reset")(anvil_reset)


@rpc("anvil_dumpState")
def anvil_dump_state(preserve_historical_states: Any = None) -> str:
    """The whole chain — every VM's state, the blocks and their transactions — as a state file (docs/PROTOCOL.md
    §16.1), 0x-hex: not anvil's own format, but what anvil_loadState takes back. anvil's optional flag is
    accepted and changes nothing: the file always holds every block."""
    import io

    from nvmsite import devctl

    out = io.BytesIO()
    _dev(devctl.dump_state, out)
    return data(out.getvalue())


@rpc("anvil_loadState")
def anvil_load_state(state: Any) -> bool:
    """Replace the whole chain with a state file's (anvil merges accounts into its state; this replaces it)."""
    from nvmsite import devctl

    _dev(devctl.require_devnet)
    return bool(_dev(devctl.load_state, [parse_data(state, "state")]))


def _edit(envelope: bytes) -> None:
    from nvmsite import devctl

    _dev(devctl.require_devnet)
    _dev(devctl.edit, envelope)


@rpc("anvil_setBalance")
def anvil_set_balance(address: Any, wei: Any) -> None:
    """The address's balance, in wei (its identity's, in every VM's unit: one ledger)."""
    from engines.dev.engine import set_balance

    _edit(set_balance("evm", parse_address(address), parse_quantity(wei, "balance", MAX_BALANCE_WEI)))


@rpc("anvil_setNonce")
def anvil_set_nonce(address: Any, nonce: Any) -> None:
    from engines.dev.engine import set_nonce

    _edit(set_nonce(parse_address(address), parse_quantity(nonce, "nonce", 2**64 - 1)))


@rpc("anvil_setCode")
def anvil_set_code(address: Any, code: Any) -> None:
    from engines.dev.engine import set_code

    _edit(set_code(parse_address(address), parse_data(code, "code", max_length=24_576)))


@rpc("anvil_setStorageAt")
def anvil_set_storage_at(address: Any, slot: Any, value: Any) -> None:
    from engines.dev.engine import set_storage

    _edit(
        set_storage(parse_address(address), parse_quantity(slot, "slot"), int.from_bytes(parse_data(value, "value", 32), "big"))
    )


for _alias, _method in (
    ("hardhat_setBalance", anvil_set_balance),
    ("hardhat_setNonce", anvil_set_nonce),
    ("hardhat_setCode", anvil_set_code),
    ("hardhat_setStorageAt", anvil_set_storage_at),
):
    rpc(_alias)(_method)
