"""Claim photos cut from real photographs, some degraded on purpose.

Base images are public-domain photographs bundled in the scikit-image wheel
(`skimage.data`, all load offline): the stereo motorcycle pair, the rocket,
coffee, the cat, the astronaut, the cameraman, and brick, gravel, grass and
coin close-ups. A `PhotoSpec` says which window of which base at which zoom,
mirrored or not, with which white balance, at which phone-like size, format
and degradation; `render_photo` turns it into bytes, the same bytes for the
same spec, so a spec can be reused where the inbox wants identical photos.

Distinct claims must not send look-alike photos: the reuse check
(`assets.claims.photos.find_reused`) pairs photos whose perceptual hashes
differ in at most 6 of 64 bits, and two windows of one base a few percent
apart do (as do the two motorcycle shots, a stereo pair). `random_photo_spec`
therefore remembers, per random generator (one inbox run), the hash and the
window of every photo it issued, and redraws a photo within NEAR_BITS bits of
one of the same scene or on all but the same window (the motorcycle pair is
one scene). It also redraws windows that would not pass as good photos once
zoomed in (too soft, too dark, too much black), so only the degraded ones
fail the quality checks.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import random
import weakref
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

BASE_IMAGES = (
    "motorcycle_left", "motorcycle_right", "rocket", "coffee", "chelsea",
    "astronaut", "camera", "brick", "gravel", "grass", "coins",
)
# Roughly as many distinct sharp windows as each base holds: the cat, the rocket and the brick wall have fewest.
_BASE_WEIGHTS = (13, 12, 6, 8, 4, 9, 10, 5, 12, 13, 8)
DEGRADATIONS = ("blurred", "dark", "tiny")
_SIZES = (((640, 480), 40), ((800, 600), 28), ((1024, 768), 14), ((480, 640), 10), ((768, 1024), 8))
_PNG_SIZES = ((480, 360), (400, 300), (512, 384))
_TINY_SIZES = ((80, 60), (64, 48), (96, 72))

# A photo is a window of a master: its base resampled once at one of these
# scales (pixels per base pixel), so the zoom comes from the scale and the
# window size, and a photo costs a crop instead of a resample.
SCALES = (2**-0.5, 1.0, 2**0.5, 2.0, 2**1.5, 4.0)
MAX_MASTER_PIXELS = 2048 * 2048
MIN_ZOOM = 0.3  # the narrowest window spans 30% of the widest one of its aspect

NEAR_BITS = 10  # a new photo's hash differs from every issued one of its scene in more bits (reuse: <= 6)
NEAR_OVERLAP = 0.9  # and its window overlaps none of theirs this much (intersection over union)
MAX_DRAWS = 40  # then the farthest good candidate is taken
# What the quality check (assets.claims.photos) measures on, and where it
# draws its lines; an undegraded photo is kept clear of them.
ANALYSIS_SIDE = 512
MIN_SHARPNESS = 100.0  # Laplacian variance; "blurred" below 55
BRIGHTNESS_RANGE = (0.22, 0.75)  # mean grey level; "too dark" below 0.18
MAX_CLIPPED = 0.12  # share of black (<= 5) or white (>= 250) pixels; poor above 0.30
DARK_TARGET = 0.12  # a "dark" photo's mean grey level at most this (poor below 0.18)
_BLOCK = 8
_MAX_ANALYSIS_SCALE = 2**1.5  # at most this many checked pixels per base pixel
_ENERGY_STEPS = (-3, 3)  # sharpness tables at 2^(step/2) times the base: 0.35 to 2.83


@functools.cache
def base_image(name: str) -> Image.Image:
    """Decoded base photograph, cached per process: RGB, or L for the grayscale ones."""
    from skimage import data

    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = data.stereo_motorcycle()
        pixels = left if name == "motorcycle_left" else right
    else:
        pixels = getattr(data, name)()
    pixels = np.asarray(pixels)
    return Image.fromarray(pixels).convert("RGB" if pixels.ndim == 3 else "L")


@functools.cache
def _gray_base(name: str) -> Image.Image:
    return base_image(name).convert("L")


@functools.cache
def master_image(name: str, scale: float) -> Image.Image:
    """The base resampled once by `scale` (bicubic), cached per process."""
    base = base_image(name)
    size = (round(base.width * scale), round(base.height * scale))
    return base.resize(size, Image.Resampling.BICUBIC)


def _master_scales(name: str) -> tuple[float, ...]:
    """The SCALES whose master of `name` stays within MAX_MASTER_PIXELS."""
    width, height = base_image(name).size
    return tuple(s for s in SCALES if round(width * s) * round(height * s) <= MAX_MASTER_PIXELS)


@dataclass(frozen=True)
class PhotoSpec:
    """A reproducible photo: the `size` window at `offset` of the base scaled by `scale`, then degraded.

    `scale` None is the smallest of SCALES whose master holds the window.
    The window is mirrored left to right if `mirrored`, and each RGB channel
    multiplied by its `gains` (white balance and exposure).
    """

    base: str
    size: tuple[int, int]
    offset: tuple[int, int]
    fmt: str = "jpeg"  # "jpeg" | "png"
    quality: int = 85
    degradation: str | None = None  # None | "blurred" | "dark" | "tiny"
    strength: float = 0.0  # blur radius in output pixels, or brightness factor
    tiny_size: tuple[int, int] = (80, 60)
    scale: float | None = None
    mirrored: bool = False
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def output_size(self) -> tuple[int, int]:
        """Pixel size of the rendered image."""
        return self.tiny_size if self.degradation == "tiny" else self.size

    @property
    def master_scale(self) -> float:
        """The scale of the master the window is cut from."""
        if self.scale is not None:
            return self.scale
        width, height = base_image(self.base).size
        right, bottom = self.offset[0] + self.size[0], self.offset[1] + self.size[1]
        fits = (s for s in SCALES if right <= round(width * s) and bottom <= round(height * s))
        return next(fits, SCALES[-1])

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The window in base pixels (left, upper, right, lower)."""
        s = self.master_scale
        x, y = self.offset
        return (x / s, y / s, (x + self.size[0]) / s, (y + self.size[1]) / s)

    @property
    def identity(self) -> tuple:
        """What makes the bytes: two specs with the same identity render identically."""
        return (self.base, self.size, self.offset, self.master_scale, self.mirrored, self.gains, self.fmt,
                self.quality, self.degradation, self.strength, self.output_size)

    def undegraded(self) -> PhotoSpec:
        """The same shot without its degradation (the photo the customer meant to take)."""
        return replace(self, degradation=None, strength=0.0)


