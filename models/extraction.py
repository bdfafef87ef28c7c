"""Deterministic rule extractor: claim e-mail text to `ClaimFields`.

It is the fallback when no language model is configured and the first pass when one
is: every field gets a confidence so the caller can decide what deserves a second look.

Conventions it relies on (documented with the sample generator):
- numeric dates with `/` or `.` are day-first (a French insurer's mail);
- a date never lies after the mail was received;
- text quoted from an earlier mail (`> ...`, "On ... wrote:") is read only when the
  new text lacks the field, and with lower confidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from models.contracts import ClaimFields

EXTRACTOR_VERSION = "rules-1"
PROVENANCE = "rules"

DEFAULT_CLAIM_PATTERN = (
    r"(?<![\w-])(?:clm|claim|sinistre|dossier)"
    r"(?:\s*(?:no\.?|nr\.?|num(?:ber|[ée]ro)?\.?|n°|#|ref(?:erence)?\.?|id))?"
    r"\s*[:#]?\s*(?:clm)?\s*[-/ ]?\s*(?P<year>20\d{2})\s*[-/ ]?\s*(?P<seq>\d{1,6})(?!\d)"
)
DEFAULT_CLAIM_FORMAT = "CLM-{year}-{seq:06d}"
DEFAULT_POLICY_PATTERN = (
    r"(?<![\w-])(?:pol(?:icy|ice)?|contrat)"
    r"(?:\s*(?:no\.?|nr\.?|num(?:ber|[ée]ro)?\.?|n°|#|id))?"
    r"\s*[:#]?\s*(?:pol)?\s*-?\s*(?P<digits>\d{3}[ -]?\d{4})(?!\d)"
)
DEFAULT_POLICY_FORMAT = "POL-{digits}"

_CANONICAL_CLAIM = re.compile(r"^CLM-\d{4}-\d{6}$")
_CANONICAL_POLICY = re.compile(r"^POL-\d{7}$")


@dataclass(frozen=True)
class ExtractionRules:
    """Configurable number formats; the defaults match the insurer's canonical forms."""

    claim_number_pattern: str = DEFAULT_CLAIM_PATTERN
    claim_number_format: str = DEFAULT_CLAIM_FORMAT
    policy_number_pattern: str = DEFAULT_POLICY_PATTERN
    policy_number_format: str = DEFAULT_POLICY_FORMAT
    max_description_chars: int = 4000
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    def claim_re(self) -> re.Pattern:
        return self._compile("claim", self.claim_number_pattern)

    def policy_re(self) -> re.Pattern:
        return self._compile("policy", self.policy_number_pattern)

    def _compile(self, key: str, pattern: str) -> re.Pattern:
        if key not in self._compiled:
            self._compiled[key] = re.compile(pattern, re.IGNORECASE)
        return self._compiled[key]


DEFAULT_RULES = ExtractionRules()

# ---------------------------------------------------------------- text regions

