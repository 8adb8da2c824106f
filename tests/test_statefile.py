"""Dump and load (issue 10): the whole chain as a state file (chain/statefile.py) written from the store and loaded
into an empty database gives the same root, the same rows and the same answers; files that are not whole, not
consistent or too new are refused with nothing written; every interface — the CLI, /api/v1/dev/state,
anvil_dumpState / anvil_loadState, the Devnet panel — refuses outside devnet mode. The live test at the end moves
a chain with transactions in every VM from one devnet to fresh ones."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from web3 import Web3

from chain import statefile
from chain.ledger import NATIVE_MINT
from chain.node import Chain, StaleHead
from chain.store import models as m
from chain.store import sql
from engines.native import tx as t
from engines.native.client import AceSigner
from engines.native.engine import user_mint_id
from nvmsite import devctl
from tests.conftest import sql_node
from tests.support.devnet import running_devnet, scratch_database
from tests.test_devctl import WALLET, call, one_of_each_vm, post_json
from tests.test_explorer import REV, busy, node  # noqa: F401  (fixtures: a node with native and EVM transactions)

CHAIN_ID = 7231053
TABLES = (m.TxAlias, m.Transaction, m.Block, m.StateEntry, m.TreeNode, m.MintIndex)


@pytest.fixture
def chain(node, busy, settings):  # noqa: F811  (test_explorer's fixtures)
    """test_explorer's node with its native and EVM transactions, then a user mint and tokens minted, in devnet
    mode."""
    settings.NVM_DEVNET = True
    s = busy["signer"]
    bob = t.Ref(t.REF_EVM, bytes.fromhex(busy["bob"][2:]))
    produce(node, s.envelope(t.CREATE_MINT, 2, decimals=6, symbol="USD", name="dollar"))
    produce(node, s.envelope(t.MINT_TO, 3, mint=user_mint_id(s.id_com, 2), to=bob, amount=1_250_000))
    return node


def produce(chain: Chain, *envelopes: bytes):
    for e in envelopes:
        chain.admit(e)
    return chain.produce(100)


def rows() -> dict[str, set]:
    """Every row of the chain's tables (without serial ids, or the mempool seq a transaction was admitted as: this
    node's own order, which a state file does not carry), as sets of plain values."""

    def plain(values):
        return tuple(bytes(v) if isinstance(v, memoryview) else v for v in values)

    out = {model.__name__: {plain(r) for r in model.objects.values_list()} for model in TABLES}
    out["AddressIndex"] = {plain(r) for r in m.AddressIndex.objects.values_list("tag", "address", "id_com", "height")}
    out["TxParty"] = {plain(r) for r in m.TxParty.objects.values_list("id_com", "height", "position", "envelope_id")}
    tx_columns = [f.attname for f in m.Transaction._meta.concrete_fields if f.name != "seq"]
    out["Transaction"] = {plain(r) for r in m.Transaction.objects.values_list(*tx_columns)}
    return out


def dumped(recent: int | None = None) -> bytes:
    out = io.BytesIO()
    sql.dump_state(out, recent)
    return out.getvalue()


def load(data: bytes):
    return sql.load_state(statefile.read(io.BytesIO(data)))


def empty_database() -> None:
    """What a fresh database holds: the tables, no rows."""
    with connection.cursor() as c:
        for model in (m.TxParty, m.AddressIndex, *TABLES, m.MempoolClaim, m.MempoolEntry, m.DevSnapshot):
            c.execute(f"DELETE FROM {model._meta.db_table}")


def lines_of(data: bytes) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def written(folder: Path, data: bytes) -> Path:
    path = folder / "chain.jsonl.gz"
    path.write_bytes(data)
    return path


def rewritten(data: bytes, edit: Callable[[list[dict]], object]) -> bytes:
    lines = lines_of(data)
    edit(lines)
    return gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines))


# -- the store: dump, load, identical ------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_dump_loaded_into_an_empty_database_gives_the_same_root_rows_and_bytes(chain):
    data, before = dumped(), rows()
    top = sql.head()
    empty_database()
    assert load(data) == top
    assert sql.head() == top and rows() == before  # every state entry, tree node, block, transaction, index row
    assert m.Block.objects.get(height=top.height).schedule is not None  # what the explorer shows of how it ran
    assert dumped() == data  # the same chain dumps to the same bytes
    again = Chain(sql.SqlStore(), chain.registry, chain.validator)  # a node opens it (root checked) and goes on
    assert again.tree.root == top.state_root
    s = AceSigner(REV, CHAIN_ID)
    block = produce(again, s.envelope(t.TRANSFER, 4, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, b"\x33" * 20), amount=5))
    assert block.header.height == top.height + 1 and block.header.parent_hash == top.hash and block.txs[0].receipt.success


