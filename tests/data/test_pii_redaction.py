"""What leaves for an LLM carries no names, addresses or contact data: recall on the hand-written corpus.

Regression (issue 12, finding 5): a German name in an RFC 2047-encoded From header and German
and Spanish street addresses reached the Claude API unredacted; a French postcode was left after
[ADDRESS_1]. The corpus (tests/data/pii/corpus.jsonl) holds 51 claim mails in FR/DE/ES/IT/NL/UK/US
with every personal value listed; bench/pii.py compares the same measure with Microsoft Presidio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.pii import as_mail, leaked, load, ours, score  # noqa: E402

GOALS = {"names": 0.99, "addresses": 0.99, "contact": 0.99, "ids": 0.95}


@pytest.fixture(scope="module")
def result():
    return score(load(), ours)


@pytest.mark.parametrize("group", sorted(GOALS))
def test_recall_on_the_multilingual_corpus_meets_the_goal(result, group):
    misses = [m for m in result["misses"] if m["kind"] in {"names": ("name",), "addresses": ("address",),
                                                             "contact": ("email", "phone"),
                                                             "ids": ("iban", "plate", "national_id")}[group]]
    assert result["by_group"][group] >= GOALS[group], misses


def test_the_corpus_covers_every_language_and_kind_it_claims():
    records = load()
    assert {r["lang"] for r in records} == {"fr", "de", "es", "it", "nl", "uk", "us"}
    kinds = {e["kind"] for r in records for e in r["entities"]}
    assert kinds == {"name", "address", "email", "phone", "iban", "plate", "national_id"}
    assert sum("=?" in r["from"] for r in records) >= 20  # names in RFC 2047-encoded headers


def test_a_german_name_from_an_encoded_header_and_a_french_postcode_do_not_leave():
    record = {"id": "x", "from": "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@web.de>", "subject": "Schaden",
              "text": "Guten Tag,\nich wohne Hauptstraße 12, 10115 Berlin; das Auto stand 14 rue des Tanneurs, "
                      "67000 Strasbourg.\nMit freundlichen Grüßen\nJürgen Müller"}
    original, sent = ours(record)
    assert "Müller" not in sent and "Jürgen" not in sent and "67000" not in sent and "10115" not in sent
    assert as_mail(record).startswith(b"From: =?utf-8?q?J=C3=BCrgen")
    for value in ("Hauptstraße 12, 10115 Berlin", "14 rue des Tanneurs, 67000 Strasbourg"):
        assert not leaked({"kind": "address", "value": value}, original, sent)


def test_claim_and_policy_numbers_and_amounts_survive_redaction():
    record = {"id": "y", "from": "Anna Schmidt <anna@example.de>", "subject": "Claim CLM-2026-004512",
              "text": "Policy POL-1234567, damage on 12/03/2026, estimate 1 250,00 EUR.\nAnna Schmidt"}
    _, sent = ours(record)
    for kept in ("CLM-2026-004512", "POL-1234567", "12/03/2026", "1 250,00 EUR"):
        assert kept in sent
