import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from connectors.samples.history import (
    HISTORY_COLUMNS,
    PRIOR_LOOKBACK_DAYS,
    SEQUENCE_START,
    generate_claims_history,
    history_periods,
)
from connectors.samples.policies import build_policy_table

START, END = date(2023, 1, 1), date(2025, 12, 31)
TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def policies() -> pd.DataFrame:
    return build_policy_table(seed=20260101)


@pytest.fixture(scope="module")
def history(policies) -> pd.DataFrame:
    return generate_claims_history(policies, n=30_000, seed=11, start=START, end=END)


@pytest.fixture(scope="module")
def periods(policies) -> tuple[pd.DataFrame, pd.DataFrame]:
    return history_periods(policies, seed=5, today=TODAY)


@pytest.fixture(scope="module")
def with_policy(history, policies) -> pd.DataFrame:
    return history.join(policies.set_index("policy_number"), on="policy_number")


def _rate_by_decile(values: pd.Series, label: pd.Series) -> np.ndarray:
    # Ranks break the many ties of small delays and counts, so deciles stay equal-sized.
    decile = pd.qcut(values.rank(method="first"), 10, labels=False)
    return label.groupby(decile).mean().to_numpy()


def test_the_same_arguments_give_the_same_claims(policies):
    first = generate_claims_history(policies, n=3_000, seed=3, start=START, end=END, shift=0.4)
    again = generate_claims_history(policies, n=3_000, seed=3, start=START, end=END, shift=0.4)
    other = generate_claims_history(policies, n=3_000, seed=4, start=START, end=END, shift=0.4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["policy_number"].equals(other["policy_number"])


def test_columns_come_in_the_documented_order_with_their_types(history):
    assert tuple(history.columns) == HISTORY_COLUMNS
    for column in ("report_delay_days", "photo_count", "prior_claims"):
        assert history[column].dtype == np.int64
    for column in ("estimated_amount", "estimated_amount_eur", "photo_quality", "final_cost"):
        assert history[column].dtype == np.float64
    for column in ("needed_specialist", "fraud_confirmed", "high_risk"):
        assert history[column].dtype == bool
    for column in ("incident_date", "reported_date", "closed_date"):
        assert all(type(value) is date for value in history[column])
    assert set(history["currency"]) == {"EUR"}
    assert set(history["label_source"]) == {"history"}
    assert history["estimated_amount"].equals(history["estimated_amount_eur"])
    assert (history["estimated_amount"] > 0).all()
    assert np.allclose(history["estimated_amount"], history["estimated_amount"].round(2), rtol=0, atol=1e-9)
    assert (history["high_risk"] == (history["needed_specialist"] | history["fraud_confirmed"])).all()


def test_every_claim_falls_in_the_window_and_is_reported_then_closed_in_order(history):
    incident = pd.to_datetime(history["incident_date"])
    reported = pd.to_datetime(history["reported_date"])
    assert incident.min().date() >= START and incident.max().date() <= END
    assert ((reported - incident).dt.days == history["report_delay_days"]).all()
    assert (history["report_delay_days"] >= 0).all()
    assert (history["closed_date"] > history["reported_date"]).all()


def test_photo_quality_is_missing_exactly_when_there_are_no_photos(history):
    no_photo = history["photo_count"] == 0
    assert (history["photo_quality"].isna() == no_photo).all()
    assert history.loc[~no_photo, "photo_quality"].between(0, 1).all()
    assert 0.05 < no_photo.mean() < 0.3


def test_between_15_and_25_percent_of_claims_are_high_risk(history):
    assert 0.15 <= history["high_risk"].mean() <= 0.25


def test_high_risk_rate_rises_with_report_delay(history):
    rates = _rate_by_decile(history["report_delay_days"], history["high_risk"])
    assert spearmanr(np.arange(10), rates).statistic > 0.7
    assert rates[-1] > rates[:5].mean() + 0.08


def test_high_risk_rate_rises_with_the_estimated_amount(history):
    rates = _rate_by_decile(history["estimated_amount"], history["high_risk"])
    assert spearmanr(np.arange(10), rates).statistic > 0.9
    assert rates[-1] > 3 * rates[0]


def test_high_risk_rate_rises_with_prior_claims(history):
    band = pd.cut(history["prior_claims"], [-1, 0, 2, 4, 1_000])
    rates = history.groupby(band, observed=True)["high_risk"].mean().to_numpy()
    assert (np.diff(rates) > 0).all()
    assert rates[-1] > rates[0] + 0.08


def test_theft_fire_and_liability_need_a_specialist_more_often_than_glass_or_collision(history):
    share = history.groupby("loss_type")["needed_specialist"].mean()
    for heavy in ("theft", "fire", "liability"):
        assert share[heavy] > 2 * share["auto_collision"] > 2 * share["auto_glass"]


def test_young_and_very_old_drivers_are_riskier_than_middle_aged_ones(with_policy):
    band = pd.cut(with_policy["driver_age"], [0, 24, 29, 74, 200], labels=["young", "under_30", "middle", "old"])
    rates = with_policy.groupby(band, observed=True)["high_risk"].mean()
    assert rates["young"] > rates["middle"] + 0.05
    assert rates["old"] > rates["middle"]


def test_collision_and_glass_dominate_and_storms_come_in_summer_thefts_in_winter(history):
    share = history["loss_type"].value_counts(normalize=True)
    assert share.index[:2].tolist() == ["auto_collision", "auto_glass"]
    assert share["auto_collision"] + share["auto_glass"] > 0.6
    month = pd.to_datetime(history["incident_date"]).dt.month
    summer, winter = month.isin([5, 6, 7]), month.isin([12, 1, 2])
    storm, theft = history["loss_type"] == "storm", history["loss_type"] == "theft"
    assert storm[summer].mean() > 2 * storm[winter].mean()
    assert theft[winter].mean() > 1.3 * theft[summer].mean()


def test_glass_is_cheap_and_theft_and_fire_are_expensive(history):
    median = history.groupby("loss_type")["estimated_amount"].median()
    assert median["auto_glass"] < 600
    assert min(median["theft"], median["fire"]) > 3 * median["auto_collision"]


def test_a_full_shift_inflates_amounts_brings_storms_and_late_blurry_reports(policies, history):
    shifted = generate_claims_history(policies, n=30_000, seed=12, start=START, end=END, shift=1.0)
    assert shifted["estimated_amount"].median() > 1.15 * history["estimated_amount"].median()
    assert (shifted["loss_type"] == "storm").mean() > 2 * (history["loss_type"] == "storm").mean()
    assert shifted["report_delay_days"].median() > history["report_delay_days"].median()
    assert shifted["photo_quality"].mean() < history["photo_quality"].mean() - 0.1
    young = policies.set_index("policy_number")["driver_age"] < 30
    assert young[shifted["policy_number"]].mean() > 1.2 * young[history["policy_number"]].mean()


def test_no_shift_draws_the_same_distribution_again(policies, history):
    again = generate_claims_history(policies, n=30_000, seed=12, start=START, end=END, shift=0.0)
    ratio = again["estimated_amount"].median() / history["estimated_amount"].median()
    assert 0.95 < ratio < 1.05
    storm_gap = (again["loss_type"] == "storm").mean() - (history["loss_type"] == "storm").mean()
    assert abs(storm_gap) < 0.01
    assert abs(again["high_risk"].mean() - history["high_risk"].mean()) < 0.015


def test_claim_numbers_are_unique_canonical_and_above_the_live_inbox_range(history):
    parts = history["claim_number"].str.extract(r"^CLM-(\d{4})-(\d{6})$")
    assert parts.notna().all().all()
    assert history["claim_number"].is_unique
    assert (parts[1].astype(int) >= SEQUENCE_START).all()
    assert (parts[0].astype(int) == pd.to_datetime(history["incident_date"]).dt.year).all()


def test_history_and_recent_window_share_no_claim_number(periods):
    past, recent = periods
    assert not set(past["claim_number"]) & set(recent["claim_number"])
    assert pd.to_datetime(past["incident_date"]).max() < pd.to_datetime(recent["incident_date"]).min()
    assert 1_500 <= len(recent) <= 2_500 and len(past) == 30_000


def test_claims_name_register_policies_nearly_all_active_and_covering_the_loss(with_policy):
    assert with_policy["status"].notna().all()
    incident = pd.to_datetime(with_policy["incident_date"])
    active = (
        (incident >= pd.to_datetime(with_policy["start_date"]))
        & (incident <= pd.to_datetime(with_policy["end_date"]))
        & ~(pd.to_datetime(with_policy["lapsed_on"]) <= incident)
    )
    covered = [loss in covers.split(",") for loss, covers in zip(with_policy["loss_type"], with_policy["covered_loss_types"])]
    # The documented 2% the claims system accepted anyway mostly land on active, covering policies too.
    assert 0.98 <= active.mean() < 1.0
    assert 0.98 <= np.mean(covered) < 1.0


def _earlier_in(frame: pd.DataFrame, claims: pd.DataFrame) -> np.ndarray:
    """Per claim, the rows of `frame` on its policy with an incident day earlier and in the lookback."""
    merged = claims.reset_index()[["index", "policy_number", "incident_date"]].merge(
        frame[["policy_number", "incident_date"]], on="policy_number", suffixes=("", "_other"),
    )
    gap = (pd.to_datetime(merged["incident_date"]) - pd.to_datetime(merged["incident_date_other"])).dt.days
    hits = merged[(gap > 0) & (gap <= PRIOR_LOOKBACK_DAYS)].groupby("index").size()
    return hits.reindex(range(len(claims)), fill_value=0).to_numpy()


def test_prior_claims_count_the_register_and_earlier_claims_of_the_history(with_policy, history):
    floor = with_policy["past_claims"].to_numpy() + _earlier_in(history, history)
    # The lookback before the window adds the claims the system already held.
    assert (history["prior_claims"].to_numpy() >= floor).all()
    assert (history["prior_claims"].to_numpy() > floor).mean() > 0.1


def test_the_recent_window_counts_the_history_in_prior_claims(periods, policies):
    past, recent = periods
    past_claims = policies.set_index("policy_number")["past_claims"][recent["policy_number"]].to_numpy()
    expected = past_claims + _earlier_in(past, recent) + _earlier_in(recent, recent)
    assert (recent["prior_claims"].to_numpy() == expected).all()


def test_bad_arguments_are_refused_with_a_clear_error(policies):
    with pytest.raises(ValueError, match="shift"):
        generate_claims_history(policies, n=10, seed=1, start=START, end=END, shift=1.5)
    with pytest.raises(ValueError, match="before start"):
        generate_claims_history(policies, n=10, seed=1, start=END, end=START)
    with pytest.raises(ValueError, match="no policy in the register is active"):
        generate_claims_history(policies, n=10, seed=1, start=date(2010, 1, 1), end=date(2010, 12, 31))


def test_zero_claims_give_an_empty_frame_with_the_columns(policies):
    empty = generate_claims_history(policies, n=0, seed=1, start=START, end=END)
    assert empty.empty and tuple(empty.columns) == HISTORY_COLUMNS


def test_two_hundred_thousand_claims_take_under_five_seconds(policies):
    # CPU time, not wall time: other test runs share the machine.
    began = time.process_time()
    big = generate_claims_history(policies, n=200_000, seed=2, start=date(2023, 9, 1), end=date(2026, 9, 1))
    assert time.process_time() - began < 5
    assert len(big) == 200_000 and big["claim_number"].is_unique
