"""Decode any bytes into a normalized e-mail message, or fail with a clear, typed reason.

`parse_message` is the only door from the inbox into the platform, so it keeps one
contract: for any input it returns a `MailMessage` or raises `MailParseError` with a
`reason` from `PARSE_ERROR_REASONS`; never another exception (a `MemoryError`
excepted: that is the machine failing, not the mail). Everything it had to repair
is listed in `MailMessage.defects` as a short code, so review can see what was
guessed.

Decisions worth knowing:

- The MIME tree is parsed by the stdlib parser with compat32 and a message class whose
  lookups cannot raise; header values, transfer encodings and charsets are decoded here
  from the parser's raw values, so that one fallback chain (declared charset, UTF-8,
  Western single-byte, charset_normalizer, cp1252) applies everywhere and nothing is
  decoded lossily behind our back. (`email.policy.default` was tried: its header
  objects bring nothing we use, cost ~0.35 ms per MIME part and raise on some
  malformed parameters.)
- "empty": no bytes, or only whitespace.
- "not_an_email": binary content (a known file signature at the start, or NUL bytes
  in the header block), no header block (the first non-blank line is not a
  `Name: value` field), or none of From/To/Subject/Date/Message-ID present.
- "undecodable": it is an e-mail, but every part that carried content failed its
  transfer decoding, so there is no text and no usable attachment; also UTF-16/32
  files whose code units are broken, MIME nested deeper than the parser can follow,
  and (as a safety net) any unexpected parser failure.
- UTF-16/32 files (a mail saved by Notepad or PowerShell) are transcoded to UTF-8
  and parsed, with the defect "transcoded:utf-16-le" (or the codec found).
- "unreadable": only from `read_message_file`, when the file itself cannot be read.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.message
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from connectors.ocr import OcrSession, is_document_image, pdf_page_images

__all__ = [
    "ATTACHMENT_SEPARATOR",
    "MAX_ATTACHMENT_BYTES",
    "OCR_SEPARATOR",
    "PARSE_ERROR_REASONS",
    "Attachment",
    "MailMessage",
    "MailParseError",
    "html_to_text",
    "parse_message",
    "read_message_file",
]

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
PARSE_ERROR_REASONS = frozenset({"empty", "not_an_email", "undecodable", "unreadable"})
FORWARD_SEPARATOR = "---------- Forwarded message ----------"
# Text read from an attachment (a .txt statement, a PDF's text layer) follows the body under this line;
# text read by OCR (a scanned page, a document image) under the second, so it keeps that provenance.
ATTACHMENT_SEPARATOR = "---------- Attachment: {name} ----------"
OCR_SEPARATOR = "---------- OCR: {name} ----------"
ATTACHMENT_LINE = re.compile(r"^---------- (?P<source>Attachment|OCR): (?P<name>.*) ----------$", re.MULTILINE)
MAX_ATTACHMENT_TEXT = 100_000
# A plain part this short beside a richer HTML part is a stub ("Bitte HTML-Ansicht verwenden").
_STUB_CHARS = 80


class MailParseError(ValueError):
    """Raised when bytes cannot become a `MailMessage`; `reason` is one of `PARSE_ERROR_REASONS`."""

    def __init__(self, reason: str, detail: str):
        if reason not in PARSE_ERROR_REASONS:
            raise ValueError(f"unknown mail parse error reason: {reason!r}")
        self.reason = reason
        self.detail = " ".join(str(detail).split())[:300]
        super().__init__(f"{self.reason}: {self.detail}")

    def __reduce__(self):
        return (type(self), (self.reason, self.detail))


@dataclass(frozen=True)
class Attachment:
    """One non-body part. `kind` and `image_format` come from the bytes, never from the headers."""

    filename: str | None
    content_type: str
    kind: str
    image_format: str | None
    size: int
    sha256: str | None
    data: bytes | None = field(default=None, repr=False, compare=False)
    skipped_reason: str | None = None


@dataclass(frozen=True)
class MailMessage:
    """A parsed e-mail: decoded headers, best body text, attachments, repairs and a content hash."""

    message_id: str
    date: datetime | None
    sender_address: str | None
    sender_name: str | None
    to: tuple[str, ...]
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str
    html_only: bool
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]
    content_hash: str
    signals: tuple[str, ...] = ()
    utc_offset_minutes: int | None = None


# ------------------------------------------------------------------ public functions


def parse_message(raw: bytes, *, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> MailMessage:
    """Parse raw RFC 5322 bytes into a `MailMessage`, or raise `MailParseError` (never anything else)."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_message expects bytes, got {type(raw).__name__}")
    try:
        return _parse(bytes(raw), max_attachment_bytes)
    except (MailParseError, MemoryError):
        raise
    except RecursionError:
        raise MailParseError("undecodable", "MIME structure nested too deeply to parse") from None
    except Exception as exc:  # the contract: any failure of ours or the stdlib's becomes a typed reason
        raise MailParseError("undecodable", f"unexpected parser failure ({type(exc).__name__})") from exc


