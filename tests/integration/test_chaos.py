"""Chaos: 1,000 claims through the real triage assets while things break, then a champion change.

One MLflow server and one Triton (both real, on loopback) serve every phase:
  A. triage starts and Triton is SIGKILLed as scoring begins: the run fails in one line, nothing is scored;
  B. Triton and the MLflow server are restarted (the same store and model repository); triage runs again
     and the system of record fails part-way through its write;
  C. the run is re-executed from failure: the rest is written, once;
  D. a person picks up some review items; champion v2 is registered, approved and promoted; triage runs on it;
  E. triage runs once more over the same claims.
Then: each claim was decided once per real state change, each customer told once per change of what they
are told, handlers kept their claims, the system of record holds every claim in its final state, the audit
chain verifies with one entry per state change, and all 1,000 claims are there. Each fault is asserted to
have happened, so the end state cannot be reached by a run that never broke.

Issue 12 (chaos test). Gates are not exercised here (test_model_lifecycle does): both versions get passing
gate verdicts recorded, then a real approval and the real `champion_promotion` job.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from fakes.system_of_record import CrashingSystemOfRecordResource

from assets.claims.review import ReviewQueue
from assets.claims.triage_assets import SOR_CHUNK_CLAIMS, TRIAGE_STEP
from assets.serving.assets import TritonResource
from connectors.audit import AuditLog
from connectors.samples.history import generate_claims_history, land_parsed_claims
from connectors.samples.policies import build_policy_table
from connectors.system_of_record import ClaimsSystem, SqlPolicySystem
from models import onnx_export, risk
from models.lineage import frame_digest, log_candidate
from models.registry import CHAMPION, GovernancePolicy, ModelRegistry
from models.tracking import (
    free_port,
    instance_id,
    served_instance,
    start_tracking_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CLAIMS = 1000
CRASH_AFTER = 700  # the first chunk of SOR_CHUNK_CLAIMS commits, the second rolls back
APPROVER = "risk.officer"
REVIEWER = "claims.reviewer"


def land_claims(home, today) -> None:
    """CLAIMS recent claims as intake would have parsed them, straight into the warehouse (as bench/triage.py)."""
    policies = build_policy_table()
    SqlPolicySystem(f"sqlite:///{home / 'system_of_record.db'}").load_policies(policies)
    recent = generate_claims_history(policies, n=CLAIMS + 100, seed=99, start=today - timedelta(days=120), end=today)
    recent = recent[pd.to_datetime(recent["reported_date"]) <= pd.Timestamp(today)].head(CLAIMS)
    assert land_parsed_claims(home / "warehouse.duckdb", policies, recent, "chaos") == CLAIMS


def build_features() -> None:
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    selection = dg.AssetSelection.assets("policies", "fx_rates", "stg_claims", "stg_policies", "claim_features")
    job = dg.define_asset_job("features", selection=selection).resolve(asset_graph=defs.get_repository_def().asset_graph)
    assert job.execute_in_process(resources=defs.resources, instance=dg.DagsterInstance.ephemeral()).success


def register_champion(tracking_uri: str, sor_url: str, seed: int) -> int:
    """Train a small model, log and register it on the MLflow server, record passing gates, approve, promote."""
    from tests.integration.test_triton import synthetic_claims

    frame = synthetic_claims(2_500, seed)
    params = risk.TrainingParams(max_iter=40, random_state=seed)
    model = risk.train(frame, params, threads=1)
    metrics = risk.evaluate(model, frame.tail(500), review_threshold=params.review_threshold)
    example = frame.head(5)
    digest = frame_digest(frame)
    record = log_candidate(
        tracking_uri=tracking_uri, experiment="claims_risk", params=params.as_dict(),
        metrics={k: v for k, v in metrics.items() if pd.notna(v)}, training_frame=frame, dataset_digest=digest,
        onnx_bytes=onnx_export.to_onnx(model, frame.head(300)), encoded_example=risk.encode_features(example),
        example_scores=risk.predict_proba(model, example), model_card=risk.model_card(metrics, params, digest),
        trained_by="trainer.bot", repo_dir=ROOT,
    )  # fmt: skip
    registry = ModelRegistry(tracking_uri, AuditLog(sor_url), GovernancePolicy(approvers=(APPROVER,)))
    for gate in registry.policy.required_gates:
        registry.record_gate(record.version, gate, True, {"reason": "chaos test: gates are tested elsewhere"})
    registry.approve(record.version, APPROVER, "chaos test")
    from orchestration.runner import first_failure, run_job

    promoted = run_job("champion_promotion", {"ops": {"champion_model": {"config": {
        "version": record.version, "requested_by": APPROVER, "reason": "chaos test"}}}})
    assert promoted.success, first_failure(promoted)
    assert registry.alias_version(CHAMPION) == record.version
    return record.version


class KillingTritonResource(TritonResource):
    """The real Triton, SIGKILLed the moment risk scoring asks for a scorer (after serving_deployment used it)."""

    kill_pid: int

    def scorer(self):
        os.kill(self.kill_pid, signal.SIGKILL)
        return super().scorer()


def _triage(**resources):
    from orchestration.automation import claims_triage_job
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    return dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, resources={**defs.resources, **resources},
        jobs=[claims_triage_job], executor=dg.in_process_executor,
    ).resolve_job_def("claims_triage")


def triage_job():
    """The triage job as a reconstructable job (re-execution from failure needs one)."""
    return _triage()


def crashing_triage_job():
    """The same job on a system of record that crashes after CRASH_AFTER claims of its write."""
    from orchestration.settings import settings

    return _triage(system_of_record=CrashingSystemOfRecordResource(url=settings().sor_url, crash_after=CRASH_AFTER))


def wh_rows(home, sql: str) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def sor_rows(url: str, sql: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql))]
    finally:
        engine.dispose()


def failed_steps(result) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]


@pytest.fixture
def home(claimflow_home, dbt_manifest, monkeypatch):
    for var in ("HTTP", "GRPC", "METRICS"):
        monkeypatch.setenv(f"CLAIMFLOW_TRITON_{var}_PORT", str(free_port()))
    monkeypatch.setenv("CLAIMFLOW_MLFLOW_PORT", str(free_port()))
    for var in ("CLAIMFLOW_SOR_URL", "ANTHROPIC_API_KEY", "CLAIMFLOW_APPROVERS"):
        monkeypatch.delenv(var, raising=False)
    claimflow_home.mkdir(parents=True)
    return claimflow_home


@pytest.mark.timeout(900)
def test_a_thousand_claims_survive_a_triton_kill_an_mlflow_restart_a_sor_crash_and_a_champion_change(
    home, monkeypatch
):
    from orchestration.runner import (
        first_failure,
        prepare_dagster_home,
        run_job,
        start_serving,
    )
    from orchestration.settings import settings

    timings = {}

    cpu = [sum(os.times()[:4])]

    def phase(name: str, since: float) -> float:
        timings[name] = time.monotonic() - since
        cpu.append(sum(os.times()[:4]))
        # With -s a slow phase shows even when a later one fails; CPU counts this process and its reaped children.
        print(f"chaos: {name} {timings[name]:.1f} s (CPU {cpu[-1] - cpu[-2]:.1f} s)", flush=True)
        return time.monotonic()

    t = time.monotonic()
    sor = f"sqlite:///{home / 'system_of_record.db'}"
    mlflow_root = home / "mlflow"
    port = settings().mlflow_port
    servers = []  # every server started here, stopped at the end whatever happens
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the MLflow server boots while the claims land
            booting = pool.submit(start_tracking_server, mlflow_root, port=port, reuse=False, timeout=300)
            try:
                land_claims(home, datetime.now(UTC).date())
                build_features()
            finally:
                servers.append(booting.result())
        t = phase("claims and features", t)
        mlflow = servers[0]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.url)
        v1 = register_champion(mlflow.url, sor, seed=1)
        triton, served = start_serving(mlflow.url)
        servers.append(triton)
        assert served == v1
        t = phase("MLflow, v1, Triton", t)

        # A. Triton dies as scoring begins: the run fails at risk_scores, in one line, and nothing is scored.
        prepare_dagster_home()
        with dg.DagsterInstance.get() as instance:
            from orchestration.definitions import build_definitions

            base = build_definitions().resources["triton"].model_dump()
            killing = KillingTritonResource(**{**base, "onnx_fallback": False, "wait_for_server_s": 2.0},
                                            kill_pid=triton.pid)
            a = _triage(triton=killing).execute_in_process(instance=instance, raise_on_error=False)
        triton.process.wait(30)
        assert triton.process.returncode == -signal.SIGKILL
        assert not a.success and failed_steps(a) == ["risk_scores"]
        line = first_failure(a)
        assert line.startswith("risk_scores: Triton unavailable, nothing scored") and "\n" not in line
        assert wh_rows(home, "select count(*) from raw.risk_scores") == [(0,)]
        assert wh_rows(home, "select count(*) from raw.triage_decisions") == [(0,)]
        t = phase("A triton kill", t)

        # B. Triton and MLflow come back (same repository, same store and port); the SoR crashes mid-write.
        triton.stop()
        triton, served = start_serving(mlflow.url)
        servers.append(triton)
        old_pid = mlflow.process.pid
        mlflow.stop()
        assert mlflow.process.poll() is not None
        mlflow = start_tracking_server(mlflow_root, port=port, reuse=False, timeout=300)
        servers.append(mlflow)
        assert mlflow.process.pid != old_pid and mlflow.url == os.environ["MLFLOW_TRACKING_URI"]
        assert served_instance(mlflow.url) == instance_id(mlflow_root) and served == v1
        t = phase("restarts", t)
        with dg.DagsterInstance.get() as instance:
            b = dg.execute_job(dg.reconstructable(crashing_triage_job), instance, raise_on_error=False)
            assert not b.success and failed_steps(b) == ["system_of_record_updates"]
            assert f"simulated failure after {CRASH_AFTER} claims" in first_failure(b)
            assert wh_rows(home, "select model_version, count(*) from raw.risk_scores group by all") == [(str(v1),
                                                                                                         CLAIMS)]
            # Part of the batch is in (whole chunks), nothing twice.
            assert sor_rows(sor, "select count(*), count(distinct claim_number) from effects") == [
                (SOR_CHUNK_CLAIMS, SOR_CHUNK_CLAIMS)]
            t = phase("B sor crash", t)

            # C. Re-executed from failure: only what failed and what follows it runs.
            c = dg.execute_job(dg.reconstructable(triage_job), instance, raise_on_error=False,
                               reexecution_options=dg.ReexecutionOptions.from_failure(b.run_id, instance))
        assert c.success, first_failure(c)
        ran = {e.step_key for e in c.all_events if e.event_type_value == "STEP_SUCCESS"}
        assert "system_of_record_updates" in ran and not ran & {"risk_scores", "triage_decisions", "status_drafts"}
        t = phase("C re-execution", t)

        system = ClaimsSystem(sor)
        after_c = {r[0]: r[1] for r in sor_rows(sor, "select claim_number, assigned_to from claims")}
        assert len(after_c) == CLAIMS

        # D. A person picks up every other claim waiting for review; then champion v2.
        queue = ReviewQueue(system)
        waiting = [i["claim_number"] for i in queue.list_items("waiting")]
        touched = set(waiting[::2])
        for number in touched:
            queue.claim(number, REVIEWER)
        v2 = register_champion(mlflow.url, sor, seed=2)
        assert v2 != v1
        d = run_job("claims_triage")
        assert d.success, first_failure(d)
        e = run_job("claims_triage")
        assert e.success, first_failure(e)
        t = phase("D, E champion change", t)
    finally:
        for server in reversed(servers):
            server.stop()
    md = {r: {ev.materialization.asset_key.to_user_string(): {k: v.value for k, v in
                                                             ev.materialization.metadata.items()}
              for ev in r.get_asset_materialization_events()} for r in (d, e)}
    assert md[d]["serving_deployment"]["live_version"] == v2 and md[d]["serving_deployment"]["changed"] is True
    assert md[d]["risk_scores"]["scored"] == CLAIMS
    assert md[e]["risk_scores"]["scored"] == 0
    assert md[e]["system_of_record_updates"]["new_decisions"] == 0
    assert md[e]["system_of_record_updates"]["new_messages"] == 0 and md[e]["audit_log"]["appended"] == 0

    # What the two versions decided, and the message each route tells the customer (from the warehouse).
    decided = pd.DataFrame(wh_rows(home, "select claim_number, model_version, queue from raw.triage_decisions"),
                           columns=["claim_number", "model_version", "queue"])
    assert decided.groupby("model_version").size().to_dict() == {str(v1): CLAIMS, str(v2): CLAIMS}
    q1 = decided[decided.model_version == str(v1)].set_index("claim_number")["queue"]
    q2 = decided[decided.model_version == str(v2)].set_index("claim_number")["queue"]
    told = {(c, q): json.loads(p) for c, q, p in wh_rows(home, """
        select s.claim_number, d.queue, s.payload from raw.status_drafts s
        join raw.triage_decisions d using (claim_number, model_version)""")}
    moved = {n for n in q1.index if q1[n] != q2[n] and n not in touched}
    held = {n for n in touched if q1[n] != q2[n]}
    # The run is not vacuous: v2 moves some claims, and some it would move were held for their reviewer.
    assert 0 < len(moved) < CLAIMS and held
    retold = {n for n in moved if told[(n, q2[n])] != told[(n, q1[n])]}

    effects = dict(sor_rows(sor, "select claim_number, count(*) from effects group by claim_number"))
    messages = dict(sor_rows(sor, "select claim_number, count(*) from outbox group by claim_number"))
    final = dict(sor_rows(sor, "select claim_number, queue from claims"))
    assert effects == {n: 1 + (n in moved) for n in q1.index}
    assert messages == {n: 1 + (n in retold) for n in q1.index}
    assert final == {n: q2[n] if n in moved else q1[n] for n in q1.index}
    assert sor_rows(sor, "select count(*) from (select claim_number, payload_json from outbox group by claim_number, payload_json "
                         "having count(*) > 1)") == [(0,)]
    # Handlers kept every claim that did not move; loads count each assigned claim once.
    now = dict(sor_rows(sor, "select claim_number, assigned_to from claims"))
    assert all(now[n] == after_c[n] for n in q1.index if n not in moved)
    assert sor_rows(sor, "select sum(current_load) from specialists") == [
        (sum(1 for a in now.values() if a),)]
    # The audit chain verifies, with one triage entry per state change and the claims table as audited.
    audit = AuditLog(sor)
    report = audit.verify()
    assert report.intact, report.problem
    per_claim = pd.Series([x.subject for x in audit.entries(action="triage.decision")]).value_counts().to_dict()
    assert per_claim == effects
    assert audit.verify_states(final) == []
    assert len(system.applied_keys(TRIAGE_STEP)) == CLAIMS + len(moved)
    print(f"chaos: {len(moved)} claims moved by v2, {len(held)} held for their reviewer, {len(retold)} retold; "
          + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
