"""The image validator and normaliser, directly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from security.cases_images import IMAGE_CASES, ImageCase, observe
from support.media import make_image
from vidgate.errors import ImageExceedsMaxResolution, InvalidImageFormat
from vidgate.inputs.images import decode_data_uri, load_stored, normalise, store_image
from vidgate.storage.local import LocalStore

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


def encode(image: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def decoded(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


def test_output_is_an_rgb_png_of_the_same_pixels() -> None:
    source = make_image(64, 48)
    out = decoded(normalise(source, 0, **LIMITS))
    assert out.format == "PNG" and out.mode == "RGB" and out.size == (64, 48)
    assert np.array_equal(np.asarray(out), np.asarray(Image.open(io.BytesIO(source)).convert("RGB")))


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (80, 40), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = decoded(normalise(encode(image, "JPEG", exif=exif), 0, **LIMITS))
    assert out.size == (40, 80)


def test_alpha_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    out = np.asarray(decoded(normalise(encode(image), 0, **LIMITS)))
    assert (out == 255).all()


def test_animated_webp_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), color) for color in ((10, 20, 30), (200, 100, 0))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    out = np.asarray(decoded(normalise(data, 0, **LIMITS)))
    assert abs(int(out[..., 2].mean()) - 30) <= 2


def test_decompression_bombs_are_refused_before_decoding() -> None:
    bomb = encode(Image.new("L", (20_000, 20_000)))  # tiny file, 400 MP
    with pytest.raises(ImageExceedsMaxResolution):
        normalise(bomb, 0, **LIMITS)


def test_data_uri_media_type_is_case_insensitive_and_payload_strict() -> None:
    assert decode_data_uri("DATA:IMAGE/PNG;BASE64,aGk=", 0) == b"hi"
    with pytest.raises(InvalidImageFormat):
        decode_data_uri("data:image/png;base64,aGk", 0)  # missing padding


def test_stored_images_are_keyed_by_content(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LocalStore(tmp_path)
    png = normalise(make_image(40, 30), 0, **LIMITS)
    registered: list[tuple[str, int]] = []
    ref = store_image(store, png, lambda digest, size: registered.append((digest, size)))
    assert ref == store_image(store, png, lambda digest, size: None) and ref.startswith("sha256:")
    assert registered == [(ref.removeprefix("sha256:"), len(png))]  # marked used before it is kept
    assert load_stored(store, ref).shape == (30, 40, 3)


@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda c: c.attack)
def test_hostile_and_awkward_files(case: ImageCase) -> None:
    seen = observe(case)
    assert seen.outcome == case.expect and seen.as_expected, seen


def test_enough_malicious_files_are_tried() -> None:
    assert sum(case.expect != "accepted" for case in IMAGE_CASES) >= 10


def test_other_decoders_never_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GIF is refused by the allow-list before Pillow's GIF decoder sees it."""
    from PIL import GifImagePlugin

    def explode(*_args: object) -> None:
        raise AssertionError("the GIF decoder ran")

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_open", explode)
    with pytest.raises(InvalidImageFormat):
        normalise(make_image(64, 48, fmt="GIF"), 0, **LIMITS)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_local_render_reads_the_very_pixels_a_stored_input_gives(fmt: str) -> None:
    """`vidgate generate` skips the PNG round trip of stored inputs; its pixels must not differ."""
    from vidgate.inputs.images import decode_png, normalise, normalised_pixels

    data = make_image(width=97, height=61, fmt=fmt)
    stored = decode_png(normalise(data, 0, 10_000_000, 10_000_000))
    assert np.array_equal(normalised_pixels(data, 0, 10_000_000, 10_000_000), stored)
