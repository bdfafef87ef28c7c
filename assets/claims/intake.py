"""Claims intake as plain functions: inbox files to raw e-mail rows, e-mail rows to claims.

Nothing is dropped: every inbox file leaves a receipt, every distinct message a row,
and every message either becomes (part of) a claim or is quarantined with a reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd

from connectors.attachments import AttachmentStore
from connectors.inbox import Inbox, InboxItem
from connectors.mail import MailMessage, MailParseError, parse_message
from connectors.schema import (
    CLAIM_EMAILS,
    CLAIM_MESSAGES,
    CLAIM_NOTES,
    CLAIMS_HISTORY,
    EMAIL_RECEIPTS,
    MODEL_CALLS,
    PARSED_CLAIMS,
    POLICIES,
    QUARANTINED,
)
from connectors.values import utc_naive
from connectors.vault import open_text
from connectors.warehouse import Warehouse, records
from models.contracts import EXTRACTED_FIELDS, ClaimFields
from models.disposition import FIRST_NOTICE, QUARANTINE, decide_disposition
from models.extraction import EXTRACTOR_VERSION, ExtractionRules
from models.mail_reading import header_facts, read_stored

# ------------------------------------------------------------------ stage 1: inbox -> claim_emails


@dataclass
class IngestResult:
    files: int = 0
    new_messages: int = 0
    duplicates: int = 0
    parse_errors: dict[str, int] = field(default_factory=dict)
    attachments_stored: int = 0
    attachments_skipped: dict[str, int] = field(default_factory=dict)


def _email_row(item: InboxItem, msg: MailMessage, store: AttachmentStore, now: datetime, run_id: str, res: IngestResult):
    attachments, photos = [], []
    for att in msg.attachments:
        if att.data is not None and att.sha256:
            store.put(att.data, att.sha256)
            res.attachments_stored += 1
            if att.kind == "image":
                photos.append(att.sha256)
        elif att.skipped_reason:
            res.attachments_skipped[att.skipped_reason] = res.attachments_skipped.get(att.skipped_reason, 0) + 1
        attachments.append(
            {
                "filename": att.filename,
                "content_type": att.content_type,
                "kind": att.kind,
                "image_format": att.image_format,
                "size": att.size,
                "sha256": att.sha256,
                "skipped_reason": att.skipped_reason,
            }
        )
    # Received = delivered to our inbox. The mail's own Date: header is the sender's claim and
    # can be back-dated (regression: a back-dated follow-up won over the genuine first mail).
    received = datetime.fromtimestamp(item.mtime, UTC)
    return {
        "content_hash": msg.content_hash,
        "message_id": msg.message_id,
        "inbox_key": item.key,
        "received_at": received.astimezone(UTC).replace(tzinfo=None),
        "sender": msg.sender_address,
        "sender_name": msg.sender_name,
        "subject": msg.subject,
        "body_text": store.vault.seal_text(msg.text),  # personal data: encrypted at rest
        "html_only": msg.html_only,
        "attachments": json.dumps(attachments),
        "photos": json.dumps(photos),
        "defects": json.dumps(list(msg.defects)),
        "parse_error": None,
        "parse_error_detail": None,
        "in_reply_to": msg.in_reply_to,
        "references": json.dumps(list(msg.references)),
        "header_facts": json.dumps(header_facts(msg)),
        "ingested_at": now,
        "run_id": run_id,
    }


def _error_row(item: InboxItem, raw: bytes, err: MailParseError, now: datetime, run_id: str) -> dict:
    return {
        "content_hash": hashlib.sha256(raw).hexdigest() if raw else f"empty:{item.key}",
        "message_id": None,
        "inbox_key": item.key,
        "received_at": datetime.fromtimestamp(item.mtime, UTC).replace(tzinfo=None),
        "sender": None,
        "sender_name": None,
        "subject": None,
        "body_text": None,
        "html_only": None,
        "attachments": "[]",
        "photos": "[]",
        "defects": "[]",
        "parse_error": err.reason,
        "parse_error_detail": err.detail,
        "in_reply_to": None,
        "references": "[]",
        "header_facts": None,
        "ingested_at": now,
        "run_id": run_id,
    }


def ingest_inbox(
    inbox: Inbox,
    items: Iterable[InboxItem],
    store: AttachmentStore,
    warehouse: Warehouse,
    *,
    run_id: str,
    max_attachment_bytes: int,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Read inbox files into `raw.claim_emails` (one row per distinct content) and `raw.email_receipts`.

    Files move to `cur/` only after their rows are committed, so a crash re-reads them and
    the content-hash key makes that re-read a no-op.
    """
    res = IngestResult()
    now = utc_naive()
    emails: dict[str, dict] = {}
    receipts, done = [], []
    for item in items:
        res.files += 1
        try:
            raw = inbox.read(item)
            row = _email_row(item, parse_message(raw, max_attachment_bytes=max_attachment_bytes), store, now, run_id, res)
        except MailParseError as err:
            raw = raw if err.reason != "unreadable" else b""
            row = _error_row(item, raw, err, now, run_id)
            res.parse_errors[err.reason] = res.parse_errors.get(err.reason, 0) + 1
        except OSError as err:
            row = _error_row(item, b"", MailParseError("unreadable", type(err).__name__), now, run_id)
            res.parse_errors["unreadable"] = res.parse_errors.get("unreadable", 0) + 1
        emails.setdefault(row["content_hash"], row)
        receipts.append(
            {
                "inbox_key": item.key,
                "content_hash": row["content_hash"],
                "size": item.size,
                "delivered_at": datetime.fromtimestamp(item.mtime, UTC).replace(tzinfo=None),
                "ingested_at": now,
                "duplicate": False,
                "run_id": run_id,
            }
        )
        done.append(item)
        if progress:
            progress(1)
    if not receipts:
        return res
    email_frame = pd.DataFrame(list(emails.values()))
    receipt_frame = pd.DataFrame(receipts)
    with warehouse.transaction() as con:
        known = set(
            con.execute(
                f"select content_hash from {CLAIM_EMAILS} where content_hash in (select unnest(?))",
                [list(emails)],
            ).fetchnumpy()["content_hash"].tolist()
        )
        inserted = warehouse.insert_new(con, CLAIM_EMAILS, email_frame)
        seen: set[str] = set(known)
        flags = []
        for h in receipt_frame["content_hash"]:
            flags.append(h in seen)
            seen.add(h)
        receipt_frame["duplicate"] = flags
        warehouse.upsert(con, EMAIL_RECEIPTS, receipt_frame)
    res.new_messages = inserted
    res.duplicates = int(sum(flags))
    for item in done:
        inbox.mark_processed(item)
    return res


