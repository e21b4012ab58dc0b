"""BT.709 limited-range YUV, the colour space every video we write is coded in.

The motion engine converts each source picture to YUV once and renders its frames in YUV, so that
they reach x264 without a colour conversion per frame: swscale's RGB -> yuv420p costs 3-11 ms a
720p frame (more than the warp that makes the frame), against 0.5 ms to pack YUV 4:4:4 into yuv420p.
Warps, crossfades and alpha blends are weighted sums with weights adding up to 1, and the RGB -> YUV
map is affine, so doing them in YUV gives the same picture as doing them in RGB and converting after.

Frames in YUV travel as `YuvFrame`, so that nothing mistakes them for RGB arrays of the same shape.
RGB -> YUV is integer arithmetic (16-bit fixed point, like swscale's), so a picture converts to the
same bytes on every CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# BT.709 luma weights; limited ("MPEG", "TV") range puts Y in 16..235 and U, V in 16..240.
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB
Y_SCALE, C_SCALE = 219.0 / 255.0, 224.0 / 255.0
RGB_TO_YUV = np.array(
    [
        [KR * Y_SCALE, KG * Y_SCALE, KB * Y_SCALE],
        [-KR / (2 * (1 - KB)) * C_SCALE, -KG / (2 * (1 - KB)) * C_SCALE, 0.5 * C_SCALE],
        [0.5 * C_SCALE, -KG / (2 * (1 - KR)) * C_SCALE, -KB / (2 * (1 - KR)) * C_SCALE],
    ]
)
YUV_OFFSET = np.array([16.0, 128.0, 128.0])
_FIXED_BITS = 16
_FIXED = np.round(RGB_TO_YUV * (1 << _FIXED_BITS)).astype(np.int32)
# The offsets, plus one half for rounding to nearest.
_FIXED_OFFSET = (YUV_OFFSET * (1 << _FIXED_BITS)).astype(np.int32) + (1 << (_FIXED_BITS - 1))


@dataclass(frozen=True)
class YuvFrame:
    """A frame in BT.709 limited-range YUV 4:4:4: uint8 (height, width, 3 or 4); a 4th channel is ignored.

    Engines that render in YUV hand these to the encoder instead of RGB arrays."""

    pixels: np.ndarray


# What encoders and frame filters take: an RGB uint8 (height, width, 3) array, or a YuvFrame.
Frame = np.ndarray | YuvFrame


def rgb_to_yuv(pixels: np.ndarray) -> np.ndarray:
    """RGB(A) uint8 -> YUV(A) uint8 of the same shape; alpha, if any, is copied unchanged."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected RGB or RGBA uint8 pixels, got {pixels.dtype} {pixels.shape}")
    out = np.empty_like(pixels)
    red, green, blue = (pixels[..., channel].astype(np.int32) for channel in range(3))
    for channel in range(3):
        weights = _FIXED[channel]
        # Always within 0..255 for inputs in 0..255: limited range leaves headroom on both sides.
        value = red * weights[0] + green * weights[1] + blue * weights[2] + _FIXED_OFFSET[channel]
        out[..., channel] = value >> _FIXED_BITS
    if pixels.shape[2] == 4:
        out[..., 3] = pixels[..., 3]
    return out


def yuv_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """YUV(A) 4:4:4 uint8 -> RGB uint8 (alpha dropped), rounded and clipped: for checks and tools."""
    yuv = pixels[..., :3].astype(np.float64) - YUV_OFFSET
    rgb = yuv @ np.linalg.inv(RGB_TO_YUV).T
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def rgb_colour_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """Float RGB values (any shape ending in 3) -> float YUV, unrounded: for blending constants."""
    return np.asarray(rgb, np.float64) @ RGB_TO_YUV.T + YUV_OFFSET


def pack_i420(frame: YuvFrame) -> np.ndarray:
    """YUV 4:4:4 -> yuv420p as one (height * 3 / 2, width) uint8 array (Y plane, then U, then V).

    Each chroma sample is the mean of its 2x2 block (centred siting). Width and height must be even."""
    pixels = frame.pixels
    height, width = pixels.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {width}x{height}")
    luma_size, chroma_size = height * width, height * width // 4
    packed = np.empty(luma_size + 2 * chroma_size, np.uint8)
    # extractChannel writes straight into each plane's slice of the buffer (contiguous views).
    cv2.extractChannel(pixels, 0, packed[:luma_size].reshape(height, width))
    # INTER_AREA at exactly half size is OpenCV's integer 2x2 mean: fast, and the same on every CPU.
    half = cv2.resize(pixels, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    for plane in (1, 2):
        start = luma_size + (plane - 1) * chroma_size
        cv2.extractChannel(half, plane, packed[start : start + chroma_size].reshape(height // 2, width // 2))
    return packed.reshape(height * 3 // 2, width)
