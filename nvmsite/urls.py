from django.urls import include, path

from rpc.eth.views import eth_rpc
from rpc.native import views as native

urlpatterns = [
    path("api/v1/", include("rpc.native.urls")),
    path("rpc/eth", eth_rpc),
]

handler404 = native.not_found_page
handler500 = native.server_error_page
