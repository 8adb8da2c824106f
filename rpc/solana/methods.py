"""The Solana JSON-RPC methods: each takes its positional params and returns the JSON result, in Agave's shapes.

One validator finalises every block as it makes it, so every commitment (processed, confirmed,
finalized) reads the head, every status is "finalized" and `confirmations` is null. Slots are block
heights: no slot is ever skipped. The node keeps every block, so the first available block is 0.
Errors are raised as `RpcError` (rpc/jsonrpc.py); the view turns them, and anything unexpected, into
JSON-RPC error objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Sum

from chain.hashing import H
from chain.ledger import NATIVE_MINT, get_mint
from chain.state import State
from chain.store import models as m
from chain.store.sql import HeadCachedEntries, recent_hashes
from chain.store.sql import head as head_header
from engines.svm import accounts as acc
from engines.svm import token
from engines.svm.engine import BLOCKHASH_VALIDITY
from engines.svm.programs import TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from rpc.jsonrpc import METHOD_NOT_FOUND, Methods, RpcError

from . import transactions
from .accounts import (
    MAX_MULTIPLE_ACCOUNTS,
    account_encoding,
    all_mints,
    mint_token_accounts,
    token_account_of,
    token_program_of,
    ui_account,
)
from .chaindata import (
    Head,
    Included,
    accounts_json,
    block_row,
    block_transactions,
    by_envelope_ids,
    find,
    head,
    memo_of,
    no_genesis,
    status_of,
    ui_token_amount,
    with_meta,
)
from .codec import (
    API_VERSION,
    BLOCK_NOT_AVAILABLE,
    CLIENT_HOST,
    KEY_EXCLUDED_FROM_SECONDARY_INDEX,
    U64_MAX,
    b58,
    binary,
    commitment,
    config,
    flag,
    invalid,
    min_context_slot,
    pubkey,
    signature,
    u64,
    variant,
    with_context,
    wrong_type,
)

SLOTS_PER_EPOCH = 432_000
FEATURE_SET = int.from_bytes(H(b"nvm/svm/feature-set/" + API_VERSION.encode())[:4], "little")  # a u32, as Agave's
MAX_SIGNATURE_STATUSES = 256
MAX_SIGNATURES_FOR_ADDRESS = 1_000
STATUS_CACHE_SLOTS = 300  # Solana's status cache: statuses of recent slots without searchTransactionHistory
MAX_SLOT_RANGE = 500_000
MAX_FILTERS = 4
MAX_MEMCMP_BYTES = 128
MAX_PRIORITIZATION_ADDRESSES = 128
LARGEST_ACCOUNTS = 20
TX_ENCODINGS = ("json", "jsonParsed", "base58", "base64", "binary")
TRANSACTION_DETAILS = ("full", "signatures", "none", "accounts")
PARTY_PAGE = 500  # identity-transaction rows read at a time by getSignaturesForAddress


def not_found(name: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, "Method not found")


def arity(name: str, least: int, most: int, got: int) -> RpcError:
    if got < least:
        return invalid(f"`params` should have at least {least} argument(s)")
    return invalid(f"Invalid params: invalid length {got}, expected at most {most} elements in sequence.")


METHODS = Methods(not_found, arity)
rpc = METHODS.register
call_method = METHODS.call


def state() -> State:
    """Read-only state at the head (reads remembered for the rest of the block: wallets poll)."""
    return State(HeadCachedEntries())


def _context_config(value: Any) -> Head:
    """The common trailing config ({commitment, minContextSlot}); the head it answers at."""
    cfg = config(value)
    commitment(cfg)
    now = head()
    min_context_slot(cfg, now.height)
    return now


def _history_config(value: Any, allow_encoding_string: bool = False) -> dict[str, Any]:
    """getTransaction's and getBlock's config: a bare encoding string (the legacy form) or an object;
    like Agave, these methods do not take "processed"."""
    if allow_encoding_string and isinstance(value, str):
        return {"encoding": value}
    cfg = config(value)
    if commitment(cfg) == "processed":
        raise invalid("Method does not support commitment below `confirmed`")
    return cfg


def _max_version(cfg: dict[str, Any]) -> int | None:
    value = cfg.get("maxSupportedTransactionVersion")
    return None if value is None else u64(value, "u8")


# -- the node -----------------------------------------------------------------------------------------
@rpc("getVersion")
def get_version() -> dict[str, Any]:
    return {"solana-core": API_VERSION, "feature-set": FEATURE_SET}


@rpc("getHealth")
def get_health() -> str:
    return "ok"


@rpc("getIdentity")
def get_identity() -> dict[str, str]:
    return {"identity": _identity()}


def _identity() -> str:
    header = head_header()
    if header is None:
        raise no_genesis()
    return b58(header.proposer)  # the validator's Ed25519 key


@rpc("getClusterNodes")
def get_cluster_nodes() -> list[dict[str, Any]]:
    """This node alone; its RPC at the address the request came to."""
    node = {"pubkey": _identity(), "gossip": None, "tpu": None, "rpc": CLIENT_HOST.get()}
    return [node | {"version": API_VERSION, "featureSet": FEATURE_SET, "shredVersion": 0}]


@rpc("getVoteAccounts")
def get_vote_accounts(cfg: Any = None) -> dict[str, list[Any]]:
    config(cfg)
    return {"current": [], "delinquent": []}  # blocks are signed by the validator key, not voted on


@rpc("getGenesisHash")
def get_genesis_hash() -> str:
    found = block_row(0)
    if found is None:
        raise no_genesis()
    return b58(found[0])


@rpc("getSlot")
def get_slot(cfg: Any = None) -> int:
    return _context_config(cfg).height


@rpc("getBlockHeight")
def get_block_height(cfg: Any = None) -> int:
    return _context_config(cfg).height


@rpc("getSlotLeader")
def get_slot_leader(cfg: Any = None) -> str:
    _context_config(cfg)
    return _identity()


@rpc("getFirstAvailableBlock")
def get_first_available_block() -> int:
    return 0


@rpc("minimumLedgerSlot")
def minimum_ledger_slot() -> int:
    return 0


@rpc("getTransactionCount")
def get_transaction_count(cfg: Any = None) -> int:
    """Every transaction the chain has run, of every VM: they are one ledger's."""
    _context_config(cfg)
    return int(m.Block.objects.aggregate(n=Sum("tx_count"))["n"] or 0)


