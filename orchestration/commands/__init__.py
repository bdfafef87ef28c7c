"""Pieces of the `claimflow` command line: each module registers its sub-commands.

A module here defines `register(sub)`, where `sub` is the top-level sub-parser set, and
raises `CliError` for bad input (exit 2, one line on stderr).
"""

from __future__ import annotations

import argparse


class CliError(Exception):
    """Bad input from the user: exit 2, one line."""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line, not argparse's usage block."""

    def error(self, message: str):
        raise CliError(f"{self.prog}: {message} (see --help)")
