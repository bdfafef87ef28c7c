"""OCR of scanned PDF pages and document images with Debian's `tesseract-ocr`, when it is installed.

The mail connector calls this for the rare part that carries words only as pixels: a PDF page
without a text layer, or an image attachment that is a document (a scanned form, a photographed
estimate) rather than a damage photo. Text read here follows the body under its own separator,
so the extractor names its provenance `rules:ocr:NAME` and trusts it less than a text layer.

Decisions worth knowing:

- The `tesseract` CLI through `subprocess` (not `pytesseract`, which writes temp files and calls
  the same binary): one process per image, stdin in, TSV out, a timeout that kills it, one
  OpenMP thread (the intake shares its cores), no new Python dependency.
- Languages: the mail's own words pick one of the six reader languages when their function
  words are decisive; otherwise all six, French first (the register is French). Measured on
  six rendered claim forms (one per language): the right language alone read them at 0.2 %
  character error in ~0.7 s a form; all six at 0.5 % (French first) or 0.8 % (English first:
  accents dropped) in ~1.9 s; the fields read from the text were the same in every case.
- Which images are documents: a filename that says so (scan, form, constat, devis, estimate,
  Kostenvoranschlag, ... in six languages) or, for an image of at least `MIN_DOCUMENT_PIXELS`,
  a page-like grey histogram (a bright paper level holding most pixels, a little ink well below
  it, few mid-tones), judged on a 1/8-scale decode. Measured: 0 of 2,000 generator damage photos
  and 0 of 68 `skimage.data` images (17 CC0 photos and figures, JPEG and PNG, as shipped and
  upscaled) judged documents; every rendered form was; ~0.7 ms of CPU a 1/8-scale JPEG decode.
- Bounds: at most `MAX_OCR_IMAGES` images per mail, `MAX_OCR_PIXELS` per image (larger ones are
  downscaled; bigger than `MAX_SOURCE_PIXELS` skipped), `OCR_TIMEOUT_S` per image and
  `OCR_BUDGET_S` per mail. Every failure is a defect code, never an exception.
- Words tesseract is unsure of (confidence below `MIN_WORD_CONFIDENCE`) are dropped, and a page
  whose words are mostly unsure gives no text at all (`ocr_no_text`): a photo taken for a
  document yields noise, which must not become fields.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "MAX_OCR_IMAGES",
    "OCR_DEFECTS",
    "OcrSession",
    "is_document_image",
    "ocr_languages",
    "pdf_page_images",
    "tesseract_path",
    "tsv_text",
]

MAX_OCR_IMAGES = 6
MAX_OCR_PIXELS = 12_000_000  # ~A4 at 400 dpi; larger images are downscaled before OCR
MAX_SOURCE_PIXELS = 80_000_000  # beyond this an image is not decoded at all
# Below ~1 MP an A4 page is under ~100 dpi, where tesseract misreads; a smaller image is read only
# when its name says it is a document. Damage photos from phones are larger and are all judged.
MIN_DOCUMENT_PIXELS = 1_000_000
MIN_IMAGE_SIDE = 40  # narrower PDF images (rules, logos) are not read
OCR_TIMEOUT_S = 30.0
OCR_BUDGET_S = 90.0
MIN_WORD_CONFIDENCE = 30.0
MIN_MEAN_CONFIDENCE = 55.0
OCR_DEFECTS = frozenset({"ocr_unavailable", "ocr_failed", "ocr_timeout", "ocr_no_text", "ocr_skipped"})

TESSERACT_LANGUAGES = {"fr": "fra", "en": "eng", "de": "deu", "es": "spa", "it": "ita", "nl": "nld"}

# Function words frequent in one reader language and rare in the other five: enough to pick
# tesseract's model from a covering note; the claim's language is decided later, in models/.
_FUNCTION_WORDS = {
    "en": "the and is was my of to on in it this that with have please thanks regards attached find",
    "fr": "le les et est je mon ma mes une des du au aux pour avec sur merci bonjour cordialement vous ci-joint veuillez",
    "de": "der die das und ist ich mein meine ein eine nicht mit auf von zu bitte danke grüße anbei anhang",
    "es": "el los las y es mi mis un una del con por para que gracias hola saludos adjunto adjunta",
    "it": "il lo gli e è mio mia della con per che grazie buongiorno saluti allegato allegata",
    "nl": "het een en is ik mijn niet met op van te voor bedankt groet graag bijlage bijgaand",
}
_WORDS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")

# Filenames people and scanners give documents, in the six reader languages.
_DOCUMENT_NAME = re.compile(
    r"scan|form|constat|d[ée]claration|devis|facture|estimat|quot(?:e|ation)|invoice|receipt|statement|"
    r"kostenvoranschlag|rechnung|schaden(?:meldung|anzeige)|angebot|beleg|"
    r"presupuesto|factura|parte|denuncia|preventivo|fattura|modulo|"
    r"offerte|factuur|schadeformulier|aangifte|document|page|seite|pagina",
    re.IGNORECASE,
)


def tesseract_path() -> str | None:
    """The `tesseract` binary on PATH, or None (OCR unavailable)."""
    return shutil.which("tesseract")


@lru_cache(maxsize=4)
def _installed_languages(exe: str) -> frozenset[str]:
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (out.stdout + out.stderr).decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line.strip())


def ocr_languages(hint_text: str, installed: Iterable[str] | None = None) -> str:
    """tesseract's `-l` value: the language of `hint_text` when its function words are decisive, else all six."""
    tokens = [t.lower() for t in _TOKEN.findall(hint_text[:3000])]
    scores = sorted(((sum(t in words for t in tokens), lang) for lang, words in _WORDS.items()), reverse=True)
    codes = list(TESSERACT_LANGUAGES.values())
    (best, lang), (second, _) = scores[0], scores[1]
    if best >= 2 and best >= 2 * second:
        codes = [TESSERACT_LANGUAGES[lang]]
    if installed is not None:
        have = set(installed)
        codes = [c for c in codes if c in have] or [c for c in TESSERACT_LANGUAGES.values() if c in have]
    return "+".join(codes) or "eng"


