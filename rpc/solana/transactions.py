"""sendTransaction, simulateTransaction, requestAirdrop and getFeeForMessage: what goes into the chain, and
what would happen if it did.

A Solana transaction is carried byte-exact in a 0x20 envelope. Reading it is Agave's
`decode_and_deserialize` then `sanitize`: text too long, bad base58/base64 or a transaction that does
not parse or sanitize is -32602. sendTransaction then runs Agave's preflight (unless `skipPreflight`):
the signatures (-32003), then a simulation against the committed state as the next block
(rpc.rawtx.dry_run: the engine's own admission — recent blockhash, status cache, fee payer — and
execution over a throw-away overlay); a failure is -32002 "Transaction simulation failed: <Solana's
text>" with Solana's data {err, logs, accounts: null, unitsConsumed, returnData, …}. Only then is it
admitted to the mempool (nothing is written before). What Solana would accept and silently drop
(`skipPreflight` with a stale blockhash, a replay) cannot enter this node's mempool: it is answered with
the same -32002 error instead, so a client never waits for a transaction that cannot land. Sending a
transaction that is already waiting in the mempool answers its signature again, as Solana does.

simulateTransaction answers {err, logs, accounts, unitsConsumed, returnData, …} for any transaction the
engine can read — a refusal at admission is its `err`, as on Solana — with Solana's defaults
(`sigVerify` false, `replaceRecentBlockhash` false, the two exclusive).

requestAirdrop is the faucet's drip (faucet/service.py, with its rate limits) of the asked amount, at
most MAX_AIRDROP_LAMPORTS: a native transfer from the faucet identity, named by its native signature
(rpc/solana/chaindata.py), which getSignatureStatuses, getTransaction and signatureSubscribe follow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from chain.dispatcher import Registry, Tx
from chain.errors import AdmissionError
from chain.ledger import ui_amount
from chain.state import Diff, State
from chain.store.sql import SqlEntries
from engines.svm import accounts as acc
from engines.svm.engine import BLOCKHASH_VALIDITY, RAW_TX, SvmEngine
from engines.svm.errors import SvmError
from engines.svm.fees import budget
from engines.svm.receipt import SvmOutput
from engines.svm.wire import PACKET_DATA_SIZE, Transaction, encode_message, parse, parse_message, shortvec
from faucet.service import FaucetError, drip
from nvmsite.node import admit_to_mempool, web_registry
from rpc.jsonrpc import INTERNAL_ERROR, RpcError
from rpc.rawtx import DryRun, dry_run

from .accounts import MAX_MULTIPLE_ACCOUNTS, account_encoding, ui_account
from .chaindata import Head, err_text, native_signature, return_data_json, solana_err, solana_err_of
from .codec import (
    CLIENT,
    COMMITMENTS,
    SEND_TRANSACTION_PREFLIGHT_FAILURE,
    TRANSACTION_SIGNATURE_VERIFICATION_FAILURE,
    b58,
    binary,
    commitment,
    config,
    flag,
    invalid,
    min_context_slot,
    pubkey,
    u64,
    variant,
    with_context,
)

MAX_AIRDROP_LAMPORTS = 1_000 * 10**9  # per request (Solana's faucets cap requests too)
TX_TYPE = "solana_transaction::versioned::VersionedTransaction"  # how Agave names what it failed to read
MESSAGE_TYPE = "solana_message::versions::VersionedMessage"


def _engine(registry: Registry) -> SvmEngine:
    try:
        engine = registry.route(bytes([RAW_TX]))
    except AdmissionError as e:
        raise RpcError(INTERNAL_ERROR, e.message) from None
    if not isinstance(engine, SvmEngine):
        raise RpcError(INTERNAL_ERROR, "the engine at opcode 0x20 is not the SVM engine")
    return engine


def read_transaction(text: Any, cfg: dict[str, Any]) -> Transaction:
    encoding = variant(cfg.get("encoding"), ("base58", "base64"), "base58")
    raw = binary(text, encoding, TX_TYPE, PACKET_DATA_SIZE)
    try:
        return parse(raw)
    except SvmError as e:
        raise invalid(f"invalid transaction: {e.message}") from None


def _verify(engine: SvmEngine, envelope: bytes) -> None:
    try:
        engine.verify(engine.decode(envelope))
    except AdmissionError:
        raise RpcError(TRANSACTION_SIGNATURE_VERIFICATION_FAILURE, "Transaction signature verification failure") from None


class _WithoutSignatures(Registry):
    """The node's engines, admitting without the signature check: simulateTransaction's default
    (`sigVerify` false), and a transaction whose blockhash was replaced."""

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        for engine in registry.engines():
            self.register(engine)

    def admit(self, envelope: bytes, state: State, chain_id: int, recent: Any = ()) -> Tx:
        return self.route(envelope).admit(envelope, state, chain_id, recent)


@lru_cache(maxsize=4)
def _unverified(registry: Registry) -> Registry:
    return _WithoutSignatures(registry)


def _refused(e: AdmissionError) -> tuple[dict[str, Any], str]:
    return {"err": solana_err_of(e.code), "logs": [], "accounts": None, "unitsConsumed": 0, "returnData": None}, e.message


def _outcome(run: DryRun) -> tuple[dict[str, Any], str]:
    """A dry run as Solana's RpcSimulateTransactionResult, and the Display text of its error."""
    if run.refused is not None:
        return _refused(run.refused)
    receipt = run.receipt
    if receipt is None:  # already in a block (the engine refuses a replay first: kept for completeness)
        return _refused(AdmissionError("This transaction has already been processed", "AlreadyProcessed"))
    program_data = SvmOutput.decode(receipt.output).return_data if receipt.success else None
    err = solana_err(receipt)
    result = {
        "err": err,
        "logs": [line.decode("utf-8", "replace") for line in receipt.logs],
        "accounts": None,
        "unitsConsumed": receipt.gas_used,
        "returnData": None if program_data is None else return_data_json(program_data),
    }
    return result, err_text(err, receipt.message)


