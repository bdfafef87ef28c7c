"""The MLflow tracking server of the embedded default: SQLite backend, local artifact store, loopback.

The demo, `make ui` and the test fixtures start it; whoever starts it stops it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def start_tracking_server(
    root: Path, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1", timeout: float = 90, reuse: bool = True
) -> TrackingServer:
    """Start `mlflow server` on `host:port` with its store under `root`; reuse one already healthy there."""
    url = f"http://{host}:{port}"
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "server.log"
    if reuse and is_healthy(url):
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
            return TrackingServer(url, proc, log_path)
        time.sleep(0.5)
    TrackingServer(url, proc, log_path).stop()
    raise TrackingServerError(f"mlflow server not healthy at {url} after {timeout:.0f} s; see {log_path}")
