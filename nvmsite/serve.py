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
CRASH_WINDOW_S, CRASH_LIMIT = 10.0, 3  # this many exits within the window: something is wrong, not bad luck


def default_workers() -> int:
    return int(os.environ.get("WEB_WORKERS", "0")) or os.cpu_count() or 2


def serve(host: str, port: int, workers: int, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    fd = sock.fileno()
    command = [sys.executable, "-m", "daphne", "--fd", str(fd), "-v", "0", "nvmsite.asgi:application"]

    deaths: list[float] = []

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, pass_fds=[fd])

    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    procs = [start() for _ in range(max(1, workers))]
    try:
        while not stop.wait(0.5):
            for i, p in enumerate(procs):
                if p.poll() is not None:
                    now = time.monotonic()
                    deaths[:] = [t for t in deaths if now - t < CRASH_WINDOW_S] + [now]
                    if len(deaths) >= CRASH_LIMIT:
                        raise SystemExit(
                            f"web workers keep exiting (last: {p.pid}, status {p.returncode}); see their errors above"
                        )
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
