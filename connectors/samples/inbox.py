"""Synthetic claims inbox: realistic `.eml` files and their ground truth.

`generate_inbox` writes RFC 5322 messages (stdlib `email`, CRLF line ends) as
`NNNNNN-<hash>.eml` plus a `ground_truth.jsonl` with one record per file. It
is deterministic for (count, seed, now, policies).

Reading conventions (those of a French insurer; the truth assumes them)
-----------------------------------------------------------------------
* Numeric dates are ALWAYS day first: `03/04/2026`, `3/4/2026`, `03.04.2026`
  and `03/04/26` are 3 April 2026. ISO `2026-03-04` is the only year-first
  form. Written forms: `4 March 2026`, `4 Mar 2026`, `March 4, 2026`,
  `Wednesday 4 March 2026`, `4 mars 2026`, `1er mars 2026`, `mercredi 4 mars
  2026`; `4th of March` / `March 4th` have no year: it is the latest such day
  not after the mail's Date. Relative dates (`yesterday`, `this morning`,
  `hier`, `ce matin`) count from the Date header's local day.
* Amounts: a `.`, `,`, space, NBSP or narrow NBSP followed by exactly three
  digits groups thousands; decimals are exactly two digits. `EUR 1.234,56`,
  `1 234,56 €`, `€1,234.56`, `1234,56€` are 1234.56 EUR; `1.234 euros` is
  1234.00. `$`, `US$`, `USD` are USD; `£`, `GBP` are GBP.
* Claim numbers are `CLM-YYYY-NNNNNN` (YYYY = incident year). Also written
  `clm 2026 000123`, `CLM2026000123`, `CLM 2026 000123`, `clm-2026-000123`,
  `Claim no. 2026/000123` (only after a claim label) and `CLM-2026-123`
  (leading zeros dropped, sometimes `#CLM-2026-123`). A serial of more than
  six digits is malformed (truth None).
* Policy numbers are `POL-NNNNNNN`, seven digits never starting with 0. Also
  `POL1234567`, `POL 1234567`, `pol-1234567`, `pol 123 4567`, and bare
  `1234567` after a policy/contract label. Other digit counts are malformed.
* Phones: French national forms (`06 12 34 56 78`, `0612345678`,
  `06.12.34.56.78`, `06-12-34-56-78`) are +33; `+33 (0)6 ...` drops the
  `(0)`; `(212) 555-0147`, `212-555-0147` are +1; others carry their `+`.
* Quoted text (lines starting `>`, `<blockquote>`) and its attribution line
  (`On ... wrote:`, `Le ... a écrit :`) is earlier mail: never a source of
  fields. A broker's forwarded block (`---------- Forwarded message
  ---------`, `-----Original Message-----`, `-----Message d'origine-----`)
  IS the claim: its `From:` line is the claimant (`contact_email`), and the
  broker's own signature phone is not the contact phone.
* The Subject counts as the mail's own text (follow-ups often carry the
  claim number only there). Attachments are not a source of fields (garage
  estimates in PDFs repeat what the body says).

Truth record (one JSON line per file)
-------------------------------------
`file`, `message_id`, `received_at` (ISO, Date header), `language` (en|fr),
`kind` (new|follow_up|duplicate|no_claim_number), `duplicate_of` and
`follow_up_of` (file names or null), `policy_status` (active|lapsed|unknown:
the status of the policy behind the claim in the policy table, unknown when
the number is not in it or there is no claim), `variations` (sorted tags),
`expected_quarantine_reason` (`missing_claim_number` whenever
`expected.claim_number` is null, else null), `expected` (claim_number,
policy_number, incident_date, loss_type, estimated_amount as a 2-dp string,
currency, contact_email, contact_phone in E.164, photo_count = image/* parts)
and `photos` (sha256, format, degradation, filename, width, height,
reused_from). For a follow-up, `expected` holds the claim number, the
sender's address and only what the new text states; a duplicate's equals
its original's. Out-of-office and newsletters have every field null.
`received_at` carries the sender's UTC offset, and incident dates are 0-45
days before its local day (without `claims`; see below).

Claims from the claims system (`claims=`)
-----------------------------------------
Given `claims` (a frame as `connectors.samples.history.generate_claims_history`
returns), the mails render those claims instead of drawing their own, so live
mail and training history come from one data-generating process. The first
`claims_needed(count, seed)` rows are rendered, one per new-claim mail or
report without a number, in order of `reported_date` (frame order breaks
ties): claim and policy number, incident date, loss type, amount and
`photo_count` photos. The Date header is the reported day at a Paris-local
hour from 07:00 to 22:59 (the same calendar day in every sender's zone);
claims reported after `now` are clamped, arriving between the last earlier
claim mail and `now`. Mails are numbered by received time. The amount is EUR;
mails in USD or GBP convert it at the `fx_rates` seed's rates (0.92 EUR per
USD, 1.17 EUR per GBP) and the truth holds what the mail says. Photo quality
shows in the pixels: below 0.35 every photo of the claim is degraded, below
0.5 one of them. `policy_status` is the policy's status in `policies`, so
lapsed policies come from the frame; 3% of claims still name an unknown
policy number. Follow-ups state the claim's own amount and re-send its own
photos, so folding them into the claim keeps the claims system's values.
Follow-ups, duplicates and other mails fall in between, at random times from
the first claim mail to `now`. `claims_for_inbox` picks such a frame from the
sample claims system.

Variation tags
--------------
Kind and sender: `follow_up`, `follow_up_quoted`, `duplicate`,
`forwarded_broker`, `broker_signature_phone`, `reply_quoted`,
`out_of_office`, `newsletter`, `report_without_number`, `unknown_policy`,
`lapsed_policy`, `currency:USD`, `currency:GBP`, `french`.
Body: `form`, `prose`, `type_of_loss_line`, `typos`, `plain_text_only`,
`html_only`, `multipart_alternative`, `html_entities`,
`claim_number_in_subject`, `relative_date`, `distractor_amount` (an excess),
`distractor_date` (a purchase date), `minimal_body`.
Formats: `claim:<style>`, `policy:<style>`, `date:<style>`,
`amount:<style>`, `phone:<style>` (styles in `connectors.samples.text`).
Missing or broken: `missing_amount`, `missing_date`, `missing_policy_number`,
`missing_loss_type`, `malformed_claim_number`, `malformed_policy_number`.
Encoding: `charset:<name>`, `cte:<name>`, `rfc2047_name`, `rfc2047_subject`,
`wrong_charset` (declared utf-8, Windows-1252 bytes), `raw_8bit_headers`.
Attachments: `photos`, `png_photo`, `degraded_photo`, `reused_photo`,
`non_ascii_filename`, `pdf_attachment`, `zip_attachment`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import html
import io
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from email.generator import BytesGenerator
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr
from html.entities import codepoint2name
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from tqdm import tqdm

from connectors.samples import text as T
from connectors.samples.history import (
    HISTORY_CLAIMS,
    generate_claims_history,
    history_periods,
)
from connectors.samples.photos import (
    DEGRADATIONS,
    PhotoSpec,
    random_photo_spec,
    render_photo,
)

INSURER_NAME = "Claimflow Assurances"
INSURER_ADDR = "claims@claimflow-assurances.fr"
INSURER_PHONE = "09 69 32 10 00"
PARIS = ZoneInfo("Europe/Paris")
_TZ_BY_CURRENCY = {"USD": ZoneInfo("America/New_York"), "GBP": ZoneInfo("Europe/London")}

SHARE_FOLLOW_UP = 0.12
SHARE_DUPLICATE = 0.05
SHARE_NO_CLAIM = 0.04
SHARE_ODD = 0.07
SHARE_UNKNOWN_POLICY = 0.03
SHARE_LAPSED_POLICY = 0.04
SHARE_REUSED_PHOTO = 0.02
SHARE_FRENCH = 0.18
SHARE_WITH_PHOTOS = 0.68  # of new claims
SHARE_FORWARDED = 0.07  # of new claims, sent on by a broker
SHARE_REPLY = 0.065  # of new claims, written as a reply to the insurer

# Rendering claims of the claims system (`claims=`).
CLAIMS_SYSTEM_SEED = 20260101  # the sample claims system's seed, as `ClaimsHistoryConfig.seed`
EUR_PER_UNIT = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}  # the dbt `fx_rates` seed
LOW_PHOTO_QUALITY = 0.35  # below: every photo of the claim is degraded
FAIR_PHOTO_QUALITY = 0.5  # below: one photo of the claim is degraded
RECENT_DAYS = 60  # the claims system's recent window (`history_periods`)
_NO_CLAIM_SORTS = (("out_of_office", 35), ("newsletter", 25), ("report_without_number", 40))
_CLAIM_KINDS = ("new", "report_without_number")  # the mail kinds that render a claim of the frame
_CLAIM_COLUMNS = ("claim_number", "policy_number", "incident_date", "reported_date", "loss_type",
                  "estimated_amount", "photo_count", "photo_quality")
# Paris-local hours a customer writes at; 07:00-22:59 Paris is the same calendar day in
# UTC, London and New York, so the report delay reads the same in every zone.
_LOCAL_HOURS = ((7, 3), (8, 6), (9, 9), (10, 10), (11, 10), (12, 7), (13, 7), (14, 9), (15, 9),
                (16, 9), (17, 8), (18, 7), (19, 6), (20, 5), (21, 4), (22, 2))

LOSS_WEIGHTS = {
    "auto_collision": 35, "auto_glass": 20, "liability": 12, "storm": 10,
    "theft": 8, "other": 7, "water_damage": 5, "fire": 3,
}
AMOUNT_RANGES = {
    "auto_glass": (150, 1400), "auto_collision": (400, 12000), "theft": (1500, 30000),
    "fire": (2000, 40000), "water_damage": (800, 15000), "storm": (400, 9000),
    "liability": (250, 20000), "other": (120, 4000),
}
_ODD = (
    ("missing_amount", 3), ("missing_date", 2), ("missing_policy_number", 2),
    ("missing_loss_type", 1), ("malformed_claim_number", 2), ("malformed_policy_number", 2),
    ("wrong_charset", 2), ("raw_8bit_headers", 2), ("minimal_body", 1),
)
BROKERS = (
    ("Cabinet Martin & Associés", "sinistres@cabinet-martin-associes.fr", "+33478123456"),
    ("Lefèvre Courtage", "contact@lefevre-courtage.fr", "+33240556677"),
    ("Assur'Conseil Rhône", "gestion@assurconseil-rhone.fr", "+33472334455"),
    ("Courtage Bretagne Océan", "sinistres@cbo-courtage.fr", "+33298445566"),
    ("Dubois & Fils Assurances", "agence@dubois-fils-assurances.fr", "+33145678901"),
    ("Atlantique Courtage", "claims@atlantique-courtage.fr", "+33556778899"),
)
NEWSLETTERS = (
    ("RéparAuto Plus", "newsletter@reparauto-plus.fr"),
    ("Pneus Discount 24", "news@pneus-discount24.fr"),
    ("Vitrage Express", "infos@vitrage-express.fr"),
)
_MAILERS = (
    (None, 40), ("X-Mailer: Microsoft Outlook 16.0", 15), ("X-Mailer: iPhone Mail (21D61)", 15),
    ("User-Agent: Mozilla Thunderbird", 8), ("X-Mailer: Orange Messagerie", 7),
    ("X-Mailer: Apple Mail (2.3774.300.61.1.2)", 8), ("User-Agent: Roundcube Webmail/1.6.9", 7),
)

# ----------------------------------------------------------------- wording

GREETINGS = {
    "en": ("Hello,", "Hi,", "Dear Sir or Madam,", "Hello claims team,", "To whom it may concern,"),
    "fr": ("Bonjour,", "Madame, Monsieur,", "Bonjour Madame, Monsieur,"),
}
CLOSINGS = {
    "en": ("Best regards", "Kind regards", "Regards", "Thanks in advance", "Many thanks", "Sincerely"),
    "fr": ("Cordialement", "Bien cordialement", "Bien à vous", "Merci d'avance", "Salutations distinguées"),
}
FORM_INTRO = {
    "en": ("Please find below the details of my claim.", "I would like to declare the following claim:",
           "Here are the details of the incident:", "Claim details below."),
    "fr": ("Veuillez trouver ci-dessous les informations concernant mon sinistre.",
           "Je souhaite déclarer le sinistre suivant :", "Voici les éléments de mon dossier :"),
}
LABELS = {
    "en": {
        "claim": ("Claim number", "Claim no.", "Claim ref", "Claim reference"),
        "policy": ("Policy number", "Policy", "Policy no.", "Contract number"),
        "date": ("Date of incident", "Incident date", "Date of loss", "Date"),
        "type": ("Type of loss", "Loss type", "Nature of damage"),
        "amount": ("Estimated amount", "Estimated cost", "Estimate", "Amount claimed"),
        "phone": ("Phone", "Tel", "Mobile", "Contact number"),
        "description": ("Description", "What happened", "Details"),
    },
    "fr": {
        "claim": ("Numéro de sinistre", "N° de sinistre", "Référence sinistre", "N° dossier sinistre"),
        "policy": ("N° de contrat", "Numéro de contrat", "Contrat", "N° de police"),
        "date": ("Date du sinistre", "Date de l'accident", "Date"),
        "type": ("Nature du sinistre", "Type de sinistre"),
        "amount": ("Montant estimé", "Estimation", "Montant du devis"),
        "phone": ("Téléphone", "Tél.", "Portable"),
        "description": ("Description", "Circonstances"),
    },
}
CLAIM_SENTENCES = {
    "en": ("I am writing about {claim}.", "This e-mail concerns {claim}.",
           "Following my phone call, here are the details for {claim}.",
           "You opened {claim} for me over the phone.", "Please note this is about {claim}."),
    "fr": ("Je vous écris au sujet du {claim}.",
           "Suite à mon appel, voici les informations concernant le {claim}.",
           "Ce message concerne le {claim}."),
}
INCIDENT_DATED = {
    "en": ("{Date}, {clause}.", "I am writing to report that {clause} {date}.",
           "Unfortunately, {clause} {date}.", "{Clause} {date}."),
    "fr": ("{Date}, {clause}.", "Je vous déclare un sinistre : {clause} {date}.", "{Clause} {date}."),
}
INCIDENT_UNDATED = {
    "en": ("Unfortunately, {clause}.", "{Clause}.", "I am writing to report that {clause}."),
    "fr": ("Je vous déclare un sinistre : {clause}.", "{Clause}."),
}
POLICY_SENTENCES = {
    "en": ("My policy number is {pv}.", "I am insured with you under {pnp}.", "The car is covered by {pnp}."),
    "fr": ("Mon numéro de contrat est le {pv}.", "Références de mon contrat : {pnp}.",
           "Je suis assuré chez vous ({pnp})."),
}
AMOUNT_SENTENCES = {
    "en": ("The garage estimates the repairs at {amt}.", "I received a quote for {amt}.",
           "I estimate the damage at around {amt}.", "The repair estimate comes to {amt}."),
    "fr": ("Le garage estime les réparations à {amt}.", "J'ai reçu un devis de {amt}.",
           "Le montant des dégâts est estimé à {amt}."),
}
# Losses that are not a repair bill are valued differently.
AMOUNT_SENTENCES_BY_LOSS = {
    "theft": {"en": ("The car was worth about {amt}.", "I estimate my loss at {amt}."),
              "fr": ("La voiture valait environ {amt}.", "J'estime mon préjudice à {amt}.")},
    "fire": {"en": ("The car was worth about {amt}.", "The loss is estimated at {amt}."),
             "fr": ("La voiture valait environ {amt}.", "Le préjudice est estimé à {amt}.")},
    "liability": {"en": ("The other party's quote for the damage is {amt}.", "The damage is estimated at {amt}."),
                  "fr": ("Le devis de la victime s'élève à {amt}.", "Les dégâts sont estimés à {amt}.")},
}
ABROAD = {"USD": ("Boston", "New York", "Chicago", "Seattle"), "GBP": ("Dover", "London", "Brighton")}
PHONE_SENTENCES = {
    "en": ("You can reach me on {ph}.", "My mobile number is {ph}.", "Please call me on {ph} if you need anything."),
    "fr": ("Vous pouvez me joindre au {ph}.", "Mon numéro de portable : {ph}."),
}
PHOTO_SENTENCES = {
    "en": ("Please find attached photos of the damage.", "Photos attached.", "I attach {n}."),
    "fr": ("Vous trouverez ci-joint des photos des dégâts.", "Je joins {n}."),
}
LOCATIONS = {
    "en": ("It happened near my home.", "This was on the ring road near Lyon.",
           "I was on my way to work.", "Nobody was injured."),
    "fr": ("Cela s'est passé près de chez moi.", "C'était sur le périphérique de Lyon.",
           "J'allais au travail.", "Il n'y a pas de blessé."),
}


@dataclass
class _Claim:
    """The facts of one claim thread, whatever a given mail says about them."""

    index: int
    claim_number: str
    year: int
    serial: int
    policy7: str
    policy_status: str
    name: str
    email: str
    phone: str
    lang: str
    currency: str
    loss_type: str
    clause: str
    incident: date
    amount_cents: int
    plate: str


@dataclass(frozen=True)
class _ClaimRow:
    """One claim of the claims system, as a new-claim mail renders it."""

    claim_number: str
    year: int
    serial: int
    policy_number: str
    incident: date
    reported: date
    loss_type: str
    amount_eur: float
    photo_count: int
    photo_quality: float | None


_CLAIM_NUMBER = re.compile(r"CLM-(\d{4})-(\d{6})")
_POLICY_NUMBER = re.compile(r"POL-[1-9]\d{6}")


def _as_date(value, column: str, claim: str) -> date:
    if value is None or pd.isna(value):
        raise ValueError(f"claims: {claim} has no {column}")
    return pd.Timestamp(value).date()


def _claim_rows(claims: pd.DataFrame, limit: int) -> list[_ClaimRow]:
    """The first `limit` rows of `claims`, checked, in order of reported date (frame order on ties)."""
    missing = [c for c in _CLAIM_COLUMNS if c not in claims.columns]
    if missing:
        raise ValueError(f"claims: missing column(s) {', '.join(missing)}")
    amount_column = "estimated_amount_eur" if "estimated_amount_eur" in claims.columns else "estimated_amount"
    rows = []
    for rec in claims.head(limit).to_dict("records"):
        number = str(rec["claim_number"])
        match = _CLAIM_NUMBER.fullmatch(number)
        if not match:
            raise ValueError(f"claims: claim number {number!r} is not CLM-YYYY-NNNNNN")
        if not _POLICY_NUMBER.fullmatch(str(rec["policy_number"])):
            raise ValueError(f"claims: {number} has policy number {rec['policy_number']!r}, not POL-NNNNNNN")
        if rec["loss_type"] not in T.LOSS_TYPES:
            raise ValueError(f"claims: {number} has unknown loss type {rec['loss_type']!r}")
        amount = rec[amount_column]
        if amount is None or pd.isna(amount) or amount <= 0:
            raise ValueError(f"claims: {number} has no positive {amount_column}")
        incident = _as_date(rec["incident_date"], "incident_date", number)
        reported = _as_date(rec["reported_date"], "reported_date", number)
        if reported < incident:
            raise ValueError(f"claims: {number} is reported on {reported}, before its incident on {incident}")
        quality = rec["photo_quality"]
        rows.append(_ClaimRow(
            claim_number=number, year=int(match[1]), serial=int(match[2]), policy_number=str(rec["policy_number"]),
            incident=incident, reported=reported, loss_type=rec["loss_type"], amount_eur=float(amount),
            photo_count=int(rec["photo_count"]),
            photo_quality=None if quality is None or pd.isna(quality) else float(quality),
        ))
    return sorted(rows, key=lambda row: row.reported)


def _inbox_rng(seed: int) -> random.Random:
    return random.Random(f"claimflow-inbox:{seed}")


def _schedule(rng: random.Random, count: int) -> list[tuple[str, bool]]:
    """Per mail, in claims mode, what it is: (kind or no-claim sort, odd new claim). The first draws of a seed."""
    slots = []
    for _ in range(count):
        roll = rng.random()
        if roll < SHARE_FOLLOW_UP:
            slots.append(("follow_up", False))
        elif roll < SHARE_FOLLOW_UP + SHARE_DUPLICATE:
            slots.append(("duplicate", False))
        elif roll < SHARE_FOLLOW_UP + SHARE_DUPLICATE + SHARE_NO_CLAIM:
            slots.append((_weighted(rng, _NO_CLAIM_SORTS), False))
        else:
            slots.append(("new", roll < SHARE_FOLLOW_UP + SHARE_DUPLICATE + SHARE_NO_CLAIM + SHARE_ODD))
    return slots


def claims_needed(count: int, seed: int) -> int:
    """How many claims `generate_inbox(count, seed, ..., claims=...)` renders (new claims and reports)."""
    return sum(kind in _CLAIM_KINDS for kind, _ in _schedule(_inbox_rng(seed), count))


def claims_for_inbox(
    policies: pd.DataFrame, *, count: int, seed: int, now: datetime, claims_seed: int = CLAIMS_SYSTEM_SEED,
) -> pd.DataFrame:
    """The claims a `count`-mail inbox at `now` renders, drawn from the sample claims system.

    The recent window of `history_periods(policies, seed=claims_seed, today=<now's UTC
    day>)`: incidents in the 60 days before today, at the history's claim rate, with
    `prior_claims` counted in the history as the `claims_history` asset draws it
    (30,000 claims on [today - 61 d - 3 y, today - 61 d], seed `claims_seed`).
    `claims_needed(count, seed)` of those claims are picked at random (seeded by
    `seed`), so the mail spans the whole window, and sorted by reported date; claims
    reported after today are clamped by `generate_inbox`. A window too small for
    `count` is drawn denser: same dates and seed, more claims.
    """
    today = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC).date()
    history_end = today - timedelta(days=RECENT_DAYS + 1)
    history = generate_claims_history(
        policies, n=HISTORY_CLAIMS, seed=claims_seed, start=history_end - timedelta(days=3 * 365), end=history_end,
    )
    need = claims_needed(count, seed)
    _, recent = history_periods(policies, seed=claims_seed, today=today)
    # history_periods' own history starts a day later than the asset's, which moves
    # prior_claims only: redraw the window (same claims) counting the asset's history.
    recent = generate_claims_history(
        policies, n=max(len(recent), need), seed=claims_seed + 1, start=today - timedelta(days=RECENT_DAYS),
        end=today - timedelta(days=1), earlier_claims=history,
    )
    pick = np.sort(np.random.default_rng([seed, 0xC1A1]).choice(len(recent), size=need, replace=False))
    return recent.iloc[pick].sort_values("reported_date", kind="stable").reset_index(drop=True)


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _drop_tags(tags: set, prefixes: tuple[str, ...]) -> None:
    for tag in [t for t in tags if t.startswith(prefixes)]:
        tags.discard(tag)


def _weighted(rng: random.Random, pairs) -> str:
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


# ----------------------------------------------------------------- rendering of bodies

def _block_text(block) -> str:
    kind = block[0]
    if kind == "p":
        return "\n".join(block[1])
    if kind == "fields":
        return "\n".join(f"{label}{block[2]}{value}" for label, value in block[1])
    if kind == "quote":
        inner = blocks_to_text(block[2]).rstrip("\n")
        quoted = "\n".join(("> " + line) if line and not line.startswith(">") else (">" + line) for line in inner.split("\n"))
        return f"{block[1]}\n{quoted}"
    if kind == "fwd":
        return "\n".join(block[1]) + "\n\n" + blocks_to_text(block[2]).rstrip("\n")
    raise ValueError(kind)


def blocks_to_text(blocks) -> str:
    """Plain-text rendering of body blocks."""
    return "\n\n".join(_block_text(b) for b in blocks) + "\n"


def _esc(text: str, entities: bool) -> str:
    escaped = html.escape(text, quote=False)
    if not entities:
        return escaped
    return "".join(
        c if ord(c) < 128 else f"&{codepoint2name[ord(c)]};" if ord(c) in codepoint2name else f"&#{ord(c)};"
        for c in escaped
    )


def _block_html(block, entities: bool) -> str:
    kind = block[0]
    if kind == "p":
        return "<p>" + "<br>\n".join(_esc(line, entities) for line in block[1]) + "</p>"
    if kind == "fields":
        rows = "".join(
            f"<tr><td><b>{_esc(label, entities)}</b></td><td>{_esc(value, entities)}</td></tr>\n"
            for label, value in block[1]
        )
        return f'<table border="0" cellpadding="3">\n{rows}</table>'
    if kind == "quote":
        inner = "\n".join(_block_html(b, entities) for b in block[2])
        return (f"<div>{_esc(block[1], entities)}</div>\n"
                f'<blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">'
                f"\n{inner}\n</blockquote>")
    if kind == "fwd":
        head = "<br>\n".join(_esc(line, entities) for line in block[1])
        inner = "\n".join(_block_html(b, entities) for b in block[2])
        return f"<div>{head}</div><br>\n{inner}"
    raise ValueError(kind)


def blocks_to_html(blocks, entities: bool, charset: str) -> str:
    """HTML rendering of body blocks (tables for forms, blockquote for quotes)."""
    body = "\n".join(_block_html(b, entities) for b in blocks)
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}"></head>\n'
            f'<body style="font-family:Arial,sans-serif">\n{body}\n</body></html>\n')


# ----------------------------------------------------------------- attachments

def minimal_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF (Helvetica, WinAnsi) showing `lines`."""
    def pdf_str(s: str) -> bytes:
        raw = s.encode("cp1252", errors="replace")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"

    content = b"BT /F1 12 Tf 56 790 Td 16 TL\n" + b"".join(pdf_str(line) + b" Tj T*\n" for line in lines) + b"ET\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"endstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _zip(members: list[tuple[str, bytes]], when: datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = when.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _attachment_part(maintype: str, subtype: str, filename: str, disposition: str, placeholder: str) -> MIMEBase:
    """An attachment whose base64 body is a placeholder, spliced in after flattening.

    The stdlib generator writes encoded bodies line by line (two writes per
    76 bytes); splicing the finished base64 in afterwards is ~5x faster.
    """
    part = MIMEBase(maintype, subtype)
    del part["MIME-Version"]
    if filename.isascii():
        part.set_param("name", filename)
        part.add_header("Content-Disposition", disposition, filename=filename)
    else:
        part.set_param("name", filename, charset="utf-8")
        part.add_header("Content-Disposition", disposition, filename=("utf-8", "", filename))
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(placeholder)
    return part


_B64_LINE = re.compile(rb"(.{76})")


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines, as RFC 2045 wants (regex: no Python loop per line)."""
    encoded = base64.b64encode(data)
    return _B64_LINE.sub(b"\\1\r\n", encoded).rstrip(b"\r\n") + b"\r\n"


def _text_part(body: str, subtype: str, charset: str, cte: str, wrong_charset: bool) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset=charset)
    del part["MIME-Version"]
    # A wrong declaration: the label says utf-8, the bytes are Windows-1252.
    data = body.encode("windows-1252" if wrong_charset else charset)
    if cte == "base64":
        payload = base64.encodebytes(data).decode("ascii")
    elif cte == "quoted-printable":
        payload = binascii.b2a_qp(data).decode("ascii")
    else:
        payload = data.decode("ascii", "surrogateescape")
    part.set_payload(payload)
    part["Content-Transfer-Encoding"] = cte
    return part


_HEADER_ORDER = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
_RAW_SUBJECT = "X-RAW8-SUBJECT-X"
_RAW_FROM = "X-RAW8-FROM-X"


def _encode_words(text: str, charset: str, header_name: str) -> str | Header:
    if text.isascii():
        return text
    # A Header (not a pre-encoded str) lets the generator fold around the
    # field name; otherwise long subjects start with an empty folded line.
    return Header(text, charset if _encodable(text, charset) else "utf-8", header_name=header_name)


def _render(plan: dict, out_dir: str) -> dict:
    """Build, write and describe one message (runs in worker processes)."""
    photos = []
    attachments = []
    bodies: list[tuple[str, bytes]] = []

    def attach(maintype: str, subtype: str, data: bytes, filename: str, disposition: str) -> None:
        placeholder = f"X-ATTACHMENT-{len(bodies)}-{plan['boundary']}"
        bodies.append((placeholder, data))
        attachments.append(_attachment_part(maintype, subtype, filename, disposition, placeholder))

    for att in plan["attachments"]:
        if att["type"] == "photo":
            spec: PhotoSpec = att["spec"]
            data = render_photo(spec)
            photos.append({
                "sha256": hashlib.sha256(data).hexdigest(),
                "format": spec.fmt,
                "degradation": spec.degradation,
                "filename": att["filename"],
                "width": spec.output_size[0],
                "height": spec.output_size[1],
                "reused_from_index": att.get("reused_from_index"),
            })
            attach("image", spec.fmt, data, att["filename"], att["disposition"])
        elif att["type"] == "pdf":
            attach("application", "pdf", minimal_pdf(att["lines"]), att["filename"], "attachment")
        else:
            members = [(name, minimal_pdf(content) if name.endswith(".pdf") else content.encode("utf-8"))
                       for name, content in att["members"]]
            attach("application", "zip", _zip(members, plan["date"]), att["filename"], "attachment")

    charset, cte, wrong = plan["charset"], plan["cte"], plan["wrong_charset"]
    if plan["body_mode"] == "text":
        body = _text_part(plan["text"], "plain", charset, cte, wrong)
    elif plan["body_mode"] == "html":
        body = _text_part(plan["html"], "html", charset, cte, wrong)
    else:
        body = MIMEMultipart("alternative", boundary=plan["boundary"] + "_alt")
        del body["MIME-Version"]
        body.attach(_text_part(plan["text"], "plain", charset, cte, wrong))
        body.attach(_text_part(plan["html"], "html", charset, cte, wrong))
    if attachments:
        root = MIMEMultipart("mixed", boundary=plan["boundary"])
        root.attach(body)
        for part in attachments:
            root.attach(part)
    else:
        root = body

    mime_headers = [(k, v) for k, v in root.items()]
    for key in {k for k, _ in mime_headers}:
        del root[key]
    head = {}
    raw8 = plan["raw_8bit_headers"]
    name, addr = plan["from_name"], plan["from_addr"]
    if name is None:
        head["From"] = addr
    elif raw8 and not name.isascii():
        head["From"] = f'"{_RAW_FROM}" <{addr}>'
    else:
        head["From"] = formataddr((name, addr), charset=plan["name_charset"])
    head["To"] = plan["to"]
    if plan.get("cc"):
        head["Cc"] = plan["cc"]
    subject = plan["subject"]
    head["Subject"] = _RAW_SUBJECT if raw8 and not subject.isascii() else _encode_words(subject, plan["name_charset"], "Subject")
    head["Date"] = format_datetime(plan["date"])
    head["Message-ID"] = plan["message_id"]
    if plan.get("in_reply_to"):
        head["In-Reply-To"] = plan["in_reply_to"]
        head["References"] = plan["references"]
    for key in _HEADER_ORDER:
        if key in head:
            root[key] = head[key]
    for line in plan["extra_headers"]:
        key, _, value = line.partition(": ")
        root[key] = value
    root["MIME-Version"] = "1.0"
    for key, value in mime_headers:
        if key != "MIME-Version":
            root[key] = value

    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=compat32.clone(linesep="\r\n")).flatten(root)
    data = buffer.getvalue()
    for placeholder, body_bytes in bodies:
        data = data.replace(placeholder.encode(), _base64_lines(body_bytes), 1)
    if raw8:
        # Raw UTF-8 in headers, as some webmails still send them.
        data = data.replace(_RAW_SUBJECT.encode(), subject.encode("utf-8"), 1)
        data = data.replace(_RAW_FROM.encode(), (name or "").encode("utf-8"), 1)
    file_name = f"{plan['index']:06d}-{hashlib.sha256(data).hexdigest()[:10]}.eml"
    Path(out_dir, file_name).write_bytes(data)
    return {"index": plan["index"], "file": file_name, "photos": photos}


def _render_chunk(plans: list[dict], out_dir: str) -> list[dict]:
    return [_render(plan, out_dir) for plan in plans]


# ----------------------------------------------------------------- planning

class _Planner:
    """Draws every mail's content in one sequential pass (the only use of randomness)."""

    def __init__(self, seed: int, policies: pd.DataFrame, now: datetime, claims: pd.DataFrame | None = None):
        self.rng = _inbox_rng(seed)
        self.seed = seed
        self.claims = claims
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        cutoff = (self.now - timedelta(days=76)).date()
        status = policies["status"].to_numpy()
        starts = policies["start_date"].to_numpy()
        lapses = policies["lapsed_on"].to_numpy()
        active = np.flatnonzero((status == "active") & np.array([s <= cutoff for s in starts]))
        lapsed = np.flatnonzero((status == "lapsed") & np.array([d is not None and d < cutoff for d in lapses]))
        self.active_pool = active if len(active) else np.flatnonzero(status == "active")
        self.lapsed_pool = lapsed if len(lapsed) else np.flatnonzero(status == "lapsed")
        self.numbers = policies["policy_number"].tolist()
        self.known = set(self.numbers)
        self.names = policies["holder_name"].tolist()
        self.emails = policies["holder_email"].tolist()
        self.phones = policies["holder_phone"].tolist()
        self.covers = [c.split(",") for c in policies["covered_loss_types"].tolist()]
        self.statuses = policies["status"].tolist()
        self.row_of = {number: row for row, number in enumerate(self.numbers)}
        self.plans: list[dict] = []
        self.originals: list[int] = []  # new claims that follow-ups and duplicates may point at
        self.original_times: list[datetime] = []
        self.photo_bank: list[tuple[int, PhotoSpec]] = []
        self.photo_ids: set = set()
        self.serials: set[tuple[int, int]] = set()

    # ---- helpers
    def hexid(self, bits: int = 96) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def message_id(self, addr: str) -> str:
        domain = addr.rpartition("@")[2]
        if domain == "gmail.com":
            return f"<CA{self.hexid(128).upper()}@mail.gmail.com>"
        return f"<{self.hexid(64)}.{self.hexid(32)}@{domain}>"

    def received_times(self, count: int) -> list[datetime]:
        offsets = sorted((self.rng.uniform(0, 30 * 86400) for _ in range(count)), reverse=True)
        return [(self.now - timedelta(seconds=s)).replace(microsecond=0) for s in offsets]

    def sender_tz(self, currency: str) -> ZoneInfo | timezone:
        if currency in _TZ_BY_CURRENCY and self.rng.random() < 0.6:
            return _TZ_BY_CURRENCY[currency]
        return UTC if self.rng.random() < 0.05 else PARIS

    def photo_spec(self, degradation: str | None = None) -> PhotoSpec:
        while True:
            spec = random_photo_spec(self.rng, degradation=degradation)
            if spec.identity not in self.photo_ids:
                self.photo_ids.add(spec.identity)
                return spec

    def photo_filename(self, spec: PhotoSpec, when: datetime, n: int, lang: str) -> str:
        r = self.rng
        ext = "png" if spec.fmt == "png" else r.choice(("jpg", "jpg", "jpeg", "JPG"))
        stamp = when + timedelta(seconds=r.randint(0, 3600))
        if spec.fmt == "png":
            return r.choice((f"Screenshot_{stamp:%Y%m%d-%H%M%S}.png", f"image{n}.png"))
        style = r.random()
        if style < 0.25:
            return f"IMG_{stamp:%Y%m%d_%H%M%S}.{ext}"
        if style < 0.4:
            return f"IMG_{r.randint(1000, 9999)}.{ext}"
        if style < 0.5:
            return f"PXL_{stamp:%Y%m%d_%H%M%S}{r.randint(100, 999)}.jpg"
        if style < 0.65:
            return f"photo{n}.{ext}"
        if style < 0.75:
            return f"WhatsApp Image {stamp:%Y-%m-%d} at {stamp:%H.%M.%S}.jpeg"
        if style < 0.85:
            return f"DSC0{r.randint(1000, 9999)}.JPG"
        return f"dégâts voiture {n}.jpg" if lang == "fr" else f"damage {n}.jpg"

    def photos(self, n: int, when: datetime, lang: str, tags: set, index: int, allow_reuse: bool,
               quality: float | None = None) -> list[dict]:
        """`n` new photos; with a claim's `quality` (claims mode) its degradations follow the quality."""
        r = self.rng
        out = []
        spoiled = self.spoiled_photos(n, quality) if self.claims is not None else None
        for k in range(1, n + 1):
            if spoiled is None:
                degradation = _weighted(r, ((None, 88), ("blurred", 5), ("dark", 4), ("tiny", 3)))
            else:
                degradation = r.choice(DEGRADATIONS) if k - 1 in spoiled else None
            spec = self.photo_spec(degradation)
            if degradation:
                tags.add("degraded_photo")
            if spec.fmt == "png":
                tags.add("png_photo")
            filename = self.photo_filename(spec, when, k, lang)
            if not filename.isascii():
                tags.add("non_ascii_filename")
            out.append({"type": "photo", "spec": spec, "filename": filename,
                        "disposition": "inline" if r.random() < 0.15 else "attachment"})
        if allow_reuse and out and self.photo_bank and r.random() < SHARE_REUSED_PHOTO / SHARE_WITH_PHOTOS:
            source_index, spec = self.photo_bank[r.randrange(len(self.photo_bank))]
            out[0] = {**out[0], "spec": spec, "reused_from_index": source_index}
            out[0]["filename"] = self.photo_filename(spec, when, 1, lang)
            tags.add("reused_photo")
        for att in out:
            if "reused_from_index" not in att:
                self.photo_bank.append((index, att["spec"]))
        return out

    def spoiled_photos(self, n: int, quality: float | None) -> set[int]:
        """Which of a claim's `n` photos are degraded: all below LOW_PHOTO_QUALITY, one below FAIR."""
        if quality is None or n == 0 or quality >= FAIR_PHOTO_QUALITY:
            return set()
        if quality < LOW_PHOTO_QUALITY:
            return set(range(n))
        return {self.rng.randrange(n)}

    # ---- facts
    def new_claim(self, index: int, when_utc: datetime, *, min_offset: int = 0,
                  row: _ClaimRow | None = None) -> tuple[_Claim, set, datetime]:
        """Facts of a new claim (drawn, or the claims system's `row`), and the received time in the sender's zone."""
        if row is not None:
            return self.claim_from_row(index, when_utc, row)
        r = self.rng
        tags: set = set()
        roll = r.random()
        if roll < SHARE_UNKNOWN_POLICY:
            status = "unknown"
            while True:
                policy7 = str(r.randint(1_000_000, 9_999_999))
                if f"POL-{policy7}" not in self.known:
                    break
            name = T.random_name(r)
            email = T.email_for(name, r)
            phone = T.random_fr_mobile(r)
            covers = list(T.LOSS_TYPES)
            tags.add("unknown_policy")
        else:
            pool = self.lapsed_pool if roll < SHARE_UNKNOWN_POLICY + SHARE_LAPSED_POLICY else self.active_pool
            row = int(pool[r.randrange(len(pool))])
            status = "lapsed" if pool is self.lapsed_pool else "active"
            if status == "lapsed":
                tags.add("lapsed_policy")
            policy7 = self.numbers[row][4:]
            name = self.names[row]
            email = self.emails[row] if r.random() < 0.8 else T.email_for(name, r)
            phone = self.phones[row] if r.random() < 0.75 else T.random_fr_mobile(r)
            covers = self.covers[row]
        currency = _weighted(r, (("EUR", 89), ("USD", 6), ("GBP", 5)))
        if currency != "EUR":
            tags.add(f"currency:{currency}")
            if r.random() < 0.5:
                phone = T.random_us_phone(r) if currency == "USD" else T.random_uk_phone(r)
        lang = "en" if currency != "EUR" or r.random() >= SHARE_FRENCH else "fr"
        when = when_utc.astimezone(self.sender_tz(currency))
        local_day = when.date()
        candidates = covers if r.random() < 0.92 else list(T.LOSS_TYPES)
        loss = r.choices(candidates, [LOSS_WEIGHTS[c] for c in candidates])[0]
        offset = max(min_offset, min(45, int(r.triangular(0, 46, 0))))
        incident = local_day - timedelta(days=offset)
        lo, hi = AMOUNT_RANGES[loss]
        euros = math.exp(r.uniform(math.log(lo), math.log(hi)))
        cents = round(euros) * 100 if r.random() < 0.5 else round(euros * 100)
        if cents % 100 == 0 and r.random() < 0.5:
            cents = max(100, round(cents, -3))
        year = incident.year
        while True:
            serial = r.randint(1, 99_999) if r.random() < 0.6 else r.randint(100_000, 999_999)
            if (year, serial) not in self.serials:
                self.serials.add((year, serial))
                break
        claim = _Claim(
            index=index, claim_number=f"CLM-{year}-{serial:06d}", year=year, serial=serial,
            policy7=policy7, policy_status=status, name=name, email=email, phone=phone, lang=lang,
            currency=currency, loss_type=loss, clause=r.choice(T.LOSS_CLAUSES[loss][lang]),
            incident=incident, amount_cents=cents, plate=T.random_plate(r),
        )
        return claim, tags, when

    def unknown_holder(self) -> tuple[str, str, str, str]:
        """A policy number the register does not hold, and a stranger's name, e-mail and phone."""
        r = self.rng
        while True:
            policy7 = str(r.randint(1_000_000, 9_999_999))
            if f"POL-{policy7}" not in self.known:
                break
        name = T.random_name(r)
        return policy7, name, T.email_for(name, r), T.random_fr_mobile(r)

    def claim_from_row(self, index: int, when_utc: datetime, row: _ClaimRow) -> tuple[_Claim, set, datetime]:
        """The facts of a claims-system claim; who writes, in which language and currency is drawn."""
        r = self.rng
        tags: set = set()
        found = self.row_of.get(row.policy_number)
        if found is None or r.random() < SHARE_UNKNOWN_POLICY:
            status = "unknown"
            stranger_policy7, name, email, phone = self.unknown_holder()
            policy7 = row.policy_number[4:] if found is None else stranger_policy7
            tags.add("unknown_policy")
        else:
            status = self.statuses[found]
            if status == "lapsed":
                tags.add("lapsed_policy")
            policy7 = row.policy_number[4:]
            name = self.names[found]
            email = self.emails[found] if r.random() < 0.8 else T.email_for(name, r)
            phone = self.phones[found] if r.random() < 0.75 else T.random_fr_mobile(r)
        currency = _weighted(r, (("EUR", 89), ("USD", 6), ("GBP", 5)))
        if currency != "EUR":
            tags.add(f"currency:{currency}")
            if r.random() < 0.5:
                phone = T.random_us_phone(r) if currency == "USD" else T.random_uk_phone(r)
        lang = "en" if currency != "EUR" or r.random() >= SHARE_FRENCH else "fr"
        when = when_utc.astimezone(self.sender_tz(currency))
        if when.date() < row.incident:  # only a time clamped to `now`: Paris is on the incident's day by then
            when = when_utc.astimezone(PARIS)
        self.serials.add((row.year, row.serial))
        claim = _Claim(
            index=index, claim_number=row.claim_number, year=row.year, serial=row.serial,
            policy7=policy7, policy_status=status, name=name, email=email, phone=phone, lang=lang,
            currency=currency, loss_type=row.loss_type, clause=r.choice(T.LOSS_CLAUSES[row.loss_type][lang]),
            incident=row.incident, amount_cents=round(row.amount_eur * 100 / EUR_PER_UNIT[currency]),
            plate=T.random_plate(r),
        )
        return claim, tags, when

    # ---- statements: what one mail says, and how
    def statement(self, c: _Claim, local_day: date, tags: set, odd: set, *, allow_relative: bool) -> dict:
        r = self.rng
        lang = c.lang
        st: dict = {"style": "form" if r.random() < 0.45 else "prose"}
        tags.add(st["style"])
        claim_style = _weighted(r, T.CLAIM_STYLES)
        if "malformed_claim_number" in odd:
            st["claim_value"] = f"CLM-{c.year}-{r.randint(1_000_000, 99_999_999)}"
            st["claim_np"] = T.claim_noun_phrase(st["claim_value"], "canonical", lang, r)
            st["claim_valid"] = False
        else:
            tags.add(f"claim:{claim_style}")
            st["claim_value"] = T.format_claim(c.year, c.serial, claim_style)
            st["claim_np"] = T.claim_noun_phrase(st["claim_value"], claim_style, lang, r)
            st["claim_valid"] = True
        st["claim_style"] = claim_style

        st["policy"] = None
        if "missing_policy_number" not in odd and r.random() < 0.95:
            if "malformed_policy_number" in odd:
                digits = str(r.randint(10_000, 999_999)) if r.random() < 0.5 else str(r.randint(10_000_000, 999_999_999))
                st["policy"], st["policy_valid"] = f"POL-{digits}", False
                st["policy_np"] = T.policy_noun_phrase(st["policy"], "canonical", lang, r)
            else:
                style = _weighted(r, T.POLICY_STYLES)
                tags.add(f"policy:{style}")
                st["policy"], st["policy_valid"] = T.format_policy(c.policy7, style), True
                st["policy_np"] = T.policy_noun_phrase(st["policy"], style, lang, r)
        elif "missing_policy_number" not in odd:
            odd.add("missing_policy_number")

        st["date"] = None
        if "missing_date" not in odd and r.random() < 0.95:
            days_before = (local_day - c.incident).days
            if allow_relative and st["style"] == "prose" and days_before <= 1 and r.random() < 0.4:
                phrase = r.choice(T.RELATIVE_DATES[(lang, days_before)])
                st["date"], st["date_phrase"] = phrase, phrase
                tags.update(("relative_date", "date:relative"))
            else:
                style = _weighted(r, T.DATE_STYLES_FR if lang == "fr" else T.DATE_STYLES_EN)
                tags.add(f"date:{style}")
                st["date"] = T.format_date(c.incident, style, r)
                st["date_phrase"] = T.date_phrase(st["date"], style, lang)
        elif "missing_date" not in odd:
            odd.add("missing_date")

        st["amount"] = None
        if "missing_amount" not in odd and r.random() < 0.87:
            style = _weighted(r, T.AMOUNT_STYLES[c.currency])
            if style == "euros_word" and c.amount_cents % 100:
                style = "eur_code_continental"
            tags.add(f"amount:{style}")
            st["amount"] = T.format_amount(c.amount_cents, c.currency, style, r)
            st["amount_style"] = style
        elif "missing_amount" not in odd:
            odd.add("missing_amount")

        st["loss"] = "missing_loss_type" not in odd
        st["type_line"] = st["loss"] and st["style"] == "form" and r.random() < 0.5
        if st["type_line"]:
            tags.add("type_of_loss_line")
        st["phone"] = None
        if r.random() < 0.6:
            style = _weighted(r, T.PHONE_STYLES[T.phone_country(c.phone)])
            tags.add(f"phone:{style}")
            st["phone"] = T.format_phone(c.phone, style)
            st["phone_in_signature"] = r.random() < 0.3
        st["typos"] = 0.12 if r.random() < 0.15 else 0.0
        if st["typos"]:
            tags.add("typos")
        st["distractors"] = [d for d, p in (("plate", 0.2), ("mileage", 0.08), ("time", 0.15),
                                            ("distractor_amount", 0.04), ("distractor_date", 0.04)) if r.random() < p]
        tags.update(d for d in st["distractors"] if d.startswith("distractor_"))
        return st

    def typo(self, st: dict, template: str) -> str:
        return T.add_typos(template, self.rng, st["typos"]) if st["typos"] else template

    def greeting(self, lang: str, when: datetime) -> str:
        if self.rng.random() < 0.2:
            if lang == "fr":
                return "Bonsoir," if when.hour >= 18 else "Bonjour,"
            return "Good morning," if when.hour < 12 else "Good afternoon," if when.hour < 18 else "Good evening,"
        return self.rng.choice(GREETINGS[lang])

    def claim_blocks(self, c: _Claim, st: dict, photo_n: int, extra_doc: str | None, when: datetime) -> list:
        """Body blocks for a claim declaration (form or prose, English or French)."""
        r = self.rng
        lang = c.lang
        labels = LABELS[lang]
        clause = self.typo(st, c.clause)
        blocks = [("p", [self.greeting(lang, when)])]
        if st["style"] == "form":
            blocks.append(("p", [r.choice(FORM_INTRO[lang])]))
            fields = []
            claim_labels = labels["claim"]
            fields.append((r.choice(claim_labels), st["claim_value"]))
            if st["policy"]:
                fields.append((r.choice(labels["policy"]), st["policy"]))
            if st["date"]:
                fields.append((r.choice(labels["date"]), st["date"]))
            if st["type_line"]:
                fields.append((r.choice(labels["type"]), r.choice(T.LOSS_LABELS[c.loss_type][lang])))
            if st["amount"]:
                fields.append((r.choice(labels["amount"]), st["amount"]))
            if st["phone"] and not st["phone_in_signature"]:
                fields.append((r.choice(labels["phone"]), st["phone"]))
            if r.random() < 0.2:
                head, tail = fields[:1], fields[1:]
                r.shuffle(tail)
                fields = tail[:1] + head + tail[1:]
            sep = r.choice((": ", ": ", " : " if lang == "fr" else ": ", ":\t", " - "))
            blocks.append(("fields", fields, sep))
            if st["loss"]:
                blocks.append(("p", [f"{r.choice(labels['description'])}: {T.capitalize_first(clause)}."]))
        else:
            first: list[str] = []
            claim_sentence = self.typo(st, r.choice(CLAIM_SENTENCES[lang])).format(claim=st["claim_np"])
            if st["loss"]:
                if st["date"]:
                    template = self.typo(st, r.choice(INCIDENT_DATED[lang]))
                    first.append(template.format(
                        Date=T.capitalize_first(st["date_phrase"]), date=st["date_phrase"],
                        clause=clause, Clause=T.capitalize_first(clause)))
                else:
                    template = self.typo(st, r.choice(INCIDENT_UNDATED[lang]))
                    first.append(template.format(clause=clause, Clause=T.capitalize_first(clause)))
            elif st["date"]:
                first.append(T.capitalize_first(
                    ("It happened " if lang == "en" else "C'est arrivé ") + st["date_phrase"] + "."))
            if r.random() < 0.7:
                first.insert(0, claim_sentence)
            else:
                first.append(claim_sentence)
            if r.random() < 0.3:
                first.append(self.typo(st, r.choice(LOCATIONS[lang])))
            second: list[str] = []
            if st["policy"]:
                second.append(self.typo(st, r.choice(POLICY_SENTENCES[lang])).format(pv=st["policy"], pnp=st["policy_np"]))
            if st["amount"]:
                if c.currency in ABROAD:
                    second.append(f"I was travelling abroad: the repair shop in {r.choice(ABROAD[c.currency])} "
                                  f"quoted {st['amount']}.")
                else:
                    options = AMOUNT_SENTENCES_BY_LOSS.get(c.loss_type, AMOUNT_SENTENCES)[lang]
                    second.append(self.typo(st, r.choice(options)).format(amt=st["amount"]))
            if st["phone"] and not st["phone_in_signature"]:
                second.append(self.typo(st, r.choice(PHONE_SENTENCES[lang])).format(ph=st["phone"]))
            blocks.append(("p", [" ".join(first)]))
            if second:
                blocks.append(("p", [" ".join(second)]))
        blocks.extend(self.distractor_blocks(c, st))
        tail = []
        if photo_n:
            sentence = r.choice(PHOTO_SENTENCES[lang])
            if "{n}" in sentence:
                if lang == "fr":
                    count_words = "une photo" if photo_n == 1 else f"{photo_n} photos"
                else:
                    count_words = "a photo" if photo_n == 1 else f"{photo_n} photos"
                sentence = sentence.format(n=count_words)
            tail.append(sentence)
        elif r.random() < 0.3:
            tail.append("I will send photos later." if lang == "en" else "Je vous enverrai des photos plus tard.")
        if extra_doc == "pdf":
            tail.append("I also attach the garage's estimate." if lang == "en" else "Ci-joint le devis du garage.")
        elif extra_doc == "zip":
            tail.append("All the documents are in the attached archive." if lang == "en"
                        else "Tous les documents sont dans l'archive jointe.")
        if tail:
            blocks.append(("p", [" ".join(tail)]))
        blocks.append(self.signature(c.name, lang, st["phone"] if st["phone"] and st["phone_in_signature"] else None))
        return blocks

    def distractor_blocks(self, c: _Claim, st: dict) -> list:
        r = self.rng
        en = c.lang == "en"
        lines = []
        for kind in st["distractors"]:
            if kind == "plate":
                lines.append(f"My registration number is {c.plate}." if en else f"Immatriculation : {c.plate}.")
            elif kind == "mileage":
                km = f"{r.randint(8, 240)} {r.randint(0, 999):03d}"
                lines.append(f"The car has {km} km on the clock." if en else f"Le véhicule a {km} km.")
            elif kind == "time":
                hh, mm = r.randint(6, 22), r.choice((0, 15, 30, 45, 10, 20))
                lines.append(f"It was around {hh}:{mm:02d}." if en else f"C'était vers {hh}h{mm:02d}.")
            elif kind == "distractor_amount":
                excess = T.format_amount(r.choice((150, 200, 300, 380, 500)) * 100, "EUR",
                                         st.get("amount_style", "eur_code_continental")
                                         if c.currency == "EUR" else "eur_code_continental", r)
                lines.append(f"I know my excess is {excess}." if en else f"Je sais que ma franchise est de {excess}.")
            elif kind == "distractor_date":
                bought = c.incident - timedelta(days=r.randint(400, 3000))
                style = _weighted(r, T.DATE_STYLES_FR if c.lang == "fr" else T.DATE_STYLES_EN)
                if style == "ordinal_no_year":
                    style = "d_month_y"
                value = T.format_date(bought, style, r)
                lines.append(f"I bought the car {T.date_phrase(value, style, 'en')}." if en
                             else f"J'ai acheté la voiture {T.date_phrase(value, style, 'fr')}.")
        return [("p", [" ".join(lines)])] if lines else []

    def signature(self, name: str, lang: str, phone: str | None) -> tuple:
        r = self.rng
        shown = name if r.random() < 0.7 else name.split(" ")[0]
        lines = [r.choice(CLOSINGS[lang]) + ("," if r.random() < 0.7 else ""), shown]
        if phone:
            lines.append(f"{r.choice(('Tel', 'Mobile', 'Phone'))}: {phone}" if lang == "en" else f"Tél. : {phone}")
        if r.random() < 0.1:
            lines += ["", "Sent from my iPhone" if lang == "en" else "Envoyé de mon iPhone"]
        return ("p", lines)

    def subject(self, c: _Claim, st: dict, tags: set) -> tuple[str, bool]:
        r = self.rng
        word = r.choice(T.LOSS_LABELS[c.loss_type][c.lang])
        if st["claim_valid"] and r.random() < 0.45:
            value = st["claim_value"] if st["claim_style"] != "slash" else f"no. {st['claim_value']}"
            options = ((f"Claim {value}", f"New claim {value}", f"Claim {value} - {word}", f"My claim {value}")
                       if c.lang == "en" else
                       (f"Sinistre {value}", f"Dossier {value}", f"Déclaration sinistre {value}"))
            return r.choice(options), True
        if c.lang == "en":
            options = (f"Claim declaration - {word}", f"{word} damage", "Accident report", "Car insurance claim",
                       "Damage to my car", "Declaration of loss")
        else:
            options = ("Déclaration de sinistre", f"Déclaration sinistre - {word}", "Sinistre auto",
                       "Déclaration de sinistre automobile")
        return r.choice(options), False

    # ---- plans
    def base_plan(self, index: int, kind: str, when: datetime, lang: str) -> dict:
        r = self.rng
        mailer = _weighted(r, _MAILERS)
        return {
            "index": index, "kind": kind, "lang": lang, "date": when,
            "to": f"{INSURER_NAME} <{INSURER_ADDR}>" if r.random() < 0.6 else INSURER_ADDR,
            "cc": None, "in_reply_to": None, "references": None,
            "extra_headers": [mailer] if mailer else [],
            "attachments": [], "boundary": f"----=_Part_{self.hexid(48)}",
            "raw_8bit_headers": False, "wrong_charset": False, "tags": set(),
            "follow_up_of_index": None, "duplicate_of_index": None,
        }

    def finalize(self, plan: dict, blocks: list, force_mode: str | None = None) -> dict:
        """Choose body structure, charset and transfer encoding; render text and HTML."""
        r = self.rng
        tags = plan["tags"]
        plan["blocks"] = blocks
        mode = force_mode or _weighted(r, (("text", 70), ("html", 12), ("alternative", 18)))
        if plan["wrong_charset"]:
            mode = "text"
        plan["body_mode"] = mode
        tags.add({"text": "plain_text_only", "html": "html_only", "alternative": "multipart_alternative"}[mode])
        entities = mode != "text" and r.random() < 0.5
        text = blocks_to_text(blocks)
        if not (text.isascii() or plan["wrong_charset"]):
            charset = _weighted(r, (("utf-8", 60), ("iso-8859-1", 13), ("windows-1252", 14), ("iso-8859-15", 13)))
            charset = next(cs for cs in (charset, "windows-1252", "utf-8") if _encodable(text, cs))
        else:
            charset = "us-ascii" if text.isascii() and r.random() < 0.25 else "utf-8"
        if plan["wrong_charset"]:
            charset = "utf-8"
            if text.isascii() or not _encodable(text, "windows-1252"):
                plan["wrong_charset"] = False
                tags.discard("wrong_charset")
        plan["text"] = text if mode != "html" else None
        plan["html"] = blocks_to_html(blocks, entities, charset) if mode != "text" else None
        if plan["html"] is not None and entities:
            tags.add("html_entities")
        payload = (plan["text"] or "") + (plan["html"] or "")
        if charset == "us-ascii" or payload.isascii() and r.random() < 0.5:
            cte = "7bit"
        elif charset == "utf-8":
            cte = _weighted(r, (("base64", 35), ("quoted-printable", 35), ("8bit", 30)))
        else:
            cte = _weighted(r, (("quoted-printable", 60), ("8bit", 25), ("base64", 15)))
        if plan["wrong_charset"]:
            cte = r.choice(("8bit", "quoted-printable"))
        plan["charset"], plan["cte"] = charset, cte
        tags.update((f"charset:{charset}", f"cte:{cte}"))
        name = plan.get("from_name")
        plan["name_charset"] = "utf-8"
        if name and not name.isascii():
            tags.add("rfc2047_name" if not plan["raw_8bit_headers"] else "raw_8bit_headers")
            if _encodable(name, "iso-8859-1") and r.random() < 0.25:
                plan["name_charset"] = "iso-8859-1"
        if not plan["subject"].isascii() and not plan["raw_8bit_headers"]:
            tags.add("rfc2047_subject")
        if plan["raw_8bit_headers"] and plan["subject"].isascii() and (not name or name.isascii()):
            plan["raw_8bit_headers"] = False
            tags.discard("raw_8bit_headers")
        return plan

    def expected(self, **fields) -> dict:
        base = dict.fromkeys(("claim_number", "policy_number", "incident_date", "loss_type", "estimated_amount",
                              "currency", "contact_email", "contact_phone"))
        base.update(fields)
        return base

    def plan_new(self, index: int, when_utc: datetime, odd_bucket: bool, row: _ClaimRow | None = None) -> dict:
        r = self.rng
        odd: set = set()
        if odd_bucket:
            while len(odd) < (1 if r.random() < 0.6 else 2):
                odd.add(_weighted(r, _ODD))
        if row is not None and not row.photo_count and "minimal_body" in odd:
            # A photos-only mail needs photos; this claim has none.
            odd.discard("minimal_body")
            odd.add(_weighted(r, [pair for pair in _ODD if pair[0] != "minimal_body"]))
        forwarded = r.random() < SHARE_FORWARDED and "minimal_body" not in odd
        reply = not forwarded and r.random() < SHARE_REPLY
        c, tags, when = self.new_claim(index, when_utc, min_offset=1 if forwarded else 0, row=row)
        if odd & {"wrong_charset", "raw_8bit_headers"} and c.currency == "EUR":
            c.lang = "fr"
            c.clause = r.choice(T.LOSS_CLAUSES[c.loss_type]["fr"])
        plan = self.base_plan(index, "new", when, c.lang)
        tags |= plan["tags"]
        plan["tags"] = tags
        tags.update(odd)
        if c.lang == "fr":
            tags.add("french")
        # Relative dates only where the Date header is the customer's own.
        st = self.statement(c, when.date(), tags, odd, allow_relative=not forwarded)
        tags.update(odd)

        photo_n = 0
        if row is not None:
            photo_n = row.photo_count
        elif "minimal_body" in odd or r.random() < SHARE_WITH_PHOTOS:
            photo_n = _weighted(r, ((1, 30), (2, 30), (3, 24), (4, 16)))
        extra_doc = "pdf" if r.random() < 0.06 else "zip" if r.random() < 0.03 else None
        photo_when = datetime.combine(c.incident, datetime.min.time()).replace(hour=r.randint(7, 20))
        plan["attachments"] = self.photos(photo_n, photo_when, c.lang, tags, index, allow_reuse=True,
                                          quality=row.photo_quality if row else None)
        if photo_n:
            tags.add("photos")

        if "minimal_body" in odd:
            st.update(policy=None, date=None, amount=None, loss=False, type_line=False, phone=None)
            odd.update(("missing_policy_number", "missing_date", "missing_amount", "missing_loss_type"))
            _drop_tags(tags, ("date:", "amount:", "policy:", "phone:", "distractor_", "relative_date",
                              "type_of_loss_line", "typos", "form", "prose"))
            tags.update(odd)
            lines = ([f"Photos for {st['claim_np']}."] if c.lang == "en"
                     else [f"Voici les photos pour le {st['claim_np']}."])
            blocks = [("p", lines), ("p", [c.name.split(" ")[0]])]
            subject = (f"Photos {st['claim_value']}" if st["claim_valid"] and r.random() < 0.6
                       else ("Photos" if c.lang == "en" else "Photos sinistre"))
        else:
            blocks = self.claim_blocks(c, st, photo_n, extra_doc, when)
            subject, in_subject = self.subject(c, st, tags)
            if in_subject:
                tags.add("claim_number_in_subject")
        if "raw_8bit_headers" in odd and subject.isascii():
            subject = "Déclaration de sinistre" if c.lang == "fr" else f"Sinistre – {subject}"
        if extra_doc:
            tags.add(f"{extra_doc}_attachment")
            plan["attachments"].append(self.document(c, st, extra_doc, when))

        expected = self.expected(
            claim_number=c.claim_number if st["claim_valid"] else None,
            policy_number=f"POL-{c.policy7}" if st["policy"] and st["policy_valid"] else None,
            incident_date=c.incident.isoformat() if st["date"] else None,
            loss_type=c.loss_type if st["loss"] else None,
            estimated_amount=f"{c.amount_cents / 100:.2f}" if st["amount"] else None,
            currency=c.currency if st["amount"] else None,
            contact_email=c.email,
            contact_phone=c.phone if st["phone"] else None,
        )
        plan.update(subject=subject, claim=c, statement=st, expected=expected,
                    policy_status=c.policy_status, subject_has_claim=st["claim_valid"] and st["claim_value"] in subject)
        plan["raw_8bit_headers"] = "raw_8bit_headers" in odd
        plan["wrong_charset"] = "wrong_charset" in odd
        plan["from_addr"] = c.email
        plan["from_name"] = c.name if r.random() < 0.9 else None
        plan["message_id"] = self.message_id(c.email)

        if forwarded:
            blocks, subject = self.forward(plan, c, blocks, subject, when)
            plan["subject"] = subject
        elif reply:
            blocks = self.insurer_reply(plan, c, blocks, when)
        if r.random() < 0.05:
            plan["cc"] = T.email_for(T.random_name(r), r)
        self.finalize(plan, blocks, force_mode="text" if plan["wrong_charset"] else None)
        plan["relative_date"] = "relative_date" in tags
        if st["claim_valid"]:
            self.originals.append(index)
            self.original_times.append(when_utc)
        return plan

    def document(self, c: _Claim, st: dict, kind: str, when: datetime) -> dict:
        r = self.rng
        lines = [r.choice(("GARAGE DU CENTRE", "CARROSSERIE MODERNE", "AUTO REPARATION 2000")),
                 T.random_address(r), "", "DEVIS DE REPARATION / REPAIR ESTIMATE",
                 f"Date du devis: {when:%d/%m/%Y}", f"Vehicule: {c.plate}"]
        if st["claim_valid"]:
            lines.append(f"Sinistre: {st['claim_value']}")
        lines.append(f"TOTAL TTC: {st['amount']}" if st["amount"] else "Montant: a confirmer apres expertise")
        if kind == "pdf":
            return {"type": "pdf", "lines": lines, "filename": r.choice(("devis.pdf", "estimate.pdf", "Devis garage.pdf"))}
        note = ("Constat amiable rempli avec l'autre conducteur." if c.lang == "fr"
                else "Accident report filled in with the other driver.")
        return {"type": "zip", "filename": r.choice(("documents.zip", "sinistre.zip", "pieces.zip")),
                "members": [("devis.pdf", lines), ("notes.txt", note + "\n")]}

    def forward(self, plan: dict, c: _Claim, inner: list, inner_subject: str, when: datetime) -> tuple[list, str]:
        r = self.rng
        tags = plan["tags"]
        tags.add("forwarded_broker")
        cabinet, broker_addr, broker_phone = r.choice(BROKERS)
        agent = T.random_name(r)
        sent = (when - timedelta(minutes=r.randint(5, 360))).astimezone(PARIS)
        if sent.date() < c.incident:  # a loss reported the day it happened: the customer wrote after it
            sent = max(when.astimezone(PARIS) - timedelta(minutes=5), datetime.combine(c.incident, time(0, 5), PARIS))
        style = r.random()
        customer = f"{c.name} <{c.email}>"
        if style < 0.45:
            sep = "---------- Forwarded message ---------"
            head = [sep, f"From: {customer}", f"Date: {sent:%a}, {sent.day} {sent:%b %Y} at {sent:%H:%M}",
                    f"Subject: {inner_subject}", f"To: {agent} <{broker_addr}>"]
            prefix = "Fwd: "
        elif style < 0.75:
            head = ["-----Original Message-----", f"From: {customer}",
                    (f"Sent: {T.WEEKDAYS_EN[sent.weekday()]}, {T.MONTHS_EN[sent.month - 1]} {sent.day}, {sent.year} "
                    f"{sent:%I:%M %p}"), f"To: {broker_addr}", f"Subject: {inner_subject}"]
            prefix = "FW: "
        else:
            head = ["-----Message d'origine-----", f"De : {customer}",
                    (f"Envoyé : {T.WEEKDAYS_FR[sent.weekday()]} {sent.day} {T.MONTHS_FR[sent.month - 1]} "
                    f"{sent.year} {sent:%H:%M}"), f"À : {broker_addr}", f"Objet : {inner_subject}"]
            prefix = "TR: "
        note_lang = "fr" if r.random() < 0.7 else "en"
        if note_lang == "fr":
            note = [f"Bonjour, je vous transmets ci-dessous la déclaration de notre client {c.name}."]
            closing = "Cordialement,"
        else:
            note = [f"Hello, please find below the claim of our client {c.name}."]
            closing = "Kind regards,"
        if r.random() < 0.5:
            tags.add("broker_signature_phone")
            signature = [closing, agent, cabinet, f"Tél. {T.format_phone(broker_phone, 'fr_spaced')}",
                         f"ORIAS n° {r.randint(7, 23):02d} {r.randint(0, 999):03d} {r.randint(0, 999):03d}"]
        else:
            signature = [closing, agent, cabinet]
        plan["from_name"], plan["from_addr"] = f"{agent} - {cabinet}" if r.random() < 0.5 else cabinet, broker_addr
        plan["message_id"] = self.message_id(broker_addr)
        return [("p", note), ("p", signature), ("fwd", head, inner)], prefix + inner_subject

    def insurer_reply(self, plan: dict, c: _Claim, inner: list, when: datetime) -> list:
        """A new claim written as a reply to the insurer's request for details."""
        r = self.rng
        tags = plan["tags"]
        tags.add("reply_quoted")
        asked = (when - timedelta(hours=r.uniform(1, 48))).astimezone(PARIS)
        if not 8 <= asked.hour < 19:  # the claims desk writes in office hours
            asked = asked.replace(hour=r.randint(8, 11))
            if asked >= when:
                asked -= timedelta(days=1)
        old_claim = f"CLM-{c.year - 1}-{r.randint(1, 999_999):06d}"
        if c.lang == "fr":
            body = [("p", [f"Bonjour {c.name},"]),
                    ("p", [("Suite à votre appel, merci de nous répondre avec votre numéro de sinistre, "
                           "votre numéro de contrat, la date du sinistre, une description et des photos.")])]
            if r.random() < 0.6:
                body.append(("p", [(f"Pour mémoire, votre précédent sinistre {old_claim} a été clôturé le "
                                   f"{asked - timedelta(days=r.randint(60, 300)):%d/%m/%Y} "
                                   f"(indemnité versée : {T.format_amount(r.randint(3, 40) * 5000, 'EUR', 'fr_symbol_suffix', r)}).")]))
            body.append(("p", ["Le service sinistres", f"{INSURER_NAME} - {INSURER_PHONE}"]))
            attribution = (f"Le {T.WEEKDAYS_FR[asked.weekday()][:3]}. {asked.day} {T.MONTHS_FR[asked.month - 1]} "
                           f"{asked.year} à {asked:%H:%M}, {INSURER_NAME} <{INSURER_ADDR}> a écrit :")
            subject = r.choice(("RE: Votre déclaration de sinistre", "Re: Pièces à fournir"))
        else:
            body = [("p", [f"Dear {c.name},"]),
                    ("p", [("Thank you for your call. To process your claim, please reply to this e-mail with your "
                           "claim number, your policy number, the date of the incident, a short description and "
                           "photos of the damage.")])]
            if r.random() < 0.6:
                body.append(("p", [(f"For your information, your previous claim {old_claim} was closed on "
                                   f"{asked - timedelta(days=r.randint(60, 300)):%d/%m/%Y} and "
                                   f"{T.format_amount(r.randint(3, 40) * 5000, 'EUR', 'eur_code_continental', r)} was paid.")]))
            body.append(("p", ["Claims department", f"{INSURER_NAME} - {INSURER_PHONE}"]))
            attribution = (f"On {asked:%a}, {asked.day} {asked:%b %Y} at {asked:%H:%M}, "
                           f"{INSURER_NAME} <{INSURER_ADDR}> wrote:")
            subject = r.choice(("Re: Your claim declaration", "RE: Documents to provide"))
        insurer_id = f"<{self.hexid(64)}@claimflow-assurances.fr>"
        plan.update(subject=subject, in_reply_to=insurer_id, references=insurer_id)
        plan["subject_has_claim"] = False
        return inner + [("quote", attribution, body)]

    def plan_follow_up(self, index: int, when_utc: datetime, orig: dict) -> dict:
        r = self.rng
        c: _Claim = orig["claim"]
        when = when_utc.astimezone(orig["date"].tzinfo)
        plan = self.base_plan(index, "follow_up", when, c.lang)
        tags = plan["tags"]
        tags.add("follow_up")
        if c.lang == "fr":
            tags.add("french")
        en = c.lang == "en"
        st = {"typos": 0.12 if r.random() < 0.15 else 0.0}
        if st["typos"]:
            tags.add("typos")
        items = [name for name, p in (("photos", 0.55), ("amount", 0.22), ("phone", 0.15), ("policy", 0.1),
                                      ("date", 0.1), ("nudge", 0.2)) if r.random() < p] or ["nudge"]
        if (when.date() - c.incident).days > 45:  # stated incident dates stay within 45 days of receipt
            items = [item for item in items if item != "date"] or ["nudge"]
        # Claims mode: the claims system counts every photo of the claim, so a follow-up
        # re-sends the claim's own photos (same bytes) instead of adding new ones.
        own = [a for a in orig["attachments"] if a["type"] == "photo" and "reused_from_index" not in a]
        if self.claims is not None and not own:
            items = [item for item in items if item != "photos"] or ["nudge"]
        fields: dict = {}
        sentences: list[str] = []
        photo_n = 0
        resent: list[dict] = []
        if "photos" in items and self.claims is not None:
            resent = r.sample(own, min(len(own), _weighted(r, ((1, 40), (2, 35), (3, 25)))))
            sentences.append(self.typo(st, r.choice(
                ("Here are the photos again, in case they did not come through.", "I am sending the photos again.")
                if en else ("Je vous renvoie les photos, au cas où elles ne seraient pas arrivées.",
                            "Je vous renvoie les photos du sinistre."))))
        elif "photos" in items:
            photo_n = _weighted(r, ((1, 40), (2, 35), (3, 25)))
            sentences.append(self.typo(st, r.choice(
                ("Here are more photos of the damage.", "As promised, here are the photos.") if en
                else ("Voici des photos supplémentaires.", "Comme promis, voici les photos."))))
        if "amount" in items:
            if self.claims is not None:
                cents = c.amount_cents
            else:
                lo, hi = AMOUNT_RANGES[c.loss_type]
                cents = round(math.exp(r.uniform(math.log(lo), math.log(hi))) * 100)
            style = _weighted(r, T.AMOUNT_STYLES[c.currency])
            if style == "euros_word" and cents % 100:
                style = "eur_code_continental"
            tags.add(f"amount:{style}")
            value = T.format_amount(cents, c.currency, style, r)
            sentences.append(self.typo(st, "The garage has now sent its estimate: {v}." if en
                                       else "Le garage m'a transmis son devis : {v}.").format(v=value))
            fields.update(estimated_amount=f"{cents / 100:.2f}", currency=c.currency)
        if "phone" in items:
            style = _weighted(r, T.PHONE_STYLES[T.phone_country(c.phone)])
            tags.add(f"phone:{style}")
            sentences.append(self.typo(st, "I forgot to give you my phone number: {v}." if en
                                       else "J'ai oublié de vous donner mon numéro : {v}.").format(
                v=T.format_phone(c.phone, style)))
            fields["contact_phone"] = c.phone
        if "policy" in items:
            style = _weighted(r, T.POLICY_STYLES)
            tags.add(f"policy:{style}")
            sentences.append(("My policy number is {v}." if en else "Mon numéro de contrat : {v}.").format(
                v=T.format_policy(c.policy7, style)))
            fields["policy_number"] = f"POL-{c.policy7}"
        if "date" in items:
            style = _weighted(r, T.DATE_STYLES_FR if c.lang == "fr" else T.DATE_STYLES_EN)
            tags.add(f"date:{style}")
            value = T.format_date(c.incident, style, r)
            sentences.append(("To clarify, it happened {v}." if en else "Pour préciser, le sinistre a eu lieu {v}.")
                             .format(v=T.date_phrase(value, style, c.lang)))
            fields["incident_date"] = c.incident.isoformat()
        if "nudge" in items:
            sentences.append(self.typo(st, "Do you have any news about my claim?" if en
                                       else "Avez-vous des nouvelles de mon dossier ?"))
        claim_style = _weighted(r, T.CLAIM_STYLES)
        claim_value = T.format_claim(c.year, c.serial, claim_style)
        if not orig["subject_has_claim"] or r.random() < 0.5:
            tags.add(f"claim:{claim_style}")
            np_ = T.claim_noun_phrase(claim_value, claim_style, c.lang, r)
            sentences.insert(0, f"Regarding {np_}:" if en else f"Concernant le {np_} :")
        else:
            tags.add("claim_number_in_subject")
        blocks = [("p", [r.choice(("Hello,", "Hi,", "Hello again,")) if en else "Bonjour,"]),
                  ("p", [" ".join(sentences)]),
                  self.signature(c.name, c.lang, None)]
        if r.random() < 0.6:
            tags.add("follow_up_quoted")
            sent = orig["date"]
            who = f"{orig['from_name']} <{orig['from_addr']}>" if orig["from_name"] else orig["from_addr"]
            attribution = (f"On {sent:%a}, {sent.day} {sent:%b %Y} at {sent:%H:%M}, {who} wrote:" if en else
                           f"Le {T.WEEKDAYS_FR[sent.weekday()][:3]}. {sent.day} {T.MONTHS_FR[sent.month - 1]} "
                           f"{sent.year} à {sent:%H:%M}, {who} a écrit :")
            blocks.append(("quote", attribution, orig["blocks"]))
        prefix = r.choice(("Re: ", "RE: ", "Re: ")) if en else r.choice(("Re: ", "RE : ", "RE: "))
        subject = orig["subject"] if orig["subject"].lower().startswith("re") else prefix + orig["subject"]
        plan.update(subject=subject, from_name=orig["from_name"], from_addr=orig["from_addr"],
                    message_id=self.message_id(orig["from_addr"]), in_reply_to=orig["message_id"],
                    references=" ".join(filter(None, (orig.get("references"), orig["message_id"]))),
                    follow_up_of_index=orig["index"], policy_status=c.policy_status, claim=c)
        photo_when = when.replace(tzinfo=None) - timedelta(hours=r.randint(1, 30))
        plan["attachments"] = self.photos(photo_n, photo_when, c.lang, tags, index, allow_reuse=False) + [
            dict(a) for a in resent]
        for att in resent:
            if att["spec"].degradation:
                tags.add("degraded_photo")
            if att["spec"].fmt == "png":
                tags.add("png_photo")
            if not att["filename"].isascii():
                tags.add("non_ascii_filename")
        if plan["attachments"]:
            tags.add("photos")
        plan["expected"] = self.expected(claim_number=c.claim_number, contact_email=orig["from_addr"], **fields)
        return self.finalize(plan, blocks)

    def plan_duplicate(self, index: int, when_utc: datetime, orig: dict) -> dict:
        plan = dict(orig)
        plan.update(
            index=index, kind="duplicate", date=when_utc.astimezone(orig["date"].tzinfo),
            message_id=self.message_id(orig["from_addr"]), duplicate_of_index=orig["index"],
            tags=(set(orig["tags"]) - {"reused_photo"}) | {"duplicate"},
        )
        # Re-sent photos are the claim's own, not a reuse from another claim.
        plan["attachments"] = [{k: v for k, v in a.items() if k != "reused_from_index"} for a in orig["attachments"]]
        return plan

    def plan_no_claim(self, index: int, when_utc: datetime, sort: str | None = None) -> dict:
        r = self.rng
        sort = sort or _weighted(r, _NO_CLAIM_SORTS)
        if sort == "report_without_number":
            return self.plan_report(index, when_utc)
        row = int(self.active_pool[r.randrange(len(self.active_pool))])
        lang = "fr" if r.random() < 0.5 else "en"
        when = when_utc.astimezone(PARIS)
        plan = self.base_plan(index, "no_claim_number", when, lang)
        tags = plan["tags"]
        tags.add(sort)
        if lang == "fr":
            tags.add("french")
        back = when.date() + timedelta(days=r.randint(2, 20))
        if sort == "out_of_office":
            name, addr = self.names[row], self.emails[row]
            colleague = T.random_name(r)
            if lang == "en":
                subject = f"Automatic reply: {r.choice(('Your documents', 'Your request', 'Information about your contract'))}"
                blocks = [("p", ["Thank you for your message."]),
                          ("p", [(f"I am out of the office until {T.format_date(back, 'd_month_y', r)} with limited "
                                 f"access to e-mail. For urgent matters please contact {colleague} at "
                                 f"{T.email_for(colleague, r)}.")]),
                          ("p", [name])]
            else:
                subject = f"Réponse automatique : {r.choice(('Vos documents', 'Votre demande', 'Information sur votre contrat'))}"
                blocks = [("p", ["Bonjour,"]),
                          ("p", [(f"Je suis absent(e) jusqu'au {T.format_date(back, 'dmy_slash', r)}. En cas "
                                 f"d'urgence, merci de contacter {colleague} ({T.email_for(colleague, r)}).")]),
                          ("p", ["Cordialement,", name])]
            plan["extra_headers"] = ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"]
            mode = "text"
        else:
            name, addr = r.choice(NEWSLETTERS)
            price = T.format_amount(r.choice((2990, 4990, 7900, 12900)), "EUR", "fr_symbol_suffix", r)
            if lang == "en":
                subject = r.choice(("Our spring offers are here", "Winter tyres: 20% off", "Your car check-up"))
                blocks = [("p", ["Hello,"]),
                          ("p", [(f"This month only: full check-up for {price}, and 20% off windscreen repairs "
                                 f"until {T.format_date(back, 'dmy_slash', r)}.")]),
                          ("p", ["Book online or call your nearest centre.", "To unsubscribe, click here."])]
            else:
                subject = r.choice(("Nos offres de printemps", "Pneus hiver : -20 %", "Votre révision à prix malin"))
                blocks = [("p", ["Bonjour,"]),
                          ("p", [(f"Ce mois-ci seulement : révision complète à {price} et -20 % sur le "
                                 f"remplacement de pare-brise jusqu'au {T.format_date(back, 'dmy_slash', r)}.")]),
                          ("p", ["Prenez rendez-vous en ligne.", "Pour vous désinscrire, cliquez ici."])]
            plan["extra_headers"] = [f"List-Unsubscribe: <mailto:{addr}?subject=unsubscribe>", "Precedence: bulk"]
            mode = "alternative"
        plan.update(subject=subject, from_name=name, from_addr=addr, message_id=self.message_id(addr),
                    policy_status="unknown", expected=self.expected())
        return self.finalize(plan, blocks, force_mode=mode)

    def plan_report(self, index: int, when_utc: datetime, row: _ClaimRow | None = None) -> dict:
        """A customer who wants to declare a claim but has no claim number yet."""
        r = self.rng
        c, tags, when = self.new_claim(index, when_utc, row=row)
        plan = self.base_plan(index, "no_claim_number", when, c.lang)
        tags |= plan["tags"] | {"report_without_number"}
        plan["tags"] = tags
        if c.lang == "fr":
            tags.add("french")
        missing: set = set()
        st = self.statement(c, when.date(), tags, missing, allow_relative=True)
        st["style"] = "prose"
        _drop_tags(tags, ("claim:", "amount:", "distractor_", "type_of_loss_line", "form"))
        tags.update(missing - {"missing_amount"})
        tags.add("prose")
        en = c.lang == "en"
        clause = self.typo(st, c.clause)
        first = ["I would like to report a claim." if en else "Je souhaite déclarer un sinistre."]
        if st["date"]:
            first.append(f"{T.capitalize_first(st['date_phrase'])}, {clause}.")
        else:
            first.append(f"{T.capitalize_first(clause)}.")
        if st["policy"]:
            first.append(self.typo(st, r.choice(POLICY_SENTENCES[c.lang])).format(pv=st["policy"], pnp=st["policy_np"]))
        if st["phone"]:
            first.append(self.typo(st, r.choice(PHONE_SENTENCES[c.lang])).format(ph=st["phone"]))
        first.append("What do I need to do? I don't have a claim number yet." if en
                     else "Que dois-je faire ? Je n'ai pas encore de numéro de sinistre.")
        blocks = [("p", [self.greeting(c.lang, when)]), ("p", [" ".join(first)]), self.signature(c.name, c.lang, None)]
        if row is not None:
            photo_n = row.photo_count
        else:
            photo_n = _weighted(r, ((1, 50), (2, 50))) if r.random() < 0.3 else 0
        photo_when = datetime.combine(c.incident, datetime.min.time()).replace(hour=r.randint(7, 20))
        plan["attachments"] = self.photos(photo_n, photo_when, c.lang, tags, index, allow_reuse=False,
                                          quality=row.photo_quality if row else None)
        if photo_n:
            tags.add("photos")
        subject = r.choice(("I want to report a claim", "How do I declare a claim?", "New accident - what should I do?")
                           if en else ("Je souhaite déclarer un sinistre", "Comment déclarer un sinistre ?",
                                       "Déclaration de sinistre"))
        plan.update(subject=subject, from_name=c.name, from_addr=c.email, message_id=self.message_id(c.email),
                    policy_status=c.policy_status, claim=c, expected=self.expected(
                        policy_number=f"POL-{c.policy7}" if st["policy"] else None,
                        incident_date=c.incident.isoformat() if st["date"] else None,
                        loss_type=c.loss_type, contact_email=c.email,
                        contact_phone=c.phone if st["phone"] else None))
        return self.finalize(plan, blocks)

    def pick_original(self, when_utc: datetime, *, resend: bool) -> dict | None:
        """A random earlier new claim that a follow-up (`resend=False`) or duplicate can point at.

        Follow-ups come within 20 days from the customer's own mailbox (not a
        broker's, not a reply to us). Duplicates come within 3 days, verbatim,
        so the original must not use a relative date and its incident must
        stay within 45 days of the re-sent mail.
        """
        r = self.rng
        max_age = timedelta(days=3 if resend else 20)
        start = bisect.bisect_left(self.original_times, when_utc - max_age)
        if start >= len(self.originals):
            return None
        for _ in range(30):
            plan = self.plans[self.originals[r.randrange(start, len(self.originals))]]
            if resend:
                local_day = when_utc.astimezone(plan["date"].tzinfo).date()
                if plan["relative_date"] or (local_day - plan["claim"].incident).days > 45:
                    continue
            elif "forwarded_broker" in plan["tags"] or "reply_quoted" in plan["tags"]:
                continue
            return plan
        return None

    def plan(self, count: int) -> list[dict]:
        if self.claims is not None:
            return self.plan_claims(count)
        r = self.rng
        for index, when in enumerate(self.received_times(count)):
            roll = r.random()
            plan = None
            if roll < SHARE_FOLLOW_UP:
                orig = self.pick_original(when, resend=False)
                plan = orig and self.plan_follow_up(index, when, orig)
            elif roll < SHARE_FOLLOW_UP + SHARE_DUPLICATE:
                orig = self.pick_original(when, resend=True)
                plan = orig and self.plan_duplicate(index, when, orig)
            elif roll < SHARE_FOLLOW_UP + SHARE_DUPLICATE + SHARE_NO_CLAIM:
                plan = self.plan_no_claim(index, when)
            if plan is None:
                odd = SHARE_FOLLOW_UP + SHARE_DUPLICATE + SHARE_NO_CLAIM <= roll < (
                    SHARE_FOLLOW_UP + SHARE_DUPLICATE + SHARE_NO_CLAIM + SHARE_ODD)
                plan = self.plan_new(index, when, odd)
            self.plans.append(plan)
        return self.plans

    def reported_times(self, rows: list[_ClaimRow]) -> list[datetime]:
        """UTC received times of the claim mails, in the rows' order: each on its reported day at a Paris-local hour.

        Claims reported after `now` (a recent window carries its future) are clamped:
        they arrive between the last earlier claim mail (or `now`'s midnight) and `now`.
        """
        r = self.rng
        today = self.now.astimezone(UTC).date()
        late = next((row for row in rows if row.incident > today), None)
        if late is not None:
            raise ValueError(f"claims: {late.claim_number} has its incident on {late.incident}, after now ({today})")
        times: list[datetime] = []
        for day, group in itertools.groupby(rows, key=lambda row: row.reported):
            times += sorted(
                datetime.combine(day, time(_weighted(r, _LOCAL_HOURS), r.randrange(60), r.randrange(60)), PARIS)
                .astimezone(UTC)
                for _ in group
            )
        on_time = [t for t in times if t <= self.now]  # a prefix: times ascend
        if len(on_time) < len(times):
            floor = max(on_time + [datetime.combine(today, time(0), UTC)])
            span = max((self.now - floor).total_seconds(), 0.0)
            clamped = sorted(self.now - timedelta(seconds=r.uniform(0, span)) for _ in range(len(times) - len(on_time)))
            times = on_time + [max(t.replace(microsecond=0), floor) for t in clamped]
        return times

    def plan_claims(self, count: int) -> list[dict]:
        """Claims mode: mails render the frame's claims at their reported dates; other mails fall in between."""
        r = self.rng
        slots = _schedule(r, count)
        consumers = [i for i, (kind, _) in enumerate(slots) if kind in _CLAIM_KINDS]
        if len(consumers) > len(self.claims):
            raise ValueError(
                f"claims: {count} e-mails with seed {self.seed} render {len(consumers)} claims "
                f"(new claims and reports without a number), the frame has {len(self.claims)}"
            )
        rows = _claim_rows(self.claims, len(consumers))
        times: list[datetime | None] = [None] * count
        row_of: dict[int, _ClaimRow] = {}
        rank: dict[int, int] = {}
        for k, (slot, row, when) in enumerate(zip(consumers, rows, self.reported_times(rows))):
            times[slot], row_of[slot], rank[slot] = when, row, k
        first = min((t for t in times if t is not None), default=self.now - timedelta(days=30))
        span = max((self.now - first).total_seconds(), 0.0)
        for slot in range(count):
            if times[slot] is None:
                times[slot] = (first + timedelta(seconds=r.uniform(0, span))).replace(microsecond=0)
        # Claim mails keep the rows' order even where two share a second.
        order = sorted(range(count), key=lambda i: (times[i], i not in rank, rank.get(i, i)))
        for index, slot in enumerate(order):
            kind, odd = slots[slot]
            when = times[slot]
            plan = None
            if kind == "new":
                plan = self.plan_new(index, when, odd, row=row_of[slot])
            elif kind == "report_without_number":
                plan = self.plan_report(index, when, row=row_of[slot])
            elif kind in ("follow_up", "duplicate"):
                orig = self.pick_original(when, resend=kind == "duplicate")
                if orig is not None:
                    plan = (self.plan_duplicate if kind == "duplicate" else self.plan_follow_up)(index, when, orig)
            if plan is None:  # no-claim mail, or nothing earlier to follow up: a mail about no claim
                sort = kind if kind in ("out_of_office", "newsletter") else _weighted(r, _NO_CLAIM_SORTS[:2])
                plan = self.plan_no_claim(index, when, sort=sort)
            self.plans.append(plan)
        return self.plans


_WORKER_KEYS = ("index", "attachments", "charset", "cte", "wrong_charset", "body_mode", "text", "html",
                "boundary", "raw_8bit_headers", "from_name", "from_addr", "name_charset", "to", "cc",
                "subject", "date", "message_id", "in_reply_to", "references", "extra_headers")


def generate_inbox(
    count: int,
    seed: int,
    out_dir: Path,
    policies: pd.DataFrame,
    *,
    now: datetime,
    truth_path: Path | None = None,
    progress: bool = False,
    workers: int | None = None,
    claims: pd.DataFrame | None = None,
) -> list[dict]:
    """Write `count` claim e-mails into `out_dir` and their ground truth; return the truth records.

    `policies` is the system-of-record table (`build_policy_table`). `now`
    anchors the received dates (the 30 days before it, without `claims`); a naive `now` is UTC.
    `claims` (columns of `generate_claims_history`, e.g. from `claims_for_inbox`)
    makes the mails render those claims at their reported dates instead of
    drawing their own (module docstring); it needs `claims_needed(count, seed)`
    rows, else ValueError. `workers` processes render photos and MIME (default:
    2 for large inboxes, in-process below 400 mails); the output does not depend on it.
    """
    out_dir = Path(out_dir)
    truth_path = Path(truth_path) if truth_path else out_dir / "ground_truth.jsonl"
    plans = _Planner(seed, policies, now, claims).plan(count)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [{k: p[k] for k in _WORKER_KEYS} for p in plans]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if count >= 400 else 1
    results: dict[int, dict] = {}
    with tqdm(total=count, disable=not progress, desc="inbox", unit="mail") as bar:
        if workers <= 1:
            for job in jobs:
                results[job["index"]] = _render(job, str(out_dir))
                bar.update(1)
        else:
            chunk = max(20, min(200, count // (workers * 8) or 1))
            # fork, not spawn/forkserver: those re-run the caller's __main__,
            # which breaks plain scripts and notebooks without a main guard.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_render_chunk, jobs[i:i + chunk], str(out_dir))
                           for i in range(0, len(jobs), chunk)]
                for future in as_completed(futures):
                    done = future.result()
                    for item in done:
                        results[item["index"]] = item
                    bar.update(len(done))

    records = []
    for plan in plans:
        result = results[plan["index"]]
        expected = dict(plan["expected"])
        expected["photo_count"] = len(result["photos"])
        photos = []
        for photo in result["photos"]:
            source = photo.pop("reused_from_index")
            photos.append({**photo, "reused_from": results[source]["file"] if source is not None else None})
        dup, follow = plan["duplicate_of_index"], plan["follow_up_of_index"]
        records.append({
            "file": result["file"],
            "message_id": plan["message_id"],
            "received_at": plan["date"].isoformat(),
            "language": plan["lang"],
            "kind": plan["kind"],
            "duplicate_of": results[dup]["file"] if dup is not None else None,
            "follow_up_of": results[follow]["file"] if follow is not None else None,
            "policy_status": plan["policy_status"],
            "variations": sorted(plan["tags"]),
            "expected_quarantine_reason": None if expected["claim_number"] else "missing_claim_number",
            "expected": expected,
            "photos": photos,
        })
    with truth_path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return records