_QUOTE_HEADER = re.compile(
    r"^\s*(?:on .{4,200}wrote:|le .{4,200}a [ée]crit\s*:|-{2,}\s*original message\s*-{2,}|"
    r"-{2,}\s*message d'origine\s*-{2,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_HEADER = re.compile(
    r"^\s*(?:-{2,}\s*forwarded message\s*-{2,}|-{2,}\s*message transf[ée]r[ée]\s*-{2,}|"
    r"begin forwarded message:)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_LINE = re.compile(
    r"^\s*(?:from|de|sent|envoy[ée]|date|to|[àa]|cc|subject|objet)\s*:.*$", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class Regions:
    """The mail's own new text, then forwarded and quoted text in order of trust."""

    primary: str
    forwarded: str
    quoted: str
    forwarded_from: str | None


def split_regions(text: str) -> Regions:
    """Separate new text from forwarded blocks and quoted replies."""
    forwarded = ""
    forwarded_from = None
    fwd = _FORWARD_HEADER.search(text)
    if fwd:
        head, forwarded = text[: fwd.start()], text[fwd.end() :]
        m = re.search(r"^\s*(?:from|de)\s*:\s*(.+)$", forwarded, re.IGNORECASE | re.MULTILINE)
        if m:
            addr = _EMAIL.search(m.group(1))
            forwarded_from = addr.group(0).lower() if addr else None
        forwarded = _HEADER_LINE.sub("", forwarded)
    else:
        head = text
    quoted_parts = []
    q = _QUOTE_HEADER.search(head)
    if q:
        quoted_parts.append(head[q.end() :])
        head = head[: q.start()]
    primary_lines = []
    for line in head.splitlines():
        if line.lstrip().startswith(">"):
            quoted_parts.append(line.lstrip("> \t"))
        else:
            primary_lines.append(line)
    quoted = _HEADER_LINE.sub("", "\n".join(quoted_parts))
    quoted = "\n".join(line.lstrip("> \t") for line in quoted.splitlines())
    return Regions("\n".join(primary_lines), forwarded, quoted, forwarded_from)


# ---------------------------------------------------------------- numbers


def _claim_candidates(text: str, rules: ExtractionRules) -> list[tuple[str, bool]]:
    out = []
    for m in rules.claim_re().finditer(text):
        year, seq = int(m.group("year")), int(m.group("seq"))
        if seq == 0:
            continue
        value = rules.claim_number_format.format(year=year, seq=seq)
        out.append((value, m.group(0).upper() == value))
    return out


def _policy_candidates(text: str, rules: ExtractionRules) -> list[tuple[str, bool]]:
    out = []
    for m in rules.policy_re().finditer(text):
        digits = re.sub(r"\D", "", m.group("digits"))
        value = rules.policy_number_format.format(digits=digits)
        out.append((value, m.group(0).upper() == value))
    return out


def _pick(cands: list[tuple[str, bool]], base: float) -> tuple[str | None, float]:
    if not cands:
        return None, 0.0
    values = [v for v, _ in cands]
    best = max(dict.fromkeys(values), key=values.count)
    conf = 0.99 if any(v == best and canon for v, canon in cands) else 0.93
    if len(set(values)) > 1:
        conf -= 0.25
    return best, round(conf * base, 3)


# ---------------------------------------------------------------- dates

_MONTHS = {
    "january": 1, "jan": 1, "janvier": 1, "janv": 1,
    "february": 2, "feb": 2, "fevrier": 2, "février": 2, "fevr": 2, "févr": 2,
    "march": 3, "mar": 3, "mars": 3,
    "april": 4, "apr": 4, "avril": 4, "avr": 4,
    "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juin": 6,
    "july": 7, "jul": 7, "juillet": 7, "juil": 7,
    "august": 8, "aug": 8, "aout": 8, "août": 8,
    "september": 9, "sep": 9, "sept": 9, "septembre": 9,
    "october": 10, "oct": 10, "octobre": 10,
    "november": 11, "nov": 11, "novembre": 11,
    "december": 12, "dec": 12, "decembre": 12, "décembre": 12,
}  # fmt: skip
_MONTH_ALT = "|".join(sorted((re.escape(k) for k in _MONTHS), key=len, reverse=True))
_DATE_PATTERNS = [
    ("iso", re.compile(r"(?<!\d)(?P<y>20\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")),
    ("dmy", re.compile(r"(?<![\d/.])(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>(?:20)?\d{2})(?![\d/])")),
    (
        "d_month_y",
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?\s+(?:of\s+)?(?P<mon>{_MONTH_ALT})\.?"
            rf"(?:,?\s+(?P<y>20\d{{2}}))?(?![\w])",
            re.IGNORECASE,
        ),
    ),
    (
        "month_d_y",
        re.compile(
            rf"(?<![\w])(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>20\d{{2}}))?(?!\d)",
            re.IGNORECASE,
        ),
    ),
]
_INCIDENT_WORDS = re.compile(
    r"incident|accident|loss|happened|occurred|occurred|date of|on the|stolen|damage|sinistre|"
    r"survenu|s'est produit|le |hit|crash|storm|fire|flood|broke|when",
    re.IGNORECASE,
)
_NOT_INCIDENT = re.compile(r"sent|envoy|wrote|a écrit|received|reçu|born|né le|expires|valid until", re.I)


def _mk_date(y: int | None, m: int, d: int, received: date | None) -> date | None:
    if y is not None and y < 100:
        y += 2000
    if y is None:
        if received is None:
            return None
        y = received.year
        try:
            cand = date(y, m, d)
        except ValueError:
            return None
        if cand > received:
            y -= 1
    try:
        return date(y, m, d)
    except ValueError:
        return None