@rpc("getEpochInfo")
def get_epoch_info(cfg: Any = None) -> dict[str, Any]:
    now = _context_config(cfg)
    return {
        "absoluteSlot": now.height,
        "blockHeight": now.height,
        "epoch": now.height // SLOTS_PER_EPOCH,
        "slotIndex": now.height % SLOTS_PER_EPOCH,
        "slotsInEpoch": SLOTS_PER_EPOCH,
        "transactionCount": get_transaction_count(),
    }


@rpc("getEpochSchedule")
def get_epoch_schedule() -> dict[str, Any]:
    return {
        "slotsPerEpoch": SLOTS_PER_EPOCH,
        "leaderScheduleSlotOffset": SLOTS_PER_EPOCH,
        "warmup": False,
        "firstNormalEpoch": 0,
        "firstNormalSlot": 0,
    }


@rpc("getInflationGovernor")
def get_inflation_governor(cfg: Any = None) -> dict[str, float]:
    _context_config(cfg)
    return {"initial": 0.0, "terminal": 0.0, "taper": 0.0, "foundation": 0.0, "foundationTerm": 0.0}  # no inflation here


@rpc("getInflationRate")
def get_inflation_rate() -> dict[str, Any]:
    return {"total": 0.0, "validator": 0.0, "foundation": 0.0, "epoch": head().height // SLOTS_PER_EPOCH}


@rpc("getSupply")
def get_supply(cfg: Any = None) -> dict[str, Any]:
    """The native token's supply: all of it circulates (no account is set apart)."""
    c = config(cfg)
    now = _context_config(c)
    flag(c, "excludeNonCirculatingAccountsList")  # the list is empty either way
    record = get_mint(state(), NATIVE_MINT)
    supply = 0 if record is None else record.supply
    return with_context(now.height, {"total": supply, "circulating": supply, "nonCirculating": 0, "nonCirculatingAccounts": []})


@rpc("getRecentPrioritizationFees")
def get_recent_prioritization_fees(addresses: Any = None) -> list[Any]:
    """Blocks are made in admission order: a priority fee buys nothing, and none is reported."""
    if addresses is not None:
        if not isinstance(addresses, list):
            raise wrong_type(addresses, "a sequence")
        if len(addresses) > MAX_PRIORITIZATION_ADDRESSES:
            raise invalid(f"Too many inputs provided; max {MAX_PRIORITIZATION_ADDRESSES}")
        for a in addresses:
            pubkey(a)
    return []


# -- blockhashes and fees -----------------------------------------------------------------------------
@rpc("getLatestBlockhash")
def get_latest_blockhash(cfg: Any = None) -> dict[str, Any]:
    now = _context_config(cfg)
    return with_context(now.height, {"blockhash": b58(now.hash), "lastValidBlockHeight": now.height + BLOCKHASH_VALIDITY})


@rpc("isBlockhashValid")
def is_blockhash_valid(blockhash: Any, cfg: Any = None) -> dict[str, Any]:
    wanted = pubkey(blockhash)
    now = _context_config(cfg)
    return with_context(now.height, wanted in recent_hashes(BLOCKHASH_VALIDITY))


@rpc("getFeeForMessage")
def get_fee_for_message(message: Any, cfg: Any = None) -> dict[str, Any]:
    return transactions.fee_for_message(message, cfg, head(), recent_hashes(BLOCKHASH_VALIDITY))


@rpc("getMinimumBalanceForRentExemption")
def get_minimum_balance_for_rent_exemption(size: Any, cfg: Any = None) -> int:
    n = u64(size, "usize")
    _context_config(cfg)
    return min(acc.rent_exempt_minimum(n), U64_MAX)  # a u64, as Agave's (saturating) answer


# -- accounts -----------------------------------------------------------------------------------------
@rpc("getBalance")
def get_balance(address: Any, cfg: Any = None) -> dict[str, Any]:
    key = pubkey(address)
    now = _context_config(cfg)
    info = acc.account_info(state(), key)
    return with_context(now.height, 0 if info is None else info.lamports)


def _account_config(value: Any, default: str) -> tuple[Head, str, Any]:
    cfg = config(value)
    now = _context_config(cfg)
    encoding, data_slice = account_encoding(cfg, default)
    return now, encoding, data_slice


@rpc("getAccountInfo")
def get_account_info(address: Any, cfg: Any = None) -> dict[str, Any]:
    key = pubkey(address)
    now, encoding, data_slice = _account_config(cfg, "binary")
    s = state()
    info = acc.account_info(s, key)
    return with_context(now.height, None if info is None else ui_account(s, key, info, encoding, data_slice))


@rpc("getMultipleAccounts")
def get_multiple_accounts(addresses: Any, cfg: Any = None) -> dict[str, Any]:
    if not isinstance(addresses, list):
        raise wrong_type(addresses, "a sequence")
    if len(addresses) > MAX_MULTIPLE_ACCOUNTS:
        raise invalid(f"Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}")
    keys = [pubkey(a) for a in addresses]
    now, encoding, data_slice = _account_config(cfg, "base64")
    s = state()
    out = []
    for key in keys:
        info = acc.account_info(s, key)
        out.append(None if info is None else ui_account(s, key, info, encoding, data_slice))
    return with_context(now.height, out)


def _filters(value: Any) -> list[tuple[str, int, bytes]]:
    """getProgramAccounts' filters: ("dataSize", n, b"") or ("memcmp", offset, bytes)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_type(value, "a sequence")
    if len(value) > MAX_FILTERS:
        raise invalid(f"Too many filters provided; max {MAX_FILTERS}")
    out = []
    for f in value:
        if isinstance(f, dict) and set(f) == {"dataSize"}:
            out.append(("dataSize", u64(f["dataSize"]), b""))
        elif isinstance(f, dict) and set(f) == {"memcmp"} and isinstance(f["memcmp"], dict):
            spec = f["memcmp"]
            offset = u64(spec.get("offset"), "usize")
            encoding = variant(spec.get("encoding"), ("base58", "base64"), "base58")
            text = spec.get("bytes")
            if not isinstance(text, str):
                raise wrong_type(text, "a string")
            out.append(("memcmp", offset, binary(text, encoding, "memcmp bytes", MAX_MEMCMP_BYTES)))
        else:
            raise invalid("Invalid params: a filter is {dataSize: n} or {memcmp: {offset, bytes, encoding}}.")
    return out


def _matches(data: bytes, filters: list[tuple[str, int, bytes]]) -> bool:
    for kind, n, raw in filters:
        if kind == "dataSize" and len(data) != n:
            return False
        if kind == "memcmp" and data[n : n + len(raw)] != raw:
            return False
    return True


def _token_program_accounts(s: State, filters: list[tuple[str, int, bytes]]) -> Iterable[tuple[bytes, acc.Account]]:
    """The Token program's accounts a filter can reach: mints, then token accounts — of the owner a memcmp at
    32 names, of the mint a memcmp at 0 names, or of every mint's holders."""
    sizes = {n for kind, n, _ in filters if kind == "dataSize"}
    if not sizes or token.MINT_LEN in sizes:
        for each in all_mints():
            info = acc.account_info(s, each)
            if info is not None:
                yield each, info
    if sizes and token.ACCOUNT_LEN not in sizes:
        return
    owner = next((raw for kind, n, raw in filters if kind == "memcmp" and n == 32 and len(raw) == 32), None)
    mint = next((raw for kind, n, raw in filters if kind == "memcmp" and n == 0 and len(raw) == 32), None)
    if owner is not None:
        found: Iterable[tuple[bytes, token.TokenAccount]] = token.owned_token_accounts(s, owner, [mint] if mint else all_mints())
    elif mint is not None:
        found = mint_token_accounts(s, mint)
    else:
        found = (pair for each in all_mints() for pair in mint_token_accounts(s, each))
    seen: set[bytes] = set()
    for address, owned in found:
        if address not in seen:
            seen.add(address)
            yield address, token_account_of(s, address, owned)


@rpc("getProgramAccounts")
def get_program_accounts(program: Any, cfg: Any = None) -> Any:
    """The accounts a program owns, for the SPL Token program (mints and token accounts; see
    rpc/solana/accounts.py for which); Token-2022 owns none here. Other programs' accounts are not
    indexed by owner on this node: -32010, as Agave answers for a key outside its secondary indexes."""
    program_id = pubkey(program)
    c = config(cfg)
    now, encoding, data_slice = _account_config(c, "binary")
    filters = _filters(c.get("filters"))
    with_ctx = flag(c, "withContext")
    if program_id == TOKEN_PROGRAM:
        s = state()
        found = [
            {"pubkey": b58(key), "account": ui_account(s, key, info, encoding, data_slice)}
            for key, info in _token_program_accounts(s, filters)
            if _matches(info.data, filters)
        ]
    elif program_id == TOKEN_2022_PROGRAM:
        found = []
    else:
        raise RpcError(
            KEY_EXCLUDED_FROM_SECONDARY_INDEX,
            f"{b58(program_id)} excluded from account secondary indexes; this RPC method unavailable for key",
        )
    return with_context(now.height, found) if with_ctx else found


# -- SPL Token ----------------------------------------------------------------------------------------
@rpc("getTokenAccountBalance")
def get_token_account_balance(address: Any, cfg: Any = None) -> dict[str, Any]:
    key = pubkey(address)
    now = _context_config(cfg)
    s = state()
    found = token.token_account(s, key)
    if found is None:
        if acc.account_info(s, key) is None:
            raise invalid("Invalid param: could not find account")
        raise invalid("Invalid param: not a Token account")
    return with_context(now.height, ui_token_amount(found.amount, found.decimals))


@rpc("getTokenSupply")
def get_token_supply(mint: Any, cfg: Any = None) -> dict[str, Any]:
    key = pubkey(mint)
    now = _context_config(cfg)
    found = token.mint_info(state(), key)
    if found is None:
        raise invalid("Invalid param: not a Token mint")
    return with_context(now.height, ui_token_amount(found.supply, found.decimals))


@rpc("getTokenLargestAccounts")
def get_token_largest_accounts(mint: Any, cfg: Any = None) -> dict[str, Any]:
    """The mint's 20 largest token accounts (of the ones this node can find: rpc/solana/accounts.py)."""
    key = pubkey(mint)
    now = _context_config(cfg)
    s = state()
    if token.mint_info(s, key) is None:
        raise invalid("Invalid param: not a Token mint")
    ranked = sorted(mint_token_accounts(s, key), key=lambda pair: (-pair[1].amount, pair[0]))[:LARGEST_ACCOUNTS]
    out = [{"address": b58(address), **ui_token_amount(t.amount, t.decimals)} for address, t in ranked]
    return with_context(now.height, out)


@rpc("getTokenAccountsByOwner")
def get_token_accounts_by_owner(owner: Any, account_filter: Any, cfg: Any = None) -> dict[str, Any]:
    wallet = pubkey(owner)
    if not isinstance(account_filter, dict) or len(account_filter) != 1 or not {"mint", "programId"} & set(account_filter):
        raise invalid("Invalid params: the filter is {mint: <pubkey>} or {programId: <pubkey>}.")
    now, encoding, data_slice = _account_config(cfg, "binary")
    s = state()
    if "mint" in account_filter:
        mint = pubkey(account_filter["mint"])
        if token.mint_info(s, mint) is None:
            raise invalid("Invalid param: could not find mint")
        mints = [mint]
    else:
        mints = all_mints() if token_program_of(pubkey(account_filter["programId"])) else []
    out = []
    for address, owned in token.owned_token_accounts(s, wallet, mints):
        account = token_account_of(s, address, owned)
        out.append({"pubkey": b58(address), "account": ui_account(s, address, account, encoding, data_slice)})
    return with_context(now.height, out)


# -- transactions -------------------------------------------------------------------------------------
@rpc("sendTransaction")
def send_transaction(transaction: Any, cfg: Any = None) -> str:
    return transactions.send_transaction(transaction, cfg, head())


@rpc("simulateTransaction")
def simulate_transaction(transaction: Any, cfg: Any = None) -> dict[str, Any]:
    return transactions.simulate_transaction(transaction, cfg, head())


@rpc("requestAirdrop")
def request_airdrop(address: Any, lamports: Any, cfg: Any = None) -> str:
    return transactions.request_airdrop(address, lamports, cfg)


def _status(t: Included) -> dict[str, Any]:
    assert t.view is not None
    err = t.view.err
    return {"slot": t.height, "confirmations": None, "err": err, "status": status_of(err), "confirmationStatus": "finalized"}


@rpc("getSignatureStatuses")
def get_signature_statuses(signatures: Any, cfg: Any = None) -> dict[str, Any]:
    """Statuses of transactions in blocks (one waiting in the mempool is not known yet, as on Solana). Without
    `searchTransactionHistory`, only those of the last 300 slots (Solana's status cache)."""
    if not isinstance(signatures, list):
        raise wrong_type(signatures, "a sequence")
    if len(signatures) > MAX_SIGNATURE_STATUSES:
        raise invalid(f"Too many inputs provided; max {MAX_SIGNATURE_STATUSES}")
    wanted = [signature(s) for s in signatures]
    c = config(cfg)
    search = flag(c, "searchTransactionHistory")
    now = head()
    out: list[dict[str, Any] | None] = []
    for sig in wanted:
        found = find(sig)
        if found is None or (not search and now.height - found.height > STATUS_CACHE_SLOTS):
            out.append(None)
        else:
            out.append(_status(found))
    return with_context(now.height, out)


@rpc("getTransaction")
def get_transaction(sig: Any, cfg: Any = None) -> dict[str, Any] | None:
    wanted = signature(sig)
    c = _history_config(cfg, allow_encoding_string=True)
    encoding = variant(c.get("encoding"), TX_ENCODINGS, "json")
    max_version = _max_version(c)
    min_context_slot(c, head().height)
    found = find(wanted)
    if found is None or found.view is None:
        return None
    return {"slot": found.height, "blockTime": found.block_time, **with_meta(found.view, encoding, max_version)}


@rpc("getSignaturesForAddress")
def get_signatures_for_address(address: Any, cfg: Any = None) -> list[dict[str, Any]]:
    """Newest first: the transactions (with a Solana form) that changed a balance, allowance or key of the
    address's identity (`TxParty`) — its transfers, fees, token moves and airdrops, across every VM's
    way of reaching it. A transaction that only read the address, or mentioned a program id, is not listed."""
    key = pubkey(address)
    c = _history_config(cfg)
    now = head()
    min_context_slot(c, now.height)
    limit = MAX_SIGNATURES_FOR_ADDRESS if c.get("limit") is None else u64(c["limit"], "usize")
    if not 1 <= limit <= MAX_SIGNATURES_FOR_ADDRESS:
        raise invalid(f"Invalid limit; max {MAX_SIGNATURES_FOR_ADDRESS}")
    before = _position(c.get("before"))
    until = _position(c.get("until"))
    if c.get("before") is not None and before is None:
        return []  # Agave: an unknown `before` signature lists nothing
    who = acc.identity_of(state(), key)
    if who is None:
        return []
    rows = m.TxParty.objects.filter(id_com=who).order_by("-height", "-position")
    out: list[dict[str, Any]] = []
    offset = 0
    while len(out) < limit:
        page = list(rows.values_list("height", "position", "envelope_id")[offset : offset + PARTY_PAGE])
        if not page:
            break
        offset += len(page)
        shown = by_envelope_ids(bytes(e) for _, _, e in page)
        for height, position, envelope_id in page:
            if before is not None and (height, position) >= before:
                continue
            if until is not None and (height, position) <= until:
                return out
            t = shown.get(bytes(envelope_id))
            if t is None or t.view is None:
                continue
            err = t.view.err
            out.append(
                {
                    "signature": b58(t.view.signature),
                    "slot": t.height,
                    "err": err,
                    "memo": memo_of(t.view),
                    "blockTime": t.block_time,
                    "confirmationStatus": "finalized",
                }
            )
            if len(out) == limit:
                break
    return out


def _position(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    found = find(signature(value))
    return None if found is None else (found.height, found.position)


# -- blocks -------------------------------------------------------------------------------------------
def _slot(value: Any, now: Head) -> tuple[bytes, bytes, int]:
    slot = u64(value)
    found = block_row(slot) if slot <= now.height else None
    if found is None:
        raise RpcError(BLOCK_NOT_AVAILABLE, f"Block not available for slot {slot}")
    return found


@rpc("getBlock")
def get_block(slot_value: Any, cfg: Any = None) -> dict[str, Any]:
    """A block as Solana shows one: its transactions that have a Solana form (rpc/solana/chaindata.py) —
    Solana transactions, ACE-authorised SVM calls and native transfers; the other VMs' transactions in
    the same block are left out — and their signatures. No rewards: the validator earns none here."""
    c = _history_config(cfg, allow_encoding_string=True)
    encoding = variant(c.get("encoding"), TX_ENCODINGS, "json")
    details = variant(c.get("transactionDetails"), TRANSACTION_DETAILS, "full")
    rewards = flag(c, "rewards", True)
    max_version = _max_version(c)
    now = head()
    slot = u64(slot_value)
    block_hash, parent_hash, timestamp_ms = _slot(slot, now)
    out: dict[str, Any] = {
        "blockHeight": slot,
        "blockTime": timestamp_ms // 1000,
        "blockhash": b58(block_hash),
        "parentSlot": max(slot - 1, 0),
        "previousBlockhash": b58(parent_hash),
    }
    txs = [t.view for t in block_transactions(slot) if t.view is not None] if details != "none" else []
    if details == "full":
        out["transactions"] = [with_meta(v, encoding, max_version) for v in txs]
    elif details == "accounts":
        out["transactions"] = [accounts_json(v, max_version) for v in txs]
    elif details == "signatures":
        out["signatures"] = [b58(v.signature) for v in txs]
    if rewards:
        out["rewards"] = []
    return out


@rpc("getBlockTime")
def get_block_time(slot_value: Any) -> int:
    return _slot(slot_value, head())[2] // 1000


def _range(start: int, end: int, now: Head) -> list[int]:
    if end - start > MAX_SLOT_RANGE:
        raise invalid(f"Slot range too large; max {MAX_SLOT_RANGE}")
    return list(range(start, min(end, now.height) + 1))


@rpc("getBlocks")
def get_blocks(start: Any, end: Any = None, cfg: Any = None) -> list[int]:
    if isinstance(end, dict) and cfg is None:  # the end slot may be left out before the config
        end, cfg = None, end
    first = u64(start)
    _history_config(cfg)
    now = head()
    last = now.height if end is None else u64(end)
    return _range(first, last, now)


@rpc("getBlocksWithLimit")
def get_blocks_with_limit(start: Any, limit: Any, cfg: Any = None) -> list[int]:
    first, count = u64(start), u64(limit, "usize")
    _history_config(cfg)
    if count > MAX_SLOT_RANGE:
        raise invalid(f"Limit too large; max {MAX_SLOT_RANGE}")
    return _range(first, first + count - 1, head()) if count else []
