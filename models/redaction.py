"""Personal data out, placeholders in; and e-mail text that tries to instruct the model, flagged.

`Redactor` replaces personal values with numbered placeholders (`[PERSON_1]`, `[EMAIL_1]`,
`[PHONE_1]`, `[ADDRESS_1]`, `[IBAN_1]`, `[CARD_1]`, `[PLATE_1]`) before a request leaves for an external
model, and `restore` puts them back in what the model returns. The mapping lives only in
the `Redactor` object: it is never logged, pickled into a request or written anywhere.

What counts as personal data here:
- people's names: the names given as context (the sender's display name, the policy
  holder's name) with their parts and spelling variants, plus names found by
  heuristics: after a greeting, on the line after a sign-off, before `<address>`,
  after a title (`Mr`, `Mme`) or a relation (`our client`, `notre client`, `contact`);
- e-mail addresses, phone numbers (international, French, North American, UK and any
  number after a phone label), street addresses (French and English forms, with postcode
  and town when they follow), IBANs (mod-97 checked), card numbers (Luhn checked) and
  French registration plates (`AB-123-CD`: they identify the keeper).

Claim and policy numbers are NOT personal data (the model needs them) and are protected:
no detector may replace text inside them.

`detect_injection` reads e-mail text as data and reports the signs of a prompt
injection (instructions to the model, fake system notes, requests to approve or route,
hidden HTML text, invisible or look-alike characters). A flagged mail goes to human
review; the model's output is never trusted to decide anything either way.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "PLACEHOLDER_KINDS",
    "InjectionFinding",
    "Redactor",
    "detect_injection",
    "iban_valid",
    "luhn_valid",
]

PLACEHOLDER_KINDS = ("PERSON", "EMAIL", "PHONE", "ADDRESS", "IBAN", "CARD", "PLATE", "ID")
PLACEHOLDER_RE = re.compile(r"\[(PERSON|EMAIL|PHONE|ADDRESS|IBAN|CARD|PLATE|ID)_(\d{1,4})\]")

# Resolution order when detections overlap: protected numbers first, then the most specific.
_PRIORITY = {"PROTECTED": 0, "IBAN": 1, "CARD": 2, "EMAIL": 3, "ID": 4, "PHONE": 5, "ADDRESS": 6, "PLATE": 7,
             "PERSON": 8}


# ------------------------------------------------------------------ checksums


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a card number (digits only)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(raw: str) -> bool:
    """ISO 13616 mod-97 check (spaces ignored, any case)."""
    s = re.sub(r"\s", "", raw).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


# ------------------------------------------------------------------ detectors

_LETTER = r"[^\W\d_]"
_NOT_WORD_BEFORE = r"(?<![^\W_])"
_NOT_WORD_AFTER = r"(?![^\W_])"

_PROTECTED = [
    re.compile(r"(?<![\w-])#?CLM[-/ ]?\d{4}[-/ ]?\d{1,8}(?!\d)", re.IGNORECASE),
    re.compile(
        r"(?<![\w-])(?:claim|sinistre|dossier)(?:\s*(?:no\.?|nr\.?|num(?:ber|[ée]ro)?\.?|n°|#|ref(?:erence)?\.?))?"
        r"\s*[:#]?\s*20\d{2}\s*[-/ ]\s*\d{1,8}(?!\d)",
        re.IGNORECASE,
    ),
    re.compile(r"(?<![\w-])POL[- ]?\d{3}[ -]?\d{3,6}(?!\d)", re.IGNORECASE),
    re.compile(
        r"(?<![\w-])(?:policy|police|contrat|contract)(?:\s*(?:no\.?|nr\.?|num(?:ber|[ée]ro)?\.?|n°|#))?"
        r"\s*[:#-]?\s*\d{3}[ -]?\d{4}(?!\d)",
        re.IGNORECASE,
    ),
    # Dates are not personal and must not be read as phone numbers ("01.02.2026 12:30").
    re.compile(r"(?<![\d./-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d]|[./-]\d)"),
    re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])"),
]

_PROTECTED_TEXT = re.compile(r"CLM|POL-|policy|police|claim|sinistre", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_OBFUSCATED = re.compile(
    r"[\w.+-]+\s*(?:\[at\]|\(at\)|\{at\})\s*[\w-]+(?:\s*(?:\[dot\]|\(dot\)|\{dot\}|\.)\s*[\w-]+)+", re.IGNORECASE
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONES = [
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(0\))?(?:[ .-]?\(?\d{1,4}\)?){2,6}(?!\d)"),
    re.compile(r"(?<![\w+])00[ ]?[1-9]\d{0,2}(?:[ .-]?\d{1,4}){2,6}(?!\d)"),
    re.compile(r"(?<![\w.-])0[1-9](?:[ .-]?\d{2}){4}(?![\d-])"),
    re.compile(r"(?<!\w)\(\d{3}\)[ ]?\d{3}[ .-]?\d{4}(?!\d)"),
    re.compile(r"(?<![\w.-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w-])"),
    re.compile(r"(?<![\w.-])0\d{4}[ ]?\d{6}(?!\d)"),
    re.compile(r"(?<![\w.-])0\d{2,3}[ ]?\d{3,4}[ ]?\d{4}(?!\d)"),
    re.compile(r"(?<![\w.-])0\d{1,4}[ /-]?\d{5,8}(?![\d-])"),  # DE/NL/IT landlines: 089 2345678, 06-12345678
    re.compile(r"(?<![\w.-])[3679]\d{2}(?:[ .]?\d{2,4}){2,3}(?![\d-])"),  # ES/IT without prefix: 612 34 56 78
    re.compile(r"(?<![\w.-])\d{3}\.\d{3}\.\d{4}(?![\w-])"),
]
_PHONE_LABELLED = re.compile(
    r"(?:\b(?:tel|tél|téléphone|telephone|phone|mobile|portable|gsm|cell|fax|numéro|number)\b\.?\s*(?:[:\-]\s*)?)"
    r"(?P<num>[+(]?\d[\d ().-]{6,20}\d)",
    re.IGNORECASE,
)

_PLATE = re.compile(r"(?<![\w-])[A-HJ-NP-TV-Z]{2}[- ]\d{3}[- ][A-HJ-NP-TV-Z]{2}(?![\w-])")
_STREET_TYPES_FR = (
    r"rue|avenue|av\.?|boulevard|bd|impasse|chemin|all[ée]e|place|route|rte|quai|cours|square|voie|passage|"
    r"r[ée]sidence|lotissement|lieu-dit|chauss[ée]e|sentier|hameau|faubourg|mont[ée]e|parvis|esplanade"
)
_NAME_WORD = r"(?:[A-ZÀ-ÖØ-Þ][\w'’.-]*|del|della|dei|degli|di|da|van|der|den|d[eu]s?|la|le|les|l['’]\w[\w-]*|d['’]\w[\w-]*|aux?|en|sur|sous|et|[A-Z]\.)"
_ADDRESS_FR = re.compile(
    rf"(?<![\w,.])\d{{1,4}}(?:\s?(?:bis|ter|b|t)\b)?,?\s+(?i:{_STREET_TYPES_FR})(?:\s+{_NAME_WORD}){{1,6}}"
    rf"(?:\s*[,\n]\s*(?:\d{{5}}|\d{{2}}\s\d{{3}})\s+[A-ZÀ-ÖØ-Þ][\w'’-]*(?:[ -][A-ZÀ-ÖØ-Þa-zé][\w'’-]*){{0,4}})?"
)
_STREET_TYPES_EN = (
    r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Close|Way|Boulevard|Blvd\.?|Court|Ct\.?|"
    r"Place|Pl\.?|Terrace|Crescent|Gardens|Square|Row|Mews|Hill|Grove|Parade"
)
_ADDRESS_EN = re.compile(
    rf"(?<![\w,.])\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]*\s+){{1,4}}(?:{_STREET_TYPES_EN})(?![\w])"
    r"(?:,\s*[A-Z][a-zà-ÿ'’-]+(?:\s+[A-Z][a-zà-ÿ'’-]+){0,2})?"
    r"(?:,?\s*(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|[A-Z]{2}\s\d{5}(?:-\d{4})?|\d{5}))?"
)

# Street names in the languages claims arrive in; an address is a street with a number, usually then a postcode.
_STREET_SUFFIX_DE_NL = (
    r"stra(?:ß|ss)e|str\.|weg|allee|gasse|platz|ring|damm|ufer|steig|chaussee|gracht|singel|kade|laan|straat|dijk|"
    r"plein|markt|dreef|hof|pad|kai|berg|feld|graben"
)
_STREET_TYPES_SOUTH = (
    r"calle|c/|avenida|avda\.?|av\.|plaza|pza\.?|paseo|p[ºo]\.?|carrer|camino|ronda|traves[íi]a|glorieta|rambla|"
    r"via|viale|v\.le|corso|c\.so|piazza|p\.zza|piazzale|largo|vicolo|strada|lungomare|contrada|"
    r"rua|travessa|largo|laan van|am|an der|an dem|auf der|auf dem|im|in der|zum|zur"
)
_POSTCODE_TOWN = (
    r"(?:\d{5}|\d{4}\s?[A-Z]{2}|\d{4}|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})"
    r"(?:\s+[A-ZÀ-ÖØ-Þ][\w'’-]*(?:[ -](?:am|an|der|den|de|del|la|le|sur|sous|[A-ZÀ-ÖØ-Þ][\w'’-]*)){0,3})?"
)
_ADDRESS_DE_NL = re.compile(
    rf"(?<![\w-])(?:[A-ZÄÖÜ][\w'’.-]*(?:[ -](?:[A-ZÄÖÜ][\w'’.-]*|van|de|der|den|het|am|an))*[ -]?)?"
    rf"[\wäöüß]*?(?i:{_STREET_SUFFIX_DE_NL})\s+\d{{1,4}}\s?[a-zA-Z]?(?:[-/]\d{{1,4}})?(?!\w)"
    rf"(?:\s*,?\s*{_POSTCODE_TOWN})?"
)
_ADDRESS_SOUTH = re.compile(
    rf"(?<![\w])(?i:{_STREET_TYPES_SOUTH})\s+(?:{_NAME_WORD}\s+){{0,6}}?{_NAME_WORD}\s*,?\s+(?:n[º°o]\.?\s*)?"
    rf"\d{{1,4}}(?:\s?[a-zA-Z](?!\w))?(?:,\s*\d{1,2}[º°ª][a-zA-Z]?(?:\s[A-Z](?!\w))?)?(?:\s*,?\s*{_POSTCODE_TOWN})?"
)
# A postcode and town after a street segment that holds a house number ("..., 7 Rose Lane, Leeds LS6 2AB").
_ADDRESS_TAIL = re.compile(
    r"(?P<street>[A-ZÀ-ÖØ-Þ][^\n,:;()]{1,50}?\s\d{1,5}[A-Za-z]?|\d{1,5}[A-Za-z]?\s[^\n,:;()]{3,50}?)"
    r"\s*,\s*(?P<tail>(?:\d{4,5}|\d{4}\s?[A-Z]{2})\s+[A-ZÀ-ÖØ-Þ][\w'’-]*(?:[ -](?:[A-ZÀ-ÖØ-Þ][\w'’-]*|am|an|der|den|sur))"
    r"{0,3}"
    r"|[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s[A-ZÀ-ÖØ-Þ][\w'’-]+)?,?\s+(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|[A-Z]{2}\s\d{5}))"
)
_US_STATE_ZIP = re.compile(r"(?<![\w])[A-Z]{2}\s\d{5}(?:-\d{4})?(?!\d)")
_POSTCODE_AFTER_ADDRESS = re.compile(r"\s*,?\s*(?:\d{5}|\d{4}\s?[A-Z]{2}|[A-Z]{2}\s\d{5})(?:\s+[A-ZÀ-ÖØ-Þ][\w'’-]*)?")

# Registration plates: FR/IT (AB-123-CD, AB 123 CD), DE (B-MK 4521), ES (2345 BCD), NL sidecodes, UK (AB12 CDE),
# and anything written after a plate label.
_PLATES = [
    re.compile(r"(?<![\w-])[A-Z]{2}[- ]?\d{3}[- ]?[A-Z]{2}(?![\w-])"),
    re.compile(r"(?<![\w-])[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}\s?\d{1,4}[EH]?(?![\w-])"),
    re.compile(r"(?<![\w-])\d{4}\s?[BCDFGHJKLMNPRSTVWXYZ]{3}(?![\w-])"),
    re.compile(r"(?<![\w-])(?:\d{1,3}-[A-Z]{2,3}-\d{1,2}|[A-Z]{1,3}-\d{2,3}-[A-Z]{1,2}|\d{2}-\d{2}-[A-Z]{2}|"
               r"[A-Z]{2}-\d{2}-\d{2}|\d{2}-[A-Z]{2}-\d{2})(?![\w-])"),
    re.compile(r"(?<![\w-])[A-Z]{2}\d{2}\s?[A-Z]{3}(?![\w-])"),
]
_PLATE_LABELLED = re.compile(
    r"(?i:\b(?:plate|registration|reg\.?|kenteken|kennzeichen|matr[íi]cula|targa|immatricul[ée]e?|immatriculation|"
    r"plaque))(?:\s+(?:number|no\.?|nummer|n°))?\s*(?:is|est|es|è|:|-)?\s*(?:[A-Z]{2}\s)?"
    r"(?P<plate>(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{1,4}(?:[- ]?[A-Z0-9]{1,4}){0,2})(?![\w-])"
)
# National identifiers: checked formats anywhere, loose ones only after their label.
_NATIONAL_IDS = [
    re.compile(r"(?<![\w])[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}\s?\d{2}(?!\d)"),  # FR NIR
    re.compile(r"(?<![\w])\d{8}-?[TRWAGMYFPDXBNJZSQVHLCKE](?![\w])"),  # ES DNI
    re.compile(r"(?<![\w])[XYZ]-?\d{7}-?[TRWAGMYFPDXBNJZSQVHLCKE](?![\w])"),  # ES NIE
    re.compile(r"(?<![\w])[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?![\w])"),  # IT codice fiscale
    re.compile(r"(?<![\w])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?![\w])"),  # UK NINO
    re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"),  # US SSN
]
_ID_LABELLED = re.compile(
    r"(?i:\b(?:bsn|burgerservicenummer|steuer-?id|steuernummer|steuerliche identifikationsnummer|"
    r"personalausweis(?:nummer)?|ausweisnummer|passport(?: number)?|reisepass(?:nummer)?|passeport|pasaporte|"
    r"ssn|social security(?: number)?|national insurance(?: number)?|nir|s[ée]curit[ée] sociale|"
    r"dni|nie|nif|codice fiscale|carta d'identit[àa]|tax id|id number|identity card))"
    r"(?:\s+(?:number|no\.?|nummer|n°|num[ée]ro))?\s*(?:is|est|es|è|ist|:|-)?\s*"
    r"(?P<id>[A-Z0-9](?:[ -]?[A-Z0-9]){5,20})(?![\w])"
)

# Words that look like names when capitalised but are not people.
_NOT_NAMES = frozenset(
    ["sir", "madam", "madame", "monsieur", "mesdames", "messieurs", "mademoiselle", "dear", "hello", "hi", "hey", "bonjour", "bonsoir", "salut", "cher", "chère", "chere", "all", "team", "claims", "claim", "customer", "service", "services", "support", "department", "client", "clients", "agent", "insurer", "insurance", "regards", "best", "kind", "warm", "many", "thanks", "thank", "sincerely", "yours", "faithfully", "cordialement", "bien", "cordiales", "salutations", "distinguées", "merci", "avance", "amitiés", "sent", "envoyé", "from", "de", "to", "à", "cc", "subject", "objet", "date", "photos", "photo", "please", "the", "a", "an", "policy", "contract", "contrat", "sinistre", "dossier", "police", "garage", "carrosserie", "assurances", "assurance", "conseil", "cabinet", "agence", "courtage", "broker", "sarl", "sas", "sa", "ltd", "inc", "gmbh", "group", "groupe", "claimflow", "mobile", "tel", "tél", "phone", "fax", "iphone", "android", "samsung", "outlook", "gmail", "yahoo", "orange", "free", "hotmail", "windows", "apple", "mail", "web", "portal", "portail", "service-client", "voiture", "car", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre", "ok", "yes", "no", "non", "oui", "urgent", "important", "note", "am", "im", "zum", "zur", "auf", "saludos", "saludo", "cordiales", "cordiali", "saluti", "distinti", "groetjes", "groet", "groeten", "grüße", "grüßen", "gruß", "viele", "freundlichen", "hochachtungsvoll", "atentamente", "gracias", "grazie", "cheers", "cdt", "lg", "hallo", "hola", "buongiorno", "buenos", "guten", "goedemiddag", "beste", "dag", "salve", "tag"]
)
_ORG_MARKERS = re.compile(
    r"assur|conseil|cabinet|agence|courtage|sarl|\bsas\b|\bsa\b|\bltd\b|\binc\b|gmbh|insurance|garage|carrosserie|"
    r"group|services?\b|claimflow|team|équipe|department|service",
    re.IGNORECASE,
)
_PARTICLES = frozenset(["le", "la", "les", "de", "du", "des", "da", "di", "van", "von", "der", "den", "ben", "bin", "el", "al", "mc", "mac", "st", "saint", "y", "e"])
_TITLES = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Mme|Mlle|Mmes|M|Me|Maître|Madame|Monsieur|Mademoiselle|Herr|Frau|Hr|Fr|"
    r"Sr|Sra|Srta|Don|Doña|Dña|Sig\.ra|Sig\.na|Sig|Signor|Signora|Dott\.ssa|dott\.ssa|Dott|dott|Avv|Ing|"
    r"heer|mevrouw|mevr|dhr|Heer|Mevrouw)"
)

_GREETING = re.compile(
    r"^[ \t]*(?:dear|hello|hi|hey|good (?:morning|afternoon|evening)|bonjour|bonsoir|salut|cher|ch[eè]re|to)[ \t]+"
    r"(?P<name>[^,!:\n]{2,60}?)\s*[,!:]",
    re.IGNORECASE | re.MULTILINE,
)
_CLOSING = re.compile(
    r"^\s*>?\s*(?:(?:best|kind|warm|many|warmest)\s+(?:regards|wishes|thanks)|regards|sincerely(?:\s+yours)?|"
    r"yours\s+(?:sincerely|faithfully|truly)|thanks(?:\s+(?:again|in advance|a lot))?|thank you|many thanks|cheers|"
    r"best|(?:bien\s+)?cordialement|bien [àa] vous|(?:sinc[èe]res\s+)?salutations(?:\s+distingu[ée]es)?|"
    r"merci(?:\s+(?:d'avance|par avance|beaucoup|encore))?|amiti[ée]s|[àa] bient[ôo]t|bonne journ[ée]e|cdt|"
    r"(?:mit\s+)?(?:freundlichen|besten|herzlichen|viele|liebe|beste)\s+gr[üu](?:ß|ss)en?|(?:viele\s+)?gr[üu](?:ß|ss)e|"
    r"gru(?:ß|ss)|lg|hochachtungsvoll|(?:un\s+)?saludos?(?:\s+cordiales)?|atentamente|cordiales saludos|gracias|"
    r"cordiali saluti|distinti saluti|saluti|cordialmente|grazie|(?:met\s+)?vriendelijke\s+groet(?:en)?|groetjes|"
    r"groet(?:en)?|dank je(?:\s+wel)?|bedankt)"
    r"\s*[,.!]?[ \t]*(?P<rest>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_BEFORE_ADDRESS = re.compile(r"(?P<name>[^\W\d_][^<>\n,:;\"()\[\]]{1,60}?)\s*<[^<>\s@]+@[^<>\s]+>")
_AFTER_TITLE = re.compile(
    rf"(?<![\w]){_TITLES}\.?\s+(?P<name>[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+(?:[A-ZÀ-ÖØ-Þ]|[dv][aeo]n?\s)[\w'’-]+){{0,2}})"
)
_AFTER_RELATION = re.compile(
    r"(?i:\b(?:our|my|your)\s+(?:client|customer|wife|husband|son|daughter|partner|neighbou?r|colleague|father|mother|"
    r"brother|sister|friend|tenant)|\bnotre\s+client(?:e)?|\b(?:mon|ma|votre)\s+(?:client|cliente|mari|femme|fils|"
    r"fille|voisin|voisine|coll[èe]gue|p[èe]re|m[èe]re|fr[èe]re|s[œo]eur|ami|amie|locataire)|\bcontact(?:er|ez)?|"
    r"\bmy name is|\bje m'appelle|\bje suis|\bi am|\bi'm|\bsigned|\bsign[ée]|\bpolicy ?holder|\btitulaire|"
    r"\bassur[ée]e?|\bname|\bnom|\bt[ée]moin|\bvoisine?|\bconduct(?:eur|rice)|\bs'appelle|\bfemme|\bmari|"
    r"\bfille|\bfils|\bfr[èe]re|\bs[œo]eur|\batelier|\bzeugin|\bzeuge|\bnachbarin|\bnachbar|\bkundin|\bkunde|"
    r"\bfahrerin|\bfahrer|\bschrieb|\behefrau|\behemann|\bich bin|\bmarido|\besposa|\besposo|\bvecina|\bvecino|"
    r"\bconductora|\bconductor|\bcliente|\btestigo|\bsoy|\bmoglie|\bmarito|\btestimone|\bvicina|\bvicino|"
    r"\bcontroparte|\bbuurvrouw|\bbuurman|\bgetuige|\bschoonzus|\bzwager|\btegenpartij|\bwitness|\bneighbou?r|"
    r"\btenant|\bdriver|\bwas|\bme|\bshop|\bwife|\bhusband|\bdaughter|\bson)"
    r"[ \t]*[:,]?[ \t]+(?P<name>[A-ZÀ-ÖØ-Þ][\w'’-]+(?:[ \t]+(?:[A-ZÀ-ÖØ-Þ][\w'’-]+|del|de|van|von|der|i|y)){0,3})",
)
# "Le témoin, Pierre Lambert, peut...", "the other guy was Robert Chen": two or three capitalised words
# right after a lower-case word or a comma, never at the start of a sentence.
_MID_SENTENCE = re.compile(
    r"(?<=[a-zà-ÿ,:;] )(?P<name>[A-ZÀ-ÖØ-Þ][a-zà-ÿ'’-]+(?:[ ](?:[A-ZÀ-ÖØ-Þ][\w'’-]+)){1,2})(?![\w'’-])"
)
_QUOTE_OR_FORWARD = re.compile(
    r"^\s*(?:on .{4,200}wrote:|le .{4,200}a [ée]crit\s*:|-{2,}\s*(?:original message|message d'origine|"
    r"forwarded message|message transf[ée]r[ée])\s*-{2,}|begin forwarded message:)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _name_tokens(name: str) -> list[str]:
    return [t for t in re.split(r"\s+", name.strip()) if t]


def _token_is_namey(tok: str) -> bool:
    core = tok.strip(".,;:!?()\"'")
    if not core or not core[0].isalpha() or not core[0].isupper():
        return False
    if any(ch.isdigit() for ch in core):
        return False
    if not all(ch.isalpha() or ch in "'’-." for ch in core):
        return False
    return core.lower() not in _NOT_NAMES


def name_like(text: str, *, max_tokens: int = 4) -> bool:
    """A short run of capitalised words that could be a person's name (not a greeting, month, org...)."""
    text = text.strip().rstrip(",.")
    if not text or len(text) > 60 or _ORG_MARKERS.search(text):
        return False
    tokens = _name_tokens(text)
    if not 1 <= len(tokens) <= max_tokens:
        return False
    significant = [t for t in tokens if t.lower() not in _PARTICLES]
    if not significant:
        return False
    return all(_token_is_namey(t) or t.lower() in _PARTICLES for t in tokens) and any(len(t) >= 2 for t in significant)


