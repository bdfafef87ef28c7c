"""One configured system of record: the assets and the `models` CLI write the champion's moves to the
SoR that `CLAIMFLOW_SOR_URL` names, and `claimflow audit verify` against it sees them.

Regression: the models CLI wrote promotion audit entries to the SQLite file under $CLAIMFLOW_HOME
even when CLAIMFLOW_SOR_URL pointed elsewhere, so `audit verify` in production never saw a move.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from mlflow import MlflowClient

from connectors.audit import AuditLog
from connectors.identity import TOKEN_ENV, IdentityStore
from models.registry import MODEL_NAME, REQUIRED_GATES, GovernancePolicy, ModelRegistry
from orchestration.cli import main as cli

pytestmark = pytest.mark.integration


@pytest.fixture
def elsewhere(claimflow_home: Path, tmp_path: Path, monkeypatch) -> dict:
    """A second SQLite system of record, two risk officers in it, and an MLflow store with two versions
    whose gates all passed (registered straight into the embedded default's local store)."""
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'sor.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("CLAIMFLOW_SOR_URL", url)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from models.tracking import free_port

    monkeypatch.setenv("CLAIMFLOW_MLFLOW_PORT", str(free_port()))  # nothing listens: the CLI uses the store
    store = IdentityStore(url)
    tokens = {}
    for name in ("trainer.bot", "risk.officer"):
        store.add_user(name, name, ["risk_officer"], "a long enough password")
        tokens[name] = store.create_token(name, "tests")
    store.dispose()

    mlflow_store = claimflow_home / "mlflow"
    mlflow_store.mkdir(parents=True)
    tracking = f"sqlite:///{mlflow_store / 'mlflow.db'}"
    client = MlflowClient(tracking)
    client.create_registered_model(MODEL_NAME)
    registry = ModelRegistry(tracking, AuditLog(url), GovernancePolicy(approvers=("risk.officer",)))
    for _ in range(2):
        mv = client.create_model_version(MODEL_NAME, source=str(mlflow_store), tags={"trained_by": "trainer.bot"})
        for gate in REQUIRED_GATES:
            registry.record_gate(mv.version, gate, True, {"reason": "test"})
    return {"url": url, "tracking": tracking, "tokens": tokens}


def test_promotions_from_the_assets_and_the_cli_land_in_the_configured_system_of_record(
    elsewhere, claimflow_home, capsys, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, elsewhere["tokens"]["risk.officer"])
    for version in ("1", "2"):
        assert cli(["models", "approve", "--version", version, "--reason", "gates passed"]) == 0

    # Version 1 through Dagster: the champion_model asset writes with the resources' system of record.
    from orchestration.definitions import build_definitions

    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere["tracking"])
    promoted = build_definitions().resolve_job_def("champion_promotion").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"ops": {"champion_model": {"config": {"version": 1, "requested_by": "risk.officer"}}}},
    )
    assert promoted.success
    # Version 2 through the CLI.
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert cli(["models", "promote", "--version", "2", "--reason", "second"]) == 0
    capsys.readouterr()

    assert cli(["audit", "verify"]) == 0
    assert "audit log intact" in capsys.readouterr().out
    assert cli(["audit", "show", "--json", "--last", "50"]) == 0
    moves = [e["payload"] for e in json.loads(capsys.readouterr().out) if e["action"] == "model.champion_moved"]
    assert [(m["from"], m["to"]) for m in moves] == [(None, 1), (1, 2)]
    # Nothing went to the default SQLite file under $CLAIMFLOW_HOME.
    default = claimflow_home / "system_of_record.db"
    assert not default.exists() or not AuditLog(f"sqlite:///{default}").entries(action="model.champion_moved")
