"""Resources per environment: one dict each, the same keys in every environment."""

from __future__ import annotations

import getpass
import os

import dagster as dg

from assets.dbt.project import dbt_resource
from assets.project import (
    attachments_dir,
    inbox_dir,
    mlflow_tracking_uri,
    system_of_record_path,
    triton_ports,
    triton_repository,
    warehouse_path,
)
from assets.resources import (
    AttachmentStoreResource,
    GovernanceResource,
    InboxResource,
    MlflowResource,
    SystemOfRecordResource,
    WarehouseResource,
)
from assets.serving.assets import TritonResource
from orchestration.environment import Environment

# The embedded default approves with a named demo approver, and says so wherever it does.
DEMO_APPROVER = "demo.approver"
LOCAL_APPROVERS = (DEMO_APPROVER, "risk.officer")


def approvers(default: tuple[str, ...] = LOCAL_APPROVERS) -> list[str]:
    """`CLAIMFLOW_APPROVERS` (comma-separated), else `default`."""
    raw = os.environ.get("CLAIMFLOW_APPROVERS")
    return [n.strip() for n in raw.split(",") if n.strip()] if raw else list(default)


def current_user() -> str:
    """Who is running this: the owner of the API token in `CLAIMFLOW_API_TOKEN`, else `CLAIMFLOW_USER`,
    else the login name (a service account). Four eyes compares it with the authenticated approver."""
    from connectors.identity import TOKEN_ENV, username_for_token

    token = os.environ.get(TOKEN_ENV)
    if token:
        sor = os.environ.get("CLAIMFLOW_SOR_URL") or f"sqlite:///{system_of_record_path()}"
        owner = username_for_token(sor, token)
        if owner:
            return owner
    return os.environ.get("CLAIMFLOW_USER") or getpass.getuser()


def _local() -> dict:
    return {
        "inbox": InboxResource(root=str(inbox_dir())),
        "attachments": AttachmentStoreResource(root=str(attachments_dir())),
        "warehouse": WarehouseResource(path=str(warehouse_path())),
        "system_of_record": SystemOfRecordResource(url=f"sqlite:///{system_of_record_path()}"),
        "dbt": dbt_resource(),
        "mlflow": MlflowResource(tracking_uri=mlflow_tracking_uri()),
        "governance": GovernanceResource(approvers=approvers(), trained_by=current_user()),
        "triton": TritonResource(
            url_grpc=f"127.0.0.1:{triton_ports()[1]}",
            repository=str(triton_repository()),
            onnx_fallback=os.environ.get("CLAIMFLOW_SCORING_FALLBACK") == "onnxruntime",
        ),
    }


def _prod() -> dict:
    return {
        "inbox": InboxResource(root=dg.EnvVar("CLAIMFLOW_INBOX_DIR")),
        "attachments": AttachmentStoreResource(root=dg.EnvVar("CLAIMFLOW_ATTACHMENTS_DIR")),
        "warehouse": WarehouseResource(path=dg.EnvVar("CLAIMFLOW_WAREHOUSE")),
        "system_of_record": SystemOfRecordResource(url=dg.EnvVar("CLAIMFLOW_SOR_URL")),
        "dbt": dbt_resource(),  # target from CLAIMFLOW_DBT_TARGET (prod: Postgres)
        "mlflow": MlflowResource(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI")),
        # No default approvers in production: nobody approves until CLAIMFLOW_APPROVERS names them.
        "governance": GovernanceResource(approvers=approvers(default=()), trained_by=current_user()),
        "triton": TritonResource(
            url_grpc=dg.EnvVar("CLAIMFLOW_TRITON_GRPC_URL"),
            repository=dg.EnvVar("CLAIMFLOW_TRITON_REPOSITORY"),
            onnx_fallback=os.environ.get("CLAIMFLOW_SCORING_FALLBACK") == "onnxruntime",
        ),
    }


def resources_for(env: Environment) -> dict:
    """The resource dict for `env`."""
    return {Environment.LOCAL: _local, Environment.PROD: _prod}[env]()
