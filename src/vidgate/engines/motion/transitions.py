"""Several images in one video: who is on screen when, and how one image gives way to the next.

Each image owns an equal share of the timeline. Around each boundary the next image comes in by one
of four transitions, one kind per video (a video that changes style at every cut looks like a demo):

- crossfade: a smoothstep blend of the two views, up to 0.8 s.
- morph: both views are warped towards each other along dense optical flow (OpenCV's DIS) while
  they blend, so shapes flow into shapes instead of ghosting; up to 1 s.
- match_move: a short blend (up to 0.25 s) inside a speed-up of the camera's own move: the outgoing
  image runs ahead along the move and the incoming one arrives from behind at the same speed, so the
  move carries across the cut.
- cut: none at all, the next image is on screen from the next frame; only when the prompt asks
  ("hard cut", "cut to").

The prompt may name one ("morph", "dissolve", "match cut", "cut to"...); otherwise the seed picks
among the first three.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidgate.engines.motion.grammar import Transition, find_transition

# What the seed picks from when the prompt names none (a cut only when asked for: it is abrupt).
TRANSITIONS: tuple[Transition, ...] = ("crossfade", "morph", "match_move")
# Longest blend, and its largest share of each image's time on screen (for short videos of many images).
BLEND_S: dict[Transition, float] = {"crossfade": 0.8, "morph": 1.0, "match_move": 0.25, "cut": 0.0}
BLEND_SHARE: dict[Transition, float] = {"crossfade": 0.4, "morph": 0.5, "match_move": 0.2, "cut": 0.0}
# A match-move speeds the camera up over this window around the cut: the extra travel equals what
# the camera covers in the window at its speed there, so it peaks at about 2.5x its speed at the cut.
MOMENTUM_S = 0.6
MOMENTUM_SHARE = 0.4
# Optical flow runs on copies this long on their long side: a morph needs the large shapes to flow,
# not pixel detail, and at this size DIS follows a subject across a fifth of the frame (~5 ms).
FLOW_LONG_SIDE = 192
# A light blur of the flow (sigma as a share of the long side) irons out single stray vectors; more
# would average a subject's motion with its still surroundings and bring the ghosting back.
FLOW_SMOOTHING = 0.01
# ...and a bound on its length (share of the long side), so that a morph never tears the picture apart.
MAX_FLOW = 0.25


def choose_transition(prompt: str, image_count: int, rng: np.random.Generator) -> Transition | None:
    """The transition the prompt names, else a seeded pick; None for a single image."""
    if image_count < 2:
        return None
    return find_transition(prompt) or TRANSITIONS[int(rng.integers(len(TRANSITIONS)))]


@dataclass(frozen=True)
class Shot:
    """What one frame shows."""

    image: int  # the image on screen; during a transition, the outgoing one
    incoming: int | None = None  # the next image, during a transition
    mix: float = 0.0  # eased weight of the incoming image
    progress: float = 0.0  # linear position through the transition, 0..1
    boundary: int = 0  # which cut this transition belongs to (1 = between images 0 and 1)


@dataclass(frozen=True)
class Timeline:
    frame_count: int
    image_count: int
    kind: Transition | None
    blend: float  # frames of each transition's blend
    momentum: float  # frames of each match-move speed-up; 0 for the other kinds

    @staticmethod
    def plan(frame_count: int, image_count: int, fps: int, kind: Transition | None) -> Timeline:
        if kind is None or image_count < 2:
            return Timeline(frame_count, image_count, None, 0.0, 0.0)
        segment = frame_count / image_count
        blend = min(BLEND_S[kind] * fps, BLEND_SHARE[kind] * segment)
        momentum = min(MOMENTUM_S * fps, MOMENTUM_SHARE * segment) if kind == "match_move" else 0.0
        return Timeline(frame_count, image_count, kind, blend, momentum)

    def cut(self, boundary: int) -> float:
        """Frame position of the cut between image `boundary - 1` and image `boundary`."""
        return boundary * self.frame_count / self.image_count

    def shot(self, index: int) -> Shot:
        segment = self.frame_count / self.image_count
        current = min(int(index // segment), self.image_count - 1)
        if self.blend <= 0.0:
            return Shot(current)
        for boundary in (current, current + 1):  # the cuts just before and after this frame
            if not 0 < boundary < self.image_count:
                continue
            position = (index - (self.cut(boundary) - self.blend / 2.0)) / self.blend
            if 0.0 < position < 1.0:
                mix = position * position * (3.0 - 2.0 * position)
                return Shot(boundary - 1, boundary, mix, position, boundary)
        return Shot(current)

    def momentum_share(self, image: int, index: int) -> list[tuple[int, float]]:
        """For a match-move: (cut, share) pairs; the image's pose is pushed along the camera's
        velocity at that cut by `share` times the window's extra travel. Empty otherwise."""
        if self.momentum <= 0.0:
            return []
        shares = []
        for boundary, outgoing in ((image + 1, True), (image, False)):
            if not 0 < boundary < self.image_count:
                continue
            ramp = (index - (self.cut(boundary) - self.momentum / 2.0)) / self.momentum
            ramp = min(1.0, max(0.0, ramp))
            eased = ramp * ramp * (3.0 - 2.0 * ramp)
            # The outgoing image runs ahead up to the full extra travel; the incoming one starts that
            # far behind and catches up: at the cut both are half-way, moving at the same speed.
            share = eased if outgoing else eased - 1.0
            if share:
                shares.append((boundary, share))
        return shares


