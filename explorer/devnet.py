"""The Devnet panel (/devnet): the devnet controls (nvmsite/devctl.py) as forms — mine, move the clock, switch
block production, snapshot / revert / reset, set any address's balance, impersonate an address, download the state
file and load one.
Without devnet mode the page says the controls are off (403) and offers nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chain.address import AddressError, tron_text
from chain.errors import ChainError
from chain.store import models as m
from chain.store.sql import head
from nvmsite import devctl, impersonation


def _int(request: HttpRequest, name: str) -> int:
    try:
        return int(request.POST.get(name, ""), 10)
    except ValueError:
        raise ChainError(f"{name.replace('_', ' ')} must be a whole number", "bad_input") from None


def _act(request: HttpRequest) -> str:
    """Carry out the posted action; what happened, in words."""
    action = request.POST.get("action", "")
    if action == "mine":
        return f"Mined: the head is now block {devctl.mine(_int(request, 'blocks'))}."
    if action == "increase":
        return f"The clock is now {devctl.increase_time(_int(request, 'seconds')):,} s ahead."
    if action == "next":
        devctl.set_next_timestamp(_int(request, "timestamp"))
        return "The next block will carry that timestamp."
    if action == "mining":
        mode = request.POST.get("mode", "")
        interval = _int(request, "interval_ms") if mode == "interval" else None
        devctl.set_mining(mode, interval)
        return "Block production switched."
    if action == "snapshot":
        return f"Snapshot {devctl.snapshot()} taken."
    if action == "revert":
        n = _int(request, "snapshot")
        return f"Reverted to snapshot {n}." if devctl.revert(n) else f"There is no snapshot {n} (used up, or never taken)."
    if action == "reset":
        devctl.reset()
        return "Back to genesis."
    if action == "load":
        upload = request.FILES.get("state")
        if upload is None:
            raise ChainError("choose a state file to load", "bad_input")
        loaded = devctl.load_state(upload.chunks())
        return f"State file loaded: the head is now block {loaded['height']}, state root {loaded['state_root']}."
    if action == "impersonate":
        address = request.POST.get("address", "")
        stop = bool(request.POST.get("stop"))
        impersonation.impersonate(address, not stop)
        return f"{'Stopped impersonating' if stop else 'Impersonating'} {address.strip()}."
    if action == "balance":
        unit = request.POST.get("unit", "vm")
        height = devctl.set_balance(request.POST.get("address", ""), _int(request, "amount"), unit == "base")
        return f"Balance set in block {height}."
    raise ChainError("no such action", "bad_input")


def devnet(request: HttpRequest) -> HttpResponse:
    if not settings.NVM_DEVNET:
        return render(request, "explorer/devnet.html", {"off": True}, status=403)
    context: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            context["done"] = _act(request)
        except (ChainError, AddressError) as e:
            context["error"], status = str(e.args[0] if e.args else e), 400
    context["controls"] = controls = devctl.controls()
    # what blocks are made by now: the controls' choice, else how the node was started
    context["mode"] = controls["mode"] or ("on_demand" if settings.NVM_ON_DEMAND else "interval")
    context["interval_ms"] = controls["interval_ms"] or settings.NVM_BLOCK_INTERVAL_MS
    shown = impersonation.state(context["controls"])
    context["impersonated"] = {**shown, "tron_text": [tron_text(bytes.fromhex(a)) for a in shown["tron"]]}
    context["head"] = head()
    context["snapshots"] = list(m.DevSnapshot.objects.order_by("-id").values("id", "height")[:20])
    return render(request, "explorer/devnet.html", context, status=status)
