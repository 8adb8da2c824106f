from django.urls import path

from . import devnet, submit, views

urlpatterns = [
    path("", views.home, name="home"),
    path("live/home", views.home_live),
    path("blocks", views.blocks),
    path("txs", views.txs),
    path("mints", views.mints),
    path("block/<str:ref>", views.block),
    path("tx/<str:ref>", views.tx),
    path("identity/<str:ref>", views.identity, name="identity"),
    path("live/identity/<str:ref>", views.identity_live),
    path("mint/<str:ref>", views.mint),
    path("search", views.search),
    path("submit", submit.submit),
    path("devnet", devnet.devnet),
    path("live/status/<str:ref>", submit.status_live),
]
