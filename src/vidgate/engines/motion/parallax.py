"""A 2.5D split of one photo: a feathered foreground mask and a background with the subject removed.

No model and no download: GrabCut (in every OpenCV build) separates a subject from its surroundings
by colour, started from a rectangle around the centre of the frame, where photographers put
subjects. It runs once per image on a small copy of a fixed number of pixels (384x288 for a 4:3
photo, 443x249 for 16:9, 665x166 for 4:1), so it costs about a third of a second whatever the
resolution and the aspect ratio. When the result does not look like a subject (too small, too
large, or just the starting rectangle back) the caller renders the picture flat: a plain move is
better than a torn one.

The background layer has the subject painted out (cv2.inpaint) so that when the foreground slides
ahead, what shows behind it is a plausible continuation of the surroundings, not a copy of the subject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# GrabCut works on a copy of this many pixels, whatever the aspect ratio. Its time grows faster than
# the copy's pixels, so a budget keeps it bounded: 0.23 s for 16:9 at 384x216, 0.34 s at 443x249,
# 0.56 s at 512x288 (1280x720 photo, one core), and 1.6-6 s for a 4:1 copy 288 px tall. A budget
# rather than a long side (the first rule: 384 px) keeps wide photos' outlines fine: a 4:1
# panorama's copy was 96 px tall and its subject's outline rounded off by ~10 px; now 166 px tall.
SEGMENT_PIXELS = 384 * 288
GRABCUT_ITERATIONS = 4
# The starting rectangle, as fractions of the frame. GrabCut takes everything outside it as
# background, and needs some of that at the bottom too; a subject that reaches the rectangle's bottom
# edge is then extended to the frame's (people and buildings are usually cut by the frame there).
START_RECT = (0.15, 0.08, 0.85, 0.96)  # left, top, right, bottom
# A split is trusted only when the subject covers this share of the frame...
MIN_COVERAGE, MAX_COVERAGE = 0.05, 0.70
# ...GrabCut actually found an outline, not (nearly) the whole starting rectangle back...
MAX_RECT_FILL = 0.85
# ...and the outline follows edges in the picture: its mean gradient is this many times the image's.
# A colour split along a smooth gradient (a sky) is not an object and would tear when moved.
MIN_EDGE_CONTRAST = 2.0
# The outline is smoothed at the segmentation size (sigma in its pixels: rounds off the staircase of
# its pixel grid), then its edge sharpened by this gain at full size: ~2-3 px wide at 720p, like a
# lens draws an edge. The background is painted out this far past the outline (share of the short side).
OUTLINE_SMOOTHING = 1.0
EDGE_GAIN = 2.5
HOLE_MARGIN = 0.03
INPAINT_RADIUS = 5  # px, at the segmentation size
RNG_SEED = 0x5EED  # GrabCut seeds its colour models with k-means++, which draws from cv2's RNG
# A picture whose strongest edges (99th percentile of the colour Sobel magnitude) are weaker than this
# has no object outline at all; photos measure 150-500, a smooth sky gradient ~8.
MIN_EDGE_STRENGTH = 40.0


@dataclass(frozen=True)
class Layers:
    """The same image as two layers, in the image's own pixel grid."""

    background: np.ndarray  # uint8, the image's channels: the image with the subject painted out
    alpha: np.ndarray  # float32 in [0, 1]: how much of each pixel is foreground
    coverage: float  # share of the frame the subject covers
    # Where alpha > 0: left, top, right, bottom in pixel edges. A side that reaches the image's edge
    # is unbounded (inf): the subject is cut by the photo there, and never leads across it (frames.py).
    bounds: tuple[float, float, float, float]


