"""Claim photo quality: real skimage.data photographs pass, degraded copies fail for the right reason,
the perceptual hash survives re-encoding, reuse across claims is found, bad bytes are one clear error."""

from __future__ import annotations

import functools
import io
import json
import random
from datetime import date

import numpy as np
import pytest
from PIL import ExifTags, Image
from skimage import data as skdata
from skimage import exposure, filters, util

from assets.claims.photos import (
    PhotoError,
    PhotoQuality,
    QualityThresholds,
    ReusedPhoto,
    assess_photo,
    find_reused,
    hamming,
    phash,
)
from connectors.samples.photos import (
    PhotoSpec,
    random_photo_spec,
    render_image,
    render_photo,
)
from orchestration import cli
from orchestration.commands import Parser
from orchestration.commands.photos import register

# Everyday photographs from skimage.data (the scientific images are left out: a
# retina or the Hubble deep field is mostly black by nature).
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "brick", "gravel", "grass", "coins", "moon")


@functools.cache
def original(name: str) -> np.ndarray:
    """The photograph as floats in 0..1."""
    return util.img_as_float(getattr(skdata, name)())


def encode(pixels, fmt: str = "JPEG", **options) -> bytes:
    """Float pixels (0..1) or a PIL image as file bytes; JPEGs at the phone-typical quality 85."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(util.img_as_ubyte(np.clip(pixels, 0, 1)))
    if fmt == "JPEG":
        image, options = image.convert("RGB"), {"quality": 85, **options}
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def blurred(pixels: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    return filters.gaussian(pixels, sigma=sigma, channel_axis=-1 if pixels.ndim == 3 else None)


def dark(pixels: np.ndarray, gain: float = 0.3) -> np.ndarray:
    # The sample generator's under-exposure curve: gamma 1.3, then a gain of 0.12..0.35.
    return exposure.adjust_gamma(pixels, 1.3, gain)


def tiny(pixels: np.ndarray, size=(80, 60)) -> Image.Image:
    return Image.fromarray(util.img_as_ubyte(pixels)).resize(size, Image.Resampling.BILINEAR)


def jpeg_with_exif(image: Image.Image, *, taken: str | None = None, orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85, exif=exif)
    return buffer.getvalue()


def reason_kinds(quality: PhotoQuality) -> list[str]:
    return [reason.split(":")[0] for reason in quality.reasons]


# ------------------------------------------------------------------ quality checks


@pytest.mark.parametrize("name", PHOTOS)
def test_an_original_photograph_passes_every_check(name):
    quality = assess_photo(encode(original(name)))
    assert (quality.verdict, quality.reasons) == ("ok", [])
    assert quality.sharp_ok and quality.exposure_ok and quality.resolution_ok
    assert quality.format == "jpeg" and 0.5 < quality.score <= 1


@pytest.mark.parametrize("name", PHOTOS)
def test_a_photograph_blurred_with_sigma_3_fails_as_blurred_and_only_as_blurred(name):
    quality = assess_photo(encode(blurred(original(name))))
    assert quality.verdict == "poor" and reason_kinds(quality) == ["blurred"]
    assert f"Laplacian variance {quality.sharpness:.1f} < 55" in quality.reasons[0]


@pytest.mark.parametrize("name", PHOTOS)
def test_an_under_exposed_photograph_fails_as_too_dark_not_as_blurred(name):
    quality = assess_photo(encode(dark(original(name))))
    assert quality.verdict == "poor" and quality.sharp_ok
    assert reason_kinds(quality)[0] == "too dark"
    assert set(reason_kinds(quality)) <= {"too dark", "clipped shadows"}


@pytest.mark.parametrize("name", ["astronaut", "camera", "gravel"])
def test_an_over_exposed_photograph_fails_on_its_clipped_highlights(name):
    quality = assess_photo(encode(original(name) * 2.5))
    assert quality.verdict == "poor" and "clipped highlights" in reason_kinds(quality)


@pytest.mark.parametrize("name", PHOTOS)
def test_a_tiny_photo_fails_as_too_small_with_its_size(name):
    quality = assess_photo(encode(tiny(original(name))))
    assert quality.verdict == "poor" and quality.reasons == ["too small: 80x60 < 320x240"]
    assert (quality.width, quality.height) == (80, 60)


def test_the_motion_blurred_clock_of_skimage_data_is_found_blurred():
    quality = assess_photo(encode(original("clock")))
    assert reason_kinds(quality) == ["blurred"]


def test_a_portrait_photo_meets_the_same_resolution_bar_as_a_landscape_one():
    portrait = assess_photo(render_photo(PhotoSpec("camera", (480, 640), (20, 20))))
    assert portrait.resolution_ok and (portrait.width, portrait.height) == (480, 640)


def test_thresholds_are_a_parameter():
    data = encode(original("coffee"))
    strict = assess_photo(data, thresholds=QualityThresholds(min_width=4000, min_height=3000))
    assert assess_photo(data).verdict == "ok" and strict.verdict == "poor"
    assert strict.reasons == ["too small: 600x400 < 4000x3000"]


@pytest.mark.parametrize("degradation", ["blurred", "dark", "tiny"])
def test_the_sample_generators_degraded_photos_fail_and_their_originals_pass(degradation):
    spec = random_photo_spec(random.Random(degradation), degradation=degradation)
    kinds = {"blurred": "blurred", "dark": "too dark", "tiny": "too small"}
    degraded = assess_photo(render_photo(spec))
    assert degraded.verdict == "poor" and kinds[degradation] in reason_kinds(degraded)
    assert assess_photo(render_photo(spec.undegraded())).verdict == "ok"


# ------------------------------------------------------------------ score


@pytest.mark.parametrize("name", PHOTOS)
def test_the_score_ranks_an_original_above_each_of_its_degraded_copies(name):
    pixels = original(name)
    score = assess_photo(encode(pixels)).score
    for copy in (encode(blurred(pixels)), encode(dark(pixels)), encode(tiny(pixels))):
        assert assess_photo(copy).score < min(score, 0.5)


def test_the_score_falls_steadily_as_a_photo_gets_worse():
    pixels = original("chelsea")
    by_blur = [assess_photo(encode(blurred(pixels, sigma))).score for sigma in (0.5, 1, 2, 3, 5)]
    by_light = [assess_photo(encode(dark(pixels, gain))).score for gain in (0.9, 0.6, 0.4, 0.25, 0.1)]
    by_size = [assess_photo(encode(tiny(pixels, (w, w * 2 // 3)))).score for w in (450, 360, 240, 120, 60)]
    for scores in (by_blur, by_light, by_size):
        assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
        assert scores[0] - scores[-1] > 0.5  # spread, not bunched at one end


def test_a_poor_verdict_always_scores_below_one_half():
    rng = random.Random(3)
    for degradation in (None, "blurred", "dark", "tiny") * 3:
        quality = assess_photo(render_photo(random_photo_spec(rng, degradation=degradation)))
        assert 0 <= quality.score <= 1
        if quality.verdict == "poor":
            assert quality.score < 0.5


def test_the_sub_scores_are_one_half_exactly_at_the_thresholds():
    quality = assess_photo(encode(original("coffee")))
    at_threshold = assess_photo(
        encode(original("coffee")),
        thresholds=QualityThresholds(min_sharpness=quality.sharpness, min_width=600, min_height=400),
    )
    assert at_threshold.sharpness_score == pytest.approx(0.5, abs=1e-3)
    assert at_threshold.resolution_score == pytest.approx(0.5, abs=1e-3)
    assert at_threshold.score == pytest.approx(0.25 * at_threshold.exposure_score, abs=1e-3)


# ------------------------------------------------------------------ perceptual hash


@pytest.mark.parametrize("name", PHOTOS)
def test_the_phash_survives_re_encoding_resizing_and_format_changes(name):
    image = Image.fromarray(util.img_as_ubyte(original(name))).convert("RGB")
    reference = assess_photo(encode(image)).phash
    copies = [
        encode(image, quality=40),
        encode(image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)),
        encode(image.resize((image.width * 3 // 2, image.height * 3 // 2), Image.Resampling.BICUBIC)),
        encode(image, "PNG"),
        encode(image, "WEBP", quality=70),
        encode(image.convert("L")),
    ]
    for copy in copies:
        assert hamming(reference, assess_photo(copy).phash) <= 4


def test_the_phash_tells_different_photographs_apart():
    hashes = {name: assess_photo(encode(original(name))).phash for name in PHOTOS}
    for a in PHOTOS:
        for b in PHOTOS:
            if a < b:
                assert hamming(hashes[a], hashes[b]) > 12, (a, b)


def test_the_phash_follows_the_exif_orientation():
    image = render_image(PhotoSpec("coffee", (800, 600), (10, 10)))
    upright = assess_photo(jpeg_with_exif(image))
    # A phone stores the sensor's frame and says "rotate 90 degrees clockwise to display".
    stored_sideways = assess_photo(jpeg_with_exif(image.transpose(Image.Transpose.ROTATE_90), orientation=6))
    assert (stored_sideways.width, stored_sideways.height) == (800, 600)
    assert hamming(upright.phash, stored_sideways.phash) <= 2


def test_the_numpy_dct_hash_matches_the_scipy_dct_recipe():
    from scipy.fft import dct

    image = Image.fromarray(util.img_as_ubyte(original("astronaut"))).convert("L")
    pixels = np.asarray(image.resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0), dtype=np.float64)
    low = dct(dct(pixels, axis=0), axis=1)[:8, :8]
    expected = np.packbits((low > np.median(low)).ravel()).tobytes().hex()
    assert phash(image) == expected and len(expected) == 16


def test_hamming_counts_the_differing_bits():
    assert hamming("0" * 16, "0" * 16) == 0
    assert hamming("0" * 16, "f" * 16) == 64
    assert hamming("8000000000000001", "0000000000000000") == 2
    with pytest.raises(ValueError):
        hamming("00", "0000")


# ------------------------------------------------------------------ reuse across claims


def quality_with(sha: str, hash_hex: str) -> PhotoQuality:
    return PhotoQuality(sha, 800, 600, "jpeg", 100.0, 0.5, 0.0, 0.0, True, True, True, hash_hex, None, None,
                        0.9, 0.9, 0.9, 0.73, "ok", [])


@functools.cache
def claim_photos() -> dict[str, bytes]:
    """Three distinct photos; `reused` is the first one re-encoded smaller, as a second claimant would send it."""
    shots = {name: render_image(PhotoSpec(name, (800, 600), (30, 40))) for name in ("rocket", "camera", "chelsea")}
    blobs = {name: encode(image) for name, image in shots.items()}
    blobs["reused"] = encode(shots["rocket"].resize((640, 480), Image.Resampling.LANCZOS), quality=70)
    return blobs


def test_find_reused_finds_the_same_photo_sent_with_two_claims():
    photos = claim_photos()
    q = {name: assess_photo(blob) for name, blob in photos.items()}
    found = find_reused([("CLM-1", q["rocket"]), ("CLM-1", q["camera"]), ("CLM-2", q["chelsea"]),
                         ("CLM-2", q["rocket"]), ("CLM-3", q["reused"])])
    pairs = {(p.claim_a, p.claim_b, p.sha_a == p.sha_b) for p in found}
    assert pairs == {("CLM-1", "CLM-2", True), ("CLM-1", "CLM-3", False), ("CLM-2", "CLM-3", False)}
    assert all(isinstance(p, ReusedPhoto) and p.distance <= 6 for p in found)
    assert found[0].distance == 0  # identical bytes first


def test_find_reused_ignores_a_photo_repeated_within_one_claim():
    q = assess_photo(claim_photos()["rocket"])
    reused = assess_photo(claim_photos()["reused"])
    # Follow-up mails re-send the claim's own photos: that is not fraud.
    assert find_reused([("CLM-1", q), ("CLM-1", q), ("CLM-1", reused)]) == []


def test_find_reused_leaves_out_flat_frames_that_would_match_each_other():
    black = assess_photo(encode(np.zeros((480, 640))))
    grey = assess_photo(encode(np.full((480, 640), 0.5)))
    assert find_reused([("CLM-1", black), ("CLM-2", grey)]) == []


@pytest.mark.parametrize("max_distance", [0, 3, 6, 10])
def test_find_reused_returns_exactly_the_pairs_a_brute_force_search_finds(max_distance):
    rng = np.random.default_rng(max_distance)
    bits = rng.permuted(np.tile(np.arange(64) < 32, (1500, 1)), axis=1)
    for k in range(300):  # near copies at every distance up to 12
        bits[1500 - 1 - k] = bits[k] ^ (rng.permutation(64) < k % 13)
    hashes = [np.packbits(row).tobytes().hex() for row in bits]
    claims = [f"C{i % 700}" for i in range(len(hashes))]
    photos = [(claims[i], quality_with(f"{i:064x}", h)) for i, h in enumerate(hashes)]

    as_int = np.array([int(h, 16) for h in hashes], dtype=np.uint64)
    expected = set()
    for i in range(len(hashes)):
        x = as_int[i] ^ as_int[i + 1:]
        distance = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.nonzero(distance <= max_distance)[0] + i + 1:
            if claims[i] != claims[j]:
                expected.add(frozenset((i, int(j))))
    found = {frozenset((int(p.sha_a, 16), int(p.sha_b, 16))) for p in find_reused(photos, max_distance)}
    assert found == expected and expected


def test_find_reused_handles_a_hundred_thousand_photos_without_comparing_all_pairs():
    rng = np.random.default_rng(7)
    n = 100_000
    bits = rng.permuted(np.tile(np.arange(64) < 32, (n, 1)), axis=1)
    bits[-50:] = bits[:50] ^ rng.permuted(np.tile(np.arange(64) < 3, (50, 1)), axis=1)
    hashes = np.packbits(bits, axis=1)
    photos = [(f"C{i // 2}", quality_with(f"{i:064x}", row.tobytes().hex())) for i, row in enumerate(hashes)]
    found = find_reused(photos)  # 5e9 pairs by brute force; seconds with multi-index hashing
    pairs = {frozenset((int(p.sha_a, 16), int(p.sha_b, 16))) for p in found}
    assert pairs >= {frozenset((i, n - 50 + i)) for i in range(50)}


# ------------------------------------------------------------------ EXIF date


INCIDENT = date(2024, 5, 10)


@pytest.mark.parametrize(
    ("taken", "days", "flagged"),
    [
        ("2024:05:20 14:03:00", 10, "taken 10 days after the incident"),
        ("2022:05:20 09:00:00", -721, "taken 721 days before the incident"),
        ("2024:05:11 08:30:00", 1, None),
        ("2024:02:01 12:00:00", -99, None),
    ],
)
def test_an_exif_date_far_from_the_incident_adds_a_reason_but_keeps_the_verdict(taken, days, flagged):
    data = jpeg_with_exif(render_image(PhotoSpec("coffee", (800, 600), (10, 10))), taken=taken)
    quality = assess_photo(data, incident_date=INCIDENT)
    assert quality.exif_datetime == f"{taken[:10].replace(':', '-')}T{taken[11:]}"
    assert quality.exif_vs_incident_days == days and quality.verdict == "ok"
    if flagged:
        day = taken[:10].replace(":", "-")
        assert len(quality.reasons) == 1 and quality.reasons[0].startswith(f"exif date {day} vs incident 2024-05-10")
        assert flagged in quality.reasons[0]
    else:
        assert quality.reasons == []


def test_without_an_incident_date_or_an_exif_date_nothing_is_compared():
    with_exif = jpeg_with_exif(render_image(PhotoSpec("coffee", (800, 600), (10, 10))), taken="2020:01:01 00:00:00")
    assert assess_photo(with_exif).exif_vs_incident_days is None
    plain = assess_photo(claim_photos()["rocket"], incident_date=INCIDENT)
    assert (plain.exif_datetime, plain.exif_vs_incident_days) == (None, None)


def test_a_placeholder_exif_date_reads_as_no_date():
    data = jpeg_with_exif(render_image(PhotoSpec("coffee", (800, 600), (10, 10))), taken="0000:00:00 00:00:00")
    assert assess_photo(data, incident_date=INCIDENT).exif_datetime is None


# ------------------------------------------------------------------ bad bytes


def bad_files() -> dict[str, bytes]:
    good = claim_photos()["rocket"]
    png = encode(original("coins"), "PNG")
    return {
        "empty": b"",
        "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        "zip": b"PK\x03\x04" + bytes(40),
        "text": b"Bonjour, voici les photos.",
        "jpeg header only": good[:300],
        "truncated jpeg": good[: len(good) // 3],
        "truncated png": png[: len(png) // 2],
    }


@pytest.mark.parametrize("kind", list(bad_files()))
def test_bytes_that_are_not_a_readable_photo_raise_one_line_photo_error(kind):
    with pytest.raises(PhotoError) as caught:
        assess_photo(bad_files()[kind])
    message = str(caught.value)
    assert message and "\n" not in message and "BytesIO" not in message
    assert isinstance(caught.value, ValueError)


def test_randomly_damaged_photos_either_decode_or_raise_photo_error():
    rng = np.random.default_rng(0)
    good = np.frombuffer(claim_photos()["camera"], dtype=np.uint8)
    outcomes = set()
    for k in range(60):
        damaged = good.copy()
        damaged[rng.integers(0, len(good), 12)] = rng.integers(0, 256, 12, dtype=np.uint8)
        end = rng.integers(100, len(good)) if k % 2 else len(good)
        try:
            outcomes.add(type(assess_photo(damaged[:end].tobytes())))
        except PhotoError:
            outcomes.add(PhotoError)
    assert outcomes == {PhotoQuality, PhotoError}  # any other exception fails the test by escaping


def test_sixteen_bit_and_palette_images_are_measured_on_their_full_range():
    grey16 = Image.fromarray(util.img_as_uint(original("camera")))
    assert grey16.mode.startswith("I;16")
    q16 = assess_photo(encode(grey16, "PNG"))
    q8 = assess_photo(encode(original("camera"), "PNG"))
    assert q16.brightness == pytest.approx(q8.brightness, abs=0.01) and q16.verdict == "ok"
    palette = Image.fromarray(util.img_as_ubyte(original("astronaut"))).convert("P", palette=Image.Palette.ADAPTIVE)
    assert assess_photo(encode(palette, "GIF")).format == "gif"


# ------------------------------------------------------------------ command line


@pytest.fixture
def run(capsys, monkeypatch):
    """Run `claimflow` through the real `main` (its exit codes and one-line errors) with `photos` registered."""

    def parser():
        p = Parser(prog="claimflow")
        register(p.add_subparsers(dest="command", required=True, parser_class=Parser))
        return p

    monkeypatch.setattr(cli, "build_parser", parser)

    def invoke(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_photos_check_prints_every_field_as_json(run, tmp_path):
    path = tmp_path / "damage 1.jpg"
    image = render_image(PhotoSpec("coffee", (800, 600), (10, 10)))
    path.write_bytes(jpeg_with_exif(image, taken="2024:05:20 10:00:00"))
    code, out, err = run("photos", "check", path, "--incident-date", "2024-05-10")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert set(report) == set(PhotoQuality.__dataclass_fields__)
    assert report["verdict"] == "ok" and report["exif_vs_incident_days"] == 10 and len(report["reasons"]) == 1


def test_photos_check_exits_0_for_a_poor_photo(run, tmp_path):
    path = tmp_path / "blurred.jpg"
    path.write_bytes(encode(blurred(original("astronaut"))))
    code, out, _ = run("photos", "check", path)
    assert code == 0 and json.loads(out)["verdict"] == "poor"


@pytest.mark.parametrize("kind", ["empty", "pdf", "truncated jpeg", "text"])
def test_photos_check_exits_2_with_one_line_for_a_file_that_is_no_photo(run, tmp_path, kind):
    path = tmp_path / "photo.jpg"
    path.write_bytes(bad_files()[kind])
    code, out, err = run("photos", "check", path)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and str(path) in err


@pytest.mark.parametrize("target", ["missing.jpg", "."])
def test_photos_check_exits_2_for_a_missing_file_or_a_directory(run, tmp_path, target):
    code, _, err = run("photos", "check", tmp_path / target)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unreadable" in err


@pytest.mark.parametrize(
    "argv", [["photos"], ["photos", "check"], ["photos", "check", "x.jpg", "--incident-date", "10/05/2024"]]
)
def test_photos_check_exits_2_with_one_line_for_wrong_usage(run, argv):
    code, _, err = run(*argv)
    assert code == 2 and len(err.strip().splitlines()) == 1
