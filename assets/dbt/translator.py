"""How dbt nodes become Dagster assets: keys and groups read off the dbt project's layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator


def _dagster_meta(dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = (
        (dbt_resource_props.get("config") or {}).get("meta")
        or dbt_resource_props.get("meta")
        or {}
    )
    return meta.get("dagster") or {}


def dbt_asset_key(dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
    """`AssetKey([name])` for every node: a model's name, a source's table name.

    A source table therefore *is* the Python asset that writes it (`raw.parsed_claims`
    -> `parsed_claims`). `meta: {dagster: {asset_key: [...]}}` in yml still overrides.
    """
    configured = _dagster_meta(dbt_resource_props).get("asset_key")
    if configured:
        return dg.AssetKey(configured)
    return dg.AssetKey([dbt_resource_props["name"]])


def dbt_group_name(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """The domain folder directly under `models/` (`models/claims/...` -> `claims`).

    fqn is `[project, *folders, name]`; a node at the root of `models/` has no group.
    """
    fqn = dbt_resource_props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else None


class ClaimflowDbtTranslator(DagsterDbtTranslator):
    """Asset keys are bare node names, groups are the domain folders of the dbt project."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dbt_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # An explicit `meta: {dagster: {group: ...}}` or dbt group still wins over the folder.
        return super().get_group_name(dbt_resource_props) or dbt_group_name(
            dbt_resource_props
        )
