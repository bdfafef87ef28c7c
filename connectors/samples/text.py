"""Vocabulary and formatters shared by the sample policy table and inbox.

Everything here is pure and deterministic given a `random.Random`. The
formatters encode the written conventions of a French insurer's inbox:

* numeric dates are ALWAYS day first (`03/04/2026` is 3 April 2026), with `/`,
  `.` or a two-digit year (`03/04/26`); ISO `2026-03-04` is the only
  year-first form;
* amounts: a `.`, `,` or space followed by exactly three digits groups
  thousands; decimals, when written, are exactly two digits (`1.234,56`,
  `1,234.56`, `1 234,56` are all 1234.56; `1.234 euros` is 1234.00);
* French national phone numbers (`06 12 34 56 78`) are +33; `(212) 555-0147`
  and `212-555-0147` are North American (+1); other countries are always
  written with their `+` prefix.
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata
from datetime import date

LOSS_TYPES = (
    "auto_collision",
    "auto_glass",
    "fire",
    "liability",
    "other",
    "storm",
    "theft",
    "water_damage",
)

MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)
MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet",
    "août", "septembre", "octobre", "novembre", "décembre",
)
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

# --------------------------------------------------------------------------- names

_FIRST = {
    "fr": (
        "Jean", "Marie", "Hélène", "Éric", "François", "Françoise", "Jérôme", "Stéphane",
        "Léa", "Chloé", "Zoé", "Noémie", "Maël", "Anaïs", "Gaëlle", "Joël", "Loïc",
        "Benoît", "Céline", "Sébastien", "Frédéric", "Thérèse", "Agnès", "Cécile",
        "Clément", "Théo", "Raphaël", "Inès", "Amélie", "Aurélie", "Mélanie", "Nathalie",
        "Pierre", "Nicolas", "Julien", "Camille", "Lucas", "Manon", "Hugo", "Emma",
        "Louis", "Sarah", "Thomas", "Isabelle", "Sophie", "Philippe", "Michel", "Alain",
        "Christine", "Sandrine", "Laurent", "Olivier", "Valérie", "Yannick", "Gaël",
        "Anne", "Paul", "Claire", "Antoine", "Mathilde", "Maxime", "Élodie", "Régis",
        "Hervé", "Gérard", "Jacqueline", "Bruno", "David", "Karim", "Nadia", "Mehdi",
        "Yasmina", "Fatima", "Rachid", "Sofiane", "Océane", "Cédric", "Jérémy", "Margaux",
        "Josiane", "Rémi", "Ludovic", "Véronique", "Pascale", "Dominique", "Bérénice",
    ),
    "de": ("Jürgen", "Günther", "Björn", "Uwe", "Jörg", "Lukas", "Anja", "Jürgen", "Sören", "Käthe", "Matthias", "Ute"),
    "pl": ("Łukasz", "Małgorzata", "Paweł", "Zbigniew", "Agnieszka", "Michał", "Wojciech", "Zofia", "Bożena"),
    "ib": ("José", "María", "João", "Conceição", "Iñaki", "Inês", "Sebastián", "Gonçalo", "Ramón"),
    "it": ("Niccolò", "Giovanni", "Chiara", "Francesca", "Luca", "Giulia", "Nicolò"),
    "nordic": ("Søren", "Bjørn", "Åsa", "Øystein", "Signe", "Lærke", "Jens"),
    "uk": ("James", "Emily", "Siobhán", "Seán", "Oliver", "Charlotte", "Niamh"),
    "other": ("Tomáš", "Jiří", "Zoltán", "Çağla", "Gökhan", "Ayşe", "Dóra", "Kateřina"),
}
_LAST = {
    "fr": (
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
        "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
        "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre",
        "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Légaré",
        "Bélanger", "Lemaître", "Crémieux", "Pélissier", "Fénelon", "Hébert", "Dufrêne",
        "Jourdain", "Lévêque", "Benoît", "Rivière", "Noël", "Boucher", "Gauthier",
        "Chevalier", "Barbier", "Perrin", "Clément", "Masson", "Faure", "Mathieu",
        "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Perret", "Marchand",
        "Duval", "Denis", "Dumont", "Fontaine", "Caron", "Brun", "Meunier", "Lacroix",
        "Gérard", "Leclerc", "Ménard", "Besnard", "Hamon", "Le Goff", "Le Gall",
        "Kerhervé", "Ben Ali", "Haddad", "Nguyen", "Tran", "Bouchard", "Delacroix",
        "Ducasse", "Écuyer", "Prévost", "Thiébaut", "Sénéchal", "Brûlé", "Ferrand",
    ),
    "de": ("Müller", "Schäfer", "Weiß", "Schröder", "Köhler", "Groß", "Krüger", "Hoffmann", "Bäcker"),
    "pl": ("Wiśniewski", "Wójcik", "Kowalczyk", "Dąbrowski", "Lewandowska", "Zieliński", "Kamińska", "Wróbel"),
    "ib": ("García", "Muñoz", "Gonçalves", "Araújo", "Ibáñez", "Fernández", "Conceição", "Peña", "Simões"),
    "it": ("Ricci", "Esposito", "Colombo", "Bianchi", "Romano", "Lucà", "Galli"),
    "nordic": ("Jørgensen", "Håkansson", "Lindström", "Dahl", "Sørensen", "Ångström", "Nørgaard"),
    "uk": ("Smith", "Clarke", "O'Brien", "Ó Briain", "Walsh", "Hughes", "Murphy"),
    "other": ("Dvořák", "Novák", "Szűcs", "Yılmaz", "Öztürk", "Kovács", "Čapek", "Şahin"),
}
_ORIGIN_WEIGHTS = (
    ("fr", 78), ("de", 5), ("pl", 4), ("ib", 4), ("it", 2), ("nordic", 2), ("uk", 2), ("other", 3),
)
_ORIGINS = tuple(o for o, _ in _ORIGIN_WEIGHTS)
_ORIGIN_W = tuple(w for _, w in _ORIGIN_WEIGHTS)

_FOLD = str.maketrans({
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE",
    "œ": "oe", "Œ": "OE", "đ": "d", "ı": "i",
})

MAIL_DOMAINS = (
    ("gmail.com", 30), ("orange.fr", 14), ("free.fr", 9), ("laposte.net", 6),
    ("sfr.fr", 6), ("hotmail.fr", 8), ("yahoo.fr", 6), ("outlook.com", 7),
    ("wanadoo.fr", 5), ("gmx.de", 2), ("proton.me", 2), ("icloud.com", 5),
)
_DOMAINS = tuple(d for d, _ in MAIL_DOMAINS)
_DOMAIN_W = tuple(w for _, w in MAIL_DOMAINS)


@functools.lru_cache(maxsize=4096)
def fold_ascii(text: str) -> str:
    """ASCII transliteration used for e-mail local parts (`Łukasz Wójcik` -> `Lukasz Wojcik`)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c) and ord(c) < 128)


