"""When the social flow runs: micro-batch pulls launched by a sensor on the checkpoints, hourly trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.resources import WarehouseResource
from assets.social.assets import SOCIAL_HOURS
from assets.social.resources import XResource
from connectors.schema import SOCIAL_CHECKPOINTS
from connectors.x import XSourceError

PULL_ASSETS = dg.AssetSelection.assets("social_posts", "post_sentiment")
TREND_ASSETS = dg.AssetSelection.assets("trend_signals", "social_tickets", "claims_surge_forecast")

social_pull_job = dg.define_asset_job(
    "social_pull", selection=PULL_ASSETS, partitions_def=SOCIAL_HOURS,
    description="Pull new public posts since the checkpoints and score their sentiment (a micro-batch).",
    tags={"claimflow/flow": "social"},
)
social_trends_job = dg.define_asset_job(
    "social_trends", selection=TREND_ASSETS, partitions_def=SOCIAL_HOURS,
    description="Trends against the seasonal baseline, tickets for events, the claims surge forecast.",
    tags={"claimflow/flow": "social"},
)
social_flow_job = dg.define_asset_job(
    "social_flow", selection=PULL_ASSETS | TREND_ASSETS, partitions_def=SOCIAL_HOURS,
    description="The whole social flow for a window of hours (the demo runs it over the replay).",
    tags={"claimflow/flow": "social"},
)

social_hourly_schedule = dg.build_schedule_from_partitioned_job(
    social_trends_job, name="social_hourly", minute_of_hour=5,
    description="Trends, tickets and the surge forecast for the hour that just ended.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def new_posts_since(source, queries, since: datetime, now: datetime) -> int:
    """Posts the source holds for `queries` between `since` and `now` (the counts endpoint: no posts read)."""
    since = max(since, now - timedelta(days=6, hours=23))  # recent search reaches back 7 days
    return sum(b["tweet_count"] for q in queries for b in source.counts_recent(q, since, now))


@dg.sensor(
    job=social_pull_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
    description="New posts since the checkpoints (per the counts endpoint) become one micro-batch pull run.",
)
def social_pull_sensor(context: dg.SensorEvaluationContext, x: XResource, warehouse: WarehouseResource):
    """One pull run for the current hour when the source has posts newer than the last pull."""
    now = datetime.now(UTC)
    wh = warehouse.get()
    wh.ensure_schema()
    with wh.connect() as con:
        last = con.execute(f"select max(pulled_until) from {SOCIAL_CHECKPOINTS}").fetchall()[0][0]
    since = last.replace(tzinfo=UTC) if last else now - timedelta(hours=1)
    try:
        fresh = new_posts_since(x.source(), x.search_queries(), since, now)
    except XSourceError as err:
        yield dg.SkipReason(f"X source unavailable: {err.reason}")
        return
    if not fresh:
        yield dg.SkipReason(f"no new posts since {since:%Y-%m-%d %H:%M} UTC")
        return
    hour = SOCIAL_HOURS.get_last_partition_key()
    yield dg.RunRequest(run_key=f"social-pull-{hour}-{since:%Y%m%d%H%M}-{fresh}", partition_key=hour,
                        tags={"claimflow/new_posts": str(fresh)})
