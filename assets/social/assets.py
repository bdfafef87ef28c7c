"""Social listening assets (group `social`, hourly partitions): posts -> sentiment -> trends -> tickets, surge.

Each asset works on its run's time window: one hour for the hourly schedule and the sensor's
micro-batches, or a range of hours in one run (a backfill over a replay). `social_posts`
upserts by post id (a later pull never deletes what an earlier one landed); the derived
tables delete their window, then insert it, so re-runs are safe.
"""


import json
import warnings
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.groups import SOCIAL
from assets.resources import ClaudeResource, SystemOfRecordResource, WarehouseResource
from assets.social import forecast as surge
from assets.social.posts import link_copies, normalize
from assets.social.resources import XResource
from assets.social.tickets import oncall, ticket_for
from connectors.schema import (
    CLAIMS_SURGE_FORECAST,
    POST_SENTIMENT,
    SOCIAL_CHECKPOINTS,
    SOCIAL_POSTS,
    TREND_SIGNALS,
)
from connectors.tickets import TicketStore
from connectors.x import Checkpoint
from models.trends import PERILS, TrendConfig, detect, hourly_series, segment_events

SOCIAL_HOURS = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00", timezone="UTC", end_offset=1)
HISTORY_DAYS = 35      # what the detector reads before the window: 28 days of seasonal shape + a week of level
TICKET_LOOKBACK_DAYS = 7
SINGLE_RUN = dg.BackfillPolicy.single_run()
# `backfill_policy` is beta in Dagster 1.13: one run per backfill is what these hourly assets need, and
# the notice printed five lines into every command's output (make demo included).
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def _window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The run's window as naive UTC (the warehouse's time zone)."""
    tw = context.partition_time_window
    return tw.start.astimezone(UTC).replace(tzinfo=None), tw.end.astimezone(UTC).replace(tzinfo=None)


class SocialPullConfig(dg.Config):
    """How much one pull may read."""

    max_pages: int = Field(0, description="Pages per query and hour of the window (100 posts each); 0: the resource's.")


@dg.asset(group_name=SOCIAL, partitions_def=SOCIAL_HOURS, backfill_policy=SINGLE_RUN, kinds={"python", "duckdb"})
def social_posts(context: dg.AssetExecutionContext, config: SocialPullConfig, x: XResource,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Public posts about the insurer: deduplicated by id, copies linked, authors pseudonymised, region and topic."""
    start, end = _window(context)
    wh = warehouse.get()
    queries = x.search_queries()
    with wh.connect(read_only=True) as con:
        raw = con.execute(f"select query_name, checkpoint from {SOCIAL_CHECKPOINTS}").fetchall()
    checkpoints = {name: Checkpoint.from_json(cp) for name, cp in raw}
    source = x.source(clock=lambda: end.replace(tzinfo=UTC))
    # The live API is asked up to the window's end (or now); the replay shows only what existed by then.
    # The page budget grows with the window: a backfill over days may read days of posts.
    hours = max(1, round((end - start).total_seconds() / 3600))
    # X refuses an end_time less than 10 s old; the current hour is read up to 30 s ago.
    results = source.pull(queries, checkpoints,
                          end_time=min(end.replace(tzinfo=UTC), datetime.now(UTC) - timedelta(seconds=30)),
                          max_pages=(config.max_pages or x.max_pages) * hours)
    lines = [p for r in results for p in r.posts]
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = normalize(lines, key=x.hash_key(), pulled_at=now)
    with wh.transaction() as con:
        if not frame.empty:
            lo = frame["created_at"].min() - timedelta(hours=24)
            known = con.execute(f"select post_id, text_hash, created_at from {SOCIAL_POSTS} where created_at >= ?",
                                [lo]).df()
            frame = link_copies(frame, known)
        frame["run_id"] = context.run.run_id
        inserted = wh.insert_new(con, SOCIAL_POSTS, frame)
        cps = pd.DataFrame([{"query_name": r.query, "checkpoint": r.checkpoint.to_json(), "posts_pulled": len(r.posts),
                             "pulled_until": end, "updated_at": now, "run_id": context.run.run_id} for r in results])
        wh.upsert(con, SOCIAL_CHECKPOINTS, cps)
        # Retention: post text and pseudonymised authors go after `retention_days`; the trends stay.
        cutoff = end - timedelta(days=x.retention_days)
        expired = con.execute(f"select count(*) from {SOCIAL_POSTS} where created_at < ?", [cutoff]).fetchall()[0][0]
        con.execute(f"delete from {POST_SENTIMENT} where hour < ?", [cutoff])
        con.execute(f"delete from {SOCIAL_POSTS} where created_at < ?", [cutoff])
        in_window = con.execute(f"select count(*) from {SOCIAL_POSTS} where created_at >= ? and created_at < ?",
                                [start, end]).fetchall()[0][0]
    limited = [r.query for r in results if r.rate_limited_until]
    bad = getattr(source, "stats", None)
    return dg.MaterializeResult(metadata={
        "window": f"{start:%Y-%m-%d %H:00} to {end:%Y-%m-%d %H:00} UTC",
        "source": "x_api" if x.uses_api else "replay",
        "posts_pulled": len(lines), "new_posts": int(inserted), "posts_in_window": int(in_window),
        "copies_linked": int(frame["is_copy"].sum()) if not frame.empty else 0,
        "incomplete_queries": [r.query for r in results if not r.complete],
        "rate_limited_queries": limited, "expired_by_retention": int(expired),
        "replay_bad_lines": dict(bad.bad) if bad is not None else {},
    })


