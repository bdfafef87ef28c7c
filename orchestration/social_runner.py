"""Running the social flow from the CLI and the demo, on the persistent Dagster instance under $CLAIMFLOW_HOME.

`run_social_window` executes the `social_flow` job over a window of hours in one run (the
assets take a partition range), with the X resource of the environment or a replay file.
`social_demo` is the demo's part: the bundled replay through the flow, then events found vs
injected, tickets, escalations and the surge forecast.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOUR_FMT = "%Y-%m-%d-%H:%M"


def _hour(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


def replay_span(path: Path) -> tuple[datetime, datetime, dict]:
    """First and last post time of a replay file, and its line counts (bad lines by reason)."""
    from connectors.x import ReplayStats, parse_created_at, read_replay

    stats = ReplayStats()
    first = last = None
    with open(path, "rb") as fh:
        for post in read_replay(fh, stats):
            t = parse_created_at(post.data["created_at"])
            first = t if first is None or t < first else first
            last = t if last is None or t > last else last
    return first, last, {"lines": stats.lines, "posts": stats.posts, "bad": dict(stats.bad)}


def social_definitions(replay: Path | None = None):
    """The social assets, checks and jobs with the environment's resources (the X resource on `replay` if given)."""
    import dagster as dg

    from assets.social import assets as social_assets
    from assets.social import checks as social_checks
    from assets.social.resources import XResource
    from orchestration import social_automation as social
    from orchestration.environment import get_environment
    from orchestration.resources import resources_for

    resources = resources_for(get_environment())
    if replay is not None:
        # A replay given on the command line is read as it is, whatever X_BEARER_TOKEN says.
        resources["x"] = XResource(replay_path=str(replay), bearer_token_env="CLAIMFLOW_REPLAY_ONLY_NO_TOKEN")
    return dg.Definitions(
        assets=dg.load_assets_from_modules([social_assets]),
        asset_checks=dg.load_asset_checks_from_modules([social_checks]),
        jobs=[social.social_flow_job, social.social_pull_job, social.social_trends_job],
        resources=resources, executor=dg.in_process_executor,
    )


def run_social_window(start: datetime, end: datetime, *, replay: Path | None = None, job: str = "social_flow",
                      instance=None):
    """Execute `job` once over the hours [start, end) (end exclusive); returns the Dagster result."""
    import dagster as dg

    first, last = _hour(start), _hour(end - timedelta(seconds=1))
    if last < first:
        raise ValueError("the window holds no hour")
    tags = {"dagster/asset_partition_range_start": first.strftime(HOUR_FMT),
            "dagster/asset_partition_range_end": last.strftime(HOUR_FMT)}
    defs = social_definitions(replay)
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if instance is not None:
        return defs.resolve_job_def(job).execute_in_process(instance=instance, tags=tags, run_config=config,
                                                            raise_on_error=False)
    from orchestration.runner import prepare_dagster_home

    prepare_dagster_home()
    with dg.DagsterInstance.get() as inst:
        return defs.resolve_job_def(job).execute_in_process(instance=inst, tags=tags, run_config=config,
                                                            raise_on_error=False)


def materialized(result) -> dict[str, dict]:
    return {e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def summary(result, truth=None) -> list[str]:
    """What a social run did, for people: posts, sentiment, alerts, tickets, escalations, forecast, checks."""
    from connectors.tickets import TicketStore
    from models.trends import score_events
    from orchestration.commands.review import sor_url

    md = materialized(result)
    lines = []
    p = md.get("social_posts", {})
    if p:
        bad = p.get("replay_bad_lines") or {}
        lines.append(f"  posts              {p.get('posts_pulled')} pulled ({p.get('source')}), {p.get('new_posts')} new, "
                     f"{p.get('copies_linked')} retweets/near-duplicates linked"
                     + (f", bad replay lines {sum(bad.values())} {bad}" if bad else ""))
    s = md.get("post_sentiment", {})
    if s:
        lines.append(f"  sentiment          {s.get('by')}  ({s.get('claude')}), Claude cost ${s.get('claude_cost_usd', 0):.4f}")
    t = md.get("trend_signals", {})
    if t:
        lines.append(f"  trend signals      {t.get('series')} hour x series rows, {t.get('alerts')} alert hours")
    k = md.get("social_tickets", {})
    if k:
        lines.append(f"  tickets            {k.get('events')} events: {k.get('opened')} opened, {k.get('updated')} "
                     f"already open (updated), {k.get('escalated')} escalated")
    store = TicketStore(sor_url())
    tickets = store.list("all")
    if truth is not None:
        detected = [_as_event(x) for x in tickets]
        score = score_events(detected, truth)
        lines.append(f"  events found       {score.true_positives} of {len(truth)} injected "
                     f"({score.false_positives} tickets matching no injected event); detection delay "
                     + ", ".join(f"{d:.1f} h" for d in score.delays_hours))
        for ev in truth:
            lines.append(f"    injected {ev.kind:<18} {ev.start:%Y-%m-%d %H:%M} {ev.region or ev.entity or ''}")
    for x in tickets:
        esc = x["escalation"]
        who = f" -> {esc['assignee']} ({esc['status']})" if esc else ""
        lines.append(f"    {x['ticket_id']} {x['severity']:<6} {x['team']:<17} {x['title']}{who}")
    f = md.get("claims_surge_forecast", {})
    if f:
        lines.append(f"  surge forecast     {f.get('kpi_expected_extra_claims_next_7_days')} extra claims expected in the "
                     f"next 7 days, by region {f.get('by_region')}")
    for ev in result.get_asset_check_evaluations():
        lines.append(f"  check {ev.asset_key.to_user_string()}:{ev.check_name:<28} "
                     f"{'passed' if ev.passed else 'FAILED'} ({ev.severity.value.lower()})")
    return lines


def _as_event(ticket: dict):
    import pandas as pd

    from models.trends import DetectedEvent

    return DetectedEvent(ticket["event_key"], ticket["topic"], ticket["kind"], ticket["scope"],
                         pd.Timestamp(ticket["onset"]), pd.Timestamp(ticket["last_alert"]), pd.Timestamp(ticket["onset"]),
                         0, ticket["volume"], ticket["excess"], 0.0, ticket["negative_share"], ticket["event_open"])


def social_demo() -> tuple[bool, str]:
    """The demo's social part: the bundled replay through the flow; prints events found vs injected and the rest."""
    from assets.social.resources import default_replay_path, ensure_replay
    from connectors.samples.social import read_truth

    path = ensure_replay(default_replay_path())
    truth = read_truth(path.with_suffix(".truth.jsonl"))
    first, last, counts = replay_span(path)
    lines = [(f"  replay             {path} ({counts['posts']} posts, {first:%Y-%m-%d} to {last:%Y-%m-%d}, "
             f"FR/EN/DE; documented in docs/social_stream.md)")]
    from assets.project import claimflow_home

    logs = claimflow_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "social_flow.log", "a") as log, contextlib.redirect_stdout(log):
        result = run_social_window(first, last + timedelta(hours=1))
    lines += summary(result, truth)
    if not result.success:
        from orchestration.runner import first_failure

        lines.append(f"  social flow failed: {first_failure(result)}")
    lines.append("  acknowledge        .venv/bin/claimflow tickets list; .venv/bin/claimflow tickets ack SOC-... "
                 "(as the person named, CLAIMFLOW_API_TOKEN)")
    return result.success, "\n".join(lines)
