"""The telemetry resource: configures tracing once per process and records each claim step.

Asset bodies call `telemetry.record(...)` once per step with the claims they handled; the
rows land in the step ledger (`raw.claim_steps`) and, as spans, in the trace store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from connectors.schema import CLAIM_STEPS
from connectors.warehouse import Warehouse
from monitoring import telemetry


class TelemetryResource(dg.ConfigurableResource):
    """Where spans go: OTLP when `otlp_endpoint` is set, else JSON lines under `home/telemetry`."""

    home: str = Field(description="$CLAIMFLOW_HOME; spans go to its telemetry/ folder.")
    otlp_endpoint: str = Field("", description="OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT).")
    enabled: bool = Field(True, description="False records nothing (benchmarks' baseline).")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.enabled:
            telemetry.configure(Path(self.home), endpoint=self.otlp_endpoint)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self.enabled:
            telemetry.flush()

    def record(
        self,
        warehouse: Warehouse,
        claim_numbers: Sequence[str],
        step: str,
        run_id: str,
        started_at: datetime,
        ended_at: datetime,
        *,
        status: str = "ok",
        attributes: Sequence[dict] | dict | None = None,
        started: Sequence[datetime] | None = None,
    ) -> int:
        """Record `step` for each claim; a step re-tried in the same run is recorded once. Returns rows new."""
        if not self.enabled or len(claim_numbers) == 0:
            return 0
        rows = telemetry.step_rows(claim_numbers, step, run_id, started_at, ended_at, status=status,
                                   attributes=attributes, started=started)
        with warehouse.transaction() as con:
            con.register("_steps", rows[["claim_number", "step", "run_id"]])
            try:
                known = con.execute(
                    f"select s.claim_number from _steps s join {CLAIM_STEPS} c using (claim_number, step, run_id)"
                ).df()
            finally:
                con.unregister("_steps")
            fresh = rows[~rows["claim_number"].isin(set(known["claim_number"]))] if not known.empty else rows
            warehouse.append(con, CLAIM_STEPS, fresh)
        telemetry.write_step_spans(fresh, Path(self.home))
        return len(fresh)


def claim_list(frame: pd.DataFrame, column: str = "claim_number") -> list[str]:
    """The distinct claim numbers of a frame, in order (what a step handled)."""
    if frame is None or frame.empty or column not in frame:
        return []
    return list(dict.fromkeys(frame[column].dropna().astype(str)))
