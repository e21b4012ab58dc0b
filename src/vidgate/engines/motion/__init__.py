"""The CPU engine: a camera move over the input photos, chosen from the prompt, no model needed.

Deterministic for a seed (byte-identical MP4), streams frames into the encoder, and never holds more
than a handful of frames in memory. docs/motion.md describes the camera grammar and the transitions.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import cv2
import numpy as np

from vidgate.engines.base import (
    FPS,
    Amplitude,
    CancelCheck,
    InputSizeFn,
    ProgressCallback,
    RenderJob,
    RenderResult,
    output_size,
)
from vidgate.engines.motion.camera import CameraMove, plan_camera
from vidgate.engines.motion.frames import CameraSchedule, FramePlan, RenderNotes, generate_frames
from vidgate.engines.motion.grammar import Transition
from vidgate.engines.motion.render import RESAMPLING, prescaled_size
from vidgate.engines.motion.scene import VOCABULARY, SceneMotion, plan_scene
from vidgate.engines.motion.transitions import Timeline, choose_transition
from vidgate.media.encode import encode_frames
from vidgate.tasks.model import TaskParams

__all__ = ["CameraMove", "MotionEngine", "input_sizes", "plan_camera", "plan_move"]

MIN_DURATION_S, MAX_DURATION_S = 1, 10
# The transition is drawn from its own random stream, so that adding images to a job does not
# change its camera move (and a new camera word does not change the transition).
TRANSITION_STREAM = 1


class MotionEngine:
    name = "motion"

    def input_sizes(self, params: TaskParams, image_count: int) -> InputSizeFn:
        """How small each image is used (`ShrinksInputs`), from the same plan `render` follows."""
        return input_sizes(
            params.prompt, params.movement_amplitude, params.seed, params.duration, image_count
        )

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        _validate(job)
        first_h, first_w = job.images[0].shape[:2]
        width, height = output_size(first_w, first_h, job.short_side)
        images = len(job.images)
        move, transition = plan_move(job.prompt, job.movement_amplitude, job.seed, job.duration, images)
        scene = plan_scene(job.prompt, move.level, job.seed)
        plan = FramePlan(
            job.images, move, width, height, job.frame_count, job.fps, transition, job.quality, scene
        )
        notes = RenderNotes()
        frames = generate_frames(plan, on_progress, should_cancel, notes)
        with _opencv_threads(max(1, (os.cpu_count() or 1) - job.encoder_threads)):
            written = encode_frames(
                frames,
                job.output_path,
                width,
                height,
                fps=job.fps,
                threads=job.encoder_threads,
                quality=job.quality,
                audio=job.audio,
                frame_filter=job.frame_filter,
                metadata=job.metadata,
            )
        if written != job.frame_count:  # a bug, not a user error: say so plainly
            raise RuntimeError(f"motion engine wrote {written} frames, expected {job.frame_count}")
        on_progress(1.0)
        return RenderResult(
            path=job.output_path,
            width=width,
            height=height,
            frames=written,
            fps=job.fps,
            info={
                "camera_move": move.name,
                "movement_amplitude": move.level,
                "images": len(job.images),
                "transition": _transition_summary(transition, notes),
                "transition_s": round(plan.timeline.blend / job.fps, 3),
                "parallax": _parallax_summary(move, notes),
                **_scene_summary(scene, notes),
            },
        )


def plan_move(
    prompt: str, amplitude: Amplitude | str, seed: int, duration: int, image_count: int
) -> tuple[CameraMove, Transition | None]:
    """The camera move and the transition a job gets: both drawn from the seed."""
    move = plan_camera(prompt, amplitude, np.random.default_rng(seed), duration)
    transition = choose_transition(prompt, image_count, np.random.default_rng([seed, TRANSITION_STREAM]))
    return move, transition


def input_sizes(
    prompt: str, amplitude: Amplitude | str, seed: int, duration: int, image_count: int, fps: int = FPS
) -> InputSizeFn:
    """`size(index, width, height, out_w, out_h)`: what the engine will shrink image `index` to when
    it first shows it (None: it keeps the image whole), known before any image is read.

    A caller that reads large photos can shrink each as it reads it, instead of holding every
    full-size photo through the render; the engine then works from the same pixels."""
    move, transition = plan_move(prompt, amplitude, seed, duration, image_count)
    schedule = CameraSchedule(move, Timeline.plan(fps * duration, image_count, fps, transition))

    def size(index: int, width: int, height: int, out_w: int, out_h: int) -> tuple[int, int] | None:
        poses = schedule.fit_poses(index)
        return prescaled_size(width, height, out_w, out_h, poses, schedule.sharpest_zoom(index))

    return size


@contextlib.contextmanager
def _opencv_threads(count: int) -> Iterator[None]:
    """OpenCV's thread pool limited to the cores x264 leaves free, for the length of a render.

    x264's frame threads keep `encoder_threads` cores busy, and a frame's warp is a fifth of what its
    encoding costs: on a 2-core machine OpenCV's workers only contend with x264 (and spin between
    parallel regions), which measured 3-4 % more CPU and wall time for a 720p render."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def _scene_summary(scene: SceneMotion | None, notes: RenderNotes) -> dict[str, object]:
    """`scene`: each effect applied, its region and the largest share of a picture it covered;
    `scene_unmatched`: effects the prompt asked for whose region no picture has (nothing moved)."""
    asked = scene.effects if scene is not None else ()
    applied = [
        {
            "effect": effect,
            "region": VOCABULARY[effect][0],
            "coverage": round(max(found.get(effect, 0.0) for found in notes.scene), 3),
        }
        for effect in asked
        if any(effect in found for found in notes.scene)
    ]
    named = {entry["effect"] for entry in applied}
    return {"scene": applied, "scene_unmatched": [effect for effect in asked if effect not in named]}


def _transition_summary(transition: Transition | None, notes: RenderNotes) -> str:
    """The transition as seen: a morph whose every cut fell back to a crossfade (the photos did not
    match) is reported as the crossfade it was; "morph" if any cut morphed."""
    if transition == "morph" and notes.morph and "on" not in notes.morph:
        return "crossfade"
    return transition or "none"


def _parallax_summary(move: CameraMove, notes: RenderNotes) -> str:
    """ "off" (the move has none), "on" (every image split), "fallback" (none did) or "partial"."""
    if not move.parallax or not notes.parallax:
        return "off"
    if all(state == "on" for state in notes.parallax):
        return "on"
    return "fallback" if all(state == "fallback" for state in notes.parallax) else "partial"


def _validate(job: RenderJob) -> None:
    if not job.images:
        raise ValueError("at least one image is required")
    for index, image in enumerate(job.images):
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
        ):
            raise ValueError(f"image {index} must be an RGB uint8 array of shape HxWx3")
        if min(image.shape[:2]) < 2:
            raise ValueError(f"image {index} is too small: {image.shape[1]}x{image.shape[0]}")
    if not MIN_DURATION_S <= job.duration <= MAX_DURATION_S:
        raise ValueError(f"duration must be {MIN_DURATION_S}..{MAX_DURATION_S} seconds, got {job.duration}")
    if job.fps <= 0:
        raise ValueError(f"fps must be positive, got {job.fps}")
    if job.short_side < 16:
        raise ValueError(f"short_side must be at least 16 pixels, got {job.short_side}")
    if job.quality not in RESAMPLING:
        raise ValueError(f"quality must be one of {', '.join(RESAMPLING)}, got {job.quality!r}")