def read_message_file(path: Path, *, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> MailMessage:
    """Read and parse one message file; a file that cannot be read raises `MailParseError("unreadable")`."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        # The path may carry personal data (a customer's name), so the detail names only the failure.
        raise MailParseError("unreadable", f"cannot read message file ({type(exc).__name__})") from exc
    return parse_message(raw, max_attachment_bytes=max_attachment_bytes)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: scripts, styles and head dropped, blocks on their own lines."""
    return _html_to_text(html).text


# ------------------------------------------------------------------ pre-checks on the raw bytes

_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]{1,200}[ \t]*:")
_REQUIRED_HEADERS = ("from", "to", "subject", "date", "message-id")
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _prepare(raw: bytes, defects: list[str]) -> bytes:
    """Reject what is not an e-mail, undo wide encodings and BOMs; return bytes the parser can take."""
    if not raw.strip():
        raise MailParseError("empty", "no content" if not raw else "only whitespace")
    raw = _transcode_wide(raw, defects)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        defects.append("bom_stripped")
    kind, fmt = _sniff(raw[:64], anchored=True)
    if kind != "other":
        raise MailParseError("not_an_email", f"binary content: starts like a {fmt or kind} file")
    start = 0
    while True:  # leading blank lines would make the parser see an empty header block
        nl = raw.find(b"\n", start)
        line = raw[start:] if nl < 0 else raw[start:nl]
        if line.strip() or nl < 0:
            break
        start = nl + 1
    if start:
        raw = raw[start:]
        defects.append("leading_blank_lines")
    head = raw[:2048]
    if head.startswith(b"From "):  # mbox envelope line
        nl = head.find(b"\n")
        head = head[nl + 1 :] if nl >= 0 else b""
    if not _HEADER_LINE.match(head):
        raise MailParseError("not_an_email", "no header block: the first line is not a 'Name: value' field")
    blank = re.search(rb"\r?\n\r?\n", raw[:65536])
    header_block = raw[: blank.start()] if blank else raw[:65536]
    if b"\x00" in header_block:
        raise MailParseError("not_an_email", "binary content: NUL bytes in the header block")
    return raw


