"""Tracing: one OpenTelemetry trace per claim, and spans for every call to an outside system.

Two kinds of spans, one exporter:

* **Claim step spans.** Claims move in micro-batches, so a step (parse, score, route, ...)
  handles hundreds of claims at once. Creating an SDK span per claim and step in the hot
  path costs 15-350 µs each on this machine (measured), i.e. 20-40 % of a 100k-claim triage.
  Instead each step appends one vectorised row per claim to the step ledger
  (`raw.claim_steps`, declared in `connectors/schema.py`) and the same rows are written as
  spans: OTLP/JSON-shaped lines to `$CLAIMFLOW_HOME/telemetry/spans.jsonl` (one pandas
  write per batch), or real SDK spans handed to the OTLP exporter when
  `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The trace id is derived from the claim number, so
  every run that touches a claim (a re-executed run included) lands in the same trace.
* **Outside-system spans** (Triton, Claude, MLflow, the system of record, X): few and
  coarse (one per request batch), so they are live SDK spans through `outside_call`, with
  status, retries and the error, exported by the same provider.

Nothing here imports dagster; `orchestration/` configures the provider once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from connectors.tracing import OUTSIDE_SYSTEMS  # noqa: F401  (re-exported for dashboards and tests)

SERVICE_NAME = "claimflow"
SPANS_FILE = "spans.jsonl"

# The claim's way through the platform, in order; a trace is complete when each is present.
CLAIM_STEPS = ("intake", "parse", "score", "route", "draft", "sor_write", "audit")

_lock = threading.Lock()
_configured: dict[str, Any] = {}


def claim_trace_id(claim_number: str) -> str:
    """The claim's trace id (32 hex digits), the same in every run and process."""
    return hashlib.sha256(f"claimflow-trace:{claim_number}".encode()).hexdigest()[:32]


def step_span_id(claim_number: str, step: str, event: str) -> str:
    """A step's span id (16 hex digits): one span per claim, step and event (the message, the model
    version, the state change), so re-reading the same milestone never makes a second span."""
    return hashlib.sha256(f"{claim_number}|{step}|{event}".encode()).hexdigest()[:16]


def step_span_ids(claim_numbers: Sequence[str], steps: Sequence[str], events: Sequence) -> list[str]:
    """`step_span_id` of each (claim, step, event), the event as text."""
    sha = hashlib.sha256
    return [sha(f"{c}|{s}|{e!s}".encode()).hexdigest()[:16] for c, s, e in zip(claim_numbers, steps, events)]


def claim_trace_ids(claim_numbers: Sequence[str]) -> np.ndarray:
    """`claim_trace_id` of each claim, hashed once per distinct claim (a claim has a row per step)."""
    values = pd.Series(claim_numbers, dtype=object).to_numpy()
    codes, claims = pd.factorize(values)
    ids = np.array([claim_trace_id(c) for c in claims], dtype=object)[codes]
    gaps = codes < 0  # a missing claim number (None, NaN) is hashed as itself, like `claim_trace_id` does
    ids[gaps] = [claim_trace_id(c) for c in values[gaps]]
    return ids


