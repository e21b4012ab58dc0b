"""The CPU motion engine: camera grammar, geometry (no borders, no jitter), transitions, output file."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidgate.engines.base import RenderCancelled, RenderJob, RenderResult
from vidgate.engines.motion import MotionEngine, render
from vidgate.engines.motion.camera import find_moves, plan_camera, resolve_level
from vidgate.engines.motion.render import generate_frames, image_weights

SHORT = 144


def textured_image(
    width: int, height: int, seed: int = 0, tint: tuple[int, int, int] = (1, 1, 1)
) -> np.ndarray:
    """Smooth random texture with detail at several scales: phase correlation locks onto it."""
    rng = np.random.default_rng(seed)
    layers = []
    for cells in (4, 16, 64):
        coarse = rng.random((max(2, height * cells // width), cells, 3))
        layers.append(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC))
    texture = sum(layers) / len(layers)
    return np.clip(texture * 255 * np.array(tint), 0, 255).astype(np.uint8)


def make_job(tmp_path: Path, **overrides: object) -> RenderJob:
    fields: dict[str, object] = {
        "images": [textured_image(256, 144)],
        "prompt": "a quiet harbour at dawn",
        "duration": 1,
        "short_side": SHORT,
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


def frames_for(
    prompt: str,
    images: list[np.ndarray],
    amplitude: str = "auto",
    count: int = 24,
    seed: int = 1,
    size: tuple[int, int] = (256, 144),
) -> list[np.ndarray]:
    move = plan_camera(prompt, amplitude, np.random.default_rng(seed))
    return list(generate_frames(images, move, size[0], size[1], count, 24, lambda _: None, lambda: False))


# -- the output file -----------------------------------------------------------------------------


def test_renders_an_h264_mp4_with_exactly_fps_times_duration_frames(tmp_path: Path) -> None:
    progress, result = render_job(make_job(tmp_path, duration=2, prompt="zoom in on the boats"))

    assert result.path == tmp_path / "out.mp4"
    assert (result.width, result.height, result.frames, result.fps) == (256, 144, 48, 24)
    assert result.info["camera_move"] == "zoom_in"
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (256, 144)
        assert sum(1 for _ in container.decode(stream)) == 48
    data = result.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # fast start: the index comes first
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 48


def test_portrait_image_gives_portrait_output(tmp_path: Path) -> None:
    job = make_job(tmp_path, images=[textured_image(90, 160)], short_side=720)
    _, result = render_job(job)
    assert (result.width, result.height) == (720, 1280)
    with av.open(str(job.output_path)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (720, 1280)


def test_same_job_gives_a_byte_identical_file_and_the_seed_matters(tmp_path: Path) -> None:
    def digest(name: str, seed: int) -> str:
        _, result = render_job(make_job(tmp_path, output_path=tmp_path / name, seed=seed))
        return hashlib.sha256(result.path.read_bytes()).hexdigest()

    assert digest("a.mp4", 7) == digest("b.mp4", 7)
    assert digest("c.mp4", 8) != digest("a.mp4", 7)  # the default move drifts in a seeded direction


def test_cancellation_stops_the_render_and_leaves_no_file(tmp_path: Path) -> None:
    calls = 0

    def cancel_after_a_few_checks() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    with pytest.raises(RenderCancelled):
        MotionEngine().render(make_job(tmp_path, duration=2), lambda _: None, cancel_after_a_few_checks)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "overrides, message",
    [({"images": []}, "image"), ({"duration": 0}, "duration"), ({"duration": 11}, "duration")],
)
def test_invalid_jobs_fail_loudly(tmp_path: Path, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_job(make_job(tmp_path, **overrides))
    assert list(tmp_path.iterdir()) == []


# -- the camera grammar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, moves",
    [
        ("Zoom in on the lighthouse", ["zoom_in"]),
        ("the camera slowly pushes in", ["zoom_in"]),
        ("dolly in towards the door", ["zoom_in"]),
        ("zoom out to reveal the city", ["zoom_out"]),
        ("pull out from the face", ["zoom_out"]),
        ("dolly out", ["zoom_out"]),
        ("the camera pulls back", ["zoom_out"]),
        ("pan left across the valley", ["pan_left"]),
        ("panning to the right", ["pan_right"]),
        ("tilt up to the sky", ["tilt_up"]),
        ("camera tilts down to the river", ["tilt_down"]),
        ("orbit left around the statue", ["orbit_left"]),
        ("slow arc to the right", ["orbit_right"]),
        ("zoom in while panning left", ["zoom_in", "pan_left"]),
        ("a cat asleep in the sun", []),
        ("zoom out in the rain", ["zoom_out"]),  # "in" after "out" is not a zoom-in
    ],
)
def test_prompt_phrases_map_to_camera_moves(prompt: str, moves: list[str]) -> None:
    assert find_moves(prompt) == moves


def test_unnamed_moves_are_a_seeded_push_in_and_orbit_side_is_seeded() -> None:
    move = plan_camera("a cat asleep in the sun", "auto", np.random.default_rng(3))
    assert move.name == "push_in_drift" and move.log_zoom > 0
    assert move == plan_camera("a cat asleep in the sun", "auto", np.random.default_rng(3))
    orbit_sides = {plan_camera("orbit the tower", "auto", np.random.default_rng(s)).name for s in range(20)}
    assert orbit_sides == {"orbit_left", "orbit_right"}


def test_speed_words_choose_the_level_when_amplitude_is_auto() -> None:
    assert resolve_level("a slow pan left", "auto") == ("small", 1.0)
    assert resolve_level("a dramatic zoom in", "auto") == ("high", 1.0)
    assert resolve_level("pan left", "auto") == ("medium", 1.0)
    assert resolve_level("pan left", "large") == ("high", 1.0)  # the upstream spelling
    level, factor = resolve_level("a gentle pan left", "medium")
    assert level == "medium" and factor < 1.0
    with pytest.raises(ValueError):
        resolve_level("pan left", "huge")


def mean_motion(frames: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in itertools.pairwise(frames)]))


@pytest.mark.parametrize("prompt", ["pan right", "zoom in", "a quiet harbour"])
def test_amplitude_levels_are_clearly_ordered(prompt: str) -> None:
    image = [textured_image(256, 144, seed=5)]
    small, medium, high = (
        mean_motion(frames_for(prompt, image, level)) for level in ("small", "medium", "high")
    )
    assert small * 1.3 < medium and medium * 1.3 < high


# -- geometry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "zoom in",
        "zoom out",
        "pan left",
        "pan right",
        "tilt up",
        "tilt down",
        "orbit left",
        "orbit right",
        "zoom out and pan right",
        "a quiet harbour",
    ],
)
def test_the_view_never_leaves_the_image(prompt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A black constant border instead of edge replication: any view outside the image would show up.
    monkeypatch.setattr(render, "EDGE_MODE", cv2.BORDER_CONSTANT)
    wide, tall, square = (np.full((h, w, 3), 200, np.uint8) for w, h in ((400, 144), (120, 300), (200, 200)))
    frames = frames_for(prompt + " dramatic", [square, wide, tall], "high", count=36)
    for frame in frames:
        # Bilinear sampling may reach half a pixel past an edge when upsampling, never more.
        assert frame[1:-1, 1:-1].min() == 200
        assert frame.min() >= 100


def test_encoded_frames_of_a_bright_image_have_no_dark_edge(tmp_path: Path) -> None:
    job = make_job(
        tmp_path,
        images=[np.full((300, 400, 3), 200, np.uint8)],
        prompt="orbit right, fast",
        movement_amplitude="high",
    )
    render_job(job)
    with av.open(str(job.output_path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24").astype(int)
            edges = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
            assert edges.min() > 185


def test_pan_moves_smoothly_without_backward_steps() -> None:
    size, count = (320, 180), 48
    move = plan_camera("pan right", "medium", np.random.default_rng(0))
    frames = frames_for("pan right", [textured_image(480, 270, seed=9)], "medium", count=count, size=size)
    window = cv2.createHanningWindow(size, cv2.CV_64F)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in frames]
    shifts = np.array([cv2.phaseCorrelate(a, b, window)[0][0] for a, b in itertools.pairwise(grey)])
    expected = -np.diff([move.pose(i / (count - 1)).shift_x for i in range(count)]) * size[0]

    # The camera moves right, so the picture slides left: no step goes the other way.
    assert (shifts < 0.05).all()
    # Sub-pixel motion: a path rounded to whole pixels would step 0 or 1 px and jump by 1 px between
    # steps. The bounds leave room for phase correlation's own sub-pixel bias (about 0.15 px here).
    assert np.abs(np.diff(shifts)).max() < 0.5
    assert np.abs(shifts - expected).max() < 0.35


def test_warp_matrices_follow_the_camera_path_exactly() -> None:
    out_w, out_h, count = 320, 180, 48
    move = plan_camera("pan right", "medium", np.random.default_rng(0))
    poses = [move.pose(i / (count - 1)) for i in range(count)]
    fitted = render.fit_image(textured_image(320, 180), out_w, out_h, poses)
    matrices = [render.output_to_source(fitted, pose, out_w, out_h) for pose in poses]
    offsets = np.array([m[0, 2] for m in matrices])
    scales = np.array([m[0, 0] for m in matrices])
    # Constant scale during a pan; the offset moves by exactly the eased path, in source pixels.
    assert np.allclose(scales, scales[0], rtol=0, atol=1e-12)
    expected = np.diff([p.shift_x for p in poses]) * fitted.window_w * fitted.scale_x
    assert np.allclose(np.diff(offsets), expected, rtol=0, atol=1e-9)
    assert (np.diff(offsets) > 0).all()


# -- several images ------------------------------------------------------------------------------


def test_several_images_crossfade_in_order() -> None:
    red = textured_image(256, 144, seed=1, tint=(1.0, 0.2, 0.2))
    blue = textured_image(256, 144, seed=2, tint=(0.2, 0.2, 1.0))
    frames = frames_for("pan left", [red, blue], count=48)

    def redness(frame: np.ndarray) -> float:
        return float(frame[..., 0].mean() - frame[..., 2].mean())

    # Two images over 48 frames: the crossfade spans about frames 19..29, centred on frame 24.
    assert min(map(redness, frames[:18])) > 50
    assert max(map(redness, frames[30:])) < -50
    assert -50 < redness(frames[24]) < 50  # mid-crossfade: a blend of both
    fading = [redness(frame) for frame in frames[19:30]]
    assert all(a > b for a, b in itertools.pairwise(fading))


def test_crossfade_weights_sum_to_one_and_move_forward() -> None:
    for index in range(120):
        layers = image_weights(index, 120, 3, fade=12.0)
        assert abs(sum(weight for _, weight in layers) - 1.0) < 1e-9
    assert image_weights(0, 120, 3, 12.0) == [(0, 1.0)]
    assert image_weights(119, 120, 3, 12.0) == [(2, 1.0)]
    assert image_weights(40, 120, 3, 12.0) == [(0, 0.5), (1, 0.5)]


def test_multi_image_job_reports_its_transitions(tmp_path: Path) -> None:
    images = [textured_image(256, 144, seed=s) for s in range(3)] + [textured_image(100, 200, seed=4)]
    _, result = render_job(make_job(tmp_path, images=images, duration=2))
    assert result.info["images"] == 4 and 0 < result.info["crossfade_s"] <= 0.8
    assert (result.width, result.height) == (256, 144)
