"""Measure a camera path from the frames alone: how smooth a zoom or pan really is on screen.

Used by the tests and by benchmarks/motion.py to compare vidgate with ffmpeg's zoompan on equal
terms: neither renderer's own numbers are trusted, only the pictures. For each frame we recover the
view as a scale and offset into the source photo (no rotation: the moves measured are zooms and
pans). Each frame starts from the previous frame's estimate; phase correlation of the whole frame
against the source rendered at that estimate catches the frame-to-frame step, then a few rounds of
a least-squares similarity fit on the image gradients (Lucas-Kanade with a scale term) refine scale
and offset to ~0.01 px. Phase correlation alone is not used for the fine step: OpenCV's sub-pixel
peak estimate is biased by up to ~0.4 px near half-pixel shifts, which would read as jitter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

ROUNDS = 5
# Both images are blurred a little before the fit: the linearisation holds over a wider range and
# compression noise averages out.
FIT_BLUR = 1.0
# Steps smaller than this are measurement noise, not motion (px).
STEP_TOLERANCE = 0.05


@dataclass(frozen=True)
class CameraTrack:
    """Per frame, the view in source pixels: its centre and its width."""

    centre_x: np.ndarray
    centre_y: np.ndarray
    width: np.ndarray


@dataclass(frozen=True)
class Jitter:
    max_second_difference: float  # px / frame^2, over centre x, centre y and width
    backward_steps: int  # frames that step against the path's overall direction


def track_camera(
    frames: Iterable[np.ndarray], source: np.ndarray, first_view: tuple[float, float, float] | None = None
) -> CameraTrack:
    """Recover each frame's view of `source`. The first frame is searched for near `first_view`
    (centre x, centre y, width in source pixels), by default the full source width, centred."""
    source_grey = _grey(source)
    src_h, src_w = source_grey.shape
    centres, widths = [], []
    scale = offset_x = offset_y = 0.0
    for index, frame in enumerate(frames):
        grey = _grey(frame)
        height, width = grey.shape
        if index == 0:  # source index = scale * frame index + offset
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            centre = ((width - 1) / 2.0, (height - 1) / 2.0)
            view_x, view_y, view_w = first_view or ((src_w - 1) / 2.0, (src_h - 1) / 2.0, float(src_w))
            scale = view_w / width
            offset_x, offset_y = view_x - scale * centre[0], view_y - scale * centre[1]
            radial_x, radial_y = xs - centre[0], ys - centre[1]
            window = cv2.createHanningWindow((width, height), cv2.CV_32F)
        for round_index in range(ROUNDS):
            matrix = np.array([[scale, 0.0, offset_x], [0.0, scale, offset_y]])
            expected = cv2.warpAffine(
                source_grey,
                matrix,
                (width, height),
                flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            )
            growth = 0.0
            if round_index == 0:  # the coarse step: frame(p) ~ expected(p - shift)
                # Copies: with a window, OpenCV 5's phaseCorrelate multiplies its inputs in place.
                shift, _ = cv2.phaseCorrelate(expected.copy(), grey.copy(), window)
            else:
                growth, shift = _similarity_step(expected, grey, radial_x, radial_y)
            # frame(p) = expected(p - d(p)) with d(p) = growth * (p - centre) + shift: fold d into M.
            offset_x += scale * (growth * centre[0] - shift[0])
            offset_y += scale * (growth * centre[1] - shift[1])
            scale *= 1.0 - growth
        centres.append((scale * centre[0] + offset_x, scale * centre[1] + offset_y))
        widths.append(scale * width)
    xy = np.array(centres)
    return CameraTrack(xy[:, 0], xy[:, 1], np.array(widths))


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _similarity_step(
    expected: np.ndarray, frame: np.ndarray, radial_x: np.ndarray, radial_y: np.ndarray
) -> tuple[float, tuple[float, float]]:
    """Least-squares (growth, shift) with frame(p) ~ expected(p - growth * (p - centre) - shift)."""
    expected = cv2.GaussianBlur(expected, (0, 0), FIT_BLUR)
    frame = cv2.GaussianBlur(frame, (0, 0), FIT_BLUR)
    grad_x = cv2.Sobel(expected, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    grad_y = cv2.Sobel(expected, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    margin = 8  # the reflected border is not the source; leave it out
    inner = (slice(margin, -margin), slice(margin, -margin))
    columns = [
        (grad_x * radial_x + grad_y * radial_y)[inner].ravel(),
        grad_x[inner].ravel(),
        grad_y[inner].ravel(),
    ]
    jacobian = np.stack(columns, axis=1)
    residual = (expected - frame)[inner].ravel()  # = gradient . d, to first order
    # Normal equations: three unknowns, so a 3x3 solve instead of a factorisation of the whole system.
    normal = (jacobian.T @ jacobian).astype(np.float64)
    solution = np.linalg.solve(normal, (jacobian.T @ residual).astype(np.float64))
    return float(solution[0]), (float(solution[1]), float(solution[2]))


def jitter(track: CameraTrack) -> Jitter:
    """Smoothness of a tracked path: the largest acceleration and the number of backward steps."""
    worst, backward = 0.0, 0
    for series in (track.centre_x, track.centre_y, track.width):
        if len(series) >= 3:
            worst = max(worst, float(np.abs(np.diff(series, 2)).max()))
        steps = np.diff(series)
        total = float(series[-1] - series[0])
        if abs(total) > 10 * STEP_TOLERANCE:  # a series that goes somewhere must not step back
            backward += int((steps * np.sign(total) < -STEP_TOLERANCE).sum())
    return Jitter(worst, backward)
