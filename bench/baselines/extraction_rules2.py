"""FROZEN BASELINE for bench/extraction.py: the rule extractor as it was before issue 10 (rules-2).

Do not edit: it is the named baseline the bench measures the current extractor against.

Deterministic rule extractor: claim e-mail text to `ClaimFields`.

It is the fallback when no language model is configured and the first pass when one
is: every field gets a confidence so the caller can decide what deserves a second look.

Conventions it relies on (a French insurer's mail, documented with the sample generator):
- numeric dates are day-first (`03/04/26` is 3 April 2026); ISO is the only year-first form;
  a date without a year is the latest such day not after the mail; relative words
  (`yesterday`, `hier`, `on Monday`) count from the day of `received_at`;
- a `.`, `,` or space before exactly three digits groups thousands, decimals have two digits;
- the subject and the new text are the mail's own words; quoted earlier mail (`> ...`,
  `On ... wrote:`) is never a source, except for the claim number of a follow-up that
  states it nowhere else; a broker's forwarded block is the claim itself, and the broker's
  note and signature around it are not the customer's;
- words of five letters or more may carry one typo (deletion, duplication, transposition).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice

from models.contracts import LOSS_TYPES, ClaimFields

EXTRACTOR_VERSION = "rules-2"
PROVENANCE = "rules"
# A mail with more dates, amounts or phones than this is not a claim a rule can read.
_MAX_CANDIDATES = 200


def _typo_variants(word: str) -> set[str]:
    """`word` and its one-typo spellings (deletion, duplication, adjacent transposition) if 5+ letters.

    The first letter stays: typos there are rare, and dropping it turns "since" into "ince".
    """
    out = {word}
    if len(word) >= 5:
        for i in range(1, len(word)):
            out.add(word[:i] + word[i + 1 :])
            out.add(word[:i] + word[i] + word[i:])
            if i + 1 < len(word):
                out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return out


def _alt(*words: str) -> str:
    """Regex alternation of `words` and their one-typo spellings, longest first."""
    variants = set().union(*(_typo_variants(w) for w in words))
    return "|".join(sorted(map(re.escape, variants), key=len, reverse=True))


# Words between a label and its value: "Claim number is", "N° de contrat :", "numéro de sinistre".
_CONNECTOR = (
    r"(?:[\s:#.-]*(?:" + _alt("number", "numéro", "numero", "reference", "référence")
    + r"|num|no|nr|n°|nº|ref|de|du|is|est|le)\.?(?![\w°]))"
)
# The leading look-ahead only makes the scan fast: most positions fail on one character test.
DEFAULT_CLAIM_PATTERN = (
    r"(?=[#csdfrn])(?:(?<![A-Za-z0-9])(?P<clm>#?clm)[\s-]?"
    r"|(?<!\w)(?:" + _alt("claim", "sinistre", "dossier", "reference", "référence") + r"|file|ref|n°|nº)"
    + _CONNECTOR + r"{0,3}[\s:#.-]*)"
    r"(?P<year>20\d{2})(?(clm)[\s/-]?|\s?/\s?)(?P<seq>\d+)(?![\d/])"
)
DEFAULT_CLAIM_FORMAT = "CLM-{year}-{seq:06d}"
DEFAULT_POLICY_PATTERN = (
    r"(?=[pc])(?:(?<![A-Za-z0-9])pol[\s-]?"
    r"|(?<!\w)(?:" + _alt("policy", "contract", "contrat", "police") + r")s?(?!\w)"
    + _CONNECTOR + r"{0,3}[\s:#.-]*)"
    r"(?P<digits>\d{3} \d{4}(?!\d)|\d+)(?!\d)"
)
DEFAULT_POLICY_FORMAT = "POL-{digits}"

_CANONICAL_CLAIM = re.compile(r"^CLM-\d{4}-\d{6}$")
_CANONICAL_POLICY = re.compile(r"^POL-\d{7}$")


@dataclass(frozen=True)
class ExtractionRules:
    """Configurable number formats; the defaults match the insurer's canonical forms.

    The claim pattern names groups `year` and `seq`, the policy pattern `digits`; a serial
    longer than `max_claim_serial_digits` or a policy number of another length than
    `policy_digits` (or with a leading zero) is malformed and yields no value.
    """

    claim_number_pattern: str = DEFAULT_CLAIM_PATTERN
    claim_number_format: str = DEFAULT_CLAIM_FORMAT
    policy_number_pattern: str = DEFAULT_POLICY_PATTERN
    policy_number_format: str = DEFAULT_POLICY_FORMAT
    max_description_chars: int = 4000
    max_claim_serial_digits: int = 6
    policy_digits: int = 7
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

# Starts only where a run of address characters starts: otherwise "1.2.3..." scans quadratically.
_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_ATTRIBUTION = re.compile(
    r"^[ \t]*(?:on|le|am|el|il)\b[^\n]{0,300}?(?:\n[^\n]{0,200}?)?"
    r"\b(?:wrote|a [ée]crit|schrieb|escribi[óo]|ha scritto)[ \t]*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL_SEP = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*(?:original message|message d'origine|message original)[ \t]*-{3,}|_{10,})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_SEP = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*(?:forwarded message|message transf[ée]r[ée])[ \t]*-{3,}"
    r"|begin forwarded message[ \t]*:|d[ée]but du message r[ée]exp[ée]di[ée][ \t]*:)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# An Outlook reply header without a separator line: "From: ...", then "Sent: ...".
_HEADER_QUOTE = re.compile(
    r"^[ \t]*(?:from|de)[ \t]*:[^\n]*\n[ \t]*(?:sent|date|envoy[ée])[ \t]*:", re.IGNORECASE | re.MULTILINE
)
_FORWARD_SUBJECT = re.compile(r"^\s*\[?(?:fwd?|tr|transf)\]?\s*:", re.IGNORECASE)
_FORWARD_INTENT = re.compile(
    r"forward|transmets|transf[eè]re|fais suivre|faire suivre|(?:our|notre|votre|your) client"
    r"|on behalf of|pour le compte de",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"^[ \t]*(?P<name>from|de|sent|envoy[ée]|date|to|[àa]|cc|subject|objet)[ \t]*:[ \t]*(?P<value>.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Regions:
    """The mail's own new text, the forwarded claim and quoted earlier mail, kept apart.

    For a broker's forward, `primary` is the broker's note (with its signature) and
    `forwarded` the customer's mail, which is the claim.
    """

    primary: str
    forwarded: str
    quoted: str
    forwarded_from: str | None
    forwarded_subject: str = ""
    forwarded_sent: str = ""

    @property
    def is_forward(self) -> bool:
        return bool(self.forwarded.strip())

    @property
    def claim_text(self) -> str:
        """Where the customer's own account of the claim is."""
        return self.forwarded if self.is_forward else self.primary


