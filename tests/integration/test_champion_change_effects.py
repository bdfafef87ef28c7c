"""A champion change through the real triage assets: scores and decisions per version, effects per state change.

Regression (issue 12, finding 1): after a promotion the next triage re-decided 523 claims, unassigned
180 of 181 assigned claims and queued a second status message to 520 customers.
"""

from __future__ import annotations

import json
from datetime import datetime

import dagster as dg
import pandas as pd
import pytest

from connectors.audit import AuditLog
from connectors.schema import STATUS_DRAFTS, TRIAGE_DECISIONS
from connectors.system_of_record import ClaimsSystem
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.integration
CLAIMS = 300
QUEUES = ["fast_track", "standard", "specialist", "fraud_review", "human_review"]
STATUS = {"fast_track": "fast_track", "standard": "received", "specialist": "specialist",
          "fraud_review": "under_review", "human_review": "under_review"}


def decisions(version: str, changed: dict[int, str], decided: datetime) -> pd.DataFrame:
    rows = []
    for i in range(CLAIMS):
        queue = changed.get(i, QUEUES[i % len(QUEUES)])
        rows.append({
            "claim_number": f"CLM-2026-{i + 1:06d}", "model_version": version, "queue": queue, "rule": f"rule_{queue}",
            "reason": "test", "inputs": json.dumps({"i": i}), "input_hash": f"h{i}", "needs_human": queue == "human_review",
            "skill": "fire", "proposed_queue": "standard" if queue == "human_review" else None,
            "policy_verdict": "verified", "policy_reason": "ok", "risk_score": (i % 100) / 100,
            "received_at": datetime(2026, 9, 1), "decided_at": decided, "run_id": f"run-{version}",
        })
    return pd.DataFrame(rows)


def drafts(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{
        "claim_number": r.claim_number, "model_version": r.model_version, "subject": f"Claim {r.claim_number}",
        "body": f"Your claim is {STATUS[r.queue]}", "payload": json.dumps({"status": STATUS[r.queue]}),
        "provenance": "{}", "cost_usd": 0.0, "drafted_at": r.decided_at, "run_id": r.run_id,
    } for r in frame.itertuples()])


def land(home, frame: pd.DataFrame) -> None:
    wh = Warehouse(home / "warehouse.duckdb")
    wh.ensure_schema()
    with wh.connect() as con:
        con.execute(f"insert into {TRIAGE_DECISIONS} by name select * from frame")
        d = drafts(frame)
        con.execute(f"insert into {STATUS_DRAFTS} by name select * from d")


def write_and_audit():
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    job = dg.define_asset_job("sor_and_audit", selection=dg.AssetSelection.assets("system_of_record_updates",
                                                                                   "audit_log"))
    job = dg.Definitions(assets=defs.assets, resources=defs.resources, jobs=[job]).resolve_job_def("sor_and_audit")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    return {e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def test_a_new_champion_changes_only_the_claims_whose_decision_changed(claimflow_home, monkeypatch):
    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    claimflow_home.mkdir(parents=True)
    land(claimflow_home, decisions("1", {}, datetime(2026, 9, 2)))
    first = write_and_audit()
    assert first["system_of_record_updates"]["new_decisions"] == CLAIMS
    assert first["system_of_record_updates"]["new_messages"] == CLAIMS
    url = f"sqlite:///{claimflow_home / 'system_of_record.db'}"
    system = ClaimsSystem(url)
    assigned = {c: a for c, a in ((r["claim_number"], r["specialist_id"]) for r in system.assignments())}
    loads = {h["id"]: h["current_load"] for h in system.roster()}

    # Version 2 agrees on all but ten claims: five to a queue that tells the customer something new,
    # five human_review -> fraud_review (the customer still reads "under review").
    changed = {i: "specialist" for i in range(1, 26, 5)} | {i: "fraud_review" for i in range(4, 29, 5)[:5]}
    land(claimflow_home, decisions("2", changed, datetime(2026, 9, 3)))
    second = write_and_audit()
    sor = second["system_of_record_updates"]
    assert sor["new_decisions"] == 10 and sor["new_messages"] == 5 and sor["unchanged"] == CLAIMS - 10
    # The claims that did not change kept their handler; the load moved only for the changed ones.
    moved = {f"CLM-2026-{i + 1:06d}" for i in changed}
    now = {c: system.claim(c)["assigned_to"] for c in assigned}
    assert all(now[c] == a for c, a in assigned.items() if c not in moved)
    # Loads follow the claims: no slot counted twice, none lost.
    holding = sum(1 for i in range(CLAIMS) if system.claim(f"CLM-2026-{i + 1:06d}")["assigned_to"])
    assert sum(h["current_load"] for h in system.roster()) == holding
    assert sum(loads.values()) == len(assigned)
    assert second["audit_log"]["appended"] == 10

    third = write_and_audit()  # the same run again: nothing at all
    assert third["system_of_record_updates"]["new_decisions"] == 0
    assert third["system_of_record_updates"]["new_messages"] == 0 and third["audit_log"]["appended"] == 0
    assert AuditLog(url).verify().intact
