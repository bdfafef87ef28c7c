"""The risk model's life as assets: labelled history, a registered candidate, the champion."""

import time
from dataclasses import asdict
from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from assets.datasets import load_training_set
from assets.groups import TRAINING
from assets.project import PROJECT_ROOT
from assets.resources import (
    ClaimsHistoryResource,
    GovernanceResource,
    MlflowResource,
    SystemOfRecordResource,
    WarehouseResource,
    registry_for,
)
from connectors.schema import CLAIMS_HISTORY
from models import risk
from models.features import FEATURES, LABEL
from models.lineage import begin_candidate, frame_digest
from models.onnx_export import check_parity, convert_to_onnx
from models.registry import MODEL_NAME


class ClaimsHistoryConfig(dg.Config):
    """Where labelled history comes from in the embedded default (the insurer's claims system in production)."""

    rows: int = Field(30_000, description="Claims in the three-year history.")
    seed: int = Field(20260101, description="Seed of the sample claims system.")
    as_of: str = Field("", description="ISO date the history ends 61 days before; empty means today.")


def history_window(as_of: str) -> tuple[date, date]:
    """The three years of closed history that end 61 days before `as_of` (recent claims are still open)."""
    today = date.fromisoformat(as_of) if as_of else date.today()
    end = today - timedelta(days=61)
    return end - timedelta(days=3 * 365), end


@dg.asset(group_name=TRAINING, kinds={"python", "duckdb"})
def claims_history(
    context: dg.AssetExecutionContext,
    config: ClaimsHistoryConfig,
    system_of_record: SystemOfRecordResource,
    warehouse: WarehouseResource,
    history_source: ClaimsHistoryResource,
) -> dg.MaterializeResult:
    """Past claims with their outcomes (specialist needed, fraud confirmed, final cost): the labels."""
    policies = system_of_record.policies().fetch_policies()
    start, end = history_window(config.as_of)
    history = history_source.fetch(policies, rows=config.rows, seed=config.seed, start=start, end=end)
    wh = warehouse.get()
    with wh.transaction() as con:
        wh.replace(con, CLAIMS_HISTORY, history)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(history),
            "period": f"{start} .. {end}",
            "high_risk_rate": float(history["high_risk"].mean()),
            "source": history_source.source,
        }
    )


class TrainingConfig(dg.Config):
    """Hyper-parameters of a training run; each is logged to MLflow."""

    learning_rate: float = Field(0.08, description="Boosting learning rate.")
    max_iter: int = Field(300, description="Boosting rounds (early stopping may use fewer).")
    max_leaf_nodes: int = Field(31, description="Leaves per tree.")
    min_samples_leaf: int = Field(40, description="Minimum claims per leaf.")
    review_threshold: float = Field(0.5, description="Score at or above which a claim goes to review.")
    threads: int = Field(1, description="OpenMP threads for boosting (1 is fastest on a shared 2-core node).")


