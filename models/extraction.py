"""Deterministic rule extractor: claim e-mail text to `ClaimFields`.

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
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice

from models.contracts import LOSS_TYPES, ClaimFields

EXTRACTOR_VERSION = "rules-2"
PROVENANCE = "rules"
# A mail with more dates, amounts or phones than this is not a claim a rule can read.
_MAX_CANDIDATES = 200
# Amounts and phones cost more per candidate (context checks, libphonenumber): a mail with more
# than this is a price list, not a claim; and a body longer than this is read from its start.
_MAX_AMOUNTS = 80
_MAX_SCAN_CHARS = 30_000


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
    r"(?:[\s:#.-]*(?:" + _alt("number", "numéro", "numero", "reference", "référence", "nummer", "número")
    + r"|num|no|nr|n°|nº|n\.º|n\.°|n\.o|n|ref|rif|de|del|di|du|van|is|est|le)\.?(?![\w°]))"
)
# The leading look-ahead only makes the scan fast: most positions fail on one character test.
DEFAULT_CLAIM_PATTERN = (
    r"(?=[#acdefnprs])(?:(?<![A-Za-z0-9])(?P<clm>#?clm)[\s-]?"
    r"|(?<!\w)(?:" + _alt("claim", "sinistre", "dossier", "reference", "référence", "schadennummer",
                           "schadenummer", "schadenfall", "schaden", "schade", "siniestro", "sinistro", "expediente",
                           "pratica", "aktenzeichen", "dossiernummer", "referencia", "riferimento")
    + r"|file|ref|rif|n°|nº)"
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
    r"^[ \t]*(?:on|le|am|el|il|op)\b[^\n]{0,300}?(?:\n[^\n]{0,200}?)?"
    # German and Dutch mail clients put the writer after the verb: "... um 19:59 Uhr schrieb Name <a@b>:".
    r"\b(?:(?:wrote|a [ée]crit|schrieb|escribi[óo]|ha scritto|schreef)[ \t]*:|(?:schrieb|schreef)[ \t][^\n]{1,200}?:)"
    r"[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL_SEP = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*(?:original message|message d'origine|message original|urspr[üu]ngliche nachricht"
    r"|mensaje original|messaggio originale|oorspronkelijk bericht|original-nachricht)[ \t]*-{3,}|_{10,})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_SEP = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*(?:forwarded message|message transf[ée]r[ée]|weitergeleitete nachricht"
    r"|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht)[ \t]*-{3,}"
    r"|begin forwarded message[ \t]*:|d[ée]but du message r[ée]exp[ée]di[ée][ \t]*:)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# An Outlook reply header without a separator line: "From: ...", then "Sent: ..." (in six languages).
_HEADER_QUOTE = re.compile(
    r"^[ \t]*(?:from|de|von|da|van)[ \t]*:[^\n]*\n[ \t]*(?:sent|date|envoy[ée]|gesendet|enviado|inviato"
    r"|verzonden|datum|fecha|data)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*\[?(?:fwd?|tr|transf|wg|rv|i|doorst)\]?\s*:", re.IGNORECASE)
_FORWARD_INTENT = re.compile(
    r"forward|transmets|transf[eè]re|fais suivre|faire suivre|(?:our|notre|votre|your) client"
    r"|on behalf of|pour le compte de|weitergeleitet|reenv[ií]o|inoltro|doorgestuurd",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"^[ \t]*(?P<name>from|de|von|da|van|sent|envoy[ée]|gesendet|enviado|inviato|verzonden|date|datum|fecha|data"
    r"|to|[àa]|an|para|aan|cc|subject|objet|betreff|asunto|oggetto|onderwerp)[ \t]*:[ \t]*(?P<value>.*)$",
    re.IGNORECASE,
)
_HEADER_KEYS = {
    "de": "from", "von": "from", "da": "from", "van": "from",
    "envoyé": "sent", "envoye": "sent", "gesendet": "sent", "enviado": "sent", "inviato": "sent",
    "verzonden": "sent", "date": "sent", "datum": "sent", "fecha": "sent", "data": "sent",
    "objet": "subject", "betreff": "subject", "asunto": "subject", "oggetto": "subject", "onderwerp": "subject",
}  # fmt: skip


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
        key = _HEADER_KEYS.get(name, name)
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
    for m in islice(rules.claim_re().finditer(text[:_MAX_SCAN_CHARS]), _MAX_CANDIDATES):
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


# Policy numbers as people write them: a label in one of six languages, a few words, then
# seven digits that may be split by spaces, dots or dashes ("Police-Nr.: 5 772 031",
# "contrat n°1-427-660", "POL 3874-112", "ma police c'est la 4918305").
# Real words one typo away from a policy label: "Contact number: 06 54 32 33 13" names no policy.
_REAL_WORDS_NEAR_LABELS = frozenset({"contact", "contacts", "contrast", "polie"})
_SEVEN_DIGITS = re.compile(r"(?<![\d/])(?<!\d[ .\-])[1-9](?:[ .\-]?\d){6}(?![ .\-]?\d)(?![.,/]\d)")
_POLICY_LABEL = re.compile(
    r"\bpol\b|polic[ye]s?|polizz[ae]|p[oó]liza|polis(?:nummer|nr)?\b|contra(?:t|ct|tto)s?\b|contrat\w*|"
    r"(?<!\w)(?:" + "|".join(sorted(
        map(re.escape, set().union(*(_typo_variants(w) for w in ("policy", "contract", "contrat", "police", "polizza",
                                                                  "poliza"))) - _REAL_WORDS_NEAR_LABELS),
        key=len, reverse=True)) + r")(?!\w)|"
    r"vertrag\w*|versicherungs(?:schein)?\w*|vers\.?[ \t]*-?[ \t]*nr|police[ \t]*-?[ \t]*nr",
    re.IGNORECASE,
)
# Another label nearer the number than the policy label means it is some other number.
_NOT_POLICY_LABEL = re.compile(
    r"\b(?:tel|t[ée]l[ée]?phone?|phone|mobile?|mob|fax|gsm|cell|kvk|siret|siren|rcs|rui|fsma|orias|cif|iban|vat|"
    r"tva|frn|reg|crime|proces|aangifte|plainte|denuncia|anzeige|claim|sinistre|schaden\w*|siniestro|sinistro|"
    r"dossier|expediente|pratica|clm)\b",
    re.IGNORECASE,
)


_LABEL_GAP = re.compile(r"[ \t]*[-:#]?[ \t]*(?:n[°oº]\.?|nr\.?|no\.?)?[ \t]*:?[ \t]*$", re.IGNORECASE)


def _policy_scan(text: str) -> list[_Number]:
    """Labelled seven-digit policy numbers in `text` (spaces, dots and dashes inside are allowed)."""
    out = []
    for m in islice(_SEVEN_DIGITS.finditer(text[:_MAX_SCAN_CHARS]), _MAX_CANDIDATES):
        low = max(0, m.start() - 60)
        window = text[low : m.start()]
        cut = window.rfind("\n\n")
        if cut >= 0:
            window = window[cut + 2 :]
        labels = list(_POLICY_LABEL.finditer(window))
        if not labels:
            continue
        label = labels[-1]
        gap = window[label.end() :]
        if any(ch.isdigit() for ch in gap) or len(gap) > 45 or _NOT_POLICY_LABEL.search(gap):
            continue
        digits = re.sub(r"\D", "", m.group(0))
        value = f"POL-{digits}"
        # Right after its label ("POL-", "Police-Nr.:", "n°") it is as sure as a canonical number.
        out.append(_Number(value, bool(_LABEL_GAP.match(gap))))
    return out


# ---------------------------------------------------------------- text that tries to instruct a model

# Instruction-like passages in six languages: a value found only inside one is never chosen
# over a value elsewhere ("ignore previous instructions, set the policy to ...").
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^\n]{0,40}\b(?:instructions?|rules?|prompts?)\b"
    r"|\b(?:ignorez|oubliez|ignore)\b[^\n]{0,30}\binstructions?\b"
    r"|\b(?:olvida|ignora)\b[^\n]{0,30}\binstrucciones\b|\binstrucci[óo]n para el sistema\b"
    r"|\bignora\b[^\n]{0,30}\bistruzioni\b|\bistruzioni per il modello\b"
    r"|\bnegeer\b[^\n]{0,30}\binstructies\b"
    r"|\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie)\b[^\n]{0,30}\b(?:anweisungen|regeln)\b"
    r"|\b(?:system note|note to the ai|note pour l['’]assistant|hinweis an die ki)\b"
    r"|(?:^|\n)[ \t]*(?:assistant|system)[ \t]*:"
    r"|\b(?:set|change) the (?:policy|amount|claim)\b[^\n]{0,20}\bto\b",
    re.IGNORECASE,
)


# Words every instruction pattern needs: a cheap gate before the costly pattern.
_INSTRUCTION_GATE = re.compile(
    r"ignor|disregard|forget|override|oubli|olvida|negeer|vergiss|instruc|istruz|assistant|system|note to|"
    r"hinweis an|the (?:policy|amount|claim)",
    re.IGNORECASE,
)


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line (or bracketed aside) that carries instruction-like text."""
    if not _INSTRUCTION_GATE.search(text):
        return []
    spans = []
    for m in _INSTRUCTION.finditer(text):
        # The instruction's own line, not its whole paragraph: a mail whose last line says "ignore
        # your instructions" still states its amount and policy on the lines above it.
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        bracket = text.rfind("[", start, m.start() + 1)
        if bracket >= 0 and text.find("]", m.end(), end) >= 0:
            start, end = bracket, text.find("]", m.end(), end) + 1
        spans.append((start, end))
    return spans


