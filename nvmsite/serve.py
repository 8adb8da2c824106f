"""The web tier of `nvm devnet`: several daphne processes accepting on one listening socket.

Django runs a request's synchronous code on one thread at a time per process, so one process is one
core at most; `workers` processes (default: one per core) share the socket this parent opened and
passes down (daphne `--fd`), and a worker that dies is started again. SIGINT / SIGTERM stop them all.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

log = logging.getLogger("nvm.serve")
CRASH_WINDOW_S = 10.0  # a worker that dies this soon after starting will not do better the next time


def default_workers() -> int:
    return int(os.environ.get("WEB_WORKERS", "0")) or os.cpu_count() or 2


def serve(host: str, port: int, workers: int, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    fd = sock.fileno()
    command = [sys.executable, "-m", "daphne", "--fd", str(fd), "-v", "0", "nvmsite.asgi:application"]

    started: dict[int, float] = {}

    def start() -> subprocess.Popen[bytes]:
        p = subprocess.Popen(command, pass_fds=[fd])
        started[p.pid] = time.monotonic()
        return p

    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    procs = [start() for _ in range(max(1, workers))]
    try:
        while not stop.wait(0.5):
            for i, p in enumerate(procs):
                if p.poll() is not None:
                    if time.monotonic() - started.pop(p.pid) < CRASH_WINDOW_S:
                        raise SystemExit(f"web worker {p.pid} exited with {p.returncode} at start; see its error above")
                    log.warning("web worker %d exited with %s; starting another", p.pid, p.returncode)
                    procs[i] = start()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        sock.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
