"""The wiring, snapshotted: a change to assets, checks, jobs, schedules or sensors shows here as a diff.

After an intended change, regenerate with `CLAIMFLOW_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_defs.py`
and review the diff of tests/unit/snapshots/definitions.json.
"""

import json
import os
from pathlib import Path

from orchestration.definitions import build_definitions
from orchestration.environment import Environment

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def snapshot(defs) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "assets": {
            k.to_user_string(): {
                "group": graph.get(k).group_name,
                "deps": sorted(p.to_user_string() for p in graph.get(k).parent_keys),
            }
            for k in sorted(graph.get_all_asset_keys())
            if graph.get(k).is_materializable
        },
        "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys),
        "blocking_checks": sorted(
            f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys if graph.get_check_spec(k).blocking
        ),
        "jobs": sorted(j.name for j in repo.get_all_jobs()),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_definitions_load_and_match_the_snapshot(dbt_manifest):
    got = snapshot(build_definitions(Environment.LOCAL))
    if os.environ.get("CLAIMFLOW_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(SNAPSHOT.read_text())


def test_every_environment_has_the_same_resource_keys(dbt_manifest):
    from orchestration.resources import resources_for

    keys = {env: sorted(resources_for(env)) for env in Environment}
    assert len({tuple(v) for v in keys.values()}) == 1, keys


def test_prod_has_no_default_approvers(dbt_manifest, monkeypatch):
    from orchestration.resources import resources_for

    monkeypatch.delenv("CLAIMFLOW_APPROVERS", raising=False)
    assert resources_for(Environment.PROD)["governance"].approvers == []
    assert "demo.approver" in resources_for(Environment.LOCAL)["governance"].approvers


def test_the_gates_and_contracts_block_what_comes_after_them(dbt_manifest):
    blocking = set(snapshot(build_definitions(Environment.LOCAL))["blocking_checks"])
    assert {
        "parsed_claims:contract",
        "training_set:training_set_contract",
        "risk_model_candidate:accuracy_gate",
        "risk_model_candidate:behaviour_gate",
        "risk_model_candidate:drift_gate",
        "risk_model_candidate:cost_gate",
    } <= blocking
    assert "parsed_claims:completeness" not in blocking
