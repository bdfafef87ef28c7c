"""`claimflow ui`: the Dagster UI, the MLflow UI and the review workspace over the local instance, until Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cmd_ui(args) -> int:
    from assets.project import PROJECT_ROOT, mlflow_dir
    from models.tracking import start_tracking_server
    from orchestration.runner import prepare_dagster_home
    from orchestration.settings import settings

    home = prepare_dagster_home()
    port = settings().mlflow_port
    with start_tracking_server(mlflow_dir(), port=port) as mlflow:
        print(f"MLflow UI   {mlflow.url}  (registry: {mlflow.url}/#/models/claims_risk)")
        print(f"Dagster UI  http://127.0.0.1:{args.port}  (instance {home})")
        from orchestration.commands.observe import start_metrics_exporter

        start_metrics_exporter()  # a thread of this process: it stops with it
        # The review workspace beside them, as its own process (`claimflow web`), stopped with the UIs.
        web = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "web"], cwd=PROJECT_ROOT)
        dagster = Path(sys.executable).with_name("dagster")
        cmd = [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(args.port)]
        try:
            return subprocess.call(cmd, env=os.environ | {"DAGSTER_HOME": str(home)}, cwd=PROJECT_ROOT)
        except KeyboardInterrupt:
            return 0
        finally:
            web.terminate()
            try:
                web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                web.kill()


def register(sub) -> None:
    p = sub.add_parser("ui", help="start the Dagster UI, the MLflow UI and the workspace on loopback (Ctrl-C stops all)")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    p.set_defaults(func=cmd_ui)
