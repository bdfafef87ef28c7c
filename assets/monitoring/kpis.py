"""What the claims team gave up, in numbers: cycle time, work done without a person, queue age, cost."""

import json

import dagster as dg
import pandas as pd

from assets.claims.routing import FAST_TRACK, SPECIALIST, STANDARD
from assets.groups import MONITORING
from assets.resources import SystemOfRecordResource, WarehouseResource
from connectors.schema import (
    MODEL_CALLS,
    SERVING_COSTS,
    STATUS_DRAFTS,
    TRIAGE_DECISIONS,
    TRIAGE_KPIS,
)
from connectors.values import utc_naive
from monitoring.slo import decision_latency

# Manual steps a handler does per claim without Claimflow: read the mail, key the fields,
# check the policy, judge the risk, pick a queue, pick a handler, write the acknowledgement.
MANUAL_STEPS_PER_CLAIM = 7
AUTOMATED_QUEUES = (FAST_TRACK, STANDARD, SPECIALIST)


def compute_kpis(decisions: pd.DataFrame, drafts: pd.DataFrame, serving_cost_per_claim: float,
                 sor_counts: dict) -> dict:
    """KPIs over the latest decision of each claim (pure; the asset feeds it)."""
    if decisions.empty:
        return {"claims_decided": 0}
    latest = decisions.sort_values("decided_at").groupby("claim_number").tail(1)
    cycle_h = (pd.to_datetime(latest["decided_at"]) - pd.to_datetime(latest["received_at"])).dt.total_seconds() / 3600
    automated = latest["queue"].isin(AUTOMATED_QUEUES)
    claude_cost = float(drafts["cost_usd"].sum()) if len(drafts) else 0.0
    n = len(latest)
    return {
        "claims_decided": n,
        "cycle_time_hours_median": round(float(cycle_h.median()), 2),
        "cycle_time_hours_p90": round(float(cycle_h.quantile(0.9)), 2),
        "share_decided_without_a_person": round(float(automated.mean()), 4),
        "manual_steps_avoided": int(automated.sum()) * MANUAL_STEPS_PER_CLAIM
        + int((~automated).sum()) * (MANUAL_STEPS_PER_CLAIM - 3),  # reviewers still skip keying, checks, routing
        "review_waiting": sor_counts.get("review", {}).get("waiting", 0),
        "review_oldest_age_minutes": sor_counts.get("review_waiting_age_minutes", {}).get("oldest"),
        "review_median_age_minutes": sor_counts.get("review_waiting_age_minutes", {}).get("median"),
        "by_queue": latest["queue"].value_counts().to_dict(),
        "cost_per_claim_usd": float(f"{serving_cost_per_claim + claude_cost / n:.4g}"),
        "claude_cost_usd": round(claude_cost, 6),
        # the promise, measured (monitoring/slo.py): share decided within the SLO's minutes of delivery
        "slo_decision_latency": decision_latency(latest["received_at"], latest["decided_at"]),
    }


@dg.asset(group_name=MONITORING, deps=["audit_log"], kinds={"python"})
def triage_kpis(warehouse: WarehouseResource, system_of_record: SystemOfRecordResource) -> dg.MaterializeResult:
    """Cycle time from receipt to decision, share decided without a person, manual steps avoided,
    review-queue age and cost per claim."""
    wh = warehouse.get()
    decisions = wh.read(f"select claim_number, queue, decided_at, received_at from {TRIAGE_DECISIONS}")
    drafts = wh.read(
        f"select cost_usd from {STATUS_DRAFTS} union all select cost_usd from {MODEL_CALLS}"
    )
    serving = wh.read(f"select coalesce(avg(cost_per_inference_usd), 0) as c from {SERVING_COSTS}")["c"].iloc[0]
    counts = system_of_record.claims().counts(utc_naive())
    kpis = compute_kpis(decisions, drafts, float(serving), counts)
    with wh.transaction() as con:
        wh.append(con, TRIAGE_KPIS, pd.DataFrame(
            [{"measured_at": utc_naive(), "kpis": json.dumps(kpis, default=str)}]
        ))
    return dg.MaterializeResult(
        metadata={k: (dg.MetadataValue.json(v) if isinstance(v, dict) else v) for k, v in kpis.items() if v is not None}
    )

