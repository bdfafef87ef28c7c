"""Monitoring assets: what a risk officer reads before trusting the model with today's claims."""

import dagster as dg

from assets.datasets import DRIFT_REPORT, assess_drift
from assets.groups import MONITORING
from assets.project import reports_dir
from assets.resources import GovernanceResource, WarehouseResource
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from monitoring.drift import evidently_report


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
