"""Prometheus metrics for the signals an on-call engineer and a risk officer watch.

Claimflow's work runs in many short-lived processes (Dagster runs, CLI calls), so the
metrics are not counters kept in one process's memory: a long-running exporter
(`claimflow metrics serve`, started by `claimflow serve` and `claimflow ui`) computes them
at scrape time from the product's own records — the inbox, the warehouse, the system of
record and the span log of `monitoring/telemetry.py`. Nothing is lost when a run's process
exits, nothing is counted twice when a run is re-executed, and a Prometheus server that
scrapes late still sees the truth.

`METRICS` names every metric once; `deploy/monitoring/` (scrape config, alert rules,
Grafana dashboard) uses exactly these names, which a test checks.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from connectors import schema
from monitoring import telemetry
from monitoring.slo import DECISION_LATENCY


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # gauge | counter | histogram
    help: str
    labels: tuple[str, ...] = ()


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("claimflow_inbox_backlog", "gauge", "Mails waiting in the inbox, not yet read."),
    Metric("claimflow_inbox_oldest_unread_age_seconds", "gauge", "Age of the oldest unread mail."),
    Metric("claimflow_review_queue_depth", "gauge", "Review items open or claimed.", ("rule",)),
    Metric("claimflow_review_queue_oldest_age_seconds", "gauge", "Age of the oldest open review item."),
    Metric("claimflow_extraction_confidence", "histogram", "Per-field extraction confidence of parsed claims.",
           ("field",)),
    Metric("claimflow_risk_score", "histogram", "Risk scores per model version.", ("model_version",)),
    Metric("claimflow_step_duration_seconds", "histogram", "Wall time of one claim step per micro-batch.",
           ("step",)),
    Metric("claimflow_outside_call_duration_seconds", "histogram", "Latency of calls to outside systems.",
           ("system",)),
    Metric("claimflow_outside_call_errors_total", "counter", "Failed calls to outside systems.", ("system",)),
    Metric("claimflow_circuit_open", "gauge", "1 while the client's circuit breaker to a system is open.",
           ("system",)),
    Metric("claimflow_llm_tokens_total", "counter", "Language-model tokens.", ("direction",)),
    Metric("claimflow_llm_cost_usd_total", "counter", "Language-model cost in USD."),
    Metric("claimflow_cost_per_inference_usd", "gauge", "Serving cost per inference of a model version.",
           ("model_version",)),
    Metric("claimflow_claims_decided_total", "counter", "Triage decisions by queue.", ("queue",)),
    Metric("claimflow_slo_decided_in_time_ratio", "gauge",
           "Share of claims decided within the SLO's minutes of delivery (see monitoring/slo.py)."),
    Metric("claimflow_social_tickets_opened_total", "counter", "Tickets opened by the social flow.", ("team",)),
    Metric("claimflow_metrics_scrape_errors_total", "counter", "Stores the exporter could not read.", ("store",)),
)}

SCORE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def histogram_buckets(values: Iterable[float], bounds: Sequence[float]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative Prometheus buckets (`le` → count, `+Inf` last) and the sum of `values`."""
    arr = pd.Series(list(values), dtype="float64").dropna()
    out = [(repr(float(b)), float((arr <= b).sum())) for b in bounds]
    out.append(("+Inf", float(len(arr))))
    return out, float(arr.sum())


def _family(name: str, labels: Sequence[str] | None = None):
    m = METRICS[name]
    cls = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily, "histogram": HistogramMetricFamily}[m.kind]
    # prometheus_client adds `_total` to counters itself
    base = name.removesuffix("_total") if m.kind == "counter" else name
    return cls(base, m.help, labels=list(labels if labels is not None else m.labels))