# ------------------------------------------------------------------ stage 2: claim_emails -> claims


@dataclass
class ParseResult:
    messages: int = 0
    new_claims: int = 0
    follow_ups: int = 0
    linked_by_reply: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    first_notices: int = 0
    claim_numbers: list[str] = field(default_factory=list)
    calls: list = field(default_factory=list)
    flagged: int = 0


def _claim_row(
    fields: ClaimFields, email: dict, run_id: str, signals: list[str] = (), *, language: str | None = None,
    disposition: str = "new_claim",
) -> dict:
    return {
        "claim_number": fields.claim_number,
        "policy_number": fields.policy_number,
        "incident_date": fields.incident_date,
        "loss_type": fields.loss_type,
        "estimated_amount": fields.estimated_amount,
        "currency": fields.currency,
        "description": fields.description,
        "contact_email": fields.contact_email,
        "contact_phone": fields.contact_phone,
        "photos": json.dumps(fields.photos),
        "photo_count": len(fields.photos),
        "confidence": json.dumps(fields.confidence, sort_keys=True),
        "provenance": json.dumps(fields.provenance, sort_keys=True),
        "min_confidence": fields.min_confidence,
        "sender": email["sender"],
        "source_content_hash": email["content_hash"],
        "received_at": email["received_at"],
        "last_received_at": email["received_at"],
        "message_count": 1,
        "follow_up_count": 0,
        "extractor_version": EXTRACTOR_VERSION,
        "updated_run_id": run_id,
        "suspicious_signals": json.dumps(sorted({*signals, *value_signals(fields)})),
        "language": language,
        "disposition": disposition,
    }