def _strip_titles(name: str) -> str:
    return re.sub(rf"^(?:{_TITLES})\.?\s+", "", name.strip())


def person_names_from_display(display: str | None) -> list[str]:
    """The person parts of a From display name: `Stéphane Gauthier - Assur'Conseil Rhône` -> ['Stéphane Gauthier']."""
    if not display:
        return []
    parts = re.split(r"\s+[-–|/]\s+|[()\[\],;]|\s+(?:via|pour|for|de la part de)\s+", display)
    out = []
    for part in parts:
        part = _strip_titles(part.strip().strip("\"'"))
        # A display name is a name even when lower-case or all caps ("jean dupont", "DUPONT Jean").
        if (
            part
            and not _ORG_MARKERS.search(part)
            and len(part) <= 60
            and re.fullmatch(r"[^\W\d_][\w'’.\- ]*", part)
        ):
            out.append(part)
    return out


def _trailing_name(text: str) -> str | None:
    """The longest run of name-like words at the end of `text` (for `..., Bruno Crémieux <addr>`)."""
    tokens = _name_tokens(text)
    run: list[str] = []
    for tok in reversed(tokens):
        if (_token_is_namey(tok) or tok.lower() in _PARTICLES) and len(run) < 4:
            run.insert(0, tok)
        else:
            break
    while run and run[0].lower() in _PARTICLES:
        run.pop(0)
    candidate = " ".join(run)
    return candidate if candidate and name_like(candidate) else None