class SentimentConfig(dg.Config):
    """Batch polling for the Claude scores (other languages, ambiguous English)."""

    poll_interval_s: float = Field(30.0, description="First wait between batch polls.")
    max_wait_s: float = Field(3600.0, description="Cancel the batch after this long; its posts stay unscored.")


@dg.asset(group_name=SOCIAL, partitions_def=SOCIAL_HOURS, backfill_policy=SINGLE_RUN, deps=[social_posts],
          kinds={"python", "duckdb"})
def post_sentiment(context: dg.AssetExecutionContext, config: SentimentConfig, warehouse: WarehouseResource,
                   claude: ClaudeResource) -> dg.MaterializeResult:
    """Sentiment per distinct post: VADER for English, Claude batches for the rest with a key, else unscored."""
    from models.batches import BatchConfig
    from models.sentiment import score_posts

    start, end = _window(context)
    wh = warehouse.get()
    with wh.connect(read_only=True) as con:
        posts = con.execute(
            f"select post_id, hour, lang, text from {SOCIAL_POSTS} where not is_copy and created_at >= ? "
            f"and created_at < ? order by post_id", [start, end]).df()
        done = con.execute(f"select * from {POST_SENTIMENT} where hour >= ? and hour < ? and scored_by <> 'unscored'",
                           [start, end]).df()
    todo = posts[~posts["post_id"].isin(done["post_id"])]
    client = claude.client()  # None without a key: other languages stay unscored
    try:
        scores = score_posts(list(zip(todo["post_id"].astype(int), todo["lang"], todo["text"], strict=True)), client,
                             batch_config=BatchConfig(poll_interval_s=config.poll_interval_s,
                                                      max_wait_s=config.max_wait_s))
    finally:
        if client is not None:
            client.close()
    now = datetime.now(UTC).replace(tzinfo=None)
    hours = dict(zip(todo["post_id"], todo["hour"], strict=True))
    lang = dict(zip(todo["post_id"], todo["lang"], strict=True))
    new = pd.DataFrame([{
        "post_id": s.post_id, "hour": hours[s.post_id], "lang": lang[s.post_id], "compound": s.compound,
        "label": s.label, "scored_by": s.scored_by, "model": s.model, "cost_usd": float(s.cost_usd),
        "reason": s.reason, "scored_at": now, "run_id": context.run.run_id} for s in scores],
        columns=[c for c, _ in POST_SENTIMENT.columns])
    frame = pd.concat([d for d in (done[new.columns], new) if not d.empty], ignore_index=True) if not (
        done.empty and new.empty) else new
    with wh.transaction() as con:
        con.execute(f"delete from {POST_SENTIMENT} where hour >= ? and hour < ?", [start, end])
        wh.append(con, POST_SENTIMENT, frame)
    by = frame["scored_by"].value_counts().to_dict() if not frame.empty else {}
    return dg.MaterializeResult(metadata={
        "posts": len(frame), "scored_now": len(new), "by": {k: int(v) for k, v in by.items()},
        "negative_share": float((frame["compound"] <= -0.05).sum() / max(1, frame["compound"].notna().sum())),
        "claude_cost_usd": float(new["cost_usd"].sum()) if not new.empty else 0.0,
        "claude": "Message Batches" if client is not None else "no ANTHROPIC_API_KEY: non-English posts unscored",
    })


