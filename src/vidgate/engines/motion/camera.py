"""From a prompt to a camera path: amplitude levels, the moves the grammar named, eased curves.

The path is described relative to a "base window" (the view at the start of a shot, before the
renderer fits it into each image): a relative zoom, a shift in units of the base window's size, a
roll and a keystone for the fake perspective of an orbit. `render.py` turns poses into warp matrices.

Moves come in two kinds, as on a film set. Turning the camera or its lens (pan, tilt, zoom, roll)
moves everything in the picture together. Carrying the camera (dolly, truck, crane, orbit) moves
near things more than far ones: with a foreground layer (parallax.py), those components are
exaggerated for the foreground by `CameraMove.parallax`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, cast

import numpy as np

from vidgate.engines.base import Amplitude
from vidgate.engines.motion.grammar import find_moves, find_pace

Level = Literal["small", "medium", "high"]


@dataclass(frozen=True)
class LevelAmplitude:
    """How far each kind of move goes over a whole shot at one amplitude level."""

    zoom: float  # zoom or dolly: end magnification / start magnification
    travel: float  # pan, tilt, truck, crane: how far the view travels, as a fraction of the frame
    keystone: float  # orbit: perspective swing, each side, as a fraction of the frame height
    roll_degrees: float  # roll: total turn
    shake: float  # handheld: peak sway, as a fraction of the frame
    shake_roll_degrees: float  # handheld: peak wobble
    parallax: float  # foreground speed-up for moves that carry the camera; 0 = flat picture


# Chosen so that the three levels are clearly apart to the eye (and in mean frame-to-frame
# difference) while "high" still looks like a camera move rather than a glitch. Parallax stays
# subtle (the subject leads the background by at most 7 % of the frame, at "high"): a cut-out that
# slides far shows the limits of a segmentation without a model. It is off at "small", where the
# lead would be a pixel or two, not worth a segmentation.
AMPLITUDES: dict[Level, LevelAmplitude] = {
    "small": LevelAmplitude(1.06, 0.04, 0.03, 1.5, 0.004, 0.15, 0.0),
    "medium": LevelAmplitude(1.15, 0.10, 0.06, 3.0, 0.008, 0.3, 0.25),
    "high": LevelAmplitude(1.30, 0.18, 0.10, 6.0, 0.015, 0.6, 0.4),
}

# With an explicit amplitude, speed words still nudge the move; with "auto" they choose the level.
SLOW_FACTOR = 0.75
FAST_FACTOR = 1.3
# The default move when the prompt names none: a push-in at this fraction of the level's zoom
# (in log space), drifting towards a seeded direction by this fraction of the level's travel.
DEFAULT_PUSH_SHARE = 0.6
DEFAULT_DRIFT_SHARE = 0.25
# An orbit slides the view by this fraction of the level's travel, with a slight push-in (this
# fraction of the level's zoom) so that the subject seems to stay the centre of interest.
ORBIT_SLIDE_SHARE = 0.7
ORBIT_PUSH_SHARE = 0.4
# Moves the prompt names without a side ("orbit the tower", "a slow pan"): the seed picks one, the
# first when its next draw is below 0.5.
SEEDED_SIDES: dict[str, tuple[str, str]] = {
    "orbit": ("orbit_right", "orbit_left"),
    "roll": ("roll_clockwise", "roll_counterclockwise"),
    "pan": ("pan_right", "pan_left"),
    "tilt": ("tilt_up", "tilt_down"),
    "truck": ("truck_right", "truck_left"),
    "crane": ("crane_up", "crane_down"),
}
# Handheld sway: three sines per axis in these bands (Hz) with these weights. A person holding a
# camera sways slowly and trembles a little faster; nothing above ~1.5 Hz, which would read as vibration.
SHAKE_BANDS_HZ = ((0.15, 0.35), (0.4, 0.8), (0.9, 1.5))
SHAKE_WEIGHTS = (0.6, 0.3, 0.1)


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is at one instant, relative to the base window."""

    zoom: float  # relative magnification; > 1 shows a smaller part of the image
    shift_x: float  # window centre offset, in base-window widths (+ = right)
    shift_y: float  # window centre offset, in base-window heights (+ = down)
    keystone: float = 0.0  # left edge grows by this fraction of the height, right edge shrinks by it
    roll: float = 0.0  # radians; + = the camera rolls clockwise, so the picture turns counter-clockwise

    def nudged(self, log_zoom: float, shift_x: float, shift_y: float, roll: float) -> CameraPose:
        return CameraPose(
            self.zoom * math.exp(log_zoom),
            self.shift_x + shift_x,
            self.shift_y + shift_y,
            self.keystone,
            self.roll + roll,
        )


