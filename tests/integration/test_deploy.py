"""deploy/ checked offline: our chart rendered by Helm and its manifests against the Kubernetes API schemas,
the Dagster chart values against what Claimflow needs, the instance they render through Dagster's own config
validation. The official Dagster chart itself is not rendered here: it is not on PyPI and nothing else
brings it offline (deploy/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.30.0"


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


CHART = DEPLOY / "helm" / "claimflow"
NAMESPACE = "claimflow"


def render_chart(overrides: dict | None = None) -> list[dict]:
    """Our chart rendered by Helm itself (Helm's Go SDK in the `helm-python-sdk` wheel, no helm binary),
    with its values.yaml merged with `overrides` as `helm template -f` would."""
    import helm_python

    chart = helm_python.Chart.load(CHART)
    try:
        rendered = chart.render(overrides or {}, name="claimflow", namespace=NAMESPACE, is_install=True)
    finally:
        chart.close()
    return [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]


def rendered_manifests() -> list[dict]:
    """What `helm install` sends with our values, the namespace, and the example secrets."""
    return render_chart() + documents(DEPLOY / "k8s" / "namespace.yaml") + documents(
        DEPLOY / "k8s" / "secrets.example.yaml"
    )


@pytest.mark.parametrize("manifest", rendered_manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid_against_the_kubernetes_schema(manifest):
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_the_chart_passes_helm_lint_in_strict_mode():
    import helm_python

    report = helm_python.lint(CHART, strict=True, namespace=NAMESPACE, kube_version=f"v{K8S_VERSION}")
    assert report["errors"] == [] and not [m for m in report["messages"] if m["severity"] > 1], report


def test_the_schema_check_can_fail():
    broken = next(d for d in rendered_manifests() if d["kind"] == "Deployment")
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _triton_pod(docs: list[dict]) -> dict:
    triton = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "triton")
    return triton["spec"]["template"]["spec"]


def test_triton_is_ready_only_when_triton_says_so_and_runs_on_gpu_nodes():
    pod = _triton_pod(rendered_manifests())
    container = next(c for c in pod["containers"] if c["name"] == "triton")
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] and pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_gpu_values_reach_the_rendered_pod_and_a_cpu_cluster_renders_valid_manifests_too():
    gpus = _triton_pod(render_chart({"triton": {"gpus": 2, "nodeSelector": {"pool": "a100"}}}))
    assert gpus["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert gpus["nodeSelector"] == {"nvidia.com/gpu.present": "true", "pool": "a100"}  # values merge as in Helm
    cpu_only = render_chart({"triton": {"gpus": 0, "nodeSelector": None, "tolerations": []}})
    pod = _triton_pod(cpu_only)
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"] and "nodeSelector" not in pod
    for doc in cpu_only:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_no_manifest_carries_a_real_secret():
    for secret in documents(DEPLOY / "k8s" / "secrets.example.yaml"):
        assert all("CHANGE-ME" in v for v in secret["stringData"].values()), secret["metadata"]["name"]
    for path in [*DEPLOY.rglob("*.yaml"), ROOT / "Dockerfile"]:
        if path.name != "secrets.example.yaml":
            text = path.read_text().lower()
            assert "password:" not in text.replace("postgresql-password", ""), path


def values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "dagster-values.yaml").read_text())


def test_the_chart_values_launch_runs_as_kubernetes_jobs_from_our_image_with_our_secrets():
    v = values()
    launcher = v["runLauncher"]["config"]["k8sRunLauncher"]
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    assert {"name": "claimflow-secrets"} in launcher["envSecrets"]
    assert launcher["runK8sConfig"]["containerConfig"]["resources"]["limits"]
    (deployment,) = v["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "orchestration.definitions"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["CLAIMFLOW_ENV"] == "prod"
    assert v["postgresql"]["enabled"] is False and v["global"]["postgresqlSecretName"]
    assert v["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"


def test_the_chart_and_the_tested_instance_share_their_run_queue_limits():
    chart = values()["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    tested = yaml.safe_load((DEPLOY / "dagster.postgres.yaml").read_text())["run_coordinator"]["config"]
    assert chart == tested["tag_concurrency_limits"]


def chart_instance_yaml(v: dict) -> dict:
    """The dagster.yaml the chart's configmap-instance template renders from these values (the parts set here)."""
    launcher = v["runLauncher"]["config"]["k8sRunLauncher"]
    queue = v["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    pg = v["postgresql"]
    postgres_db = {
        "username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"], "port": pg["service"]["port"],
        "params": pg["postgresqlParams"],
    }  # fmt: skip
    storage = {"postgres": {"postgres_db": postgres_db}}
    return {
        "telemetry": {"enabled": v["telemetry"]["enabled"]},
        "storage": storage,
        "run_coordinator": {
            "module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": queue["maxConcurrentRuns"],
                       "tag_concurrency_limits": queue["tagConcurrencyLimits"]},
        },
        "run_launcher": {
            "module": "dagster_k8s", "class": "K8sRunLauncher",
            "config": {
                # In a pod the chart sets load_incluster_config; offline, a kubeconfig stands in.
                "load_incluster_config": False, "kubeconfig_file": "KUBECONFIG",
                "instance_config_map": "dagster-instance",
                "job_namespace": "claimflow", "service_account_name": "dagster",
                "image_pull_policy": launcher["imagePullPolicy"],
                "env_secrets": [s["name"] for s in launcher["envSecrets"]],
                "labels": launcher["labels"], "volumes": launcher["volumes"], "volume_mounts": launcher["volumeMounts"],
                "run_k8s_config": {
                    "container_config": launcher["runK8sConfig"]["containerConfig"],
                    "pod_spec_config": launcher["runK8sConfig"]["podSpecConfig"],
                    "job_spec_config": launcher["runK8sConfig"]["jobSpecConfig"],
                },
                "fail_pod_on_run_failure": launcher["failPodOnRunFailure"],
            },
        },
        "run_monitoring": {"enabled": True, "start_timeout_seconds": 300, "max_resume_run_attempts": 0},
    }


