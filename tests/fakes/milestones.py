"""A warehouse as the claims flow leaves it before the system-of-record step: for trace and SoR tests and benches."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from assets.resources import SystemOfRecordResource
from tests.fakes.system_of_record import CrashingClaimsSystem

QUEUES = ["fast_track", "standard", "specialist", "fraud_review", "human_review"]


def sor_audit_traces_job(home: str = ""):
    """The system-of-record write, the audit log and the claim traces, as a reconstructable job.

    `home` only keys Dagster's per-process cache of reconstructed definitions: each test home gets
    resources read from its own settings (`reconstructable_job(home)`).

    While `CLAIMFLOW_TEST_CRASH_AFTER=N` is set the system of record crashes after N claims
    (tests/fakes/system_of_record.py), read at each run, so a re-execution from failure can run
    without it; `CLAIMFLOW_TEST_NO_TRACES=1` leaves `claim_traces` out (the benchmark's baseline).
    """
    import dagster as dg

    from orchestration.definitions import build_definitions

    defs = build_definitions()
    resources = dict(defs.resources)
    resources["system_of_record"] = CrashWhenToldSystemOfRecordResource(url=resources["system_of_record"].url)
    selection = ["system_of_record_updates", "audit_log"]
    if os.environ.get("CLAIMFLOW_TEST_NO_TRACES") != "1":
        selection.append("claim_traces")
    job = dg.define_asset_job("sor_audit_traces", selection=dg.AssetSelection.assets(*selection),
                              executor_def=dg.in_process_executor)
    return dg.Definitions(assets=defs.assets, resources=resources, jobs=[job]).resolve_job_def("sor_audit_traces")


class CrashWhenToldSystemOfRecordResource(SystemOfRecordResource):
    """The system of record, crashing part-way through a batch while `CLAIMFLOW_TEST_CRASH_AFTER` is set."""

    def claims(self):
        crash = os.environ.get("CLAIMFLOW_TEST_CRASH_AFTER")
        if not crash:
            return super().claims()
        system = CrashingClaimsSystem(self._ready_url(), int(crash))
        system.ensure_schema()
        return system



def land_milestones(home: Path, claims: int) -> list[str]:
    """What intake, parsing, scoring, routing and drafting leave in the warehouse for `claims` claims;
    returns their numbers. The system-of-record write, audit and traces are left to the jobs under test."""
    from connectors.schema import (
        CLAIM_EMAILS,
        CLAIM_MESSAGES,
        EMAIL_RECEIPTS,
        PARSED_CLAIMS,
        RISK_SCORES,
        STATUS_DRAFTS,
        TRIAGE_DECISIONS,
    )
    from connectors.warehouse import Warehouse

    wh = Warehouse(home / "warehouse.duckdb")
    wh.ensure_schema()
    t0 = datetime(2026, 11, 30, 9, 0)
    numbers = [f"CLM-2026-{i + 1:06d}" for i in range(claims)]
    hashes = [f"hash{i:06d}" for i in range(claims)]
    delivered = [t0 + timedelta(seconds=7 * i) for i in range(claims)]
    ingested = [t0 + timedelta(minutes=40)] * claims
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
            "claim_number": numbers, "model_version": "1", "queue": [QUEUES[i % 5] for i in range(claims)],
            "rule": "R0", "reason": "test", "inputs": json.dumps({}), "input_hash": hashes,
            "needs_human": [QUEUES[i % 5] == "human_review" for i in range(claims)], "skill": "auto_collision",
            "proposed_queue": ["standard" if QUEUES[i % 5] == "human_review" else None for i in range(claims)],
            "policy_verdict": "verified", "policy_reason": "ok", "risk_score": 0.2, "received_at": delivered,
            "decided_at": t0 + timedelta(minutes=46), "run_id": "run-triage"}),
        STATUS_DRAFTS: pd.DataFrame({"claim_number": numbers, "model_version": "1", "subject": "s", "body": "b",
                                     "payload": "{}", "provenance": "template", "cost_usd": 0.0,
                                     "drafted_at": t0 + timedelta(minutes=47), "run_id": "run-triage"}),
    }
    with wh.transaction() as con:
        for table, frame in frames.items():
            wh.append(con, table, frame)
    return numbers


def reconstructable_job(home: Path):
    """`sor_audit_traces_job` for `home`, reconstructable (re-execution from failure needs it)."""
    import dagster as dg

    return dg.build_reconstructable_job("tests.fakes.milestones", "sor_audit_traces_job",
                                        reconstructable_args=(str(home),))