def random_name(rng: random.Random) -> str:
    """A realistic, mostly French, sometimes other European full name."""
    origin = rng.choices(_ORIGINS, _ORIGIN_W)[0]
    first = rng.choice(_FIRST[origin])
    if origin == "fr" and rng.random() < 0.07:
        first = f"{first}-{rng.choice(('Marie', 'Pierre', 'Luc', 'Claude', 'Baptiste'))}"
    return f"{first} {rng.choice(_LAST[origin])}"


def email_for(name: str, rng: random.Random, domain: str | None = None) -> str:
    """A plausible personal address for a person's name."""
    first, _, last = name.partition(" ")
    f = fold_ascii(first).lower().replace("-", "")
    l_ = re.sub(r"[^a-z]", "", fold_ascii(last).lower())
    domain = domain or rng.choices(_DOMAINS, _DOMAIN_W)[0]
    pattern = rng.random()
    if pattern < 0.45:
        local = f"{f}.{l_}"
    elif pattern < 0.6:
        local = f"{f[0]}{l_}"
    elif pattern < 0.75:
        local = f"{f}.{l_}{rng.randint(1, 99)}"
    elif pattern < 0.85:
        local = f"{f}_{l_}"
    else:
        local = f"{l_}.{f}{rng.randint(60, 99)}"
    return f"{local}@{domain}"


def random_fr_mobile(rng: random.Random) -> str:
    """A French mobile number in E.164."""
    return f"+33{rng.choice('67')}{rng.randint(0, 99_999_999):08d}"


