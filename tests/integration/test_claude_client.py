"""The Claude client against a local fake of the Anthropic API: what leaves, retries, fallbacks, batches, cost."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fakes import (
    Behaviour,
    FakeAnthropic,
    default_responder,
    leaked,
    malformed_tool,
    overloaded,
    rate_limited,
    refusal,
    seeded_patterns,
    server_error,
    slow,
    text_only,
)
from fakes.injection_corpus import build_corpus

from connectors.mail import parse_message, read_message_file
from connectors.samples.inbox import generate_inbox
from connectors.samples.policies import build_policy_table
from models.assist import assist_extraction, assist_extraction_batch, prepare_assist
from models.batches import BatchConfig, draft_status_batch
from models.claude import ClaudeClient, ClaudeConfig, claims_cost
from models.drafting import draft_status
from models.extraction import extract_fields
from models.prompts import (
    ASSIST_FIELDS,
    DRAFT_SYSTEM,
    EXTRACTION_SYSTEM,
    EXTRACTION_TOOL,
    FORBIDDEN_SCHEMA_WORDS,
    schema_property_names,
)
from models.redaction import detect_injection, person_names_from_display

pytestmark = pytest.mark.integration

RECEIVED = datetime(2026, 4, 5, 10, 0, tzinfo=UTC)
SUBJECT = "Windscreen claim"
TEXT = (
    "Hello,\n\nAbout claim clm 2026 123: my windscreen cracked on the 3rd of April near Lyon.\n"
    "Policy: pol 123 4567. Call me on 06 12 34 56 78 or write to jean.dupont@gmail.com.\n\n"
    "Kind regards,\nJean Dupont"
)
CLAIM = {"claim_number": "CLM-2026-000123", "language": "en", "holder_name": "Jean Dupont"}
FAST_BATCH = BatchConfig(poll_interval_s=0.01, poll_backoff=1.5, max_poll_interval_s=0.05)


@pytest.fixture(scope="module")
def fake():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake):
    fake.reset()


def _client(fake, monkeypatch, **config) -> ClaudeClient:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-real")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    settings = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0, "max_retries": 3, **config}
    client = ClaudeClient.from_env(ClaudeConfig(**settings))
    assert client is not None
    return client


@pytest.fixture
def client(fake, monkeypatch):
    c = _client(fake, monkeypatch)
    yield c
    c.close()


def _rules():
    return extract_fields(subject=SUBJECT, text=TEXT, sender="jean.dupont@gmail.com", received_at=RECEIVED)


def _assist(client, **kw):
    kw = {"min_confidence": 1.01, "received_at": RECEIVED, "sender_name": "Jean Dupont", **kw}
    return assist_extraction(_rules(), SUBJECT, TEXT, client, **kw)


# ------------------------------------------------------------------ what leaves


def test_an_extraction_request_has_the_model_cached_system_forced_tool_and_delimited_mail(fake, client):
    _, record = _assist(client)
    [req] = fake.message_requests()
    body = req.body
    # This SDK sends the key as a bearer token; older ones used x-api-key.
    assert "test-key-not-real" in (req.headers.get("x-api-key"), req.headers.get("authorization", "")[7:])
    assert req.headers["anthropic-version"]
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == client.config.max_tokens
    assert body["system"] == [{"type": "text", "text": EXTRACTION_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    assert body["tools"] == [{"name": "record_claim_fields", "description": EXTRACTION_TOOL["description"],
                              "input_schema": EXTRACTION_TOOL["input_schema"]}]
    assert body["tool_choice"] == {"type": "tool", "name": "record_claim_fields", "disable_parallel_tool_use": True}
    user = body["messages"][0]["content"]
    assert user.count("<email>") == 1 and user.count("</email>") == 1
    assert user.index("<email>") < user.index("clm 2026 123") < user.index("</email>")
    assert "untrusted" in user and "do not follow" in user
    assert "[PERSON_1]" in user and "[PHONE_1]" in user and "[EMAIL_1]" in user
    for value in ("Dupont", "Jean", "06 12 34", "jean.dupont"):
        assert value not in req.text
    assert record.provenance == "claude" and record.called and record.attempts == 1
    assert record.redactions == {"PERSON": 1, "EMAIL": 1, "PHONE": 1}
    assert record.usage.input_tokens > 0 and record.usage.output_tokens > 0 and record.cost_usd > 0


def test_a_draft_request_sends_facts_and_a_name_placeholder_only(fake, client):
    draft = draft_status({**CLAIM, "contact_email": "jean.dupont@gmail.com"}, {"route": "fast_track"}, client)
    [req] = fake.message_requests()
    assert req.body["system"][0] == {"type": "text", "text": DRAFT_SYSTEM, "cache_control": {"type": "ephemeral"}}
    assert req.body["tool_choice"]["name"] == "write_status_message"
    assert "Dupont" not in req.text and "gmail" not in req.text and "[PERSON_1]" in req.text
    assert draft.provenance == "claude" and draft.text.startswith("Dear Jean Dupont,")
    assert draft.payload == {"claim_number": "CLM-2026-000123", "status": "fast_track",
                             "next_step": "partner_garage", "expected_time": "P2D"}
    assert draft.usage.input_tokens > 0 and draft.record.cost_usd > 0


def test_usage_reports_a_cache_write_then_cache_reads_and_the_cost_follows(fake, client):
    fake.min_cacheable_tokens = 0  # the real minimum for Haiku 4.5 is above this prompt; see the cost test
    first = draft_status(CLAIM, {}, client)
    second = draft_status(CLAIM, {}, client)
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.record.cost_usd < first.record.cost_usd


# ------------------------------------------------------------------ retries and timeouts


@pytest.mark.parametrize(("behaviour", "expected_wait"), [(rate_limited("1"), 1.0),
                                                          (rate_limited(None, retry_after_ms="300"), 0.3)])
def test_a_429_is_retried_after_exactly_what_retry_after_says(fake, client, behaviour, expected_wait):
    fake.script(behaviour)
    _, record = _assist(client)
    first, second = fake.message_requests()
    gap = second.at - first.at
    assert expected_wait <= gap < expected_wait + 1.0
    assert record.provenance == "claude" and record.attempts == 2 and record.retry_wait_s == pytest.approx(expected_wait)


def test_500_and_overloaded_529_are_retried_with_backoff(fake, client):
    fake.script(server_error(), overloaded())
    draft = draft_status(CLAIM, {}, client)
    assert draft.provenance == "claude" and draft.record.attempts == 3
    assert 0 < draft.record.retry_wait_s < 0.2


def test_when_retries_run_out_the_rules_and_the_template_stand_in(fake, monkeypatch):
    client = _client(fake, monkeypatch, max_retries=2)
    fake.script(*[overloaded()] * 3, *[rate_limited("0")] * 3)
    fields, record = _assist(client)
    assert fields == _rules()
    assert (record.provenance, record.fallback_reason, record.attempts) == ("rules", "retries_exhausted", 3)
    draft = draft_status(CLAIM, {}, client)
    assert (draft.provenance, draft.fallback_reason) == ("template", "retries_exhausted")
    assert len(fake.message_requests()) == 6


def test_a_retry_after_beyond_the_bound_is_not_waited_for(fake, monkeypatch):
    client = _client(fake, monkeypatch, max_retry_after_s=30)
    fake.script(rate_limited("3600"))
    started = time.monotonic()
    draft = draft_status(CLAIM, {}, client)
    assert time.monotonic() - started < 1.0
    assert (draft.provenance, draft.fallback_reason) == ("template", "retry_after_too_long")


def test_a_slow_answer_times_out_and_the_fallback_says_so(fake, monkeypatch):
    client = _client(fake, monkeypatch, timeout_s=0.3, max_retries=1)
    fake.script(slow(1.5), slow(1.5))
    started = time.monotonic()
    fields, record = _assist(client)
    assert time.monotonic() - started < 1.4
    assert (record.provenance, record.fallback_reason, record.attempts) == ("rules", "timeout", 2)
    assert fields == _rules()


def test_a_request_the_api_rejects_is_not_retried(fake, client):
    fake.script(Behaviour(status=400, body={"type": "error", "error": {"type": "invalid_request_error",
                                                                        "message": "bad"}}))
    draft = draft_status(CLAIM, {}, client)
    assert (draft.provenance, draft.fallback_reason, draft.record.attempts) == ("template", "api_error_400", 1)


# ------------------------------------------------------------------ unusable answers


def test_a_malformed_tool_result_falls_back_with_provenance_and_is_still_billed(fake, client):
    fake.script(malformed_tool())
    fields, record = _assist(client)
    assert fields == _rules() and set(fields.provenance.values()) == {"rules"}
    assert (record.provenance, record.fallback_reason) == ("rules", "malformed_tool_result")
    assert record.usage.output_tokens > 0 and record.cost_usd > 0
    fake.script(malformed_tool({"message": 42}))
    draft = draft_status(CLAIM, {}, client)
    assert (draft.provenance, draft.fallback_reason) == ("template", "malformed_tool_result")


@pytest.mark.parametrize(("behaviour", "reason"), [(refusal(), "refusal"), (text_only(), "no_tool_use")])
def test_a_refusal_or_a_reply_without_the_tool_falls_back(fake, client, behaviour, reason):
    fake.script(behaviour, behaviour)
    fields, record = _assist(client)
    assert fields == _rules() and (record.provenance, record.fallback_reason) == ("rules", reason)
    draft = draft_status({**CLAIM, "language": "fr"}, {}, client)
    assert (draft.provenance, draft.fallback_reason) == ("template", reason)
    assert draft.text.startswith("Bonjour Jean Dupont,")


def test_a_run_without_a_key_uses_the_fallbacks_says_so_and_sends_nothing(fake, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    client = ClaudeClient.from_env()
    assert client is None
    fields, record = _assist(client)
    assert fields == _rules() and (record.provenance, record.fallback_reason) == ("rules", "no_api_key")
    draft = draft_status(CLAIM, {}, client)
    assert (draft.provenance, draft.fallback_reason) == ("template", "no_api_key")
    drafts = draft_status_batch({"CLM-2026-000123": (CLAIM, {})}, client)
    assert drafts["CLM-2026-000123"].fallback_reason == "no_api_key"
    assert fake.requests == []


# ------------------------------------------------------------------ batches


def test_a_batch_maps_results_back_by_custom_id_and_errored_or_expired_items_fall_back(fake, client):
    claims = {
        f"CLM-2026-00010{i}": ({"claim_number": f"CLM-2026-00010{i}", "language": "fr" if i % 2 else "en",
                                "holder_name": f"Client Numero{i}"}, {"route": "fast_track" if i < 3 else "expert"})
        for i in range(6)
    }
    fake.batch_outcomes = {"CLM-2026-000102": "errored", "CLM-2026-000103": "expired"}
    fake.batch_polls_before_end = 3
    drafts = draft_status_batch(claims, client, config=FAST_BATCH)

    [create] = fake.batch_requests()
    sent = create.body["requests"]
    assert [r["custom_id"] for r in sent] == list(claims)
    assert all(r["params"]["system"][0]["cache_control"] == {"type": "ephemeral"} for r in sent)
    assert all(r["params"]["tool_choice"]["name"] == "write_status_message" for r in sent)
    assert "Numero" not in create.text
    polls = [r for r in fake.requests if r.method == "GET" and not r.path.endswith("/results")]
    assert len(polls) == 3 + 1  # the SDK's results() reads the batch once more for its results_url

    assert set(drafts) == set(claims)
    for cid, draft in drafts.items():
        assert draft.payload["claim_number"] == cid and draft.record.batch
        if cid in fake.batch_outcomes:
            assert draft.provenance == "template"
            assert draft.fallback_reason == f"batch_{fake.batch_outcomes[cid]}"
            assert draft.record.cost_usd == 0
        else:
            assert draft.provenance == "claude" and draft.fallback_reason is None
            assert cid in draft.text and f"Numero{cid[-1]}" in draft.text  # its own claim, name restored
            assert draft.record.cost_usd > 0


def test_a_batch_that_does_not_end_in_time_is_canceled_and_falls_back(fake, client):
    fake.batch_never_ends = True
    drafts = draft_status_batch({"CLM-2026-000201": (CLAIM, {}), "CLM-2026-000202": (CLAIM, {})}, client,
                                config=BatchConfig(poll_interval_s=0.01, max_wait_s=0.05, cancel_grace_s=5))
    assert any(r.path.endswith("/cancel") for r in fake.requests)
    assert {(d.provenance, d.fallback_reason) for d in drafts.values()} == {("template", "batch_canceled")}


# ------------------------------------------------------------------ personal data over a generated inbox


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    policies = build_policy_table()
    out = tmp_path_factory.mktemp("inbox")
    records = generate_inbox(120, 424242, out, policies, now=datetime(2026, 5, 1, tzinfo=UTC))
    return [(rec, read_message_file(out / rec["file"])) for rec in records], policies.set_index("policy_number")


def _iban(n: int) -> str:
    bban = f"{30006000 + n:08d}{n:015d}"
    check = 98 - int(bban + "152700") % 97  # "FR00" as digits
    raw = f"FR{check:02d}{bban}"
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _card(n: int) -> str:
    from models.redaction import luhn_valid

    stem = f"497010{n:09d}"
    digits = next(stem + str(d) for d in range(10) if luhn_valid(stem + str(d)))
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4))


def _confident_phone(body: dict) -> dict:
    out = default_responder(body)
    if "contact_phone" in out and out["contact_phone"]["value"]:
        out["contact_phone"]["confidence"] = 0.99
    return out


def test_no_seeded_personal_value_leaves_in_any_request_and_values_are_restored(fake, client, inbox, caplog):
    """120 generated mails (+ IBAN, card and holder address in a third of them) through extraction and drafts."""
    # Our loggers and the SDK's (which logs request bodies at DEBUG): what they write must be clean too.
    caplog.set_level(logging.DEBUG, logger="models")
    caplog.set_level(logging.DEBUG, logger="anthropic")
    fake.responder = _confident_phone
    mails, holders = inbox
    all_seeds, restored_phones, drafted = [], 0, 0
    for i, (rec, msg) in enumerate(mails):
        exp = rec["expected"]
        rules = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address, received_at=msg.date)
        holder = holders.loc[rules.policy_number] if rules.policy_number in holders.index else None
        truth = holders.loc[exp["policy_number"]] if exp.get("policy_number") in holders.index else None
        text, extras = msg.text, []
        if i % 3 == 0 and truth is not None:
            extras = [_iban(i), _card(i)]
            text += (f"\n\nMon IBAN : {extras[0]}. Carte : {extras[1]}.\nJ'habite au {truth.holder_address}.")
        seeds = seeded_patterns(
            names=person_names_from_display(msg.sender_name) + ([truth.holder_name] if truth is not None else []),
            emails=[msg.sender_address, exp.get("contact_email")] + ([truth.holder_email] if truth is not None else []),
            phones=[exp.get("contact_phone")] + ([truth.holder_phone] if truth is not None else []),
            addresses=[truth.holder_address] if truth is not None else [],
            literals=extras,
        )
        all_seeds += [v.lower() for v in [msg.sender_address, exp.get("contact_email"), *extras] if v]
        before, logged = len(fake.requests), len(caplog.records)
        fields, record = assist_extraction(
            rules, msg.subject, text, client, min_confidence=1.01, received_at=msg.date,
            sender_name=msg.sender_name, known_names=[holder.holder_name] if holder is not None else [],
            known_addresses=[holder.holder_address] if holder is not None else [], defects=msg.defects,
        )
        assert record.provenance == "claude", rec["file"]
        if fields.claim_number:
            name = holder.holder_name if holder is not None else (person_names_from_display(msg.sender_name) or [None])[0]
            draft = draft_status({"claim_number": fields.claim_number, "language": rec["language"],
                                  "holder_name": name}, {}, client)
            assert draft.provenance == "claude", rec["file"]
            if name:
                assert name in draft.text
                drafted += 1
        for req in fake.requests[before:]:
            assert leaked(req.text, seeds) == [], rec["file"]
        assert leaked("\n".join(r.getMessage() for r in caplog.records[logged:]), seeds) == [], rec["file"]
        simple = not {"forwarded_broker", "reply_quoted"} & set(rec["variations"])
        if simple and fields.provenance.get("contact_phone") == "claude" and exp.get("contact_phone"):
            assert fields.contact_phone == exp["contact_phone"], rec["file"]
            restored_phones += 1
    # No mail's address, IBAN or card number in any other mail's request either.
    assert not [r.path for r in fake.requests if any(v in r.text.lower() for v in set(all_seeds))]
    assert restored_phones >= 25 and drafted >= 70


def test_no_clean_generated_mail_is_flagged_as_an_injection(inbox):
    mails, _ = inbox
    flagged = [rec["file"] for rec, msg in mails
               if detect_injection(msg.text, subject=msg.subject, defects=msg.defects).flagged]
    assert flagged == []


# ------------------------------------------------------------------ injection: same facts, nothing decided


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


def _facts(fields):
    return {f: getattr(fields, f) for f in ASSIST_FIELDS}


def test_an_injected_mail_yields_the_same_fields_as_its_clean_twin_and_is_flagged(fake, client, corpus):
    for case in corpus:
        results = {}
        for kind, raw in (("clean", case.clean), ("injected", case.injected)):
            msg = parse_message(raw)
            rules = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address,
                                   received_at=msg.date)
            before = len(fake.requests)
            fields, record = assist_extraction(rules, msg.subject, msg.text, client, min_confidence=1.01,
                                               received_at=msg.date, sender_name=msg.sender_name,
                                               defects=msg.defects)
            [req] = fake.requests[before:]
            user = req.body["messages"][0]["content"]
            assert user.count("<email>") == 1 and user.count("</email>") == 1, case.case_id
            names = schema_property_names(req.body["tools"][0]["input_schema"])
            assert not [n for n in names for w in FORBIDDEN_SCHEMA_WORDS if w in n], case.case_id
            results[kind] = (fields, record)
        (clean, clean_rec), (injected, injected_rec) = results["clean"], results["injected"]
        assert injected_rec.provenance == clean_rec.provenance == "claude", case.case_id
        assert _facts(injected) == _facts(clean), case.case_id
        assert injected.claim_number == case.facts["claim_number"], case.case_id
        assert injected_rec.injection_signals and not clean_rec.injection_signals, case.case_id


def test_an_answer_that_tries_to_set_a_route_or_status_is_rejected_whole(fake, client, corpus):
    case = next(c for c in corpus if c.family == "mark_approved")
    msg = parse_message(case.injected)
    rules = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address, received_at=msg.date)
    job = prepare_assist(rules, msg.subject, msg.text, received_at=msg.date)
    scripted = default_responder({"tool_choice": {"name": "record_claim_fields"},
                                  "messages": [{"role": "user", "content": job.user_content}]})
    fake.script(Behaviour(tool_input={**scripted, "route": "fast_track", "status": "approved"}))
    fields, record = assist_extraction(rules, msg.subject, msg.text, client, min_confidence=1.01,
                                       received_at=msg.date)
    assert (record.provenance, record.fallback_reason) == ("rules", "malformed_tool_result")
    assert fields == rules
    assert "approval_request" in record.injection_signals


# ------------------------------------------------------------------ cost per claim


def test_cost_per_claim_stays_under_budget_and_the_batch_path_costs_about_half(fake, client, inbox, capsys):
    """Realistic token counts through the fake (no prompt caching: our prefix is below Haiku 4.5's 4,096 minimum)."""
    mails, _ = inbox
    sample = [(rec, msg) for rec, msg in mails if rec["kind"] == "new"][:30]
    assert len(sample) == 30
    sync_records, jobs, drafts_in = [], {}, {}
    for n, (rec, msg) in enumerate(sample):
        cid = f"c{n:03d}"
        rules = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address, received_at=msg.date)
        fields, record = assist_extraction(rules, msg.subject, msg.text, client, min_confidence=1.01,
                                           received_at=msg.date, sender_name=msg.sender_name, claim_ref=cid)
        claim = {"claim_number": fields.claim_number or "CLM-2026-000001", "language": rec["language"],
                 "holder_name": (person_names_from_display(msg.sender_name) or [None])[0]}
        draft = draft_status(claim, {"route": "fast_track"}, client)
        sync_records += [record, draft.record.with_claim(cid)]
        jobs[cid] = prepare_assist(rules, msg.subject, msg.text, received_at=msg.date,
                                   sender_name=msg.sender_name, claim_ref=cid)
        drafts_in[cid] = (claim, {"route": "fast_track"})
    assert all(r.provenance == "claude" and not r.batch for r in sync_records)

    extracted = assist_extraction_batch(jobs, client, config=FAST_BATCH)
    drafted = draft_status_batch(drafts_in, client, config=FAST_BATCH)
    batch_records = [extracted[cid][1] for cid in jobs] + [drafted[cid].record.with_claim(cid) for cid in jobs]
    assert all(r.provenance == "claude" and r.batch for r in batch_records)

    sync_per_claim = claims_cost(sync_records)
    batch_per_claim = claims_cost(batch_records)
    sync_total, batch_total = sum(sync_per_claim.values()), sum(batch_per_claim.values())
    sync_avg, batch_avg = sync_total / len(jobs), batch_total / len(jobs)
    ratio = batch_total / sync_total
    tokens = {k: sum(getattr(r.usage, k) for r in sync_records) // len(jobs)
              for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
    with capsys.disabled():
        print(f"\n[cost] per claim sync avg ${sync_avg:.6f} max ${max(sync_per_claim.values()):.6f}; "
              f"batch avg ${batch_avg:.6f}; ratio {ratio:.3f}; tokens per claim {json.dumps(tokens)}")
    assert max(sync_per_claim.values()) <= Decimal("0.006")
    assert ratio <= Decimal("0.55")
