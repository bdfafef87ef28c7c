"""Erasure and retention of a person's data: warehouse, system of record, attachments, inbox files, outbox.

A person's data is removed where nothing needs it (mail bodies, attachments, the raw inbox
file, the customer message text) and pseudonymised where the record must stay (a claim row
keeps its number, policy, dates, amounts and route for accounting and the audit trail; the
sender becomes `erased:<n>`). The audit chain is never edited: its entries hold no personal
data (claim numbers, rules, queues, employees' names), and the erasure itself is an entry that
says what was erased, by count and claim number, never whose.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from connectors.attachments import AttachmentStore
from connectors.audit import AuditLog
from connectors.schema import (
    CLAIM_EMAILS,
    CLAIM_MESSAGES,
    CLAIM_NOTES,
    PARSED_CLAIMS,
    QUARANTINED,
    STATUS_DRAFTS,
)
from connectors.system_of_record import outbox_table, policies_table
from connectors.warehouse import Warehouse

ERASED = "[erased]"


@dataclass
class ErasureReport:
    """What one erasure changed (counts and claim numbers only: no personal data)."""

    claims: list[str] = field(default_factory=list)
    mails: int = 0
    attachments_deleted: int = 0
    inbox_files_deleted: int = 0
    outbox_messages: int = 0
    drafts: int = 0
    quarantined: int = 0
    notes: int = 0
    policies: int = 0

    def as_payload(self) -> dict:
        return asdict(self)


def _token(value: str) -> str:
    """A stable pseudonym that does not reveal the value (the rows of one person stay linkable)."""
    return "erased:" + hashlib.sha256(f"claimflow-erasure|{value.strip().lower()}".encode()).hexdigest()[:10]


def claims_of(warehouse: Warehouse, *, email: str | None = None, claim: str | None = None) -> list[str]:
    """The claims a person's erasure covers: by sender or contact address, or one claim."""
    if claim:
        return [claim]
    rows = warehouse.read(
        f"""select distinct claim_number from {PARSED_CLAIMS}
            where lower(contact_email) = lower(?) or lower(sender) = lower(?)
            union select distinct m.claim_number from {CLAIM_MESSAGES} m
            join {CLAIM_EMAILS} e using (content_hash) where lower(e.sender) = lower(?)
            order by 1""",
        [email, email, email],
    )
    return list(rows["claim_number"])


def erase(
    warehouse: Warehouse,
    sor_url: str,
    attachments: AttachmentStore,
    inbox_root: Path | None,
    audit: AuditLog,
    *,
    actor: str,
    email: str | None = None,
    claim: str | None = None,
    reason: str = "erasure request",
) -> ErasureReport:
    """Erase one person's data (by `email`) or one claim's (by `claim`) everywhere it is stored."""
    if not (email or claim) or (email and claim):
        raise ValueError("give exactly one of an e-mail address or a claim number")
    report = ErasureReport(claims=claims_of(warehouse, email=email, claim=claim))
    claims = report.claims
    with warehouse.connect() as con:
        mails = con.execute(
            f"""select e.content_hash, e.inbox_key, e.photos, e.sender from {CLAIM_EMAILS} e
                where e.content_hash in (select content_hash from {CLAIM_MESSAGES} where claim_number in (select unnest(?)))
                   or lower(e.sender) = lower(?)""",
            [claims, email or ""],
        ).fetchall()
        hashes = [m[0] for m in mails]
        report.mails = len(mails)
        for _, inbox_key, photos, _ in mails:
            for sha in json.loads(photos or "[]"):
                report.attachments_deleted += attachments.delete(sha)
            if inbox_root is not None and inbox_key:
                for folder in ("new", "cur"):
                    for path in (Path(inbox_root) / folder).glob(f"{inbox_key}*"):
                        path.unlink(missing_ok=True)
                        report.inbox_files_deleted += 1
        con.execute("begin")
        for content_hash, _, _, sender in mails:
            con.execute(
                f"""update {CLAIM_EMAILS} set sender = ?, sender_name = null, subject = ?, body_text = null,
                    attachments = '[]', inbox_key = null where content_hash = ?""",
                [_token(sender or content_hash), ERASED, content_hash],
            )
        con.execute(
            f"""update {PARSED_CLAIMS} set contact_email = null, contact_phone = null, description = ?,
                sender = 'erased:' || substr(sha256(coalesce(sender, claim_number)), 1, 10)
                where claim_number in (select unnest(?))""",
            [ERASED, claims],
        )
        report.drafts = con.execute(
            f"select count(*) from {STATUS_DRAFTS} where claim_number in (select unnest(?))", [claims]
        ).fetchone()[0]
        con.execute(f"update {STATUS_DRAFTS} set body = ? where claim_number in (select unnest(?))", [ERASED, claims])
        report.quarantined = con.execute(
            f"select count(*) from {QUARANTINED} where content_hash in (select unnest(?)) or lower(sender) = lower(?)",
            [hashes, email or ""],
        ).fetchone()[0]
        con.execute(
            f"""update {QUARANTINED} set sender = 'erased', subject = ?
                where content_hash in (select unnest(?)) or lower(sender) = lower(?)""",
            [ERASED, hashes, email or ""],
        )
        report.notes = con.execute(
            f"select count(*) from {CLAIM_NOTES} where claim_number in (select unnest(?))", [claims]
        ).fetchone()[0]
        con.execute(
            f"update {CLAIM_NOTES} set sender = 'erased', changes = '{{}}' where claim_number in (select unnest(?))",
            [claims],
        )
        con.execute("commit")
    engine = sa.create_engine(sor_url)
    try:
        with engine.begin() as con:
            o = outbox_table.c
            report.outbox_messages = con.execute(
                outbox_table.update().where(o.claim_number.in_(claims)).values(body=ERASED)
            ).rowcount
            if email and sa.inspect(con).has_table(policies_table.name):
                p = policies_table.c
                report.policies = con.execute(
                    policies_table.update().where(sa.func.lower(p.holder_email) == email.lower())
                    .values(holder_name=ERASED, holder_email=None, holder_phone=None, holder_address=None)
                ).rowcount
    finally:
        engine.dispose()
    audit.append(actor=actor, action="privacy.erase", subject="claims:" + ",".join(claims)[:250] if claims else "none",
                 payload={**report.as_payload(), "by": "email" if email else "claim", "reason": reason})
    return report


def due_for_retention(warehouse: Warehouse, *, now: datetime, days: int) -> list[str]:
    """Claims whose last message is older than the retention period (`days`): what the schedule erases."""
    cutoff = now - timedelta(days=days)
    rows = warehouse.read(
        f"""select claim_number from {PARSED_CLAIMS}
            where coalesce(last_received_at, received_at) < ? and coalesce(description, '') <> ?
            order by 1""",
        [cutoff, ERASED],
    )
    return list(rows["claim_number"])
