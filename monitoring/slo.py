"""Service-level objectives, defined once: the KPIs, the metrics exporter and the alert rules use these.

The numbers are the promise a claims operation makes: a claim is decided (routed, assigned,
the customer told) within an hour of its mail reaching the inbox, for 95 % of claims; the
rules extractor gets at most 2 % of the fields it is sure of (confidence >= 0.8) wrong,
measured as reviewer corrections; Triton answers a single-row request within 50 ms (p99).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Slo:
    name: str
    objective: float  # the share of events that must be good
    threshold: float  # what makes an event good (minutes, share, seconds)
    unit: str
    description: str


DECISION_LATENCY = Slo("decision_latency", 0.95, 60.0, "minutes",
                       "claims decided within `threshold` minutes of delivery to the inbox")
EXTRACTION_ERRORS = Slo("extraction_error_budget", 0.98, 0.8, "confidence",
                        "confident fields (>= threshold) not corrected by a reviewer")
SCORING_LATENCY = Slo("scoring_latency", 0.99, 0.05, "seconds", "Triton calls answered within `threshold` s")

SLOS = (DECISION_LATENCY, EXTRACTION_ERRORS, SCORING_LATENCY)


def decision_latency(received_at: pd.Series, decided_at: pd.Series, slo: Slo = DECISION_LATENCY) -> dict:
    """The decision-latency SLO over claims: share in time, the objective, whether it is met, p50/p95 minutes."""
    minutes = ((pd.to_datetime(decided_at) - pd.to_datetime(received_at)).dt.total_seconds() / 60).dropna()
    if minutes.empty:
        return {"slo": slo.name, "claims": 0, "in_time_share": None, "objective": slo.objective, "met": None}
    share = float((minutes <= slo.threshold).mean())
    return {
        "slo": slo.name, "claims": len(minutes), "threshold_minutes": slo.threshold,
        "in_time_share": round(share, 4), "objective": slo.objective, "met": share >= slo.objective,
        "p50_minutes": round(float(minutes.quantile(0.5)), 2), "p95_minutes": round(float(minutes.quantile(0.95)), 2),
        # the error budget left: 1.0 untouched, 0 spent, negative overspent
        "budget_left": round(1 - (1 - share) / (1 - slo.objective), 3),
    }


def extraction_errors(confident_fields: int, corrected_fields: int, slo: Slo = EXTRACTION_ERRORS) -> dict:
    """The extraction error budget: reviewer corrections among fields reported at confidence >= threshold."""
    if confident_fields <= 0:
        return {"slo": slo.name, "confident_fields": 0, "good_share": None, "objective": slo.objective, "met": None}
    good = 1 - corrected_fields / confident_fields
    return {"slo": slo.name, "confident_fields": confident_fields, "corrected": corrected_fields,
            "good_share": round(good, 4), "objective": slo.objective, "met": good >= slo.objective,
            "budget_left": round(1 - (1 - good) / (1 - slo.objective), 3)}


def definitions() -> list[dict]:
    """Every SLO as a dict (for reports and the alert rules' documentation)."""
    return [asdict(s) for s in SLOS]
