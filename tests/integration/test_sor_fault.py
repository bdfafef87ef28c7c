"""The system-of-record step fails after part of a batch; re-executing the run from failure writes
every effect exactly once. The same scenario without idempotency keys shows duplicates, so the
checker below is proven able to catch them. The crash comes from a fake system of record swapped in
by resource key (tests/fakes/system_of_record.py), not from asset config."""

from __future__ import annotations

import json
from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from fakes.system_of_record import CrashingSystemOfRecordResource, UnkeyedClaimsSystem

from assets.claims.triage_assets import TRIAGE_STEP
from connectors.schema import TRIAGE_DECISIONS
from connectors.system_of_record import ClaimsSystem
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.integration
CLAIMS = 1200
FAIL_AFTER = 500
QUEUES = ["fast_track", "standard", "specialist", "fraud_review", "human_review"]
LOSSES = ["auto_collision", "auto_glass", "theft", "fire", "storm"]


def decisions() -> pd.DataFrame:
    rows = []
    for i in range(CLAIMS):
        queue = QUEUES[i % len(QUEUES)]
        rows.append({
            "claim_number": f"CLM-2026-{i + 1:06d}", "model_version": "1", "queue": queue, "rule": f"rule_{queue}",
            "reason": "test", "inputs": json.dumps({"i": i}), "input_hash": f"h{i}", "needs_human": queue == "human_review",
            "skill": LOSSES[i % len(LOSSES)], "proposed_queue": "standard" if queue == "human_review" else None,
            "policy_verdict": "verified", "policy_reason": "ok", "risk_score": (i % 100) / 100,
            "received_at": datetime(2026, 9, 1), "decided_at": datetime(2026, 9, 2), "run_id": "test",
        })
    return pd.DataFrame(rows)


def _sor_job(crash_after: int | None):
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    resources = dict(defs.resources)
    if crash_after is not None:  # the same system of record, whose writes crash part-way through
        resources["system_of_record"] = CrashingSystemOfRecordResource(
            url=resources["system_of_record"].url, crash_after=crash_after
        )
    job = dg.define_asset_job(
        "sor_only", selection=dg.AssetSelection.assets("system_of_record_updates"), executor_def=dg.in_process_executor
    )
    return dg.Definitions(assets=defs.assets, resources=resources, jobs=[job]).resolve_job_def("sor_only")


def sor_job():
    """The system-of-record step alone, as a reconstructable job (re-execution needs one)."""
    return _sor_job(None)


def crashing_sor_job():
    """The same job on a system of record that crashes after FAIL_AFTER claims."""
    return _sor_job(FAIL_AFTER)


def duplicates_and_losses(url: str, expected_claims: set[str]) -> tuple[int, int]:
    """(duplicate writes, lost claims) in the system of record: what a retry must never produce."""
    engine = sa.create_engine(url)
    with engine.connect() as con:
        dup_assign = con.execute(sa.text(
            "select coalesce(sum(n - 1), 0) from (select count(*) n from assignments group by claim_number) t"
        )).scalar_one()
        dup_outbox = con.execute(sa.text(
            "select coalesce(sum(n - 1), 0) from (select count(*) n from outbox group by claim_number) t"
        )).scalar_one()
        dup_items = con.execute(sa.text(
            "select coalesce(sum(n - 1), 0) from (select count(*) n from review_items group by claim_number) t"
        )).scalar_one()
        load = con.execute(sa.text("select coalesce(sum(current_load), 0) from specialists")).scalar_one()
        assigned = con.execute(sa.text("select count(*) from assignments")).scalar_one()
        claims = {r[0] for r in con.execute(sa.text("select claim_number from claims"))}
    engine.dispose()
    # A handler's load counted twice is a duplicate effect too.
    return dup_assign + dup_outbox + dup_items + abs(load - assigned), len(expected_claims - claims)


@pytest.fixture
def home(claimflow_home, dbt_manifest):
    claimflow_home.mkdir(parents=True)
    Warehouse(claimflow_home / "warehouse.duckdb").ensure_schema()
    with duckdb.connect(str(claimflow_home / "warehouse.duckdb")) as con:
        frame = decisions()
        con.execute(f"insert into {TRIAGE_DECISIONS} by name select * from frame")
    return claimflow_home


def test_re_executing_from_failure_writes_each_effect_once_and_without_keys_it_would_not(home, tmp_path):
    url = f"sqlite:///{home / 'system_of_record.db'}"
    expected = set(decisions()["claim_number"])
    with dg.instance_for_test() as instance:
        job = dg.reconstructable(sor_job)
        first = dg.execute_job(dg.reconstructable(crashing_sor_job), instance, raise_on_error=False)
        assert not first.success
        dups, lost = duplicates_and_losses(url, expected)
        assert dups == 0 and 0 < CLAIMS - lost < CLAIMS  # part of the batch is in, nothing doubled

        again = dg.execute_job(
            job, instance,
            reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance), raise_on_error=False,
        )
        assert again.success
    assert duplicates_and_losses(url, expected) == (0, 0)
    system = ClaimsSystem(url)
    assert len(system.applied_keys(TRIAGE_STEP)) == CLAIMS

    # The same scenario with the keys switched off: the checker sees the duplicates.
    blind = UnkeyedClaimsSystem(f"sqlite:///{tmp_path / 'blind.db'}")
    blind.ensure_schema()
    from assets.claims.assignment import assign, default_roster

    blind.seed_roster(default_roster())
    frame = decisions()
    rows = [
        {"claim_number": r.claim_number, "queue": r.queue, "rule": r.rule, "reason": r.reason,
         "inputs": json.loads(r.inputs), "skill": r.skill, "proposed_queue": r.proposed_queue,
         "outbox": {"subject": "s", "body": "b", "payload": {}}}
        for r in frame.itertuples()
    ]
    from assets.claims.routing import Decision

    picks = assign([Decision(r["queue"], r["rule"], "", {}, False, r["claim_number"], r["skill"]) for r in rows],
                   blind.roster())
    for row, a in zip(rows, picks):
        row["assigned_to"] = a.specialist_id if a.assigned else None
    with pytest.raises(Exception):
        UnkeyedClaimsSystem(blind.url, crash_after=FAIL_AFTER).record_decisions(rows, step=TRIAGE_STEP, model_version="1")
    blind.record_decisions(rows, step=TRIAGE_STEP, model_version="1")
    dups, lost = duplicates_and_losses(f"sqlite:///{tmp_path / 'blind.db'}", expected)
    assert dups >= FAIL_AFTER and lost == 0