def load_series(wh, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly counts per series from `HISTORY_DAYS` before `start` to `end`; copies carry their original's sentiment."""
    with wh.connect(read_only=True) as con:
        posts = con.execute(
            f"""select p.hour, p.topic, p.region, p.entity,
                       case when s.compound is null then 0 else 1 end as scored,
                       case when s.compound <= -0.05 then 1 else 0 end as negative
                from {SOCIAL_POSTS} p left join {POST_SENTIMENT} s on s.post_id = p.canonical_id
                where p.created_at >= ? and p.created_at < ?""",
            [start - timedelta(days=HISTORY_DAYS), end]).df()
    return hourly_series(posts)


@dg.asset(group_name=SOCIAL, partitions_def=SOCIAL_HOURS, backfill_policy=SINGLE_RUN, deps=[post_sentiment],
          kinds={"python", "duckdb"})
def trend_signals(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Volume and negative share per topic and scope against an hour-of-week baseline; surprise and alerts."""
    start, end = _window(context)
    wh = warehouse.get()
    series = load_series(wh, start, end)
    signals = detect(series, TrendConfig(), start=start, end=end - timedelta(hours=1))
    signals = signals[(signals["hour"] >= start) & (signals["hour"] < end)]
    frame = signals.assign(computed_at=datetime.now(UTC).replace(tzinfo=None), run_id=context.run.run_id)
    with wh.transaction() as con:
        con.execute(f"delete from {TREND_SIGNALS} where hour >= ? and hour < ?", [start, end])
        wh.append(con, TREND_SIGNALS, frame)
    alerts = frame[frame["alert"]]
    return dg.MaterializeResult(metadata={
        "hours": int(frame["hour"].nunique()) if not frame.empty else 0, "series": len(frame),
        "alerts": len(alerts),
        "alerting": sorted({f"{t}/{s}" for t, s in zip(alerts["topic"], alerts["scope"], strict=True)})[:20],
        "detector": json.dumps(TrendConfig().__dict__),
    })


@dg.asset(group_name=SOCIAL, partitions_def=SOCIAL_HOURS, backfill_policy=SINGLE_RUN, deps=[trend_signals],
          kinds={"python", "sqlite"})
def social_tickets(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   system_of_record: SystemOfRecordResource) -> dg.MaterializeResult:
    """One ticket per detected event (never per post), with team, severity and evidence; high severity names a person."""
    _, end = _window(context)
    wh = warehouse.get()
    lo = end - timedelta(days=TICKET_LOOKBACK_DAYS)
    with wh.connect(read_only=True) as con:
        signals = con.execute(f"select * from {TREND_SIGNALS} where hour >= ? and hour < ? order by hour",
                              [lo, end]).df()
        posts = con.execute(
            f"select post_id, canonical_id, is_copy, created_at, hour, lang, text, author_hash, region, topic, entity "
            f"from {SOCIAL_POSTS} where created_at >= ? and created_at < ?", [lo, end]).df()
    events = segment_events(signals, TrendConfig(), now=end - timedelta(hours=1))
    store = TicketStore(system_of_record._ready_url(), audit=system_of_record.audit())
    roster = oncall()
    writes = [store.record(ticket_for(e, posts, roster)) for e in events]
    return dg.MaterializeResult(metadata={
        "events": len(events), "opened": sum(w.opened for w in writes),
        "updated": sum(not w.opened for w in writes), "escalated": sum(w.escalated for w in writes),
        "tickets": [f"{w.ticket_id} {e.kind} {e.scope}" for w, e in zip(writes, events, strict=True)][:20],
    })


@dg.asset(group_name=SOCIAL, partitions_def=SOCIAL_HOURS, backfill_policy=SINGLE_RUN, deps=[social_tickets],
          kinds={"python", "duckdb"})
def claims_surge_forecast(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                          system_of_record: SystemOfRecordResource) -> dg.MaterializeResult:
    """Expected extra claims from each catastrophe ticket: the region's exposed policies x an attack rate."""
    _, end = _window(context)
    store = TicketStore(system_of_record._ready_url(), audit=system_of_record.audit())
    tickets = [t for t in store.list("all") if t["kind"] == "catastrophe" and t["topic"] in PERILS
               and t["onset"] >= end - timedelta(days=surge.HORIZON_DAYS)]
    policies = system_of_record.policies().fetch_policies()
    exposure = surge.exposure_by_region(policies, end.date())
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for t in tickets:
        f = surge.forecast(t["topic"], t["scope"] if t["scope"] != "all" else None, t["excess"], exposure)
        rows.append({"ticket_id": t["ticket_id"], "event_key": t["event_key"], "peril": f["peril"],
                     "loss_type": f["loss_type"], "region": f["region"], "onset": t["onset"],
                     "exposed_policies": f["exposed_policies"], "attack_rate": f["attack_rate"],
                     "intensity": f["intensity"], "expected_claims": f["expected_claims"],
                     "expected_next_7_days": f["expected_next_7_days"],
                     "expected_by_day": json.dumps(f["expected_by_day"]), "forecast_at": now,
                     "run_id": context.run.run_id})
    frame = pd.DataFrame(rows, columns=[c for c, _ in CLAIMS_SURGE_FORECAST.columns])
    wh = warehouse.get()
    with wh.transaction() as con:
        wh.upsert(con, CLAIMS_SURGE_FORECAST, frame)
    total = float(frame["expected_next_7_days"].sum()) if not frame.empty else 0.0
    return dg.MaterializeResult(metadata={
        "kpi_expected_extra_claims_next_7_days": round(total, 1),
        "catastrophes": len(frame),
        "by_region": {r.region or "unknown": round(r.expected_claims, 1) for r in frame.itertuples()},
        "policies_in_register": len(policies),
    })
