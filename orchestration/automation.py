"""Jobs, schedules and sensors: when the asset graph runs."""


import hashlib
import json
import time

import dagster as dg

from assets.groups import CLAIMS, TRAINING
from assets.resources import (
    GovernanceResource,
    InboxResource,
    MlflowResource,
    SystemOfRecordResource,
    registry_for,
)
from monitoring.telemetry import last_circuits
from orchestration.k8s import SENSOR_JOB_TAGS
from orchestration.settings import settings

TRIAGE_ASSETS = dg.AssetSelection.assets(
    "serving_deployment", "risk_scores", "serving_cost", "triage_decisions", "status_drafts",
    "system_of_record_updates", "audit_log", "triage_kpis", "claim_traces",
)  # fmt: skip

claims_intake_job = dg.define_asset_job(
    "claims_intake",
    selection=dg.AssetSelection.groups(CLAIMS) - TRIAGE_ASSETS,
    description="Inbox to validated claims in the warehouse: read, parse, check photos, build dbt models.",
    tags={"claimflow/flow": "claims"},
)

claims_triage_job = dg.define_asset_job(
    "claims_triage",
    selection=TRIAGE_ASSETS,
    description="Score on Triton, route and assign, draft messages, write the system of record, audit, KPIs.",
    tags={"claimflow/flow": "claims"},
)

claims_flow_job = dg.define_asset_job(
    "claims_flow",
    selection=(dg.AssetSelection.groups(CLAIMS) - TRIAGE_ASSETS) | TRIAGE_ASSETS,
    description="Intake and triage of new mail in one micro-batch run.",
    tags={"claimflow/flow": "claims", **SENSOR_JOB_TAGS["claims_flow"]},
)

claims_history_job = dg.define_asset_job(
    "claims_history_sync",
    selection=dg.AssetSelection.assets("claims_history"),
    description="Closed claims and their outcomes from the claims system: labels and the prior-claims lookback.",
)

claims_history_schedule = dg.ScheduleDefinition(
    name="claims_history_daily",
    job=claims_history_job,
    cron_schedule="0 5 * * *",
    execution_timezone="Europe/Paris",
    description="Refresh the closed-claims history before the morning batch.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

claims_daily_schedule = dg.ScheduleDefinition(
    name="claims_daily_batch",
    job=claims_flow_job,
    # The morning batch can wait for its drafts: Message Batches at half price.
    run_config={"ops": {"status_drafts": {"config": {"use_batches": True}}}},
    cron_schedule="0 6 * * *",
    execution_timezone="Europe/Paris",
    description="Full batch over everything waiting in the inbox, every morning.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

MAX_BATCH = 500


def plan_batches(keys: list[str], max_batch: int = MAX_BATCH) -> list[list[str]]:
    """Group new inbox files into micro-batches, in arrival order."""
    return [keys[i : i + max_batch] for i in range(0, len(keys), max_batch)]


@dg.sensor(
    job=claims_flow_job,
    minimum_interval_seconds=30,
    description="New mail in the inbox becomes micro-batch runs (never one run per e-mail).",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def claims_inbox_sensor(context: dg.SensorEvaluationContext, inbox: InboxResource):
    """Request one run per batch of up to MAX_BATCH new files not yet requested, unless downstream is saturated."""
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    present = [item.key for item in inbox.get().list_new()]
    fresh = [k for k in present if k not in requested]
    if not fresh:
        # Forget files that have left `new/`, so the cursor stays as small as the inbox backlog.
        context.update_cursor(json.dumps(sorted(requested & set(present))))
        yield dg.SkipReason("no new mail")
        return
    instance = _instance(context)
    held = back_pressure(instance, settings())
    if held:
        # Mail stays in the inbox (nothing is lost); its age is a metric with an alert rule.
        yield dg.SkipReason(f"{len(fresh)} new mail waiting: {held}")
        return
    room = settings().max_runs_in_flight - _in_flight(instance)
    launched: list[str] = []
    for batch in plan_batches(fresh)[:room]:
        run_key = "inbox-" + hashlib.sha256("\n".join(batch).encode()).hexdigest()[:16]
        yield dg.RunRequest(
            run_key=run_key,
            run_config={"ops": {"claim_emails": {"config": {"inbox_keys": batch}}}},
            tags={"claimflow/batch_size": str(len(batch))},
        )
        launched.extend(batch)
    context.update_cursor(json.dumps(sorted((requested & set(present)) | set(launched))))


IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
# A circuit seen open this recently holds new batches back; older news is stale (the breaker half-opens).
CIRCUIT_FRESH_S = 120


def _instance(context: dg.SensorEvaluationContext):
    try:
        return context.instance
    except dg.DagsterInvariantViolationError:  # a sensor evaluated outside a Dagster instance (unit tests)
        return None


def _in_flight(instance) -> int:
    if instance is None:
        return 0
    return instance.get_runs_count(dg.RunsFilter(job_name=claims_flow_job.name, statuses=IN_FLIGHT))


def back_pressure(instance, s) -> str:
    """Why new micro-batches should wait now ("" when they should not): too many claims runs queued or
    running, or the circuit to Triton or Claude open. Waiting beats piling retries on a sick system."""
    running = _in_flight(instance)
    if running >= s.max_runs_in_flight:
        return f"back-pressure: {running} claims runs in flight (limit {s.max_runs_in_flight})"
    now_ns = time.time_ns()
    for system, last in sorted(last_circuits(s.home).items()):
        if system in ("triton", "claude") and last["circuit"] == "open" \
                and now_ns - int(last["ended_ns"] or 0) < CIRCUIT_FRESH_S * 1e9:
            return f"back-pressure: the circuit to {system} is open"
    return ""


model_training_job = dg.define_asset_job(
    "model_training",
    selection=dg.AssetSelection.groups(TRAINING).required_multi_asset_neighbors()
    - dg.AssetSelection.assets("champion_model")
    | dg.AssetSelection.assets("drift_report"),
    description="Labelled history to a registered challenger, its gates and the drift report.",
)

champion_promotion_job = dg.define_asset_job(
    "champion_promotion",
    selection=dg.AssetSelection.assets("champion_model"),
    description="Move the `champion` alias to an approved version whose gates all passed.",
    tags=SENSOR_JOB_TAGS["champion_promotion"],
)


@dg.sensor(
    job=champion_promotion_job,
    minimum_interval_seconds=60,
    description="An approval in the registry (claimflow models approve) promotes the approved version.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def model_approval_sensor(
    context: dg.SensorEvaluationContext,
    mlflow: MlflowResource,
    system_of_record: SystemOfRecordResource,
    governance: GovernanceResource,
):
    """One promotion run per approved version whose gates passed and that never held `champion`."""
    from models.tracking import is_healthy

    if mlflow.tracking_uri.startswith("http") and not is_healthy(mlflow.tracking_uri):
        yield dg.SkipReason(f"MLflow is not reachable at {mlflow.tracking_uri}")
        return
    registry = registry_for(mlflow, system_of_record, governance)
    pending = registry.pending_promotions()
    if not pending:
        yield dg.SkipReason("no approved version waiting")
        return
    for version in pending:
        approval = registry.version(version).tags
        yield dg.RunRequest(
            run_key=f"promote-{version}-{approval.get('approval.at')}",
            run_config={
                "ops": {
                    "champion_model": {
                        "config": {
                            "version": version,
                            "requested_by": approval["approval.by"],
                            "reason": approval.get("approval.reason", "approved"),
                        }
                    }
                }
            },
        )