Sines = tuple[tuple[float, float, float], ...]  # (amplitude, cycles over the shot, phase) each


@dataclass(frozen=True)
class Shake:
    """Handheld sway: smooth seeded noise, a sum of a few low-frequency sines per axis."""

    x: Sines  # base-window widths
    y: Sines  # base-window heights
    roll: Sines  # radians

    @staticmethod
    def seeded(rng: np.random.Generator, sway: float, wobble: float, duration_s: float) -> Shake:
        def axis(peak: float) -> Sines:
            return tuple(
                (peak * weight, rng.uniform(low, high) * duration_s, rng.uniform(0.0, 2.0 * math.pi))
                for (low, high), weight in zip(SHAKE_BANDS_HZ, SHAKE_WEIGHTS, strict=True)
            )

        return Shake(axis(sway), axis(sway), axis(wobble))

    def at(self, progress: float) -> tuple[float, float, float]:
        def total(sines: Sines) -> float:
            return sum(a * math.sin(2.0 * math.pi * cycles * progress + phase) for a, cycles, phase in sines)

        return total(self.x), total(self.y), total(self.roll)


@dataclass(frozen=True)
class CameraMove:
    """A whole camera path; `pose(progress)` samples it with `progress` in [0, 1]."""

    name: str  # e.g. "zoom_in", "pan_left+tilt_up", "push_in_drift", "static"
    level: Level
    # Turning the camera or its lens: the whole picture moves together.
    lens_log_zoom: float = 0.0  # total change of log(zoom); negative zooms out
    pan_x: float = 0.0  # base-window widths
    tilt_y: float = 0.0  # base-window heights
    roll: float = 0.0  # radians
    # Carrying the camera: exaggerated for the foreground layer.
    dolly_log_zoom: float = 0.0
    truck_x: float = 0.0
    crane_y: float = 0.0
    # Orbit: the view slides while the perspective swings from -keystone to +keystone.
    orbit_x: float = 0.0
    keystone: float = 0.0
    shake: Shake | None = None
    parallax: float = 0.0  # foreground speed-up; 0 = render the picture as one flat layer

    def pose(self, progress: float, foreground: bool = False) -> CameraPose:
        pose = self._path(progress, foreground)
        if self.shake is not None:
            sway_x, sway_y, wobble = self.shake.at(progress)
            pose = pose.nudged(0.0, sway_x, sway_y, wobble)
        return pose

    def velocity(self, progress: float, step: float) -> tuple[float, float, float, float]:
        """Change of (log zoom, shift x, shift y, roll) over `step` of progress around `progress`.

        The handheld sway is left out: it is noise on top of the move, not where the move is going."""
        before = self._path(max(0.0, progress - step / 2.0), False)
        after = self._path(min(1.0, progress + step / 2.0), False)
        return (
            math.log(after.zoom / before.zoom),
            after.shift_x - before.shift_x,
            after.shift_y - before.shift_y,
            after.roll - before.roll,
        )

    def _path(self, progress: float, foreground: bool) -> CameraPose:
        eased = ease_in_out(progress)
        carried = dollied = orbited = eased
        if foreground:
            # The foreground covers the same path (1 + parallax) times as fast, from an instant where
            # both layers agree. Sideways, that is mid-shot: the background it uncovers is then half
            # what it would be from either end. For a push-in it is the start, and for a pull-out the
            # end, so that the subject is always at least its size in the photo and covers its own hole.
            speed = 1.0 + self.parallax
            carried = 0.5 + (eased - 0.5) * speed
            dollied = eased * speed if self.dolly_log_zoom > 0 else 1.0 + (eased - 1.0) * speed
            # In an orbit the subject is the pivot: it lags while the background sweeps past.
            orbited = 0.5 + (eased - 0.5) * (1.0 - self.parallax)
        # Geometric zoom: equal ratios per frame look like constant speed; linear zoom would not.
        log_zoom = self.lens_log_zoom * eased + self.dolly_log_zoom * dollied
        return CameraPose(
            zoom=math.exp(log_zoom),
            shift_x=self.pan_x * eased + self.truck_x * carried + self.orbit_x * orbited,
            shift_y=self.tilt_y * eased + self.crane_y * carried,
            keystone=self.keystone * (2.0 * eased - 1.0),
            roll=self.roll * eased,
        )


