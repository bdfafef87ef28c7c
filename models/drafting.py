"""Customer status messages: the decided facts as JSON, and a short message Claude (or a template) writes.

The machine-readable payload `{claim_number, status, next_step, expected_time}` comes from
the claim and the triage decision only - never from the model - and travels with the
text in one `StatusDraft`. Claude writes the words from those facts; its text is checked
(claim number present, no other claim number, no amount, link or invented placeholder)
and the template stands in when it fails that check, when there is no key, or when the
call fails, with provenance "template" and the reason.

`decision` keys read (all optional): `status`, `next_step`, `expected_time` (an ISO 8601
duration such as "P3D" is rendered as business days), else derived from `human_review`
/ `needs_review` (review and fraud-review queues: the customer reads "under review", never
why), `route` / `queue` (`fast_track`, `specialist`, `standard`...), `missing_documents`. `claim` keys read:
`claim_number` (required), `language` ("en"/"fr", default "en"), and the customer's name
for the greeting from `contact_name`, `holder_name` or `customer_name` (redacted before
it leaves, restored in the text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from models.claude import CallRecord, ClaudeClient, ClaudeError, ToolSpec
from models.pricing import TokenUsage
from models.prompts import DRAFT_SYSTEM, DRAFT_TOOL, PROMPT_VERSION, draft_user_content
from models.redaction import Redactor

__all__ = [
    "DRAFT_TOOL_SPEC",
    "DraftJob",
    "DraftOutput",
    "StatusDraft",
    "accept_draft",
    "draft_status",
    "prepare_draft",
    "status_payload",
    "template_draft",
]

DRAFT_MAX_TOKENS = 400
MAX_MESSAGE_CHARS = 1000

STATUS_TEXT = {
    "received": {"en": "we have received your claim and opened your file",
                 "fr": "nous avons bien reçu votre déclaration et ouvert votre dossier"},
    "under_review": {"en": "a claims handler is reviewing your file",
                     "fr": "un gestionnaire examine votre dossier"},
    "awaiting_documents": {"en": "we need a few more documents to continue",
                           "fr": "il nous manque quelques documents pour avancer"},
    "expert_assessment": {"en": "an expert will assess the damage",
                          "fr": "un expert va évaluer les dommages"},
    "specialist": {"en": "your file has been given to a specialist claims handler",
                   "fr": "votre dossier a été confié à un gestionnaire spécialisé"},
    "fast_track": {"en": "your claim qualifies for simplified handling",
                   "fr": "votre dossier bénéficie d'un traitement simplifié"},
    "closed": {"en": "your file is now closed", "fr": "votre dossier est maintenant clos"},
}
NEXT_STEP_TEXT = {
    "assessment": {"en": "We will assess your claim", "fr": "Nous allons étudier votre demande"},
    "handler_contact": {"en": "Your claims handler will contact you", "fr": "Votre gestionnaire vous contactera"},
    "send_documents": {"en": "Please reply to this e-mail with the missing documents",
                       "fr": "Merci de répondre à ce message avec les pièces manquantes"},
    "expert_visit": {"en": "The expert will contact you to arrange a visit",
                     "fr": "L'expert vous contactera pour convenir d'un rendez-vous"},
    "partner_garage": {"en": "A partner garage will contact you to book the repair",
                       "fr": "Un garage partenaire vous contactera pour planifier la réparation"},
    "none": {"en": "No action is needed from you", "fr": "Aucune démarche n'est nécessaire de votre part"},
}
DEFAULT_NEXT_STEP = {
    "received": "assessment", "under_review": "handler_contact", "awaiting_documents": "send_documents",
    "expert_assessment": "expert_visit", "specialist": "handler_contact", "fast_track": "partner_garage",
    "closed": "none",
}  # fmt: skip
DEFAULT_EXPECTED_TIME = {
    "received": "P2D", "under_review": "P3D", "awaiting_documents": None, "expert_assessment": "P5D",
    "specialist": "P3D", "fast_track": "P2D", "closed": None,
}  # fmt: skip
SIGNATURE = {"en": "Claimflow Assurances claims team", "fr": "Le service sinistres de Claimflow Assurances"}

_OTHER_CLAIM = re.compile(r"CLM[-\s]?\d{4}[-\s]?\d{1,8}", re.IGNORECASE)
_AMOUNT = re.compile(r"(?:[€$£]\s?\d|\d[\d\s.,]*\s?(?:€|eur\b|euros?\b|usd\b|\$|£|gbp\b))", re.IGNORECASE)
_LINK = re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|fr|net|org|io)\b", re.IGNORECASE)


class DraftOutput(BaseModel):
    """The tool input of `write_status_message`: one message, nothing else."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