def _split_quotes(text: str) -> tuple[str, str]:
    """(own text, quoted text): cut at the first reply attribution or separator, then drop `>` lines."""
    starts = (_ATTRIBUTION.search(text), _HEADER_QUOTE.search(text), _ORIGINAL_SEP.search(text))
    cuts = [m.start() for m in starts if m]
    quoted = []
    if cuts:
        cut = min(cuts)
        text, tail = text[:cut], text[cut:]
        quoted.append(tail)
    if ">" in text:
        own = []
        for line in text.split("\n"):
            (quoted if line.lstrip().startswith(">") else own).append(line)
        text = "\n".join(own)
    quoted_text = "\n".join(quoted)
    if quoted_text:
        quoted_text = re.sub(r"(?m)^[ \t]*(?:>[ \t]?)+", "", quoted_text)
    return text, quoted_text


def _forward_start(text: str, subject: str) -> re.Match | None:
    m = _FORWARD_SEP.search(text)
    if m:
        return m
    m = _ORIGINAL_SEP.search(text)
    # "-----Original Message-----" opens a forward or a quote: the subject or the note says which.
    if m and (_FORWARD_SUBJECT.match(subject) or _FORWARD_INTENT.search(text[: m.start()])):
        return m
    return None


def split_regions(text: str, subject: str = "") -> Regions:
    """Separate new text from a forwarded claim and from quoted replies."""
    fwd = _forward_start(text, subject)
    if fwd is None:
        own, quoted = _split_quotes(text)
        return Regions(own, "", quoted, None)
    head, block = text[: fwd.start()], text[fwd.end() :]
    headers: dict[str, str] = {}
    lines = block.split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    while i < len(lines):
        m = _HEADER_LINE.match(lines[i])
        if not m:
            break
        name = m.group("name").lower()
        key = {"de": "from", "envoyé": "sent", "envoye": "sent", "date": "sent", "objet": "subject"}.get(name, name)
        headers.setdefault(key, m.group("value").strip())
        i += 1
    body = "\n".join(lines[i:])
    own_head, quoted_head = _split_quotes(head)
    own_body, quoted_body = _split_quotes(body)
    addr = _EMAIL.search(headers.get("from", ""))
    return Regions(
        primary=own_head,
        forwarded=own_body,
        quoted="\n".join(q for q in (quoted_head, quoted_body) if q),
        forwarded_from=addr.group(0).lower() if addr else None,
        forwarded_subject=headers.get("subject", ""),
        forwarded_sent=headers.get("sent", ""),
    )


def _line_at(text: str, pos: int, reach: int = 300) -> tuple[int, str]:
    """(start, text) of the line around `pos`, at most `reach` characters either side."""
    low = max(0, pos - reach)
    start = text.rfind("\n", low, pos) + 1 or low
    end = text.find("\n", pos, pos + reach)
    return start, text[start : end if end >= 0 else min(len(text), pos + reach)]


def _clause_before(text: str, pos: int, limit: int = 90) -> str:
    """The words of the sentence before `pos` (from the last sentence end or line start)."""
    low = max(0, pos - limit)
    start = text.rfind("\n", low, pos) + 1 or low
    chunk = text[start:pos]
    cut = max(chunk.rfind(". "), chunk.rfind("! "), chunk.rfind("? "))
    return chunk[cut + 1 :] if cut >= 0 else chunk


# ---------------------------------------------------------------- numbers


@dataclass(frozen=True)
class _Number:
    value: str | None  # None: written like a number of that kind, but malformed
    canonical: bool


def _claim_candidates(text: str, rules: ExtractionRules) -> list[_Number]:
    out = []
    for m in rules.claim_re().finditer(text):
        seq_raw = m.group("seq")
        year, seq = int(m.group("year")), int(seq_raw)
        if len(seq_raw) > rules.max_claim_serial_digits or seq == 0:
            out.append(_Number(None, False))
            continue
        value = rules.claim_number_format.format(year=year, seq=seq)
        out.append(_Number(value, value in m.group(0).upper()))
    return out


def _policy_candidates(text: str, rules: ExtractionRules) -> list[_Number]:
    out = []
    for m in rules.policy_re().finditer(text):
        digits = re.sub(r"\D", "", m.group("digits"))
        if len(digits) != rules.policy_digits or digits[0] == "0":
            out.append(_Number(None, False))
            continue
        value = rules.policy_number_format.format(digits=digits)
        out.append(_Number(value, value in m.group(0).upper()))
    return out


