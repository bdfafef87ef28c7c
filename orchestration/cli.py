"""The `claimflow` command line.

Bad input exits 2 with one line on stderr; a bug exits 1 with one line and the hint to
set CLAIMFLOW_DEBUG=1 for the traceback. Nothing here prints personal data to logs.
"""

from __future__ import annotations

import argparse
import os
import sys

from orchestration.commands import CliError
from orchestration.commands import Parser as _Parser

# ------------------------------------------------------------------ wiring


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="claimflow", description="Claims automation: e-mail intake to validated claims.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    # Command modules register their own sub-commands; this file is only the parser and main().
    from orchestration.commands import demo, intake

    intake.register(sub)

    from orchestration.commands import (
        audit,
        models,
        observe,
        photos,
        report,
        review,
        serve,
        ui,
        users,
        web,
    )

    for module in (photos, review, audit, models, serve, ui, users, web, observe, report):
        module.register(sub)
    from orchestration.commands import privacy

    privacy.register(sub)
    from orchestration.commands import social as social_commands

    social_commands.register(sub)

    demo.register(sub)
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
