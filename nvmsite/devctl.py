"""Devnet controls for mining and time (issue 10): what local EVM devnets offer — mine blocks now, switch between
interval and on-demand mining, move the clock — for every VM at once, since every VM reads the same blocks.

The web processes write the controls into one SQL row (`nvm_dev_control`); the block producer reads them before
each block (nvmsite/node.py). Nothing here touches the chain state: a block made under the controls is an ordinary
block whose timestamp the producer chose, so every VM sees the new time — EVM `block.timestamp`, Bitcoin
lock-times, Tron expirations, Solana's clock.

    {"offset_ms": 0,             # added to the producer's clock (evm_increaseTime)
     "next_timestamp_ms": null,  # the next block's timestamp, once (evm_setNextBlockTimestamp)
     "mine": 0,                  # blocks to make now, empty or not (evm_mine, anvil_mine)
     "mode": null,               # "interval" or "on_demand": overrides the node's start-up mode
     "interval_ms": null,        # the interval, in interval mode
     "task": null,               # an errand for the producer: a revert (snapshots) or a state file to load
     "done": null}               # the last errand done: {"ticket", "error": null or {"code", "message"}}

Reverting to a snapshot and loading a state file change the store under the producer, which holds the chain in
memory: the producer runs them itself and reloads. All of it is refused unless the node runs in devnet mode
(`NVM_DEVNET=1`, the default of `make devnet`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction

from chain.blocks import Header
from chain.errors import ChainError
from chain.store import models as m
from chain.store.sql import head

log = logging.getLogger("nvm.devctl")
KEY = "controls"
DEFAULTS: dict[str, Any] = {"offset_ms": 0, "next_timestamp_ms": None, "mine": 0, "mode": None, "interval_ms": None}
MAX_MINE = 10_000
MAX_TIMESTAMP_S = (2**63 - 1) // 1000  # a block's timestamp_ms is a signed 64-bit column (chain/store/models.py)
MINE_WAIT_S = 30.0


class DevnetOff(ChainError):
    code = "devnet_off"


def require_devnet() -> None:
    if not settings.NVM_DEVNET:
        raise DevnetOff("devnet controls are off: this node does not run in devnet mode (start it with NVM_DEVNET=1)")


def controls() -> dict[str, Any]:
    raw = m.DevControl.objects.filter(key=KEY).values_list("value", flat=True).first()
    return {**DEFAULTS, **(json.loads(raw) if raw else {})}


def update(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Change the controls in one locked read-modify-write; the controls after it."""
    with transaction.atomic():
        row = m.DevControl.objects.select_for_update().filter(key=KEY).first()
        now = {**DEFAULTS, **(json.loads(row.value) if row else {})}
        change(now)
        m.DevControl.objects.update_or_create(key=KEY, defaults={"value": json.dumps(now)})
        return now


