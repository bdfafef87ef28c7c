"""`claimflow review`: list, show, claim, release and decide the claims held for a person.

Every command acts as the owner of the personal API token in `CLAIMFLOW_API_TOKEN` (never a
name typed on the line): reading needs any role, claiming and deciding the `handler` or
`reviewer` role. The system of record is `CLAIMFLOW_SOR_URL` when set, else the SQLite file
under `$CLAIMFLOW_HOME`. A claim left undecided returns to the queue after
`CLAIMFLOW_REVIEW_CLAIM_TIMEOUT` minutes (30).
"""

from __future__ import annotations

import json
import os

from orchestration.commands import CliError, Parser

STATUSES = ("waiting", "claimed", "decided", "superseded", "all")


def sor_url() -> str:
    """The system of record's SQLAlchemy URL, from the settings (the same one the assets write to)."""
    from orchestration.settings import SettingsError, settings

    try:
        return settings().ready_sor_url()
    except SettingsError as err:
        raise CliError(str(err)) from None


def claim_timeout_minutes() -> float:
    raw = os.environ.get("CLAIMFLOW_REVIEW_CLAIM_TIMEOUT")
    if not raw:
        from assets.claims.review import DEFAULT_CLAIM_TIMEOUT_MINUTES

        return DEFAULT_CLAIM_TIMEOUT_MINUTES
    try:
        minutes = float(raw)
    except ValueError:
        raise CliError(f"CLAIMFLOW_REVIEW_CLAIM_TIMEOUT={raw!r} is not a number of minutes") from None
    if minutes <= 0:
        raise CliError("CLAIMFLOW_REVIEW_CLAIM_TIMEOUT must be a positive number of minutes")
    return minutes


def _queue():
    from assets.claims.review import ReviewQueue
    from connectors.system_of_record import ClaimsSystem

    return ReviewQueue(ClaimsSystem(sor_url()), claim_timeout=claim_timeout_minutes())


def _act(fn):
    """Run a review action; a refused one is bad input (exit 2, one line)."""
    from assets.claims.review import ReviewError

    try:
        return fn()
    except ReviewError as err:
        raise CliError(str(err)) from None


def _user(permission: str) -> str:
    """The authenticated user's name, if their role grants `permission` (exit 2 otherwise)."""
    from orchestration.commands.users import authenticated

    return authenticated(permission).username


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def cmd_review_list(args) -> int:
    _user("review.read")
    items = _act(lambda: _queue().list_items(args.status))
    if args.json:
        print(json.dumps(items, indent=2, default=str, ensure_ascii=False))
        return 0
    if not items:
        print(f"no review items {'at all' if args.status == 'all' else args.status}")
        return 0
    print(f"{'claim':<17}{'status':<11}{'suggested':<14}{'rule':<31}{'proposed':<13}{'age':>8}  claimed/decided by")
    for i in items:
        who = i["claimed_by"] or i["decided_by"] or "-"
        print(
            f"{i['claim_number']:<17}{i['status']:<11}{i['suggested_queue']:<14}{i['rule']:<31}"
            f"{i['proposed_queue'] or '-':<13}{_age(i['age_minutes']):>8}  {who}"
        )
    return 0


