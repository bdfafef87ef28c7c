"""connectors.mail: any bytes become a normalized message or a typed MailParseError."""

from __future__ import annotations

import ast
import base64
import email
import email.policy
import hashlib
import io
import json
import pickle
import random
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.mail import (
    FORWARD_SEPARATOR,
    MAX_ATTACHMENT_BYTES,
    PARSE_ERROR_REASONS,
    MailMessage,
    MailParseError,
    html_to_text,
    parse_message,
    read_message_file,
)

MAIL_DATA = Path(__file__).resolve().parents[1] / "data" / "mail"
REAL_WORLD = MAIL_DATA / "real_world"
MALFORMED = MAIL_DATA / "malformed"
REAL_EXPECTED = json.loads((REAL_WORLD / "expected.json").read_text(encoding="utf-8"))
MALFORMED_EXPECTED = json.loads((MALFORMED / "expected.json").read_text(encoding="utf-8"))
CORPUS = sorted(p for p in [*REAL_WORLD.iterdir(), *MALFORMED.iterdir()] if p.name != "expected.json")
KINDS = {"image", "document", "archive", "other"}

HEADERS = (
    "From: Client <client@example.fr>\r\nTo: sinistres@assureur.example\r\n"
    "Date: Thu, 26 Mar 2026 10:00:00 +0100\r\nMessage-ID: <m1@example.fr>\r\n"
)


def mail(body: str, *, headers: str = HEADERS, subject: str = "Sinistre", extra: str = "") -> bytes:
    return f"{headers}Subject: {subject}\r\n{extra}\r\n{body}".encode()


def b64_lines(data: bytes) -> str:
    return base64.encodebytes(data).decode().replace("\n", "\r\n").rstrip()


def multipart(*parts: str, boundary: str = "BND", subtype: str = "mixed") -> bytes:
    body = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"
    extra = f'MIME-Version: 1.0\r\nContent-Type: multipart/{subtype}; boundary="{boundary}"\r\n'
    return mail(body, extra=extra)


def check_invariants(msg: MailMessage) -> None:
    """What every successfully parsed message guarantees, whatever the input was."""
    assert msg.message_id and "\n" not in msg.message_id
    assert msg.date is None or msg.date.utcoffset().total_seconds() == 0
    assert isinstance(msg.subject, str) and "\n" not in msg.subject and "\r" not in msg.subject
    assert isinstance(msg.text, str) and "\x00" not in msg.text and "\r" not in msg.text
    assert all(isinstance(a, str) for a in msg.to)
    assert len(msg.content_hash) == 64 and int(msg.content_hash, 16) >= 0
    for code in msg.defects:
        assert code and len(code) < 100 and "\n" not in code
    for att in msg.attachments:
        assert att.kind in KINDS
        assert (att.image_format is not None) == (att.kind == "image")
        assert att.skipped_reason in (None, "too_large", "undecodable_part")
        if att.data is None:
            assert att.skipped_reason is not None and att.sha256 is None
        else:
            assert att.skipped_reason is None
            assert att.size == len(att.data) and att.sha256 == hashlib.sha256(att.data).hexdigest()
    msg.text.encode("utf-8")  # no lone surrogates leak out of the decoders
    msg.subject.encode("utf-8")


def parse_or_reason(raw: bytes, **kwargs) -> MailMessage | str:
    """Parse, and fail the test if anything but a MailParseError escapes or the safety net fired."""
    try:
        msg = parse_message(raw, **kwargs)
    except MailParseError as err:
        assert err.reason in PARSE_ERROR_REASONS
        # The catch-all in parse_message keeps the contract in production; in tests it must stay unused.
        assert err.__cause__ is None, f"safety net caught {err.__cause__!r}"
        assert "\n" not in err.detail
        return err.reason
    check_invariants(msg)
    return msg


# ------------------------------------------------------------------ the corpus


def test_the_corpus_files_are_small_and_all_described():
    for folder, expected in ((REAL_WORLD, REAL_EXPECTED), (MALFORMED, MALFORMED_EXPECTED)):
        files = {p.name for p in folder.iterdir() if p.name != "expected.json"}
        assert files == set(expected)
        assert all((folder / name).stat().st_size < 30_000 for name in files)
    assert len(REAL_EXPECTED) >= 12


