"""The insurer's system of record, reached through SQLAlchemy (SQLite file by default, Postgres by URL).

It holds the policy register that intake joins claims against, and the claims system that
triage writes to: claim status, assignments, handler loads, the customer outbox, the
review queue, and the `effects` ledger whose unique key makes every write happen once.
"""

from __future__ import annotations

import json
import statistics
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from connectors.values import present, utc_naive

metadata = sa.MetaData()

policies_table = sa.Table(
    "policies",
    metadata,
    sa.Column("policy_number", sa.String(16), primary_key=True),
    sa.Column("holder_name", sa.String(200), nullable=False),
    sa.Column("holder_email", sa.String(200)),
    sa.Column("holder_phone", sa.String(32)),
    sa.Column("holder_address", sa.String(300)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("lapsed_on", sa.Date),
    sa.Column("covered_loss_types", sa.String(300), nullable=False),
    sa.Column("area", sa.String(4)),
    sa.Column("bonus_malus", sa.Integer),
    sa.Column("driver_age", sa.Integer),
    sa.Column("vehicle_age", sa.Integer),
    sa.Column("vehicle_brand", sa.String(16)),
    sa.Column("vehicle_power", sa.Integer),
    sa.Column("past_claims", sa.Integer),
    sa.Column("exposure", sa.Float),
)
POLICY_COLUMNS = [c.name for c in policies_table.columns]


class PolicySystem(ABC):
    """Where policies are looked up."""

    @abstractmethod
    def fetch_policies(self) -> pd.DataFrame:
        """Every policy, one row each, columns as `POLICY_COLUMNS`."""


class SqlPolicySystem(PolicySystem):
    """The policy register in a relational database."""

    def __init__(self, url: str):
        self.url = url
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url)
        return self._engine

    def ensure_schema(self) -> None:
        metadata.create_all(self.engine, tables=[policies_table])

    def policy_count(self) -> int:
        self.ensure_schema()
        with self.engine.connect() as con:
            return con.execute(sa.select(sa.func.count()).select_from(policies_table)).scalar_one()

    def load_policies(self, frame: pd.DataFrame) -> int:
        """Replace the register with `frame` in one transaction (used to seed the embedded default)."""
        self.ensure_schema()
        rows = frame[POLICY_COLUMNS].astype(object).where(frame[POLICY_COLUMNS].notna(), None)
        records = rows.to_dict("records")
        with self.engine.begin() as con:
            con.execute(policies_table.delete())
            con.execute(policies_table.insert(), records)
        return len(records)

    def fetch_policies(self) -> pd.DataFrame:
        self.ensure_schema()
        with self.engine.connect() as con:
            frame = pd.read_sql(sa.select(policies_table), con)
        for col in ("start_date", "end_date", "lapsed_on"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
        return frame


class InMemoryPolicySystem(PolicySystem):
    """A fixed frame of policies: for tests."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def fetch_policies(self) -> pd.DataFrame:
        return self.frame[POLICY_COLUMNS].copy()


# ------------------------------------------------------------------ claims system

# The claims system's queues, named once here (the system stores them); the triage rules
# (assets/claims/routing.py) route to these names.
FAST_TRACK = "fast_track"
STANDARD = "standard"
SPECIALIST = "specialist"
FRAUD_REVIEW = "fraud_review"
HUMAN_REVIEW = "human_review"
SOR_QUEUES: tuple[str, ...] = (FAST_TRACK, STANDARD, SPECIALIST, FRAUD_REVIEW, HUMAN_REVIEW)
REVIEW_QUEUES: tuple[str, ...] = (HUMAN_REVIEW, FRAUD_REVIEW)
CLAIM_STATUSES: tuple[str, ...] = ("queued", "assigned", "awaiting_review", "reviewed")
REVIEW_STATUSES: tuple[str, ...] = ("waiting", "claimed", "decided", "superseded")
OPEN_REVIEW_STATUSES: tuple[str, ...] = ("waiting", "claimed")
# A claim with an item in one of these has been touched by a person: the machine no longer re-routes it.
TOUCHED_REVIEW_STATUSES: tuple[str, ...] = ("claimed", "decided")

claims_table = sa.Table(
    "claims",
    metadata,
    sa.Column("claim_number", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("queue", sa.String(24), nullable=False),
    sa.Column("assigned_to", sa.String(32)),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("risk_score", sa.Float),
    sa.Column("model_version", sa.String(64)),
    sa.Column("policy_verdict", sa.String(32)),
    sa.Column("reviewed_by", sa.String(200)),
    sa.Column("last_effect", sa.String(300)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

specialists_table = sa.Table(
    "specialists",
    metadata,
    sa.Column("specialist_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("skills", sa.String(300), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("current_load", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

assignments_table = sa.Table(
    "assignments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("claim_number", sa.String(32), nullable=False, index=True),
    sa.Column("specialist_id", sa.String(32), nullable=False, index=True),
    sa.Column("queue", sa.String(24), nullable=False),
    sa.Column("skill", sa.String(32)),
    sa.Column("effect_key", sa.String(300)),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
)

outbox_table = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("claim_number", sa.String(32), nullable=False, index=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("effect_key", sa.String(300)),
)

review_items_table = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("claim_number", sa.String(32), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("suggested_queue", sa.String(24), nullable=False),
    sa.Column("suggested_rule", sa.String(64), nullable=False),
    sa.Column("suggested_reason", sa.Text),
    sa.Column("proposed_queue", sa.String(24)),
    sa.Column("evidence_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("decision", sa.String(16)),
    sa.Column("final_queue", sa.String(24)),
    sa.Column("decision_reason", sa.Text),
    sa.Column("effect_key", sa.String(300)),
)

effects_table = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(300), nullable=False, unique=True),
    sa.Column("claim_number", sa.String(32), nullable=False, index=True),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

CLAIMS_TABLES = [claims_table, specialists_table, assignments_table, outbox_table, review_items_table, effects_table]


def effect_key(claim_number: str, step: str, change: int, queue: str) -> str:
    """The idempotency key of a claim's `change`-th state change (to `queue`), whichever model version decided it.

    Keyed by business meaning: a new champion that reaches the same decision finds the state
    it would write already standing and writes nothing; a retried or concurrent writer of the
    same change collides on this key.
    """
    return f"{claim_number}:{step}:{change}:{queue}"


@dataclass(frozen=True)
class WriteReport:
    """What one `record_decisions` call committed.

    `skipped_duplicates` counts decisions whose route already stands (a re-run, a retry, or a new
    model version deciding the same); `kept_reviewer_decision` counts claims a person has claimed
    or decided: the machine does not overwrite a person's work.
    """

    written: int = 0
    skipped_duplicates: int = 0
    kept_reviewer_decision: int = 0


class SimulatedFailure(RuntimeError):
    """Raised by a `ClaimsSystem` with `crash_after` set: a crash in the middle of a batch, for fault tests."""

    def __init__(self, message: str, report: WriteReport):
        super().__init__(message)
        self.report = report


class _Position:
    """Claims reached so far in one call, and the claim at which the simulated crash happens."""

    def __init__(self, fail_after: int | None):
        self.reached = 0
        self.fail_after = fail_after

    def next_is_due(self) -> bool:
        due = self.fail_after is not None and self.reached >= self.fail_after
        self.reached += 1
        return due


class ClaimsSystem:
    """The claims system of record in a relational database (any SQLAlchemy URL).

    A decision is an effect only when it changes the claim's state: the route differs from the
    one standing, and the claim is open and untouched by a person (no reviewer has claimed or
    decided it). Each change is keyed `claim:step:n:queue` in `effects` (unique), inserted in the
    same transaction as the write itself: a retried, re-executed or concurrent batch applies
    each change exactly once, and a new model version that decides the same writes nothing.
    A customer message is queued only when what the customer is told (the payload) changes.
    """

    # Seams for fault tests, never set in production: tests/fakes/system_of_record.py subclasses
    # them to crash after n claims (re-execution rehearsal) or to write without keys (the proof
    # that the keys are what prevents duplicates).
    crash_after: int | None = None
    keyed: bool = True

    def __init__(self, url: str):
        self.url = url
        self._engine: sa.Engine | None = None
        self._schema_ready = False

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            # Writers from several processes queue for SQLite's lock rather than fail at once.
            kwargs = {"connect_args": {"timeout": 60}} if self.url.startswith("sqlite") else {}
            self._engine = sa.create_engine(self.url, **kwargs)
            if self.url.startswith("sqlite") and ":memory:" not in self.url and self.url != "sqlite://":
                sa.event.listen(self._engine, "connect", _sqlite_wal)
        return self._engine

    def ensure_schema(self) -> None:
        """Create the claims system's tables if they are missing (the policy register has its own)."""
        metadata.create_all(self.engine, tables=CLAIMS_TABLES)
        self._schema_ready = True

    def _ready(self) -> sa.Engine:
        if not self._schema_ready:
            self.ensure_schema()
        return self.engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    # -------------------------------------------------------------- roster

    def seed_roster(self, roster: Iterable[Any]) -> int:
        """Add missing handlers and refresh names, skills and capacity of known ones; loads are kept.

        Entries are mappings or objects with `id` (or `specialist_id`), `name`, `skills`, `capacity`
        and optionally `current_load` (used only for new handlers). Returns how many were added.
        """
        engine = self._ready()
        now = utc_naive()
        added = 0
        with engine.begin() as con:
            known = set(con.execute(sa.select(specialists_table.c.specialist_id)).scalars())
            for item in roster:
                row = _as_mapping(item)
                sid = str(row.get("id") or row.get("specialist_id") or "").strip()
                if not sid:
                    raise ValueError("a roster entry has no id")
                skills = row.get("skills") or ()
                skills = ",".join(s.strip() for s in (skills.split(",") if isinstance(skills, str) else skills))
                values = {"name": str(row.get("name") or sid), "skills": skills,
                          "capacity": int(row.get("capacity") or 0), "updated_at": now}
                if sid in known:
                    con.execute(
                        specialists_table.update().where(specialists_table.c.specialist_id == sid).values(**values)
                    )
                else:
                    con.execute(specialists_table.insert().values(
                        specialist_id=sid, current_load=int(row.get("current_load") or 0), **values
                    ))
                    known.add(sid)
                    added += 1
        return added

    def roster(self) -> list[dict]:
        """Every handler with skills (list), capacity and current load, by id."""
        with self._ready().connect() as con:
            rows = con.execute(sa.select(specialists_table).order_by(specialists_table.c.specialist_id)).all()
        return [
            {"id": r.specialist_id, "name": r.name, "skills": [s for s in r.skills.split(",") if s],
             "capacity": r.capacity, "current_load": r.current_load}
            for r in rows
        ]

    # -------------------------------------------------------------- decisions

    def record_decisions(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        step: str,
        model_version: str,
        chunk_size: int = 100,
    ) -> WriteReport:
        """Write triage decisions: claim status, assignment and handler load, outbox message, review item.

        Each row: `claim_number`, `queue`, `rule`, `reason`, `inputs` (dict), and optionally
        `risk_score`, `policy_verdict`, `assigned_to`, `skill`, `proposed_queue` and `outbox`
        (`subject`, `body`, `payload`; the message is stored as pending, never sent here).
        Claims are written in transactions of `chunk_size`. A row whose route already stands
        (same queue: a re-run, or a new model version deciding the same) counts as a skipped
        duplicate; a claim a person has touched is held; otherwise the change's effect key goes
        in first, so a key already present (a retry, a concurrent run) skips that claim. With
        `crash_after=n` (fault tests) `SimulatedFailure` is raised on claim n+1, after its key is
        inserted and before its writes: the open transaction rolls back whole.
        """
        use_idempotency, fail_after = self.keyed, self.crash_after
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        batch = [_decision_row(r) for r in rows]
        engine = self._ready()
        position = _Position(fail_after)
        written = skipped = held = 0
        for start in range(0, len(batch), chunk_size):
            chunk = batch[start : start + chunk_size]
            reached = position.reached
            try:
                with engine.begin() as con:
                    w, s, h = self._write_chunk(con, chunk, step, model_version, use_idempotency, position)
            except SimulatedFailure:
                raise SimulatedFailure(
                    f"simulated failure after {fail_after} claims", WriteReport(written, skipped, held)
                ) from None
            except sa.exc.IntegrityError:
                if not use_idempotency:
                    raise
                # Another writer committed some of these keys since we looked: settle claim by claim.
                position.reached = reached
                w = s = h = 0
                for row in chunk:
                    try:
                        with engine.begin() as con:
                            dw, ds, dh = self._write_chunk(con, [row], step, model_version, True, position)
                    except SimulatedFailure:
                        raise SimulatedFailure(
                            f"simulated failure after {fail_after} claims",
                            WriteReport(written + w, skipped + s, held + h),
                        ) from None
                    except sa.exc.IntegrityError:
                        if not self._decision_stands(row["claim_number"], row["queue"]):
                            raise
                        dw, ds, dh = 0, 1, 0
                    w, s, h = w + dw, s + ds, h + dh
            written, skipped, held = written + w, skipped + s, held + h
        return WriteReport(written, skipped, held)

    def applied_keys(self, step: str) -> set[str]:
        """Idempotency keys already applied for `step`: what a re-run must not write again."""
        with self._ready().connect() as con:
            rows = con.execute(sa.select(effects_table.c.idempotency_key).where(effects_table.c.step == step))
            return {r[0] for r in rows}

    def _decision_stands(self, claim_number: str, queue: str) -> bool:
        """Another writer committed this claim's change to `queue` (the unique key is what collided)."""
        with self.engine.connect() as con:
            return con.execute(
                sa.select(claims_table.c.queue).where(claims_table.c.claim_number == claim_number)
            ).scalar() == queue

    def effects(self, step: str | None = None) -> list[dict]:
        """Applied state changes in order: key, claim, step, the model version that decided, when."""
        query = sa.select(effects_table).order_by(effects_table.c.id)
        if step:
            query = query.where(effects_table.c.step == step)
        with self._ready().connect() as con:
            return [dict(r._mapping) for r in con.execute(query)]

    def effects_frame(self, step: str) -> pd.DataFrame:
        """`effects(step)` as a frame of what readers use (claim, key, model version, time), in order.

        For readers of the whole history (the audit step, the claim traces): a dict per effect cost
        seconds at 100k claims.
        """
        e = effects_table.c
        columns = [e.claim_number, e.idempotency_key, e.model_version, e.applied_at]
        with self._ready().connect() as con:
            rows = con.execute(sa.select(*columns).where(e.step == step).order_by(e.id)).all()
        return pd.DataFrame(rows, columns=[c.name for c in columns])

    def current_routes(self) -> dict[str, tuple[str, bool]]:
        """claim -> (queue standing, touched by a person): what a new decision is compared with."""
        c, r = claims_table.c, review_items_table.c
        with self._ready().connect() as con:
            touched = set(con.execute(
                sa.select(r.claim_number).where(r.status.in_(TOUCHED_REVIEW_STATUSES))
            ).scalars())
            rows = con.execute(sa.select(c.claim_number, c.queue, c.status, c.reviewed_by)).all()
        return {
            x.claim_number: (x.queue, x.status == "reviewed" or bool(x.reviewed_by) or x.claim_number in touched)
            for x in rows
        }

    def _present_keys(self, con, keys: list[str]) -> set[str]:
        """Keys already applied: a fast path only; the unique constraint is what decides."""
        column = effects_table.c.idempotency_key
        return set(con.execute(sa.select(column).where(column.in_(keys))).scalars())

    def _write_chunk(self, con, chunk, step, model_version, use_idempotency, position) -> tuple[int, int, int]:
        """Plan the chunk's writes claim by claim (in memory, in order), then apply them as a few statements."""
        now = utc_naive()
        plan = _ChunkPlan.load(con, [r["claim_number"] for r in chunk], now)
        expected = [effect_key(r["claim_number"], step, plan.changes.get(r["claim_number"], 0) + 1, r["queue"])
                    for r in chunk]
        present = self._present_keys(con, expected) if use_idempotency else set()
        written = skipped = held = 0
        for row in chunk:
            due = position.next_is_due()
            number = row["claim_number"]
            verdict = plan.classify(row) if use_idempotency else "change"
            key = effect_key(number, step, plan.changes.get(number, 0) + 1, row["queue"])
            if verdict == "change" and use_idempotency and key in present:
                verdict = "same"
            if verdict != "change":
                if due:
                    raise SimulatedFailure("simulated failure", WriteReport())
                if verdict == "same":
                    skipped += 1
                else:
                    held += 1
                continue
            if use_idempotency:
                present.add(key)
                plan.changes[number] = plan.changes.get(number, 0) + 1
                plan.effects.append({"idempotency_key": key, "claim_number": number, "step": step,
                                     "model_version": model_version, "applied_at": now})
            if due:
                # Crash with this claim's key and the chunk's earlier writes in the open transaction.
                plan.flush(con)
                raise SimulatedFailure("simulated failure", WriteReport())
            if not use_idempotency:
                plan.told.pop(number, None)  # blind: nothing is compared, the message goes again
            plan.add(row, key, model_version)
            written += 1
        plan.flush(con)
        return written, skipped, held

    # -------------------------------------------------------------- queries

    def claim(self, claim_number: str) -> dict | None:
        """The claim's row in the claims system, or None."""
        with self._ready().connect() as con:
            row = con.execute(sa.select(claims_table).where(claims_table.c.claim_number == claim_number)).first()
        return dict(row._mapping) if row else None

    def assignments(self, claim_number: str | None = None) -> list[dict]:
        query = sa.select(assignments_table).order_by(assignments_table.c.id)
        if claim_number:
            query = query.where(assignments_table.c.claim_number == claim_number)
        with self._ready().connect() as con:
            return [dict(r._mapping) for r in con.execute(query)]

    def message_count(self) -> int:
        """Messages ever queued for customers (pending or sent)."""
        with self._ready().connect() as con:
            return con.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar_one()

    def outbox(self, claim_number: str | None = None, status: str | None = None) -> list[dict]:
        query = sa.select(outbox_table).order_by(outbox_table.c.id)
        if claim_number:
            query = query.where(outbox_table.c.claim_number == claim_number)
        if status:
            query = query.where(outbox_table.c.status == status)
        with self._ready().connect() as con:
            return [dict(r._mapping) for r in con.execute(query)]

    def review_waiting(self, now: datetime | None = None) -> list[dict]:
        """Review items waiting for a reviewer, oldest first, with their age in minutes."""
        now = utc_naive(now)
        r = review_items_table.c
        with self._ready().connect() as con:
            rows = con.execute(
                sa.select(r.claim_number, r.suggested_queue, r.suggested_rule, r.created_at)
                .where(r.status == "waiting").order_by(r.created_at, r.id)
            ).all()
        return [
            {"claim_number": x.claim_number, "suggested_queue": x.suggested_queue, "rule": x.suggested_rule,
             "age_minutes": round((now - x.created_at).total_seconds() / 60, 1)}
            for x in rows
        ]

    def counts(self, now: datetime | None = None) -> dict:
        """KPIs: claims by queue and status, handler loads, review items by status and waiting ages, outbox."""
        c, r = claims_table.c, review_items_table.c
        with self._ready().connect() as con:
            by_queue = dict(con.execute(sa.select(c.queue, sa.func.count()).group_by(c.queue)).all())
            by_status = dict(con.execute(sa.select(c.status, sa.func.count()).group_by(c.status)).all())
            review = dict(con.execute(sa.select(r.status, sa.func.count()).group_by(r.status)).all())
            outbox = dict(con.execute(
                sa.select(outbox_table.c.status, sa.func.count()).group_by(outbox_table.c.status)
            ).all())
            effects = con.execute(sa.select(sa.func.count()).select_from(effects_table)).scalar_one()
        ages = [w["age_minutes"] for w in self.review_waiting(now)]
        return {
            "claims": sum(by_queue.values()),
            "by_queue": {q: by_queue.get(q, 0) for q in SOR_QUEUES},
            "by_status": {s: by_status.get(s, 0) for s in CLAIM_STATUSES},
            "specialists": [
                {**h, "utilisation": round(h["current_load"] / h["capacity"], 3) if h["capacity"] else None}
                for h in self.roster()
            ],
            "review": {s: review.get(s, 0) for s in REVIEW_STATUSES},
            "review_waiting_age_minutes": {
                "oldest": max(ages) if ages else None,
                "median": statistics.median(ages) if ages else None,
            },
            "outbox": {"pending": outbox.get("pending", 0), **outbox},
            "effects": effects,
        }


_ITEM_STATUSES_READ = tuple(dict.fromkeys(OPEN_REVIEW_STATUSES + TOUCHED_REVIEW_STATUSES))


class _ChunkPlan:
    """One chunk's writes, decided claim by claim against the rows as the chunk found them.

    The claims and open review items of the chunk are read once; each claim's decision then
    updates this in-memory picture, so two decisions for one claim in a chunk behave as if
    written one after the other. `flush` applies everything with a handful of statements.
    """

    def __init__(self, claims: dict, open_items: dict, handlers: set, now: datetime, *,
                 touched: set | None = None, changes: dict | None = None, told: dict | None = None):
        self.claims = claims  # claim_number -> current values (None fields when new)
        self.in_db = set(claims)
        self.open_items = open_items  # claim_number -> ids of waiting/claimed review items
        self.handlers = handlers
        self.now = now
        self.touched = touched or set()  # claims a reviewer has claimed or decided
        self.changes = changes or {}  # claim_number -> state changes applied so far
        self.told = told or {}  # claim_number -> payload of the last message queued for the customer
        self.effects: list[dict] = []
        self.claim_writes: dict[str, dict] = {}
        self.load_delta: dict[str, int] = {}
        self.assignments: list[dict] = []
        self.outbox: list[dict] = []
        self.new_items: dict[str, dict] = {}
        self.item_updates: dict[int, dict] = {}

    @classmethod
    def load(cls, con, numbers: list[str], now: datetime) -> _ChunkPlan:
        c, r = claims_table.c, review_items_table.c
        claims = {
            row.claim_number: dict(row._mapping)
            for row in con.execute(sa.select(claims_table).where(c.claim_number.in_(numbers)))
        }
        # Open and touched review items in one read (each status is one or both).
        open_items: dict[str, list[int]] = {}
        touched: set[str] = set()
        for row in con.execute(
            sa.select(r.id, r.claim_number, r.status)
            .where(r.claim_number.in_(numbers), r.status.in_(_ITEM_STATUSES_READ)).order_by(r.id)
        ):
            if row.status in OPEN_REVIEW_STATUSES:
                open_items.setdefault(row.claim_number, []).append(row.id)
            if row.status in TOUCHED_REVIEW_STATUSES:
                touched.add(row.claim_number)
        handlers = set(con.execute(sa.select(specialists_table.c.specialist_id)).scalars())
        e = effects_table.c
        changes = dict(con.execute(
            sa.select(e.claim_number, sa.func.count()).where(e.claim_number.in_(numbers)).group_by(e.claim_number)
        ).all())
        o = outbox_table.c
        told: dict[str, str] = {}
        for row in con.execute(sa.select(o.claim_number, o.payload_json).where(o.claim_number.in_(numbers))
                               .order_by(o.id)):
            told[row.claim_number] = row.payload_json
        return cls(claims, open_items, handlers, now, touched=touched, changes=changes, told=told)

    def classify(self, row: dict) -> str:
        """'same' when the route already stands, 'held' when a person touched the claim, else 'change'."""
        number = row["claim_number"]
        current = self.claims.get(number)
        if current is None:
            return "change"
        if current["status"] == "reviewed" or current.get("reviewed_by") or number in self.touched:
            return "held"
        return "same" if current["queue"] == row["queue"] else "change"

    def add(self, row: dict, key: str, model_version: str) -> None:
        """Plan one claim's state change: claim row, handler loads, assignment, message, review item."""
        number, queue, now = row["claim_number"], row["queue"], self.now
        current = self.claims.get(number)
        if current is not None and current["assigned_to"] and current["last_effect"] != key:
            # A new decision on an assigned claim frees the slot the previous decision took.
            self.load_delta[current["assigned_to"]] = self.load_delta.get(current["assigned_to"], 0) - 1
        assigned = row["assigned_to"]
        if assigned:
            status = "assigned"
        else:
            status = "awaiting_review" if queue in REVIEW_QUEUES else "queued"
        values = {
            "claim_number": number, "status": status, "queue": queue, "assigned_to": assigned, "rule": row["rule"],
            "reason": row["reason"], "risk_score": row["risk_score"], "model_version": model_version,
            "policy_verdict": row["policy_verdict"], "reviewed_by": None, "last_effect": key, "updated_at": now,
        }
        self.claims[number] = values
        self.claim_writes[number] = values

        if assigned:
            if assigned not in self.handlers:
                raise ValueError(f"claim {number} is assigned to {assigned}, who is not on the roster")
            self.load_delta[assigned] = self.load_delta.get(assigned, 0) + 1
            self.assignments.append({"claim_number": number, "specialist_id": assigned, "queue": queue,
                                     "skill": row["skill"], "effect_key": key, "assigned_at": now})
        message = row["outbox"]
        payload = _json(message.get("payload") or {}) if message else None
        # The customer hears from us only when what they are told changes (standard -> specialist
        # may change it, human_review -> fraud_review never does: both read "under review").
        if message and payload != self.told.get(number):
            self.told[number] = payload
            self.outbox.append({
                "claim_number": number, "subject": str(message.get("subject") or ""),
                "body": str(message.get("body") or ""), "payload_json": payload,
                "created_at": now, "status": "pending", "effect_key": key,
            })

        open_ids = self.open_items.get(number, [])
        if queue in REVIEW_QUEUES:
            suggestion = {
                "suggested_queue": queue, "suggested_rule": row["rule"], "suggested_reason": row["reason"],
                "proposed_queue": row["proposed_queue"], "evidence_json": _json(row["inputs"]),
                "effect_key": key, "updated_at": now,
            }
            if open_ids:  # the item a reviewer may be looking at gets the newer suggestion
                for item_id in open_ids:
                    self.item_updates[item_id] = suggestion
            else:
                self.new_items[number] = {"claim_number": number, "status": "waiting", "created_at": now, **suggestion}
        else:
            for item_id in open_ids:
                self.item_updates[item_id] = {"status": "superseded", "updated_at": now}
            self.open_items.pop(number, None)
            if number in self.new_items:
                self.new_items[number]["status"] = "superseded"

    def flush(self, con) -> None:
        """Apply the planned writes in the open transaction (once, at the end of the chunk or at a crash)."""
        c, s, r = claims_table.c, specialists_table.c, review_items_table.c
        if self.effects:
            _insert_many(con, effects_table, self.effects)
        inserts = [v for n, v in self.claim_writes.items() if n not in self.in_db]
        updates = [
            {**{k: x for k, x in v.items() if k != "claim_number"}, "b_number": n}
            for n, v in self.claim_writes.items() if n in self.in_db
        ]
        if inserts:
            _insert_many(con, claims_table, inserts)
        if updates:  # executemany: the SET columns are the parameters' keys
            con.execute(claims_table.update().where(c.claim_number == sa.bindparam("b_number")), updates)
        for handler, delta in sorted(self.load_delta.items()):
            if delta:
                load = s.current_load + delta
                con.execute(
                    specialists_table.update().where(s.specialist_id == handler)
                    .values(current_load=sa.case((load < 0, 0), else_=load), updated_at=self.now)
                )
        if self.assignments:
            _insert_many(con, assignments_table, self.assignments)
        if self.outbox:
            _insert_many(con, outbox_table, self.outbox)
        if self.new_items:
            _insert_many(con, review_items_table, list(self.new_items.values()))
        for item_id, values in self.item_updates.items():
            con.execute(review_items_table.update().where(r.id == item_id).values(**values))


def _insert_many(con, table: sa.Table, rows: list[dict]) -> None:
    """Insert `rows` (mappings with the same keys) in the open transaction.

    On SQLite the rows go to the driver's executemany as plain tuples through one statement,
    each value bound by its column type's own bind processor (what SQLAlchemy would bind):
    SQLAlchemy's per-row parameter handling was about 45% of a chunk's write. Elsewhere (Postgres,
    where SQLAlchemy batches rows into multi-row VALUES) and for rows it would complete with
    column defaults, SQLAlchemy's own executemany.
    """
    columns = list(rows[0])
    names = set(columns)
    missing_defaults = any(c.default is not None and c.name not in names for c in table.columns)
    if con.dialect.name != "sqlite" or con.dialect.paramstyle != "qmark" or missing_defaults or any(
        r.keys() != names for r in rows
    ):
        con.execute(table.insert(), rows)
        return
    processors = [table.c[name].type.bind_processor(con.dialect) for name in columns]
    quote = con.dialect.identifier_preparer
    sql = (f"INSERT INTO {quote.format_table(table)} ({', '.join(quote.quote(n) for n in columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")  # fmt: skip
    con.exec_driver_sql(sql, [
        tuple(v if p is None else p(v) for v, p in zip([r[n] for n in columns], processors)) for r in rows
    ])  # fmt: skip


def _sqlite_wal(dbapi_connection, _record) -> None:
    # Write-ahead log: a commit appends to one file (one fsync) instead of rewriting the rollback
    # journal and the database (several), and readers (the review queue, KPIs) no longer block
    # the triage writer. Durability is unchanged (synchronous stays FULL). The mode is stored in
    # the database file, so every other connection to it (the audit log's) writes through it too.
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma journal_mode=wal")
    cursor.close()


def _decision_row(row: Any) -> dict:
    """A decision row checked before anything is written: bad rows fail the batch up front."""
    row = _as_mapping(row)
    number = str(row.get("claim_number") or "").strip()
    if not number:
        raise ValueError("a decision row has no claim_number")
    queue = row.get("queue")
    if queue not in SOR_QUEUES:
        raise ValueError(f"claim {number}: unknown queue {queue!r} (expected one of {', '.join(SOR_QUEUES)})")
    if not row.get("rule"):
        raise ValueError(f"claim {number}: the decision names no rule")
    risk = row.get("risk_score")
    try:
        risk = None if _text(risk) is None else float(risk)
    except (TypeError, ValueError):
        risk = None
    message = row.get("outbox")
    if message is not None and not isinstance(message, Mapping):
        message = _as_mapping(message)
    return {
        "claim_number": number,
        "queue": queue,
        "rule": str(row["rule"]),
        "reason": str(row.get("reason") or ""),
        "inputs": dict(row.get("inputs") or {}),
        "risk_score": risk,
        "policy_verdict": _text(row.get("policy_verdict")),
        "assigned_to": _text(row.get("assigned_to")),
        "skill": _text(row.get("skill")),
        "proposed_queue": _text(row.get("proposed_queue")),
        "outbox": message or None,
    }


def _text(value: Any) -> str | None:
    """A present, non-blank value as text; None, NaN and pd.NA as None."""
    value = present(value)
    return None if value is None else str(value).strip()


def _as_mapping(item: Any) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    if hasattr(item, "to_dict"):  # a pandas row
        return item.to_dict()
    raise TypeError(f"expected a mapping or a dataclass, got {type(item).__name__}")


# Built once (`json.dumps` with options builds an encoder per call, twice per claim here); same text.
_json = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


# ------------------------------------------------------------------ first notices of loss: claim numbers

# A first notice (a policy and a loss, no claim number yet) gets its number here. The content
# hash of the mail is the key: the same mail read again, by a re-executed run or the CLI, gets
# the same number, and two mails never share one.
first_notices_table = sa.Table(
    "first_notices",
    metadata,
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("claim_number", sa.String(32), nullable=False, unique=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("serial", sa.Integer, nullable=False),
    sa.Column("policy_number", sa.String(16)),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
)
MAX_CLAIM_SERIAL = 999_999


def assign_claim_numbers(
    url: str, requests: Iterable[tuple[str, str | None, int]], *, floor: Mapping[int, int] | None = None
) -> dict[str, str]:
    """`CLM-YYYY-NNNNNN` for each (content hash, policy number, year): the next serial of that year.

    Idempotent on the content hash. `floor` is the highest serial already in use per year
    elsewhere (claims known to intake), so a new number never collides with an existing claim.
    One transaction per call; SQLite serialises concurrent writers, a unique number is the guard.
    """
    requests = list(dict((h, (h, p, y)) for h, p, y in requests).values())
    if not requests:
        return {}
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    engine = sa.create_engine(url, **kwargs)
    try:
        metadata.create_all(engine, tables=[first_notices_table])
        t = first_notices_table
        with engine.begin() as con:
            hashes = [h for h, _, _ in requests]
            known = dict(con.execute(sa.select(t.c.content_hash, t.c.claim_number)
                                     .where(t.c.content_hash.in_(hashes))).all())
            top: dict[int, int] = {}
            for h, policy, year in requests:
                if h in known:
                    continue
                if year not in top:
                    used = con.execute(sa.select(sa.func.max(t.c.serial)).where(t.c.year == year)).scalar() or 0
                    top[year] = max(used, int((floor or {}).get(year, 0)))
                top[year] += 1
                if top[year] > MAX_CLAIM_SERIAL:
                    raise ValueError(f"claim serials for {year} are exhausted")
                number = f"CLM-{year}-{top[year]:06d}"
                con.execute(t.insert().values(content_hash=h, claim_number=number, year=year, serial=top[year],
                                              policy_number=policy, assigned_at=utc_naive()))
                known[h] = number
        return {h: known[h] for h, _, _ in requests}
    finally:
        engine.dispose()
