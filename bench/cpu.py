"""CPU seconds a timed run spends: in this process (every thread) and in the PostgreSQL server processes
that serve its connections (read from /proc when the server is on this machine).

Set beside the machine's cores this gives the run's ceiling — the rate at which the same work would go if
every core were busy with it all the time — so a figure can be judged against what the hardware allows
at all, not only against a target.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def _server_cpu(pid: int) -> float | None:
    """utime + stime of a local process, in seconds; None when it is not on this machine."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # fields 14 and 15 of proc(5), after the name


def backend_pid() -> int | None:
    """The server process behind this thread's Django connection (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        return int(c.fetchone()[0])


class CpuMeter:
    """`start()` before the timed part, `watch_backend()` in each thread that uses the database (before its
    first query of the timed part), `leave_backend()` before a thread closes its connection, `stop()` after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, float] = {}
        self.database_s: float | None = None
        self.process_s = 0.0
        self.elsewhere_s = 0.0  # CPU of the run's other processes (an admission process), as they report it

    def start(self) -> None:
        self._process0 = time.process_time()

    def watch_backend(self) -> None:
        pid = backend_pid()
        used = None if pid is None else _server_cpu(pid)
        if pid is not None and used is not None:
            with self._lock:
                self._open[pid] = used

    def leave_backend(self, pid: int | None = None) -> None:
        pid = backend_pid() if pid is None else pid
        with self._lock:
            began = self._open.pop(pid, None) if pid is not None else None
        now = None if pid is None else _server_cpu(pid)
        if began is not None and now is not None:
            with self._lock:
                self.database_s = (self.database_s or 0.0) + now - began

    def stop(self) -> None:
        self.process_s = time.process_time() - self._process0
        for pid in list(self._open):
            self.leave_backend(pid)

    def summary(self, txs: int, seconds: float) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        total = self.process_s + self.elsewhere_s + (self.database_s or 0.0)
        out: dict[str, Any] = {
            "node_s": round(self.process_s + self.elsewhere_s, 4),
            "database_s": None if self.database_s is None else round(self.database_s, 4),
            "per_tx_us": round(total / txs * 1e6, 1),
            "cores": cores,
            # every core busy with this work, nothing lost to waiting: the most this machine could give
            "ceiling_tx_per_s": round(txs * cores / total) if total else None,
            "cores_busy": round(total / seconds, 2) if seconds else None,
        }
        return out
