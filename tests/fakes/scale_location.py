"""A lean Dagster code location for the scale tests and bench/scale.py.

It runs the product's own `claims_inbox_sensor` (its cursor and micro-batching, `plan_batches`) and
the product's Maildir inbox and MIME parser, but its job is one op, `claim_emails`, that lands a
receipt per mail in a PostgreSQL table instead of the DuckDB warehouse: DuckDB takes one writer at a
time, and what these tests measure is the orchestration (sensor, daemon, run queue, instance
storage) with several runs in flight. Every attempt is logged, so a mail processed twice shows.

Settings: `CLAIMFLOW_INBOX_DIR` (Maildir root), `CLAIMFLOW_SCALE_SINK_URL` (Postgres URL).
"""


import hashlib
import time

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from assets.resources import InboxResource
from connectors.mail import MailParseError, parse_message
from orchestration.automation import claims_inbox_sensor

metadata = sa.MetaData()
receipts = sa.Table(
    "scale_receipts",
    metadata,
    sa.Column("inbox_key", sa.String(300), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
)
attempts = sa.Table(
    "scale_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("inbox_key", sa.String(300), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("compute_seconds", sa.Float, nullable=False),
)


class ReceiptSink(dg.ConfigurableResource):
    """Where receipts land: a PostgreSQL database."""

    url: str = Field(description="SQLAlchemy URL")

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.pool.NullPool)


class ClaimEmailsConfig(dg.Config):
    inbox_keys: list[str] = Field(default_factory=list, description="Inbox keys of this micro-batch.")


@dg.op(name="claim_emails")
def claim_emails(context: dg.OpExecutionContext, config: ClaimEmailsConfig, inbox: InboxResource, sink: ReceiptSink):
    """Parse each mail of the batch, commit its receipt, then mark it processed (the intake's order)."""
    started = time.perf_counter()
    mailbox = inbox.get()
    wanted = set(config.inbox_keys)
    items = [i for i in mailbox.list_new() if i.key in wanted]
    rows = []
    for item in items:
        raw = mailbox.read(item)
        try:
            parse_message(raw)
        except MailParseError:
            pass  # quarantined in the product; still one receipt
        rows.append({"inbox_key": item.key, "content_hash": hashlib.sha256(raw).hexdigest(), "run_id": context.run_id})
    engine = sink.engine()
    elapsed = time.perf_counter() - started
    with engine.begin() as con:
        if rows:
            stmt = sa.dialects.postgresql.insert(receipts).on_conflict_do_nothing(index_elements=["inbox_key"])
            con.execute(stmt, rows)
            con.execute(attempts.insert(), [
                {"inbox_key": r["inbox_key"], "run_id": context.run_id, "compute_seconds": elapsed / len(rows)}
                for r in rows
            ])  # fmt: skip
    engine.dispose()
    for item in items:
        mailbox.mark_processed(item)
    context.log.info(f"{len(rows)} receipts of {len(wanted)} requested")
    return len(rows)


@dg.job(name="claims_flow", tags={"claimflow/flow": "claims"})
def mail_batch_job():
    """One inbox micro-batch."""
    claim_emails()


defs = dg.Definitions(
    jobs=[mail_batch_job],
    sensors=[claims_inbox_sensor.with_updated_job(mail_batch_job)],
    resources={
        "inbox": InboxResource(root=dg.EnvVar("CLAIMFLOW_INBOX_DIR")),
        "sink": ReceiptSink(url=dg.EnvVar("CLAIMFLOW_SCALE_SINK_URL")),
    },
)


def create_sink(url: str) -> None:
    metadata.create_all(sa.create_engine(url, poolclass=sa.pool.NullPool))


def sink_counts(url: str) -> dict[str, int]:
    """Receipts, attempts, and mails attempted more than once."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as con:
        n = con.execute(sa.select(sa.func.count()).select_from(receipts)).scalar_one()
        tried = con.execute(sa.select(sa.func.count()).select_from(attempts)).scalar_one()
        twice = con.execute(sa.text(
            "select count(*) from (select inbox_key from scale_attempts group by inbox_key having count(*) > 1) d"
        )).scalar_one()  # fmt: skip
        compute = con.execute(sa.select(sa.func.coalesce(sa.func.sum(attempts.c.compute_seconds), 0.0))).scalar_one()
    engine.dispose()
    return {"receipts": n, "attempts": tried, "doubled": twice, "compute_seconds": float(compute)}