def random_fr_phone(rng: random.Random) -> str:
    """A French number in E.164: mostly mobile, some landlines."""
    if rng.random() < 0.85:
        return random_fr_mobile(rng)
    return f"+33{rng.choice('12345')}{rng.randint(0, 99_999_999):08d}"


def random_us_phone(rng: random.Random) -> str:
    """A fictional North American number (555-01xx block) in E.164."""
    return f"+1{rng.choice((212, 617, 415, 312, 206, 303, 512, 646))}5550{rng.randint(100, 199)}"


def random_uk_phone(rng: random.Random) -> str:
    """A fictional UK mobile (Ofcom drama range 07700 900xxx) in E.164."""
    return f"+447700900{rng.randint(0, 999):03d}"


# ------------------------------------------------------------------ addresses

_STREET_TYPES = ("rue", "rue", "rue", "avenue", "boulevard", "impasse", "chemin", "allée", "place", "route")
_STREET_NAMES = (
    "de la République", "Victor Hugo", "des Lilas", "Jean Jaurès", "du Général de Gaulle",
    "Pasteur", "des Écoles", "de l'Église", "du Moulin", "des Peupliers", "Émile Zola",
    "Gambetta", "de la Gare", "du Château", "des Acacias", "Saint-Exupéry", "Molière",
    "des Tilleuls", "Voltaire", "de la Paix", "des Vignes", "du Stade", "Jules Ferry",
    "de Verdun", "des Prés", "Louis Pasteur", "de la Fontaine", "Jean Moulin", "des Érables",
)
# Area in freMTPL is population density, A (rural) to F (dense urban).
CITIES_BY_AREA = {
    "A": ("71800 Saint-Julien-de-Civry", "07270 Lamastre", "42220 Bourg-Argental",
          "36270 Éguzon-Chantôme", "29520 Châteauneuf-du-Faou", "46240 Labastide-Murat",
          "15300 Murat", "48150 Meyrueis", "04120 Castellane", "23460 Royère-de-Vassivière"),
    "B": ("23200 Aubusson", "07000 Privas", "05000 Gap", "48000 Mende", "23000 Guéret",
          "09000 Foix", "52000 Chaumont", "58000 Nevers", "12000 Rodez", "24200 Sarlat-la-Canéda"),
    "C": ("24000 Périgueux", "16000 Angoulême", "25000 Besançon", "29000 Quimper",
          "26000 Valence", "79000 Niort", "86000 Poitiers", "64000 Pau", "73000 Chambéry",
          "87000 Limoges"),
    "D": ("69003 Lyon", "31000 Toulouse", "44000 Nantes", "33000 Bordeaux", "34000 Montpellier",
          "67000 Strasbourg", "35000 Rennes", "38000 Grenoble", "21000 Dijon", "45000 Orléans",
          "42000 Saint-Étienne", "76000 Rouen"),
    "E": ("69007 Lyon", "13008 Marseille", "59000 Lille", "06000 Nice", "31500 Toulouse",
          "92100 Boulogne-Billancourt", "93100 Montreuil", "69100 Villeurbanne",
          "94300 Vincennes", "92200 Neuilly-sur-Seine"),
    "F": ("75011 Paris", "75015 Paris", "75018 Paris", "75020 Paris", "75005 Paris",
          "75012 Paris", "75017 Paris"),
}


def random_address(rng: random.Random, area: str = "D") -> str:
    """A French postal address; the town's size follows freMTPL's density Area."""
    city = rng.choice(CITIES_BY_AREA.get(area, CITIES_BY_AREA["D"]))
    number = rng.randint(1, 180)
    suffix = rng.choice(("", "", "", "", " bis", " ter"))
    return f"{number}{suffix} {rng.choice(_STREET_TYPES)} {rng.choice(_STREET_NAMES)}, {city}"


def random_plate(rng: random.Random) -> str:
    """A French SIV registration plate (AB-123-CD)."""
    letters = "ABCDEFGHJKLMNPQRSTVWXYZ"
    return (
        f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(1, 999):03d}-"
        f"{rng.choice(letters)}{rng.choice(letters)}"
    )


# ------------------------------------------------------------------ dates

