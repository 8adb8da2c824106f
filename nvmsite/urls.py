from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from explorer.views import not_found as explorer_not_found
from faucet import views as faucet
from rpc.btc import views as btc
from rpc.eth.views import eth_rpc
from rpc.native import views as native
from rpc.solana.views import solana_rpc

urlpatterns = [
    path("api/v1/faucet", faucet.api),
    path("api/v1/", include("rpc.native.urls")),
    path("api/btc/", include("rpc.btc.urls")),
    path("api/btc", btc.unknown),  # the base URL itself: Esplora's plain-text 404, not the native API's JSON
    path("api/tron/", include("rpc.tron.urls")),
    path("rpc/eth", eth_rpc),
    path("rpc/solana", solana_rpc),
    path("faucet/", faucet.page),
    path("", include("explorer.urls")),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """JSON under the APIs, a page elsewhere."""
    if request.path.startswith(("/api/", "/rpc/")):
        return native.not_found_page(request, exception)
    return explorer_not_found(request, exception)


SERVER_ERROR_PAGE = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Server error · n-VM devnet</title>'
    '<body style="font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 40rem"><h1>Something went wrong</h1>'
    "<p>The node failed to answer this page; its log says why.</p>"
    '<p><a href="/">Back to the latest blocks</a></p></body></html>'
)


def server_error(request: HttpRequest) -> HttpResponse:
    """JSON under the APIs; elsewhere a page that needs nothing (no template, no database) to be shown."""
    if request.path.startswith(("/api/", "/rpc/")):
        return native.server_error_page(request)
    return HttpResponse(SERVER_ERROR_PAGE, status=500, content_type="text/html; charset=utf-8")


handler404 = not_found
handler500 = server_error