def cmd_review_show(args) -> int:
    _user("review.read")
    item = _act(lambda: _queue().show(args.claim))
    if args.json:
        print(json.dumps(item, indent=2, default=str, ensure_ascii=False))
        return 0
    from assets.claims.dossier import build_dossier
    from orchestration.settings import settings

    s = settings()
    d = _act(lambda: build_dossier(_queue(), args.claim, warehouse_path=s.warehouse_path, inbox_dir=None))
    print(f"{item['claim_number']}  {item['status']}  (waiting since {_when(item['created_at'])})")
    print(f"suggestion: {item['suggested_queue']} by {item['rule']}: {item['reason']}")
    if item["proposed_queue"]:
        print(f"proposed work queue: {item['proposed_queue']}")
    print("evidence:")
    for key, value in item["evidence"].items():
        print(f"  {key}: {json.dumps(value, default=str, ensure_ascii=False)}")
    if d.fields:
        print("extracted fields (confidence, source):")
        for f in d.fields:
            conf = "-" if f["confidence"] is None else f"{100 * f['confidence']:.0f}%"
            mark = "   <- unsure" if f["unsure"] else ""
            print(f"  {f['name']:<17} {str(f['value'] if f['value'] is not None else '-')[:60]:<62}{conf:>5}  "
                  f"{f['provenance'] or '-'}{mark}")
    for p in d.photos:
        reused = f"; already used on {', '.join(p['reused_in'])}" if p["reused_in"] else ""
        print(f"photo {p['sha256'][:12]}: {p['verdict']}{reused}")
    if d.risk and d.risk.get("score") is not None:
        print(f"risk: {100 * d.risk['score']:.0f}% (model version {d.risk['model_version']})")
    if d.decision and d.decision.get("policy_verdict"):
        print(f"policy: {d.decision['policy_verdict']}: {d.decision.get('policy_reason') or ''}".rstrip(": "))
    if d.warehouse_note:
        print(f"({d.warehouse_note})")
    if item["status"] == "claimed":
        print(f"claimed by {item['claimed_by']} until {_when(item['claim_expires_at'])}")
    if item["status"] == "decided":
        print(f"decided by {item['decided_by']} at {_when(item['decided_at'])}: {item['decision']} -> "
              f"{item['final_queue']} ({item['decision_reason']})")
    claim = item["claim"]
    if claim:
        handler = f"{d.handler['name']} ({claim['assigned_to']})" if d.handler else (claim["assigned_to"] or "-")
        risk = f"{100 * claim['risk_score']:.0f}%" if claim["risk_score"] is not None else "-"
        print(f"claim: queue {claim['queue']}, status {claim['status']}, handler {handler}, "
              f"risk {risk}, model {claim['model_version'] or '-'}, policy {claim['policy_verdict'] or '-'}")
    return 0


def cmd_review_claim(args) -> int:
    reviewer = _user("review.decide")
    item = _act(lambda: _queue().claim(args.claim, reviewer))
    print(f"{args.claim} claimed by {item['claimed_by']} until {_when(item['claim_expires_at'])}")
    return 0


def cmd_review_release(args) -> int:
    reviewer = _user("review.decide")
    _act(lambda: _queue().release(args.claim, reviewer))
    print(f"{args.claim} released back to the queue")
    return 0


def cmd_review_decide(args) -> int:
    reviewer = _user("review.decide")
    action = "approve" if args.approve else "override"
    queue = _queue()
    label = _act(lambda: queue.decide(args.claim, reviewer, action, queue=args.override, reason=args.reason))
    item = queue.show(args.claim)
    risk = "high risk" if label["high_risk"] else "not high risk"
    print(f"{args.claim} decided by {label['reviewer']}: {action} -> {item['final_queue']} ({risk})")
    return 0


def _age(minutes: float) -> str:
    if minutes < 60:
        return f"{minutes:.0f}m"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f}h"
    return f"{minutes / 1440:.1f}d"


def register(sub) -> None:
    """Add `review list|show|claim|release|decide` to the top-level sub-parsers."""
    review = sub.add_parser("review", help="the human review queue: claim, release, decide held claims")
    cmds = review.add_subparsers(dest="review_command", required=True, parser_class=Parser)

    ls = cmds.add_parser("list", help="review items by status (waiting by default), oldest first")
    ls.add_argument("--status", choices=STATUSES, default="waiting")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_review_list)

    sh = cmds.add_parser("show", help="one claim's item: suggestion, evidence, claim and decision")
    sh.add_argument("claim")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_review_show)

    for verb, fn, text in (
        ("claim", cmd_review_claim, "take a waiting item (it returns to the queue if left undecided)"),
        ("release", cmd_review_release, "give back an item you claimed"),
    ):
        c = cmds.add_parser(verb, help=text)
        c.add_argument("claim")
        c.set_defaults(func=fn)

    d = cmds.add_parser("decide", help="approve the suggestion, or override it with a queue; a reason is required")
    d.add_argument("claim")
    how = d.add_mutually_exclusive_group(required=True)
    how.add_argument("--approve", action="store_true", help="accept the suggested (or proposed) queue")
    how.add_argument("--override", metavar="QUEUE", help="fast_track, standard, specialist or fraud_review")
    d.add_argument("--reason", required=True)
    d.set_defaults(func=cmd_review_decide)
