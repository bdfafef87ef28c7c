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

import pandas as pd

from assets.claims.verification import PolicyVerdict

FAST_TRACK = "fast_track"
STANDARD = "standard"
SPECIALIST = "specialist"
FRAUD_REVIEW = "fraud_review"
HUMAN_REVIEW = "human_review"
QUEUES: tuple[str, ...] = (FAST_TRACK, STANDARD, SPECIALIST, FRAUD_REVIEW, HUMAN_REVIEW)
# Queues a reviewer can send a claim to (human_review is where the reviewer stands).
WORK_QUEUES: tuple[str, ...] = (FAST_TRACK, STANDARD, SPECIALIST, FRAUD_REVIEW)
REVIEW_QUEUES: tuple[str, ...] = (HUMAN_REVIEW, FRAUD_REVIEW)

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
