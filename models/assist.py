"""Extraction help: Claude reads the mail again only where the rules were unsure, and never decides.

`assist_extraction` takes the rule extractor's `ClaimFields` and, when some field the
model may propose is below `min_confidence` (or the claim number is missing), asks Claude
to fill a fixed schema of facts from the redacted, delimited mail. Claude's value replaces
a rule value field by field, only where its confidence is higher AND the value validates:
canonical claim/policy numbers that also appear in the mail, a real date not after the
mail arrived, a loss type of the enum, a non-negative amount, an ISO currency, an E.164
phone. Fields it supplied carry provenance "claude"; everything else keeps "rules".

Without a client (no key) or when the call fails, the rule fields stand as they are and
the `CallRecord` says why (`fallback_reason`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field

from models.claude import CallRecord, ClaudeClient, ClaudeError, ToolSpec
from models.contracts import LOSS_TYPES, ClaimFields
from models.pricing import TokenUsage
from models.prompts import (
    ASSIST_FIELDS,
    EXTRACTION_SYSTEM,
    EXTRACTION_TOOL,
    PROMPT_VERSION,
    extraction_user_content,
)
from models.redaction import InjectionFinding, Redactor, detect_injection

__all__ = [
    "EXTRACTION_TOOL_SPEC",
    "AssistJob",
    "ExtractionOutput",
    "FieldGuess",
    "apply_assist",
    "assist_extraction",
    "canonical_value",
    "merge_fields",
    "needs_assist",
    "prepare_assist",
]

PROVENANCE = "claude"
MAX_AMOUNT = Decimal(10000000)


class FieldGuess(BaseModel):
    """One proposed value and the model's confidence in it."""

    model_config = ConfigDict(extra="forbid")

    value: str | None
    confidence: float = Field(ge=0, le=1)


class ExtractionOutput(BaseModel):
    """The tool input of `record_claim_fields`: contract fields only, nothing else is accepted."""

    model_config = ConfigDict(extra="forbid")

    claim_number: FieldGuess
    policy_number: FieldGuess
    incident_date: FieldGuess
    loss_type: FieldGuess
    estimated_amount: FieldGuess
    currency: FieldGuess
    contact_phone: FieldGuess


EXTRACTION_TOOL_SPEC = ToolSpec.from_dict(EXTRACTION_TOOL, ExtractionOutput)


# ------------------------------------------------------------------ validation