def _pick_number(cands: list[_Number]) -> tuple[str | None, float]:
    """Most frequent well-formed value; conflicts and malformed look-alikes lower the confidence."""
    values = [c.value for c in cands if c.value]
    if not values:
        return None, 0.0
    best = Counter(values).most_common(1)[0][0]
    conf = 0.99 if any(c.value == best and c.canonical for c in cands) else 0.95
    if len(set(values)) > 1:
        conf -= 0.25
    if len(values) < len(cands):
        conf -= 0.1
    return best, conf


def _find_claim(regions: Regions, subject: str, rules: ExtractionRules) -> tuple[str | None, float]:
    own = _claim_candidates(subject, rules)
    for text in (regions.forwarded_subject, regions.claim_text, regions.primary if regions.is_forward else ""):
        if text:
            own += _claim_candidates(text, rules)
    if own:
        # A malformed number in the mail's own words is its claim number: never replace it by an old one.
        return _pick_number(own)
    # A follow-up may name its claim only in the quoted mail it answers.
    value, conf = _pick_number(_claim_candidates(regions.quoted, rules))
    return value, conf * 0.8


def _find_policy(regions: Regions, subject: str, rules: ExtractionRules) -> tuple[str | None, float]:
    cands = _policy_candidates(regions.claim_text, rules)
    if regions.is_forward:
        cands += _policy_candidates(regions.forwarded_subject, rules) + _policy_candidates(regions.primary, rules)
    cands += _policy_candidates(subject, rules)
    return _pick_number(cands)


# ---------------------------------------------------------------- dates

_MONTHS = {
    "january": 1, "jan": 1, "janvier": 1, "janv": 1,
    "february": 2, "feb": 2, "fevrier": 2, "fevr": 2, "fev": 2,
    "march": 3, "mar": 3, "mars": 3,
    "april": 4, "apr": 4, "avril": 4, "avr": 4,
    "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juin": 6,
    "july": 7, "jul": 7, "juillet": 7, "juil": 7,
    "august": 8, "aug": 8, "aout": 8,
    "september": 9, "sep": 9, "sept": 9, "septembre": 9,
    "october": 10, "oct": 10, "octobre": 10,
    "november": 11, "nov": 11, "novembre": 11,
    "december": 12, "dec": 12, "decembre": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
}  # fmt: skip
# Written months are matched as any word, then looked up (a regex alternation of names is slow).
_MONTH_WORD = r"(?P<mon>[A-Za-zéûÉÛ]{3,9})\.?"
_YEAR = r"(?P<y>(?:19|20)\d{2})"
_DATE_PATTERNS = [
    ("iso", 0.97, re.compile(r"(?<![\d/.-])(?P<y>(?:19|20)\d{2})-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)(?![\d-])")),
    (
        "dmy",
        0.95,
        re.compile(
            r"(?<![\d/.,])(?P<d>[0-3]?\d)(?P<sep>[/.])(?P<m>[01]?\d)(?P=sep)(?P<y>(?:19|20)?\d{2})(?!\d|[/.]\d)"
        ),
    ),
    (
        "d_month_y",
        0.97,
        re.compile(
            rf"(?<![\w/.,])(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|e)?\s+(?:of\s+)?{_MONTH_WORD}"
            rf"(?:,?\s+{_YEAR})?(?![\w])"
        ),
    ),
    (
        "month_d_y",
        0.97,
        re.compile(rf"(?<![\w])(?=[A-Za-z]){_MONTH_WORD}\s+(?:the\s+)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)?(?![\d:])"
                   rf"(?:,?\s+{_YEAR})?(?![\d:])"),
    ),
]
# Relative days, named by how many days they lie before the reference day.
_RELATIVE = re.compile(
    r"\b(?=[acdehjlmostvy])(?:(?P<d2>(?:the\s+)?day\s+before\s+yesterday|avant[- ]hier)"
    r"|(?P<d1>yesterday|last\s+night|(?<![\w-])hier)"
    r"|(?P<d0>today|tonight|earlier\s+today|this\s+(?:morning|afternoon|evening)|aujourd['’]hui"
    r"|ce\s+(?:matin|soir)|cet\s+apr[eè]s[- ]midi|cette\s+nuit)"
    r"|(?:on|last|this\s+past)\s+(?P<en>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|(?P<fr1>lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+dernier"
    r"|ce\s+(?P<fr2>lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche))\b",
    re.IGNORECASE,
)
_INCIDENT_LABEL = re.compile(
    r"^\s*(?:date\s+(?:of\s+(?:the\s+)?(?:incident|loss|accident|damage|event)|du\s+sinistre|de\s+l['’]accident"
    r"|de\s+l['’][ée]v[ée]nement|des\s+faits)|(?:incident|loss|accident)\s+date|date(?=\s*[:\-–]|\s+\d))",
    re.IGNORECASE,
)
_INCIDENT_WORDS = re.compile(
    r"happen|occur|incident|accident|sinistre|surven|produit|arriv|"
    r"stolen|vol[ée]|hit|crash|fire|feu|flood|inond|storm|hail|gr[êe]le|temp[êe]te|damag|endommag",
    re.IGNORECASE,
)


def _variant_set(*words: str) -> frozenset[str]:
    return frozenset().union(*(_typo_variants(w) for w in words))


_WORD = re.compile(r"[a-z]+")
# A date in a sentence about buying or registering the car, or a closed file, is not the loss
# (folded words; "immatricul..." is a stem).
_DATE_DECOY = _variant_set(
    "bought", "purchased", "acquired", "achete", "achetee", "achat", "registered", "renewal", "echeance",
    "closed", "cloture", "delivered", "livree", "immatriculee", "immatricule", "immatriculation",
) | {"born", "sent", "envoye", "wrote", "ecrit", "received", "recu", "paid", "verse", "versee"}
# ... and one right after "since" or "until" is the edge of a period, not an event.
_DATE_EDGE = _variant_set("since", "until", "depuis", "expires", "expiry", "valable", "valid") | {"till", "jusqu"}
_EDGE_FILLER = {"on", "le", "the", "au", "a", "l"}


