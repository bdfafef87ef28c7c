"""Synthetic claims inbox: realistic `.eml` files and their ground truth.

`generate_inbox` writes RFC 5322 messages (stdlib `email`, CRLF line ends) as
`NNNNNN-<hash>.eml` plus a `ground_truth.jsonl` with one record per file. It
is deterministic for (count, seed, now, policies).

Languages
---------
Claims are written in English, French (18 % of euro claims), German, Spanish,
Italian and Dutch (5-5.5 % of euro claims each: customers and brokers in
Germany, Belgium, Switzerland, Spain, Italy and the Netherlands write to a
French insurer in their own language, in euros); claims in USD or GBP are in
English. Follow-ups and duplicates keep their claim's language; out-of-office
replies, newsletters and delivery failures are English or French. A foreign-
language writer gives a French phone number in international form.

Reading conventions (those of a French insurer; the truth assumes them)
-----------------------------------------------------------------------
* Numeric dates are ALWAYS day first: `03/04/2026`, `3/4/2026`, `03.04.2026`,
  `03-04-2026`, `3-4-2026` and `03/04/26` are 3 April 2026. ISO `2026-03-04`
  is the only year-first form. Written forms: `4 March 2026`, `4 Mar 2026`,
  `March 4, 2026`, `Wednesday 4 March 2026`, `4 mars 2026`, `1er mars 2026`,
  `mercredi 4 mars 2026`, `4. März 2026`, `Mittwoch, 4. März 2026`, `4 de marzo
  de 2026`, `miércoles 4 de marzo de 2026`, `4 marzo 2026` (`l'8 marzo 2026`),
  `mercoledì 4 marzo 2026`, `4 maart 2026`, `woensdag 4 maart 2026`; `4th of
  March` / `March 4th` have no year: it is the latest such day not after the
  mail's Date. Relative dates (`yesterday`, `this morning`, `hier`, `ce matin`,
  `gestern`, `heute Morgen`, `ayer`, `esta mañana`, `ieri`, `stamattina`,
  `gisteren`, `vanochtend`) count from the Date header's local day.
* Amounts: a `.`, `,`, space, NBSP or narrow NBSP followed by exactly three
  digits groups thousands; decimals are exactly two digits. `EUR 1.234,56`,
  `1 234,56 €`, `1.234,56 €`, `€ 1.234,56`, `€1,234.56`, `1234,56€` are
  1234.56 EUR; `1.234 euros`, `1.234 Euro`, `1.234 euro`, `€ 1.234` are
  1234.00. `$`, `US$`, `USD` are USD; `£`, `GBP` are GBP.
* Claim numbers are `CLM-YYYY-NNNNNN` (YYYY = incident year). Also written
  `clm 2026 000123`, `CLM2026000123`, `CLM 2026 000123`, `clm-2026-000123`,
  `Claim no. 2026/000123` (only after a claim label: `sinistre n°`, `Schaden
  Nr.`, `Schaden-Nr.:`, `siniestro n.º`, `sinistro n.`, `schadenummer`, ...) and `CLM-2026-123`
  (leading zeros dropped, sometimes `#CLM-2026-123`). A serial of more than
  six digits is malformed (truth None).
* Policy numbers are `POL-NNNNNNN`, seven digits never starting with 0. Also
  `POL1234567`, `POL 1234567`, `pol-1234567`, `pol 123 4567`, and bare
  `1234567` after a policy/contract label (`Versicherungsnummer`, `Police-Nr.`,
  `número de póliza`, `polizza n.`, `polisnummer`, ...). Other digit counts are
  malformed.
* Phones: French national forms (`06 12 34 56 78`, `0612345678`,
  `06.12.34.56.78`, `06-12-34-56-78`) are +33; `+33 (0)6 ...` drops the
  `(0)`; `(212) 555-0147`, `212-555-0147` are +1; others carry their `+`.
* Quoted text (lines starting `>`, `<blockquote>`) and its attribution line
  (`On ... wrote:`, `Le ... a écrit :`, `Am ... schrieb ...:`, `El ...
  escribió:`, `Il giorno ... ha scritto:`, `Op ... schreef ...:`) is earlier
  mail: never a source of fields. A broker's forwarded block (`----------
  Forwarded message ---------`, `-----Original Message-----`, `-----Message
  d'origine-----`) or attached `message/rfc822` mail IS the claim: its `From`
  is the claimant (`contact_email`), and the broker's own signature phone is
  not the contact phone.
* The Subject counts as the mail's own text (follow-ups often carry the
  claim number only there). Attachments with a text layer are a source of
  the fields the body does not state: a claim form as a PDF (`pdf_form`: a
  stub body, every field in the form) and a witness's `.txt` statement
  (`witness_statement`: the body names the claim; the loss and its date are
  in the witness's words). Garage estimates in PDFs repeat what the body
  says (a claim number, a `TOTAL TTC`); zip archives are not opened. A
  mail's subject names the loss only where the mail states it.

Truth record (one JSON line per file)
-------------------------------------
`file`, `message_id`, `received_at` (ISO, Date header), `language`
(en|fr|de|es|it|nl: the language of the claimant's own words),
`kind` (new|follow_up|duplicate|no_claim_number), `duplicate_of` and
`follow_up_of` (file names or null), `policy_status` (active|lapsed|unknown:
the status of the policy behind the claim in the policy table, unknown when
the number is not in it or there is no claim), `variations` (sorted tags),
`expected_disposition` and `expected_quarantine_reason` (what
`models.disposition` owes the mail from what it states: out-of-office,
newsletters and delivery failures are `quarantine`/`not_a_claim`; a claim
number makes `follow_up` when the mail is a reply (follow-ups, and new claims
written as a reply to the insurer's request: the claim was opened by phone),
else `new_claim`; no claim number but a policy number and a loss type or
date is a first notice of loss, `first_notice` (reports without a number,
and new claims whose number is malformed); anything else is
`quarantine`/`missing_claim_number`; the reason is null unless
quarantined), `expected` (claim_number,
policy_number, incident_date, loss_type, estimated_amount as a 2-dp string,
currency, contact_email, contact_phone in E.164, photo_count = image/* parts)
and `photos` (sha256, format, degradation, filename, width, height,
reused_from). For a follow-up, `expected` holds the claim number, the
sender's address and only what the new text states; a duplicate's equals
its original's. Out-of-office, newsletters and delivery failures have
every field null.
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
`forwarded_broker`, `forwarded_rfc822` (the customer's mail attached whole),
`broker_signature_phone`, `reply_quoted`, `out_of_office`, `newsletter`,
`delivery_failure` (a `multipart/report` bounce with `message/delivery-status`;
`returned_message` when it returns the whole message, not its headers),
`report_without_number`, `unknown_policy`, `lapsed_policy`, `currency:USD`,
`currency:GBP`, `french`, `german`, `spanish`, `italian`, `dutch`.
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
`non_ascii_filename`, `pdf_attachment`, `zip_attachment`, `pdf_form`,
`witness_statement`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import email.message
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
from email.mime.message import MIMEMessage
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
# Of euro claims, after the French share: customers and brokers writing from Germany, Switzerland,
# Belgium, Spain and Italy. The rest write English.
SHARE_OTHER_LANGUAGES = (("de", 0.055), ("es", 0.05), ("it", 0.05), ("nl", 0.05))
SHARE_FORWARD_ATTACHED = 0.4  # of broker forwards: the customer's mail attached as message/rfc822
SHARE_PDF_FORM = 0.035  # of plain new claims: a stub body and the claim form as a PDF
SHARE_WITNESS = 0.05  # of plain new claims of a loss others see: the date and loss in a witness's .txt
SHARE_WITH_PHOTOS = 0.68  # of new claims
SHARE_FORWARDED = 0.07  # of new claims, sent on by a broker
SHARE_REPLY = 0.065  # of new claims, written as a reply to the insurer

# Rendering claims of the claims system (`claims=`).
CLAIMS_SYSTEM_SEED = 20260101  # the sample claims system's seed, as `ClaimsHistoryConfig.seed`
EUR_PER_UNIT = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}  # the dbt `fx_rates` seed
LOW_PHOTO_QUALITY = 0.35  # below: every photo of the claim is degraded
FAIR_PHOTO_QUALITY = 0.5  # below: one photo of the claim is degraded
RECENT_DAYS = 60  # the claims system's recent window (`history_periods`)
_NO_CLAIM_SORTS = (("out_of_office", 30), ("newsletter", 20), ("delivery_failure", 15), ("report_without_number", 35))
_NOT_CLAIMS = ("out_of_office", "newsletter", "delivery_failure")
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

GREETINGS.update({
    "de": ("Sehr geehrte Damen und Herren,", "Guten Tag,", "Hallo,"),
    "es": ("Buenos días:", "Estimados señores:", "Hola,"),
    "it": ("Buongiorno,", "Gentili Signori,", "Spettabile Claimflow Assurances,", "Salve,"),
    "nl": ("Geachte heer, mevrouw,", "Goedendag,", "Beste,", "Hallo,"),
})
CLOSINGS.update({
    "de": ("Mit freundlichen Grüßen", "Freundliche Grüße", "Viele Grüße", "Beste Grüße"),
    "es": ("Atentamente", "Un saludo", "Saludos cordiales", "Muchas gracias de antemano"),
    "it": ("Cordiali saluti", "Distinti saluti", "Grazie in anticipo", "Saluti"),
    "nl": ("Met vriendelijke groet", "Vriendelijke groeten", "Alvast bedankt", "Groeten"),
})
FORM_INTRO.update({
    "de": ("Anbei die Angaben zu meinem Schaden:", "Hiermit melde ich folgenden Schaden:",
           "Hier die Einzelheiten zum Schadenfall:"),
    "es": ("Les envío los datos de mi siniestro:", "Quiero declarar el siguiente siniestro:",
           "Estos son los datos del siniestro:"),
    "it": ("Vi invio i dati del mio sinistro:", "Desidero denunciare il seguente sinistro:",
           "Ecco i dettagli del sinistro:"),
    "nl": ("Hieronder de gegevens van mijn schade:", "Ik wil de volgende schade melden:",
           "Hier de details van het schadegeval:"),
})
LABELS.update({
    "de": {
        "claim": ("Schadennummer", "Schaden-Nr.", "Aktenzeichen", "Schadenfall"),
        "policy": ("Versicherungsnummer", "Police-Nr.", "Vertragsnummer", "Versicherungsschein-Nr."),
        "date": ("Schadendatum", "Datum des Schadens", "Unfalldatum", "Datum"),
        "type": ("Schadenart", "Art des Schadens"),
        "amount": ("Geschätzte Kosten", "Schadenhöhe", "Kostenvoranschlag"),
        "phone": ("Telefon", "Tel.", "Handy"),
        "description": ("Beschreibung", "Hergang", "Schadenhergang"),
        "holder": ("Versicherungsnehmer",),
    },
    "es": {
        "claim": ("Número de siniestro", "N.º de siniestro", "Referencia del siniestro", "Expediente"),
        "policy": ("Número de póliza", "N.º de póliza", "Póliza"),
        "date": ("Fecha del siniestro", "Fecha del accidente", "Fecha"),
        "type": ("Tipo de siniestro", "Naturaleza del daño"),
        "amount": ("Importe estimado", "Presupuesto", "Importe reclamado"),
        "phone": ("Teléfono", "Tel.", "Móvil"),
        "description": ("Descripción", "Lo ocurrido"),
        "holder": ("Tomador",),
    },
    "it": {
        "claim": ("Numero sinistro", "N. sinistro", "Rif. sinistro", "Pratica"),
        "policy": ("Numero di polizza", "N. polizza", "Polizza"),
        "date": ("Data del sinistro", "Data dell'incidente", "Data"),
        "type": ("Tipo di sinistro", "Tipologia del danno"),
        "amount": ("Importo stimato", "Preventivo", "Importo richiesto"),
        "phone": ("Telefono", "Tel.", "Cellulare"),
        "description": ("Descrizione", "Dinamica"),
        "holder": ("Contraente",),
    },
    "nl": {
        "claim": ("Schadenummer", "Schadenr.", "Dossiernummer", "Referentie schade"),
        "policy": ("Polisnummer", "Polis", "Polisnr."),
        "date": ("Schadedatum", "Datum van de schade", "Datum"),
        "type": ("Soort schade", "Aard van de schade"),
        "amount": ("Geschat bedrag", "Schatting", "Offerte"),
        "phone": ("Telefoon", "Tel.", "Mobiel"),
        "description": ("Omschrijving", "Toedracht"),
        "holder": ("Verzekeringnemer",),
    },
})
LABELS["en"]["holder"] = ("Policyholder",)
LABELS["fr"]["holder"] = ("Assuré",)
CLAIM_SENTENCES.update({
    "de": ("Diese E-Mail betrifft {claim}.", "Es geht um {claim}.",
           "Wie telefonisch besprochen, sende ich Ihnen die Angaben für {claim}."),
    "es": ("Me pongo en contacto con ustedes en relación con {claim}.",
           "Tras mi llamada, les envío la información sobre {claim}.", "Este correo es sobre {claim}."),
    "it": ("Vi contatto per {claim}.", "Questa e-mail riguarda {claim}.",
           "Come da telefonata, vi invio i dati per {claim}."),
    "nl": ("Ik schrijf u over {claim}.", "Deze e-mail gaat over {claim}.",
           "Naar aanleiding van mijn telefoontje stuur ik u de gegevens van {claim}."),
})
# German and Dutch put the verb second: the date goes after the clause, not before it.
INCIDENT_DATED.update({
    "de": ("{Clause}. Das ist {date} passiert.", "Ich möchte einen Schaden melden: {clause}, und zwar {date}."),
    "es": ("{Date}, {clause}.", "Les escribo para declarar que {clause} {date}.", "{Clause} {date}."),
    "it": ("{Date}, {clause}.", "Vi scrivo per denunciare un sinistro: {clause} {date}.", "{Clause} {date}."),
    "nl": ("{Clause}. Dit gebeurde {date}.", "Ik wil een schade melden: {clause}. Dat was {date}."),
})
INCIDENT_UNDATED.update({
    "de": ("Leider muss ich einen Schaden melden: {clause}.", "{Clause}."),
    "es": ("Les escribo para declarar que {clause}.", "{Clause}."),
    "it": ("Vi scrivo per denunciare un sinistro: {clause}.", "{Clause}."),
    "nl": ("Ik wil een schade melden: {clause}.", "{Clause}."),
})
POLICY_SENTENCES.update({
    "de": ("Meine Versicherungsnummer lautet {pv}.", "Ich bin bei Ihnen unter {pnp} versichert.",
           "Das Fahrzeug ist bei Ihnen unter {pnp} versichert."),
    "es": ("Mi número de póliza es {pv}.", "Estoy asegurado con ustedes con {pnp}.",
           "El coche está asegurado con {pnp}."),
    "it": ("Il mio numero di polizza è {pv}.", "Sono assicurato con voi con {pnp}.",
           "L'auto è assicurata con {pnp}."),
    "nl": ("Mijn polisnummer is {pv}.", "Ik ben bij u verzekerd onder {pnp}.", "De auto is verzekerd onder {pnp}."),
})
AMOUNT_SENTENCES.update({
    "de": ("Die Werkstatt schätzt die Reparatur auf {amt}.", "Ich habe einen Kostenvoranschlag über {amt} erhalten.",
           "Den Schaden schätze ich auf etwa {amt}."),
    "es": ("El taller estima la reparación en {amt}.", "He recibido un presupuesto de {amt}.",
           "Calculo que los daños ascienden a unos {amt}."),
    "it": ("L'officina stima la riparazione in {amt}.", "Ho ricevuto un preventivo di {amt}.",
           "Stimo il danno in circa {amt}."),
    "nl": ("De garage schat de reparatie op {amt}.", "Ik heb een offerte van {amt} ontvangen.",
           "Ik schat de schade op ongeveer {amt}."),
})
AMOUNT_SENTENCES_BY_LOSS["theft"].update({
    "de": ("Das Auto war etwa {amt} wert.", "Ich schätze meinen Schaden auf {amt}."),
    "es": ("El coche valía unos {amt}.", "Calculo mi pérdida en {amt}."),
    "it": ("L'auto valeva circa {amt}.", "Stimo la mia perdita in {amt}."),
    "nl": ("De auto was ongeveer {amt} waard.", "Ik schat mijn verlies op {amt}."),
})
AMOUNT_SENTENCES_BY_LOSS["fire"].update({
    "de": ("Das Auto war etwa {amt} wert.", "Der Schaden wird auf {amt} geschätzt."),
    "es": ("El coche valía unos {amt}.", "Los daños se estiman en {amt}."),
    "it": ("L'auto valeva circa {amt}.", "Il danno è stimato in {amt}."),
    "nl": ("De auto was ongeveer {amt} waard.", "De schade wordt geschat op {amt}."),
})
AMOUNT_SENTENCES_BY_LOSS["liability"].update({
    "de": ("Der Kostenvoranschlag des Geschädigten beläuft sich auf {amt}.", "Der Schaden wird auf {amt} geschätzt."),
    "es": ("El presupuesto del perjudicado asciende a {amt}.", "Los daños se estiman en {amt}."),
    "it": ("Il preventivo del danneggiato ammonta a {amt}.", "I danni sono stimati in {amt}."),
    "nl": ("De offerte van de benadeelde bedraagt {amt}.", "De schade wordt geschat op {amt}."),
})
PHONE_SENTENCES.update({
    "de": ("Sie erreichen mich unter {ph}.", "Meine Handynummer: {ph}."),
    "es": ("Pueden localizarme en el {ph}.", "Mi móvil es el {ph}."),
    "it": ("Potete contattarmi al {ph}.", "Il mio cellulare è {ph}."),
    "nl": ("U kunt mij bereiken op {ph}.", "Mijn mobiele nummer is {ph}."),
})
PHOTO_SENTENCES.update({
    "de": ("Anbei Fotos vom Schaden.", "Fotos anbei.", "Ich sende Ihnen {n} mit."),
    "es": ("Adjunto fotos de los daños.", "Les adjunto {n}."),
    "it": ("In allegato le foto dei danni.", "Allego {n}."),
    "nl": ("In de bijlage vindt u foto's van de schade.", "Ik stuur {n} mee."),
})
LOCATIONS.update({
    "de": ("Es ist in der Nähe meiner Wohnung passiert.", "Ich war auf dem Weg zur Arbeit.", "Niemand wurde verletzt."),
    "es": ("Ocurrió cerca de mi casa.", "Iba de camino al trabajo.", "No hubo heridos."),
    "it": ("È successo vicino a casa mia.", "Stavo andando al lavoro.", "Non ci sono feriti."),
    "nl": ("Het gebeurde vlak bij mijn huis.", "Ik was op weg naar mijn werk.", "Er zijn geen gewonden."),
})
# Smaller phrases, one per language.
PHRASES = {
    "en": {
        "happened": "It happened {date}.", "photo_one": "a photo", "photo_many": "{n} photos",
        "photos_later": "I will send photos later.", "pdf_doc": "I also attach the garage's estimate.",
        "zip_doc": "All the documents are in the attached archive.", "sent_from": "Sent from my iPhone",
        "photo_file": "damage {n}.jpg", "minimal": "Photos for {claim}.", "minimal_subject": "Photos",
        "plate": "My registration number is {plate}.", "mileage": "The car has {km} km on the clock.",
        "time": "It was around {hh}:{mm:02d}.", "excess": "I know my excess is {x}.",
        "bought": "I bought the car {date}.",
        "form_stub": ("Please find attached my completed claim form.", "My claim form is attached."),
        "form_subject": ("Claim form", "Completed claim form"), "form_file": "claim_form.pdf",
        "form_title": "CLAIM DECLARATION FORM",
        "witness_note": "I also attach the statement of a witness who saw everything.",
        "witness_file": "witness_statement.txt",
        "witness": ("WITNESS STATEMENT", "I, {witness}, declare the following:", "This happened {date}.",
                    "I am willing to confirm this statement if needed."),
    },
    "fr": {
        "happened": "C'est arrivé {date}.", "photo_one": "une photo", "photo_many": "{n} photos",
        "photos_later": "Je vous enverrai des photos plus tard.", "pdf_doc": "Ci-joint le devis du garage.",
        "zip_doc": "Tous les documents sont dans l'archive jointe.", "sent_from": "Envoyé de mon iPhone",
        "photo_file": "dégâts voiture {n}.jpg", "minimal": "Voici les photos pour le {claim}.",
        "minimal_subject": "Photos sinistre",
        "plate": "Immatriculation : {plate}.", "mileage": "Le véhicule a {km} km.", "time": "C'était vers {hh}h{mm:02d}.",
        "excess": "Je sais que ma franchise est de {x}.", "bought": "J'ai acheté la voiture {date}.",
        "form_stub": ("Veuillez trouver ci-joint mon formulaire de déclaration complété.",
                      "Je vous adresse en pièce jointe le formulaire de déclaration rempli."),
        "form_subject": ("Formulaire de déclaration", "Déclaration (formulaire rempli)"),
        "form_file": "declaration_sinistre.pdf", "form_title": "FORMULAIRE DE DÉCLARATION DE SINISTRE",
        "witness_note": "Vous trouverez aussi ci-joint le témoignage d'une personne qui a tout vu.",
        "witness_file": "temoignage.txt",
        "witness": ("ATTESTATION DE TÉMOIN", "Je soussigné(e) {witness} atteste avoir été témoin des faits suivants :",
                    "Les faits se sont produits {date}.", "Je reste disponible pour confirmer ce témoignage."),
    },
    "de": {
        "happened": "Es ist {date} passiert.", "photo_one": "ein Foto", "photo_many": "{n} Fotos",
        "photos_later": "Fotos schicke ich später nach.", "pdf_doc": "Anbei auch der Kostenvoranschlag der Werkstatt.",
        "zip_doc": "Alle Unterlagen finden Sie im angehängten Archiv.", "sent_from": "Von meinem iPhone gesendet",
        "photo_file": "Schaden Auto {n}.jpg", "minimal": "Fotos für {claim}.", "minimal_subject": "Fotos",
        "plate": "Mein Kennzeichen: {plate}.", "mileage": "Das Auto hat {km} km auf dem Tacho.",
        "time": "Es war gegen {hh}:{mm:02d} Uhr.", "excess": "Meine Selbstbeteiligung beträgt {x}.",
        "bought": "Ich habe das Auto {date} gekauft.",
        "form_stub": ("Anbei erhalten Sie meine ausgefüllte Schadenmeldung.", "Das ausgefüllte Formular finden Sie im Anhang."),
        "form_subject": ("Schadenmeldung (Formular)", "Ausgefülltes Formular"), "form_file": "Schadenmeldung.pdf",
        "form_title": "SCHADENMELDUNG",
        "witness_note": "Anbei außerdem die Aussage eines Zeugen, der alles gesehen hat.",
        "witness_file": "Zeugenaussage.txt",
        "witness": ("ZEUGENAUSSAGE", "Ich, {witness}, erkläre Folgendes:", "Das geschah {date}.",
                    "Für Rückfragen stehe ich gerne zur Verfügung."),
    },
    "es": {
        "happened": "Ocurrió {date}.", "photo_one": "una foto", "photo_many": "{n} fotos",
        "photos_later": "Les enviaré las fotos más tarde.", "pdf_doc": "También les envío el presupuesto del taller.",
        "zip_doc": "Todos los documentos están en el archivo adjunto.", "sent_from": "Enviado desde mi iPhone",
        "photo_file": "daños coche {n}.jpg", "minimal": "Fotos para {claim}.", "minimal_subject": "Fotos",
        "plate": "Matrícula: {plate}.", "mileage": "El coche tiene {km} km.",
        "time": "Eran alrededor de las {hh}:{mm:02d}.", "excess": "Sé que mi franquicia es de {x}.",
        "bought": "Compré el coche {date}.",
        "form_stub": ("Les adjunto el parte cumplimentado.", "Adjunto el formulario de declaración relleno."),
        "form_subject": ("Parte de siniestro", "Formulario de declaración"), "form_file": "parte_siniestro.pdf",
        "form_title": "PARTE DE DECLARACIÓN DE SINIESTRO",
        "witness_note": "También les envío la declaración de un testigo que lo vio todo.",
        "witness_file": "declaracion_testigo.txt",
        "witness": ("DECLARACIÓN DE TESTIGO", "Yo, {witness}, declaro lo siguiente:", "Los hechos ocurrieron {date}.",
                    "Quedo a su disposición para cualquier aclaración."),
    },
    "it": {
        "happened": "È successo {date}.", "photo_one": "una foto", "photo_many": "{n} foto",
        "photos_later": "Invierò le foto più tardi.", "pdf_doc": "In allegato anche il preventivo dell'officina.",
        "zip_doc": "Tutti i documenti sono nell'archivio allegato.", "sent_from": "Inviato da iPhone",
        "photo_file": "danni auto {n}.jpg", "minimal": "Foto per {claim}.", "minimal_subject": "Foto",
        "plate": "Targa: {plate}.", "mileage": "L'auto ha {km} km.", "time": "Erano circa le {hh}:{mm:02d}.",
        "excess": "So che la mia franchigia è di {x}.", "bought": "Ho comprato l'auto {date}.",
        "form_stub": ("In allegato il modulo di denuncia compilato.", "Vi invio in allegato il modulo compilato."),
        "form_subject": ("Modulo di denuncia", "Modulo compilato"), "form_file": "modulo_denuncia.pdf",
        "form_title": "MODULO DI DENUNCIA SINISTRO",
        "witness_note": "In allegato anche la dichiarazione di un testimone che ha visto tutto.",
        "witness_file": "dichiarazione_testimone.txt",
        "witness": ("DICHIARAZIONE TESTIMONIALE", "Io sottoscritto/a {witness} dichiaro quanto segue:",
                    "I fatti sono avvenuti {date}.", "Resto a disposizione per eventuali chiarimenti."),
    },
    "nl": {
        "happened": "Het is {date} gebeurd.", "photo_one": "een foto", "photo_many": "{n} foto's",
        "photos_later": "Foto's stuur ik later na.", "pdf_doc": "Ook de offerte van de garage zit in de bijlage.",
        "zip_doc": "Alle documenten zitten in het bijgevoegde archief.", "sent_from": "Verzonden vanaf mijn iPhone",
        "photo_file": "schade auto {n}.jpg", "minimal": "Foto's voor {claim}.", "minimal_subject": "Foto's",
        "plate": "Kenteken: {plate}.", "mileage": "De auto heeft {km} km op de teller.",
        "time": "Het was rond {hh}:{mm:02d} uur.", "excess": "Ik weet dat mijn eigen risico {x} is.",
        "bought": "Ik heb de auto {date} gekocht.",
        "form_stub": ("In de bijlage vindt u het ingevulde formulier.", "Hierbij stuur ik het ingevulde formulier."),
        "form_subject": ("Schadeformulier", "Ingevuld formulier"), "form_file": "schadeformulier.pdf",
        "form_title": "SCHADEAANGIFTEFORMULIER",
        "witness_note": "In de bijlage vindt u ook de verklaring van een getuige die alles heeft gezien.",
        "witness_file": "getuigenverklaring.txt",
        "witness": ("GETUIGENVERKLARING", "Ik, {witness}, verklaar het volgende:", "Dit gebeurde {date}.",
                    "Voor vragen ben ik bereikbaar."),
    },
}
# Greetings by the hour, (before noon, afternoon, evening); None: the language's usual greetings.
TIMED_GREETINGS = {
    "en": ("Good morning,", "Good afternoon,", "Good evening,"), "fr": ("Bonjour,", "Bonjour,", "Bonsoir,"),
    "de": ("Guten Morgen,", "Guten Tag,", "Guten Abend,"), "es": ("Buenos días,", "Buenas tardes,", "Buenas noches,"),
    "it": ("Buongiorno,", "Buon pomeriggio,", "Buonasera,"), "nl": ("Goedemorgen,", "Goedemiddag,", "Goedenavond,"),
}
SIGNATURE_PHONE = {"en": None, "fr": "Tél. : {ph}", "de": "Tel.: {ph}", "es": "Tel.: {ph}", "it": "Tel. {ph}",
                   "nl": "Tel.: {ph}"}
SUBJECTS = {
    "en": {"claim": ("Claim {v}", "New claim {v}", "Claim {v} - {word}", "My claim {v}"),
           "plain": ("Claim declaration - {word}", "{word} damage", "Accident report", "Car insurance claim",
                     "Damage to my car", "Declaration of loss")},
    "fr": {"claim": ("Sinistre {v}", "Dossier {v}", "Déclaration sinistre {v}"),
           "plain": ("Déclaration de sinistre", "Déclaration sinistre - {word}", "Sinistre auto",
                     "Déclaration de sinistre automobile")},
    "de": {"claim": ("Schaden {v}", "Schadenmeldung {v}", "Schaden {v} - {word}"),
           "plain": ("Schadenmeldung", "Schadenmeldung - {word}", "Kfz-Schaden", "Schaden an meinem Auto")},
    "es": {"claim": ("Siniestro {v}", "Declaración de siniestro {v}", "Siniestro {v} - {word}"),
           "plain": ("Declaración de siniestro", "Siniestro - {word}", "Parte de siniestro", "Daños en mi coche")},
    "it": {"claim": ("Sinistro {v}", "Denuncia sinistro {v}", "Sinistro {v} - {word}"),
           "plain": ("Denuncia di sinistro", "Denuncia sinistro - {word}", "Sinistro auto", "Danni alla mia auto")},
    "nl": {"claim": ("Schade {v}", "Schademelding {v}", "Schade {v} - {word}"),
           "plain": ("Schademelding", "Schademelding - {word}", "Autoschade", "Schade aan mijn auto")},
}
# Follow-ups: the English and French wording (and its order) is the original one.
FOLLOW_UP = {
    "en": {"greet": ("Hello,", "Hi,", "Hello again,"), "regarding": "Regarding {claim}:",
           "again": ("Here are the photos again, in case they did not come through.", "I am sending the photos again."),
           "more": ("Here are more photos of the damage.", "As promised, here are the photos."),
           "amount": "The garage has now sent its estimate: {v}.",
           "phone": "I forgot to give you my phone number: {v}.", "policy": "My policy number is {v}.",
           "date": "To clarify, it happened {v}.", "nudge": "Do you have any news about my claim?",
           "prefix": ("Re: ", "RE: ", "Re: ")},
    "fr": {"greet": ("Bonjour,",), "regarding": "Concernant le {claim} :",
           "again": ("Je vous renvoie les photos, au cas où elles ne seraient pas arrivées.",
                     "Je vous renvoie les photos du sinistre."),
           "more": ("Voici des photos supplémentaires.", "Comme promis, voici les photos."),
           "amount": "Le garage m'a transmis son devis : {v}.", "phone": "J'ai oublié de vous donner mon numéro : {v}.",
           "policy": "Mon numéro de contrat : {v}.", "date": "Pour préciser, le sinistre a eu lieu {v}.",
           "nudge": "Avez-vous des nouvelles de mon dossier ?", "prefix": ("Re: ", "RE : ", "RE: ")},
    "de": {"greet": ("Hallo,", "Guten Tag,", "Hallo nochmal,"), "regarding": "Es geht um {claim}.",
           "again": ("Hier noch einmal die Fotos, falls sie nicht angekommen sind.",
                     "Ich schicke Ihnen die Fotos noch einmal."),
           "more": ("Hier weitere Fotos vom Schaden.", "Wie versprochen, hier die Fotos."),
           "amount": "Die Werkstatt hat mir jetzt ihren Kostenvoranschlag geschickt: {v}.",
           "phone": "Ich habe vergessen, Ihnen meine Telefonnummer zu geben: {v}.",
           "policy": "Meine Versicherungsnummer: {v}.", "date": "Zur Klarstellung: Es ist {v} passiert.",
           "nudge": "Gibt es schon Neuigkeiten zu meinem Schaden?", "prefix": ("AW: ", "Re: ", "AW: ")},
    "es": {"greet": ("Hola,", "Buenos días,", "Hola de nuevo,"), "regarding": "En relación con {claim}:",
           "again": ("Les reenvío las fotos por si no les llegaron.", "Les vuelvo a enviar las fotos."),
           "more": ("Les envío más fotos de los daños.", "Como les prometí, aquí tienen las fotos."),
           "amount": "El taller ya me ha enviado su presupuesto: {v}.",
           "phone": "Olvidé darles mi número de teléfono: {v}.", "policy": "Mi número de póliza: {v}.",
           "date": "Para aclararlo, ocurrió {v}.", "nudge": "¿Hay alguna novedad sobre mi siniestro?",
           "prefix": ("RE: ", "Re: ", "RE: ")},
    "it": {"greet": ("Buongiorno,", "Salve,", "Buongiorno di nuovo,"), "regarding": "Scrivo ancora per {claim}.",
           "again": ("Vi rimando le foto, nel caso non fossero arrivate.", "Vi invio di nuovo le foto."),
           "more": ("Ecco altre foto dei danni.", "Come promesso, ecco le foto."),
           "amount": "L'officina mi ha inviato il preventivo: {v}.",
           "phone": "Ho dimenticato di darvi il mio numero di telefono: {v}.", "policy": "Il mio numero di polizza: {v}.",
           "date": "Per precisare, è successo {v}.", "nudge": "Ci sono novità sulla mia pratica?",
           "prefix": ("R: ", "Re: ", "R: ")},
    "nl": {"greet": ("Hallo,", "Goedendag,", "Hallo nogmaals,"), "regarding": "Betreft {claim}:",
           "again": ("Hierbij nogmaals de foto's, voor het geval ze niet zijn aangekomen.",
                     "Ik stuur u de foto's opnieuw."),
           "more": ("Hier nog meer foto's van de schade.", "Zoals beloofd, hierbij de foto's."),
           "amount": "De garage heeft nu een offerte gestuurd: {v}.",
           "phone": "Ik vergat u mijn telefoonnummer te geven: {v}.", "policy": "Mijn polisnummer: {v}.",
           "date": "Ter verduidelijking: het is {v} gebeurd.", "nudge": "Is er al nieuws over mijn schadedossier?",
           "prefix": ("RE: ", "Re: ", "RE: ")},
}
# A first notice of loss (no claim number yet): opening, the loss, the question, subjects.
REPORT = {
    "en": ("I would like to report a claim.", "{Date}, {clause}.", "What do I need to do? I don't have a claim number yet.",
           ("I want to report a claim", "How do I declare a claim?", "New accident - what should I do?")),
    "fr": ("Je souhaite déclarer un sinistre.", "{Date}, {clause}.",
           "Que dois-je faire ? Je n'ai pas encore de numéro de sinistre.",
           ("Je souhaite déclarer un sinistre", "Comment déclarer un sinistre ?", "Déclaration de sinistre")),
    "de": ("Ich möchte einen Schaden melden.", "{Clause}. Das ist {date} passiert.",
           "Was muss ich jetzt tun? Ich habe noch keine Schadennummer.",
           ("Ich möchte einen Schaden melden", "Wie melde ich einen Schaden?", "Neuer Schaden - was muss ich tun?")),
    "es": ("Quisiera declarar un siniestro.", "{Date}, {clause}.",
           "¿Qué tengo que hacer? Todavía no tengo número de siniestro.",
           ("Quiero declarar un siniestro", "¿Cómo declaro un siniestro?", "Nuevo siniestro: ¿qué debo hacer?")),
    "it": ("Vorrei denunciare un sinistro.", "{Date}, {clause}.", "Cosa devo fare? Non ho ancora un numero di sinistro.",
           ("Vorrei denunciare un sinistro", "Come denuncio un sinistro?", "Nuovo sinistro: cosa devo fare?")),
    "nl": ("Ik wil graag een schade melden.", "{Clause}. Dat gebeurde {date}.",
           "Wat moet ik nu doen? Ik heb nog geen schadenummer.",
           ("Ik wil een schade melden", "Hoe meld ik een schade?", "Nieuwe schade - wat moet ik doen?")),
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


def _language(roll: float) -> str:
    """The language of a euro claim from one uniform draw: French, the four others, else English."""
    if roll < SHARE_FRENCH:
        return "fr"
    edge = SHARE_FRENCH
    for lang, share in SHARE_OTHER_LANGUAGES:
        edge += share
        if roll < edge:
            return lang
    return "en"


_LANGUAGE_TAGS = {"fr": "french", "de": "german", "es": "spanish", "it": "italian", "nl": "dutch"}


_NL_MONTHS_SHORT = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
_REPLY_PREFIX = re.compile(r"(?:re|aw|r)\s?:", re.IGNORECASE)


def _own_copies(attachments: list[dict]) -> list[dict]:
    """The attachments of a re-sent mail: the claim's own photos (no longer a reuse from another claim)."""
    out = []
    for att in attachments:
        att = {k: v for k, v in att.items() if k != "reused_from_index"}
        if att["type"] == "rfc822":
            att["attachments"] = _own_copies(att["attachments"])
        out.append(att)
    return out