def _preflight_error(result: dict[str, Any], text: str) -> RpcError:
    data = result | {"innerInstructions": None, "replacementBlockhash": None}
    return RpcError(SEND_TRANSACTION_PREFLIGHT_FAILURE, f"Transaction simulation failed: {text}", data)


# -- sendTransaction ---------------------------------------------------------------------------------
def send_transaction(text: Any, cfg_value: Any, now: Head) -> str:
    cfg = config(cfg_value)
    skip = flag(cfg, "skipPreflight")
    variant(cfg.get("preflightCommitment"), COMMITMENTS, "finalized")
    if cfg.get("maxRetries") is not None:
        u64(cfg["maxRetries"], "usize")  # accepted; the node keeps an admitted transaction until it is in a block
    min_context_slot(cfg, now.height)
    tx = read_transaction(text, cfg)
    envelope = bytes([RAW_TX]) + tx.raw
    registry = web_registry()
    engine = _engine(registry)
    if not skip:
        _verify(engine, envelope)
        result, reason = _outcome(dry_run(envelope, registry))
        if result["err"] is not None:
            raise _preflight_error(result, reason)
    try:
        admit_to_mempool(envelope)
    except AdmissionError as e:
        if e.code == "SignatureFailure":
            raise RpcError(TRANSACTION_SIGNATURE_VERIFICATION_FAILURE, "Transaction signature verification failure") from None
        if e.code != "already_known":  # already waiting: its signature again
            raise _preflight_error(*_refused(e)) from None
    return b58(tx.signature)


