"""How each job runs on Kubernetes (PROD): pod sizes, run-queue tags, and which jobs get a pod per step.

`K8sRunLauncher` reads the `dagster-k8s/config` tag of a run for its pod; the run queue's tag limits
(deploy/helm/dagster-values.yaml) read the `claimflow/*` tags. `model_training` runs each step in its
own pod (`k8s_job_executor`): the training step wants several cores and gigabytes for minutes, the gates
and the drift report are small, independent, and retried alone. Inbox micro-batches keep one pod per
run: their steps take seconds, a pod per step would cost more than the work.
"""

from __future__ import annotations

import dagster as dg


def _pod(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict:
    resources = {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}
    return {"container_config": {"resources": resources}}


# Per job: extra run tags. Sizes measured on the embedded default (bench/triage.py, bench/training.py).
JOB_TAGS: dict[str, dict] = {
    "claims_intake": {"dagster-k8s/config": _pod("1", "2Gi", "2", "4Gi")},
    "claims_triage": {
        "dagster-k8s/config": _pod("1", "2Gi", "2", "4Gi"),
        "claimflow/exclusive": "claims_triage",
        "claimflow/uses-triton": "1",
    },
    # The run worker only orchestrates step pods.
    "model_training": {"dagster-k8s/config": _pod("250m", "512Mi", "1", "1Gi"), "claimflow/uses-mlflow": "1"},
}
# Jobs a sensor or schedule targets keep the one definition they are declared with
# (orchestration/automation.py): they take their tags from here at declaration.
SENSOR_JOB_TAGS: dict[str, dict] = {
    "claims_flow": {"dagster-k8s/config": _pod("1", "2Gi", "2", "4Gi"), "claimflow/uses-triton": "1"},
    "champion_promotion": {"claimflow/uses-mlflow": "1", "claimflow/uses-triton": "1"},
}

# Jobs whose steps each get a pod, and the size of those pods.
STEP_PODS: dict[str, dict] = {"model_training": _pod("1", "2Gi", "4", "8Gi")}


def kubernetes_jobs(env, jobs: list) -> list:
    """`jobs` as PROD runs them on Kubernetes (`for_kubernetes`); unchanged in any other environment."""
    from orchestration.environment import Environment

    return for_kubernetes(jobs) if env is Environment.PROD else list(jobs)


def for_kubernetes(jobs: list) -> list:
    """`jobs` with their Kubernetes tags, and `k8s_job_executor` where steps get pods of their own."""
    from dagster_k8s import k8s_job_executor

    out = []
    for job in jobs:
        tags = JOB_TAGS.get(job.name)
        if tags is None:
            out.append(job)
            continue
        executor = None
        if job.name in STEP_PODS:
            executor = k8s_job_executor.configured({"step_k8s_config": STEP_PODS[job.name]}, name="k8s_step_pods")
        out.append(dg.define_asset_job(
            job.name, selection=job.selection, config=job.config, description=job.description,
            tags={**(job.tags or {}), **tags}, partitions_def=job.partitions_def, executor_def=executor,
        ))  # fmt: skip
    return out
