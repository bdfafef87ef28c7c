import json

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import (
    JENSENSHANNON,
    WASSERSTEIN,
    ReferenceProfile,
    detect_drift,
    evidently_report,
    evidently_verdict,
)

N = 20_000
NUMERIC = ["driver_age", "exposure", "estimated_amount_eur", "prior_claims"]
CATEGORICAL = ["area", "loss_type"]


def frames(n: int = N, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current windows: age shifted, exposure stable, amount on the 0.1 line, loss mix changed."""
    rng = np.random.default_rng(seed)

    def side(current: bool) -> pd.DataFrame:
        amount = rng.lognormal(7.5 + (0.1 if current else 0.0), 0.9, n)
        amount[rng.random(n) < 0.05] = np.nan
        return pd.DataFrame({
            "driver_age": rng.normal(45 + (6 if current else 0), 14, n).round(),
            "exposure": rng.uniform(0, 1, n),
            "estimated_amount_eur": amount,
            "prior_claims": rng.choice(4, n, p=[0.7, 0.2, 0.07, 0.03]).astype(float),
            "area": rng.choice(list("ABCDEF"), n),
            "loss_type": rng.choice(["auto_collision", "storm", "theft"], n,
                                    p=[0.4, 0.45, 0.15] if current else [0.6, 0.1, 0.3]),
        })

    return side(False), side(True)


@pytest.fixture(scope="module")
def windows() -> tuple[pd.DataFrame, pd.DataFrame]:
    return frames()


@pytest.fixture(scope="module")
def profile(windows) -> ReferenceProfile:
    return ReferenceProfile.fit(windows[0], NUMERIC, CATEGORICAL)


def by_column(verdict):
    return {c.column: c for c in verdict.columns}


def test_a_shifted_numeric_column_is_flagged_and_an_unshifted_one_is_not(profile, windows):
    cols = by_column(detect_drift(profile, windows[1]))
    assert cols["driver_age"].drifted and cols["driver_age"].method == WASSERSTEIN
    assert cols["driver_age"].statistic == pytest.approx(6 / 14, rel=0.1)
    assert not cols["exposure"].drifted and cols["exposure"].statistic < 0.03


def test_a_change_in_the_categorical_mix_is_flagged_and_a_stable_mix_is_not(profile, windows):
    cols = by_column(detect_drift(profile, windows[1]))
    assert cols["loss_type"].drifted and cols["loss_type"].method == JENSENSHANNON
    assert not cols["area"].drifted


def test_a_numeric_column_with_at_most_five_values_is_compared_as_categories_like_evidently(profile, windows):
    assert by_column(detect_drift(profile, windows[1]))["prior_claims"].method == JENSENSHANNON


def test_categories_unseen_in_training_count_toward_drift_and_their_share_is_reported(profile, windows):
    current = windows[1].copy()
    current.loc[: N // 5, "area"] = "Z"
    area = by_column(detect_drift(profile, current))["area"]
    assert area.drifted
    assert area.new_value_share == pytest.approx(0.2, abs=0.001)


def test_missing_values_are_left_out_of_the_statistic_and_reported_as_a_share(profile, windows):
    current = windows[1].copy()
    before = by_column(detect_drift(profile, current))["exposure"]
    current.loc[current.index % 2 == 0, "exposure"] = np.nan
    after = by_column(detect_drift(profile, current))["exposure"]
    assert not after.drifted
    assert after.current_missing_share == pytest.approx(0.5)
    assert after.statistic == pytest.approx(before.statistic, abs=0.02)


def test_a_feature_that_stopped_arriving_counts_as_drifted(profile, windows):
    current = windows[1].copy()
    current["exposure"] = np.nan
    exposure = by_column(detect_drift(profile, current))["exposure"]
    assert exposure.drifted and exposure.method == "all_missing"


def test_a_feature_empty_in_training_is_stable_while_empty_and_drifted_once_it_arrives(windows):
    # photo_quality is NaN until photos are scored; an empty training column must not crash the gate.
    reference = windows[0].assign(exposure=None, area=None)
    profile = ReferenceProfile.fit(reference, NUMERIC, CATEGORICAL)
    still_empty = by_column(detect_drift(profile, windows[1].assign(exposure=np.nan, area=None)))
    assert not still_empty["exposure"].drifted and not still_empty["area"].drifted
    arrived = by_column(detect_drift(profile, windows[1]))
    assert arrived["exposure"].drifted and arrived["area"].drifted


def test_the_profile_round_trips_through_json_and_gives_the_same_verdict(profile, windows):
    restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert detect_drift(restored, windows[1]) == detect_drift(profile, windows[1])


def test_the_verdict_metadata_is_flat_and_json_able(profile, windows):
    meta = detect_drift(profile, windows[1]).to_metadata()
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())
    assert json.loads(json.dumps(meta)) == meta
    assert meta["driver_age.drifted"] is True and "driver_age" in meta["drifted_columns"]


def test_an_empty_window_raises_a_clear_error(profile, windows):
    with pytest.raises(ValueError, match="no rows"):
        detect_drift(profile, windows[1].iloc[:0])


def test_a_window_without_a_checked_column_raises(profile, windows):
    with pytest.raises(ValueError, match="exposure"):
        detect_drift(profile, windows[1].drop(columns="exposure"))


@pytest.mark.slow
def test_verdicts_agree_with_evidently_on_the_full_data_including_a_borderline_column(profile, windows):
    reference, current = windows
    ours = by_column(detect_drift(profile, current))
    theirs = by_column(evidently_verdict(reference, current, numeric=NUMERIC, categorical=CATEGORICAL))
    # The amount column sits on the 0.1 line: a sketch error there would flip the verdict.
    assert abs(theirs["estimated_amount_eur"].statistic - 0.1) < 0.015
    for column, e in theirs.items():
        assert (ours[column].method, ours[column].drifted) == (e.method, e.drifted), column
        assert ours[column].statistic == pytest.approx(e.statistic, abs=1e-4), column


@pytest.mark.slow
def test_the_html_report_is_written_names_every_column_and_states_the_sample(profile, windows, tmp_path):
    reference, current = windows
    out = evidently_report(reference, current, tmp_path / "drift.html", numeric=NUMERIC, categorical=CATEGORICAL,
                           sample_rows=5_000, verdict=detect_drift(profile, current))
    page = out.read_text(encoding="utf-8")
    assert all(column in page for column in NUMERIC + CATEGORICAL)
    assert "a random sample of 5,000 of 20,000 rows" in page
    assert "Gate decision on the full data" in page
