"""Rollback goes only to an approved version that nobody rejected or retired; identical training is found.

Regression (issue 12, finding 2): `models rollback` twice re-instated a rejected version as champion.
"""

from __future__ import annotations

import uuid

import pytest

from connectors.audit import AuditLog
from models.registry import CHAMPION, GovernancePolicy, ModelRegistry, RegistryError, training_key
from tests.integration.test_registry import new_version, pass_gates

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(mlflow_server, tmp_path):
    name = f"claims_risk_{uuid.uuid4().hex[:8]}"
    policy = GovernancePolicy(approvers=("dana", "omar"), required_gates=("accuracy", "drift"))
    return ModelRegistry(mlflow_server.url, AuditLog(f"sqlite:///{tmp_path / 'sor.db'}"), policy, name=name)


def promoted(registry, n: int) -> list[int]:
    versions = []
    for _ in range(n):
        v = new_version(registry)
        pass_gates(registry, v)
        registry.approve(v, "dana", "gates passed")
        registry.promote(v, "ops", "better")
        versions.append(v)
    return versions


def test_rolling_back_twice_never_reinstates_a_version_rejected_in_between(registry):
    v1, v2 = promoted(registry, 2)
    registry.rollback("ops", "complaints about v2")
    assert registry.alias_version(CHAMPION) == v1
    registry.reject(v2, "omar", "calibration off on theft")
    with pytest.raises(RegistryError, match=f"version {v2}: it was rejected"):
        registry.rollback("ops", "try again")
    assert registry.alias_version(CHAMPION) == v1


def test_rollback_skips_a_retired_version_for_an_earlier_approved_one(registry):
    v1, v2, v3 = promoted(registry, 3)
    registry.retire(v2, "omar", "leaks the claim amount")
    move = registry.rollback("ops", "v3 misroutes glass claims")
    assert move["to"] == v1 and registry.alias_version(CHAMPION) == v1
    with pytest.raises(RegistryError, match="is the champion"):
        registry.retire(v1, "omar", "no")


def test_an_identical_training_finds_the_version_it_would_duplicate(registry):
    v = new_version(registry)
    key = training_key("digest-1", "commit-a", {"learning_rate": 0.08})
    assert registry.find_trained(key) is None
    registry.mark_trained(v, key)
    assert registry.find_trained(training_key("digest-1", "commit-a", {"learning_rate": 0.08})) == v
    assert registry.find_trained(training_key("digest-2", "commit-a", {"learning_rate": 0.08})) is None
    assert registry.find_trained(training_key("digest-1", "commit-b", {"learning_rate": 0.08})) is None
