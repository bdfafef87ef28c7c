"""Every path the product uses, owned here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
DBT_LOCAL_TARGET = "local"  # DuckDB file under $CLAIMFLOW_HOME
DBT_PROD_TARGET = "prod"  # Postgres (dbt/profiles.yml)


def dbt_target_for(environment: str) -> str:
    """The profiles.yml target of a Claimflow environment: `prod` for prod, else `local`."""
    return DBT_PROD_TARGET if environment.strip().lower() == "prod" else DBT_LOCAL_TARGET


def claimflow_home() -> Path:
    """Where everything the product writes lives (`$CLAIMFLOW_HOME`, default `./.claimflow`)."""
    return Path(os.environ.get("CLAIMFLOW_HOME", PROJECT_ROOT / ".claimflow")).resolve()


def inbox_dir() -> Path:
    return claimflow_home() / "inbox"


def attachments_dir() -> Path:
    return claimflow_home() / "attachments"


def warehouse_path() -> Path:
    return claimflow_home() / "warehouse.duckdb"


def system_of_record_path() -> Path:
    return claimflow_home() / "system_of_record.db"


def dagster_home() -> Path:
    return claimflow_home() / "dagster"


def reports_dir() -> Path:
    return claimflow_home() / "reports"


def mlflow_dir() -> Path:
    return claimflow_home() / "mlflow"


def triton_repository() -> Path:
    return claimflow_home() / "triton" / "models"