DATE_STYLES_EN = (
    ("dmy_slash", 24), ("dmy_dot", 8), ("dmy_short_year", 4), ("iso", 10),
    ("d_month_y", 18), ("d_mon_y", 5), ("month_d_y", 14), ("ordinal_no_year", 7),
    ("weekday_d_month_y", 5),
)
DATE_STYLES_FR = (
    ("dmy_slash", 40), ("dmy_dot", 8), ("dmy_short_year", 4), ("iso", 4),
    ("d_month_y_fr", 32), ("weekday_d_month_y_fr", 12),
)


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def format_date(d: date, style: str, rng: random.Random) -> str:
    """Write `d` in `style`; every numeric style is day-first (French convention)."""
    if style == "dmy_slash":
        if rng.random() < 0.2:
            return f"{d.day}/{d.month}/{d.year}"
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if style == "dmy_dot":
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    if style == "dmy_short_year":
        return f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}"
    if style == "iso":
        return d.isoformat()
    if style == "d_month_y":
        return f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"
    if style == "d_mon_y":
        return f"{d.day} {MONTHS_EN[d.month - 1][:3]} {d.year}"
    if style == "month_d_y":
        return f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year}"
    if style == "ordinal_no_year":
        if rng.random() < 0.5:
            return f"{_ordinal(d.day)} of {MONTHS_EN[d.month - 1]}"
        return f"{MONTHS_EN[d.month - 1]} {_ordinal(d.day)}"
    if style == "weekday_d_month_y":
        return f"{WEEKDAYS_EN[d.weekday()]} {d.day} {MONTHS_EN[d.month - 1]} {d.year}"
    if style == "d_month_y_fr":
        day = "1er" if d.day == 1 else str(d.day)
        return f"{day} {MONTHS_FR[d.month - 1]} {d.year}"
    if style == "weekday_d_month_y_fr":
        day = "1er" if d.day == 1 else str(d.day)
        return f"{WEEKDAYS_FR[d.weekday()]} {day} {MONTHS_FR[d.month - 1]} {d.year}"
    raise ValueError(f"unknown date style {style!r}")


def date_phrase(value: str, style: str, lang: str) -> str:
    """The date as it sits in a sentence: `on 4 March 2026`, `on the 4th of March`, `le 4 mars 2026`."""
    if lang == "fr":
        return f"le {value}"
    if style == "ordinal_no_year" and value[0].isdigit():
        return f"on the {value}"
    return f"on {value}"


RELATIVE_DATES = {
    # days before the received date -> phrases
    ("en", 0): ("today", "this morning", "earlier today", "this afternoon"),
    ("en", 1): ("yesterday", "yesterday evening", "yesterday morning"),
    ("fr", 0): ("aujourd'hui", "ce matin", "cet après-midi"),
    ("fr", 1): ("hier", "hier soir", "hier matin"),
}

# ------------------------------------------------------------------ amounts

AMOUNT_STYLES = {
    "EUR": (
        ("eur_code_continental", 20), ("fr_symbol_suffix", 26), ("euro_symbol_prefix", 12),
        ("eur_code_suffix", 12), ("euros_word", 12), ("eur_code_en", 8), ("symbol_suffix_compact", 10),
    ),
    "USD": (("usd_symbol", 45), ("usd_code", 35), ("usd_suffix", 10), ("us_dollar_sign", 10)),
    "GBP": (("gbp_symbol", 70), ("gbp_code", 30)),
}


def _group(n: int, sep: str) -> str:
    s = str(n)
    parts = []
    while len(s) > 3:
        parts.append(s[-3:])
        s = s[:-3]
    parts.append(s)
    return sep.join(reversed(parts))


