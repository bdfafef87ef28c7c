"""The dbt models of the warehouse as one Dagster multi-asset, tested by `dbt build`."""

import dagster as dg
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt.project import dbt_args, dbt_project, require_manifest
from assets.dbt.translator import ClaimflowDbtTranslator
from assets.resources import WarehouseResource


@dbt_assets(
    manifest=require_manifest(),
    project=dbt_project,
    dagster_dbt_translator=ClaimflowDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_code_references=True)
    ),
)
def claimflow_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Staging views and marts built from the raw tables; dbt tests report as asset checks."""
    yield from dbt.cli(dbt_args("build", warehouse=warehouse.path), context=context).stream()
