"""`/faucet/` (a form that works without JavaScript) and `POST /api/v1/faucet` (JSON)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from chain.errors import ChainError

from .service import FaucetError, drip


def client_of(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def page(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    context: dict[str, object] = {"amount": settings.NVM_FAUCET_AMOUNT / 10**9, "address": ""}
    status = 200
    if request.method == "POST":
        address = request.POST.get("address", "")
        context["address"] = address
        try:
            context["drip"] = drip(address, client_of(request))
        except FaucetError as e:
            context["error"], status = e.message, e.status
        except ChainError as e:
            context["error"], status = e.message, 503
    return render(request, "faucet/faucet.html", context, status=status)


@csrf_exempt
def api(request: HttpRequest) -> JsonResponse:
    from rpc.native.views import ApiError, body_json

    if request.method != "POST":
        return JsonResponse({"error": {"code": "method_not_allowed", "message": 'POST {"address": "…"}'}}, status=405)
    try:  # the native API's reading: a size limit, and the nesting counted before the JSON decoder recurses
        body = body_json(request)
    except ApiError as e:
        return JsonResponse({"error": {"code": e.code, "message": e.message}}, status=e.status)
    if not isinstance(body.get("address"), str):
        return JsonResponse(
            {"error": {"code": "bad_json", "message": 'send {"address": "<any VM address or id_com>"}'}}, status=400
        )
    try:
        d = drip(body["address"], client_of(request))
    except FaucetError as e:
        response = JsonResponse({"error": {"code": e.code, "message": e.message}}, status=e.status)
        if e.retry_after:
            response["Retry-After"] = str(e.retry_after)
        return response
    except ChainError as e:
        return JsonResponse({"error": {"code": e.code, "message": e.message}}, status=503)
    return JsonResponse(
        {"tx": "0x" + d.tx_id.hex(), "to": d.to, "id_com": "0x" + d.id_com.hex(), "amount": str(d.amount), "status": "pending"},
        status=202,
    )
