"""Celery tasks: a part of a block's work (chain/parallel.py `encode_work`) run by a worker.

Workers start with `celery -A nvmsite worker` and need the node's engines and validator key (the
same NVM_HOME and settings as the producer). Work and results (MessagePack) travel as base64 text in
Celery's JSON.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from celery import shared_task

from chain.dispatcher import Registry
from chain.parallel import Pool, run_work

log = logging.getLogger("nvm.tasks")
TASK = "nvm.run_work"


@lru_cache(maxsize=1)
def worker_registry() -> Registry:
    from nvmsite.node import registry

    return registry()


@shared_task(name=TASK, acks_late=True, reject_on_worker_lost=True)
def run_work_task(work: str) -> str:
    hold = float(os.environ.get("NVM_WORKER_HOLD_S", "0"))  # a slow worker, for the tests that kill one mid-block
    if hold:
        time.sleep(hold)
    return base64.b64encode(run_work(worker_registry(), base64.b64decode(work))).decode()


def celery_pool(workers: int, timeout_s: float) -> Pool:
    """A Pool over the Celery workers; a part not answered within `timeout_s` (a worker died or is stuck)
    runs in the producer instead. Its task may still finish later: that answer is never read."""

    def send(parts: Iterable[bytes]) -> list[bytes | None]:
        pending: list[Any] = [run_work_task.apply_async(args=[base64.b64encode(p).decode()]) for p in parts]
        deadline = time.monotonic() + timeout_s
        out: list[bytes | None] = []
        for result in pending:
            try:
                answer = result.get(timeout=max(0.01, deadline - time.monotonic()), propagate=True)
                out.append(base64.b64decode(answer))
                result.forget()  # read once: the backend need not keep megabytes of it for a day
            except Exception as e:  # timeout, a worker lost, a failure inside: the part runs here
                log.warning("a worker did not answer a part of the block (%s); running it here", type(e).__name__)
                out.append(None)
        return out

    return Pool(send, workers)