def find_dates(text: str, received: date | None) -> list[tuple[int, date, float, bool]]:
    """All dates in `text`: (position, date, format confidence, year inferred)."""
    found: dict[int, tuple[int, date, float, bool]] = {}
    taken: list[tuple[int, int]] = []
    for kind, rx in _DATE_PATTERNS:
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            g = m.groupdict()
            month = _MONTHS.get(_fold(g["mon"]).lower().rstrip(".")) if g.get("mon") else int(g["m"])
            if not month or month > 12:
                continue
            year = int(g["y"]) if g.get("y") else None
            d = _mk_date(year, month, int(g["d"]), received)
            if d is None:
                continue
            conf = 0.97 if kind in ("iso", "d_month_y", "month_d_y") else 0.94
            if year is None:
                conf = 0.75
            taken.append((m.start(), m.end()))
            found[m.start()] = (m.start(), d, conf, year is None)
    return [found[k] for k in sorted(found)]


def _fold(s: str) -> str:
    return s.replace("û", "u").replace("é", "e")


def _pick_incident_date(text: str, received: date | None) -> tuple[date | None, float]:
    best: tuple[float, date, float] | None = None
    for pos, d, conf, _ in find_dates(text, received):
        if received is not None and d > received:
            continue
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        before = text[max(line_start, pos - 60) : pos]
        if _NOT_INCIDENT.search(before):
            continue
        score = 1.0 + (1.0 if _INCIDENT_WORDS.search(line) else 0.0) - pos / (len(text) + 1)
        if best is None or score > best[0]:
            best = (score, d, conf)
    if best is None:
        return None, 0.0
    return best[1], best[2] if best[0] >= 1.0 else best[2] - 0.15


# ---------------------------------------------------------------- amounts

_CUR_SYMBOL = {"€": "EUR", "$": "USD", "£": "GBP"}
_CUR_WORD = {
    "eur": "EUR", "euro": "EUR", "euros": "EUR", "usd": "USD", "dollars": "USD", "us$": "USD",
    "gbp": "GBP", "pounds": "GBP", "chf": "CHF",
}  # fmt: skip
_NUM = r"\d{1,3}(?:[  \u202f.,]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CUR_BEFORE = r"(?P<cb>€|\$|£|\b(?:eur|usd|gbp|chf|us\$)\b)"
_CUR_AFTER = r"(?P<ca>€|\$|£|\b(?:eur|euros?|usd|dollars|gbp|pounds|chf)\b)"
_AMOUNT = re.compile(
    rf"{_CUR_BEFORE}\s?(?P<n1>{_NUM})|(?<![\d.,])(?P<n2>{_NUM})\s?{_CUR_AFTER}",
    re.IGNORECASE,
)
_AMOUNT_WORDS = re.compile(
    r"estimat|amount|cost|repair|quote|invoice|total|damage|around|about|approx|montant|devis|co[uû]t|"
    r"r[ée]paration|environ|value|worth",
    re.IGNORECASE,
)
_NOT_AMOUNT_WORDS = re.compile(r"excess|deductible|franchise|premium|prime", re.IGNORECASE)


def parse_number(raw: str, currency: str | None) -> Decimal | None:
    """'1.234,56' -> 1234.56, '2,500' -> 2500, '1 234,56' -> 1234.56, '1.234' (EUR) -> 1234."""
    s = raw.replace("\u00a0", " ").replace("\u202f", " ").replace(" ", "")
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        parts = s.split(sep)
        if len(parts) > 2 or len(parts[-1]) == 3:
            s = s.replace(sep, "")
        else:
            s = s.replace(sep, ".")
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    return value.quantize(Decimal("0.01"))


def _pick_amount(text: str) -> tuple[Decimal | None, str | None, float]:
    best = None
    for m in _AMOUNT.finditer(text):
        cur_raw = (m.group("cb") or m.group("ca") or "").lower()
        currency = _CUR_SYMBOL.get(cur_raw) or _CUR_WORD.get(cur_raw)
        value = parse_number(m.group("n1") or m.group("n2"), currency)
        if value is None:
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        score = 1.0
        if _AMOUNT_WORDS.search(line):
            score += 1.0
        if _NOT_AMOUNT_WORDS.search(line):
            score -= 1.5
        score -= m.start() / (len(text) + 1) * 0.5
        if best is None or score > best[0]:
            best = (score, value, currency)
    if best is None:
        return None, None, 0.0
    return best[1], best[2], 0.95 if best[0] >= 1.0 else 0.7


# ---------------------------------------------------------------- loss type

