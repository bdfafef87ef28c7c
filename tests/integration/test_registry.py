"""Governance against a real MLflow server: approval rules, gates, promotion, rollback, history."""

from __future__ import annotations

import uuid

import mlflow
import pytest
from mlflow import MlflowClient

from connectors.audit import AuditLog
from models.registry import CHAMPION, PREVIOUS, GovernancePolicy, ModelRegistry, RegistryError

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(mlflow_server, tmp_path):
    name = f"claims_risk_{uuid.uuid4().hex[:8]}"
    policy = GovernancePolicy(approvers=("dana", "omar"), required_gates=("accuracy", "drift"))
    return ModelRegistry(mlflow_server.url, AuditLog(f"sqlite:///{tmp_path / 'sor.db'}"), policy, name=name)


def new_version(registry: ModelRegistry, trained_by: str = "trainer") -> int:
    client = MlflowClient(registry.tracking_uri)
    mlflow.set_tracking_uri(registry.tracking_uri)
    with mlflow.start_run() as run:
        mlflow.log_text("weights", "model/weights.txt")
    try:
        client.create_registered_model(registry.name)
    except mlflow.exceptions.MlflowException:
        pass
    mv = client.create_model_version(registry.name, f"{run.info.artifact_uri}/model", run.info.run_id,
                                     tags={"trained_by": trained_by})
    return int(mv.version)


def pass_gates(registry, version):
    for gate in registry.policy.required_gates:
        registry.record_gate(version, gate, True, {"why": "test"})


def test_promotion_without_approval_names_what_is_missing(registry):
    v = new_version(registry)
    pass_gates(registry, v)
    with pytest.raises(RegistryError, match="no approval stands"):
        registry.promote(v, "ops", "first model")


def test_promotion_with_a_failed_gate_names_the_gate(registry):
    v = new_version(registry)
    registry.record_gate(v, "accuracy", True, {})
    registry.record_gate(v, "drift", False, {"share_drifted": 0.7})
    registry.approve(v, "dana", "looks fine")
    with pytest.raises(RegistryError, match="gate drift is failed"):
        registry.promote(v, "ops", "try")


def test_nobody_approves_a_model_they_trained(registry):
    v = new_version(registry, trained_by="dana")
    with pytest.raises(RegistryError, match="four eyes"):
        registry.approve(v, "dana", "mine is great")


def test_only_configured_approvers_may_approve(registry):
    v = new_version(registry)
    with pytest.raises(RegistryError, match="not an approver"):
        registry.approve(v, "mallory", "trust me")


def test_a_rejected_version_cannot_be_promoted(registry):
    v = new_version(registry)
    pass_gates(registry, v)
    registry.reject(v, "omar", "calibration off on glass claims")
    with pytest.raises(RegistryError, match="rejected"):
        registry.promote(v, "ops", "try")


def test_promote_then_rollback_keeps_the_old_champion_and_records_every_move(registry):
    v1, v2 = new_version(registry), new_version(registry)
    for v in (v1, v2):
        pass_gates(registry, v)
        registry.approve(v, "omar", f"v{v} ok")
    assert registry.pending_promotions() == [v1, v2]
    registry.promote(v1, "ops", "first champion")
    registry.promote(v2, "ops", "better recall")
    assert (registry.alias_version(CHAMPION), registry.alias_version(PREVIOUS)) == (v2, v1)
    move = registry.rollback("ops", "complaints about v2")
    assert move["from"] == v2 and move["to"] == v1 and registry.alias_version(CHAMPION) == v1
    history = registry.champion_history()
    assert [(h["kind"], h["from"], h["to"]) for h in history] == [
        ("promote", None, v1), ("promote", v1, v2), ("rollback", v2, v1)
    ]
    assert all(h["by"] == "ops" and h["reason"] for h in history)
    assert registry.audit.verify().intact


def test_the_listing_shows_gates_approvals_and_aliases(registry):
    v = new_version(registry)
    registry.record_gate(v, "accuracy", True, {})
    registry.approve(v, "dana", "ok")
    [row] = registry.list_versions()
    assert row.gates == {"accuracy": "passed", "drift": "pending"}
    assert row.approval["status"] == "approved" and row.approval["by"] == "dana"
