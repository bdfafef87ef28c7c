"""Spans around calls to outside systems, through the OpenTelemetry API only.

Connectors and models wrap each request to Triton, Claude, MLflow, the system of record or
X in `outside_call`; until a process installs an SDK tracer provider (orchestration does,
through `monitoring.telemetry.configure`) the API is a no-op that costs almost nothing.
The Dagster run a call belongs to is bound once per step (`bound_run`) and stamped on each
span, so a claim's timeline can show the calls of the runs that handled it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

OUTSIDE_SYSTEMS = ("triton", "claude", "mlflow", "system_of_record", "x")

_run: ContextVar[str | None] = ContextVar("claimflow_run", default=None)


@contextmanager
def bound_run(run_id: str | None) -> Iterator[None]:
    """Every outside call inside this block is stamped with `run_id`."""
    token = _run.set(run_id)
    try:
        yield
    finally:
        _run.reset(token)


def current_run() -> str | None:
    """The run bound by the innermost `bound_run`, if any."""
    return _run.get()


@contextmanager
def outside_call(system: str, operation: str, *, claims: int | None = None, **attributes: Any) -> Iterator[Any]:
    """A client span around one call to `system`; an exception marks it failed and propagates.

    Yields the span so a caller can record retries: `span.set_attribute("claimflow.retries", n)`.
    """
    if system not in OUTSIDE_SYSTEMS:
        raise ValueError(f"unknown outside system {system!r}; one of {', '.join(OUTSIDE_SYSTEMS)}")
    attrs: dict[str, Any] = {"claimflow.system": system, "claimflow.operation": operation}
    if claims is not None:
        attrs["claimflow.claims"] = int(claims)
    run = _run.get()
    if run:
        attrs["claimflow.run_id"] = run
    attrs.update({f"claimflow.{k}": v for k, v in attributes.items() if v is not None})
    start = time.perf_counter()
    tracer = trace.get_tracer("claimflow")
    with tracer.start_as_current_span(f"{system}.{operation}", kind=SpanKind.CLIENT, attributes=attrs,
                                      record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as err:
            span.set_status(Status(StatusCode.ERROR, f"{type(err).__name__}: {err}"[:300]))
            raise
        finally:
            span.set_attribute("claimflow.duration_s", time.perf_counter() - start)


class TracedClient:
    """A client whose public method calls each run inside `outside_call(system, <method>)`.

    For SDK clients with many entry points (MLflow's `MlflowClient`): every request is traced
    without touching each call site.
    """

    def __init__(self, client: Any, system: str):
        self._client = client
        self._system = system

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def traced(*args, **kwargs):
            with outside_call(self._system, name):
                return attr(*args, **kwargs)

        return traced
