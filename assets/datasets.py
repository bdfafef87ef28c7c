"""Reads of the dbt-built relations that several domains share: the training set and recent claims.

Training, serving and monitoring all read these; they live here, not in one domain's asset
module, so no domain imports another's. Relation names come from the dbt manifest.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from assets.dbt.project import dbt_relation
from assets.resources import GovernanceResource, WarehouseResource
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from monitoring.drift import DriftVerdict, ReferenceProfile, detect_drift

DRIFT_REPORT = "drift_report.html"


def load_training_set(warehouse: WarehouseResource) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(whole set, train split, holdout split) as dbt built them."""
    frame = warehouse.get().read(f"select * from {dbt_relation('training_set')}")
    frame["incident_date"] = pd.to_datetime(frame["incident_date"])
    return frame, frame[frame["split"] == "train"], frame[frame["split"] == "holdout"]


def recent_window(warehouse: WarehouseResource, days: int) -> pd.DataFrame:
    """Claims received in the last `days` days before the newest one, with their model features."""
    claims = warehouse.get().read(f"select * from {dbt_relation('claim_features')}")
    if claims.empty:
        return claims
    received = pd.to_datetime(claims["received_at"])
    return claims[received >= received.max() - timedelta(days=days)].reset_index(drop=True)


def assess_drift(
    warehouse: WarehouseResource, governance: GovernanceResource
) -> tuple[pd.DataFrame, pd.DataFrame, DriftVerdict]:
    """(reference, current window, verdict), or a ValueError when there are no recent claims.

    The reference is the training set's most recent period (its holdout split), not all of it:
    policies age and the book changes over three years, so comparing today with the whole
    history would flag tenure and prior claims every time for no change in the claims.
    """
    _, _, reference = load_training_set(warehouse)
    current = recent_window(warehouse, governance.drift_window_days)
    if current.empty:
        raise ValueError("no recent claims in claim_features to compare with the training set")
    profile = ReferenceProfile.fit(reference, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
    return reference, current, detect_drift(profile, current, share_threshold=governance.drift_share_limit)
