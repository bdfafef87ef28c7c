"""The telemetry resource: configures tracing once per process and records each claim step.

The claim traces themselves are built by the `claim_traces` asset (assets/monitoring/traces.py)
at the end of each claims run, from the times the data itself carries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from monitoring import telemetry


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class TelemetryResource(dg.ConfigurableResource):
    """Where spans go: OTLP when `otlp_endpoint` is set, else JSON lines under `home/telemetry`."""

    home: str = Field(description="$CLAIMFLOW_HOME; spans go to its telemetry/ folder.")
    otlp_endpoint: str = Field("", description="OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT).")
    enabled: bool = Field(True, description="False records nothing (the benchmark's baseline).")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.enabled:
            telemetry.configure(Path(self.home), endpoint=self.otlp_endpoint)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self.enabled:
            telemetry.flush()


def _attrs(value) -> dict:
    import json

    if value is None or (isinstance(value, float) and pd.isna(value)):
        return {}
    return value if isinstance(value, dict) else json.loads(value)