# Signals raised on a claim's values; any signal sends the claim to a person (routing rule R2).
UNVERIFIED_SENDER = "follow_up_from_unverified_sender"
CONFLICTING_POLICY = "conflicting_policy_number"
CHANGED_AMOUNT = "changed_amount"
NEGATIVE_AMOUNT = "negative_amount"
SEVERAL_POLICIES = "several_policy_numbers"
_CHECKED_FIELDS = [n for n in EXTRACTED_FIELDS if n not in ("photos", "description", "claim_number")]


def value_signals(fields: ClaimFields) -> list[str]:
    """Signals a single mail's values raise by themselves (a negative amount: a refund, a typo or a trick)."""
    amount = fields.estimated_amount
    return [NEGATIVE_AMOUNT] if amount is not None and amount < 0 else []


_NEGATIVE_AMOUNT = re.compile(
    r"(?<![\w/-])[-\u2212\u2013]\s?(?:€\s?)?\d[\d\s.,']*\s?(?:€|eur\b|euros?\b)", re.IGNORECASE
)


def negative_amount_in(text: str) -> bool:
    """A minus-signed amount in the mail ("-5000 EUR"): the field contract keeps amounts >= 0, so the
    sign would be lost; a person reads it instead (a refund, a typo or a trick)."""
    return bool(_NEGATIVE_AMOUNT.search(text or ""))


def policy_numbers_in(text: str, rules: ExtractionRules) -> set[str]:
    """Distinct policy numbers written in a mail (more than one is a conflict a person settles)."""
    return {m.group("digits") for m in rules.policy_re().finditer(text or "")}


def may_amend(sender: str | None, claim: dict, holder_emails: Iterable[str] = (), trusted: Iterable[str] = ()) -> bool:
    """Whether a follow-up from `sender` may change the claim: the original sender, the policy
    holder's known addresses, or a known broker or garage (an address, or `@domain`)."""
    address = (sender or "").strip().lower()
    if not address:
        return False
    known = {(claim.get("sender") or "").strip().lower(), *(h.strip().lower() for h in holder_emails if h)}
    trusted = {t.strip().lower() for t in trusted if t and t.strip()}
    domain = "@" + address.rsplit("@", 1)[-1]
    return address in known or address in trusted or domain in trusted


def follow_up_changes(claim: dict, fields: ClaimFields) -> dict[str, dict]:
    """What a follow-up would change on the claim, field by field: `{field: {"from": old, "to": new}}`."""
    out = {}
    for name in _CHECKED_FIELDS:
        if fields.has(name):
            old, new = claim.get(name), getattr(fields, name)
            if _missing(old) or str(old) != str(new):
                out[name] = {"from": None if _missing(old) else str(old), "to": str(new)}
    photos = [p for p in fields.photos if p not in json.loads(claim["photos"])]
    if photos:
        out["photos"] = {"from": None, "to": photos}
    return out


