"""The model lifecycle end to end on a real MLflow server: train, gate, approve, promote, and gates
that fail for real reasons (a worse challenger, a drifted window)."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from connectors.identity import TOKEN_ENV, IdentityStore
from connectors.samples.history import generate_claims_history
from connectors.samples.policies import build_policy_table
from connectors.schema import PARSED_CLAIMS
from connectors.system_of_record import SqlPolicySystem
from connectors.warehouse import Warehouse
from orchestration.cli import main as cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AS_OF = date(2026, 10, 1)
HISTORY_ROWS = 8000


@pytest.fixture(scope="module")
def policies():
    return build_policy_table()


def prepare_home(home, mlflow_url: str, policies, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    home.mkdir(parents=True)
    sor = f"sqlite:///{home / 'system_of_record.db'}"
    SqlPolicySystem(sor).load_policies(policies)
    # Both are risk officers, so only four eyes stops the trainer approving their own model.
    store = IdentityStore(sor)
    for name in ("trainer.bot", "risk.officer"):
        store.add_user(name, name, ["risk_officer"], "a long enough password")
        TOKENS[str(home), name] = store.create_token(name, "tests")
    store.dispose()
    act_as(monkeypatch, "trainer.bot")  # training runs record the token's owner as the trainer


@pytest.fixture
def home(claimflow_home, mlflow_server, policies, dbt_manifest, monkeypatch):
    prepare_home(claimflow_home, mlflow_server.url, policies, monkeypatch)
    return claimflow_home


@pytest.fixture(scope="module")
def first_model(tmp_path_factory, mlflow_server, policies, dbt_manifest):
    """(home, result, gates, version): the unshifted world built and a first model trained on it, not yet approved.

    Shared by the tests that need that model: built per test it cost ~50 s each, and the session's registry
    gave the same data and code the same version anyway."""
    home = tmp_path_factory.mktemp("lifecycle") / "claimflow"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMFLOW_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        prepare_home(home, mlflow_server.url, policies, mp)
        build_world(home, policies)
        yield (home, *train())


# Per home: the module's shared home and a test's own home each have their own identity store.
TOKENS: dict[tuple[str, str], str] = {}


def act_as(monkeypatch, name: str) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKENS[os.environ["CLAIMFLOW_HOME"], name])


def live_claims(policies, *, shift: float, seed: int) -> pd.DataFrame:
    """Recent claims as intake would have parsed them from e-mail (the last 60 days before AS_OF)."""
    recent = generate_claims_history(policies, n=900, seed=seed, start=AS_OF - timedelta(days=60), end=AS_OF,
                                     shift=shift)
    recent = recent[pd.to_datetime(recent["reported_date"]) <= pd.Timestamp(AS_OF)]  # as known on AS_OF
    received = pd.to_datetime(recent["reported_date"]) + pd.Timedelta(hours=10)
    return pd.DataFrame(
        {
            "claim_number": recent["claim_number"],
            "policy_number": recent["policy_number"],
            "incident_date": recent["incident_date"],
            "loss_type": recent["loss_type"],
            "estimated_amount": recent["estimated_amount"].round(2),
            "currency": "EUR",
            "description": "",
            "photos": "[]",
            "photo_count": recent["photo_count"],
            "confidence": "{}",
            "provenance": "{}",
            "min_confidence": 0.95,
            "source_content_hash": recent["claim_number"],
            "received_at": received,
            "last_received_at": received,
            "message_count": 1,
            "follow_up_count": 0,
            "extractor_version": "test",
            "updated_run_id": "test",
        }
    )


def land_live_claims(home, frame: pd.DataFrame) -> None:
    Warehouse(home / "warehouse.duckdb").ensure_schema()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(f"delete from {PARSED_CLAIMS}")
        con.execute(f"insert into {PARSED_CLAIMS} by name select * from frame")


def run(job: str, run_config: dict | None = None):
    from orchestration.definitions import build_definitions

    return build_definitions().resolve_job_def(job).execute_in_process(
        run_config=run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def build_world(home, policies, *, shift: float = 0.0):
    history_cfg = {"ops": {"claims_history": {"config": {"rows": HISTORY_ROWS, "as_of": AS_OF.isoformat()}}}}
    assert run("claims_history_sync", history_cfg).success
    land_live_claims(home, live_claims(policies, shift=shift, seed=77))
    from orchestration.definitions import build_definitions

    # Build the warehouse models (policies + dbt) the way the intake job would after parsing.
    defs = build_definitions()
    selection = dg.AssetSelection.assets("policies", "fx_rates", "stg_claims", "stg_policies", "claim_features")
    job = dg.define_asset_job("world", selection=selection).resolve(asset_graph=defs.get_repository_def().asset_graph)
    assert job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), resources=defs.resources, raise_on_error=False
    ).success


def train(config: dict | None = None):
    ops = {"claims_history": {"config": {"rows": HISTORY_ROWS, "as_of": AS_OF.isoformat()}}}
    if config:
        ops["risk_model_candidate"] = {"config": config}
    result = run("model_training", {"ops": ops})
    gates = {e.check_name: e for e in result.get_asset_check_evaluations()}
    version = next(
        e.materialization.metadata["model_version"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "risk_model_candidate"
    )
    return result, gates, version


def test_a_first_model_is_trained_gated_approved_and_promoted(first_model, capsys, monkeypatch):
    _, result, gates, version = first_model
    assert result.success, [(n, g.metadata.get("reason")) for n, g in gates.items() if not g.passed]
    assert {n: g.passed for n, g in gates.items() if n.endswith("_gate")} == {
        "accuracy_gate": True, "behaviour_gate": True, "drift_gate": True, "cost_gate": True
    }
    meta = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "risk_model_candidate").materialization.metadata
    assert meta["mlflow_run_id"].value and meta["dataset_digest"].value

    # Promotion without approval names what is missing.
    assert cli(["models", "promote", "--version", str(version), "--reason", "first"]) == 2
    assert "no approval stands" in capsys.readouterr().err
    # The trainer cannot approve their own model.
    assert cli(["models", "approve", "--version", str(version), "--reason", "mine"]) == 2
    assert "four eyes" in capsys.readouterr().err

    act_as(monkeypatch, "risk.officer")
    assert cli(["models", "approve", "--version", str(version), "--reason", "ok"]) == 0
    promoted = run("champion_promotion", {"ops": {"champion_model": {"config": {
        "version": version, "requested_by": "risk.officer", "reason": "gates passed"}}}})
    assert promoted.success
    capsys.readouterr()
    assert cli(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    row = next(v for v in listing["versions"] if v["version"] == version)
    assert "champion" in row["aliases"] and row["approval"]["by"] == "risk.officer"
    assert listing["history"][-1]["to"] == version


def test_a_worse_challenger_fails_the_accuracy_gate(first_model, capsys, monkeypatch):
    _, _, _, v1 = first_model
    act_as(monkeypatch, "risk.officer")
    assert cli(["models", "approve", "--version", str(v1), "--reason", "ok"]) == 0
    capsys.readouterr()
    # The first model is shared by this module, and the registry by the session: it may be the champion already.
    promoted = cli(["models", "promote", "--version", str(v1), "--reason", "first"])
    assert promoted == 0 or "already the champion" in capsys.readouterr().err
    # A crippled model: two shallow rounds cannot rank claims as well as the champion.
    act_as(monkeypatch, "trainer.bot")
    result, gates, v2 = train({"max_iter": 2, "max_leaf_nodes": 2, "learning_rate": 0.01})
    assert not result.success
    assert gates["accuracy_gate"].passed is False
    assert "trails the champion" in gates["accuracy_gate"].metadata["reason"].value
    act_as(monkeypatch, "risk.officer")
    cli(["models", "approve", "--version", str(v2), "--reason", "try"])
    capsys.readouterr()
    assert cli(["models", "promote", "--version", str(v2), "--reason", "try"]) == 2
    assert "gate accuracy is failed" in capsys.readouterr().err


def test_a_drifted_window_fails_the_drift_gate(home, policies):
    build_world(home, policies, shift=1.0)
    result, gates, _ = train()
    assert not result.success
    drift = gates["drift_gate"]
    assert drift.passed is False
    assert drift.metadata["share_drifted"].value >= 0.3
    assert "estimated_amount_eur" in drift.metadata["reason"].value


def test_the_champion_scores_on_triton_and_triage_writes_the_system_of_record_once(first_model, monkeypatch):
    from connectors.audit import AuditLog
    from models.tracking import free_port
    from orchestration.runner import start_serving

    for var in ("HTTP", "GRPC", "METRICS"):
        monkeypatch.setenv(f"CLAIMFLOW_TRITON_{var}_PORT", str(free_port()))
    home, _, _, version = first_model
    act_as(monkeypatch, "risk.officer")
    assert cli(["models", "approve", "--version", str(version), "--reason", "ok"]) == 0
    if cli(["models", "promote", "--version", str(version), "--reason", "first"]) != 0:
        # The session shares one registry: an earlier test's equal model is champion already, and the
        # accuracy gate rightly refuses an equal challenger. That champion is the one to serve.
        from mlflow import MlflowClient

        client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
        version = int(client.get_model_version_by_alias("claims_risk", "champion").version)

    triton, champion = start_serving(os.environ["MLFLOW_TRACKING_URI"])
    with triton:
        first = run("claims_triage")
        assert first.success, [e.step_key for e in first.all_events if e.event_type_value == "STEP_FAILURE"]
        again = run("claims_triage")  # a second run over the same claims writes nothing new
        assert again.success
    assert champion == version
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        [(features,)] = con.execute("select count(*) from main.claim_features").fetchall()
        scores = con.execute("select model_version, served_by, count(*) from raw.risk_scores group by all").fetchall()
        [(decisions,)] = con.execute("select count(*) from raw.triage_decisions").fetchall()
    assert scores == [(str(version), "triton", features)]
    assert decisions == features
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{home / 'system_of_record.db'}")
    with engine.connect() as con:
        [(claims,)] = con.execute(sa.text("select count(*) from claims")).fetchall()
        [(effects,)] = con.execute(sa.text("select count(*) from effects")).fetchall()
    engine.dispose()
    assert claims == features and effects == features
    audit = AuditLog(f"sqlite:///{home / 'system_of_record.db'}")
    assert audit.verify().intact
    assert len(audit.entries(action="triage.decision")) == features
    kpis = {e.asset_key.to_user_string() for e in first.get_asset_materialization_events()}
    assert {"serving_deployment", "risk_scores", "serving_cost", "audit_log", "triage_kpis"} <= kpis
