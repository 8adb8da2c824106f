"""java-tron's HTTP API paths under /api/tron/ (rpc/tron/views.py): `wallet/…`, and `walletsolidity/…` for the
reads (blocks are final once made, so the solidified view is the head's)."""

from django.urls import path, re_path

from . import views as v

READS = {
    "getnowblock": v.getnowblock,
    "getblockbynum": v.getblockbynum,
    "getblockbyid": v.getblockbyid,
    "getaccount": v.getaccount,
    "gettransactionbyid": v.gettransactionbyid,
    "gettransactioninfobyid": v.gettransactioninfobyid,
    "getnodeinfo": v.getnodeinfo,
}
WALLET_ONLY = {
    "getaccountresource": v.getaccountresource,
    "getaccountnet": v.getaccountnet,
    "getchainparameters": v.getchainparameters,
    "createtransaction": v.createtransaction,
    "getsignweight": v.getsignweight,
    "broadcasttransaction": v.broadcasttransaction,
    "broadcasthex": v.broadcasthex,
    "triggersmartcontract": v.triggersmartcontract,
    "triggerconstantcontract": v.triggerconstantcontract,
    "estimateenergy": v.estimateenergy,
    "deploycontract": v.deploycontract,
}
READS.update({"getcontract": v.getcontract, "getcontractinfo": v.getcontractinfo})

urlpatterns = [
    *(path(f"wallet/{name}", view) for name, view in {**READS, **WALLET_ONLY}.items()),
    *(path(f"walletsolidity/{name}", view) for name, view in READS.items()),
    re_path(r"^(?P<what>.*)$", v.unknown),
]
