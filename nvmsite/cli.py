"""The wallet side of `python manage.py nvm`: identities, transfers, mints and approvals from a REV.

Transactions are signed here, admitted exactly as POST /api/v1/tx admits them (same registry,
same checks), and left in the persisted mempool for the block producer; by default the command
waits for the block and prints the receipt.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from chain import auth
from chain.address import addresses_of, parse_address
from chain.dispatcher import Receipt
from chain.errors import ChainError
from chain.hashing import U64_MAX, H
from chain.identity import id_com, multisig_id_com
from chain.ledger import NATIVE_MINT, MintRecord, mint_slot, ui_amount
from chain.node import chain_id_of
from chain.state import State
from chain.store import models as m
from chain.store.sql import SqlEntries, SqlStore, recent_hashes
from engines.native import tx as t
from engines.native.client import AceSigner, multisig_envelope


class CliError(ChainError):
    code = "cli"


def parse_rev(text: str) -> bytes:
    s = text.strip().removeprefix("0x").removeprefix("0X")
    try:
        rev = bytes.fromhex(s)
    except ValueError:
        raise CliError("--rev must be 64 hex digits") from None
    if len(rev) != 32:
        raise CliError(f"--rev must be 32 bytes, got {len(rev)}")
    return rev


def identity_new(rev_hex: str | None, chain_id: int) -> dict[str, Any]:
    rev = parse_rev(rev_hex) if rev_hex else os.urandom(32)
    ic = id_com(rev, chain_id=chain_id)
    return {
        "rev": rev.hex(),
        "id_com": "0x" + ic.hex(),
        "addresses": addresses_of(ic),
        "warning": "the REV is the identity's master secret: keep it; the node never stores it",
    }


def multisig(threshold: int, members: list[str]) -> dict[str, Any]:
    from rpc.native.identity import resolve_text

    ids = [resolve_text(m)[0] for m in members]
    try:
        ms = multisig_id_com(threshold, ids)
    except ValueError as e:
        raise CliError(str(e)) from None
    return {
        "id_com": "0x" + ms.hex(),
        "threshold": threshold,
        "members": ["0x" + i.hex() for i in sorted(ids)],
        "addresses": addresses_of(ms),
    }


def ref_of(text: str) -> t.Ref:
    p = parse_address(text)
    kind = t.REF_ID_COM if p.vm == "native" else t.REF_KINDS[p.vm]
    return t.Ref(kind, p.raw)


def mint_of(text: str | None) -> tuple[bytes, MintRecord]:
    if text is None or text.upper() == "NVM":
        mint = NATIVE_MINT
    else:
        s = text.strip().removeprefix("0x")
        try:
            mint = bytes.fromhex(s)
        except ValueError:
            raise CliError("--mint is a 32-byte mint id in hex, or NVM") from None
        if len(mint) != 32:
            raise CliError("--mint is a 32-byte mint id in hex, or NVM")
    raw = SqlEntries().get(mint_slot(mint))
    if raw is None:
        raise CliError(f"no mint 0x{mint.hex()}")
    return mint, MintRecord.decode(raw)


def parse_amount(text: str, decimals: int) -> int:
    """A decimal amount in the mint's units ("1.5" NVM), exact: never rounded."""
    try:
        q = Decimal(text.strip())
    except InvalidOperation:
        raise CliError(f"amount {text!r} is not a number") from None
    if not q.is_finite() or q < 0:
        raise CliError("amount must be a non-negative number")
    base = q.scaleb(decimals)
    if base != base.to_integral_value():
        raise CliError(f"amount {text} has more than {decimals} decimals")
    if base > U64_MAX:
        raise CliError("amount exceeds the u64 range of base units")
    return int(base)