def _words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def _is_date_decoy(before: str) -> bool:
    words = _words(before)
    if not _DATE_DECOY.isdisjoint(words):
        return True
    while words and words[-1] in _EDGE_FILLER:
        words.pop()
    return bool(words) and words[-1] in _DATE_EDGE


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "’": "'"})


def _fold(s: str) -> str:
    """Lower-case ASCII spelling: accents and ligatures dropped (`Fév.` -> `fev.`)."""
    s = s.lower().translate(_LIGATURES)
    if s.isascii():
        return s
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def _mk_date(y: int | None, m: int, d: int, latest: date | None) -> date | None:
    if y is not None and y < 100:
        y += 2000
    if y is None:
        if latest is None:
            return None
        y = latest.year
        try:
            cand = date(y, m, d)
        except ValueError:
            cand = None
        if cand is None or cand > latest:
            y -= 1
    try:
        return date(y, m, d)
    except ValueError:
        return None


@dataclass(frozen=True)
class _DateCand:
    pos: int
    end: int
    value: date
    conf: float
    inferred: bool
    relative: bool = False


def _taken(cands: list[_DateCand], size: int) -> bytearray:
    mask = bytearray(size)
    for c in cands:
        mask[c.pos : c.end] = b"\x01" * (c.end - c.pos)
    return mask


def _explicit_dates(text: str, latest: date | None) -> list[_DateCand]:
    found: list[_DateCand] = []
    taken = bytearray(len(text))  # characters already read as part of a date
    for _kind, conf, rx in _DATE_PATTERNS:
        for m in islice(rx.finditer(text), _MAX_CANDIDATES):
            if taken.find(1, m.start(), m.end()) >= 0:
                continue
            g = m.groupdict()
            if g.get("mon"):
                month = _MONTHS.get(_fold(g["mon"]).rstrip("."))
            else:
                month = int(g["m"])
            if not month or month > 12 or not 1 <= int(g["d"]) <= 31:
                continue
            year = int(g["y"]) if g.get("y") else None
            d = _mk_date(year, month, int(g["d"]), latest)
            if d is None:
                continue
            if year is None:
                c = 0.8  # the year is inferred
            else:
                c = conf if year >= 100 else conf - 0.03
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            found.append(_DateCand(m.start(), m.end(), d, c, year is None))
    return sorted(found, key=lambda c: c.pos)


def _relative_dates(text: str, ref: date | None, taken: list[_DateCand]) -> list[_DateCand]:
    if ref is None:
        return []
    out = []
    mask = _taken(taken, len(text) + 3)
    for m in islice(_RELATIVE.finditer(text), _MAX_CANDIDATES):
        if mask.find(1, m.start(), m.end() + 3) >= 0:
            continue  # "on Monday 4 March 2026" is a written date
        for days, group in ((2, "d2"), (1, "d1"), (0, "d0")):
            if m.group(group):
                out.append(_DateCand(m.start(), m.end(), ref - timedelta(days=days), 0.8, True, True))
                break
        else:
            wd = _WEEKDAYS[(m.group("en") or m.group("fr1") or m.group("fr2")).lower()]
            back = (ref.weekday() - wd) % 7 or 7
            out.append(_DateCand(m.start(), m.end(), ref - timedelta(days=back), 0.65, True, True))
    return out


def find_dates(text: str, received: date | None) -> list[tuple[int, date, float, bool]]:
    """All written dates in `text`: (position, date, format confidence, year inferred)."""
    return [(c.pos, c.value, c.conf, c.inferred) for c in _explicit_dates(text, received)]


def _pick_incident_date(
    texts: list[tuple[str, float]], ref: date | None, latest: date | None, day_uncertain: bool = False
) -> tuple[date | None, float]:
    """Best incident date over (text, weight) sources; decoys (purchase, quotes) never count.

    `ref` is the day relative words count from, `latest` the last day the writer can mean,
    `day_uncertain` says the writer's calendar day may differ from `ref` (time zones).
    """
    scored: list[tuple[float, date, float]] = []
    for order, (text, weight) in enumerate(texts):
        if not text:
            continue
        cands = _explicit_dates(text, latest)
        cands += _relative_dates(text, ref, cands)
        for c in cands:
            if latest is not None and c.value > latest:
                continue
            if _is_date_decoy(_clause_before(text, c.pos, 60)):
                continue
            _, line = _line_at(text, c.pos)
            score = weight - order * 0.01 - c.pos / (len(text) + 1) * 0.2
            if _INCIDENT_LABEL.match(line):
                score += 1.0
            elif _INCIDENT_WORDS.search(line):
                score += 0.5
            conf = c.conf
            if ref is not None and c.value > ref:
                conf -= 0.1  # only plausible if the writer's day was ahead of the received day
            if c.relative and day_uncertain:
                conf -= 0.15
            if ref is not None and (ref - c.value).days > 366:
                score -= 0.5
            scored.append((score, c.value, conf))
    if not scored:
        return None, 0.0
    scored.sort(key=lambda s: s[0], reverse=True)
    score, value, conf = scored[0]
    if any(v != value and score - s < 0.3 for s, v, _ in scored[1:]):
        conf -= 0.15
    if score < 1.0:
        conf -= 0.1
    return value, round(conf, 3)


# ---------------------------------------------------------------- amounts