def _transcode_wide(raw: bytes, defects: list[str]) -> bytes:
    codec, skip = None, 0
    for bom, name in _WIDE_BOMS:
        if raw.startswith(bom):
            codec, skip = name, len(bom)
            break
    if codec is None and raw.count(0, 0, 256) >= 32:
        head = raw[:256]
        if not any(head[1::4] + head[2::4] + head[3::4]) and all(head[0::4]):
            codec = "utf-32-le"
        elif not any(head[0::4] + head[1::4] + head[2::4]) and all(head[3::4]):
            codec = "utf-32-be"
        elif not any(head[1::2]) and all(head[0::2]):
            codec = "utf-16-le"
        elif not any(head[0::2]) and all(head[1::2]):
            codec = "utf-16-be"
    if codec is None:
        return raw
    text = raw[skip:].decode(codec, errors="replace")
    if text.count("\ufffd") > max(2, len(text) // 100):
        raise MailParseError("undecodable", f"{codec.upper()} file with broken code units")
    defects.append(f"transcoded:{codec}")
    return text.encode("utf-8")


# ------------------------------------------------------------------ content sniffing

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_OOXML_PREFIXES = (b"[Content_Types].xml", b"word/", b"xl/", b"ppt/", b"docProps/", b"_rels/")


def _sniff(data: bytes, *, anchored: bool = False) -> tuple[str, str | None]:
    """(kind, format) from magic bytes: image, document, archive or other."""
    if data[:3] == b"\xff\xd8\xff":
        return "image", "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", "tiff"
    if data[:2] == b"BM" and len(data) >= 26 and data[6:10] == b"\x00\x00\x00\x00":
        return "image", "bmp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        box = data[: max(16, min(int.from_bytes(data[:4], "big"), 256))]
        if brand in (b"avif", b"avis") or (brand == b"mif1" and b"avif" in box[16:]):
            return "image", "avif"
        if brand in _HEIC_BRANDS:
            return "image", "heic"
        return "other", None
    if data[:5] == b"%PDF-" or (not anchored and b"%PDF-" in data[:1024]):
        return "document", "pdf"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "document", "ole"
    if data[:5] == b"{\\rtf":
        return "document", "rtf"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _sniff_zip(data)
    if data[:6] == b"Rar!\x1a\x07":
        return "archive", "rar"
    if data[:6] == b"7z\xbc\xaf\x27\x1c":
        return "archive", "7z"
    if data[:2] == b"\x1f\x8b":
        return "archive", "gzip"
    if data[:3] == b"BZh" and data[4:10] == b"1AY&SY":
        return "archive", "bzip2"
    if data[:6] == b"\xfd7zXZ\x00":
        return "archive", "xz"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "archive", "zstd"
    if data[:4] == b"MSCF":
        return "archive", "cab"
    if data[257:262] == b"ustar":
        return "archive", "tar"
    return "other", None


def _sniff_zip(data: bytes) -> tuple[str, str | None]:
    # Office files are zips; they are told apart by member names only, never by extracting.
    if data[:4] == b"PK\x03\x04" and len(data) >= 30:
        first = data[30 : 30 + int.from_bytes(data[26:28], "little")]
        if first.startswith(_OOXML_PREFIXES):
            return "document", "ooxml"
        if first == b"mimetype" and b"application/vnd.oasis.opendocument" in data[30:160]:
            return "document", "odf"
    tail = data[-262144:]
    pos = tail.find(b"[Content_Types].xml")
    while pos >= 0:
        if pos >= 46 and tail[pos - 46 : pos - 42] == b"PK\x01\x02":
            return "document", "ooxml"
        pos = tail.find(b"[Content_Types].xml", pos + 1)
    return "archive", "zip"


# ------------------------------------------------------------------ charsets

_SINGLE_BYTE_WESTERN = {"ascii", "iso8859-1", "iso8859-15", "cp1252"}
_REFUSED_CODECS = {"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem", "charmap"}
_C1_TO_CP1252 = {
    b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WESTERN_PUNCT = set("€‚„…‘’“”•–—™«»°£§©®\xa0·×²¡¿\xad")
_CP1252_HANDLER = "claimflow.cp1252"
_handler_registered = False


def _cp1252(data: bytes) -> str:
    """Windows-1252 as browsers decode it: never fails, undefined bytes keep their Latin-1 value."""
    return data.decode("latin-1").translate(_C1_TO_CP1252)


def _utf8_with_cp1252(data: bytes) -> str:
    global _handler_registered
    if not _handler_registered:
        codecs.register_error(_CP1252_HANDLER, lambda err: (_cp1252(err.object[err.start : err.end]), err.end))
        _handler_registered = True
    return data.decode("utf-8", errors=_CP1252_HANDLER)


def _codec_name(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return None
    return None if name.replace("_", "-") in _REFUSED_CODECS else name


def _plausible_western(text: str) -> bool:
    # charset_normalizer guesses big5 for "Dégâts des eaux" and cp1250 for French prose, so
    # single-byte Western text (our customers) is recognised first: few accented letters,
    # no symbols a Western writer would not type.
    extra = _NON_ASCII.findall(text)
    if not extra:
        return True
    letters = sum(1 for ch in extra if ch.isalpha())
    if letters + sum(1 for ch in extra if ch in _WESTERN_PUNCT) < len(extra):
        return False
    ascii_letters = len(text) - len(extra)
    return letters <= 0.3 * max(ascii_letters, 1)


def _guess_decode(data: bytes) -> tuple[str, str]:
    """Decode bytes whose charset is unknown or wrong; returns (text, what was used)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _UTF8_MULTIBYTE.search(data):  # mostly UTF-8 with a few stray Windows bytes (pasted signatures)
        return _utf8_with_cp1252(data), "utf-8+cp1252"
    western = _cp1252(data)
    if _plausible_western(western):
        return western, "cp1252"
    import charset_normalizer  # only here: most mail never needs a guess

    best = charset_normalizer.from_bytes(data).best()
    name = _codec_name(best.encoding) if best is not None and best.encoding else None
    if name:
        try:
            return data.decode(name), name
        except (UnicodeError, LookupError):  # a guess that fails to decode is no guess
            pass
    return western, "cp1252"


def _decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset, else the fallback chain; returns (text, defect code or None)."""
    label = (label or "").strip().strip("\"'").lower() or None
    if label is None:
        if data.isascii():
            return data.decode("ascii"), None
        text, used = _guess_decode(data)
        return text, None if used == "utf-8" else f"charset_fallback:none->{used}"
    name = _codec_name(label)
    if name == "utf-8":
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            pass
    elif name in _SINGLE_BYTE_WESTERN:
        if data.isascii():
            return data.decode("ascii"), None
        if _UTF8_MULTIBYTE.search(data):  # valid multibyte UTF-8 behind a Western label: mislabelled
            try:
                return data.decode("utf-8"), f"charset_fallback:{_short(label)}->utf-8"
            except UnicodeDecodeError:
                pass
        if name == "iso8859-15":
            return data.decode(name), None
        if name == "ascii":
            return _cp1252(data), f"charset_fallback:{_short(label)}->cp1252"
        return _cp1252(data), None  # "iso-8859-1" means windows-1252 in practice (as in browsers)
    elif name is not None:
        try:
            return data.decode(name), None
        except (UnicodeError, LookupError):  # LookupError: a bytes-to-bytes codec ("base64")
            pass
    text, used = _guess_decode(data)
    return text, f"charset_fallback:{_short(label)}->{used}"


def _short(label: str) -> str:
    return re.sub(r"[^a-z0-9._+-]", "?", label[:40])


# ------------------------------------------------------------------ headers

_EW = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MSG_ID = re.compile(r"<[^<>\s]{1,500}>")
_SURROGATES = re.compile("[\udc80-\udcff]")
_HEADER_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _unfold(value: str) -> str:
    """One line: folding undone, stray line breaks become spaces, control characters dropped."""
    return _one_line(_FOLD.sub("", value))


def _one_line(value: str) -> str:
    return _HEADER_CONTROLS.sub("", value.replace("\r", " ").replace("\n", " "))


def _fold_ws(text: str) -> str:
    return " ".join(text.split())


class _Builder:
    """Walks one parsed message tree and collects text, attachments and defects."""

    def __init__(self, limit: int):
        self.limit = limit
        self.defects: list[str] = []
        self.attachments: list[Attachment] = []
        self.repairs = 0

    def defect(self, code: str) -> None:
        if code not in self.defects:
            self.defects.append(code)

    # -------------------------------------------------------------- header helpers

    def header_text(self, raw: str | None) -> str | None:
        """A raw header value, unfolded, 8-bit decoded, RFC 2047 decoded."""
        if raw is None:
            return None
        return _one_line(self.decode_words(self.eight_bit(_unfold(raw))))

    def eight_bit(self, value: str) -> str:
        """Raw 8-bit bytes in a header (the parser keeps them as surrogate escapes), decoded."""
        if not _SURROGATES.search(value):  # surrogate escapes are the parser's mark of raw 8-bit bytes
            return value
        data = value.encode("utf-8", "surrogateescape")
        self.defect("8bit_header")
        text, bad = _decode_bytes(data, None)
        if bad:
            self.defect(bad)
        return text

    def decode_words(self, value: str) -> str:
        """RFC 2047 encoded words decoded, each through the charset fallback chain."""
        if "=?" not in value:
            return value
        out: list[str] = []
        pending: tuple[str, bytearray] | None = None
        pos = 0
        for m in _EW.finditer(value):
            gap = value[pos : m.start()]
            charset = m.group(1).split("*", 1)[0].lower()
            data = self._word_bytes(m.group(2).lower(), m.group(3))
            if pending is not None and not gap.strip():
                # Whitespace between adjacent encoded words is not text (RFC 2047 6.2); same-charset
                # words are joined before decoding because clients split multibyte characters.
                if charset == pending[0]:
                    pending[1].extend(data)
                else:
                    out.append(self._decode_word_bytes(*pending))
                    pending = (charset, bytearray(data))
            else:
                if pending is not None:
                    out.append(self._decode_word_bytes(*pending))
                out.append(gap)
                pending = (charset, bytearray(data))
            pos = m.end()
        if pending is not None:
            out.append(self._decode_word_bytes(*pending))
        out.append(value[pos:])
        return "".join(out)

    def _word_bytes(self, encoding: str, text: str) -> bytes:
        payload = text.encode("ascii", "ignore")
        if encoding == "b":
            data, bad = _b64decode(payload)
            if bad:
                self.defect("bad_encoded_word")
            return data
        return binascii.a2b_qp(payload, header=True)

    def _decode_word_bytes(self, charset: str, data: bytearray) -> str:
        text, bad = _decode_bytes(bytes(data), charset)
        if bad:
            self.defect(bad)
        return text

    # -------------------------------------------------------------- MIME walk

    def walk(self, msg) -> list[_Scope]:
        top = _Scope(None)
        scopes = [top]
        stack: list[tuple[object, _Scope]] = [(msg, top)]
        while stack:
            part, scope = stack.pop()
            self._python_defects(part)
            info = _PartInfo.of(part, self)
            payload = _raw_payload(part)
            if isinstance(payload, list):
                children = [p for p in payload if isinstance(p, email.message.Message)]
                if info.maintype == "message":
                    sub = self._embedded_message(children, info) if info.subtype in ("rfc822", "global") else None
                    if sub is not None:
                        fwd = _Scope(self._forward_headers(sub))
                        scopes.append(fwd)
                        stack.append((sub, fwd))
                    else:  # delivery reports and the like: kept whole as an attachment
                        self._attach(info, _message_bytes(part))
                    continue
                stack.extend((child, scope) for child in reversed(children))
                continue
            if info.maintype == "multipart":
                if not info.has_boundary:
                    self.defect("missing_boundary")
                children = self._repair_multipart(part, payload)
                if children is not None:
                    stack.extend((child, scope) for child in reversed(children))
                    continue
                info = info.as_plain_text()
            self._leaf(part, info, payload, scope)
        return scopes

    def _embedded_message(self, children: list, info: _PartInfo):
        if not children:
            return None
        sub = children[0]
        if info.cte in ("base64", "quoted-printable"):
            # Outlook sometimes base64-encodes a forwarded message; the parser cannot see through it.
            inner = _raw_payload(sub)
            if isinstance(inner, str) and not sub.keys():
                data, _ = self._transfer_decode(inner, info.cte)
                if data:
                    self.defect("encoded_message_part")
                    return _parse_bytes(data)
        return sub

    def _forward_headers(self, sub) -> dict[str, str]:
        raw = _first_headers(sub)
        shown = {}
        for name, label in (("from", "From"), ("date", "Date"), ("subject", "Subject")):
            value = self.header_text(raw.get(name))
            if value:
                shown[label] = _fold_ws(value)
        return shown

    def _repair_multipart(self, part, payload) -> list | None:
        """A multipart body the parser could not split (no or wrong boundary): guess the boundary."""
        if not isinstance(payload, str) or self.repairs >= 20:
            return None
        self.repairs += 1
        body = payload.encode("utf-8", "surrogateescape")
        m = re.search(rb"(?m)^--([^\s]{1,70}?)(?:--)?[ \t]*\r?$", body)
        if not m:
            return None
        boundary = m.group(1).replace(b'"', b"")
        rebuilt = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + body
        repaired = _parse_bytes(rebuilt)
        children = _raw_payload(repaired)
        if isinstance(children, list) and children:
            return children
        return None

    def _python_defects(self, part) -> None:
        for d in getattr(part, "defects", ()):
            code = _PY_DEFECTS.get(type(d))
            if code:
                self.defect(code)

    # -------------------------------------------------------------- leaves

    def _leaf(self, part, info: _PartInfo, payload, scope: _Scope) -> None:
        raw = payload if isinstance(payload, (str, bytes)) else ""
        data, bad = self._transfer_decode(raw, info.cte)
        if data is None:
            self._attach(info, None, size=len(raw))
            return
        body = info.ctype in ("text/plain", "text/html") and info.disposition != "attachment" and not info.filename
        if body and _sniff(data[:1024], anchored=True)[0] == "other":
            text, cs_defect = _decode_bytes(data, info.charset)
            if _looks_like_text(text):
                if cs_defect:
                    self.defect(cs_defect)
                text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
                if info.ctype == "text/html":
                    scope.html.append(text)
                else:
                    scope.plain.append(_unflow(text, info.delsp) if info.flowed else text)
                return
            if bad:  # a broken transfer encoding produced noise, not text
                self._attach(info, None, size=len(raw))
                return
        self._attach(info, data)

    def _transfer_decode(self, raw: str | bytes, cte: str) -> tuple[bytes | None, bool]:
        """Bytes of a part body per its transfer encoding; (None, True) when nothing survives."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if cte == "base64":
            data, bad = _b64decode(raw)
            if bad:
                self.defect("bad_base64")
                if not data and raw.strip():
                    return None, True
            return data, bad
        if cte == "quoted-printable":
            return binascii.a2b_qp(raw), False
        if cte in ("", "7bit", "8bit", "binary"):
            return raw, False
        if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
            data = _uudecode(raw)
            if data is None:
                self.defect("bad_uuencode")
                return None, True
            return data, False
        self.defect("unknown_transfer_encoding")
        return raw, False

    def _attach(self, info: _PartInfo, data: bytes | None, size: int = 0) -> None:
        """Record a non-body part; `data=None` means it could not be decoded."""
        declared = {"filename": info.filename, "content_type": info.ctype}
        if data is None:
            skipped = {"kind": "other", "image_format": None, "size": size, "sha256": None}
            self.attachments.append(Attachment(**declared, **skipped, skipped_reason="undecodable_part"))
            return
        kind, fmt = _sniff(data if data[:4] == b"PK\x03\x04" else data[:4096])
        sniffed = {"kind": kind, "image_format": fmt if kind == "image" else None, "size": len(data)}
        if len(data) > self.limit:
            self.defect("attachment_too_large")
            self.attachments.append(Attachment(**declared, **sniffed, sha256=None, skipped_reason="too_large"))
            return
        digest = hashlib.sha256(data).hexdigest()
        self.attachments.append(Attachment(**declared, **sniffed, sha256=digest, data=data))


@dataclass
class _Scope:
    """Body parts of one message: the top one, or a forwarded one (with its shown headers)."""

    shown: dict[str, str] | None
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)


@dataclass
class _PartInfo:
    ctype: str
    maintype: str
    subtype: str
    charset: str | None
    cte: str
    disposition: str | None
    filename: str | None
    flowed: bool = False
    delsp: bool = False
    has_boundary: bool = False

    @classmethod
    def of(cls, part, builder: _Builder) -> _PartInfo:
        raw = _first_headers(part)
        m = email.message.Message()  # compat32 parameter parsing: no header objects, no surprises
        m.set_default_type(part.get_default_type())
        for name in ("content-type", "content-disposition"):
            if raw.get(name) is not None:
                m[name] = _unfold(raw[name])
        ctype = m.get_content_type()
        maintype, _, subtype = ctype.partition("/")
        cte = _unfold(raw.get("content-transfer-encoding") or "").strip().lower()
        cte = re.split(r"[\s;(]", cte, maxsplit=1)[0] if cte else ""
        return cls(
            ctype=ctype,
            maintype=maintype,
            subtype=subtype,
            charset=_param(m.get_content_charset),
            cte=cte,
            disposition=m.get_content_disposition(),
            filename=_filename(m, builder),
            flowed=maintype == "text" and str(_param(m.get_param, "format") or "").lower() == "flowed",
            delsp=maintype == "text" and str(_param(m.get_param, "delsp") or "").lower() == "yes",
            has_boundary=maintype == "multipart" and _param(m.get_boundary) is not None,
        )

    def as_plain_text(self) -> _PartInfo:
        return _PartInfo("text/plain", "text", "plain", self.charset, self.cte, None, None)


def _param(getter, *args):
    try:
        value = getter(*args)
        if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
            value = email.utils.collapse_rfc2231_value(value, errors="replace")
        return value
    except (UnicodeError, LookupError):  # an RFC 2231 value naming a codec that cannot decode
        return None


def _filename(m: email.message.Message, builder: _Builder) -> str | None:
    for value in (_param(m.get_filename), _param(m.get_param, "name")):
        if isinstance(value, str) and value.strip():
            return builder.header_text(value.strip())
    return None


_PY_DEFECTS = {
    email.errors.NoBoundaryInMultipartDefect: "missing_boundary",
    email.errors.StartBoundaryNotFoundDefect: "boundary_not_found",
    email.errors.CloseBoundaryNotFoundDefect: "unclosed_boundary",
    email.errors.FirstHeaderLineIsContinuationDefect: "bad_header_continuation",
    email.errors.MisplacedEnvelopeHeaderDefect: "misplaced_envelope_header",
    email.errors.MissingHeaderBodySeparatorDefect: "missing_header_separator",
    email.errors.MultipartInvariantViolationDefect: "multipart_not_split",
    email.errors.InvalidMultipartContentTransferEncodingDefect: "bad_multipart_encoding",
}


def _first_headers(part) -> dict[str, str]:
    """First raw value of each header, by lower-cased name (raw: undecoded, unparsed, never raising)."""
    out: dict[str, str] = {}
    for name, value in part.raw_items():
        key = str(name).lower()
        if key not in out:
            out[key] = value if isinstance(value, str) else str(value)
    return out


def _raw_payload(part):
    # The parser's stored body is the only exact copy: get_payload() re-decodes 8-bit bodies
    # through the declared charset with errors="replace" and re-reads the CTE header itself.
    return getattr(part, "_payload", None)


def _message_bytes(part) -> bytes | None:
    try:
        return part.as_bytes(policy=email.policy.compat32)
    except Exception:  # the stdlib generator re-encodes hostile headers; such a part is undecodable
        return None


_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/=]")


def _b64decode(raw: bytes) -> tuple[bytes, bool]:
    """Base64 decode; (best-effort bytes, True) when the input was not clean base64."""
    compact = raw.translate(None, b" \t\r\n\x0b\x0c")
    try:
        return binascii.a2b_base64(compact, strict_mode=True), False
    except (binascii.Error, ValueError):
        pass
    out = bytearray()
    # Some encoders pad every line; each '='-terminated run is decoded on its own.
    for piece in re.split(rb"=+", _B64_JUNK.sub(b"", compact)):
        if len(piece) % 4 == 1:
            piece = piece[:-1]
        try:
            out += binascii.a2b_base64(piece + b"=" * (-len(piece) % 4))
        except (binascii.Error, ValueError):
            continue
    return bytes(out), True


def _uudecode(raw: bytes) -> bytes | None:
    out = bytearray()
    started = False
    for line in raw.splitlines():
        if not started:
            started = line.startswith(b"begin")
            continue
        if line.strip() == b"end":
            return bytes(out)
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            try:  # the uu module's workaround for encoders that pad lines badly
                n = (((line[0] - 32) & 63) * 4 + 5) // 3
                out += binascii.a2b_uu(line[:n])
            except (binascii.Error, IndexError):
                return None
    return bytes(out) if started else None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")


def _looks_like_text(text: str) -> bool:
    sample = text[:65536]
    return len(_CONTROL.findall(sample)) <= 0.05 * len(sample)


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: lines ending in a space continue on the next line."""
    out: list[str] = []
    buf = ""
    for line in text.split("\n"):
        if line.endswith(" ") and line != "-- ":
            buf += line[:-1] if delsp else line
        else:
            out.append(buf + line)
            buf = ""
    if buf:
        out.append(buf)
    return "\n".join(out)


# ------------------------------------------------------------------ HTML


@dataclass(frozen=True)
class _HtmlText:
    text: str
    hidden: bool
    script: bool
    truncated: bool


MAX_HTML_CHARS = 2_000_000
_UNMATCHED_LT = re.compile(r"<(?![^<>]*>)")


# Block boundaries are marked while parsing and resolved at the end, so that nested blocks
# (<tr><td><div>) give one line break and paragraphs (or a <br> at a boundary) a blank line.
_PARAGRAPH, _LINE = "\x1d", "\x1e"
_BREAKS = re.compile(r"\s*[\x1d\x1e][\s\x1d\x1e]*")
_DROP_TAGS = {"script", "style", "head", "title", "template", "noscript", "object", "iframe"}
_VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
}
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
    "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption",
}
_SELF_CLOSING_SIBLINGS = {"p", "li", "tr", "td", "th", "dt", "dd", "option"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all|font-size\s*:\s*0(?:\.0*)?(?:px|pt|em|%)?\s*(?:;|$|!)"
    r"|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$|!)",
    re.IGNORECASE,
)


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, hidden, dropped)
        self.open: dict[str, int] = {}  # tag -> how many are on the stack: end tags stay O(1)
        self.hidden_depth = 0
        self.drop_depth = 0
        self.pre_depth = 0
        self.saw_hidden = False
        self.saw_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":  # an unclosed <head> must not swallow the body
            while self.stack and self.stack[-1][0] in ("head", "title"):
                self._pop()
        if tag in _SELF_CLOSING_SIBLINGS and self.stack and self.stack[-1][0] == tag:
            self._pop()
        self._break(tag)
        if tag in _VOID_TAGS:
            return
        attrs = dict(attrs)
        hidden = "hidden" in attrs or bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))
        dropped = tag in _DROP_TAGS
        if tag == "script":
            self.saw_script = True
        self.stack.append((tag, hidden, dropped))
        self.open[tag] = self.open.get(tag, 0) + 1
        self.hidden_depth += hidden
        self.drop_depth += dropped
        self.pre_depth += tag == "pre"

    def _break(self, tag: str) -> None:
        if tag == "br":
            self.out.append("\n")
        elif tag == "p":
            self.out.append(_PARAGRAPH)
        elif tag in _BLOCK_TAGS:
            self.out.append(_LINE)
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if not self.open.get(tag):
            if tag in ("p", "br"):  # a stray </p> or </br> still breaks the line, as browsers do
                self._break(tag)
            return
        while self.stack:
            top = self._pop()
            if top == tag:
                break
        if tag != "br":
            self._break(tag)

    def _pop(self) -> str:
        tag, hidden, dropped = self.stack.pop()
        self.open[tag] -= 1
        self.hidden_depth -= hidden
        self.drop_depth -= dropped
        self.pre_depth -= tag == "pre"
        return tag

    def handle_data(self, data):
        if self.drop_depth:
            return
        if self.hidden_depth and data.strip():
            self.saw_hidden = True
        data = data.replace(_PARAGRAPH, " ").replace(_LINE, " ")
        self.out.append(data if self.pre_depth else re.sub(r"\s+", " ", data))


