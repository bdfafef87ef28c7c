"""Claim photos cut from real photographs, some degraded on purpose.

Base images are public-domain photographs bundled in the scikit-image wheel
(`skimage.data`, all load offline): the stereo motorcycle pair, the rocket,
coffee, the cat, the astronaut, the cameraman, brick and gravel textures. A
`PhotoSpec` says which window of which base, at which phone-like size,
format and degradation; `render_photo` turns it into bytes, the same bytes for the
same spec, so a spec can be reused where the inbox wants identical photos.
"""

from __future__ import annotations

import functools
import io
import random
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

BASE_IMAGES = (
    "motorcycle_left", "motorcycle_right", "rocket", "coffee", "chelsea",
    "astronaut", "camera", "brick", "gravel",
)
_BASE_WEIGHTS = (22, 18, 10, 8, 8, 10, 10, 7, 7)
DEGRADATIONS = ("blurred", "dark", "tiny")
_SIZES = (((640, 480), 40), ((800, 600), 28), ((1024, 768), 14), ((480, 640), 10), ((768, 1024), 8))
_PNG_SIZES = ((480, 360), (400, 300), (512, 384))
_TINY_SIZES = ((80, 60), (64, 48), (96, 72))


@functools.cache
def base_image(name: str) -> Image.Image:
    """Decoded base photograph as RGB, cached per process."""
    from skimage import data

    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = data.stereo_motorcycle()
        pixels = left if name == "motorcycle_left" else right
    else:
        pixels = getattr(data, name)()
    image = Image.fromarray(np.asarray(pixels))
    return image.convert("RGB")


MASTER_SCALE = 1.4


@functools.cache
def master_image(name: str, size: tuple[int, int]) -> Image.Image:
    """The base, cut to the aspect of `size` and resampled once to 1.4 x `size`.

    Photos are windows of this master: cropping is a copy, so a photo costs
    about one JPEG encode instead of a resample (5x faster on 10,000 mails).
    """
    base = base_image(name)
    bw, bh = base.size
    aspect = size[0] / size[1]
    cw = min(bw, bh * aspect)
    ch = cw / aspect
    box = ((bw - cw) / 2, (bh - ch) / 2, (bw + cw) / 2, (bh + ch) / 2)
    master_size = (round(size[0] * MASTER_SCALE), round(size[1] * MASTER_SCALE))
    return base.resize(master_size, Image.Resampling.BICUBIC, box=box)


@dataclass(frozen=True)
class PhotoSpec:
    """A reproducible photo: the `size` window at `offset` of a base's master, then degraded."""

    base: str
    size: tuple[int, int]
    offset: tuple[int, int]
    fmt: str = "jpeg"  # "jpeg" | "png"
    quality: int = 85
    degradation: str | None = None  # None | "blurred" | "dark" | "tiny"
    strength: float = 0.0  # blur radius in output pixels, or brightness factor
    tiny_size: tuple[int, int] = (80, 60)

    @property
    def output_size(self) -> tuple[int, int]:
        """Pixel size of the rendered image."""
        return self.tiny_size if self.degradation == "tiny" else self.size

    @property
    def identity(self) -> tuple:
        """What makes the bytes: two specs with the same identity render identically."""
        return (self.base, self.size, self.offset, self.fmt, self.quality, self.degradation,
                self.strength, self.output_size)

    def undegraded(self) -> PhotoSpec:
        """The same shot without its degradation (the photo the customer meant to take)."""
        return replace(self, degradation=None, strength=0.0)


def random_photo_spec(
    rng: random.Random, *, degradation: str | None = None, fmt: str | None = None
) -> PhotoSpec:
    """Draw a phone-like photo: random base, size, window offset, quality."""
    base = rng.choices(BASE_IMAGES, _BASE_WEIGHTS)[0]
    fmt = fmt or ("png" if rng.random() < 0.06 else "jpeg")
    size = rng.choice(_PNG_SIZES) if fmt == "png" else rng.choices(*zip(*_SIZES))[0]
    max_x = round(size[0] * MASTER_SCALE) - size[0]
    max_y = round(size[1] * MASTER_SCALE) - size[1]
    strength = 0.0
    if degradation == "blurred":
        strength = rng.uniform(3.0, 7.0)
    elif degradation == "dark":
        strength = rng.uniform(0.15, 0.35)
    return PhotoSpec(
        base=base,
        size=size,
        offset=(rng.randint(0, max_x), rng.randint(0, max_y)),
        fmt=fmt,
        quality=rng.randint(72, 92),
        degradation=degradation,
        strength=round(strength, 3),
        tiny_size=rng.choice(_TINY_SIZES),
    )


def render_image(spec: PhotoSpec) -> Image.Image:
    """The photo as a PIL image (before encoding)."""
    x, y = spec.offset
    w, h = spec.size
    image = master_image(spec.base, spec.size).crop((x, y, x + w, y + h))
    if spec.degradation == "tiny":
        return image.resize(spec.tiny_size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if spec.degradation == "blurred":
        # Blurring a quarter-size copy then upscaling is a Gaussian blur at a
        # sixteenth of the cost.
        small = image.resize((w // 4, h // 4), Image.Resampling.BILINEAR, reducing_gap=2.0)
        small = small.filter(ImageFilter.GaussianBlur(spec.strength / 4))
        return small.resize(spec.size, Image.Resampling.BILINEAR)
    if spec.degradation == "dark":
        lut = [int(255 * ((v / 255) ** 1.3) * spec.strength) for v in range(256)]
        image = image.point(lut * 3)
    return image


def render_photo(spec: PhotoSpec) -> bytes:
    """Encode the photo; identical bytes for identical specs."""
    buffer = io.BytesIO()
    image = render_image(spec)
    if spec.fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=spec.quality)
    return buffer.getvalue()
