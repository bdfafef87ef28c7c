"""The risk model's feature contract: one list, shared by training, drift checks and serving."""

from __future__ import annotations

NUMERIC_FEATURES: tuple[str, ...] = (
    "bonus_malus",  # French bonus-malus coefficient x100 (50 = best, 350 = worst)
    "driver_age",
    "vehicle_age",
    "vehicle_power",
    "exposure",  # policy-years observed in the register
    "prior_claims",  # claims on the policy before this incident
    "tenure_days",  # days from policy start to incident
    "estimated_amount_eur",
    "report_delay_days",  # days from incident to the first mail
    "photo_count",
    "photo_quality",  # 0..1, NaN when no photo was scored
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("area", "vehicle_brand", "loss_type")
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
LABEL = "high_risk"  # needed a specialist or fraud review
MODEL_NAME = "claims_risk"  # the risk model's name in the registry and on the serving tier
TIME_COLUMN = "incident_date"
ID_COLUMN = "claim_number"
