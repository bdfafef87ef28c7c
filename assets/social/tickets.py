"""From a detected event to a ticket: team, severity, title, evidence, and the person on call for high severity.

Rules decide here, never the posts' text: the kind of event names the team, the size of the
event (posts above the baseline since onset) and its kind set the severity, and the on-call
roster names the person a high-severity ticket is escalated to.

| kind | team | high when |
|---|---|---|
| catastrophe (hail, flood, storm in a region) | claims_operations | excess >= 80 posts |
| app_outage | it | excess >= 100 posts, or alerts over 3 hours |
| viral_post (refused claim) | communications | excess >= 150 posts |
| garage_complaints (one network) | customer_care | excess >= 250 posts |

Below 20 excess posts an event is `low`, otherwise `medium`. The thresholds sit between the
sizes of the injected events of the training replays (docs/social_stream.md): a typical hail
storm there is 200-400 posts above baseline, a complaint wave about one network 100-200.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping

import pandas as pd

from models.redaction import Redactor
from models.trends import ALL, DetectedEvent

TEAMS = {"catastrophe": "claims_operations", "app_outage": "it", "viral_post": "communications",
         "garage_complaints": "customer_care"}
HIGH_EXCESS = {"catastrophe": 80.0, "app_outage": 100.0, "viral_post": 150.0, "garage_complaints": 250.0}
LOW_EXCESS = 20.0
APP_OUTAGE_LONG_HOURS = 3
# The LOCAL roster names the demo users (who can sign in and acknowledge); production names its
# people in CLAIMFLOW_SOCIAL_ONCALL (team=login,...).
LOCAL_ONCALL = {"claims_operations": "demo.handler", "it": "demo.admin", "communications": "demo.reviewer",
                "customer_care": "demo.handler"}
EVIDENCE_POSTS = 5
_MENTION = re.compile(r"@\w+")


def oncall(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Who is on call per team: `CLAIMFLOW_SOCIAL_ONCALL` (`team=login,team=login`), else the LOCAL roster."""
    env = os.environ if environ is None else environ
    raw = (env.get("CLAIMFLOW_SOCIAL_ONCALL") or "").strip()
    if not raw:
        return dict(LOCAL_ONCALL)
    roster = {}
    for part in raw.split(","):
        team, _, login = part.partition("=")
        if team.strip() and login.strip():
            roster[team.strip()] = login.strip()
    return roster


def ticket_id(event_key: str) -> str:
    """A short, stable id for the event's ticket."""
    return "SOC-" + hashlib.sha256(event_key.encode()).hexdigest()[:10].upper()


def severity(event: DetectedEvent) -> str:
    if event.excess < LOW_EXCESS:
        return "low"
    hours = (event.last_alert - event.onset) / pd.Timedelta(hours=1) + 1
    if event.excess >= HIGH_EXCESS[event.kind] or (event.kind == "app_outage" and hours > APP_OUTAGE_LONG_HOURS):
        return "high"
    return "medium"


def title(event: DetectedEvent) -> str:
    where = f" in {event.scope}" if event.scope != ALL else ""
    what = {
        "catastrophe": f"{event.topic} reported{where}: claims surge likely",
        "app_outage": "claims app or site reported down",
        "viral_post": "a post about a refused claim is spreading",
        "garage_complaints": f"complaint wave about partner garage {event.scope}",
    }[event.kind]
    return f"{what} (since {event.onset:%Y-%m-%d %H:00} UTC, {event.volume} posts, {event.excess:.0f} above baseline)"


def evidence(event: DetectedEvent, posts: pd.DataFrame, n: int = EVIDENCE_POSTS) -> list[dict]:
    """The most shared distinct posts of the event (copies counted), text redacted and handles removed."""
    if posts.empty:
        return []
    window = posts[(posts["topic"] == event.topic) & (posts["hour"] >= event.onset)
                   & (posts["hour"] <= event.last_alert)]
    if event.topic == "garage":
        window = window[window["entity"] == event.scope]
    elif event.region:
        window = window[window["region"] == event.region]
    if window.empty:
        return []
    copies = window.groupby("canonical_id").size().rename("copies")
    originals = window[~window["is_copy"]].set_index("post_id")
    top = copies[copies.index.isin(originals.index)].sort_values(ascending=False).head(n)
    if top.empty:  # only copies in the window: point at what they copy
        top = copies.sort_values(ascending=False).head(n)
    out = []
    for pid, k in top.items():
        row = originals.loc[pid] if pid in originals.index else None
        text = "" if row is None else _MENTION.sub("@…", Redactor().redact(str(row["text"])))[:200]
        out.append({"post_id": str(pid), "copies": int(k), "text": text,
                    "lang": None if row is None else row["lang"],
                    "created_at": None if row is None else str(row["created_at"]),
                    "author": None if row is None else row["author_hash"]})
    return out


def ticket_for(event: DetectedEvent, posts: pd.DataFrame, roster: Mapping[str, str]) -> dict:
    """The ticket row `TicketStore.record` takes for `event`."""
    team = TEAMS[event.kind]
    sev = severity(event)
    return {
        "ticket_id": ticket_id(event.key), "event_key": event.key, "kind": event.kind, "topic": event.topic,
        "scope": event.scope, "team": team, "severity": sev, "title": title(event),
        "onset": event.onset.to_pydatetime(), "last_alert": event.last_alert.to_pydatetime(),
        "event_open": event.open, "volume": event.volume, "excess": float(event.excess),
        "negative_share": event.negative_share, "evidence": evidence(event, posts),
        "assignee": roster.get(team) if sev == "high" else None,
        "escalation_reason": f"high severity {event.kind}: {event.excess:.0f} posts above baseline",
    }
