"""The dbt project's `prod` target on a real PostgreSQL gives the same features as the DuckDB default.

The raw tables are the crafted ones of test_dbt_models (written to DuckDB exactly as there), copied
into Postgres with their types; then the same Dagster dbt assets build with `--target prod`.
"""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster_dbt import DbtCliResource

from assets.dbt.project import dbt_executable, dbt_project, ensure_manifest
from assets.project import warehouse_path
from assets.resources import WarehouseResource
from integration.test_dbt_models import EXPECTED, _write_raw_tables

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FEATURE_COLUMNS = (
    "policy_found", "policy_status_at_incident", "loss_covered", "tenure_days", "prior_claims", "report_delay_days",
)  # fmt: skip


def prod_env(url: str) -> dict[str, str]:
    """The CLAIMFLOW_PG_* settings profiles.yml's `prod` target reads, from a SQLAlchemy URL."""
    parts = sa.engine.make_url(url)
    return {
        "CLAIMFLOW_PG_HOST": parts.host, "CLAIMFLOW_PG_PORT": str(parts.port), "CLAIMFLOW_PG_USER": parts.username,
        "CLAIMFLOW_PG_PASSWORD": "", "CLAIMFLOW_PG_DBNAME": parts.database,
    }  # fmt: skip


@pytest.fixture(scope="module")
def built_on_postgres(postgres_server, tmp_path_factory):
    from assets.dbt.assets import claimflow_dbt_assets
    from fakes.postgres import copy_duckdb_schema

    ensure_manifest()
    url = postgres_server.create_database("dbt_prod")
    home = tmp_path_factory.mktemp("claimflow_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMFLOW_HOME", str(home))
        _write_raw_tables(warehouse_path())
        copied = copy_duckdb_schema(warehouse_path(), url)
        for name, value in prod_env(url).items():
            mp.setenv(name, value)
        prod_dbt = DbtCliResource(project_dir=dbt_project, target="prod", dbt_executable=dbt_executable())
        result = dg.materialize(
            [claimflow_dbt_assets], resources={"dbt": prod_dbt, "warehouse": WarehouseResource(path=str(warehouse_path()))},
            selection=dg.AssetSelection.assets(claimflow_dbt_assets), raise_on_error=False,
        )  # fmt: skip
    engine = sa.create_engine(url)
    with engine.connect() as con:
        rows = con.execute(sa.text("select * from analytics.claim_features")).mappings().all()
        relations = set(
            con.execute(sa.text("select table_name from information_schema.tables where table_schema = 'analytics'"))
            .scalars()
        )
    engine.dispose()
    return result, {r["claim_number"]: dict(r) for r in rows}, relations, copied


def test_every_dbt_model_and_test_passes_on_the_postgres_target(built_on_postgres):
    result, _, relations, copied = built_on_postgres
    assert copied["parsed_claims"] == len(EXPECTED)
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == [] and len(result.get_asset_check_evaluations()) > 10
    assert {"stg_claims", "stg_policies", "claim_features", "training_set", "fx_rates"} <= relations


@pytest.mark.parametrize("claim_number", sorted(EXPECTED))
def test_claim_features_on_postgres_match_the_policy_rules_as_on_duckdb(built_on_postgres, claim_number):
    _, features, _, _ = built_on_postgres
    assert tuple(features[claim_number][c] for c in FEATURE_COLUMNS) == EXPECTED[claim_number]