def _leading_name(text: str) -> str | None:
    """The run of name-like words at the start of `text` (for `I am Bruno and ...`)."""
    run: list[str] = []
    for tok in _name_tokens(text):
        if (_token_is_namey(tok) or tok.lower() in _PARTICLES) and len(run) < 4:
            run.append(tok)
        else:
            break
    while run and run[-1].lower() in _PARTICLES:
        run.pop()
    candidate = " ".join(run)
    return candidate if candidate and name_like(candidate) else None


def find_names(text: str) -> list[str]:
    """Person names found by the heuristics (greetings, sign-offs, `Name <addr>`, titles, relations)."""
    found: list[str] = []

    def add(candidate: str | None) -> None:
        if not candidate:
            return
        candidate = _strip_titles(candidate.strip().rstrip(",.;:"))
        if name_like(candidate):
            found.append(candidate)

    for m in _GREETING.finditer(text):
        add(_trailing_name(_strip_titles(m.group("name"))))
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _CLOSING.match(line)
        if not m:
            continue
        rest = m.group("rest").strip()
        if rest:
            add(_trailing_name(rest) if name_like(rest) else None)
            continue
        for nxt in lines[i + 1 : i + 3]:
            nxt = nxt.strip().lstrip(">").strip()
            if not nxt:
                continue
            add(nxt if name_like(nxt) else None)
            break
    for m in _BEFORE_ADDRESS.finditer(text):
        add(_trailing_name(m.group("name")))
    for rx in (_AFTER_TITLE, _AFTER_RELATION):
        for m in rx.finditer(text):
            add(_leading_name(m.group("name")))
    for m in _MID_SENTENCE.finditer(text):
        add(m.group("name") if name_like(m.group("name")) else None)
    # The last line of the new text, and of the whole mail, is often a bare signature.
    blocks = [text[: q.start()] for q in _QUOTE_OR_FORWARD.finditer(text)] + [text]
    for block in blocks:
        tail = [ln.strip().lstrip(">").strip() for ln in block.splitlines() if ln.strip().lstrip(">").strip()]
        if len(tail) < 2:  # a one-line text (a subject) has no signature
            continue
        for ln in tail[-3:]:
            if name_like(ln) and not ln.endswith((".", ":", "?", "!")):
                add(ln)
    return list(dict.fromkeys(found))