def ease_in_out(progress: float) -> float:
    """Smoothstep with a linear share: starts and ends gently without stalling for long."""
    t = min(1.0, max(0.0, progress))
    smooth = t * t * (3.0 - 2.0 * t)
    return 0.35 * t + 0.65 * smooth


def resolve_level(prompt: str, amplitude: Amplitude | str) -> tuple[Level, float]:
    """(level, speed factor) from the requested amplitude and the prompt's speed words."""
    pace = find_pace(prompt)
    if amplitude == "large":  # upstream spelling
        amplitude = "high"
    if amplitude == "auto":
        return cast(Level, {"slow": "small", "fast": "high"}.get(pace, "medium")), 1.0
    if amplitude not in AMPLITUDES:
        raise ValueError(f"movement_amplitude must be auto, small, medium or high, got {amplitude!r}")
    factor = {"slow": SLOW_FACTOR, "fast": FAST_FACTOR}.get(pace, 1.0)
    return cast(Level, amplitude), factor


def plan_camera(
    prompt: str, amplitude: Amplitude | str, rng: np.random.Generator, duration_s: float = 5.0
) -> CameraMove:
    """Choose the camera path for a prompt. `rng` only varies what the prompt leaves open."""
    level, factor = resolve_level(prompt, amplitude)
    amp = AMPLITUDES[level]
    zoom = math.log(amp.zoom) * factor
    travel = amp.travel * factor
    moves = find_moves(prompt)
    if "static" in moves:  # "locked off" overrides every other camera word: no motion at all
        return CameraMove("static", level)

    move = CameraMove("", level)
    names: list[str] = []
    for name in moves:
        if name in SEEDED_SIDES:
            first, second = SEEDED_SIDES[name]
            name = first if rng.random() < 0.5 else second
        names.append(name)
        sign = -1.0 if name.endswith(("_out", "_left", "_up", "_counterclockwise")) else 1.0
        kind = name.split("_")[0]
        if kind == "zoom":
            move = replace(move, lens_log_zoom=sign * zoom)
        elif kind in ("push", "pull"):
            move = replace(move, dolly_log_zoom=move.dolly_log_zoom + sign * zoom)
        elif kind == "pan":
            move = replace(move, pan_x=sign * travel)
        elif kind == "tilt":
            move = replace(move, tilt_y=sign * travel)
        elif kind == "truck":
            move = replace(move, truck_x=sign * travel)
        elif kind == "crane":
            move = replace(move, crane_y=sign * travel)
        elif kind == "orbit":
            move = replace(
                move,
                orbit_x=sign * travel * ORBIT_SLIDE_SHARE,
                keystone=sign * amp.keystone * factor,
                dolly_log_zoom=move.dolly_log_zoom + ORBIT_PUSH_SHARE * zoom,
            )
        elif kind == "roll":
            move = replace(move, roll=sign * math.radians(amp.roll_degrees) * factor)
        elif kind == "handheld":
            sway, wobble = amp.shake * factor, math.radians(amp.shake_roll_degrees) * factor
            move = replace(move, shake=Shake.seeded(rng, sway, wobble, duration_s))
    if not names:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        drift = travel * DEFAULT_DRIFT_SHARE
        move = replace(
            move,
            dolly_log_zoom=zoom * DEFAULT_PUSH_SHARE,
            truck_x=drift * math.cos(angle),
            crane_y=drift * math.sin(angle),
        )
        names.append("push_in_drift")
    carries = any((move.dolly_log_zoom, move.truck_x, move.crane_y, move.orbit_x))
    return replace(move, name="+".join(names), parallax=amp.parallax if carries else 0.0)