@pytest.mark.integration
def test_the_instance_the_chart_renders_passes_dagster_validation_and_builds_a_k8s_launcher(postgres_server, tmp_path):
    """Dagster validates every field and instantiates K8sRunLauncher and the Postgres storage from it."""
    from sqlalchemy.engine import make_url

    home = tmp_path / "home"
    home.mkdir()
    instance = chart_instance_yaml(values())
    url = make_url(postgres_server.create_database("dagster_chart"))
    instance["storage"]["postgres"]["postgres_db"].update(
        {"hostname": url.host, "port": url.port, "username": url.username, "db_name": url.database}
    )
    kubeconfig = tmp_path / "kubeconfig"
    instance["run_launcher"]["config"]["kubeconfig_file"] = str(kubeconfig)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}],
    }))  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(home), "KUBECONFIG": str(kubeconfig), "DAGSTER_PG_PASSWORD": "x"}
    code = (
        "import dagster as dg\n"
        "inst = dg.DagsterInstance.get()\n"
        "launcher = inst.run_launcher\n"
        "print(type(launcher).__name__, launcher.job_namespace, sorted(launcher.env_secrets),"
        " type(inst.run_storage).__name__)\n"
    )
    out = subprocess.run(check=False, args=[sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["K8sRunLauncher", "claimflow", "['claimflow-secrets']", "PostgresRunStorage"]


def test_an_unknown_instance_field_fails_dagster_validation(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    broken = chart_instance_yaml(values())
    broken["run_coordinator"]["config"]["max_concurent_runs"] = 3  # misspelt
    del broken["storage"], broken["run_launcher"]
    (home / "dagster.yaml").write_text(yaml.safe_dump(broken))
    out = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().run_coordinator"],
        env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode != 0 and "max_concurent_runs" in out.stderr
