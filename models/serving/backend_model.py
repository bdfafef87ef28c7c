"""Triton Python-backend model for `claims_risk`: onnxruntime over the whole dynamic batch.

This file is a template: `models.serving.repository.write_model_version` copies it
verbatim to `<repo>/claims_risk/<version>/model.py`. It runs inside Triton's Python
backend stub, not in our process, so it imports nothing from `models` (the stub sees
the venv's packages, not necessarily this repository) and reads everything it needs
from the model config parameters that `repository.model_config` writes.

One `execute` call receives every request the dynamic batcher grouped; their
`features` are concatenated into one matrix, scored by a single onnxruntime call and
split back, so the per-call overhead (stub IPC, session.run) is paid once per batch.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
DIGEST_KEY = "claimflow.encoding_digest"


def _parameter(config: dict, key: str, default: str | None = None) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value", default)
    if value is None:
        raise pb_utils.TritonModelException(f"model config lacks parameter {key!r}")
    return value


class TritonPythonModel:
    """One onnxruntime session per model instance."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(_parameter(config, "intra_op_num_threads", "1"))
        options.inter_op_num_threads = int(_parameter(config, "inter_op_num_threads", "1"))
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning pool threads burn the core the other instance (or gRPC) needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        expected = _parameter(config, "encoding_digest")
        actual = self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)
        if actual != expected:
            # A model trained on another encoding would score garbage without an error.
            raise pb_utils.TritonModelException(
                f"{path}: encoding digest {actual!r} != {expected!r} expected by the serving config"
            )

    def execute(self, requests: list) -> list:
        arrays = [pb_utils.get_input_tensor_by_name(r, INPUT_NAME).as_numpy() for r in requests]
        if len(arrays) == 1:
            batch = arrays[0]
        else:
            batch = np.concatenate(arrays, axis=0)
        try:
            (probabilities,) = self.session.run(
                [OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
            )
        except Exception as exc:  # noqa: BLE001 - every request must get an answer, here an error
            error = pb_utils.TritonError(f"onnxruntime failed on a batch of {len(batch)}: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        bounds = np.cumsum([len(a) for a in arrays])[:-1]
        return [
            pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(OUTPUT_NAME, part)])
            for part in np.split(probabilities, bounds)
        ]

    def finalize(self) -> None:
        self.session = None