DRAFT_TOOL_SPEC = ToolSpec.from_dict(DRAFT_TOOL, DraftOutput)


@dataclass(frozen=True)
class StatusDraft:
    """A customer message and its machine-readable payload, in one record, with provenance and cost."""

    text: str
    payload: dict
    provenance: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    language: str = "en"
    fallback_reason: str | None = None
    record: CallRecord | None = None

    @property
    def cost_usd(self) -> Decimal:
        return self.record.cost_usd if self.record else Decimal(0)

    def as_dict(self) -> dict:
        """JSON-ready row for `status_drafts`."""
        return {
            "text": self.text,
            "payload": dict(self.payload),
            "provenance": self.provenance,
            "language": self.language,
            "fallback_reason": self.fallback_reason,
            "usage": self.usage.as_dict(),
            "cost_usd": str(self.cost_usd),
            "call": self.record.as_dict() if self.record else None,
        }


def _language(claim: Mapping) -> str:
    lang = str(claim.get("language") or "en").lower()
    return "fr" if lang.startswith("fr") else "en"


def _derive_status(decision: Mapping) -> str:
    if decision.get("missing_documents"):
        return "awaiting_documents"
    if decision.get("human_review") or decision.get("needs_review"):
        return "under_review"
    route = f"{decision.get('route') or ''} {decision.get('queue') or ''}".lower()
    if any(w in route for w in ("fast", "express", "straight")):
        return "fast_track"
    if "specialist" in route:
        return "specialist"
    if any(w in route for w in ("expert", "assess")):
        return "expert_assessment"
    return "received"


def status_payload(claim: Mapping, decision: Mapping) -> dict:
    """`{claim_number, status, next_step, expected_time}` from the claim and the decision (never from a model)."""
    claim_number = claim.get("claim_number")
    if not claim_number:
        raise ValueError("a status draft needs the claim's claim_number")
    status = str(decision.get("status") or _derive_status(decision))
    next_step = str(decision.get("next_step") or DEFAULT_NEXT_STEP.get(status, "assessment"))
    expected = decision.get("expected_time", DEFAULT_EXPECTED_TIME.get(status, "P3D"))
    return {"claim_number": str(claim_number), "status": status, "next_step": next_step, "expected_time": expected}


def _expected_text(expected, lang: str) -> str | None:
    if expected is None:
        return None
    m = re.fullmatch(r"P(\d+)D", str(expected))
    if m:
        n = int(m.group(1))
        if lang == "fr":
            return f"sous {n} jour{'s' if n > 1 else ''} ouvré{'s' if n > 1 else ''}"
        return f"within {n} business day{'s' if n > 1 else ''}"
    return str(expected)


def _status_text(status: str, lang: str) -> str:
    return STATUS_TEXT.get(status, {"en": "your claim is being processed", "fr": "votre dossier est en cours de traitement"})[lang]


def _next_step_text(step: str, lang: str) -> str:
    return NEXT_STEP_TEXT.get(step, NEXT_STEP_TEXT["assessment"])[lang]


@dataclass(frozen=True)
class DraftJob:
    """One draft request: payload, language, the facts sent (redacted) and the redactor to restore."""

    payload: dict
    language: str
    facts: dict
    customer_name: str | None
    redactor: Redactor

    def params(self, client: ClaudeClient) -> dict:
        return client.build_params(system=DRAFT_SYSTEM, user_content=draft_user_content(self.facts),
                                   tool=DRAFT_TOOL_SPEC, max_tokens=DRAFT_MAX_TOKENS)


def prepare_draft(claim: Mapping, decision: Mapping) -> DraftJob:
    """Payload and the facts Claude gets: whitelisted keys only, the customer's name as a placeholder."""
    payload = status_payload(claim, decision)
    lang = _language(claim)
    name = claim.get("contact_name") or claim.get("holder_name") or claim.get("customer_name")
    name = str(name).strip() if name else None
    redactor = Redactor(names=[name] if name else [])
    facts = {
        "claim_number": payload["claim_number"],
        "language": lang,
        "customer": redactor.placeholder_for("PERSON", name) if name else None,
        "status": payload["status"],
        "status_text": _status_text(payload["status"], lang),
        "next_step": payload["next_step"],
        "next_step_text": _next_step_text(payload["next_step"], lang),
        "expected_time": _expected_text(payload["expected_time"], lang),
    }
    if claim.get("disposition") == "first_notice":
        facts["first_notice"] = True  # Claude is asked to tell the customer the new number too
    return DraftJob(payload, lang, facts, name, redactor)


