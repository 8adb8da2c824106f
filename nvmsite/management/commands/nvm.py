"""`python manage.py nvm …`: operate the node from the command line (JSON output)."""

from __future__ import annotations

import argparse
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
from chain.address import AddressError
from chain.errors import ChainError
from chain.hashing import U64_MAX
from chain.store import sql
from engines.native import tx
from nvmsite import cli


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
        d.add_argument("--workers", type=int, default=None, help="web processes (default: WEB_WORKERS, else one per core)")

        sub.add_parser("status", help="height, root, mempool size")

        st = sub.add_parser("evm-statetest", help="run Ethereum GeneralStateTests fixtures (Shanghai) through our EVM engine")
        st.add_argument("fixtures", nargs="+", type=Path, help="fixture files or folders of them")

        btc = sub.add_parser("btc", help="the BVM's Bitcoin Script interpreter").add_subparsers(dest="btc_action", required=True)
        tv = btc.add_parser(
            "testvectors",
            help="run Bitcoin Core's test vectors: script_tests.json, tx_valid.json, tx_invalid.json, bip341_wallet_vectors.json",
        )
        tv.add_argument("files", nargs="+", type=Path)
        tv.add_argument(
            "--expect-invalid",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="transaction rows are tx_invalid's (they must fail); default: when the file's name contains 'invalid'",
        )

        dev = sub.add_parser("dev", help="devnet controls (devnet mode only)").add_subparsers(dest="dev_action", required=True)
        mine = dev.add_parser("mine", help="make blocks now, empty or not")
        mine.add_argument("blocks", type=int, nargs="?", default=1)
        clock = dev.add_parser("time", help="move the clock: --increase SECONDS or --next UNIX_SECONDS")
        which = clock.add_mutually_exclusive_group(required=True)
        which.add_argument("--increase", type=int)
        which.add_argument("--next", type=int)
        mining = dev.add_parser("mining", help="interval or on-demand block production")
        mining.add_argument("mode", choices=["interval", "on-demand"])
        mining.add_argument("--interval-ms", type=int)
        dev.add_parser("show", help="the controls in force")
        dev.add_parser("snapshot", help="a snapshot of the whole chain: its id")
        bal = dev.add_parser("balance", help="set the balance of any address of any VM")
        bal.add_argument("address")
        bal.add_argument("amount", type=int, help="in the address's VM unit (wei, lamports, sats, sun), or base units")
        bal.add_argument("--base-units", action="store_true")
        rev = dev.add_parser("revert", help="everything back to a snapshot")
        rev.add_argument("id", type=int)
        dev.add_parser("reset", help="back to genesis")
        imp = dev.add_parser("impersonate", help="take unsigned transactions from an EVM or Tron address (or stop)")
        imp.add_argument("address", nargs="?", help="0x… or T…; none: show who is impersonated")
        imp.add_argument("--stop", action="store_true")
        imp.add_argument("--auto", choices=["on", "off"], help="every address, or only those listed")

        state = sub.add_parser("state", help="the whole chain as a file (devnet mode only)")
        files = state.add_subparsers(dest="state_action", required=True)
        dump = files.add_parser("dump", help="write every VM's state and the blocks to FILE (gzip-compressed JSON lines)")
        dump.add_argument("file", type=Path)
        dump.add_argument("--recent", type=int, help="the last N blocks (at least 256) instead of every block")
        load = files.add_parser("load", help="replace the whole chain with FILE's (docs/PROTOCOL.md §16.1)")
        load.add_argument("file", type=Path)

        ident = sub.add_parser("identity", help="ACE identities").add_subparsers(dest="identity_action", required=True)
        new = ident.add_parser("new", help="a new identity (random REV, or --rev for a deterministic one)")
        new.add_argument("--rev", help="32-byte REV in hex")
        show = ident.add_parser("show", help="an identity by id_com or any VM's address")
        show.add_argument("address")
        ms = ident.add_parser("multisig", help="the multisig identity of a threshold of members (SPEC §4)")
        ms.add_argument("--threshold", type=int, required=True)
        ms.add_argument("--member", action="append", required=True, help="a member's id_com or any address (repeat)")

        def signed(p: CommandParser, mint: bool = True) -> None:
            p.add_argument(
                "--rev", required=True, action="append", help="the signer's REV (hex); repeat for a multisig's members"
            )
            p.add_argument("--member", action="append", help="sign for the multisig of these members (repeat; any address)")
            p.add_argument("--threshold", type=int, help="the multisig's threshold")
            if mint:
                p.add_argument("--mint", default="NVM", help="mint id (hex) or NVM (default)")
            p.add_argument("--scheme", choices=["ed25519", "secp256k1", "attestation"], default="ed25519")
            p.add_argument("--context", help="16-byte context tag (hex)")
            p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the block (0: do not wait)")

        def amount(p: CommandParser) -> None:
            g = p.add_mutually_exclusive_group(required=True)
            g.add_argument("--amount", help="in the mint's units, e.g. 1.5 (NVM has 9 decimals)")
            g.add_argument("--base-units", type=int, help="in base units")

        tr = sub.add_parser("transfer", help="send tokens to an id_com or any VM's address")
        signed(tr)
        tr.add_argument("--to", required=True)
        amount(tr)

        tf = sub.add_parser("transfer-from", help="spend an allowance: move the owner's tokens")
        signed(tf)
        tf.add_argument("--owner", required=True)
        tf.add_argument("--to", required=True)
        amount(tf)

        ap = sub.add_parser("approve", help="let a spender move up to an amount of your tokens")
        signed(ap)
        ap.add_argument("--spender", required=True)
        amount(ap)

        mints = sub.add_parser("mint", help="user-created mints").add_subparsers(dest="mint_action", required=True)
        mc = mints.add_parser("create", help="a new mint with you as its authority")
        signed(mc, mint=False)
        mc.add_argument("--symbol", required=True)
        mc.add_argument("--name", default="")
        mc.add_argument("--decimals", type=int, default=9)
        mt = mints.add_parser("to", help="mint new tokens to an account (authority only)")
        signed(mt)
        mt.add_argument("--to", required=True)
        amount(mt)
        mb = mints.add_parser("burn", help="destroy some of your tokens")
        signed(mb)
        amount(mb)

        b = sub.add_parser("bench", help="benchmarks; prints one JSON object per run")
        scenarios = ["state-root", "native-transfer", "erc20", "web", "parallel", "parallel-processes", "bvm-verify", "cross-vm"]
        b.add_argument("scenario", choices=scenarios)
        b.add_argument("--keys", type=int, default=1_000_000, help="state-root: keys in the state")
        b.add_argument("--updates", type=int, default=10_000, help="state-root: keys changed by the block")
        b.add_argument("--txs", type=int, default=None, help="transactions (native-transfer: 20,000; erc20: 500)")
        b.add_argument("--senders", type=int, default=1_000, help="native-transfer: distinct signing accounts")
        b.add_argument("--block-txs", type=int, default=20_000, help="native-transfer: transactions per block")
        b.add_argument("--credential", choices=["ed25519", "secp256k1", "attestation"], default="ed25519")
        b.add_argument(
            "--processes",
            type=int,
            choices=[1, 2],
            default=1,
            help="native-transfer on SQL: 2 = admission in a process of its own, as the web server does it",
        )
        b.add_argument(
            "--repeat", type=int, default=3, help="erc20: rounds, each figure the median; parallel-processes: rounds, the best"
        )
        b.add_argument("--clients", type=int, default=50, help="web: concurrent connections")
        b.add_argument("--duration", type=int, default=10, help="web: seconds per request kind")
        b.add_argument("--url", help="web: load this running node instead of starting a devnet")
        b.add_argument("--workers", type=int, default=None, help="web: the devnet's web processes (default: one per core)")
        b.add_argument("--in-memory", action="store_true", help="native-transfer, cross-vm: no database")
        b.add_argument("--json", action="store_true", help="JSON only (the default output is JSON too)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "do_" + opts["action"].replace("-", "_"))(opts)
        except ChainError as e:
            self.emit({"error": {"code": e.code, "message": e.message}})
            raise CommandError(e.message) from None
        except (AddressError, genesis_mod.GenesisError) as e:
            self.emit({"error": {"code": "bad_input", "message": str(e)}})
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

    def do_evm_statetest(self, opts: dict[str, Any]) -> None:
        from engines.evm.conformance import shared_state_executor
        from engines.evm.statetest import print_report, run_files

        paths: list[Path] = []
        for p in opts["fixtures"]:
            paths += sorted(p.glob("**/*.json")) if p.is_dir() else [p]
        failed = print_report(run_files(paths, shared_state_executor), sys.stdout)
        if failed:
            raise CommandError(f"{failed} state test case(s) failed")

    def do_btc(self, opts: dict[str, Any]) -> None:
        from engines.bvm.vectors import print_report, run_file

        results = []
        for path in opts["files"]:
            try:
                found = run_file(path, opts["expect_invalid"])
            except (OSError, ValueError) as e:
                raise CommandError(f"{path}: {e}") from None
            bad = sum(not r.passed for r in found)
            self.stdout.write(f"{path.name}: {len(found) - bad} passed, {bad} failed")
            results += found
        failed = print_report(results, self.stdout)
        if failed:
            raise CommandError(f"{failed} test vector case(s) failed")

    def do_dev(self, opts: dict[str, Any]) -> None:
        from nvmsite import devctl

        action = opts["dev_action"]
        if action == "mine":
            self.emit({"height": devctl.mine(opts["blocks"])})
        elif action == "time" and opts["increase"] is not None:
            self.emit({"offset_s": devctl.increase_time(opts["increase"])})
        elif action == "time":
            devctl.set_next_timestamp(opts["next"])
            self.emit({"next_timestamp": opts["next"]})
        elif action == "mining":
            self.emit(devctl.set_mining(opts["mode"].replace("-", "_"), opts["interval_ms"]))
        elif action == "balance":
            self.emit({"height": devctl.set_balance(opts["address"], opts["amount"], opts["base_units"])})
        elif action == "snapshot":
            self.emit({"id": devctl.snapshot()})
        elif action == "revert":
            self.emit({"reverted": devctl.revert(opts["id"])})
        elif action == "reset":
            devctl.reset()
            self.emit({"height": 0})
        elif action == "impersonate":
            from nvmsite import impersonation

            devctl.require_devnet()
            if opts["auto"]:
                self.emit(impersonation.auto_impersonate(opts["auto"] == "on"))
            elif opts["address"]:
                self.emit(impersonation.impersonate(opts["address"], not opts["stop"]))
            else:
                self.emit(impersonation.state())
        else:
            devctl.require_devnet()
            self.emit(devctl.controls())

    def do_state(self, opts: dict[str, Any]) -> None:
        from nvmsite import devctl

        path: Path = opts["file"]
        if opts["state_action"] == "load":
            self.emit({"file": str(path), **devctl.load_state_offline(path)})
            return
        devctl.require_devnet()
        part = path.with_name(path.name + ".part")  # FILE appears whole or not at all
        try:
            with part.open("wb") as f:
                info = devctl.dump_state(f, opts["recent"])
            part.replace(path)
        except OSError as e:
            raise ChainError(f"cannot write {path}: {e.strerror or e}", "io_error") from None
        finally:
            part.unlink(missing_ok=True)
        self.emit({"file": str(path), "bytes": path.stat().st_size, **info})

    def do_identity(self, opts: dict[str, Any]) -> None:
        if opts["identity_action"] == "new":
            self.emit(cli.identity_new(opts["rev"], settings.NVM_CHAIN_ID))
        elif opts["identity_action"] == "multisig":
            self.emit(cli.multisig(opts["threshold"], opts["member"]))
        else:
            from rpc.native.identity import identity_payload

            self.emit(identity_payload(opts["address"]))

    def _send(self, opts: dict[str, Any], opcode: int, **payload: Any) -> None:
        from nvmsite.node import registry

        members = None
        if opts.get("member"):
            from rpc.native.identity import resolve_text

            members = [resolve_text(text)[0] for text in opts["member"]]
        wallet = cli.Wallet([cli.parse_rev(r) for r in opts["rev"]], registry(), opts.get("threshold"), members)
        scheme = {"ed25519": tx.ED25519, "secp256k1": tx.SECP256K1, "attestation": tx.ATTESTATION}[opts["scheme"]]
        context = None
        if opts.get("context"):
            context = bytes.fromhex(opts["context"].removeprefix("0x"))
            if len(context) != 16:
                raise cli.CliError("--context is 16 bytes of hex")
        result = wallet.send(opcode, opts["wait"], scheme=scheme, context=context, **payload)
        result["signer"] = "0x" + wallet.id_com.hex()
        self.emit(result)

    def _amount(self, opts: dict[str, Any], decimals: int) -> int:
        if opts.get("base_units") is not None:
            if not 0 <= opts["base_units"] <= U64_MAX:
                raise cli.CliError("--base-units must fit in a u64")
            return int(opts["base_units"])
        return cli.parse_amount(opts["amount"], decimals)

    def do_transfer(self, opts: dict[str, Any]) -> None:
        mint, rec = cli.mint_of(opts["mint"])
        self._send(opts, tx.TRANSFER, mint=mint, to=cli.ref_of(opts["to"]), amount=self._amount(opts, rec.decimals))

    def do_transfer_from(self, opts: dict[str, Any]) -> None:
        mint, rec = cli.mint_of(opts["mint"])
        owner, to = cli.ref_of(opts["owner"]), cli.ref_of(opts["to"])
        self._send(opts, tx.TRANSFER_FROM, mint=mint, owner=owner, to=to, amount=self._amount(opts, rec.decimals))

    def do_approve(self, opts: dict[str, Any]) -> None:
        mint, rec = cli.mint_of(opts["mint"])
        self._send(opts, tx.APPROVE, mint=mint, spender=cli.ref_of(opts["spender"]), amount=self._amount(opts, rec.decimals))

    def do_mint(self, opts: dict[str, Any]) -> None:
        action = opts["mint_action"]
        if action == "create":
            self._send(opts, tx.CREATE_MINT, decimals=opts["decimals"], symbol=opts["symbol"], name=opts["name"])
            return
        mint, rec = cli.mint_of(opts["mint"])
        if action == "to":
            self._send(opts, tx.MINT_TO, mint=mint, to=cli.ref_of(opts["to"]), amount=self._amount(opts, rec.decimals))
        else:
            self._send(opts, tx.BURN, mint=mint, amount=self._amount(opts, rec.decimals))

    def do_bench(self, opts: dict[str, Any]) -> None:
        if opts["scenario"] == "state-root":
            from bench import state_root

            self.emit(state_root.run(opts["keys"], opts["updates"]))
        elif opts["scenario"] == "parallel":
            from bench import parallel

            try:
                self.emit(parallel.run(opts["txs"] or 20_000))
            except (RuntimeError, OSError) as e:
                raise CommandError(str(e)) from None
        elif opts["scenario"] == "parallel-processes":
            from bench import processes

            self.emit(processes.run(opts["txs"] or 20_000, opts["repeat"]))
        elif opts["scenario"] == "web":
            from bench import web

            if not 1 <= opts["clients"] <= 10_000 or not 1 <= opts["duration"] <= 3600:
                raise CommandError("--clients must be 1..10000 and --duration 1..3600 seconds")
            try:
                self.emit(web.run(opts["clients"], opts["duration"], opts["url"], opts["workers"]))
            except (web.BenchError, RuntimeError, OSError) as e:
                raise CommandError(str(e)) from None
        elif opts["scenario"] == "erc20":
            from bench import erc20

            self.emit(erc20.run(opts["txs"] or 500, opts["repeat"]))
        elif opts["scenario"] == "cross-vm":
            from bench import cross_vm

            self.emit(cross_vm.run(opts["txs"] or 20_000, sql=not opts["in_memory"]))
        elif opts["scenario"] == "bvm-verify":
            from bench import bvm

            self.emit(bvm.run(opts["txs"] or 5_000))
        else:
            from bench import native_transfer

            self.emit(
                native_transfer.run(
                    opts["txs"] or 20_000,
                    opts["in_memory"],
                    opts["senders"],
                    opts["block_txs"],
                    opts["credential"],
                    opts["processes"],
                )
            )

    def do_devnet(self, opts: dict[str, Any]) -> None:
        from nvmsite.serve import default_workers, serve

        # devnet mode (mining and time controls) unless NVM_DEVNET says otherwise; the producer and the web
        # processes started below read it from the environment
        os.environ.setdefault("NVM_DEVNET", "1")
        settings.NVM_DEVNET = os.environ["NVM_DEVNET"].strip().lower() in {"1", "true", "yes", "on"}
        call_command("migrate", verbosity=0, interactive=False)
        info = ensure_genesis(None)
        base = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(devnet_banner(info, base))
        producer = subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "nvm", "node"])
        try:
            # daphne processes serve HTTP and the /ws/live websocket; this returns on SIGINT/SIGTERM
            serve(opts["host"], opts["port"], opts["workers"] or default_workers())
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
        "accounts": [dev_account(a) for a in gen.accounts],
    }


