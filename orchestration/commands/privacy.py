"""`claimflow privacy`: erase a person's or a claim's data everywhere, apply the retention schedule.

Only an administrator (their personal API token in `CLAIMFLOW_API_TOKEN`) erases; the erasure
is an audit entry that names the administrator and the claim numbers, never the person.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from connectors import retention
from connectors.retention import DEFAULT_RETENTION_DAYS, RETENTION_ENV
from orchestration.commands import CliError, Parser
from orchestration.commands.review import sor_url


def retention_days() -> int:
    try:
        return retention.retention_days(dict(os.environ))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _parts():
    from assets.project import attachments_dir, inbox_dir, warehouse_path
    from connectors.attachments import AttachmentStore
    from connectors.audit import AuditLog
    from connectors.warehouse import Warehouse

    wh = Warehouse(warehouse_path())
    wh.ensure_schema()
    return wh, AttachmentStore(attachments_dir()), inbox_dir(), AuditLog(sor_url())


def _erase(actor: str, *, email=None, claim=None, reason: str):
    from assets.claims.privacy import erase

    wh, store, inbox, audit = _parts()
    return erase(wh, sor_url(), store, inbox, audit, actor=actor, email=email, claim=claim, reason=reason)


def cmd_privacy_erase(args) -> int:
    from orchestration.commands.users import authenticated

    if bool(args.email) == bool(args.claim):
        raise CliError("give exactly one of --email or --claim")
    if args.email and "@" not in args.email:
        raise CliError(f"--email {args.email!r} is not an e-mail address")
    actor = authenticated("users.manage").username
    report = _erase(actor, email=args.email, claim=args.claim, reason=args.reason)
    print(f"erased: {len(report.claims)} claims, {report.mails} mails, {report.attachments_deleted} attachments, "
          f"{report.inbox_files_deleted} inbox files, {report.outbox_messages} outbox messages, "
          f"{report.policies} policy holder records; audit entry written (no personal data)")
    return 0


def cmd_privacy_retention(args) -> int:
    from assets.claims.privacy import due_for_retention
    from orchestration.commands.users import authenticated

    days = args.days if args.days is not None else retention_days()
    wh, _, _, _ = _parts()
    due = due_for_retention(wh, now=datetime.now(UTC).replace(tzinfo=None), days=days)
    if args.dry_run:
        print(f"{len(due)} claims older than {days} days would be erased")
        return 0
    actor = authenticated("users.manage").username
    for claim in due:
        _erase(actor, claim=claim, reason=f"retention: older than {days} days")
    print(f"retention ({days} days): {len(due)} claims erased")
    return 0


def register(sub) -> None:
    """Add `privacy erase` and `privacy retention` to the top-level sub-parsers."""
    p = sub.add_parser("privacy", help="erase personal data; apply the retention schedule")
    cmds = p.add_subparsers(dest="privacy_command", required=True, parser_class=Parser)
    e = cmds.add_parser("erase", help="erase one person's (--email) or one claim's (--claim) data everywhere")
    e.add_argument("--email")
    e.add_argument("--claim")
    e.add_argument("--reason", default="erasure request")
    e.set_defaults(func=cmd_privacy_erase)
    r = cmds.add_parser("retention", help=f"erase claims older than {RETENTION_ENV} days ({DEFAULT_RETENTION_DAYS})")
    r.add_argument("--days", type=int)
    r.add_argument("--dry-run", action="store_true")
    r.set_defaults(func=cmd_privacy_retention)
