"""The one `Definitions` of Claimflow, assembled from each domain's pieces."""

from __future__ import annotations

import dagster as dg

from assets.claims import assets as claims_assets
from assets.claims import checks as claims_checks
from assets.claims import photo_assets, triage_assets
from assets.claims.retention import privacy_retention_job, privacy_retention_schedule
from assets.dbt.assets import claimflow_dbt_assets
from assets.monitoring import assets as monitoring_assets
from assets.monitoring import kpis
from assets.monitoring import live as live_monitoring
from assets.monitoring import traces as claim_traces
from assets.serving import assets as serving_assets
from assets.social import assets as social_assets
from assets.social import checks as social_checks
from assets.training import assets as training_assets
from assets.training import checks as training_checks
from orchestration.automation import (
    champion_promotion_job,
    claims_daily_schedule,
    claims_flow_job,
    claims_history_job,
    claims_history_schedule,
    claims_triage_job,
    claims_inbox_sensor,
    claims_intake_job,
    model_approval_sensor,
    model_training_job,
)
from orchestration import social_automation as social
from orchestration.environment import Environment, get_environment
from orchestration.k8s import kubernetes_jobs
from orchestration.resources import resources_for


def build_definitions(env: Environment | None = None) -> dg.Definitions:
    """Everything Dagster loads, for `env` (default: from `CLAIMFLOW_ENV`)."""
    env = env or get_environment()
    return dg.Definitions(
        assets=[
            *dg.load_assets_from_modules(
                [claims_assets, photo_assets, triage_assets, training_assets, monitoring_assets, kpis, serving_assets,
                 live_monitoring, claim_traces]
            ),
            claimflow_dbt_assets,
            *dg.load_assets_from_modules([social_assets]),
        ],
        asset_checks=dg.load_asset_checks_from_modules([claims_checks, training_checks, social_checks]),
        jobs=[
            # PROD: pod sizes, run-queue tags, a pod per training step (orchestration/k8s.py).
            *kubernetes_jobs(env, [claims_intake_job, claims_triage_job, model_training_job]),
            claims_flow_job,
            claims_history_job,
            champion_promotion_job,
            social.social_pull_job,
            social.social_trends_job,
            social.social_flow_job,
            live_monitoring.live_monitoring_job,
            privacy_retention_job,
        ],
        schedules=[social.social_hourly_schedule, claims_history_schedule, claims_daily_schedule, live_monitoring.live_monitoring_schedule,
                   privacy_retention_schedule],
        sensors=[social.social_pull_sensor, claims_inbox_sensor, model_approval_sensor, live_monitoring.live_monitoring_alert_sensor],
        resources=resources_for(env),
        # Locally every step runs in one process: micro-batches are small and a process per
        # step would cost more than the work. On Kubernetes the run launcher scales out instead.
        executor=dg.in_process_executor if env is Environment.LOCAL else dg.multiprocess_executor,
    )


defs = build_definitions()