@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_each_real_world_message_parses_as_expected(name):
    exp = REAL_EXPECTED[name]
    msg = read_message_file(REAL_WORLD / name)
    check_invariants(msg)
    assert msg.subject == exp["subject"]
    assert msg.sender_address == exp["sender_address"]
    assert [a.kind for a in msg.attachments] == exp["attachment_kinds"]
    for fragment in exp["text_contains"]:
        assert fragment in msg.text
    for fragment in exp.get("text_excludes", []):
        assert fragment not in msg.text
    for key in ("sender_name", "html_only", "in_reply_to"):
        if key in exp:
            assert getattr(msg, key) == exp[key]
    if "to" in exp:
        assert list(msg.to) == exp["to"]
    if "references" in exp:
        assert list(msg.references) == exp["references"]
    if "filenames" in exp:
        assert [a.filename for a in msg.attachments] == exp["filenames"]
    if "image_formats" in exp:
        assert [a.image_format for a in msg.attachments] == exp["image_formats"]
    assert set(exp.get("defects_include", [])) <= set(msg.defects)
    assert msg.date is not None and msg.message_id.startswith("<")
    assert "\ufffd" not in msg.text and "Ã" not in msg.text  # no mojibake anywhere in the real-world set


@pytest.mark.parametrize("name", sorted(MALFORMED_EXPECTED))
def test_each_malformed_file_fails_or_repairs_as_expected(name):
    exp = MALFORMED_EXPECTED[name]
    outcome = parse_or_reason((MALFORMED / name).read_bytes())
    if "error" in exp:
        assert outcome == exp["error"]
        return
    assert isinstance(outcome, MailMessage), outcome
    assert set(exp["defects_include"]) <= set(outcome.defects), outcome.defects
    fragments = exp.get("text_contains", [])
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        assert fragment in outcome.text
    for fragment in exp.get("text_excludes", []):
        assert fragment not in outcome.text
    if "attachment_kinds" in exp:
        assert [a.kind for a in outcome.attachments] == exp["attachment_kinds"]
    for key in ("subject", "sender_name", "html_only"):
        if key in exp:
            assert getattr(outcome, key) == exp[key]


# ------------------------------------------------------------------ never anything but MailParseError


def mutations(data: bytes, rnd: random.Random, count: int):
    """Deterministic damage: flipped bytes, cuts, inserted junk, duplicated and spliced slices."""
    others = [p.read_bytes() for p in CORPUS[:8]]
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randrange(7)
            n = len(buf)
            pos = rnd.randrange(n + 1)
            if op == 0 and n:
                buf[rnd.randrange(n)] = rnd.randrange(256)
            elif op == 1:
                del buf[pos:]
            elif op == 2:
                buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 40)))
            elif op == 3:
                buf[pos:pos] = rnd.choice([b"\r\n", b"\n\n", b"--", b"=?utf-8?b?", b"?=", b"=", b"\x00", b":", b'"', b"<"])
            elif op == 4 and n:
                a = rnd.randrange(n)
                buf[pos:pos] = buf[a : a + rnd.randint(1, 200)]
            elif op == 5 and n:
                del buf[pos : pos + rnd.randint(1, 50)]
            else:
                other = rnd.choice(others)
                buf[pos:] = other[rnd.randrange(len(other) + 1) :]
        yield bytes(buf)


@pytest.mark.timeout(120)
def test_thousands_of_mutated_corpus_files_never_raise_anything_but_a_parse_error():
    rnd = random.Random(20260326)
    cases = 0
    for path in CORPUS:
        for raw in mutations(path.read_bytes(), rnd, 100):
            parse_or_reason(raw)
            cases += 1
    assert cases >= 3000


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise_anything_but_a_parse_error(raw):
    parse_or_reason(raw)


CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "x-klingon", "utf-16", "utf-7", "undefined",
            "base64", "punycode", "shift_jis", "koi8-r", "", '"utf-8"', "utf-8*fr"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "x-gzip64", "BASE64 (x)"]
