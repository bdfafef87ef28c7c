"""Deployment gates as plain functions: each returns a verdict with the evidence behind it.

The Dagster checks in `checks.py` run these and record the verdict on the model version,
where `claimflow models promote` reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    passed: bool
    reason: str
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AccuracyPolicy:
    """Floors for a first model; against a champion, a stated minimum gain in ROC AUC.

    A challenger that only matches the champion (a retrain on the same data scores +0.000)
    passes only with `equal_model_reason`: moving the champion re-scores every open claim,
    so it needs a gain or a reason somebody wrote down.
    """

    auc_floor: float = 0.70
    brier_ceiling: float = 0.20
    auc_tolerance: float = 0.005
    recall_tolerance: float = 0.02
    min_auc_improvement: float = 0.002
    equal_model_reason: str = ""


def accuracy_gate(
    candidate: dict[str, float], champion: dict[str, float] | None, policy: AccuracyPolicy, *, is_champion: bool = False
) -> GateVerdict:
    """The challenger against the champion on the same holdout; the first model against stated floors.

    `is_champion`: the candidate is the champion itself (an identical retraining found it), which
    moves nothing and passes as such.
    """
    if is_champion:
        return GateVerdict("accuracy", True, "the candidate is the current champion (same data, code and parameters)",
                           {"candidate": candidate, "against": "itself"})
    if champion is None:
        failures = []
        if not candidate["roc_auc"] >= policy.auc_floor:
            failures.append(f"ROC AUC {candidate['roc_auc']:.3f} below the floor {policy.auc_floor:.3f}")
        if not candidate["brier"] <= policy.brier_ceiling:
            failures.append(f"Brier {candidate['brier']:.3f} above the ceiling {policy.brier_ceiling:.3f}")
        reason = "; ".join(failures) or (
            f"first model: ROC AUC {candidate['roc_auc']:.3f} >= {policy.auc_floor:.2f}, "
            f"Brier {candidate['brier']:.3f} <= {policy.brier_ceiling:.2f}"
        )
        return GateVerdict("accuracy", not failures, reason, {"candidate": candidate, "against": "floors"})
    failures = []
    d_auc = candidate["roc_auc"] - champion["roc_auc"]
    d_recall = candidate["recall_at_review_threshold"] - champion["recall_at_review_threshold"]
    if d_auc < -policy.auc_tolerance:
        failures.append(f"ROC AUC {candidate['roc_auc']:.3f} trails the champion's {champion['roc_auc']:.3f}")
    if d_recall < -policy.recall_tolerance:
        failures.append(
            f"recall at the review threshold {candidate['recall_at_review_threshold']:.3f} trails the "
            f"champion's {champion['recall_at_review_threshold']:.3f}"
        )
    if math.isnan(candidate["brier"]) or candidate["brier"] > policy.brier_ceiling:
        failures.append(f"Brier {candidate['brier']:.3f} above the ceiling {policy.brier_ceiling:.3f}")
    equal = None
    if not failures and d_auc < policy.min_auc_improvement:
        if policy.equal_model_reason.strip():
            equal = policy.equal_model_reason.strip()
        else:
            failures.append(
                f"ROC AUC {d_auc:+.3f} against the champion is below the required improvement "
                f"{policy.min_auc_improvement:+.3f} (an equal model needs a stated reason: equal_model_reason)"
            )
    reason = "; ".join(failures) or f"ROC AUC {d_auc:+.3f} and recall {d_recall:+.3f} against the champion" + (
        f"; no gain, promoted as equal because: {equal}" if equal else ""
    )
    evidence = {"candidate": candidate, "champion": champion, "delta_roc_auc": d_auc, "delta_recall": d_recall,
                "min_auc_improvement": policy.min_auc_improvement, "equal_model_reason": equal}
    return GateVerdict("accuracy", not failures, reason, evidence)


def drift_gate(share_drifted: float, drifted: list[str], columns: int, share_limit: float) -> GateVerdict:
    """Fail when the share of drifted features reaches the limit: the training data no longer describes today."""
    ok = share_drifted < share_limit
    reason = (
        f"{len(drifted)} of {columns} features drifted ({share_drifted:.0%}; limit {share_limit:.0%})"
        + (f": {', '.join(drifted)}" if drifted else "")
    )
    return GateVerdict("drift", ok, reason, {"share_drifted": share_drifted, "drifted": drifted})
