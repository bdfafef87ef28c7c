"""The MLflow lineage of a candidate, logged partly while training runs, is complete on a real server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.types.utils import _infer_schema
from threadpoolctl import threadpool_limits

from models import onnx_export, risk
from models.features import FEATURES, LABEL
from models.lineage import begin_candidate, download_onnx, frame_digest, frame_schema, git_commit, log_candidate
from models.registry import CHALLENGER, REQUIRED_GATES

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _claims(n: int = 1_200, seed: int = 3) -> pd.DataFrame:
    from tests.unit.test_risk import claims

    return claims(n, seed=seed)


@pytest.fixture(scope="module")
def trained():
    frame = _claims()
    params = risk.TrainingParams(max_iter=20, cv=2)
    with threadpool_limits(limits=1, user_api="openmp"):
        train_part, holdout = risk.split_by_time(frame)
        model = risk.train(train_part, params, threads=1)
        metrics = risk.evaluate(model, holdout, review_threshold=params.review_threshold)
        onnx_bytes = onnx_export.to_onnx(model, holdout.head(200))
    return frame, params, model, holdout, metrics, onnx_bytes


def test_a_candidate_logged_during_training_carries_the_whole_lineage(mlflow_server, trained, monkeypatch):
    frame, params, model, holdout, metrics, onnx_bytes = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    digest = frame_digest(frame[[*FEATURES, LABEL]])
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest=digest, trained_by="trainer", repo_dir=ROOT, extra_tags={"dagster_run_id": "r-1"}, name=name,
    )  # fmt: skip
    example = holdout.head(5)
    record = lineage.finish(
        metrics={k: v for k, v in metrics.items() if not np.isnan(v)}, onnx_bytes=onnx_bytes,
        encoded_example=risk.encode_features(example), example_scores=risk.predict_proba(model, example),
        model_card=risk.model_card(metrics, params, digest),
    )  # fmt: skip

    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    run = client.get_run(record.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {k: str(v) for k, v in params.as_dict().items()}
    assert run.data.metrics == pytest.approx({k: v for k, v in metrics.items() if not np.isnan(v)})
    tags = run.data.tags
    assert tags["trained_by"] == "trainer" and tags["dataset_digest"] == digest and tags["dagster_run_id"] == "r-1"
    # Others commit to this tree while the test runs: the commit is HEAD's shape, not a fixed value.
    assert len(tags["mlflow.source.git.commit"]) == 40 and git_commit(ROOT)
    assert tags.get("mlflow.user")  # the context tags `mlflow.start_run` would add

    (dataset_input,) = run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == "training_set" and dataset.digest == digest
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
    assert json.loads(dataset.schema)["mlflow_colspec"] == _infer_schema(frame[[*FEATURES, LABEL]]).to_dict()
    assert json.loads(dataset.profile)["num_rows"] == len(frame)

    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.status.to_proto() == logged.status.READY.to_proto()
    assert logged.source_run_id == record.run_id
    assert {m.key for m in logged.metrics} == set(run.data.metrics)
    files = {f.path for f in client.list_logged_model_artifacts(output.model_id)}
    assert {"MLmodel", "model.onnx", "input_example.json", "serving_input_example.json", "requirements.txt"} <= files
    run_files = {f.path for f in client.list_artifacts(record.run_id)}
    assert "model_card.md" in run_files

    version = client.get_model_version(name, str(record.version))
    assert version.run_id == record.run_id and version.source == f"models:/{output.model_id}"
    assert version.tags["dataset_digest"] == digest and version.tags["trained_by"] == "trainer"
    assert all(f"gate.{g}" in version.tags for g in REQUIRED_GATES)
    assert client.get_model_version_by_alias(name, CHALLENGER).version == str(record.version)
    assert download_onnx(mlflow_server.url, name, record.version) == onnx_bytes
    from mlflow.models import Model

    local = client.download_artifacts(record.run_id, "model_card.md", dst_path=str(Path(mlflow_server.log_path).parent))
    assert Path(local).read_text().startswith("# Claim risk model")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    mlmodel = Model.load(f"models:/{name}/{record.version}")
    assert mlmodel.signature.inputs.to_dict() and mlmodel.saved_input_example_info


def test_the_one_shot_call_registers_a_new_version_each_time_and_moves_challenger(mlflow_server, trained):
    frame, params, model, holdout, metrics, onnx_bytes = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    example = holdout.head(3)
    common = dict(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), metrics={"roc_auc": 0.7},
        training_frame=frame, dataset_digest="d1", onnx_bytes=onnx_bytes,
        encoded_example=risk.encode_features(example), example_scores=risk.predict_proba(model, example),
        model_card="# card", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    first, second = log_candidate(**common), log_candidate(**common)
    assert (first.version, second.version) == (1, 2)
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    assert client.get_model_version_by_alias(name, CHALLENGER).version == "2"


def test_an_aborted_training_leaves_a_failed_run_and_no_version(mlflow_server, trained):
    frame, params, *_ = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest="d", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    lineage.abort()
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    (run,) = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions(f"name = '{name}'") == []


def test_a_version_registered_while_the_model_is_exported_has_its_metrics_and_alias_after_finish(mlflow_server, trained):
    frame, params, model, holdout, metrics, onnx_bytes = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest="d", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    logged = {k: v for k, v in metrics.items() if not np.isnan(v)}
    lineage.evaluated(logged)
    example = holdout.head(3)
    record = lineage.finish(metrics=logged, onnx_bytes=onnx_bytes, encoded_example=risk.encode_features(example),
                            example_scores=risk.predict_proba(model, example), model_card="# card")  # fmt: skip
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    run = client.get_run(record.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == pytest.approx(logged)
    assert [m.step for m in client.get_metric_history(record.run_id, "roc_auc")] == [0]  # sent once
    version = client.get_model_version(name, str(record.version))
    assert all(version.tags[f"gate.{g}"] == "pending" for g in REQUIRED_GATES)
    assert client.get_model_version_by_alias(name, CHALLENGER).version == str(record.version)
    assert download_onnx(mlflow_server.url, name, record.version) == onnx_bytes


def test_a_failed_export_deletes_the_version_registered_for_it(mlflow_server, trained):
    frame, params, *_ = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest="d", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    lineage.evaluated({"roc_auc": 0.7})
    lineage.abort()
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    (run,) = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions(f"name = '{name}'") == []


def test_the_schema_without_a_walk_matches_what_mlflow_infers_value_by_value():
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame({
        "ints": rng.integers(0, 9, n), "floats": rng.random(n), "with_nan": np.where(rng.random(n) < 0.2, np.nan, 1.0),
        "strings": rng.choice(["a", "b"], n).astype(object), "strings_none": rng.choice(["a", None], n),
        "bools": rng.random(n) < 0.5, "dates": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), "D"),
        "small": rng.integers(0, 9, n).astype(np.int32), "mixed": [1, "x"] * (n // 2),
    })  # fmt: skip
    frame["strings_nan"] = frame["strings"].where(rng.random(n) < 0.8, np.nan)
    for columns in (list(frame.columns), ["ints", "strings"], [c for c in frame.columns if c != "mixed"]):
        part = frame[columns]
        try:
            expected = _infer_schema(part).to_dict()
        except Exception as exc:  # noqa: BLE001 - then ours must fail the same way
            with pytest.raises(type(exc)):
                frame_schema(part)
            continue
        assert frame_schema(part).to_dict() == expected
    assert frame_schema(_claims(500)).to_dict() == _infer_schema(_claims(500)).to_dict()
