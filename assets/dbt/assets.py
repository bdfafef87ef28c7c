"""The dbt models of the warehouse as one Dagster multi-asset, tested by `dbt build`."""

import os
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
    target = run_target(claimflow_home(), context.run.run_id)
    yield from dbt.cli(dbt_args("build", warehouse=warehouse.path), context=context, target_path=target).stream()
    keep_partial_parse(claimflow_home(), target)


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
    saved = home / "dbt" / PARTIAL_PARSE
    if saved.exists() and not (target / PARTIAL_PARSE).exists():
        # dbt reads its partial-parse state from the target folder; without the previous run's, every run
        # re-parsed the whole project (~8 s of a 10 s `dbt build`). dbt checks the state's hashes itself
        # (files, vars, profile) and parses in full when anything changed.
        shutil.copy2(saved, target / PARTIAL_PARSE)
    return target


PARTIAL_PARSE = "partial_parse.msgpack"


def keep_partial_parse(home: Path, target: Path) -> None:
    """Save a run's partial-parse state for the next run in this home (replaced atomically)."""
    produced = target / PARTIAL_PARSE
    if produced.exists():
        tmp = home / "dbt" / f".{PARTIAL_PARSE}.{os.getpid()}"
        shutil.copy2(produced, tmp)
        os.replace(tmp, home / "dbt" / PARTIAL_PARSE)
