"""Triage rules: which queue a claim goes to, which rule sent it there, and on which inputs.

Rules are tried in order and the first that matches decides. They read only fixed,
typed fields computed upstream (confidences, flags, scores, amounts, the policy verdict),
never the e-mail's text, so a message cannot talk its way into a queue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from assets.claims.verification import PolicyVerdict
from connectors.system_of_record import (
    FAST_TRACK,
    FRAUD_REVIEW,
    HUMAN_REVIEW,
    REVIEW_QUEUES,
    SPECIALIST,
    STANDARD,
)
from connectors.system_of_record import SOR_QUEUES as QUEUES

# Queues a reviewer can send a claim to (human_review is where the reviewer stands).
WORK_QUEUES: tuple[str, ...] = (FAST_TRACK, STANDARD, SPECIALIST, FRAUD_REVIEW)
__all__ = ["FAST_TRACK", "FRAUD_REVIEW", "HUMAN_REVIEW", "QUEUES", "REVIEW_QUEUES", "SPECIALIST", "STANDARD",
           "WORK_QUEUES"]

RULES: tuple[str, ...] = (
    "R1_low_extraction_confidence",
    "R2_suspicious_content",
    "R3_policy_not_verified",
    "R4_risk_score_missing",
    "R5_fraud_signal",
    "R6_specialist",
    "R7_fast_track",
    "R8_standard",
)


@dataclass(frozen=True)
class TriageThresholds:
    """The insurer's triage settings; every rule's cut-off lives here."""

    min_extraction_confidence: float = 0.75
    review_threshold: float = 0.5
    fraud_threshold: float = 0.8
    fast_track_max_amount_eur: float = 1500
    fast_track_max_risk: float = 0.15
    specialist_amount_eur: float = 15000
    specialist_loss_types: tuple[str, ...] = ("fire", "theft", "liability")

    def __post_init__(self):
        for name in ("min_extraction_confidence", "review_threshold", "fraud_threshold", "fast_track_max_risk"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if not self.fast_track_max_risk <= self.review_threshold <= self.fraud_threshold:
            raise ValueError("thresholds must satisfy fast_track_max_risk <= review_threshold <= fraud_threshold")
        if self.fast_track_max_amount_eur < 0 or self.specialist_amount_eur < self.fast_track_max_amount_eur:
            raise ValueError("amounts must satisfy 0 <= fast_track_max_amount_eur <= specialist_amount_eur")
        object.__setattr__(self, "specialist_loss_types", tuple(self.specialist_loss_types))


@dataclass(frozen=True)
class Decision:
    """Where a claim goes and why.

    `inputs` holds exactly the values and thresholds the deciding rule read (JSON-safe).
    `skill` is the specialist skill the claim needs (its loss type) for the specialist queue.
    `proposed_queue` is, for a claim held for human review, the work queue the later rules
    would pick: what a reviewer approves or overrides.
    """

    queue: str
    rule: str
    reason: str
    inputs: dict = field(default_factory=dict)
    needs_human: bool = False
    claim_number: str | None = None
    skill: str | None = None
    proposed_queue: str | None = None


def route(
    claim: Mapping[str, Any], verdict: PolicyVerdict, thresholds: TriageThresholds | None = None
) -> Decision:
    """Send one claim to a queue with the first matching rule (R1..R8).

    Reads `claim_number`, `min_confidence`, `suspicious_content`, `risk_score`, `photo_reused`,
    `poor_photos`, `loss_type` and `estimated_amount_eur` (else `estimated_amount` when the
    currency is EUR or unstated); nothing else.
    """
    t = thresholds or TriageThresholds()
    number = _text(claim.get("claim_number"))
    held = _human_gate(claim, verdict, t)
    if held is not None:
        rule, reason, inputs = held
        return Decision(
            HUMAN_REVIEW, rule, reason, inputs, needs_human=True, claim_number=number,
            skill=_text(claim.get("loss_type")), proposed_queue=_work_rules(claim, t).queue,
        )
    decision = _work_rules(claim, t)
    return Decision(
        decision.queue, decision.rule, decision.reason, decision.inputs,
        needs_human=decision.queue in REVIEW_QUEUES, claim_number=number, skill=decision.skill,
    )


def _human_gate(claim: Mapping[str, Any], verdict: PolicyVerdict, t: TriageThresholds):
    """R1-R4: what the machine must not decide alone. Returns (rule, reason, inputs) or None."""
    confidence = _number(claim.get("min_confidence"))
    if confidence is None or confidence < t.min_extraction_confidence:
        shown = "unmeasured" if confidence is None else f"{confidence:.2f}"
        return (
            RULES[0],
            f"weakest extracted field confidence {shown} is below {t.min_extraction_confidence:.2f}",
            {"min_confidence": confidence, "min_extraction_confidence": t.min_extraction_confidence},
        )
    suspicious = claim.get("suspicious_content")
    if _flag(suspicious):
        return (
            RULES[1],
            "the message contains text that tries to instruct the system",
            {"suspicious_content": suspicious if isinstance(suspicious, (bool, str)) else True},
        )
    if not verdict.passed:
        return (
            RULES[2],
            f"policy verification failed: {verdict.code}",
            {"policy_verdict": verdict.code, "verdict_reason": verdict.reason},
        )
    if _number(claim.get("risk_score")) is None:
        return RULES[3], "no risk score (scoring unavailable)", {"risk_score": None}
    return None


def _work_rules(claim: Mapping[str, Any], t: TriageThresholds) -> Decision:
    """R5-R8 on the claim's fixed fields; a missing score or amount never makes a claim look safer."""
    risk = _number(claim.get("risk_score"))
    reused = _flag(claim.get("photo_reused"))
    if reused or (risk is not None and risk >= t.fraud_threshold):
        why = ["a photo was already used on another claim"] if reused else []
        if risk is not None and risk >= t.fraud_threshold:
            why.append(f"risk {risk:.2f} >= fraud threshold {t.fraud_threshold:.2f}")
        return Decision(
            FRAUD_REVIEW, RULES[4], "; ".join(why),
            {"photo_reused": reused, "risk_score": risk, "fraud_threshold": t.fraud_threshold},
            skill="fraud",
        )

    loss_type = _text(claim.get("loss_type"))
    amount = amount_eur(claim)
    why = []
    if risk is not None and risk >= t.review_threshold:
        why.append(f"risk {risk:.2f} >= review threshold {t.review_threshold:.2f}")
    if loss_type in t.specialist_loss_types:
        why.append(f"{loss_type} claims go to specialists")
    if amount is not None and amount >= t.specialist_amount_eur:
        why.append(f"amount {amount:.2f} EUR >= {t.specialist_amount_eur:.0f} EUR")
    if why:
        return Decision(
            SPECIALIST, RULES[5], "; ".join(why),
            {
                "risk_score": risk, "review_threshold": t.review_threshold, "loss_type": loss_type,
                "specialist_loss_types": list(t.specialist_loss_types), "amount_eur": amount,
                "specialist_amount_eur": t.specialist_amount_eur,
            },
            skill=loss_type or "general",
        )

    poor = _number(claim.get("poor_photos"))
    inputs = {
        "amount_eur": amount, "fast_track_max_amount_eur": t.fast_track_max_amount_eur, "risk_score": risk,
        "fast_track_max_risk": t.fast_track_max_risk, "poor_photos": None if poor is None else int(poor),
    }
    blockers = []
    if amount is None or amount > t.fast_track_max_amount_eur:
        blockers.append("amount unknown" if amount is None else f"amount {amount:.2f} EUR above fast-track")
    if risk is None or risk >= t.fast_track_max_risk:
        blockers.append("risk unknown" if risk is None else f"risk {risk:.2f} not below {t.fast_track_max_risk:.2f}")
    if poor is None or poor != 0:
        blockers.append("photo quality unknown" if poor is None else f"{int(poor)} poor photo(s)")
    if not blockers:
        return Decision(
            FAST_TRACK, RULES[6],
            f"amount {amount:.2f} EUR <= {t.fast_track_max_amount_eur:.0f} EUR, risk {risk:.2f} < "
            f"{t.fast_track_max_risk:.2f}, photos usable",
            inputs,
        )
    return Decision(STANDARD, RULES[7], "not fast-track: " + "; ".join(blockers), inputs, skill="general")


