"""Social listening tickets and their escalations, in the system of record (any SQLAlchemy URL).

One ticket per detected event, keyed by the event (`ticket_id`, unique), so a re-run or the
next hour's run updates the ticket it opened instead of opening another. A high-severity
ticket names a person: an escalation, waiting until that person acknowledges it. Every
opening, severity change, escalation and acknowledgement is an entry in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connectors.audit import AuditLog

SEVERITIES = ("low", "medium", "high")
TICKET_STATUSES = ("open", "acknowledged", "resolved")

_metadata = sa.MetaData()
tickets_table = sa.Table(
    "social_tickets",
    _metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("event_key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("topic", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(80), nullable=False),
    sa.Column("team", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("onset", sa.DateTime, nullable=False),
    sa.Column("last_alert", sa.DateTime, nullable=False),
    sa.Column("event_open", sa.Boolean, nullable=False),
    sa.Column("volume", sa.Integer, nullable=False),
    sa.Column("excess", sa.Float, nullable=False),
    sa.Column("negative_share", sa.Float),
    sa.Column("evidence_json", sa.Text, nullable=False),
    sa.Column("assignee", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
escalations_table = sa.Table(
    "social_escalations",
    _metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("assignee", sa.String(200), nullable=False),
    sa.Column("team", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # waiting | acknowledged
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("acked_by", sa.String(200)),
    sa.Column("acked_at", sa.DateTime),
    sa.Column("ack_note", sa.Text),
)


class TicketError(ValueError):
    """A ticket action that is not allowed (unknown ticket, not yours, already acknowledged): one line."""


@dataclass(frozen=True)
class TicketWrite:
    """What `TicketStore.record` did for one event."""

    ticket_id: str
    opened: bool
    severity_changed: bool
    escalated: bool


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class TicketStore:
    """Tickets and escalations of the social flow, with their audit trail in the same database."""

    def __init__(self, url: str, *, audit: AuditLog | None = None):
        self.engine = sa.create_engine(url)
        _metadata.create_all(self.engine)
        self.audit = audit or AuditLog(url)

    def record(self, ticket: dict[str, Any], *, actor: str = "system") -> TicketWrite:
        """Open the ticket of an event, or update the one already open for it; escalate once when high.

        `ticket` carries ticket_id, event_key, kind, topic, scope, team, severity, title, onset,
        last_alert, event_open, volume, excess, negative_share, evidence (list), assignee.
        Severity only rises: a calmer hour later does not downgrade what people were told.
        """
        now = _now()
        t = tickets_table.c
        row = {k: ticket[k] for k in ("ticket_id", "event_key", "kind", "topic", "scope", "team", "severity", "title",
                                       "onset", "last_alert", "event_open", "volume", "excess", "negative_share")}
        row["evidence_json"] = json.dumps(ticket.get("evidence") or [], ensure_ascii=False, default=str)
        opened = severity_changed = escalated = False
        with self.engine.begin() as con:
            current = con.execute(sa.select(tickets_table).where(t.ticket_id == row["ticket_id"])).first()
            if current is None:
                con.execute(tickets_table.insert().values(**row, status="open", assignee=ticket.get("assignee"),
                                                          created_at=now, updated_at=now))
                opened = True
                severity = row["severity"]
            else:
                severity = max(current.severity, row["severity"], key=SEVERITIES.index)
                severity_changed = severity != current.severity
                con.execute(tickets_table.update().where(t.ticket_id == row["ticket_id"]).values(
                    scope=row["scope"], severity=severity, title=row["title"], last_alert=row["last_alert"],
                    event_open=row["event_open"], volume=row["volume"], excess=row["excess"],
                    negative_share=row["negative_share"], evidence_json=row["evidence_json"],
                    assignee=current.assignee or ticket.get("assignee"),
                    status="resolved" if not row["event_open"] and current.status == "acknowledged" else current.status,
                    updated_at=now))
            if severity == "high" and ticket.get("assignee"):
                e = escalations_table.c
                exists = con.execute(sa.select(e.ticket_id).where(e.ticket_id == row["ticket_id"])).first()
                if exists is None:
                    con.execute(escalations_table.insert().values(
                        ticket_id=row["ticket_id"], assignee=ticket["assignee"], team=row["team"], status="waiting",
                        reason=ticket.get("escalation_reason") or f"high severity {row['kind']}", created_at=now))
                    escalated = True
        payload = {"ticket_id": row["ticket_id"], "event_key": row["event_key"], "kind": row["kind"],
                   "scope": row["scope"], "team": row["team"], "severity": severity, "volume": row["volume"],
                   "excess": round(row["excess"], 1), "evidence_posts": [e.get("post_id") for e in ticket.get("evidence") or []]}
        entries = []
        if opened:
            entries.append({"actor": actor, "action": "ticket.open", "subject": row["ticket_id"], "payload": payload})
        elif severity_changed:
            entries.append({"actor": actor, "action": "ticket.severity", "subject": row["ticket_id"], "payload": payload})
        if escalated:
            entries.append({"actor": actor, "action": "ticket.escalate", "subject": row["ticket_id"],
                            "payload": {**payload, "assignee": ticket["assignee"]}})
        self.audit.append_many(entries)
        return TicketWrite(row["ticket_id"], opened, severity_changed, escalated)

    def acknowledge(self, ticket_id: str, user: str, note: str = "") -> dict:
        """The named person (or a member of the ticket's team roster given in `team_members`) takes the escalation."""
        user = (user or "").strip()
        if not user:
            raise TicketError("who is acknowledging? (no authenticated user)")
        e, t = escalations_table.c, tickets_table.c
        now = _now()
        with self.engine.begin() as con:
            ticket = con.execute(sa.select(tickets_table).where(t.ticket_id == ticket_id)).first()
            if ticket is None:
                raise TicketError(f"no ticket {ticket_id}")
            esc = con.execute(sa.select(escalations_table).where(e.ticket_id == ticket_id)).first()
            if esc is not None and esc.status == "acknowledged":
                raise TicketError(f"{ticket_id} was already acknowledged by {esc.acked_by}")
            if esc is not None and esc.assignee != user:
                raise TicketError(f"{ticket_id} is escalated to {esc.assignee}, not {user}")
            if ticket.status != "open":
                raise TicketError(f"{ticket_id} is {ticket.status}, not open")
            if esc is not None:
                con.execute(escalations_table.update().where(e.ticket_id == ticket_id, e.status == "waiting")
                            .values(status="acknowledged", acked_by=user, acked_at=now, ack_note=note))
            con.execute(tickets_table.update().where(t.ticket_id == ticket_id)
                        .values(status="acknowledged", assignee=ticket.assignee or user, updated_at=now))
        self.audit.append(actor=user, action="ticket.ack", subject=ticket_id,
                          payload={"ticket_id": ticket_id, "escalated": esc is not None, "note": note})
        return self.get(ticket_id)

    def get(self, ticket_id: str) -> dict:
        with self.engine.connect() as con:
            row = con.execute(sa.select(tickets_table).where(tickets_table.c.ticket_id == ticket_id)).first()
            if row is None:
                raise TicketError(f"no ticket {ticket_id}")
            esc = con.execute(sa.select(escalations_table).where(escalations_table.c.ticket_id == ticket_id)).first()
        return _ticket(row, esc)

    def list(self, status: str = "open") -> list[dict]:
        """Tickets with `status` (open, acknowledged, resolved or all), oldest first, with their escalation."""
        if status != "all" and status not in TICKET_STATUSES:
            raise TicketError(f"unknown status {status!r} (expected one of {', '.join(TICKET_STATUSES)}, all)")
        t = tickets_table.c
        query = sa.select(tickets_table).order_by(t.onset, t.ticket_id)
        if status != "all":
            query = query.where(t.status == status)
        with self.engine.connect() as con:
            rows = con.execute(query).all()
            escs = {r.ticket_id: r for r in con.execute(sa.select(escalations_table)).all()}
        return [_ticket(r, escs.get(r.ticket_id)) for r in rows]

    def escalations(self, status: str | None = None) -> list[dict]:
        query = sa.select(escalations_table).order_by(escalations_table.c.created_at)
        if status:
            query = query.where(escalations_table.c.status == status)
        with self.engine.connect() as con:
            return [dict(r._mapping) for r in con.execute(query).all()]


def _ticket(row, esc) -> dict:
    out = dict(row._mapping)
    out["evidence"] = json.loads(out.pop("evidence_json") or "[]")
    out["escalation"] = dict(esc._mapping) if esc is not None else None
    return out
