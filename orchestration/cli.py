"""The `claimflow` command line.

Bad input exits 2 with one line on stderr; a bug exits 1 with one line and the hint to
set CLAIMFLOW_DEBUG=1 for the traceback. Nothing here prints personal data to logs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path


from orchestration.commands import CliError
from orchestration.commands import Parser as _Parser


# ------------------------------------------------------------------ commands


def cmd_intake_parse(args) -> int:
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
    from orchestration.runner import run_intake

    summary = run_intake(show_progress=sys.stderr.isatty())
    print(summary.render())
    return 0 if summary.success else 1


def cmd_demo(args) -> int:
    from orchestration.runner import run_demo, set_launcher

    set_launcher("claimflow-demo")
    return run_demo(count=args.count, seed=args.seed)


def _parse_as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"--as-of {value!r} is not an ISO date or datetime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ------------------------------------------------------------------ wiring


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="claimflow", description="Claims automation: e-mail intake to validated claims.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("sample-inbox", help="write realistic claim e-mails (.eml) and their ground truth")
    s.add_argument("--count", type=int, default=500)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--out", required=True, help="folder for the .eml files")
    s.add_argument("--truth", help="ground-truth JSONL path (default: OUT/ground_truth.jsonl)")
    s.add_argument("--as-of", help="ISO datetime the mails are received before (default: now)")
    s.set_defaults(func=cmd_sample_inbox)

    intake = sub.add_parser("intake", help="claims intake").add_subparsers(
        dest="intake_command", required=True, parser_class=_Parser
    )
    ip = intake.add_parser("parse", help="print the claim fields of one .eml file as JSON")
    ip.add_argument("file")
    ip.set_defaults(func=cmd_intake_parse)
    ir = intake.add_parser("run", help="run the claims intake job over everything new in the inbox")
    ir.set_defaults(func=cmd_intake_run)

    pol = sub.add_parser("policies", help="the policy system of record").add_subparsers(
        dest="policies_command", required=True, parser_class=_Parser
    )
    ps = pol.add_parser("seed", help="load the 25,000 real French motor policies into the register")
    ps.add_argument("--url", help="SQLAlchemy URL (default: SQLite file under $CLAIMFLOW_HOME)")
    ps.add_argument("--force", action="store_true", help="reload even if policies are present")
    ps.set_defaults(func=cmd_policies_seed)

    from orchestration.commands import audit, models, photos, report, review, serve, ui, users, web

    for module in (photos, review, audit, models, serve, ui, users, web, report):
        module.register(sub)
    from orchestration.commands import privacy

    privacy.register(sub)
    from orchestration.commands import social as social_commands

    social_commands.register(sub)

    d = sub.add_parser("demo", help="seed, generate an inbox, run the claims flow, print a summary")
    d.add_argument("--count", type=int, default=500)
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # what the product writes under $CLAIMFLOW_HOME is the user's alone: files 0600, folders 0700
    try:
        args = build_parser().parse_args(argv)
        from orchestration.settings import check_prod_settings

        try:
            check_prod_settings()  # PROD: every missing setting named in one line, before any work
        except ValueError as err:
            raise CliError(str(err)) from None
        return args.func(args)
    except CliError as err:
        print(f"claimflow: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("claimflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `claimflow models list | head`: the reader left, nothing to report
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except Exception as err:  # a bug, not bad input: still one line unless asked for more
        if os.environ.get("CLAIMFLOW_DEBUG"):
            raise
        print(f"claimflow: internal error: {type(err).__name__}: {err} (CLAIMFLOW_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
