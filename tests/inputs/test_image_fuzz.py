"""Fuzzing the image validator with mutated real files: every outcome is a clean ImageError or a
valid RGB PNG within the limits, and none takes long. Bounded for CI: 200 examples, derandomized
(the same examples every run, so a failure reproduces); raise `max_examples` locally to dig deeper."""

from __future__ import annotations

import io
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from security.crafted import SWAPPED_PROFILE, encode
from support.media import make_image
from vidgate.errors import ImageError
from vidgate.inputs.images import MAX_ASPECT, MIN_SIDE, normalise

MAX_BYTES = 1_000_000
MAX_PIXELS = 4_000_000


def _seeds() -> list[bytes]:
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = [Image.new("RGB", (48, 32), c) for c in ((200, 10, 10), (10, 200, 10))]
    return [
        make_image(48, 32),
        make_image(48, 32, fmt="JPEG"),
        make_image(48, 32, fmt="WEBP"),
        encode(Image.new("RGBA", (40, 40), (10, 20, 30, 128))),
        encode(Image.new("P", (40, 40), 3), transparency=3),
        encode(Image.new("RGB", (40, 30), (255, 0, 0)), "JPEG", exif=exif, icc_profile=SWAPPED_PROFILE),
        encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"),
        encode(frames[0], "PNG", save_all=True, append_images=frames[1:]),  # APNG
        encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
        encode(Image.new("I;16", (32, 32), 40_000)),
    ]


SEEDS = _seeds()


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "repeat", "overwrite"]))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "splice":  # this file's header on another file's body
            other = draw(st.sampled_from(SEEDS))
            data = data[:at] + bytearray(other[at:])
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(2, 8))
        else:  # header fields: sizes, lengths, counts
            data[at : at + 4] = draw(
                st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"])
            )
        if not data:
            break
    return bytes(data)


@settings(
    max_examples=200,
    deadline=timedelta(seconds=2),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated_images())
def test_mutated_images_are_refused_cleanly_or_normalised(data: bytes) -> None:
    try:
        png = normalise(data, 0, MAX_BYTES, MAX_PIXELS)
    except ImageError as exc:
        assert exc.status == 400 and exc.reason and exc.metadata["index"] == 0
        return
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.mode == "RGB"
        width, height = image.size
    assert width * height <= MAX_PIXELS and min(width, height) >= MIN_SIDE
    assert max(width, height) / min(width, height) <= MAX_ASPECT
