"""BT.709 limited-range YUV: the engine's conversion agrees with FFmpeg's, and packs as yuv420p."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vidgate.media.colour import YuvFrame, pack_i420, rgb_colour_to_yuv, rgb_to_yuv, yuv_to_rgb


def random_rgb(height: int = 64, width: int = 96, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def swscale_yuv444(rgb: np.ndarray) -> np.ndarray:
    """FFmpeg's own BT.709 limited-range conversion, as (height, width, 3)."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    yuv = frame.reformat(format="yuv444p", dst_colorspace="ITU709", dst_color_range="MPEG")
    return np.moveaxis(yuv.to_ndarray(), 0, -1)


def test_agrees_with_ffmpeg_within_one_level() -> None:
    rgb = random_rgb()
    corners = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]])
    for image in (rgb, corners.astype(np.uint8)):
        assert np.abs(rgb_to_yuv(image).astype(int) - swscale_yuv444(image)).max() <= 1


def test_limited_range_and_exact_greys() -> None:
    black, white = rgb_to_yuv(np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8))[0]
    assert black.tolist() == [16, 128, 128] and white.tolist() == [235, 128, 128]
    assert rgb_colour_to_yuv(np.array([255.0, 255.0, 255.0])) == pytest.approx([235, 128, 128])


def test_round_trip_and_alpha() -> None:
    rgba = random_rgb(channels=4, seed=1)
    yuva = rgb_to_yuv(rgba)
    assert np.array_equal(yuva[..., 3], rgba[..., 3]), "alpha is carried unchanged"
    assert np.abs(yuv_to_rgb(yuva).astype(int) - rgba[..., :3]).max() <= 2


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float64)]
)
def test_rejects_what_is_not_rgb(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_yuv(bad)


def test_packs_in_the_layout_ffmpeg_reads() -> None:
    ys, xs = np.mgrid[0:48, 0:80].astype(np.float64)
    rgb = np.dstack([xs * 3, ys * 5, 255 - xs * 2]).astype(np.uint8)

    def to_rgb(frame: av.VideoFrame) -> np.ndarray:
        return frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_ndarray()

    swscale_420 = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG"
    )
    swscale_loss = np.abs(to_rgb(swscale_420).astype(int) - rgb).mean()
    for yuv in (rgb_to_yuv(rgb), rgb_to_yuv(np.dstack([rgb, np.full((48, 80), 255, np.uint8)]))):
        packed = pack_i420(YuvFrame(yuv))
        assert packed.shape == (72, 80)
        assert np.array_equal(packed[:48], yuv[..., 0]), "luma is copied as it is"
        back = to_rgb(av.VideoFrame.from_ndarray(packed, format="yuv420p"))
        # Halving the chroma loses detail; no more than FFmpeg's own conversion to yuv420p loses.
        assert np.abs(back.astype(int) - rgb).mean() <= swscale_loss + 0.1


def test_pack_needs_an_even_size() -> None:
    with pytest.raises(ValueError, match="even"):
        pack_i420(YuvFrame(np.zeros((5, 8, 3), np.uint8)))
