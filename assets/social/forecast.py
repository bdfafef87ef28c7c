"""Claims surge forecast: a catastrophe in a region x the policies exposed there.

Exposure is the number of policies of the register in force today whose holder lives in the
region (postcode of the address) and whose cover includes the peril's loss type (`storm` for
hail and storm, `water_damage` for flood). The expected extra claims are

    exposure x attack_rate(peril) x intensity,   intensity = clip(excess / 300, 0.25, 3)

where `excess` is the event's posts above baseline so far and 300 posts is the size of a
typical severe regional event in the training replays; `attack_rate` is the share of exposed
vehicles claiming after a severe event of that size (hail 1.5 %, flood 0.5 %, storm 0.4 %:
assumptions, stated so the check below can prove them wrong). They arrive with the report
delay of storm claims in the claims history (docs/claims_history.md: `log1p(days) ~ N(1.5, .9)`),
which spreads them over the following days; `expected_by_day` is that spread over 14 days.

`compare_with_arrivals` is the later check: claims of the peril's loss type on policies of the
region with an incident in the event's window, against the forecast, once the horizon has
passed and only when the claims data covers the window.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from connectors.regions import region_of_address

LOSS_TYPE = {"hail": "storm", "storm": "storm", "flood": "water_damage"}
ATTACK_RATE = {"hail": 0.015, "flood": 0.005, "storm": 0.004}
REFERENCE_EXCESS = 300.0
DELAY_MU, DELAY_SIGMA = 1.5, 0.9  # log1p(report delay in days) for storm claims
HORIZON_DAYS = 14


def exposure_by_region(policies: pd.DataFrame, today: date) -> pd.DataFrame:
    """Policies in force on `today` per region and covered loss type: columns region, loss_type, policies."""
    if policies.empty:
        return pd.DataFrame(columns=["region", "loss_type", "policies"])
    p = policies.copy()
    start = pd.to_datetime(p["start_date"]).dt.date
    end = pd.to_datetime(p["end_date"]).dt.date
    lapsed = pd.to_datetime(p["lapsed_on"]).dt.date
    active = (start <= today) & ((end.isna()) | (end >= today)) & (lapsed.isna() | (lapsed > today))
    p = p[active]
    p = p.assign(region=p["holder_address"].map(region_of_address))
    rows = []
    for loss in sorted(set(LOSS_TYPE.values())):
        covered = p[p["covered_loss_types"].fillna("").str.split(",").map(lambda xs, lt=loss: lt in xs)]
        counts = covered.groupby("region").size()
        rows += [{"region": r, "loss_type": loss, "policies": int(n)} for r, n in counts.items()]
    return pd.DataFrame(rows, columns=["region", "loss_type", "policies"])


def delay_share_by_day(days: int = HORIZON_DAYS) -> np.ndarray:
    """Share of claims reported on day 0, 1, ... after the event (report delay of storm claims)."""
    edges = np.log1p(np.arange(days + 1))
    cdf = stats.norm.cdf(edges, DELAY_MU, DELAY_SIGMA)
    # Days are floored from expm1 of the draw: day d holds log1p-values in [log1p(d), log1p(d + 1)).
    share = np.diff(np.concatenate([[0.0], cdf[1:]]))
    share[0] = cdf[1]
    return share


def forecast(peril: str, region: str | None, excess: float, exposure: pd.DataFrame) -> dict:
    """Expected extra claims from one catastrophe event."""
    loss = LOSS_TYPE.get(peril, "storm")
    if region:
        exposed = int(exposure[(exposure["region"] == region) & (exposure["loss_type"] == loss)]["policies"].sum())
    else:  # no region known: the national exposure, at a tenth of the rate (a local event somewhere)
        exposed = int(exposure[exposure["loss_type"] == loss]["policies"].sum()) // 10
    intensity = float(np.clip(excess / REFERENCE_EXCESS, 0.25, 3.0))
    expected = exposed * ATTACK_RATE.get(peril, 0.004) * intensity
    by_day = delay_share_by_day() * expected
    return {
        "peril": peril, "loss_type": loss, "region": region, "exposed_policies": exposed,
        "attack_rate": ATTACK_RATE.get(peril, 0.004), "intensity": round(intensity, 3),
        "expected_claims": round(expected, 2), "expected_next_7_days": round(float(by_day[:7].sum()), 2),
        "expected_by_day": [round(float(x), 3) for x in by_day],
    }


def compare_with_arrivals(forecasts: pd.DataFrame, claims: pd.DataFrame, today: date) -> list[dict]:
    """Forecasts whose horizon has passed against the claims that arrived (see module docstring).

    `claims`: incident_date, loss_type, region. A forecast whose window the claims data does
    not cover is reported `not_comparable` rather than counted as zero arrivals.
    """
    out = []
    if forecasts.empty:
        return out
    # claims without an incident date (not stated in the mail) say nothing about the window covered
    dates = pd.to_datetime(claims["incident_date"]).dropna().dt.date if not claims.empty else pd.Series(dtype=object)
    first = dates.min() if not dates.empty else None
    last = dates.max() if not dates.empty else None
    for f in forecasts.itertuples():
        onset = pd.Timestamp(f.onset).date()
        window = (onset - timedelta(days=1), onset + timedelta(days=2))
        if today < onset + timedelta(days=HORIZON_DAYS):
            out.append({"ticket_id": f.ticket_id, "status": "pending"})
            continue
        if first is None or first > window[0] or last < window[1]:
            out.append({"ticket_id": f.ticket_id, "status": "not_comparable"})
            continue
        c = claims[(pd.to_datetime(claims["incident_date"]).dt.date.between(*window))
                   & (claims["loss_type"] == f.loss_type) & ((claims["region"] == f.region) if f.region else True)]
        arrived = len(c)
        ratio = arrived / f.expected_claims if f.expected_claims else math.inf
        out.append({"ticket_id": f.ticket_id, "status": "compared", "expected": f.expected_claims,
                    "arrived": arrived, "ratio": round(ratio, 2)})
    return out
