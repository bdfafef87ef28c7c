"""A tiny code location for the Kubernetes contract tests: what a run pod and a step pod can see."""

import os
import time

import dagster as dg
from dagster_k8s import k8s_job_executor


def _pod_facts() -> dict:
    # Which pod ran this, and whether the secret reached it (never its value).
    return {"pod": os.environ.get("HOSTNAME", ""), "secret_seen": bool(os.environ.get("CLAIMFLOW_SOR_URL")),
            "env": os.environ.get("CLAIMFLOW_ENV", "")}  # fmt: skip


@dg.op
def probe(context: dg.OpExecutionContext):
    """Report the pod's identity and whether the run's secret arrived."""
    facts = _pod_facts()
    context.log.info(f"probe ran in pod {facts['pod']}")
    return dg.Output(facts, metadata=facts)


@dg.op
def slow():
    """Long enough to be terminated."""
    time.sleep(300)


@dg.op
def first_step():
    return dg.Output(_pod_facts(), metadata=_pod_facts())


@dg.op
def second_step(upstream: dict):
    facts = _pod_facts()
    return dg.Output(facts, metadata={**facts, "upstream_pod": upstream["pod"]})


@dg.job(tags={"dagster-k8s/config": {"container_config": {"resources": {"limits": {"cpu": "3", "memory": "5Gi"}}}}})
def probe_job():
    """One op in one run pod; per-job pod size through the `dagster-k8s/config` tag."""
    probe()


@dg.job
def slow_job():
    slow()


@dg.job(executor_def=k8s_job_executor)
def steps_job():
    """Two steps, each in its own pod (k8s_job_executor), the output handed over through the IO manager."""
    second_step(first_step())


defs = dg.Definitions(jobs=[probe_job, slow_job, steps_job])
