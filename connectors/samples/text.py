"""Vocabulary and formatters shared by the sample policy table and inbox.

Everything here is pure and deterministic given a `random.Random`. Mail is
written in English, French, German, Spanish, Italian and Dutch (`LANGUAGES`).
The formatters encode the written conventions of a French insurer's inbox:

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
MONTHS_DE = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
    "August", "September", "Oktober", "November", "Dezember",
)
MONTHS_ES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
    "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)
MONTHS_IT = (
    "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
    "agosto", "settembre", "ottobre", "novembre", "dicembre",
)
MONTHS_NL = (
    "januari", "februari", "maart", "april", "mei", "juni", "juli",
    "augustus", "september", "oktober", "november", "december",
)
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
WEEKDAYS_IT = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
WEEKDAYS_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = {"en": MONTHS_EN, "fr": MONTHS_FR, "de": MONTHS_DE, "es": MONTHS_ES, "it": MONTHS_IT, "nl": MONTHS_NL}
WEEKDAYS = {"en": WEEKDAYS_EN, "fr": WEEKDAYS_FR, "de": WEEKDAYS_DE, "es": WEEKDAYS_ES, "it": WEEKDAYS_IT,
            "nl": WEEKDAYS_NL}
LANGUAGES = ("en", "fr", "de", "es", "it", "nl")

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
DATE_STYLES = {
    "en": DATE_STYLES_EN,
    "fr": DATE_STYLES_FR,
    "de": (("dmy_dot", 45), ("dmy_slash", 5), ("iso", 4), ("d_month_y_de", 32), ("weekday_d_month_y_de", 14)),
    "es": (("dmy_slash", 45), ("dmy_dash", 5), ("iso", 4), ("d_month_y_es", 32), ("weekday_d_month_y_es", 14)),
    "it": (("dmy_slash", 45), ("dmy_dot", 5), ("iso", 4), ("d_month_y_it", 32), ("weekday_d_month_y_it", 14)),
    "nl": (("dmy_dash", 35), ("dmy_slash", 15), ("iso", 4), ("d_month_y_nl", 32), ("weekday_d_month_y_nl", 14)),
}


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
    if style == "dmy_dash":
        if rng.random() < 0.2:
            return f"{d.day}-{d.month}-{d.year}"
        return f"{d.day:02d}-{d.month:02d}-{d.year}"
    if style == "d_month_y_de":
        return f"{d.day}. {MONTHS_DE[d.month - 1]} {d.year}"
    if style == "weekday_d_month_y_de":
        return f"{WEEKDAYS_DE[d.weekday()]}, {d.day}. {MONTHS_DE[d.month - 1]} {d.year}"
    if style == "d_month_y_es":
        return f"{d.day} de {MONTHS_ES[d.month - 1]} de {d.year}"
    if style == "weekday_d_month_y_es":
        return f"{WEEKDAYS_ES[d.weekday()]} {d.day} de {MONTHS_ES[d.month - 1]} de {d.year}"
    if style == "d_month_y_it":
        return f"{d.day} {MONTHS_IT[d.month - 1]} {d.year}"
    if style == "weekday_d_month_y_it":
        return f"{WEEKDAYS_IT[d.weekday()]} {d.day} {MONTHS_IT[d.month - 1]} {d.year}"
    if style == "d_month_y_nl":
        return f"{d.day} {MONTHS_NL[d.month - 1]} {d.year}"
    if style == "weekday_d_month_y_nl":
        return f"{WEEKDAYS_NL[d.weekday()]} {d.day} {MONTHS_NL[d.month - 1]} {d.year}"
    raise ValueError(f"unknown date style {style!r}")


def date_phrase(value: str, style: str, lang: str) -> str:
    """The date as it sits in a sentence: `on 4 March 2026`, `le 4 mars 2026`, `am 4. März 2026`, `l'8 marzo 2026`."""
    if lang == "fr":
        return f"le {value}"
    if lang == "de":
        return f"am {value}"
    if lang == "es":
        return f"el {value}"
    if lang == "it":
        if style.startswith("weekday"):
            return value
        # Italian elides the article before a spoken vowel: l'8 marzo, l'11 marzo.
        return f"l'{value}" if re.match(r"(?:0?8|11)\b", value) and style == "d_month_y_it" else f"il {value}"
    if lang == "nl":
        return f"op {value}"
    if style == "ordinal_no_year" and value[0].isdigit():
        return f"on the {value}"
    return f"on {value}"


RELATIVE_DATES = {
    # days before the received date -> phrases
    ("en", 0): ("today", "this morning", "earlier today", "this afternoon"),
    ("en", 1): ("yesterday", "yesterday evening", "yesterday morning"),
    ("fr", 0): ("aujourd'hui", "ce matin", "cet après-midi"),
    ("fr", 1): ("hier", "hier soir", "hier matin"),
    ("de", 0): ("heute", "heute Morgen", "heute Nachmittag"),
    ("de", 1): ("gestern", "gestern Abend", "gestern Morgen"),
    ("es", 0): ("hoy", "esta mañana", "esta tarde"),
    ("es", 1): ("ayer", "ayer por la tarde", "ayer por la mañana"),
    ("it", 0): ("oggi", "stamattina", "questo pomeriggio"),
    ("it", 1): ("ieri", "ieri sera", "ieri mattina"),
    ("nl", 0): ("vandaag", "vanochtend", "vanmiddag"),
    ("nl", 1): ("gisteren", "gisteravond", "gisterochtend"),
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
# Euro amounts as German, Spanish, Italian and Dutch writers put them (always a decimal comma).
AMOUNT_STYLES_EUR_BY_LANG = {
    "de": (("continental_symbol_suffix", 40), ("euro_word_de", 20), ("eur_code_continental", 20),
           ("eur_code_suffix", 20)),
    "es": (("continental_symbol_suffix", 45), ("euros_word", 25), ("eur_code_continental", 15),
           ("eur_code_suffix", 15)),
    "it": (("symbol_prefix_continental", 30), ("continental_symbol_suffix", 25), ("euro_word_it", 25),
           ("eur_code_continental", 20)),
    "nl": (("symbol_prefix_continental", 55), ("eur_code_continental", 25), ("continental_symbol_suffix", 20)),
}


def amount_styles(currency: str, lang: str) -> tuple:
    """The (style, weight) pairs a writer in `lang` uses for `currency`."""
    if currency == "EUR" and lang in AMOUNT_STYLES_EUR_BY_LANG:
        return AMOUNT_STYLES_EUR_BY_LANG[lang]
    return AMOUNT_STYLES[currency]


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
    if style == "continental_symbol_suffix":
        tail = "" if whole and rng.random() < 0.4 else f",{rest:02d}"
        return f"{_group(units, '.')}{tail} €"
    if style == "symbol_prefix_continental":
        tail = "" if whole and rng.random() < 0.4 else f",{rest:02d}"
        return f"€ {_group(units, '.')}{tail}"
    if style in ("euro_word_de", "euro_word_it"):
        tail = "" if whole and rng.random() < 0.5 else f",{rest:02d}"
        return f"{_group(units, '.')}{tail} {'Euro' if style == 'euro_word_de' else 'euro'}"
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


# German phrases are accusative ("betrifft den Schaden ..."), Spanish and Italian carry their article.
_CLAIM_PHRASES = {
    "de": (("den Schaden {v}", "den Schadenfall {v}", "den Vorgang {v}", "die Schadennummer {v}"),
           ("den Schaden Nr. {v}",)),
    "es": (("el siniestro {v}", "el siniestro n.º {v}", "el expediente {v}"), ("el siniestro n.º {v}",)),
    "it": (("il sinistro {v}", "il sinistro n. {v}", "la pratica {v}"), ("il sinistro n. {v}",)),
    "nl": (("schadenummer {v}", "schadedossier {v}", "dossier {v}"), ("schadenummer {v}",)),
}
# German phrases are dative ("versichert unter der Police ...").
_POLICY_PHRASES = {
    "de": (("der Police {v}", "dem Vertrag {v}", "der Versicherungsnummer {v}"),
           ("der Versicherungsnummer {v}", "der Police Nr. {v}")),
    "es": (("la póliza {v}", "la póliza n.º {v}"), ("la póliza n.º {v}", "el número de póliza {v}")),
    "it": (("la polizza {v}", "la polizza n. {v}"), ("la polizza n. {v}", "il numero di polizza {v}")),
    "nl": (("polis {v}", "polisnummer {v}"), ("polisnummer {v}", "polis {v}")),
}


def claim_noun_phrase(value: str, style: str, lang: str, rng: random.Random) -> str:
    """The claim number inside a sentence, always with a word that says it is a claim."""
    if lang in _CLAIM_PHRASES:
        usual, after_label = _CLAIM_PHRASES[lang]
        return rng.choice(after_label if style == "slash" else usual).format(v=value)
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
    if lang in _POLICY_PHRASES:
        usual, digits = _POLICY_PHRASES[lang]
        return rng.choice(digits if style == "digits_only" else usual).format(v=value)
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


# A customer writing from abroad to a French insurer gives a French number in international form.
PHONE_STYLES_ABROAD = (("intl_spaced", 60), ("e164", 25), ("intl_zero", 15))


def phone_styles(e164: str, lang: str) -> tuple:
    """The (style, weight) pairs for writing `e164` in a mail in `lang`."""
    country = phone_country(e164)
    if country == "+33" and lang not in ("en", "fr"):
        return PHONE_STYLES_ABROAD
    return PHONE_STYLES[country]


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

# German, Spanish, Italian and Dutch wording of the same losses (first person; labels as forms name them).
_MORE_CLAUSES = {'auto_collision': {'de': ('mein Auto wurde an einer roten Ampel von hinten angefahren',
                           'ein anderes Fahrzeug hat im Kreisverkehr meine vordere Stoßstange gerammt',
                           'ein Lieferwagen ist auf dem Parkplatz rückwärts gegen mein Auto gefahren',
                           'mein geparktes Auto wurde angefahren und der Fahrer ist einfach weitergefahren'),
                    'es': ('un coche me golpeó por detrás en un semáforo en rojo',
                           'otro vehículo chocó contra mi parachoques delantero en una rotonda',
                           'una furgoneta dio marcha atrás y golpeó mi coche en el aparcamiento',
                           'golpearon mi coche aparcado y el conductor se dio a la fuga'),
                    'it': ('la mia auto è stata tamponata a un semaforo rosso',
                           "un'altra auto ha urtato il mio paraurti anteriore in una rotatoria",
                           'un furgone ha fatto retromarcia contro la mia auto nel parcheggio',
                           'la mia auto parcheggiata è stata urtata e il conducente è scappato'),
                    'nl': ('mijn auto is bij een rood verkeerslicht van achteren aangereden',
                           'een andere auto heeft op een rotonde mijn voorbumper geraakt',
                           'een bestelbus is op de parkeerplaats achteruit tegen mijn auto gereden',
                           'mijn geparkeerde auto is aangereden en de bestuurder is doorgereden')},
 'auto_glass': {'de': ('ein Steinschlag hat meine Windschutzscheibe beschädigt',
                       'ein kleiner Steinschlag in der Frontscheibe ist zu einem langen Riss geworden',
                       'die Heckscheibe ist ohne ersichtlichen Grund zersprungen'),
                'es': ('una piedra lanzada por un camión me agrietó el parabrisas',
                       'un impacto en el parabrisas se ha convertido en una grieta',
                       'la luna trasera se rompió sin motivo aparente'),
                'it': ('un sasso sollevato da un camion ha crepato il parabrezza',
                       'una scheggiatura sul parabrezza si è trasformata in una crepa',
                       'il lunotto posteriore si è rotto senza motivo apparente'),
                'nl': ('een steentje van een vrachtwagen heeft mijn voorruit beschadigd',
                       'een sterretje in de voorruit is uitgegroeid tot een lange barst',
                       'de achterruit is zonder duidelijke reden gesprongen')},
 'theft': {'de': ('mein Auto wurde vor meinem Haus gestohlen',
                  'in mein Auto wurde eingebrochen und das Radio und das Navi wurden gestohlen',
                  'Diebe haben über Nacht den Katalysator ausgebaut und gestohlen'),
           'es': ('me robaron el coche delante de mi casa',
                  'forzaron mi coche y se llevaron la radio y el navegador',
                  'unos ladrones robaron el catalizador durante la noche'),
           'it': ("mi hanno rubato l'auto davanti a casa",
                  "hanno forzato la mia auto e rubato l'autoradio e il navigatore",
                  'dei ladri hanno rubato la marmitta catalitica durante la notte'),
           'nl': ('mijn auto is voor mijn huis gestolen',
                  'er is in mijn auto ingebroken en de radio en het navigatiesysteem zijn gestolen',
                  "dieven hebben 's nachts de katalysator gestolen")},
 'fire': {'de': ('mein Auto ist auf der Autobahn in Brand geraten',
                 'ein Motorbrand hat die Front des Autos zerstört',
                 'bei einem Brand in der Tiefgarage ist mein Auto ausgebrannt'),
          'es': ('mi coche se incendió en la autopista',
                 'un incendio en el motor destruyó la parte delantera del coche',
                 'un incendio en el aparcamiento subterráneo calcinó mi coche'),
          'it': ('la mia auto ha preso fuoco in autostrada',
                 "un incendio al motore ha distrutto la parte anteriore dell'auto",
                 'un incendio nel parcheggio sotterraneo ha bruciato la mia auto'),
          'nl': ('mijn auto is op de snelweg in brand gevlogen',
                 'een motorbrand heeft de voorkant van de auto verwoest',
                 'mijn auto is uitgebrand bij een brand in de parkeergarage')},
 'water_damage': {'de': ('die Tiefgarage wurde überflutet und Wasser ist in mein Auto eingedrungen',
                         'mein Auto wurde beim Starkregen überschwemmt',
                         'Wasser ist in den Innenraum gelaufen und hat die Elektronik beschädigt'),
                  'es': ('el aparcamiento subterráneo se inundó y entró agua en mi coche',
                         'mi coche quedó inundado durante las fuertes lluvias',
                         'entró agua en el habitáculo y estropeó la electrónica'),
                  'it': ("il parcheggio sotterraneo si è allagato e l'acqua è entrata nella mia auto",
                         'la mia auto è stata allagata durante le forti piogge',
                         "è entrata acqua nell'abitacolo e ha danneggiato l'elettronica"),
                  'nl': ('de parkeergarage is overstroomd en er is water in mijn auto gekomen',
                         'mijn auto is bij de hevige regen onder water gelopen',
                         'er is water in het interieur gelekt en de elektronica is kapot')},
 'storm': {'de': ('der Hagel hat Dach und Motorhaube verbeult',
                  'beim Sturm ist ein Baum auf mein Auto gefallen',
                  'ein Hagelschauer hat die Karosserie beschädigt'),
           'es': ('el granizo abolló el techo y el capó',
                  'un árbol cayó sobre mi coche durante la tormenta',
                  'una granizada dañó la carrocería'),
           'it': ('la grandine ha ammaccato il tetto e il cofano',
                  'un albero è caduto sulla mia auto durante il temporale',
                  'una grandinata ha danneggiato la carrozzeria'),
           'nl': ('de hagel heeft deuken in het dak en de motorkap geslagen',
                  'tijdens de storm is er een boom op mijn auto gevallen',
                  'een hagelbui heeft de carrosserie beschadigd')},
 'liability': {'de': ('ich habe beim Rückwärtsfahren das Tor meines Nachbarn beschädigt',
                      'ich habe beim Einparken eine Gartenmauer umgefahren',
                      'beim Öffnen meiner Tür habe ich einen Radfahrer zu Fall gebracht'),
               'es': ('dañé la puerta de mi vecino al dar marcha atrás',
                      'derribé el muro de un jardín al aparcar',
                      'al abrir la puerta del coche hice caer a un ciclista'),
               'it': ('ho danneggiato il cancello del vicino facendo retromarcia',
                      'ho abbattuto il muretto di un giardino durante una manovra',
                      'aprendo la portiera ho fatto cadere un ciclista'),
               'nl': ('ik heb bij het achteruitrijden het hek van mijn buren beschadigd',
                      'ik heb bij het inparkeren een tuinmuurtje omvergereden',
                      'bij het openen van mijn portier heb ik een fietser ten val gebracht')},
 'other': {'de': ('Vandalen haben meine Reifen zerstochen und den Lack zerkratzt',
                  'ein Marder hat die Kabel unter der Motorhaube angenagt',
                  'jemand hat mein Auto auf der ganzen Seite zerkratzt'),
           'es': ('unos vándalos me pincharon las ruedas y rayaron la pintura',
                  'una garduña mordió los cables bajo el capó',
                  'alguien rayó todo el lateral de mi coche'),
           'it': ('dei vandali mi hanno squarciato le gomme e rigato la vernice',
                  'una faina ha rosicchiato i cavi sotto il cofano',
                  'qualcuno ha rigato tutta la fiancata della mia auto'),
           'nl': ('vandalen hebben mijn banden lek gestoken en de lak bekrast',
                  'een steenmarter heeft de kabels onder de motorkap doorgebeten',
                  'iemand heeft de hele zijkant van mijn auto bekrast')}}
_MORE_LABELS = {'auto_collision': {'de': ('Unfall', 'Verkehrsunfall', 'Kollision'),
                    'es': ('Colisión', 'Accidente de tráfico', 'Choque'),
                    'it': ('Collisione', 'Incidente stradale', 'Tamponamento'),
                    'nl': ('Aanrijding', 'Verkeersongeval', 'Botsing')},
 'auto_glass': {'de': ('Glasbruch', 'Windschutzscheibe'),
                'es': ('Rotura de lunas', 'Parabrisas'),
                'it': ('Cristalli', 'Rottura parabrezza'),
                'nl': ('Glasschade', 'Ruitschade')},
 'theft': {'de': ('Diebstahl', 'Fahrzeugdiebstahl'),
           'es': ('Robo', 'Robo del vehículo'),
           'it': ('Furto', 'Furto del veicolo'),
           'nl': ('Diefstal', 'Autodiefstal')},
 'fire': {'de': ('Brand',), 'es': ('Incendio',), 'it': ('Incendio',), 'nl': ('Brand',)},
 'water_damage': {'de': ('Wasserschaden', 'Überschwemmung'),
                  'es': ('Daños por agua', 'Inundación'),
                  'it': ('Danni da acqua', 'Allagamento'),
                  'nl': ('Waterschade', 'Overstroming')},
 'storm': {'de': ('Sturm', 'Hagel', 'Unwetter'),
           'es': ('Tormenta', 'Granizo'),
           'it': ('Grandine', 'Maltempo'),
           'nl': ('Storm', 'Hagel', 'Stormschade')},
 'liability': {'de': ('Haftpflicht', 'Haftpflichtschaden'),
               'es': ('Responsabilidad civil',),
               'it': ('Responsabilità civile',),
               'nl': ('Aansprakelijkheid', 'WA-schade')},
 'other': {'de': ('Sonstiges', 'Vandalismus'),
           'es': ('Otros', 'Vandalismo'),
           'it': ('Altro', 'Atti vandalici'),
           'nl': ('Overig', 'Vandalisme')}}
for _loss in LOSS_TYPES:
    LOSS_CLAUSES[_loss].update(_MORE_CLAUSES[_loss])
    LOSS_LABELS[_loss].update(_MORE_LABELS[_loss])

# A witness's account of what they saw (third person; `{name}` is the policyholder), for the
# losses someone else can see happen.
WITNESS_ACCOUNTS = {
    "auto_collision": {
        "en": "I saw a van reverse into the parked car of {name} in the car park.",
        "fr": "J'ai vu une camionnette reculer et percuter la voiture de {name}, garée sur le parking.",
        "de": "Ich habe gesehen, wie ein Lieferwagen auf dem Parkplatz rückwärts gegen das geparkte Auto von {name} gefahren ist.",
        "es": "Vi cómo una furgoneta daba marcha atrás y golpeaba el coche aparcado de {name} en el aparcamiento.",
        "it": "Ho visto un furgone fare retromarcia e urtare l'auto parcheggiata di {name} nel parcheggio.",
        "nl": "Ik zag hoe een bestelbus op de parkeerplaats achteruit tegen de geparkeerde auto van {name} reed.",
    },
    "liability": {
        "en": "I saw {name} damage the neighbour's gate while reversing out of the drive.",
        "fr": "J'ai vu {name} endommager le portail du voisin en reculant.",
        "de": "Ich habe gesehen, wie {name} beim Rückwärtsfahren das Tor des Nachbarn beschädigt hat.",
        "es": "Vi cómo {name} dañaba la puerta del vecino al dar marcha atrás.",
        "it": "Ho visto {name} danneggiare il cancello del vicino facendo retromarcia.",
        "nl": "Ik zag hoe {name} bij het achteruitrijden het hek van de buren beschadigde.",
    },
    "theft": {
        "en": "I saw two men break into the car of {name} and drive off with it.",
        "fr": "J'ai vu deux individus forcer la voiture de {name} et partir avec.",
        "de": "Ich habe gesehen, wie zwei Männer das Auto von {name} aufgebrochen haben und damit weggefahren sind.",
        "es": "Vi a dos hombres forzar el coche de {name} y llevárselo.",
        "it": "Ho visto due uomini forzare l'auto di {name} e portarla via.",
        "nl": "Ik zag twee mannen inbreken in de auto van {name} en ermee wegrijden.",
    },
    "other": {
        "en": "I saw a group of youths scratch the paintwork of the car of {name} and slash its tyres.",
        "fr": "J'ai vu un groupe de jeunes rayer la carrosserie de la voiture de {name} et crever ses pneus.",
        "de": "Ich habe gesehen, wie Jugendliche den Lack am Auto von {name} zerkratzt und die Reifen zerstochen haben.",
        "es": "Vi a un grupo de jóvenes rayar la pintura del coche de {name} y pincharle las ruedas.",
        "it": "Ho visto un gruppo di ragazzi rigare la vernice dell'auto di {name} e squarciarne le gomme.",
        "nl": "Ik zag een groep jongeren de lak van de auto van {name} bekrassen en de banden lek steken.",
    },
}

# ------------------------------------------------------------------ typos

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]{5,}")
_PLACEHOLDER = re.compile(r"(\{[A-Za-z_]+\})")
_KEEP = frozenset(m.lower() for names in (*MONTHS.values(), *WEEKDAYS.values()) for m in names)


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
