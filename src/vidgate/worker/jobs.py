"""From a task's parameters to an engine's `RenderJob`: one place for the worker and `vidgate generate`,
so a local render is the render a worker would make."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vidgate.engines.base import FPS, RenderError, RenderJob, output_size
from vidgate.errors import InvalidRequestBody
from vidgate.media.encode import Quality
from vidgate.media.watermark import Watermark, provenance_tags
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams

if TYPE_CHECKING:
    from vidgate.engines.motion.camera import CameraPose
    from vidgate.media.audio.soundtrack import Soundtrack

# Reads one input image, validated and normalised (RGB uint8, HxWx3), at its full size.
ImageLoader = Callable[[], np.ndarray]
# When the first image is shrunk, its sides may each grow by up to this many pixels so that its
# rounded aspect ratio, and with it the video's size, stays exactly what the original gives.
OUTPUT_SIZE_SEARCH_PX = 4


def load_images(params: TaskParams, loaders: Sequence[ImageLoader], engine_name: str) -> list[np.ndarray]:
    """The task's images, read one at a time; for the motion engine, each is shrunk as soon as it is
    read to the size that engine would shrink it to when it first shows it.

    A render holds its images from start to end: eight 4000x3000 photos are 288 MB of pixels, most
    of which a 1080p view never samples. Shrunk here, only one full-size image exists at a time.
    Inputs were validated at their own size when submitted or fetched (`inputs.images.normalise`),
    and the shrink depends only on the pixels and the task, so a retry gets the same pixels."""
    if engine_name != "motion":
        return [load() for load in loaders]
    images: list[np.ndarray] = []
    views: list[_ImageViews] = []
    video_size = (0, 0)
    for index, load in enumerate(loaders):
        image = load()
        height, width = image.shape[:2]
        if index == 0:  # the engine takes the video's aspect ratio from the first image
            video_size = output_size(width, height, params.short_side)
            views = _motion_views(params, len(loaders))
        size = views[index].prescaled_size(width, height, *video_size)
        if size is not None and index == 0:
            size = _keeping_video_size(size, video_size, params.short_side)
        images.append(image if size is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA))
        del image  # before the next load: never two full-size images at once
    return images


@dataclass(frozen=True)
class _ImageViews:
    """The camera poses under which the motion engine shows one image, and its closest view."""

    poses: list[CameraPose]
    sharpest_zoom: float  # includes a parallax foreground, which zooms past the path

    def prescaled_size(self, width: int, height: int, out_w: int, out_h: int) -> tuple[int, int] | None:
        """The size `render.fit_image` shrinks a `width`x`height` image to (None: it keeps it whole).

        The same geometry as `fit_image`: the window that keeps every view inside the image, and the
        resolution the sharpest view needs to sample it 1:1. The image shrunk to this size needs at
        most 1:1 of itself, so the engine never enlarges what it would not have enlarged before,
        and does not shrink it again (the sizes are rounded up)."""
        from vidgate.engines.motion.render import PRESCALE_BELOW, cover_window, view_corners

        if not self.poses:  # more images than frames: the engine never shows this one
            return None
        cover_w, cover_h = cover_window(width, height, out_w, out_h)
        corners = np.concatenate([view_corners(pose, cover_w, cover_h) for pose in self.poses])
        (left, top), (right, bottom) = corners.min(axis=0), corners.max(axis=0)
        base_zoom = max((right - left) / width, (bottom - top) / height) * (1.0 + 1e-9)
        wanted = out_w * self.sharpest_zoom * base_zoom / cover_w
        if wanted >= PRESCALE_BELOW:
            return None
        return math.ceil(width * wanted), math.ceil(height * wanted)


def _motion_views(params: TaskParams, image_count: int) -> list[_ImageViews]:
    """For each image, the poses the motion engine fits it to: its camera path, its share of the
    timeline and a match-move's push at the cuts, as `engines/motion/frames.py` computes them.

    A copy of the engine's planning, not a bound: a bound that holds for any prompt is ~3.8x the
    output's size (all moves at once, fast, at "high", with parallax), more than a 12 MP photo has
    at 1080p, so it would save nothing; a task's own path typically needs 1.0-1.6x. The test
    `tests/worker/test_load_images.py` renders through the engine to catch the two drifting apart."""
    from vidgate.engines.motion import TRANSITION_STREAM, plan_camera
    from vidgate.engines.motion.transitions import Timeline, choose_transition

    seed = params.seed
    move = plan_camera(params.prompt, params.movement_amplitude, np.random.default_rng(seed), params.duration)
    transition = choose_transition(
        params.prompt, image_count, np.random.default_rng([seed, TRANSITION_STREAM])
    )
    frame_count = FPS * params.duration
    timeline = Timeline.plan(frame_count, image_count, FPS, transition)
    last = max(frame_count - 1, 1)
    momentum = {
        boundary: tuple(
            v * timeline.momentum for v in move.velocity(timeline.cut(boundary) / last, 1.0 / last)
        )
        for boundary in range(1, image_count)
    }

    def pose_at(image: int, index: int, foreground: bool = False) -> CameraPose:
        pose = move.pose(index / last, foreground)
        for boundary, share in timeline.momentum_share(image, index):
            log_zoom, shift_x, shift_y, roll = (share * value for value in momentum[boundary])
            pose = pose.nudged(log_zoom, shift_x, shift_y, roll)
        return pose

    shots = [timeline.shot(index) for index in range(frame_count)]
    views = []
    for image in range(image_count):
        frames = [i for i, shot in enumerate(shots) if image in (shot.image, shot.incoming)]
        poses = [pose_at(image, i) for i in frames]
        sharpest = max((pose.zoom for pose in poses), default=1.0)
        if move.parallax:
            sharpest = max([sharpest, *(pose_at(image, i, True).zoom for i in frames)])
        views.append(_ImageViews(poses, sharpest))
    return views


def _keeping_video_size(
    size: tuple[int, int], video_size: tuple[int, int], short_side: int
) -> tuple[int, int] | None:
    """`size`, or the nearest size at least as large that gives the same video size; None if none does."""
    steps = range(OUTPUT_SIZE_SEARCH_PX + 1)
    for grow_w, grow_h in sorted(((w, h) for w in steps for h in steps), key=sum):
        candidate = (size[0] + grow_w, size[1] + grow_h)
        if output_size(*candidate, short_side) == video_size:
            return candidate
    return None


def build_render_job(
    params: TaskParams,
    images: list[np.ndarray],
    output: Path,
    settings: Settings,
    engine_name: str,
    watermark: Watermark | None,
    quality: Quality | None = None,
) -> tuple[RenderJob, dict[str, object]]:
    """The job, with its soundtrack and watermark made here so every engine gets them alike, and the
    soundtrack's notes for the result (e.g. `voice_id_used`). `watermark` is used when the task asks
    for one. Speech that does not fit (or an unknown voice in strict mode) raises `RenderError`."""
    soundtrack = _soundtrack(params, len(images), settings)
    job = RenderJob(
        images=images,
        prompt=params.prompt,
        duration=params.duration,
        short_side=params.short_side,
        movement_amplitude=params.movement_amplitude,  # type: ignore[arg-type]
        seed=params.seed,
        output_path=output,
        encoder_threads=settings.encoder_threads,
        quality=quality or settings.quality,
        audio=soundtrack.samples if soundtrack else None,
        frame_filter=watermark if params.watermark else None,
        metadata=provenance_tags(engine_name, params.seed),
    )
    return job, dict(soundtrack.info) if soundtrack else {}


def _soundtrack(params: TaskParams, keyframes: int, settings: Settings) -> Soundtrack | None:
    if not (params.bgm or params.audio):
        return None
    # Imported here: scipy and pyloudnorm cost most of a second, paid only by tasks with sound.
    from vidgate.media.audio.mix import SpeechDoesNotFit
    from vidgate.media.audio.soundtrack import SoundOptions, build_soundtrack
    from vidgate.media.audio.voices import UnknownVoice

    try:
        return build_soundtrack(
            params.prompt,
            params.duration,
            params.seed,
            keyframes,
            bgm=params.bgm,
            audio=params.audio,
            voice_id=params.voice_id,
            options=SoundOptions.from_settings(settings),
        )
    except (SpeechDoesNotFit, UnknownVoice) as exc:
        # Checked at submit; only settings changed since (speed limit, strict voices) land here.
        raise RenderError(InvalidRequestBody.reason, str(exc)) from None
