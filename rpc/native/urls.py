from django.urls import path, re_path

from . import views

urlpatterns = [
    path("status", views.status),
    path("blocks", views.blocks),
    path("blocks/<str:ref>", views.block),
    path("tx", views.submit_tx),
    path("simulate", views.simulate),
    path("tx/<str:ref>", views.tx),
    path("state/proof", views.state_proof),
    path("identity/<str:ref>", views.identity),
    path("schema", views.schema),
    path("dev", views.dev),
    path("dev/mine", views.dev_mine),
    path("dev/time", views.dev_time),
    path("dev/mining", views.dev_mining),
    path("dev/snapshot", views.dev_snapshot),
    path("dev/balance", views.dev_balance),
    path("dev/impersonate", views.dev_impersonate),
    path("dev/revert", views.dev_revert),
    path("dev/reset", views.dev_reset),
    path("dev/state", views.dev_state),
    re_path(r"^.*$", views.unknown),
]