@dg.asset(group_name=TRAINING, deps=["training_set"], kinds={"sklearn", "mlflow", "onnx"})
def risk_model_candidate(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    governance: GovernanceResource,
) -> dg.Output[dict]:
    """A calibrated gradient-boosting risk model, logged to MLflow and registered as `challenger`."""
    frame, train_part, holdout = load_training_set(warehouse)
    params = risk.TrainingParams(
        learning_rate=config.learning_rate,
        max_iter=config.max_iter,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        review_threshold=config.review_threshold,
    )
    from models.registry import GovernancePolicy, ModelRegistry, code_version, training_key

    # Same data, code and parameters: the model exists already; registering it again would
    # invite a promotion that re-scores every claim for nothing.
    digest = frame_digest(frame[[*FEATURES, LABEL, "split"]])
    key = training_key(digest, code_version(PROJECT_ROOT), params.as_dict())
    registry = ModelRegistry(mlflow.tracking_uri, None, GovernancePolicy(approvers=()), name=MODEL_NAME)
    same = registry.find_trained(key)
    if same is not None:
        context.log.info(f"version {same} was trained from the same data, code and parameters: no new version")
        return reused_candidate(registry, same, digest, params.review_threshold)
    # The run, params, dataset and registered name are logged on a thread while the model fits.
    t_begin = time.perf_counter()
    lineage = begin_candidate(
        tracking_uri=mlflow.tracking_uri,
        experiment=mlflow.experiment,
        params=params.as_dict() | {"train_rows": len(train_part), "holdout_rows": len(holdout)},
        training_frame=frame,
        dataset_digest=digest,
        trained_by=governance.trained_by,
        repo_dir=PROJECT_ROOT,
        extra_tags={"dagster_run_id": context.run_id},
    )
    t0 = time.perf_counter()
    try:
        model = risk.train(train_part, params, threads=config.threads)
        metrics = risk.evaluate(model, holdout, review_threshold=params.review_threshold)
        logged_metrics = {k: v for k, v in metrics.items() if v == v}  # NaN precision is left out, not logged as 0
        # Version, metrics, input example (scored on the lineage's thread) and card go out while the model is exported.
        t_evaluated = time.perf_counter()
        lineage.evaluated(
            logged_metrics, model=model, example=holdout.head(5), model_card=risk.model_card(metrics, params, digest)
        )
        log_seconds = time.perf_counter() - t_evaluated
        train_seconds = time.perf_counter() - t0 - log_seconds
        onnx_bytes = convert_to_onnx(
            model, metadata={"dataset_digest": digest, "review_threshold": str(params.review_threshold)}
        )
        t_exported = time.perf_counter()
        lineage.exported(onnx_bytes)  # the graph is stored while its parity is checked; the alias waits for finish
        log_seconds += time.perf_counter() - t_exported
        check_parity(model, onnx_bytes, holdout.sample(min(len(holdout), 500), random_state=0))
    except BaseException:
        lineage.abort()
        raise
    t1 = time.perf_counter()
    record = lineage.finish(metrics=logged_metrics, onnx_bytes=onnx_bytes)
    # What training waited for MLflow: starting the background half, handing it the evaluated model, and the end.
    log_seconds += (t0 - t_begin) + (time.perf_counter() - t1)
    registry.mark_trained(record.version, key)
    value = asdict(record) | {"metrics": metrics, "review_threshold": params.review_threshold}
    return dg.Output(
        value,
        metadata={
            "model_version": record.version,
            "reused": False,
            "mlflow_run_id": record.run_id,
            "mlflow_run": dg.MetadataValue.url(record.run_url),
            "model_uri": record.model_uri,
            "dataset_digest": digest,
            "train_rows": len(train_part),
            "holdout_rows": len(holdout),
            "train_seconds": round(train_seconds, 2),
            "mlflow_logging_seconds": round(log_seconds, 2),
            **{f"holdout_{k}": float(v) for k, v in metrics.items() if v == v},
        },
    )


def reused_candidate(registry, version: int, digest: str, review_threshold: float) -> dg.Output[dict]:
    """The existing version an identical retraining stands for, as the candidate output (no new registration)."""
    mv = registry.version(version)
    run = registry.client.get_run(mv.run_id)
    metrics = dict(run.data.metrics)
    experiment_id = run.info.experiment_id
    url = f"{registry.tracking_uri}/#/experiments/{experiment_id}/runs/{mv.run_id}"
    value = {"run_id": mv.run_id, "version": int(version), "model_uri": f"models:/{registry.name}/{version}",
             "run_url": url, "experiment_id": experiment_id, "dataset_digest": digest, "metrics": metrics,
             "review_threshold": review_threshold}
    return dg.Output(value, metadata={
        "model_version": int(version), "reused": True, "mlflow_run_id": mv.run_id,
        "mlflow_run": dg.MetadataValue.url(url), "model_uri": value["model_uri"], "dataset_digest": digest,
        **{f"holdout_{k}": float(v) for k, v in metrics.items()},
    })


class PromotionConfig(dg.Config):
    """What the approval sensor asks for."""

    version: int = Field(description="Registered version to make champion.")
    requested_by: str = Field(description="The approver whose approval triggered the promotion.")
    reason: str = Field("approved, every gate passed", description="Why, for the audit log.")


@dg.asset(group_name=TRAINING, deps=[risk_model_candidate], kinds={"mlflow"})
def champion_model(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    mlflow: MlflowResource,
    system_of_record: SystemOfRecordResource,
    governance: GovernanceResource,
) -> dg.MaterializeResult:
    """The model in production: the registry's `champion` alias, moved only past every gate and an approval."""
    registry = registry_for(mlflow, system_of_record, governance)
    move = registry.promote(config.version, actor=f"{config.requested_by} (via Dagster)", reason=config.reason)
    context.log.info(f"champion moved from {move['from']} to {move['to']}")
    return dg.MaterializeResult(
        metadata={
            "model_version": move["to"],
            "previous_champion": move["from"] if move["from"] is not None else "none",
            "approved_by": config.requested_by,
            "audit_seq": move["audit_seq"],
            "mlflow_model": dg.MetadataValue.url(f"{mlflow.tracking_uri}/#/models/{MODEL_NAME}/versions/{move['to']}"),
        }
    )
