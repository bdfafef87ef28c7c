"""Status drafts and extraction help without a server: payloads, templates, checks, merging, prices, schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.assist import (
    EXTRACTION_TOOL_SPEC,
    ExtractionOutput,
    assist_extraction,
    canonical_value,
    merge_fields,
    needs_assist,
    normalize_phone,
)
from models.claude import CallRecord, ClaudeClient, ClaudeConfig, claims_cost
from models.contracts import EXTRACTED_FIELDS, ClaimFields
from models.drafting import (
    DEFAULT_NEXT_STEP,
    DRAFT_TOOL_SPEC,
    WORDING,
    DraftOutput,
    accept_draft,
    check_message,
    draft_status,
    draft_subject,
    prepare_draft,
    render_template,
    status_payload,
)
from models.extraction import extract_fields
from models.mail_language import LANGUAGES, detect_language
from models.pricing import PRICE_TABLE, PriceTable, TokenUsage, call_cost
from models.prompts import (
    DRAFT_TOOL,
    EXTRACTION_TOOL,
    FORBIDDEN_SCHEMA_WORDS,
    schema_property_names,
)

RECEIVED = datetime(2026, 4, 5, 10, 0, tzinfo=UTC)
CLAIM = {"claim_number": "CLM-2026-000123", "language": "en", "holder_name": "Jean Dupont"}


# ------------------------------------------------------------------ payload and template


@pytest.mark.parametrize(
    ("decision", "status", "next_step", "expected"),
    [
        ({}, "received", "assessment", "P2D"),
        ({"human_review": True, "route": "fast_track"}, "under_review", "handler_contact", "P3D"),
        ({"route": "fast_track"}, "fast_track", "partner_garage", "P2D"),
        ({"queue": "expert_assessment"}, "expert_assessment", "expert_visit", "P5D"),
        ({"queue": "specialist", "rule": "R6_specialist"}, "specialist", "handler_contact", "P3D"),
        ({"queue": "fraud_review", "needs_review": True}, "under_review", "handler_contact", "P3D"),
        ({"queue": "standard"}, "received", "assessment", "P2D"),
        ({"missing_documents": ["photos"]}, "awaiting_documents", "send_documents", None),
        ({"status": "closed", "next_step": "none", "expected_time": None}, "closed", "none", None),
    ],
)
def test_the_payload_comes_from_the_decision_never_from_a_model(decision, status, next_step, expected):
    assert status_payload(CLAIM, decision) == {
        "claim_number": "CLM-2026-000123", "status": status, "next_step": next_step, "expected_time": expected,
    }


def test_a_draft_needs_a_claim_number():
    with pytest.raises(ValueError):
        status_payload({"language": "en"}, {})


def test_without_a_key_the_template_drafts_in_english_and_says_so():
    draft = draft_status(CLAIM, {"human_review": True}, None)
    assert draft.provenance == "template" and draft.fallback_reason == "no_api_key"
    assert draft.text.startswith("Dear Jean Dupont,")
    assert "CLM-2026-000123" in draft.text and "within 3 business days" in draft.text
    assert draft.payload["status"] == "under_review"
    assert draft.usage == TokenUsage() and draft.cost_usd == 0
    assert draft.as_dict()["call"]["fallback_reason"] == "no_api_key"


def test_the_template_speaks_french_when_the_claim_does():
    draft = draft_status({**CLAIM, "language": "fr"}, {"route": "expert"}, None)
    assert draft.language == "fr"
    assert draft.text.startswith("Bonjour Jean Dupont,")
    assert "sous 5 jours ouvrés" in draft.text and "Le service sinistres" in draft.text


def test_the_draft_facts_carry_the_name_only_as_a_placeholder():
    job = prepare_draft({**CLAIM, "contact_email": "jean@x.fr", "description": "Jean Dupont, 06 12 34 56 78"}, {})
    assert job.facts["customer"] == "[PERSON_1]"
    assert set(job.facts) == {"claim_number", "language", "customer", "status", "status_text", "next_step",
                              "next_step_text", "expected_time", "signature"}
    assert "Dupont" not in str(job.facts) and "jean@x.fr" not in str(job.facts)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("Dear [PERSON_1], your claim CLM-2026-000123 is being reviewed.", None),
        ("Dear [PERSON_1], your claim is being reviewed.", "invalid_draft_claim_number"),
        ("Claim CLM-2026-000123 and CLM-2026-999999 are approved.", "invalid_draft_other_claim"),
        ("Claim CLM-2026-000123: we will pay 1 200 € next week.", "invalid_draft_amount"),
        ("Claim CLM-2026-000123: see https://evil.example for details.", "invalid_draft_link"),
        ("Dear [PERSON_4], claim CLM-2026-000123 is open.", "invalid_draft_placeholder"),
    ],
)
def test_a_model_message_is_checked_before_it_can_be_sent(message, problem):
    job = prepare_draft(CLAIM, {})
    assert check_message(message, job) == problem
    draft = accept_draft(job, DraftOutput(message=message))
    assert draft.provenance == ("claude" if problem is None else "template")
    assert draft.fallback_reason == problem
    if problem is None:
        assert draft.text.startswith("Dear Jean Dupont,")


# ------------------------------------------------------------------ the claim's language

# Every decision shape the payload test above covers, so each status and next step is rendered.
DECISIONS = [{}, {"human_review": True}, {"route": "fast_track"}, {"queue": "expert_assessment"},
             {"queue": "specialist"}, {"missing_documents": ["photos"]},
             {"status": "closed", "next_step": "none", "expected_time": None}]


def _paragraphs(lang: str, decision: dict, **claim) -> list[str]:
    job = prepare_draft({**CLAIM, "language": lang, **claim}, decision)
    return render_template(job).split("\n\n")


def test_every_language_has_words_for_every_status_and_next_step():
    assert set(WORDING) == set(LANGUAGES)
    for wording in WORDING.values():
        assert set(wording.statuses) == set(DEFAULT_NEXT_STEP)
        assert set(wording.next_steps) == set(DEFAULT_NEXT_STEP.values())
        assert all("{when}" in text for text in wording.next_steps.values())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_template_is_written_in_the_claims_language_for_every_status(lang):
    for decision in DECISIONS:
        draft = draft_status({**CLAIM, "language": lang}, decision, None)
        assert draft.language == lang and draft.provenance == "template"
        assert detect_language(draft.text)[0] == lang, draft.text
        assert draft.text.count("CLM-2026-000123") == 1 and "Jean Dupont" in draft.text.split("\n")[0]
        # the greeting and the signature of the same language, no placeholder left unfilled
        assert WORDING[lang].signature in draft.text and "{" not in draft.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_first_notice_tells_the_customer_the_new_number_in_the_claims_language(lang):
    plain = _paragraphs(lang, {})
    opened = _paragraphs(lang, {}, disposition="first_notice")
    assert len(opened) == len(plain) + 1
    notice = opened[1]  # right after the greeting, before where the claim stands
    assert "CLM-2026-000123" in notice and notice not in plain
    assert detect_language(notice)[0] == lang, notice


@pytest.mark.parametrize(
    ("lang", "one_day", "two_days"),
    [
        ("en", "within 1 business day", "within 2 business days"),
        ("fr", "sous 1 jour ouvré", "sous 2 jours ouvrés"),
        ("de", "innerhalb eines Werktages", "innerhalb von 2 Werktagen"),
        ("es", "en un plazo de 1 día hábil", "en un plazo de 2 días hábiles"),
        ("it", "entro 1 giorno lavorativo", "entro 2 giorni lavorativi"),
        ("nl", "binnen 1 werkdag", "binnen 2 werkdagen"),
    ],
)
def test_business_days_agree_in_number(lang, one_day, two_days):
    one = draft_status({**CLAIM, "language": lang}, {"expected_time": "P1D"}, None).text
    two = draft_status({**CLAIM, "language": lang}, {"expected_time": "P2D"}, None).text
    assert one_day in one and two_days not in one
    assert two_days in two and one_day not in two


def test_german_goes_on_in_lower_case_after_the_greeting_comma():
    assert _paragraphs("de", {})[1].startswith("wir ")
    assert _paragraphs("de", {}, disposition="first_notice")[2].startswith("Wir ")


@pytest.mark.parametrize(
    ("lang", "subject"),
    [("en", "Claim CLM-2026-000123"), ("fr", "Sinistre CLM-2026-000123"), ("de", "Schadenfall CLM-2026-000123"),
     ("es", "Siniestro CLM-2026-000123"), ("it", "Sinistro CLM-2026-000123"),
     ("nl", "Schadedossier CLM-2026-000123")],
)
def test_the_subject_line_is_in_the_claims_language(lang, subject):
    assert draft_subject("CLM-2026-000123", lang) == subject


@pytest.mark.parametrize(
    ("claim", "lang"),
    [
        ({"language": "pt"}, "en"),  # no Portuguese template: English, said in the draft's language
        ({"language": "de-CH"}, "de"),
        ({"language": "NL"}, "nl"),
        ({"language": None, "description": "Gestern ist mir ein Auto in die Seite gefahren, die Tür ist verbeult."},
         "de"),
        ({"language": None, "description": None}, "en"),
        ({"language": "it", "description": "Yesterday a van hit my car in the car park and drove off."}, "it"),
    ],
)
def test_the_draft_language_is_the_stored_one_else_the_detected_one_else_english(claim, lang):
    draft = draft_status({**CLAIM, **claim}, {}, None)
    assert draft.language == lang
    assert detect_language(draft.text)[0] == lang


# What Claude might write for a German claim, in each of the six languages.
CLAUDE_LIKE = {
    "en": "Dear [PERSON_1], your claim CLM-2026-000123 is being reviewed; your claims handler will contact you "
          "within 3 business days. Claimflow Assurances claims team",
    "fr": "Bonjour [PERSON_1], votre dossier CLM-2026-000123 est en cours d'examen ; votre gestionnaire vous "
          "contactera sous 3 jours ouvrés. Le service sinistres de Claimflow Assurances",
    "de": "Guten Tag [PERSON_1], Ihr Schadenfall CLM-2026-000123 wird derzeit geprüft. Ihr Sachbearbeiter meldet "
          "sich innerhalb von 3 Werktagen bei Ihnen. Ihr Schadenteam der Claimflow Assurances",
    "es": "Estimado/a [PERSON_1]: su siniestro CLM-2026-000123 está en revisión y su tramitador se pondrá en "
          "contacto con usted en un plazo de 3 días hábiles. El equipo de siniestros de Claimflow Assurances",
    "it": "Gentile [PERSON_1], il suo sinistro CLM-2026-000123 è in esame; il liquidatore la contatterà entro 3 "
          "giorni lavorativi. Il servizio sinistri di Claimflow Assurances",
    "nl": "Geachte [PERSON_1], uw schadedossier CLM-2026-000123 wordt beoordeeld; uw schadebehandelaar neemt binnen "
          "3 werkdagen contact met u op. Het schadeteam van Claimflow Assurances",
}


@pytest.mark.parametrize("written", LANGUAGES)
def test_a_model_message_in_another_language_than_the_claims_is_replaced_by_the_template(written):
    for lang in LANGUAGES:
        job = prepare_draft({**CLAIM, "language": lang}, {"human_review": True})
        draft = accept_draft(job, DraftOutput(message=CLAUDE_LIKE[written]))
        if written == lang:
            assert draft.provenance == "claude"
            assert draft.text == CLAUDE_LIKE[written].replace("[PERSON_1]", "Jean Dupont")
        else:
            assert (draft.provenance, draft.fallback_reason) == ("template", "invalid_draft_language")
            assert detect_language(draft.text)[0] == lang


def test_a_message_too_short_to_tell_its_language_is_not_refused_for_it():
    job = prepare_draft({**CLAIM, "language": "de"}, {})
    assert check_message("[PERSON_1]: CLM-2026-000123.", job) is None


# ------------------------------------------------------------------ extraction help


def _rules(text: str, subject: str = "Claim") -> ClaimFields:
    return extract_fields(subject=subject, text=text, sender="jean@x.fr", received_at=RECEIVED)


def _output(**values) -> ExtractionOutput:
    base = {f: {"value": None, "confidence": 0.0} for f in ExtractionOutput.model_fields}
    for name, (value, conf) in values.items():
        base[name] = {"value": value, "confidence": conf}
    return ExtractionOutput.model_validate(base)


def test_claude_replaces_a_rule_value_only_where_it_is_more_confident_and_valid():
    # Built by hand: the rule extractor is tuned elsewhere, this is about the merge.
    rules = ClaimFields(
        claim_number="CLM-2026-000123", policy_number="POL-1234567", incident_date=date(2026, 3, 4),
        confidence={"claim_number": 0.99, "policy_number": 0.99, "incident_date": 0.6},
        provenance={"claim_number": "rules", "policy_number": "rules", "incident_date": "rules"},
    )
    merged, supplied = merge_fields(
        rules,
        _output(incident_date=("2026-04-03", 0.95), policy_number=("POL-1234567", 0.5), loss_type=("storm", 0.9)),
        received=RECEIVED.date(), source="claim CLM-2026-000123, policy POL-1234567",
    )
    assert merged.incident_date == date(2026, 4, 3) and merged.provenance["incident_date"] == "claude"
    assert merged.confidence["incident_date"] == 0.95
    assert merged.provenance["policy_number"] == "rules"  # Claude was less sure
    assert merged.loss_type == "storm" and merged.provenance["loss_type"] == "claude"  # the rules had none
    assert supplied == ("incident_date", "loss_type")


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("claim_number", "CLM-2026-000123", "CLM-2026-000123"),
        ("claim_number", "CLM-2026-123", None),  # not canonical
        ("claim_number", "CLM-2026-999999", None),  # not in the mail: made up or asked for
        ("policy_number", "POL-1234567", "POL-1234567"),
        ("policy_number", "POL-0234567", None),
        ("incident_date", "2026-04-06", None),  # after the mail arrived
        ("incident_date", "1999-12-31", None),
        ("incident_date", "04/03/2026", None),
        ("loss_type", "meteor", None),
        ("loss_type", "theft", "theft"),
        ("estimated_amount", "1234.5", Decimal("1234.50")),
        ("estimated_amount", "-3", None),
        ("estimated_amount", "NaN", None),
        ("currency", "eur", None),
        ("currency", "GBP", "GBP"),
        ("contact_phone", "06 12 34 56 78", "+33612345678"),
        ("contact_phone", "+33 (0)6 12 34 56 78", "+33612345678"),
        ("contact_phone", "(212) 555-0147", "+12125550147"),
        ("contact_phone", "[PHONE_3]", None),  # a placeholder no one restored
    ],
)
def test_proposed_values_must_validate(name, raw, expected):
    source = "Claim clm 2026 000123, contract pol 123 4567"
    assert canonical_value(name, raw, received=RECEIVED.date(), source=source) == expected


def test_phone_normalisation_covers_customer_spellings():
    assert normalize_phone("0044 7700 900123") == "+447700900123"
    assert normalize_phone("12") is None


def test_confident_rules_need_no_help_and_a_missing_claim_number_does():
    confident = _rules("Claim CLM-2026-000123, policy POL-1234567, incident 2026-04-01, windscreen cracked.")
    assert not needs_assist(confident, 0.8)
    assert needs_assist(_rules("My windscreen cracked on 2026-04-01."), 0.8)


def test_without_a_key_extraction_help_keeps_the_rules_and_says_why():
    rules = _rules("My windscreen cracked yesterday, call 06 12 34 56 78.")
    fields, record = assist_extraction(rules, "Claim", "My windscreen cracked yesterday", None, received_at=RECEIVED)
    assert fields == rules
    assert record.provenance == "rules" and record.fallback_reason == "no_api_key" and not record.called
    assert set(fields.provenance.values()) == {"rules"}


def test_no_key_in_the_environment_means_no_client(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert ClaudeClient.from_env() is None
    assert ClaudeClient.from_env(environ={"ANTHROPIC_API_KEY": "  "}) is None


def test_config_defaults_to_a_haiku_model_and_reads_overrides_from_the_environment():
    assert ClaudeConfig().model.startswith("claude-haiku")
    cfg = ClaudeConfig.from_env({"CLAIMFLOW_CLAUDE_MODEL": "claude-sonnet-4-5", "CLAIMFLOW_CLAUDE_MAX_RETRIES": "5"})
    assert cfg.model == "claude-sonnet-4-5" and cfg.max_retries == 5


# ------------------------------------------------------------------ schemas: nothing can choose an action


@pytest.mark.parametrize("tool", [EXTRACTION_TOOL, DRAFT_TOOL])
def test_no_tool_schema_has_a_field_that_could_choose_a_route_or_an_action(tool):
    names = schema_property_names(tool["input_schema"])
    assert names
    assert not [n for n in names for w in FORBIDDEN_SCHEMA_WORDS if w in n.lower()]
    assert tool["input_schema"]["additionalProperties"] is False


def test_validated_output_carries_contract_fields_only():
    assert set(ExtractionOutput.model_fields) <= set(EXTRACTED_FIELDS)
    assert set(DraftOutput.model_fields) == {"message"}
    good = {f: {"value": None, "confidence": 0} for f in ExtractionOutput.model_fields}
    for extra in ({"route": "fast_track"}, {"status": "approved"}, {"action": "pay"}):
        with pytest.raises(ValidationError):
            EXTRACTION_TOOL_SPEC.output_model.model_validate({**good, **extra})
        with pytest.raises(ValidationError):
            DRAFT_TOOL_SPEC.output_model.model_validate({"message": "hi", **extra})


# ------------------------------------------------------------------ prices


def test_the_price_table_is_dated_and_sourced():
    assert PRICE_TABLE.as_of.year >= 2026 and "anthropic" in PRICE_TABLE.source.lower()
    haiku = PRICE_TABLE.for_model("claude-haiku-4-5-20251001")
    assert (haiku.input, haiku.output, haiku.cache_write_5m, haiku.cache_read) == (
        Decimal("1.00"), Decimal("5.00"), Decimal("1.25"), Decimal("0.10"))
    with pytest.raises(KeyError):
        PRICE_TABLE.for_model("gpt-4o")


def test_cost_counts_every_token_kind_and_batches_cost_half():
    usage = TokenUsage(input_tokens=1000, output_tokens=200, cache_creation_input_tokens=2000,
                       cache_read_input_tokens=10_000)
    # 1000*1 + 200*5 + 2000*1.25 + 10000*0.10 = 5500 per million
    assert call_cost(usage, "claude-haiku-4-5") == Decimal("0.0055")
    assert call_cost(usage, "claude-haiku-4-5", batch=True) == Decimal("0.00275")


def test_a_price_table_can_come_from_configuration():
    table = PriceTable.from_mapping({"as_of": "2027-01-01", "source": "contract",
                                     "models": {"claude-haiku-4-5": {"input": 0.8, "output": 4, "cache_write_5m": 1,
                                                                     "cache_read": 0.08}}})
    assert call_cost(TokenUsage(input_tokens=1_000_000), "claude-haiku-4-5", table=table) == Decimal("0.8")


def test_costs_add_up_per_claim():
    records = [CallRecord("extraction", "claude", cost_usd=Decimal("0.002"), claim_ref="A"),
               CallRecord("draft", "claude", cost_usd=Decimal("0.001"), claim_ref="A"),
               CallRecord("draft", "template", claim_ref="B")]
    assert claims_cost(records) == {"A": Decimal("0.003"), "B": Decimal(0)}