def _ts(value) -> int:
    """Nanoseconds since the epoch of a (naive UTC or aware) datetime."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value)


def _ts_many(values: pd.Series) -> pd.Series:
    """`_ts` of every value (int64 nanoseconds, naive = UTC, aware converted, NaT as NaT's value), vectorised.

    A pd.Timestamp per value cost a third of `claim_traces` at 100k claims.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        stamps = values
    elif values.map(lambda v: v is None or v is pd.NaT or isinstance(v, datetime)).all():
        stamps = pd.to_datetime(values, utc=True).dt.tz_localize(None)  # naive and aware datetimes mixed
    else:
        return values.map(_ts)  # anything else (text, dates) exactly as one value is read
    return stamps.astype("datetime64[ns]").astype("int64")


def step_rows(
    claim_numbers: Sequence[str],
    step: str,
    run_id: str,
    started_at: datetime,
    ended_at: datetime,
    *,
    status: str = "ok",
    attributes: Sequence[dict] | dict | None = None,
    started: Sequence[datetime] | None = None,
    ended: Sequence[datetime] | None = None,
) -> pd.DataFrame:
    """One ledger row per claim for `step` in run `run_id` (vectorised; no per-claim span objects).

    `attributes` is one dict for every claim or one per claim (model version, route, rule...);
    `started`/`ended` give per-claim times where they differ (intake runs from delivery to ingestion).
    """
    if step not in CLAIM_STEPS:
        raise ValueError(f"unknown claim step {step!r}; one of {', '.join(CLAIM_STEPS)}")
    claims = [str(c) for c in claim_numbers]
    n = len(claims)
    if isinstance(attributes, dict) or attributes is None:
        attrs = [json.dumps(attributes or {}, default=str, sort_keys=True)] * n
    else:
        if len(attributes) != n:
            raise ValueError("attributes must be one dict, or one per claim")
        attrs = [json.dumps(a, default=str, sort_keys=True) for a in attributes]
    frame = pd.DataFrame({
        "claim_number": claims,
        "step": step,
        "run_id": run_id,
        "trace_id": [claim_trace_id(c) for c in claims],
        "span_id": [step_span_id(c, step, run_id) for c in claims],
        "started_at": pd.to_datetime(list(started), utc=True).tz_localize(None) if started is not None
        else pd.Timestamp(started_at).tz_localize(None) if pd.Timestamp(started_at).tzinfo else pd.Timestamp(started_at),
        "ended_at": pd.to_datetime(list(ended), utc=True).tz_localize(None) if ended is not None
        else pd.Timestamp(ended_at).tz_localize(None) if pd.Timestamp(ended_at).tzinfo else pd.Timestamp(ended_at),
        "status": status,
        "attributes": attrs,
    })
    return frame


def telemetry_dir(home: Path) -> Path:
    return Path(home) / "telemetry"


def write_step_spans(rows: pd.DataFrame, home: Path) -> int:
    """Export ledger rows as spans: OTLP when configured, else JSON lines under `home/telemetry`."""
    if rows.empty:
        return 0
    exporter = _configured.get("otlp_exporter")
    if exporter is not None:
        exporter.export([_readable(r) for r in rows.itertuples(index=False)])
        return len(rows)
    out = telemetry_dir(home)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = pd.DataFrame({
        "kind": "claim_step",
        "name": "claim." + rows["step"],
        "trace_id": rows["trace_id"],
        "span_id": rows["span_id"],
        "claim_number": rows["claim_number"],
        "step": rows["step"],
        "run_id": rows["run_id"],
        "start_ns": _ts_many(rows["started_at"]),
        "end_ns": _ts_many(rows["ended_at"]),
        "status": rows["status"],
        "attributes": rows["attributes"],
    })
    # `to_json(lines=True)` makes a second, byte-by-byte pass over the whole text to find the record
    # boundaries; a boundary is the only place `},{"kind":` can occur (a quote inside a string is escaped).
    records = lines.to_json(orient="records")
    text = records[1:-1].replace('},{"kind":', '}\n{"kind":') + "\n"
    path = out / SPANS_FILE
    with _lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.write("\n")
    os.chmod(path, 0o600)
    return len(rows)


def _readable(row) -> ReadableSpan:
    ctx = SpanContext(
        trace_id=int(row.trace_id, 16), span_id=int(row.span_id, 16), is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    attrs = {"claimflow.claim_number": row.claim_number, "claimflow.step": row.step, "dagster.run_id": row.run_id}
    for k, v in json.loads(row.attributes or "{}").items():
        attrs[f"claimflow.{k}"] = v if isinstance(v, (str, int, float, bool)) else str(v)
    return ReadableSpan(
        name=f"claim.{row.step}", context=ctx, parent=None,
        resource=_configured.get("resource") or Resource.create({"service.name": SERVICE_NAME}),
        attributes=attrs, kind=SpanKind.INTERNAL,
        status=Status(StatusCode.OK if row.status == "ok" else StatusCode.ERROR),
        start_time=_ts(row.started_at), end_time=_ts(row.ended_at),
    )


class JsonLinesSpanExporter(SpanExporter):
    """The embedded default: outside-system spans as JSON lines beside the claim step spans."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lines = []
        for s in spans:
            attrs = dict(s.attributes or {})
            lines.append(json.dumps({
                "kind": "outside_call",
                "name": s.name,
                "trace_id": f"{s.context.trace_id:032x}",
                "span_id": f"{s.context.span_id:016x}",
                "parent_span_id": f"{s.parent.span_id:016x}" if s.parent else None,
                "system": attrs.get("claimflow.system"),
                "operation": attrs.get("claimflow.operation"),
                "start_ns": s.start_time,
                "end_ns": s.end_time,
                "status": "ok" if s.status.status_code != StatusCode.ERROR else "error",
                "error": s.status.description,
                "attributes": json.dumps({k: v for k, v in attrs.items()}, default=str, sort_keys=True),
            }, default=str))
        with _lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(self.path, 0o600)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:  # nothing held open between exports
        return None


class _Switch(SpanExporter):
    """The one exporter of the process-wide provider; `configure` points it at a new target."""

    def __init__(self):
        self.target: SpanExporter | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        target = self.target
        return target.export(spans) if target is not None else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self.target is not None:
            self.target.shutdown()


def configure(home: Path, *, service: str = SERVICE_NAME, endpoint: str | None = None) -> str:
    """Point this process's tracing at OTLP (`endpoint`, default `OTEL_EXPORTER_OTLP_ENDPOINT`) or, when
    none is set, at JSON lines under `home/telemetry`. Idempotent; returns where spans go.

    The SDK provider is installed globally once (OpenTelemetry allows one per process); a later
    call for another home (tests) only re-points its exporter.
    """
    endpoint = endpoint if endpoint is not None else os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    key = f"{home}|{endpoint}"
    with _lock:
        if _configured.get("key") == key:
            return _configured["target"]
        if "provider" not in _configured:
            resource = Resource.create({"service.name": service})
            switch = _Switch()
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(BatchSpanProcessor(switch, schedule_delay_millis=500))
            trace.set_tracer_provider(provider)
            _configured.update(provider=provider, switch=switch, resource=resource)
    _configured["provider"].force_flush()
    with _lock:
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )

            exporter: SpanExporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
            _configured["otlp_exporter"] = exporter
            target = endpoint
        else:
            exporter = JsonLinesSpanExporter(telemetry_dir(home) / SPANS_FILE)
            _configured.pop("otlp_exporter", None)
            target = str(telemetry_dir(home) / SPANS_FILE)
        _configured["switch"].target = exporter
        _configured.update(key=key, target=target)
    return target


def flush() -> None:
    """Write every finished outside-system span now (end of a step or a run)."""
    provider = _configured.get("provider")
    if provider is not None:
        provider.force_flush()


def read_spans(home: Path, *, trace_id: str | None = None) -> pd.DataFrame:
    """Every span written under `home/telemetry` (optionally of one trace), oldest first."""
    path = telemetry_dir(home) / SPANS_FILE
    cols = ["kind", "name", "trace_id", "span_id", "claim_number", "step", "run_id", "system", "operation",
            "start_ns", "end_ns", "status", "error", "attributes"]
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=cols)
    frame = pd.read_json(path, lines=True, dtype={"trace_id": str, "span_id": str, "claim_number": str})
    for c in cols:
        if c not in frame.columns:
            frame[c] = None
    if trace_id is not None:
        frame = frame[frame["trace_id"] == trace_id]
    return frame[cols].sort_values("start_ns", kind="stable").reset_index(drop=True)


def completeness(ledger: pd.DataFrame, claims: Sequence[str] | None = None) -> pd.DataFrame:
    """Per claim: which of `CLAIM_STEPS` its trace holds, and whether it is complete."""
    columns = ["claim_number", "steps", "missing", "complete"]
    traced = ledger.groupby("claim_number")["step"].size().index  # sorted, without a missing claim number
    wanted = traced if claims is None else pd.Index([str(c) for c in claims], dtype=object)
    if not len(wanted):
        return pd.DataFrame([], columns=columns)
    # claim x step presence as a bit mask per claim; 2**7 masks, each with its `missing` text once.
    row = traced.get_indexer(ledger["claim_number"])
    step = pd.Categorical(ledger["step"], categories=CLAIM_STEPS).codes
    hit = (row >= 0) & (step >= 0)
    present = np.zeros((len(traced) + 1, len(CLAIM_STEPS)), dtype=bool)  # the last row: a claim not traced
    present[row[hit], step[hit]] = True
    if claims is not None:
        at = traced.get_indexer(wanted)
        present = present[np.where(at >= 0, at, len(traced))]
    else:
        present = present[:-1]
    masks = present.astype(np.int64) @ (1 << np.arange(len(CLAIM_STEPS), dtype=np.int64))
    texts = np.array([",".join(s for i, s in enumerate(CLAIM_STEPS) if not mask >> i & 1)
                      for mask in range(1 << len(CLAIM_STEPS))], dtype=object)
    steps = present.sum(axis=1).astype(np.int64)
    return pd.DataFrame({"claim_number": list(wanted), "steps": steps, "missing": texts[masks],
                         "complete": steps == len(CLAIM_STEPS)}, columns=columns)


def timeline(ledger: pd.DataFrame, spans: pd.DataFrame, audit: Sequence[dict] = ()) -> list[dict]:
    """A claim's timeline: its step spans, the outside calls of the runs that handled it, its audit entries."""
    events: list[dict] = []
    for r in ledger.itertuples(index=False):
        events.append({"at": pd.Timestamp(r.started_at).isoformat(), "what": f"step {r.step}",
                       "run": str(r.run_id)[:8], "status": r.status,
                       "ms": round((pd.Timestamp(r.ended_at) - pd.Timestamp(r.started_at)).total_seconds() * 1000, 1),
                       "detail": r.attributes})
    runs = set(ledger["run_id"].astype(str)) if not ledger.empty else set()
    calls = spans[spans["kind"] == "outside_call"] if not spans.empty else spans
    for r in calls.itertuples(index=False):
        attrs = json.loads(r.attributes or "{}")
        if attrs.get("claimflow.run_id") not in runs:
            continue
        events.append({"at": datetime.fromtimestamp(r.start_ns / 1e9, tz=UTC).replace(tzinfo=None).isoformat(),
                       "what": f"call {r.name}", "run": str(attrs.get("claimflow.run_id"))[:8], "status": r.status,
                       "ms": round((r.end_ns - r.start_ns) / 1e6, 1),
                       "detail": r.error if isinstance(r.error, str) else ""})
    for a in audit:
        events.append({"at": str(a["at"]), "what": f"audit {a['action']}", "run": "", "status": "ok",
                       "ms": None, "detail": f"#{a['seq']} by {a['actor']}"})
    return sorted(events, key=lambda e: e["at"])


def last_circuits(home: Path, *, tail_bytes: int = 256 * 1024) -> dict[str, dict]:
    """Per outside system, its most recent call in the span log's tail: circuit state, status, end time.

    Reads only the end of the file, so a sensor can ask every tick without reading the whole log.
    """
    path = telemetry_dir(home) / SPANS_FILE
    if not path.exists():
        return {}
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - tail_bytes))
        lines = fh.read().decode("utf-8", "replace").splitlines()[1:] if path.stat().st_size > tail_bytes \
            else fh.read().decode("utf-8", "replace").splitlines()
    out: dict[str, dict] = {}
    for line in lines:
        if '"outside_call"' not in line:
            continue
        try:
            span = json.loads(line)
        except ValueError:
            continue
        attrs = json.loads(span.get("attributes") or "{}")
        out[span.get("system")] = {"circuit": attrs.get("claimflow.circuit", "closed"), "status": span.get("status"),
                                   "ended_ns": span.get("end_ns")}
    return out
