"""Monitoring assets: what a risk officer reads before trusting the model with today's claims."""

import json
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
DRIFT_VERDICT = "drift_verdict.json"


def recent_window(warehouse: WarehouseResource, days: int) -> pd.DataFrame:
    """Claims received in the last `days` days before the newest one, with their model features."""
    claims = warehouse.get().read("select * from main.claim_features")
    if claims.empty:
        return claims
    received = pd.to_datetime(claims["received_at"])
    return claims[received >= received.max() - timedelta(days=days)].reset_index(drop=True)


@dg.asset(group_name=MONITORING, deps=["training_set", "claim_features"], kinds={"evidently", "html"})
def drift_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, governance: GovernanceResource):
    """Feature drift between the training set and recent claims: the verdict and an HTML report for people."""
    _, train_part, _ = load_training_set(warehouse)
    current = recent_window(warehouse, governance.drift_window_days)
    out = reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    if current.empty:
        (out / DRIFT_VERDICT).write_text(json.dumps({"error": "no recent claims to compare"}))
        raise dg.Failure("no recent claims in claim_features: run the claims intake first", allow_retries=False)
    profile = ReferenceProfile.fit(train_part, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
    verdict = detect_drift(profile, current, share_threshold=governance.drift_share_limit)
    # Evidently refuses a column with no values on one side (photo quality before any photo was
    # scored); the gate's verdict above still counts such a column as drifted.
    present = [c for c in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES) if current[c].notna().any() and train_part[c].notna().any()]
    html_path = evidently_report(
        train_part, current, out / DRIFT_REPORT,
        numeric=[c for c in NUMERIC_FEATURES if c in present],
        categorical=[c for c in CATEGORICAL_FEATURES if c in present],
        verdict=verdict,
    )
    (out / DRIFT_VERDICT).write_text(json.dumps(verdict.to_metadata(), default=float))
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