# ------------------------------------------------------------------ drawing


class PhotoRegistry:
    """The photos issued so far, per scene: hashes and windows, so new ones can be kept apart from them."""

    def __init__(self) -> None:
        self.count = 0
        self._hashes: dict[str, np.ndarray] = {}
        self._windows: dict[tuple[str, bool], np.ndarray] = {}  # rows: left, upper, right, lower

    def overlap(self, spec: PhotoSpec) -> float:
        """The largest intersection over union of `spec`'s window with one issued of its scene, mirrored alike."""
        windows = self._windows.get((_scene(spec.base), spec.mirrored))
        return 0.0 if windows is None else _overlap(spec.box, windows)

    def distance(self, value: int, base: str) -> int:
        """Bits between hash `value` and the nearest hash issued for `base`'s scene (65 when none is)."""
        hashes = self._hashes.get(_scene(base))
        return 65 if hashes is None else int(_popcount(hashes ^ np.uint64(value)).min())

    def add(self, value: int, spec: PhotoSpec) -> None:
        """Remember one issued photo: its hash and its window."""
        scene = _scene(spec.base)
        self._hashes[scene] = np.append(self._hashes.get(scene, np.empty(0, dtype=np.uint64)), np.uint64(value))
        key = (scene, spec.mirrored)
        self._windows[key] = np.hstack([self._windows.get(key, np.empty((4, 0))), np.array(spec.box)[:, None]])
        self.count += 1


def _scene(base: str) -> str:
    """The two motorcycle shots are a stereo pair: one scene seen from two points a few centimetres apart."""
    return "motorcycle" if base.startswith("motorcycle_") else base


def _overlap(box: tuple[float, float, float, float], others: np.ndarray) -> float:
    """The largest intersection over union of `box` with any column of `others` (left, upper, right, lower)."""
    left, upper, right, lower = others
    inter = (np.maximum(np.minimum(right, box[2]) - np.maximum(left, box[0]), 0.0)
             * np.maximum(np.minimum(lower, box[3]) - np.maximum(upper, box[1]), 0.0))
    union = (right - left) * (lower - upper) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return float((inter / union).max())


_REGISTRIES: weakref.WeakKeyDictionary[random.Random, PhotoRegistry] = weakref.WeakKeyDictionary()