def merge_follow_up(
    claim: dict, fields: ClaimFields, email: dict, run_id: str, signals: list[str] = (), *, allowed: bool = True
) -> dict:
    """Fold a follow-up mail into its claim: fill missing fields, add photos, keep the first values.

    A value that contradicts the claim (another policy number, a changed amount) is not taken
    and raises a signal; a follow-up from a sender not `allowed` to amend the claim changes no
    field at all (its changes become a note a person accepts) and raises a signal too.
    """
    merged = dict(claim)
    confidence = json.loads(claim["confidence"])
    provenance = json.loads(claim["provenance"])
    signals = [*signals, *value_signals(fields)]
    if not allowed:
        signals.append(UNVERIFIED_SENDER)
        merged.update(
            message_count=int(claim["message_count"]) + 1,
            follow_up_count=int(claim["follow_up_count"]) + 1,
            last_received_at=max(pd.Timestamp(claim["last_received_at"]), pd.Timestamp(email["received_at"])),
            updated_run_id=run_id,
            suspicious_signals=json.dumps(sorted({*json.loads(claim.get("suspicious_signals") or "[]"), *signals})),
        )
        return merged
    for name in _CHECKED_FIELDS:
        if not fields.has(name):
            continue
        if _missing(merged.get(name)):
            merged[name] = getattr(fields, name)
            confidence[name] = fields.confidence.get(name, 0.0)
            provenance[name] = fields.provenance.get(name, "rules")
        elif name == "policy_number" and str(merged[name]) != str(fields.policy_number):
            signals.append(CONFLICTING_POLICY)
        elif name == "estimated_amount" and str(merged[name]) != str(fields.estimated_amount):
            signals.append(CHANGED_AMOUNT)
    photos = json.loads(claim["photos"])
    photos += [p for p in fields.photos if p not in photos]
    if photos:
        confidence.setdefault("photos", 1.0)
        provenance.setdefault("photos", "rules")
    merged.update(
        photos=json.dumps(photos),
        photo_count=len(photos),
        confidence=json.dumps(confidence, sort_keys=True),
        provenance=json.dumps(provenance, sort_keys=True),
        min_confidence=min(confidence.values(), default=1.0),
        last_received_at=max(pd.Timestamp(claim["last_received_at"]), pd.Timestamp(email["received_at"])),
        message_count=int(claim["message_count"]) + 1,
        follow_up_count=int(claim["follow_up_count"]) + 1,
        updated_run_id=run_id,
        suspicious_signals=json.dumps(sorted({*json.loads(claim.get("suspicious_signals") or "[]"), *signals})),
    )
    return merged


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT


Assist = Callable[[ClaimFields, dict], tuple[ClaimFields, object]]
# (content hash, policy number, year) of first notices -> their claim numbers; `floor` per year.
AssignNumbers = Callable[[list[tuple[str, str | None, int]], dict[int, int]], dict[str, str]]
INSTRUCTION_TEXT = "instruction_text"


