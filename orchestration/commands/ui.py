"""`claimflow ui`: the platform the Dagster UI drives, until Ctrl-C or SIGTERM.

Dagster's webserver and daemon (`dagster dev`, so schedules and sensors run), the MLflow
server, Triton on the champion when there is one (the claims flow's `serving_deployment` and
`risk_scores` need it), and the review workspace. Every process it starts is stopped on exit.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from orchestration.commands.lifecycle import (
    stop_group,
    stop_on_signals,
    tracking_server,
)


def _start_triton(mlflow_url: str):
    """Triton on the champion, or None (and why) when there is no champion yet."""
    from models.serving.server import TritonError
    from orchestration.runner import start_serving

    try:
        return start_serving(mlflow_url)
    except RuntimeError as err:
        print(f"Triton      not started: {str(err).splitlines()[0]}")
    except TritonError as err:
        print(f"Triton      failed to start: {str(err).splitlines()[0]} (see $CLAIMFLOW_HOME/logs/triton.log)")
    return None, None


def cmd_ui(args) -> int:
    from assets.project import PROJECT_ROOT
    from orchestration.runner import prepare_dagster_home

    home = prepare_dagster_home()
    web = dagster = None
    with stop_on_signals(), contextlib.ExitStack() as stack:
        try:
            mlflow = tracking_server(stack)
            print(f"MLflow UI   {mlflow.url}  (registry: {mlflow.url}/#/models/claims_risk)")
            triton, champion = (None, None) if args.no_triton else _start_triton(mlflow.url)
            if triton is not None:
                stack.enter_context(triton)
                print(f"Triton      claims_risk version {champion} on {triton.url_grpc}")
            print(f"Dagster UI  http://127.0.0.1:{args.port}  (instance {home}; webserver and daemon)", flush=True)
            from orchestration.commands.observe import start_metrics_exporter

            start_metrics_exporter()  # a thread of this process: it stops with it
            # Own process groups, so stopping them reaches their children (code server, uvicorn workers).
            web = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "web"], cwd=PROJECT_ROOT,
                                   start_new_session=True)
            dagster_bin = Path(sys.executable).with_name("dagster")
            cmd = [str(dagster_bin), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
                   "-p", str(args.port)]
            dagster = subprocess.Popen(cmd, env=os.environ | {"DAGSTER_HOME": str(home)}, cwd=PROJECT_ROOT,
                                       start_new_session=True)
            return dagster.wait()
        except (KeyboardInterrupt, SystemExit):
            return 0
        finally:
            stop_group(dagster)
            stop_group(web)


def register(sub) -> None:
    p = sub.add_parser("ui", help="start Dagster (webserver + daemon), MLflow, Triton on the champion and the "
                                  "workspace on loopback (Ctrl-C or SIGTERM stops all)")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    p.add_argument("--no-triton", action="store_true", help="do not start Triton on the champion")
    p.set_defaults(func=cmd_ui)
