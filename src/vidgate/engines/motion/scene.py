"""Scene motion, a "living photo": what the prompt names and the picture shows moves, on the CPU.

`plan_scene(prompt, level, seed)` reads the effects from the prompt's words (docs/motion.md lists
them); `SceneMotion.prepare(picture, alpha)` finds each effect's region in one image (colour,
texture and position; the parallax subject is left out); `PreparedScene.apply(frame, matrix, t)`
moves one rendered frame. Every effect is a sum of travelling waves or seeded particles, a smooth
function of time that never resets, evaluated where each output pixel looks in the picture, so the
motion stays on the scene under any camera move. Deterministic for a seed.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from vidgate.engines.motion.camera import Level
from vidgate.engines.motion.grammar import normalise, refused
from vidgate.engines.motion.regions import GRID_STEP, find_regions

# Random stream of the scene's waves and particles, apart from the camera's (0) and the transition's (1).
SCENE_STREAM = 2
# How far the scene moves at each level, against `medium`.
LEVEL_SCALE: dict[str, float] = {"small": 0.5, "medium": 1.0, "high": 1.7}

FOG_COLOUR = (200, 128, 128, 255)  # light grey, in the frames' YUVA
# How fast the sky drifts at `medium`: a share of the frame's width per second.
DRIFT_SPEED = 0.0025
# Effect -> (region, the words that ask for it). A word counts unless refused ("no rain").
VOCABULARY: dict[str, tuple[str, str]] = {
    "ripple": (
        "water",
        r"water|lake|sea|ocean|river|pond|waves?|ripples?|rippling|shimmering|stream|reflections?|bay|harbou?r",
    ),
    "drift": ("sky", r"clouds?|cloudy|sky|skies|drifting clouds"),
    "sway": ("foliage", r"grass|leaves|leaf|trees?|foliage|wheat|meadow|branches|swaying|sways?|breeze|wind"),
    "flicker": ("fire", r"fire|flames?|candles?|candlelight|campfire|bonfire|fireplace|torch(?:es)?|embers"),
    "fog": ("frame", r"fog|foggy|mist|misty|haze|hazy|smoke|smoky"),
    "rain": ("frame", r"rain|raining|rainy|drizzle|downpour|rainfall"),
    "snow": ("frame", r"snow|snowing|snowy|snowfall|snowflakes?|blizzard"),
    "glow": (
        "highlights",
        r"glints?|glinting|sparkles?|sparkling|glitter(?:ing)?|glow(?:s|ing)?|neon|twinkl(?:e|es|ing)",
    ),
}


@dataclass(frozen=True)
class Waves:
    """A sum of travelling waves: direction (unit vectors), wavenumber (rad per picture pixel),
    angular speed (rad per second) and phase, one entry per wave."""

    directions: np.ndarray  # (n, 2)
    wavenumbers: np.ndarray  # (n,)
    speeds: np.ndarray  # (n,)
    phases: np.ndarray  # (n,)

    @staticmethod
    def draw(
        rng: np.random.Generator,
        count: int,
        angle: tuple[float, float],
        wavelength: tuple[float, float],
        hertz: tuple[float, float],
    ) -> Waves:
        angles = rng.uniform(*angle, count)
        return Waves(
            np.stack([np.cos(angles), np.sin(angles)], axis=1),
            2.0 * math.pi / rng.uniform(*wavelength, count),
            2.0 * math.pi * rng.uniform(*hertz, count),
            rng.uniform(0.0, 2.0 * math.pi, count),
        )

    def at(
        self, look: np.ndarray, size: tuple[int, int], t: float, scale: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sum of sines, sum of cosines) / count over a grid of `size` (w, h) whose point (i, j) looks
        at picture pixel look @ (i, j, 1), at time t; wavelengths x `scale`.

        An affine look (every move but an orbit) makes each wave's phase a + b i + c j: its sine is
        then built from sines of a row and a column (sin(A + B) = sin A cos B + cos A sin B), not
        evaluated at every point of the grid."""
        width, height = size
        columns, rows = np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64)
        sines, cosines = np.zeros((height, width)), np.zeros((height, width))
        affine = not look[2, 0] and not look[2, 1]
        if not affine:
            xs, ys = np.meshgrid(columns, rows)
            depth = look[2, 0] * xs + look[2, 1] * ys + look[2, 2]
            px = (look[0, 0] * xs + look[0, 1] * ys + look[0, 2]) / depth
            py = (look[1, 0] * xs + look[1, 1] * ys + look[1, 2]) / depth
        for (dx, dy), k, w, phi in zip(
            self.directions, self.wavenumbers, self.speeds, self.phases, strict=True
        ):
            k = k / scale
            if affine:
                along = k * (dx * look[0, 0] + dy * look[1, 0]) * columns
                down = k * (dx * look[0, 1] + dy * look[1, 1]) * rows + k * (
                    dx * look[0, 2] + dy * look[1, 2]
                )
                down += phi - w * t
                sin_a, cos_a, sin_b, cos_b = np.sin(along), np.cos(along), np.sin(down), np.cos(down)
                sines += np.outer(cos_b, sin_a) + np.outer(sin_b, cos_a)
                cosines += np.outer(cos_b, cos_a) - np.outer(sin_b, sin_a)
            else:
                phase = k * (dx * px + dy * py) - w * t + phi
                sines += np.sin(phase)
                cosines += np.cos(phase)
        norm = 1.0 / len(self.phases)
        return (sines * norm).astype(np.float32), (cosines * norm).astype(np.float32)