CTYPES = ["text/plain", "text/html", "image/jpeg", "application/pdf", "message/rfc822", "multipart/mixed",
          "message/delivery-status", "application/octet-stream", "text"]


@st.composite
def mime_trees(draw, depth=0):
    ctype = draw(st.sampled_from(CTYPES if depth < 3 else CTYPES[:4]))
    headers = [f"Content-Type: {ctype}; charset={draw(st.sampled_from(CHARSETS))}"]
    if draw(st.booleans()):
        headers[0] += '; name="=?utf-8?q?ph=C3=B6to?=.jpg"; boundary="b' + str(depth) + '"'
    if draw(st.integers(0, 5)) == 0:  # RFC 2231 parameters naming codecs that refuse to decode
        headers[0] += draw(st.sampled_from(["; boundary*=undefined''b0", "; charset*=idna''x", "; name*0*=base64''a"]))
    if draw(st.booleans()):
        headers.append(f"Content-Transfer-Encoding: {draw(st.sampled_from(ENCODINGS))}")
    if draw(st.booleans()):
        headers.append("Content-Disposition: " + draw(st.sampled_from(
            ["attachment", "inline", "attachment; filename*=utf-8''x%C3%A9.pdf", "attachment; filename*=undefined''x"])))
    if ctype == "multipart/mixed":
        children = draw(st.lists(mime_trees(depth + 1), max_size=3))
        b = f"b{depth}"
        body = "".join(f"--{b}\r\n{c}\r\n" for c in children) + draw(st.sampled_from([f"--{b}--\r\n", "", f"--{b}"]))
    elif ctype == "message/rfc822":
        body = "From: x@y.z\r\nSubject: fwd\r\n" + draw(mime_trees(depth + 1))
    else:
        raw = draw(st.one_of(st.binary(max_size=300), st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace"))))
        body = raw.decode("latin-1")
        if draw(st.booleans()):
            body = b64_lines(raw)
    return "\r\n".join(headers) + "\r\n\r\n" + body


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    tree=mime_trees(),
    subject=st.text(max_size=60),
    from_=st.sampled_from(["a@b.c", '"=?utf-8?b?w6k=?=" <a@b.c>', "<>", "x", '"unterminated <a@b', "=?x?q?=FF?= <a@b>"]),
    date=st.sampled_from(["Thu, 26 Mar 2026 10:00:00 +0100", "garbage", "Mon, 1 Jan 9999 23:59:59 -1200", "", "32 Foo 2026"]),
)
def test_generated_mime_structures_never_raise_anything_but_a_parse_error(tree, subject, from_, date):
    head = f"From: {from_}\r\nDate: {date}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
    parse_or_reason(head.encode("utf-8", "surrogateescape") + tree.encode("latin-1", "replace"))


def nested_multipart(levels: int) -> bytes:
    inner = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(1, levels))
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(levels)))
    body = "--b0\r\n" + inner + "Content-Type: text/plain\r\n\r\nhello from the bottom\r\n" + closing
    return mail(body, extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n')


def test_multipart_nested_500_levels_deep_still_parses():
    msg = parse_or_reason(nested_multipart(500))
    assert isinstance(msg, MailMessage) and "hello from the bottom" in msg.text


def test_nesting_deeper_than_the_parser_can_follow_is_undecodable_not_a_recursion_error():
    assert parse_or_reason(nested_multipart(1200)) == "undecodable"


def test_zero_length_parts_are_kept_as_empty_attachments():
    raw = multipart(
        "Content-Type: text/plain\r\n\r\n",
        "Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        "Content-Type: application/pdf\r\n",
        "",
    )
    msg = parse_or_reason(raw)
    assert msg.text == ""
    assert [(a.content_type, a.size, a.kind) for a in msg.attachments] == [
        ("image/jpeg", 0, "other"),
        ("application/pdf", 0, "other"),
    ]


def test_non_bytes_input_is_a_programming_error_not_a_parse_error():
    with pytest.raises(TypeError):
        parse_message("From: a@b.c\n\nhi")  # type: ignore[arg-type]


# ------------------------------------------------------------------ attachments

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4


def test_an_attachment_over_the_limit_is_skipped_and_the_mail_still_parses():
    big = b"\xff\xd8\xff\xe0" + bytes(30 * 1024 * 1024)
    raw = multipart(
        "Content-Type: text/plain\r\n\r\nPhoto du sinistre CLM-2026-000123 ci-jointe.",
        f'Content-Type: image/jpeg; name="big.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(big)}',
        f'Content-Type: image/jpeg; name="small.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(JPEG)}',
    )
    msg = parse_or_reason(raw)
    large, small = msg.attachments
    assert (large.skipped_reason, large.data, large.sha256, large.size) == ("too_large", None, None, len(big))
    assert large.kind == "image" and large.image_format == "jpeg"
    assert small.data == JPEG and small.skipped_reason is None
    assert "CLM-2026-000123" in msg.text and "attachment_too_large" in msg.defects


def test_the_attachment_limit_is_inclusive_and_configurable():
    raw = multipart(f"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(JPEG)}")
    assert parse_message(raw, max_attachment_bytes=len(JPEG)).attachments[0].skipped_reason is None
    assert parse_message(raw, max_attachment_bytes=len(JPEG) - 1).attachments[0].skipped_reason == "too_large"
    assert MAX_ATTACHMENT_BYTES == 20 * 1024 * 1024


def test_archives_are_recognised_by_their_bytes_and_never_extracted():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.jpg", JPEG)
        z.writestr("b.jpg", JPEG)
    archive = buf.getvalue()
    raw = multipart(
        "Content-Type: text/plain\r\n\r\nPhotos en archive.",
        f'Content-Type: image/jpeg; name="photo.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(archive)}',
        f"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(b'Rar!' + bytes([0x1A, 7, 0]) + bytes(50))}",
        f"Content-Type: application/x-gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(bytes([0x1F, 0x8B, 8]) + bytes(40))}",
    )
    msg = parse_or_reason(raw)
    assert [a.kind for a in msg.attachments] == ["archive", "archive", "archive"]
    assert msg.attachments[0].data == archive and msg.attachments[0].image_format is None


def test_attachment_kind_comes_from_the_bytes_not_the_declared_type():
    pdf = b"%PDF-1.7\n" + bytes(100)
    png = b"\x89PNG\r\n\x1a\n" + bytes(40)
    raw = multipart(
        f"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(pdf)}",
        f"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(png)}",
        f"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(b'MZ not an image')}",
    )
    got = [(a.content_type, a.kind, a.image_format) for a in parse_or_reason(raw).attachments]
    assert got == [("image/jpeg", "document", None), ("application/octet-stream", "image", "png"), ("image/png", "other", None)]


def test_inline_images_of_related_parts_count_as_attachments():
    msg = read_message_file(REAL_WORLD / "gmail_related_inline_image.eml")
    assert [a.filename for a in msg.attachments] == ["capot.png"]


def test_attachments_of_a_forwarded_message_are_kept_and_its_text_follows_a_separator():
    msg = read_message_file(REAL_WORLD / "thunderbird_forward_as_attachment.eml")
    own, forwarded = msg.text.split(FORWARD_SEPARATOR)
    assert "ouvrir un dossier" in own and "POL1357924" in forwarded
    assert "Subject: Accident du 07/03/2026 - constat amiable" in forwarded
    assert [a.filename for a in msg.attachments] == ["constat_amiable.pdf"]


def test_a_base64_encoded_forwarded_message_is_decoded_before_reading():
    inner = b"From: Jean <jean@example.fr>\r\nSubject: Origine\r\n\r\nTexte d'origine CLM-2026-000999.\r\n"
    raw = multipart(
        "Content-Type: text/plain\r\n\r\nVoir ci-dessous.",
        f"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(inner)}",
    )
    msg = parse_or_reason(raw)
    assert "Texte d'origine CLM-2026-000999." in msg.text and "From: Jean <jean@example.fr>" in msg.text


def test_a_partly_broken_base64_attachment_keeps_what_decodes():
    text = b64_lines(JPEG)
    raw = multipart(f"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{text[:-7]}")
    msg = parse_or_reason(raw)
    assert "bad_base64" in msg.defects
    assert msg.attachments[0].kind == "image" and JPEG.startswith(msg.attachments[0].data[:500])


# ------------------------------------------------------------------ charsets and headers


def test_latin1_bytes_behind_a_utf8_declaration_come_out_right():
    body = "Dégât constaté à Nîmes, préjudice 1 200 €.".encode("cp1252")
    raw = mail("", extra="Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n").rstrip(b"\r\n")
    msg = parse_or_reason(raw + b"\r\n\r\n" + body)
    assert msg.text == "Dégât constaté à Nîmes, préjudice 1 200 €."
    assert "charset_fallback:utf-8->cp1252" in msg.defects


def test_latin1_bytes_inside_a_utf8_encoded_word_come_out_right():
    msg = parse_or_reason(mail("x", subject="=?utf-8?q?D=E9g=E2t_des_eaux?="))
    assert msg.subject == "Dégât des eaux"


def test_utf8_with_a_stray_windows_byte_keeps_both_right():
    body = "Réf. ".encode() + "naïve".encode("cp1252") + " – fin".encode()
    raw = mail("", extra="Content-Type: text/plain; charset=utf-8\r\n").rstrip(b"\r\n") + b"\r\n\r\n" + body
    msg = parse_or_reason(raw)
    assert msg.text == "Réf. naïve – fin" and "charset_fallback:utf-8->utf-8+cp1252" in msg.defects


def test_a_utf8_body_mislabelled_as_latin1_is_read_as_utf8():
    raw = mail("", extra="Content-Type: text/plain; charset=iso-8859-1\r\n").rstrip(b"\r\n") + b"\r\n\r\n" + "Sinistre réglé".encode()
    msg = parse_or_reason(raw)
    assert msg.text == "Sinistre réglé" and "charset_fallback:iso-8859-1->utf-8" in msg.defects


def test_windows_1252_punctuation_behind_a_latin1_label_is_not_lost():
    raw = mail("", extra="Content-Type: text/plain; charset=iso-8859-1\r\n").rstrip(b"\r\n") + b"\r\n\r\n" + "l’été – 5 €".encode("cp1252")
    assert parse_or_reason(raw).text == "l’été – 5 €"


def test_cyrillic_without_a_charset_is_guessed_not_read_as_western():
    text = "Здравствуйте, моя машина была повреждена градом в понедельник утром."
    raw = mail("", extra="Content-Type: text/plain\r\n").rstrip(b"\r\n") + b"\r\n\r\n" + text.encode("cp1251")
    assert parse_or_reason(raw).text == text


def test_encoded_words_split_inside_a_multibyte_character_are_joined():
    data = "Déclaration grêle".encode()
    cut = data.index("ê".encode()) + 1
    subject = "=?utf-8?b?" + base64.b64encode(data[:cut]).decode() + "?=\r\n =?utf-8?b?" + base64.b64encode(data[cut:]).decode() + "?="
    assert parse_or_reason(mail("x", subject=subject)).subject == "Déclaration grêle"


def test_text_between_encoded_words_keeps_its_spaces():
    msg = parse_or_reason(mail("x", subject="Re: =?utf-8?q?d=C3=A9g=C3=A2t?= du =?iso-8859-1?q?12_ao=FBt?= ok"))
    assert msg.subject == "Re: dégât du 12 août ok"


def test_sender_and_recipients_are_decoded_and_split():
    headers = (
        'From: "=?utf-8?q?Dupont=2C_Jos=C3=A9?=" <Jose.Dupont@Example.fr>\r\n'
        'To: "Sinistres, Service" <sinistres@assureur.example>, autre@example.fr,\r\n  not-an-address\r\n'
    )
    msg = parse_or_reason(mail("x", headers=headers))
    assert (msg.sender_address, msg.sender_name) == ("Jose.Dupont@Example.fr", "Dupont, José")
    assert msg.to == ("sinistres@assureur.example", "autre@example.fr")


def test_dates_are_aware_utc_and_bad_dates_are_none():
    ok = parse_or_reason(mail("x"))
    assert ok.date == datetime(2026, 3, 26, 9, 0, tzinfo=UTC)
    bad = parse_or_reason(mail("x", headers="From: a@b.c\r\nDate: le 26 mars\r\n"))
    assert bad.date is None and "bad_date" in bad.defects
    unknown_zone = parse_or_reason(mail("x", headers="From: a@b.c\r\nDate: Thu, 26 Mar 2026 10:00:00 -0000\r\n"))
    assert unknown_zone.date == datetime(2026, 3, 26, 10, 0, tzinfo=UTC)


def test_a_missing_message_id_is_synthesized_from_the_content_hash():
    msg = parse_or_reason(b"From: a@b.c\r\nSubject: s\r\n\r\nbody")
    assert msg.message_id == f"<{msg.content_hash[:24]}@claimflow.invalid>"
    assert "missing_message_id" in msg.defects


def test_reply_headers_are_read_as_message_ids():
    extra = "In-Reply-To: <a@x> (comment)\r\nReferences: <r1@x>\r\n\t<r2@x> <a@x>\r\n"
    msg = parse_or_reason(mail("x", extra=extra))
    assert msg.in_reply_to == "<a@x>" and msg.references == ("<r1@x>", "<r2@x>", "<a@x>")


def test_a_utf16_file_without_bom_is_transcoded_too():
    raw = mail("Grêle sur le toit.", extra="Content-Type: text/plain; charset=utf-8\r\n").decode().encode("utf-16-be")
    msg = parse_or_reason(raw)
    assert msg.text == "Grêle sur le toit." and "transcoded:utf-16-be" in msg.defects


# ------------------------------------------------------------------ HTML


def test_html_only_mail_is_converted_and_flagged():
    raw = mail("<p>Bonjour&nbsp;!</p><p>Sinistre &laquo;CLM-2026-000123&raquo;</p>", extra="Content-Type: text/html; charset=utf-8\r\n")
    msg = parse_or_reason(raw)
    assert msg.html_only and msg.text == "Bonjour !\n\nSinistre «CLM-2026-000123»"


def test_plain_text_is_preferred_over_its_html_alternative():
    raw = multipart(
        "Content-Type: text/plain; charset=utf-8\r\n\r\nVersion texte.",
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Version HTML</p><div style='display:none'>cachee</div>",
        subtype="alternative",
    )
    msg = parse_or_reason(raw)
    assert msg.text == "Version texte." and not msg.html_only and "hidden_html_text" not in msg.defects


def test_a_blank_plain_part_falls_back_to_the_html_one():
    raw = multipart(
        "Content-Type: text/plain; charset=utf-8\r\n\r\n   ",
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Le vrai texte</p>",
        subtype="alternative",
    )
    assert parse_or_reason(raw).text == "Le vrai texte"


def test_html_to_text_drops_scripts_styles_and_head_and_keeps_hidden_text():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>steal()</script><h1>Titre</h1><div style='display: none'>preheader</div>"
        "<table><tr><td>Contrat</td><td>POL1234567</td></tr><tr><td>Montant</td><td>1&nbsp;250&nbsp;&euro;</td></tr></table>"
        "<p>Fin<br>ligne</p></body></html>"
    )
    assert html_to_text(html) == "Titre\npreheader\nContrat POL1234567\nMontant 1 250 €\n\nFin\nligne"