_LOSS_LABEL = re.compile(
    r"^\s*(?:type of (?:loss|claim|damage)|loss type|nature (?:du sinistre|of (?:the )?loss)|"
    r"type de sinistre|claim type)\s*[:\-]\s*(?P<label>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_LOSS_KEYWORDS: dict[str, list[tuple[str, float]]] = {
    "auto_glass": [
        (r"wind\s?screen|wind\s?shield|pare[- ]brise|glass|vitre|window (?:was )?(?:cracked|smashed|broken)|"
         r"chip(?:ped)?|crack(?:ed)? (?:in|on) the|bris de glace|lunette arri[eè]re|side window", 2.0),
    ],
    "theft": [
        (r"stolen|theft|steal|stole|thie[fv]|vol[ée]?\b|cambriol|broke into|break-in|broken into|"
         r"burglar|disappeared from|missing from the car", 2.0),
    ],
    "fire": [(r"\bfire\b|burn(?:t|ed|ing)?|flames?|incendie|br[uû]l[ée]|caught fire|blaze|smoke", 2.0)],
    "water_damage": [
        (r"water damage|flood(?:ed|ing)?|leak(?:ing|ed)?|pipe burst|burst pipe|d[ée]g[aâ]t des eaux|"
         r"inond[ée]|water (?:came|entered|got)|submerged|soaked", 2.0),
    ],
    "storm": [
        (r"hail(?:storm|stones?)?|storm|gr[eê]le|temp[eê]te|orage|tornado|gale|high winds?|"
         r"tree (?:fell|branch)|fallen tree|branch fell|lightning", 2.0),
    ],
    "liability": [
        (r"third[- ]party|pedestrian|cyclist|responsabilit[ée]|someone else'?s|their (?:car|property|fence|wall)|"
         r"my fault|i hit (?:a|the) (?:parked|neighbou?r)|damaged (?:a|the) (?:parked|neighbou?r)|"
         r"injur(?:ed|y)|claim against me|liability", 2.0),
    ],
    "auto_collision": [
        (r"collision|collided|crash(?:ed)?|rear[- ]ended|accident|hit (?:me|my|us)|bumped|"
         r"accroch|percut|carambolage|ran into|drove into|dent(?:ed)?|bumper|fender|scratch", 1.5),
    ],
    "other": [(r"vandal|keyed|animal|deer|boar|sanglier|other damage", 1.2)],
}
_LOSS_RES = {k: [(re.compile(p, re.IGNORECASE), w) for p, w in v] for k, v in _LOSS_KEYWORDS.items()}
_LABEL_MAP = [
    ("auto_glass", r"glass|windscreen|windshield|pare|bris"),
    ("theft", r"theft|vol|stolen"),
    ("fire", r"fire|incendie"),
    ("water_damage", r"water|flood|eau|d[ée]g[aâ]t"),
    ("storm", r"storm|hail|gr[eê]le|temp[eê]te|weather"),
    ("liability", r"liabil|third|responsab"),
    ("auto_collision", r"collision|accident|crash"),
    ("other", r"other|autre|vandal"),
]


def _pick_loss_type(text: str) -> tuple[str | None, float]:
    label = _LOSS_LABEL.search(text)
    if label:
        raw = label.group("label").strip().lower()
        norm = raw.replace(" ", "_")
        for loss in ("auto_collision", "auto_glass", "water_damage"):
            if norm.startswith(loss):
                return loss, 0.98
        for loss, rx in _LABEL_MAP:
            if re.search(rx, raw):
                return loss, 0.96
    scores = {}
    for loss, rules in _LOSS_RES.items():
        s = sum(w * len(rx.findall(text)) for rx, w in rules)
        if s:
            scores[loss] = s
    if not scores:
        return None, 0.0
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    top, top_score = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (top_score - runner) / top_score
    return top, round(0.6 + 0.35 * margin, 3)


# ---------------------------------------------------------------- contact

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_EMAIL_LABEL = re.compile(r"(?:e-?mail|courriel|contact)\s*:?\s*([\w.+'-]+@[\w-]+(?:\.[\w-]+)+)", re.I)
_PHONE_PATTERNS = [
    (re.compile(r"(?<![\d+])\+(?P<cc>\d{1,3})[ .-]?\(?0?\)?(?P<rest>\d(?:[ .-]?\d){7,11})(?!\d)"), "intl"),
    (re.compile(r"(?<![\d\w])(?P<rest>0[1-9](?:[ .-]?\d{2}){4})(?!\d)"), "fr"),
    (re.compile(r"(?<![\d\w])\((?P<a>\d{3})\)\s?(?P<b>\d{3})[ .-]?(?P<c>\d{4})(?!\d)"), "us"),
    (re.compile(r"(?<![\d\w])(?P<a>\d{3})[.-](?P<b>\d{3})[.-](?P<c>\d{4})(?!\d)"), "us"),
]


