from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from models.extraction import (
    ExtractionRules,
    extract_fields,
    find_dates,
    parse_number,
    split_regions,
)

RECEIVED = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)


def fields(text: str, subject: str = "Claim", sender: str | None = "jean@example.fr", **kw):
    return extract_fields(subject=subject, text=text, sender=sender, received_at=RECEIVED, **kw)


@pytest.mark.parametrize(
    "written",
    ["CLM-2026-000123", "clm 2026 000123", "CLM2026000123", "Claim no. 2026/000123", "claim #CLM-2026-123"],
)
def test_loosely_written_claim_numbers_become_canonical(written):
    assert fields(f"Hello, about {written}, thanks").claim_number == "CLM-2026-000123"


@pytest.mark.parametrize("written", ["POL-1234567", "POL1234567", "pol 123 4567", "policy number 1234567"])
def test_loosely_written_policy_numbers_become_canonical(written):
    assert fields(f"My contract: {written}.").policy_number == "POL-1234567"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("03/04/2026", date(2026, 4, 3)),  # day first: a French insurer's mail
        ("03.04.2026", date(2026, 4, 3)),
        ("2026-03-04", date(2026, 3, 4)),
        ("4 March 2026", date(2026, 3, 4)),
        ("March 4, 2026", date(2026, 3, 4)),
        ("4 mars 2026", date(2026, 3, 4)),
        ("4th of March", date(2026, 3, 4)),
    ],
)
def test_incident_dates_in_every_common_format(written, expected):
    got = fields(f"The accident happened on {written} in Lyon.").incident_date
    assert got == (expected if expected <= RECEIVED.date() else None)


def test_a_date_after_the_mail_was_received_is_never_the_incident_date():
    got = fields("The accident happened on 25/03/2026, reported now.")
    assert got.incident_date is None


@pytest.mark.parametrize(
    ("written", "amount", "currency"),
    [
        ("EUR 1.234,56", "1234.56", "EUR"),
        ("1 234,56 €", "1234.56", "EUR"),
        ("€1,234.56", "1234.56", "EUR"),
        ("$2,500", "2500.00", "USD"),
        ("USD 2,500.00", "2500.00", "USD"),
        ("2500 EUR", "2500.00", "EUR"),
        ("1.234 euros", "1234.00", "EUR"),
        ("£980", "980.00", "GBP"),
    ],
)
def test_amounts_in_every_common_format(written, amount, currency):
    got = fields(f"The repair estimate is {written}.")
    assert (got.estimated_amount, got.currency) == (Decimal(amount), currency)


def test_an_excess_is_not_taken_for_the_estimated_amount():
    got = fields("My excess is EUR 300.\nThe garage quote for the repair is EUR 2.450,00.")
    assert got.estimated_amount == Decimal("2450.00")


@pytest.mark.parametrize(
    ("text", "loss"),
    [
        ("A stone cracked my windscreen on the motorway.", "auto_glass"),
        ("My car was stolen from the parking lot overnight.", "theft"),
        ("The engine caught fire and the car burned.", "fire"),
        ("The garage was flooded and water entered the car.", "water_damage"),
        ("Hail stones dented the roof during the storm.", "storm"),
        ("I was rear-ended at a red light.", "auto_collision"),
        ("I damaged the parked car of my neighbour, third party claim.", "liability"),
        ("Type of loss: Auto glass\nSome text about a crash.", "auto_glass"),
    ],
)
def test_loss_type_from_natural_wording(text, loss):
    assert fields(text).loss_type == loss


def test_quoted_earlier_mail_does_not_override_the_new_text():
    text = (
        "Hello, here are more photos for CLM-2026-000777.\n\n"
        "On Mon, 2 Mar 2026, Claims Team <claims@insurer.fr> wrote:\n"
        "> We received claim CLM-2025-000001 for policy POL-7654321.\n"
    )
    got = fields(text)
    assert got.claim_number == "CLM-2026-000777"


def test_fields_only_in_quoted_text_are_found_with_lower_confidence():
    text = "Any news?\n\n> Claim CLM-2026-000555, policy POL-1111111\n"
    got = fields(text, subject="Re: my claim")
    assert got.policy_number == "POL-1111111"
    assert got.confidence["policy_number"] < 0.9


def test_a_broker_forward_takes_the_customers_address_as_contact():
    text = (
        "Please handle the claim below for our client.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Zoë Müller <zoe.muller@example.de>\n"
        "Date: Mon, 16 Mar 2026 10:00\n"
        "Subject: accident\n\n"
        "My car was hit on 14/03/2026. Claim CLM-2026-000042, policy POL-2222222.\n"
    )
    got = fields(text, sender="desk@broker.example")
    assert got.contact_email == "zoe.muller@example.de"
    assert got.claim_number == "CLM-2026-000042"
    assert got.incident_date == date(2026, 3, 14)


@pytest.mark.parametrize(
    ("written", "e164"),
    [("06 12 34 56 78", "+33612345678"), ("+33 6 12 34 56 78", "+33612345678"), ("(555) 123-4567", "+15551234567")],
)
def test_phone_numbers_are_normalised_to_e164(written, e164):
    assert fields(f"Call me on {written}.").contact_phone == e164


def test_every_found_field_has_a_confidence_and_rules_provenance():
    got = fields("Claim CLM-2026-000001, policy POL-1234567, crash on 01/03/2026, cost EUR 500.")
    found = [k for k in ("claim_number", "policy_number", "incident_date", "estimated_amount") if got.has(k)]
    assert set(found) <= set(got.confidence) and all(0 < got.confidence[k] <= 1 for k in found)
    assert all(got.provenance[k] == "rules" for k in found)


def test_claim_number_patterns_are_configurable():
    rules = ExtractionRules(claim_number_pattern=r"SIN(?P<year>\d{4})-(?P<seq>\d+)")
    assert fields("Dossier SIN2026-42", rules=rules).claim_number == "CLM-2026-000042"


def test_missing_fields_are_none_not_guesses():
    got = fields("Hello, I would like to report a claim.")
    assert (got.claim_number, got.policy_number, got.incident_date, got.estimated_amount) == (None,) * 4


@pytest.mark.parametrize(
    ("raw", "value"), [("1.234,56", "1234.56"), ("2,500", "2500"), ("1 234,56", "1234.56"), ("12,5", "12.5")]
)
def test_number_separators_are_read_by_position(raw, value):
    assert parse_number(raw, "EUR") == Decimal(value).quantize(Decimal("0.01"))


def test_regions_separate_new_text_from_quotes():
    r = split_regions("new text\n> old text\n> more\n")
    assert "old" not in r.primary and "old text" in r.quoted


def test_find_dates_infers_a_missing_year_from_the_received_date():
    [(_, d, conf, inferred)] = find_dates("on the 2nd of December", date(2026, 3, 20))
    assert d == date(2025, 12, 2) and inferred and conf < 0.9
