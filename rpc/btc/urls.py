"""Esplora's paths under /api/btc/ (rpc/btc/views.py)."""

from django.urls import path, re_path

from . import views as v

urlpatterns = [
    path("blocks/tip/height", v.tip_height),
    path("blocks/tip/hash", v.tip_hash),
    path("blocks", v.blocks),
    path("blocks/<str:start>", v.blocks),
    path("block-height/<str:height>", v.block_at_height),
    path("block/<str:block_hash>", v.block),
    path("block/<str:block_hash>/status", v.block_status),
    path("block/<str:block_hash>/txids", v.block_txids),
    path("block/<str:block_hash>/txid/<str:index>", v.block_txid),
    path("block/<str:block_hash>/txs", v.block_txs),
    path("block/<str:block_hash>/txs/<str:start>", v.block_txs),
    path("tx", v.broadcast),
    path("tx/<str:txid>", v.tx),
    path("tx/<str:txid>/hex", v.tx_hex),
    path("tx/<str:txid>/raw", v.tx_raw),
    path("tx/<str:txid>/status", v.tx_status),
    path("tx/<str:txid>/outspends", v.tx_outspends),
    path("tx/<str:txid>/outspend/<str:vout>", v.tx_outspend),
    path("address/<str:addr>", v.address),
    path("address/<str:addr>/utxo", v.address_utxo),
    path("address/<str:addr>/txs", v.address_txs),
    path("address/<str:addr>/txs/chain", v.address_txs_chain),
    path("address/<str:addr>/txs/chain/<str:last_seen>", v.address_txs_chain),
    path("address/<str:addr>/txs/mempool", v.address_txs_mempool),
    path("fee-estimates", v.fee_estimates),
    path("mempool", v.mempool),
    path("mempool/txids", v.mempool_txids),
    path("mempool/recent", v.mempool_recent),
    re_path(r"^block/[^/]+/(?P<what>header|raw)$", v.unsupported),
    re_path(r"^tx/[^/]+/(?P<what>merkle-proof|merkleblock-proof)$", v.unsupported),
    re_path(r"^(?P<what>scripthash|address-prefix)/", v.unsupported),
    re_path(r"^(?P<what>broadcast)$", v.unsupported),
    re_path(r"^.*$", v.unknown),
]
