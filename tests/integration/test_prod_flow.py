"""The claims flow with `CLAIMFLOW_ENV=prod`, end to end, on the services a cluster runs: PostgreSQL and S3.

Started here on loopback: one PostgreSQL (databases for Dagster's instance, the system of record, the
warehouse with the dbt `prod` target, MLflow's store and the insurer's claims system), moto's S3, an MLflow
server on Postgres with its artifacts in the bucket, and later Triton on the champion, as today. Every PROD
setting comes from the environment of one `claimflow`-like process that runs the jobs through Dagster on the
Postgres instance: history sync, intake (mail → raw tables in Postgres → dbt `prod` models), training with
its four gates, approval by a risk officer, promotion, Triton, triage. Then this test reads what each
service holds.

The flow runs in a child process because the dbt project (target and manifest) is fixed when the
definitions are imported, and this worker imported the local ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.tracking import free_port, is_healthy, server_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# The demo's inbox (500 mails, seed 7): the drift gate needs a window of that size. With fewer claims sampling
# noise alone moves the normed Wasserstein distance past its 0.1 threshold on most features (measured on
# this flow: 28 claims, 13 of 14 features "drifted"; 123 claims, 9 of 14), and a drifted gate blocks promotion.
MAILS = 500
# The mails render recent claims of the sample claims system drawn as the 30,000-claim history (its prior
# claims and tenure), so the drift gate compares one world, as in the demo.
HISTORY_ROWS = 30_000
TRAINER, APPROVER = "trainer.bot", "rita.risk"
BUCKET = "claimflow-prod-flow"


def pg_url(server, db: str, driver: str = "postgresql+psycopg2") -> str:
    return server.url(db, driver=driver)


@pytest.fixture(scope="module")
def prod_world(postgres_server, s3_server, tmp_path_factory):
    """Databases, bucket, MLflow on both, policies, closed claims and an inbox: what the flow starts from."""
    from cryptography.fernet import Fernet

    from assets.training.assets import ClaimsHistoryConfig, history_window
    from connectors.identity import IdentityStore
    from connectors.inbox import MaildirInbox
    from connectors.samples.history import generate_claims_history
    from connectors.samples.inbox import claims_for_inbox, generate_inbox
    from connectors.samples.policies import build_policy_table
    from connectors.system_of_record import SqlPolicySystem

    home = tmp_path_factory.mktemp("prod_home")
    for db in ("prod_dagster", "prod_sor", "prod_warehouse", "prod_mlflow", "prod_claims_system"):
        postgres_server.create_database(db)
    s3_server.create_bucket(BUCKET)

    # MLflow boots while the data below is generated, instead of after it (~30 s on a loaded 2-core box).
    mlflow_port = free_port()
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    log = open(home / "mlflow.log", "wb")  # noqa: SIM115 - closed below
    mlflow_proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server",
         "--backend-store-uri", pg_url(postgres_server, "prod_mlflow"),
         "--artifacts-destination", f"s3://{BUCKET}/artifacts",
         "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_environment({**os.environ, **s3_server.env()}),
    )  # fmt: skip
    try:
        policies = build_policy_table()
        sor = pg_url(postgres_server, "prod_sor")
        SqlPolicySystem(sor).load_policies(policies)
        store = IdentityStore(sor)
        store.add_user(APPROVER, "Rita Risk", ["risk_officer"], "a long enough password")
        store.dispose()

        # The insurer's claims system: closed claims with outcomes in a table of its own database.
        start, end = history_window("")
        seed = ClaimsHistoryConfig().seed
        history = generate_claims_history(policies, n=HISTORY_ROWS, seed=seed, start=start, end=end)
        engine = sa.create_engine(pg_url(postgres_server, "prod_claims_system"))
        with engine.begin() as con:
            history.to_sql("closed_claims", con, index=False)
        engine.dispose()

        # A 500 mails (the demo's) rendering recent claims of the same claims system (as the demo delivers them).
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        samples, inbox = home / "samples", MaildirInbox(home / "inbox")
        inbox.ensure()
        claims = claims_for_inbox(policies, count=MAILS, seed=7, now=now, claims_seed=seed)
        generate_inbox(MAILS, 7, samples, policies, now=now, claims=claims)
        for eml in sorted(samples.glob("*.eml")):
            inbox.deliver(eml.read_bytes(), name=eml.name)

        deadline = time.monotonic() + 180
        while not is_healthy(mlflow_url):
            assert mlflow_proc.poll() is None, (home / "mlflow.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server not healthy after 180 s"
            time.sleep(0.5)
        parts = sa.engine.make_url(pg_url(postgres_server, "prod_warehouse"))
        env = {
            "CLAIMFLOW_ENV": "prod",
            "CLAIMFLOW_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "CLAIMFLOW_DAGSTER_PG_URL": pg_url(postgres_server, "prod_dagster"),  # psycopg2: dagster-postgres NOTIFY
            "CLAIMFLOW_MAX_CONCURRENT_RUNS": "4",
            "CLAIMFLOW_SOR_URL": sor,
            "CLAIMFLOW_CLAIMS_SYSTEM_URL": pg_url(postgres_server, "prod_claims_system"),
            "CLAIMFLOW_WAREHOUSE": pg_url(postgres_server, "prod_warehouse", "postgresql"),
            "CLAIMFLOW_PG_HOST": parts.host, "CLAIMFLOW_PG_PORT": str(parts.port), "CLAIMFLOW_PG_USER": parts.username,
            "CLAIMFLOW_PG_PASSWORD": "", "CLAIMFLOW_PG_DBNAME": parts.database,
            "CLAIMFLOW_INBOX": "maildir",
            "CLAIMFLOW_INBOX_DIR": str(home / "inbox"),
            "CLAIMFLOW_ATTACHMENTS_DIR": str(home / "attachments"),
            "MLFLOW_TRACKING_URI": mlflow_url,
            "CLAIMFLOW_TRITON_HTTP_PORT": str(free_port()),
            "CLAIMFLOW_TRITON_METRICS_PORT": str(free_port()),
            "CLAIMFLOW_TRITON_REPOSITORY": str(home / "triton" / "models"),
            "CLAIMFLOW_APPROVERS": APPROVER,
            "CLAIMFLOW_USER": TRAINER,
            "CLAIMFLOW_DATA_KEY": Fernet.generate_key().decode(),
            "CLAIMFLOW_AUDIT_KEY": Fernet.generate_key().decode(),
        }  # fmt: skip
        grpc = free_port()
        env.update({"CLAIMFLOW_TRITON_GRPC_PORT": str(grpc), "CLAIMFLOW_TRITON_GRPC_URL": f"127.0.0.1:{grpc}"})
        yield home, env
    finally:
        if mlflow_proc.poll() is None:
            os.killpg(mlflow_proc.pid, signal.SIGTERM)
            try:
                mlflow_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(mlflow_proc.pid, signal.SIGKILL)
                mlflow_proc.wait(timeout=10)
        log.close()


def drive(out: str) -> None:
    """The flow, as a PROD process runs it (called in the child process; settings from its environment)."""
    from assets.dbt.project import ensure_manifest
    from connectors.audit import AuditLog
    from models.registry import CHAMPION, GovernancePolicy, ModelRegistry
    from orchestration.runner import first_failure, run_job, start_serving
    from orchestration.settings import check_prod_settings, settings

    check_prod_settings()
    ensure_manifest(force=True)  # the prod target's manifest (dbt/target-prod), as the image builds it
    report: dict = {"steps": {}}
    path = Path(out)

    def step(name: str, result) -> bool:
        report["steps"][name] = {"success": result.success, "failure": first_failure(result)}
        report["steps"][name]["materialized"] = sorted(
            e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
        )
        report["steps"][name]["checks"] = {
            e.check_name: e.passed for e in result.get_asset_check_evaluations()
        }
        report["steps"][name]["failed_checks"] = {
            e.check_name: {k: str(v.value)[:300] for k, v in e.metadata.items()}
            for e in result.get_asset_check_evaluations() if not e.passed
        }
        path.write_text(json.dumps(report, default=str))
        return result.success

    s = settings()
    if not step("claims_history_sync", run_job("claims_history_sync")):
        return
    if not step("claims_intake", run_job("claims_intake")):
        return
    training = run_job("model_training")
    if not step("model_training", training):
        return
    candidate = next(
        e.materialization.metadata for e in training.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "risk_model_candidate"
    )
    version = candidate["model_version"].value
    report["version"], report["run_id"] = version, candidate["mlflow_run_id"].value
    registry = ModelRegistry(s.mlflow_tracking_uri, AuditLog(s.ready_sor_url()), GovernancePolicy(approvers=s.approvers))
    registry.approve(version, APPROVER, "every gate passed on the PROD services")
    promotion = run_job("champion_promotion", {"ops": {"champion_model": {"config": {
        "version": version, "requested_by": APPROVER, "reason": "approved, every gate passed"}}}})
    if not step("champion_promotion", promotion):
        return
    # Triton as `claimflow serve` starts it (outside a run: from the settings, not the resources' EnvVars),
    # on the champion's ONNX artifact fetched through MLflow from the bucket.
    triton, champion = start_serving(s.mlflow_tracking_uri)
    assert champion == registry.alias_version(CHAMPION)
    report["triton_pid"], report["champion"] = triton.pid, champion
    path.write_text(json.dumps(report, default=str))
    with triton:
        step("claims_triage", run_job("claims_triage"))
    verify = AuditLog(s.ready_sor_url()).verify()
    report["audit"] = {"intact": verify.intact, "entries": verify.entries, "problem": str(verify.problem)}
    path.write_text(json.dumps(report, default=str))


@pytest.fixture(scope="module")
def prod_run(prod_world):
    """The child process's report, after it ran the whole flow (stopped with everything it started)."""
    home, env = prod_world
    out = home / "report.json"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMFLOW_", "MLFLOW_", "DAGSTER_"))}
    child_env.update(env, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT)]))
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    code = f"from integration.test_prod_flow import drive; drive({str(out)!r})"
    started = time.monotonic()
    with open(home / "flow.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=child_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=2400)
        finally:
            _stop_group(proc.pid)
            report = json.loads(out.read_text()) if out.exists() else {}
            if report.get("triton_pid"):
                _stop_group(report["triton_pid"])
    report["seconds"] = time.monotonic() - started
    report["log"] = (home / "flow.log").read_text(errors="replace")[-4000:]
    return report


def _stop_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            os.killpg(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)


def _rows(server, db: str, sql: str) -> list:
    engine = sa.create_engine(pg_url(server, db))
    try:
        with engine.connect() as con:
            return con.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def test_the_claims_flow_runs_end_to_end_on_postgres_and_s3(prod_run, postgres_server, s3_server):
    steps = prod_run.get("steps", {})
    failed = {n: s["failure"] for n, s in steps.items() if not s["success"]}
    assert failed == {} and "claims_triage" in steps, (failed, {n: s.get("failed_checks") for n, s in steps.items()},
                                                       prod_run["log"])
    assert prod_run["audit"]["intact"], prod_run["audit"]
    print(f"prod flow: {prod_run['seconds']:.0f} s")


def test_claims_and_the_dbt_prod_models_are_in_the_postgres_warehouse(prod_run, postgres_server):
    assert prod_run.get("steps", {}).get("claims_intake", {}).get("success"), prod_run.get("log")
    (claims,), = _rows(postgres_server, "prod_warehouse", "select count(*) from raw.parsed_claims")
    (mails,), = _rows(postgres_server, "prod_warehouse", "select count(*) from raw.email_receipts")
    assert mails == MAILS and 0 < claims <= MAILS
    relations = {r[0] for r in _rows(postgres_server, "prod_warehouse",
                                     "select table_name from information_schema.tables where table_schema = 'analytics'")}
    assert {"stg_claims", "stg_policies", "claim_features", "training_set"} <= relations
    (features,), = _rows(postgres_server, "prod_warehouse", "select count(*) from analytics.claim_features")
    assert features == claims
    intake = prod_run["steps"]["claims_intake"]
    # Every check passed but `completeness`, which only warns (mail without a policy number is a first notice).
    assert {"parsed_claims", "claim_features"} <= set(intake["materialized"]) and intake["checks"]["contract"]
    assert [name for name, passed in intake["checks"].items() if not passed and name != "completeness"] == []


def test_the_model_is_registered_and_promoted_in_mlflow_on_postgres_with_its_artifacts_in_s3(
    prod_run, postgres_server, s3_server
):
    assert prod_run.get("steps", {}).get("champion_promotion", {}).get("success"), prod_run.get("log")
    gates = prod_run["steps"]["model_training"]["checks"]
    assert {g: gates.get(g) for g in ("accuracy_gate", "behaviour_gate", "drift_gate", "cost_gate")} == dict.fromkeys(
        ("accuracy_gate", "behaviour_gate", "drift_gate", "cost_gate"), True)
    aliases = dict(_rows(postgres_server, "prod_mlflow", "select alias, version from registered_model_aliases"))
    assert str(aliases["champion"]) == str(prod_run["version"]) == str(prod_run["champion"])
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(prod_run["run_id"] in k for k in keys), keys  # the training run's own artifacts (drift report...)
    # The registered version points at its logged model in the bucket, and the ONNX file Triton served is there.
    versions = [r._mapping for r in _rows(postgres_server, "prod_mlflow", "select * from model_versions")
                if str(r._mapping["version"]) == str(prod_run["champion"])]
    assert len(versions) == 1, versions
    where = " ".join(str(v) for v in versions[0].values())
    served = [k for k in keys if k.endswith("/model.onnx") and k.split("/artifacts/model.onnx")[0].split("/")[-1] in where]
    assert served, (where, keys)


def test_triage_decisions_land_in_the_system_of_record_on_postgres(prod_run, postgres_server):
    assert prod_run.get("steps", {}).get("claims_triage", {}).get("success"), prod_run.get("log")
    (decided,), = _rows(postgres_server, "prod_warehouse", "select count(*) from raw.triage_decisions")
    (claims,), = _rows(postgres_server, "prod_warehouse", "select count(*) from raw.parsed_claims")
    assert decided == claims
    (routed,), = _rows(postgres_server, "prod_sor", "select count(*) from claims where model_version = "
                       f"'{prod_run['champion']}'")
    (entries,), = _rows(postgres_server, "prod_sor", "select count(*) from audit_log")
    assert routed == decided and entries >= decided and prod_run["audit"]["entries"] == entries


def _warehouse_ops(wh) -> dict:
    """The same keyed writes and reads, whatever the backend."""
    import pandas as pd

    from connectors.schema import CLAIM_EMAILS, RISK_SCORES

    wh.ensure_schema()
    out = {}
    mails = pd.DataFrame({"content_hash": ["a", "b"], "message_id": ["<1>", "<2>"], "subject": ["it's 100%", "?"]})
    with wh.transaction() as con:
        out["inserted"] = wh.insert_new(con, CLAIM_EMAILS, mails)
        out["again"] = wh.insert_new(con, CLAIM_EMAILS, mails.assign(subject="changed"))
        wh.upsert(con, CLAIM_EMAILS, mails.iloc[[1]].assign(subject="replaced"))
        out["known"] = sorted(con.execute(
            f"select content_hash from {CLAIM_EMAILS} where content_hash in (select unnest(?))", [["a", "x"]]
        ).fetchnumpy()["content_hash"].tolist())
        out["none"] = con.execute(
            f"select count(*) from {CLAIM_EMAILS} where content_hash in (select unnest(?))", [[]]).fetchone()[0]
    # Each backend raises its own error; the point is the rollback.
    with pytest.raises(Exception), wh.transaction() as con:  # noqa: B017
        wh.upsert(con, CLAIM_EMAILS, mails.assign(subject="rolled back"))
        con.execute("select * from no_such_table")
    out["subjects"] = wh.read(f"select subject from {CLAIM_EMAILS} order by content_hash")["subject"].tolist()
    out["like"] = int(wh.read(f"select count(*) as n from {CLAIM_EMAILS} where subject like ?", ["%100%%"])["n"][0])
    scores = pd.DataFrame({"claim_number": ["C1", "C1", "C2"], "model_version": ["1", "2", "1"],
                           "score": [0.123456, 0.5, 0.9],
                           "scored_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-01-01"])})
    with wh.transaction() as con:
        wh.append(con, RISK_SCORES, scores)
    latest = wh.read(f"select claim_number, max_by(model_version, scored_at) as v, round(max(score), 2) as s "
                     f"from {RISK_SCORES} group by claim_number order by claim_number")
    out["latest"] = latest.to_dict("records")
    out["json"] = json.loads(wh.read("select json_object('k', 'v', 'n', 2) as j")["j"][0])
    pending = wh.pending(RISK_SCORES, done=RISK_SCORES, on=["claim_number"], where="d.model_version = ?", params=["2"])
    out["pending"] = sorted(pending["claim_number"])
    out["dtype"] = str(wh.read(f"select scored_at from {RISK_SCORES}")["scored_at"].dtype)[:10]
    return out


def test_the_postgres_warehouse_gives_what_the_duckdb_warehouse_gives(postgres_db, tmp_path):
    from connectors.warehouse import PostgresWarehouse, Warehouse, open_warehouse

    on_postgres = open_warehouse(postgres_db)
    assert isinstance(on_postgres, PostgresWarehouse) and type(open_warehouse(tmp_path / "w.duckdb")) is Warehouse
    expected = _warehouse_ops(Warehouse(tmp_path / "w.duckdb"))
    assert expected["inserted"] == 2 and expected["again"] == 0 and expected["subjects"] == ["it's 100%", "replaced"]
    assert _warehouse_ops(on_postgres) == expected
