from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from explorer.views import not_found as explorer_not_found
from faucet import views as faucet
from rpc.eth.views import eth_rpc
from rpc.native import views as native
from rpc.solana.views import solana_rpc

urlpatterns = [
    path("api/v1/faucet", faucet.api),
    path("api/v1/", include("rpc.native.urls")),
    path("api/btc/", include("rpc.btc.urls")),
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


handler404 = not_found
handler500 = native.server_error_page