def registry_for(rng: random.Random) -> PhotoRegistry:
    """The registry of the photos drawn with `rng`: an inbox run draws all of its photos from one generator."""
    return _REGISTRIES.setdefault(rng, PhotoRegistry())


def random_photo_spec(
    rng: random.Random,
    *,
    degradation: str | None = None,
    fmt: str | None = None,
    registry: PhotoRegistry | None = None,
) -> PhotoSpec:
    """Draw a phone-like photo: base, size, zoom, window, mirror, white balance, quality.

    The photo is kept apart from every photo drawn before into `registry` (by
    default the one kept for `rng`): its perceptual hash differs in more than
    NEAR_BITS bits and its window is not all but one of theirs, or, when none
    of MAX_DRAWS candidates is, it is the farthest of them. Undegraded, it
    passes the quality checks.
    """
    registry = registry_for(rng) if registry is None else registry
    # These draws from `rng` are the ones the generator has always made, so a
    # seeded inbox keeps its texts, sizes and degradations; zoom, mirror,
    # colour and any redraw come from a generator seeded by them.
    base = rng.choices(BASE_IMAGES, _BASE_WEIGHTS)[0]
    fmt = fmt or ("png" if rng.random() < 0.06 else "jpeg")
    size = rng.choice(_PNG_SIZES) if fmt == "png" else rng.choices(*zip(*_SIZES))[0]
    strength = 0.0
    if degradation == "blurred":
        strength = rng.uniform(3.0, 7.0)
    elif degradation == "dark":
        strength = rng.uniform(0.15, 0.35)
    position = tuple(rng.randint(0, steps) / steps for steps in (round(side * 1.4) - side for side in size))
    quality = rng.randint(72, 92)
    tiny_size = rng.choice(_TINY_SIZES)
    own = random.Random(f"{registry.count}:{base}:{size}:{position}:{strength}:{quality}:{tiny_size}")

    best: tuple[int, PhotoSpec, np.ndarray, int] | None = None
    for attempt in itertools.count():
        if attempt >= MAX_DRAWS and best is not None:
            break
        if attempt:
            # Another window of the same base first, so the bases keep their weights.
            if attempt % 2 == 0:
                base = own.choices(BASE_IMAGES, _BASE_WEIGHTS)[0]
            position = (own.random(), own.random())
        spec = _shot(own, base, size, position)
        if spec is None:
            continue
        # Checked besides the hashes because a low-contrast texture's hash is unstable.
        crowded = registry.overlap(spec) >= NEAR_OVERLAP
        if crowded and best is not None:
            continue
        preview = _preview(spec)
        if not _well_exposed(preview, spec.gains):
            continue
        value = _phash(preview)
        distance = 0 if crowded else registry.distance(value, spec.base)
        if best is not None and distance <= best[0]:
            continue
        best = (distance, spec, preview, value)
        if distance > NEAR_BITS:
            break
    _, spec, preview, value = best
    registry.add(value, spec)
    if degradation == "blurred":
        # The same blur at the quality check's scale whatever the size, as a shake blurs more pixels of a bigger frame.
        strength *= max(1.0, max(size) / ANALYSIS_SIDE)
    elif degradation == "dark":
        # Gain relative to the shot's own light, so a bright window still comes out too dark.
        strength = min(strength, DARK_TARGET / _mean_exposed(preview, spec.gains, gamma=1.3))
    return replace(spec, fmt=fmt, quality=quality, degradation=degradation, strength=round(strength, 3),
                   tiny_size=tiny_size)


