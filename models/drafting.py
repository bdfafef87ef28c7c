"""Customer status messages: the decided facts as JSON, and a short message Claude (or a template) writes.

The machine-readable payload `{claim_number, status, next_step, expected_time}` comes from
the claim and the triage decision only - never from the model - and travels with the
text in one `StatusDraft`. Claude writes the words from those facts; its text is checked
(claim number present, no other claim number, no amount, link or invented placeholder, and
not written in another language than the claim's when the detector is sure) and the template
stands in when it fails that check, when there is no key, or when the call fails, with
provenance "template" and the reason.

The template and the subject line speak the six languages the mail reader detects (English,
French, German, Spanish, Italian, Dutch): one `Wording` table per language in `WORDING`; a
language without a table gets English.

`decision` keys read (all optional): `status`, `next_step`, `expected_time` (an ISO 8601
duration such as "P3D" is rendered as business days), else derived from `human_review`
/ `needs_review` (review and fraud-review queues: the customer reads "under review", never
why), `route` / `queue` (`fast_track`, `specialist`, `standard`...), `missing_documents`. `claim` keys read:
`claim_number` (required), `language` (ISO 639-1 as stored on the claim; when absent, detected in
`description`; default "en"), `disposition` ("first_notice": the message tells the customer the
new claim number), and the customer's name for the greeting from `contact_name`, `holder_name` or
`customer_name` (redacted before it leaves, restored in the text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from models.claude import CallRecord, ClaudeClient, ClaudeError, ToolSpec
from models.mail_language import detect_language
from models.pricing import TokenUsage
from models.prompts import DRAFT_SYSTEM, DRAFT_TOOL, PROMPT_VERSION, draft_user_content
from models.redaction import PLACEHOLDER_RE, Redactor

__all__ = [
    "DRAFT_TOOL_SPEC",
    "WORDING",
    "DraftJob",
    "DraftOutput",
    "StatusDraft",
    "Wording",
    "accept_draft",
    "check_message",
    "draft_language",
    "draft_status",
    "draft_subject",
    "prepare_draft",
    "render_template",
    "status_payload",
    "template_draft",
    "written_in",
]

DRAFT_MAX_TOKENS = 400
MAX_MESSAGE_CHARS = 1000
DEFAULT_LANGUAGE = "en"
# A model message is refused as written in the wrong language only when the detector is this sure.
LANGUAGE_CHECK_CONFIDENCE = 0.8


@dataclass(frozen=True)
class Wording:
    """Everything the template says in one language. `{when}` in a next step is where the delay goes
    (word order differs: "wird sich innerhalb von 3 Werktagen bei Ihnen melden")."""

    subject: str
    greeting: str
    greeting_anonymous: str
    status_line: str
    first_notice: str
    statuses: Mapping[str, str]
    status_default: str
    next_steps: Mapping[str, str]
    business_day: str
    business_days: str
    closing: str
    signature: str
    zero_is_singular: bool = False  # French: "0 jour ouvré"
    lowercase_after_greeting: bool = False  # German: "Guten Tag,\n\nwir ..."

    def days(self, n: int) -> str:
        singular = n == 1 or (n == 0 and self.zero_is_singular)
        return (self.business_day if singular else self.business_days).format(n=n)


ENGLISH = Wording(
    subject="Claim {number}",
    greeting="Dear {name},",
    greeting_anonymous="Dear customer,",
    status_line="About your claim {number}: {status}.",
    first_notice="We have opened claim {number} for the loss you reported; please quote this number in any reply.",
    statuses={
        "received": "we have received your claim and opened your file",
        "under_review": "a claims handler is reviewing your file",
        "awaiting_documents": "we need a few more documents to continue",
        "expert_assessment": "an expert will assess the damage",
        "specialist": "your file has been given to a specialist claims handler",
        "fast_track": "your claim qualifies for simplified handling",
        "closed": "your file is now closed",
    },
    status_default="your claim is being processed",
    next_steps={
        "assessment": "We will assess your claim{when}",
        "handler_contact": "Your claims handler will contact you{when}",
        "send_documents": "Please reply to this e-mail{when} with the missing documents",
        "expert_visit": "The expert will contact you{when} to arrange a visit",
        "partner_garage": "A partner garage will contact you{when} to book the repair",
        "none": "No action is needed from you{when}",
    },
    business_day="within {n} business day",
    business_days="within {n} business days",
    closing="Kind regards,",
    signature="Claimflow Assurances claims team",
)

FRENCH = Wording(
    subject="Sinistre {number}",
    greeting="Bonjour {name},",
    greeting_anonymous="Bonjour,",
    status_line="Concernant votre dossier {number} : {status}.",
    first_notice=("Nous avons ouvert le dossier {number} suite à votre déclaration ; merci de rappeler ce numéro "
                  "dans vos prochains messages."),
    statuses={
        "received": "nous avons bien reçu votre déclaration et ouvert votre dossier",
        "under_review": "un gestionnaire examine votre dossier",
        "awaiting_documents": "il nous manque quelques documents pour avancer",
        "expert_assessment": "un expert va évaluer les dommages",
        "specialist": "votre dossier a été confié à un gestionnaire spécialisé",
        "fast_track": "votre dossier bénéficie d'un traitement simplifié",
        "closed": "votre dossier est maintenant clos",
    },
    status_default="votre dossier est en cours de traitement",
    next_steps={
        "assessment": "Nous allons étudier votre demande{when}",
        "handler_contact": "Votre gestionnaire vous contactera{when}",
        "send_documents": "Merci de répondre à ce message{when} avec les pièces manquantes",
        "expert_visit": "L'expert vous contactera{when} pour convenir d'un rendez-vous",
        "partner_garage": "Un garage partenaire vous contactera{when} pour planifier la réparation",
        "none": "Aucune démarche n'est nécessaire de votre part{when}",
    },
    business_day="sous {n} jour ouvré",
    business_days="sous {n} jours ouvrés",
    closing="Cordialement,",
    signature="Le service sinistres de Claimflow Assurances",
    zero_is_singular=True,
)

GERMAN = Wording(
    subject="Schadenfall {number}",
    greeting="Guten Tag {name},",
    greeting_anonymous="Guten Tag,",
    status_line="Wir möchten Sie über Ihren Schadenfall {number} informieren: {status}.",
    first_notice=("Wir haben Ihre Meldung als Schadenfall {number} aufgenommen. Bitte geben Sie diese Nummer bei "
                  "allen weiteren Nachrichten an."),
    statuses={
        "received": "Ihre Schadenmeldung ist bei uns eingegangen und wir haben eine Schadenakte angelegt",
        "under_review": "Ihre Schadenakte wird derzeit von unserem Schadenteam geprüft",
        "awaiting_documents": "Um fortfahren zu können, benötigen wir noch einige Unterlagen von Ihnen",
        "expert_assessment": "Ein Sachverständiger wird den Schaden begutachten",
        "specialist": "Ihr Schadenfall wurde einem spezialisierten Sachbearbeiter übertragen",
        "fast_track": "Ihr Schadenfall kann vereinfacht bearbeitet werden",
        "closed": "Ihr Schadenfall ist nun abgeschlossen",
    },
    status_default="Ihr Schadenfall wird bearbeitet",
    next_steps={
        "assessment": "Wir werden Ihren Schadenfall{when} prüfen",
        "handler_contact": "Ihr Sachbearbeiter wird sich{when} bei Ihnen melden",
        "send_documents": "Bitte senden Sie uns die fehlenden Unterlagen{when} als Antwort auf diese E-Mail",
        "expert_visit": "Der Sachverständige wird sich{when} bei Ihnen melden, um einen Termin zu vereinbaren",
        "partner_garage": "Eine Partnerwerkstatt wird sich{when} bei Ihnen melden, um einen Reparaturtermin zu vereinbaren",
        "none": "Sie müssen{when} nichts weiter unternehmen",
    },
    business_day="innerhalb eines Werktages",
    business_days="innerhalb von {n} Werktagen",
    closing="Mit freundlichen Grüßen",
    signature="Ihr Schadenteam der Claimflow Assurances",
    lowercase_after_greeting=True,
)

SPANISH = Wording(
    subject="Siniestro {number}",
    greeting="Estimado/a {name}:",
    greeting_anonymous="Estimado/a cliente:",
    status_line="En relación con su siniestro {number}, le informamos de que {status}.",
    first_notice=("Hemos abierto el siniestro {number} a raíz de su declaración; le rogamos que indique este número "
                  "en todas sus comunicaciones."),
    statuses={
        "received": "hemos recibido su declaración de siniestro y hemos abierto su expediente",
        "under_review": "un tramitador está revisando su expediente",
        "awaiting_documents": "necesitamos algunos documentos más para continuar",
        "expert_assessment": "un perito va a valorar los daños",
        "specialist": "su expediente ha sido asignado a un tramitador especializado",
        "fast_track": "su siniestro se tramitará por un procedimiento simplificado",
        "closed": "su expediente ya está cerrado",
    },
    status_default="su expediente está en trámite",
    next_steps={
        "assessment": "Estudiaremos su solicitud{when}",
        "handler_contact": "Su tramitador se pondrá en contacto con usted{when}",
        "send_documents": "Le rogamos que responda a este correo{when} adjuntando los documentos que faltan",
        "expert_visit": "El perito se pondrá en contacto con usted{when} para concertar una visita",
        "partner_garage": "Un taller concertado se pondrá en contacto con usted{when} para programar la reparación",
        "none": "No es necesario que realice ninguna gestión{when}",
    },
    business_day="en un plazo de {n} día hábil",
    business_days="en un plazo de {n} días hábiles",
    closing="Atentamente,",
    signature="El equipo de siniestros de Claimflow Assurances",
)

ITALIAN = Wording(
    subject="Sinistro {number}",
    greeting="Gentile {name},",
    greeting_anonymous="Gentile cliente,",
    status_line="In merito al suo sinistro {number}, la informiamo che {status}.",
    first_notice=("A seguito della sua denuncia abbiamo aperto il sinistro {number}; la preghiamo di indicare questo "
                  "numero in ogni comunicazione successiva."),
    statuses={
        "received": "abbiamo ricevuto la sua denuncia di sinistro e aperto la relativa pratica",
        "under_review": "un liquidatore sta esaminando la sua pratica",
        "awaiting_documents": "ci servono ancora alcuni documenti per procedere",
        "expert_assessment": "un perito valuterà i danni",
        "specialist": "la sua pratica è stata affidata a un liquidatore specializzato",
        "fast_track": "il suo sinistro può essere gestito con una procedura semplificata",
        "closed": "la sua pratica è ora chiusa",
    },
    status_default="la sua pratica è in lavorazione",
    next_steps={
        "assessment": "Esamineremo la sua richiesta{when}",
        "handler_contact": "Il liquidatore incaricato la contatterà{when}",
        "send_documents": "La preghiamo di rispondere a questa e-mail{when} allegando i documenti mancanti",
        "expert_visit": "Il perito la contatterà{when} per fissare un sopralluogo",
        "partner_garage": "Un'officina convenzionata la contatterà{when} per programmare la riparazione",
        "none": "Non è richiesta alcuna azione da parte sua{when}",
    },
    business_day="entro {n} giorno lavorativo",
    business_days="entro {n} giorni lavorativi",
    closing="Cordiali saluti,",
    signature="Il servizio sinistri di Claimflow Assurances",
)

DUTCH = Wording(
    subject="Schadedossier {number}",
    greeting="Geachte {name},",
    greeting_anonymous="Geachte heer, mevrouw,",
    status_line="Over uw schadedossier {number}: {status}.",
    first_notice=("Naar aanleiding van uw melding hebben wij schadedossier {number} geopend. Wilt u dit nummer "
                  "vermelden in al uw verdere berichten?"),
    statuses={
        "received": "wij hebben uw schademelding ontvangen en een dossier geopend",
        "under_review": "een schadebehandelaar beoordeelt uw dossier",
        "awaiting_documents": "wij hebben nog enkele documenten nodig om verder te kunnen",
        "expert_assessment": "een schade-expert zal de schade beoordelen",
        "specialist": "uw dossier is overgedragen aan een gespecialiseerde schadebehandelaar",
        "fast_track": "uw schade komt in aanmerking voor een vereenvoudigde afhandeling",
        "closed": "uw dossier is nu afgesloten",
    },
    status_default="uw dossier is in behandeling",
    next_steps={
        "assessment": "Wij beoordelen uw schade{when}",
        "handler_contact": "Uw schadebehandelaar neemt{when} contact met u op",
        "send_documents": "Wij verzoeken u de ontbrekende documenten{when} als antwoord op deze e-mail toe te sturen",
        "expert_visit": "De expert neemt{when} contact met u op om een afspraak te maken",
        "partner_garage": "Een partnergarage neemt{when} contact met u op om de reparatie in te plannen",
        "none": "U hoeft verder niets te doen{when}",
    },
    business_day="binnen {n} werkdag",
    business_days="binnen {n} werkdagen",
    closing="Met vriendelijke groet,",
    signature="Het schadeteam van Claimflow Assurances",
)

# One table per language the mail reader detects (models/mail_language.LANGUAGES); anything else is English.
WORDING: Mapping[str, Wording] = {
    "en": ENGLISH, "fr": FRENCH, "de": GERMAN, "es": SPANISH, "it": ITALIAN, "nl": DUTCH,
}  # fmt: skip
DEFAULT_NEXT_STEP = {
    "received": "assessment", "under_review": "handler_contact", "awaiting_documents": "send_documents",
    "expert_assessment": "expert_visit", "specialist": "handler_contact", "fast_track": "partner_garage",
    "closed": "none",
}  # fmt: skip
DEFAULT_EXPECTED_TIME = {
    "received": "P2D", "under_review": "P3D", "awaiting_documents": None, "expert_assessment": "P5D",
    "specialist": "P3D", "fast_track": "P2D", "closed": None,
}  # fmt: skip

_OTHER_CLAIM = re.compile(r"CLM[-\s]?\d{4}[-\s]?\d{1,8}", re.IGNORECASE)
_AMOUNT = re.compile(r"(?:[€$£]\s?\d|\d[\d\s.,]*\s?(?:€|eur\b|euros?\b|usd\b|\$|£|gbp\b))", re.IGNORECASE)
_NEUTRAL = re.compile(r"Claimflow Assurances|CLM[-\s]?\d{4}[-\s]?\d{1,8}", re.IGNORECASE)
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


def _wording(lang: str) -> Wording:
    return WORDING.get(lang, WORDING[DEFAULT_LANGUAGE])


def draft_language(claim: Mapping) -> str:
    """The language the customer is answered in: the claim's own (`language`, "de-CH" reads as "de"), else
    the language detected in its `description`, else English; a language without a template is English."""
    stored = str(claim.get("language") or "").strip().lower()
    if not stored and claim.get("description"):
        stored = detect_language(str(claim["description"]))[0] or ""
    code = stored.replace("_", "-").split("-")[0]
    return code if code in WORDING else DEFAULT_LANGUAGE


def draft_subject(claim_number: str, language: str) -> str:
    """The subject line of the customer message, in its language ("Schadenfall CLM-2026-000123")."""
    return _wording(language).subject.format(number=claim_number)


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
    return _wording(lang).days(int(m.group(1))) if m else str(expected)


def _status_text(status: str, lang: str) -> str:
    wording = _wording(lang)
    return wording.statuses.get(status, wording.status_default)


def _next_step_text(step: str, lang: str, when: str | None = None) -> str:
    steps = _wording(lang).next_steps
    return steps.get(step, steps["assessment"]).format(when=f" {when}" if when else "")


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
    lang = draft_language(claim)
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
        "signature": _wording(lang).signature,
    }
    if claim.get("disposition") == "first_notice":
        facts["first_notice"] = True  # Claude is asked to tell the customer the new number too
    return DraftJob(payload, lang, facts, name, redactor)


def render_template(job: DraftJob) -> str:
    """The deterministic message, in the claim's language."""
    p, wording = job.payload, _wording(job.language)
    when = _expected_text(p["expected_time"], job.language)
    body = (f"{wording.status_line.format(number=p['claim_number'], status=_status_text(p['status'], job.language))} "
            f"{_next_step_text(p['next_step'], job.language, when)}.")
    # A first notice of loss had no number yet: the customer learns it here, and how to use it.
    if job.facts.get("first_notice"):
        body = f"{wording.first_notice.format(number=p['claim_number'])}\n\n{body}"
    if wording.lowercase_after_greeting:
        body = body[0].lower() + body[1:]
    greeting = wording.greeting.format(name=job.customer_name) if job.customer_name else wording.greeting_anonymous
    return f"{greeting}\n\n{body}\n\n{wording.closing}\n{wording.signature}"


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
    if written_in(text) not in (None, job.language):
        return "invalid_draft_language"
    return None


def written_in(text: str) -> str | None:
    """The language a message is written in when the detector is sure, else None (too short or mixed
    to tell). Placeholders, claim numbers and the company's name say nothing about the language."""
    words = _NEUTRAL.sub(" ", PLACEHOLDER_RE.sub(" ", text))
    lang, confidence = detect_language(words)
    return lang if confidence >= LANGUAGE_CHECK_CONFIDENCE else None


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
