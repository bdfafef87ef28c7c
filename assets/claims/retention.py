"""The retention schedule: every night, claims whose last message is older than the retention period are
erased (`assets.claims.privacy.erase`: mail bodies, attachments, inbox files, outbox text; the claim row is
pseudonymised), each as one audit entry in the name of the schedule, never of a person.

The period is a server-side setting (`CLAIMFLOW_RETENTION_DAYS` of the process that runs the job, ten years
by default), deliberately not run config: whoever may launch a run in the UI must not be able to shorten it.
`claimflow privacy retention --dry-run` shows what the next run would erase.
"""


import os
from datetime import UTC, datetime

import dagster as dg

from assets.claims.privacy import due_for_retention, erase
from connectors.retention import retention_days

RETENTION_ACTOR = "schedule:privacy_retention"


@dg.op(required_resource_keys={"warehouse", "system_of_record", "attachments", "inbox"})
def apply_retention(context: dg.OpExecutionContext) -> dg.Output[int]:
    """Erase every claim past the retention period (one audit entry each); a second run erases nothing."""
    days = retention_days(dict(os.environ))
    r = context.resources
    warehouse = r.warehouse.get()
    due = due_for_retention(warehouse, now=datetime.now(UTC).replace(tzinfo=None), days=days)
    store, audit = r.attachments.get(), r.system_of_record.audit()
    inbox_root = getattr(r.inbox, "root", None)  # a Maildir inbox keeps raw files; IMAP/Graph mail is moved
    mails = attachments = 0
    for claim in due:
        report = erase(warehouse, r.system_of_record.url, store, inbox_root, audit, actor=RETENTION_ACTOR,
                       claim=claim, reason=f"retention: older than {days} days")  # fmt: skip
        mails += report.mails
        attachments += report.attachments_deleted
    context.log.info(f"retention ({days} days): {len(due)} claims erased")
    return dg.Output(len(due), metadata={"retention_days": days, "claims_erased": len(due), "mails": mails,
                                         "attachments_deleted": attachments})  # fmt: skip


@dg.job(description="Erase personal data of claims older than CLAIMFLOW_RETENTION_DAYS (an audit entry each).")
def privacy_retention_job():
    apply_retention()


privacy_retention_schedule = dg.ScheduleDefinition(
    name="privacy_retention_nightly",
    job=privacy_retention_job,
    cron_schedule="30 2 * * *",
    execution_timezone="Europe/Paris",
    description="Applies the retention period every night (a legal duty, so on by default).",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