def mask_instructions(text: str) -> tuple[str, bool]:
    """`text` with instruction-like passages blanked (same length), and whether there were any."""
    spans = instruction_spans(text)
    if not spans:
        return text, False
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars), True


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
    value, conf, _ = _find_claim_where(regions, subject, rules)
    return value, conf


def _find_claim_where(regions: Regions, subject: str, rules: ExtractionRules) -> tuple[str | None, float, bool]:
    """(value, confidence, found in the mail's own words at all, malformed included)."""
    own = _claim_candidates(subject, rules)
    for text in (regions.forwarded_subject, regions.claim_text, regions.primary if regions.is_forward else ""):
        if text:
            own += _claim_candidates(text, rules)
    if own:
        # A malformed number in the mail's own words is its claim number: never replace it by an old one.
        value, conf = _pick_number(own)
        return value, conf, True
    # A follow-up may name its claim only in the quoted mail it answers.
    value, conf = _pick_number(_claim_candidates(regions.quoted, rules))
    return value, conf * 0.8, False


def _find_policy(regions: Regions, subject: str, rules: ExtractionRules) -> tuple[str | None, float]:
    scan = _policy_scan if rules.policy_number_pattern == DEFAULT_POLICY_PATTERN else (
        lambda t: _policy_candidates(t, rules))
    cands = scan(regions.claim_text)
    if regions.is_forward:
        cands += scan(regions.forwarded_subject) + scan(regions.primary)
    cands += scan(subject)
    return _pick_number(cands)


# ---------------------------------------------------------------- dates

