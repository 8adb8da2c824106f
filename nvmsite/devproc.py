"""`manage.py nvm devnet` (what `make devnet` runs) as a process of its own, on a free port: over the
embedded default (SQLite in a temporary NVM_HOME), or over PostgreSQL in a scratch database of its own.
The tests' live node, and the one `nvm bench web` loads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_devnet(home: Path, port: int, **env_overrides: str) -> subprocess.Popen[bytes]:
    """Its output goes to `home/devnet.log` (a pipe nobody reads would fill and stall the node)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(NVM_HOME=str(home), PORT=str(port), **env_overrides)
    with open(home / "devnet.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "nvm", "devnet"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def devnet_output(home: Path) -> str:
    return (home / "devnet.log").read_text(errors="replace")


def stop_devnet(proc: subprocess.Popen[bytes], home: Path) -> str:
    """Stop the whole process group (web server and block producer); return what it printed."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return devnet_output(home)


@contextmanager
def scratch_database(server: str = "postgres://root@127.0.0.1:5432", maintenance_db: str = "test") -> Iterator[str]:
    """A PostgreSQL database made for the occasion and dropped after it; yields its URL."""
    import psycopg

    name = f"nvm_scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/{maintenance_db}", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/{maintenance_db}", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_ready(proc: subprocess.Popen[bytes], home: Path, base: str, timeout_s: float = 90, min_height: int = 1) -> None:
    """Until the node answers with a block past genesis; RuntimeError with its log if it dies or stalls."""
    import json

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/status", timeout=2) as r:
                if json.loads(r.read())["height"] >= min_height:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the devnet did not start:\n" + devnet_output(home)[-3000:])
        time.sleep(0.3)
