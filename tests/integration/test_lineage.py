"""The MLflow lineage of a candidate, logged partly while training runs, is complete on a real server."""

from __future__ import annotations

import json
import time
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


def test_a_candidate_logged_during_training_carries_the_whole_lineage(mlflow_server, trained, monkeypatch, tmp_path):
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
    # The files are written before the graph exists; they must be what `mlflow.onnx.save_model` writes with it.
    stored = _stored_model_files(client, output.model_id, tmp_path / "stored")
    expected = _save_model_files(logged, record.run_id, onnx_bytes, example, model, tmp_path / "expected")
    assert stored == expected


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


def test_a_version_registered_while_the_model_is_exported_has_its_metrics_and_alias_after_finish(
    mlflow_server, trained, tmp_path
):
    frame, params, model, holdout, metrics, _ = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest="d", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    logged = {k: v for k, v in metrics.items() if not np.isnan(v)}
    example = holdout.head(5)
    # As the training asset: example and card with the metrics, the graph before its parity check.
    lineage.evaluated(logged, model=model, example=example, model_card="# card")
    converted = onnx_export.convert_to_onnx(model)
    lineage.exported(converted)
    onnx_export.check_parity(model, converted, holdout.head(200))
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    # The version is registered on a lineage thread: wait for it (a loaded box answers late), then check
    # that it carries no alias before `finish`.
    deadline = time.monotonic() + 60
    while not (versions := client.search_model_versions(f"name = '{name}'")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (version,) = versions
    assert version.aliases == []  # not before every artifact is stored and the parity is checked
    record = lineage.finish(metrics=logged, onnx_bytes=converted)

    run = client.get_run(record.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == pytest.approx(logged)
    assert [m.step for m in client.get_metric_history(record.run_id, "roc_auc")] == [0]  # sent once
    version = client.get_model_version(name, str(record.version))
    assert all(version.tags[f"gate.{g}"] == "pending" for g in REQUIRED_GATES)
    assert client.get_model_version_by_alias(name, CHALLENGER).version == str(record.version)
    assert download_onnx(mlflow_server.url, name, record.version) == converted
    (output,) = run.outputs.model_outputs
    logged_model = client.get_logged_model(output.model_id)
    assert logged_model.status.to_proto() == logged_model.status.READY.to_proto()
    assert "model_card.md" in {f.path for f in client.list_artifacts(record.run_id)}
    # Scored off the training thread, the example is the same as the one the caller scores itself.
    stored = _stored_model_files(client, output.model_id, tmp_path / "stored")
    assert stored == _save_model_files(logged_model, record.run_id, converted, example, model, tmp_path / "expected")


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


def test_a_parity_failure_after_the_graph_was_stored_deletes_the_version_and_fails_the_run(mlflow_server, trained):
    frame, params, model, holdout, *_ = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest="d", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    lineage.evaluated({"roc_auc": 0.7}, model=model, example=holdout.head(5), model_card="# card")
    converted = onnx_export.convert_to_onnx(model)
    lineage.exported(converted)
    try:
        onnx_export.check_parity(model, converted, holdout.head(50), atol=-1.0)  # no export can pass this
    except onnx_export.ParityError:
        lineage.abort()  # as the training asset does
    else:
        pytest.fail("the parity check passed a negative tolerance")
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    (run,) = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions(f"name = '{name}'") == []
    (output,) = run.outputs.model_outputs
    logged_model = client.get_logged_model(output.model_id)
    assert logged_model.status.to_proto() == logged_model.status.FAILED.to_proto()  # READY may have come first


def test_a_partial_upload_deletes_the_version_and_fails_the_run(mlflow_server, trained, monkeypatch):
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    frame, params, model, holdout, _, onnx_bytes = trained
    name = f"lineage_{uuid.uuid4().hex[:8]}"
    upload = HttpArtifactRepository.log_artifact

    def graph_upload_fails(repo, local_file, artifact_path=None):
        if Path(local_file).name == "model.onnx":
            raise OSError("connection reset while uploading the graph")
        return upload(repo, local_file, artifact_path)

    monkeypatch.setattr(HttpArtifactRepository, "log_artifact", graph_upload_fails)
    lineage = begin_candidate(
        tracking_uri=mlflow_server.url, experiment=name, params=params.as_dict(), training_frame=frame,
        dataset_digest="d", trained_by="trainer", repo_dir=ROOT, name=name,
    )  # fmt: skip
    lineage.evaluated({"roc_auc": 0.7}, model=model, example=holdout.head(5), model_card="# card")
    lineage.exported(onnx_bytes)
    with pytest.raises(OSError, match="uploading the graph"):
        lineage.finish(metrics={"roc_auc": 0.7}, onnx_bytes=onnx_bytes)
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    (run,) = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions(f"name = '{name}'") == []
    logged_model = client.get_logged_model(run.outputs.model_outputs[0].model_id)
    assert logged_model.status.to_proto() == logged_model.status.FAILED.to_proto()


def _stored_model_files(client, model_id: str, dst: Path) -> dict[str, object]:
    """The logged model's files as stored: bytes, and MLmodel as a dict without its creation time."""
    import mlflow

    dst.mkdir(parents=True)
    # From its artifact location: a `models:/` download adds a registered_model_meta file of its own.
    location = client.get_logged_model(model_id).artifact_location
    local = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(dst),
                                                tracking_uri=client.tracking_uri)  # fmt: skip
    return _model_files(Path(local))


def _save_model_files(logged_model, run_id: str, onnx_bytes: bytes, example, model, dst: Path) -> dict[str, object]:
    """What `mlflow.onnx.save_model` writes for the same graph, example, scores and requirements."""
    import mlflow.onnx
    import onnx
    from mlflow.models import Model, infer_signature

    from models.lineage import ONNX_PIP_REQUIREMENTS

    encoded = risk.encode_features(example)
    mlflow_model = Model(artifact_path=logged_model.artifact_location, model_uuid=logged_model.model_id,
                         run_id=run_id, model_id=logged_model.model_id)  # fmt: skip
    mlflow.onnx.save_model(
        onnx.load_model_from_string(onnx_bytes), str(dst), mlflow_model=mlflow_model,
        signature=infer_signature(encoded, risk.predict_proba(model, example)), input_example=encoded,
        pip_requirements=ONNX_PIP_REQUIREMENTS, save_as_external_data=False,
        onnx_execution_providers=["CPUExecutionProvider"],
    )  # fmt: skip
    return _model_files(dst)


def _model_files(local: Path) -> dict[str, object]:
    import yaml

    files: dict[str, object] = {}
    for f in sorted(p for p in local.rglob("*") if p.is_file()):
        files[f.relative_to(local).as_posix()] = f.read_bytes()
    mlmodel = yaml.safe_load(files["MLmodel"])
    mlmodel.pop("utc_time_created")
    files["MLmodel"] = mlmodel
    return files


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
