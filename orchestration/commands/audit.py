"""`claimflow audit`: verify the hash chain of the audit log, show its last entries."""

from __future__ import annotations

import json

from orchestration.commands import CliError, Parser
from orchestration.commands.review import sor_url


def _log():
    from connectors.audit import AuditLog

    return AuditLog(sor_url())


def cmd_audit_verify(args) -> int:
    report = _log().verify()
    if not report.intact:
        where = f" at entry {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        raise CliError(f"audit log broken{where}: {report.problem}")
    from connectors.system_of_record import ClaimsSystem

    # Claim-state changes are in the chain: a claims table edited around it shows here.
    routes = {claim: queue for claim, (queue, _) in ClaimsSystem(sor_url()).current_routes().items()}
    outside = _log().verify_states(routes)
    if outside:
        raise CliError(f"claims table changed outside the audit trail: {outside[0]}"
                       + (f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""))
    print(f"audit log intact: {report.entries} entries")
    return 0


def cmd_audit_show(args) -> int:
    if args.last < 1:
        raise CliError("--last must be at least 1")
    entries = _log().entries()[-args.last :]
    if args.json:
        rows = [{k: getattr(e, k) for k in ("seq", "at", "actor", "action", "subject", "payload", "hash")}
                for e in entries]
        print(json.dumps(rows, indent=2, default=str, ensure_ascii=False))
        return 0
    if not entries:
        print("the audit log is empty")
        return 0
    for e in entries:
        payload = json.dumps(e.payload, sort_keys=True, default=str, ensure_ascii=False)
        print(f"{e.seq:>6}  {e.at}  {e.actor:<16} {e.action:<20} {e.subject:<18} {payload}")
    return 0


def register(sub) -> None:
    """Add `audit verify` and `audit show` to the top-level sub-parsers."""
    audit = sub.add_parser("audit", help="the hash-chained audit log")
    cmds = audit.add_subparsers(dest="audit_command", required=True, parser_class=Parser)
    v = cmds.add_parser("verify", help="walk the chain; exit 2 naming the first edited, deleted or moved entry")
    v.set_defaults(func=cmd_audit_verify)
    s = cmds.add_parser("show", help="the last entries, oldest first")
    s.add_argument("--last", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_audit_show)
