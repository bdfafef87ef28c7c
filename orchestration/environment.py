"""The one place that decides which environment this process runs in."""

from __future__ import annotations

import os
from enum import Enum


class Environment(str, Enum):
    LOCAL = "local"  # embedded default: one machine, SQLite/DuckDB files under $CLAIMFLOW_HOME
    PROD = "prod"  # scale-out: dagster-k8s, Postgres, services named by environment variables


def get_environment() -> Environment:
    """`CLAIMFLOW_ENV` (`local` or `prod`); LOCAL when unset."""
    return parse_environment(os.environ.get("CLAIMFLOW_ENV"))


def parse_environment(value: str | None) -> Environment:
    """The environment named by `value` (`local` or `prod`, any case); LOCAL when empty."""
    raw = (value or Environment.LOCAL.value).strip().lower()
    try:
        return Environment(raw)
    except ValueError:
        names = ", ".join(e.value for e in Environment)
        raise ValueError(f"CLAIMFLOW_ENV={raw!r} is not one of: {names}") from None
