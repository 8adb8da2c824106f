"""The benchmarks run and check their own results (their speed is measured by `nvm bench`, not here)."""

import pytest

from bench import native_transfer, state_root
from chain.memstore import MemoryStore
from chain.store.sql import SqlStore


def test_state_root_bench_reports_its_figures():
    r = state_root.run(keys=2000, updates=200)
    assert r["scenario"] == "state-root" and r["updates"] == 200 and r["seconds"] > 0 and r["tx_per_s"] > 0


@pytest.mark.parametrize("credential", ["ed25519", "secp256k1", "attestation"])
def test_native_transfer_bench_in_memory_every_credential(credential):
    r = native_transfer.run_with(MemoryStore(), txs=300, senders=40, block_txs=300, credential=credential)
    assert r["txs"] == 300 and r["blocks"] == 1 and r["credential"] == credential


@pytest.mark.django_db(transaction=True)
def test_native_transfer_bench_gives_one_state_root_in_every_mode():
    """Memory or SQL, one block or many: the same transfers end in the same state root."""
    roots = {
        native_transfer.run_with(MemoryStore(), txs=300, senders=40, block_txs=300)["state_root"],
        native_transfer.run_with(MemoryStore(), txs=300, senders=40, block_txs=70)["state_root"],
        native_transfer.run_with(SqlStore(), txs=300, senders=40, block_txs=70)["state_root"],
    }
    assert len(roots) == 1


@pytest.mark.django_db(transaction=True)
def test_native_transfer_bench_with_admission_in_its_own_process():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the two-process run needs a database both processes reach (make test uses PostgreSQL)")
    r = native_transfer.run_two_processes(txs=300, senders=40, block_txs=100)
    assert r["txs"] == 300 and r["blocks"] >= 1
    assert r["state_root"] == native_transfer.run_with(MemoryStore(), txs=300, senders=40, block_txs=300)["state_root"]


def test_erc20_bench_runs_all_three_ways():
    from bench import erc20

    r = erc20.run(txs=20, repeat=1)
    assert set(r["runs"]) == {"solidity_ours", "ledger_view", "solidity_eth_tester"}
    assert r["ratio"] > 0 and r["ratio_ledger_view_vs_solidity_py_evm"] > 0


def test_web_bench_reads_wrk_output():
    from bench.web import BenchError, parse_wrk

    out = """Running 10s test @ http://127.0.0.1:8000/rpc/eth
  2 threads and 50 connections
  Latency Distribution
     50%  610.00us
     75%   89.11ms
     90%  107.98ms
     99%    1.38s
  8156 requests in 10.06s, 2.28MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:    810.41
"""
    r = parse_wrk(out)
    assert (r["p50_ms"], r["p75_ms"], r["p90_ms"], r["p99_ms"]) == (0.61, 89.11, 107.98, 1380.0)
    assert (r["requests"], r["requests_per_s"], r["non_2xx"], r["socket_errors"]) == (8156, 810.41, 7, 3)
    with pytest.raises(BenchError):
        parse_wrk("unable to connect to 127.0.0.1:8000 Connection refused")


@pytest.mark.django_db(transaction=True)
def test_cross_vm_bench_runs_the_mix_in_memory_and_on_sql_to_one_root():
    from bench import cross_vm

    mem = cross_vm.run_with(MemoryStore(), txs=200, senders=20, block_txs=70)
    sql = cross_vm.run_with(SqlStore(), txs=200, senders=20, block_txs=70)
    assert mem["txs"] == 200 and mem["blocks"] == 3 and mem["mix"] == list(cross_vm.KINDS)
    assert mem["state_root"] == sql["state_root"]  # the same blocks, in memory or in the database


def test_parallel_processes_bench_gives_the_sequential_block():
    """Both worker designs must give the sequential block's diff and node writes (the bench checks it)."""
    from bench import processes

    r = processes.run(txs=400, rounds=1)
    assert r["scenario"] == "parallel-processes" and set(r["ratios"]) == {"forked", "replicas"}
    assert all(stages["total"] > 0 for stages in r["stages_s"].values())