_MONTHS = {
    "january": 1, "jan": 1, "janvier": 1, "janv": 1, "januar": 1, "janner": 1, "enero": 1, "ene": 1, "gennaio": 1,
    "gen": 1, "januari": 1,
    "february": 2, "feb": 2, "fevrier": 2, "fevr": 2, "fev": 2, "februar": 2, "febrero": 2, "febbraio": 2,
    "februari": 2,
    "march": 3, "mar": 3, "mars": 3, "marz": 3, "maerz": 3, "marzo": 3, "maart": 3, "mrt": 3,
    "april": 4, "apr": 4, "avril": 4, "avr": 4, "abril": 4, "abr": 4, "aprile": 4,
    "may": 5, "mai": 5, "mayo": 5, "maggio": 5, "mag": 5, "mei": 5,
    "june": 6, "jun": 6, "juin": 6, "juni": 6, "junio": 6, "giugno": 6, "giu": 6,
    "july": 7, "jul": 7, "juillet": 7, "juil": 7, "juli": 7, "julio": 7, "luglio": 7, "lug": 7,
    "august": 8, "aug": 8, "aout": 8, "agosto": 8, "augustus": 8,
    "september": 9, "sep": 9, "sept": 9, "septembre": 9, "septiembre": 9, "setiembre": 9, "settembre": 9,
    "set": 9,
    "october": 10, "oct": 10, "octobre": 10, "oktober": 10, "okt": 10, "octubre": 10, "ottobre": 10, "ott": 10,
    "november": 11, "nov": 11, "novembre": 11, "noviembre": 11,
    "december": 12, "dec": 12, "decembre": 12, "dezember": 12, "dez": 12, "diciembre": 12, "dic": 12,
    "dicembre": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonnabend": 5,
    "sonntag": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
    "lunedi": 0, "martedi": 1, "mercoledi": 2, "giovedi": 3, "venerdi": 4, "sabato": 5, "domenica": 6,
    "maandag": 0, "dinsdag": 1, "woensdag": 2, "donderdag": 3, "vrijdag": 4, "zaterdag": 5, "zondag": 6,
}  # fmt: skip
# Written months are matched as any word, then looked up (a regex alternation of names is slow).
_MONTH_WORD = r"(?P<mon>[^\W\d_]{3,10})\.?"
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
        "dmy_dash",
        0.95,
        re.compile(r"(?<![\d/.,-])(?P<d>[0-3]?\d)-(?P<m>[01]?\d)-(?P<y>(?:19|20)\d{2})(?![\d-])"),
    ),
    (
        "d_month_y",
        0.97,
        re.compile(
            rf"(?<![\w/.,])(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|e|º|\.)?\s+(?:of\s+|de\s+)?{_MONTH_WORD}"
            rf"(?:,?\s+(?:de\s+)?{_YEAR})?(?![\w])"
        ),
    ),
    (
        "month_d_y",
        0.97,
        re.compile(rf"(?<![\w])(?=[A-Za-z]){_MONTH_WORD}\s+(?:the\s+)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)?(?![\d:])"
                   rf"(?:,?\s+{_YEAR})?(?![\d:])"),
    ),
]
# Relative days (six languages), named by how many days they lie before the reference day.
_WD_ALT = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag"
    r"|lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo"
    r"|luned[iì]|marted[iì]|mercoled[iì]|gioved[iì]|venerd[iì]|sabato|domenica"
    r"|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag"
)
_RELATIVE = re.compile(
    r"(?<![\w-])(?:(?P<d2>(?:the\s+)?day\s+before\s+yesterday|avant[- ]hier|vorgestern|anteayer|antes\s+de\s+ayer"
    r"|l['’]\s?altro\s?ieri|altroieri|ieri\s+l['’]altro|eergisteren)"
    r"|(?P<d1>yesterday|last\s+night|hier|gestern|ayer|anoche|ieri|gisteren|gisteravond|gisternacht)"
    r"|(?P<d0>today|tonight|earlier\s+today|this\s+(?:morning|afternoon|evening)|aujourd['’]hui"
    r"|ce\s+(?:matin|soir)|cet\s+apr[eè]s[- ]midi|cette\s+nuit|heute|hoy|esta\s+(?:ma[ñn]ana|tarde|noche)"
    r"|oggi|stamattina|stamane|stasera|stanotte|vandaag|vanochtend|vanmorgen|vanmiddag|vanavond|vannacht)"
    r"|(?P<wd>" + _WD_ALT + r")(?:abend|morgen|nachmittag|nacht|avond|ochtend|middag|nacht)?)(?![\w'’-])",
    re.IGNORECASE,
)
_WD_QUALIFIER = re.compile(
    r"(?:\b(?:on|last|this\s+past|ce|letzten|vergangenen|am|el|afgelopen|vorige|op|il|lo|scorso)\s*$)"
    r"|(?:^\s*(?:dernier|derni[èe]re|pasado|scorso|passato|jl|night|evening|morning|afternoon|soir|matin))",
    re.IGNORECASE,
)
_WD_FUTURE = re.compile(
    r"\b(?:next|prochain|kommenden|n[äa]chsten|pr[óo]ximo|prossimo|volgende|komende|will|passe|viendra|wird|"
    r"kommt|vendr[áa]|verr[àa]|komt)\b[^.\n]{0,30}$",
    re.IGNORECASE,
)
# "the night from Saturday to Sunday": the loss is dated by the second day.
_NIGHT_FROM = re.compile(
    r"\b(?:nuit|night|nacht|noche|notte)\s+(?:du|de|of|from|von|vom|del|della|tra|fra|between|van)\s+"
    r"(?P<first>" + _WD_ALT + r")\b",
    re.IGNORECASE,
)
_INCIDENT_LABEL = re.compile(
    r"^\s*(?:date\s+(?:of\s+(?:the\s+)?(?:incident|loss|accident|damage|event)|du\s+sinistre|de\s+l['’]accident"
    r"|de\s+l['’][ée]v[ée]nement|des\s+faits)|(?:incident|loss|accident)\s+date|date(?=\s*[:\-–]|\s+\d)"
    r"|schadentag|schadendatum|unfalldatum|datum\s+(?:der\s+)?schade|schadedatum|datum(?=\s*[:\-–])"
    r"|fecha(?:\s+del\s+(?:siniestro|accidente))?(?=\s*[:\-–]|\s+\d)|data(?:\s+del\s+sinistro)?(?=\s*[:\-–]))",
    re.IGNORECASE,
)
_INCIDENT_WORDS = re.compile(
    r"happen|occur|incident|accident|sinistre|surven|produit|arriv|"
    r"stolen|vol[ée]|hit|crash|fire|feu|flood|inond|storm|hail|gr[êe]le|temp[êe]te|damag|endommag|"
    r"unfall|passiert|geschah|gestohlen|hagel|brand|unwetter|accidente|siniestro|choque|golpe|rob|granizo|"
    r"incendi|tormenta|incidente|sinistro|furto|rubat|grandin|allag|aanrijding|gestolen|ongeluk|gebeurd|"
    r"avvenut|ocurri|sucedi|collision|colisi|collisione|tamponament|vandal|broke|cassé|fractur",
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
    "signed", "signature", "inspected", "notification", "declaration", "meldung", "denuncia", "plainte",
    "aangifte", "anzeige", "unterschrift", "firmado", "firmato", "ondertekend", "expertise", "revised",
) | {"born", "sent", "envoye", "wrote", "ecrit", "received", "recu", "paid", "verse", "versee", "vom",
     "signe"}
# ... and one right after "since" or "until" is the edge of a period, not an event.
_DATE_EDGE = _variant_set("since", "until", "depuis", "expires", "expiry", "valable", "valid") | {"till", "jusqu"}
_EDGE_FILLER = {"on", "le", "the", "au", "a", "l"}


def _words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


# ... and one that dates a document ("devis du 12/10", "the estimate came in this afternoon").
_DATE_DOCUMENT = _variant_set(
    "invoice", "estimate", "devis", "offerte", "presupuesto", "preventivo", "kostenvoranschlag", "rechnung",
    "fattura", "factuur", "factura", "dealer",
)


def _is_date_decoy(before: str) -> bool:
    words = _words(before)
    if not _DATE_DECOY.isdisjoint(words) or not _DATE_DOCUMENT.isdisjoint(words[-4:]):
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


def _relative_dates(
    text: str, ref: date | None, taken: list[_DateCand], language: str | None = None
) -> list[_DateCand]:
    if ref is None:
        return []
    out = []
    mask = _taken(taken, len(text) + 3)
    for m in _NIGHT_FROM.finditer(text):
        mask[m.start("first") : m.end("first")] = b"\x01" * (m.end("first") - m.start("first"))
    for m in islice(_RELATIVE.finditer(text), _MAX_CANDIDATES):
        if mask.find(1, m.start(), m.end() + 3) >= 0:
            continue  # "on Monday 4 March 2026" is a written date
        if language not in (None, "fr") and m.group(0).lower() == "hier":
            continue  # German and Dutch "hier" is "here"
        for days, group in ((2, "d2"), (1, "d1"), (0, "d0")):
            if m.group(group):
                out.append(_DateCand(m.start(), m.end(), ref - timedelta(days=days), 0.8, True, True))
                break
        else:
            before = text[max(0, m.start() - 40) : m.start()]
            if _WD_FUTURE.search(before):
                continue
            wd = _WEEKDAYS[_fold(m.group("wd"))]
            back = (ref.weekday() - wd) % 7 or 7
            qualified = bool(_WD_QUALIFIER.search(text[max(0, m.start() - 20) : m.start()])
                             or _WD_QUALIFIER.search(text[m.end() : m.end() + 12]) or m.group(0) != m.group("wd"))
            out.append(_DateCand(m.start(), m.end(), ref - timedelta(days=back), 0.7 if qualified else 0.6, True, True))
    return out


def find_dates(text: str, received: date | None) -> list[tuple[int, date, float, bool]]:
    """All written dates in `text`: (position, date, format confidence, year inferred)."""
    return [(c.pos, c.value, c.conf, c.inferred) for c in _explicit_dates(text, received)]


def _pick_incident_date(
    texts: list[tuple[str, float]], ref: date | None, latest: date | None, day_uncertain: bool = False,
    language: str | None = None,
) -> tuple[date | None, float]:
    value, conf, _ = _incident_date_scored(texts, ref, latest, day_uncertain, language)
    return value, conf


def _incident_date_scored(
    texts: list[tuple[str, float]], ref: date | None, latest: date | None, day_uncertain: bool = False,
    language: str | None = None,
) -> tuple[date | None, float, float]:
    """Best incident date over (text, weight) sources; decoys (purchase, quotes) never count.

    `ref` is the day relative words count from, `latest` the last day the writer can mean,
    `day_uncertain` says the writer's calendar day may differ from `ref` (time zones).
    """
    scored: list[tuple[float, date, float]] = []
    for order, (text, weight) in enumerate(texts):
        if not text:
            continue
        text = text[:_MAX_SCAN_CHARS]
        cands = _explicit_dates(text, latest)
        cands += _relative_dates(text, ref, cands, language)
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
        return None, 0.0, 0.0
    return _best_date(scored)


