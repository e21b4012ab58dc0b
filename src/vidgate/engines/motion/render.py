"""Geometry and resampling: fit an image under a camera path, and render the camera's view of it.

`fit_image` places the path so that no view ever leaves the image; `render_view` draws one frame
(the subject over its painted-out background when the move has parallax). Pictures are YUVA inside
the engine. docs/motion.md ("Geometry and resampling") gives the reasons and the measurements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from vidgate.engines.motion.camera import CameraPose
from vidgate.engines.motion.parallax import Layers
from vidgate.media.colour import rgb_to_yuv

# How samples that fall just outside the image are filled. With the window inside the image, only
# the half-pixel margin around it is ever read (when upsampling); replicating the edge keeps it clean.
# Tests swap in BORDER_CONSTANT to prove that the geometry, not this setting, prevents borders.
EDGE_MODE = cv2.BORDER_REPLICATE
# Shrink a large source once when that drops at least this share of its pixels per axis; smaller
# savings are not worth a resample of their own.
PRESCALE_BELOW = 0.9
# `best` supersamples a shrinking view by at most this factor per axis (4x the pixels).
MAX_SUPERSAMPLE = 2.0
# Pyramid levels are this far apart in scale (half an octave): close enough that blending two
# neighbours looks like the right blur for any scale in between.
LEVEL_STEP = math.sqrt(2.0)
MAX_LEVEL = 8


@dataclass(frozen=True)
class Resampling:
    interpolation: int  # cv2 kernel for the warp
    when_shrinking: str  # "warp" (alias), "pyramid" (trilinear) or "area" (supersample + INTER_AREA)


RESAMPLING: dict[str, Resampling] = {
    "fast": Resampling(cv2.INTER_LINEAR, "warp"),
    "balanced": Resampling(cv2.INTER_LINEAR, "pyramid"),
    "best": Resampling(cv2.INTER_CUBIC, "area"),
}


@dataclass(frozen=True)
class Picture:
    """One resolution of a fitted image, with its layers when the move has parallax."""

    pixels: np.ndarray  # RGBA while fitting; YUVA once ready to render (FittedImage.ready)
    scale_x: float  # picture pixels per original pixel
    scale_y: float
    layers: Layers | None = None


@dataclass(frozen=True)
class FittedImage:
    """An image prepared for one camera path: the base window placed, pyramid levels on demand."""

    window_w: float  # the base window (zoom 1, no shift) in original pixels
    window_h: float
    centre_x: float  # where the path's origin (shift 0) puts the window's centre, original pixels
    centre_y: float
    levels: list[Picture] = field(compare=False)  # [0] is the (pre)scaled source; more when shrinking

    def picture(self, level: int) -> Picture:
        while len(self.levels) <= level:  # each level from the one above: cheap and well filtered
            above = self.levels[-1]
            height, width = above.pixels.shape[:2]
            size = (max(2, round(width / LEVEL_STEP)), max(2, round(height / LEVEL_STEP)))
            self.levels.append(shrink(above, size))
        return self.levels[level]

    def ready(self, layers: Layers | None = None) -> FittedImage:
        """This image ready to render: pixels, and the layers' background, converted to YUV.

        `layers` are split from this image's RGBA pixels (parallax works on colour as seen)."""
        base = self.levels[0]
        pixels = base.pixels
        if layers is not None:
            # With layers every frame draws the subject over the background, so the picture itself
            # is only ever seen as the subject: it takes the subject's unmixed colours (no second copy).
            if layers.foreground is not None:
                pixels = layers.foreground
            layers = replace(layers, background=rgb_to_yuv(layers.background), foreground=None)
        picture = Picture(rgb_to_yuv(pixels), base.scale_x, base.scale_y, layers)
        return FittedImage(self.window_w, self.window_h, self.centre_x, self.centre_y, [picture])