@dataclass(frozen=True)
class Particles:
    """Rain or snow: seeded positions (share of the frame), depth (0.3 far .. 1 near) and phase."""

    x: np.ndarray
    y: np.ndarray
    depth: np.ndarray
    phase: np.ndarray


@dataclass(frozen=True)
class SceneMotion:
    """The effects a prompt asks for, with their seeded waves and particles."""

    effects: tuple[str, ...]
    strength: float  # LEVEL_SCALE of the amplitude level
    waves: dict[str, Waves]
    particles: dict[str, Particles]
    wind: float = 1.0  # the sky's drift: +1 towards the right, -1 towards the left

    def prepare(self, picture: np.ndarray, alpha: np.ndarray | None) -> PreparedScene:
        """The effects' regions in one picture (RGB or RGBA; `alpha`, the parallax subject, is left out)."""
        regions = find_regions(picture, {VOCABULARY[effect][0] for effect in self.effects}, alpha)
        scale = min(picture.shape[:2]) / 720.0  # wavelengths are drawn for a 720-pixel short side
        present = tuple(effect for effect in self.effects if VOCABULARY[effect][0] in regions)
        return PreparedScene(self, present, regions, picture.shape[1], picture.shape[0], scale)


def plan_scene(prompt: str, level: Level, seed: int) -> SceneMotion | None:
    """The scene motion a prompt asks for, or None when it names nothing that moves."""
    text = normalise(prompt)
    effects = tuple(effect for effect, (_, words) in VOCABULARY.items() if _asks_for(text, words))
    if not effects:
        return None
    rng = np.random.default_rng([seed, SCENE_STREAM])
    waves, particles = {}, {}
    for effect in effects:  # drawn in VOCABULARY order: one effect's draws never shift another's
        if effect == "ripple":  # wave fronts mostly across the picture, as water seen at a low angle
            waves[effect] = Waves.draw(rng, 5, (1.2, 1.95), (18.0, 60.0), (0.35, 1.1))
        elif effect == "drift":
            waves[effect] = Waves.draw(rng, 3, (0.0, 2.0 * math.pi), (300.0, 900.0), (0.02, 0.06))
        elif effect == "sway":
            waves[effect] = Waves.draw(rng, 3, (-0.5, 0.5), (40.0, 140.0), (0.25, 0.8))
        elif effect == "flicker":
            waves[effect] = Waves.draw(rng, 4, (1.3, 1.85), (30.0, 90.0), (2.0, 7.0))
        elif effect in ("fog", "glow"):
            waves[effect] = Waves.draw(rng, 4, (-0.4, 0.4), (200.0, 600.0), (0.05, 0.15))
        else:  # rain, snow
            count = 420 if effect == "rain" else 260
            particles[effect] = Particles(
                rng.random(count), rng.random(count), rng.uniform(0.3, 1.0, count), rng.random(count)
            )
    wind = 1.0 if rng.random() < 0.5 else -1.0  # drawn last: adding it shifted no other draw
    return SceneMotion(effects, LEVEL_SCALE[level], waves, particles, wind)