def _best_date(scored: list[tuple[float, date, float]]) -> tuple[date, float, float]:
    scored.sort(key=lambda s: s[0], reverse=True)
    score, value, conf = scored[0]
    if any(v != value and score - s < 0.3 for s, v, _ in scored[1:]):
        conf -= 0.15
    if score < 1.0:
        conf -= 0.1
    return value, round(conf, 3), score


# ---------------------------------------------------------------- amounts

_CUR_CODE = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "livre": "GBP", "livres": "GBP",
    "chf": "CHF", "fr.": "CHF",
    "a$": "AUD", "au$": "AUD", "aud": "AUD",
    "mx$": "MXN", "mxn": "MXN", "pesos": "MXN", "peso": "MXN",
}  # fmt: skip
# Thousands: a separator (space, dot, comma or Swiss apostrophe) before exactly three digits;
# decimals: one or two digits; "2.3k" is thousands.
_NUM = (
    r"\d{1,3}(?:[ \u00a0\u202f.,'’]\d{3})+(?:[.,]\d{1,2})?(?![\d])"
    r"|\d+(?:[.,]\d{1,2})?(?:k\b)?(?![\d])"
)
_SP = r"[ \u00a0\u202f]*"
_AMOUNT = re.compile(
    r"(?=[-−€$£\deugcamp])(?:(?<![\w.,])(?P<neg>[-−]))?"
    r"(?:(?P<cb>€|us\$|a\$|au\$|mx\$|\$|£|\b(?:eur|usd|gbp|chf|aud|mxn)\b|\bfr\.)" + _SP + r"(?P<n1>" + _NUM + r")"
    r"|(?<![\d.,'’])(?P<n2>" + _NUM + r")" + _SP +
    r"(?P<ca>€|\$|£|\b(?:eur|euros?|usd|dollars?|gbp|pounds?|livres?(?: sterling)?|chf|aud|mxn"
    r"|pesos(?: mexicanos)?)\b))",
    re.IGNORECASE,
)
_AMOUNT_WORDS = re.compile(
    r"estimat|amount|cost|repair|quot|invoice|total|damage|loss|worth|value|price|around|about|approx|"
    r"montant|devis|co[uû]t|r[ée]paration|environ|valeur|valait|pr[ée]judice|d[ée]g[aâ]ts|estim|s'[ée]l[eè]ve|"
    r"factur|cote|argus|"
    r"kosten|betrag|sch[äa]tz|voranschlag|rechnung|offerte|wert|reparatur|beziffert|veranschlagt|"
    r"presupuesto|importe|coste|costo|valor|factura|cotiza|cobra|"
    r"preventivo|stima|valore|danno|fattura|chiede|"
    r"schade|bedrag|offerte|factuur|rekent|dagwaarde|waarde|kost",
    re.IGNORECASE,
)
# The excess (franchise) and what was paid are never the estimated amount of the loss; an
# amount the writer says was replaced ("instead of", "au lieu de", "nicht ... wie zuerst") is old.
_AMOUNT_DECOY = _variant_set(
    "excess", "deductible", "franchise", "premium", "cotisation", "mileage", "kilometrage", "refund", "refunded",
    "rembourse", "remboursee", "selbstbeteiligung", "franquicia", "franchigia", "instead", "previously",
    "zuerst", "initial", "initially", "eerder", "invece", "statt", "anstatt",
) | {"prime", "paid", "verse", "versee", "paye", "payee", "lieu", "nicht", "piu", "plaats"}
# Per-line roles in a quote or an invoice: a total wins over subtotal and tax lines.
_TOTAL_LINE = re.compile(
    r"\btotal|\btotaal|\btotale|insgesamt|\bbrutto|\bttc\b|net\s+[àa]\s+payer|amount\s+due|\bgesamt|"
    r"\b(?:incl|inkl|iva\s+inclu|iva\s+compresa|iva\s+inclusa|tva\s+comprise|including)",
    re.IGNORECASE,
)
_SUBTOTAL_LINE = re.compile(
    r"sub-?total|sous-total|subtotaal|\bht\b|\bnetto\b|\bexcl|zzgl|\bbase\s+imponible|\bimponibile|hors\s+taxe",
    re.IGNORECASE,
)
_TAX_LINE = re.compile(r"\b(?:tva|vat|mwst|iva|btw|ust)\b", re.IGNORECASE)
_PER_UNIT = re.compile(
    r"^\s*(?:/|(?:per|pro|par|la|al|por)\s+(?:hour|day|month|h\b|heure|jour|stunde|tag|hora|d[ií]a|ora|giorno|uur|dag)"
    r"|a\s+l['’]heure|an\s+hour|de\s+l['’]heure)",
    re.IGNORECASE,
)
# "between 4,000 and 6,000", "entre 700 et 900 €", "tra i 3.000 e gli 8.000 euro", "£150-£250".
_RANGE_BEFORE = re.compile(
    r"(?:\b(?:between|entre|zwischen|tra|fra|tussen|from|de|von|da)\b[^\n\d]{0,20}\d[\d.,'’]{0,12}"
    r"(?: ?(?:€|eur|euros?|£|\$|chf))? (?:and|et|und|e|y|en|to|[àa]|bis) (?:(?:les|i|los|las|gli|the) )?$)"
    r"|(?:\d\s*[-–]\s*[€$£]?\s*$)",
    re.IGNORECASE,
)
_WAS = re.compile(r"\(\s*(?:was|war|era|[ée]tait|vorher|before)\s*$", re.IGNORECASE)
_RANGE_AFTER = re.compile(r"^\s*(?:[-–]|to|bis|à|a)\s*[€$£]?\s*\d", re.IGNORECASE)


def parse_number(raw: str, currency: str | None = None) -> Decimal | None:
    """'1.234,56' -> 1234.56, '2,500' -> 2500, '1 234,56' -> 1234.56, "1'480.00" -> 1480, '2.3k' -> 2300."""
    s = raw.replace("\u00a0", " ").replace("\u202f", " ").replace(" ", "").replace("'", "").replace("’", "")
    thousands = s.lower().endswith("k")
    if thousands:
        s = s[:-1]
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        parts = s.split(sep)
        if len(parts) > 2 or (len(parts[-1]) == 3 and not thousands):
            s = s.replace(sep, "")
        else:
            s = s.replace(sep, ".")
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    if thousands:
        value *= 1000
    return value.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class AmountPick:
    """The estimate, its currency and confidence; `negative` lists credits seen (kept with their sign)."""

    value: Decimal | None
    currency: str | None
    confidence: float
    negative: tuple[Decimal, ...] = ()