def _shot(own: random.Random, base: str, size: tuple[int, int], position: tuple[float, float]) -> PhotoSpec | None:
    """An undegraded candidate at `position` of its window's free range, zoomed in no further than stays sharp."""
    width, height = base_image(base).size
    w, h = size
    scales = _zoom_scales(base, size)
    if not scales:
        return None
    mirrored = own.random() < 0.5
    exposure = own.uniform(0.9, 1.1)
    red, blue = own.uniform(0.92, 1.08), own.uniform(0.92, 1.08)
    gains = (round(exposure * red, 3), round(exposure, 3), round(exposure * blue, 3))
    # Zoomed in too far, a soft part of the scene turns into a blurred photo: then step back.
    for scale in reversed(scales[: own.randrange(len(scales)) + 1]):
        # On the grid of 32nds of the window that its hash preview is sliced from.
        free = ((round(width * scale) - w) * 32 // w, (round(height * scale) - h) * 32 // h)
        offset = (round(round(position[0] * free[0]) * w / 32), round(round(position[1] * free[1]) * h / 32))
        spec = PhotoSpec(base, size, offset, scale=scale, mirrored=mirrored, gains=gains)
        if _sharp_enough(spec):
            return spec
    return None


@functools.cache
def _zoom_scales(base: str, size: tuple[int, int]) -> tuple[float, ...]:
    """The master scales a `size` photo of `base` may be cut from, widest shot first."""
    width, height = base_image(base).size
    w, h = size
    widest = min(width, height * w / h)
    reach = min(1.0, ANALYSIS_SIDE / max(size))
    return tuple(s for s in _master_scales(base) if w <= round(width * s) and h <= round(height * s)
                 and w / (s * widest) >= MIN_ZOOM and s * reach <= _MAX_ANALYSIS_SCALE)


def _preview(spec: PhotoSpec) -> np.ndarray:
    """The undegraded photo's grey levels at 32x32, as the perceptual hash resamples it."""
    cells = _cells(spec.base, spec.master_scale, spec.size)
    column = min(round(spec.offset[0] * 32 / spec.size[0]), cells.shape[1] - 32)
    row = min(round(spec.offset[1] * 32 / spec.size[1]), cells.shape[0] - 32)
    pixels = cells[row : row + 32, column : column + 32]
    return pixels[:, ::-1] if spec.mirrored else pixels


@functools.cache
def _cells(base: str, scale: float, size: tuple[int, int]) -> np.ndarray:
    """The grey master of `base` at `scale` resampled once so that a `size` window spans 32x32 pixels.

    Drawn windows sit on this grid (to the nearest master pixel), so a hash preview is a slice, not a resample.
    """
    gray = _gray_base(base)
    columns = round(gray.width * scale) * 32 // size[0]
    rows = round(gray.height * scale) * 32 // size[1]
    box = (0, 0, min(columns * size[0] / 32 / scale, gray.width), min(rows * size[1] / 32 / scale, gray.height))
    return np.asarray(gray.resize((columns, rows), Image.Resampling.LANCZOS, box=box), dtype=np.float64)


def _luma_gain(gains: tuple[float, float, float]) -> float:
    return 0.299 * gains[0] + 0.587 * gains[1] + 0.114 * gains[2]


def _mean_exposed(preview: np.ndarray, gains: tuple[float, float, float], gamma: float = 1.0) -> float:
    levels = np.minimum(preview * _luma_gain(gains) / 255.0, 1.0)
    return float((levels**gamma).mean())


def _well_exposed(preview: np.ndarray, gains: tuple[float, float, float]) -> bool:
    gain = _luma_gain(gains)
    low, high = BRIGHTNESS_RANGE
    clipped = MAX_CLIPPED * preview.size
    return (low <= preview.mean() * gain / 255.0 <= high and np.count_nonzero(preview <= 5 / gain) <= clipped
            and np.count_nonzero(preview >= 250 / gain) <= clipped)


def _sharp_enough(spec: PhotoSpec) -> bool:
    """Whether the window's Laplacian variance, at the scale the quality check measures it, clears MIN_SHARPNESS."""
    terms, floor = _sharpness_terms(spec.base, spec.master_scale, spec.size)
    left, upper, right, lower = spec.box
    log_energy = 0.0
    for table, ratio, weight in terms:
        rows, columns = table.shape[0] - 1, table.shape[1] - 1
        x0, x1 = min(max(round(left * ratio), 0), columns), min(max(round(right * ratio), 0), columns)
        y0, y1 = min(max(round(upper * ratio), 0), rows), min(max(round(lower * ratio), 0), rows)
        if x1 <= x0 or y1 <= y0:
            return False
        total = float(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0])
        log_energy += weight * math.log(max(total / ((x1 - x0) * (y1 - y0) * _BLOCK * _BLOCK), 1e-9))
    return log_energy >= floor