def increase_time(seconds: int) -> int:
    """Move the clock forward (never back: block times only grow); the total offset in seconds."""
    require_devnet()
    if not 0 <= seconds <= 10 * 365 * 86_400:
        raise ChainError("the time increase must be between 0 seconds and 10 years", "bad_time")

    def change(c: dict[str, Any]) -> None:
        c["offset_ms"] += seconds * 1000

    return int(update(change)["offset_ms"] // 1000)


def set_next_timestamp(seconds: int) -> None:
    """The next block's timestamp (UNIX seconds); it must be after the head's."""
    require_devnet()
    if not 0 <= seconds <= MAX_TIMESTAMP_S:
        raise ChainError(f"the timestamp is out of range (0 to {MAX_TIMESTAMP_S} seconds)", "bad_time")
    now = head()
    if now is not None and seconds * 1000 <= now.timestamp_ms:
        raise ChainError(f"the next timestamp must be after the head's ({now.timestamp_ms // 1000})", "bad_time")

    def change(c: dict[str, Any]) -> None:
        c["next_timestamp_ms"] = seconds * 1000

    update(change)


def set_mining(mode: str, interval_ms: int | None = None) -> dict[str, Any]:
    """`interval` (a block every `interval_ms`, empty or not) or `on_demand` (a block per arriving transaction)."""
    require_devnet()
    if mode not in ("interval", "on_demand"):
        raise ChainError("mining mode is 'interval' or 'on_demand'", "bad_mode")
    if mode == "interval" and (interval_ms is None or not 10 <= interval_ms <= 3_600_000):
        raise ChainError("interval mining needs interval_ms between 10 and 3,600,000", "bad_mode")

    def change(c: dict[str, Any]) -> None:
        c["mode"], c["interval_ms"] = mode, interval_ms if mode == "interval" else None

    return update(change)


def mine(blocks: int, wait_s: float = MINE_WAIT_S) -> int:
    """Ask the producer for `blocks` blocks now, and wait for them; the new head height."""
    require_devnet()
    if not 1 <= blocks <= MAX_MINE:
        raise ChainError(f"mine between 1 and {MAX_MINE:,} blocks at a time", "bad_count")
    start = head()
    target = (start.height if start else 0) + blocks

    def change(c: dict[str, Any]) -> None:
        c["mine"] += blocks

    update(change)
    # `wait_s` without a new block, not for all of them: 10,000 blocks take longer than one wait
    deadline, seen = time.monotonic() + wait_s, start.height if start else 0
    while time.monotonic() < deadline:
        now = head()
        if now is not None and now.height >= target:
            return now.height
        if now is not None and now.height != seen:
            deadline, seen = time.monotonic() + wait_s, now.height
        time.sleep(0.01)
    raise ChainError("the block producer did not make the blocks in time: is it running?", "producer_timeout")


# -- the producer's side ----------------------------------------------------------------------------
def block_plan(on_demand: bool, interval_ms: int) -> tuple[bool, bool, int]:
    """(on demand?, make a block now, empty or not?, interval) for the producer's next turn; outside devnet
    mode, the mode it was started in."""
    if not settings.NVM_DEVNET:
        return on_demand, False, interval_ms
    c = controls()
    return (on_demand if c["mode"] is None else c["mode"] == "on_demand"), c["mine"] > 0, c["interval_ms"] or interval_ms


def block_timestamp() -> int:
    """The timestamp of the block about to be made: a set next timestamp (then forgotten), else now + offset; one
    block mined on request is counted off."""
    now_ms = int(time.time() * 1000)
    if not settings.NVM_DEVNET:
        return now_ms
    chosen: list[int] = []

    def change(c: dict[str, Any]) -> None:
        chosen.append(c["next_timestamp_ms"] or now_ms + c["offset_ms"])
        c["next_timestamp_ms"] = None
        c["mine"] = max(0, c["mine"] - 1)

    update(change)
    return chosen[0]


# -- snapshots (evm_snapshot, evm_revert, anvil_reset) -----------------------------------------------
def snapshot() -> int:
    """Remember the head and the mempool; the snapshot's id."""
    require_devnet()
    from chain.store.sql import consistent_reads

    with consistent_reads():
        now = head()
        if now is None:
            raise ChainError("no genesis block yet", "no_genesis")
        claims: dict[bytes, list[str]] = {}
        for claim, eid in m.MempoolClaim.objects.values_list("claim", "envelope_id"):
            claims.setdefault(bytes(eid), []).append(bytes(claim).hex())
        pool = [
            [bytes(e).hex(), op, bytes(v).hex(), claims.get(bytes(e), [])]
            for e, op, v in m.MempoolEntry.objects.order_by("seq").values_list("envelope_id", "opcode", "envelope")
        ]
    made = m.DevSnapshot.objects.create(height=now.height, head_hash=now.hash, mempool=json.dumps(pool))  # read-only above
    return int(made.id)


def revert(snapshot_id: int, wait_s: float = MINE_WAIT_S) -> bool:
    """Everything back to the snapshot (False if there is no such snapshot); it and later ones are used up."""
    require_devnet()
    found = m.DevSnapshot.objects.filter(id=snapshot_id).values_list("height", "mempool").first()
    if found is None:
        return False
    _ask_producer({"kind": "revert", "height": found[0], "mempool": json.loads(found[1])}, wait_s)
    m.DevSnapshot.objects.filter(id__gte=snapshot_id).delete()
    return True


def reset(wait_s: float = MINE_WAIT_S) -> None:
    """Back to genesis, with an empty mempool; every snapshot is gone, and nobody is impersonated."""
    from nvmsite.impersonation import forget

    require_devnet()
    _ask_producer({"kind": "revert", "height": 0, "mempool": []}, wait_s)
    m.DevSnapshot.objects.all().delete()
    forget()


# -- the state file (chain/statefile.py): dump and load (anvil_dumpState, anvil_loadState) ---------------------
MAX_STATE_FILE = 1 << 30  # bytes of a state file to load, compressed
LOAD_WAIT_S = 300.0


def dump_state(out: IO[bytes], recent: int | None = None) -> dict[str, Any]:
    """The whole chain as a state file written to `out`; what it holds."""
    from chain.store.sql import dump_state as dump

    require_devnet()
    top, counts = dump(out, recent)
    return {**_head_json(top), **asdict(counts)}


def load_state(chunks: Iterable[bytes], wait_s: float = LOAD_WAIT_S) -> dict[str, Any]:
    """Replace the whole chain with a state file's (its bytes in chunks): the block producer reads and checks it,
    writes it in one database transaction and goes on from its head; the new head."""
    from chain.statefile import read_header

    require_devnet()
    staged = _stage(chunks)
    try:
        with staged.open("rb") as f:  # not a state file, or too new a one: refused before the producer is asked
            read_header(f)
        _ask_producer({"kind": "load", "path": str(staged)}, wait_s)
    finally:
        staged.unlink(missing_ok=True)
    return _head_json(head())


def load_state_offline(path: Path) -> dict[str, Any]:
    """`nvm state load` on the database itself (a block producer running on it finds its head replaced and
    reloads: chain/store/sql.py `load_state`); the new head."""
    require_devnet()
    return _head_json(_load_file(path))


def _load_file(path: Path) -> Header:
    from chain.statefile import read
    from chain.store.sql import load_state as load

    try:
        with path.open("rb") as f:
            return load(read(f))
    except OSError as e:
        raise ChainError(f"cannot read the state file: {e.strerror or e}", "bad_state_file") from None


def _stage(chunks: Iterable[bytes]) -> Path:
    """The bytes in a file of NVM_HOME (which the web processes and the producer share), at most MAX_STATE_FILE."""
    folder = Path(settings.NVM_HOME) / "state-loads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.jsonl.gz"
    size = 0
    try:
        with path.open("wb") as f:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_STATE_FILE:
                    raise ChainError(f"a state file to load is at most {MAX_STATE_FILE:,} bytes", "too_large")
                f.write(chunk)
        if size == 0:
            raise ChainError("the state file is empty", "bad_state_file")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _head_json(h: Header | None) -> dict[str, Any]:
    if h is None:
        raise ChainError("no genesis block yet", "no_genesis")
    return {"height": h.height, "hash": "0x" + h.hash.hex(), "state_root": "0x" + h.state_root.hex()}


# -- the producer's errands: a revert, a load ------------------------------------------------------------
def _ask_producer(task: dict[str, Any], wait_s: float) -> None:
    """The producer holds the chain in memory, so it changes the store itself and reloads; wait for it to say it
    is done (ChainError with its reason if it refused). One errand at a time."""
    tickets: list[int] = []

    def ask(c: dict[str, Any]) -> None:
        if c.get("task"):
            raise ChainError("the block producer is busy with another devnet control: try again", "producer_busy")
        c["ticket"] = c.get("ticket", 0) + 1
        c["task"] = {**task, "ticket": c["ticket"]}
        tickets.append(c["ticket"])

    update(ask)
    ticket = tickets[0]
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        done = controls().get("done") or {}
        if done.get("ticket", 0) >= ticket:
            if done["ticket"] == ticket and done.get("error"):
                raise ChainError(done["error"]["message"], done["error"]["code"])
            return
        time.sleep(0.01)
    withdrawn: list[bool] = []

    def withdraw(c: dict[str, Any]) -> None:
        if (c.get("task") or {}).get("ticket") == ticket:
            c["task"] = None
            withdrawn.append(True)

    update(withdraw)
    if withdrawn:
        raise ChainError("the block producer did not answer in time: is it running?", "producer_timeout")
    raise ChainError("the block producer is still at it: see /api/v1/status for the head", "producer_timeout")


def pending_task() -> dict[str, Any] | None:
    """The producer's side: an errand asked for, if any."""
    return controls().get("task") if settings.NVM_DEVNET else None


def do_task(task: dict[str, Any]) -> None:
    """The producer's side: take the errand (unless it was withdrawn meanwhile), do it, say how it went."""
    from chain.store.sql import revert_to

    taken: list[bool] = []

    def take(c: dict[str, Any]) -> None:
        if (c.get("task") or {}).get("ticket") == task["ticket"]:
            c["task"] = None
            taken.append(True)

    update(take)
    if not taken:
        return
    error = None
    try:
        if task["kind"] == "revert":
            pool = [(bytes.fromhex(e), op, bytes.fromhex(v), [bytes.fromhex(c) for c in cs]) for e, op, v, cs in task["mempool"]]
            revert_to(task["height"], pool)
        else:
            _load_file(Path(task["path"]))
    except ChainError as e:
        error = {"code": e.code, "message": e.message}
    except Exception:
        log.exception("devnet %s failed", task["kind"])
        error = {"code": "internal_error", "message": f"the block producer failed to {task['kind']}; see its log"}

    def done(c: dict[str, Any]) -> None:
        c["done"] = {"ticket": task["ticket"], "error": error}

    update(done)


# -- state edits (anvil_setBalance, anvil_setNonce, anvil_setCode, anvil_setStorageAt) ----------------
def edit(envelope: bytes) -> int:
    """A state edit (engines/dev) as a transaction of its own, in a block made now; the new height. It is
    dry-run first: an edit the engine would fail (a balance the supply cannot hold) is refused, not written
    into a block as a failed transaction."""
    require_devnet()
    from nvmsite.node import admit_to_mempool, web_registry
    from rpc.rawtx import dry_run

    run = dry_run(envelope, web_registry())
    if run.refused is not None:
        raise ChainError(run.refused.message, run.refused.code)
    if run.receipt is not None and not run.receipt.success:
        raise ChainError(run.receipt.message or run.receipt.code, run.receipt.code or "edit_failed")
    admit_to_mempool(envelope)
    return mine(1)


def set_balance(address_text: str, amount: int, base_units: bool = False) -> int:
    """Any VM's address (or an id_com): its identity's balance, in that VM's unit — wei, lamports, sats, sun —
    or in base units; the new height."""
    from chain.address import parse_address
    from chain.hashing import U64_MAX
    from chain.ledger import BASE_PER_SAT, BASE_PER_SUN, WEI_PER_BASE
    from engines.dev.engine import set_balance as edit_balance

    require_devnet()
    parsed = parse_address(address_text)
    tag = {"native": "id_com", "evm": "evm", "svm": "svm", "btc": "btc", "tron": "tron"}[parsed.vm]
    per_base = {"id_com": 1, "evm": WEI_PER_BASE, "svm": 1, "btc": BASE_PER_SAT, "tron": BASE_PER_SUN}[tag]
    if amount < 0:
        raise ChainError("a balance is not negative", "bad_amount")
    base = amount if base_units else amount // per_base if tag == "evm" else amount * per_base
    if base > U64_MAX:  # checked before it is encoded: the edit carries a u128 in the VM's unit
        raise ChainError(f"a balance is at most {U64_MAX:,} base units", "bad_amount")
    if base_units:
        if tag in ("btc", "tron") and amount % per_base:
            raise ChainError(f"{amount} base units is not a whole number of this VM's unit ({per_base} base units)", "bad_amount")
        amount = amount * per_base if tag == "evm" else amount // per_base if tag in ("btc", "tron") else amount
    return edit(edit_balance(tag, parsed.raw, amount))
