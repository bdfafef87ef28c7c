"""The sample inbox's variety since issue 10, read back by the reader the intake flow uses.

Six languages, fields in a PDF claim form or a witness's `.txt` statement, a broker forwarding the
customer's mail as a `message/rfc822` attachment, first notices of loss without a claim number and
delivery failures. The truth says what a correct reader reads; the reader is measured against it
here only where it is known to read the variety (gaps are in bench/extraction.py's generator section).
"""

from __future__ import annotations

import collections
import email
import re
from datetime import UTC, date, datetime

import pytest

from connectors.mail import read_message_file
from connectors.samples.inbox import (
    _WORKER_KEYS,
    PHRASES,
    _Planner,
    _render,
    generate_inbox,
)
from connectors.samples.policies import build_policy_table
from connectors.samples.text import LANGUAGES, RELATIVE_DATES
from models.disposition import decide_disposition
from models.extraction import split_attachments
from models.mail_reading import read_message

SEED = 41  # 240 mails with every language, forms, statements, forwards, reports and bounces
COUNT = 240
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
FIELDS = ("claim_number", "policy_number", "incident_date", "loss_type", "estimated_amount", "currency",
          "contact_email", "contact_phone")


@pytest.fixture(scope="module")
def mails(tmp_path_factory):
    """(truth, raw message, parsed message, reading, disposition) per mail."""
    out = tmp_path_factory.mktemp("variety")
    truth = generate_inbox(COUNT, SEED, out, build_policy_table(), now=NOW)
    rows = []
    for rec in truth:
        raw = email.message_from_bytes((out / rec["file"]).read_bytes())
        msg = read_message_file(out / rec["file"])
        reading = read_message(msg)
        rows.append((rec, raw, msg, reading, decide_disposition(reading)))
    return rows


def _tagged(mails, tag):
    found = [row for row in mails if tag in row[0]["variations"]]
    assert found, f"seed {SEED} has no {tag} mail"
    return found


def test_every_language_writes_claims_and_the_reader_detects_it(mails):
    claims = [row for row in mails if row[0]["kind"] == "new" and "minimal_body" not in row[0]["variations"]]
    by_language = collections.Counter(rec["language"] for rec, *_ in claims)
    assert set(by_language) == set(LANGUAGES) and min(by_language.values()) >= 5, by_language
    for lang in LANGUAGES:
        mine = [(rec, reading) for rec, _, _, reading, _ in claims if rec["language"] == lang]
        detected = sum(reading.language == lang for _, reading in mine)
        assert detected >= 0.9 * len(mine), (lang, detected, len(mine))


def test_claims_in_each_language_read_back_with_their_fields(mails):
    # Known reader gaps keep this below 1.0 (issue 10 report): claim numbers written `2026/123456`
    # after a German, Spanish, Italian or Dutch label, and loss wording beyond English and French.
    for lang in LANGUAGES:
        rows = [(rec, reading) for rec, _, _, reading, _ in mails
                if rec["language"] == lang and rec["expected_quarantine_reason"] != "not_a_claim"]
        right = sum(getattr(reading.fields, f) == _value(rec["expected"][f]) for rec, reading in rows for f in FIELDS)
        assert right >= 0.9 * len(rows) * len(FIELDS), (lang, right, len(rows) * len(FIELDS))


