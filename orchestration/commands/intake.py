"""`claimflow sample-inbox`, `claimflow intake parse|run` and `claimflow policies seed`: the intake side."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from orchestration.commands import CliError, Parser


def cmd_intake_parse(args) -> int:
    """Print what `parsed_claims` / `quarantined_emails` would store for one .eml file."""
    from connectors.mail import MailParseError, read_message_file
    from models.disposition import decide_disposition
    from models.mail_reading import read_message

    path = Path(args.file)
    try:
        msg = read_message_file(path)
    except MailParseError as err:
        raise CliError(f"{path}: {err.reason}: {err.detail}") from None
    # The same reading and the same rule as `parsed_claims` / `quarantined_emails`.
    reading = read_message(msg)
    disposition = decide_disposition(reading)
    out = reading.fields.model_dump(mode="json")
    out.update(language=reading.language, disposition=disposition.kind)
    if disposition.reason:
        out["reason"] = disposition.reason
    if reading.flags:
        out["flags"] = list(reading.flags)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def cmd_sample_inbox(args) -> int:
    """Write realistic claim e-mails of the sample claims system and their ground truth."""
    from connectors.samples.inbox import claims_for_inbox, generate_inbox
    from connectors.samples.policies import build_policy_table

    if args.count < 1:
        raise CliError("--count must be at least 1")
    now = _parse_as_of(args.as_of)
    policies = build_policy_table()
    # The mails render claims of the sample claims system the risk model trains on
    # (its recent window), so live claims and training history are one world.
    try:
        claims = claims_for_inbox(policies, count=args.count, seed=args.seed, now=now)
    except ValueError as err:  # a date the policy register does not cover
        raise CliError(f"no sample claims as of {now.date()}: {err}") from None
    records = generate_inbox(
        args.count,
        args.seed,
        Path(args.out),
        policies,
        now=now,
        truth_path=Path(args.truth) if args.truth else None,
        progress=sys.stderr.isatty(),
        claims=claims,
    )
    truth = Path(args.truth) if args.truth else Path(args.out) / "ground_truth.jsonl"
    print(f"wrote {len(records)} e-mails ({len(claims)} claims of the sample claims system) to {args.out} "
          f"and the ground truth to {truth}")
    return 0


def cmd_policies_seed(args) -> int:
    """Load the real French motor policies into the configured system of record."""
    from connectors.samples.policies import build_policy_table
    from connectors.system_of_record import SqlPolicySystem
    from orchestration.commands.review import sor_url

    url = args.url or sor_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    system = SqlPolicySystem(url)
    if system.policy_count() and not args.force:
        print(f"policy register already holds {system.policy_count()} policies (use --force to reload)")
        return 0
    n = system.load_policies(build_policy_table())
    print(f"loaded {n} policies into {url}")
    return 0


def cmd_intake_run(args) -> int:
    """Run the claims intake job once over everything new in the inbox."""
    from orchestration.runner import run_intake

    summary = run_intake(show_progress=sys.stderr.isatty())
    print(summary.render())
    return 0 if summary.success else 1


def _parse_as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"--as-of {value!r} is not an ISO date or datetime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(sub) -> None:
    """Add `sample-inbox`, `intake parse|run` and `policies seed` to the top-level sub-parsers."""
    s = sub.add_parser("sample-inbox", help="write realistic claim e-mails (.eml) and their ground truth")
    s.add_argument("--count", type=int, default=500)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--out", required=True, help="folder for the .eml files")
    s.add_argument("--truth", help="ground-truth JSONL path (default: OUT/ground_truth.jsonl)")
    s.add_argument("--as-of", help="ISO datetime the mails are received before (default: now)")
    s.set_defaults(func=cmd_sample_inbox)

    intake = sub.add_parser("intake", help="claims intake").add_subparsers(
        dest="intake_command", required=True, parser_class=Parser
    )
    ip = intake.add_parser("parse", help="print the claim fields of one .eml file as JSON")
    ip.add_argument("file")
    ip.set_defaults(func=cmd_intake_parse)
    ir = intake.add_parser("run", help="run the claims intake job over everything new in the inbox")
    ir.set_defaults(func=cmd_intake_run)

    pol = sub.add_parser("policies", help="the policy system of record").add_subparsers(
        dest="policies_command", required=True, parser_class=Parser
    )
    ps = pol.add_parser("seed", help="load the 25,000 real French motor policies into the register")
    ps.add_argument("--url", help="SQLAlchemy URL (default: the configured system of record)")
    ps.add_argument("--force", action="store_true", help="reload even if policies are present")
    ps.set_defaults(func=cmd_policies_seed)
