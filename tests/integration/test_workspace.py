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


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except OSError:
        return 0


@pytest.mark.slow
def test_the_ui_command_serves_dagster_and_mlflow_until_stopped(claimflow_home, dbt_manifest):
    dagster_port, mlflow_port = free_port(), free_port()
    env = os.environ | {"CLAIMFLOW_HOME": str(claimflow_home), "CLAIMFLOW_MLFLOW_PORT": str(mlflow_port)}
    proc = subprocess.Popen([str(BIN / "claimflow"), "ui", "--port", str(dagster_port)], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if _get(f"http://127.0.0.1:{dagster_port}/server_info") == 200:
                break
            assert proc.poll() is None, "claimflow ui exited early"
            time.sleep(1)
        assert _get(f"http://127.0.0.1:{dagster_port}/server_info") == 200
        assert _get(f"http://127.0.0.1:{mlflow_port}/health") == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _get(f"http://127.0.0.1:{mlflow_port}/health") == 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert _get(f"http://127.0.0.1:{mlflow_port}/health") != 200  # stopped with the UI
