"""The devnet as a process of its own, for the tests (nvmsite/devproc.py, shared with `nvm bench web`)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nvmsite.devproc import devnet_output, free_port, scratch_database, start_devnet, stop_devnet, wait_ready

__all__ = [
    "devnet_fixture",
    "devnet_output",
    "devnet_with_genesis",
    "free_port",
    "running_devnet",
    "scratch_database",
    "start_devnet",
    "stop_devnet",
    "wait_ready",
]


@contextmanager
def running_devnet(home: Path, **env: str) -> Iterator[str]:
    """A live devnet (on-demand blocks; the shipped genesis unless `NVM_GENESIS` says otherwise); its base URL
    while the block lasts."""
    port = free_port()
    proc = start_devnet(home, port, NVM_ON_DEMAND="1", **env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, home, base, timeout_s=60, min_height=0)
        yield base
    finally:
        stop_devnet(proc, home)


@contextmanager
def devnet_with_genesis(home: Path, genesis: dict[str, Any]) -> Iterator[str]:
    """A live devnet (on-demand blocks) whose genesis is `genesis`; its base URL while the block lasts."""
    path = home / "genesis.json"
    path.write_text(json.dumps(genesis))
    with running_devnet(home, NVM_GENESIS=str(path)) as base:
        yield base


def devnet_fixture(**env: str) -> Any:
    """A module-scoped fixture: the base URL of a live devnet (`running_devnet`) that the module's tests share."""

    @pytest.fixture(scope="module")
    def base(tmp_path_factory: Any) -> Iterator[str]:
        with running_devnet(tmp_path_factory.mktemp("devnet"), **env) as url:
            yield url

    return base
