"""Reading real claim mail (issue 10): the hand-written corpus, dispositions, attachments, first notices."""

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.extraction import MAIN_FIELDS, expected_of, score
from connectors.mail import parse_message, read_message_file
from connectors.system_of_record import assign_claim_numbers
from models.disposition import decide_disposition
from models.mail_reading import header_facts, read_message, read_stored
from orchestration.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "data" / "mail" / "labelled"
SPLIT = json.loads((CORPUS / "split.json").read_text())["split"]
LANGUAGES = ("en", "fr", "de", "es", "it", "nl")


def _label(name: str) -> dict:
    return json.loads((CORPUS / name).with_suffix(".json").read_text())


def _read(name: str) -> dict:
    reading = read_message(read_message_file(CORPUS / name))
    got = reading.fields.model_dump(mode="json")
    disposition = decide_disposition(reading)
    got.update(language=reading.language, disposition=disposition.kind, reason=disposition.reason)
    return got


@pytest.fixture(scope="module")
def results():
    return {name: _read(name) for name in SPLIT}


# ------------------------------------------------------------------ the corpus itself


def test_the_corpus_has_twelve_labelled_mails_or_more_per_language_split_in_halves():
    mails = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert len(mails) >= 84 and set(mails) == set(SPLIT)
    per_language = Counter(_label(m)["language"] for m in mails)
    assert set(per_language) == set(LANGUAGES) and min(per_language.values()) >= 12
    for lang in LANGUAGES:
        parts = Counter(SPLIT[m] for m in mails if _label(m)["language"] == lang)
        assert abs(parts["heldout"] - parts["tune"]) <= 1
    # The split is the hash rule written in split.json, so nobody moved a mail after tuning.
    for lang in LANGUAGES:
        mine = sorted((m for m in mails if m[:2] == lang), key=lambda m: hashlib.sha256(m.encode()).hexdigest())
        assert {SPLIT[m] for m in mine[: len(mine) // 2]} == {"heldout"}


def test_every_label_is_well_formed_and_every_disposition_and_case_is_covered():
    labels = [_label(m) for m in SPLIT]
    for lab in labels:
        assert lab["disposition"] in ("new_claim", "follow_up", "first_notice", "quarantine")
        assert (lab["disposition"] == "quarantine") == (lab["reason"] is not None)
        assert lab["policy_number"] is None or (lab["policy_number"].startswith("POL-") and len(lab["policy_number"]) == 11)
    kinds = Counter(lab["disposition"] for lab in labels)
    assert min(kinds.values()) >= 6 and kinds["quarantine"] >= 12


# ------------------------------------------------------------------ the reader on it


def _accuracy(results, part: str) -> dict[str, float]:
    marks = [score(results[m], expected_of(_label(m))) for m in SPLIT if SPLIT[m] == part]
    return {f: sum(m[f] for m in marks) / len(marks) for f in MAIN_FIELDS + ["language", "disposition"]}


def test_on_the_tuning_half_every_field_is_right_95_percent_of_the_time(results):
    acc = _accuracy(results, "tune")
    assert all(v >= 0.95 for v in acc.values()), acc


def test_on_the_held_back_half_fields_stay_above_the_measured_floor(results):
    # Regression floor, not the goal: bench/extraction.py reports the held-back figures
    # (0.90-1.00 per field when this was written); the goal is 0.95.
    acc = _accuracy(results, "heldout")
    assert all(v >= 0.88 for v in acc.values()), acc


@pytest.mark.parametrize("part", ["tune", "heldout"])
def test_fields_reported_at_confidence_080_or_more_are_right_98_percent_of_the_time(results, part):
    right = total = 0
    for m in (m for m in SPLIT if SPLIT[m] == part):
        got, exp = results[m], expected_of(_label(m))
        marks = score(got, exp)
        if got["reason"] == "not_a_claim":
            continue
        for f in MAIN_FIELDS:
            if got[f] is not None and got["confidence"].get(f, 0) >= 0.8:
                total += 1
                right += marks[f]
    assert total >= 100 and right / total >= 0.98, (right, total)


def test_every_newsletter_auto_reply_and_bounce_is_quarantined_as_not_a_claim(results):
    not_claims = [m for m in SPLIT if _label(m)["reason"] == "not_a_claim"]
    assert len(not_claims) >= 12
    assert {(results[m]["disposition"], results[m]["reason"]) for m in not_claims} == {("quarantine", "not_a_claim")}


def test_the_cli_and_the_intake_assets_read_every_mail_the_same_way():
    # The assets read the stored row (text, sender, header facts as JSON); the CLI the parsed
    # message. Same reading, same disposition, for every mail of the corpus.
    for name in SPLIT:
        msg = read_message_file(CORPUS / name)
        direct = read_message(msg)
        stored = read_stored(subject=msg.subject, text=msg.text, sender=msg.sender_address,
                             photos=[], facts=json.dumps(header_facts(msg)), received_at=datetime.now(UTC))
        assert direct == stored, name
        assert decide_disposition(direct) == decide_disposition(stored)


# ------------------------------------------------------------------ where the fields live


def test_a_pdf_only_claim_is_read_from_the_pdf_with_provenance_naming_it(capsys):
    code = main(["intake", "parse", str(CORPUS / "fr_07_formulaire_pdf.eml")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["disposition"] == "first_notice" and out["language"] == "fr"
    assert out["policy_number"] == _label("fr_07_formulaire_pdf.eml")["policy_number"]
    assert out["provenance"]["policy_number"] == "rules:attachment:declaration_sinistre.pdf"
    assert out["provenance"]["incident_date"] == "rules:attachment:declaration_sinistre.pdf"


def test_the_cli_says_why_a_not_claim_is_quarantined(capsys):
    code = main(["intake", "parse", str(CORPUS / "en_10_out_of_office.eml")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and (out["disposition"], out["reason"], out["language"]) == ("quarantine", "not_a_claim", "en")


def test_attachment_text_leaves_the_content_hash_as_it_was():
    raw = (CORPUS / "en_05_witness_txt.eml").read_bytes()
    msg = parse_message(raw)
    assert "---------- Attachment: witness_statement.txt ----------" in msg.text
    assert "17 October 2026" in msg.text.split("Attachment:")[1]
    stripped = raw.replace(b"On Saturday 17 October", b"On Sunday 18 October")
    assert parse_message(stripped).content_hash != msg.content_hash  # attachments count, by their sha256


def test_a_stub_plain_part_gives_way_to_the_html_table():
    msg = read_message_file(CORPUS / "de_09_brand_html.eml")
    assert msg.html_only and "plain_part_stub" in msg.defects and "Schadennummer CLM-2026-005871" in msg.text


def test_header_signals_and_the_writers_utc_offset_are_kept():
    bounce = read_message_file(CORPUS / "en_11_bounce.eml")
    assert {"auto_replied", "delivery_report"} <= set(bounce.signals)
    assert read_message_file(CORPUS / "es_14_argentina_usd.eml").utc_offset_minutes == -180


def test_a_value_only_inside_instruction_text_is_never_chosen():
    for name in ("en_06_injection_portal.eml", "fr_04_injection.eml", "es_06_inyeccion.eml",
                 "en_14_hidden_html_injection.eml"):
        reading = read_message(read_message_file(CORPUS / name))
        assert reading.fields.policy_number == _label(name)["policy_number"], name
        assert "instruction_text" in reading.flags, name


def test_a_credit_note_keeps_no_amount_and_is_flagged():
    reading = read_message(read_message_file(CORPUS / "de_14_negativ_gutschrift.eml"))
    assert reading.fields.estimated_amount is None and "negative_amount" in reading.flags


# ------------------------------------------------------------------ first notices of loss


def test_a_first_notice_gets_the_next_number_once_per_mail(tmp_path):
    url = f"sqlite:///{tmp_path / 'sor.db'}"
    first = assign_claim_numbers(url, [("h1", "POL-1234567", 2026), ("h2", None, 2026)], floor={2026: 41})
    assert first == {"h1": "CLM-2026-000042", "h2": "CLM-2026-000043"}
    again = assign_claim_numbers(url, [("h2", None, 2026), ("h3", None, 2026), ("h1", None, 2026)])
    assert again == {"h2": "CLM-2026-000043", "h3": "CLM-2026-000044", "h1": "CLM-2026-000042"}
    assert assign_claim_numbers(url, [("h4", None, 2027)], floor={2027: 0}) == {"h4": "CLM-2027-000001"}


def test_dispositions_follow_the_one_rule():
    def disp(name):
        return decide_disposition(read_message(read_message_file(CORPUS / name))).kind

    assert disp("fr_01_degat_des_eaux_ttc.eml") == "first_notice"  # policy + loss, no number
    assert disp("de_07_outlook_von_gesendet.eml") == "follow_up"  # AW: with a claim number
    assert disp("es_05_taller_iva.eml") == "new_claim"  # a number, not a reply


@pytest.mark.parametrize(("language", "words"), [("en", "We have opened claim"), ("fr", "Nous avons ouvert le dossier")])
def test_the_status_draft_of_a_first_notice_tells_the_customer_the_new_number(language, words):
    from models.drafting import prepare_draft, render_template

    decision = {"queue": "standard", "rule": "R5", "needs_review": False}
    job = prepare_draft({"claim_number": "CLM-2026-000042", "language": language, "disposition": "first_notice"},
                        decision)
    assert f"{words} CLM-2026-000042" in render_template(job) and job.facts["first_notice"] is True
    plain = prepare_draft({"claim_number": "CLM-2026-000042", "language": language}, decision)
    assert words not in render_template(plain)