def format_amount(cents: int, currency: str, style: str, rng: random.Random) -> str:
    """Write an amount the way customers do; unambiguous under the module conventions."""
    units, rest = divmod(cents, 100)
    whole = rest == 0
    if style == "eur_code_continental":
        return f"EUR {_group(units, '.')},{rest:02d}"
    if style == "fr_symbol_suffix":
        space = rng.choice((" ", " ", "\u00a0", "\u202f"))
        tail = "" if whole and rng.random() < 0.4 else f",{rest:02d}"
        return f"{_group(units, space)}{tail}{space}€"
    if style == "euro_symbol_prefix":
        tail = "" if whole and rng.random() < 0.5 else f".{rest:02d}"
        return f"€{_group(units, ',')}{tail}"
    if style == "eur_code_suffix":
        return f"{units} EUR" if whole else f"{units},{rest:02d} EUR"
    if style == "euros_word":
        if whole:
            return f"{_group(units, rng.choice(('.', ' ')))} euros"
        return f"{_group(units, '.')},{rest:02d} euros"
    if style == "eur_code_en":
        return f"EUR {_group(units, ',')}.{rest:02d}"
    if style == "symbol_suffix_compact":
        return f"{units},{rest:02d}€"
    if style == "usd_symbol":
        return f"${_group(units, ',')}" if whole else f"${_group(units, ',')}.{rest:02d}"
    if style == "usd_code":
        return f"USD {_group(units, ',')}.{rest:02d}"
    if style == "usd_suffix":
        return f"{_group(units, ',')} USD" if whole else f"{_group(units, ',')}.{rest:02d} USD"
    if style == "us_dollar_sign":
        return f"US${_group(units, ',')}" if whole else f"US${_group(units, ',')}.{rest:02d}"
    if style == "gbp_symbol":
        return f"£{_group(units, ',')}.{rest:02d}" if not whole or rng.random() < 0.5 else f"£{_group(units, ',')}"
    if style == "gbp_code":
        return f"GBP {_group(units, ',')}.{rest:02d}"
    raise ValueError(f"unknown amount style {style!r}")


# ------------------------------------------------------------------ identifiers

CLAIM_STYLES = (
    ("canonical", 40), ("lower_spaced", 10), ("compact", 12), ("slash", 10),
    ("short_serial", 10), ("lower_dash", 8), ("spaced", 10),
)
POLICY_STYLES = (
    ("canonical", 40), ("compact", 15), ("lower_spaced", 12), ("digits_only", 15),
    ("spaced", 10), ("lower_dash", 8),
)


def format_claim(year: int, serial: int, style: str) -> str:
    """The claim number as a value (after a label such as `Claim number:`)."""
    if style == "canonical":
        return f"CLM-{year}-{serial:06d}"
    if style == "lower_spaced":
        return f"clm {year} {serial:06d}"
    if style == "compact":
        return f"CLM{year}{serial:06d}"
    if style == "slash":
        return f"{year}/{serial:06d}"
    if style == "short_serial":
        return f"CLM-{year}-{serial}"
    if style == "lower_dash":
        return f"clm-{year}-{serial:06d}"
    if style == "spaced":
        return f"CLM {year} {serial:06d}"
    raise ValueError(f"unknown claim style {style!r}")


def claim_noun_phrase(value: str, style: str, lang: str, rng: random.Random) -> str:
    """The claim number inside a sentence, always with a word that says it is a claim."""
    if lang == "fr":
        if style == "slash":
            return f"sinistre n° {value}"
        return rng.choice((f"sinistre n° {value}", f"dossier {value}", f"sinistre {value}", f"dossier n° {value}"))
    if style == "slash":
        return rng.choice((f"claim no. {value}", f"claim number {value}"))
    if style == "short_serial":
        return rng.choice((f"claim #{value}", f"claim {value}"))
    return rng.choice((f"claim {value}", f"claim number {value}", f"file {value}", f"claim reference {value}"))


def format_policy(number7: str, style: str) -> str:
    """The policy number as a value after a policy label; `digits_only` needs that label."""
    if style == "canonical":
        return f"POL-{number7}"
    if style == "compact":
        return f"POL{number7}"
    if style == "lower_spaced":
        return f"pol {number7[:3]} {number7[3:]}"
    if style == "digits_only":
        return number7
    if style == "spaced":
        return f"POL {number7}"
    if style == "lower_dash":
        return f"pol-{number7}"
    raise ValueError(f"unknown policy style {style!r}")


def policy_noun_phrase(value: str, style: str, lang: str, rng: random.Random) -> str:
    """The policy number inside a sentence."""
    if lang == "fr":
        if style == "digits_only":
            return rng.choice((f"contrat n° {value}", f"numéro de contrat {value}"))
        return rng.choice((f"contrat {value}", f"contrat n° {value}", f"police {value}"))
    if style == "digits_only":
        return rng.choice((f"policy number {value}", f"policy no. {value}"))
    return rng.choice((f"policy {value}", f"policy number {value}", f"contract {value}"))


# ------------------------------------------------------------------ phones

