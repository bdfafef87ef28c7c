"""MLflow lineage of a risk-model candidate: one run holds what it takes to reproduce and judge it.

Params, metrics, the training set as an MLflow dataset with its digest, the git commit,
the ONNX model (signature and input example) that the serving tier loads, and a model
card. The version is registered with alias `challenger`; nothing here picks "latest".
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from models.features import FEATURES, LABEL
from models.registry import CHALLENGER, MODEL_NAME, PENDING, REQUIRED_GATES

ONNX_ARTIFACT = "model"
# The serving tier needs only these; inferring requirements would import-scan for seconds.
ONNX_PIP_REQUIREMENTS = ["onnx", "onnxruntime"]


@dataclass(frozen=True)
class CandidateRecord:
    """Where a candidate lives: travels as the asset's output and metadata."""

    run_id: str
    version: int
    model_uri: str
    run_url: str
    experiment_id: str
    dataset_digest: str


def frame_digest(frame: pd.DataFrame) -> str:
    """Content digest of a frame, independent of row order and of pandas' memory layout."""
    ordered = frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    h = hashlib.sha256()
    h.update(",".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    h.update(hashed.tobytes())
    return h.hexdigest()[:16]


def git_commit(repo_dir: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def log_candidate(
    *,
    tracking_uri: str,
    experiment: str,
    params: dict,
    metrics: dict[str, float],
    training_frame: pd.DataFrame,
    dataset_digest: str,
    onnx_bytes: bytes,
    encoded_example: np.ndarray,
    example_scores: np.ndarray,
    model_card: str,
    trained_by: str,
    repo_dir: Path,
    extra_tags: dict[str, str] | None = None,
    name: str = MODEL_NAME,
) -> CandidateRecord:
    """Log one training run, register its ONNX model and point `challenger` at the new version."""
    import mlflow
    import onnx
    from mlflow.models import infer_signature

    # No usage telemetry leaves the process (and no time goes into trying to send it).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    experiment_id = exp.experiment_id if exp else client.create_experiment(experiment)
    commit = git_commit(repo_dir)
    tags = {"trained_by": trained_by, "dataset_digest": dataset_digest, **(extra_tags or {})}
    if commit:
        tags["mlflow.source.git.commit"] = commit
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        mlflow.log_params(params)
        dataset = mlflow.data.from_pandas(
            training_frame[[*FEATURES, LABEL]], name="training_set", targets=LABEL, digest=dataset_digest
        )
        mlflow.log_input(dataset, context="training")
        signature = infer_signature(encoded_example, example_scores)
        info = mlflow.onnx.log_model(
            onnx.load_model_from_string(onnx_bytes),
            name=ONNX_ARTIFACT,
            signature=signature,
            input_example=encoded_example,
            pip_requirements=ONNX_PIP_REQUIREMENTS,
            save_as_external_data=False,
            onnx_execution_providers=["CPUExecutionProvider"],
        )
        # After the model: logged earlier, MLflow would fetch each metric's history back to link it.
        mlflow.log_metrics(metrics, model_id=info.model_id)
        with tempfile.TemporaryDirectory() as tmp:
            card = Path(tmp) / "model_card.md"
            card.write_text(model_card)
            mlflow.log_artifact(str(card))
        run_id = run.info.run_id
    version_tags = {"trained_by": trained_by, "dataset_digest": dataset_digest}
    version_tags |= {f"gate.{g}": PENDING for g in REQUIRED_GATES}
    mv = mlflow.register_model(info.model_uri, name, tags=version_tags, await_registration_for=0)
    client.set_registered_model_alias(name, CHALLENGER, mv.version)
    return CandidateRecord(
        run_id=run_id,
        version=int(mv.version),
        model_uri=f"models:/{name}/{mv.version}",
        run_url=f"{tracking_uri}/#/experiments/{experiment_id}/runs/{run_id}",
        experiment_id=experiment_id,
        dataset_digest=dataset_digest,
    )


def download_onnx(tracking_uri: str, name: str, version: int) -> bytes:
    """The ONNX bytes of a registered version (what Triton serves and the gates compare)."""
    import mlflow

    mlflow.set_registry_uri(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp, tracking_uri=tracking_uri
        )
        return (Path(local) / "model.onnx").read_bytes()
