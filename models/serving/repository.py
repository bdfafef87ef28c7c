"""The Triton model repository for `claims_risk`: one config, one directory per version.

    <repo>/claims_risk/config.pbtxt
    <repo>/claims_risk/<version>/model.py     (backend_model.py, verbatim)
    <repo>/claims_risk/<version>/model.onnx   (models.onnx_export.to_onnx bytes)

The config is built once as a `ModelConfig` protobuf (`model_config`) and rendered two
ways: text for config.pbtxt, JSON for a `load_model` override (`model_config_json`),
so the file on disk and what explicit model control loads never disagree.
A version directory is immutable: writing other bytes under an existing version is an
error; the registry's version number is the Triton version number.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from models.features import MODEL_NAME
from models.onnx_export import INPUT_NAME, OUTPUT_NAME, encoding_from_onnx
from models.risk import DEFAULT_ENCODING

BACKEND_TEMPLATE = Path(__file__).with_name("backend_model.py")
OUTPUT_WIDTH = 2


class RepositoryError(ValueError):
    """The model repository would not serve what was asked (wrong encoding, version clash, no versions)."""


@dataclass(frozen=True)
class ServingSettings:
    """Scheduling and threading of the served model, chosen on the 2-core machine with bench/serving.py.

    Measured (100-iteration model, ~10 us of onnxruntime CPU per row; the box
    shared with other jobs, so compared on CPU per inference, which load moves
    least): every request costs ~0.3 ms of tritonserver CPU (gRPC, batcher,
    backend IPC) plus ~0.15 ms in the Python stub, whatever its size.
    - One instance: the dynamic batcher then folds concurrent requests into one
      stub execution. Two instances spread them over two stubs: 17-23 us of
      server CPU per row at batch 64 and 0.5-0.6 ms per single-row request,
      against 14-16 us and 0.3-0.4 ms with one.
    - Two onnxruntime intra-op threads (no spinning): a lone large batch, the
      usual call (a micro-batch scored chunk after chunk), can use the second
      core; costs ~2-3 us of CPU per row at batch 64 for the thread hand-off.
      Idle pool threads sleep, so they do not steal the core gRPC needs.
    - 100 us queue delay: at concurrency 1 it adds at most 0.1 ms; 300 us added
      0.3-0.4 ms to single-row p50 and bought no throughput, since requests that
      arrive while the instance is busy are batched anyway.
    - Preferred sizes 64/256/1024 dispatch at once when the queue holds one.
    """

    max_batch_size: int = 4096
    preferred_batch_sizes: tuple[int, ...] = (64, 256, 1024)
    max_queue_delay_us: int = 100
    instance_count: int = 1
    intra_op_threads: int = 2
    inter_op_threads: int = 1
    warmup_batch: int = 64
    encoding_digest: str = field(default_factory=lambda: DEFAULT_ENCODING.digest)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.instance_count < 1 or self.warmup_batch < 1:
            raise ValueError("max_batch_size, instance_count and warmup_batch must be positive")
        if any(not 0 < b <= self.max_batch_size for b in self.preferred_batch_sizes):
            raise ValueError(f"preferred batch sizes {self.preferred_batch_sizes} must be in 1..{self.max_batch_size}")
        if self.warmup_batch > self.max_batch_size:
            raise ValueError("warmup_batch exceeds max_batch_size")


def _model_dir(repo: Path) -> Path:
    return Path(repo) / MODEL_NAME


def _versions(versions: Iterable[int]) -> list[int]:
    out = sorted({int(v) for v in versions})
    if not out:
        raise RepositoryError("a model config needs at least one version")
    if out[0] < 1:
        raise RepositoryError(f"Triton versions are positive integers, not {out[0]}")
    return out


def model_config(versions: Iterable[int], settings: ServingSettings = ServingSettings()):
    """The `ModelConfig` protobuf serving exactly `versions` (a `version_policy: specific`)."""
    from google.protobuf import json_format
    from tritonclient.grpc import model_config_pb2

    width = DEFAULT_ENCODING.width
    config = {
        "name": MODEL_NAME,
        "backend": "python",
        "max_batch_size": settings.max_batch_size,
        "version_policy": {"specific": {"versions": _versions(versions)}},
        "input": [{"name": INPUT_NAME, "data_type": "TYPE_FP32", "dims": [width]}],
        "output": [{"name": OUTPUT_NAME, "data_type": "TYPE_FP32", "dims": [OUTPUT_WIDTH]}],
        "dynamic_batching": {
            "preferred_batch_size": list(settings.preferred_batch_sizes),
            "max_queue_delay_microseconds": settings.max_queue_delay_us,
        },
        "instance_group": [{"count": settings.instance_count, "kind": "KIND_CPU"}],
        "parameters": {
            "intra_op_num_threads": {"string_value": str(settings.intra_op_threads)},
            "inter_op_num_threads": {"string_value": str(settings.inter_op_threads)},
            "encoding_digest": {"string_value": settings.encoding_digest},
        },
        # Triton marks a version READY only after the warm-up ran, so "ready" means warm.
        "model_warmup": [
            {
                "name": "sample_batch",
                "batch_size": settings.warmup_batch,
                "count": 2,
                "inputs": {INPUT_NAME: {"data_type": "TYPE_FP32", "dims": [width], "random_data": True}},
            }
        ],
    }
    return json_format.ParseDict(config, model_config_pb2.ModelConfig())


def model_config_json(versions: Iterable[int], settings: ServingSettings = ServingSettings()) -> str:
    """The config as JSON, for `InferenceServerClient.load_model(config=...)`."""
    from google.protobuf import json_format

    return json_format.MessageToJson(model_config(versions, settings), preserving_proto_field_name=True)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_config(repo: Path, versions: Iterable[int], settings: ServingSettings = ServingSettings()) -> Path:
    """Write `<repo>/claims_risk/config.pbtxt` serving `versions`; every version must already be written."""
    from google.protobuf import text_format

    wanted = _versions(versions)
    missing = [v for v in wanted if not (_model_dir(repo) / str(v) / "model.onnx").is_file()]
    if missing:
        raise RepositoryError(f"version(s) {missing} have no model.onnx under {_model_dir(repo)}")
    path = _model_dir(repo) / "config.pbtxt"
    _atomic_write(path, text_format.MessageToString(model_config(wanted, settings)).encode())
    return path


def write_model_version(repo: Path, version: int, onnx_bytes: bytes) -> Path:
    """Write version `version` (model.onnx + model.py) and return its directory; idempotent for the same bytes.

    Refuses a model whose encoding differs from `DEFAULT_ENCODING` (the client
    encodes with it) and other bytes under a version that already exists.
    """
    version = _versions([version])[0]
    digest = encoding_from_onnx(onnx_bytes).digest
    if digest != DEFAULT_ENCODING.digest:
        raise RepositoryError(
            f"version {version}: the model's encoding digest {digest} is not the client's {DEFAULT_ENCODING.digest}"
        )
    target = _model_dir(repo) / str(version)
    existing = target / "model.onnx"
    if existing.is_file():
        if existing.read_bytes() != onnx_bytes:
            raise RepositoryError(f"version {version} already exists in {target} with a different model")
        shutil.copyfile(BACKEND_TEMPLATE, target / "model.py")
        return target
    # Build beside, then rename: Triton must never see a version directory half written.
    staging = Path(tempfile.mkdtemp(dir=_ensure(_model_dir(repo)), prefix=f".staging-{version}-"))
    try:
        (staging / "model.onnx").write_bytes(onnx_bytes)
        shutil.copyfile(BACKEND_TEMPLATE, staging / "model.py")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def written_versions(repo: Path) -> list[int]:
    """Versions that have a model.onnx in the repository (loaded or not)."""
    model_dir = _model_dir(repo)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and (p / "model.onnx").is_file())


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
