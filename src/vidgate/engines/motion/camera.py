"""From a prompt to a camera path: a small keyword grammar, amplitude levels and eased curves.

The path is described relative to a "base window" (the view at the start of a shot, before the
renderer fits it into each image): a relative zoom, a shift in units of the base window's size, and a
keystone for the fake perspective of an orbit. `render.py` turns poses into warp matrices.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from vidgate.engines.base import Amplitude

Level = Literal["small", "medium", "high"]

# Displacement per amplitude level, for a full shot. Chosen so that the three levels are clearly
# apart to the eye (and in mean frame-to-frame difference) while "high" still looks like a camera
# move rather than a glitch.
ZOOM_BY_LEVEL: dict[Level, float] = {"small": 1.06, "medium": 1.15, "high": 1.30}  # end zoom / start zoom
PAN_BY_LEVEL: dict[Level, float] = {
    "small": 0.04,
    "medium": 0.10,
    "high": 0.18,
}  # travel, fraction of the frame
ORBIT_KEYSTONE_BY_LEVEL: dict[Level, float] = {
    "small": 0.03,
    "medium": 0.06,
    "high": 0.10,
}  # edge height change, each side

# With an explicit amplitude, speed words still nudge the move; with "auto" they choose the level.
SLOW_FACTOR = 0.75
FAST_FACTOR = 1.3
# The default move when the prompt names none: a push-in at this fraction of the level's zoom
# (in log space), drifting towards a seeded direction by this fraction of the level's pan.
DEFAULT_PUSH_SHARE = 0.6
DEFAULT_DRIFT_SHARE = 0.25

# Optional adverb between a verb and its direction: "zoom slowly in", "pan gently to the left".
_ADVERB = r"(?:(?:slowly|gently|quickly|rapidly|smoothly|steadily|softly|fast|dramatically)\s+)?"
_TO_THE = r"(?:to(?:wards?)?\s+(?:the\s+)?)?"


def _verb(*stems: str) -> str:
    """A verb in any common inflection ("pan", "pans", "panning", "panned"), then an optional adverb."""
    return r"\b(?:" + "|".join(stems) + r")(?:s|es|d|ed|ing)?\s+" + _ADVERB


# Each category keeps the phrase that occurs first in the prompt; categories combine
# ("zoom in while panning left" -> zoom_in+pan_left). Only camera verbs: "moves in", "walks left"
# describe the subject, not the camera.
_PHRASES: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "zoom": [
        (
            "zoom_in",
            re.compile(_verb("zoom", "push", "dolly", "dollie") + r"in(?:to|wards?)?\b"),
        ),
        (
            "zoom_out",
            re.compile(_verb("zoom", "pull", "dolly", "dollie") + r"(?:out|back)\b"),
        ),
    ],
    "pan": [
        ("pan_left", re.compile(_verb("pan", "pann", "truck", "track") + _TO_THE + r"left\b")),
        ("pan_right", re.compile(_verb("pan", "pann", "truck", "track") + _TO_THE + r"right\b")),
    ],
    "tilt": [
        ("tilt_up", re.compile(_verb("tilt", "pedestal", "crane", "boom") + r"up(?:wards?)?\b")),
        ("tilt_down", re.compile(_verb("tilt", "pedestal", "crane", "boom") + r"down(?:wards?)?\b")),
    ],
    "orbit": [
        ("orbit_left", re.compile(r"\b(?:orbit|arc)(?:s|ing|ed)?\s+" + _ADVERB + _TO_THE + r"left\b")),
        ("orbit_right", re.compile(r"\b(?:orbit|arc)(?:s|ing|ed)?\s+" + _ADVERB + _TO_THE + r"right\b")),
        ("orbit", re.compile(r"\b(?:orbit|arc)(?:s|ing|ed)?\b")),
    ],
}
# Only words about the camera's pace: "soft light" or "a calm sea" describe the scene, not the move.
_SLOW_WORDS = re.compile(r"\b(?:slow(?:ly)?|gentl[ey]|subtle|subtly)\b")
_FAST_WORDS = re.compile(r"\b(?:fast|quick(?:ly)?|rapid(?:ly)?|dramatic(?:ally)?|swift(?:ly)?)\b")


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is at one instant, relative to the base window."""

    zoom: float  # relative magnification; > 1 shows a smaller part of the image
    shift_x: float  # window centre offset, in base-window widths (+ = right)
    shift_y: float  # window centre offset, in base-window heights (+ = down)
    keystone: float  # left edge grows by this fraction of the height, right edge shrinks by it


