from django.urls import include, path

from rpc.native import views as native

urlpatterns = [
    path("api/v1/", include("rpc.native.urls")),
]

handler404 = native.not_found_page
handler500 = native.server_error_page
