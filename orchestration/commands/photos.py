"""`claimflow photos check FILE`: one photo's quality, hash and EXIF date as JSON.

A poor photo is a result, not an error (exit 0, verdict "poor" with reasons); a file
that is not a readable photo exits 2 with one line on stderr.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from orchestration.commands import CliError, Parser


def cmd_photos_check(args) -> int:
    from assets.claims.photos import PhotoError, assess_photo

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CliError(f"{path}: unreadable: {err.strerror or type(err).__name__}") from None
    try:
        quality = assess_photo(data, incident_date=args.incident_date)
    except PhotoError as err:
        raise CliError(f"{path}: {err}") from None
    print(json.dumps(quality.to_dict(), indent=2, ensure_ascii=False))
    return 0


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"--incident-date {value!r} is not a date (YYYY-MM-DD)") from None


def register(sub) -> None:
    """Add `photos check` to the top-level sub-parsers."""
    photos = sub.add_parser("photos", help="claim photos: quality, perceptual hash, EXIF date").add_subparsers(
        dest="photos_command", required=True, parser_class=Parser
    )
    check = photos.add_parser("check", help="print one photo's quality checks, score and reasons as JSON")
    check.add_argument("file", help="a JPEG, PNG, WebP, TIFF, BMP or GIF file")
    check.add_argument("--incident-date", type=_iso_date, help="YYYY-MM-DD; flags an EXIF date that does not fit")
    check.set_defaults(func=cmd_photos_check)