def parse_pending(
    warehouse: Warehouse,
    *,
    run_id: str,
    rules: ExtractionRules,
    limit: int | None = None,
    assist: Assist | None = None,
    trusted_senders: Iterable[str] = (),
    assign_numbers: AssignNumbers | None = None,
) -> ParseResult:
    """Turn every e-mail row not yet accounted for into a claim, a follow-up, or a quarantine entry.

    Each mail is read by `models.mail_reading.read_stored` and placed by
    `models.disposition.decide_disposition`, the same two steps `claimflow intake parse` prints.
    Not-claims (auto-replies, delivery failures, newsletters) are quarantined `not_a_claim`. A
    first notice of loss (a policy and a loss, no claim number) gets its number from
    `assign_numbers` (the system of record, keyed by the mail's content hash); without it, it
    waits in quarantine as `first_notice_unnumbered`.
    `assist(fields, email)` may improve low-confidence fields (Claude); its call records are kept
    in `ParseResult.calls`. Every message is also screened for text that tries to instruct a model.
    """
    from models.redaction import detect_injection

    res = ParseResult()
    now = utc_naive()
    with warehouse.connect() as con:
        pending = warehouse.pending(
            CLAIM_EMAILS, done=[CLAIM_MESSAGES, QUARANTINED], on=["content_hash"],
            order_by="s.received_at, s.content_hash", limit=limit, con=con,
        )
        if pending.empty:
            return res
        emails = records(pending)
        for email in emails:
            email["body_text"] = open_text(email["body_text"], warehouse.path)
        extracted, signals, readings = {}, {}, {}
        for email in emails:
            if email["parse_error"] is None:
                h = email["content_hash"]
                reading = read_stored(
                    subject=email["subject"], text=email["body_text"], sender=email["sender"],
                    photos=json.loads(email["photos"]), facts=email.get("header_facts"),
                    received_at=email["received_at"], in_reply_to=email["in_reply_to"], rules=rules,
                )
                fields = reading.fields
                if assist is not None and not reading.not_a_claim:
                    fields, call = assist(fields, email)
                    res.calls.append(call)
                    reading = replace(reading, fields=fields)
                readings[h] = reading
                extracted[h] = fields
                finding = detect_injection(
                    email["body_text"], subject=email["subject"], defects=json.loads(email["defects"] or "[]")
                )
                signals[h] = finding.signals if finding.flagged else []
                if len(policy_numbers_in(email["body_text"] or "", rules)) > 1:
                    signals[h] = [*signals[h], SEVERAL_POLICIES]
                if negative_amount_in(email["body_text"] or "") or "negative_amount" in reading.flags:
                    signals[h] = [*signals[h], NEGATIVE_AMOUNT]
                if INSTRUCTION_TEXT in reading.flags:
                    signals[h] = [*signals[h], INSTRUCTION_TEXT]
                res.flagged += bool(finding.flagged)
        wanted = sorted({f.claim_number for f in extracted.values() if f.claim_number})
        claims = {
            r["claim_number"]: r
            for r in records(
                con.execute(f"select * from {PARSED_CLAIMS} where claim_number in (select unnest(?))", [wanted]).df()
            )
        }
        reply_ids = sorted(
            {
                ref
                for e in emails
                for ref in [e["in_reply_to"], *json.loads(e["references"] or "[]")]
                if ref and e["content_hash"] in extracted and not extracted[e["content_hash"]].claim_number
            }
        )
        by_message_id = dict(
            con.execute(
                f"""select e.message_id, m.claim_number from {CLAIM_EMAILS} e
                    join {CLAIM_MESSAGES} m using (content_hash) where e.message_id in (select unnest(?))""",
                [reply_ids],
            ).fetchall()
        )
        holders: dict[str, set[str]] = {}
        for policy, address in con.execute(
            f"select policy_number, holder_email from {POLICIES} where holder_email is not null"
            " and policy_number in (select unnest(?))",
            [sorted({c["policy_number"] for c in claims.values() if c.get("policy_number")})],
        ).fetchall():
            holders.setdefault(policy, set()).add(address)
        links, quarantine, touched, notes, first_notices = [], [], {}, [], []
        for email in emails:
            res.messages += 1
            h = email["content_hash"]
            if email["parse_error"] is not None:
                quarantine.append(_quarantine(email, email["parse_error"], email["parse_error_detail"], now, run_id))
                continue
            fields, reading = extracted[h], readings[h]
            number, linked_by = fields.claim_number, "claim_number"
            linked = None
            if number is None:
                refs = [email["in_reply_to"], *json.loads(email["references"] or "[]")]
                linked = next((by_message_id[r] for r in refs if r in by_message_id), None)
                linked = linked if linked in claims else None
            disposition = decide_disposition(reading, linked_claim=linked)
            if disposition.kind == QUARANTINE:
                quarantine.append(_quarantine(email, disposition.reason, disposition.detail, now, run_id))
                continue
            if disposition.kind == FIRST_NOTICE:
                first_notices.append((email, fields, reading, signals[h]))
                continue
            if number is None:
                number, linked_by = linked, "in_reply_to"
                fields = fields.model_copy(update={"claim_number": number})
                res.linked_by_reply += 1
            if number in claims:
                claim = claims[number]
                allowed = may_amend(email["sender"], claim, holders.get(claim.get("policy_number"), ()),
                                    trusted_senders)
                if not allowed:
                    notes.append({"content_hash": h, "claim_number": number, "sender": email["sender"],
                                  "changes": json.dumps(follow_up_changes(claim, fields), default=str),
                                  "status": "waiting", "noted_at": now, "run_id": run_id})
                claims[number] = merge_follow_up(claim, fields, email, run_id, signals[h], allowed=allowed)
                relation = "follow_up" if allowed else "note"
                res.follow_ups += 1
            else:
                claims[number] = _claim_row(fields, email, run_id, signals[h], language=reading.language,
                                            disposition=disposition.kind)
                relation = "new"
                res.new_claims += 1
            touched[number] = claims[number]
            if email["message_id"]:
                by_message_id[email["message_id"]] = number
            links.append(
                {
                    "content_hash": h,
                    "claim_number": number,
                    "relation": relation,
                    "linked_by": linked_by,
                    "processed_at": now,
                    "extractor_version": EXTRACTOR_VERSION,
                    "run_id": run_id,
                }
            )
        numbers = _number_first_notices(con, first_notices, assign_numbers)
        for email, fields, reading, sigs in first_notices:
            h = email["content_hash"]
            number = numbers.get(h)
            if number is None:
                quarantine.append(_quarantine(email, "first_notice_unnumbered",
                                              "a first notice of loss, and no system of record to number it", now,
                                              run_id))
                continue
            fields = fields.model_copy(update={"claim_number": number})
            if number in claims:  # the same notice read again after a partial run
                continue
            claims[number] = touched[number] = _claim_row(fields, email, run_id, sigs, language=reading.language,
                                                          disposition=FIRST_NOTICE)
            res.new_claims += 1
            res.first_notices += 1
            if email["message_id"]:
                by_message_id[email["message_id"]] = number
            links.append({"content_hash": h, "claim_number": number, "relation": "new", "linked_by": "first_notice",
                          "processed_at": now, "extractor_version": EXTRACTOR_VERSION, "run_id": run_id})
        con.execute("begin")
        if touched:
            frame = pd.DataFrame(list(touched.values()))
            frame["incident_date"] = pd.to_datetime(frame["incident_date"]).dt.date
            # As text, so DuckDB casts into DECIMAL(14,2) instead of guessing a narrower
            # decimal type from the first rows (a 109,257.05 claim broke DECIMAL(7,2)).
            frame["estimated_amount"] = frame["estimated_amount"].map(lambda d: None if _missing(d) else str(d))
            warehouse.upsert(con, PARSED_CLAIMS, frame)
        warehouse.insert_new(con, CLAIM_MESSAGES, pd.DataFrame(links))
        warehouse.insert_new(con, QUARANTINED, pd.DataFrame(quarantine))
        warehouse.insert_new(con, CLAIM_NOTES, pd.DataFrame(notes))
        con.execute("commit")
    for q in quarantine:
        res.quarantined[q["reason"]] = res.quarantined.get(q["reason"], 0) + 1
    res.claim_numbers = sorted(touched)
    return res


