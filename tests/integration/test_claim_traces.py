"""One trace per claim: complete from intake to audit, also when the run failed half-way and was re-executed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

pytestmark = pytest.mark.integration
CLAIMS = 300
QUEUES = ["fast_track", "standard", "specialist", "fraud_review", "human_review"]


def _milestones(home) -> None:
    """What intake, parsing, scoring, routing and drafting leave in the warehouse for `CLAIMS` claims."""
    from connectors.schema import (
        CLAIM_EMAILS, CLAIM_MESSAGES, EMAIL_RECEIPTS, PARSED_CLAIMS, RISK_SCORES, STATUS_DRAFTS, TRIAGE_DECISIONS,
    )
    from connectors.warehouse import Warehouse

    wh = Warehouse(home / "warehouse.duckdb")
    wh.ensure_schema()
    t0 = datetime(2026, 11, 30, 9, 0)
    numbers = [f"CLM-2026-{i + 1:06d}" for i in range(CLAIMS)]
    hashes = [f"hash{i:06d}" for i in range(CLAIMS)]
    delivered = [t0 + timedelta(seconds=7 * i) for i in range(CLAIMS)]
    ingested = [t0 + timedelta(minutes=40)] * CLAIMS
    frames = {
        EMAIL_RECEIPTS: pd.DataFrame({"inbox_key": hashes, "content_hash": hashes, "delivered_at": delivered,
                                      "ingested_at": ingested, "duplicate": False, "run_id": "run-intake"}),
        CLAIM_EMAILS: pd.DataFrame({"content_hash": hashes, "received_at": delivered, "ingested_at": ingested,
                                    "run_id": "run-intake"}),
        CLAIM_MESSAGES: pd.DataFrame({"content_hash": hashes, "claim_number": numbers, "relation": "claim",
                                      "processed_at": t0 + timedelta(minutes=41), "extractor_version": "rules-3",
                                      "run_id": "run-intake"}),
        PARSED_CLAIMS: pd.DataFrame({"claim_number": numbers, "source_content_hash": hashes,
                                     "received_at": delivered, "updated_run_id": "run-intake"}),
        RISK_SCORES: pd.DataFrame({"claim_number": numbers, "model_version": "1", "score": 0.2,
                                   "served_by": "triton", "scored_at": t0 + timedelta(minutes=45),
                                   "run_id": "run-triage"}),
        TRIAGE_DECISIONS: pd.DataFrame({
            "claim_number": numbers, "model_version": "1", "queue": [QUEUES[i % 5] for i in range(CLAIMS)],
            "rule": "R0", "reason": "test", "inputs": json.dumps({}), "input_hash": hashes,
            "needs_human": [QUEUES[i % 5] == "human_review" for i in range(CLAIMS)], "skill": "auto_collision",
            "proposed_queue": ["standard" if QUEUES[i % 5] == "human_review" else None for i in range(CLAIMS)],
            "policy_verdict": "verified", "policy_reason": "ok", "risk_score": 0.2, "received_at": delivered,
            "decided_at": t0 + timedelta(minutes=46), "run_id": "run-triage"}),
        STATUS_DRAFTS: pd.DataFrame({"claim_number": numbers, "model_version": "1", "subject": "s", "body": "b",
                                     "payload": "{}", "provenance": "template", "cost_usd": 0.0,
                                     "drafted_at": t0 + timedelta(minutes=47), "run_id": "run-triage"}),
    }
    with wh.transaction() as con:
        for table, frame in frames.items():
            wh.append(con, table, frame)


def _job():
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    job = dg.define_asset_job(
        "sor_audit_traces",
        selection=dg.AssetSelection.assets("system_of_record_updates", "audit_log", "claim_traces"),
        executor_def=dg.in_process_executor,
    )
    return dg.Definitions(assets=defs.assets, resources=defs.resources, jobs=[job]).resolve_job_def("sor_audit_traces")


def test_every_claim_has_a_complete_trace_and_a_rerun_adds_no_span(claimflow_home, dbt_manifest):
    from connectors.schema import CLAIM_STEPS
    from connectors.warehouse import Warehouse
    from monitoring import telemetry

    claimflow_home.mkdir(parents=True)
    _milestones(claimflow_home)
    with dg.instance_for_test() as instance:
        first = dg.execute_job(dg.reconstructable(_job), instance, raise_on_error=False)
        assert first.success
        again = dg.execute_job(dg.reconstructable(_job), instance, raise_on_error=False)
        assert again.success
    wh = Warehouse(claimflow_home / "warehouse.duckdb")
    ledger = wh.read(f"select * from {CLAIM_STEPS}")
    done = telemetry.completeness(ledger, [f"CLM-2026-{i + 1:06d}" for i in range(CLAIMS)])
    assert done["complete"].all(), done[~done["complete"]].head()
    assert len(ledger) == CLAIMS * len(telemetry.CLAIM_STEPS)  # the second run added nothing
    spans = telemetry.read_spans(claimflow_home)
    steps = spans[spans["kind"] == "claim_step"]
    assert len(steps) == len(ledger)
    one = telemetry.claim_trace_id("CLM-2026-000007")
    trace = steps[steps["trace_id"] == one]
    assert list(trace["step"]) == list(telemetry.CLAIM_STEPS)  # in order, each starting where the last ended
    assert (trace["start_ns"].to_numpy()[1:] == trace["end_ns"].to_numpy()[:-1]).all()
    # the system-of-record write was a real outside call, traced with its status
    calls = spans[spans["kind"] == "outside_call"]
    assert "system_of_record" in set(calls["system"])


def test_claimflow_trace_prints_a_claims_timeline(claimflow_home, dbt_manifest, capsys):
    from orchestration.cli import main

    claimflow_home.mkdir(parents=True)
    _milestones(claimflow_home)
    with dg.instance_for_test() as instance:
        assert dg.execute_job(dg.reconstructable(_job), instance, raise_on_error=False).success
    assert main(["trace", "clm-2026-000003"]) == 0
    out = capsys.readouterr().out
    assert "CLM-2026-000003" in out and "complete" in out and "incomplete" not in out
    for step in ("intake", "parse", "score", "route", "draft", "sor_write", "audit"):
        assert f"step {step}" in out
    assert "audit triage.decision" in out
    assert main(["trace", "CLM-2026-999999"]) == 2
    assert capsys.readouterr().err.startswith("claimflow: no trace for CLM-2026-999999")
