"""An append-only audit log whose entries are chained by sha256.

Each entry's hash covers its content and the previous entry's hash, so editing,
deleting or reordering any entry breaks the chain at that entry, and `verify()` names it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

GENESIS = "0" * 64

_metadata = sa.MetaData()
audit_table = sa.Table(
    "audit_log",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    payload: dict
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, payload: str, prev_hash: str) -> str:
    body = json.dumps([seq, at, actor, action, subject, payload, prev_hash], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    """The audit log in the system-of-record database (any SQLAlchemy URL)."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url)
        _metadata.create_all(self.engine)

    def append(self, *, actor: str, action: str, subject: str, payload: dict[str, Any]) -> AuditEntry:
        """Add one entry at the end of the chain, in its own transaction."""
        body = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.engine.begin() as con:
            last = con.execute(
                sa.select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
            digest = entry_hash(seq, at, actor, action, subject, body, prev)
            con.execute(
                audit_table.insert().values(
                    seq=seq, at=at, actor=actor, action=action, subject=subject, payload=body, prev_hash=prev, hash=digest
                )
            )
        return AuditEntry(seq, at, actor, action, subject, payload, prev, digest)

    def append_many(self, entries: list[dict[str, Any]]) -> list[AuditEntry]:
        """Append several entries (`actor`, `action`, `subject`, `payload` each) in one transaction, in order."""
        if not entries:
            return []
        out = []
        with self.engine.begin() as con:
            last = con.execute(
                sa.select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
            rows = []
            for e in entries:
                seq += 1
                body = json.dumps(e["payload"], sort_keys=True, default=str, ensure_ascii=False)
                at = datetime.now(UTC).isoformat(timespec="microseconds")
                digest = entry_hash(seq, at, e["actor"], e["action"], e["subject"], body, prev)
                rows.append(dict(seq=seq, at=at, actor=e["actor"], action=e["action"], subject=e["subject"],
                                 payload=body, prev_hash=prev, hash=digest))
                out.append(AuditEntry(seq, at, e["actor"], e["action"], e["subject"], e["payload"], prev, digest))
                prev = digest
            con.execute(audit_table.insert(), rows)
        return out

    def entries(self, *, action: str | None = None, subject: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit_table).order_by(audit_table.c.seq)
        if action:
            query = query.where(audit_table.c.action == action)
        if subject:
            query = query.where(audit_table.c.subject == subject)
        with self.engine.connect() as con:
            rows = con.execute(query).all()
        return [
            AuditEntry(r.seq, r.at, r.actor, r.action, r.subject, json.loads(r.payload), r.prev_hash, r.hash)
            for r in rows
        ]

    def verify(self) -> ChainReport:
        """Walk the chain in storage order; report the first entry that was edited, deleted or moved."""
        with self.engine.connect() as con:
            rows = con.execute(sa.select(audit_table).order_by(audit_table.c.seq)).all()
        prev, expected_seq = GENESIS, 1
        for r in rows:
            if r.seq != expected_seq:
                return ChainReport(False, len(rows), expected_seq, f"entry {expected_seq} is missing (deleted)")
            if r.prev_hash != prev:
                return ChainReport(False, len(rows), r.seq, f"entry {r.seq} does not follow entry {r.seq - 1}")
            if entry_hash(r.seq, r.at, r.actor, r.action, r.subject, r.payload, r.prev_hash) != r.hash:
                return ChainReport(False, len(rows), r.seq, f"entry {r.seq} was edited")
            prev, expected_seq = r.hash, r.seq + 1
        return ChainReport(True, len(rows))
