"""Runs serialize on the warehouse whoever launched them: a daemon's run and a CLI run wait for each other.

Regression (issue 12, finding 6): only CLI runs took the warehouse lock, so a run the Dagster daemon
launched (claims_inbox_sensor under `claimflow ui`) and a CLI run collided on DuckDB's "Could not set lock".
The daemon's run here is the same code path its run worker takes: a reconstructable job executed in a
process of its own against the home's instance, with no CLI around it.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from assets.project import warehouse_path
from assets.resources import WarehouseResource
from connectors.warehouse_lock import hold_warehouse, lock_path

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HOLD_MAX_S = 60.0  # a probe run keeps its write transaction open until released, at most this long


@dg.asset
def warehouse_probe(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """Keeps a write transaction open until the test releases it and records when, so overlapping runs show."""
    wh = warehouse.get()
    home = Path(wh.path).parent
    with wh.transaction() as con:
        con.execute("create table if not exists lock_probe (run_id varchar, started double, ended double)")
        started = time.time()
        (home / f"probe-{context.run_id}.started").touch()
        while not (home / "probe.release").exists() and time.time() - started < HOLD_MAX_S:
            time.sleep(0.1)
        con.execute("insert into lock_probe values (?, ?, ?)", [context.run_id, started, time.time()])


def probe_definitions(lock_wait_s: float = 120.0) -> dg.Definitions:
    job = dg.define_asset_job("warehouse_probe_job", selection=[warehouse_probe])
    return dg.Definitions(assets=[warehouse_probe], jobs=[job], executor=dg.in_process_executor,
                          resources={"warehouse": WarehouseResource(path=str(warehouse_path()),
                                                                    lock_wait_s=lock_wait_s)})


def probe_job():
    """The probe as a reconstructable job, as the daemon's run worker loads one."""
    return probe_definitions().resolve_job_def("warehouse_probe_job")


DAEMON_RUN = """
import dagster as dg
from orchestration.runner import prepare_dagster_home
from tests.integration.test_warehouse_lock import probe_job
prepare_dagster_home()
with dg.DagsterInstance.get() as instance:
    result = dg.execute_job(dg.reconstructable(probe_job), instance, raise_on_error=False)
print(result.run_id, result.success, flush=True)
"""


def probe_rows() -> list[tuple[str, float, float]]:
    import duckdb

    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return sorted(con.execute("select * from lock_probe").fetchall(), key=lambda r: r[1])


def test_a_daemon_run_and_a_cli_run_on_one_home_wait_for_each_other_instead_of_failing(
    claimflow_home, monkeypatch, capfd
):
    import orchestration.definitions
    from orchestration.runner import first_failure, run_job

    claimflow_home.mkdir(parents=True)
    env = os.environ | {"CLAIMFLOW_HOME": str(claimflow_home), "DAGSTER_HOME": str(claimflow_home / "dagster"),
                        "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([sys.executable, "-c", DAEMON_RUN], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(claimflow_home.glob("probe-*.started")):
            assert daemon.poll() is None, daemon.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the daemon's run never started its step"
            time.sleep(0.1)
        # The daemon's run is inside its write transaction now; a CLI run comes in on top of it and is
        # let in only once it has started (without the shared lock it fails on DuckDB's at once).
        monkeypatch.setattr(orchestration.definitions, "build_definitions", lambda: probe_definitions())
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            cli_run = pool.submit(run_job, "warehouse_probe_job")
            with dg.DagsterInstance.get() as instance:
                while instance.get_runs_count(dg.RunsFilter(job_name="warehouse_probe_job")) < 2:
                    assert time.monotonic() < deadline, "the CLI run never started"
                    time.sleep(0.1)
            time.sleep(2)
            (claimflow_home / "probe.release").touch()
            cli = cli_run.result(timeout=120)
        out, _ = daemon.communicate(timeout=120)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert cli.success, first_failure(cli)
    daemon_run, daemon_ok = out.split()
    assert daemon_ok == "True"
    (first, _, a_end), (second, b_start, _) = probe_rows()
    assert (first, second) == (daemon_run, cli.run_id)
    assert b_start >= a_end  # the CLI run's step began only once the daemon's run had let the warehouse go
    assert "waiting for another Claimflow run that holds the warehouse" in capfd.readouterr().err
    assert json.loads(lock_path(warehouse_path()).read_text() or "{}") == {}  # released, no holder left


HOLDER = """
import sys, time
from connectors.warehouse_lock import hold_warehouse
with hold_warehouse(sys.argv[1], who="run 1234abcd"):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_run_that_cannot_get_the_warehouse_within_its_wait_fails_in_one_line_naming_the_holder(claimflow_home):
    from orchestration.runner import first_failure

    claimflow_home.mkdir(parents=True)
    lock = lock_path(warehouse_path())
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        result = probe_definitions(lock_wait_s=1).resolve_job_def("warehouse_probe_job").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        waited = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    assert not result.success and 1 <= waited < 30
    line = first_failure(result)
    assert "\n" not in line and line.startswith("warehouse_probe: the warehouse is locked by run 1234abcd")
    assert f"(pid {holder.pid}, since " in line and "for more than 1 s" in line
    assert str(lock) in line and str(claimflow_home / "logs" / "failures.log") in line
    assert not list(claimflow_home.glob("probe-*.started"))  # the step never ran


CHILD = """
import sys
from connectors.warehouse_lock import WarehouseBusy, hold_warehouse
try:
    with hold_warehouse(sys.argv[1], who="child", wait_s=1):
        print("entered")
except WarehouseBusy as err:
    print("busy:", err)
"""


def test_the_lock_is_reentrant_in_its_thread_and_held_for_the_step_processes_of_its_run(tmp_path):
    # Any other process waits: the test above, whose holder is not its ancestor.
    lock = tmp_path / "warehouse.lock"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with hold_warehouse(lock, who="outer"):
        with hold_warehouse(lock, who="inner", wait_s=0):  # the CLI's lock, re-entered by its run's resource
            assert json.loads(lock.read_text())["who"] == "outer"
        child = subprocess.run([sys.executable, "-c", CHILD, str(lock)], capture_output=True, text=True, env=env,
                               cwd=ROOT, timeout=60, check=True)
        assert child.stdout.strip() == "entered"  # a step process of the holding run
    assert json.loads(lock.read_text() or "{}") == {}
