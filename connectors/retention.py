"""The retention period of claims files: a server-side setting, parsed without heavy imports (the CLI's help
names it)."""

from __future__ import annotations

RETENTION_ENV = "CLAIMFLOW_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 3650  # ten years: the usual limitation period for claims files


def retention_days(environ: dict[str, str]) -> int:
    """The retention period, a server-side setting (`CLAIMFLOW_RETENTION_DAYS`, default ten years)."""
    raw = (environ.get(RETENTION_ENV) or "").strip()
    try:
        days = int(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} must be a whole number of days, not {raw!r}") from None
    if days < 1:
        raise ValueError(f"{RETENTION_ENV} must be at least 1")
    return days
