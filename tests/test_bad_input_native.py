"""Malformed input to the native JSON API (/api/v1), the faucet and the explorer's pages is answered in each one's
dialect — a JSON error object with a 4xx from the API and the faucet's JSON, an HTML page with a 4xx from the
explorer — never an internal error, and nothing is written. Each case was found by fuzzing a live devnet
(schemathesis on /api/v1/schema, and hand-made URLs and forms)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from chain.identity import id_com
from chain.store import models as m
from engines.dev.engine import set_balance as balance_edit
from nvmsite import devctl
from rpc.native import views
from tests.test_api import chain, err  # noqa: F401  (the fixture: a node over the test database with the kv engine)
from tests.test_explorer import REV, node  # noqa: F401  (the fixture: a node with the native and EVM engines)

pytestmark = pytest.mark.django_db(transaction=True)
ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no
NESTED_RLP = "cf" * 131_000  # every byte opens another RLP list: deeper than any recursion limit


@pytest.fixture
def devnet_mode(settings):
    settings.NVM_DEVNET = True
    views._registry.cache_clear()  # the registry with the devnet engine (state edits, 0xF0)
    yield
    views._registry.cache_clear()


def controls_unchanged():
    return devctl.controls() == {**devctl.DEFAULTS}


# -- the native API ------------------------------------------------------------------------------
@pytest.mark.usefixtures("chain")
def test_a_block_ref_of_unicode_digits_is_a_bad_hash_not_an_internal_error(client):
    body = err(client.get(f"/api/v1/blocks/{SUPERSCRIPT_TWO}"), 400, "bad_hex")
    assert "block hash" in body["error"]["message"]
    err(client.get("/api/v1/blocks/1\u0663"), 400, "bad_hex")  # an Arabic-Indic digit


@pytest.mark.usefixtures("chain")
def test_simulate_refuses_rlp_nested_beyond_the_recursion_limit(client):
    body = err(client.post("/api/v1/simulate", {"raw": NESTED_RLP}, content_type="application/json"), 400, "unrecognised")
    assert any("as ethereum: nested thousands of levels deep" in t for t in body["error"]["tried"]), body


@pytest.mark.usefixtures("chain")
def test_long_text_is_not_read_as_base58(client):
    """Base58 decoding takes time quadratic in the text's length (half a minute of CPU for 256 KiB of "z"): text
    longer than any Solana transaction's base58 is not read as base58 at all."""
    from rpc.rawtx import MAX_BASE58, _readings

    assert [name for name, _ in _readings("z" * MAX_BASE58)] == ["base58", "base64"]
    assert [name for name, _ in _readings("z" * 260_000)] == ["base64"]
    body = err(client.post("/api/v1/simulate", {"raw": "z" * 260_000}, content_type="application/json"), 400, "unrecognised")
    assert "base58" not in body["error"]["message"]


@pytest.mark.usefixtures("chain")
def test_simulating_a_devnet_edit_answers_its_schema(client, devnet_mode):
    """A devnet state edit belongs to no VM: its `vm` is null, as /api/v1/tx says, not "unknown" (outside the enum)."""
    doc = client.get("/api/v1/schema").json()
    edit = balance_edit("id_com", bytes.fromhex("11" * 32), 5)
    r = client.post("/api/v1/simulate", {"raw": edit.hex()}, content_type="application/json")
    assert r.status_code == 200, r.content
    Draft202012Validator({"$ref": "#/components/schemas/Simulation", "components": doc["components"]}).validate(r.json())
    assert r.json()["recognised"]["vm"] is None
    assert m.MempoolEntry.objects.count() == 0


@pytest.mark.usefixtures("chain")
def test_dev_time_refuses_two_clock_moves_at_once(client, devnet_mode):
    """Both keys: one of them was silently dropped."""
    r = client.post("/api/v1/dev/time", {"increase_s": 0, "next_timestamp": {}}, content_type="application/json")
    err(r, 400, "bad_request")
    assert controls_unchanged()


@pytest.mark.usefixtures("chain")
def test_dev_impersonate_refuses_auto_with_an_address(client, devnet_mode):
    """`auto` won and the address (and a `stop` of any type) was silently dropped."""
    r = client.post("/api/v1/dev/impersonate", {"address": ALICE, "stop": {}, "auto": False}, content_type="application/json")
    err(r, 400, "bad_request")
    assert controls_unchanged()


