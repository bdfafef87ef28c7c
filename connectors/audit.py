"""An append-only audit log whose entries are chained by a keyed hash (HMAC-SHA256), anchored outside the database.

Each entry's MAC covers its content and the previous entry's MAC, under a key that is not in
the database (`CLAIMFLOW_AUDIT_KEY`; locally a key generated once under the home, 0600). So
editing, deleting or reordering an entry breaks the chain at that entry, and someone who can
write the database but not read the key cannot re-hash the rest to hide it.

After every append the head (last seq, its MAC, the entry count) is written to an anchor
outside the database: an append-only JSON-lines file under `$CLAIMFLOW_HOME/audit` (in
production: an object store with a retention lock), and the Dagster run's metadata. `verify()`
checks every anchor against the table, so truncating the tail or re-writing the chain with
the key (an insider) still shows: the anchored head is gone or differs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.secrets import default_home, local_secret, new_hex_key, private_dir

KEY_ENV = "CLAIMFLOW_AUDIT_KEY"
KEY_FILE = "audit.key"
ANCHOR_DIR = "audit"

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


# Built once: `json.dumps` with options builds an encoder per call, and a long chain calls it per entry
# (twice: append and verify). The output is the same text.
_ENTRY_JSON = json.JSONEncoder(ensure_ascii=False).encode
_PAYLOAD_JSON = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


def entry_hash(
    seq: int, at: str, actor: str, action: str, subject: str, payload: str, prev_hash: str, key: bytes
) -> str:
    """HMAC-SHA256 of the entry and the previous entry's MAC, under the audit key."""
    body = _ENTRY_JSON([seq, at, actor, action, subject, payload, prev_hash])
    return hmac.digest(key, body.encode(), "sha256").hex()


def payload_text(payload: dict[str, Any]) -> str:
    """An entry's payload as stored (and hashed): JSON, keys sorted, non-JSON values as text."""
    return _PAYLOAD_JSON(payload)


def _store_home(url: str) -> Path:
    """Where the local key and anchors live: $CLAIMFLOW_HOME, else the folder of a SQLite file."""
    if os.environ.get("CLAIMFLOW_HOME"):
        return default_home()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).resolve().parent
    return default_home()


def _store_id(url: str) -> str:
    """One anchor file per database: the URL (a SQLite file by its absolute path), hashed, without credentials."""
    if url.startswith("sqlite:///"):
        url = str(Path(url.removeprefix("sqlite:///")).resolve())
    else:
        url = sa.engine.make_url(url).render_as_string(hide_password=True)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


