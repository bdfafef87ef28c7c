"""The wiring, snapshotted: a change to assets, checks, jobs, schedules or sensors shows here as a diff."""

from orchestration.definitions import build_definitions
from orchestration.environment import Environment

EXPECTED = {
    "assets": [
        "claim_emails",
        "claim_features",
        "parsed_claims",
        "policies",
        "quarantined_emails",
        "stg_claims",
        "stg_policies",
    ],
    "checks": ["parsed_claims:completeness", "parsed_claims:contract"],
    "jobs": ["__ASSET_JOB", "claims_intake"],
    "schedules": ["claims_daily_batch"],
    "sensors": ["claims_inbox_sensor"],
}


def snapshot(defs) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys),
        "jobs": sorted(j.name for j in repo.get_all_jobs()),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_definitions_load_and_match_the_snapshot(dbt_manifest):
    assert snapshot(build_definitions(Environment.LOCAL)) == EXPECTED


def test_every_environment_has_the_same_resource_keys(dbt_manifest, monkeypatch):
    from orchestration.resources import resources_for

    keys = {env: sorted(resources_for(env)) for env in Environment}
    assert len({tuple(v) for v in keys.values()}) == 1, keys


def test_claims_assets_are_in_the_claims_group(dbt_manifest):
    repo = build_definitions(Environment.LOCAL).get_repository_def()
    groups = {k.to_user_string(): repo.asset_graph.get(k).group_name for k in repo.asset_graph.get_all_asset_keys()}
    assert set(groups.values()) == {"claims"}, groups


def test_the_contract_check_blocks_downstream(dbt_manifest):
    repo = build_definitions(Environment.LOCAL).get_repository_def()
    specs = {s.key.name: s for s in repo.asset_graph.get_check_specs()} if hasattr(repo.asset_graph, "get_check_specs") else None
    if specs is None:
        from assets.claims.checks import parsed_claims_expectations

        specs = {s.name: s for s in parsed_claims_expectations.check_specs}
    assert specs["contract"].blocking and not specs["completeness"].blocking
