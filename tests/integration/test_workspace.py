"""The workspace loads in Dagster's own tooling, and `make ui` really serves the Dagster and MLflow UIs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assets.project import PROJECT_ROOT
from models.tracking import free_port

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def test_dagster_validates_the_workspace(claimflow_home, dbt_manifest):
    (claimflow_home / "dagster").mkdir(parents=True)
    proc = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGINT to the UI's process group (as Ctrl-C would), SIGKILL after a minute; a group already gone is fine."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _kill_leftovers(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except OSError:
        return 0


@pytest.mark.slow
def test_the_ui_command_serves_dagster_and_mlflow_until_stopped(claimflow_home, dbt_manifest, tmp_path):
    dagster_port, mlflow_port = free_port(), free_port()
    env = os.environ | {"CLAIMFLOW_HOME": str(claimflow_home), "CLAIMFLOW_MLFLOW_PORT": str(mlflow_port)}
    for var in ("HTTP", "GRPC", "METRICS"):  # Triton starts with the UI; never on another test's ports
        env[f"CLAIMFLOW_TRITON_{var}_PORT"] = str(free_port())
    log_path = tmp_path / "ui.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN / "claimflow"), "ui", "--port", str(dagster_port)], cwd=PROJECT_ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if _get(f"http://127.0.0.1:{dagster_port}/server_info") == 200:
                break
            assert proc.poll() is None, f"claimflow ui exited early:\n{log_path.read_text()[-3000:]}"
            time.sleep(1)
        assert _get(f"http://127.0.0.1:{dagster_port}/server_info") == 200, log_path.read_text()[-3000:]
        assert _get(f"http://127.0.0.1:{mlflow_port}/health") == 200, log_path.read_text()[-3000:]
    finally:
        _stop_group(proc)
    try:
        deadline = time.monotonic() + 30
        while _get(f"http://127.0.0.1:{mlflow_port}/health") == 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert _get(f"http://127.0.0.1:{mlflow_port}/health") != 200  # stopped with the UI
    finally:
        _kill_leftovers(proc)
