"""Malicious and awkward image files, and what the one validator (`normalise`) makes of each.

`tests/inputs/test_images.py` asserts the outcomes; docs/security.md is rendered from the same
observations. An accepted file is described by what came out: always a fresh RGB PNG.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from security.crafted import (
    SWAPPED_PROFILE,
    encode,
    jpeg_with_size,
    png_with_header,
    webp_with_canvas,
    ztxt_bomb,
)
from support.media import make_image
from vidgate.errors import ImageError
from vidgate.inputs.images import normalise

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ImageCase:
    attack: str
    make: Callable[[], bytes]
    expect: str  # the error reason, or "accepted"
    check: Callable[[np.ndarray], bool] | None = None  # what an accepted result must look like


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise to display
    return encode(Image.new("RGB", (80, 40), (200, 30, 30)), "JPEG", exif=exif)


def _animated_webp() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ((10, 20, 30), (250, 250, 250))]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def _with_trailing_zip() -> bytes:
    return make_image(64, 48) + b"PK\x03\x04" + b"payload.sh\x00#!/bin/sh\nrm -rf /\n" * 4


IMAGE_CASES: list[ImageCase] = [
    ImageCase("PNG header claiming 50000x50000 (2.5 GP)", lambda: png_with_header(50_000, 50_000), "IMAGE_EXCEEDS_MAX_RESOLUTION"),
    ImageCase("PNG header claiming 8000x8000 (64 MP, under Pillow's own limit)", lambda: png_with_header(8_000, 8_000), "IMAGE_EXCEEDS_MAX_RESOLUTION"),
    ImageCase("JPEG frame header claiming 65500x65500", lambda: jpeg_with_size(65_500, 65_500), "IMAGE_EXCEEDS_MAX_RESOLUTION"),
    ImageCase("WebP canvas claiming 16384x16384", lambda: webp_with_canvas(16_384, 16_384), "IMAGE_EXCEEDS_MAX_RESOLUTION"),
    ImageCase("PNG text chunk inflating to 64 MB", ztxt_bomb, "INVALID_IMAGE_FORMAT"),
    ImageCase("file over the byte limit", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_BYTES - 7), "IMAGE_FILE_EXCEEDS_MAX_SIZE"),
    ImageCase("truncated PNG", lambda: make_image(320, 180)[:2000], "INVALID_IMAGE_FORMAT"),
    ImageCase("truncated JPEG", lambda: make_image(320, 180, fmt="JPEG")[:1500], "INVALID_IMAGE_FORMAT"),
    ImageCase("PNG with a corrupted data byte", lambda: (lambda b: b[:60] + bytes([b[60] ^ 0xFF]) + b[61:])(make_image(64, 64)), "INVALID_IMAGE_FORMAT"),
    ImageCase("empty file", lambda: b"", "INVALID_IMAGE_FORMAT"),
    ImageCase("GIF (not on the allow-list)", lambda: make_image(64, 48, fmt="GIF"), "INVALID_IMAGE_FORMAT"),
    ImageCase("TIFF (large decoder surface)", lambda: make_image(64, 48, fmt="TIFF"), "INVALID_IMAGE_FORMAT"),
    ImageCase("BMP", lambda: make_image(64, 48, fmt="BMP"), "INVALID_IMAGE_FORMAT"),
    ImageCase("SVG with an external entity (XXE)", lambda: b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>', "INVALID_IMAGE_FORMAT"),
    ImageCase("HTML with script, labelled as an image", lambda: b"<html><script>alert(1)</script></html>", "INVALID_IMAGE_FORMAT"),
    ImageCase("PNG magic followed by garbage", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "INVALID_IMAGE_FORMAT"),
    ImageCase("aspect 5:1", lambda: make_image(500, 100), "INVALID_IMAGE_SIZE"),
    ImageCase("aspect 1:5", lambda: make_image(40, 200), "INVALID_IMAGE_SIZE"),
    ImageCase("1x1 pixel", lambda: make_image(1, 1), "INVALID_IMAGE_SIZE"),
    ImageCase("PNG with a ZIP appended (polyglot)", _with_trailing_zip, "accepted", lambda a: a.shape == (48, 64, 3)),
    ImageCase("EXIF orientation 8", _exif_rotated, "accepted", lambda a: a.shape == (80, 40, 3)),
    ImageCase("corrupt EXIF block", lambda: encode(Image.new("RGB", (80, 40)), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"), "accepted", lambda a: a.shape == (40, 80, 3)),
    ImageCase("ICC profile with red and blue swapped", lambda: encode(Image.new("RGB", (32, 32), (255, 0, 0)), icc_profile=SWAPPED_PROFILE), "accepted", lambda a: bool(a[0, 0, 2] > 250 and a[0, 0, 0] < 5)),
    ImageCase("ICC profile that is garbage", lambda: encode(Image.new("RGB", (32, 32), (255, 0, 0)), icc_profile=b"\x00junk" * 40), "accepted", lambda a: bool(a[0, 0, 0] == 255)),
    ImageCase("animated WebP", _animated_webp, "accepted", lambda a: bool(abs(int(a[..., 2].mean()) - 30) <= 2)),
    ImageCase("fully transparent PNG", lambda: encode(Image.new("RGBA", (32, 32), (0, 0, 0, 0))), "accepted", lambda a: bool((a == 255).all())),
    ImageCase("CMYK JPEG", lambda: encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"), "accepted", lambda a: bool(a[0, 0, 0] > 200 and a[0, 0, 1] < 60)),
    ImageCase("16-bit greyscale PNG", lambda: encode(Image.fromarray(np.full((32, 32), 40_000, np.uint16))), "accepted", lambda a: bool(abs(int(a[0, 0, 0]) - 155) <= 1)),
]  # fmt: skip


@dataclass(frozen=True)
class ImageObservation:
    outcome: str  # the error reason, or "accepted"
    detail: str
    as_expected: bool


def observe(case: ImageCase) -> ImageObservation:
    try:
        png = normalise(case.make(), 0, MAX_BYTES, MAX_PIXELS)
    except ImageError as exc:
        return ImageObservation(exc.reason, exc.message.removeprefix("images[0] "), exc.reason == case.expect)
    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image)
        detail = f"re-encoded: {image.format} {image.mode} {image.width}x{image.height}"
        ok = image.format == "PNG" and image.mode == "RGB" and case.expect == "accepted"
    return ImageObservation("accepted", detail, ok and (case.check is None or case.check(pixels)))
