"""A 2.5D split of one photo: a feathered foreground mask and a background with the subject removed.

`split_layers(image)` gives `Layers`, or None when the split is not trustworthy (the caller then
renders the picture flat: a plain move is better than a torn one). GrabCut, in every OpenCV build,
finds the subject from a rectangle around the centre, on a copy of a fixed number of pixels; the
hole it leaves is filled by mirroring the surroundings into it (`mirror_fill`). docs/motion.md
("Parallax") gives the rules and their reasons.
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
# A mirror fill is trusted when this share of the hole finds its mirrored pixel outside the hole.
MIN_MIRRORED = 0.5
# The subject's own colour is taken from pixels at least this opaque (pure_colour).
SOLID_ALPHA = 0.98
# Holes inside the subject smaller than this share of it are part of it (a stripe GrabCut took for sky).
MAX_HOLE_SHARE = 0.15
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
    # The subject's colours, its soft edge unmixed (pure_colour); FittedImage.ready makes them the picture.
    foreground: np.ndarray | None = None


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
    subject = fill_small_holes((labels == largest).astype(np.uint8))
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


def fill_small_holes(subject: np.ndarray) -> np.ndarray:
    """`subject` with the holes inside it filled, unless one is a sizeable share of it (a real gap,
    as under an arch): left as holes, they would show the painted-out background through the subject."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - subject, connectivity=4)
    height, width = subject.shape
    filled = subject.copy()
    for label in range(1, count):
        left, top, w, h, area = stats[label]
        touches_border = left == 0 or top == 0 or left + w == width or top + h == height
        if not touches_border and area <= MAX_HOLE_SHARE * subject.sum():
            filled[labels == label] = 1
    return filled


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
    hole_full = cv2.resize(hole, (width, height), interpolation=cv2.INTER_NEAREST)
    background = mirror_fill(image, hole_full)
    if background is None:
        return None  # too little around the subject to carry texture in from: a flat move, not a smear
    return Layers(background, alpha, float(subject.mean()), _bounds(alpha), pure_colour(image, alpha))


def mirror_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray | None:
    """`image` with `hole` (uint8, 1 inside) filled with texture carried in from around it; None when
    too little of the hole can be.

    Each pixel of the hole takes the pixel mirrored across the hole's nearer edge in its row: the
    surroundings continue into the hole with their own texture, grain and edges (a horizon runs on
    behind a tower), at full resolution, and the fill meets them without a seam. A diffusion fill
    (inpainting) carries only colour in, a smooth smear, which is what shows when the subject slides
    away. Rows first because photos are mostly layered horizontally (sky, horizon, ground); where a
    row has no room (the hole reaches the photo's side), the pixel mirrored across the nearest edge
    point in any direction, and failing that the edge point itself."""
    height, width = hole.shape
    inside_y, inside_x = np.nonzero(hole)
    if inside_y.size == 0:
        return image.copy()
    if inside_y.size == hole.size:
        return None
    columns = np.arange(width)
    # For every pixel: the nearest column outside the hole at or before it, and at or after it.
    before = np.maximum.accumulate(np.where(hole == 0, columns, -1), axis=1)
    after = np.minimum.accumulate(np.where(hole == 0, columns, width)[:, ::-1], axis=1)[:, ::-1]
    left, right = before[inside_y, inside_x], after[inside_y, inside_x]
    from_left, from_right = 2 * left + 1 - inside_x, 2 * right - 1 - inside_x

    def usable(x: np.ndarray, y: np.ndarray, edge: np.ndarray) -> np.ndarray:
        ok = (edge >= 0) & (edge < width) & (x >= 0) & (x < width)
        ok[ok] = hole[y[ok], x[ok]] == 0
        return ok

    left_ok, right_ok = usable(from_left, inside_y, left), usable(from_right, inside_y, right)
    nearer_left = (inside_x - left) <= (right - inside_x)
    take_left = left_ok & (nearer_left | ~right_ok)
    source_x = np.where(take_left, from_left, from_right)
    source_y = inside_y.copy()
    rowless = ~(left_ok | right_ok)
    if rowless.any():
        _, labels = cv2.distanceTransformWithLabels(hole, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        outside_y, outside_x = np.nonzero(hole == 0)  # the labels number these in raster order
        y, x = inside_y[rowless], inside_x[rowless]
        nearest = labels[y, x] - 1
        near_y, near_x = outside_y[nearest], outside_x[nearest]
        mirror_y, mirror_x = 2 * near_y - y, 2 * near_x - x
        ok = (mirror_y >= 0) & (mirror_y < height) & (mirror_x >= 0) & (mirror_x < width)
        ok[ok] = hole[mirror_y[ok], mirror_x[ok]] == 0
        source_y[rowless] = np.where(ok, mirror_y, near_y)
        source_x[rowless] = np.where(ok, mirror_x, near_x)
        if (~ok).sum() > (1.0 - MIN_MIRRORED) * inside_y.size:
            return None  # most of the hole would be a streak of its edge pixels
    filled = image.copy()
    filled[inside_y, inside_x] = image[source_y, source_x]
    return filled


def pure_colour(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The subject's colours, its soft edge given the colour of the nearest solid subject pixel.

    A photo's edge pixels mix the subject with what was behind it; moved over another part of the
    background, that mix would draw a halo of the old surroundings around the subject."""
    solid = (alpha >= SOLID_ALPHA).astype(np.uint8)
    edge_y, edge_x = np.nonzero((alpha > 0.0) & (alpha < SOLID_ALPHA))
    solid_y, solid_x = np.nonzero(solid)
    if solid_y.size == 0 or edge_y.size == 0:
        return image
    _, labels = cv2.distanceTransformWithLabels(1 - solid, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    nearest = labels[edge_y, edge_x] - 1
    colours = image.copy()
    colours[edge_y, edge_x] = image[solid_y[nearest], solid_x[nearest]]
    return colours


def _bounds(alpha: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0), np.flatnonzero(alpha.max(axis=0) > 0)
    height, width = alpha.shape
    left = -math.inf if cols[0] == 0 else float(cols[0])
    right = math.inf if cols[-1] == width - 1 else float(cols[-1] + 1)
    top = -math.inf if rows[0] == 0 else float(rows[0])
    bottom = math.inf if rows[-1] == height - 1 else float(rows[-1] + 1)
    return left, top, right, bottom