PHONE_STYLES = {
    "+33": (("fr_spaced", 40), ("fr_compact", 12), ("fr_dots", 12), ("intl_spaced", 14),
            ("e164", 8), ("intl_zero", 6), ("fr_dashes", 8)),
    "+1": (("us_paren", 55), ("us_dashes", 25), ("us_intl", 20)),
    "+44": (("uk_intl", 100),),
}


def phone_country(e164: str) -> str:
    """Dialling prefix of an E.164 number among those the samples use."""
    for prefix in ("+33", "+44", "+1"):
        if e164.startswith(prefix):
            return prefix
    raise ValueError(f"unsupported phone {e164!r}")


def format_phone(e164: str, style: str) -> str:
    """Write an E.164 number as customers do."""
    if e164.startswith("+33"):
        nat = "0" + e164[3:]
        pairs = [nat[i:i + 2] for i in range(0, 10, 2)]
        if style == "fr_spaced":
            return " ".join(pairs)
        if style == "fr_compact":
            return nat
        if style == "fr_dots":
            return ".".join(pairs)
        if style == "fr_dashes":
            return "-".join(pairs)
        if style == "intl_spaced":
            return "+33 " + nat[1] + " " + " ".join(pairs[1:])
        if style == "e164":
            return e164
        if style == "intl_zero":
            return "+33 (0)" + nat[1] + " " + " ".join(pairs[1:])
    if e164.startswith("+1"):
        a, b, c = e164[2:5], e164[5:8], e164[8:]
        if style == "us_paren":
            return f"({a}) {b}-{c}"
        if style == "us_dashes":
            return f"{a}-{b}-{c}"
        if style == "us_intl":
            return f"+1 {a} {b} {c}"
    if e164.startswith("+44") and style == "uk_intl":
        return f"+44 {e164[3:7]} {e164[7:]}"
    raise ValueError(f"cannot write {e164!r} as {style!r}")


# ------------------------------------------------------------------ loss wording

LOSS_CLAUSES = {
    "auto_collision": {
        "en": (
            "my car was rear-ended at a red light",
            "I was rear-ended by a van on the ring road",
            "another car hit my front bumper at a roundabout",
            "a driver reversed into my car in the supermarket car park",
            "I collided with a car that ran a stop sign",
            "my parked car was hit and the other driver drove off",
            "I skidded on ice and hit the guardrail",
            "a lorry sideswiped my car on the motorway",
        ),
        "fr": (
            "j'ai été percuté à l'arrière à un feu rouge",
            "un autre véhicule a embouti mon pare-chocs avant dans un rond-point",
            "une camionnette a reculé dans ma voiture sur le parking",
            "j'ai eu un accrochage avec un véhicule qui n'a pas respecté le stop",
            "ma voiture a été heurtée alors qu'elle était garée",
            "j'ai glissé sur le verglas et percuté la glissière",
        ),
    },
    "auto_glass": {
        "en": (
            "a stone thrown up by a lorry cracked my windscreen",
            "a chip in my windshield turned into a long crack",
            "my windscreen cracked during a cold night",
            "the rear window shattered for no apparent reason",
            "gravel from roadworks chipped the windshield",
        ),
        "fr": (
            "un gravillon a fissuré mon pare-brise",
            "un impact sur le pare-brise s'est transformé en fissure",
            "la lunette arrière a éclaté sans raison",
            "mon pare-brise s'est fendu pendant une nuit de gel",
        ),
    },
    "theft": {
        "en": (
            "my car was stolen from outside my house",
            "my car was broken into and the radio and satnav were stolen",
            "thieves stole the catalytic converter overnight",
            "my vehicle was stolen from the station car park",
            "someone stole all four wheels of my car",
        ),
        "fr": (
            "ma voiture a été volée devant chez moi",
            "on m'a volé mon véhicule sur le parking de la gare",
            "des voleurs ont dérobé le pot catalytique pendant la nuit",
            "ma voiture a été fracturée et l'autoradio volé",
        ),
    },
    "fire": {
        "en": (
            "my car caught fire on the motorway",
            "an engine fire destroyed the front of the car",
            "my car was burnt out in a fire in the underground car park",
            "a fire in the neighbour's garage spread to my car",
        ),
        "fr": (
            "ma voiture a pris feu sur l'autoroute",
            "un incendie moteur a détruit l'avant du véhicule",
            "mon véhicule a été incendié dans la nuit",
            "un incendie dans le parking souterrain a brûlé ma voiture",
        ),
    },
    "water_damage": {
        "en": (
            "the underground car park flooded and water got into my car",
            "my car was flooded during the heavy rain",
            "the car was submerged up to the seats when the river burst its banks",
            "water leaked into the cabin and ruined the electronics",
        ),
        "fr": (
            "le parking souterrain a été inondé et l'eau est entrée dans ma voiture",
            "ma voiture a été inondée lors des fortes pluies",
            "la crue a submergé mon véhicule jusqu'aux sièges",
            "une infiltration d'eau dans l'habitacle a noyé l'électronique",
        ),
    },
    "storm": {
        "en": (
            "hail left dents all over the roof and bonnet",
            "a tree fell on my car during the storm",
            "a hailstorm damaged the bodywork and the sunroof",
            "strong winds blew roof tiles onto my car",
        ),
        "fr": (
            "la grêle a cabossé le toit et le capot",
            "un arbre est tombé sur ma voiture pendant la tempête",
            "un orage de grêle a endommagé la carrosserie",
            "des tuiles arrachées par le vent sont tombées sur ma voiture",
        ),
    },
    "liability": {
        "en": (
            "I damaged my neighbour's gate while reversing out of the drive",
            "I opened my door into a passing cyclist, who was slightly hurt",
            "I knocked down a garden wall while parking",
            "my car rolled back and broke a shop window",
        ),
        "fr": (
            "j'ai endommagé le portail de mon voisin en reculant",
            "en ouvrant ma portière j'ai fait tomber un cycliste",
            "j'ai abîmé la vitrine d'un commerce en me garant",
            "j'ai renversé le muret d'un jardin en manœuvrant",
        ),
    },
    "other": {
        "en": (
            "vandals slashed my tyres and scratched the paintwork",
            "a marten chewed through the wiring under the bonnet",
            "someone keyed the whole side of my car",
            "vandals snapped off both wing mirrors",
        ),
        "fr": (
            "des vandales ont crevé mes pneus et rayé la carrosserie",
            "une fouine a rongé les câbles sous le capot",
            "ma voiture a été rayée sur tout le côté",
            "des vandales ont arraché les deux rétroviseurs",
        ),
    },
}

