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
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.features import FEATURES, LABEL
from models.registry import CHALLENGER, MODEL_NAME, PENDING, REQUIRED_GATES

ONNX_ARTIFACT = "model"
ONNX_FILE = "model.onnx"  # where `mlflow.onnx.save_model` puts the graph
MLMODEL_FILE = "MLmodel"
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


@dataclass
class _Staged:
    """The MLflow model directory before the export: every file but the graph and MLmodel, already sent."""

    local: Path
    mlflow_model: object  # mlflow.models.Model, signature and flavors set, size without the graph
    placeholder_size: int
    model_repo: object


class CandidateLineage:
    """The MLflow lineage of one training run, logged while the model trains.

    `begin_candidate` starts a thread that creates the run (tags, git commit),
    logs params and the training set (digest, schema, profile), creates the
    logged model the ONNX artifact will fill, and makes sure the registered
    model exists. `evaluated` (once the model is fitted and evaluated, before
    its ONNX export) registers the version and logs the metrics; given the
    model, the example rows and the card, it also stores every model file that
    does not depend on the graph (input example, signature, environment) and
    the card, all while the export runs. `exported` (bytes converted, parity
    not yet checked) stores the graph and MLmodel and marks the logged model
    READY while the check runs. `finish` waits for all of it, then points the
    alias at the version and ends the run (a call to `finish` alone does all
    of it). `abort` marks the run and the logged model FAILED when training or
    the parity check fails, and deletes a version registered for it.
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
        self._jobs: list[Future] = []  # every request sent, so a failure waits for all of them before FAILED
        self._tmp = tempfile.TemporaryDirectory(prefix="lineage-")
        self._prepared: Future[_Prepared] = self._submit(
            self._prepare, experiment, params, training_frame[[*FEATURES, LABEL]], repo_dir, extra_tags or {}
        )
        self._registered: Future | None = None  # the model version, once `evaluated` asked for it
        self._metrics_logged: tuple[dict[str, float], Future] | None = None
        self._staged: Future[_Staged] | None = None
        self._model_uploads: list[Future] = []
        self._run_uploads: list[Future] = []
        self._stored: Future | None = None  # the graph and MLmodel stored, the logged model READY

    def _submit(self, fn, *args) -> Future:
        job = self._pool.submit(fn, *args)
        self._jobs.append(job)
        return job

    def _prepare(self, experiment, params, frame, repo_dir, extra_tags) -> _Prepared:
        import mlflow
        from mlflow.entities import DatasetInput, InputTag, LoggedModelOutput, Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        self._start_workers()
        # What the later steps need is imported here, while the model trains (a fresh step process paid it after).
        importlib.import_module("mlflow.onnx")
        importlib.import_module("mlflow.models")
        importlib.import_module("mlflow.store.artifact.artifact_repository_registry")
        importlib.import_module("onnx")
        importlib.import_module("threadpoolctl")

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

    def evaluated(
        self,
        metrics: dict[str, float],
        *,
        model=None,
        example: pd.DataFrame | None = None,
        model_card: str | None = None,
    ) -> None:
        """The model is fitted and evaluated: register its version and log its metrics while it is exported.

        Given the fitted `model`, the `example` rows (raw claims) and the `model_card`, the example is
        scored and encoded here, off the training thread, and every model file that does not depend on
        the ONNX graph is stored too. The version carries no alias until `finish` has stored every
        artifact of it, and `abort` deletes it if the export fails.
        """
        if self._registered is None:
            self._registered = self._submit(self._register)
        self._log_metrics(metrics)
        if model is not None and self._staged is None:
            if example is None or model_card is None:
                raise ValueError("evaluated(model=...) needs the example rows and the model card too")
            self._staged = self._submit(self._stage, lambda: _scored_example(model, example), model_card)

    def exported(self, onnx_bytes: bytes) -> None:
        """The model is converted, its parity not yet checked: store the graph and MLmodel while the check runs.

        The logged model is READY once every file of it is stored; the alias waits for `finish`, and a
        failed check goes through `abort`, which deletes the version.
        """
        if self._staged is None:
            raise RuntimeError("exported() needs evaluated(metrics, model=..., example=..., model_card=...) first")
        if self._stored is None:
            self._stored = self._submit(self._store_graph, onnx_bytes)

    def _start_workers(self) -> None:
        """Start every worker thread now, from this background thread.

        A pool starts a thread when a job finds none idle, and the submitter waits for it to run:
        0-30 ms each on a busy node, which `evaluated` paid on the training thread.
        """
        release = threading.Event()
        for _ in range(UPLOAD_THREADS - 1):  # each holds its thread until all are started
            self._pool.submit(release.wait, 10)
        release.set()

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

        self._metrics_logged = (dict(metrics), self._submit(send))

    def _stage(self, example_of: Callable[[], tuple[np.ndarray, np.ndarray]], model_card: str) -> _Staged:
        """Write the MLflow model without its graph and send every file of it but the graph and MLmodel."""
        import mlflow.onnx
        from mlflow.models import Model, infer_signature
        from mlflow.store.artifact.artifact_repository_registry import (
            get_artifact_repository,
        )

        encoded_example, example_scores = example_of()  # (encoded rows, scores)
        prepared = self._prepared.result()
        local = Path(self._tmp.name) / "model"
        mlflow_model = Model(artifact_path=prepared.artifact_location, model_uuid=prepared.model_id,
                             run_id=prepared.run_id, model_id=prepared.model_id)  # fmt: skip
        # MLflow's own writer, on a stand-in graph: input example, signature, environment and MLmodel come out
        # as `save_model` writes them for the real one, whose bytes and size `_store_graph` puts in. The input
        # example is saved, not re-run through the model: its scores come from the trained model.
        mlflow.onnx.save_model(
            _placeholder_graph(), str(local), mlflow_model=mlflow_model,
            signature=infer_signature(encoded_example, example_scores), input_example=encoded_example,
            pip_requirements=ONNX_PIP_REQUIREMENTS, save_as_external_data=False,
            onnx_execution_providers=["CPUExecutionProvider"],
        )  # fmt: skip
        placeholder_size = (local / ONNX_FILE).stat().st_size
        card = Path(self._tmp.name) / "model_card.md"
        card.write_text(model_card)
        model_repo = get_artifact_repository(prepared.artifact_location, tracking_uri=self.tracking_uri)
        run_repo = get_artifact_repository(prepared.run_artifact_uri, tracking_uri=self.tracking_uri)
        # Each artifact is one HTTP upload; they go out side by side.
        for f in sorted(local.rglob("*")):
            if f.is_file() and f.name not in (ONNX_FILE, MLMODEL_FILE):
                self._model_uploads.append(self._submit(model_repo.log_artifact, str(f), _parent(f.relative_to(local))))
        self._run_uploads.append(self._submit(run_repo.log_artifact, str(card)))
        return _Staged(local, mlflow_model, placeholder_size, model_repo)

    def _store_graph(self, onnx_bytes: bytes) -> None:
        from mlflow.entities import LoggedModelStatus

        staged = self._staged.result()
        # The exact bytes exported (not re-serialized), and the size `save_model` would have recorded for them.
        (staged.local / ONNX_FILE).write_bytes(onnx_bytes)
        staged.mlflow_model.model_size_bytes += len(onnx_bytes) - staged.placeholder_size
        staged.mlflow_model.save(str(staged.local / MLMODEL_FILE))
        self._model_uploads += [
            self._submit(staged.model_repo.log_artifact, str(staged.local / f)) for f in (ONNX_FILE, MLMODEL_FILE)
        ]
        for job in self._model_uploads:
            job.result()
        self.client.finalize_logged_model(self._prepared.result().model_id, LoggedModelStatus.READY)

    def _settle(self) -> None:
        """Wait for every request sent (failed or not), so none lands after the run is marked FAILED."""
        while pending := [job for job in self._jobs if not job.done()]:  # a job may send more while it runs
            wait(pending)

    def _close(self) -> None:
        self._pool.shutdown(wait=False)
        self._tmp.cleanup()

    def abort(self) -> None:
        """Training failed: the run and its logged model end FAILED, and no version stays registered."""
        from mlflow.entities import LoggedModelStatus

        self._settle()
        try:
            prepared = self._prepared.result()
        except Exception:  # noqa: BLE001 - the preparation already ended its own run
            self._close()
            return
        try:
            mv = self._registered.result() if self._registered is not None else None
        except Exception:  # noqa: BLE001 - nothing was registered
            mv = None
        finally:
            self._close()
        if mv is not None:
            self.client.delete_model_version(self.name, mv.version)
        self.client.finalize_logged_model(prepared.model_id, LoggedModelStatus.FAILED)
        self.client.set_terminated(prepared.run_id, "FAILED")

    def finish(
        self,
        *,
        metrics: dict[str, float],
        onnx_bytes: bytes,
        encoded_example: np.ndarray | None = None,
        example_scores: np.ndarray | None = None,
        model_card: str | None = None,
    ) -> CandidateRecord:
        """Wait for the lineage sent so far, send what is missing, then move the alias and end the run.

        The example, its scores and the card are needed only if `evaluated` was not given them.
        `challenger` moves only once every artifact of the version is stored.
        """
        from mlflow.entities import LoggedModelStatus

        try:
            prepared = self._prepared.result()
        except BaseException:
            self._close()
            raise
        client, run_id, model_id = self.client, prepared.run_id, prepared.model_id
        mv = None
        try:
            self.evaluated(metrics)  # sends only what `evaluated` has not sent already
            if self._staged is None:
                if encoded_example is None or example_scores is None or model_card is None:
                    raise ValueError("finish needs the example, its scores and the card unless evaluated had them")
                given = (encoded_example, example_scores)
                self._staged = self._submit(self._stage, lambda: given, model_card)
            self.exported(onnx_bytes)
            try:
                for job in [self._staged, self._stored, self._metrics_logged[1]]:
                    job.result()
                for job in self._run_uploads:
                    job.result()
            finally:
                mv = self._registered.result()
            # The registry client itself: `MlflowClient.set_registered_model_alias` first fetches the
            # registered model to refuse prompts (a second round trip on the critical path).
            registry = getattr(client, "_get_registry_client", None)
            set_alias = registry().set_registered_model_alias if registry else client.set_registered_model_alias
            last = [
                self._submit(set_alias, self.name, CHALLENGER, mv.version),
                self._submit(client.set_terminated, run_id, "FINISHED"),
            ]
            for job in last:
                job.result()
        except BaseException:
            self._settle()
            if mv is None:
                try:
                    mv = self._registered.result() if self._registered is not None else None
                except Exception:  # noqa: BLE001 - nothing was registered
                    mv = None
            if mv is not None and client.get_model_version(self.name, mv.version).aliases == []:
                # A version whose artifacts did not all arrive must not be there to approve.
                client.delete_model_version(self.name, mv.version)
            client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)
            client.set_terminated(run_id, "FAILED")
            raise
        finally:
            self._close()
        return CandidateRecord(
            run_id=run_id,
            version=int(mv.version),
            model_uri=f"models:/{self.name}/{mv.version}",
            run_url=f"{self.tracking_uri}/#/experiments/{prepared.experiment_id}/runs/{run_id}",
            experiment_id=prepared.experiment_id,
            dataset_digest=self.dataset_digest,
        )


def _scored_example(model, example: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The example rows encoded as the ONNX model reads them, and the trained model's scores for them."""
    from threadpoolctl import threadpool_limits

    from models import risk

    # Five rows on the OpenMP threads of a busy node waited 0.7-2 s for their wake-ups; one thread, same scores.
    with threadpool_limits(limits=1, user_api="openmp"):
        return risk.encode_features(example), risk.predict_proba(model, example)


def _placeholder_graph():
    """A one-node ONNX graph: `save_model` needs a graph to write the files that do not depend on it."""
    import onnx
    from onnx import TensorProto, helper

    tensor = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "placeholder", [tensor], [out])
    return helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])


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