def test_html_to_text_survives_an_unclosed_head_and_broken_markup():
    assert html_to_text("<head><title>x</title><body>Corps <b>gras") == "Corps gras"
    assert html_to_text("<p>a</b></div><p>b") == "a\n\nb"
    assert html_to_text("<<<>>><!-- x --><![CDATA[y]]>&bogus; ok") .endswith("ok")


# ------------------------------------------------------------------ content hash


def test_a_resend_with_new_message_id_date_and_transport_headers_hashes_the_same():
    first = multipart(
        "Content-Type: text/plain\r\n\r\nSinistre CLM-2026-000123.",
        f"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(JPEG)}",
    )
    resent = (
        b"Received: from relay2 by mx; Fri, 27 Mar 2026 08:00:00 +0000\r\n"
        + first.replace(b"<m1@example.fr>", b"<m2@example.fr>").replace(b"Thu, 26 Mar 2026 10:00:00", b"Fri, 27 Mar 2026 08:00:00")
    )
    a, b = parse_or_reason(first), parse_or_reason(resent)
    assert a.message_id != b.message_id and a.date != b.date
    assert a.content_hash == b.content_hash


def test_line_endings_and_whitespace_folding_do_not_change_the_hash():
    crlf = mail("Ligne  un\r\nligne deux\r\n", subject="Sinistre   grele")
    lf = crlf.replace(b"\r\n", b"\n").replace(b"Ligne  un", b"Ligne un").replace(b"Sinistre   grele", b"Sinistre grele")
    assert parse_or_reason(crlf).content_hash == parse_or_reason(lf).content_hash


