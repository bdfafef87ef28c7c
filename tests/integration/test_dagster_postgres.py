"""The Dagster instance on PostgreSQL: deploy/dagster.postgres.yaml validates, and the daemon runs the inbox
sensor's micro-batches through the QueuedRunCoordinator with several runs in flight, each mail once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from fakes.scale import POSTGRES_YAML, run_daemon

pytestmark = pytest.mark.integration


def test_the_postgres_instance_yaml_passes_dagster_config_validation_and_opens(postgres_server, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(POSTGRES_YAML.read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "CLAIMFLOW_MAX_CONCURRENT_RUNS": "4",
           "CLAIMFLOW_DAGSTER_PG_URL": postgres_server.create_database("dagster_yaml_check")}  # fmt: skip
    code = (
        "import dagster as dg\n"
        "inst = dg.DagsterInstance.get()\n"
        "print(type(inst.run_storage).__name__, type(inst.event_log_storage).__name__,"
        " type(inst.schedule_storage).__name__, type(inst.run_coordinator).__name__,"
        " inst.run_coordinator.get_run_queue_config().max_concurrent_runs)\n"
    )
    out = subprocess.run(check=False, args=[sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        "PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage", "QueuedRunCoordinator", "4",
    ]  # fmt: skip
    limits = yaml.safe_load(POSTGRES_YAML.read_text())["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": "claimflow/exclusive", "value": "claims_triage", "limit": 1} in limits


@pytest.mark.slow
def test_the_daemon_runs_sensor_micro_batches_in_parallel_on_postgres_and_processes_each_mail_once(postgres_server):
    sink = postgres_server.create_database("scale_sink_test")
    # 1,000 mails = two micro-batches of 500 (the sensor's batch size): both may be in flight at once.
    result = run_daemon(mode="postgres", mails=1_000, sink_url=sink, postgres=postgres_server, in_flight=4)
    assert (result.receipts, result.lost, result.doubled) == (1_000, 0, 0)
    assert result.runs == result.runs_succeeded == 2
    assert result.max_runs_in_flight == 2
    assert result.max_pg_connections > 0