def shrink(picture: Picture, size: tuple[int, int]) -> Picture:
    """`picture` resized to `size` with area averaging, layers included."""
    height, width = picture.pixels.shape[:2]
    factor_x, factor_y = size[0] / width, size[1] / height
    pixels = cv2.resize(picture.pixels, size, interpolation=cv2.INTER_AREA)
    layers = picture.layers
    if layers is not None:
        left, top, right, bottom = layers.bounds
        layers = Layers(
            background=cv2.resize(layers.background, size, interpolation=cv2.INTER_AREA),
            alpha=cv2.resize(layers.alpha, size, interpolation=cv2.INTER_AREA),
            coverage=layers.coverage,
            bounds=(left * factor_x, top * factor_y, right * factor_x, bottom * factor_y),
        )
    return Picture(pixels, picture.scale_x * factor_x, picture.scale_y * factor_y, layers)


def cover_window(image_w: int, image_h: int, out_w: int, out_h: int) -> tuple[float, float]:
    """The largest window of the output's aspect ratio that fits in the image (cover-fit)."""
    out_aspect = out_w / out_h
    if image_w / image_h > out_aspect:
        return image_h * out_aspect, float(image_h)
    return float(image_w), image_w / out_aspect


def view_corners(pose: CameraPose, window_w: float, window_h: float) -> np.ndarray:
    """Corners TL, TR, BR, BL of a pose's view relative to the path origin, in pixels (4x2 float64)."""
    half_w = window_w / (2.0 * pose.zoom)
    half_h = window_h / (2.0 * pose.zoom)
    left_h, right_h = half_h * (1.0 + pose.keystone), half_h * (1.0 - pose.keystone)
    local = np.array([[-half_w, -left_h], [half_w, -right_h], [half_w, right_h], [-half_w, left_h]])
    if pose.roll:
        # y points down, so this turns the window clockwise over the image for a positive roll.
        cos, sin = math.cos(pose.roll), math.sin(pose.roll)
        local = local @ np.array([[cos, sin], [-sin, cos]])
    return local + np.array([pose.shift_x * window_w, pose.shift_y * window_h])


def _fit_path(
    image_w: int, image_h: int, cover_w: float, cover_h: float, poses: Sequence[CameraPose]
) -> tuple[float, np.ndarray, np.ndarray]:
    """(base zoom, top-left, bottom-right): the zoom at which every corner of every pose's view fits
    in the image, and the bounding box of those corners at zoom 1, relative to the path origin."""
    # Every corner scales with 1 / base zoom about the path origin: fit their bounding box into the image.
    corners = np.concatenate([view_corners(pose, cover_w, cover_h) for pose in poses])
    top_left, bottom_right = corners.min(axis=0), corners.max(axis=0)
    (left, top), (right, bottom) = top_left, bottom_right
    base_zoom = max((right - left) / image_w, (bottom - top) / image_h) * (1.0 + 1e-9)  # never a hair out
    return base_zoom, top_left, bottom_right


def prescaled_size(
    image_w: int,
    image_h: int,
    out_w: int,
    out_h: int,
    poses: Sequence[CameraPose],
    sharpest_zoom: float | None = None,
) -> tuple[int, int] | None:
    """The size `fit_image` shrinks an image of this size to for these poses; None: kept whole.

    The sharpest view needs this many source pixels per output pixel; keep just enough resolution
    for it to be sampled 1:1 and drop the rest once, not in every frame. Sizes are rounded up, so an
    image already shrunk to this size is not shrunk again."""
    if not poses:  # never seen
        return None
    cover_w, cover_h = cover_window(image_w, image_h, out_w, out_h)
    base_zoom = _fit_path(image_w, image_h, cover_w, cover_h, poses)[0]
    sharpest = max(max(pose.zoom for pose in poses), sharpest_zoom or 0.0)
    wanted = out_w * sharpest * base_zoom / cover_w
    if wanted >= PRESCALE_BELOW:
        return None
    return math.ceil(image_w * wanted), math.ceil(image_h * wanted)


