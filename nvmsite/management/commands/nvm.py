"""`python manage.py nvm …`: operate the node from the command line (JSON output)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chain import genesis as genesis_mod
from chain.errors import ChainError
from chain.store import sql


class Command(BaseCommand):
    help = "Operate the n-VM devnet node: genesis, node, devnet, status, bench."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        g = sub.add_parser("genesis", help="create block 0 from the genesis config if the chain has none")
        g.add_argument("--config", type=Path, default=None)

        n = sub.add_parser("node", help="run the block producer")
        n.add_argument("--interval-ms", type=int, default=None)
        n.add_argument("--on-demand", action="store_true", default=None)
        n.add_argument("--max-txs", type=int, default=None)
        n.add_argument("--blocks", type=int, default=None, help="stop after this many blocks")

        d = sub.add_parser("devnet", help="migrate, genesis, then serve every API with the producer running")
        d.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        d.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

        sub.add_parser("status", help="height, root, mempool size")

        b = sub.add_parser("bench", help="benchmarks; prints one JSON object per run")
        b.add_argument("scenario", choices=["state-root"])
        b.add_argument("--keys", type=int, default=1_000_000)
        b.add_argument("--updates", type=int, default=10_000)
        b.add_argument("--json", action="store_true", help="JSON only (the default output is JSON too)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "do_" + opts["action"].replace("-", "_"))(opts)
        except (ChainError, genesis_mod.GenesisError) as e:
            raise CommandError(str(e)) from None

    def emit(self, obj: object) -> None:
        self.stdout.write(json.dumps(obj, indent=None if not sys.stdout.isatty() else 2))

    # -- actions ---------------------------------------------------------------------------
    def do_genesis(self, opts: dict[str, Any]) -> None:
        self.emit(ensure_genesis(opts["config"]))

    def do_node(self, opts: dict[str, Any]) -> None:
        from nvmsite.node import run_producer

        interval = opts["interval_ms"] or settings.NVM_BLOCK_INTERVAL_MS
        on_demand = settings.NVM_ON_DEMAND if opts["on_demand"] is None else True
        max_txs = opts["max_txs"] or settings.NVM_MAX_BLOCK_TXS
        mode = "on-demand" if on_demand else f"every {interval} ms"
        self.stderr.write(f"block producer: {mode}, at most {max_txs} txs a block")
        run_producer(interval, on_demand, max_txs, max_blocks=opts["blocks"])

    def do_status(self, opts: dict[str, Any]) -> None:
        from rpc.native.views import status_payload

        self.emit(status_payload())

    def do_bench(self, opts: dict[str, Any]) -> None:
        from bench import state_root

        self.emit(state_root.run(opts["keys"], opts["updates"]))

    def do_devnet(self, opts: dict[str, Any]) -> None:
        import uvicorn

        call_command("migrate", verbosity=0, interactive=False)
        info = ensure_genesis(None)
        base = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(devnet_banner(info, base))
        producer = subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "nvm", "node"])
        try:
            uvicorn.run("nvmsite.asgi:application", host=opts["host"], port=opts["port"], log_level="warning")
        finally:
            producer.send_signal(signal.SIGTERM)
            try:
                producer.wait(10)
            except subprocess.TimeoutExpired:
                producer.kill()


def ensure_genesis(config: Path | None) -> dict[str, Any]:
    from nvmsite.node import open_chain

    gen = genesis_mod.load(config or settings.NVM_GENESIS)
    chain = open_chain()
    created = chain.head is None
    if created:
        chain.create_genesis(gen.populate, gen.timestamp_ms)
    head = sql.head()
    assert head is not None
    return {
        "created": created,
        "chain_id": chain.chain_id,
        "height": head.height,
        "genesis_root": "0x" + sql.genesis_root().hex(),
        "accounts": [
            {
                "label": a.label,
                "id_com": "0x" + a.id_com.hex(),
                **({a.legacy: "0x" + a.address.hex()} if a.legacy and a.address else {}),
                "balance": str(a.balance),
            }
            for a in gen.accounts
        ],
    }


def devnet_banner(info: dict[str, Any], base: str) -> str:
    lines = [
        "",
        f"n-VM devnet — chain id {info['chain_id']}, genesis root {info['genesis_root']}",
        "",
        "Prefunded accounts (devnet only; balances in base units, 9 decimals):",
    ]
    for a in info["accounts"]:
        where = a.get("evm") or a["id_com"]
        lines.append(f"  {a['label']:<28} {where}  {a['balance']}")
    lines += [
        "",
        "APIs:",
        f"  native JSON API  {base}/api/v1/status   (OpenAPI schema: {base}/api/v1/schema)",
        f"  blocks           {base}/api/v1/blocks",
        f"  state proofs     {base}/api/v1/state/proof?key=<hex>",
        "",
    ]
    return "\n".join(lines)
