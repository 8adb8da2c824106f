"""The faucet: a real native transfer from a funded identity to an address of any VM.

The faucet identity is NVM_FAUCET_REV's (by default ACE dev identity #0 of chain/genesis.json); its
native account is created by its first drip. Limits: one drip per address per NVM_FAUCET_ADDRESS_WINDOW_S
and NVM_FAUCET_CLIENT_LIMIT drips per client per NVM_FAUCET_CLIENT_WINDOW_S, counted in the cache
(Redis with REDIS_URL, process memory otherwise). Requests are serialised by a cache lock, so the
faucet's nonces never collide.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from chain import auth
from chain.address import AddressError, parse_address
from chain.errors import AdmissionError
from chain.ledger import NATIVE_MINT
from chain.node import chain_id_of
from chain.state import State
from chain.store.sql import SqlEntries, SqlStore
from engines.native import tx as t
from engines.native.client import AceSigner
from nvmsite.cli import ref_of
from nvmsite.node import web_registry as registry

LOCK = "nvm:faucet:lock"
NEXT_NONCE = "nvm:faucet:next-nonce"


class FaucetError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


@dataclass
class Drip:
    tx_id: bytes
    to: str
    id_com: bytes
    amount: int


def signer() -> AceSigner:
    return AceSigner(bytes.fromhex(settings.NVM_FAUCET_REV), settings.NVM_CHAIN_ID)


def _limit(key: str, allowed: int, window_s: int, what: str) -> None:
    """A fixed window: the first hit opens it (cache.add), later ones count in it (cache.incr)."""
    if cache.add(key, 1, timeout=window_s):
        cache.set(key + ":t", int(time.time()) + window_s, timeout=window_s)
        return
    try:
        count = cache.incr(key)
    except ValueError:  # the window closed between add and incr
        cache.add(key, 1, timeout=window_s)
        return
    if count > allowed:
        reset = cache.get(key + ":t") or int(time.time()) + window_s
        wait = max(1, int(reset) - int(time.time()))
        raise FaucetError("rate_limited", f"{what}: try again in {wait} s", 429, wait)


@contextmanager
def _serialised() -> Iterator[None]:
    for _ in range(500):
        if cache.add(LOCK, 1, timeout=10):
            try:
                yield
            finally:
                cache.delete(LOCK)
            return
        time.sleep(0.01)
    raise FaucetError("busy", "the faucet is busy; try again", 503, 1)


def _open_account(me: AceSigner, store: SqlStore, chain_id: int) -> None:
    """The faucet's first drip creates its native account and waits for the block that holds it."""
    entries = SqlEntries()
    try:
        store.add_pending([registry().admit(me.create_account(), State(entries), chain_id)])
    except AdmissionError as e:
        if e.code != "already_known":
            raise FaucetError("faucet_refused", f"the faucet could not open its account: {e.message}", 503) from None
    deadline = time.monotonic() + 15
    while not auth.factors(State(entries), me.id_com):
        if time.monotonic() > deadline:
            raise FaucetError("busy", "the faucet's account is being created; try again in a moment", 503, 2)
        time.sleep(0.05)


def drip(address: str, client: str, amount: int | None = None) -> Drip:
    """Send `amount` base units (NVM_FAUCET_AMOUNT by default) to the address, within the rate limits."""
    text = (address or "").strip()
    if not text:
        raise FaucetError("missing_address", "give an address of any VM (0x…, base58, bcrt1…, T…) or an id_com")
    try:
        parsed = parse_address(text)
        to = ref_of(text)
    except AddressError as e:
        raise FaucetError("bad_address", str(e)) from None
    address_key, client_key = f"nvm:faucet:addr:{parsed.vm}:{parsed.raw.hex()}", f"nvm:faucet:client:{client}"
    _limit(address_key, 1, settings.NVM_FAUCET_ADDRESS_WINDOW_S, "this address was funded recently")
    try:
        limit, window = settings.NVM_FAUCET_CLIENT_LIMIT, settings.NVM_FAUCET_CLIENT_WINDOW_S
        _limit(client_key, limit, window, "too many faucet requests from you")
    except FaucetError:
        cache.delete(address_key)  # this address got nothing
        raise
    try:
        return _send(text, parsed.text, to, settings.NVM_FAUCET_AMOUNT if amount is None else amount)
    except Exception:
        # Nothing was sent: the request does not count against the address or the client.
        cache.delete(address_key)
        try:
            cache.decr(client_key)
        except ValueError:
            pass
        raise


def _send(text: str, shown: str, to: t.Ref, amount: int) -> Drip:
    me = signer()
    with _serialised():
        entries = SqlEntries()
        state = State(entries)
        chain_id = chain_id_of(entries)
        if chain_id != me.chain_id:
            raise FaucetError("misconfigured", "the faucet identity belongs to another chain id", 503)
        store = SqlStore()
        if not auth.factors(state, me.id_com):
            _open_account(me, store, chain_id)
            state = State(entries)
        nonce = max(auth.nonce(state, me.id_com), int(cache.get(NEXT_NONCE) or 0))
        envelope = me.envelope(t.TRANSFER, nonce, mint=NATIVE_MINT, to=to, amount=amount)
        try:
            admitted = [registry().admit(envelope, state, chain_id)]
        except AdmissionError as e:
            cache.delete(NEXT_NONCE)  # read the nonce from the state next time
            raise FaucetError("faucet_refused", f"the faucet's transfer was refused: {e.message}", 503) from None
        store.add_pending(admitted)
        cache.set(NEXT_NONCE, nonce + 1, timeout=600)
    from rpc.native.identity import resolve_text

    id_com, _query, _bound = resolve_text(text)
    return Drip(admitted[-1].envelope_id, shown, id_com, amount)