@dataclass(frozen=True)
class MorphFlow:
    """Dense flow between the two views of a morph, in output pixels, computed once per cut.

    Each field is an (x, y) pair of float32 planes: cv2.remap takes its maps as two planes."""

    forward: tuple[np.ndarray, np.ndarray]  # outgoing(p) ~ incoming(p + forward(p))
    backward: tuple[np.ndarray, np.ndarray]  # incoming(p) ~ outgoing(p + backward(p))
    grid: tuple[np.ndarray, np.ndarray]  # pixel coordinates: the identity map
    # How well the flow matches the views: the correlation of the outgoing view's luma with the
    # incoming one's carried along the flow, -1..1. Two photos of one scene match (0.9+); two
    # different photos do not (below 0.5), and morphed they read as a double exposure.
    match: float = 1.0


def morph_flow(outgoing: np.ndarray, incoming: np.ndarray) -> MorphFlow:
    height, width = outgoing.shape[:2]
    scale = min(1.0, FLOW_LONG_SIDE / max(width, height))
    small_size = (max(16, round(width * scale)), max(16, round(height * scale)))

    def grey(view: np.ndarray) -> np.ndarray:  # views are YUV(A): luma is the first channel
        return cv2.resize(cv2.extractChannel(view, 0), small_size, interpolation=cv2.INTER_AREA)

    a, b = grey(outgoing), grey(incoming)
    flow = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_MEDIUM)
    # DIS cuts the image into one stripe per thread and propagates within a stripe: without
    # propagation the result does not depend on the machine's core count, which determinism needs.
    flow.setUseSpatialPropagation(False)
    long_side = max(small_size)

    def small_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        raw = flow.calc(first, second, np.zeros((*first.shape, 2), np.float32))  # no initial flow used
        smooth = cv2.GaussianBlur(raw, (0, 0), FLOW_SMOOTHING * long_side)
        length = np.sqrt((smooth**2).sum(axis=2, keepdims=True))
        smooth *= np.minimum(1.0, MAX_FLOW * long_side / np.maximum(length, 1e-6))
        return smooth

    def full(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grown = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        return grown[..., 0] * (width / small_size[0]), grown[..., 1] * (height / small_size[1])

    forward = small_flow(a, b)
    small_x, small_y = np.meshgrid(
        np.arange(small_size[0], dtype=np.float32), np.arange(small_size[1], dtype=np.float32)
    )
    carried = cv2.remap(
        b,
        small_x + forward[..., 0],
        small_y + forward[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return MorphFlow(full(forward), full(small_flow(b, a)), (grid_x, grid_y), correlation(a, carried))


def correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Pearson correlation of two images' pixels; 0 when either is flat."""
    x, y = first.astype(np.float64).ravel(), second.astype(np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    norm = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / norm) if norm > 0.0 else 0.0


def morph_frame(
    outgoing: np.ndarray, incoming: np.ndarray, flow: MorphFlow, progress: float, mix: float
) -> np.ndarray:
    """The in-between frame at `progress`: each view carried part of the way along the flow, blended.

    A point at p in the outgoing view and at p + f in the incoming one sits at p + progress * f."""

    def carried(view: np.ndarray, field: tuple[np.ndarray, np.ndarray], share: float) -> np.ndarray:
        map_x = cv2.scaleAdd(field[0], -share, flow.grid[0])
        map_y = cv2.scaleAdd(field[1], -share, flow.grid[1])
        return cv2.remap(view, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return cv2.addWeighted(
        carried(outgoing, flow.forward, progress),
        1.0 - mix,
        carried(incoming, flow.backward, 1.0 - progress),
        mix,
        0.0,
    )
