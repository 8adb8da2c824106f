"""Start `manage.py nvm devnet` (what `make devnet` runs) as a process of its own, on a free port, over the
embedded default (SQLite in a temporary NVM_HOME): the live node that browser-less peers talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