# -- simulateTransaction -----------------------------------------------------------------------------
class _After(Mapping[bytes, bytes]):
    """The committed state with a dry run's writes on top: the accounts a simulation would leave."""

    def __init__(self, base: Mapping[bytes, bytes], diff: Diff) -> None:
        self.base = base
        self.writes = {key: new for key, _old, new in diff}

    def __getitem__(self, key: bytes) -> bytes:
        if key in self.writes:
            value = self.writes[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.base[key]

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("read key by key")

    def __len__(self) -> int:
        raise TypeError("read key by key")


def _accounts_after(run: DryRun, spec: Any) -> list[dict[str, Any] | None]:
    if not isinstance(spec, dict) or not isinstance(spec.get("addresses"), list):
        raise invalid("Invalid params: accounts must be {addresses: [pubkey, …], encoding}.")
    addresses = [pubkey(a) for a in spec["addresses"]]
    if len(addresses) > MAX_MULTIPLE_ACCOUNTS:
        raise invalid(f"Too many accounts provided; max {MAX_MULTIPLE_ACCOUNTS}")
    encoding, _ = account_encoding({"encoding": spec.get("encoding")}, "base64")
    if encoding in ("binary", "base58"):
        raise invalid("base58 encoding not supported")
    state = State(_After(SqlEntries(), run.diff))
    out: list[dict[str, Any] | None] = []
    for key in addresses:
        info = acc.account_info(state, key)
        out.append(None if info is None else ui_account(state, key, info, encoding, None))
    return out


def simulate_transaction(text: Any, cfg_value: Any, now: Head) -> dict[str, Any]:
    cfg = config(cfg_value)
    sig_verify = flag(cfg, "sigVerify")
    replace_blockhash = flag(cfg, "replaceRecentBlockhash")
    inner = flag(cfg, "innerInstructions")
    if sig_verify and replace_blockhash:
        raise invalid("sigVerify may not be used with replaceRecentBlockhash")
    commitment(cfg)
    min_context_slot(cfg, now.height)
    tx = read_transaction(text, cfg)
    replacement = None
    if replace_blockhash:
        message = replace(tx.message, blockhash=now.hash)
        message = replace(message, raw=encode_message(message))
        tx = Transaction(tx.signatures, message, shortvec(len(tx.signatures)) + b"".join(tx.signatures) + message.raw)
        replacement = {"blockhash": b58(now.hash), "lastValidBlockHeight": now.height + BLOCKHASH_VALIDITY}
    envelope = bytes([RAW_TX]) + tx.raw
    registry = web_registry()
    engine = _engine(registry)
    if sig_verify:
        _verify(engine, envelope)
    run = dry_run(envelope, registry if sig_verify else _unverified(registry))
    result, _text = _outcome(run)
    if cfg.get("accounts") is not None:
        result["accounts"] = _accounts_after(run, cfg["accounts"])
    result["innerInstructions"] = [] if inner else None  # cross-program invocations are not recorded here
    result["replacementBlockhash"] = replacement
    return with_context(now.height, result)


# -- requestAirdrop ----------------------------------------------------------------------------------
def request_airdrop(address: Any, lamports: Any, cfg_value: Any) -> str:
    key = pubkey(address)
    amount = u64(lamports)
    commitment(config(cfg_value))
    if amount > MAX_AIRDROP_LAMPORTS:  # the Solana faucet's words
        raise invalid(f"airdrop request too large; req: ◎{ui_amount(amount, 9)}, cap: ◎{ui_amount(MAX_AIRDROP_LAMPORTS, 9)}")
    if amount == 0:
        raise invalid("airdrop request of 0 lamports: ask for at least 1")
    try:
        sent = drip(b58(key), CLIENT.get(), amount)
    except FaucetError as e:  # Agave answers a faucet's refusal as an internal error; the reason is kept here
        raise RpcError(INTERNAL_ERROR, f"airdrop refused: {e.message}") from None
    return b58(native_signature(sent.tx_id))


# -- getFeeForMessage --------------------------------------------------------------------------------
def fee_for_message(text: Any, cfg_value: Any, now: Head, recent: list[bytes]) -> dict[str, Any]:
    """The message's fee (signatures and priority fee), or null when its blockhash is no longer valid."""
    cfg = config(cfg_value)
    commitment(cfg)
    min_context_slot(cfg, now.height)
    raw = binary(text, "base64", MESSAGE_TYPE, PACKET_DATA_SIZE)
    try:
        message = parse_message(raw)
        fee: int | None = budget(message).fee
    except SvmError as e:
        raise invalid(f"invalid transaction message: {e.message}") from None
    if message.blockhash not in recent[:BLOCKHASH_VALIDITY]:
        fee = None
    return with_context(now.height, fee)
