"""OCR of scanned PDFs and document images (issue 10): provenance `rules:ocr:NAME`, lower confidence, bounds.

The scanned form is rendered here with DejaVu Sans (Debian `fonts-dejavu-core`) and wrapped as an
image-only PDF by Pillow: no text layer, so only OCR can read it. The tests that run the real
`tesseract` are skipped only where it is not installed (`.ci/run` installs it).
"""

import io
import json
import stat
from email.message import EmailMessage
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw, ImageFont

from connectors import ocr
from connectors.mail import parse_message
from models.mail_reading import read_message
from orchestration.cli import main

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
needs_tesseract = pytest.mark.skipif(ocr.tesseract_path() is None, reason="Debian tesseract-ocr is not installed")

FORM = [
    "DÉCLARATION DE SINISTRE",
    "N° de sinistre : CLM-2026-004217",
    "Numéro de contrat : POL-3456781",
    "Date du sinistre : 14/09/2026",
    "Nature : dégât des eaux, plafond de la cuisine",
    "Montant estimé : 1 480,00 EUR",
]
# A few lines at 24 px on a small page: tesseract reads it in well under a second.
PAGE = (900, 330)


def _form_image(lines=FORM) -> Image.Image:
    img = Image.new("L", PAGE, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), 24)
    for i, line in enumerate(lines):
        draw.text((30, 20 + 48 * i), line, fill=0, font=font)
    return img


def _encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _mail(attachments: list[tuple[bytes, str, str, str]], body: str = "Bonjour, veuillez trouver ci-joint ma déclaration.") -> bytes:
    m = EmailMessage()
    m["From"] = "h.marchand@example.fr"
    m["To"] = "sinistres@assureur.example"
    m["Subject"] = "Déclaration de sinistre"
    m["Date"] = "Wed, 16 Sep 2026 10:00:00 +0200"
    m["Message-ID"] = "<ocr-test@example.fr>"
    m.set_content(body)
    for data, maintype, subtype, filename in attachments:
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return m.as_bytes()


def _scanned_pdf() -> bytes:
    return _encoded(_form_image(), "PDF", resolution=150)


def test_the_scanned_pdf_has_no_text_layer():
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(_scanned_pdf()))
    assert [p.extract_text().strip() for p in reader.pages] == [""] and len(reader.pages[0].images) == 1


@needs_tesseract
def test_intake_parse_reads_a_scanned_pdf_only_claim_by_ocr_with_provenance_naming_the_pdf(tmp_path, capsys):
    eml = tmp_path / "scan.eml"
    eml.write_bytes(_mail([(_scanned_pdf(), "application", "pdf", "declaration_scan.pdf")]))
    assert main(["intake", "parse", str(eml)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["claim_number"], out["policy_number"]) == ("CLM-2026-004217", "POL-3456781")
    assert (out["incident_date"], out["estimated_amount"], out["currency"]) == ("2026-09-14", "1480.00", "EUR")
    assert out["loss_type"] == "water_damage"
    for name in ("claim_number", "policy_number", "incident_date", "estimated_amount", "loss_type"):
        assert out["provenance"][name] == "rules:ocr:declaration_scan.pdf"
    # OCR may misread a digit: only the policy number, which the register checks, stays trusted.
    assert out["confidence"]["policy_number"] >= 0.8
    for name in ("claim_number", "incident_date", "estimated_amount", "currency", "loss_type"):
        assert out["confidence"][name] < 0.8, name


def _photographed_form() -> bytes:
    """The form on a larger sheet, as a phone JPEG of about 1.2 MP (a size the pixel test judges)."""
    sheet = Image.new("L", (1100, 1100), 250)
    sheet.paste(_form_image(), (100, 120))
    return _encoded(sheet.convert("RGB"), "JPEG", quality=88)


@needs_tesseract
def test_a_photographed_form_is_read_by_ocr_though_its_name_is_a_camera_name():
    photo = _photographed_form()
    note = "Bonjour, voici la photo de ma déclaration. Merci"
    msg = parse_message(_mail([(photo, "image", "jpeg", "IMG_20260915_101501.jpg")], body=note))
    assert "---------- OCR: IMG_20260915_101501.jpg ----------" in msg.text
    fields = read_message(msg).fields
    assert fields.claim_number == "CLM-2026-004217"
    assert fields.provenance["claim_number"] == "rules:ocr:IMG_20260915_101501.jpg"


def _skimage_photos() -> dict[str, bytes]:
    """CC0 photos upscaled to phone size (>= 1 MP), so the pixel test, not the size, decides."""
    out = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "gravel", "grass", "coins", "clock"):
        img = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
        scale = max(2, int((1_000_000 / (img.width * img.height)) ** 0.5) + 1)
        out[f"IMG_{name}.jpg"] = _encoded(img.resize((img.width * scale, img.height * scale)), "JPEG", quality=85)
    return out