def normalize_phone(m: re.Match, kind: str) -> str | None:
    if kind == "intl":
        digits = re.sub(r"\D", "", m.group("rest"))
        return f"+{m.group('cc')}{digits}" if 8 <= len(m.group("cc") + digits) <= 15 else None
    if kind == "fr":
        return "+33" + re.sub(r"\D", "", m.group("rest"))[1:]
    return f"+1{m.group('a')}{m.group('b')}{m.group('c')}"


def _pick_phone(text: str) -> tuple[str | None, float]:
    best = None
    for rx, kind in _PHONE_PATTERNS:
        for m in rx.finditer(text):
            value = normalize_phone(m, kind)
            if value and (best is None or m.start() < best[0]):
                best = (m.start(), value)
    return (best[1], 0.93) if best else (None, 0.0)


# ---------------------------------------------------------------- whole mail


def _region_search(regions: Regions, fn, weights=(1.0, 0.9, 0.8)):
    """Apply `fn` to the new text first, then the forwarded block, then quoted text."""
    for text, w in zip((regions.primary, regions.forwarded, regions.quoted), weights):
        if text.strip():
            result = fn(text)
            if result[0] is not None:
                return result[:-1] + (round(result[-1] * w, 3),)
    return fn("")


def extract_fields(
    *,
    subject: str,
    text: str,
    sender: str | None,
    received_at: datetime | None,
    photos: list[str] | tuple[str, ...] = (),
    rules: ExtractionRules = DEFAULT_RULES,
) -> ClaimFields:
    """Read one e-mail's subject and body into `ClaimFields` with per-field confidence."""
    text = unicodedata.normalize("NFKC", text or "")
    subject = unicodedata.normalize("NFKC", subject or "")
    regions = split_regions(text)
    received = received_at.date() if received_at else None
    conf: dict[str, float] = {}
    values: dict[str, object] = {}

    def numbers(t: str, cands_fn):
        return _pick(cands_fn(t, rules), 1.0)

    claim, c = _pick(_claim_candidates(subject, rules), 1.0)
    if claim is None:
        claim, c = _region_search(regions, lambda t: numbers(t, _claim_candidates))
    values["claim_number"], conf["claim_number"] = claim, c
    policy, c = _region_search(regions, lambda t: numbers(t, _policy_candidates))
    if policy is None:
        policy, c = _pick(_policy_candidates(subject, rules), 0.95)
    values["policy_number"], conf["policy_number"] = policy, c
    values["incident_date"], conf["incident_date"] = _region_search(
        regions, lambda t: _pick_incident_date(t, received)
    )
    amount, currency, c = _region_search(regions, _pick_amount)
    values["estimated_amount"], conf["estimated_amount"] = amount, c
    values["currency"], conf["currency"] = currency, (c if currency else 0.0)
    loss, c = _region_search(regions, _pick_loss_type)
    if loss is None:
        loss, c = _pick_loss_type(subject)
        c *= 0.9
    values["loss_type"], conf["loss_type"] = loss, c
    values["contact_phone"], conf["contact_phone"] = _region_search(regions, _pick_phone)

    labelled = _EMAIL_LABEL.search(regions.primary) or _EMAIL_LABEL.search(regions.forwarded)
    if labelled:
        values["contact_email"], conf["contact_email"] = labelled.group(1).lower(), 0.95
    elif regions.forwarded_from:
        values["contact_email"], conf["contact_email"] = regions.forwarded_from, 0.85
    elif sender:
        values["contact_email"], conf["contact_email"] = sender.lower(), 0.9
    else:
        values["contact_email"], conf["contact_email"] = None, 0.0

    description = (regions.primary.strip() or regions.forwarded.strip())[: rules.max_description_chars]
    values["description"], conf["description"] = (description or None), (0.9 if description else 0.0)
    values["photos"], conf["photos"] = list(photos), (1.0 if photos else 0.0)

    confidence = {k: round(float(v), 3) for k, v in conf.items() if values.get(k) not in (None, [])}
    provenance = {k: PROVENANCE for k in confidence}
    return ClaimFields(**values, confidence=confidence, provenance=provenance)


def is_canonical_claim_number(value: str | None) -> bool:
    return bool(value and _CANONICAL_CLAIM.match(value))


def is_canonical_policy_number(value: str | None) -> bool:
    return bool(value and _CANONICAL_POLICY.match(value))
