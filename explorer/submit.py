"""`/submit`: paste a raw signed transaction of any chain; see what it is, what it would do now (a dry
run against the committed state), send it, and follow it to its block.

The page works without JavaScript (preview and submit are form posts; the status has a link); with
it, the status fragment refreshes on every block `/ws/live` announces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chain.dispatcher import VM_TITLES
from chain.errors import AdmissionError, ChainError
from chain.ledger import BASE_PER_SAT, BASE_PER_SUN, NATIVE_MINT, WEI_PER_BASE
from chain.store import models as m
from chain.store.sql import consistent_reads
from nvmsite.node import admit_to_mempool
from rpc.rawtx import NATIVE_ID_LABEL, Recognised, Unrecognised, balance_changes, dry_run, native_id_text, recognise

from . import data

VM_UNITS = {"native": "base units", "svm": "lamports", "evm": "wei", "bvm": "sats", "tvm": "sun"}  # the native token's


def in_vm_unit(base_units: int, vm: str) -> str:
    """A native amount in the VM's own smallest unit, exactly (a fraction where the unit is coarser)."""
    name = VM_UNITS.get(vm, VM_UNITS["native"])
    if vm == "evm":
        return f"{base_units * WEI_PER_BASE:,} {name}"
    if vm in ("bvm", "tvm"):
        per = BASE_PER_SAT if vm == "bvm" else BASE_PER_SUN
        whole, rest = divmod(abs(base_units), per)
        sign = "-" if base_units < 0 else ""
        frac = f".{rest:0{len(str(per)) - 1}d}".rstrip("0") if rest else ""
        return f"{sign}{whole:,}{frac} {name}"
    return f"{base_units:,} {name}"


def _preview(found: Recognised) -> dict[str, Any]:
    registry = data.registry()
    context: dict[str, Any] = {"found": found, "vm_title": VM_TITLES.get(found.vm, found.vm)}
    try:
        engine = registry.route(found.envelope)
    except AdmissionError as e:
        context["unsupported"] = e.message  # a VM this node does not run yet
        return context
    try:
        tx = engine.decode(found.envelope)
    except (AdmissionError, ValueError) as e:
        context["refused"] = AdmissionError(f"the {engine.name} engine cannot decode it: {e}", "undecodable")
        return context
    describe = getattr(engine, "describe", None)
    if describe is not None:
        context["title"], context["fields"] = describe(tx)
    run = dry_run(found.envelope, registry)
    context["run"] = run
    context["refused"] = run.refused
    if run.receipt is not None:
        context["changes"] = balance_changes(run, data.mints())
        context["created"] = data.created_contract(tx, run.receipt) if found.vm == "evm" else None
        context["fee_vm"] = in_vm_unit(run.receipt.fee, found.vm)
        signer = [tx.sender] if tx.sender and len(tx.sender) == 32 else []
        context["diff"] = data.explain_diff(run.diff, [*run.parties, *signer], context.get("fields", []))
    context["mints"] = data.mints()
    context["native_mint"] = NATIVE_MINT
    return context


def submit(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"raw": ""}
    status = 200
    if request.method == "POST":
        text = request.POST.get("raw", "")
        context["raw"] = text
        found = None
        try:
            found = recognise(text, data.registry())
            if request.POST.get("action") == "submit":
                context["submitted"] = admit_to_mempool(found.envelope).envelope_id
                if found.native_id is not None:  # the id the user's wallet showed them
                    context["native"] = (NATIVE_ID_LABEL[found.vm], native_id_text(found.vm, found.native_id))
            else:
                with consistent_reads():
                    context.update(_preview(found))
        except Unrecognised as e:
            context["error"], context["tried"], status = e.message, e.tried, 400
        except AdmissionError as e:
            what = f"Recognised {_what(found)} ({found.encoding}), but " if found else ""
            context["error"], status = f"{what}the node refused it: {e.message} ({e.code}).", 400
        except ChainError as e:
            context["error"], status = e.message, 503
    return render(request, "explorer/submit.html", context, status=status)


def _what(found: Recognised) -> str:
    if found.chain == "nvm":
        return "an n-VM envelope"
    return ("an " if found.title[:1] in "AEIOU" else "a ") + found.title + " transaction"


@dataclass
class Status:
    id: bytes
    state: str  # included | pending | unknown
    height: int | None = None
    position: int | None = None
    success: bool | None = None
    code: str = ""


def tx_status(envelope_id: bytes) -> Status:
    row = m.Transaction.objects.filter(envelope_id=envelope_id).values_list("block_id", "position", "receipt").first()
    if row is not None:
        from chain.dispatcher import Receipt

        receipt = Receipt.decode(bytes(row[2]))
        return Status(envelope_id, "included", row[0], row[1], receipt.success, receipt.code)
    if m.MempoolEntry.objects.filter(envelope_id=envelope_id).exists():
        return Status(envelope_id, "pending")
    return Status(envelope_id, "unknown")


def status_live(request: HttpRequest, ref: str) -> HttpResponse:
    raw = data.hex_bytes(ref, 32)
    if raw is None:
        return HttpResponse("not a transaction id", status=400, content_type="text/plain")
    with consistent_reads():
        status = tx_status(raw)
    return render(request, "explorer/_tx_status.html", {"s": status})
