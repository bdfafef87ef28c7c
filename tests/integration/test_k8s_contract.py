"""K8sRunLauncher and k8s_job_executor over HTTP against a loopback fake Kubernetes API whose "kubelet" runs
each Job's container command as a local process against the same Postgres instance.

Proves the launcher contract (Jobs created with Dagster's labels, our image, env and secrets wiring, the
`dagster api execute_run` / `execute_step` command, status read back, delete on terminate), not
scheduling, images or resources: see tests/fakes/kubernetes_api.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LOCATION = ROOT / "tests" / "fakes" / "k8s_location.py"
IMAGE = "registry.example.com/claimflow/user-code:test"
SECRET = {"CLAIMFLOW_SOR_URL": "postgresql+psycopg2://claimflow:not-a-real-password@db/sor"}


@pytest.fixture
def cluster(postgres_server, tmp_path):
    """The fake API, a Postgres-backed DAGSTER_HOME whose run launcher is K8sRunLauncher, and the env to launch."""
    from fakes.kubernetes_api import FakeKubernetes

    home = tmp_path / "dagster_home"
    home.mkdir()
    base_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "PWD": str(ROOT),
    }  # fmt: skip
    fake = FakeKubernetes(tmp_path, secrets={"claimflow-secrets": SECRET}, base_env=base_env).start()
    fake.dagster_home = home
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig")
    instance = {
        "telemetry": {"enabled": False},
        "storage": {"postgres": {"postgres_url": postgres_server.create_database(f"k8s_{time.time_ns() % 10**9}")}},
        # Launched straight away (no daemon here): the run queue is tested in test_dagster_postgres.
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"},
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {
            "load_incluster_config": False, "kubeconfig_file": str(kubeconfig), "job_namespace": "claimflow",
            "service_account_name": "dagster", "instance_config_map": "dagster-instance",
            "env_secrets": ["claimflow-secrets"], "env_vars": ["CLAIMFLOW_ENV=prod"],
            "labels": {"app.kubernetes.io/part-of": "claimflow"},
            "run_k8s_config": {"container_config": {"resources": {"requests": {"cpu": "500m"}}}},
        }},
    }  # fmt: skip
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_CURRENT_IMAGE": IMAGE,
           "PYTHONPATH": base_env["PYTHONPATH"]}  # fmt: skip
    yield fake, home, env
    fake.stop()


def launch(env: dict, job: str) -> str:
    out = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [str(Path(sys.executable).with_name("dagster")), "job", "launch", "-f", str(LOCATION), "-j", job],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    with _instance(env) as instance:
        return instance.get_run_records(limit=1)[0].dagster_run.run_id


class _instance:
    def __init__(self, env: dict):
        self.env = env

    def __enter__(self):
        import dagster as dg

        self._old = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = self.env["DAGSTER_HOME"]
        self.instance = dg.DagsterInstance.get()
        return self.instance

    def __exit__(self, *exc):
        self.instance.dispose()
        if self._old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = self._old


def wait_for(env: dict, run_id: str, statuses: set[str], timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while True:
        with _instance(env) as instance:
            status = instance.get_run_by_id(run_id).status.value
        if status in statuses or time.monotonic() > deadline:
            return status
        time.sleep(1)


def materialized_metadata(env: dict, run_id: str) -> dict[str, dict]:
    import dagster as dg

    with _instance(env) as instance:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT).records
        return {
            r.event_log_entry.step_key: {k: v.value for k, v in r.event_log_entry.dagster_event.event_specific_data
                                         .metadata.items()}
            for r in records
        }  # fmt: skip


def test_the_run_launcher_creates_a_labelled_job_whose_pod_runs_the_run_with_our_secrets(cluster):
    fake, _, env = cluster
    run_id = launch(env, "probe_job")
    assert wait_for(env, run_id, {"SUCCESS", "FAILURE"}) == "SUCCESS", fake.pods

    (job,) = fake.jobs.values()
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["dagster/run-id"] == run_id and labels["dagster/job"] == "probe_job"
    assert labels["app.kubernetes.io/part-of"] == "claimflow"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    assert {"secretRef": {"name": "claimflow-secrets"}} in container["envFrom"]
    assert container["resources"]["limits"] == {"cpu": "3", "memory": "5Gi"}  # the job's dagster-k8s/config tag
    assert container["resources"]["requests"] == {"cpu": "500m"}  # the launcher's run_k8s_config
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "dagster"

    facts = materialized_metadata(env, run_id)["probe"]
    (pod,) = fake.pods.values()
    assert facts == {"pod": pod.name, "secret_seen": True, "env": "prod"}
    assert SECRET["CLAIMFLOW_SOR_URL"] not in pod.log_path.read_text()  # a secret never reaches the logs

    with _instance(env) as instance:
        launcher = instance.run_launcher
        health = launcher.check_run_worker_health(instance.get_run_by_id(run_id))
        debug = launcher.get_run_worker_debug_info(instance.get_run_by_id(run_id))
    assert health.status.value == "SUCCESS"
    assert pod.name in debug  # pods listed by the job-name label, their logs read
    assert ("GET", "/api/v1/namespaces/claimflow/pods") in fake.requests


def test_terminating_a_run_deletes_its_job_and_stops_the_pod(cluster):
    fake, _, env = cluster
    run_id = launch(env, "slow_job")
    assert wait_for(env, run_id, {"STARTED"}, timeout=300) == "STARTED"
    with _instance(env) as instance:
        assert instance.run_launcher.terminate(run_id)
    (job_name,) = fake.jobs
    assert ("DELETE", f"/apis/batch/v1/namespaces/claimflow/jobs/{job_name}") in fake.requests
    (pod,) = fake.pods.values()
    assert pod.proc.poll() is not None


def test_the_k8s_job_executor_runs_each_step_in_its_own_pod(cluster):
    fake, _, env = cluster
    run_id = launch(env, "steps_job")
    assert wait_for(env, run_id, {"SUCCESS", "FAILURE"}) == "SUCCESS"
    step_jobs = [j for j in fake.jobs.values() if j["spec"]["template"]["metadata"]["labels"].get("dagster/op")]
    assert sorted(j["spec"]["template"]["metadata"]["labels"]["dagster/op"] for j in step_jobs) == [
        "first_step", "second_step",
    ]  # fmt: skip
    for job in step_jobs:
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][:3] == ["dagster", "api", "execute_step"]
        assert {"secretRef": {"name": "claimflow-secrets"}} in container["envFrom"]
        assert job["spec"]["template"]["metadata"]["labels"]["dagster/run-id"] == run_id
    facts = materialized_metadata(env, run_id)
    assert facts["first_step"]["pod"] != facts["second_step"]["pod"]
    assert facts["second_step"]["upstream_pod"] == facts["first_step"]["pod"]
    assert facts["first_step"]["secret_seen"] and facts["second_step"]["secret_seen"]
    assert len(fake.pods) == 3  # the run worker and one pod per step
