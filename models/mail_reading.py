"""Read one claim e-mail: its fields, its language, whether it is a reply, whether it is a claim at all.

`read_mail` is the single reading step the CLI (`claimflow intake parse`), the intake assets and
the bench share; `models.disposition.decide_disposition` then says what the flow does with it.
Its inputs are what `raw.claim_emails` keeps of a message (subject, text with attachment text,
sender, recipients' domain, received time and the writer's UTC offset, reply headers, header
signals), so the CLI and the assets read every mail identically.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from models.contracts import ClaimFields
from models.extraction import (
    DEFAULT_RULES,
    ExtractionRules,
    extract,
    is_automated_sender,
    mask_instructions,
    split_attachments,
    split_regions,
)
from models.mail_language import detect_language

# Auto-replies and delivery failures announce themselves in the subject, in six languages.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?reply|out of (?:the )?office|autoreply|auto:|"
    r"r[ée]ponse automatique|absence|absent|abwesenheit|automatische antwort|abwesenheitsnotiz|"
    r"respuesta autom[áa]tica|fuera de la oficina|risposta automatica|fuori ufficio|assenza|"
    r"automatisch antwoord|afwezig)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification|delivery (?:has )?failed|returned mail|"
    r"failure notice|mail delivery failed|non remis|non distribu|unzustellbar|nicht zustellbar|"
    r"no se (?:ha podido|pudo) entregar|no entregado|non recapitat|mancata consegna|onbestelbaar|"
    r"niet (?:afgeleverd|bezorgd)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail delivery)", re.IGNORECASE)
# Newsletters carry a way out; claims never do.
_UNSUBSCRIBE = re.compile(
    r"unsubscribe|se d[ée]sabonner|d[ée]sinscri|d[ée]sabonnement|abbestellen|abmelden|darte de baja|"
    r"\bbaja\b|disiscriv|non ricevere pi[uù]|afmelden|uitschrijven|niet meer ontvangen",
    re.IGNORECASE,
)
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|antw|r|rif|rv|sv|vs)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class MailReading:
    """One mail as read: fields, language, reply or not, and why it is not a claim (if it is not)."""

    fields: ClaimFields
    language: str | None
    not_a_claim: str | None = None
    is_reply: bool = False
    flags: tuple[str, ...] = ()


def not_a_claim(
    *, subject: str, text: str, sender: str | None, signals: tuple[str, ...] | list[str], has_claim_numbers: bool
) -> str | None:
    """`auto_reply`, `delivery_failure` or `newsletter` for mail that is no claim, else None."""
    signals = set(signals or ())
    if "delivery_report" in signals or _BOUNCE_SENDER.match(sender or "") or _BOUNCE_SUBJECT.search(subject):
        return "delivery_failure"
    if "auto_replied" in signals or _AUTO_REPLY_SUBJECT.match(subject or ""):
        return "auto_reply"
    if ({"list", "bulk"} & signals or _UNSUBSCRIBE.search(text or "")) and not has_claim_numbers:
        return "newsletter"
    return None


def read_mail(
    *,
    subject: str,
    text: str,
    sender: str | None,
    received_at: datetime | None,
    photos: list[str] | tuple[str, ...] = (),
    recipients: tuple[str, ...] = (),
    utc_offset_minutes: int | None = None,
    in_reply_to: str | None = None,
    signals: tuple[str, ...] | list[str] = (),
    rules: ExtractionRules = DEFAULT_RULES,
) -> MailReading:
    """Language first (it decides how dates, phones and German nouns are read), then the fields."""
    body, _ = split_attachments(text or "")
    own = split_regions(mask_instructions(body)[0], subject or "")
    language, _ = detect_language(f"{subject or ''}\n{own.claim_text}")
    result = extract(
        subject=subject, text=text, sender=sender, received_at=received_at, photos=photos, rules=rules,
        language=language, recipients=recipients, utc_offset_minutes=utc_offset_minutes,
    )
    f = result.fields
    reason = not_a_claim(
        subject=subject or "", text=text or "", sender=sender, signals=tuple(signals),
        has_claim_numbers=bool(f.policy_number and f.provenance.get("policy_number") != "rules:quoted"),
    )
    is_reply = bool(in_reply_to) or bool(_REPLY_SUBJECT.match(subject or ""))
    flags = result.flags + (("automated_sender",) if is_automated_sender(sender) else ())
    return MailReading(f, language, reason, is_reply, flags)


def header_facts(msg) -> dict:
    """What the reader needs from a parsed message beyond subject, text and sender (stored with the row)."""
    return {
        "to": list(msg.to),
        "date": msg.date.isoformat() if msg.date else None,
        "utc_offset_minutes": msg.utc_offset_minutes,
        "signals": list(msg.signals),
        "in_reply_to": msg.in_reply_to,
    }


def read_stored(
    *,
    subject: str | None,
    text: str | None,
    sender: str | None,
    photos: list[str] | tuple[str, ...] = (),
    facts: dict | str | None = None,
    received_at: datetime | None = None,
    in_reply_to: str | None = None,
    rules: ExtractionRules = DEFAULT_RULES,
) -> MailReading:
    """`read_mail` from a stored message: relative dates count from the mail's own Date header
    (the writer's day), falling back to `received_at` when the mail had none."""
    facts = json.loads(facts) if isinstance(facts, str) else (facts or {})
    sent = datetime.fromisoformat(facts["date"]) if facts.get("date") else received_at
    return read_mail(
        subject=subject or "",
        text=text or "",
        sender=sender,
        received_at=sent,
        photos=photos,
        recipients=tuple(facts.get("to") or ()),
        utc_offset_minutes=facts.get("utc_offset_minutes"),
        in_reply_to=facts.get("in_reply_to") or in_reply_to,
        signals=tuple(facts.get("signals") or ()),
        rules=rules,
    )


def read_message(msg, rules: ExtractionRules = DEFAULT_RULES) -> MailReading:
    """`read_stored` on a parsed `connectors.mail.MailMessage`: the very inputs intake stores."""
    return read_stored(
        subject=msg.subject,
        text=msg.text,
        sender=msg.sender_address,
        photos=[a.sha256 for a in msg.attachments if a.kind == "image" and a.sha256],
        facts=header_facts(msg),
        received_at=msg.date,
        rules=rules,
    )