class AuditLog:
    """The audit log in the system-of-record database (any SQLAlchemy URL).

    `key` defaults to `CLAIMFLOW_AUDIT_KEY` (else a generated local key); `anchor_path` to
    `<home>/audit/anchors-<database id>.jsonl`.
    """

    def __init__(self, url: str, *, key: bytes | None = None, anchor_path: Path | None = None):
        self.url = url
        self.engine = sa.create_engine(url)
        _metadata.create_all(self.engine)
        home = _store_home(url)
        self.key = key or local_secret(KEY_ENV, KEY_FILE, new_hex_key, home=home)
        self.anchor_path = anchor_path or home / ANCHOR_DIR / f"anchors-{_store_id(url)}.jsonl"

    # -------------------------------------------------------------- anchoring

    def head(self) -> dict:
        """The chain's head as anchored: last seq, its MAC, the entry count."""
        with self.engine.connect() as con:
            last = con.execute(
                sa.select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
            ).first()
            count = con.execute(sa.select(sa.func.count()).select_from(audit_table)).scalar_one()
        return {"seq": last.seq if last else 0, "hash": last.hash if last else GENESIS, "count": count}

    def anchor(self) -> dict:
        """Append the current head to the anchor file (append-only, 0600) and return it."""
        head = self.head() | {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        body = json.dumps(head, sort_keys=True)
        line = json.dumps({**head, "mac": hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()},
                          sort_keys=True)
        private_dir(self.anchor_path.parent)
        fd = os.open(self.anchor_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(line + "\n")
        return head

    def anchors(self) -> list[dict]:
        """Every anchored head, oldest first; a line whose MAC does not check is returned with `forged`."""
        if not self.anchor_path.exists():
            return []
        out = []
        for line in self.anchor_path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                mac = row.pop("mac")
            except (ValueError, KeyError, AttributeError):
                out.append({"forged": True, "line": line[:80]})
                continue
            good = hmac.new(self.key, json.dumps(row, sort_keys=True).encode(), hashlib.sha256).hexdigest()
            out.append(row if hmac.compare_digest(mac, good) else {**row, "forged": True})
        return out

    def append(self, *, actor: str, action: str, subject: str, payload: dict[str, Any]) -> AuditEntry:
        """Add one entry at the end of the chain, in its own transaction."""
        body = payload_text(payload)
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.engine.begin() as con:
            last = con.execute(
                sa.select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
            digest = entry_hash(seq, at, actor, action, subject, body, prev, self.key)
            con.execute(
                audit_table.insert().values(
                    seq=seq, at=at, actor=actor, action=action, subject=subject, payload=body, prev_hash=prev, hash=digest
                )
            )
        self.anchor()
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
                body = payload_text(e["payload"])
                at = datetime.now(UTC).isoformat(timespec="microseconds")
                digest = entry_hash(seq, at, e["actor"], e["action"], e["subject"], body, prev, self.key)
                rows.append(dict(seq=seq, at=at, actor=e["actor"], action=e["action"], subject=e["subject"],
                                 payload=body, prev_hash=prev, hash=digest))
                out.append(AuditEntry(seq, at, e["actor"], e["action"], e["subject"], e["payload"], prev, digest))
                prev = digest
            con.execute(audit_table.insert(), rows)
        self.anchor()
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

    def logged_values(self, action: str, field: str) -> set:
        """The values of one payload field over every entry of `action` (what is already logged, e.g. effect keys).

        Read by the database's own JSON functions where it has them (SQLite, Postgres): the whole
        history is scanned, but no payload is parsed in Python.
        """
        col = audit_table.c.payload
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            value = sa.func.json_extract(col, f"$.{field}")
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            value = sa.cast(col, JSONB)[field].astext
        else:
            return {e.payload.get(field) for e in self.entries(action=action)}
        with self.engine.connect() as con:
            return set(con.execute(sa.select(value).where(audit_table.c.action == action)).scalars())

    def entry_fields(self, action: str, field: str) -> list[tuple[int, str, str, Any]]:
        """(seq, subject, at, `payload.get(field)`) of every entry of `action`, in seq order.

        Like `logged_values`, the field is read by the database's JSON functions where it has them;
        the rare entry whose value is not text or null (a number, a list) is parsed in Python, so
        the value is exactly what `entries()` would give.
        """
        t = audit_table.c
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            value = sa.func.json_extract(t.payload, f"$.{field}")
            kind = sa.func.json_type(t.payload, f"$.{field}")
            plain = ("text", "null")
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            value = sa.cast(t.payload, JSONB)[field].astext
            kind = sa.func.jsonb_typeof(sa.cast(t.payload, JSONB)[field])
            plain = ("string", "null")
        else:
            return [(e.seq, e.subject, e.at, e.payload.get(field)) for e in self.entries(action=action)]
        odd = sa.case((sa.or_(kind.is_(None), kind.in_(plain)), sa.null()), else_=t.payload)
        query = sa.select(t.seq, t.subject, t.at, value, odd).where(t.action == action).order_by(t.seq)
        with self.engine.connect() as con:
            rows = con.execute(query).all()
        return [(seq, subject, at, json.loads(payload).get(field) if payload is not None else v)
                for seq, subject, at, v, payload in rows]

    def audited_routes(self) -> dict[str, tuple[str, int]]:
        """claim -> (queue of its last audited state change, that entry's seq): what the claims table must show."""
        out: dict[str, tuple[str, int]] = {}
        for e in self.entries():
            queue = e.payload.get("queue") if e.action == "triage.decision" else (
                e.payload.get("final_queue") if e.action == "review.decide" else None)
            if queue:
                out[e.subject] = (queue, e.seq)
        return out

    def verify_states(self, current: dict[str, str]) -> list[str]:
        """Claims whose queue in the claims table is not the one their last audited state change set."""
        audited = self.audited_routes()
        return [
            f"{claim} is in {queue} but its last audited change (entry {audited[claim][1]}) set {audited[claim][0]}"
            for claim, queue in sorted(current.items())
            if claim in audited and audited[claim][0] != queue
        ]

    def verify(self) -> ChainReport:
        """Walk the chain in storage order, then hold it against every anchored head.

        Names the first entry edited, deleted or moved; a truncated tail (fewer entries than an
        anchor counted, or its head gone) and a chain re-hashed by someone holding the key (an
        anchored MAC that no longer matches) are reported as such.
        """
        t = audit_table.c
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(t.seq, t.at, t.actor, t.action, t.subject, t.payload, t.prev_hash, t.hash).order_by(t.seq)
            ).all()
        prev, expected_seq = GENESIS, 1
        by_seq = {}
        key = self.key
        for seq, at, actor, action, subject, payload, prev_hash, mac in rows:
            if seq != expected_seq:
                return ChainReport(False, len(rows), expected_seq, f"entry {expected_seq} is missing (deleted)")
            if prev_hash != prev:
                return ChainReport(False, len(rows), seq, f"entry {seq} does not follow entry {seq - 1}")
            digest = entry_hash(seq, at, actor, action, subject, payload, prev_hash, key)
            if not hmac.compare_digest(digest, mac):
                return ChainReport(False, len(rows), seq, f"entry {seq} was edited")
            by_seq[seq] = mac
            prev, expected_seq = mac, seq + 1
        anchors = self.anchors()
        if any(a.get("forged") for a in anchors):
            return ChainReport(False, len(rows), None, f"an anchor in {self.anchor_path} was altered")
        if anchors:
            latest = max(anchors, key=lambda a: (int(a["count"]), int(a["seq"])))
            if len(rows) < int(latest["count"]) or int(latest["seq"]) not in by_seq | {0: GENESIS}:
                return ChainReport(False, len(rows), len(rows) + 1,
                                   f"truncated: {latest['count']} entries were anchored at {latest['at']}, "
                                   f"{len(rows)} remain")
        for anchor in anchors:
            seq = int(anchor["seq"])
            if seq and by_seq.get(seq) != anchor["hash"]:
                return ChainReport(False, len(rows), seq,
                                   f"entry {seq} differs from the head anchored at {anchor['at']} "
                                   "(the chain was re-written)")
        return ChainReport(True, len(rows))
