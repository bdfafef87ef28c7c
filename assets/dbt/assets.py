"""The dbt models of the warehouse as one Dagster multi-asset, tested by `dbt build`."""

import shutil
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.dbt.project import dbt_args, dbt_project, require_manifest
from assets.project import claimflow_home
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
    target = run_target(claimflow_home(), context.run_id)
    yield from dbt.cli(dbt_args("build", warehouse=warehouse.path), context=context, target_path=target).stream()


KEEP_RUN_TARGETS = 5


def run_target(home: Path, run_id: str, keep: int = KEEP_RUN_TARGETS) -> Path:
    """Where one run's dbt artefacts go: under the home, never the repository (regression: 31 folders, 71 MB
    piled up in dbt/target); only the newest `keep` runs' folders are kept."""
    root = home / "dbt" / "runs"
    root.mkdir(parents=True, exist_ok=True)
    older = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in older[: max(len(older) - (keep - 1), 0)]:
        shutil.rmtree(stale, ignore_errors=True)
    target = root / run_id
    target.mkdir(exist_ok=True)
    return target
