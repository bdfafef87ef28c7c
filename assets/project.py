"""Every path the product uses, owned here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"


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


def mlflow_tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, else the local server on `CLAIMFLOW_MLFLOW_PORT` (5000)."""
    explicit = os.environ.get("MLFLOW_TRACKING_URI")
    if explicit:
        return explicit
    return f"http://127.0.0.1:{os.environ.get('CLAIMFLOW_MLFLOW_PORT', '5000')}"


def triton_repository() -> Path:
    return claimflow_home() / "triton" / "models"


def triton_ports() -> tuple[int, int, int]:
    """(http, grpc, metrics): `CLAIMFLOW_TRITON_{HTTP,GRPC,METRICS}_PORT`, default 8000, 8001, 8002."""
    env = os.environ
    return (
        int(env.get("CLAIMFLOW_TRITON_HTTP_PORT", 8000)),
        int(env.get("CLAIMFLOW_TRITON_GRPC_PORT", 8001)),
        int(env.get("CLAIMFLOW_TRITON_METRICS_PORT", 8002)),
    )
