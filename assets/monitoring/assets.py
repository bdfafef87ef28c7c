"""Monitoring assets: what a risk officer reads before trusting the model with today's claims."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from assets.groups import MONITORING
from assets.project import reports_dir
from assets.resources import GovernanceResource, WarehouseResource
from assets.training.assets import load_training_set
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from monitoring.drift import ReferenceProfile, detect_drift, evidently_report

DRIFT_REPORT = "drift_report.html"


def recent_window(warehouse: WarehouseResource, days: int) -> pd.DataFrame:
    """Claims received in the last `days` days before the newest one, with their model features."""
    claims = warehouse.get().read("select * from main.claim_features")
    if claims.empty:
        return claims
    received = pd.to_datetime(claims["received_at"])
    return claims[received >= received.max() - timedelta(days=days)].reset_index(drop=True)


def assess_drift(warehouse: WarehouseResource, governance: GovernanceResource):
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


@dg.asset(group_name=MONITORING, deps=["training_set", "claim_features"], kinds={"evidently", "html"})
def drift_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, governance: GovernanceResource):
    """Feature drift between the training set and recent claims: the verdict and an HTML report for people."""
    out = reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    try:
        reference, current, verdict = assess_drift(warehouse, governance)
    except ValueError as err:
        raise dg.Failure(f"{err}: run the claims intake first", allow_retries=False) from None
    # Evidently refuses a column with no values on one side (photo quality before any photo was
    # scored); the gate's verdict above still counts such a column as drifted.
    present = [c for c in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES) if current[c].notna().any() and reference[c].notna().any()]
    html_path = evidently_report(
        reference, current, out / DRIFT_REPORT,
        numeric=[c for c in NUMERIC_FEATURES if c in present],
        categorical=[c for c in CATEGORICAL_FEATURES if c in present],
        verdict=verdict,
    )
    table = [
        {"feature": c.column, "method": c.method, "score": round(c.statistic, 4), "drifted": c.drifted}
        for c in verdict.columns
    ]
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(html_path)),
            "dataset_drifted": verdict.dataset_drifted,
            "share_drifted": verdict.share_drifted,
            "drifted_columns": ", ".join(verdict.drifted_columns) or "none",
            "reference_rows": verdict.reference_rows,
            "current_rows": verdict.current_rows,
            "columns": dg.MetadataValue.md(
                "| feature | method | score | drifted |\n|---|---|---|---|\n"
                + "\n".join(f"| {r['feature']} | {r['method']} | {r['score']} | {r['drifted']} |" for r in table)
            ),
        }
    )