def test_damage_photos_are_not_taken_for_documents_and_never_reach_ocr(monkeypatch):
    def no_ocr(self, load):
        raise AssertionError("a damage photo was sent to OCR")

    monkeypatch.setattr(ocr.OcrSession, "_read", no_ocr)
    photos = _skimage_photos()
    assert not [name for name, data in photos.items() if ocr.is_document_image(name, data)]
    msg = parse_message(_mail([(d, "image", "jpeg", n) for n, d in photos.items()], body="Photos of the damage."))
    assert "OCR:" not in msg.text and not [d for d in msg.defects if d.startswith("ocr_")]
    assert len([a for a in msg.attachments if a.kind == "image"]) == len(photos)


def test_a_rendered_page_is_judged_a_document_by_its_pixels_alone():
    assert ocr.is_document_image("IMG_0412.jpg", _photographed_form())
    # Under ~1 MP a page is too coarse to read: only its name can make it a document.
    small = _encoded(_form_image().convert("RGB"), "JPEG", quality=88)
    assert not ocr.is_document_image("IMG_0414.jpg", small) and ocr.is_document_image("constat.jpg", small)
    assert ocr.is_document_image("devis garage.png", b"not even an image")  # the name says so
    assert not ocr.is_document_image("IMG_0413.jpg", b"not an image")


def test_without_tesseract_a_scan_keeps_todays_defect_and_says_ocr_was_unavailable(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert ocr.tesseract_path() is None
    msg = parse_message(_mail([(_scanned_pdf(), "application", "pdf", "declaration_scan.pdf")]))
    assert {"pdf_without_text", "ocr_unavailable"} <= set(msg.defects)
    assert "declaration_scan.pdf" not in msg.text
    fields = read_message(msg).fields
    assert fields.claim_number is None and fields.policy_number is None


def _fake_tesseract(tmp_path: Path, monkeypatch, body: str) -> None:
    exe = tmp_path / "tesseract"
    exe.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--list-langs" ]; then printf "List of available languages (2):\\neng\\nfra\\n"; exit 0; fi\n'
        + body
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_a_tesseract_that_fails_leaves_ocr_failed_and_the_mail_parses(tmp_path, monkeypatch):
    _fake_tesseract(tmp_path, monkeypatch, "cat >/dev/null; echo broken >&2; exit 1\n")
    msg = parse_message(_mail([(_scanned_pdf(), "application", "pdf", "scan.pdf")]))
    assert {"pdf_without_text", "ocr_failed"} <= set(msg.defects) and "ocr_no_text" not in msg.defects
    assert "OCR:" not in msg.text


def test_a_tesseract_that_hangs_is_stopped_at_the_timeout(tmp_path, monkeypatch):
    _fake_tesseract(tmp_path, monkeypatch, "cat >/dev/null; exec sleep 30\n")
    monkeypatch.setattr(ocr, "OCR_TIMEOUT_S", 0.5)
    msg = parse_message(_mail([(_scanned_pdf(), "application", "pdf", "scan.pdf")]))
    assert "ocr_timeout" in msg.defects and "OCR:" not in msg.text


def test_a_mail_gets_at_most_its_budget_of_ocr_images(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    _fake_tesseract(tmp_path, monkeypatch, f"cat >/dev/null; echo x >> {calls}; exit 1\n")
    scan = _scanned_pdf()
    msg = parse_message(_mail([(scan, "application", "pdf", f"scan{i}.pdf") for i in range(ocr.MAX_OCR_IMAGES + 2)]))
    assert len(calls.read_text().split()) == ocr.MAX_OCR_IMAGES
    assert "ocr_skipped" in msg.defects


def test_unsure_words_are_dropped_and_a_page_of_noise_gives_no_text():
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"

    def row(line, conf, word):
        return f"5\t1\t1\t1\t{line}\t1\t0\t0\t10\t10\t{conf}\t{word}"

    sure = "\n".join([head, row(1, 96, "Claim"), row(1, 95, "CLM-2026-004217"), row(2, 12, "~%"), row(2, 91, "POL")])
    assert ocr.tsv_text(sure) == "Claim CLM-2026-004217\nPOL"
    noise = "\n".join([head, row(1, 20, "Ww"), row(1, 31, "CLM-2026-004217"), row(2, 15, "ii")])
    assert ocr.tsv_text(noise) is None


def test_the_covering_note_picks_the_ocr_language_and_silence_picks_all_six():
    assert ocr.ocr_languages("Bonjour, veuillez trouver ci-joint ma déclaration. Merci") == "fra"
    assert ocr.ocr_languages("Anbei die Schadenmeldung, bitte um Rückruf. Danke") == "deu"
    assert ocr.ocr_languages("") == "fra+eng+deu+spa+ita+nld"
    assert ocr.ocr_languages("", installed={"eng", "osd"}) == "eng"


def test_a_pdf_image_declared_larger_than_the_limit_is_skipped_before_it_is_decoded(monkeypatch):
    import pypdf

    page = pypdf.PdfReader(io.BytesIO(_scanned_pdf())).pages[0]
    monkeypatch.setattr(ocr, "MAX_SOURCE_PIXELS", PAGE[0] * PAGE[1] - 1)
    [load] = ocr.pdf_page_images(page)
    with pytest.raises(ocr._TooLarge):
        load()
    monkeypatch.setattr(ocr, "MAX_SOURCE_PIXELS", PAGE[0] * PAGE[1])
    assert load().size == PAGE
