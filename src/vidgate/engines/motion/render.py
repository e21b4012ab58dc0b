"""Frame generation for the motion engine: fit each image under the camera path, warp, crossfade.

Geometry is kept in float64 from the camera path to the warp matrix, so that motion is sub-pixel
smooth: cv2's bilinear warp resolves positions to 1/32 px, there is no integer rounding anywhere else.
The view through the camera is a window of the output's aspect ratio inside the source image; each
image gets a base zoom chosen so that the window stays inside the image for the whole path, so no
empty border can ever show.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vidgate.engines.base import CancelCheck, ProgressCallback, RenderCancelled
from vidgate.engines.motion.camera import CameraMove, CameraPose

# How samples that fall just outside the image are filled. With the window inside the image, only
# the half-pixel margin around it is ever read (when upsampling); replicating the edge keeps it clean.
# Tests swap in BORDER_CONSTANT to prove that the geometry, not this setting, prevents borders.
EDGE_MODE = cv2.BORDER_REPLICATE
# Skip the one-off downscale unless it saves real work: a bilinear warp that shrinks by up to 1.25x
# still looks clean, and every resample blurs a little.
PRESCALE_BELOW = 0.8
CANCEL_CHECK_EVERY = 4  # frames; should_cancel() may hit a database
MAX_CROSSFADE_S = 0.8
CROSSFADE_SHARE = 0.4  # of the time each image is on screen, for short videos with many images


@dataclass(frozen=True)
class FittedImage:
    """An image prepared for one camera path: downscaled once, with the base window placed."""

    pixels: np.ndarray  # prescaled RGB source
    scale_x: float  # prescaled pixels per original pixel
    scale_y: float
    window_w: float  # the base window (zoom 1, no shift) in original pixels
    window_h: float
    centre_x: float  # where the base window's centre sits when the shift is mid-path
    centre_y: float
    mid_shift_x: float  # mid-path shift, subtracted so that the path is centred in the image
    mid_shift_y: float


def cover_window(image_w: int, image_h: int, out_w: int, out_h: int) -> tuple[float, float]:
    """The largest window of the output's aspect ratio that fits in the image (cover-fit)."""
    out_aspect = out_w / out_h
    if image_w / image_h > out_aspect:
        return image_h * out_aspect, float(image_h)
    return float(image_w), image_w / out_aspect


def fit_image(image: np.ndarray, out_w: int, out_h: int, poses: Sequence[CameraPose]) -> FittedImage:
    """Place the camera path in `image` so that every pose's view lies inside it."""
    image_h, image_w = image.shape[:2]
    cover_w, cover_h = cover_window(image_w, image_h, out_w, out_h)
    mid_x = (min(p.shift_x for p in poses) + max(p.shift_x for p in poses)) / 2.0
    mid_y = (min(p.shift_y for p in poses) + max(p.shift_y for p in poses)) / 2.0
    # A pose at base zoom b spans, from the image centre, (|shift - mid| + half extent / zoom) * cover / b;
    # it must stay within half the image, which bounds b from below. Zoom-out, pans and orbits all
    # need b > 1, that is starting tighter than cover-fit.
    needed = 1.0
    for pose in poses:
        span_x = 2.0 * abs(pose.shift_x - mid_x) + 1.0 / pose.zoom
        span_y = 2.0 * abs(pose.shift_y - mid_y) + (1.0 + abs(pose.keystone)) / pose.zoom
        needed = max(needed, cover_w / image_w * span_x, cover_h / image_h * span_y)
    base_zoom = needed * (1.0 + 1e-9)  # float slack: never a hair outside
    window_w, window_h = cover_w / base_zoom, cover_h / base_zoom

    # The sharpest view (most zoomed in) needs this many source pixels per output pixel; keep just
    # enough resolution for it to be sampled 1:1 and drop the rest once, not in every frame.
    max_zoom = max(p.zoom for p in poses)
    wanted = 1.02 * out_w * max_zoom / window_w
    pixels, scale_x, scale_y = image, 1.0, 1.0
    if wanted < PRESCALE_BELOW:
        new_w, new_h = math.ceil(image_w * wanted), math.ceil(image_h * wanted)
        pixels = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        scale_x, scale_y = new_w / image_w, new_h / image_h
    return FittedImage(
        pixels=pixels,
        scale_x=scale_x,
        scale_y=scale_y,
        window_w=window_w,
        window_h=window_h,
        centre_x=image_w / 2.0,
        centre_y=image_h / 2.0,
        mid_shift_x=mid_x,
        mid_shift_y=mid_y,
    )