def _attribution(sent: datetime, who: str, lang: str) -> str:
    """The line a mail client writes above a quoted mail (Gmail's wording in each language)."""
    day, year, hm = sent.day, sent.year, f"{sent:%H:%M}"
    weekday, month = T.WEEKDAYS[lang][sent.weekday()], T.MONTHS[lang][sent.month - 1]
    if lang == "fr":
        return f"Le {weekday[:3]}. {day} {month} {year} à {hm}, {who} a écrit :"
    if lang == "de":
        return f"Am {weekday[:2]}., {day}. {month} {year} um {hm} Uhr schrieb {who}:"
    if lang == "es":
        return f"El {weekday[:3]}, {day} {month[:3]} {year} a las {hm}, {who} escribió:"
    if lang == "it":
        return f"Il giorno {weekday[:3]} {day} {month[:3]} {year} alle ore {hm} {who} ha scritto:"
    if lang == "nl":
        return f"Op {weekday[:2]} {day} {_NL_MONTHS_SHORT[sent.month - 1]} {year} om {hm} schreef {who}:"
    return f"On {sent:%a}, {day} {sent:%b %Y} at {hm}, {who} wrote:"


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


def _pdf_text(line: str) -> str:
    """`line` in the PDF's Windows-1252 text: a narrow NBSP becomes an NBSP, other letters lose their accents."""
    line = line.replace("\u202f", "\u00a0")
    return line if _encodable(line, "cp1252") else "".join(
        ch if _encodable(ch, "cp1252") else (T.fold_ascii(ch) or "?") for ch in line)


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


