"""ethers 6 and viem 2 — the libraries dapps and MetaMask-era tooling are written with — against a live devnet
(on-demand blocks): transfers and receipts over HTTP, the refusals they tell apart by geth's words (a reused
nonce, no funds), and `pending` / `block` events over the websocket. tests/js/clients.mjs drives them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support.devnet import devnet_fixture

JS = Path(__file__).resolve().parent / "js"
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # the genesis's funded anvil #0

base = devnet_fixture()


def test_ethers_and_viem_transfer_classify_refusals_and_follow_the_websocket(base):
    node = shutil.which("node")
    assert node is not None and (JS / "node_modules" / "ethers").is_dir(), "ethers and viem are missing: run `make test`"
    run = subprocess.run([node, str(JS / "clients.mjs"), base, DEV_KEY], capture_output=True, text=True, timeout=180)
    out = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {"error": run.stderr[-2000:]}
    assert run.returncode == 0 and "failed" not in out, out
    assert out["chain_id"] == 7231053
    transfer = out["ethers_transfer"]
    assert transfer["status"] == 1 and transfer["hash_matches"] and transfer["bob_wei"] == str(5 * 10**17)
    assert transfer["nonce_after"] == transfer["sent_nonce"] + 1
    assert out["ethers_refusals"] == {"reused_nonce": "NONCE_EXPIRED", "no_funds": "INSUFFICIENT_FUNDS"}
    assert out["ethers_websocket"]["pending_hash_matches"] and out["ethers_websocket"]["block_number"] > 0
    assert out["viem_transfer"]["status"] == "success" and out["viem_transfer"]["gas_used"] == 21_000
    assert out["viem_refusals"] == {"reused_nonce": "NonceTooLowError", "too_much": "InsufficientFundsError"}
    assert out["viem_websocket"]["pending"] and out["viem_websocket"]["block"] > out["viem_transfer"]["block"]