def fit_image(
    image: np.ndarray, out_w: int, out_h: int, poses: Sequence[CameraPose], sharpest_zoom: float | None = None
) -> FittedImage:
    """Place the camera path in `image` (RGB or RGBA) so that every pose's view lies inside it.

    `sharpest_zoom` is the closest view any layer takes (a parallax foreground zooms past the path);
    the prescaled source keeps enough resolution to show it 1:1."""
    image_h, image_w = image.shape[:2]
    cover_w, cover_h = cover_window(image_w, image_h, out_w, out_h)
    base_zoom, (left, top), (right, bottom) = _fit_path(image_w, image_h, cover_w, cover_h, poses)
    picture = Picture(image, 1.0, 1.0)
    size = prescaled_size(image_w, image_h, out_w, out_h, poses, sharpest_zoom)
    if size is not None:
        picture = shrink(picture, size)
    if picture.pixels.shape[2] == 3:  # after the shrink: a phone photo's RGBA copy would be 50 MB
        picture = Picture(cv2.cvtColor(picture.pixels, cv2.COLOR_RGB2RGBA), picture.scale_x, picture.scale_y)
    return FittedImage(
        window_w=cover_w / base_zoom,
        window_h=cover_h / base_zoom,
        centre_x=image_w / 2.0 - (left + right) / (2.0 * base_zoom),
        centre_y=image_h / 2.0 - (top + bottom) / (2.0 * base_zoom),
        levels=[picture],
    )


def view_quad(fitted: FittedImage, pose: CameraPose) -> np.ndarray:
    """Corners of the visible region in original image coordinates: TL, TR, BR, BL (4x2 float64)."""
    return view_corners(pose, fitted.window_w, fitted.window_h) + np.array([fitted.centre_x, fitted.centre_y])


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


def output_to_source(
    fitted: FittedImage, pose: CameraPose, out_w: int, out_h: int, picture: Picture | None = None
) -> np.ndarray:
    """3x3 matrix from output pixel indices to `picture` pixel indices (pixel centres; level 0 by default)."""
    picture = picture or fitted.levels[0]
    quad = view_quad(fitted, pose)
    if pose.keystone == 0.0:  # a rectangle, maybe turned: affine, exactly, from three corners
        top_left, top_right, _, bottom_left = quad
        across, down = (top_right - top_left) / out_w, (bottom_left - top_left) / out_h
        edges_to_image = np.array(
            [[across[0], down[0], top_left[0]], [across[1], down[1], top_left[1]], [0.0, 0.0, 1.0]]
        )
    else:
        out_corners = np.array([[0.0, 0.0], [out_w, 0.0], [out_w, out_h], [0.0, out_h]])
        edges_to_image = _homography(out_corners, quad)
    # Pixel index i covers [i, i + 1) in edge coordinates: shift by half a pixel on both ends.
    index_to_edges = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    image_to_picture_index = np.array(
        [[picture.scale_x, 0.0, -0.5], [0.0, picture.scale_y, -0.5], [0.0, 0.0, 1.0]]
    )
    return image_to_picture_index @ edges_to_image @ index_to_edges


def source_pixels_per_output_pixel(fitted: FittedImage, pose: CameraPose, out_w: int, out_h: int) -> float:
    """The view's linear scale against level 0: > 1 means the frame shrinks the source."""
    x, y = view_quad(fitted, pose).T
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))  # shoelace
    base = fitted.levels[0]
    return math.sqrt(area * base.scale_x * base.scale_y / (out_w * out_h))


def render_view(
    fitted: FittedImage,
    pose: CameraPose,
    out_w: int,
    out_h: int,
    resampling: Resampling,
    foreground_pose: CameraPose | None = None,
) -> np.ndarray:
    """One frame of one image, in the picture's channels: the camera's view, resampled to the output size.

    With layers and a foreground pose, the subject is drawn over the painted-out background at its
    own pose."""
    scale = source_pixels_per_output_pixel(fitted, pose, out_w, out_h)
    mode = resampling.when_shrinking if scale > 1.0 else "warp"
    if mode == "pyramid":
        position = min(2.0 * math.log2(scale), float(MAX_LEVEL))  # in levels: LEVEL_STEP = 2 ** 0.5
        level = math.floor(position)
        mix = position - level
        frame = _draw(fitted, fitted.picture(level), pose, foreground_pose, (out_w, out_h), resampling)
        if mix > 0.0:
            coarser = _draw(
                fitted, fitted.picture(level + 1), pose, foreground_pose, (out_w, out_h), resampling
            )
            frame = cv2.addWeighted(frame, 1.0 - mix, coarser, mix, 0.0)
        return frame
    size = (out_w, out_h)
    if mode == "area":
        factor = min(scale, MAX_SUPERSAMPLE)
        size = (max(out_w, round(out_w * factor)), max(out_h, round(out_h * factor)))
    frame = _draw(fitted, fitted.levels[0], pose, foreground_pose, size, resampling)
    if size != (out_w, out_h):
        frame = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return frame


