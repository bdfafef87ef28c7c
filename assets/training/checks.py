"""Blocking checks of the model lifecycle: the training set's data contract and the four deployment gates.

Every gate verdict is also written onto the model version in the registry, where
`claimflow models promote` reads it: a failed check blocks the run and the promotion.
"""

import dagster as dg
import pandas as pd

from assets.datasets import DRIFT_REPORT, assess_drift, load_training_set
from assets.dbt.project import dbt_relation
from assets.project import reports_dir
from assets.resources import (
    GovernanceResource,
    MlflowResource,
    SystemOfRecordResource,
    WarehouseResource,
    registry_for,
)
from assets.training.gates import AccuracyPolicy, GateVerdict, accuracy_gate, drift_gate
from models import risk
from models.features import FEATURES, LABEL
from models.lineage import download_onnx, frame_digest
from models.onnx_export import onnx_predict
from models.registry import CHAMPION
from monitoring.cost import INPROCESS, cost_from_compute, cost_gate, measure_inprocess

MIN_TRAINING_ROWS = 1000


@dg.asset_check(asset="training_set", blocking=True, description="Data contract of the training set (Great Expectations).")
def training_set_contract(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Labels 0/1, features in plausible ranges, both splits present and the holdout strictly later."""
    import great_expectations.expectations as gxe

    from assets.claims.expectations import ephemeral_context

    frame = warehouse.get().read(f"select * from {dbt_relation('training_set')}")
    batch = (
        ephemeral_context().data_sources.add_pandas("training")
        .add_dataframe_asset("training_set")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectations = [
        gxe.ExpectTableRowCountToBeBetween(min_value=MIN_TRAINING_ROWS),
        gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=[0, 1]),
        gxe.ExpectColumnMeanToBeBetween(column=LABEL, min_value=0.03, max_value=0.6),
        gxe.ExpectColumnValuesToBeUnique(column="claim_number"),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "holdout"]),
        gxe.ExpectColumnDistinctValuesToEqualSet(column="split", value_set=["train", "holdout"]),
        gxe.ExpectColumnValuesToBeBetween(column="driver_age", min_value=18, max_value=110),
        gxe.ExpectColumnValuesToBeBetween(column="bonus_malus", min_value=50, max_value=350),
        gxe.ExpectColumnValuesToBeBetween(column="estimated_amount_eur", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="report_delay_days", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="photo_quality", min_value=0, max_value=1),
        *[gxe.ExpectColumnToExist(column=c) for c in FEATURES],
    ]
    results = [batch.validate(e) for e in expectations]
    failed = [f"{r.expectation_config.type}({r.expectation_config.kwargs.get('column', '')})" for r in results if not r.success]
    train_max = pd.to_datetime(frame.loc[frame["split"] == "train", "incident_date"]).max()
    holdout_min = pd.to_datetime(frame.loc[frame["split"] == "holdout", "incident_date"]).min()
    if not (pd.notna(train_max) and pd.notna(holdout_min) and holdout_min >= train_max):
        failed.append("holdout is not later than the training split")
    return dg.AssetCheckResult(
        passed=not failed,
        metadata={
            "rows": len(frame),
            "high_risk_rate": float(frame[LABEL].mean()) if len(frame) else 0.0,
            "dataset_digest": frame_digest(frame[[*FEATURES, LABEL, "split"]]) if len(frame) else "",
            "expectations": len(results) + 1,
            "failed": failed,
        },
    )


GATE_SPECS = [
    dg.AssetCheckSpec("accuracy_gate", asset="risk_model_candidate", blocking=True,
                      description="Challenger vs champion on the same holdout (first model: stated floors)."),
    dg.AssetCheckSpec("behaviour_gate", asset="risk_model_candidate", blocking=True,
                      description="Amount never lowers risk; wording and column order change nothing; obvious cases."),
    dg.AssetCheckSpec("drift_gate", asset="risk_model_candidate", blocking=True, additional_deps=["drift_report"],
                      description="Evidently-equivalent drift between the training set and recent claims."),
    dg.AssetCheckSpec("cost_gate", asset="risk_model_candidate", blocking=True,
                      description="Measured cost per inference within the budget."),
]


def _result(verdict: GateVerdict, version: int, extra: dict | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key="risk_model_candidate",
        check_name=f"{verdict.gate}_gate",
        passed=verdict.passed,
        metadata={"model_version": version, "reason": verdict.reason, **(extra or {})},
    )


@dg.multi_asset_check(specs=GATE_SPECS, ins={"candidate": dg.AssetIn("risk_model_candidate")})
def deployment_gates(
    context: dg.AssetCheckExecutionContext,
    candidate: dict,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    system_of_record: SystemOfRecordResource,
    governance: GovernanceResource,
):
    """Run the four gates on the candidate version and record each verdict in the registry."""
    registry = registry_for(mlflow, system_of_record, governance)
    version = candidate["version"]
    threshold = candidate["review_threshold"]
    onnx_bytes = download_onnx(mlflow.tracking_uri, registry.name, version)
    _, _, holdout = load_training_set(warehouse)

    def record(verdict: GateVerdict, extra: dict | None = None) -> dg.AssetCheckResult:
        registry.record_gate(version, verdict.gate, verdict.passed, {"reason": verdict.reason, **verdict.evidence})
        return _result(verdict, version, extra)

    # Accuracy: both models scored on the same holdout, through the same ONNX path Triton serves.
    champion_version = registry.alias_version(CHAMPION)
    champion_metrics = None
    if champion_version is not None:
        champion_scores = onnx_predict(download_onnx(mlflow.tracking_uri, registry.name, champion_version), holdout)
        champion_metrics = risk.metrics_from_scores(holdout[LABEL], champion_scores, review_threshold=threshold)
    candidate_metrics = risk.metrics_from_scores(
        holdout[LABEL], onnx_predict(onnx_bytes, holdout), review_threshold=threshold
    )
    policy = AccuracyPolicy(governance.auc_floor, governance.brier_ceiling, governance.auc_tolerance,
                            governance.recall_tolerance, governance.min_auc_improvement,
                            governance.equal_model_reason)
    verdict = accuracy_gate(candidate_metrics, champion_metrics, policy, is_champion=champion_version == version)
    yield record(verdict, {"champion_version": champion_version if champion_version is not None else "none",
                           "candidate_roc_auc": candidate_metrics["roc_auc"]})

    # Behaviour, on real holdout claims and the served (ONNX) model.
    checks = risk.behaviour_checks(lambda f: onnx_predict(onnx_bytes, f), holdout, review_threshold=threshold)
    failed = [k for k, v in checks.items() if k.endswith("_ok") and not v]
    reason = "all behavioural checks passed" if checks["passed"] else "failed: " + ", ".join(failed)
    yield record(GateVerdict("behaviour", bool(checks["passed"]), reason, checks),
                 {k: float(v) for k, v in checks.items()})

    # Drift: the vectorised gate over the full window; the Evidently HTML goes into the run for people.
    try:
        _, current, drift = assess_drift(warehouse, governance)
    except ValueError as err:
        yield record(GateVerdict("drift", False, str(err)))
    else:
        verdict = drift_gate(drift.share_drifted, drift.drifted_columns, len(drift.columns),
                             governance.drift_share_limit)
        report = reports_dir() / DRIFT_REPORT
        if report.exists():
            client = mlflow.client()
            client.log_artifact(candidate["run_id"], str(report), artifact_path="drift")
            client.log_metric(candidate["run_id"], "drift_share", drift.share_drifted)
        yield record(verdict, {"share_drifted": drift.share_drifted, "current_rows": len(current),
                               "report": dg.MetadataValue.path(str(report))})

    # Cost: compute time per inference on this hardware x its hourly price.
    encoded = risk.encode_features(holdout)
    seconds, n = measure_inprocess(onnx_bytes, encoded)
    measurement = cost_from_compute(seconds, n, price_per_hour=governance.serving_price_per_hour, source=INPROCESS,
                                    model_version=version)
    cost = cost_gate(measurement, governance.cost_budget_per_1k)
    yield record(GateVerdict("cost", cost.passed, cost.reason, cost.metadata()),
                 {"cost_per_1k_usd": measurement.cost_per_1k, "source": measurement.source})