def _name_variants(name: str) -> set[str]:
    """A name, its parts and their accent-free, Title and UPPER spellings (parts of 3+ letters, no particles)."""
    name = " ".join(_name_tokens(name))
    pieces = {name}
    tokens = _name_tokens(name)
    for tok in tokens:
        tok = tok.strip(".,")
        for part in {tok, *tok.split("-")}:
            letters = sum(ch.isalpha() for ch in part)
            if letters >= 3 and part.lower() not in _PARTICLES and part.lower() not in _NOT_NAMES:
                pieces.add(part)
    out = set()
    for p in pieces:
        # Lower case too: people sign "liam" or "sarah" in a hurry.
        for v in (p, _fold(p), p.title(), p.upper(), _fold(p).upper(), _fold(p).title(), p.lower(), _fold(p).lower()):
            if v and sum(ch.isalpha() for ch in v) >= 3:
                out.add(v)
    return out


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str
    value: str


def _phone_digits_ok(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    return 8 <= len(digits) <= 15


def _protected_spans(text: str) -> list[_Span]:
    return [_Span(m.start(), m.end(), "PROTECTED", m.group(0)) for rx in _PROTECTED for m in rx.finditer(text)]


def _pattern_spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    for m in _IBAN.finditer(text):
        # The pattern may run into a following word; trim back to the longest valid IBAN.
        raw = m.group(0)
        for end in range(len(raw), 14, -1):
            value = raw[:end].rstrip()
            if iban_valid(value):
                spans.append(_Span(m.start(), m.start() + len(value), "IBAN", value))
                break
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(_Span(m.start(), m.end(), "CARD", m.group(0)))
    for rx in (_EMAIL, _EMAIL_OBFUSCATED):
        for m in rx.finditer(text):
            spans.append(_Span(m.start(), m.end(), "EMAIL", m.group(0)))
    for rx in _PHONES:
        for m in rx.finditer(text):
            if _phone_digits_ok(m.group(0)):
                spans.append(_Span(m.start(), m.end(), "PHONE", m.group(0).strip()))
    for m in _PHONE_LABELLED.finditer(text):
        num = m.group("num").rstrip(" .-")
        if _phone_digits_ok(num):
            spans.append(_Span(m.start("num"), m.start("num") + len(num), "PHONE", num))
    for rx in (_PLATE, *_PLATES):
        for m in rx.finditer(text):
            if not re.fullmatch(r"\d{4}\s?(?:EUR|USD|GBP|CHF)", m.group(0)):
                spans.append(_Span(m.start(), m.end(), "PLATE", m.group(0)))
    for m in _PLATE_LABELLED.finditer(text):
        spans.append(_Span(m.start("plate"), m.end("plate"), "PLATE", m.group("plate")))
    for rx in _NATIONAL_IDS:
        for m in rx.finditer(text):
            spans.append(_Span(m.start(), m.end(), "ID", m.group(0)))
    for m in _ID_LABELLED.finditer(text):
        if any(ch.isdigit() for ch in m.group("id")):
            spans.append(_Span(m.start("id"), m.end("id"), "ID", m.group("id")))
    for rx in (_ADDRESS_FR, _ADDRESS_EN, _ADDRESS_DE_NL, _ADDRESS_SOUTH):
        for m in rx.finditer(text):
            value = m.group(0).rstrip(" ,.\n")
            end = m.start() + len(value)
            # A postcode (and town) right after a street the pattern stopped at belongs to the address.
            tail = _POSTCODE_AFTER_ADDRESS.match(text, end) if end < len(text) else None
            if tail:
                end = tail.end()
            if re.search(r"\d", text[m.start():end]):
                spans.append(_Span(m.start(), end, "ADDRESS", text[m.start():end]))
    for m in _ADDRESS_TAIL.finditer(text):
        street = m.group("street").strip()
        if re.search(r"\d", street) and not _PROTECTED_TEXT.search(street) and len(street.split()) <= 7:
            start = m.start("street") + (len(m.group("street")) - len(m.group("street").lstrip()))
            spans.append(_Span(start, m.end(), "ADDRESS", text[start:m.end()]))
    for m in _US_STATE_ZIP.finditer(text):
        spans.append(_Span(m.start(), m.end(), "ADDRESS", m.group(0)))
    return spans


def _literal_spans(text: str, values: Iterable[str], kind: str, *, word_bounded: bool) -> list[_Span]:
    values = sorted({v for v in values if v}, key=len, reverse=True)
    if not values:
        return []
    alternation = "|".join(re.escape(v) for v in values)
    rx = re.compile(f"{_NOT_WORD_BEFORE}(?:{alternation}){_NOT_WORD_AFTER}" if word_bounded else f"(?:{alternation})")
    return [_Span(m.start(), m.end(), kind, m.group(0)) for m in rx.finditer(text)]


def _resolve(spans: list[_Span]) -> list[_Span]:
    """Non-overlapping spans, higher priority and then longer first."""
    chosen: list[_Span] = []
    for span in sorted(spans, key=lambda s: (_PRIORITY[s.kind], -(s.end - s.start), s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted((s for s in chosen if s.kind != "PROTECTED"), key=lambda s: s.start)


class Redactor:
    """Replaces personal values with placeholders and restores them; one instance per request.

    The same value always gets the same placeholder within one instance, so the subject,
    the body and the model's answer agree. Context values (`names`, `emails`, `phones`,
    `addresses`) are redacted wherever they occur, before any heuristic runs.
    """

    def __init__(
        self,
        *,
        names: Iterable[str | None] = (),
        emails: Iterable[str | None] = (),
        phones: Iterable[str | None] = (),
        addresses: Iterable[str | None] = (),
    ):
        self._placeholder_of: dict[tuple[str, str], str] = {}
        self._original_of: dict[str, str] = {}
        self._counters: Counter[str] = Counter()
        self._names: set[str] = set()
        for display in names:
            for person in person_names_from_display(display):
                self._names.add(person)
        self._emails = {e.strip() for e in emails if e and e.strip()}
        self._phones = {p.strip() for p in phones if p and p.strip()}
        self._addresses: set[str] = set()
        for addr in addresses:
            if addr and addr.strip():
                self._addresses.add(addr.strip())
                street = addr.split(",")[0].strip()
                if len(street) >= 8:
                    self._addresses.add(street)

    # -------------------------------------------------------------- public

    def redact(self, text: str | None) -> str:
        """`text` with every personal value replaced by its placeholder."""
        if not text:
            return text or ""
        self._names.update(find_names(text))
        spans = _protected_spans(text) + _pattern_spans(text)
        spans += _literal_spans(text, self._emails, "EMAIL", word_bounded=False)
        spans += _literal_spans(text, self._addresses, "ADDRESS", word_bounded=False)
        spans += _literal_spans(text, self._phones, "PHONE", word_bounded=False)
        variants: set[str] = set()
        for name in self._names:
            variants |= _name_variants(name)
        spans += _literal_spans(text, variants, "PERSON", word_bounded=True)
        out, pos = [], 0
        for span in _resolve(spans):
            out.append(text[pos : span.start])
            out.append(self._placeholder(span.kind, span.value))
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def restore(self, text: str | None) -> str:
        """Placeholders back to the original values; unknown placeholders are left as they are."""
        if not text:
            return text or ""
        return PLACEHOLDER_RE.sub(lambda m: self._original_of.get(m.group(0), m.group(0)), text)

    def restore_data(self, value):
        """`restore` applied to every string inside dicts, lists and tuples."""
        if isinstance(value, str):
            return self.restore(value)
        if isinstance(value, Mapping):
            return {k: self.restore_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.restore_data(v) for v in value)
        return value

    def placeholder_for(self, kind: str, value: str) -> str:
        """The placeholder of a value the caller redacts itself (e.g. a greeting name in a draft)."""
        return self._placeholder(kind, value)

    def counts(self) -> dict[str, int]:
        """Distinct values replaced, by kind: safe to log."""
        return {k: self._counters[k] for k in PLACEHOLDER_KINDS if self._counters[k]}

    def unknown_placeholders(self, text: str) -> list[str]:
        """Placeholders in `text` this redactor never issued (a model inventing `[PERSON_9]`)."""
        return [m.group(0) for m in PLACEHOLDER_RE.finditer(text or "") if m.group(0) not in self._original_of]

    def __repr__(self) -> str:  # never show the mapping, even in a traceback
        return f"Redactor(counts={self.counts()})"

    # -------------------------------------------------------------- internals

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, _normalize(kind, value))
        placeholder = self._placeholder_of.get(key)
        if placeholder is None:
            self._counters[kind] += 1
            placeholder = f"[{kind}_{self._counters[kind]}]"
            self._placeholder_of[key] = placeholder
            self._original_of[placeholder] = value
        return placeholder


def _normalize(kind: str, value: str) -> str:
    if kind in ("PHONE", "CARD"):
        return re.sub(r"\D", "", value)
    if kind == "IBAN":
        return re.sub(r"\s", "", value).upper()
    return " ".join(value.split()).casefold()


# ------------------------------------------------------------------ prompt injection

_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\u180e"}
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_CONFUSABLE_SCRIPTS = ("CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE")
_SKELETON = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u", "ν": "v", "ο": "o", "α": "a", "ε": "e",
        "Α": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
        "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
        "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y",
    }
)  # fmt: skip