def is_document_image(filename: str | None, data: bytes) -> bool:
    """True for an image that is a page (a scan, a photographed form or estimate), not a damage photo."""
    stem = (filename or "").rsplit(".", 1)[0]
    if stem and _DOCUMENT_NAME.search(stem):
        return True
    try:
        from PIL import Image

        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h < MIN_DOCUMENT_PIXELS or w * h > MAX_SOURCE_PIXELS:
            return False
        if img.format == "JPEG":
            img.draft("L", (w // 8, h // 8))  # a DCT-scaled decode: ~1/64 of the work
        img = img.convert("L")
        if max(img.size) > 200:
            img = img.reduce(max(1, max(img.size) // 100))
        hist = img.histogram()
    except Exception:  # noqa: BLE001 - an image Pillow cannot read is judged a photo, as before
        return False
    return _page_like(hist)


def _page_like(hist: list[int]) -> bool:
    n = sum(hist)
    if not n:
        return False
    acc, paper = 0, 0
    for value in range(255, -1, -1):  # paper: the level the brightest 10 % of pixels reach
        acc += hist[value]
        if acc >= 0.1 * n:
            paper = value
            break
    bright = sum(hist[max(0, paper - 40) :]) / n
    ink = sum(hist[: max(0, paper - 60)]) / n
    return paper >= 200 and bright >= 0.6 and 0.002 <= ink <= 0.3 and 1 - bright - ink <= 0.25


@dataclass
class OcrSession:
    """OCR for one mail: finds tesseract once, picks the languages once, keeps the mail's budget."""

    hint_text: str = ""
    defect: Callable[[str], None] = lambda code: None
    exe: str | None = None
    languages: str | None = None
    images_left: int = MAX_OCR_IMAGES
    deadline: float | None = None
    _checked: bool = field(default=False, repr=False)

    def available(self) -> bool:
        """True when tesseract can run; the first miss records `ocr_unavailable`."""
        if not self._checked:
            self._checked = True
            self.exe = self.exe or tesseract_path()
            if self.exe is None:
                self.defect("ocr_unavailable")
            else:
                self.languages = self.languages or ocr_languages(self.hint_text, _installed_languages(self.exe))
                self.deadline = time.monotonic() + OCR_BUDGET_S
        return self.exe is not None

    def read_images(self, images: Iterable[Callable[[], object]]) -> str | None:
        """Text of the images (each a callable returning a PIL image), in order; None when none gave any."""
        if not self.available():
            return None
        texts = []
        read = False  # some image went through tesseract
        for load in images:
            if self.images_left <= 0 or time.monotonic() >= self.deadline:
                self.defect("ocr_skipped")
                break
            self.images_left -= 1
            text = self._read(load)
            read |= text is not None
            if text:
                texts.append(text)
        if read and not texts:
            self.defect("ocr_no_text")
        return "\n\n".join(texts) or None

    def _read(self, load: Callable[[], object]) -> str | None:
        """The image's text, "" when tesseract found none worth keeping, None when it did not run."""
        try:
            img = load()
            if min(img.size) < MIN_IMAGE_SIDE:  # a rule, a stamp, a tiny logo: no lines of text to read
                return None
            png = _as_png(img)
        except _TooLarge:
            self.defect("ocr_skipped")
            return None
        except Exception:  # noqa: BLE001 - an image that cannot be decoded is a failed OCR, not a failed mail
            self.defect("ocr_failed")
            return None
        timeout = max(1.0, min(OCR_TIMEOUT_S, self.deadline - time.monotonic()))
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            out = subprocess.run(
                [self.exe, "stdin", "stdout", "-l", self.languages or "eng", "--psm", "3", "tsv"],
                input=png, capture_output=True, timeout=timeout, env=env, check=False,
            )
        except subprocess.TimeoutExpired:  # run() has killed and reaped the child
            self.defect("ocr_timeout")
            return None
        except OSError:
            self.defect("ocr_failed")
            return None
        if out.returncode != 0:
            self.defect("ocr_failed")
            return None
        return tsv_text(out.stdout.decode("utf-8", "replace")) or ""


class _TooLarge(ValueError):
    pass


def _as_png(img) -> bytes:
    """A grey PNG tesseract reads from stdin: EXIF rotation applied, downscaled to `MAX_OCR_PIXELS`."""
    from PIL import Image, ImageOps

    w, h = img.size
    if w * h > MAX_SOURCE_PIXELS:
        raise _TooLarge(f"{w}x{h}")
    img = ImageOps.exif_transpose(img).convert("L")
    if w * h > MAX_OCR_PIXELS:
        scale = (MAX_OCR_PIXELS / (w * h)) ** 0.5
        img = img.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def tsv_text(tsv: str) -> str | None:
    """Lines of words from tesseract's TSV, unsure words dropped; None when most words were unsure."""
    lines: dict[tuple[str, ...], list[str]] = {}
    confs: list[float] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        confs.append(conf)
        if conf >= MIN_WORD_CONFIDENCE:
            lines.setdefault(tuple(cols[1:5]), []).append(cols[11].strip())
    if not confs or sum(confs) / len(confs) < MIN_MEAN_CONFIDENCE:
        return None
    text = "\n".join(" ".join(words) for words in lines.values()).strip()
    return text or None


def pdf_page_images(page) -> list[Callable[[], object]]:
    """Loaders of the images painted on one pypdf page (a scan is one image a page, or a few strips).

    Nothing is decoded until a loader runs, and an image whose declared size is beyond
    `MAX_SOURCE_PIXELS` is refused before pypdf decodes it."""
    try:
        images = page.images
        names = list(images.keys())
    except Exception:  # noqa: BLE001 - a page whose resources pypdf cannot list has no images to read
        return []

    def loader(name):
        def load():
            if _declared_pixels(page, name) > MAX_SOURCE_PIXELS:
                raise _TooLarge(name)
            return images[name].image

        return load

    return [loader(name) for name in names]


def _declared_pixels(page, name: str) -> int:
    try:
        obj = page["/Resources"]["/XObject"][name].get_object()
        return int(obj["/Width"]) * int(obj["/Height"])
    except Exception:  # noqa: BLE001 - inline or nested images: pypdf's own decompression limits apply
        return 0