def test_a_changed_body_subject_sender_or_attachment_changes_the_hash():
    base = parse_or_reason(mail("Montant 1 250 EUR")).content_hash
    assert parse_or_reason(mail("Montant 1 260 EUR")).content_hash != base
    assert parse_or_reason(mail("Montant 1 250 EUR", subject="Autre")).content_hash != base
    other_sender = mail("Montant 1 250 EUR", headers=HEADERS.replace("client@example.fr", "autre@example.fr"))
    assert parse_or_reason(other_sender).content_hash != base
    with_photo = [
        parse_or_reason(
            multipart("Content-Type: text/plain\r\n\r\nx", f"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(img)}")
        ).content_hash
        for img in (JPEG, JPEG + b"\x00")
    ]
    assert with_photo[0] != with_photo[1]


# ------------------------------------------------------------------ files, errors, boundaries


def test_unreadable_paths_raise_unreadable_without_the_path_in_the_detail(tmp_path):
    for path in (tmp_path, tmp_path / "jean-dupont-missing.eml"):
        with pytest.raises(MailParseError) as err:
            read_message_file(path)
        assert err.value.reason == "unreadable" and "dupont" not in err.value.detail


def test_parse_errors_are_one_line_and_survive_pickling():
    err = MailParseError("undecodable", "two\nlines")
    again = pickle.loads(pickle.dumps(err))
    assert (again.reason, again.detail, str(again)) == ("undecodable", "two lines", "undecodable: two lines")
    with pytest.raises(ValueError):
        MailParseError("because", "reasons are a closed set")


