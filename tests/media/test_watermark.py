"""The visible watermark and the provenance tags every output carries."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.media import make_image
from vidgate.media.colour import YuvFrame, rgb_to_yuv
from vidgate.media.watermark import Watermark, WatermarkStyle, provenance_tags


def photo(width: int = 1280, height: int = 720) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(make_image(width, height))).convert("RGB"))


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(np.any(before != after, axis=2))
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_only_the_bottom_right_corner_changes() -> None:
    frame = photo()
    marked = Watermark()(frame)
    x0, y0, x1, y1 = changed_box(frame, marked)
    assert x0 > 1280 * 0.75 and y0 > 720 * 0.85, "bottom-right"
    assert x1 < 1280 and y1 < 720, "inside a margin"
    rx0, ry0, rx1, ry1 = Watermark().region(1280, 720)
    assert rx0 <= x0 and ry0 <= y0 and x1 <= rx1 and y1 <= ry1, "within the region it reports"
    outside = np.ones((720, 1280), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(frame[outside], marked[outside]), "the rest of the frame is untouched"


def test_semi_transparent_antialiased_and_visible() -> None:
    frame = np.full((720, 1280, 3), 128, np.uint8)
    marked = Watermark()(frame)
    x0, y0, x1, y1 = Watermark().region(1280, 720)
    patch = marked[y0:y1, x0:x1].astype(int)
    levels = set(np.unique(patch[..., 0]).tolist())
    assert max(levels) > 200, "bright enough to read on mid grey"
    assert max(levels) < 255, "semi-transparent: never fully opaque"
    assert len(levels) > 20, "antialiased edges: many in-between levels, not two"
    assert min(levels) < 128, "a soft shadow keeps it legible on bright pictures"


def test_stable_across_frames_and_never_marks_twice() -> None:
    watermark = Watermark()
    frame = photo()
    first = watermark(frame)
    assert np.array_equal(first, watermark(frame)), "same pixels on every frame"
    assert np.array_equal(frame, photo()), "the input frame is not modified"


def test_scales_with_resolution() -> None:
    sizes = {}
    for width, height in ((960, 540), (1280, 720), (1920, 1080), (1080, 1920)):
        x0, y0, x1, y1 = Watermark().region(width, height)
        sizes[(width, height)] = (x1 - x0, y1 - y0)
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert sizes[(1920, 1080)][1] == pytest.approx(1.5 * sizes[(1280, 720)][1], rel=0.15)
    assert sizes[(960, 540)][1] == pytest.approx(0.75 * sizes[(1280, 720)][1], rel=0.15)
    assert sizes[(1080, 1920)] == sizes[(1920, 1080)], "portrait: scaled by the short side"


@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_position_is_configurable(position: str) -> None:
    x0, y0, _x1, _y1 = Watermark(WatermarkStyle(position=position)).region(1280, 720)  # type: ignore[arg-type]
    assert (x0 < 640) == position.endswith("left")
    assert (y0 < 360) == position.startswith("top")


def test_text_and_image_are_configurable(tmp_path: Path) -> None:
    frame = np.full((720, 1280, 3), 60, np.uint8)
    short = Watermark(WatermarkStyle(text="AI"))
    assert short.region(1280, 720)[2] - short.region(1280, 720)[0] < 80
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (64, 32), (255, 0, 0, 255)).save(logo)
    marked = Watermark(WatermarkStyle(text="", image_path=logo))(frame)
    x0, y0, x1, y1 = changed_box(frame, marked)
    red = marked[y0:y1, x0:x1, 0].astype(int) - marked[y0:y1, x0:x1, 1]
    assert red.max() > 100, "the operator's image is drawn"
    assert (x1 - x0) / (y1 - y0) == pytest.approx(2.0, rel=0.35), "aspect kept"
    with pytest.raises(ValueError, match="could not be read"):
        Watermark(WatermarkStyle(image_path=tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="text, an image"):
        Watermark(WatermarkStyle(text=""))


def test_provenance_tags_say_machine_generated_engine_and_seed() -> None:
    tags = provenance_tags("motion", 42)
    assert tags["ai_generated"] == "true"
    assert tags["generator_engine"] == "motion" and tags["generator_seed"] == "42"
    assert "AI-generated" in tags["comment"] and "42" in tags["comment"]
    assert tags["digital_source_type"].endswith("trainedAlgorithmicMedia")


def test_yuv_frames_get_the_same_mark() -> None:
    frame = photo()
    marked_rgb = Watermark()(frame)
    marked_yuv = Watermark()(YuvFrame(rgb_to_yuv(frame)))
    assert isinstance(marked_yuv, YuvFrame)
    # Blending in YUV with converted colours is the same as converting the blend: equal to rounding.
    assert np.abs(marked_yuv.pixels.astype(int) - rgb_to_yuv(marked_rgb)).max() <= 1
    four_channels = np.dstack([rgb_to_yuv(frame), np.full((720, 1280), 255, np.uint8)])
    marked_four = Watermark()(YuvFrame(four_channels))
    assert isinstance(marked_four, YuvFrame)
    assert np.array_equal(marked_four.pixels[..., :3], marked_yuv.pixels)
    assert (marked_four.pixels[..., 3] == 255).all(), "the spare channel is left alone"
