"""Checks of the social flow: is the feed alive, is its volume plausible, did the surge forecast hold?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from assets.resources import WarehouseResource
from assets.social import forecast as surge
from assets.social.assets import claims_surge_forecast, social_posts
from connectors.regions import region_of_address
from connectors.schema import (
    CLAIMS_SURGE_FORECAST,
    PARSED_CLAIMS,
    POLICIES,
    SOCIAL_CHECKPOINTS,
    SOCIAL_POSTS,
)

MAX_LAG_HOURS = 6          # brand chatter never sleeps that long, even at 4 a.m.
MIN_DAY_SHARE = 0.3        # the last day below 30 % of the median day: the feed is broken, not quiet
MAX_DAY_FACTOR = 10.0      # above 10x the median day: a loop or a spam flood, not an event


@dg.asset_check(asset=social_posts, description="The newest post is at most 6 hours older than what was pulled.")
def social_posts_freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get().connect(read_only=True) as con:
        until = con.execute(f"select max(pulled_until) from {SOCIAL_CHECKPOINTS}").fetchall()[0][0]
        newest = con.execute(f"select max(created_at) from {SOCIAL_POSTS} where created_at < ?",
                             [until or datetime.now(UTC).replace(tzinfo=None)]).fetchall()[0][0]
    if until is None or newest is None:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"reason": "nothing pulled yet"})
    lag = (until - newest).total_seconds() / 3600
    return dg.AssetCheckResult(passed=lag <= MAX_LAG_HOURS, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"lag_hours": round(lag, 2), "pulled_until": str(until),
                                         "newest_post": str(newest)})


def volume_verdict(daily: pd.Series) -> tuple[bool, dict]:
    """Last day's posts against the median of the days before it (needs 3 days of history)."""
    if len(daily) < 4:
        return True, {"reason": "fewer than 4 days of posts: nothing to compare"}
    last, median = float(daily.iloc[-1]), float(daily.iloc[-8:-1].median())
    factor = last / median if median else float("inf")
    return MIN_DAY_SHARE <= factor <= MAX_DAY_FACTOR, {"last_day_posts": int(last), "median_day_posts": median,
                                                       "factor": round(factor, 2)}


@dg.asset_check(asset=social_posts, description="The last day's volume is within 0.3x-10x of the median day.")
def social_posts_volume(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get().connect(read_only=True) as con:
        until = con.execute(f"select max(pulled_until) from {SOCIAL_CHECKPOINTS}").fetchall()[0][0]
        if until is None:
            return dg.AssetCheckResult(passed=True, metadata={"reason": "nothing pulled yet"})
        frame = con.execute(
            f"select floor(epoch(? - created_at) / 86400) as days_ago, count(*) as n from {SOCIAL_POSTS} "
            f"where created_at < ? and created_at >= ? group by 1", [until, until, until - timedelta(days=8)]).df()
    daily = frame.set_index("days_ago")["n"].reindex(range(7, -1, -1), fill_value=0)
    daily = daily[daily.index <= 7]
    passed, md = volume_verdict(daily)
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=md)


@dg.asset_check(asset=claims_surge_forecast,
                description="Forecasts past their horizon against the claims that arrived in the region.")
def surge_forecast_vs_arrivals(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    with wh.connect(read_only=True) as con:
        forecasts = con.execute(f"select * from {CLAIMS_SURGE_FORECAST}").df()
        claims = con.execute(
            f"select c.incident_date, c.loss_type, p.holder_address from {PARSED_CLAIMS} c "
            f"join {POLICIES} p using (policy_number)").df()
    claims["region"] = claims["holder_address"].map(region_of_address)
    results = surge.compare_with_arrivals(forecasts, claims, datetime.now(UTC).date())
    compared = [r for r in results if r["status"] == "compared"]
    off = [r for r in compared if not 0.5 <= r["ratio"] <= 2.0]
    return dg.AssetCheckResult(
        passed=not off, severity=dg.AssetCheckSeverity.WARN,
        metadata={"forecasts": len(results), "compared": len(compared),
                  "not_comparable": sum(r["status"] == "not_comparable" for r in results),
                  "pending": sum(r["status"] == "pending" for r in results),
                  "outside_half_to_double": [f"{r['ticket_id']}: {r['arrived']} vs {r['expected']}" for r in off]})