def _headed(root, headers: list[tuple[str, str]]) -> None:
    """Put message headers (From, To, ...) before `root`'s MIME headers, as mail clients write them."""
    mime_headers = list(root.items())
    for key in {k for k, _ in mime_headers}:
        del root[key]
    for key, value in headers:
        if key == "Subject":
            value = _encode_words(value, "utf-8", "Subject")
        root[key] = value
    root["MIME-Version"] = "1.0"
    for key, value in mime_headers:
        if key != "MIME-Version":
            root[key] = value


def _message_part(att: dict, parts: list) -> MIMEMessage:
    """A whole earlier message (a customer's mail a broker forwards as an attachment), `message/rfc822`."""
    body = _text_part(att["text"], "plain", att["charset"], att["cte"], False)
    if parts:
        inner = MIMEMultipart("mixed", boundary=att["boundary"])
        del inner["MIME-Version"]
        inner.attach(body)
        for part in parts:
            inner.attach(part)
    else:
        inner = body
    _headed(inner, att["headers"])
    part = MIMEMessage(inner)
    del part["MIME-Version"]
    part.add_header("Content-Disposition", "attachment", filename=att["filename"])
    return part


def _delivery_report(report: dict, body, boundary: str) -> MIMEMultipart:
    """A bounce (RFC 3464): the explanation, the machine-readable status, the returned message or its headers."""
    root = MIMEMultipart("report", boundary=boundary)
    root.set_param("report-type", "delivery-status")
    root.attach(body)
    status = MIMEBase("message", "delivery-status")
    del status["MIME-Version"]
    blocks = []
    for fields in (report["per_message"], report["per_recipient"]):
        block = email.message.Message()
        for key, value in fields:
            block[key] = value
        blocks.append(block)
    status.set_payload(blocks)
    root.attach(status)
    if report["returned"]["text"] is None:
        returned = MIMENonMultipart("text", "rfc822-headers")
        del returned["MIME-Version"]
        returned.set_payload("".join(f"{k}: {v if v.isascii() else Header(v, 'utf-8').encode()}\r\n"
                                     for k, v in report["returned"]["headers"]))
    else:
        inner = _text_part(report["returned"]["text"], "plain", "utf-8", "quoted-printable", False)
        _headed(inner, report["returned"]["headers"])
        returned = MIMEMessage(inner)
        del returned["MIME-Version"]
    root.attach(returned)
    return root


