"""Cost per inference and the gate that holds a model to its budget.

Cost = compute seconds per inference x the serving hardware's hourly price / 3600,
i.e. what an inference costs on a fully used node. The compute time comes from Triton's
statistics extension once the serving tier runs; before that from an in-process
onnxruntime measurement of the same ONNX model, and the measurement says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from models.cost import INPROCESS, TRITON, CostMeasurement, cost_from_compute

__all__ = ["INPROCESS", "TRITON", "CostMeasurement", "CostVerdict", "cost_from_compute", "cost_gate",
           "measure_inprocess"]


def measure_inprocess(
    onnx_bytes: bytes, encoded: np.ndarray, *, batch: int = 256, repeats: int = 5, threads: int = 1
) -> tuple[float, int]:
    """Compute seconds and inferences of running `encoded` through onnxruntime in batches (best of repeats)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.ascontiguousarray(encoded, dtype=np.float32)
    session.run(None, {name: x[:batch]})  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(0, len(x), batch):
            session.run(None, {name: x[i : i + batch]})
        best = min(best, time.perf_counter() - t0)
    return best, len(x)


@dataclass(frozen=True)
class CostVerdict:
    passed: bool
    budget_per_1k: float
    reason: str
    measurement: CostMeasurement | None

    def metadata(self) -> dict:
        out = {"budget_per_1k_usd": self.budget_per_1k, "reason": self.reason}
        if self.measurement:
            out |= {k: v for k, v in self.measurement.as_dict().items() if v is not None}
        return out


def cost_gate(measurement: CostMeasurement | None, budget_per_1k: float) -> CostVerdict:
    """Pass when the measured cost per 1,000 inferences is within budget; no measurement never passes."""
    if measurement is None:
        return CostVerdict(False, budget_per_1k, "no cost measurement for this version", None)
    ok = measurement.cost_per_1k <= budget_per_1k
    reason = (
        f"${measurement.cost_per_1k:.3g} per 1k inferences ({measurement.source}) "
        f"{'within' if ok else 'over'} the ${budget_per_1k:.3g} budget"
    )
    return CostVerdict(ok, budget_per_1k, reason, measurement)