_CLAIM = re.compile(r"^CLM-(20\d{2})-(\d{6})$")
_POLICY = re.compile(r"^POL-([1-9]\d{6})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone(raw: str) -> str | None:
    """E.164 from the ways customers write numbers (French national, `+33 (0)6`, `00 33`, US `(212) 555-0147`)."""
    s = raw.strip()
    s = re.sub(r"\(0\)", "", s)
    plus = s.startswith("+")
    digits = re.sub(r"\D", "", s)
    if plus:
        out = "+" + digits
    elif digits.startswith("00"):
        out = "+" + digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        out = "+33" + digits[1:]
    elif len(digits) == 10 and re.fullmatch(r"\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}", s):
        out = "+1" + digits
    else:
        return None
    return out if _E164.match(out) else None


def _grounded_claim(year: str, serial: str, source: str) -> bool:
    return bool(re.search(rf"{year}\D{{0,3}}0*{int(serial)}(?!\d)", source))


def _grounded_policy(digits: str, source: str) -> bool:
    return bool(re.search(rf"(?<!\d){digits[:3]}[ -]?{digits[3:]}(?!\d)", source))


def canonical_value(name: str, raw: str | None, *, received: date | None, source: str):
    """The contract value of a proposed field, or None when it does not validate.

    Claim and policy numbers must also occur in `source` (the mail's own subject and text),
    so a number the model made up, or one an attacker asks for, cannot enter the claim.
    """
    if raw is None:
        return None
    raw = raw.strip()
    if not raw:
        return None
    if name == "claim_number":
        m = _CLAIM.match(raw.upper())
        return m.group(0) if m and _grounded_claim(m.group(1), m.group(2), source) else None
    if name == "policy_number":
        m = _POLICY.match(raw.upper())
        return m.group(0) if m and _grounded_policy(m.group(1), source) else None
    if name == "incident_date":
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            return None
        latest = received or datetime.now(UTC).date()
        return d if date(2000, 1, 1) <= d <= latest else None
    if name == "loss_type":
        return raw if raw in LOSS_TYPES else None
    if name == "estimated_amount":
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
            return None
        return value.quantize(Decimal("0.01"))
    if name == "currency":
        return raw if _CURRENCY.match(raw) else None
    if name == "contact_phone":
        return normalize_phone(raw)
    return None


def needs_assist(fields: ClaimFields, min_confidence: float = 0.8) -> bool:
    """True when a field Claude may propose was found with confidence below the bar, or the claim number is missing."""
    if fields.claim_number is None:
        return True
    return any(fields.has(f) and fields.confidence.get(f, 0.0) < min_confidence for f in ASSIST_FIELDS)


def merge_fields(
    rules: ClaimFields, output: ExtractionOutput, *, received: date | None, source: str
) -> tuple[ClaimFields, tuple[str, ...]]:
    """Rule fields with Claude's values where Claude is more confident and the value validates."""
    data = rules.model_dump()
    confidence = dict(rules.confidence)
    provenance = dict(rules.provenance)
    supplied = []
    for name in ASSIST_FIELDS:
        guess: FieldGuess = getattr(output, name)
        value = canonical_value(name, guess.value, received=received, source=source)
        if value is None:
            continue
        rule_confidence = confidence.get(name, 0.0) if rules.has(name) else 0.0
        if guess.confidence > rule_confidence:
            data[name] = value
            confidence[name] = round(float(guess.confidence), 3)
            provenance[name] = PROVENANCE
            supplied.append(name)
    data["confidence"], data["provenance"] = confidence, provenance
    return ClaimFields.model_validate(data), tuple(supplied)


# ------------------------------------------------------------------ the call


@dataclass(frozen=True)
class AssistJob:
    """One extraction-help request, redacted and ready to send (sync or in a batch)."""

    fields: ClaimFields
    user_content: str
    redactor: Redactor
    received: date | None
    source: str
    injection: InjectionFinding
    claim_ref: str | None


def prepare_assist(
    fields: ClaimFields,
    subject: str,
    text: str,
    *,
    received_at: datetime | date | None = None,
    sender_name: str | None = None,
    known_names: Iterable[str | None] = (),
    known_addresses: Iterable[str | None] = (),
    defects: Iterable[str] = (),
    claim_ref: str | None = None,
) -> AssistJob:
    """Redact the mail (sender, holder and context names; e-mails, phones, addresses...) and build the user turn."""
    received = received_at.date() if isinstance(received_at, datetime) else received_at
    redactor = Redactor(
        names=[sender_name, *known_names],
        emails=[fields.contact_email],
        addresses=known_addresses,
    )
    redacted_text = redactor.redact(text or "")
    redacted_subject = redactor.redact(subject or "")
    return AssistJob(
        fields=fields,
        user_content=extraction_user_content(redacted_subject, redacted_text, received),
        redactor=redactor,
        received=received,
        source=f"{subject or ''}\n{text or ''}",
        injection=detect_injection(text, subject=subject, defects=defects),
        claim_ref=claim_ref or fields.claim_number,
    )


def apply_assist(job: AssistJob, output: ExtractionOutput) -> tuple[ClaimFields, tuple[str, ...]]:
    """Restore placeholders in Claude's values, then merge field by field."""
    restored = ExtractionOutput.model_validate(job.redactor.restore_data(output.model_dump()))
    return merge_fields(job.fields, restored, received=job.received, source=job.source)


def _record(job: AssistJob, **kw) -> CallRecord:
    return CallRecord(
        purpose="extraction",
        prompt_version=PROMPT_VERSION,
        claim_ref=job.claim_ref,
        redactions=job.redactor.counts(),
        injection_signals=tuple(job.injection.signals),
        **kw,
    )


def assist_extraction(
    fields: ClaimFields,
    subject: str,
    text: str,
    client: ClaudeClient | None,
    *,
    min_confidence: float = 0.8,
    received_at: datetime | date | None = None,
    sender_name: str | None = None,
    known_names: Iterable[str | None] = (),
    known_addresses: Iterable[str | None] = (),
    defects: Iterable[str] = (),
    claim_ref: str | None = None,
) -> tuple[ClaimFields, CallRecord]:
    """Rule fields improved by Claude where they were unsure; the record carries provenance, usage and cost.

    `sender_name`, `known_names` (e.g. the policy holder's name) and `known_addresses` are
    redacted wherever they occur, on top of what the heuristics find. `defects` are the mail
    connector's codes (`hidden_html_text` counts as an injection signal). The returned
    record's `injection_signals` is non-empty when the mail tries to instruct the model:
    send such claims to human review, whatever the fields say.
    """
    job = prepare_assist(
        fields, subject, text, received_at=received_at, sender_name=sender_name, known_names=known_names,
        known_addresses=known_addresses, defects=defects, claim_ref=claim_ref,
    )
    if not needs_assist(fields, min_confidence):
        return fields, _record(job, provenance="rules")
    if client is None:
        return fields, _record(job, provenance="rules", fallback_reason="no_api_key")
    try:
        result = client.call_tool(
            system=EXTRACTION_SYSTEM, user_content=job.user_content, tool=EXTRACTION_TOOL_SPEC, purpose="extraction"
        )
    except ClaudeError as err:
        return fields, _record(
            job, provenance="rules", fallback_reason=err.reason, model=client.model, usage=err.usage,
            cost_usd=client.cost(err.usage), called=True, attempts=err.attempts, retry_wait_s=err.retry_wait_s,
            message_id=err.message_id,
        )
    merged, supplied = apply_assist(job, result.output)  # type: ignore[arg-type]
    record = _record(
        job, provenance=PROVENANCE, model=result.model, usage=result.usage, cost_usd=client.cost(result.usage),
        called=True, attempts=result.attempts, retry_wait_s=result.retry_wait_s, latency_s=result.latency_s,
        message_id=result.message_id,
    )
    return merged, replace(record, fields_supplied=supplied)


def assist_extraction_batch(
    jobs: Mapping[str, AssistJob] | Sequence[tuple[str, AssistJob]],
    client: ClaudeClient | None,
    **batch_kwargs,
) -> dict[str, tuple[ClaimFields, CallRecord]]:
    """Many extraction-help requests as one Message Batch (half price, for the daily triage run).

    Keys are batch `custom_id`s (`[A-Za-z0-9_-]{1,64}`, e.g. the mail's content hash prefix).
    Items that error, expire, are canceled or come back unusable keep their rule fields,
    with the reason in the record.
    """
    from models.batches import BatchRequest, run_batch_or_fallback

    items = dict(jobs)
    if client is None:
        return {cid: (job.fields, _record(job, provenance="rules", fallback_reason="no_api_key"))
                for cid, job in items.items()}
    requests = [
        BatchRequest(cid, client.build_params(system=EXTRACTION_SYSTEM, user_content=job.user_content,
                                              tool=EXTRACTION_TOOL_SPEC), EXTRACTION_TOOL_SPEC)
        for cid, job in items.items()
    ]
    outcome = run_batch_or_fallback(client, requests, **batch_kwargs)
    out = {}
    for cid, job in items.items():
        item = outcome[cid]
        common = {
            "model": item.model or client.model, "usage": item.usage, "cost_usd": client.cost(item.usage, batch=True),
            "called": item.sent, "batch": True, "message_id": item.message_id,
        }
        if item.output is None:
            out[cid] = (job.fields, _record(job, provenance="rules", fallback_reason=item.reason, **common))
        else:
            merged, supplied = apply_assist(job, item.output)  # type: ignore[arg-type]
            out[cid] = (merged, replace(_record(job, provenance=PROVENANCE, **common), fields_supplied=supplied))
    return out


def usage_of(records: Iterable[CallRecord]) -> TokenUsage:
    """Total tokens over records."""
    total = TokenUsage()
    for r in records:
        total = total + r.usage
    return total
