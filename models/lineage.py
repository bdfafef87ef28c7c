"""MLflow lineage of a risk-model candidate: one run holds what it takes to reproduce and judge it.

Params, metrics, the training set as an MLflow dataset with its digest, the git commit,
the ONNX model (signature and input example) that the serving tier loads, and a model
card. The version is registered with alias `challenger`; nothing here picks "latest".
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.features import FEATURES, LABEL
from models.registry import CHALLENGER, MODEL_NAME, PENDING, REQUIRED_GATES

ONNX_ARTIFACT = "model"
# The serving tier needs only these; inferring requirements would import-scan for seconds.
ONNX_PIP_REQUIREMENTS = ["onnx", "onnxruntime"]
# Requests that do not wait on each other go out side by side: 7 model files, the card, metrics, the version.
UPLOAD_THREADS = 12


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"  # MLflow's name for a classic (non-GenAI) experiment


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


def frame_schema(frame: pd.DataFrame):
    """The MLflow schema `mlflow.data.from_pandas` would infer for `frame`, without walking it in Python.

    MLflow infers each column's type and requiredness value by value (0.7 s at
    100k rows, growing with the rows). Here typed columns take their dtype and
    requiredness from vectorised null checks; a column of objects takes the
    string type when pandas finds only strings, and MLflow's own inference
    otherwise (mixed objects are rare and keep MLflow's exact answer).
    """
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.utils import _infer_numpy_dtype, _infer_pandas_column

    specs = []
    for name in frame.columns:
        column = frame[name]
        required = not bool(column.isna().any())
        if column.dtype.kind == "O":
            if pd.api.types.infer_dtype(column, skipna=True) == "string":
                kind = DataType.string
            else:
                kind = _infer_pandas_column(column)
        else:
            kind = _infer_numpy_dtype(column.dtype)
        specs.append(ColSpec(type=kind, name=name, required=required))
    return Schema(specs)


@dataclass
class _Prepared:
    """What the background half of the lineage created: the run, its logged model, the registered name."""

    experiment_id: str
    run_id: str
    run_artifact_uri: str
    model_id: str
    artifact_location: str


class CandidateLineage:
    """The MLflow lineage of one training run, logged while the model trains.

    `begin_candidate` starts a thread that creates the run (tags, git commit),
    logs params and the training set (digest, schema, profile), creates the
    logged model the ONNX artifact will fill, and makes sure the registered
    model exists. `evaluated` (once the model is fitted and evaluated, before
    its ONNX export) registers the version and logs the metrics in the
    background while the export runs. `finish` sends what only the export can
    give: the ONNX model with signature and input example and the model card,
    then points the alias at the version (a call to `finish` alone does all of
    it). `abort` marks the run and the logged model FAILED when training fails,
    and deletes a version registered for it.
    """

    def __init__(
        self,
        *,
        tracking_uri: str,
        experiment: str,
        params: dict,
        training_frame: pd.DataFrame,
        dataset_digest: str,
        trained_by: str,
        repo_dir: Path,
        extra_tags: dict[str, str] | None = None,
        name: str = MODEL_NAME,
    ) -> None:
        from mlflow import MlflowClient

        # No usage telemetry leaves the process (and no time goes into trying to send it).
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        # Ending a run would fetch it back only to print its URL (a round trip after training); the URL is
        # in the candidate's record and the asset's metadata.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.tracking_uri = tracking_uri
        self.name = name
        self.trained_by = trained_by
        self.dataset_digest = dataset_digest
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._pool = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="lineage")
        self._prepared: Future[_Prepared] = self._pool.submit(
            self._prepare, experiment, params, training_frame[[*FEATURES, LABEL]], repo_dir, extra_tags or {}
        )
        self._registered: Future | None = None  # the model version, once `evaluated` asked for it
        self._metrics_logged: tuple[dict[str, float], Future] | None = None

    def _prepare(self, experiment, params, frame, repo_dir, extra_tags) -> _Prepared:
        import mlflow
        from mlflow.entities import DatasetInput, InputTag, LoggedModelOutput, Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        # What `finish` needs is imported here, while the model trains (a fresh step process paid it after).
        importlib.import_module("mlflow.onnx")
        importlib.import_module("mlflow.models")
        importlib.import_module("mlflow.store.artifact.artifact_repository_registry")
        importlib.import_module("onnx")

        client = self.client
        exp = client.get_experiment_by_name(experiment)
        experiment_id = exp.experiment_id if exp else client.create_experiment(experiment)
        if exp is None or exp.tags.get(EXPERIMENT_KIND_TAG) != CLASSIC_ML:
            # MLflow 3 opens untagged experiments in its GenAI/traces view; this one is classic ML.
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)
        tags = {"trained_by": self.trained_by, "dataset_digest": self.dataset_digest, **extra_tags}
        commit = git_commit(repo_dir)
        if commit:
            tags["mlflow.source.git.commit"] = commit
        # The same context tags (user, source, git) `mlflow.start_run` adds.
        run = client.create_run(experiment_id, tags=resolve_tags(tags))
        run_id = run.info.run_id
        try:
            dataset = mlflow.data.from_pandas(frame, name="training_set", targets=LABEL, digest=self.dataset_digest)
            # Precomputed, so `_to_mlflow_entity` does not infer it value by value (cached_property slot).
            dataset.__dict__["schema"] = frame_schema(frame)
            client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()], synchronous=True)
            context = InputTag(key=MLFLOW_DATASET_CONTEXT, value="training")
            client.log_inputs(run_id, datasets=[DatasetInput(dataset=dataset._to_mlflow_entity(), tags=[context])])
            model = client.create_logged_model(
                experiment_id, name=ONNX_ARTIFACT, source_run_id=run_id,
                params={k: str(v) for k, v in params.items()}, tags=resolve_tags(None),
            )  # fmt: skip
            client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
            try:
                client.create_registered_model(self.name)
            except MlflowException as exc:
                if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                    raise
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        return _Prepared(experiment_id, run_id, run.info.artifact_uri, model.model_id, model.artifact_location)

    def evaluated(self, metrics: dict[str, float]) -> None:
        """The model is fitted and evaluated: register its version and log its metrics while it is exported.

        The version carries no alias until `finish` has stored every artifact of it, and `abort`
        deletes it if the export fails.
        """
        if self._registered is None:
            self._registered = self._pool.submit(self._register)
        self._log_metrics(metrics)

    def _register(self):
        prepared = self._prepared.result()
        version_tags = {"trained_by": self.trained_by, "dataset_digest": self.dataset_digest}
        version_tags |= {f"gate.{g}": PENDING for g in REQUIRED_GATES}
        return self.client.create_model_version(
            self.name, f"models:/{prepared.model_id}", prepared.run_id, tags=version_tags, await_creation_for=0,
            model_id=prepared.model_id,
        )  # fmt: skip

    def _log_metrics(self, metrics: dict[str, float]) -> None:
        if self._metrics_logged is not None and self._metrics_logged[0] == metrics:
            return

        def send():
            from mlflow.entities import Metric
            from mlflow.utils.time import get_current_time_millis

            prepared, now = self._prepared.result(), get_current_time_millis()
            run_id, model_id = prepared.run_id, prepared.model_id
            self.client.log_batch(
                run_id, metrics=[Metric(k, float(v), now, 0, model_id=model_id, run_id=run_id)
                                 for k, v in metrics.items()], synchronous=True,
            )  # fmt: skip

        self._metrics_logged = (dict(metrics), self._pool.submit(send))

    def abort(self) -> None:
        """Training failed: the run and its logged model end FAILED, and no version stays registered."""
        from mlflow.entities import LoggedModelStatus

        try:
            prepared = self._prepared.result()
        except Exception:  # noqa: BLE001 - the preparation already ended its own run
            self._pool.shutdown(wait=False)
            return
        try:
            mv = self._registered.result() if self._registered is not None else None
        except Exception:  # noqa: BLE001 - nothing was registered
            mv = None
        finally:
            self._pool.shutdown(wait=False)
        if mv is not None:
            self.client.delete_model_version(self.name, mv.version)
        self.client.finalize_logged_model(prepared.model_id, LoggedModelStatus.FAILED)
        self.client.set_terminated(prepared.run_id, "FAILED")

    def finish(
        self,
        *,
        metrics: dict[str, float],
        onnx_bytes: bytes,
        encoded_example: np.ndarray,
        example_scores: np.ndarray,
        model_card: str,
    ) -> CandidateRecord:
        """Log the exported model's half (and, unless `evaluated` did, the version and metrics); move the alias.

        `challenger` moves only once every artifact of the version is stored.
        """
        import mlflow.onnx
        import onnx
        from mlflow.entities import LoggedModelStatus
        from mlflow.models import Model, infer_signature
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        try:
            prepared = self._prepared.result()
        except BaseException:
            self._pool.shutdown(wait=False)
            raise
        self.evaluated(metrics)  # sends only what `evaluated` has not sent already
        client, run_id, model_id = self.client, prepared.run_id, prepared.model_id
        mv = None
        try:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / "model"
                mlflow_model = Model(artifact_path=prepared.artifact_location, model_uuid=model_id, run_id=run_id,
                                     model_id=model_id)  # fmt: skip
                # The input example is saved, not re-run through the model: `to_onnx` already
                # checked the ONNX model against the trained one, and these scores come from it.
                mlflow.onnx.save_model(
                    onnx.load_model_from_string(onnx_bytes), str(local), mlflow_model=mlflow_model,
                    signature=infer_signature(encoded_example, example_scores), input_example=encoded_example,
                    pip_requirements=ONNX_PIP_REQUIREMENTS, save_as_external_data=False,
                    onnx_execution_providers=["CPUExecutionProvider"],
                )  # fmt: skip
                card = Path(tmp) / "model_card.md"
                card.write_text(model_card)
                model_repo = get_artifact_repository(prepared.artifact_location, tracking_uri=self.tracking_uri)
                run_repo = get_artifact_repository(prepared.run_artifact_uri, tracking_uri=self.tracking_uri)
                # Every request that does not need another's answer goes out at once: each artifact
                # is one HTTP upload, and on a busy machine each round trip costs tens of ms.
                jobs = [
                    self._pool.submit(model_repo.log_artifact, str(f), _parent(f.relative_to(local)))
                    for f in sorted(local.rglob("*")) if f.is_file()
                ]
                jobs.append(self._pool.submit(run_repo.log_artifact, str(card)))
                jobs.append(self._metrics_logged[1])
                try:
                    for job in jobs:
                        job.result()
                finally:
                    mv = self._registered.result()
            # The registry client itself: `MlflowClient.set_registered_model_alias` first fetches the
            # registered model to refuse prompts (a second round trip on the critical path).
            registry = getattr(client, "_get_registry_client", None)
            set_alias = registry().set_registered_model_alias if registry else client.set_registered_model_alias
            last = [
                self._pool.submit(set_alias, self.name, CHALLENGER, mv.version),
                self._pool.submit(client.finalize_logged_model, model_id, LoggedModelStatus.READY),
                self._pool.submit(client.set_terminated, run_id, "FINISHED"),
            ]
            for job in last:
                job.result()
        except BaseException:
            if mv is None:
                try:
                    mv = self._registered.result()
                except Exception:  # noqa: BLE001 - nothing was registered
                    mv = None
            if mv is not None and client.get_model_version(self.name, mv.version).aliases == []:
                # A version whose artifacts did not all arrive must not be there to approve.
                client.delete_model_version(self.name, mv.version)
            client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)
            client.set_terminated(run_id, "FAILED")
            raise
        finally:
            self._pool.shutdown(wait=False)
        return CandidateRecord(
            run_id=run_id,
            version=int(mv.version),
            model_uri=f"models:/{self.name}/{mv.version}",
            run_url=f"{self.tracking_uri}/#/experiments/{prepared.experiment_id}/runs/{run_id}",
            experiment_id=prepared.experiment_id,
            dataset_digest=self.dataset_digest,
        )


def _parent(relative: Path) -> str | None:
    parent = relative.parent.as_posix()
    return None if parent == "." else parent


def begin_candidate(
    *,
    tracking_uri: str,
    experiment: str,
    params: dict,
    training_frame: pd.DataFrame,
    dataset_digest: str,
    trained_by: str,
    repo_dir: Path,
    extra_tags: dict[str, str] | None = None,
    name: str = MODEL_NAME,
) -> CandidateLineage:
    """Start logging a training run in the background; call `finish` after training (or `abort`)."""
    return CandidateLineage(
        tracking_uri=tracking_uri, experiment=experiment, params=params, training_frame=training_frame,
        dataset_digest=dataset_digest, trained_by=trained_by, repo_dir=repo_dir, extra_tags=extra_tags, name=name,
    )  # fmt: skip


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
    """Log one training run, register its ONNX model and point `challenger` at the new version (all at once)."""
    lineage = begin_candidate(
        tracking_uri=tracking_uri, experiment=experiment, params=params, training_frame=training_frame,
        dataset_digest=dataset_digest, trained_by=trained_by, repo_dir=repo_dir, extra_tags=extra_tags, name=name,
    )  # fmt: skip
    return lineage.finish(metrics=metrics, onnx_bytes=onnx_bytes, encoded_example=encoded_example,
                          example_scores=example_scores, model_card=model_card)  # fmt: skip


def download_onnx(tracking_uri: str, name: str, version: int) -> bytes:
    """The ONNX bytes of a registered version (what Triton serves and the gates compare)."""
    import mlflow
    from mlflow import MlflowClient

    # The registry is asked through a client bound to this server: `mlflow.set_registry_uri` is process-global
    # (and exports MLFLOW_REGISTRY_URI to children), and MLflow 3.17 ignores `registry_uri=` when it resolves a
    # `models:/` URI, so a second registry in one process (a test's) would be silently redirected.
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = client.get_model_version_download_uri(name, str(version))
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp, tracking_uri=tracking_uri)
        return (Path(local) / "model.onnx").read_bytes()