_CUR_CODE = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "livre": "GBP", "livres": "GBP",
    "chf": "CHF",
}  # fmt: skip
# Thousands: a separator before exactly three digits; decimals: exactly two digits.
_NUM = r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+(?:[.,]\d{2})?(?![\d])|\d+(?:[.,]\d{2})?(?![\d])"
_AMOUNT = re.compile(
    r"(?=[€$£\deugc])(?:(?P<cb>€|us\$|\$|£|\b(?:eur|usd|gbp|chf)\b)[ \u00a0\u202f]?(?P<n1>" + _NUM + r")"
    r"|(?<![\d.,])(?P<n2>" + _NUM + r")[ \u00a0\u202f]?"
    r"(?P<ca>€|\$|£|\b(?:eur|euros?|usd|dollars?|gbp|pounds?|livres?(?: sterling)?|chf)\b))",
    re.IGNORECASE,
)
_AMOUNT_WORDS = re.compile(
    r"estimat|amount|cost|repair|quot|invoice|total|damage|loss|worth|value|price|around|about|approx|"
    r"montant|devis|co[uû]t|r[ée]paration|environ|valeur|valait|pr[ée]judice|d[ée]g[aâ]ts|estim|s'[ée]l[eè]ve|"
    r"factur",
    re.IGNORECASE,
)
# The excess (franchise) and what was paid are never the estimated amount of the loss.
_AMOUNT_DECOY = _variant_set(
    "excess", "deductible", "franchise", "premium", "cotisation", "mileage", "kilometrage", "refund", "refunded",
    "rembourse", "remboursee",
) | {"prime", "paid", "verse", "versee", "paye", "payee"}


def parse_number(raw: str, currency: str | None = None) -> Decimal | None:
    """'1.234,56' -> 1234.56, '2,500' -> 2500, '1 234,56' -> 1234.56, '1.234' -> 1234, '12,5' -> 12.5."""
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
    cands = []
    for m in islice(_AMOUNT.finditer(text), _MAX_CANDIDATES):
        currency = _CUR_CODE.get((m.group("cb") or m.group("ca") or "").lower().split(" ")[0])
        value = parse_number(m.group("n1") or m.group("n2"), currency)
        if value is None or value <= 0:
            continue
        before = _clause_before(text, m.start())
        if not _AMOUNT_DECOY.isdisjoint(_words(before)):
            continue
        _, line = _line_at(text, m.start())
        score = 1.0 - m.start() / (len(text) + 1) * 0.2
        if _AMOUNT_WORDS.search(before) or _AMOUNT_WORDS.search(line):
            score += 1.0
        cands.append((score, value, currency))
    if not cands:
        return None, None, 0.0
    best = max(cands, key=lambda c: c[0])
    conf = 0.95 if best[0] >= 1.5 else 0.75
    if any(v != best[1] and best[0] - s < 0.5 for s, v, _ in cands):
        conf -= 0.2
    return best[1], best[2], conf


# ---------------------------------------------------------------- loss type

