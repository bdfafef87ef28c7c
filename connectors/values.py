"""Value helpers every connector, rule and asset shares: missing values and stored timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd


def present(value: Any) -> Any:
    """`value`, or None when it is missing: None, NaN, NaT, pd.NA or a blank string."""
    if value is None:
        return None
    kind = type(value)
    if kind is str:  # the common cases without pandas (pd.isna costs ~1 us a call)
        return value if value.strip() else None
    if kind is int or kind is bool:
        return value
    if kind is float:
        return None if value != value else value
    try:
        if bool(pd.isna(value)):
            return None
    except (TypeError, ValueError):  # array-likes are values, not gaps
        pass
    if isinstance(value, str) and not value.strip():
        return None
    return value


def utc_naive(moment: datetime | None = None) -> datetime:
    """`moment` (default now) as a naive UTC datetime, the form every timestamp column stores."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
