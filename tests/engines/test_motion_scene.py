"""Scene motion: what the prompt names and the picture shows moves, and nothing else."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from engines.motion_support import lake_scene, make_job, render_job, subject_image, textured_image
from vidgate.engines.motion.camera import plan_camera
from vidgate.engines.motion.frames import FramePlan, RenderNotes, generate_frames
from vidgate.engines.motion.parallax import split_layers
from vidgate.engines.motion.regions import find_regions
from vidgate.engines.motion.scene import plan_scene
from vidgate.media.colour import yuv_to_rgb

SIZE = (320, 180)


def scene_frames(
    prompt: str,
    image: np.ndarray,
    amplitude: str = "medium",
    count: int = 24,
    seed: int = 1,
    notes: RenderNotes | None = None,
) -> list[np.ndarray]:
    move = plan_camera(prompt, amplitude, np.random.default_rng(seed), duration_s=count / 24)
    scene = plan_scene(prompt, move.level, seed)
    plan = FramePlan([image], move, SIZE[0], SIZE[1], count, 24, None, "fast", scene)
    return [yuv_to_rgb(frame.pixels) for frame in generate_frames(plan, lambda _: None, lambda: False, notes)]


def flow_magnitude(frames: list[np.ndarray]) -> np.ndarray:
    """Mean optical-flow magnitude (px per frame) at each pixel over the frames."""
    flow = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_MEDIUM)
    flow.setUseSpatialPropagation(False)
    total = np.zeros(frames[0].shape[:2], np.float64)
    for first, second in itertools.pairwise(frames):
        grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (first, second)]
        field = flow.calc(grey[0], grey[1], np.zeros((*grey[0].shape, 2), np.float32))
        total += np.hypot(field[..., 0], field[..., 1])
    return total / (len(frames) - 1)


@pytest.mark.parametrize(
    "prompt, effects",
    [
        ("a still camera on a rippling lake", ("ripple",)),
        ("clouds drifting over a wheat field", ("drift", "sway")),
        ("a candle flickers in the dark, smoke rising", ("flicker", "fog")),
        ("no rain, snow falling on the harbour", ("ripple", "snow")),  # refused words do not count
        ("neon lights glow in the rain", ("rain", "glow")),
        ("zoom in on a cat on a sofa", ()),
    ],
)
def test_the_prompt_names_the_effects(prompt: str, effects: tuple[str, ...]) -> None:
    scene = plan_scene(prompt, "medium", 1)
    assert (scene.effects if scene is not None else ()) == effects


def test_the_scene_is_seeded() -> None:
    def drawn(seed: int) -> list[np.ndarray]:
        scene = plan_scene("rain over a lake", "medium", seed)
        assert scene is not None
        return [scene.waves["ripple"].phases, scene.particles["rain"].x]

    assert all(np.array_equal(a, b) for a, b in zip(drawn(4), drawn(4), strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(drawn(4), drawn(5), strict=True))
    photo = lake_scene(*SIZE)[0]
    first, second = scene_frames("static, rippling lake", photo), scene_frames("static, rippling lake", photo)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_regions_follow_colour_and_position() -> None:
    photo = lake_scene(*SIZE)[0]
    regions = find_regions(photo, {"sky", "water", "fire", "frame"}, None)
    assert set(regions) == {"sky", "water", "frame"}  # no fire in a lake scene
    height = regions["water"].shape[0]
    assert (
        regions["water"][round(0.8 * height)].mean() > 0.9
        and regions["water"][: round(0.45 * height)].max() < 0.05
    )
    assert (
        regions["sky"][: round(0.25 * height)].mean() > 0.9
        and regions["sky"][round(0.5 * height) :].max() < 0.05
    )
    assert regions["frame"].min() == 1.0


def test_the_subject_is_left_out_of_its_surroundings_region() -> None:
    image = subject_image(*SIZE, seed=1)
    layers = split_layers(image)
    assert layers is not None
    everywhere = find_regions(image, {"frame", "foliage"}, layers.alpha)
    foliage = everywhere.get("foliage")
    if foliage is not None:  # the blue-green scene may read as foliage; the red disc never does
        centre = foliage.shape[0] // 2, foliage.shape[1] // 2
        assert foliage[centre] < 0.05
    assert everywhere["frame"].min() == 1.0  # weather falls in front of the subject too


def test_water_moves_more_with_the_amplitude_and_nothing_else_moves() -> None:
    """A still camera on a rippling lake: the optical flow inside the lake grows with the level and
    stays near zero above it."""
    photo, water = lake_scene(*SIZE)
    inside = water.copy()
    inside[: round(0.62 * SIZE[1])] = False  # away from the shore's soft edge
    outside = np.zeros_like(water)
    outside[: round(0.5 * SIZE[1])] = True
    measured = {}
    for level in ("small", "medium", "high"):
        magnitude = flow_magnitude(scene_frames("a still camera on a rippling lake", photo, level))
        measured[level] = (magnitude[inside].mean(), magnitude[outside].mean())
    assert measured["small"][0] < measured["medium"][0] < measured["high"][0]
    assert measured["small"][0] > 0.02
    for level, (moving, still) in measured.items():
        assert still < 0.01, level
        assert moving > 20 * still, level


def test_without_scene_words_nothing_in_a_still_shot_moves() -> None:
    frames = scene_frames("a static shot of a quiet landscape", lake_scene(*SIZE)[0], count=6)
    assert all(np.array_equal(frames[0], frame) for frame in frames[1:])


def test_the_scene_never_resets_over_ten_seconds() -> None:
    """No loop: the water never comes back to its first frame, and it never jumps (the largest
    frame-to-frame change stays close to the typical one)."""
    photo, water = lake_scene(*SIZE)
    frames = scene_frames("static, rippling lake", photo, count=240)
    lake = water.copy()
    lake[: round(0.62 * SIZE[1])] = False
    steps = [np.abs(a.astype(int) - b)[lake].mean() for a, b in itertools.pairwise(frames)]
    assert max(steps) < 2.0 * float(np.median(steps))
    first = frames[0].astype(int)
    returns = [np.abs(first - frame)[lake].mean() for frame in frames[24:]]
    assert min(returns) > 2.0 * float(np.median(steps))


def test_rain_falls_and_snow_drifts_down() -> None:
    photo = textured_image(*SIZE, seed=2, tint=(0.4, 0.4, 0.4))
    for prompt in ("static, heavy rain", "static, snow falling"):
        frames = scene_frames(prompt, photo, count=3)
        brighter = frames[0].astype(int).sum(axis=2) > photo.astype(int).sum(axis=2) + 30
        assert 0.002 < brighter.mean() < 0.2, prompt  # streaks or flakes, not a wash
        assert not np.array_equal(frames[0], frames[2]), prompt


def test_the_report_lists_effects_regions_and_what_found_no_region(tmp_path: Path) -> None:
    job = make_job(
        tmp_path,
        images=[lake_scene(256, 144)[0]],
        prompt="static shot of a rippling lake under drifting clouds, a campfire",
        movement_amplitude="high",
    )
    _, result = render_job(job)
    assert result.info["camera_move"] == "static"
    scene = result.info["scene"]
    assert isinstance(scene, list)
    assert [(entry["effect"], entry["region"]) for entry in scene] == [("ripple", "water"), ("drift", "sky")]
    assert all(0.05 < entry["coverage"] <= 1.0 for entry in scene)
    assert result.info["scene_unmatched"] == ["flicker"]  # no fire in the picture: nothing flickers


def test_waves_sum_the_same_on_the_fast_affine_path_as_point_by_point() -> None:
    scene = plan_scene("a rippling lake", "medium", 3)
    assert scene is not None
    waves = scene.waves["ripple"]
    look = np.array([[1.7, 0.2, 30.0], [-0.1, 1.6, 12.0], [0.0, 0.0, 1.0]])
    sines, cosines = waves.at(look, (40, 30), 2.5, 0.5)
    xs, ys = np.meshgrid(np.arange(40.0), np.arange(30.0))
    px, py = look[0, 0] * xs + look[0, 1] * ys + look[0, 2], look[1, 0] * xs + look[1, 1] * ys + look[1, 2]
    phases = [
        (k / 0.5) * (d[0] * px + d[1] * py) - w * 2.5 + phi
        for d, k, w, phi in zip(waves.directions, waves.wavenumbers, waves.speeds, waves.phases, strict=True)
    ]
    assert np.allclose(sines, np.mean([np.sin(p) for p in phases], axis=0), atol=1e-5)
    assert np.allclose(cosines, np.mean([np.cos(p) for p in phases], axis=0), atol=1e-5)
    # A perspective look (an orbit) takes the point-by-point path: a hair of keystone changes little.
    tilted = look.copy()
    tilted[2, 0] = 1e-9
    assert np.allclose(waves.at(tilted, (40, 30), 2.5, 0.5)[0], sines, atol=1e-4)


def test_the_sky_drifts_one_way_and_the_hills_stay() -> None:
    photo = lake_scene(*SIZE)[0]
    frames = scene_frames("a static shot, clouds drifting", photo, count=48)
    flow = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_MEDIUM)
    flow.setUseSpatialPropagation(False)

    def shift(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (first, second)]
        return flow.calc(grey[0], grey[1], np.zeros((*grey[0].shape, 2), np.float32))[..., 0]

    sky, hills = (slice(5, 45), slice(20, 300)), (slice(72, 92), slice(20, 300))
    halves = [shift(frames[0], frames[23]), shift(frames[23], frames[47])]
    drifts = [float(half[sky].mean()) for half in halves]
    assert all(abs(drift) > 0.3 for drift in drifts) and drifts[0] * drifts[1] > 0  # steady, one way
    assert all(abs(float(half[hills].mean())) < 0.05 for half in halves)


def test_the_drifting_sky_never_drags_a_tower_into_it() -> None:
    """Ten seconds of wind at `high` carry the sky ~40 px at 720p; beside a tower standing in it, the
    sky stops at the tower rather than sampling it."""
    photo = lake_scene(*SIZE)[0]
    photo[:100, 150:170] = (200, 30, 30)  # a red tower through the sky
    last = scene_frames("static shot, clouds drifting", photo, "high", count=240)[-1].astype(int)
    sky = last[5:55]
    red = (sky[..., 0] - sky[..., 2]) > 60
    assert red[:, 150:170].all()  # the tower stays
    assert not red[:, :148].any() and not red[:, 172:].any()  # and is not smeared into the sky