def _value(expected):
    from datetime import date
    from decimal import Decimal

    if isinstance(expected, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", expected):
        return date.fromisoformat(expected)
    if isinstance(expected, str) and re.fullmatch(r"\d+\.\d\d", expected):
        return Decimal(expected)
    return expected


def test_relative_dates_in_every_new_language_count_from_the_date_header(tmp_path):
    # Relative dates are rare (prose, a loss of today or yesterday): plan many mails, render those.
    planner = _Planner(SEED, build_policy_table(), NOW)
    plans = [p for p in planner.plan(2_500) if p["kind"] == "new" and "relative_date" in p["tags"]
             and p["lang"] not in ("en", "fr")]
    assert {p["lang"] for p in plans} == {"de", "es", "it", "nl"}
    for plan in plans:
        words = " ".join(t for block in plan["blocks"] if block[0] == "p" for t in block[1])
        phrases = RELATIVE_DATES[(plan["lang"], 0)] + RELATIVE_DATES[(plan["lang"], 1)]
        assert any(phrase.lower() in words.lower() for phrase in phrases), words
        incident = date.fromisoformat(plan["expected"]["incident_date"])
        assert 0 <= (plan["date"].date() - incident).days <= 1
        written = _render({k: plan[k] for k in _WORKER_KEYS}, str(tmp_path))
        reading = read_message(read_message_file(tmp_path / written["file"]))
        assert reading.fields.incident_date == incident, (plan["lang"], words)


def test_euro_amounts_in_continental_languages_use_a_decimal_comma(mails):
    for rec, _, msg, _, _ in mails:
        if rec["language"] in ("de", "es", "it", "nl") and rec["expected"]["currency"] == "EUR":
            body, _ = split_attachments(msg.text)
            assert not re.search(r"\d,\d{3}\.\d\d|\d\.\d\d(?!\d)\s*(?:€|EUR|Euro|euro)", body), rec["file"]


def test_claim_forms_in_pdf_are_read_from_the_named_attachment(mails):
    for rec, raw, msg, reading, disposition in _tagged(mails, "pdf_form"):
        form = PHRASES[rec["language"]]["form_file"]
        assert [a.filename for a in msg.attachments if a.content_type == "application/pdf"] == [form]
        body, parts = split_attachments(msg.text)
        assert [name for name, _ in parts] == [form]
        expected, fields = rec["expected"], reading.fields
        # The body is a stub: the policy number and the amount are only in the form.
        for name in ("policy_number", "estimated_amount"):
            if expected[name]:
                assert re.sub(r"\D", "", expected[name]) not in re.sub(r"\D", "", body + msg.subject)
        checked = ["policy_number", "incident_date", "estimated_amount", "currency"]
        if "claim:slash" not in rec["variations"]:  # a reader gap with foreign labels, see above
            checked.append("claim_number")
        for name in checked:
            if expected[name] is not None:
                assert getattr(fields, name) == _value(expected[name]), (rec["file"], name)
                assert fields.provenance[name] == f"rules:attachment:{form}", (rec["file"], name)
        if expected["claim_number"] and "claim:slash" not in rec["variations"]:
            assert disposition.kind == "new_claim"


def test_witness_statements_are_text_attachments_that_date_the_loss(mails):
    for rec, raw, msg, reading, _ in _tagged(mails, "witness_statement"):
        name = PHRASES[rec["language"]]["witness_file"]
        [part] = [p for p in raw.walk() if p.get_filename() == name]
        assert part.get_content_type() == "text/plain" and part.get_content_disposition() == "attachment"
        statement = part.get_payload(decode=True).decode("utf-8")
        assert statement.startswith(PHRASES[rec["language"]]["witness"][0])
        assert rec["expected"]["loss_type"] is not None
        if rec["expected"]["incident_date"]:
            assert reading.fields.incident_date.isoformat() == rec["expected"]["incident_date"], rec["file"]
            assert reading.fields.provenance["incident_date"] == f"rules:attachment:{name}"


def test_broker_forwards_attach_the_customers_mail_and_its_photos(mails):
    for rec, raw, msg, reading, disposition in _tagged(mails, "forwarded_rfc822"):
        [attached] = [p for p in raw.walk() if p.get_content_type() == "message/rfc822"]
        inner = attached.get_payload(0)
        images = [p for p in inner.walk() if p.get_content_maintype() == "image"]
        assert len(images) == rec["expected"]["photo_count"] == sum(a.kind == "image" for a in msg.attachments)
        assert rec["expected"]["contact_email"] in inner["From"] and rec["expected"]["contact_email"] not in raw["From"]
        assert reading.fields.contact_email == rec["expected"]["contact_email"], rec["file"]
        if "claim:slash" not in rec["variations"]:
            assert reading.fields.claim_number == rec["expected"]["claim_number"], rec["file"]
            assert disposition.kind == rec["expected_disposition"], rec["file"]


def test_first_notices_of_loss_are_first_notice_in_the_truth_and_for_the_reader(mails):
    reports = _tagged(mails, "report_without_number")
    numbered = [row for row in reports if row[0]["expected"]["policy_number"]]
    assert numbered
    for rec, _, _, reading, disposition in reports:
        assert rec["expected"]["claim_number"] is None and rec["kind"] == "no_claim_number"
        if rec["expected"]["policy_number"]:
            assert (rec["expected_disposition"], rec["expected_quarantine_reason"]) == ("first_notice", None)
            assert disposition.kind == "first_notice", rec["file"]
        else:
            assert rec["expected_quarantine_reason"] == "missing_claim_number"


def test_delivery_failures_are_reports_that_quarantine_as_not_a_claim(mails):
    for rec, raw, msg, _, disposition in _tagged(mails, "delivery_failure"):
        assert raw.get_content_type() == "multipart/report" and raw.get_param("report-type") == "delivery-status"
        types = [p.get_content_type() for p in raw.get_payload()]
        assert types[:2] == ["text/plain", "message/delivery-status"]
        assert types[2] in ("text/rfc822-headers", "message/rfc822")
        assert (rec["expected_disposition"], rec["expected_quarantine_reason"]) == ("quarantine", "not_a_claim")
        assert not any(rec["expected"][f] for f in FIELDS)
        assert (disposition.kind, disposition.reason) == ("quarantine", "not_a_claim"), rec["file"]


def test_a_resent_mail_has_its_originals_content_hash(mails, tmp_path):
    # Regression: a zip archive took its timestamps from the re-sent mail's Date, so the intake
    # counted a duplicate as a new message (seed 11 re-sends a mail with an archive).
    by_file = {rec["file"]: msg for rec, _, msg, _, _ in mails}
    duplicates = [(rec, msg) for rec, _, msg, _, _ in mails if rec["kind"] == "duplicate"]
    assert duplicates
    for rec, msg in duplicates:
        assert msg.content_hash == by_file[rec["duplicate_of"]].content_hash, rec["file"]
    plans = _Planner(11, build_policy_table(), datetime(2026, 9, 15, 12, tzinfo=UTC)).plan(120)
    archived = [p for p in plans if p["kind"] == "duplicate" and "zip_attachment" in p["tags"]]
    assert archived
    for plan in archived:
        original = plans[plan["duplicate_of_index"]]
        hashes = {read_message_file(tmp_path / _render({k: p[k] for k in _WORKER_KEYS}, str(tmp_path))["file"])
                  .content_hash for p in (plan, original)}
        assert len(hashes) == 1
