"""Retraining on the same data with the same code and parameters registers nothing new.

Regression (issue 12, finding 1): re-running `make demo` registered an identical model (same
dataset digest, ROC AUC +0.000), promoted it, and re-triaged every claim.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.test_model_lifecycle import act_as, build_world, home, policies, train  # noqa: F401
from orchestration.cli import main as cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A registry of this module's own: the first training must be promotable whatever champion earlier tests
    on this worker left in the session's registry (an equal model rightly fails the accuracy gate's +0.002)."""
    from models.tracking import free_port, start_tracking_server

    server = start_tracking_server(tmp_path_factory.mktemp("mlflow_noop"), port=free_port(), reuse=False, timeout=300)
    yield server
    server.stop()


def test_an_identical_retraining_reuses_the_champion_and_registers_no_version(home, policies, capsys, monkeypatch):
    # The code's identity is the git commit plus uncommitted changes; in a work tree others edit while this
    # runs it would change between the two trainings (and rightly train anew), so it is pinned here.
    monkeypatch.setattr("models.registry.code_version", lambda repo_dir: "commit-under-test")
    build_world(home, policies)
    result, _, v1 = train()
    assert result.success
    act_as(monkeypatch, "risk.officer")
    assert cli(["models", "approve", "--version", str(v1), "--reason", "ok"]) == 0
    assert cli(["models", "promote", "--version", str(v1), "--reason", "first"]) == 0

    # The session's registry is shared: earlier tests may have registered versions already.
    before = _versions(capsys)
    assert v1 in before
    act_as(monkeypatch, "trainer.bot")
    again, gates, version = train()
    assert again.success and version == v1
    meta = next(e for e in again.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "risk_model_candidate").materialization.metadata
    assert meta["reused"].value is True
    assert "current champion" in gates["accuracy_gate"].metadata["reason"].value
    act_as(monkeypatch, "risk.officer")
    assert _versions(capsys) == before


def _versions(capsys) -> list[int]:
    capsys.readouterr()
    assert cli(["models", "list", "--json"]) == 0
    return [v["version"] for v in json.loads(capsys.readouterr().out)["versions"]]