def _number_first_notices(con, first_notices: list, assign_numbers: AssignNumbers | None) -> dict[str, str]:
    """Claim numbers for first notices from the system of record, above every serial intake knows."""
    if not first_notices or assign_numbers is None:
        return {}
    years = sorted({(e["received_at"] or datetime.now(UTC)).year for e, *_ in first_notices})
    floor = {}
    for year in years:
        top = con.execute(
            # Portable SQL (DuckDB and PostgreSQL): a serial that is not 1-9 digits is no serial.
            f"""select max(cast(split_part(claim_number, '-', 3) as integer)) from (
                    select claim_number from {PARSED_CLAIMS} union all select claim_number from {CLAIMS_HISTORY}) known
                where claim_number like ? and split_part(claim_number, '-', 3) similar to '[0-9]{{1,9}}'""",
            [f"CLM-{year}-%"],
        ).fetchone()[0]
        floor[year] = int(top or 0)
    requests = [(e["content_hash"], f.policy_number, (e["received_at"] or datetime.now(UTC)).year)
                for e, f, *_ in first_notices]
    return assign_numbers(requests, floor)


def _quarantine(email: dict, reason: str, detail: str | None, now: datetime, run_id: str) -> dict:
    return {
        "content_hash": email["content_hash"],
        "inbox_key": email["inbox_key"],
        "sender": email["sender"],
        "subject": email["subject"],
        "reason": reason,
        "detail": detail,
        "received_at": email["received_at"],
        "quarantined_at": now,
        "extractor_version": EXTRACTOR_VERSION,
        "run_id": run_id,
    }


def store_calls(warehouse: Warehouse, calls: list, run_id: str) -> None:
    """Keep every model call's provenance, usage and cost (cost per claim and audits read them)."""
    now = utc_naive()
    rows = []
    for call in calls:
        d = call.as_dict()
        rows.append({
            "claim_ref": d.get("claim_ref"), "purpose": d.get("purpose"), "provenance": d.get("provenance"),
            "fallback_reason": d.get("fallback_reason"), "model": d.get("model"),
            "cost_usd": float(d.get("cost_usd") or 0), "usage": json.dumps(d.get("usage")),
            "injection_signals": json.dumps(d.get("injection_signals") or []), "called_at": now, "run_id": run_id,
        })
    with warehouse.transaction() as con:
        warehouse.append(con, MODEL_CALLS, pd.DataFrame(rows))
