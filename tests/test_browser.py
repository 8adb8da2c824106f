"""The explorer in a real browser: Debian's Chromium, headless, driven by Playwright, against `nvm devnet`
(daphne, the block producer, PostgreSQL in a database of its own, Redis for the cache and the channel
layer). Screenshots of the main pages land in artifacts/browser/."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tests.support.devnet import free_port, scratch_database, start_devnet, stop_devnet, wait_ready

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # genesis: a funded EVM account
REDIS_DB = "redis://127.0.0.1:6379/3"
WAIT_MS = 30_000


def rpc(base: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(f"{base}/rpc/eth", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        reply = json.loads(r.read())
    assert "error" not in reply, reply
    return reply["result"]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import redis

    home = tmp_path_factory.mktemp("browser-devnet")
    port = free_port()
    redis.Redis.from_url(REDIS_DB).flushdb()
    with scratch_database() as database:
        proc = start_devnet(home, port, DATABASE_URL=database, REDIS_URL=REDIS_DB, NVM_BLOCK_INTERVAL_MS="700")
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_ready(proc, home, base)
            except RuntimeError as e:
                pytest.fail(str(e))
            yield base
        finally:
            stop_devnet(proc, home)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def mark_page(page: Any) -> None:
    """A value that survives only as long as the document does: gone after any reload or navigation."""
    page.evaluate("window.__stay = 42")


def still_same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__stay === 42"))


def test_home_shows_a_new_block_without_reload(devnet: str, page: Any) -> None:
    page.goto(devnet + "/")
    height = page.get_by_test_id("height")
    first = int(height.inner_text())
    mark_page(page)
    page.wait_for_function(
        "first => Number(document.querySelector('[data-testid=height]').textContent) > first", arg=first, timeout=WAIT_MS
    )
    assert still_same_document(page)
    assert page.locator("table.list tbody tr").count() >= 1
    trace = page.locator("#live-trace .trace-block").first  # the block event, drawn from /ws/live
    trace.wait_for()
    assert re.match(r"Block \d+ · \d+ transactions? · sequential", trace.locator("h3").inner_text())
    shot(page, "home")


def balances(page: Any) -> dict[str, str]:
    row = page.locator("table.balances tbody tr").first
    return {unit: row.locator(f"td[data-unit={unit}]").inner_text().strip() for unit in ("native", "evm", "svm", "btc", "tron")}


def test_faucet_changes_an_identity_page_live_in_every_unit(devnet: str, browser: Any, page: Any) -> None:
    address = Account.create().address
    page.goto(f"{devnet}/identity/{address}")
    before = balances(page)
    mark_page(page)
    other = browser.new_page()
    other.goto(devnet + "/faucet/")
    other.fill("#address", address)
    other.click("form.panel button[type=submit]")
    notice = other.locator(".notice")
    notice.wait_for()
    assert "Sent" in notice.inner_text(), notice.inner_text()
    other.close()
    page.wait_for_function(
        "before => document.querySelector('table.balances td[data-unit=evm]').innerText.trim() !== before",
        arg=before["evm"],
        timeout=WAIT_MS,
    )
    assert still_same_document(page)
    after = balances(page)
    assert all(after[u] != before[u] for u in ("native", "evm", "svm", "btc", "tron")), (before, after)
    faucet_nvm = 10  # NVM_FAUCET_AMOUNT's default, 10 NVM = 10^10 base units
    expected = {
        "native": (f"{faucet_nvm} NVM", f"{faucet_nvm * 10**9:,} base unit"),
        "evm": (f"{faucet_nvm} ETH", f"{faucet_nvm * 10**18:,} wei"),
        "svm": (f"{faucet_nvm} SOL", f"{faucet_nvm * 10**9:,} lamport"),
        "btc": (f"{faucet_nvm} BTC", f"{faucet_nvm * 10**8:,} sat"),
        "tron": (f"{faucet_nvm} TRX", f"{faucet_nvm * 10**6:,} sun"),
    }
    for unit, (whole, smallest) in expected.items():
        assert whole in after[unit] and smallest in after[unit], (unit, after[unit])
    shot(page, "identity")


def faucet(base: str, address: str) -> str:
    body = json.dumps({"address": address}).encode()
    request = urllib.request.Request(f"{base}/api/v1/faucet", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return str(json.loads(r.read())["tx"])


def wait_included(base: str, tx: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/v1/tx/{tx}", timeout=5) as r:
            if json.loads(r.read())["status"] == "committed":
                return
        time.sleep(0.2)
    pytest.fail(f"{tx} was not included")


def test_search_by_solana_address_lands_on_the_same_identity_as_the_evm_address(devnet: str, page: Any) -> None:
    address = Account.create().address
    wait_included(devnet, faucet(devnet, address))  # its first receipt binds its addresses in every VM
    page.goto(f"{devnet}/identity/{address}")
    id_com = page.locator("dl.fields dd .copy").first.get_attribute("title")
    solana = page.get_by_test_id("address-svm").inner_text().strip()
    assert re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{32,44}", solana)
    page.goto(devnet + "/")
    page.fill("#q", solana)
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/identity/0x[0-9a-f]{64}$"))
    assert page.url.endswith(f"/identity/{id_com}")
    assert page.locator("dl.fields dd .copy").first.get_attribute("title") == id_com
    assert page.get_by_test_id("address-evm").inner_text().strip() == address


def test_submit_a_metamask_style_transaction_and_follow_it_to_included(devnet: str, page: Any) -> None:
    dev = Account.from_key(DEV_KEY)
    chain_id = int(rpc(devnet, "eth_chainId"), 16)
    nonce = int(rpc(devnet, "eth_getTransactionCount", dev.address, "pending"), 16)
    fee = int(rpc(devnet, "eth_gasPrice"), 16)
    to = Account.create().address
    raw = dev.sign_transaction(
        {
            "chainId": chain_id,
            "nonce": nonce,
            "to": to,
            "value": 12 * 10**17,
            "gas": 21_000,
            "maxFeePerGas": 2 * fee,
            "maxPriorityFeePerGas": 0,
        }
    ).raw_transaction
    page.goto(devnet + "/submit")
    page.fill("#raw", "0x" + bytes(raw).hex())
    page.click("button[value=preview]")
    preview = page.get_by_test_id("preview")
    assert "EIP-1559 transaction" in preview.inner_text()
    dry = page.get_by_test_id("dry-run")
    assert "success" in dry.inner_text(), dry.inner_text()
    assert "+1.2 NVM" in page.locator("table.list").first.inner_text()
    assert gap_above(page, "h3:has-text('Balance changes')") >= 8  # not flush under the dry-run panel
    shot(page, "submit-preview")
    page.click("button[value=submit]")
    status = page.get_by_test_id("tx-status")
    status.wait_for()
    mark_page(page)
    page.wait_for_function("() => document.querySelector('[data-testid=tx-status]').textContent === 'included'", timeout=WAIT_MS)
    assert still_same_document(page)
    assert "success" in page.locator("#tx-status").inner_text()
    page.click("#tx-status a:has-text('Details')")
    page.wait_for_url(re.compile(r"/tx/0x[0-9a-f]{64}$"))
    assert "EIP-1559 transaction" in page.locator("h1").inner_text()
    shot(page, "transaction")
    page.click("dl.fields a[href^='/block/']")
    page.wait_for_url(re.compile(r"/block/\d+$"))
    height = page.url.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text() == f"Block {height}" and "State root" in page.content()
    assert page.get_by_test_id("schedule").inner_text().startswith("sequential")
    shot(page, "block")


def gap_above(page: Any, selector: str) -> float:
    """Pixels between the element and the one before it."""
    return float(
        page.locator(selector).first.evaluate(
            "e => e.getBoundingClientRect().top - e.previousElementSibling.getBoundingClientRect().bottom"
        )
    )


def test_garbage_submission_shows_its_error(devnet: str, page: Any) -> None:
    page.goto(devnet + "/submit")
    garbage = "0x" + "deadbeefcafe" * 6  # long enough to be read as every chain's transaction, and none
    page.fill("#raw", garbage)
    page.click("button[value=submit]")
    error = page.get_by_test_id("submit-error")
    assert "not an Ethereum, Solana, Bitcoin or Tron transaction" in error.inner_text()
    assert page.locator("#raw").input_value() == garbage  # kept for correcting
    assert gap_above(page, "form.panel") >= 8  # the error box does not touch the form
    shot(page, "submit-error")


def test_web_bench_loads_the_devnet_with_wrk(devnet: str) -> None:
    """`nvm bench web`'s measuring step, briefly, on this devnet (its speed is the bench's business)."""
    from bench import web

    r = web.measure(devnet, clients=4, duration_s=1)
    for kind in ("identity_page", "rpc_eth"):
        fig = r[kind]
        assert fig["requests"] > 0 and fig["non_2xx"] == 0 and fig["socket_errors"] == 0, fig
        assert 0 < fig["p50_ms"] <= fig["p75_ms"] <= fig["p90_ms"] <= fig["p99_ms"]
        assert isinstance(fig["met"], bool)
    assert r["identity_page"]["request"].startswith("GET /identity/0x")


@pytest.mark.parametrize("width", [390, 1366])
def test_no_page_scrolls_sideways_and_tables_stay_in_their_columns(devnet: str, browser: Any, width: int) -> None:
    address = Account.create().address
    tx = faucet(devnet, address)
    wait_included(devnet, tx)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        for path in ("/", f"/tx/{tx}", f"/identity/{address}"):
            page.goto(devnet + path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, path)
            outside = page.evaluate(
                "() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth"
                " && !e.closest('.table-wrap')).map(e => e.tagName + '.' + e.className)"
            )
            assert outside == [], (width, path, outside)  # no value or copy button cut off, wide tables scroll in a box
            shot(page, f"overflow-{width}-{path.split('/')[1] or 'home'}")
        page.goto(devnet + "/")
        columns = page.evaluate(
            "() => [...document.querySelectorAll('.cols section')].map(s => [s.querySelector('.table-wrap, table')"
            ".getBoundingClientRect().right - s.getBoundingClientRect().right, s.querySelector('table').offsetWidth"
            " - s.clientWidth])"
        )
        for table_past_column, table_wider_than_column in columns:
            assert table_past_column <= 0.5, columns
            if width >= 1280:
                assert table_wider_than_column <= 0, columns  # on a laptop the tables fit whole
    finally:
        context.close()


def test_the_devnet_unit_choice_is_not_cut_off(devnet: str, browser: Any) -> None:
    for width in (390, 1366):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(devnet + "/devnet")
        room = page.locator("#unit").evaluate(
            """s => { const c = document.createElement("canvas").getContext("2d"), st = getComputedStyle(s);
            c.font = st.font; const widest = Math.max(...[...s.options].map(o => c.measureText(o.text).width));
            return s.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight) - 16 - widest; }"""
        )  # 16 px: the drop-down arrow
        context.close()
        assert room >= 0, (width, room)


def test_pages_load_without_a_failed_request(devnet: str, page: Any) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(devnet + "/")
    page.wait_for_load_state("networkidle")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and page.request.get(devnet + icon).status == 200
    assert failed == []
