"""A failed step prints one line (step, cause, where the trace is); CLI runs serialize on the warehouse.

Regression (issue 12, finding 6): two `intake run` at once both failed with 85-111 lines of Dagster
trace on `duckdb IOException: Could not set lock`, and a failed demo step printed ~100 lines.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.runner import first_failure

ROOT = Path(__file__).resolve().parents[2]


def failing_job(error: Exception):
    @dg.op
    def write_warehouse():
        raise error

    @dg.job
    def job():
        write_warehouse()

    return job.execute_in_process(raise_on_error=False, instance=dg.DagsterInstance.ephemeral())


def test_a_lock_conflict_is_one_line_that_names_the_lock_and_the_trace_file(claimflow_home):
    result = failing_job(duckdb.IOException('Could not set lock on file "/x/warehouse.duckdb": Conflicting lock'))
    line = first_failure(result)
    assert "\n" not in line and line.startswith("write_warehouse: the warehouse is locked by another process")
    log = claimflow_home / "logs" / "failures.log"
    assert str(log) in line and "IOException" in log.read_text()


def test_any_other_failure_names_its_own_cause(claimflow_home):
    line = first_failure(failing_job(ValueError("policy register is empty")))
    assert line.startswith("write_warehouse: ") and "policy register is empty" in line and "\n" not in line


HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from orchestration.runner import warehouse_lock
with warehouse_lock():
    print("held", flush=True)
    time.sleep({hold})
print("done", time.time(), flush=True)
"""


def test_a_second_run_waits_for_the_warehouse_and_says_so(claimflow_home, monkeypatch):
    env = {"CLAIMFLOW_HOME": str(claimflow_home), "PATH": "/usr/bin:/bin"}
    first = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT), hold=3)], stdout=subprocess.PIPE,
                             text=True, env=env)
    assert first.stdout.readline().strip() == "held"
    t0 = time.time()
    second = subprocess.run([sys.executable, "-c", HOLD.format(root=str(ROOT), hold=0)], capture_output=True,
                            text=True, env=env, timeout=60)
    first.wait(30)
    assert second.returncode == 0 and time.time() - t0 >= 1.5  # it waited for the first to finish
    assert second.stderr.strip().splitlines() == [
        f"claimflow: waiting for another Claimflow run that holds the warehouse ({claimflow_home / 'warehouse.lock'})"
    ]