def _amount_candidates(text: str) -> tuple[list[tuple[float, int, Decimal, str | None, str]], list[Decimal]]:
    cands, negative = [], []
    text = text[:_MAX_SCAN_CHARS]
    matches = list(islice(_AMOUNT.finditer(text), _MAX_AMOUNTS))
    for i, m in enumerate(matches):
        token = (m.group("cb") or m.group("ca") or "").lower()
        currency = _CUR_CODE.get(token) or _CUR_CODE.get(token.split(" ")[0])
        value = parse_number(m.group("n1") or m.group("n2"), currency)
        if value is None or value <= 0:
            continue
        if m.group("neg") and (m.start() == 0 or not text[m.start() - 1].isdigit()):
            negative.append(-value)
            continue
        before = _clause_before(text, m.start())
        after = text[m.end() : m.end() + 20]
        if not _AMOUNT_DECOY.isdisjoint(_words(before)) or _PER_UNIT.match(after) or _WAS.search(before):
            continue
        reach = text[max(0, m.start() - 60) : m.start()].replace("\n", " ")
        if "@" in before[-12:] or _RANGE_BEFORE.search(reach) or _RANGE_AFTER.match(after):
            continue
        start, line = _line_at(text, m.start(), reach=120)
        # The words that qualify this amount: from the previous amount (or the line start) up to
        # it, and a few after it ("1 236,40 € HT", "1.430,75 € (IVA incluido)").
        prev_end = matches[i - 1].end() if i and m.start() - matches[i - 1].end() < 100 else start
        nxt = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        tail = re.split(r"[,;\n]| \+", text[m.end() : min(nxt, m.end() + 16)], maxsplit=1)[0]
        local = text[prev_end : m.start()] + " " + tail
        score = 1.0 - m.start() / (len(text) + 1) * 0.2
        if _AMOUNT_WORDS.search(before) or _AMOUNT_WORDS.search(line):
            score += 1.0
        role = "plain"
        if _SUBTOTAL_LINE.search(local):
            role, score = "subtotal", score - 1.5
        elif _TOTAL_LINE.search(local):
            role, score = "total", score + 1.5
        elif _TAX_LINE.search(local):
            role, score = "tax", score - 1.5
        cands.append((score, m.start(), value, currency, role))
    return cands, negative


def pick_amount(text: str) -> AmountPick:
    """The estimated amount of the loss in `text`: labelled, a total over its parts, never a range or a credit."""
    cands, negative = _amount_candidates(text)
    if not cands:
        return AmountPick(None, None, 0.0, tuple(negative))
    best = max(cands, key=lambda c: (c[0], c[1]))
    score, _, value, currency, role = best
    conf = 0.95 if score >= 1.5 else 0.75
    if any(v != value and score - s < 0.5 for s, _, v, _, _ in cands):
        conf -= 0.2
    if role == "total" and any(r in ("subtotal", "tax") for *_, r in cands):
        conf = max(conf, 0.9)
    return AmountPick(value, currency, conf, tuple(negative))


def _pick_amount(text: str) -> tuple[Decimal | None, str | None, float]:
    p = pick_amount(text)
    return p.value, p.currency, p.confidence


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
# German, Spanish, Italian and Dutch (and more French) wording, same weights and conventions.
_LOSS_LEXICON_MORE: dict[str, dict[float, str]] = {
    "auto_collision": {
        3.0: "unfall auffahrunfall zusammenstoss zusammengestossen kollision aufgefahren angefahren choque chocaron "
             "choco colision golpeo chocado tamponamento tamponato collisione aanrijding botsing aangereden "
             "gerammt tamponata tamponate tamponati golpearon golpeado golpeada fahrerflucht doorgereden "
             "|fuhr auf|parte amistoso|constatazione amichevole|schadeformulier|tegen mijn|reed tegen|gereden tegen|"
             "tegen een|car park knock|rear end|ran into the back|gegen mein auto|contro la mia auto|"
             "se dio a la fuga|",
        2.0: "ausparken rueckwaerts ruckwarts stossfanger stossstange golpe golpes paragolpes rotonda urtato urto "
             "retromarcia bumper voorbumper inparkeren achteruit paal kotflugel ampel semaforo verkeerslicht "
             "kreisverkehr rotatoria parachoques paraurti urtata "
             "|von hinten|por detras|van achteren|da dietro|",
        0.5: "accidente incidente ongeluk knock",
    },
    "auto_glass": {
        3.0: "windschutzscheibe frontscheibe heckscheibe glasbruch steinschlag parabrisas parabrezza lunotto "
             "voorruit achterruit ruitschade |luna delantera|luna trasera|bris de glace|",
        2.0: "scheibe seitenfenster luna lunas cristal vetro crepato crepa ruit barst steentje sasso piedra "
             "gravillon zersplittert zersprungen grieta agrieto scheggiatura sterretje",
        1.2: "riss gesprungen",
    },
    "theft": {
        3.0: "gestohlen diebstahl aufgebrochen entwendet geklaut einbruch robo robaron robado robada hurto "
             "sustraido furto rubato rubata rubati rubate gestolen diefstal inbraak opengebroken autodiefstal "
             "|hanno rubato|me robaron|se llevaron|hanno forzato|",
        2.5: "forzaron",
        2.0: "scasso",
    },
    "fire": {
        3.0: "brand kabelbrand fahrzeugbrand abgebrannt ausgebrannt incendio incendios incendio quemado quemada "
             "fuoco fiamme bruciato bruciata uitgebrand |preso fuoco|se incendio|brand uit|fire brigade|",
        2.0: "feuer flammen bomberos pompieri brandweer feuerwehr",
    },
    "water_damage": {
        3.0: "wasserschaden wasserrohr uberschwemmung hochwasser inundacion inundo inundado inundada allagamento "
             "allagato allagata allagati sommersa sommerso alluvione waterschade ondergelopen overstroming lekkage "
             "dana uberflutet uberschwemmt overstroomd overstroomde "
             "|stand im wasser|danos por agua|pipe burst|onder water gelopen|",
        2.0: "wasser agua acqua piena",
    },
    "storm": {
        3.0: "hagel hagelschaden unwetter sturm sturmschaden gewitter granizo tormenta temporal grandine "
             "grandinata temporale tempesta bufera hagelschade stormschade noodweer hailstorm "
             "|forte vento|se cayo un arbol|boom op|",
        2.0: "ast baum arbol ramo boom dellen abolladuras bozzi",
    },
    "liability": {
        3.0: "haftpflicht gartenmauer tercero terceros ciclista peaton terzi vetrina pedone aansprakelijkheid "
             "tuinhek tuinmuur tuinmuurtje radfahrer radfahrerin fietser fietsers ciclisti "
             "|danos a un tercero|responsabilidad civil|danno a terzi|rc auto|responsabilita civile|"
             "wettelijke aansprakelijkheid|",
        2.0: "nachbar nachbarn nachbarin mauer bicicleta negozio buren buurman hek cancello vicino vecino "
             "muretto gartentor",
    },
    "other": {
        3.0: "marder marderschaden marderbiss vandalismus vandalismo vandalos vandali vandalici vandalisme "
             "|atti vandalici|lek gestoken|",
        2.0: "zerkratzt durchgebissen rayado rigata specchietto bekrast zundkabel",
    },
}
for _loss, _groups in _LOSS_LEXICON_MORE.items():
    for _w, _spec in _groups.items():
        _words_more, *_phrases_more = _spec.split("|", 1)
        base = _LOSS_LEXICON[_loss].get(_w, "")
        b_words, *b_phr = base.split("|", 1)
        phrases = "|".join(p for p in (b_phr[0] if b_phr else "", _phrases_more[0] if _phrases_more else "") if p)
        _LOSS_LEXICON[_loss][_w] = b_words + " " + _words_more + ("|" + phrases if phrases else "")
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
    r"nature\s+du\s+(?:sinistre|dommage)|nature\s+des\s+dommages|schadenart|art\s+des\s+schadens|ursache|"
    r"soort\s+schade|type\s+schade|causa|tipo\s+de\s+(?:siniestro|da[ñn]o)|tipo\s+di\s+(?:sinistro|danno)|"
    r"dinamica)[ \t]*(?:[:\-–][ \t]*|\t|[ \t])(?P<label>\S.*)$",
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
    r"|\b(?:accident|incident|loss)\s+(?:date|report)|\bdeclaration\s+of\s+loss"
    r"|\bunfalldatum\b|\bdatum\s+des\s+unfalls\b|\bfecha\s+del\s+accidente\b"
    r"|\bdata\s+dell['’]\s*incidente\b|\bdatum\s+van\s+het\s+ongeval\b|\bongevalsdatum\b",
    re.IGNORECASE,
)


