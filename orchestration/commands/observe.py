"""`claimflow trace` (a claim's timeline) and `claimflow metrics` (the Prometheus exporter)."""

from __future__ import annotations

import json
import signal
import threading

from orchestration.commands import CliError, Parser
from orchestration.commands.review import sor_url


def _collector():
    from monitoring.metrics import ClaimflowCollector
    from orchestration.settings import settings

    s = settings()
    return ClaimflowCollector(home=s.home, warehouse_path=s.warehouse_path, sor_url=sor_url(),
                              inbox_dir=s.inbox_dir)


def metrics_port() -> int:
    """`CLAIMFLOW_METRICS_PORT`, default 9464 (Prometheus' conventional exporter range)."""
    from orchestration.settings import settings

    return settings().metrics_port


def cmd_trace(args) -> int:
    import duckdb

    from assets.project import claimflow_home, warehouse_path
    from connectors.audit import AuditLog
    from connectors.schema import CLAIM_STEPS
    from monitoring import telemetry

    claim = args.claim.strip().upper()
    if not warehouse_path().exists():
        raise CliError(f"no warehouse at {warehouse_path()}: run the claims flow first")
    try:
        con = duckdb.connect(str(warehouse_path()), read_only=True)
    except duckdb.IOException:
        raise CliError("the warehouse is locked by a running job; try again when it ends") from None
    try:
        ledger = con.execute(f"select * from {CLAIM_STEPS} where claim_number = ? order by started_at",
                             [claim]).df()
    except duckdb.CatalogException:
        raise CliError("no step ledger yet: run the claims flow first") from None
    finally:
        con.close()
    if ledger.empty:
        raise CliError(f"no trace for {claim}: unknown claim, or not processed yet")
    trace_id = telemetry.claim_trace_id(claim)
    spans = telemetry.read_spans(claimflow_home())
    audit = [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action}
             for e in AuditLog(sor_url()).entries(subject=claim)]
    events = telemetry.timeline(ledger, spans, audit)
    done = telemetry.completeness(ledger, [claim]).iloc[0]
    if args.json:
        print(json.dumps({"claim_number": claim, "trace_id": trace_id, "complete": bool(done["complete"]),
                          "missing": done["missing"], "events": events}, indent=2, default=str))
        return 0
    print(f"{claim}  trace {trace_id}  "
          + ("complete" if done["complete"] else f"incomplete (missing: {done['missing']})"))
    for e in events:
        ms = f"{e['ms']:>9.1f} ms" if e["ms"] is not None else " " * 12
        print(f"  {e['at'][:23]:<23}  {e['what']:<24} {e['status']:<6}{ms}  {e['run']:<8}  {e['detail']}")
    return 0


def cmd_metrics_show(args) -> int:
    from monitoring.metrics import exposition

    print(exposition(_collector()), end="")
    return 0


def cmd_metrics_serve(args) -> int:
    from monitoring.metrics import serve

    port = args.port or metrics_port()
    try:
        server, _thread = serve(_collector(), port)
    except OSError as err:
        raise CliError(f"cannot serve metrics on 127.0.0.1:{port}: {err.strerror or err}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"metrics on http://127.0.0.1:{server.server_port}/metrics (Ctrl-C stops)", flush=True)
    stop.wait()
    server.shutdown()
    return 0


def register(sub) -> None:
    """Add `trace` and `metrics show|serve` to the top-level sub-parsers."""
    t = sub.add_parser("trace", help="a claim's timeline: each step's span, the outside calls, its audit entries")
    t.add_argument("claim", help="claim number, e.g. CLM-2026-000123")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_trace)
    m = sub.add_parser("metrics", help="Prometheus metrics of this home")
    cmds = m.add_subparsers(dest="metrics_command", required=True, parser_class=Parser)
    s = cmds.add_parser("show", help="print one scrape in the Prometheus text format")
    s.set_defaults(func=cmd_metrics_show)
    v = cmds.add_parser("serve", help="serve /metrics on 127.0.0.1 until stopped (CLAIMFLOW_METRICS_PORT, 9464)")
    v.add_argument("--port", type=int, default=None)
    v.set_defaults(func=cmd_metrics_serve)


def demo_monitoring() -> tuple[bool, str]:
    """Today's live-model verdict, and where the traces and metrics are; for the demo's summary."""
    from datetime import UTC, datetime

    from assets.project import claimflow_home, warehouse_path
    from connectors.schema import CLAIM_STEPS
    from connectors.warehouse import Warehouse
    from monitoring import telemetry
    from orchestration.runner import first_failure, run_job
    from orchestration.settings import settings

    day = datetime.now(UTC).date().isoformat()
    result = run_job("live_monitoring", partition_key=day)
    lines = []
    if not result.success:
        return False, f"  live monitoring failed: {first_failure(result)}"
    md = {e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
          for e in result.get_asset_materialization_events()}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    live = md.get("live_drift", {})
    lines.append(f"  live model ({day})  {live.get('claims', 0)} claims scored today, "
                 f"drift {'none' if checks.get('no_live_drift') else 'ALERT: ' + str(live.get('alerts'))}, "
                 f"bias {'within four-fifths' if checks.get('bias_within_four_fifths') else 'ALERT'}, "
                 f"serving cost {'within budget' if checks.get('cost_within_budget') else 'OVER BUDGET'}")
    if live.get("report") and str(live["report"]).endswith(".html"):
        lines.append(f"  monitoring report  {live['report']}")
    ledger = Warehouse(warehouse_path()).read(f"select claim_number, step from {CLAIM_STEPS}")
    done = telemetry.completeness(ledger)
    complete = done[done["complete"]]
    lines.append(f"  traces             {len(complete)} of {len(done)} claims traced end to end, spans in "
                 f"{telemetry.telemetry_dir(claimflow_home()) / telemetry.SPANS_FILE}")
    if not complete.empty:
        lines.append(f"  one claim's trace  .venv/bin/claimflow trace {complete['claim_number'].iloc[0]}")
    lines.append(f"  metrics            .venv/bin/claimflow metrics show (or `metrics serve`: "
                 f"http://127.0.0.1:{settings().metrics_port}/metrics); Prometheus/Grafana files in deploy/monitoring/")
    return True, "\n".join(lines)


def start_metrics_exporter():
    """Serve /metrics from this process (a daemon thread) for as long as it runs; None if the port is taken.

    `claimflow serve` and `claimflow ui` call it, so the platform's long-running side is scraped.
    """
    from monitoring.metrics import serve

    try:
        server, _thread = serve(_collector(), metrics_port())
    except OSError as err:
        print(f"metrics     not served: 127.0.0.1:{metrics_port()} is taken ({err.strerror or err})")
        return None
    print(f"Metrics     http://127.0.0.1:{server.server_port}/metrics  (Prometheus; deploy/monitoring/)")
    return server