def amount_eur(claim: Mapping[str, Any]) -> float | None:
    """The claimed amount in euros: `estimated_amount_eur`, else `estimated_amount` if in EUR or no currency."""
    eur = _number(claim.get("estimated_amount_eur"))
    if eur is not None:
        return eur
    currency = _text(claim.get("currency"))
    if currency in (None, "EUR"):
        return _number(claim.get("estimated_amount"))
    return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, (int, float, Decimal)) else float(str(value))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _flag(value: Any) -> bool:
    if _missing(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none")
    return bool(value)


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA: what a pandas row holds for an absent field."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-likes are values, not gaps
        return False


# ------------------------------------------------------------------ the same rules over a frame


def route_frame(
    claims: pd.DataFrame,
    verdict_passed: Any,
    verdict_code: Any,
    verdict_reason: Any,
    thresholds: TriageThresholds | None = None,
) -> pd.DataFrame:
    """`route` for every row of `claims` at once: the rules are column masks, not a loop over rows.

    `verdict_*` are the policy verdict's fields per row (same order). Returns one row per claim
    with `claim_number`, `queue`, `rule`, `reason`, `inputs` (dict), `needs_human`, `skill` and
    `proposed_queue`, equal to `route(record, verdict, thresholds)` on each row as
    `connectors.warehouse.records` gives it (tests/unit/test_routing.py checks both agree on
    generated claims). Values are read with the scalar rules' own parsing, one column at a time.
    """
    t = thresholds or TriageThresholds()
    n = len(claims)
    passed = np.asarray(verdict_passed, dtype=bool).reshape(n)
    codes, verdict_reasons = list(verdict_code), list(verdict_reason)

    confidence, confidence_x = _numbers(claims, "min_confidence")
    suspicious_raw = _raw(claims, "suspicious_content")
    suspicious = np.fromiter((_flag(v) for v in suspicious_raw), dtype=bool, count=n)
    risk, risk_x = _numbers(claims, "risk_score")
    reused_list = [_flag(v) for v in _raw(claims, "photo_reused")]
    reused = np.asarray(reused_list, dtype=bool).reshape(n)
    loss = [_text(v) for v in _raw(claims, "loss_type")]
    amount, amount_x = _amounts(claims)
    poor, poor_x = _numbers(claims, "poor_photos")
    with np.errstate(invalid="ignore"):
        r1 = np.isnan(confidence_x) | (confidence_x < t.min_extraction_confidence)
        r2 = ~r1 & suspicious
        r3 = ~r1 & ~r2 & ~passed
        r4 = ~r1 & ~r2 & ~r3 & np.isnan(risk_x)
        held = r1 | r2 | r3 | r4
        fraud_risk = risk_x >= t.fraud_threshold
        fraud = reused | fraud_risk
        review_risk = risk_x >= t.review_threshold
        special_loss = np.fromiter((x in t.specialist_loss_types for x in loss), dtype=bool, count=n)
        big = amount_x >= t.specialist_amount_eur
        specialist = ~fraud & (review_risk | special_loss | big)
        amount_ok = amount_x <= t.fast_track_max_amount_eur
        risk_ok = risk_x < t.fast_track_max_risk
        photos_ok = poor_x == 0
        fast = ~fraud & ~specialist & amount_ok & risk_ok & photos_ok
    work_queue = np.select([fraud, specialist, fast], [FRAUD_REVIEW, SPECIALIST, FAST_TRACK], STANDARD).astype(object)

    queue = np.where(held, HUMAN_REVIEW, work_queue).astype(object)
    rule = np.select([r1, r2, r3, r4, fraud, specialist, fast], list(RULES[:7]), RULES[7]).astype(object)
    reason: list[str] = [""] * n
    inputs: list[dict] = [{}] * n
    skill: list[str | None] = [None] * n

    for i in np.flatnonzero(r1):
        c = confidence[i]
        shown = "unmeasured" if c is None else f"{c:.2f}"
        reason[i] = f"weakest extracted field confidence {shown} is below {t.min_extraction_confidence:.2f}"
        inputs[i] = {"min_confidence": c, "min_extraction_confidence": t.min_extraction_confidence}
    for i in np.flatnonzero(r2):
        s = suspicious_raw[i]
        reason[i] = "the message contains text that tries to instruct the system"
        inputs[i] = {"suspicious_content": s if isinstance(s, (bool, str)) else True}
    for i in np.flatnonzero(r3):
        reason[i] = f"policy verification failed: {codes[i]}"
        inputs[i] = {"policy_verdict": codes[i], "verdict_reason": verdict_reasons[i]}
    for i in np.flatnonzero(r4):
        reason[i], inputs[i] = "no risk score (scoring unavailable)", {"risk_score": None}
    for i in np.flatnonzero(held):
        skill[i] = loss[i]

    work = ~held
    for i in np.flatnonzero(work & fraud):
        r = risk[i]
        why = ["a photo was already used on another claim"] if reused_list[i] else []
        if fraud_risk[i]:
            why.append(f"risk {r:.2f} >= fraud threshold {t.fraud_threshold:.2f}")
        reason[i] = "; ".join(why)
        inputs[i] = {"photo_reused": reused_list[i], "risk_score": r, "fraud_threshold": t.fraud_threshold}
        skill[i] = "fraud"
    specialist_types = list(t.specialist_loss_types)
    for i in np.flatnonzero(work & specialist):
        r, a, lt = risk[i], amount[i], loss[i]
        why = []
        if review_risk[i]:
            why.append(f"risk {r:.2f} >= review threshold {t.review_threshold:.2f}")
        if special_loss[i]:
            why.append(f"{lt} claims go to specialists")
        if big[i]:
            why.append(f"amount {a:.2f} EUR >= {t.specialist_amount_eur:.0f} EUR")
        reason[i] = "; ".join(why)
        inputs[i] = {
            "risk_score": r, "review_threshold": t.review_threshold, "loss_type": lt,
            "specialist_loss_types": list(specialist_types), "amount_eur": a,
            "specialist_amount_eur": t.specialist_amount_eur,
        }  # fmt: skip
        skill[i] = lt or "general"
    for i in np.flatnonzero(work & ~fraud & ~specialist):
        r, a, p = risk[i], amount[i], poor[i]
        inputs[i] = {
            "amount_eur": a, "fast_track_max_amount_eur": t.fast_track_max_amount_eur, "risk_score": r,
            "fast_track_max_risk": t.fast_track_max_risk, "poor_photos": None if p is None else int(p),
        }  # fmt: skip
        if fast[i]:
            reason[i] = (
                f"amount {a:.2f} EUR <= {t.fast_track_max_amount_eur:.0f} EUR, risk {r:.2f} < "
                f"{t.fast_track_max_risk:.2f}, photos usable"
            )
            continue
        blockers = []
        if not amount_ok[i]:
            blockers.append("amount unknown" if a is None else f"amount {a:.2f} EUR above fast-track")
        if not risk_ok[i]:
            blockers.append("risk unknown" if r is None else f"risk {r:.2f} not below {t.fast_track_max_risk:.2f}")
        if not photos_ok[i]:
            blockers.append("photo quality unknown" if p is None else f"{int(p)} poor photo(s)")
        reason[i] = "not fast-track: " + "; ".join(blockers)
        skill[i] = "general"

    return pd.DataFrame({
        "claim_number": [_text(v) for v in _raw(claims, "claim_number")],
        "queue": queue,
        "rule": rule,
        "reason": reason,
        "inputs": inputs,
        "needs_human": held | (work_queue == FRAUD_REVIEW),
        "skill": skill,
        "proposed_queue": np.where(held, work_queue, None).astype(object),
    }, index=claims.index)  # fmt: skip


def _raw(frame: pd.DataFrame, column: str) -> list:
    """A column's values as `records` gives them (None for NaN/NaT/NA), or all None when absent."""
    if column not in frame.columns:
        return [None] * len(frame)
    values = frame[column]
    return values.astype(object).where(values.notna(), None).tolist()


def _numbers(frame: pd.DataFrame, column: str) -> tuple[list[float | None], np.ndarray]:
    """`_number` of each value, as a list (None where missing) and as floats (NaN where missing)."""
    values = frame[column] if column in frame.columns else None
    if values is not None and values.dtype.kind in "fiu":
        x = values.to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.where(np.isfinite(x), x, np.nan)
    else:
        parsed = [_number(v) for v in _raw(frame, column)]
        x = np.array([np.nan if v is None else v for v in parsed], dtype=np.float64)
    listed = [None if v != v else v for v in x.tolist()]
    return listed, x


def _amounts(frame: pd.DataFrame) -> tuple[list[float | None], np.ndarray]:
    """`amount_eur` per row: the euro amount, else the amount when its currency is EUR or unstated."""
    eur, eur_x = _numbers(frame, "estimated_amount_eur")
    if not np.isnan(eur_x).any():
        return eur, eur_x
    plain, plain_x = _numbers(frame, "estimated_amount")
    in_eur = np.fromiter((_text(c) in (None, "EUR") for c in _raw(frame, "currency")), dtype=bool, count=len(frame))
    use_plain = np.isnan(eur_x) & in_eur
    x = np.where(use_plain, plain_x, eur_x)
    return [None if v != v else v for v in x.tolist()], x
