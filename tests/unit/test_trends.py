"""The burst detector and topic rules: surprise against a seasonal baseline, events, scoring."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from models.trends import (
    ALL,
    TrendConfig,
    classify,
    detect,
    hour_of_week_profile,
    hourly_series,
    nb_surprise,
    score_events,
    segment_events,
)

START = pd.Timestamp("2026-06-01 00:00")


def seasonal_counts(days: int, rate: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    shape = 1 + 0.8 * np.sin((hours % 24 - 6) / 24 * 2 * np.pi)  # a day-night rhythm
    return rng.poisson(rate * shape)


def series(counts: np.ndarray, topic: str = "app", scope: str = ALL) -> pd.DataFrame:
    return pd.DataFrame({"hour": pd.date_range(START, periods=len(counts), freq="h"), "topic": topic,
                         "scope": scope, "volume": counts, "negative": 0, "scored": 0})


@pytest.mark.parametrize("text,topic,entity", [
    ("Grêle énorme sur Lyon 😡", "hail", None),
    ("Hagelsturm über Metz, Windschutzscheibe kaputt", "hail", None),
    ("Rues inondées à Nîmes", "flood", None),
    ("Is the Claimflow app down? Error 503", "app", None),
    ("Die Claimflow App Störung", "app", None),
    ("Évitez CarroPlus, 4 semaines pour un pare-choc", "garage", "CarroPlus"),
    ("Claim denied by Claimflow after two months", "refusal", None),
    ("Quelle tempête cette nuit", "storm", None),
    ("Mon conseiller Claimflow est vraiment sympa", "brand", None),
])
def test_topic_rules_read_three_languages(text, topic, entity):
    assert classify(text) == (topic, entity)


def test_a_flat_seasonal_week_raises_no_alert():
    counts = seasonal_counts(14, 3.0)
    signals = detect(series(counts))
    assert not signals["alert"].any()
    # The baseline follows the day-night rhythm: expected at 12h is well above expected at 0h.
    day = signals[signals["hour"] >= START + pd.Timedelta(days=7)]
    by_hour = day.groupby(day["hour"].dt.hour)["expected"].mean()
    assert by_hour.max() > 2 * by_hour.min()


def test_a_burst_alerts_within_two_hours_and_is_one_event():
    counts = seasonal_counts(10, 3.0, seed=1)
    onset = 8 * 24 + 14
    counts[onset:onset + 4] += [40, 60, 35, 20]
    signals = detect(series(counts))
    alerts = signals[signals["alert"]]
    # A tenfold hour alerts at once or, summed with the next, one hour later (the two-hour window).
    assert START + pd.Timedelta(hours=onset) <= alerts["hour"].min() <= START + pd.Timedelta(hours=onset + 1)
    events = segment_events(signals)
    assert len(events) == 1 and events[0].kind == "app_outage" and events[0].excess > 100


def test_the_floor_keeps_tiny_series_quiet():
    counts = np.zeros(10 * 24, dtype=int)
    counts[9 * 24 + 5] = 3  # three posts where there were none: surprising and irrelevant
    assert not detect(series(counts, "garage", "CarroPlus"))["alert"].any()


def test_an_event_does_not_raise_its_own_baseline():
    counts = seasonal_counts(12, 2.0, seed=2)
    onset = 8 * 24
    counts[onset:onset + 30] += 25  # a long plateau: every hour of it should alert
    signals = detect(series(counts))
    plateau = signals[(signals["hour"] >= START + pd.Timedelta(hours=onset))
                      & (signals["hour"] < START + pd.Timedelta(hours=onset + 30))]
    assert plateau["alert"].mean() > 0.9


def test_regional_series_name_the_region_of_a_catastrophe():
    base = seasonal_counts(10, 1.0, seed=3)
    rows = [series(base, "hail", ALL)]
    lyon = np.zeros_like(base)
    onset = 8 * 24 + 16
    lyon[onset:onset + 3] = [30, 45, 20]
    rows[0]["volume"] = rows[0]["volume"] + lyon
    rows.append(series(lyon, "hail", "Auvergne-Rhône-Alpes"))
    events = segment_events(detect(pd.concat(rows)))
    assert len(events) == 1 and events[0].region == "Auvergne-Rhône-Alpes" and events[0].kind == "catastrophe"


def test_surprise_is_the_negative_binomial_tail():
    assert nb_surprise(np.array([0]), np.array([2.0]), 4)[0] == 0
    low, high = nb_surprise(np.array([5, 30]), np.array([4.0, 4.0]), 4)
    assert 0 < low < 1 < high
    # Over-dispersion makes the same count less surprising than Poisson would.
    assert nb_surprise(np.array([30]), np.array([4.0]), 2)[0] < nb_surprise(np.array([30]), np.array([4.0]), 50)[0]


def test_hour_of_week_profile_has_mean_one_and_a_weekend():
    idx = pd.date_range(START, periods=14 * 24, freq="h")
    totals = pd.Series(np.where(idx.dayofweek >= 5, 5.0, 10.0) * (1 + (idx.hour > 8)), index=idx)
    prof = hour_of_week_profile(totals)
    assert prof.shape == (168,) and abs(prof.mean() - 1) < 1e-9
    assert prof[5 * 24 + 12] < prof[2 * 24 + 12] and prof[2 * 24 + 12] > prof[2 * 24 + 3]


def test_hourly_series_counts_posts_once_nationally_and_once_per_region():
    posts = pd.DataFrame({"hour": [START] * 3, "topic": ["hail", "hail", "garage"],
                          "region": ["Bretagne", None, None], "entity": [None, None, "CarroPlus"]})
    got = hourly_series(posts).set_index(["topic", "scope"])["volume"].to_dict()
    assert got == {("hail", ALL): 2, ("hail", "Bretagne"): 1, ("garage", "CarroPlus"): 1}


def test_scoring_counts_a_second_ticket_for_one_event_as_a_false_positive():
    from connectors.samples.social import InjectedEvent

    truth = [InjectedEvent("e1", "app_outage", datetime(2026, 6, 9, 14, 20), datetime(2026, 6, 9, 18), 30.0)]
    counts = seasonal_counts(10, 3.0, seed=4)
    onset = 8 * 24 + 14
    counts[onset:onset + 3] += 50
    counts[onset + 20:onset + 22] += 50  # a second burst long after: a second event
    events = segment_events(detect(series(counts)), TrendConfig())
    score = score_events(events, truth)
    assert score.true_positives == 1 and score.false_positives == 1 and score.recall == 1.0
    assert score.delays_hours[0] == pytest.approx((timedelta(hours=1) - timedelta(minutes=20)).seconds / 3600)


def test_the_surge_check_ignores_claims_without_an_incident_date():
    # Regression: one parsed claim without a stated incident date made the demo's surge check raise.
    from datetime import date

    import pandas as pd

    from assets.social.forecast import compare_with_arrivals

    forecasts = pd.DataFrame([{"ticket_id": "T1", "onset": "2026-10-01", "loss_type": "storm", "region": "R44",
                               "expected_claims": 4.0}])
    claims = pd.DataFrame({"incident_date": ["2026-09-20", None, "2026-10-20"], "loss_type": ["storm"] * 3,
                           "region": ["R44"] * 3})
    (got,) = compare_with_arrivals(forecasts, claims, date(2026, 12, 1))
    assert got["status"] == "compared" and got["arrived"] == 0