@pytest.mark.django_db(transaction=True)
def test_the_file_holds_what_the_header_counts_in_order(chain):
    lines = lines_of(dumped())
    header = lines[0]
    assert header["format"] == "nvm-state" and header["version"] == 1 and header["chain_id"] == CHAIN_ID
    assert header["head"]["state_root"] == sql.head().state_root.hex()
    assert header["genesis_hash"] == bytes(m.Block.objects.get(height=0).hash).hex()
    counts = [header[k] for k in ("entries", "addresses", "mints", "blocks", "txs")]
    assert sum(counts) == len(lines) - 1 and counts[2] == 2  # NVM and the user mint
    entries = [line["k"] for line in lines[1 : 1 + counts[0]]]
    assert entries == sorted(entries) and counts[3] == sql.head().height + 1 and counts[4] == 5


@pytest.mark.django_db(transaction=True)
def test_a_file_of_the_last_blocks_only_still_loads(chain):
    for _ in range(300):
        chain.produce(100)
    with pytest.raises(Exception, match="at least the last 256 blocks"):
        dumped(recent=100)
    data, top, state = dumped(recent=256), sql.head(), rows()["StateEntry"]
    header = lines_of(data)[0]
    assert header["blocks"] == 256 and header["txs"] == 0
    empty_database()
    load(data)
    assert sql.head() == top and rows()["StateEntry"] == state
    assert m.Block.objects.order_by("height").first().height == top.height - 255
    assert len(sql.recent_hashes()) == 256  # what BLOCKHASH, Solana's blockhashes and Tron's TaPoS look back on
    again = lines_of(dumped())
    assert again[0].pop("genesis_hash") is None  # no block 0 here to name
    assert again == [{k: v for k, v in line.items() if k != "genesis_hash"} for line in lines_of(data)]


# -- refused files: nothing written ----------------------------------------------------------------------
def _newer(lines):
    lines[0]["version"] = 2


def _other_format(lines):
    lines[0]["format"] = "anvil"


def _changed_value(lines):
    lines[1]["v"] = "ff" + lines[1]["v"]


def _missing_line(lines):
    del lines[2]


def _swapped_entries(lines):
    lines[1], lines[2] = lines[2], lines[1]


def _changed_receipt(lines):
    tx = next(line for line in lines if "receipt" in line)
    tx["receipt"] = tx["receipt"][:-2] + ("00" if not tx["receipt"].endswith("00") else "01")


def _forged_binding(lines):
    row = next(line for line in lines if "tag" in line)
    row["id_com"] = "00" * 32


