"""The rule extractor against generated mail and its ground truth (a seed neither the bench nor other tests use)."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from connectors.mail import read_message_file
from connectors.samples.inbox import generate_inbox
from connectors.samples.policies import build_policy_table
from models.extraction import extract_fields

pytestmark = pytest.mark.slow

SEED = 8080
COUNT = 300
NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
FIELDS = ("claim_number", "policy_number", "incident_date", "estimated_amount", "loss_type", "currency",
          "contact_email", "contact_phone")
GOALS = {"claim_number": 0.98, "policy_number": 0.98, "incident_date": 0.95, "estimated_amount": 0.95,
         "loss_type": 0.95, "currency": 0.95, "contact_email": 0.95, "contact_phone": 0.95}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    out = tmp_path_factory.mktemp("extraction-samples")
    truth = generate_inbox(COUNT, SEED, out, build_policy_table(), now=NOW, workers=1)
    rows = []
    for rec in truth:
        msg = read_message_file(out / rec["file"])
        got = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address, received_at=msg.date)
        parts = {a.filename for a in msg.attachments if a.filename}
        rows.append((rec, got.model_dump(mode="json"), parts))
    return rows


def _claims(rows):
    return [(rec, got) for rec, got, _ in rows if rec["expected_quarantine_reason"] != "not_a_claim"]


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_meets_its_accuracy_goal_on_claim_mail(extracted, name):
    rows = _claims(extracted)
    right = sum(got[name] == rec["expected"][name] for rec, got in rows)
    assert right / len(rows) >= GOALS[name], f"{name}: {right}/{len(rows)}"


def test_mail_without_a_valid_claim_number_gets_none(extracted):
    # Reports without a number (first notices) and malformed numbers: the system of record numbers them.
    rows = [(rec, got) for rec, got in _claims(extracted) if rec["expected"]["claim_number"] is None]
    assert rows and all(got["claim_number"] is None for _, got in rows)


@pytest.mark.parametrize(
    "tag",
    ["forwarded_broker", "broker_signature_phone", "reply_quoted", "follow_up_quoted", "typos", "relative_date",
     "distractor_amount", "distractor_date", "french", "html_only", "forwarded_rfc822", "pdf_form"],
)
def test_hard_variations_are_read_as_well_as_the_rest(extracted, tag):
    rows = [(rec, got) for rec, got in _claims(extracted) if tag in rec["variations"]]
    if not rows:
        pytest.skip(f"seed {SEED} has no {tag} mail")
    wrong = Counter(name for rec, got in rows for name in FIELDS if got[name] != rec["expected"][name])
    checked = len(rows) * len(FIELDS)
    assert sum(wrong.values()) / checked <= 0.03, dict(wrong)


def test_every_found_field_carries_a_confidence_in_range(extracted):
    for _, got, parts in extracted:
        for name in FIELDS:
            if got[name] is not None:
                assert 0 < got["confidence"][name] <= 1
                # The reader's documented sources: the mail's own words, quoted earlier mail, and an
                # attachment it names (a PDF form, a witness's statement).
                assert got["provenance"][name] in {"rules", "rules:quoted", *(f"rules:attachment:{p}" for p in parts)}
