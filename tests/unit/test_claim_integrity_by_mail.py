"""Only the policy holder, the original sender or a known broker/garage may change a claim by mail.

Regression (issue 12, finding 3): a mail from another sender quoting a claim number filled
missing fields (amount 48,500, a new phone); with a back-dated `Date:` header the attacker's
values won over the genuine first mail; fifty conflicting policy numbers raised no signal.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from assets.claims.intake import (
    CHANGED_AMOUNT,
    CONFLICTING_POLICY,
    NEGATIVE_AMOUNT,
    SEVERAL_POLICIES,
    UNVERIFIED_SENDER,
    _claim_row,
    follow_up_changes,
    ingest_inbox,
    may_amend,
    merge_follow_up,
    negative_amount_in,
    parse_pending,
)
from connectors.attachments import AttachmentStore
from connectors.inbox import MaildirInbox
from connectors.schema import CLAIM_EMAILS, CLAIM_MESSAGES, CLAIM_NOTES, PARSED_CLAIMS
from connectors.warehouse import Warehouse
from models.contracts import ClaimFields
from models.extraction import ExtractionRules

FIRST = {"sender": "jean.dupont@example.fr", "content_hash": "h1", "received_at": datetime(2026, 3, 1, 10)}


def claim() -> dict:
    fields = ClaimFields(claim_number="CLM-2026-000001", policy_number="POL-1234567", incident_date=date(2026, 2, 27),
                         estimated_amount=Decimal("1200.00"), currency="EUR",
                         confidence={"policy_number": 0.99, "estimated_amount": 0.95},
                         provenance={"policy_number": "rules", "estimated_amount": "rules"})
    return _claim_row(fields, FIRST, "run-1")


def later(**values) -> ClaimFields:
    return ClaimFields(claim_number="CLM-2026-000001", confidence={k: 0.95 for k in values},
                       provenance={k: "rules" for k in values}, **values)


def test_a_stranger_changes_no_field_and_the_claim_goes_to_a_person():
    stranger = {"sender": "mallory@evil.example", "content_hash": "h2", "received_at": datetime(2026, 3, 2)}
    assert not may_amend(stranger["sender"], claim())
    proposed = later(contact_phone="+33600000000", estimated_amount=Decimal("48500.00"))
    merged = merge_follow_up(claim(), proposed, stranger, "run-2", allowed=False)
    assert merged["contact_phone"] is None and merged["estimated_amount"] == Decimal("1200.00")
    assert UNVERIFIED_SENDER in json.loads(merged["suspicious_signals"])
    diff = follow_up_changes(claim(), proposed)
    assert diff["estimated_amount"] == {"from": "1200.00", "to": "48500.00"} and diff["contact_phone"]["from"] is None


def test_the_original_sender_the_holder_and_a_known_broker_may_amend():
    c = claim()
    assert may_amend("Jean.Dupont@example.fr", c)
    assert may_amend("jean@home.example", c, holder_emails=["jean@home.example"])
    assert may_amend("agent@cabinet-martin.fr", c, trusted=["@cabinet-martin.fr"])
    assert not may_amend("agent@cabinet-martin.fr.evil.example", c, trusted=["@cabinet-martin.fr"])
    assert not may_amend(None, c)


def test_a_changed_amount_and_a_conflicting_policy_raise_signals_and_keep_the_first_values():
    email = {**FIRST, "content_hash": "h3", "received_at": datetime(2026, 3, 3)}
    merged = merge_follow_up(claim(), later(policy_number="POL-7654321", estimated_amount=Decimal("5000.00")),
                             email, "run-3")
    assert merged["policy_number"] == "POL-1234567" and merged["estimated_amount"] == Decimal("1200.00")
    assert {CONFLICTING_POLICY, CHANGED_AMOUNT} <= set(json.loads(merged["suspicious_signals"]))


def test_a_minus_signed_amount_in_the_text_is_a_signal():
    assert negative_amount_in("Montant : -5000 EUR") and negative_amount_in("refund of −1 200,50 €")
    assert not negative_amount_in("Claim CLM-2026-000123, 5000 EUR, policy POL-1234567")
    assert not negative_amount_in("on 2026-03-01 12 EUR")


MAIL = """From: {name} <{sender}>
To: claims@insurer.example
Subject: Claim {number}
Date: {date}
Message-ID: <{mid}@example>
Content-Type: text/plain; charset=utf-8

Claim number {number}, policy POL-{policy}.
{body}
"""


def deliver(inbox: MaildirInbox, file: str, delivered: float, **kw) -> None:
    item = inbox.deliver(MAIL.format(**kw).encode(), name=file)
    os.utime(item.path, (delivered, delivered))


def test_a_back_dated_mail_from_a_stranger_neither_wins_nor_amends_and_leaves_a_note(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    inbox = MaildirInbox(tmp_path / "inbox")
    inbox.ensure()
    now = time.time()
    deliver(inbox, "genuine.eml", now - 60, name="Jean Dupont", sender="jean.dupont@example.fr",
            number="CLM-2026-000123", policy="1234567", date="Mon, 02 Mar 2026 10:00:00 +0100", mid="a",
            body="My car was hit in a car park on 27/02/2026.")
    # The attacker's mail arrives later but claims, in its Date: header, to be older.
    deliver(inbox, "attack.eml", now - 30, name="Mallory", sender="mallory@evil.example",
            number="CLM-2026-000123", policy="1234567", date="Mon, 02 Feb 2026 10:00:00 +0100", mid="b",
            body="Estimated amount: 48500 EUR (not -5000 EUR). Call me on +33 6 11 22 33 44.\nAlso policies POL-7654321 and POL-2345678.")
    ingest_inbox(inbox, inbox.list_new(), AttachmentStore(tmp_path / "att"), wh, run_id="r1",
                 max_attachment_bytes=10_000_000)
    received = wh.read(f"select sender, received_at from {CLAIM_EMAILS} order by received_at")
    assert list(received["sender"]) == ["jean.dupont@example.fr", "mallory@evil.example"]  # delivery order

    res = parse_pending(wh, run_id="r1", rules=ExtractionRules())
    assert res.new_claims == 1
    row = wh.read(f"select * from {PARSED_CLAIMS}").iloc[0]
    assert row["sender"] == "jean.dupont@example.fr"
    assert pd.isna(row["estimated_amount"]) and pd.isna(row["contact_phone"])
    signals = set(json.loads(row["suspicious_signals"]))
    assert {UNVERIFIED_SENDER, SEVERAL_POLICIES, NEGATIVE_AMOUNT} <= signals
    notes = wh.read(f"select * from {CLAIM_NOTES}")
    assert list(notes["sender"]) == ["mallory@evil.example"] and "48500" in notes["changes"].iloc[0]
    relations = wh.read(f"select relation from {CLAIM_MESSAGES} order by processed_at")["relation"]
    assert sorted(relations) == ["new", "note"]