def _asks_for(text: str, words: str) -> bool:
    return any(not refused(text, match) for match in re.finditer(rf"\b(?:{words})\b", text))


@dataclass(frozen=True)
class PreparedScene:
    motion: SceneMotion
    effects: tuple[str, ...]  # those whose region this picture has
    regions: dict[str, np.ndarray]
    width: int  # the picture's size: regions cover it at 1 / GRID_STEP
    height: int
    scale: float  # the picture's short side over 720
    scratch: dict[str, object] = field(default_factory=dict, compare=False)  # buffers reused per frame

    def coverage(self, effect: str) -> float:
        return float(self.regions[VOCABULARY[effect][0]].mean())

    def apply(self, frame: np.ndarray, matrix: np.ndarray, t: float) -> np.ndarray:
        """`frame` (YUVA, output size) with the scene moved to time `t` (s); `matrix` maps output pixel
        indices to picture pixel indices, as for the frame's warp."""
        if not self.effects:
            return frame
        out_h, out_w = frame.shape[:2]
        grid_w, grid_h = max(2, out_w // GRID_STEP), max(2, out_h // GRID_STEP)
        # Where each coarse output point looks in the picture, and in the regions' grid.
        to_grid = np.diag([GRID_STEP, GRID_STEP, 1.0])
        look = matrix @ to_grid
        to_regions = np.diag([1.0 / GRID_STEP, 1.0 / GRID_STEP, 1.0]) @ look
        seen = {name: _warp_region(mask, to_regions, (grid_w, grid_h)) for name, mask in self.regions.items()}
        shift_x = np.zeros((grid_h, grid_w), np.float32)
        shift_y = np.zeros((grid_h, grid_w), np.float32)
        luma = np.zeros((grid_h, grid_w), np.float32)  # added to Y
        haze = np.zeros((grid_h, grid_w), np.float32)  # blend towards fog grey
        strength = self.motion.strength
        reach = strength * min(out_w, out_h) / 720.0  # displacements are drawn for a 720p frame
        for effect in self.effects:
            region = seen[VOCABULARY[effect][0]]
            if effect in self.motion.particles:
                continue  # drawn on the full frame below
            sines, cosines = self.motion.waves[effect].at(look, (grid_w, grid_h), t, self.scale)
            if effect == "ripple":
                shift_y += 1.6 * reach * sines * region
                shift_x += 0.5 * reach * cosines * region
                luma += 14.0 * strength * cosines * region  # glints on the wave slopes
            elif effect == "drift":
                # A steady wind: the sky travels one way at DRIFT_SPEED (a shot is at most 10 s, so
                # it goes at most 2.5 % of the width at `medium`), as clouds cross it.
                travel = self.motion.wind * DRIFT_SPEED * out_w * strength * t
                # Never sample past the sky's edge along the wind: the tower or the ridge beside it
                # would be dragged into the sky.
                room = _room(region > 0.5, travel) * GRID_STEP
                carried = np.sign(travel) * np.minimum(abs(travel), room)
                shift_x += (carried + 2.0 * reach * sines) * region
                shift_y += 0.8 * reach * cosines * region
            elif effect == "sway":
                shift_x += 1.4 * reach * sines * region
            elif effect == "flicker":
                luma += 22.0 * strength * sines * region
                shift_y += 0.6 * reach * (cosines + 1.0) * region
            elif effect == "fog":
                haze += (0.3 + 0.22 * sines) * min(1.0, 0.6 * strength) * region
            elif effect == "glow":
                luma += 26.0 * strength * (0.5 + 0.5 * sines) * region
        frame = (
            _displace(frame, shift_x, shift_y, self.scratch)
            if shift_x.any() or shift_y.any()
            else frame.copy()
        )
        if luma.any() or haze.any():
            _shade(frame, luma, haze)
        for effect in ("rain", "snow"):
            if effect in self.effects:
                _draw_particles(frame, self.motion.particles[effect], effect, t, strength)
        return frame


def _room(inside: np.ndarray, direction: float) -> np.ndarray:
    """For each point, how many grid steps of `inside` lie beyond it along its row, towards + x when
    `direction` > 0, else towards - x (0 outside). The frame's own edge does not count: past it the
    frame is mirrored, which for a sky is more sky."""
    width = inside.shape[1]
    columns = np.arange(width)
    far = 4 * width  # further than any drift
    if direction > 0:
        edge = np.minimum.accumulate(np.where(inside, far, columns)[:, ::-1], axis=1)[:, ::-1]
        room = edge - columns - 1
    else:
        edge = np.maximum.accumulate(np.where(inside, -far, columns), axis=1)
        room = columns - edge - 1
    return np.where(inside, np.maximum(room, 0), 0).astype(np.float32)


def _warp_region(mask: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if not matrix[2, 0] and not matrix[2, 1]:
        return cv2.warpAffine(mask, matrix[:2], size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpPerspective(mask, matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def _displace(
    frame: np.ndarray, shift_x: np.ndarray, shift_y: np.ndarray, scratch: dict[str, object]
) -> np.ndarray:
    """Each output pixel samples the frame this far away (coarse shifts scaled up smoothly), over the
    bands of rows that move only (the sky and the lake, not the hills between). Full-frame
    temporaries are avoided: fresh pages cost the kernel more than the arithmetic (page faults)."""
    height, width = frame.shape[:2]
    moved = frame.copy()
    columns, rows = _identity(width, height)
    if scratch.get("size") != (width, height):  # remap's maps, reused frame after frame
        scratch["size"] = (width, height)
        scratch["maps"] = (np.empty((height, width), np.float32), np.empty((height, width), np.float32))
    maps: tuple[np.ndarray, np.ndarray] = scratch["maps"]  # type: ignore[assignment]
    for top, bottom in _bands(np.abs(shift_x) + np.abs(shift_y), height):
        map_x = _scaled(shift_x, width, height, top, bottom, maps[0][top:bottom])
        map_y = _scaled(shift_y, width, height, top, bottom, maps[1][top:bottom])
        cv2.add(map_x, columns[top:bottom], dst=map_x)
        cv2.add(map_y, rows[top:bottom], dst=map_y)
        cv2.remap(
            frame, map_x, map_y, cv2.INTER_LINEAR, dst=moved[top:bottom], borderMode=cv2.BORDER_REFLECT_101
        )
    return moved


def _scaled(
    coarse: np.ndarray, width: int, height: int, top: int, bottom: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Rows top..bottom of `coarse` scaled up bilinearly to (width, height), as cv2.resize would give
    them, without making the rest."""
    scale_x, scale_y = coarse.shape[1] / width, coarse.shape[0] / height
    matrix = np.array([[scale_x, 0.0, 0.5 * scale_x - 0.5], [0.0, scale_y, (top + 0.5) * scale_y - 0.5]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(
        coarse, matrix, (width, bottom - top), dst=out, flags=flags, borderMode=cv2.BORDER_REPLICATE
    )


@functools.lru_cache(maxsize=2)
def _fog(width: int, height: int) -> np.ndarray:
    fog = np.empty((height, width, 4), np.uint8)
    fog[:] = FOG_COLOUR
    fog.flags.writeable = False
    return fog


@functools.lru_cache(maxsize=2)
def _identity(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's own column and row, as remap's maps (kept for the frame size: 7 MB at 720p)."""
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    columns.flags.writeable = rows.flags.writeable = False
    return columns, rows


def _bands(field: np.ndarray, height: int) -> list[tuple[int, int]]:
    """Frame rows (top, bottom) under each run of coarse rows where `field` is not negligible."""
    active = np.abs(field).max(axis=1) > 0.02
    edges = np.flatnonzero(np.diff(np.concatenate([[False], active, [False]]).astype(np.int8)))
    bands: list[tuple[int, int]] = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        top = max(0, int(start) * GRID_STEP - 2 * GRID_STEP)
        bottom = min(height, int(stop) * GRID_STEP + 2 * GRID_STEP)
        if bands and top <= bands[-1][1]:
            top = bands.pop()[0]
        bands.append((top, bottom))
    return bands


def _shade(frame: np.ndarray, luma: np.ndarray, haze: np.ndarray) -> None:
    """Blend towards a light grey by `haze` and add `luma` to Y, in place (coarse planes scaled up),
    only over the rows either touches."""
    height, width = frame.shape[:2]
    bands = _bands(np.abs(luma) + haze, height)
    if not bands:
        return
    top, bottom = bands[0][0], bands[-1][1]
    part = frame[top:bottom]
    if haze.any():
        weight = _scaled(haze, width, height, top, bottom)
        cv2.blendLinear(_fog(width, height)[top:bottom], part, weight, 1.0 - weight, dst=part)
    if luma.any():
        lift = _scaled(luma, width, height, top, bottom)
        part[..., 0] = cv2.add(cv2.extractChannel(part, 0), lift, dtype=cv2.CV_8U)  # saturating


def _draw_particles(frame: np.ndarray, particles: Particles, kind: str, t: float, strength: float) -> None:
    """Falling rain streaks or snowflakes, nearer ones larger and faster, in place."""
    height, width = frame.shape[:2]
    overlay = np.zeros((height, width), np.uint8)
    shift = 4  # cv2 drawing takes fixed-point coordinates: 1/16 px, so the motion stays smooth
    one = 1 << shift
    if kind == "rain":
        speed = (0.9 + 0.9 * particles.depth) * (0.6 + 0.4 * strength)  # frame heights per second
        y = np.mod(particles.y + speed * t, 1.0) * (height * 1.1) - 0.05 * height
        x = np.mod(particles.x + 0.08 * speed * t, 1.0) * width
        length = (0.02 + 0.05 * particles.depth) * height
        ends = np.stack([x, y, x + 0.08 * length, y + length], axis=1)
        shades = np.round(40 + 80 * particles.depth).astype(int).tolist()
        for (x0, y0, x1, y1), shade in zip(np.round(ends * one).astype(int).tolist(), shades, strict=True):
            cv2.line(overlay, (x0, y0), (x1, y1), shade, 1, cv2.LINE_AA, shift)
    else:
        speed = (0.05 + 0.12 * particles.depth) * (0.6 + 0.4 * strength)
        y = np.mod(particles.y + speed * t, 1.0) * (height * 1.05) - 0.025 * height
        sway = 0.01 * width * np.sin(2.0 * math.pi * (0.3 * t + particles.phase))
        x = np.mod(particles.x * width + sway, width)
        radius = np.maximum(one, np.round((0.5 + 2.5 * particles.depth * height / 720.0) * one))
        flakes = np.round(np.stack([x * one, y * one, radius], axis=1)).astype(int).tolist()
        shades = np.round(90 + 130 * particles.depth).astype(int).tolist()
        for (x0, y0, size), shade in zip(flakes, shades, strict=True):
            cv2.circle(overlay, (x0, y0), size, shade, -1, cv2.LINE_AA, shift)
    frame[..., 0] = cv2.add(cv2.extractChannel(frame, 0), overlay)  # saturating