class Wallet:
    """An ACE identity — or a multisig of ACE identities — submitting through this node's database."""

    def __init__(
        self, revs: list[bytes], registry: Any, threshold: int | None = None, members: list[bytes] | None = None
    ) -> None:
        self.entries = SqlEntries()
        self.chain_id = chain_id_of(self.entries)
        self.signers = [AceSigner(rev, self.chain_id) for rev in revs]
        self.registry = registry
        self.threshold, self.members = threshold, sorted(members or [])
        if members:
            if threshold is None:
                raise CliError("a multisig needs --threshold")
            try:
                self.id_com = multisig_id_com(threshold, self.members)
            except ValueError as e:
                raise CliError(str(e)) from None
            strangers = [s for s in self.signers if s.id_com not in self.members]
            if strangers:
                raise CliError(f"--rev of {strangers[0].id_com.hex()} is not a member of this multisig")
        elif len(self.signers) != 1:
            raise CliError("several --rev sign only for a multisig (give its --member list and --threshold)")
        else:
            self.id_com = self.signers[0].id_com

    def envelope(
        self, opcode: int, nonce: int, scheme: int = t.ED25519, context: bytes | None = None, **payload: object
    ) -> bytes:
        if not self.members:
            return self.signers[0].envelope(opcode, nonce, scheme, context, **payload)
        assert self.threshold is not None
        return multisig_envelope(
            self.chain_id, self.threshold, self.members, self.signers, opcode, nonce, scheme, context, **payload
        )

    def next_nonce(self) -> int:
        state = State(self.entries)
        n = auth.nonce(state, self.id_com)
        # transactions of this signer already waiting in the mempool hold the nonces after it
        for env in m.MempoolEntry.objects.filter(opcode__range=(0x01, 0x08)).values_list("envelope", flat=True):
            env = bytes(env)
            if env[9:41] == self.id_com:
                n += 1
        return n

    def submit(self, envelope: bytes) -> bytes:
        tx = self.registry.admit(envelope, State(self.entries), self.chain_id, recent_hashes())
        SqlStore().add_pending([tx])
        return H(envelope)

    def ensure_account(self, wait_s: float) -> dict[str, Any] | None:
        if auth.factors(State(self.entries), self.id_com):
            return None
        if self.members:
            assert self.threshold is not None
            first = self.envelope(t.CREATE_ACCOUNT, 0, factor=t.multisig_factor(self.threshold, self.members))
        else:
            first = self.signers[0].create_account()
        created = wait_for(self.submit(first), max(wait_s, 10.0))
        if created["status"] != "committed":
            raise CliError("the account's creation is still pending: is the block producer running (make devnet)?")
        return created

    def send(self, opcode: int, wait_s: float, **payload: Any) -> dict[str, Any]:
        created = self.ensure_account(wait_s)
        result = wait_for(self.submit(self.envelope(opcode, self.next_nonce(), **payload)), wait_s)
        if created is not None:
            result["created_account"] = created["id"]
        return result


def wait_for(envelope_id: bytes, wait_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        row = m.Transaction.objects.filter(envelope_id=envelope_id).values_list("block_id", "receipt").first()
        if row is not None:
            r = Receipt.decode(bytes(row[1]))
            out: dict[str, Any] = {"id": "0x" + envelope_id.hex(), "status": "committed", "block": row[0], "success": r.success}
            out["fee"] = str(r.fee)
            if not r.success:
                out["error"] = {"code": r.code, "message": r.message}
            if r.output:
                out["output"] = "0x" + r.output.hex()
            return out
        if time.monotonic() >= deadline:
            return {"id": "0x" + envelope_id.hex(), "status": "pending"}
        time.sleep(0.05)


def describe_amount(base: int, rec: MintRecord) -> dict[str, str]:
    return {"amount": ui_amount(base, rec.decimals), "symbol": rec.symbol, "base_units": str(base)}


__all__ = [
    "CliError",
    "Wallet",
    "describe_amount",
    "identity_new",
    "mint_of",
    "multisig",
    "parse_amount",
    "parse_rev",
    "ref_of",
    "wait_for",
]
