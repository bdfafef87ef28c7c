"""Resources per environment: one dict each, the same keys in every environment."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.dbt.project import dbt_project
from assets.project import attachments_dir, inbox_dir, system_of_record_path, warehouse_path
from assets.resources import AttachmentStoreResource, InboxResource, PolicySystemResource, WarehouseResource
from orchestration.environment import Environment


def _local() -> dict:
    return {
        "inbox": InboxResource(root=str(inbox_dir())),
        "attachments": AttachmentStoreResource(root=str(attachments_dir())),
        "warehouse": WarehouseResource(path=str(warehouse_path())),
        "policy_system": PolicySystemResource(url=f"sqlite:///{system_of_record_path()}"),
        "dbt": DbtCliResource(project_dir=dbt_project),
    }


def _prod() -> dict:
    return {
        "inbox": InboxResource(root=dg.EnvVar("CLAIMFLOW_INBOX_DIR")),
        "attachments": AttachmentStoreResource(root=dg.EnvVar("CLAIMFLOW_ATTACHMENTS_DIR")),
        "warehouse": WarehouseResource(path=dg.EnvVar("CLAIMFLOW_WAREHOUSE")),
        "policy_system": PolicySystemResource(url=dg.EnvVar("CLAIMFLOW_SOR_URL")),
        "dbt": DbtCliResource(project_dir=dbt_project, target="prod"),
    }


def resources_for(env: Environment) -> dict:
    """The resource dict for `env`."""
    return {Environment.LOCAL: _local, Environment.PROD: _prod}[env]()
