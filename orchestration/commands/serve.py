"""`claimflow serve`: Triton serving the MLflow champion on loopback, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import time

from orchestration.commands import CliError
from orchestration.commands.lifecycle import stop_on_signals, tracking_server


def cmd_serve(args) -> int:
    from models.serving.server import TritonError
    from orchestration.runner import prepare_dagster_home, start_serving
    from orchestration.settings import SettingsError

    prepare_dagster_home()
    # Every server below is a context manager: SIGTERM unwinds them all (processes, temp folders).
    with stop_on_signals(), contextlib.ExitStack() as stack:
        url = tracking_server(stack).url
        try:
            triton, champion = start_serving(url)
        except (RuntimeError, TritonError, SettingsError) as err:
            raise CliError(str(err).splitlines()[0]) from None
        with triton:
            print(f"Triton serves claims_risk version {champion} (the MLflow champion)")
            print(f"  gRPC     {triton.url_grpc}\n  HTTP     {triton.url_http}\n  metrics  {triton.metrics_url}")
            from orchestration.commands.observe import start_metrics_exporter

            start_metrics_exporter()  # a thread of this process: it stops with it
            print("Ctrl-C or SIGTERM stops it.", flush=True)
            try:
                while triton.alive():
                    time.sleep(1)
            except (KeyboardInterrupt, SystemExit):
                return 0
    raise CliError("tritonserver exited; see $CLAIMFLOW_HOME/logs/triton.log")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the champion model on Triton (ports: CLAIMFLOW_TRITON_*_PORT)")
    p.set_defaults(func=cmd_serve)