@dataclass(frozen=True)
class CameraMove:
    """A whole camera path; `pose(progress)` samples it with `progress` in [0, 1]."""

    name: str  # e.g. "zoom_in", "pan_left+tilt_up", "push_in_drift"
    level: Level
    log_zoom: float  # total change of log(zoom) over the shot; negative zooms out
    travel_x: float  # total shift over the shot, in base-window widths
    travel_y: float  # total shift over the shot, in base-window heights
    keystone: float  # orbit: keystone swings from -keystone to +keystone

    def pose(self, progress: float) -> CameraPose:
        eased = ease_in_out(progress)
        return CameraPose(
            # Geometric zoom: equal ratios per frame look like constant speed; linear zoom would not.
            zoom=math.exp(self.log_zoom * eased),
            shift_x=self.travel_x * eased,
            shift_y=self.travel_y * eased,
            keystone=self.keystone * (2.0 * eased - 1.0),
        )


def ease_in_out(progress: float) -> float:
    """Smoothstep with a linear share: starts and ends gently without stalling for long."""
    t = min(1.0, max(0.0, progress))
    smooth = t * t * (3.0 - 2.0 * t)
    return 0.35 * t + 0.65 * smooth


def resolve_level(prompt: str, amplitude: Amplitude | str) -> tuple[Level, float]:
    """(level, speed factor) from the requested amplitude and the prompt's speed words."""
    text = prompt.lower()
    slow = _SLOW_WORDS.search(text) is not None
    fast = _FAST_WORDS.search(text) is not None
    if amplitude == "large":  # upstream spelling
        amplitude = "high"
    if amplitude == "auto":
        if slow and not fast:
            return "small", 1.0
        if fast and not slow:
            return "high", 1.0
        return "medium", 1.0
    if amplitude not in ZOOM_BY_LEVEL:
        raise ValueError(f"movement_amplitude must be auto, small, medium or high, got {amplitude!r}")
    factor = SLOW_FACTOR if slow and not fast else FAST_FACTOR if fast and not slow else 1.0
    return cast(Level, amplitude), factor


def find_moves(prompt: str) -> list[str]:
    """The named moves in a prompt, one per category, in a fixed order; empty if none."""
    text = prompt.lower()
    found = []
    for phrases in _PHRASES.values():
        hits = [(match.start(), name) for name, pattern in phrases if (match := pattern.search(text))]
        if hits:
            # Earliest phrase wins; at the same position the more specific phrase is listed first.
            found.append(min(hits, key=lambda hit: hit[0])[1])
    return found


def plan_camera(prompt: str, amplitude: Amplitude | str, rng: np.random.Generator) -> CameraMove:
    """Choose the camera path for a prompt. `rng` only varies what the prompt leaves open."""
    level, factor = resolve_level(prompt, amplitude)
    log_zoom_step = math.log(ZOOM_BY_LEVEL[level]) * factor
    pan = PAN_BY_LEVEL[level] * factor
    moves = find_moves(prompt)
    log_zoom = travel_x = travel_y = keystone = 0.0
    names = []
    for move in moves:
        if move == "zoom_in":
            log_zoom += log_zoom_step
        elif move == "zoom_out":
            log_zoom -= log_zoom_step
        elif move in ("pan_left", "pan_right"):
            travel_x += pan if move == "pan_right" else -pan
        elif move in ("tilt_up", "tilt_down"):
            travel_y += pan if move == "tilt_down" else -pan
        else:
            if move == "orbit":  # no side given: the seed picks one
                move = "orbit_right" if rng.random() < 0.5 else "orbit_left"
            side = 1.0 if move == "orbit_right" else -1.0
            # A 2D stand-in for an orbit: the view slides sideways while the perspective swings
            # through frontal, with a slight push-in so the subject seems to stay the centre of interest.
            travel_x += side * pan * 0.7
            keystone += side * ORBIT_KEYSTONE_BY_LEVEL[level] * factor
            log_zoom += 0.4 * log_zoom_step
        names.append(move)
    if not names:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        drift = pan * DEFAULT_DRIFT_SHARE
        log_zoom = log_zoom_step * DEFAULT_PUSH_SHARE
        travel_x, travel_y = drift * math.cos(angle), drift * math.sin(angle)
        names.append("push_in_drift")
    return CameraMove("+".join(names), level, log_zoom, travel_x, travel_y, keystone)
