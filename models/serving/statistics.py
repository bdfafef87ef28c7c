"""What the serving tier spent: Triton's statistics extension, turned into compute time and cost.

Two views of the same counters, and which one answers which question:

- per execution (`batch_stats`): one entry per model execution, i.e. per dynamic
  batch. The sum of its compute_input + compute_infer + compute_output is the time
  an instance was busy, so compute seconds per inference = that sum / inferences
  (rows). This is the cost basis (`compute_seconds_per_inference`, `cost_measurement`).
- per request (`inference_stats`): each request in a batch is charged the whole
  batch's compute time, so summing it over-counts by the batching factor; it is
  the right view of one request's latency: queue (waiting for the dynamic
  batcher and a free instance) versus compute (`queue_share`).

Counters are cumulative since the version loaded and include the warm-up
(`model_warmup` runs real batches), so measure a window as the difference of two
snapshots: `read_statistics(...).since(before)`. Triton books a request when it
releases it, just after the response reaches the client: a snapshot taken right
after the last response may miss that request for a few milliseconds.

The same counters are exported for Prometheus at the server's `metrics_url`
(`http://127.0.0.1:<metrics_port>/metrics`, text format, labels `model` and
`version`): `nv_inference_count` (rows), `nv_inference_exec_count` (executions),
`nv_inference_request_success` / `_failure`, and per-request cumulative durations
in microseconds `nv_inference_queue_duration_us`,
`nv_inference_compute_input_duration_us`, `nv_inference_compute_infer_duration_us`,
`nv_inference_compute_output_duration_us` (the per-request view above);
`read_metrics` reads them into a dict for checks without a Prometheus server.
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, fields

from models.cost import TRITON, CostMeasurement, cost_from_compute
from models.serving.repository import MODEL_NAME


@dataclass(frozen=True)
class ModelStatistics:
    """Cumulative counters of one model version (or the difference of two snapshots)."""

    model: str
    version: int
    inference_count: int  # rows scored; a 64-row request counts 64
    execution_count: int  # model executions (one per dynamic batch)
    request_count: int  # successful requests
    failed_requests: int
    compute_input_ns: int  # per execution: time an instance was busy, by phase
    compute_infer_ns: int
    compute_output_ns: int
    request_queue_ns: int  # per request: summed over requests
    request_compute_ns: int

    @property
    def compute_ns(self) -> int:
        """Instance busy time (input + infer + output), summed over executions."""
        return self.compute_input_ns + self.compute_infer_ns + self.compute_output_ns

    @property
    def mean_batch_rows(self) -> float:
        """Rows per execution: how much the dynamic batcher grouped."""
        return self.inference_count / self.execution_count if self.execution_count else 0.0

    @property
    def mean_queue_s(self) -> float:
        """Mean time a request waited before its execution started."""
        return self.request_queue_ns / self.request_count / 1e9 if self.request_count else 0.0

    @property
    def mean_request_compute_s(self) -> float:
        """Mean compute time of the execution a request was part of."""
        return self.request_compute_ns / self.request_count / 1e9 if self.request_count else 0.0

    @property
    def queue_share(self) -> float:
        """Queue / (queue + compute) of the mean request's server time."""
        total = self.request_queue_ns + self.request_compute_ns
        return self.request_queue_ns / total if total else 0.0

    def since(self, before: ModelStatistics) -> ModelStatistics:
        """The counters accumulated between `before` and this snapshot (same model and version)."""
        if (before.model, before.version) != (self.model, self.version):
            raise ValueError(f"snapshots of {before.model}:{before.version} and {self.model}:{self.version}")
        counters = {
            f.name: getattr(self, f.name) - getattr(before, f.name)
            for f in fields(self)
            if f.name not in ("model", "version")
        }
        if any(v < 0 for v in counters.values()):
            raise ValueError("counters went backwards: the version was reloaded between the snapshots")
        return ModelStatistics(self.model, self.version, **counters)


def _ns(entry: dict, key: str) -> int:
    return int(entry.get(key, {}).get("ns", 0))


def _count(entry: dict, key: str) -> int:
    return int(entry.get(key, {}).get("count", 0))


def parse_statistics(payload: dict, version: int, model: str = MODEL_NAME) -> ModelStatistics:
    """`ModelStatistics` from the JSON form of a `ModelStatisticsResponse`."""
    for entry in payload.get("model_stats", []):
        if entry.get("name") == model and str(entry.get("version")) == str(version):
            break
    else:
        raise LookupError(f"no statistics for {model} version {version}: is it loaded?")
    stats = entry.get("inference_stats", {})
    batches = entry.get("batch_stats", [])
    return ModelStatistics(
        model=model,
        version=int(version),
        inference_count=int(entry.get("inference_count", 0)),
        execution_count=int(entry.get("execution_count", 0)),
        request_count=_count(stats, "success"),
        failed_requests=_count(stats, "fail"),
        compute_input_ns=sum(_ns(b, "compute_input") for b in batches),
        compute_infer_ns=sum(_ns(b, "compute_infer") for b in batches),
        compute_output_ns=sum(_ns(b, "compute_output") for b in batches),
        request_queue_ns=_ns(stats, "queue"),
        request_compute_ns=sum(_ns(stats, k) for k in ("compute_input", "compute_infer", "compute_output")),
    )


def read_statistics(client, version: int, model: str = MODEL_NAME) -> ModelStatistics:
    """Current counters of `model` `version` from a tritonclient (gRPC or HTTP) client."""
    payload = client.get_inference_statistics(model, str(int(version)), as_json=True)
    return parse_statistics(payload, version, model)


def compute_seconds_per_inference(stats: ModelStatistics) -> float:
    """Instance busy seconds per row scored (per-execution compute / rows)."""
    if stats.inference_count <= 0:
        raise ValueError(f"no inferences in the statistics of {stats.model}:{stats.version}")
    return stats.compute_ns / 1e9 / stats.inference_count


def cost_measurement(stats: ModelStatistics, price_per_hour: float, version: int | None = None) -> CostMeasurement:
    """Cost per inference on the serving tier, in the cost contract of `models.cost` (source `triton-statistics`)."""

    if version is not None and int(version) != stats.version:
        raise ValueError(f"statistics are of version {stats.version}, not {version}")
    return cost_from_compute(
        stats.compute_ns / 1e9,
        stats.inference_count,
        price_per_hour=price_per_hour,
        source=TRITON,
        model_version=stats.version,
    )


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def read_metrics(metrics_url: str, *, prefix: str = "nv_", timeout: float = 5.0) -> dict[tuple[str, frozenset], float]:
    """Samples of the Prometheus endpoint whose names start with `prefix`: {(name, labels): value}."""
    with urllib.request.urlopen(metrics_url, timeout=timeout) as response:
        text = response.read().decode()
    samples: dict[tuple[str, frozenset], float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or not match["name"].startswith(prefix):
            continue
        labels = frozenset(_LABEL.findall(match["labels"] or ""))
        samples[(match["name"], labels)] = float(match["value"])
    return samples