def _draw(
    fitted: FittedImage,
    picture: Picture,
    pose: CameraPose,
    foreground_pose: CameraPose | None,
    size: tuple[int, int],
    resampling: Resampling,
) -> np.ndarray:
    matrix = output_to_source(fitted, pose, *size, picture=picture)
    layers = picture.layers
    if layers is None or foreground_pose is None:
        return _warp(picture.pixels, matrix, size, resampling.interpolation, EDGE_MODE)
    canvas = _warp(layers.background, matrix, size, resampling.interpolation, EDGE_MODE)
    subject_matrix = output_to_source(fitted, foreground_pose, *size, picture=picture)
    region = _subject_region(layers, subject_matrix, size)
    if region is not None:  # the subject is in view: warp and blend only its rectangle
        left, top, right, bottom = region
        box = (right - left, bottom - top)
        box_matrix = subject_matrix @ np.array([[1.0, 0.0, left], [0.0, 1.0, top], [0.0, 0.0, 1.0]])
        # The foreground's view may leave the photo (it moves further than the path), but only across
        # a border the subject does not touch (frames.py holds its lead back at the others), where the
        # replicated mask is 0. The mask stays replicated when tests swap EDGE_MODE for zeros, so that
        # any subject pixel sampled from beyond the photo would show.
        subject = _warp(picture.pixels, box_matrix, box, resampling.interpolation, EDGE_MODE)
        alpha = _warp(layers.alpha, box_matrix, box, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
        under = canvas[top:bottom, left:right]
        canvas[top:bottom, left:right] = cv2.blendLinear(subject, under, alpha, 1.0 - alpha)
    return canvas


def _warp(
    pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int], interpolation: int, border: int
) -> np.ndarray:
    flags = interpolation | cv2.WARP_INVERSE_MAP
    if not matrix[2, 0] and not matrix[2, 1]:  # affine is cheaper, and exact when the last row is (0, 0, 1)
        return cv2.warpAffine(pixels, matrix[:2], size, flags=flags, borderMode=border)
    return cv2.warpPerspective(pixels, matrix, size, flags=flags, borderMode=border)


def _subject_region(
    layers: Layers, subject_matrix: np.ndarray, size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The canvas rectangle (left, top, right, bottom) the subject can touch, or None if off-canvas.

    Whole pixels only clip the work; the warp inside stays exact."""
    width, height = size
    # An unbounded side reaches as far as the canvas could ever show, whatever the pose.
    reach = 4.0 * max(width, height) * max(1.0, abs(float(np.linalg.det(subject_matrix[:2, :2]))) ** 0.5)
    left, top, right, bottom = (max(-reach, min(reach, v)) for v in layers.bounds)
    # Two source pixels of slack: the mask's bilinear warp reads one pixel around each sample.
    left, top, right, bottom = left - 2.0, top - 2.0, right + 2.0, bottom + 2.0
    corners = np.array([[left, top, 1.0], [right, top, 1.0], [right, bottom, 1.0], [left, bottom, 1.0]])
    mapped = np.linalg.solve(subject_matrix, corners.T).T
    if (mapped[:, 2] <= 0).any():  # behind the camera: cannot happen for our gentle keystones
        return 0, 0, width, height
    points = mapped[:, :2] / mapped[:, 2:]
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x0 >= x1 or y0 >= y1:
        return None
    return int(x0), int(y0), int(x1), int(y1)
