"""Long-running commands (`claimflow serve`, `claimflow ui`) stop everything they started.

SIGTERM and SIGHUP become `SystemExit` in the main thread, so every `with` block unwinds:
Triton (its process group, stubs, shared memory and temporary work folder), the MLflow
server (its process group: gunicorn/uvicorn workers), and child process groups such as
`dagster dev` (webserver, daemon, code server). Regression (issue 12, finding 6): `kill -TERM`
left tritonserver, MLflow and its helpers, and Dagster's webserver and code server running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM/SIGHUP into SystemExit while the block runs (Ctrl-C already raises KeyboardInterrupt)."""

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def stop_group(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """Stop a child started with `start_new_session=True` and everything in its process group."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            # The leader is gone; stragglers of its group get the same signal once more.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            break
        except subprocess.TimeoutExpired:
            continue


def tracking_server(stack: contextlib.ExitStack):
    """The MLflow a long-running command uses: `MLFLOW_TRACKING_URI` when set (a service of its own, never
    started or stopped here; it must answer /health), else a server on this home's store, which `stack` stops."""
    from assets.project import mlflow_dir
    from models.tracking import TrackingServer, is_healthy, start_tracking_server
    from orchestration.commands import CliError
    from orchestration.settings import settings

    external = (os.environ.get("MLFLOW_TRACKING_URI") or "").strip()
    if not external:
        return stack.enter_context(start_tracking_server(mlflow_dir(), port=settings().mlflow_port))
    if not is_healthy(external, timeout=5):
        raise CliError(f"MLFLOW_TRACKING_URI={external} does not answer /health; start it or unset "
                       "MLFLOW_TRACKING_URI to run MLflow on this home's store")  # fmt: skip
    return TrackingServer(external, None, mlflow_dir() / "server.log")
