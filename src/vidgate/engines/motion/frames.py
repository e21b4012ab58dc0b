"""The frame loop: camera path x timeline -> YUVA frames, lazily, one at a time (`generate_frames`).

Memory does not grow with duration, and a seed gives the same frames on every run (docs/motion.md,
"Streaming, memory, determinism").
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import cv2
import numpy as np

from vidgate.engines.base import CancelCheck, ProgressCallback, RenderCancelled
from vidgate.engines.motion.camera import CameraMove, CameraPose
from vidgate.engines.motion.grammar import Transition
from vidgate.engines.motion.parallax import split_layers
from vidgate.engines.motion.render import RESAMPLING, FittedImage, fit_image, output_to_source, render_view
from vidgate.engines.motion.scene import PreparedScene, SceneMotion
from vidgate.engines.motion.transitions import MorphFlow, Shot, Timeline, morph_flow, morph_frame
from vidgate.media.colour import YuvFrame

CANCEL_CHECK_EVERY = 4  # frames; should_cancel() may hit a database
# A morph needs two views that match along the flow (MorphFlow.match); below this, two different
# photos would show as a double exposure, and the cut gets a plain crossfade instead.
MIN_MORPH_MATCH = 0.6


@dataclass(frozen=True)
class CameraSchedule:
    """Where the camera looks at each image in each frame: the move, plus a match-move's push at the
    cuts. Known before any image is read (the worker uses it to shrink photos as it reads them)."""

    move: CameraMove
    timeline: Timeline

    @cached_property
    def shots(self) -> list[Shot]:
        return [self.timeline.shot(index) for index in range(self.timeline.frame_count)]

    @cached_property
    def _momentum(self) -> dict[int, tuple[float, ...]]:
        """Each cut's extra travel for a match-move: the camera's velocity there times the window."""
        last = max(self.timeline.frame_count - 1, 1)
        return {
            boundary: tuple(
                v * self.timeline.momentum
                for v in self.move.velocity(self.timeline.cut(boundary) / last, 1.0 / last)
            )
            for boundary in range(1, self.timeline.image_count)
        }

    def pose(self, image: int, index: int, foreground: bool = False) -> CameraPose:
        pose = self.move.pose(index / max(self.timeline.frame_count - 1, 1), foreground)
        for boundary, share in self.timeline.momentum_share(image, index):
            log_zoom, shift_x, shift_y, roll = (share * value for value in self._momentum[boundary])
            pose = pose.nudged(log_zoom, shift_x, shift_y, roll)
        return pose

    def subject_poses(self, image: int, bounds: tuple[float, float, float, float]) -> dict[int, CameraPose]:
        """The foreground's pose in each frame showing `image`, for a subject with these bounds.

        The foreground leads the background (`move.parallax`), so its view can leave the photo.
        Where the subject is cut by a border of the photo (a bust by the bottom edge) there is nothing
        beyond it to show, and the replicated border would smear into streaks. So on each axis where
        it is cut, its lead is shifted by a constant so that its view never passes the background's
        towards that border: the layers agree where the camera is furthest that way (for a crane up,
        at the start) instead of mid-shot, and the subject still leads by the full parallax, away
        from the cut. That is the simplest fix that keeps the effect: scaling the lead down would
        remove it (a crane up starts at the photo's bottom edge, with no room at all). Cut on both
        sides of an axis, the subject moves with the background along it. Its view zooms in as far
        or further than the background's (camera.py), so shifted no further it passes no border."""
        frames = self.frames_showing(image)
        background = self.fit_poses(image)  # the same frames' poses, in the same order
        foreground = [self.pose(image, index, True) for index in frames]
        left, top, right, bottom = bounds
        leads_x = held_lead(
            [f.shift_x - b.shift_x for f, b in zip(foreground, background, strict=True)],
            left == -math.inf,
            right == math.inf,
        )
        leads_y = held_lead(
            [f.shift_y - b.shift_y for f, b in zip(foreground, background, strict=True)],
            top == -math.inf,
            bottom == math.inf,
        )
        return {
            index: replace(pose, shift_x=base.shift_x + lead_x, shift_y=base.shift_y + lead_y)
            for index, pose, base, lead_x, lead_y in zip(
                frames, foreground, background, leads_x, leads_y, strict=True
            )
        }

    def frames_showing(self, image: int) -> list[int]:
        return [index for index, shot in enumerate(self.shots) if image in (shot.image, shot.incoming)]

    def fit_poses(self, image: int) -> list[CameraPose]:
        """The poses an image is fitted to: those it is actually seen under, so each image uses as
        much of itself as its share of the path allows (empty if it is never seen)."""
        return [self.pose(image, index) for index in self.frames_showing(image)]

    def sharpest_zoom(self, image: int) -> float | None:
        """The closest view of a parallax foreground, which zooms past the path; None without parallax."""
        if not self.move.parallax:
            return None
        return max((self.pose(image, index, True).zoom for index in self.frames_showing(image)), default=None)


def held_lead(leads: list[float], cut_before: bool, cut_after: bool) -> list[float]:
    """`leads` (the foreground view's offset from the background's on one axis, per frame; + towards
    the right or bottom) shifted so that none points towards a border the subject is cut by."""
    if cut_before and cut_after:
        return [0.0] * len(leads)
    if cut_after:
        excess = max([0.0, *leads])
        return [lead - excess for lead in leads]
    if cut_before:
        excess = min([0.0, *leads])
        return [lead - excess for lead in leads]
    return leads


@dataclass(frozen=True)
class FramePlan:
    images: Sequence[np.ndarray]
    move: CameraMove
    width: int
    height: int
    frame_count: int
    fps: int
    transition: Transition | None = None  # None: a single image, or cuts without a blend
    quality: str = "balanced"
    scene: SceneMotion | None = None  # what moves in the pictures themselves (scene.py)

    @property
    def timeline(self) -> Timeline:
        return Timeline.plan(self.frame_count, len(self.images), self.fps, self.transition)


@dataclass
class RenderNotes:
    """What the frame loop found out while rendering, for the engine's report."""

    parallax: list[str] = field(default_factory=list)  # per image: "on" or "fallback"
    morph: list[str] = field(default_factory=list)  # per cut of a morph: "on", or "crossfade" (no match)
    scene: list[dict[str, float]] = field(default_factory=list)  # per image: effect -> region's share


def generate_frames(
    plan: FramePlan,
    on_progress: ProgressCallback,
    should_cancel: CancelCheck,
    notes: RenderNotes | None = None,
) -> Iterator[YuvFrame]:
    """Yield `plan.frame_count` frames lazily; raise RenderCancelled when asked to stop."""
    timeline = plan.timeline
    schedule = CameraSchedule(plan.move, timeline)
    resampling = RESAMPLING[plan.quality]
    fitted: dict[int, FittedImage] = {}
    subject_poses: dict[int, dict[int, CameraPose]] = {}
    scenes: dict[int, PreparedScene] = {}

    def prepared(image: int) -> FittedImage:
        # Split once, here, when the move has parallax; the split looks at RGB, so it comes before
        # the conversion to YUV.
        if image not in fitted:
            poses, sharpest = schedule.fit_poses(image), schedule.sharpest_zoom(image)
            fit = fit_image(plan.images[image], plan.width, plan.height, poses, sharpest)
            layers = split_layers(fit.levels[0].pixels) if plan.move.parallax else None
            if plan.move.parallax and notes is not None:
                notes.parallax.append("on" if layers is not None else "fallback")
            if plan.scene is not None:
                scene = plan.scene.prepare(fit.levels[0].pixels, None if layers is None else layers.alpha)
                scenes[image] = scene
                if notes is not None:
                    notes.scene.append({effect: scene.coverage(effect) for effect in scene.effects})
            fitted[image] = fit.ready(layers)
            if layers is not None:
                subject_poses[image] = schedule.subject_poses(image, layers.bounds)
        return fitted[image]

    last_view: tuple[tuple[int, CameraPose, CameraPose | None], np.ndarray] | None = None

    def view(image: int, index: int) -> np.ndarray:
        nonlocal last_view
        fit = prepared(image)
        pose = schedule.pose(image, index)
        subject_pose = subject_poses[image][index] if image in subject_poses else None
        key = (image, pose, subject_pose)
        if last_view is not None and last_view[0] == key:  # a static camera: render once
            frame = last_view[1]
        else:
            frame = render_view(fit, pose, plan.width, plan.height, resampling, subject_pose)
            last_view = (key, frame)
        scene = scenes.get(image)
        if scene is not None and scene.effects:
            matrix = output_to_source(fit, pose, plan.width, plan.height)
            frame = scene.apply(frame, matrix, index / plan.fps)
        return frame

    flows: dict[int, MorphFlow | None] = {}  # None: the views do not match, so a crossfade
    for index, shot in enumerate(schedule.shots):
        if index % CANCEL_CHECK_EVERY == 0 and should_cancel():
            raise RenderCancelled("render cancelled")
        for passed in [image for image in fitted if image < shot.image]:
            del fitted[passed]
            subject_poses.pop(passed, None)
            scenes.pop(passed, None)
        frame = view(shot.image, index)
        if shot.incoming is not None:
            incoming = view(shot.incoming, index)
            if timeline.kind == "morph" and shot.boundary not in flows:
                flows.clear()  # one cut's flow at a time
                middle = min(plan.frame_count - 1, round(timeline.cut(shot.boundary)))
                found = morph_flow(view(shot.image, middle), view(shot.incoming, middle))
                flows[shot.boundary] = found if found.match >= MIN_MORPH_MATCH else None
                if notes is not None:
                    notes.morph.append("on" if flows[shot.boundary] else "crossfade")
            matched = flows.get(shot.boundary)
            if matched is not None:
                frame = morph_frame(frame, incoming, matched, shot.progress, shot.mix)
            else:
                frame = cv2.addWeighted(frame, 1.0 - shot.mix, incoming, shot.mix, 0.0)
        else:
            flows.clear()
        on_progress(index / plan.frame_count)
        yield YuvFrame(frame)