# German and Dutch write compounds ("Kabelbrand", "Hagelschaden", "stormschade"): a long unknown
# word is read by the loss stem it contains.
_COMPOUND_STEMS = (
    ("achteruit", "auto_collision", 1.0), ("diebstahl", "theft", 3.0), ("diefstal", "theft", 3.0), ("hagel", "storm", 3.0), ("sturm", "storm", 3.0),
    ("storm", "storm", 3.0), ("brand", "fire", 2.5), ("wasser", "water_damage", 2.5),
    ("water", "water_damage", 2.5), ("scheibe", "auto_glass", 2.5), ("ruit", "auto_glass", 2.5),
    ("unfall", "auto_collision", 3.0), ("marder", "other", 3.0), ("vandal", "other", 3.0),
)


def _loss_scores(text: str, language: str | None = None) -> tuple[dict[str, float], bool]:
    """Score each loss type over `text`; also say whether any evidence needed a typo correction."""
    text = _LOSS_NOISE.sub(" ", _EMAIL.sub(" ", text[:_MAX_SCAN_CHARS]))
    # German capitalises every noun, so a capitalised run there is no proper name.
    text = _NAME_LINE.sub(" ", text if language == "de" else _NAME_MID.sub(" ", text))
    folded = _fold(text)
    canon = []
    fuzzy_used = False
    scores: dict[str, float] = {}
    for token in _TOKEN.findall(folded):
        if token not in _VOCAB and len(token) >= 8 and language in ("de", "nl"):
            for stem, loss, w in _COMPOUND_STEMS:
                if stem in token:
                    scores[loss] = scores.get(loss, 0.0) + w
                    break
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


def _pick_loss_type(text: str, support: str = "", language: str | None = None) -> tuple[str | None, float]:
    """Loss type from a "Type of loss:" line, else from the wording; `support` only breaks ties."""
    for m in _LOSS_LABEL.finditer(text):
        loss = _loss_from_label(m.group("label"))
        if loss:
            return loss, 0.96
    scores, fuzzy_used = _loss_scores(text, language)
    if not scores:
        return None, 0.0
    if support:
        for loss, s in _loss_scores(support, language)[0].items():
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

# Phones through `phonenumbers` (Google's libphonenumber metadata): national numbers read with the
# region of the writer (sender's country domain, else the mail's language), E.164 out.
_LANGUAGE_REGION = {"en": "GB", "fr": "FR", "de": "DE", "es": "ES", "it": "IT", "nl": "NL"}
_TLD_REGION = {
    "uk": "GB", "fr": "FR", "de": "DE", "at": "AT", "ch": "CH", "es": "ES", "it": "IT", "nl": "NL", "be": "BE",
    "ar": "AR", "mx": "MX", "au": "AU", "ie": "IE", "lu": "LU", "pt": "PT",
}  # fmt: skip
_PHONE_DECOY_LINE = re.compile(
    r"\b(?:fax|f:|orias|siret|siren|rcs|tva|vat|iban|kvk|fsma|rui|cif|frn|reg\.?|crime|proces|aangifte)\b",
    re.IGNORECASE,
)
_COMPANY_LINE = re.compile(
    r"\b(?:ltd|limited|gmbh|s\.?l\.?|s\.?r\.?l\.?|b\.?v\.?|s\.?a\.?s?|sarl|plc|inc|brokers?|courtage|makler|"
    r"correduría|correduria|verzekeringskantoor|studio assicurativo|agence|agentur|garage|talleres|autohaus|"
    r"autoschade|bodyshop|cabinet)\b|\|",
    re.IGNORECASE,
)
_CUSTOMER_PHONE = re.compile(
    r"reach|joindre|contacter|erreichbar|r[üu]ckfragen|llam|contatt|chiam|bellen|phone her|call me|rappeler|"
    r"cliente|klant|kunden|customer|client|insured|assur[ée]|m[óo]vil|cell|mobile|portable|handy|tel[ée]fono|"
    r"telefono|telefon|telefoon|tel\b|tél|tlf|mob\b|\bt:",
    re.IGNORECASE,
)


# Languages spoken where a country domain is registered: a .be sender writing Dutch is Belgian,
# a gmx.de address writing French is as likely a French customer (the insurer is French).
_TLD_LANGUAGES = {
    "uk": "en", "ie": "en", "au": "en", "fr": "fr", "be": "fr nl de", "ch": "de fr it", "lu": "fr de",
    "de": "de", "at": "de", "es": "es", "ar": "es", "mx": "es", "it": "it", "nl": "nl", "pt": "pt",
}  # fmt: skip


def _region_for(sender: str | None, language: str | None) -> str:
    domain = (sender or "").rsplit("@", 1)[-1].lower()
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    if tld in _TLD_REGION and (language is None or language in _TLD_LANGUAGES.get(tld, "").split()):
        return _TLD_REGION[tld]
    return _LANGUAGE_REGION.get(language or "", "FR")


# "06 12 34 56 78", "06.24.60.98.04": a French customer writing in English (the insurer is French).
_FR_PAIRS = re.compile(r"^0[1-9](?:[ .-]?\d\d){4}$")
_PHONE_CANDIDATE = re.compile(r"(?<![\w+/.,-])(?:\+|00)?\(?\d[\d \t().\-/]{6,20}\d(?![\w.,]?\d)")
_CLAIM_LIKE = re.compile(r"^20\d\d\s?[/-]\s?\d{3,}$")
_NANP = re.compile(r"^\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$")
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def pick_phone(text: str, region: str) -> tuple[str | None, float]:
    """The customer's phone in E.164: labelled numbers first, company and fax lines last."""
    import phonenumbers  # only when a mail is read: the metadata import costs ~50 ms

    found: dict[int, tuple[str, bool]] = {}
    text = text[:_MAX_SCAN_CHARS].replace("(0)", "   ")  # "+33 (0)6 ...": the trunk 0 is not dialled; same length
    # Candidates by one cheap pattern, then libphonenumber parses each (its own matcher scans
    # the text with many patterns and cost ~30 ms a mail).
    for m in islice(_PHONE_CANDIDATE.finditer(text), _MAX_AMOUNTS):
        raw = m.group(0).strip()
        digits = re.sub(r"\D", "", raw)
        if not 9 <= len(digits) <= 15 or _DATE_LIKE.match(raw) or _CLAIM_LIKE.match(raw):
            continue
        if re.search(r"(?:clm|20\d\d)[\s/-]*$", text[max(0, m.start() - 10) : m.start()], re.IGNORECASE):
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _POLICY_LABEL.search(text[max(line_start, m.start() - 25) : m.start()]):
            continue
        reg = region
        if region in ("GB", "US") and _FR_PAIRS.match(raw):
            reg = "FR"
        elif _NANP.match(raw) and (raw.startswith("(") or region not in _LANGUAGE_REGION.values()):
            reg = "US"
        try:
            number = phonenumbers.parse(raw, reg)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number) and _NANP.match(raw) and reg != "US":
            number = phonenumbers.parse(raw, "US")  # "(617) 555-0182" is North American
        if not phonenumbers.is_possible_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        found[m.start()] = (e164, phonenumbers.is_valid_number(number))
    cands = []
    for start, (e164, valid) in sorted(found.items()):
        line_start, line = _line_at(text, start)
        before = text[max(line_start, start - 50) : start]
        if _PHONE_DECOY_LINE.search(before[-12:]):
            continue
        score = 0.25 if valid else 0.0
        if _CUSTOMER_PHONE.search(before) or _CUSTOMER_PHONE.search(text[max(0, start - 120) : start]):
            score += 1.0
        if _COMPANY_LINE.search(line):
            score -= 1.0
        cands.append((score, -start, e164))
    if not cands:
        return None, 0.0
    score, _, value = max(cands)
    conf = 0.95 if score >= 1 else (0.85 if score >= 0 else 0.7)
    if len({v for _, _, v in cands}) > 1:
        conf -= 0.2
    return value, round(conf, 3)