def subject_mask(image: np.ndarray) -> np.ndarray | None:
    """A binary (uint8 0/1) subject mask at the segmentation size, or None when unreliable."""
    image = image[..., :3]  # RGB, or the colour of RGBA
    height, width = image.shape[:2]
    scale = min(1.0, math.sqrt(SEGMENT_PIXELS / (height * width)))
    small_w, small_h = max(8, round(width * scale)), max(8, round(height * scale))
    small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
    gradient = colour_gradient(small)
    if np.percentile(gradient, 99) < MIN_EDGE_STRENGTH:
        return None  # no edge anywhere (flat, or a smooth gradient): nothing to lift; GrabCut crawls there
    # A seeded dither of one level: areas of one exact colour make GrabCut's colour models
    # degenerate (k-means on identical samples takes seconds); one level of noise is invisible.
    dither = np.random.default_rng(RNG_SEED).integers(-1, 2, small.shape, dtype=np.int16)
    small = np.clip(small.astype(np.int16) + dither, 0, 255).astype(np.uint8)
    left, top, right, bottom = START_RECT
    rect = (
        round(left * small_w),
        round(top * small_h),
        round((right - left) * small_w),
        round((bottom - top) * small_h),
    )
    mask = np.zeros((small_h, small_w), np.uint8)
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(RNG_SEED)  # deterministic: same image, same mask
    try:
        cv2.grabCut(
            np.ascontiguousarray(small[..., ::-1]),
            mask,
            rect,
            background_model,
            foreground_model,
            GRABCUT_ITERATIONS,
            cv2.GC_INIT_WITH_RECT,
        )
    except cv2.error:  # e.g. a flat image: no colours to model
        return None
    subject = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    # Speckles and pinholes are noise, not shapes; keep the largest piece, the subject.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    subject = cv2.morphologyEx(subject, cv2.MORPH_OPEN, kernel)
    subject = cv2.morphologyEx(subject, cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(subject, connectivity=8)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    subject = (labels == largest).astype(np.uint8)
    rect_bottom = rect[1] + rect[3]
    subject[rect_bottom:, subject[rect_bottom - 1] > 0] = 1
    area = int(subject.sum())
    coverage = area / subject.size
    rect_fill = area / (rect[2] * rect[3])
    if not MIN_COVERAGE <= coverage <= MAX_COVERAGE or rect_fill > MAX_RECT_FILL:
        return None
    if edge_contrast(gradient, subject) < MIN_EDGE_CONTRAST:
        return None
    return subject


def colour_gradient(image: np.ndarray) -> np.ndarray:
    """Sobel magnitude of the strongest channel: a red subject on a teal scene may have no edge in grey."""
    colour = image.astype(np.float32)
    return cv2.magnitude(cv2.Sobel(colour, cv2.CV_32F, 1, 0), cv2.Sobel(colour, cv2.CV_32F, 0, 1)).max(axis=2)


def edge_contrast(gradient: np.ndarray, subject: np.ndarray) -> float:
    """Mean gradient on the subject's outline (away from the frame) over the image's mean gradient."""
    outline = cv2.morphologyEx(subject, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    outline[:2], outline[-2:], outline[:, :2], outline[:, -2:] = False, False, False, False
    if not outline.any():
        return 0.0
    return float(gradient[outline].mean() / (gradient.mean() + 1e-6))


def split_layers(image: np.ndarray) -> Layers | None:
    """Foreground alpha and painted-out background for `image` (RGB or RGBA), or None to render it flat."""
    subject = subject_mask(image)
    if subject is None:
        return None
    height, width = image.shape[:2]
    small_h, small_w = subject.shape
    short = min(small_h, small_w)

    smooth = cv2.GaussianBlur(subject.astype(np.float32), (0, 0), OUTLINE_SMOOTHING)
    smooth = cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = np.clip((smooth - 0.5) * EDGE_GAIN + 0.5, 0.0, 1.0)

    # Paint out a little more than the subject, so no sliver of it is left at its edge.
    margin = max(3, round(HOLE_MARGIN * short) * 2 + 1)
    hole = cv2.dilate(subject, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (margin, margin)))
    small = cv2.resize(image[..., :3], (small_w, small_h), interpolation=cv2.INTER_AREA)
    filled = cv2.inpaint(small, hole * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    if image.shape[2] == 4:
        filled = cv2.cvtColor(filled, cv2.COLOR_RGB2RGBA)
    # The fill is soft by nature; bring it to full size and blend it in with a soft edge.
    filled_full = cv2.resize(filled, (width, height), interpolation=cv2.INTER_CUBIC)
    hole_soft = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), 1.0)
    hole_full = cv2.resize(hole_soft, (width, height), interpolation=cv2.INTER_LINEAR)
    background = cv2.blendLinear(filled_full, image, hole_full, 1.0 - hole_full)
    return Layers(background, alpha, float(subject.mean()), _bounds(alpha))


def _bounds(alpha: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0), np.flatnonzero(alpha.max(axis=0) > 0)
    height, width = alpha.shape
    left = -math.inf if cols[0] == 0 else float(cols[0])
    right = math.inf if cols[-1] == width - 1 else float(cols[-1] + 1)
    top = -math.inf if rows[0] == 0 else float(rows[0])
    bottom = math.inf if rows[-1] == height - 1 else float(rows[-1] + 1)
    return left, top, right, bottom
