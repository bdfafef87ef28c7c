"""The dbt warehouse (dbt/) as Dagster assets: project, translator, assets.

Import `assets.dbt.assets` only once the manifest exists (`ensure_manifest()`);
`project` and `translator` import without it.
"""
