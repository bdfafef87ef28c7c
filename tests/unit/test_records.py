"""`records` and `present`, the per-row helpers of the triage path, against their plain pandas definitions."""

import math

import numpy as np
import pandas as pd
import pytest

from connectors.values import present
from connectors.warehouse import records


def _reference(frame: pd.DataFrame) -> list[dict]:
    """What `records` was before it went column by column."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _mixed(n: int = 3) -> pd.DataFrame:
    frame = pd.DataFrame({
        "i": [1, 2, 3], "f": [1.5, np.nan, 3.0], "b": [True, False, True], "s": ["a", None, "c"],
        "d": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
        "dz": pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01 00:00"]).tz_localize("UTC"),
        "I": pd.array([1, None, 3], dtype="Int64"), "B": pd.array([True, None, False], dtype="boolean"),
        "S": pd.array(["x", None, "z"], dtype="string"), "o": [np.int64(4), 2.5, np.nan],
        "c": pd.Categorical(["u", None, "u"]), "td": pd.to_timedelta([1, None, 3], unit="s"),
        "f32": np.array([1.0, np.nan, 2.0], dtype="float32"), "u8": np.array([1, 2, 255], dtype="uint8"),
    })
    return pd.concat([frame] * n, ignore_index=True)


def test_records_gives_the_reference_values_and_types():
    frame = _mixed()
    got, want = records(frame), _reference(frame)
    assert len(got) == len(want) == len(frame)
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w)
        for key in w:
            assert type(g[key]) is type(w[key]), (key, g[key], w[key])
            assert g[key] == w[key] or (g[key] is None and w[key] is None), key


@pytest.mark.parametrize("frame", [
    pd.DataFrame(), pd.DataFrame({"a": []}), pd.DataFrame([[1, 2]], columns=["x", "x"]),  # duplicate names
    pd.DataFrame({0: [1.0, None], "b": ["y", None]}),
])
def test_records_edge_frames(frame):
    assert records(frame) == _reference(frame)


@pytest.mark.parametrize("value", ["", "  ", "x", 0, 1, True, False, 0.0, 2.5, math.nan, np.float64("nan"),
                                   np.float64(1.0), np.int64(3), None, pd.NA, pd.NaT, pd.Timestamp("2024-01-01"),
                                   [1, 2]])
def test_present_fast_paths_agree_with_pandas(value):
    def reference(v):
        if v is None:
            return None
        try:
            if bool(pd.isna(v)):
                return None
        except (TypeError, ValueError):
            pass
        return None if isinstance(v, str) and not v.strip() else v

    got, want = present(value), reference(value)
    assert (got is None) == (want is None)
    if want is not None:
        assert got is value
