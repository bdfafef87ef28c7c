"""The one dbt project: where it lives, which target it runs, how its manifest is built.

Run `python -m assets.dbt.project` (what `make dbt-manifest` calls) to (re)build
`dbt/target/manifest.json`; nothing here runs dbt at import.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.errors import DagsterDbtManifestNotFoundError

from assets.dbt.translator import dbt_asset_key
from assets.project import DBT_LOCAL_TARGET, DBT_PROJECT_DIR, dbt_target_for, warehouse_path

MANIFEST_COMMAND = "make dbt-manifest"


def dbt_target() -> str:
    """The profiles.yml target: `$CLAIMFLOW_DBT_TARGET` when set, else derived from `CLAIMFLOW_ENV`.

    Read here, at import, because the dbt project (and the manifest's schemas) must be known
    when the definitions load; `orchestration.settings.Settings.dbt_target` is the same value.
    """
    return os.environ.get("CLAIMFLOW_DBT_TARGET") or dbt_target_for(os.environ.get("CLAIMFLOW_ENV") or "local")


def manifest_folder(target: str) -> Path:
    """Where `target`'s manifest lives: `dbt/target` for the embedded default, `dbt/target-<name>` for another.

    The relations in a manifest carry the target's schemas (`main` on DuckDB, `analytics` on Postgres), so a
    PROD manifest must never stand in for the local one (or the reverse) in the same checkout.
    """
    return Path("target") if target == DBT_LOCAL_TARGET else Path(f"target-{target}")


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=dbt_target(),
    target_path=manifest_folder(dbt_target()),
)


def prepare_if_dev() -> None:
    """Re-parse the project so model edits show up; does something only under `dagster dev`.

    dagster-dbt's own `DbtProject.prepare_if_dev` would look `dbt` up on PATH, which an
    unactivated venv does not have.
    """
    if dbt_project.preparer.using_dagster_dev():
        ensure_manifest(force=True)


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, so an unactivated venv still finds it."""
    beside_python = Path(sys.executable).with_name("dbt")
    return os.fspath(beside_python) if beside_python.exists() else "dbt"


class ClaimflowDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without the dbt Core adapter it builds in the Dagster process.

    Before starting the `dbt` subprocess, `DbtCliResource.cli()` builds a dbt adapter here, which
    parses every dbt macro in this process, only so that `fetch_row_counts()` and
    `fetch_column_metadata()` can query the built relations. Claimflow calls neither: the
    materializations and asset checks come from dbt's own event stream. Measured on the idle box:
    3.6 s in a fresh process (each run the daemon launches is one) and 1.2 s on later calls in the
    same process, before every dbt step, on the CPU the run needs. dagster-dbt calls
    `_initialize_dbt_core_adapter` in `cli()` (0.29.x, tested in tests/unit/test_dbt_run_target.py,
    so an upgrade that changes this fails there).
    """

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - dagster-dbt's signature
        return None


def dbt_resource(target: str | None = None) -> DbtCliResource:
    """The `dbt` resource, on the project's profiles and `target` (default: the project's)."""
    return ClaimflowDbtCli(project_dir=dbt_project, dbt_executable=dbt_executable(), target=target or dbt_project.target)


def dbt_args(command: str, *extra: str, warehouse: os.PathLike | str | None = None) -> list[str]:
    """dbt CLI arguments for `command`, pinned to the warehouse file the Python assets use
    (`warehouse`, the warehouse resource's file; default: the one under $CLAIMFLOW_HOME).

    DuckDB resolves a relative path against dbt's working directory (the dbt project),
    not ours, so the absolute path travels as a var that profiles.yml reads first.
    """
    warehouse = {"warehouse_path": os.path.abspath(warehouse or warehouse_path())}
    return [command, *extra, "--vars", json.dumps(warehouse)]


def ensure_manifest(force: bool = False) -> Path:
    """Build `dbt/target/manifest.json` with `dbt parse` when it is missing (or `force`).

    Parsing reads no data and needs no network (the project has no dbt packages).
    """
    if force or not dbt_project.manifest_path.exists():
        dbt_resource().cli(
            dbt_args("parse", "--quiet"), target_path=dbt_project.target_path
        ).wait()
    return dbt_project.manifest_path


def require_manifest(project: DbtProject = dbt_project) -> Path:
    """The manifest the asset definitions are built from; says how to build it when absent."""
    if project is dbt_project:
        prepare_if_dev()
    if not project.manifest_path.exists():
        raise DagsterDbtManifestNotFoundError(
            f"dbt manifest not found at {project.manifest_path}. Build it with "
            f"`{MANIFEST_COMMAND}` (or `python -m assets.dbt.project`, which calls "
            "assets.dbt.project.ensure_manifest())."
        )
    return project.manifest_path


@functools.cache
def _relations(manifest_path: Path, mtime: float) -> dict[str, str]:
    nodes = json.loads(manifest_path.read_text())["nodes"].values()
    return {
        dbt_asset_key(n).to_user_string(): f"{n['schema']}.{n.get('alias') or n['name']}"
        for n in nodes
        if n["resource_type"] in ("model", "seed", "snapshot")
    }


def dbt_relation(asset: str) -> str:
    """`schema.table` of the dbt node behind the Dagster asset `asset`, read off the manifest.

    The schema depends on the target (`main` on DuckDB, `analytics` on Postgres), so code never
    spells it; the manifest is the same one the dbt assets are built from.
    """
    path = require_manifest()
    relations = _relations(path, path.stat().st_mtime)
    if asset not in relations:
        raise KeyError(f"no dbt model behind asset {asset!r} in {path}")
    return relations[asset]


if __name__ == "__main__":
    print(ensure_manifest(force=True))
