"""The MLflow tracking server of the embedded default: SQLite backend, local artifact store, loopback.

The demo, `make ui` and the test fixtures start it; whoever starts it stops it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 5000


class TrackingServerError(RuntimeError):
    """The server did not come up (or went away)."""


@dataclass
class TrackingServer:
    url: str
    process: subprocess.Popen | None  # None when an already running server was reused
    log_path: Path

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)

    def __enter__(self) -> TrackingServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def is_healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: MLflow's job runner off, no usage telemetry.

    MLflow 3.17 starts a job runner (huey consumer plus a pool of helper workers)
    beside every SQL-backed server, for server-side jobs (trace rollups, scorers)
    that lineage and the registry never use; on a 2-core machine those processes
    took the CPU the server needed to answer the training run's calls.
    """
    env = dict(os.environ if base is None else base)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return env


INSTANCE_EXPERIMENT = "claimflow-instance"
INSTANCE_TAG = "claimflow.instance_id"


def instance_id(root: Path) -> str:
    """The id of the MLflow store under `root`, written once when the store is first used."""
    path = root / "instance_id"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(uuid.uuid4().hex)
    return path.read_text().strip()


def _api(url: str, method: str, path: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def served_instance(url: str) -> str | None:
    """The instance id the server at `url` proves it serves (a tag on a marker experiment), or None."""
    try:
        exp = _api(url, "GET", f"experiments/get-by-name?experiment_name={INSTANCE_EXPERIMENT}")["experiment"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None
    return next((t["value"] for t in exp.get("tags", []) if t.get("key") == INSTANCE_TAG), None)


def stamp_instance(url: str, instance: str) -> None:
    """Mark the store a freshly started server serves with this home's instance id."""
    tags = [{"key": INSTANCE_TAG, "value": instance}]
    try:
        _api(url, "POST", "experiments/create", {"name": INSTANCE_EXPERIMENT, "tags": tags})
    except urllib.error.HTTPError:  # it exists: (re)state the tag
        exp = _api(url, "GET", f"experiments/get-by-name?experiment_name={INSTANCE_EXPERIMENT}")["experiment"]
        _api(url, "POST", "experiments/set-experiment-tag",
             {"experiment_id": exp["experiment_id"], "key": INSTANCE_TAG, "value": instance})


def start_tracking_server(
    root: Path, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1", timeout: float = 90, reuse: bool = True
) -> TrackingServer:
    """Start `mlflow server` on `host:port` with its store under `root`; reuse one already healthy there."""
    url = f"http://{host}:{port}"
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "server.log"
    instance = instance_id(root)
    if reuse and is_healthy(url):
        served = served_instance(url)
        if served != instance:
            # Regression: a demo on a new home attached to another home's registry and failed later, obscurely.
            raise TrackingServerError(
                f"port {port} already has an MLflow server, serving "
                + (f"another store (instance {served})" if served else "a store Claimflow did not start")
                + f", not {root}: stop it or set CLAIMFLOW_MLFLOW_PORT to a free port"
            )
        return TrackingServer(url, None, log_path)
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [
        os.fspath(mlflow_bin) if mlflow_bin.exists() else "mlflow",
        "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", os.fspath(root / "artifacts"),
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_environment())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TrackingServerError(f"mlflow server exited with {proc.returncode}; see {log_path}")
        if is_healthy(url):
            stamp_instance(url, instance)
            return TrackingServer(url, proc, log_path)
        time.sleep(0.5)
    TrackingServer(url, proc, log_path).stop()
    raise TrackingServerError(f"mlflow server not healthy at {url} after {timeout:.0f} s; see {log_path}")