# General loss vocabulary (folded: lower case, no accents); a hyphen or apostrophe splits words.
# Weights say how specific a word is to its type; phrases of several words are matched whole.
_LOSS_LEXICON: dict[str, dict[float, str]] = {
    "auto_collision": {
        3.0: "collision collisions collided collide colliding crash crashed crashing sideswiped sideswipe "
             "rammed carambolage accrochage accroche accrochee percute percutee percuter percutant embouti "
             "emboutie emboutir emboute heurte heurtee heurter heurtant tamponne tamponnee telescopage telescope "
             "|rear ended|rear ending|rear end|t boned|pile up|head on|fender bender|ran into|drove into|"
             "backed into|reversed into|crashed into|smashed into|ploughed into|plowed into|went into the back|"
             "hit the back|hit my car|hit me|hit us|lost control|constat amiable|accident de la circulation|"
             "road accident|car accident|a recule dans|reculer dans|recule dans|sortie de route|refus de priorite|"
             "tole froissee|",
        2.0: "hit hits struck bumper bumpers guardrail glissiere skidded skid swerved overturned roundabout "
             "ditch fosse lamppost bollard kerb froisse froissee "
             "|other driver|another driver|autre conducteur|other vehicle|another car|another vehicle|"
             "autre vehicule|autre voiture|pare chocs|feu rouge|red light|stop sign|marche arriere|rolled over|",
        1.0: "bumped reversed reversing recule reculant verglas glisse crashes scrape scraped lorry van "
             "camionnette camion",
        0.5: "accident accidents dent dents dented choc",
    },
    "auto_glass": {
        3.0: "windscreen windscreens windshield windshields parebrise vitrage "
             "|pare brise|lunette arriere|rear window|side window|back window|quarter glass|vitre laterale|"
             "bris de glace|glass breakage|",
        2.0: "glass vitre vitres chip chipped crack cracked cracks fissure fissuree fissures fendu fendue "
             "shattered eclate eclatee gravillon gravillons fele felee felure",
        1.2: "window windows impact gravel stone pebble caillou sunroof headlight headlights phare phares",
    },
    "theft": {
        3.0: "stolen stole steal steals stealing theft thefts thief thieves vole volee voles volees voler voleur "
             "voleurs derobe derobee derober cambriolage cambriole cambriolee effraction burglary burglar "
             "burglars robbed robbery carjacking carjacked hijacked subtilise subtilisee "
             "|broke into|broken into|break in|forced the lock|serrure forcee|pot catalytique|"
             "catalytic converter|tentative de vol|",
        2.5: "fracture fracturee fracturer",
        2.0: "vol",
        1.0: "missing disparu disparue",
    },
    "fire": {
        3.0: "fire fires incendie incendies incendiee flames flammes blaze ablaze burnt burned calcine calcinee "
             "carbonise carbonisee torched arson "
             "|caught fire|on fire|set fire|set alight|pris feu|prit feu|en feu|burnt out|burned out|",
        2.5: "burning brule brulee bruler feu",
        1.5: "smoke fumee explosion melted |short circuit|court circuit|",
    },
    "water_damage": {
        3.0: "flood flooded flooding floods submerged submerge inonde inondee inondation inondations crue "
             "infiltration noye noyee waterlogged immerge immergee submersion "
             "|water damage|degat des eaux|degats des eaux|burst its banks|flash flood|under water|"
             "montee des eaux|",
        2.5: "leak leaked leaking leaks fuite underwater deborde debordement",
        1.5: "water eau eaux",
        1.0: "rain pluie pluies river riviere damp humidite",
    },
    "storm": {
        3.0: "hail hailstorm hailstones hailstone grelons storm storms windstorm grele tempete tempetes orage "
             "orages tornado tornade hurricane ouragan cyclone lightning foudre intemperies cabosse cabossee "
             "bourrasque bourrasques rafale rafales "
             "|tree fell|fallen tree|branch fell|high winds|coup de vent|chute d arbre|evenement climatique|",
        2.0: "winds wind vent vents tiles tuiles tree arbre branch branche branches gusts",
        1.0: "climatique weather neige snow",
    },
    "liability": {
        3.0: "cyclist cyclists cycliste cyclistes pedestrian pedestrians pieton pietonne pietons vitrine liability "
             "tiers |third party|shop window|shop front|responsabilite civile|garden wall|someone else s|"
             "other party s|",
        2.0: "neighbour neighbours neighbor neighbors voisin voisine voisins portail gate fence cloture muret "
             "letterbox mailbox facade haie hedge |knocked down|garage door|porte de garage|boite aux lettres|",
        0.5: "wall mur hurt",
    },
    "other": {
        3.0: "vandal vandals vandalism vandalised vandalized vandale vandales vandalisme vandalise vandalisee "
             "keyed marten martens fouine rodent rodents rongeur rongeurs graffiti "
             "|other vandalism|",
        2.0: "slashed chewed gnawed ronge rongee rongees raye rayee rayure rayures retroviseur retroviseurs mirror "
             "mirrors crevaison punctured tagged tague rats mice souris |wing mirror|wing mirrors|",
        1.0: "scratched scratches tyres tires pneus crever creve arrache animal deer boar sanglier chevreuil "
             "degradation degradations",
    },
}
# Only meaningful as the value of a "Type of loss:" line.
_LABEL_ONLY = {"other": "other", "autre": "other", "autres": "other", "divers": "other", "misc": "other"}
_WORD_WEIGHT: dict[str, tuple[str, float]] = {}
_PHRASE_WEIGHT: dict[str, tuple[str, float]] = {}
for _loss, _groups in _LOSS_LEXICON.items():
    for _w, _spec in _groups.items():
        _singles, *_rest = _spec.split("|", 1)
        for _word in _singles.split():
            _WORD_WEIGHT[_word] = (_loss, _w)
        for _phrase in (_rest[0] if _rest else "").split("|"):
            if _phrase.strip():
                _PHRASE_WEIGHT[_phrase.strip()] = (_loss, _w)
_VOCAB = set(_WORD_WEIGHT) | {t for p in _PHRASE_WEIGHT for t in p.split()}
# Symmetric-delete index: one deletion of a vocabulary word -> the words it comes from.
_DELETES: dict[str, set[str]] = {}
for _word in _VOCAB:
    if len(_word) >= 5:
        for _i in range(1, len(_word)):
            _DELETES.setdefault(_word[:_i] + _word[_i + 1 :], set()).add(_word)
_PHRASE_RX = re.compile(
    r"(?<![a-z])(?:" + "|".join(sorted(map(re.escape, _PHRASE_WEIGHT), key=len, reverse=True)) + r")(?![a-z])"
)
_TOKEN = re.compile(r"[A-Za-z]+")
# Proper names carry no loss meaning (a Mr Brûlé is not a fire): a capitalised run after a
# lower-case word or a comma, and a line of capitalised words only (signatures, company names).
_NAME_MID = re.compile(r"(?<=[a-z,] )[A-Z][\w'-]*(?:[ -][A-Z][\w'-]*)*")
_NAME_LINE = re.compile(r"(?m)^[ \t]*[A-Z][\w'-]*(?:[ \t]+(?:[A-Z][\w'-]*|&|de|du|le|la))*[ \t]*,?[ \t]*$")
_LOSS_LABEL = re.compile(
    r"^[ \t]*(?:type\s+of\s+(?:loss|claim|damage|incident)|loss\s+type|claim\s+type|damage\s+type|"
    r"nature\s+of\s+(?:the\s+)?(?:loss|damage|claim|incident)|type\s+de\s+(?:sinistre|dommage)|"
    r"nature\s+du\s+(?:sinistre|dommage)|nature\s+des\s+dommages)[ \t]*(?:[:\-–][ \t]*|\t|[ \t])(?P<label>\S.*)$",
    re.IGNORECASE | re.MULTILINE,
)


_FUZZY_MEMO: dict[str, tuple[str, ...]] = {}
# Real words one deletion away from a five-letter keyword ("cash" from "crash", "très" from
# "tyres"): never read as a typo; keep in step with the vocabulary. Four-letter tokens are
# only ever read as a five-letter keyword that lost a letter.
_SHORT_REAL_WORDS = frozenset({
    "aron", "atre", "bank", "bans", "beak", "bise", "bite", "bond", "bone", "brie", "bust", "cash", "cour",
    "cout", "cree", "curt", "cute", "dens", "dove", "fend", "firs", "flee", "font", "food", "frot", "fume",
    "fute", "gele", "glas", "guts", "mure", "muet", "orge", "oter", "part", "plie", "pore", "port", "pote",
    "rive", "rote", "roue", "rout", "seal", "shot", "sole", "sort", "stal", "tage", "tier", "ties", "tirs",
    "tres", "vets", "vire", "vite", "wins",
})