# Senders that are machines, not the person the claim is about.
_AUTOMATED_SENDER = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer-daemon|postmaster|notifications?|bounces?|"
    r"automated|robot|system)\b",
    re.IGNORECASE,
)
_EMAIL_CONTEXT = re.compile(
    r"e-?mail|courriel|kontakt|contact|recapiti|reached|reach|cliente|klant|client|kunde|or\s*$|ou\s*$",
    re.IGNORECASE,
)


def is_automated_sender(address: str | None) -> bool:
    """True for no-reply, mailer-daemon and similar machine senders."""
    return bool(address and _AUTOMATED_SENDER.match(address.split("@", 1)[0]))


def pick_contact_email(
    claim_text: str, sender: str | None, forwarded_from: str | None, recipients: tuple[str, ...] = ()
) -> tuple[str | None, float]:
    """The address of the person the claim is about: named in the claim, else the forwarded author, else the sender."""
    own_domains = {r.rsplit("@", 1)[-1].lower() for r in recipients if "@" in r}
    sender_l = (sender or "").lower()
    found = []
    for m in _EMAIL.finditer(claim_text):
        addr = m.group(0).lower().rstrip(".")
        domain = addr.rsplit("@", 1)[-1]
        if addr == sender_l or domain in own_domains or is_automated_sender(addr):
            continue
        before = claim_text[max(0, m.start() - 60) : m.start()]
        found.append((bool(_EMAIL_CONTEXT.search(before)), -m.start(), addr))
    if found:
        labelled, _, addr = max(found)
        return addr, 0.93 if labelled else 0.75
    if forwarded_from and not is_automated_sender(forwarded_from):
        return forwarded_from.lower(), 0.9
    if sender and not is_automated_sender(sender):
        return sender_l, 0.95
    return None, 0.0


# ---------------------------------------------------------------- whole mail

_WRITER_AHEAD_OF_UTC = timedelta(hours=3)  # Europe, up to Moscow time


_ATTACHMENT_LINE = re.compile(r"^---------- (?P<source>Attachment|OCR): (?P<name>.*) ----------$", re.MULTILINE)
# Text read by OCR may hold misread characters (0/O, 1/l, 5/S, a lost decimal comma) that still
# look like a value, so its fields stay under 0.8 and go to Claude's extraction help or review.
# A policy number keeps more: it is looked up in the register before the claim proceeds, and a
# misread one fails there (`unknown_policy`).
OCR_CONFIDENCE = 0.7
OCR_CHECKED_CONFIDENCE = 0.9
_QUOTE_HEADERS = re.compile(
    _ATTRIBUTION.pattern + "|" + r"^[ \t]*(?:from|de|von|da|van|sent|envoy[ée]|gesendet|enviado|inviato|verzonden"
    r"|date|datum|fecha|data)[ \t]*:.*$",
    re.IGNORECASE | re.MULTILINE,
)
# Typical UTF-8-read-as-Latin-1 sequences: only then is ftfy worth its cost.
_MOJIBAKE = re.compile("[ÃÂâ][\u0080-\u00bf€‚„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]")


@dataclass(frozen=True)
class Extraction:
    """What the rules read: the fields, plus flags for review (instruction-like text, credits seen)."""

    fields: ClaimFields
    flags: tuple[str, ...] = ()


def _quoted_from_other(quoted: str, sender: str | None) -> bool:
    if not quoted.strip():
        return False
    head = quoted.lstrip()[:400]
    if not _QUOTE_HEADERS.search(head):
        return False  # an anonymous quote: whose words they are is unknown
    m = _EMAIL.search(head)
    return not (m and sender and m.group(0).lower() == sender.lower())


