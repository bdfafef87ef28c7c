"""`claimflow social pull|trends` and `claimflow tickets list|ack`: the social flow from the command line.

`social pull` runs the social flow (posts, sentiment, trends, tickets, surge forecast) over a
window of hours: by default the whole replay (`--replay FILE`, X API v2 JSON lines, or the
bundled one) or, with `X_BEARER_TOKEN`, the hours since `--since` (default: the last hour).
Bad lines of a replay are counted and reported, never fatal. `tickets ack` acts as the owner
of the personal API token in `CLAIMFLOW_API_TOKEN`; an escalated ticket is acknowledged by
the person it names.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestration.commands import CliError, Parser


def _since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise CliError(f"--since {raw!r} is not an ISO date or time (e.g. 2026-06-10 or 2026-06-10T14:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_social_pull(args) -> int:
    from orchestration.runner import first_failure
    from orchestration.social_runner import replay_span, run_social_window, summary

    since = _since(args.since)
    now = datetime.now(UTC)
    replay = None
    if args.replay:
        replay = Path(args.replay)
        if not replay.is_file():
            raise CliError(f"{replay}: no such file")
        first, last, counts = replay_span(replay)
        bad = counts["bad"]
        print(f"replay {replay}: {counts['lines']} lines, {counts['posts']} posts"
              + (f", {sum(bad.values())} bad lines skipped ({', '.join(f'{k} {v}' for k, v in sorted(bad.items()))})"
                 if bad else ""))
        if first is None:
            raise CliError(f"{replay}: no readable post in the file")
        start, end = since or first, last + timedelta(hours=1)
    elif os.environ.get("X_BEARER_TOKEN", "").strip():
        start, end = since or now - timedelta(hours=1), now
    else:
        from assets.social.resources import default_replay_path, ensure_replay

        replay = ensure_replay(default_replay_path())
        first, last, _ = replay_span(replay)
        start, end = since or first, last + timedelta(hours=1)
        print(f"no X_BEARER_TOKEN: the bundled replay {replay}")
    if start >= end:
        raise CliError(f"--since {start:%Y-%m-%d %H:%M} is after the last post ({end:%Y-%m-%d %H:%M} UTC)")
    if end - start > timedelta(days=60):
        raise CliError("a window longer than 60 days: pull it in parts with --since")
    print(f"social flow over {start:%Y-%m-%d %H:00} to {end:%Y-%m-%d %H:00} UTC")
    result = run_social_window(start, end, replay=replay)
    print("\n".join(summary(result)))
    if not result.success:
        print(f"social flow failed: {first_failure(result)}")
        return 1
    return 0


def cmd_social_trends(args) -> int:
    from assets.project import warehouse_path
    from connectors.schema import TREND_SIGNALS
    from connectors.warehouse import Warehouse

    if args.hours < 1:
        raise CliError("--hours must be at least 1")
    try:
        wh = Warehouse(warehouse_path())
        with wh.connect(read_only=True) as con:
            last = con.execute(f"select max(hour) from {TREND_SIGNALS}").fetchall()[0][0]
            if last is None:
                raise CliError("no trend signals yet: run `claimflow social pull` first")
            rows = con.execute(
                f"select hour, topic, scope, volume, expected, ratio, surprise, alert, negative_share "
                f"from {TREND_SIGNALS} where hour > ? and (alert or volume >= ?) order by hour, topic, scope",
                [last - timedelta(hours=args.hours), args.min_volume]).df()
    except FileNotFoundError:
        raise CliError("no warehouse yet: run `claimflow social pull` first") from None
    if args.json:
        print(rows.to_json(orient="records", date_format="iso"))
        return 0
    print(f"trend signals for the {args.hours} hours up to {last:%Y-%m-%d %H:00} UTC "
          f"(series with >= {args.min_volume} posts in an hour, or alerting)")
    print(f"{'hour':<17}{'topic':<9}{'scope':<28}{'posts':>6}{'expected':>9}{'surprise':>9}{'neg.':>6}  alert")
    for r in rows.itertuples():
        neg = "-" if r.negative_share != r.negative_share else f"{r.negative_share:.0%}"
        print(f"{r.hour:%Y-%m-%d %H:00} {r.topic:<9}{r.scope:<28}{r.volume:>6}{r.expected:>9.1f}"
              f"{min(r.surprise, 99.9):>9.1f}{neg:>6}  {'ALERT' if r.alert else ''}")
    return 0


def _store():
    from connectors.tickets import TicketStore
    from orchestration.commands.review import sor_url

    return TicketStore(sor_url())


def _user(permission: str) -> str:
    from orchestration.commands.users import authenticated

    return authenticated(permission).username


def cmd_tickets_list(args) -> int:
    from connectors.tickets import TicketError

    _user("review.read")
    try:
        tickets = _store().list(args.status)
    except TicketError as err:
        raise CliError(str(err)) from None
    if args.json:
        print(json.dumps(tickets, indent=2, default=str, ensure_ascii=False))
        return 0
    if not tickets:
        print(f"no tickets {'at all' if args.status == 'all' else args.status}")
        return 0
    for t in tickets:
        esc = t["escalation"]
        who = f"  escalated to {esc['assignee']} ({esc['status']})" if esc else ""
        print(f"{t['ticket_id']}  {t['status']:<12} {t['severity']:<6} {t['team']:<17} {t['title']}{who}")
    return 0


def cmd_tickets_ack(args) -> int:
    from connectors.tickets import TicketError

    user = _user("review.decide")
    try:
        ticket = _store().acknowledge(args.ticket, user, args.note or "")
    except TicketError as err:
        raise CliError(str(err)) from None
    print(f"{ticket['ticket_id']} acknowledged by {user}: {ticket['title']}")
    return 0


def register(sub) -> None:
    """Add `social pull|trends` and `tickets list|ack` to the top-level sub-parsers."""
    social = sub.add_parser("social", help="public posts: pull, trends")
    cmds = social.add_subparsers(dest="social_command", required=True, parser_class=Parser)
    pull = cmds.add_parser("pull", help="run the social flow over a replay or the hours since --since")
    pull.add_argument("--since", help="ISO date/time (UTC unless a zone is given)")
    pull.add_argument("--replay", help="X API v2 JSON lines to replay (default: X_BEARER_TOKEN, else the bundled one)")
    pull.set_defaults(func=cmd_social_pull)
    trends = cmds.add_parser("trends", help="the latest trend signals, alerts first")
    trends.add_argument("--hours", type=int, default=24)
    trends.add_argument("--min-volume", type=int, default=10)
    trends.add_argument("--json", action="store_true")
    trends.set_defaults(func=cmd_social_trends)

    tickets = sub.add_parser("tickets", help="social listening tickets and their escalations")
    tcmds = tickets.add_subparsers(dest="tickets_command", required=True, parser_class=Parser)
    ls = tcmds.add_parser("list", help="tickets, oldest first")
    ls.add_argument("--status", default="open", choices=("open", "acknowledged", "resolved", "all"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_tickets_list)
    ack = tcmds.add_parser("ack", help="acknowledge a ticket (an escalated one: as the person it names)")
    ack.add_argument("ticket")
    ack.add_argument("--note")
    ack.set_defaults(func=cmd_tickets_ack)
