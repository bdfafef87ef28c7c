"""MLflow as PROD runs it: tracking and registry in PostgreSQL, artifacts in S3 (moto here, AWS or MinIO there)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.tracking import free_port, is_healthy, server_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def mlflow_on_postgres(postgres_server, s3_server, tmp_path):
    """`mlflow server` with a Postgres backend store and an S3 artifact destination, as deploy/ runs it."""
    store = postgres_server.create_database("mlflow_t")
    bucket = s3_server.create_bucket("claimflow-mlflow-t")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        str(Path(sys.executable).with_name("mlflow")), "server",
        "--backend-store-uri", store,
        "--artifacts-destination", f"{bucket}/artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = open(tmp_path / "mlflow.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_environment({**os.environ, **s3_server.env()})
    )
    try:
        deadline = time.monotonic() + 120
        while not is_healthy(url):
            assert proc.poll() is None, (tmp_path / "mlflow.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server not healthy after 120 s"
            time.sleep(0.5)
        yield url, store, "claimflow-mlflow-t"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=20)
        log.close()


def test_runs_and_registry_live_in_postgres_and_artifacts_in_s3(mlflow_on_postgres, s3_server, tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    url, store, bucket = mlflow_on_postgres
    # The client needs no S3 credentials: the server proxies artifacts (--artifacts-destination).
    for name in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(url)
    try:
        experiment = mlflow.set_experiment("claims_risk")
        card = tmp_path / "model_card.md"
        card.write_text("# claims_risk\ncalibrated gradient boosting\n")
        with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
            mlflow.log_param("max_iter", 40)
            mlflow.log_metric("roc_auc", 0.81)
            mlflow.log_artifact(str(card), artifact_path="model")
        client = MlflowClient(url, registry_uri=url)
        client.create_registered_model("claims_risk")
        version = client.create_model_version("claims_risk", f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_registered_model_alias("claims_risk", "champion", version.version)

        assert client.get_model_version_by_alias("claims_risk", "champion").version == version.version
        local = client.download_artifacts(run.info.run_id, "model/model_card.md", str(tmp_path / "back"))
        assert Path(local).read_text() == card.read_text()
    finally:
        mlflow.set_tracking_uri(None)

    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/model/model_card.md") for k in keys), keys
    with sa.create_engine(store).connect() as con:
        assert con.execute(sa.text("select count(*) from runs")).scalar_one() == 1
        assert con.execute(sa.text("select alias from registered_model_aliases")).scalar_one() == "champion"
        assert con.execute(sa.text("select value from metrics where key = 'roc_auc'")).scalar_one() == 0.81
