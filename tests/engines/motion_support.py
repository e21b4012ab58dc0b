"""Images and shortcuts shared by the motion engine's tests."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np

from vidgate.engines.base import RenderJob, RenderResult
from vidgate.engines.motion import MotionEngine
from vidgate.engines.motion.camera import CameraMove, plan_camera
from vidgate.engines.motion.frames import FramePlan, RenderNotes, generate_frames
from vidgate.engines.motion.grammar import Transition
from vidgate.media.colour import yuv_to_rgb

SIZE = (256, 144)


def textured_image(
    width: int, height: int, seed: int = 0, tint: tuple[float, float, float] = (1, 1, 1)
) -> np.ndarray:
    """Smooth random texture with detail at several scales: trackable, and no subject to find."""
    rng = np.random.default_rng(seed)
    layers = []
    for cells in (4, 16, 64):
        coarse = rng.random((max(2, height * cells // width), cells, 3))
        layers.append(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC))
    texture = sum(layers) / len(layers)
    return np.clip(texture * 255 * np.array(tint), 0, 255).astype(np.uint8)


def subject_image(width: int = 320, height: int = 180, seed: int = 0) -> np.ndarray:
    """A red disc on a plinth in front of a blue-green textured scene: a clear subject for GrabCut."""
    scene = textured_image(width, height, seed, tint=(0.35, 0.8, 0.9))
    shade = textured_image(width, height, seed + 1)[..., :1].astype(np.float64) / 255.0
    red = np.dstack([150 + 100 * shade, 30 + 30 * shade, 30 + 20 * shade]).astype(np.uint8)
    return np.where(subject_shape(width, height)[..., None], red, scene)


def subject_shape(width: int, height: int) -> np.ndarray:
    """Where subject_image draws its subject (bool): a disc, on a plinth cut by the bottom edge."""
    ys, xs = np.mgrid[0:height, 0:width]
    cx, cy, radius = width * 0.5, height * 0.5, height * 0.25
    disc = np.hypot(xs - cx, ys - cy) < radius
    plinth = (np.abs(xs - cx) < radius * 0.4) & (ys > cy)
    return disc | plinth


def frames_for(
    prompt: str,
    images: list[np.ndarray],
    amplitude: str = "auto",
    count: int = 24,
    seed: int = 1,
    size: tuple[int, int] = SIZE,
    quality: str = "balanced",
    transition: Transition | None = None,
    notes: RenderNotes | None = None,
    yuv: bool = False,
) -> list[np.ndarray]:
    """The frames as RGB, converted back from the engine's YUV (exact to +-2 levels); with `yuv`, as
    the engine renders them: YUV and a fourth channel (see engines/motion/render.py)."""
    move = plan_camera(prompt, amplitude, np.random.default_rng(seed), duration_s=count / 24)
    plan = FramePlan(images, move, size[0], size[1], count, 24, transition, quality)
    frames = [frame.pixels for frame in generate_frames(plan, lambda _: None, lambda: False, notes)]
    return frames if yuv else [yuv_to_rgb(frame) for frame in frames]


def render_move(
    move: CameraMove,
    images: list[np.ndarray],
    count: int = 24,
    size: tuple[int, int] = SIZE,
    quality: str = "balanced",
) -> list[np.ndarray]:
    """The frames of a given camera move, as RGB."""
    plan = FramePlan(images, move, size[0], size[1], count, 24, None, quality)
    return [yuv_to_rgb(frame.pixels) for frame in generate_frames(plan, lambda _: None, lambda: False)]


def mean_motion(frames: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in itertools.pairwise(frames)]))


def make_job(tmp_path: Path, **overrides: object) -> RenderJob:
    fields: dict[str, object] = {
        "images": [textured_image(256, 144)],
        "prompt": "a quiet harbour at dawn",
        "duration": 1,
        "short_side": 144,
        "movement_amplitude": "auto",
        "seed": 42,
        "output_path": tmp_path / "out.mp4",
        "quality": "fast",
    }
    fields.update(overrides)
    return RenderJob(**fields)  # type: ignore[arg-type]


def render_job(job: RenderJob) -> tuple[list[float], RenderResult]:
    progress: list[float] = []
    result = MotionEngine().render(job, progress.append, lambda: False)
    return progress, result


def layered_scene(
    width: int = 320, height: int = 180, seed: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo, true background, true subject shape): a textured orange tower standing on a textured
    landscape (sky, a ridge, fields), drawn over a background whose every pixel is known, so a fill of
    what the tower hides can be scored against the truth."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    fine = textured_image(width, height, seed)[..., 0].astype(np.float64) / 255.0
    grain = rng.normal(0.0, 1.0, (height, width))
    ridge = height * (0.45 + 0.08 * np.sin(xs / width * 7.0 + seed))
    sky = np.dstack([90 + 60 * ys / height, 140 + 40 * ys / height, 230 + 0 * ys]) + 40 * fine[..., None]
    land = np.dstack([60 + 90 * fine, 110 + 80 * fine, 50 + 30 * fine]) + 12 * grain[..., None]
    background = np.where((ys < ridge)[..., None], sky, land)
    background = np.clip(background, 0, 255).astype(np.uint8)
    shape = (np.abs(xs - width * 0.5) < width * (0.07 + 0.05 * ys / height)) & (ys > height * 0.2)
    stripes = (np.floor(ys / (height * 0.08)) % 2)[..., None]
    tower = np.dstack([230 - 20 * fine, 120 + 60 * stripes[..., 0] - 30 * fine, 40 + 150 * stripes[..., 0]])
    photo = np.where(shape[..., None], np.clip(tower, 0, 255).astype(np.uint8), background)
    return photo, background, shape


def lake_scene(width: int = 320, height: int = 180, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(photo, where the water is): a sky with clouds over brown hills over a blue lake."""
    rng = np.random.default_rng(seed)
    ys = np.mgrid[0:height, 0:width][0].astype(np.float64) / height
    fine = textured_image(width, height, seed)[..., 0].astype(np.float64) / 255.0
    clouds = np.clip(textured_image(width, height, seed + 1)[..., 0] / 255.0 - 0.45, 0, 1) * 2.0
    sky = np.dstack([80 + 60 * ys, 130 + 50 * ys, 225 + 0 * ys]) + 120 * clouds[..., None]
    hills = np.dstack([110 + 60 * fine, 85 + 45 * fine, 60 + 30 * fine]) + rng.normal(
        0, 3, (height, width, 1)
    )
    lake = np.dstack([30 + 40 * fine, 80 + 50 * fine, 150 + 60 * fine])
    water = ys > 0.55
    image = np.where((ys < 0.35)[..., None], sky, np.where(water[..., None], lake, hills))
    return np.clip(image, 0, 255).astype(np.uint8), water