def _render(plan: dict, out_dir: str) -> dict:
    """Build, write and describe one message (runs in worker processes)."""
    photos = []
    bodies: list[tuple[str, bytes]] = []

    def attach(parts: list, maintype: str, subtype: str, data: bytes, filename: str, disposition: str) -> MIMEBase:
        placeholder = f"X-ATTACHMENT-{len(bodies)}-{plan['boundary']}"
        bodies.append((placeholder, data))
        part = _attachment_part(maintype, subtype, filename, disposition, placeholder)
        parts.append(part)
        return part

    def build(items: list[dict]) -> list:
        """MIME parts of attachments, in order; photos are described as they are rendered."""
        parts: list = []
        for att in items:
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
                attach(parts, "image", spec.fmt, data, att["filename"], att["disposition"])
            elif att["type"] == "pdf":
                attach(parts, "application", "pdf", minimal_pdf(att["lines"]), att["filename"], "attachment")
            elif att["type"] == "txt":
                attach(parts, "text", "plain", att["text"].encode("utf-8"), att["filename"],
                       "attachment").set_param("charset", "utf-8")
            elif att["type"] == "rfc822":
                parts.append(_message_part(att, build(att["attachments"])))
            else:
                members = [(name, minimal_pdf(content) if name.endswith(".pdf") else content.encode("utf-8"))
                           for name, content in att["members"]]
                attach(parts, "application", "zip", _zip(members, att["when"]), att["filename"], "attachment")
        return parts

    attachments = build(plan["attachments"])
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
    if plan.get("report"):
        root = _delivery_report(plan["report"], body, plan["boundary"])
    elif attachments:
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
        return PHRASES[lang]["photo_file"].format(n=n)

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
        lang = "en" if currency != "EUR" else _language(r.random())
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
        lang = "en" if currency != "EUR" else _language(r.random())
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
                style = _weighted(r, T.DATE_STYLES[lang])
                tags.add(f"date:{style}")
                st["date"] = T.format_date(c.incident, style, r)
                st["date_phrase"] = T.date_phrase(st["date"], style, lang)
        elif "missing_date" not in odd:
            odd.add("missing_date")

        st["amount"] = None
        if "missing_amount" not in odd and r.random() < 0.87:
            style = _weighted(r, T.amount_styles(c.currency, lang))
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
            style = _weighted(r, T.phone_styles(c.phone, lang))
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
            return TIMED_GREETINGS[lang][0 if when.hour < 12 else 1 if when.hour < 18 else 2]
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
                first.append(T.capitalize_first(PHRASES[lang]["happened"].format(date=st["date_phrase"])))
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
                    # How a loss is valued says what it was: only where the mail says so anyway.
                    by_loss = AMOUNT_SENTENCES_BY_LOSS.get(c.loss_type) if st["loss"] else None
                    options = (by_loss or AMOUNT_SENTENCES)[lang]
                    second.append(self.typo(st, r.choice(options)).format(amt=st["amount"]))
            if st["phone"] and not st["phone_in_signature"]:
                second.append(self.typo(st, r.choice(PHONE_SENTENCES[lang])).format(ph=st["phone"]))
            blocks.append(("p", [" ".join(first)]))
            if second:
                blocks.append(("p", [" ".join(second)]))
        blocks.extend(self.distractor_blocks(c, st))
        tail = self.photo_sentences(lang, photo_n, later=True)
        if extra_doc == "pdf":
            tail.append(PHRASES[lang]["pdf_doc"])
        elif extra_doc == "zip":
            tail.append(PHRASES[lang]["zip_doc"])
        elif extra_doc == "witness":
            tail.append(PHRASES[lang]["witness_note"])
        if tail:
            blocks.append(("p", [" ".join(tail)]))
        blocks.append(self.signature(c.name, lang, st["phone"] if st["phone"] and st["phone_in_signature"] else None))
        return blocks

    def photo_sentences(self, lang: str, photo_n: int, *, later: bool) -> list[str]:
        """What the customer says about the photos: attached (`photo_n`), or sometimes to come."""
        r = self.rng
        if photo_n:
            sentence = r.choice(PHOTO_SENTENCES[lang])
            if "{n}" in sentence:
                words = PHRASES[lang]["photo_one" if photo_n == 1 else "photo_many"].format(n=photo_n)
                sentence = sentence.format(n=words)
            return [sentence]
        if later and r.random() < 0.3:
            return [PHRASES[lang]["photos_later"]]
        return []

    def distractor_blocks(self, c: _Claim, st: dict) -> list:
        r = self.rng
        words = PHRASES[c.lang]
        lines = []
        for kind in st["distractors"]:
            if kind == "plate":
                lines.append(words["plate"].format(plate=c.plate))
            elif kind == "mileage":
                km = f"{r.randint(8, 240)} {r.randint(0, 999):03d}"
                lines.append(words["mileage"].format(km=km))
            elif kind == "time":
                hh, mm = r.randint(6, 22), r.choice((0, 15, 30, 45, 10, 20))
                lines.append(words["time"].format(hh=hh, mm=mm))
            elif kind == "distractor_amount":
                excess = T.format_amount(r.choice((150, 200, 300, 380, 500)) * 100, "EUR",
                                         st.get("amount_style", "eur_code_continental")
                                         if c.currency == "EUR" else "eur_code_continental", r)
                lines.append(words["excess"].format(x=excess))
            elif kind == "distractor_date":
                bought = c.incident - timedelta(days=r.randint(400, 3000))
                style = _weighted(r, T.DATE_STYLES[c.lang])
                if style == "ordinal_no_year":
                    style = "d_month_y"
                value = T.format_date(bought, style, r)
                lines.append(words["bought"].format(date=T.date_phrase(value, style, c.lang)))
        return [("p", [" ".join(lines)])] if lines else []

    def signature(self, name: str, lang: str, phone: str | None) -> tuple:
        r = self.rng
        shown = name if r.random() < 0.7 else name.split(" ")[0]
        lines = [r.choice(CLOSINGS[lang]) + ("," if r.random() < 0.7 else ""), shown]
        if phone:
            lines.append(f"{r.choice(('Tel', 'Mobile', 'Phone'))}: {phone}" if lang == "en"
                         else SIGNATURE_PHONE[lang].format(ph=phone))
        if r.random() < 0.1:
            lines += ["", PHRASES[lang]["sent_from"]]
        return ("p", lines)

    def subject(self, c: _Claim, st: dict, tags: set) -> tuple[str, bool]:
        r = self.rng
        word = r.choice(T.LOSS_LABELS[c.loss_type][c.lang])
        # A mail that does not say what the loss was does not say it in its subject either.
        says_loss = st["loss"] or st.get("loss_elsewhere", False)

        def pick(options: tuple[str, ...], value: str = "") -> str:
            return r.choice([o for o in options if says_loss or "{word}" not in o]).format(v=value, word=word)

        words = SUBJECTS[c.lang]
        if c.lang in ("en", "fr"):
            if st["claim_valid"] and r.random() < 0.45:
                value = st["claim_value"] if st["claim_style"] != "slash" else f"no. {st['claim_value']}"
                return pick(words["claim"], value), True
        elif st["claim_valid"] and r.random() < 0.45 and st["claim_style"] != "slash":
            return pick(words["claim"], st["claim_value"]), True
        return pick(words["plain"]), False

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
            "follow_up_of_index": None, "duplicate_of_index": None, "report": None, "not_a_claim": False,
        }

    def finalize(self, plan: dict, blocks: list, force_mode: str | None = None, *, html_only: bool = True) -> dict:
        """Choose body structure, charset and transfer encoding; render text and HTML."""
        r = self.rng
        tags = plan["tags"]
        plan["blocks"] = blocks
        mode = force_mode or _weighted(r, (("text", 70), ("html", 12), ("alternative", 18)))
        if mode == "html" and not html_only:
            mode = "alternative"
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
        attached = forwarded and r.random() < SHARE_FORWARD_ATTACHED
        # Where the fields are: the body (most mail), a PDF claim form, or a witness's .txt statement.
        source = None
        if not (odd or forwarded or reply):
            roll = r.random()
            if roll < SHARE_PDF_FORM:
                source = "pdf_form"
            elif roll < SHARE_PDF_FORM + SHARE_WITNESS and c.loss_type in T.WITNESS_ACCOUNTS:
                source = "witness"
        plan = self.base_plan(index, "new", when, c.lang)
        tags |= plan["tags"]
        plan["tags"] = tags
        tags.update(odd)
        if c.lang in _LANGUAGE_TAGS:
            tags.add(_LANGUAGE_TAGS[c.lang])
        # Relative dates only where the Date header is the customer's own, and not in documents.
        st = self.statement(c, when.date(), tags, odd, allow_relative=not forwarded and source is None)
        tags.update(odd)
        witness_date = None
        if source == "pdf_form":
            st.update(style="form", type_line=True, typos=0.0, distractors=[])
            _drop_tags(tags, ("prose", "typos", "distractor_"))
            tags.update(("form", "type_of_loss_line", "pdf_form"))
        elif source == "witness":
            # The body names the claim; what happened, and when, is in the witness's words.
            witness_date = st["date_phrase"] if st["date"] else None
            st.update(loss=False, loss_elsewhere=True, type_line=False, date=None, distractors=[])
            _drop_tags(tags, ("distractor_", "type_of_loss_line"))
            tags.add("witness_statement")

        photo_n = 0
        if row is not None:
            photo_n = row.photo_count
        elif "minimal_body" in odd or r.random() < SHARE_WITH_PHOTOS:
            photo_n = _weighted(r, ((1, 30), (2, 30), (3, 24), (4, 16)))
        extra_doc = "pdf" if r.random() < 0.06 else "zip" if r.random() < 0.03 else None
        if source is not None:
            extra_doc = "witness" if source == "witness" else None
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
            blocks = [("p", [PHRASES[c.lang]["minimal"].format(claim=st["claim_np"])]), ("p", [c.name.split(" ")[0]])]
            subject = (f"Photos {st['claim_value']}" if st["claim_valid"] and r.random() < 0.6
                       else PHRASES[c.lang]["minimal_subject"])
        elif source == "pdf_form":
            blocks = [("p", [self.greeting(c.lang, when)]),
                      ("p", [r.choice(PHRASES[c.lang]["form_stub"]), *self.photo_sentences(c.lang, photo_n, later=False)]),
                      self.signature(c.name, c.lang, None)]
            subject = r.choice(PHRASES[c.lang]["form_subject"])
            plan["attachments"].append(self.claim_form(c, st))
        else:
            blocks = self.claim_blocks(c, st, photo_n, extra_doc, when)
            subject, in_subject = self.subject(c, st, tags)
            if in_subject:
                tags.add("claim_number_in_subject")
        if "raw_8bit_headers" in odd and subject.isascii():
            subject = "Déclaration de sinistre" if c.lang == "fr" else f"Sinistre – {subject}"
        if extra_doc in ("pdf", "zip"):
            tags.add(f"{extra_doc}_attachment")
            plan["attachments"].append(self.document(c, st, extra_doc, when))
        elif extra_doc == "witness":
            plan["attachments"].append(self.witness_statement(c, witness_date))

        expected = self.expected(
            claim_number=c.claim_number if st["claim_valid"] else None,
            policy_number=f"POL-{c.policy7}" if st["policy"] and st["policy_valid"] else None,
            incident_date=c.incident.isoformat() if st["date"] or witness_date else None,
            loss_type=c.loss_type if st["loss"] or source == "witness" else None,
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

        if attached:
            blocks, subject = self.forward_attached(plan, c, blocks, subject, when)
            plan["subject"] = subject
        elif forwarded:
            blocks, subject = self.forward(plan, c, blocks, subject, when)
            plan["subject"] = subject
        elif reply:
            blocks = self.insurer_reply(plan, c, blocks, when)
        if r.random() < 0.05:
            plan["cc"] = T.email_for(T.random_name(r), r)
        # A .txt beside an HTML-only body would be the mail's only plain part: such mail has a text part.
        self.finalize(plan, blocks, force_mode="text" if plan["wrong_charset"] else None,
                      html_only=source != "witness")
        plan["relative_date"] = "relative_date" in tags
        if st["claim_valid"]:
            self.originals.append(index)
            self.original_times.append(when_utc)
        return plan

    def claim_form(self, c: _Claim, st: dict) -> dict:
        """The insurer's claim form, filled in by the customer, as a one-page PDF."""
        r = self.rng
        labels, words = LABELS[c.lang], PHRASES[c.lang]
        lines = [words["form_title"], INSURER_NAME, ""]
        if st["claim_valid"]:
            lines.append(f"{r.choice(labels['claim'])}: {st['claim_value']}")
        if st["policy"]:
            lines.append(f"{r.choice(labels['policy'])}: {st['policy']}")
        lines.append(f"{labels['holder'][0]}: {c.name}")
        if st["date"]:
            lines.append(f"{r.choice(labels['date'])}: {st['date']}")
        lines.append(f"{r.choice(labels['type'])}: {r.choice(T.LOSS_LABELS[c.loss_type][c.lang])}")
        if st["amount"]:
            lines.append(f"{r.choice(labels['amount'])}: {st['amount']}")
        if st["phone"]:
            lines.append(f"{r.choice(labels['phone'])}: {st['phone']}")
        lines += ["", f"{r.choice(labels['description'])}: {T.capitalize_first(c.clause)}."]
        return {"type": "pdf", "lines": [_pdf_text(line) for line in lines], "filename": words["form_file"]}

    def witness_statement(self, c: _Claim, date_phrase: str | None) -> dict:
        """A witness's signed account as a plain-text file: the loss, and its date when the witness gives one."""
        r = self.rng
        title, intro, dated, closing = PHRASES[c.lang]["witness"]
        witness = T.random_name(r)
        lines = [title, "", intro.format(witness=witness), "",
                 T.WITNESS_ACCOUNTS[c.loss_type][c.lang].format(name=c.name)]
        if date_phrase:
            lines.append(dated.format(date=date_phrase))
        lines += ["", closing, "", witness]
        return {"type": "txt", "text": "\n".join(lines) + "\n", "filename": PHRASES[c.lang]["witness_file"]}

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
        # The archive's timestamps are the claim mail's: a re-sent mail attaches the same bytes.
        return {"type": "zip", "filename": r.choice(("documents.zip", "sinistre.zip", "pieces.zip")),
                "members": [("devis.pdf", lines), ("notes.txt", note + "\n")], "when": when}

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

    def forward_attached(self, plan: dict, c: _Claim, inner: list, inner_subject: str,
                         when: datetime) -> tuple[list, str]:
        """A broker sends the customer's own mail on as a `message/rfc822` attachment (photos inside it)."""
        r = self.rng
        tags = plan["tags"]
        tags.add("forwarded_rfc822")
        cabinet, broker_addr, broker_phone = r.choice(BROKERS)
        agent = T.random_name(r)
        sent = (when - timedelta(minutes=r.randint(5, 360))).astimezone(PARIS)
        if sent.date() < c.incident:  # a loss reported the day it happened: the customer wrote after it
            sent = max(when.astimezone(PARIS) - timedelta(minutes=5), datetime.combine(c.incident, time(0, 5), PARIS))
        text = blocks_to_text(inner)
        customer = formataddr((c.name, c.email), charset="utf-8") if plan["from_name"] else c.email
        message = {
            "type": "rfc822",
            "headers": [("From", customer), ("To", formataddr((agent, broker_addr), charset="utf-8")), ("Subject", inner_subject),
                        ("Date", format_datetime(sent)), ("Message-ID", plan["message_id"])],
            "text": text, "charset": "us-ascii" if text.isascii() else "utf-8",
            "cte": "7bit" if text.isascii() else r.choice(("quoted-printable", "base64")),
            "attachments": plan["attachments"], "boundary": plan["boundary"] + "_fwd",
            "filename": re.sub(r"[^\w .-]+", "", T.fold_ascii(inner_subject))[:60].strip() + ".eml",
        }
        plan["attachments"] = [message]
        if r.random() < 0.7:
            note, closing = [f"Bonjour, veuillez trouver ci-joint la déclaration de notre client {c.name}."], "Cordialement,"
        else:
            note, closing = [f"Hello, please find attached the claim of our client {c.name}."], "Kind regards,"
        signature = [closing, agent, cabinet]
        if r.random() < 0.5:
            tags.add("broker_signature_phone")
            signature.append(f"Tél. {T.format_phone(broker_phone, 'fr_spaced')}")
        plan["from_name"], plan["from_addr"] = f"{agent} - {cabinet}" if r.random() < 0.5 else cabinet, broker_addr
        plan["message_id"] = self.message_id(broker_addr)
        return [("p", note), ("p", signature)], r.choice(("Fwd: ", "TR: ", "FW: ")) + inner_subject

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
        if c.lang in _LANGUAGE_TAGS:
            tags.add(_LANGUAGE_TAGS[c.lang])
        words = FOLLOW_UP[c.lang]
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
            sentences.append(self.typo(st, r.choice(words["again"])))
        elif "photos" in items:
            photo_n = _weighted(r, ((1, 40), (2, 35), (3, 25)))
            sentences.append(self.typo(st, r.choice(words["more"])))
        if "amount" in items:
            if self.claims is not None:
                cents = c.amount_cents
            else:
                lo, hi = AMOUNT_RANGES[c.loss_type]
                cents = round(math.exp(r.uniform(math.log(lo), math.log(hi))) * 100)
            style = _weighted(r, T.amount_styles(c.currency, c.lang))
            if style == "euros_word" and cents % 100:
                style = "eur_code_continental"
            tags.add(f"amount:{style}")
            value = T.format_amount(cents, c.currency, style, r)
            sentences.append(self.typo(st, words["amount"]).format(v=value))
            fields.update(estimated_amount=f"{cents / 100:.2f}", currency=c.currency)
        if "phone" in items:
            style = _weighted(r, T.phone_styles(c.phone, c.lang))
            tags.add(f"phone:{style}")
            sentences.append(self.typo(st, words["phone"]).format(v=T.format_phone(c.phone, style)))
            fields["contact_phone"] = c.phone
        if "policy" in items:
            style = _weighted(r, T.POLICY_STYLES)
            tags.add(f"policy:{style}")
            sentences.append(words["policy"].format(v=T.format_policy(c.policy7, style)))
            fields["policy_number"] = f"POL-{c.policy7}"
        if "date" in items:
            style = _weighted(r, T.DATE_STYLES[c.lang])
            tags.add(f"date:{style}")
            value = T.format_date(c.incident, style, r)
            sentences.append(words["date"].format(v=T.date_phrase(value, style, c.lang)))
            fields["incident_date"] = c.incident.isoformat()
        if "nudge" in items:
            sentences.append(self.typo(st, words["nudge"]))
        claim_style = _weighted(r, T.CLAIM_STYLES)
        claim_value = T.format_claim(c.year, c.serial, claim_style)
        if not orig["subject_has_claim"] or r.random() < 0.5:
            tags.add(f"claim:{claim_style}")
            np_ = T.claim_noun_phrase(claim_value, claim_style, c.lang, r)
            sentences.insert(0, words["regarding"].format(claim=np_))
        else:
            tags.add("claim_number_in_subject")
        blocks = [("p", [r.choice(words["greet"]) if len(words["greet"]) > 1 else words["greet"][0]]),
                  ("p", [" ".join(sentences)]),
                  self.signature(c.name, c.lang, None)]
        if r.random() < 0.6:
            tags.add("follow_up_quoted")
            sent = orig["date"]
            who = f"{orig['from_name']} <{orig['from_addr']}>" if orig["from_name"] else orig["from_addr"]
            blocks.append(("quote", _attribution(sent, who, c.lang), orig["blocks"]))
        prefix = r.choice(words["prefix"])
        subject = orig["subject"] if _REPLY_PREFIX.match(orig["subject"]) else prefix + orig["subject"]
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
        plan["attachments"] = _own_copies(orig["attachments"])
        return plan

    def plan_no_claim(self, index: int, when_utc: datetime, sort: str | None = None) -> dict:
        r = self.rng
        sort = sort or _weighted(r, _NO_CLAIM_SORTS)
        if sort == "report_without_number":
            return self.plan_report(index, when_utc)
        if sort == "delivery_failure":
            return self.plan_bounce(index, when_utc)
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
                    policy_status="unknown", expected=self.expected(), not_a_claim=True)
        return self.finalize(plan, blocks, force_mode=mode)

    def plan_bounce(self, index: int, when_utc: datetime) -> dict:
        """A delivery failure: the insurer's acknowledgement to a customer came back (RFC 3464 report)."""
        r = self.rng
        lang = "fr" if r.random() < 0.5 else "en"
        when = when_utc.astimezone(PARIS)
        plan = self.base_plan(index, "no_claim_number", when, lang)
        tags = plan["tags"]
        tags.add("delivery_failure")
        if lang == "fr":
            tags.add("french")
        name = T.random_name(r)
        rcpt = T.email_for(name, r)
        host = "mail.claimflow-assurances.fr"
        remote = {"gmail.com": "gmail-smtp-in.l.google.com", "orange.fr": "smtp-in.orange.fr",
                  "free.fr": "mx1.free.fr"}.get(rcpt.rpartition("@")[2], "mx." + rcpt.rpartition("@")[2])
        status, diagnostic = r.choice((
            ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist"),
            ("5.2.2", "552 5.2.2 Mailbox full, quota exceeded"),
            ("5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"),
        ))
        diagnostic = diagnostic.format(rcpt=rcpt)
        sent = when - timedelta(minutes=r.randint(1, 30))
        serial = f"CLM-{sent.year}-{r.randint(1, 999_999):06d}"
        returned_subject = (f"Accusé de réception - sinistre {serial}" if lang == "fr"
                            else f"Acknowledgement - claim {serial}")
        returned = [("From", f"{INSURER_NAME} <{INSURER_ADDR}>"), ("To", rcpt), ("Subject", returned_subject),
                    ("Date", format_datetime(sent)), ("Message-ID", f"<{self.hexid(64)}@claimflow-assurances.fr>")]
        full = r.random() < 0.4
        if full:
            tags.add("returned_message")
            returned_text = (f"Bonjour,\n\nNous avons bien reçu votre déclaration, enregistrée sous le numéro "
                             f"{serial}.\n\nLe service sinistres\n{INSURER_NAME}\n" if lang == "fr" else
                             f"Hello,\n\nWe have received your claim, registered as {serial}.\n\n"
                             f"Claims department\n{INSURER_NAME}\n")
        else:
            returned_text = None
        queue_id = self.hexid(40).upper()
        if lang == "fr":
            subject = r.choice(("Non remis : " + returned_subject, "Message non distribué : " + returned_subject))
            lines = [f"Ceci est le système de messagerie de {host}.", "",
                     "Votre message n'a pas pu être remis à un ou plusieurs destinataires.", "",
                     f"<{rcpt}> : l'hôte {remote} a répondu : {diagnostic}"]
        else:
            subject = r.choice(("Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
                                "Mail delivery failed: returning message to sender"))
            lines = [f"This is the mail system at host {host}.", "",
                     ("I'm sorry to have to inform you that your message could not be delivered to one or more "
                      "recipients. It's attached below."), "",
                     f"<{rcpt}>: host {remote} said: {diagnostic}"]
        plan["report"] = {
            "per_message": [("Reporting-MTA", f"dns; {host}"), ("X-Postfix-Queue-ID", queue_id),
                            ("Arrival-Date", format_datetime(sent))],
            "per_recipient": [("Final-Recipient", f"rfc822; {rcpt}"), ("Original-Recipient", f"rfc822;{rcpt}"),
                              ("Action", "failed"), ("Status", status), ("Remote-MTA", f"dns; {remote}"),
                              ("Diagnostic-Code", f"smtp; {diagnostic}")],
            "returned": {"headers": returned, "text": returned_text},
        }
        plan["extra_headers"] = ["Auto-Submitted: auto-replied"]
        daemon = f"MAILER-DAEMON@{host}"  # a bare address, as qmail and many relays send it
        plan.update(subject=subject, from_name=None, from_addr=daemon, to=INSURER_ADDR,
                    message_id=f"<{self.hexid(64)}@{host}>", policy_status="unknown", expected=self.expected(),
                    not_a_claim=True)
        return self.finalize(plan, [("p", lines)], force_mode="text")

    def plan_report(self, index: int, when_utc: datetime, row: _ClaimRow | None = None) -> dict:
        """A customer who wants to declare a claim but has no claim number yet."""
        r = self.rng
        c, tags, when = self.new_claim(index, when_utc, row=row)
        plan = self.base_plan(index, "no_claim_number", when, c.lang)
        tags |= plan["tags"] | {"report_without_number"}
        plan["tags"] = tags
        if c.lang in _LANGUAGE_TAGS:
            tags.add(_LANGUAGE_TAGS[c.lang])
        missing: set = set()
        st = self.statement(c, when.date(), tags, missing, allow_relative=True)
        st["style"] = "prose"
        _drop_tags(tags, ("claim:", "amount:", "distractor_", "type_of_loss_line", "form"))
        tags.update(missing - {"missing_amount"})
        tags.add("prose")
        opening, dated, question, subjects = REPORT[c.lang]
        clause = self.typo(st, c.clause)
        first = [opening]
        if st["date"]:
            first.append(dated.format(Date=T.capitalize_first(st["date_phrase"]), date=st["date_phrase"],
                                      clause=clause, Clause=T.capitalize_first(clause)))
        else:
            first.append(f"{T.capitalize_first(clause)}.")
        if st["policy"]:
            first.append(self.typo(st, r.choice(POLICY_SENTENCES[c.lang])).format(pv=st["policy"], pnp=st["policy_np"]))
        if st["phone"]:
            first.append(self.typo(st, r.choice(PHONE_SENTENCES[c.lang])).format(ph=st["phone"]))
        first.append(question)
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
        subject = r.choice(subjects)
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
            elif {"forwarded_broker", "forwarded_rfc822", "reply_quoted"} & plan["tags"]:
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
                sort = kind if kind in _NOT_CLAIMS else _weighted(r, _NO_CLAIM_SORTS[:3])
                plan = self.plan_no_claim(index, when, sort=sort)
            self.plans.append(plan)
        return self.plans


def expected_disposition(expected: dict, *, not_a_claim: bool, is_reply: bool) -> tuple[str, str | None]:
    """(disposition, quarantine reason) the intake flow owes a mail, from what the mail states (module docstring)."""
    if not_a_claim:
        return "quarantine", "not_a_claim"
    if expected["claim_number"]:
        return ("follow_up" if is_reply else "new_claim"), None
    if expected["policy_number"] and (expected["loss_type"] or expected["incident_date"]):
        return "first_notice", None
    return "quarantine", "missing_claim_number"


_WORKER_KEYS = ("index", "attachments", "charset", "cte", "wrong_charset", "body_mode", "text", "html",
                "boundary", "raw_8bit_headers", "from_name", "from_addr", "name_charset", "to", "cc",
                "subject", "date", "message_id", "in_reply_to", "references", "extra_headers", "report")


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
        disposition, reason = expected_disposition(expected, not_a_claim=plan["not_a_claim"],
                                                   is_reply=bool(plan["in_reply_to"]))
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
            "expected_disposition": disposition,
            "expected_quarantine_reason": reason,
            "expected": expected,
            "photos": photos,
        })
    with truth_path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return records