@pytest.mark.usefixtures("chain")
@pytest.mark.parametrize(
    ("address", "amount", "unit"),
    [
        (ALICE, str(2**128), "vm"),  # wei
        ("0x" + "11" * 32, str(2**128), "vm"),  # an id_com's unit is the base unit
        ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", str(2**130), "base"),  # sats: 10 base units each
    ],
)
def test_dev_balance_refuses_a_balance_the_ledger_cannot_hold(client, devnet_mode, monkeypatch, address, amount, unit):
    """An amount that does not even encode (the edit carries a u128 in the VM's unit) was an internal error."""
    monkeypatch.setattr(devctl, "mine", lambda blocks: 0)  # no producer here: an admitted edit would stay in the mempool
    r = client.post("/api/v1/dev/balance", {"address": address, "amount": amount, "unit": unit}, content_type="application/json")
    assert "at most" in err(r, 400, "bad_amount")["error"]["message"]
    assert m.MempoolEntry.objects.count() == 0


@pytest.mark.usefixtures("chain")
@pytest.mark.parametrize("amount", ["1_000", "\u0661\u0662"])
def test_dev_balance_takes_only_a_whole_number_in_ascii_digits(client, devnet_mode, amount):
    """Python's int() reads these (a digit separator, Arabic-Indic digits): they set a balance of 1,000 and 12."""
    r = client.post("/api/v1/dev/balance", {"address": ALICE, "amount": amount}, content_type="application/json")
    err(r, 400, "bad_amount")
    assert m.MempoolEntry.objects.count() == 0


# -- the faucet's JSON ---------------------------------------------------------------------------
@pytest.mark.usefixtures("node")
def test_faucet_api_counts_the_nesting_before_decoding(client):
    """The faucet decoded any body: 100,000 `[` overflowed the C stack and killed the web process (deep enough for
    the interpreter's limit, a RecursionError and an internal error)."""
    body = '{"address": ' + "[" * 5_000 + "]" * 5_000 + "}"
    r = client.post("/api/v1/faucet", body, content_type="application/json")
    assert "deeper than" in err(r, 400, "bad_json")["error"]["message"]
    assert m.MempoolEntry.objects.count() == 0


@pytest.mark.usefixtures("node")
def test_faucet_api_answers_an_oversized_body_in_json(client, settings):
    """It answered Django's HTML "Bad Request (400)" page, with a stack trace in the log."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    r = client.post("/api/v1/faucet", {"address": ALICE, "pad": "x" * 2_000}, content_type="application/json")
    assert r["Content-Type"] == "application/json"
    err(r, 413, "too_large")
    assert m.MempoolEntry.objects.count() == 0


# -- the explorer's pages --------------------------------------------------------------------------
def html_error(response, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.mark.usefixtures("node")
@pytest.mark.parametrize("path", [f"/block/{SUPERSCRIPT_TWO}", f"/block/1{SUPERSCRIPT_TWO}", f"/search?q={SUPERSCRIPT_TWO}"])
def test_unicode_digits_find_nothing_instead_of_failing(client, path):
    html_error(client.get(path), 404)


@pytest.mark.usefixtures("node")
def test_submit_page_refuses_rlp_nested_beyond_the_recursion_limit(client):
    page = html_error(client.post("/submit", {"raw": NESTED_RLP, "action": "preview"}), 400)
    assert "nested thousands of levels deep" in page
    assert m.MempoolEntry.objects.count() == 0


def test_a_block_after_year_9999_still_has_a_page(client, node):  # noqa: F811  (test_explorer's fixture)
    """A devnet clock moved far ahead (evm_increaseTime ten years at a time, or a next timestamp up to the header's
    limit) makes blocks no calendar date can show: every page listing them was an internal error."""
    node.produce(10, timestamp_ms=300_000_000_000_000)
    for path in ("/block/1", "/blocks", "/"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "300,000,000,000,000 ms after 1970-01-01 UTC" in r.content.decode(), path


@pytest.mark.usefixtures("node")
@pytest.mark.parametrize(
    ("address", "amount", "unit"), [(ALICE, str(2**128), "vm"), ("0x" + id_com(REV).hex(), str(2**128), "base")]
)
def test_devnet_panel_refuses_a_balance_the_ledger_cannot_hold(client, devnet_mode, monkeypatch, address, amount, unit):
    monkeypatch.setattr(devctl, "mine", lambda blocks: 0)
    page = html_error(client.post("/devnet", {"action": "balance", "address": address, "amount": amount, "unit": unit}), 400)
    assert 'data-testid="devnet-error"' in page and "at most" in page
    assert m.MempoolEntry.objects.count() == 0


@pytest.mark.usefixtures("chain")
def test_an_internal_error_on_the_explorer_is_a_page(monkeypatch):
    """The explorer's pages once answered an internal error with the API's JSON (the APIs answer theirs in JSON)."""
    from django.test import Client

    from explorer import views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "render", broken)
    client = Client(raise_request_exception=False)
    page = client.get("/blocks")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
    assert "Something went wrong" in page.content.decode() and "a bug" not in page.content.decode()