def view_quad(fitted: FittedImage, pose: CameraPose) -> np.ndarray:
    """Corners of the visible region in original image coordinates: TL, TR, BR, BL (4x2 float64)."""
    cx = fitted.centre_x + (pose.shift_x - fitted.mid_shift_x) * fitted.window_w
    cy = fitted.centre_y + (pose.shift_y - fitted.mid_shift_y) * fitted.window_h
    half_w = fitted.window_w / (2.0 * pose.zoom)
    half_h = fitted.window_h / (2.0 * pose.zoom)
    left_h, right_h = half_h * (1.0 + pose.keystone), half_h * (1.0 - pose.keystone)
    return np.array(
        [
            [cx - half_w, cy - left_h],
            [cx + half_w, cy - right_h],
            [cx + half_w, cy + right_h],
            [cx - half_w, cy + left_h],
        ]
    )


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 matrix mapping the 4 points `src` to `dst`, solved in float64.

    cv2.getPerspectiveTransform takes float32 points; we keep double precision end to end."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs.extend([u, v])
    h = np.linalg.solve(np.array(rows), np.array(rhs))
    return np.append(h, 1.0).reshape(3, 3)


def output_to_source(fitted: FittedImage, pose: CameraPose, out_w: int, out_h: int) -> np.ndarray:
    """3x3 matrix from output pixel indices to prescaled source pixel indices (pixel centres)."""
    quad = view_quad(fitted, pose)
    if pose.keystone == 0.0:  # an axis-aligned window: scale and offset, exactly
        (left, top), (right, bottom) = quad[0], quad[2]
        edges_to_image = np.array(
            [[(right - left) / out_w, 0.0, left], [0.0, (bottom - top) / out_h, top], [0.0, 0.0, 1.0]]
        )
    else:
        out_corners = np.array([[0.0, 0.0], [out_w, 0.0], [out_w, out_h], [0.0, out_h]])
        edges_to_image = _homography(out_corners, quad)
    # Pixel index i covers [i, i + 1) in edge coordinates: shift by half a pixel on both ends.
    index_to_edges = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    image_to_prescaled_index = np.array(
        [[fitted.scale_x, 0.0, -0.5], [0.0, fitted.scale_y, -0.5], [0.0, 0.0, 1.0]]
    )
    return image_to_prescaled_index @ edges_to_image @ index_to_edges


def warp_view(fitted: FittedImage, pose: CameraPose, out_w: int, out_h: int) -> np.ndarray:
    """One frame of one image: the camera's view, resampled to the output size."""
    matrix = output_to_source(fitted, pose, out_w, out_h)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if pose.keystone == 0.0:  # affine is cheaper, and exact here: the last row is (0, 0, 1)
        return cv2.warpAffine(fitted.pixels, matrix[:2], (out_w, out_h), flags=flags, borderMode=EDGE_MODE)
    return cv2.warpPerspective(fitted.pixels, matrix, (out_w, out_h), flags=flags, borderMode=EDGE_MODE)


def crossfade_frames(frame_count: int, image_count: int, fps: int) -> float:
    """Length of each crossfade in frames: up to MAX_CROSSFADE_S, shorter when images change often."""
    if image_count < 2:
        return 0.0
    return min(MAX_CROSSFADE_S * fps, CROSSFADE_SHARE * frame_count / image_count)


def image_weights(index: int, frame_count: int, image_count: int, fade: float) -> list[tuple[int, float]]:
    """Which images frame `index` shows, with blend weights summing to 1.

    Each image owns an equal share of the timeline; around each boundary the next image fades in
    over `fade` frames with a smoothstep, so a crossfade starts and ends softly."""
    segment = frame_count / image_count
    current = min(int(index // segment), image_count - 1)
    for boundary_index in (current, current + 1):  # the boundaries just before and after this frame
        if not 0 < boundary_index < image_count or fade <= 0.0:
            continue
        start = boundary_index * segment - fade / 2.0
        position = (index - start) / fade
        if 0.0 < position < 1.0:
            weight = position * position * (3.0 - 2.0 * position)
            return [(boundary_index - 1, 1.0 - weight), (boundary_index, weight)]
    return [(current, 1.0)]


def generate_frames(
    images: Sequence[np.ndarray],
    move: CameraMove,
    out_w: int,
    out_h: int,
    frame_count: int,
    fps: int,
    on_progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> Iterator[np.ndarray]:
    """Yield `frame_count` RGB frames lazily; raise RenderCancelled when asked to stop."""
    last = max(frame_count - 1, 1)
    poses = [move.pose(i / last) for i in range(frame_count)]
    fade = crossfade_frames(frame_count, len(images), fps)
    fitted: list[FittedImage | None] = [None] * len(images)

    def prepared(image_index: int) -> FittedImage:
        # Fitted lazily and dropped once passed: only the images on screen are held prescaled.
        fit = fitted[image_index]
        if fit is None:
            fit = fitted[image_index] = fit_image(images[image_index], out_w, out_h, poses)
        return fit

    for index, pose in enumerate(poses):
        if index % CANCEL_CHECK_EVERY == 0 and should_cancel():
            raise RenderCancelled("render cancelled")
        layers = image_weights(index, frame_count, len(images), fade)
        for passed in range(layers[0][0]):
            fitted[passed] = None
        frame = warp_view(prepared(layers[0][0]), pose, out_w, out_h)
        if len(layers) == 2:
            incoming = warp_view(prepared(layers[1][0]), pose, out_w, out_h)
            frame = cv2.addWeighted(frame, layers[0][1], incoming, layers[1][1], 0.0)
        on_progress(index / frame_count)
        yield frame
