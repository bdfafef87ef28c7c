"""Claim photo quality and photo reuse, as plain functions (no Dagster here).

`assess_photo` turns an attachment's bytes into a `PhotoQuality`: sharpness,
exposure and resolution checks with the reasons a photo is poor, one `score` in
0..1 that feeds the risk model's `photo_quality` feature, a 64-bit perceptual hash
and the EXIF capture date. `find_reused` finds the same picture sent with
different claims (a fraud signal) through the perceptual hash, so re-encoded or
resized copies count as well as identical bytes.

Measurements are taken on an analysis copy whose long side is at most
`ANALYSIS_SIDE` pixels (JPEGs are downscaled while decoding, by Pillow's draft
mode), so a 12-megapixel photo costs about what a 0.3-megapixel one does and
sharpness means the same at every resolution.

Score (0..1, the risk model's `photo_quality`): each check gives a sub-score
on a log-logistic curve of its margin r (value relative to the threshold, so
r = 1 exactly at the threshold): s = r^k / (1 + r^k), which is 0.5 at the
threshold, rises monotonically with quality and saturates towards 1. The score
is their product:

    score = s_sharp * s_exposure * s_resolution
    s_sharp       r = sharpness / min_sharpness                              k = 1.5
    s_exposure    r = min(brightness / min_brightness,
                          (1 - brightness) / (1 - max_brightness),
                          max_clipped_share / max(dark_share, bright_share))  k = 3
    s_resolution  r = min(long side / min_width, short side / min_height)    k = 3

A photo failing any check scores below 0.5 (one sub-score is below 0.5, the
others at most 1), and no good sub-score buys back a failed one. On the sample
generator's photos (connectors.samples.photos): undegraded 0.40..0.93 (median
0.79), blurred 0.003..0.16, dark 0.003..0.22, tiny 0.005..0.025.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from itertools import combinations, pairwise
from typing import NamedTuple

import numpy as np
from PIL import (  # noqa: F401  (importing a plugin registers its decoder for PHOTO_FORMATS)
    BmpImagePlugin,
    ExifTags,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

ANALYSIS_SIDE = 512
# Only these decoders may run on attachment bytes (Pillow would otherwise try
# every plugin, EPS through Ghostscript included). Multi-picture phone JPEGs
# (MPO) open through the JPEG decoder.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF")
DARK_LEVEL = 5  # grey levels at or below: clipped shadows
BRIGHT_LEVEL = 250  # at or above: clipped highlights
# Sharpness brightens a dark frame at most 255 / MIN_WHITE times, so a black
# frame does not turn its JPEG noise into "detail".
MIN_WHITE = 32
EXIF_AFTER_DAYS = 1
EXIF_BEFORE_DAYS = 365
SCORE_STEEPNESS = {"sharpness": 1.5, "exposure": 3.0, "resolution": 3.0}
PHASH_BITS = 64
# A perceptual hash with fewer set bits comes from a flat frame (its DCT
# coefficients tie), and every blank frame would "match" every other one.
MIN_PHASH_BITS = 16
DIRECT_BAND_BITS = 20  # bands up to this wide index a bucket table (2^20 int64: 8 MB)


class PhotoError(ValueError):
    """Bytes that are not a readable photo: empty, corrupt, or another kind of file."""


@dataclass(frozen=True)
class QualityThresholds:
    """Where a photo turns poor, calibrated on skimage.data photographs and degraded copies.

    Calibration (tests/unit/test_photos.py keeps it honest): 2,500 undegraded
    photos of the sample generator have sharpness >= 99 and blurred ones
    (Gaussian, scaled to the photo's size) <= 21, so 55 sits at the geometric middle; the
    full-size skimage photographs measure >= 200, and <= 25 once blurred with
    sigma 3. Undegraded mean brightness is >= 0.22, under-exposed copies
    (gamma 1.3, gain 0.12..0.35) <= 0.15: 0.18. The brightest photograph is
    0.64, so 0.85 mirrors the dark bound (2.5x over-exposure of the astronaut,
    the cameraman or gravel clips 46..70% of the pixels). The most black in a
    good photo is 22% (the astronaut's suit and space): 30%. 320x240 (QVGA)
    passes the generator's smallest real photo (400x300) and fails its tiny
    ones (<= 96x72). Width and height apply to the long and the short side, so
    portrait photos meet the same bar as landscape ones.
    """

    min_sharpness: float = 55.0
    min_brightness: float = 0.18
    max_brightness: float = 0.85
    max_clipped_share: float = 0.30
    min_width: int = 320
    min_height: int = 240


@dataclass(frozen=True)
class PhotoQuality:
    """What one claim photo shows about itself; `reasons` explain a poor verdict and any EXIF mismatch."""

    sha256: str
    width: int
    height: int
    format: str
    sharpness: float
    brightness: float
    dark_share: float
    bright_share: float
    exposure_ok: bool
    resolution_ok: bool
    sharp_ok: bool
    phash: str
    exif_datetime: str | None
    exif_vs_incident_days: int | None
    sharpness_score: float
    exposure_score: float
    resolution_score: float
    score: float
    verdict: str  # "ok" | "poor"
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-ready fields."""
        return asdict(self)


class ReusedPhoto(NamedTuple):
    """Two photos of different claims whose perceptual hashes are within the distance."""

    claim_a: str
    claim_b: str
    sha_a: str
    sha_b: str
    distance: int


# ------------------------------------------------------------------ assessment


def assess_photo(
    data: bytes, *, thresholds: QualityThresholds = QualityThresholds(), incident_date: date | None = None
) -> PhotoQuality:
    """Measure one photo's sharpness, exposure and resolution, hash it and read its EXIF date.

    Raises `PhotoError` for empty, corrupt or non-image bytes. With `incident_date`,
    an EXIF capture date more than a day after the incident or more than a year
    before it adds a reason; the verdict stays about quality alone.
    """
    image, fmt, (width, height), exif = _decode(data)
    gray = np.asarray(image, dtype=np.uint8)
    histogram = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    histogram /= histogram.sum()
    brightness = float(histogram @ np.arange(256)) / 255.0
    dark_share = float(histogram[: DARK_LEVEL + 1].sum())
    bright_share = float(histogram[BRIGHT_LEVEL:].sum())
    sharpness = _sharpness(gray, histogram)

    t = thresholds
    long_side, short_side = max(width, height), min(width, height)
    sharp_ok = sharpness >= t.min_sharpness
    too_dark = brightness < t.min_brightness
    too_bright = brightness > t.max_brightness
    exposure_ok = not (too_dark or too_bright or max(dark_share, bright_share) > t.max_clipped_share)
    resolution_ok = long_side >= t.min_width and short_side >= t.min_height

    reasons = []
    if not sharp_ok:
        reasons.append(f"blurred: Laplacian variance {sharpness:.1f} < {t.min_sharpness:g}")
    if too_dark:
        reasons.append(f"too dark: mean brightness {brightness:.2f} < {t.min_brightness:g}")
    if too_bright:
        reasons.append(f"too bright: mean brightness {brightness:.2f} > {t.max_brightness:g}")
    if dark_share > t.max_clipped_share:
        reasons.append(f"clipped shadows: {dark_share:.0%} of pixels black > {t.max_clipped_share:.0%}")
    if bright_share > t.max_clipped_share:
        reasons.append(f"clipped highlights: {bright_share:.0%} of pixels white > {t.max_clipped_share:.0%}")
    if not resolution_ok:
        reasons.append(f"too small: {width}x{height} < {t.min_width}x{t.min_height}")

    s_sharp = _log_logistic(sharpness / t.min_sharpness, SCORE_STEEPNESS["sharpness"])
    clipped = max(dark_share, bright_share)
    s_exposure = _log_logistic(
        min(
            brightness / t.min_brightness,
            (1.0 - brightness) / (1.0 - t.max_brightness),
            t.max_clipped_share / clipped if clipped else math.inf,
        ),
        SCORE_STEEPNESS["exposure"],
    )
    s_resolution = _log_logistic(
        min(long_side / t.min_width, short_side / t.min_height), SCORE_STEEPNESS["resolution"]
    )
    score = s_sharp * s_exposure * s_resolution

    taken = _exif_datetime(exif)
    days = None
    if taken is not None and incident_date is not None:
        incident = incident_date.date() if isinstance(incident_date, datetime) else incident_date
        days = (taken.date() - incident).days
        if days > EXIF_AFTER_DAYS:
            reasons.append(f"exif date {taken.date()} vs incident {incident}: taken {days} days after the incident")
        elif days < -EXIF_BEFORE_DAYS:
            reasons.append(f"exif date {taken.date()} vs incident {incident}: taken {-days} days before the incident")

    return PhotoQuality(
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        format=fmt,
        sharpness=round(sharpness, 2),
        brightness=round(brightness, 4),
        dark_share=round(dark_share, 4),
        bright_share=round(bright_share, 4),
        exposure_ok=exposure_ok,
        resolution_ok=resolution_ok,
        sharp_ok=sharp_ok,
        phash=phash(image),
        exif_datetime=taken.isoformat() if taken else None,
        exif_vs_incident_days=days,
        sharpness_score=round(s_sharp, 4),
        exposure_score=round(s_exposure, 4),
        resolution_score=round(s_resolution, 4),
        score=round(score, 4),
        verdict="ok" if sharp_ok and exposure_ok and resolution_ok else "poor",
        reasons=reasons,
    )


def _decode(data: bytes) -> tuple[Image.Image, str, tuple[int, int], Image.Exif | None]:
    """The grayscale analysis copy, the format, the displayed size and the EXIF block."""
    if not data:
        raise PhotoError("empty file: 0 bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
    except Image.DecompressionBombError as err:
        raise PhotoError(f"image too large to decode safely: {_one_line(err)}") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise PhotoError(_not_an_image(data)) from None
    fmt = "jpeg" if image.format in ("JPEG", "MPO") else (image.format or "unknown").lower()
    exif = _exif(image)
    orientation = exif.get(ExifTags.Base.Orientation, 1) if exif else 1
    try:
        width, height = image.size
        if image.format in ("JPEG", "MPO"):
            # Decode luminance only, at 1/2, 1/4 or 1/8 scale, keeping the long side >= ANALYSIS_SIDE.
            scale = max(1, max(width, height) // ANALYSIS_SIDE)
            image.draft("L", (max(1, width // scale), max(1, height // scale)))
        image = _grayscale(image)
    except Image.DecompressionBombError as err:
        raise PhotoError(f"image too large to decode safely: {_one_line(err)}") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as err:
        raise PhotoError(f"corrupt {fmt} image: {_one_line(err)}") from None
    if image.width < 1 or image.height < 1:
        raise PhotoError(f"corrupt {fmt} image: no pixels")
    if max(image.size) > ANALYSIS_SIDE:
        ratio = ANALYSIS_SIDE / max(image.size)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        image = image.resize(size, Image.Resampling.BOX)
    transpose = _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    if transpose is not None:
        image = image.transpose(transpose)
        if orientation >= 5:
            width, height = height, width
    return image, fmt, (width, height), exif


_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _grayscale(image: Image.Image) -> Image.Image:
    """8-bit luminance whatever the mode: 16-bit and float frames are rescaled, not clipped."""
    image.load()
    if image.mode.startswith("I;16"):
        top = 65535.0
    elif image.mode in ("I", "F"):
        # 32-bit frames carry no bit depth: the value range tells 16-bit, 8-bit and 0..1 float apart.
        peak = float(np.asarray(image).max(initial=0))
        top = 65535.0 if peak > 255 else (1.0 if image.mode == "F" and peak <= 1.0 else 255.0)
    else:
        top = None
    if top is not None:
        pixels = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.clip(pixels / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode == "L":
        return image
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("L")


def _sharpness(gray: np.ndarray, histogram: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian, grey levels scaled so the 99th percentile is white.

    The scaling only ever brightens (at most 255 / MIN_WHITE times): an
    under-exposed but sharp photo is reported as dark, not also as blurred, while
    a blurred photo gains nothing (stretching the full 1..99 percentile range
    instead lifts blurred high-contrast textures to the level of sharp fur).
    """
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    g = gray.astype(np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    white = int(np.searchsorted(np.cumsum(histogram), 0.99))
    gain = 255.0 / min(255, max(white, MIN_WHITE))
    return float(lap.var()) * gain * gain


def _log_logistic(ratio: float, steepness: float) -> float:
    """0.5 at ratio 1, towards 0 below and towards 1 above; monotone in the ratio."""
    if ratio <= 0:
        return 0.0
    if math.isinf(ratio):
        return 1.0
    x = ratio**steepness
    return x / (1.0 + x)


def _exif(image: Image.Image) -> Image.Exif | None:
    """The EXIF block, or None when it is missing or unreadable (a broken EXIF does not spoil the pixels)."""
    try:
        return image.getexif()
    except (OSError, SyntaxError, ValueError, struct.error, KeyError, TypeError, IndexError):
        return None


def _exif_datetime(exif: Image.Exif | None) -> datetime | None:
    """DateTimeOriginal from the EXIF sub-IFD, or None when missing or not a real date."""
    if not exif:
        return None
    try:
        value = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal)
    except (OSError, SyntaxError, ValueError, struct.error, KeyError, TypeError, IndexError):
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _not_an_image(data: bytes) -> str:
    """A short, safe description of bytes no photo decoder accepts (never their content)."""
    head = data[:16]
    if head.startswith(b"%PDF"):
        return "not an image: a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "not an image: a ZIP archive"
    if head.startswith((b"\xff\xd8", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")) or head[8:12] == b"WEBP":
        return "corrupt image: truncated or damaged header"
    return f"not an image: unrecognised content ({len(data)} bytes)"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:160]


# ------------------------------------------------------------------ perceptual hash


def _dct_rows(n: int, k: int) -> np.ndarray:
    """The first `k` rows of the unnormalised DCT-II matrix of size n (as scipy.fft.dct type 2)."""
    rows = np.arange(k)[:, None]
    cols = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * rows * (2 * cols + 1) / (2 * n))


_DCT8 = _dct_rows(32, 8)


def phash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash as 16 hex digits (the imagehash.phash recipe).

    32x32 grayscale, 2-D DCT, the 8x8 lowest frequencies, one bit per coefficient
    above their median; bits in row order, most significant first.
    """
    small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0)
    pixels = np.asarray(small, dtype=np.float64)
    low = _DCT8 @ pixels @ _DCT8.T
    bits = (low > np.median(low)).ravel()
    return np.packbits(bits).tobytes().hex()


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes of the same length."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)} hex digits")
    return (int(a, 16) ^ int(b, 16)).bit_count()


# ------------------------------------------------------------------ reuse across claims

_POPCOUNT8 = np.array([i.bit_count() for i in range(256)], dtype=np.uint8)


def _popcount(values: np.ndarray) -> np.ndarray:
    return _POPCOUNT8[values.view(np.uint8).reshape(-1, 8)].sum(axis=1, dtype=np.int64)


def find_reused(
    photos: Iterable[tuple[str, PhotoQuality]], max_distance: int = 6
) -> list[ReusedPhoto]:
    """Pairs of photos in different claims whose perceptual hashes differ in at most `max_distance` bits.

    Multi-index hashing: the 64 bits are cut into bands; two hashes within the
    distance agree on at least one band up to `max_distance // bands` bits, so
    only photos whose band values are that close are compared (vectorised
    bucket look-ups), never all pairs: 100,000 photos take about two seconds.
    Photos of the same claim never pair (follow-ups re-send their own photos),
    and flat frames are left out (see MIN_PHASH_BITS). Identical bytes show as
    sha_a == sha_b. Sorted by distance, then claims.
    """
    if max_distance < 0:
        raise ValueError("max_distance must be >= 0")
    seen: set[tuple[str, str]] = set()
    claims: list[str] = []
    shas: list[str] = []
    hashes: list[int] = []
    for claim, quality in photos:
        key = (str(claim), quality.sha256)
        if key in seen:
            continue
        seen.add(key)
        value = int(quality.phash, 16)
        if value.bit_count() < MIN_PHASH_BITS:
            continue
        claims.append(key[0])
        shas.append(key[1])
        hashes.append(value)
    if len(hashes) < 2:
        return []

    h = np.array(hashes, dtype=np.uint64)
    claim_codes = np.unique(np.array(claims, dtype=object), return_inverse=True)[1]
    bands = _band_count(max_distance)
    radius = max_distance // bands
    found: dict[tuple[int, int], int] = {}
    edges = np.linspace(0, PHASH_BITS, bands + 1).round().astype(int)
    for lo_bit, hi_bit in pairwise(edges):
        width = int(hi_bit - lo_bit)
        band = (h >> np.uint64(lo_bit)) & np.uint64((1 << width) - 1)
        order = np.argsort(band, kind="stable")
        if width <= DIRECT_BAND_BITS:
            # A band value indexes its bucket directly: two gathers instead of binary searches.
            counts_of = np.bincount(band.astype(np.int64), minlength=1 << width)
            starts_of = np.cumsum(counts_of) - counts_of
        else:
            sorted_band = band[order]
        for flip in _flips(width, radius):
            query = band ^ np.uint64(flip)
            if width <= DIRECT_BAND_BITS:
                index = query.astype(np.int64)
                start, counts = starts_of[index], counts_of[index]
            else:
                start = np.searchsorted(sorted_band, query, side="left")
                counts = np.searchsorted(sorted_band, query, side="right") - start
            total = int(counts.sum())
            if not total:
                continue
            left = np.repeat(np.arange(len(h)), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            right = order[np.repeat(start, counts) + offsets]
            keep = (left < right) & (claim_codes[left] != claim_codes[right])
            left, right = left[keep], right[keep]
            if not len(left):
                continue
            distance = _popcount(h[left] ^ h[right])
            close = distance <= max_distance
            for i, j, d in zip(left[close].tolist(), right[close].tolist(), distance[close].tolist()):
                found[(i, j)] = d

    pairs = []
    for (i, j), d in found.items():
        a, b = sorted(((claims[i], shas[i]), (claims[j], shas[j])))
        pairs.append(ReusedPhoto(a[0], b[0], a[1], b[1], d))
    pairs.sort(key=lambda p: (p.distance, p.claim_a, p.claim_b, p.sha_a, p.sha_b))
    return pairs


def _band_count(max_distance: int) -> int:
    """Bands for multi-index hashing: four 16-bit bands up to distance 7 (one flipped bit per band at 4..7)."""
    return min(max_distance + 1, 4) if max_distance < 8 else max_distance // 2 + 1


def _flips(width: int, radius: int) -> list[int]:
    """Every XOR mask of `width` bits with at most `radius` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in combo) for combo in combinations(range(width), r)]
    return masks