class ClaimflowCollector(Collector):
    """Computes every metric of `METRICS` from the stores of one Claimflow home at scrape time.

    A store that cannot be read right now (a run holds the warehouse's write lock) keeps its
    last values and counts a scrape error, so a scrape never fails as a whole.
    """

    def __init__(self, *, home: Path, warehouse_path: Path, sor_url: str, inbox_dir: Path,
                 slo_minutes: float = DECISION_LATENCY.threshold):
        self.home = Path(home)
        self.warehouse_path = Path(warehouse_path)
        self.sor_url = sor_url
        self.inbox_dir = Path(inbox_dir)
        self.slo_minutes = slo_minutes
        self._last: dict[str, list] = {}
        self._errors: dict[str, int] = {}

    # -------------------------------------------------------------- stores

    def _inbox(self) -> list:
        new = self.inbox_dir / "new"
        backlog = _family("claimflow_inbox_backlog")
        oldest = _family("claimflow_inbox_oldest_unread_age_seconds")
        mtimes = []
        if new.is_dir():
            for entry in new.iterdir():
                if entry.is_file() and not entry.name.startswith("."):
                    with contextlib.suppress(FileNotFoundError):
                        mtimes.append(entry.stat().st_mtime)
        backlog.add_metric([], len(mtimes))
        oldest.add_metric([], max(0.0, time.time() - min(mtimes)) if mtimes else 0.0)
        return [backlog, oldest]

    def _sor(self) -> list:
        engine = sa.create_engine(self.sor_url)
        try:
            with engine.connect() as con:
                names = set(sa.inspect(con).get_table_names())
                depth = _family("claimflow_review_queue_depth")
                oldest = _family("claimflow_review_queue_oldest_age_seconds")
                if "review_items" in names:
                    rows = con.execute(sa.text(
                        "select suggested_rule, count(*), min(created_at) from review_items "
                        "where status in ('open', 'claimed') group by suggested_rule")).all()
                else:
                    rows = []
                first = None
                for rule, n, created in rows:
                    depth.add_metric([rule or ""], n)
                    created = pd.Timestamp(created) if created is not None else None
                    first = created if first is None or (created is not None and created < first) else first
                age = (pd.Timestamp(datetime.now(UTC).replace(tzinfo=None)) - first).total_seconds() if first else 0
                oldest.add_metric([], max(0.0, age))
                return [depth, oldest]
        finally:
            engine.dispose()

    def _warehouse(self) -> list:
        import duckdb

        if not self.warehouse_path.exists():
            return []
        con = duckdb.connect(str(self.warehouse_path), read_only=True)
        try:
            have = {r[0] for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
            out = []
            conf = _family("claimflow_extraction_confidence")
            if schema.PARSED_CLAIMS.name in have:
                by_field: dict[str, list[float]] = {}
                for (doc,) in con.execute(f"select confidence from {schema.PARSED_CLAIMS}").fetchall():
                    for field, value in (json.loads(doc) if doc else {}).items():
                        if isinstance(value, (int, float)):
                            by_field.setdefault(field, []).append(float(value))
                for field, values in sorted(by_field.items()):
                    buckets, total = histogram_buckets(values, CONFIDENCE_BUCKETS)
                    conf.add_metric([field], buckets, total)
            out.append(conf)
            scores = _family("claimflow_risk_score")
            if schema.RISK_SCORES.name in have:
                frame = con.execute(f"select model_version, score from {schema.RISK_SCORES}").df()
                for version, part in frame.groupby("model_version"):
                    buckets, total = histogram_buckets(part["score"], SCORE_BUCKETS)
                    scores.add_metric([str(version)], buckets, total)
            out.append(scores)
            steps = _family("claimflow_step_duration_seconds")
            if schema.CLAIM_STEPS.name in have:
                frame = con.execute(
                    f"select step, run_id, max(epoch(ended_at) - epoch(started_at)) as seconds "
                    f"from {schema.CLAIM_STEPS} where step <> 'intake' group by step, run_id").df()
                for step, part in frame.groupby("step"):
                    buckets, total = histogram_buckets(part["seconds"], LATENCY_BUCKETS)
                    steps.add_metric([step], buckets, total)
            out.append(steps)
            tokens = _family("claimflow_llm_tokens_total")
            cost = _family("claimflow_llm_cost_usd_total")
            if schema.MODEL_CALLS.name in have:
                frame = con.execute(f"select cost_usd, usage from {schema.MODEL_CALLS}").df()
                inp = outp = 0
                for doc in frame["usage"].dropna():
                    usage = json.loads(doc) if doc and doc != "null" else {}
                    inp += int(usage.get("input_tokens") or 0)
                    outp += int(usage.get("output_tokens") or 0)
                tokens.add_metric(["input"], inp)
                tokens.add_metric(["output"], outp)
                cost.add_metric([], float(frame["cost_usd"].fillna(0).sum()))
            out += [tokens, cost]
            per_inference = _family("claimflow_cost_per_inference_usd")
            if schema.SERVING_COSTS.name in have:
                frame = con.execute(
                    f"select model_version, cost_per_inference_usd from {schema.SERVING_COSTS} "
                    f"qualify row_number() over (partition by model_version order by measured_at desc) = 1").df()
                for r in frame.itertuples(index=False):
                    per_inference.add_metric([str(r.model_version)], float(r.cost_per_inference_usd or 0))
            out.append(per_inference)
            decided = _family("claimflow_claims_decided_total")
            slo = _family("claimflow_slo_decided_in_time_ratio")
            if schema.TRIAGE_DECISIONS.name in have:
                frame = con.execute(
                    f"select queue, received_at, decided_at from {schema.TRIAGE_DECISIONS} "
                    f"qualify row_number() over (partition by claim_number order by decided_at) = 1").df()
                for queue, n in frame.groupby("queue").size().items():
                    decided.add_metric([queue], int(n))
                if not frame.empty:
                    minutes = (frame["decided_at"] - frame["received_at"]).dt.total_seconds() / 60
                    slo.add_metric([], float((minutes <= self.slo_minutes).mean()))
            out += [decided, slo]
            tickets = _family("claimflow_social_tickets_opened_total")
            if "social_tickets" in have:
                frame = con.execute("select team, count(*) as n from raw.social_tickets group by team").df()
                for r in frame.itertuples(index=False):
                    tickets.add_metric([str(r.team)], int(r.n))
            out.append(tickets)
            return out
        finally:
            con.close()

    def _spans(self) -> list:
        spans = telemetry.read_spans(self.home)
        calls = spans[spans["kind"] == "outside_call"] if not spans.empty else spans
        latency = _family("claimflow_outside_call_duration_seconds")
        errors = _family("claimflow_outside_call_errors_total")
        circuit = _family("claimflow_circuit_open")
        for system, part in calls.groupby("system") if not calls.empty else []:
            buckets, total = histogram_buckets((part["end_ns"] - part["start_ns"]) / 1e9, LATENCY_BUCKETS)
            latency.add_metric([str(system)], buckets, total)
            errors.add_metric([str(system)], int((part["status"] == "error").sum()))
            last = json.loads(part.iloc[-1]["attributes"] or "{}")
            circuit.add_metric([str(system)], 1.0 if last.get("claimflow.circuit") == "open" else 0.0)
        return [latency, errors, circuit]

    # -------------------------------------------------------------- collect

    def collect(self):
        for store, read in (("inbox", self._inbox), ("system_of_record", self._sor),
                            ("warehouse", self._warehouse), ("spans", self._spans)):
            try:
                self._last[store] = read()
            except Exception:  # noqa: BLE001 - a store busy or missing right now: keep its last values, count the miss
                self._errors[store] = self._errors.get(store, 0) + 1
            yield from self._last.get(store, [])
        errors = _family("claimflow_metrics_scrape_errors_total")
        for store, n in sorted(self._errors.items()):
            errors.add_metric([store], n)
        yield errors


def exposition(collector: ClaimflowCollector) -> str:
    """The Prometheus text format of one scrape (what `claimflow metrics show` prints)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def serve(collector: ClaimflowCollector, port: int, addr: str = "127.0.0.1"):
    """Serve `/metrics` on `addr:port` from a daemon thread; returns (server, thread)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return start_http_server(port, addr=addr, registry=registry)
