"""One trace per claim: complete from intake to audit, also when the run failed half-way and was re-executed."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.fakes.milestones import land_milestones, reconstructable_job

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLAIMS = 200


def test_every_claim_has_a_complete_trace_after_a_crash_and_a_re_execution_and_a_rerun_adds_no_span(
    claimflow_home, dbt_manifest, monkeypatch
):
    from connectors.schema import CLAIM_STEPS
    from connectors.warehouse import Warehouse
    from monitoring import telemetry

    claimflow_home.mkdir(parents=True)
    land_milestones(claimflow_home, CLAIMS)
    with dg.instance_for_test() as instance:
        monkeypatch.setenv("CLAIMFLOW_TEST_CRASH_AFTER", "100")
        crashed = dg.execute_job(reconstructable_job(claimflow_home), instance, raise_on_error=False)
        assert not crashed.success
        monkeypatch.delenv("CLAIMFLOW_TEST_CRASH_AFTER")
        resumed = dg.execute_job(reconstructable_job(claimflow_home), instance, raise_on_error=False,
                                 reexecution_options=dg.ReexecutionOptions.from_failure(crashed.run_id, instance))
        assert resumed.success
        again = dg.execute_job(reconstructable_job(claimflow_home), instance, raise_on_error=False)
        assert again.success
    wh = Warehouse(claimflow_home / "warehouse.duckdb")
    ledger = wh.read(f"select * from {CLAIM_STEPS}")
    done = telemetry.completeness(ledger, [f"CLM-2026-{i + 1:06d}" for i in range(CLAIMS)])
    assert done["complete"].all(), done[~done["complete"]].head()
    assert len(ledger) == CLAIMS * len(telemetry.CLAIM_STEPS)  # the second run added nothing
    spans = telemetry.read_spans(claimflow_home)
    steps = spans[spans["kind"] == "claim_step"]
    assert len(steps) == len(ledger)
    one = telemetry.claim_trace_id("CLM-2026-000007")
    trace = steps[steps["trace_id"] == one]
    assert list(trace["step"]) == list(telemetry.CLAIM_STEPS)  # in order, each starting where the last ended
    assert (trace["start_ns"].to_numpy()[1:] == trace["end_ns"].to_numpy()[:-1]).all()
    # the system-of-record write was a real outside call, traced with its status
    calls = spans[spans["kind"] == "outside_call"]
    assert "system_of_record" in set(calls["system"])


def test_claimflow_trace_prints_a_claims_timeline(claimflow_home, dbt_manifest, capsys):
    from orchestration.cli import main

    claimflow_home.mkdir(parents=True)
    land_milestones(claimflow_home, CLAIMS)
    with dg.instance_for_test() as instance:
        assert dg.execute_job(reconstructable_job(claimflow_home), instance, raise_on_error=False).success
    assert main(["trace", "clm-2026-000003"]) == 0
    out = capsys.readouterr().out
    assert "CLM-2026-000003" in out and "complete" in out and "incomplete" not in out
    for step in ("intake", "parse", "score", "route", "draft", "sor_write", "audit"):
        assert f"step {step}" in out
    assert "audit triage.decision" in out
    assert main(["trace", "CLM-2026-999999"]) == 2
    assert capsys.readouterr().err.startswith("claimflow: no trace for CLM-2026-999999")
