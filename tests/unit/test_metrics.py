"""Metrics: the names the dashboard and alert rules use exist in code, and a scrape reads the real stores."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.project import PROJECT_ROOT
from monitoring.metrics import METRICS, ClaimflowCollector, exposition, histogram_buckets

MONITORING_DIR = PROJECT_ROOT / "deploy" / "monitoring"
# Triton's own metrics are scraped beside ours; their names are Triton's, not Claimflow's.
FOREIGN_PREFIXES = ("nv_",)


def _names_in(expr: str) -> set[str]:
    names = set()
    for token in re.findall(r"\b([a-z_][a-z0-9_]*)\b", expr):
        if token.startswith("claimflow_") or token.startswith(FOREIGN_PREFIXES):
            names.add(re.sub(r"_(bucket|sum|count)$", "", token))
    return names


def _dashboard_exprs() -> list[str]:
    dash = json.loads((MONITORING_DIR / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def _rule_exprs() -> list[str]:
    rules = yaml.safe_load((MONITORING_DIR / "alert_rules.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


@pytest.mark.parametrize("source", ["dashboard", "alert rules"])
def test_every_metric_the_dashboard_and_alerts_use_is_defined_in_code(source):
    exprs = _dashboard_exprs() if source == "dashboard" else _rule_exprs()
    used = set().union(*(_names_in(e) for e in exprs))
    ours = {n for n in used if n.startswith("claimflow_")}
    assert ours, f"the {source} use no Claimflow metric at all"
    assert ours <= set(METRICS), f"{source} use undefined metrics: {sorted(ours - set(METRICS))}"


def test_the_dashboard_shows_every_metric_the_code_defines():
    used = set().union(*(_names_in(e) for e in _dashboard_exprs()))
    assert set(METRICS) <= used, f"metrics without a panel: {sorted(set(METRICS) - used)}"


def test_histogram_buckets_are_cumulative_and_end_with_inf():
    buckets, total = histogram_buckets([0.1, 0.5, 0.5, 2.0], (0.25, 1.0))
    assert buckets == [("0.25", 1.0), ("1.0", 3.0), ("+Inf", 4.0)]
    assert total == pytest.approx(3.1)


def test_a_scrape_reads_inbox_warehouse_system_of_record_and_spans(tmp_path: Path):
    import duckdb
    import sqlalchemy as sa

    from connectors.schema import CLAIM_STEPS, PARSED_CLAIMS, RISK_SCORES, TRIAGE_DECISIONS
    from connectors.warehouse import Warehouse
    from connectors.tracing import outside_call
    from monitoring import telemetry

    home = tmp_path / "home"
    inbox = home / "inbox"
    (inbox / "new").mkdir(parents=True)
    for i in range(3):
        (inbox / "new" / f"m{i}.eml").write_text("x")
    wh = Warehouse(home / "warehouse.duckdb")
    wh.ensure_schema()
    now = datetime(2026, 12, 1, 10, 0)
    with wh.transaction() as con:
        wh.append(con, PARSED_CLAIMS, pd.DataFrame({
            "claim_number": ["CLM-2026-000001", "CLM-2026-000002"],
            "confidence": [json.dumps({"amount": 0.95, "policy_number": 0.6}), json.dumps({"amount": 0.85})]}))
        wh.append(con, RISK_SCORES, pd.DataFrame({
            "claim_number": ["CLM-2026-000001", "CLM-2026-000002"], "model_version": ["3", "3"],
            "score": [0.12, 0.81]}))
        wh.append(con, TRIAGE_DECISIONS, pd.DataFrame({
            "claim_number": ["CLM-2026-000001", "CLM-2026-000002"], "model_version": ["3", "3"],
            "queue": ["fast_track", "specialist"], "received_at": [now, now],
            "decided_at": [now + timedelta(minutes=5), now + timedelta(minutes=90)]}))
        wh.append(con, CLAIM_STEPS, telemetry.step_rows(
            ["CLM-2026-000001", "CLM-2026-000002"], "score", "run-1", now, now + timedelta(seconds=2)))
    engine = sa.create_engine(f"sqlite:///{home / 'sor.db'}")
    with engine.begin() as c:
        c.execute(sa.text("create table review_items (id integer primary key, status text, suggested_rule text, "
                          "created_at timestamp)"))
        c.execute(sa.text("insert into review_items (status, suggested_rule, created_at) values "
                          "('open', 'R1', :a), ('claimed', 'R1', :a), ('decided', 'R5', :a)"),
                  {"a": datetime.now() - timedelta(hours=2)})
    engine.dispose()
    telemetry.configure(home, endpoint="")
    with outside_call("triton", "infer", claims=2):
        pass
    with pytest.raises(RuntimeError), outside_call("claude", "messages"):
        raise RuntimeError("overloaded")
    telemetry.flush()

    text = exposition(ClaimflowCollector(home=home, warehouse_path=home / "warehouse.duckdb",
                                         sor_url=f"sqlite:///{home / 'sor.db'}", inbox_dir=inbox))
    assert "claimflow_inbox_backlog 3.0" in text
    assert 'claimflow_review_queue_depth{rule="R1"} 2.0' in text
    assert 'claimflow_risk_score_count{model_version="3"} 2.0' in text
    assert 'claimflow_extraction_confidence_count{field="amount"} 2.0' in text
    assert 'claimflow_claims_decided_total{queue="specialist"} 1.0' in text
    assert "claimflow_slo_decided_in_time_ratio 0.5" in text  # one of two within 60 minutes
    assert 'claimflow_outside_call_errors_total{system="claude"} 1.0' in text
    assert 'claimflow_outside_call_errors_total{system="triton"} 0.0' in text
    assert 'claimflow_step_duration_seconds_count{step="score"} 1.0' in text  # one batch, not one per claim
    # a warehouse locked by a writer in another process costs a scrape error, not a failed scrape:
    # the last values stay and the miss is counted
    import subprocess
    import sys
    import time

    collector = ClaimflowCollector(home=home, warehouse_path=home / "warehouse.duckdb",
                                   sor_url=f"sqlite:///{home / 'sor.db'}", inbox_dir=inbox)
    exposition(collector)
    writer = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)"),
        str(home / "warehouse.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        time.sleep(0.2)
        text = exposition(collector)
    finally:
        writer.kill()
        writer.wait()
    assert 'claimflow_metrics_scrape_errors_total{store="warehouse"} 1.0' in text
    assert 'claimflow_risk_score_count{model_version="3"} 2.0' in text