def render_template(job: DraftJob) -> str:
    """The deterministic message, in the claim's language."""
    p, lang = job.payload, job.language
    status = _status_text(p["status"], lang)
    step = _next_step_text(p["next_step"], lang)
    when = _expected_text(p["expected_time"], lang)
    # A first notice of loss had no number yet: the customer learns it here, and how to use it.
    opened = job.facts.get("first_notice")
    if lang == "fr":
        greeting = f"Bonjour {job.customer_name}," if job.customer_name else "Bonjour,"
        body = f"Concernant votre dossier {p['claim_number']} : {status}. {step}{f' {when}' if when else ''}."
        if opened:
            body = (f"Nous avons ouvert le dossier {p['claim_number']} suite à votre déclaration ; merci de "
                    f"rappeler ce numéro dans vos prochains messages.\n\n{body}")
        return f"{greeting}\n\n{body}\n\n{SIGNATURE['fr']}"
    greeting = f"Dear {job.customer_name}," if job.customer_name else "Dear customer,"
    body = f"About your claim {p['claim_number']}: {status}. {step}{f' {when}' if when else ''}."
    if opened:
        body = (f"We have opened claim {p['claim_number']} for the loss you reported; please quote this number "
                f"in any reply.\n\n{body}")
    return f"{greeting}\n\n{body}\n\n{SIGNATURE['en']}"


def template_draft(job: DraftJob, *, reason: str | None, **record) -> StatusDraft:
    """The template draft; `record` fields (usage, cost...) keep what a failed call still cost."""
    call = CallRecord(purpose="draft", provenance="template", fallback_reason=reason, prompt_version=PROMPT_VERSION,
                      claim_ref=job.payload["claim_number"], redactions=job.redactor.counts(), **record)
    return StatusDraft(render_template(job), dict(job.payload), "template", call.usage, job.language, reason, call)


def check_message(text: str, job: DraftJob) -> str | None:
    """Why a model-written message (placeholders still in) may not be sent, or None when it may."""
    if not text.strip() or len(text) > MAX_MESSAGE_CHARS:
        return "invalid_draft_length"
    if job.payload["claim_number"] not in text:
        return "invalid_draft_claim_number"
    if any(m.group(0).upper().replace(" ", "-") != job.payload["claim_number"] for m in _OTHER_CLAIM.finditer(text)):
        return "invalid_draft_other_claim"
    if _AMOUNT.search(text):
        return "invalid_draft_amount"
    if _LINK.search(text):
        return "invalid_draft_link"
    if job.redactor.unknown_placeholders(text):
        return "invalid_draft_placeholder"
    return None


def accept_draft(job: DraftJob, output: DraftOutput, **record) -> StatusDraft:
    """Claude's message, restored and checked; the template (with the reason) when the check fails."""
    problem = check_message(output.message, job)
    if problem:
        return template_draft(job, reason=problem, **record)
    call = CallRecord(purpose="draft", provenance="claude", prompt_version=PROMPT_VERSION,
                      claim_ref=job.payload["claim_number"], redactions=job.redactor.counts(), **record)
    text = job.redactor.restore(output.message)
    return StatusDraft(text, dict(job.payload), "claude", call.usage, job.language, None, call)


def draft_status(claim: Mapping, decision: Mapping, client: ClaudeClient | None) -> StatusDraft:
    """A short customer message plus the machine-readable payload; Claude when available, else the template."""
    job = prepare_draft(claim, decision)
    if client is None:
        return template_draft(job, reason="no_api_key")
    try:
        result = client.call_tool(system=DRAFT_SYSTEM, user_content=draft_user_content(job.facts),
                                  tool=DRAFT_TOOL_SPEC, purpose="draft", max_tokens=DRAFT_MAX_TOKENS)
    except ClaudeError as err:
        return template_draft(job, reason=err.reason, model=client.model, usage=err.usage,
                              cost_usd=client.cost(err.usage), called=True, attempts=err.attempts,
                              retry_wait_s=err.retry_wait_s, message_id=err.message_id)
    return accept_draft(job, result.output, model=result.model, usage=result.usage,  # type: ignore[arg-type]
                        cost_usd=client.cost(result.usage), called=True, attempts=result.attempts,
                        retry_wait_s=result.retry_wait_s, latency_s=result.latency_s, message_id=result.message_id)
