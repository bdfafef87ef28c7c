"""The cost contract: what one inference costs on the serving hardware, and where the figure came from.

Cost = compute seconds per inference x the serving hardware's hourly price / 3600, i.e. what
an inference costs on a fully used node. Framework-free and below `monitoring/`, so the serving
client (`models/serving/statistics.py`) and the gates (`monitoring/cost.py`) share one contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

INPROCESS = "onnxruntime-inprocess"
TRITON = "triton-statistics"


@dataclass(frozen=True)
class CostMeasurement:
    """One measurement: `compute_seconds` over `inferences` at `price_per_hour`, from `source`."""

    source: str
    model_version: int | None
    inferences: int
    compute_seconds: float
    price_per_hour: float
    measured_at: str

    @property
    def seconds_per_inference(self) -> float:
        return self.compute_seconds / self.inferences

    @property
    def cost_per_inference(self) -> float:
        return self.seconds_per_inference * self.price_per_hour / 3600.0

    @property
    def cost_per_1k(self) -> float:
        return self.cost_per_inference * 1000.0

    def as_dict(self) -> dict:
        return asdict(self) | {
            "seconds_per_inference": self.seconds_per_inference,
            "cost_per_inference_usd": self.cost_per_inference,
            "cost_per_1k_usd": self.cost_per_1k,
        }


def cost_from_compute(
    compute_seconds: float, inferences: int, *, price_per_hour: float, source: str, model_version: int | None
) -> CostMeasurement:
    """A measurement stamped now; refuses one without inferences or compute time."""
    if inferences <= 0 or compute_seconds <= 0:
        raise ValueError("a cost measurement needs at least one inference and positive compute time")
    return CostMeasurement(
        source=source,
        model_version=model_version,
        inferences=inferences,
        compute_seconds=compute_seconds,
        price_per_hour=price_per_hour,
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