def test_binary_files_are_not_emails():
    for raw in (b"\xff\xd8\xff\xe0" + bytes(100), b"PK\x03\x04" + bytes(100), b"Subject: x\x00\x00\r\n\r\nbody"):
        assert parse_or_reason(raw) == "not_an_email"


def test_connectors_import_nothing_of_ours_and_no_dagster():
    forbidden = {"assets", "models", "orchestration", "monitoring", "dagster"}
    for name in ("mail.py", "inbox.py"):
        tree = ast.parse((Path(__file__).resolve().parents[2] / "connectors" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & forbidden, f"{name} imports {roots & forbidden}"


# ------------------------------------------------------------------ speed


def test_parsing_typical_mail_costs_less_than_three_bare_stdlib_parses():
    rnd = random.Random(7)
    photos = [b"\xff\xd8\xff\xe0" + rnd.randbytes(100_000) for _ in range(2)]
    raw = multipart(
        "Content-Type: multipart/alternative; boundary=ALT\r\n\r\n--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "Sinistre CLM-2026-000123, contrat POL1234567, 1 250,00 EUR.\r\n" * 5
        + "\r\n--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Sinistre CLM-2026-000123</p>\r\n--ALT--",
        *(f'Content-Type: image/jpeg; name="p{i}.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_lines(p)}' for i, p in enumerate(photos)),
    )

    def best_of(fn, n=15):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    bare = best_of(lambda: email.message_from_bytes(raw, policy=email.policy.default))
    ours = best_of(lambda: parse_message(raw))
    assert ours < 3 * bare, f"parse_message {ours * 1000:.1f} ms vs bare {bare * 1000:.1f} ms"
