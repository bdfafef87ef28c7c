"""PROD jobs carry their Kubernetes pod sizes and run-queue tags; model_training gets a pod per step."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from unit.test_prod_settings import FULL_PROD

from orchestration.environment import Environment
from orchestration.k8s import JOB_TAGS, SENSOR_JOB_TAGS, STEP_PODS, kubernetes_jobs


def test_local_jobs_are_left_as_declared():
    from orchestration.automation import claims_triage_job, model_training_job

    jobs = [claims_triage_job, model_training_job]
    assert kubernetes_jobs(Environment.LOCAL, jobs) == jobs


def test_prod_definitions_load_with_step_pods_for_training_and_one_triage_at_a_time(dbt_manifest, monkeypatch):
    from orchestration.definitions import build_definitions

    for name, value in FULL_PROD.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(Environment.PROD)
    training = defs.resolve_job_def("model_training")
    assert training.executor_def.name == "k8s_step_pods"
    triage = defs.resolve_job_def("claims_triage")
    assert triage.tags["claimflow/exclusive"] == "claims_triage"
    pod = json.loads(triage.tags["dagster-k8s/config"]) if isinstance(triage.tags["dagster-k8s/config"], str) \
        else triage.tags["dagster-k8s/config"]
    assert pod["container_config"]["resources"]["limits"]["memory"] == "4Gi"
    flow = defs.resolve_job_def("claims_flow")
    assert flow.executor_def.name != "k8s_step_pods" and flow.tags["claimflow/uses-triton"] == "1"
    assert defs.resolve_job_def("champion_promotion").tags["claimflow/uses-mlflow"] == "1"


def test_every_queue_tag_a_job_carries_has_a_limit_in_the_chart():
    limits = yaml.safe_load(Path("deploy/helm/dagster-values.yaml").read_text())["dagsterDaemon"]["runCoordinator"]["config"][
        "queuedRunCoordinator"]["tagConcurrencyLimits"]  # fmt: skip
    limited = {entry["key"] for entry in limits}
    used = {key for tags in (*JOB_TAGS.values(), *SENSOR_JOB_TAGS.values()) for key in tags
            if key.startswith("claimflow/")}  # fmt: skip
    assert used <= limited and set(STEP_PODS) <= set(JOB_TAGS)