def _fuzzy(token: str) -> tuple[str, ...]:
    """Memoised `_fuzzy_lookup`: the words of mail repeat a lot."""
    found = _FUZZY_MEMO.get(token)
    if found is None:
        if len(_FUZZY_MEMO) > 50_000:
            _FUZZY_MEMO.clear()
        found = _FUZZY_MEMO[token] = _fuzzy_lookup(token)
    return found


def _fuzzy_lookup(token: str) -> tuple[str, ...]:
    """The vocabulary words one typo away from `token` (deletion, duplication, transposition).

    As in `_typo_variants`, the first letter is taken as right.
    """
    found = set(_DELETES.get(token, ()))  # a letter was dropped
    if len(token) < 5:
        return () if token in _SHORT_REAL_WORDS else tuple(sorted(found))
    for i in range(1, len(token)):
        if token[i] == token[i - 1]:  # a letter was doubled
            d = token[:i] + token[i + 1 :]
            if d in _VOCAB and len(d) >= 5:
                found.add(d)
        if i + 1 < len(token):
            t = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if t in _VOCAB:
                found.add(t)
    return tuple(sorted(found))


# Field labels that name no loss: "Date de l'accident", "Date of loss", "Accident report".
_LOSS_NOISE = re.compile(
    r"\bdate\s+(?:of\s+(?:the\s+)?|de\s+l['’]\s*|du\s+|d['’]\s*)?(?:accident|incident|sinistre|loss)"
    r"|\b(?:accident|incident|loss)\s+(?:date|report)|\bdeclaration\s+of\s+loss",
    re.IGNORECASE,
)


def _loss_scores(text: str) -> tuple[dict[str, float], bool]:
    """Score each loss type over `text`; also say whether any evidence needed a typo correction."""
    text = _LOSS_NOISE.sub(" ", _EMAIL.sub(" ", text))
    text = _NAME_LINE.sub(" ", _NAME_MID.sub(" ", text))
    folded = _fold(text)
    canon = []
    fuzzy_used = False
    scores: dict[str, float] = {}
    for token in _TOKEN.findall(folded):
        if token not in _VOCAB and len(token) >= 4:
            readings = _fuzzy(token)
            if len(readings) == 1:
                token, fuzzy_used = readings[0], True
            elif readings:
                # "stoe" is "stole" or "stone": each reading gets its share of the evidence.
                fuzzy_used = True
                for reading in readings:
                    hit = _WORD_WEIGHT.get(reading)
                    if hit:
                        scores[hit[0]] = scores.get(hit[0], 0.0) + hit[1] / len(readings)
        hit = _WORD_WEIGHT.get(token)
        if hit:
            scores[hit[0]] = scores.get(hit[0], 0.0) + hit[1]
        canon.append(token)
    joined = " ".join(canon)
    for m in _PHRASE_RX.finditer(joined):
        loss, w = _PHRASE_WEIGHT[m.group(0)]
        scores[loss] = scores.get(loss, 0.0) + w
        for token in m.group(0).split():  # the phrase explains its words: "feu rouge" is no fire
            hit = _WORD_WEIGHT.get(token)
            if hit:
                scores[hit[0]] -= hit[1]
    return {k: v for k, v in scores.items() if v > 0}, fuzzy_used


def _loss_from_label(value: str) -> str | None:
    norm = _fold(value).strip().replace(" ", "_")
    for loss in LOSS_TYPES:
        if norm.startswith(loss):
            return loss
    scores, _ = _loss_scores(value.lower())
    if scores:
        return max(scores, key=scores.get)
    for token in _TOKEN.findall(_fold(value)):
        if token in _LABEL_ONLY:
            return _LABEL_ONLY[token]
    return None


def _pick_loss_type(text: str, support: str = "") -> tuple[str | None, float]:
    """Loss type from a "Type of loss:" line, else from the wording; `support` only breaks ties."""
    for m in _LOSS_LABEL.finditer(text):
        loss = _loss_from_label(m.group("label"))
        if loss:
            return loss, 0.96
    scores, fuzzy_used = _loss_scores(text)
    if not scores:
        return None, 0.0
    if support:
        for loss, s in _loss_scores(support)[0].items():
            if loss in scores:
                scores[loss] += 0.5 * s
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    top, top_score = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (top_score - runner) / top_score
    conf = 0.55 + 0.4 * margin
    if top_score < 2.0:
        conf -= 0.15
    if fuzzy_used:
        conf -= 0.05
    return top, round(max(conf, 0.3), 3)


# ---------------------------------------------------------------- contact

_EMAIL_LABEL = re.compile(
    r"^[ \t]*(?:e-?mail|courriel|adresse e-?mail|email address)[ \t]*:?[ \t]*([\w.+'-]+@[\w-]+(?:\.[\w-]+)+)",
    re.IGNORECASE | re.MULTILINE,
)
_PHONE = re.compile(
    r"(?=[+(\d])(?:(?P<intl>(?<![\w+])\+[ \t]?\d{1,3}(?:[ \t.-]?\(0\))?(?:[ \t.-]?\d){6,13})(?!\d)"
    r"|(?P<fr>(?<![\w+.,/-])0[1-9](?:[ \t.-]?\d{2}){4})(?![\d])"
    r"|(?<![\w+-])\((?P<a>\d{3})\)[ \t]?(?P<b>\d{3})[ \t.-]?(?P<c>\d{4})(?!\d)"
    r"|(?<![\w+.,/-])(?P<a2>\d{3})(?P<s>[.-])(?P<b2>\d{3})(?P=s)(?P<c2>\d{4})(?![\d]))"
)
_PHONE_LABEL = re.compile(
    r"t[ée]l|phone|mobile|portable|cell|gsm|joindre|reach|call|appel|contact|num[ée]ro|number", re.IGNORECASE
)
# Registration and company numbers are not phones; a fax does not answer.
_PHONE_DECOY = re.compile(r"orias|siret|siren|rcs|tva|vat|iban|fax|télécopie|telecopie", re.IGNORECASE)
# Country codes whose national numbers have a trunk 0 that E.164 drops ("+33 06..." is +336...).
_TRUNK_ZERO = ("33", "44", "32", "41", "49", "31")