_INSTRUCTION_PATTERNS: list[tuple[str, re.Pattern]] = [
    (
        "ignore_instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|"
            r"preceding|all|any|your|system|original)\b[^.\n]{0,30}\b(?:instructions?|prompts?|rules?|directions?|"
            r"guidelines?|directives?|context|polic(?:y|ies))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "ignore_instructions",
        re.compile(
            r"\b(?:ignore[zr]?|oublie[zr]?|ne\s+tene[zr]\s+pas\s+compte\s+d[eu]s?|n[ée]glige[zr]?|contourne[zr]?)\b"
            r"[^.\n]{0,40}\b(?:instructions?|consignes?|r[èe]gles?|directives?|prompts?|contexte)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "fake_system_note",
        re.compile(
            r"(?:^|\n)[ \t>]*(?:[\[<(#*{]+[ \t]*)?(?:"
            r"(?:system|syst[èe]me|sys|admin(?:istrator|istrateur)?|developer|d[ée]veloppeur|assistant|ai|ia|llm|"
            r"claude|gpt|operator|op[ée]rateur)[ \t]*(?:note|message|prompt|override|update|instructions?|notice|"
            r"avis|mise [àa] jour)?"
            r"|(?:model|mod[èe]le|internal|interne|priority|security|s[ée]curit[ée])[ \t]*(?:note|message|prompt|"
            r"override|update|instructions?|notice|avis)"
            r"|notes?[ \t]+(?:to|for|pour)[ \t]+(?:the[ \t]+|l['’][ \t]*|le[ \t]+)?(?:ai|ia|assistant|model|"
            r"mod[èe]le|claude|system|syst[èe]me|reviewer|agent|llm)(?:[ \t]+(?:assistant|model|agent|system))?"
            r"|(?:note|message|avis|notice)[ \t]+(?:du[ \t]+|de[ \t]+l['’]?[ \t]*|from[ \t]+(?:the[ \t]+)?)?"
            r"(?:syst[èe]me|system|admin(?:istrat(?:eur|or))?|op[ée]rat(?:eur|or)|d[ée]veloppeur|developer))"
            r"[ \t]*(?:[\]>)}*]+|:)",
            re.IGNORECASE,
        ),
    ),
    (
        "fake_system_note",
        re.compile(
            r"</?\s*(?:system|instructions?|admin|assistant|human|prompt|email|im_start|im_end)(?:\s[^<>@]{0,40})?\s*/?>"
            r"|(?:^|\n)[ \t]*(?:human|assistant)[ \t]*:|<\|[a-z_]{2,20}\|>|\[/?INST\]|\[/?(?:system|admin|sys)\]",
            re.IGNORECASE,
        ),
    ),
    (
        "role_override",
        re.compile(
            r"\b(?:you are now|from now on,? you|act as (?:an?|the)|pretend (?:to be|you are)|as an ai\b|"
            r"as a language model|your new (?:task|role|instructions?)|new instructions?\s*:|"
            r"tu es (?:maintenant|d[ée]sormais)|vous [êe]tes (?:maintenant|d[ée]sormais)|agis(?:sez)? comme|"
            r"nouvelles? instructions?\s*:|en tant qu['’]ia|en tant que mod[èe]le)",
            re.IGNORECASE,
        ),
    ),
    (
        "approval_request",
        re.compile(
            r"\b(?:mark|flag|set|label|classify|treat|tag|route|fast[- ]?track|auto[- ]?approve|approve|validate|"
            r"release|consider)\b[^.\n]{0,40}\b(?:as\s+)?(?:approved|accepted|validated|paid|settled|verified|"
            r"legitimate|genuine|low[- ]risk|no[- ]risk|fast[- ]?track(?:ed)?|pre[- ]?approved|auto[- ]?approved)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "approval_request",
        re.compile(
            r"\b(?:approve|auto[- ]?approve|validate|pay(?: out)?|settle|release (?:the )?payment(?: for)?)\s+"
            r"(?:this|the|my)\s+claim\s+(?:immediately|now|right away|automatically|at once|without)",
            re.IGNORECASE,
        ),
    ),
    (
        "approval_request",
        re.compile(
            r"\b(?:status|statut|decision|d[ée]cision|route|routing|queue|file|risk(?:[ _]score)?|"
            r"fraud(?:[ _]score)?|risque)\s*[:=]\s*[\"']?(?:approved|accepted|paid|fast|auto|low|none|0\b|"
            r"approuv|valid|pay[ée]|accept)",
            re.IGNORECASE,
        ),
    ),
    (
        "approval_request",
        re.compile(
            r"\b(?:marque[zr]?|class(?:e|ez|er)|consid[ée]re[zr]?|traite[zr]?|passe[zr]?|approuve[zr]?|"
            r"valide[zr]?|indemnise[zr]?|d[ée]bloque[zr]?)\b[^.\n]{0,40}\b(?:comme\s+)?(?:approuv[ée]e?s?|"
            r"valid[ée]e?s?|accept[ée]e?s?|pay[ée]e?s?|r[ée]gl[ée]e?s?|l[ée]gitimes?|authentiques?|"
            r"faible risque|sans risque|v[ée]rifi[ée]e?s?)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "approval_request",
        re.compile(
            r"\b(?:approuve[zr]?|valide[zr]?|indemnise[zr]?|paye[zr]?|r[èe]gle[zr]?)\s+(?:ce|le|mon)\s+"
            r"(?:dossier|sinistre)\s+(?:imm[ée]diatement|automatiquement|sans|tout de suite|d[èe]s maintenant)",
            re.IGNORECASE,
        ),
    ),
    (
        "approval_request",
        re.compile(
            r"\b(?:skip|bypass|no need for|do not (?:perform|run|do)|don['’]t (?:perform|run|do))\b[^.\n]{0,25}"
            r"\b(?:review|verification|checks?|fraud|investigation|approval)\b"
            r"|\bsans\s+(?:aucune\s+)?(?:v[ée]rification|contr[ôo]le)\b",
            re.IGNORECASE,
        ),
    ),
]


@dataclass(frozen=True)
class InjectionFinding:
    """Whether a mail tries to instruct the model, and which signs were seen (codes, never the text)."""

    flagged: bool
    signals: list[str] = field(default_factory=list)


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ")[0]
    except ValueError:
        return ""


def _unicode_signals(text: str) -> list[str]:
    signals = []
    if any(ch in _ZERO_WIDTH for ch in text) or "\ufeff" in text[1:]:
        signals.append("zero_width_chars")
    if any(ch in _BIDI for ch in text):
        signals.append("bidi_override")
    if any(0xE0000 <= ord(ch) <= 0xE007F for ch in text):
        signals.append("tag_characters")
    if any(0xFF01 <= ord(ch) <= 0xFF5E for ch in text):
        signals.append("fullwidth_chars")
    for word in re.findall(r"[^\W\d_]{2,}", text):
        scripts = {_script(ch) for ch in word if ch.isalpha()}
        if "LATIN" in scripts and scripts & set(_CONFUSABLE_SCRIPTS):
            signals.append("mixed_script_homoglyphs")
            break
    return signals


def _skeleton(text: str) -> str:
    """What a reader (or a model) sees: tag characters decoded, invisibles dropped, look-alikes mapped to Latin."""
    revealed = "".join(chr(ord(ch) - 0xE0000) if 0xE0020 <= ord(ch) <= 0xE007E else ch for ch in text)
    cleaned = "".join(ch for ch in revealed if ch not in _ZERO_WIDTH and ch not in _BIDI and ch != "\ufeff")
    return unicodedata.normalize("NFKC", cleaned).translate(_SKELETON)


def detect_injection(text: str | None, *, subject: str | None = None, defects: Iterable[str] = ()) -> InjectionFinding:
    """Flag e-mail text that tries to instruct the model (for human review); signals are short codes."""
    full = f"{subject or ''}\n{text or ''}"
    signals: list[str] = []
    if "hidden_html_text" in set(defects):
        signals.append("hidden_html_text")
    signals += _unicode_signals(full)
    skeleton = _skeleton(full)
    for code, rx in _INSTRUCTION_PATTERNS:
        if code not in signals and rx.search(skeleton):
            signals.append(code)
    return InjectionFinding(flagged=bool(signals), signals=signals)
