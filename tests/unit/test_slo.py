"""SLOs: defined once, computed in the KPIs."""

from datetime import datetime, timedelta

import pandas as pd

from assets.monitoring.kpis import compute_kpis
from monitoring.slo import DECISION_LATENCY, decision_latency, extraction_errors


def test_decision_latency_counts_claims_decided_within_the_threshold_and_spends_the_budget():
    t0 = datetime(2026, 12, 1, 9)
    received = pd.Series([t0] * 20)
    decided = pd.Series([t0 + timedelta(minutes=10)] * 18 + [t0 + timedelta(minutes=61)] * 2)
    got = decision_latency(received, decided)
    assert got["in_time_share"] == 0.9 and got["met"] is False  # objective 95 %
    assert got["budget_left"] == -1.0  # 10 % late against a 5 % budget: overspent by the whole budget
    assert decision_latency(received, pd.Series([t0 + timedelta(minutes=DECISION_LATENCY.threshold)] * 20))["met"]


def test_extraction_error_budget():
    assert extraction_errors(1000, 10)["met"] and not extraction_errors(1000, 30)["met"]
    assert extraction_errors(0, 0)["met"] is None


def test_the_kpis_carry_the_decision_latency_slo():
    t0 = datetime(2026, 12, 1, 9)
    decisions = pd.DataFrame({"claim_number": ["a", "b"], "queue": ["fast_track", "standard"],
                              "received_at": [t0, t0], "decided_at": [t0 + timedelta(minutes=5), t0 + timedelta(hours=3)]})
    kpis = compute_kpis(decisions, pd.DataFrame({"cost_usd": []}), 0.0, {})
    assert kpis["slo_decision_latency"]["in_time_share"] == 0.5