def _deep(lines):
    lines[1]["v"] = [
        [
            [
                [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        [
                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                    []
                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            ]
        ]
    ]


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_newer, "format version 2, newer than this node reads"),
        (_other_format, "not an nvm state file"),
        (_changed_value, "not the head's state root"),
        (_missing_line, '"k" must be 32 bytes of hex'),
        (_swapped_entries, "ascending key order"),
        (_changed_receipt, "receipts root"),
        (_forged_binding, "does not bind"),
        (_deep, "brackets"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_an_inconsistent_or_newer_file_is_refused_and_nothing_is_written(chain, tmp_path, edit, says):
    data, before = dumped(), rows()
    with pytest.raises(statefile.StateFileError, match=says) as refused:
        devctl.load_state_offline(written(tmp_path, rewritten(data, edit)))
    assert refused.value.code == ("state_file_too_new" if edit is _newer else "bad_state_file")
    assert rows() == before


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: d[:-4], "truncated"),  # gzip's length trailer cut off
        (lambda d: d[:-8] + bytes([d[-8] ^ 0xFF]) + d[-7:], "CRC check failed"),
        (lambda d: d[:200] + bytes([d[200] ^ 0xFF]) + d[201:], "corrupt|not JSON|hex"),
        (lambda d: gzip.decompress(d), "not a gzip file"),
        (lambda d: d + gzip.compress(b'{"k": "00"}\n'), "goes on after line"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_truncated_or_corrupt_file_is_refused_and_nothing_is_written(chain, tmp_path, damage, says):
    data, before = dumped(), rows()
    with pytest.raises(statefile.StateFileError, match=says):
        devctl.load_state_offline(written(tmp_path, damage(data)))
    assert rows() == before


@pytest.mark.django_db(transaction=True)
def test_a_file_of_another_chain_is_refused_and_nothing_is_written(chain, settings, tmp_path):
    data = dumped()
    for model in TABLES:
        model.objects.all().delete()
    (tmp_path / "other").mkdir()
    sql_node(settings, tmp_path / "other", {"chain_id": 99, "alloc": []})  # this database now runs chain 99
    before = rows()
    with pytest.raises(Exception, match="the state file is of chain 7231053, this node's chain is 99") as refused:
        load(data)
    assert refused.value.code == "chain_mismatch" and rows() == before


# -- a node running on the store while it is replaced ------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_node_whose_chain_was_replaced_under_it_does_not_build_on_it(chain):
    data = dumped()
    chain.produce(100)
    chain.produce(100)  # the running node is two blocks past the file
    load(data)  # `nvm state load` on its database
    with pytest.raises(StaleHead):
        chain.produce(100)
    assert sql.head().height == lines_of(data)[0]["head"]["height"]  # nothing was written on top


@pytest.mark.django_db(transaction=True)
def test_a_running_block_producer_goes_on_from_a_chain_loaded_under_it(chain):
    from nvmsite.node import admit_to_mempool, run_producer

    data, top = dumped(), sql.head()
    stop = threading.Event()

    def producer():
        try:
            run_producer(50, True, 100, stop)
        finally:
            connection.close()

    def pay(amount: int) -> None:
        s = AceSigner(REV, CHAIN_ID)
        admit_to_mempool(s.envelope(t.TRANSFER, 4, mint=NATIVE_MINT, to=t.Ref(t.REF_EVM, b"\x44" * 20), amount=amount))

    def head_after(height: int):
        deadline = time.monotonic() + 30
        while (now := sql.head()).height < height:
            assert time.monotonic() < deadline, "no block"
            time.sleep(0.02)
        return now

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        pay(1)
        assert head_after(top.height + 1).parent_hash == top.hash
        load(data)  # `nvm state load` on its database, under it
        pay(2)
        made = head_after(top.height + 1)
        assert made.parent_hash == top.hash and m.Transaction.objects.filter(block_id=made.height).count() == 1
    finally:
        stop.set()
        thread.join()


# -- the interfaces ---------------------------------------------------------------------------------------
@contextmanager
def producer_errands():
    """The block producer's side of devnet errands (nvmsite/node.py), in a thread of the test."""
    stop = threading.Event()

    def run():
        try:
            while not stop.is_set():
                task = devctl.pending_task()
                if task is not None:
                    devctl.do_task(task)
                stop.wait(0.01)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.django_db(transaction=True)
def test_the_cli_dumps_and_loads(chain, tmp_path, capsys):
    path = tmp_path / "chain.jsonl.gz"
    call_command("nvm", "state", "dump", str(path))
    made = json.loads(capsys.readouterr().out)
    assert made["height"] == sql.head().height and made["bytes"] == path.stat().st_size and made["txs"] == 5
    chain.produce(100)
    call_command("nvm", "state", "load", str(path))
    assert json.loads(capsys.readouterr().out)["state_root"] == made["state_root"]
    assert sql.head().height == made["height"]
    with pytest.raises(CommandError):
        call_command("nvm", "state", "load", str(tmp_path / "missing.gz"))
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "bad_state_file"


@pytest.mark.django_db(transaction=True)
def test_the_api_downloads_and_uploads_the_state_file(chain, client):
    got = client.get("/api/v1/dev/state")
    assert got.status_code == 200 and got["Content-Type"] == "application/gzip"
    top = sql.head()
    assert f'filename="nvm-state-{top.height}.jsonl.gz"' in got["Content-Disposition"]
    chain.produce(100)
    with producer_errands():
        answer = client.post("/api/v1/dev/state", got.content, content_type="application/gzip")
    assert answer.status_code == 200 and answer.json() == {
        "height": top.height,
        "hash": "0x" + top.hash.hex(),
        "state_root": "0x" + top.state_root.hex(),
    }
    assert sql.head() == top
    bad = client.post("/api/v1/dev/state", b"not a state file", content_type="application/gzip")  # refused at once
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_state_file"
    Chain(sql.SqlStore(), chain.registry, chain.validator).produce(100)  # a node on the loaded chain goes on
    before = rows()
    with producer_errands():  # refused by the producer, which read it all: its reason comes back
        bad = client.post("/api/v1/dev/state", rewritten(got.content, _changed_value), content_type="application/gzip")
        assert bad.status_code == 400 and "not the head's state root" in bad.json()["error"]["message"]
        assert client.post("/api/v1/dev/state", b"", content_type="application/gzip").json()["error"]["code"] == "bad_state_file"
    assert rows() == before
    short = client.get("/api/v1/dev/state?recent=10")
    assert short.status_code == 400 and short.json()["error"]["code"] == "bad_parameter"
    assert "/api/v1/dev/state" in client.get("/api/v1/schema").json()["paths"]


@pytest.mark.django_db(transaction=True)
def test_anvil_dump_state_and_load_state(chain, client):
    def rpc(method, *params):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return client.post("/rpc/eth", body, content_type="application/json").json()

    state = rpc("anvil_dumpState")["result"]
    assert state.startswith("0x") and gzip.decompress(bytes.fromhex(state[2:])).startswith(b'{"format":"nvm-state"')
    top = sql.head()
    chain.produce(100)
    with producer_errands():
        assert rpc("anvil_loadState", state) == {"jsonrpc": "2.0", "id": 1, "result": True}
    assert sql.head() == top
    wrong = rpc("anvil_loadState", "0x" + gzip.compress(b'{"format": "nvm-state", "version": 9}\n').hex())
    assert wrong["error"]["code"] == -32000 and "format version 9" in wrong["error"]["message"]
    assert rpc("anvil_loadState", "nope")["error"]["code"] == -32602


@pytest.mark.django_db(transaction=True)
def test_the_devnet_panel_offers_the_file_and_loads_one(chain, client):
    page = client.get("/devnet").content.decode()
    assert 'action="/api/v1/dev/state"' in page and 'enctype="multipart/form-data"' in page
    data = client.get("/api/v1/dev/state").content
    top = sql.head()
    chain.produce(100)
    with producer_errands():
        done = client.post("/devnet", {"action": "load", "state": SimpleUploadedFile("chain.jsonl.gz", data)})
    assert done.status_code == 200 and f"the head is now block {top.height}" in done.content.decode()
    bad = client.post("/devnet", {"action": "load", "state": SimpleUploadedFile("x.gz", gzip.compress(b"{}\n"))})
    assert bad.status_code == 400 and "not an nvm state file" in bad.content.decode()


@pytest.mark.django_db(transaction=True)
def test_dump_and_load_are_refused_outside_devnet_mode_through_every_interface(chain, client, settings, tmp_path, capsys):
    data = dumped()
    settings.NVM_DEVNET = False
    for answer in (client.get("/api/v1/dev/state"), client.post("/api/v1/dev/state", data, content_type="application/gzip")):
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "devnet_off"
    for method, params in (("anvil_dumpState", []), ("anvil_loadState", ["0x" + data.hex()])):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        error = client.post("/rpc/eth", body, content_type="application/json").json()["error"]
        assert error["code"] == -32000 and "devnet mode" in error["message"]
    path = tmp_path / "chain.jsonl.gz"
    path.write_bytes(data)
    for args in (("dump", str(tmp_path / "out.gz")), ("load", str(path))):
        with pytest.raises(CommandError, match="devnet mode"):
            call_command("nvm", "state", *args)
        assert json.loads(capsys.readouterr().out)["error"]["code"] == "devnet_off"
    assert not (tmp_path / "out.gz").exists()
    off = client.post("/devnet", {"action": "load", "state": SimpleUploadedFile("chain.jsonl.gz", data)})
    assert off.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_anvil_load_state_takes_a_file_larger_than_an_ordinary_request(chain, client, settings):
    """What anvil_dumpState gives back as hex can outgrow the 2 MiB of an ordinary JSON-RPC request: in devnet mode
    /rpc/eth takes up to 256 MiB, so the file is read (here: refused as no state file), not the request."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "anvil_loadState", "params": ["0x" + "00" * (3 << 20)]})
    settings.NVM_DEVNET = False
    assert client.post("/rpc/eth", body, content_type="application/json").status_code == 413
    settings.NVM_DEVNET = True
    before = rows()
    error = client.post("/rpc/eth", body, content_type="application/json").json()["error"]
    assert error["code"] == -32000 and "not a gzip file" in error["message"], error
    assert rows() == before


# -- live: a chain with transactions in every VM moves to fresh devnets ----------------------------------
CONTRACT = "0x" + "c0" * 20
WATCHED = [  # the dev wallets of every VM, and whom one_of_each_vm pays
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x" + "11" * 20,
    CONTRACT,
    "oeYf6KAJkLYhBuR8CiGc6L4D4Xtfepr85fuDgA9kq96",
    "1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE",  # Pubkey(bytes(range(32)))
    "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6",
]


def answers(base: str) -> dict:
    """What every API says of the chain: the head, each watched address in every dialect, every block."""

    def eth(method, *params):
        return json.loads(post_json(f"{base}/rpc/eth", {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}))

    def solana(method, *params):
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        return json.loads(post_json(f"{base}/rpc/solana", body))

    status = call(base, "/api/v1/status")[1]
    out: dict = {"status": status, "blocks": call(base, "/api/v1/blocks?limit=100")[1]}
    out["identities"] = {a: call(base, f"/api/v1/identity/{a}")[1] for a in WATCHED}
    evm = [a for a in WATCHED if a.startswith("0x")]
    out["eth"] = {
        a: [eth(m, a, "latest") for m in ("eth_getBalance", "eth_getTransactionCount", "eth_getCode")]
        + [eth("eth_getStorageAt", a, "0x1", "latest")]
        for a in evm
    }
    out["eth_blocks"] = [
        (eth("eth_getBlockByNumber", hex(h), True), eth("eth_getBlockReceipts", hex(h))) for h in range(status["height"] + 1)
    ]
    sol = WATCHED[3:5]
    out["solana"] = {
        a: [
            solana("getBalance", a),
            solana("getAccountInfo", a, {"encoding": "base64"}),
            solana("getSignaturesForAddress", a),
        ]
        for a in sol
    }
    btc = WALLET.to_string()
    out["esplora"] = [call(base, f"/api/btc/address/{btc}{tail}")[1] for tail in ("", "/utxo", "/txs")]
    tron = WATCHED[5]
    out["tron"] = json.loads(post_json(f"{base}/api/tron/wallet/getaccount", {"address": tron, "visible": True}))
    return out


def settled(base: str) -> None:
    deadline = time.monotonic() + 30
    while call(base, "/api/v1/status")[1]["mempool_size"]:
        assert time.monotonic() < deadline, "the mempool did not empty"
        time.sleep(0.05)


def test_a_chain_with_every_vms_transactions_moves_to_fresh_devnets_with_the_same_answers(tmp_path):
    def web3(base):
        return Web3(Web3.HTTPProvider(f"{base}/rpc/eth", request_kwargs={"timeout": 120}))

    with scratch_database() as db_a, scratch_database() as db_b, scratch_database() as db_c:
        with running_devnet(tmp_path / "a", DATABASE_URL=db_a) as a:
            w3a = web3(a)
            one_of_each_vm(a, w3a)
            w3a.provider.make_request("anvil_setCode", [CONTRACT, "0x6000355f555f545f5260205ff3"])
            w3a.provider.make_request("anvil_setStorageAt", [CONTRACT, "0x1", "0x" + "00" * 31 + "05"])
            settled(a)
            before = answers(a)
            with urllib.request.urlopen(f"{a}/api/v1/dev/state", timeout=120) as r:
                data = r.read()
            assert before["eth"][CONTRACT][2]["result"] == "0x6000355f555f545f5260205ff3"

            # an empty database: `nvm state load` on it, then a devnet over it
            path = tmp_path / "chain.jsonl.gz"
            path.write_bytes(data)
            env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
            env.update(DATABASE_URL=db_c, NVM_HOME=str(tmp_path / "c"), NVM_DEVNET="1")
            manage = [sys.executable, "manage.py"]
            subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True, cwd=Path(__file__).parents[1])
            done = subprocess.run(
                [*manage, "nvm", "state", "load", str(path)], env=env, capture_output=True, cwd=Path(__file__).parents[1]
            )
            assert done.returncode == 0, done
            assert json.loads(done.stdout)["state_root"] == before["status"]["state_root"]
            with running_devnet(tmp_path / "c", DATABASE_URL=db_c) as c:
                assert answers(c) == before

            # a running devnet with a genesis of its own loads it through the API, and goes on from its head
            with running_devnet(tmp_path / "b", DATABASE_URL=db_b) as b:
                w3b = web3(b)
                req = urllib.request.Request(f"{b}/api/v1/dev/state", data=data, method="POST")
                req.add_header("Content-Type", "application/gzip")
                with urllib.request.urlopen(req, timeout=300) as r:
                    assert json.loads(r.read())["state_root"] == before["status"]["state_root"]
                assert answers(b) == before
                one_of_each_vm(b, w3b)  # new blocks on top: every VM's transactions, with recent blockhashes and TaPoS
                settled(b)
                moved = call(b, "/api/v1/status")[1]
                assert moved["height"] > before["status"]["height"]

                # anvil_dumpState on one devnet, anvil_loadState into another: the first catches up
                state = w3b.provider.make_request("anvil_dumpState", [])["result"]
                assert w3a.provider.make_request("anvil_loadState", [state])["result"] is True
                assert answers(a) == answers(b)
                w3a.provider.make_request("evm_mine", [])
                assert call(a, "/api/v1/status")[1]["height"] == moved["height"] + 1