LOSS_LABELS = {
    "auto_collision": {"en": ("Collision", "Accident", "Road accident", "Collision with another vehicle"),
                       "fr": ("Collision", "Accident de la circulation", "Accrochage")},
    "auto_glass": {"en": ("Windscreen", "Glass breakage", "Windshield"), "fr": ("Bris de glace", "Pare-brise")},
    "theft": {"en": ("Theft", "Stolen vehicle", "Break-in / theft"), "fr": ("Vol", "Vol du véhicule")},
    "fire": {"en": ("Fire",), "fr": ("Incendie",)},
    "water_damage": {"en": ("Flood", "Water damage"), "fr": ("Inondation", "Dégât des eaux")},
    "storm": {"en": ("Storm", "Hail", "Storm / hail"), "fr": ("Tempête", "Grêle", "Événement climatique")},
    "liability": {"en": ("Third-party liability", "Liability", "Damage to a third party"),
                  "fr": ("Responsabilité civile",)},
    "other": {"en": ("Other", "Vandalism", "Other (vandalism)"), "fr": ("Autre", "Vandalisme")},
}

# ------------------------------------------------------------------ typos

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]{5,}")
_PLACEHOLDER = re.compile(r"(\{[A-Za-z_]+\})")
_KEEP = frozenset(m.lower() for m in MONTHS_EN + MONTHS_FR + WEEKDAYS_EN + WEEKDAYS_FR)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.35:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op < 0.7:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def add_typos(template: str, rng: random.Random, rate: float) -> str:
    """Misspell some words of a template; `{placeholders}`, month and day names stay intact."""
    out = []
    for segment in _PLACEHOLDER.split(template):
        if segment.startswith("{") and segment.endswith("}"):
            out.append(segment)
            continue
        out.append(_WORD.sub(
            lambda m: _typo(m.group(0), rng)
            if m.group(0).lower() not in _KEEP and rng.random() < rate else m.group(0),
            segment,
        ))
    return "".join(out)


def capitalize_first(text: str) -> str:
    """Upper-case the first character only (`iPhone`-safe `str.capitalize`)."""
    return text[:1].upper() + text[1:]
