"""The serving tier as assets: Triton serves the champion, claims are scored by it, its cost is measured."""

from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.dbt.project import dbt_relation
from assets.groups import SERVING
from assets.monitoring.telemetry import TelemetryResource
from assets.resources import (
    GovernanceResource,
    MlflowResource,
    SystemOfRecordResource,
    WarehouseResource,
    registry_for,
)
from connectors.schema import RISK_SCORES, SERVING_COSTS
from connectors.tracing import bound_run
from connectors.values import utc_naive
from models.lineage import download_onnx
from models.registry import CHAMPION, MODEL_NAME
from models.risk import encode_features


class TritonResource(dg.ConfigurableResource):
    """The Triton Inference Server that serves `claims_risk`, and its model repository."""

    url_grpc: str = Field(description="host:port of Triton's gRPC endpoint.")
    repository: str = Field(description="Model repository folder the server was started on.")
    timeout_s: float = Field(5.0, description="Per-call timeout.")
    wait_for_server_s: float = Field(20.0, description="How long a run waits for a down server before failing.")
    onnx_fallback: bool = Field(
        False, description="Score in process with onnxruntime (same champion version) when Triton is down."
    )

    def client(self):
        import tritonclient.grpc as grpcclient

        return grpcclient.InferenceServerClient(self.url_grpc)

    def scorer(self):
        from models.serving.client import TritonScorer

        return TritonScorer(self.url_grpc, timeout_s=self.timeout_s, wait_for_server_s=self.wait_for_server_s)


def _champion(mlflow: MlflowResource, system_of_record: SystemOfRecordResource, governance: GovernanceResource) -> int:
    version = registry_for(mlflow, system_of_record, governance).alias_version(CHAMPION)
    if version is None:
        raise dg.Failure("no champion model yet: train, approve and promote one first", allow_retries=False)
    return version


@dg.asset(group_name=SERVING, deps=["champion_model"], kinds={"triton"})
def serving_deployment(
    context: dg.AssetExecutionContext,
    triton: TritonResource,
    mlflow: MlflowResource,
    system_of_record: SystemOfRecordResource,
    governance: GovernanceResource,
) -> dg.MaterializeResult:
    """Triton serves the champion: a new version loads beside the old one, takes traffic once READY, then
    the old one is unloaded. Rollback is the same move backwards."""
    from models.serving.repository import write_config, write_model_version
    from models.serving.server import load_versions, ready_versions

    champion = _champion(mlflow, system_of_record, governance)
    repo = Path(triton.repository)
    client = triton.client()
    try:
        before = ready_versions(client)
        if before == [champion]:
            return dg.MaterializeResult(metadata={"live_version": champion, "changed": False})
        write_model_version(repo, champion, download_onnx(mlflow.tracking_uri, MODEL_NAME, champion))
        both = sorted({*before, champion})
        write_config(repo, both)
        load_versions(client, both)  # blocks until the new version is READY (warmed up)
        # risk_scores asks for the champion version by number, so traffic moves as soon as it is READY.
        write_config(repo, [champion])
        served = load_versions(client, [champion])
    finally:
        client.close()
    context.log.info(f"Triton serves version {champion} (was {before or 'nothing'})")
    return dg.MaterializeResult(
        metadata={"live_version": champion, "previous_versions": str(before), "served": str(served), "changed": True}
    )


@dg.asset(group_name=SERVING, deps=["claim_features", serving_deployment], kinds={"triton", "duckdb"})
def risk_scores(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    triton: TritonResource,
    mlflow: MlflowResource,
    system_of_record: SystemOfRecordResource,
    governance: GovernanceResource,
    telemetry: TelemetryResource,  # traces each Triton call with this run
) -> dg.MaterializeResult:
    """P(high risk) per claim from the champion on Triton; each row records the version that scored it."""
    from models.serving.client import OnnxFallbackScorer, ServingUnavailable

    wh = warehouse.get()
    champion = _champion(mlflow, system_of_record, governance)
    pending = wh.pending(
        dbt_relation("claim_features"), done=RISK_SCORES, on=["claim_number"], where="d.model_version = ?",
        params=[str(champion)],
    )
    if pending.empty:
        return dg.MaterializeResult(metadata={"scored": 0, "model_version": champion})
    encoded = encode_features(pending)
    try:
        with triton.scorer() as scorer, bound_run(context.run.run_id):
            result = scorer.score(encoded, version=champion)
    except ServingUnavailable as err:
        if not triton.onnx_fallback:
            raise dg.Failure(f"Triton unavailable, nothing scored: {err}", allow_retries=True) from None
        context.log.warning(f"Triton unavailable ({err}); scoring in process with the same champion version")
        result = OnnxFallbackScorer(download_onnx(mlflow.tracking_uri, MODEL_NAME, champion), champion).score(encoded)
    if set(result.versions) != {champion}:
        raise dg.Failure(f"scores came from versions {result.versions}, not the champion {champion}: nothing stored")
    now = utc_naive()
    frame = pd.DataFrame(
        {
            "claim_number": pending["claim_number"],
            "model_version": [str(v) for v in result.model_versions],
            "score": result.scores,
            "served_by": result.served_by,
            "scored_at": now,
            "run_id": context.run.run_id,
        }
    )
    with wh.transaction() as con:
        written = wh.insert_new(con, RISK_SCORES, frame)
    return dg.MaterializeResult(
        metadata={
            "scored": written,
            "model_version": champion,
            "served_by": result.served_by,
            "mean_score": float(result.scores.mean()),
        }
    )


@dg.asset(group_name=SERVING, deps=[risk_scores], kinds={"triton"})
def serving_cost(
    triton: TritonResource,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    system_of_record: SystemOfRecordResource,
    governance: GovernanceResource,
) -> dg.MaterializeResult:
    """Cost per inference of the live version: Triton's compute time per inference x the hardware's price."""
    from models.serving.statistics import cost_measurement, read_statistics

    champion = _champion(mlflow, system_of_record, governance)
    client = triton.client()
    try:
        stats = read_statistics(client, champion)
    finally:
        client.close()
    if stats.inference_count == 0:
        return dg.MaterializeResult(metadata={"model_version": champion, "inferences": 0})
    cost = cost_measurement(stats, governance.serving_price_per_hour, champion)
    wh = warehouse.get()
    with wh.transaction() as con:
        wh.append(con, SERVING_COSTS, pd.DataFrame([{**cost.as_dict(), "queue_share": stats.queue_share}]))
    return dg.MaterializeResult(
        metadata={
            "model_version": champion,
            "inferences": stats.inference_count,
            "seconds_per_inference": cost.seconds_per_inference,
            "cost_per_1k_usd": cost.cost_per_1k,
            "queue_share": stats.queue_share,
            "source": cost.source,
        }
    )