@functools.cache
def _sharpness_terms(base: str, scale: float, size: tuple[int, int]) -> tuple[tuple, float]:
    """For a `size` window of the `scale` master: the energy tables either side of the check's scale with
    their ratios (blocks per base pixel) and interpolation weights, and the log of the energy to clear."""
    step = math.log2(scale * min(1.0, ANALYSIS_SIDE / max(size))) * 2
    lower = min(max(math.floor(step), _ENERGY_STEPS[0]), _ENERGY_STEPS[-1] - 1)
    weight = min(max(step - lower, 0.0), 1.0)
    terms = tuple((_energy_table(base, j), 2 ** (j / 2) / _BLOCK, w)
                  for j, w in ((lower, 1.0 - weight), (lower + 1, weight)) if w > 0)
    # The check stretches grey levels so the 99th percentile is white; no window's is above its base's brightest pixel.
    gain = 255.0 / max(32, _gray_base(base).getextrema()[1])
    return terms, math.log(MIN_SHARPNESS / (gain * gain))


@functools.cache
def _energy_table(name: str, step: int) -> np.ndarray:
    """Summed-area table, in 8-pixel blocks, of the squared Laplacian of the grey base resampled by 2^(step/2).

    Built once per base and scale, so judging a window's sharpness is a few look-ups, not a render.
    """
    gray = _gray_base(name)
    scale = 2 ** (step / 2)
    size = (max(_BLOCK, round(gray.width * scale)), max(_BLOCK, round(gray.height * scale)))
    g = np.asarray(gray.resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    lap = np.zeros_like(g)
    lap[1:-1, 1:-1] = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    h, w = (side // _BLOCK * _BLOCK for side in lap.shape)
    blocks = np.square(lap[:h, :w]).reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).sum(axis=(1, 3), dtype=np.float64)
    table = np.zeros((blocks.shape[0] + 1, blocks.shape[1] + 1))
    table[1:, 1:] = blocks.cumsum(axis=0).cumsum(axis=1)
    return table


# ------------------------------------------------------------------ perceptual hash
# The reuse check's recipe (imagehash.phash), re-stated here because
# connectors do not import assets.

_DCT8 = 2.0 * np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(32)[None, :] + 1) / 64)
_M1, _M2, _M4, _H01 = (np.uint64(m) for m in (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
                                              0x0101010101010101))


def _phash(pixels: np.ndarray) -> int:
    """64-bit DCT hash of 32x32 grey levels: the 8x8 lowest frequencies against their median."""
    low = (_DCT8 @ pixels @ _DCT8.T).ravel()
    ranked = np.sort(low)
    return int.from_bytes(np.packbits(low > (ranked[31] + ranked[32]) / 2).tobytes(), "big")


def _popcount(values: np.ndarray) -> np.ndarray:
    values = values - ((values >> np.uint64(1)) & _M1)
    values = (values & _M2) + ((values >> np.uint64(2)) & _M2)
    values = (values + (values >> np.uint64(4))) & _M4
    return (values * _H01) >> np.uint64(56)


# ------------------------------------------------------------------ rendering


def render_image(spec: PhotoSpec) -> Image.Image:
    """The photo as an RGB PIL image (before encoding)."""
    x, y = spec.offset
    w, h = spec.size
    image = master_image(spec.base, spec.master_scale).crop((x, y, x + w, y + h))
    if spec.mirrored:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if spec.degradation == "tiny":
        return _develop(image.resize(spec.tiny_size, Image.Resampling.BILINEAR, reducing_gap=2.0), spec)
    if spec.degradation == "blurred":
        # Blurring a quarter-size copy then upscaling is a Gaussian blur at a
        # sixteenth of the cost.
        small = image.resize((w // 4, h // 4), Image.Resampling.BILINEAR, reducing_gap=2.0)
        small = small.filter(ImageFilter.GaussianBlur(spec.strength / 4))
        return _develop(small, spec).resize(spec.size, Image.Resampling.BILINEAR)
    return _develop(image, spec)


def _develop(image: Image.Image, spec: PhotoSpec) -> Image.Image:
    """White balance, exposure and a dark photo's under-exposure as one lookup table; grey bases come out RGB."""
    if spec.degradation == "dark":
        tables = [[int(255 * min(1.0, v * g / 255) ** 1.3 * spec.strength) for v in range(256)] for g in spec.gains]
    else:
        tables = [[min(255, round(v * g)) for v in range(256)] for g in spec.gains]
    if image.mode == "L":
        return Image.merge("RGB", [image.point(table) for table in tables])
    return image.point(tables[0] + tables[1] + tables[2])


def render_photo(spec: PhotoSpec) -> bytes:
    """Encode the photo; identical bytes for identical specs."""
    buffer = io.BytesIO()
    image = render_image(spec)
    if spec.fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=spec.quality)
    return buffer.getvalue()
