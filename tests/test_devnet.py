"""`nvm devnet` (what `make devnet` runs) on the embedded default: migrates, makes genesis, serves
the API on the given port with the block producer running, so the height rises."""

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.devnet import free_port, start_devnet, stop_devnet

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_devnet_serves_status_with_a_rising_height(tmp_path):
    port = free_port()
    proc = start_devnet(tmp_path / "home", port, NVM_BLOCK_INTERVAL_MS="100")
    try:
        base = f"http://127.0.0.1:{port}/api/v1/status"
        first = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                s = get(base)
            except OSError:
                time.sleep(0.2)
                continue
            if first is None:
                first = s["height"]
            elif s["height"] > first + 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("height did not rise")
        assert (tmp_path / "home" / "nvm.sqlite3").exists()
        assert get(f"http://127.0.0.1:{port}/api/v1/blocks/0")["height"] == 0
    finally:
        text = stop_devnet(proc, tmp_path / "home")
    assert "Prefunded accounts" in text and f"http://127.0.0.1:{port}/api/v1/status" in text
    assert "REV     1111111111111111111111111111111111111111111111111111111111111111" in text
    assert "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" in text


def test_a_web_worker_that_dies_is_started_again(tmp_path):
    """`nvm devnet` serves with WEB_WORKERS daphne processes on one socket; one killed is replaced."""
    import os
    import signal

    port = free_port()
    proc = start_devnet(tmp_path / "home", port, WEB_WORKERS="2")
    base = f"http://127.0.0.1:{port}/api/v1/status"

    def workers() -> set[int]:
        out = subprocess.run(["pgrep", "-f", "-s", str(proc.pid), "daphne --fd"], capture_output=True, text=True)
        return {int(p) for p in out.stdout.split()}

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(workers()) < 2 or not _answers(base)):
            time.sleep(0.2)
        first = workers()
        assert len(first) == 2, (first, (tmp_path / "home" / "devnet.log").read_text()[-1500:])
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(workers()) < 2 or victim in workers()):
            time.sleep(0.2)
        now = workers()
        assert len(now) == 2 and victim not in now, now
        assert all(_answers(base) for _ in range(5))
    finally:
        text = stop_devnet(proc, tmp_path / "home")
    assert "starting another" in text


def _answers(url: str) -> bool:
    try:
        get(url)
        return True
    except OSError:
        return False