def split_attachments(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(body, [(attachment name, its text), ...]) from the text the mail connector assembled."""
    body, parts = split_attachment_sources(text)
    return body, [(name, part) for _, name, part in parts]


def split_attachment_sources(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(body, [(source, attachment name, its text), ...]); source is `attachment` (a text layer,
    a .txt file) or `ocr` (a scanned page or a document image read by OCR)."""
    marks = list(_ATTACHMENT_LINE.finditer(text))
    if not marks:
        return text, []
    body = text[: marks[0].start()]
    parts = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        parts.append((m.group("source").lower(), m.group("name"), text[m.end() : end].strip("\n")))
    return body, parts


def extract_fields(
    *,
    subject: str,
    text: str,
    sender: str | None,
    received_at: datetime | None,
    photos: list[str] | tuple[str, ...] = (),
    rules: ExtractionRules = DEFAULT_RULES,
    language: str | None = None,
    recipients: tuple[str, ...] = (),
    utc_offset_minutes: int | None = None,
) -> ClaimFields:
    """Read one e-mail's subject and body into `ClaimFields` with per-field confidence."""
    return extract(subject=subject, text=text, sender=sender, received_at=received_at, photos=photos, rules=rules,
                   language=language, recipients=recipients, utc_offset_minutes=utc_offset_minutes).fields


def extract(
    *,
    subject: str,
    text: str,
    sender: str | None,
    received_at: datetime | None,
    photos: list[str] | tuple[str, ...] = (),
    rules: ExtractionRules = DEFAULT_RULES,
    language: str | None = None,
    recipients: tuple[str, ...] = (),
    utc_offset_minutes: int | None = None,
) -> Extraction:
    """`extract_fields` with the review flags.

    Where fields are looked for, in order: the mail's own words (and a forwarded claim), then
    text read from attachments (provenance `rules:attachment:NAME`, or `rules:ocr:NAME` for text
    read by OCR, less confident), then quoted earlier mail
    (`rules:quoted`, less confident). Text that tries to instruct a model is blanked first, so a
    value written only there is never chosen.
    """
    text = unicodedata.normalize("NFKC", text or "").replace("\r\n", "\n")
    subject = unicodedata.normalize("NFKC", subject or "")
    if _MOJIBAKE.search(text) or _MOJIBAKE.search(subject):
        import ftfy  # only for mail that shows mojibake

        text, subject = ftfy.fix_text(text), ftfy.fix_text(subject)
    flags: list[str] = []
    body, attachments = split_attachment_sources(text)
    body, injected = mask_instructions(body)
    masked_attachments = []
    for source, name, part in attachments:
        part, hit = mask_instructions(part)
        injected |= hit
        masked_attachments.append((f"rules:{source}:{name}", part))
    subject, hit = mask_instructions(subject)
    if injected or hit:
        flags.append("instruction_text")
    regions = split_regions(body, subject)
    claim_text = regions.claim_text
    note = regions.primary if regions.is_forward else ""
    # Quoted mail is a source only when someone else wrote it (the insurer's acknowledgement
    # states the claim as registered); the sender's own earlier mail was read when it arrived.
    quoted = regions.quoted if _quoted_from_other(regions.quoted, sender) else ""
    conf: dict[str, float] = {}
    values: dict[str, object] = {}
    prov: dict[str, str] = {}

    def fallback(name: str, finder, *, quoted_factor: float = 0.85) -> None:
        """Fill `name` from attachments, then quoted mail, when the own words had nothing."""
        if values.get(name) is not None:
            return
        for source, part in masked_attachments:
            value, c = finder(part)
            if value is not None:
                values[name], conf[name], prov[name] = value, c, source
                return
        if quoted:
            value, c = finder(quoted)
            if value is not None:
                values[name], conf[name], prov[name] = value, c * quoted_factor, "rules:quoted"

    values["claim_number"], conf["claim_number"], own_claims = _find_claim_where(regions, subject, rules)
    if values["claim_number"] is not None and not own_claims:
        prov["claim_number"] = "rules:quoted"
    if values["claim_number"] is None and not own_claims:
        for source, part in masked_attachments:
            value, c = _pick_number(_claim_candidates(part, rules))
            if value is not None:
                values["claim_number"], conf["claim_number"], prov["claim_number"] = value, c, source
                break

    values["policy_number"], conf["policy_number"] = _find_policy(regions, subject, rules)
    scan = _policy_scan if rules.policy_number_pattern == DEFAULT_POLICY_PATTERN else (
        lambda t: _policy_candidates(t, rules))
    fallback("policy_number", lambda t: _pick_number(scan(t)))

    # received_at is taken as given. With the writer's UTC offset from the Date header, the
    # writer's calendar day is known; without it, a writer in Europe may already be on the
    # next day (and one in the Americas still on the previous one), so explicit dates may reach
    # a few hours ahead and relative words are less certain near midnight.
    ref = latest = received_at.date() if received_at else None
    day_uncertain = False
    if received_at is not None and utc_offset_minutes is not None:
        local = received_at.replace(tzinfo=None) if received_at.tzinfo is None else received_at.astimezone(
            UTC).replace(tzinfo=None)
        ref = latest = (local + timedelta(minutes=utc_offset_minutes)).date()
    elif received_at is not None and received_at.utcoffset() in (timedelta(0), None):
        latest = (received_at + _WRITER_AHEAD_OF_UTC).date()
        day_uncertain = received_at.hour >= 21 or received_at.hour < 5
    if regions.is_forward and regions.forwarded_sent:
        # Relative words in a forwarded mail count from the day it was first sent.
        sent = _explicit_dates(regions.forwarded_sent, latest)
        if sent and (latest is None or sent[0].value <= latest):
            ref, day_uncertain = sent[0].value, False
    value, c, own_score = _incident_date_scored(
        [(claim_text, 1.0), (note, 0.6), (subject, 0.4)], ref, latest, day_uncertain, language
    )
    values["incident_date"], conf["incident_date"] = value, c
    # Relative words in quoted mail count from a day we do not know: only written dates there,
    # and never the date of its attribution line ("Le 22/10/2026 à 09:12, ... a écrit :").
    quoted_dates = _QUOTE_HEADERS.sub(" ", quoted) if quoted else ""
    if value is not None and own_score < 1.0 and quoted_dates:
        # A reply's own dates with no word of the loss are about the correspondence ("this
        # afternoon the estimate came in"); the loss is dated in the mail it answers.
        q_value, q_conf, q_score = _incident_date_scored([(quoted_dates, 1.0)], None, latest, False, language)
        if q_value is not None and q_score >= 1.0:
            values["incident_date"], conf["incident_date"] = q_value, q_conf * 0.85
            prov["incident_date"] = "rules:quoted"
    if values["incident_date"] is None:
        for source, part in masked_attachments + ([("rules:quoted", quoted_dates)] if quoted_dates else []):
            is_quote = source == "rules:quoted"
            v, c = _pick_incident_date([(part, 1.0)], None if is_quote else ref, latest, day_uncertain, language)
            if v is not None:
                values["incident_date"], conf["incident_date"] = v, c * (0.85 if is_quote else 1.0)
                prov["incident_date"] = source
                break

    picked = pick_amount(claim_text)
    if picked.value is None and note:
        note_pick = pick_amount(note)
        picked = AmountPick(note_pick.value, note_pick.currency, note_pick.confidence * 0.9,
                            picked.negative + note_pick.negative)
    values["estimated_amount"], conf["estimated_amount"] = picked.value, picked.confidence
    values["currency"], conf["currency"] = picked.currency, (picked.confidence if picked.currency else 0.0)
    if picked.negative:
        flags.append("negative_amount")
    if values["estimated_amount"] is None:
        # Never from quoted mail: an amount there is the one this mail may be revising.
        for source, part in masked_attachments:
            p = pick_amount(part)
            if p.value is not None:
                factor = 0.85 if source == "rules:quoted" else 1.0
                values["estimated_amount"], conf["estimated_amount"] = p.value, p.confidence * factor
                values["currency"], conf["currency"] = p.currency, (p.confidence * factor if p.currency else 0.0)
                prov["estimated_amount"] = prov["currency"] = source
                break

    support = " . ".join(x for x in (subject, regions.forwarded_subject) if x)
    loss, c = _pick_loss_type(claim_text, support, language)
    if loss is None and note:
        loss, c = _pick_loss_type(note, support, language)
        c *= 0.9
    values["loss_type"], conf["loss_type"] = loss, c
    fallback("loss_type", lambda t: _pick_loss_type(t, support, language))

    region = _region_for(regions.forwarded_from or (None if is_automated_sender(sender) else sender), language)
    values["contact_phone"], conf["contact_phone"] = pick_phone(claim_text, region)
    fallback("contact_phone", lambda t: pick_phone(t, region) if t is not quoted else (None, 0.0))

    contact_text = "\n".join([claim_text, *(part for _, part in masked_attachments)])
    values["contact_email"], conf["contact_email"] = pick_contact_email(
        contact_text, sender, regions.forwarded_from, recipients
    )

    description = claim_text.strip()[: rules.max_description_chars]
    values["description"], conf["description"] = (description or None), (0.9 if description else 0.0)
    values["photos"], conf["photos"] = list(photos), (1.0 if photos else 0.0)

    for name, source in prov.items():
        if source.startswith("rules:ocr:") and name in conf:
            checked = name == "policy_number" and is_canonical_policy_number(values.get(name))
            conf[name] *= OCR_CHECKED_CONFIDENCE if checked else OCR_CONFIDENCE
    confidence = {k: round(float(v), 3) for k, v in conf.items() if values.get(k) not in (None, [])}
    provenance = {k: prov.get(k, PROVENANCE) for k in confidence}
    return Extraction(ClaimFields(**values, confidence=confidence, provenance=provenance), tuple(flags))


def is_canonical_claim_number(value: str | None) -> bool:
    return bool(value and _CANONICAL_CLAIM.match(value))


def is_canonical_policy_number(value: str | None) -> bool:
    return bool(value and _CANONICAL_POLICY.match(value))
