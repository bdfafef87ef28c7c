"""`claimflow ui` stops every process it started when it gets SIGTERM (checked by PID).

Regression (issue 12, finding 6): SIGTERM to `claimflow ui` left the MLflow server and the
`dagster dev` webserver and code server running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from models.tracking import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every live descendant of `pid`, from /proc."""
    out, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in out:
                    out.add(child)
                    todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_sigterm_to_the_ui_stops_dagster_mlflow_and_their_children(claimflow_home, dbt_manifest, tmp_path):
    dagster_port, mlflow_port = free_port(), free_port()
    env = os.environ | {"CLAIMFLOW_HOME": str(claimflow_home), "CLAIMFLOW_MLFLOW_PORT": str(mlflow_port),
                        "CLAIMFLOW_METRICS_PORT": str(free_port()), "CLAIMFLOW_WEB_PORT": str(free_port())}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(tmp_path / "ui.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "ui", "--port", str(dagster_port),
                             "--no-triton"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 400  # dagster dev loads every definition: slow on a shared 2-core box
        while time.monotonic() < deadline and not up(f"http://127.0.0.1:{dagster_port}/server_info"):
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()[-2000:]
            time.sleep(1)
        assert up(f"http://127.0.0.1:{dagster_port}/server_info") and up(f"http://127.0.0.1:{mlflow_port}/health")
        time.sleep(3)  # the code server and daemon come up after the webserver answers
        started = descendants(proc.pid)
        assert len(started) >= 3  # MLflow, dagster dev and its webserver / daemon / code server
        proc.send_signal(signal.SIGTERM)  # the process only, as systemd or `kill` would
        assert proc.wait(90) == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in started):
            time.sleep(1)
        assert not [p for p in started if alive(p)]
        assert not up(f"http://127.0.0.1:{mlflow_port}/health")
    finally:
        for pid in {proc.pid, *started}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