def dev_account(a: genesis_mod.Account) -> dict[str, Any]:
    import base58

    from chain.address import addresses_of, btc_script_text, evm_text, svm_text, tron_text

    out: dict[str, Any] = {"label": a.label, "id_com": "0x" + a.id_com.hex(), "balance": str(a.balance)}
    if a.rev is not None:
        out["rev"] = a.rev.hex()
        out["addresses"] = addresses_of(a.id_com)
    if a.legacy == "evm" and a.address is not None:
        out["evm"] = evm_text(a.address)
    if a.legacy == "svm" and a.address is not None:
        out["svm"] = svm_text(a.address)
    if a.legacy == "btc" and a.address is not None:
        out["btc"] = btc_script_text(a.address) or "0x" + a.address.hex()
    if a.legacy == "tron" and a.address is not None:
        out["tron"] = tron_text(a.address)
    if a.private_key is not None:
        out["private_key"] = "0x" + a.private_key.hex()
        if a.legacy == "svm" and a.address is not None:  # what Phantom and solana-keygen take: seed || pubkey
            out["keypair_base58"] = base58.b58encode(a.private_key + a.address).decode()
    return out


def devnet_banner(info: dict[str, Any], base: str) -> str:
    lines = [
        "",
        f"n-VM devnet — chain id {info['chain_id']}, genesis root {info['genesis_root']}",
        "",
        "Prefunded accounts — DEVNET ONLY, these secrets are public (balances in base units, 9 decimals):",
    ]
    for a in info["accounts"]:
        lines.append(f"  {a['label']}: {a['balance']}")
        if "rev" in a:
            lines.append(f"      REV     {a['rev']}")
            lines.append(f"      id_com  {a['id_com']}")
            lines += [f"      {vm:<7} {text}" for vm, text in a["addresses"].items()]
        if "evm" in a:
            lines.append(f"      address {a['evm']}")
        if "svm" in a:
            lines.append(f"      address {a['svm']}")
        if "btc" in a:
            lines.append(f"      address {a['btc']}")
        if "tron" in a:
            lines.append(f"      address {a['tron']}")
        if "keypair_base58" in a:
            lines.append(f"      keypair {a['keypair_base58']}   (base58, as Phantom imports it)")
        elif "private_key" in a:
            lines.append(f"      key     {a['private_key']}")
    lines += [
        "",
        "APIs:",
        f"  native JSON API  {base}/api/v1/status   (OpenAPI schema: {base}/api/v1/schema)",
        f"  blocks           {base}/api/v1/blocks",
        f"  state proofs     {base}/api/v1/state/proof?key=<hex>",
        f"  identities       {base}/api/v1/identity/<id_com or any address>",
        f"  Ethereum RPC     {base}/rpc/eth   (MetaMask: chain id {info['chain_id']}, currency NVM; "
        f"websocket {base.replace('http', 'ws', 1)}/rpc/eth)",
        f"  Solana RPC       {base}/rpc/solana   (websocket {base.replace('http', 'ws', 1)}/rpc/solana/ws)",
        f"  Bitcoin Esplora  {base}/api/btc   (regtest addresses bcrt1…, m…/n…, 2…)",
        f"  Tron HTTP API    {base}/api/tron/   (tronpy: HTTPProvider with the trailing slash)",
        "",
        "CLI: python manage.py nvm transfer --rev <REV> --to <any address> --amount 1.5",
        "",
    ]
    return "\n".join(lines)
