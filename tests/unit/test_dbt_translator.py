"""The dbt translator derives keys and groups from the dbt project's structure."""

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster_dbt import DbtProject
from dagster_dbt.errors import DagsterDbtManifestNotFoundError

from assets import groups
from assets.dbt.project import dbt_args, ensure_manifest, require_manifest
from assets.dbt.translator import ClaimflowDbtTranslator


def _model(path: str, **extra) -> dict:
    """Resource props shaped like a manifest node for `models/<path>.sql`."""
    *folders, name = path.split("/")
    return {
        "resource_type": "model",
        "name": name,
        "fqn": ["claimflow", *folders, name],
        "original_file_path": f"models/{path}.sql",
        "config": {"materialized": "view", "meta": {}},
        "meta": {},
        **extra,
    }


def _source(table: str, source_name: str = "raw") -> dict:
    return {
        "resource_type": "source",
        "name": table,
        "source_name": source_name,
        "fqn": ["claimflow", "claims", "staging", source_name, table],
        "config": {"meta": {}},
        "meta": {},
    }


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text())


def test_a_model_is_keyed_by_its_name_and_grouped_by_its_top_folder():
    translator = ClaimflowDbtTranslator()
    props = _model("claims/marts/claim_features")

    assert translator.get_asset_key(props) == dg.AssetKey(["claim_features"])
    assert translator.get_group_name(props) == "claims"


def test_any_domain_folder_becomes_a_group_without_code_changes():
    assert (
        ClaimflowDbtTranslator().get_group_name(_model("training/marts/training_rows"))
        == "training"
    )


def test_a_model_at_the_root_of_models_has_no_group():
    assert ClaimflowDbtTranslator().get_group_name(_model("scratch")) is None


def test_a_source_table_is_keyed_as_the_python_asset_that_writes_it():
    translator = ClaimflowDbtTranslator()

    assert translator.get_asset_key(_source("parsed_claims")) == dg.AssetKey(
        ["parsed_claims"]
    )
    assert translator.get_asset_key(_source("policies")) == dg.AssetKey(["policies"])


def test_yml_meta_still_overrides_key_and_group():
    props = _model("claims/staging/stg_claims")
    props["config"]["meta"] = {
        "dagster": {"asset_key": ["warehouse", "claims"], "group": "ops"}
    }
    props["meta"] = props["config"]["meta"]
    translator = ClaimflowDbtTranslator()

    assert translator.get_asset_key(props) == dg.AssetKey(["warehouse", "claims"])
    assert translator.get_group_name(props) == "ops"


def test_every_model_in_the_manifest_gets_its_name_and_a_known_domain_group(manifest):
    translator = ClaimflowDbtTranslator()
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]

    assert models
    known_groups = {
        groups.CLAIMS,
        groups.TRAINING,
        groups.SERVING,
        groups.MONITORING,
        groups.SOCIAL,
    }
    for node in models:
        assert translator.get_asset_key(node) == dg.AssetKey([node["name"]])
        assert translator.get_group_name(node) in known_groups


def test_the_dbt_assets_hang_off_the_python_assets_that_write_the_raw_tables(manifest):
    from assets.dbt.assets import claimflow_dbt_assets

    specs = {spec.key.to_user_string(): spec for spec in claimflow_dbt_assets.specs}
    deps = {
        key: {dep.asset_key.to_user_string() for dep in spec.deps}
        for key, spec in specs.items()
    }

    assert deps == {
        "stg_claims": {"parsed_claims"},
        "stg_policies": {"policies"},
        "fx_rates": set(),
        "claim_features": {"stg_claims", "stg_policies", "fx_rates", "claims_history", "photo_quality"},
        "training_set": {"claims_history", "review_labels", "stg_policies", "claim_features"},
    }
    assert {spec.group_name for spec in specs.values()} == {groups.CLAIMS, groups.TRAINING}
    assert any(
        check.name.startswith("accepted_values_claim_features")
        for check in claimflow_dbt_assets.check_keys
    )


def test_dbt_args_carry_the_absolute_warehouse_path_even_for_a_relative_home(
    tmp_path, monkeypatch
):
    # dbt runs from dbt/, so a relative CLAIMFLOW_HOME would name another file there.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLAIMFLOW_HOME", "relative-home")

    args = dbt_args("build")

    assert args[0] == "build"
    warehouse = json.loads(args[args.index("--vars") + 1])["warehouse_path"]
    assert Path(warehouse) == tmp_path / "relative-home" / "warehouse.duckdb"


def test_a_missing_manifest_fails_with_the_command_that_builds_it(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: empty\nprofile: empty\n")

    with pytest.raises(DagsterDbtManifestNotFoundError, match="make dbt-manifest"):
        require_manifest(DbtProject(project_dir=tmp_path))