def _html_to_text(html: str) -> _HtmlText:
    parser = _TextExtractor()
    truncated = len(html) > MAX_HTML_CHARS
    # html.parser rescans to the end of input for every "<" that opens no tag ("<a <a <a ...",
    # "</</</"): quadratic, 10 KB took 2 s. Such a "<" is text anyway, so it is escaped first.
    html = _UNMATCHED_LT.sub("&lt;", html[:MAX_HTML_CHARS])
    try:
        parser.feed(html)
        parser.close()
        raw = "".join(parser.out)
    except Exception:  # the stdlib HTMLParser on hostile markup; tags stripped by hand still read well
        import html as html_lib

        raw = html_lib.unescape(re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>|<[^>]*>", " ", html))
    raw = _BREAKS.sub(lambda m: "\n\n" if _PARAGRAPH in m.group() or "\n" in m.group() else "\n", raw)
    lines = [_fold_ws(line) for line in raw.replace("\r", "\n").split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return _HtmlText(text, parser.saw_hidden, parser.saw_script, truncated)


# ------------------------------------------------------------------ assembly


def _parse(raw: bytes, limit: int) -> MailMessage:
    pre_defects: list[str] = []
    raw = _prepare(raw, pre_defects)
    return _assemble(_parse_bytes(raw), _Builder(limit), pre_defects)


class _TolerantMessage(email.message.Message):
    """A compat32 message whose boundary lookup, which the parser itself calls, cannot raise."""

    def get_boundary(self, failobj=None):
        try:
            return super().get_boundary(failobj)
        except (UnicodeError, LookupError):  # an RFC 2231 boundary in a codec that cannot decode
            return failobj


def _parse_bytes(raw: bytes) -> email.message.Message:
    # compat32, not policy.default: every header is decoded here from its raw value anyway, and
    # the default policy's header objects cost ~0.35 ms per MIME part inside the parser (a
    # 2,500-part mail took 0.9 s against 0.06 s) and raise on some malformed parameters.
    return email.message_from_bytes(raw, _class=_TolerantMessage, policy=email.policy.compat32)


def _assemble(msg, b: _Builder, pre_defects: list[str]) -> MailMessage:
    for code in pre_defects:
        b.defect(code)
    headers = _first_headers(msg)
    if not any(name in headers for name in _REQUIRED_HEADERS):
        raise MailParseError("not_an_email", "none of From, To, Subject, Date or Message-ID is present")
    counts: dict[str, int] = {}
    for name, value in msg.raw_items():
        key = str(name).lower()
        counts[key] = counts.get(key, 0) + 1
        if len(value) > 998:
            b.defect("long_header")
    for name in _REQUIRED_HEADERS:
        if counts.get(name, 0) > 1:
            b.defect(f"duplicate_header:{name}")

    subject = _fold_ws(b.header_text(headers.get("subject")) or "")
    sender_address, sender_name = _sender(b, headers.get("from") or headers.get("sender"))
    to = tuple(addr for _, addr in _addresses(b, headers.get("to")) if "@" in addr)
    date = _date(b, headers.get("date"))
    in_reply_to = _first_id(b.header_text(headers.get("in-reply-to")))
    refs_raw = b.header_text(headers.get("references")) or ""
    references = tuple(_MSG_ID.findall(refs_raw)) or tuple(refs_raw.split()[:100])

    scopes = b.walk(msg)
    text, html_only = _scope_text(scopes[0], b)
    for scope in scopes[1:]:  # forwarded messages, in document order
        fwd, _ = _scope_text(scope, b)
        head = [FORWARD_SEPARATOR] + [f"{k}: {v}" for k, v in (scope.shown or {}).items()]
        block = "\n".join(head) + ("\n\n" + fwd if fwd else "")
        text = f"{text}\n\n{block}" if text else block
    attachments = tuple(b.attachments)
    if not text.strip() and attachments and all(a.skipped_reason == "undecodable_part" for a in attachments):
        raise MailParseError("undecodable", "no part of the message could be decoded")

    content_hash = _content_hash(sender_address, subject, text, attachments)
    # After the hash: the hash stays what it was for the same bytes, attachments count by sha256.
    for separator, name, extra in _attachment_texts(attachments, b, f"{subject}\n{text}"):
        block = f"{separator.format(name=name)}\n{extra}"
        text = f"{text}\n\n{block}" if text else block
    message_id = _first_id(b.header_text(headers.get("message-id")))
    if not message_id:
        b.defect("missing_message_id" if "message-id" not in headers else "bad_message_id")
        message_id = f"<{content_hash[:24]}@claimflow.invalid>"
    return MailMessage(
        message_id=message_id,
        date=date,
        sender_address=sender_address,
        sender_name=sender_name,
        to=to,
        subject=subject,
        in_reply_to=in_reply_to,
        references=references,
        text=text,
        html_only=html_only,
        attachments=attachments,
        defects=tuple(b.defects),
        content_hash=content_hash,
        signals=_signals(msg, headers, b),
        utc_offset_minutes=_utc_offset(b, headers.get("date")),
    )


def _scope_text(scope: _Scope, b: _Builder) -> tuple[str, bool]:
    """(text, came from HTML): the plain parts if any has content, else the HTML ones converted."""
    plain = [p.strip() for p in scope.plain if p.strip()]
    if plain and scope.html and sum(len(p) for p in plain) < _STUB_CHARS:
        # A stub ("Bitte HTML-Ansicht verwenden") beside the real HTML body: the HTML is the mail.
        richer = sum(len(_html_to_text(h).text) for h in scope.html)
        if richer > 3 * sum(len(p) for p in plain):
            b.defect("plain_part_stub")
            plain = []
    if plain:
        return "\n\n".join(plain), False
    if not scope.html:
        return "", False
    parts = []
    for html in scope.html:
        converted = _html_to_text(html)
        if converted.hidden:
            b.defect("hidden_html_text")
        if converted.script:
            b.defect("html_script")
        if converted.truncated:
            b.defect("html_truncated")
        if converted.text:
            parts.append(converted.text)
    return "\n\n".join(parts), True


def _addresses(b: _Builder, raw: str | None) -> list[tuple[str, str]]:
    if raw is None:
        return []
    value = b.eight_bit(_unfold(raw))
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:  # the stdlib address parser on hostile input
        b.defect("bad_address_header")
        return []
    return [
        (_one_line(b.decode_words(name)).strip(), _one_line(addr).strip()) for name, addr in pairs if name or addr
    ]


def _sender(b: _Builder, raw: str | None) -> tuple[str | None, str | None]:
    pairs = _addresses(b, raw)
    for name, addr in pairs:
        if "@" in addr:
            return addr, (_fold_ws(name) or None)
    if raw is not None:
        b.defect("bad_sender")
        name = _fold_ws(b.header_text(raw) or "")
        return None, name or None
    return None, None


def _date(b: _Builder, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    value = _fold_ws(b.header_text(raw) or "")
    try:
        dt = email.utils.parsedate_to_datetime(value)
        if dt.tzinfo is None:  # "-0000": the sender did not know its zone; RFC 5322 says read it as UTC
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, IndexError):
        b.defect("bad_date")
        return None


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    m = _MSG_ID.search(value)
    if m:
        return m.group(0)
    value = value.strip()
    return value if value and len(value) <= 500 and " " not in value else None


def _content_hash(sender: str | None, subject: str, text: str, attachments: tuple[Attachment, ...]) -> str:
    tokens = sorted(a.sha256 or f"{a.skipped_reason}:{a.size}" for a in attachments)
    h = hashlib.sha256(b"claimflow-mail-v1")
    for piece in ((sender or "").lower(), _fold_ws(subject), _fold_ws(text), ",".join(tokens)):
        h.update(b"\x1f")
        h.update(piece.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


# ------------------------------------------------------------------ what the headers say about the mail

_AUTO_SUBMITTED = re.compile(r"^\s*auto-(?:replied|generated|notified)", re.IGNORECASE)


def _signals(msg, headers: dict[str, str], b: _Builder) -> tuple[str, ...]:
    """Header facts that tell a machine-sent mail apart: auto-replies, list mail, delivery reports."""
    out = []
    auto = b.header_text(headers.get("auto-submitted")) or ""
    if _AUTO_SUBMITTED.match(auto):
        out.append("auto_replied" if "replied" in auto.lower() else "auto_generated")
    if headers.get("x-autoreply") or headers.get("x-autorespond"):
        out.append("auto_replied")
    precedence = (b.header_text(headers.get("precedence")) or "").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        out.append("bulk")
    elif precedence == "auto_reply":
        out.append("auto_replied")
    if headers.get("list-unsubscribe") or headers.get("list-id"):
        out.append("list")
    ctype = (b.header_text(headers.get("content-type")) or "").lower()
    if ctype.startswith("multipart/report") and "delivery-status" in ctype:
        out.append("delivery_report")
    return tuple(dict.fromkeys(out))


def _utc_offset(b: _Builder, raw: str | None) -> int | None:
    """Minutes east of UTC in the Date header (the writer's clock), None when absent or unreadable."""
    if raw is None:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(_fold_ws(b.header_text(raw) or ""))
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    offset = dt.utcoffset() if dt.tzinfo is not None else None
    return None if offset is None else int(offset.total_seconds() // 60)


def _attachment_texts(
    attachments: tuple[Attachment, ...], b: _Builder, hint: str
) -> list[tuple[str, str, str]]:
    """(separator, name, text) of attachments that carry words: plain-text files, the text layer of
    PDFs, and (OCR, `connectors/ocr.py`) PDF pages without one and images that are documents."""
    out = []
    ocr = OcrSession(hint_text=hint, defect=b.defect)
    for att in attachments:
        if att.data is None:
            continue
        name = (att.filename or att.content_type or "attachment").replace("\n", " ")[:120]
        text = read = None
        if att.kind == "document" and att.content_type in ("application/pdf", "application/octet-stream") \
                or (att.kind == "document" and (att.filename or "").lower().endswith(".pdf")):
            text, scanned = _pdf_text(att.data, b)
            if scanned:
                read = ocr.read_images(load for page in scanned for load in pdf_page_images(page))
        elif att.kind == "other" and (att.content_type == "text/plain" or (att.filename or "").lower().endswith(".txt")):
            decoded, bad = _decode_bytes(att.data, None)
            text = decoded if _looks_like_text(decoded) else None
        elif att.kind == "image" and is_document_image(att.filename, att.data):
            read = ocr.read_images([lambda data=att.data: _open_image(data)])
        if text and text.strip():
            out.append((ATTACHMENT_SEPARATOR, name, text.strip()[:MAX_ATTACHMENT_TEXT]))
        if read and read.strip():
            out.append((OCR_SEPARATOR, name, read.strip()[:MAX_ATTACHMENT_TEXT]))
    return out


def _open_image(data: bytes):
    from PIL import Image

    return Image.open(__import__("io").BytesIO(data))


def _pdf_text(data: bytes, b: _Builder) -> tuple[str | None, list]:
    """(text layer, pages without one) of a PDF (pypdf); (None, []) for a PDF pypdf cannot open."""
    try:
        import logging

        import pypdf  # only for mail that carries a PDF

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        reader = pypdf.PdfReader(__import__("io").BytesIO(data), strict=False)
        pages = [(page, page.extract_text() or "") for page in reader.pages[:20]]
    except Exception:  # noqa: BLE001 - a broken PDF is an attachment without text, never a failed mail
        b.defect("pdf_unreadable")
        return None, []
    text = "\n".join(t for _, t in pages).strip()
    if not text:
        b.defect("pdf_without_text")
    return text or None, [page for page, t in pages if not t.strip()]