def _normalize_phone(m: re.Match) -> str | None:
    if m.group("intl"):
        raw = m.group("intl").replace("(0)", "")
        digits = re.sub(r"\D", "", raw)
        for cc in _TRUNK_ZERO:
            if digits.startswith(cc + "0"):
                digits = cc + digits[len(cc) + 1 :]
                break
        return "+" + digits if 8 <= len(digits) <= 15 else None
    if m.group("fr"):
        return "+33" + re.sub(r"\D", "", m.group("fr"))[1:]
    if m.group("a"):
        return f"+1{m.group('a')}{m.group('b')}{m.group('c')}"
    return f"+1{m.group('a2')}{m.group('b2')}{m.group('c2')}"


def _pick_phone(text: str) -> tuple[str | None, float]:
    cands = []
    for m in islice(_PHONE.finditer(text), _MAX_CANDIDATES):
        value = _normalize_phone(m)
        if not value:
            continue
        start, line = _line_at(text, m.start())
        before = text[max(start, m.start() - 40) : m.start()]
        if _PHONE_DECOY.search(before) or _PHONE_DECOY.search(line):
            continue
        labelled = bool(_PHONE_LABEL.search(before))
        cands.append((labelled, -m.start(), value))
    if not cands:
        return None, 0.0
    labelled, _, value = max(cands)
    conf = 0.95 if labelled else 0.85
    if len({v for _, _, v in cands}) > 1:
        conf -= 0.2
    return value, conf


# ---------------------------------------------------------------- whole mail

_WRITER_AHEAD_OF_UTC = timedelta(hours=3)  # Europe, up to Moscow time


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
    text = unicodedata.normalize("NFKC", text or "").replace("\r\n", "\n")
    subject = unicodedata.normalize("NFKC", subject or "")
    regions = split_regions(text, subject)
    claim_text = regions.claim_text
    note = regions.primary if regions.is_forward else ""
    conf: dict[str, float] = {}
    values: dict[str, object] = {}

    values["claim_number"], conf["claim_number"] = _find_claim(regions, subject, rules)
    values["policy_number"], conf["policy_number"] = _find_policy(regions, subject, rules)

    # received_at is taken as given. When it is in UTC, a writer in Europe may already be on
    # the next calendar day (and one in the Americas still on the previous one), so explicit
    # dates may reach a few hours ahead and relative words are less certain near midnight.
    ref = latest = received_at.date() if received_at else None
    day_uncertain = False
    if received_at is not None and received_at.utcoffset() == timedelta(0):
        latest = (received_at + _WRITER_AHEAD_OF_UTC).date()
        day_uncertain = received_at.hour >= 21 or received_at.hour < 5
    if regions.is_forward and regions.forwarded_sent:
        # Relative words in a forwarded mail count from the day it was first sent.
        sent = _explicit_dates(regions.forwarded_sent, latest)
        if sent and (latest is None or sent[0].value <= latest):
            ref, day_uncertain = sent[0].value, False
    values["incident_date"], conf["incident_date"] = _pick_incident_date(
        [(claim_text, 1.0), (note, 0.6), (subject, 0.4)], ref, latest, day_uncertain
    )

    amount, currency, c = _pick_amount(claim_text)
    if amount is None and note:
        amount, currency, c = _pick_amount(note)
        c *= 0.9
    values["estimated_amount"], conf["estimated_amount"] = amount, c
    values["currency"], conf["currency"] = currency, (c if currency else 0.0)

    support = " . ".join(s for s in (subject, regions.forwarded_subject) if s)
    loss, c = _pick_loss_type(claim_text, support)
    if loss is None and note:
        loss, c = _pick_loss_type(note, support)
        c *= 0.9
    values["loss_type"], conf["loss_type"] = loss, c

    # A broker's own signature phone is not the customer's: only the claim text counts.
    values["contact_phone"], conf["contact_phone"] = _pick_phone(claim_text)

    labelled = _EMAIL_LABEL.search(claim_text)
    if labelled:
        values["contact_email"], conf["contact_email"] = labelled.group(1).lower(), 0.9
    elif regions.is_forward and regions.forwarded_from:
        values["contact_email"], conf["contact_email"] = regions.forwarded_from, 0.9
    elif sender:
        values["contact_email"], conf["contact_email"] = sender.lower(), 0.95 if not regions.is_forward else 0.6
    else:
        values["contact_email"], conf["contact_email"] = None, 0.0

    description = claim_text.strip()[: rules.max_description_chars]
    values["description"], conf["description"] = (description or None), (0.9 if description else 0.0)
    values["photos"], conf["photos"] = list(photos), (1.0 if photos else 0.0)

    confidence = {k: round(float(v), 3) for k, v in conf.items() if values.get(k) not in (None, [])}
    provenance = {k: PROVENANCE for k in confidence}
    return ClaimFields(**values, confidence=confidence, provenance=provenance)


def is_canonical_claim_number(value: str | None) -> bool:
    return bool(value and _CANONICAL_CLAIM.match(value))


def is_canonical_policy_number(value: str | None) -> bool:
    return bool(value and _CANONICAL_POLICY.match(value))
