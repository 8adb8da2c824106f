"""The devnet as a process of its own, for the tests (nvmsite/devproc.py, shared with `nvm bench web`)."""

from nvmsite.devproc import devnet_output, free_port, scratch_database, start_devnet, stop_devnet, wait_ready

__all__ = ["devnet_output", "free_port", "scratch_database", "start_devnet", "stop_devnet", "wait_ready"]
