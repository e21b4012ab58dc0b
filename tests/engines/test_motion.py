"""The CPU motion engine end to end: the output file, its report, determinism, streaming, failures."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from engines.motion_support import lake_scene, make_job, render_job, subject_image, textured_image
from vidgate.engines.base import RenderCancelled
from vidgate.engines.motion import MotionEngine
from vidgate.engines.motion.camera import plan_camera
from vidgate.engines.motion.frames import FramePlan, generate_frames


def test_renders_an_h264_mp4_with_exactly_fps_times_duration_frames(tmp_path: Path) -> None:
    progress, result = render_job(make_job(tmp_path, duration=2, prompt="zoom in on the boats"))

    assert result.path == tmp_path / "out.mp4"
    assert (result.width, result.height, result.frames, result.fps) == (256, 144, 48, 24)
    assert result.info == {
        "camera_move": "zoom_in",
        "movement_amplitude": "medium",
        "images": 1,
        "transition": "none",
        "transition_s": 0.0,
        "parallax": "off",
        "scene": [],  # nothing in the prompt moves
        "scene_unmatched": [],
    }
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


def test_report_names_the_transition_and_parallax(tmp_path: Path) -> None:
    images = [subject_image(256, 144, seed=1), textured_image(256, 144, seed=2), textured_image(100, 200, 4)]
    _, result = render_job(make_job(tmp_path, images=images, duration=2, prompt="truck left, morph"))
    assert result.info["images"] == 3 and (result.width, result.height) == (256, 144)
    # Three images in 2 s: each is on screen 16 frames, and a morph takes half of that. These three
    # photos do not match, so each cut of the morph asked for is played as a crossfade, and said so.
    assert result.info["transition"] == "crossfade"
    assert result.info["transition_s"] == pytest.approx(0.333, abs=1e-3)
    assert result.info["parallax"] == "partial"  # the subject splits, the textures fall back
    _, result = render_job(
        make_job(tmp_path, images=images[1:2], prompt="push in", movement_amplitude="high")
    )
    assert result.info["parallax"] == "fallback" and result.info["transition"] == "none"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "prompt, images",
    [
        ("a quiet harbour at dawn", [textured_image(256, 144)]),
        ("push in, handheld, morph", [subject_image(256, 144, 1), textured_image(256, 144, 2)]),
        (
            "orbit right while rolling clockwise, match cut",
            [textured_image(256, 144, 3), textured_image(200, 200)],
        ),
        ("static, rain and fog over a rippling lake, drifting clouds", [lake_scene(256, 144)[0]]),
        ("orbit left, candle flames glowing, snow", [subject_image(256, 144, 1)]),
    ],
    ids=["default", "parallax-morph", "orbit-roll-match", "scene-static", "scene-orbit"],
)
def test_same_job_gives_a_byte_identical_file(tmp_path: Path, prompt: str, images: list[np.ndarray]) -> None:
    def render(name: str, seed: int) -> str:
        job = make_job(tmp_path, images=images, prompt=prompt, output_path=tmp_path / name, seed=seed)
        return digest(render_job(job)[1].path)

    assert render("a.mp4", 7) == render("b.mp4", 7)


def test_the_seed_matters_where_the_prompt_leaves_room(tmp_path: Path) -> None:
    first = render_job(make_job(tmp_path, output_path=tmp_path / "a.mp4", seed=7))[1].path
    second = render_job(make_job(tmp_path, output_path=tmp_path / "c.mp4", seed=8))[1].path
    assert digest(first) != digest(second)  # the default move drifts in a seeded direction


@pytest.mark.parametrize("quality", ["fast", "balanced", "best"])
def test_every_quality_preset_renders(tmp_path: Path, quality: str) -> None:
    _, result = render_job(make_job(tmp_path, quality=quality, prompt="zoom out, dramatic"))
    assert result.frames == 24


def test_frames_stream_and_memory_does_not_grow_with_duration() -> None:
    def peak_while_consuming(count: int) -> int:
        move = plan_camera("push in while panning left", "medium", np.random.default_rng(0))
        plan = FramePlan([textured_image(640, 360)], move, 320, 180, count, 24)
        tracemalloc.start()
        for _ in generate_frames(plan, lambda _: None, lambda: False):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    short, long = peak_while_consuming(24), peak_while_consuming(240)
    assert long < 1.2 * short + 200_000


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
    [
        ({"images": []}, "image"),
        ({"duration": 0}, "duration"),
        ({"duration": 11}, "duration"),
        ({"quality": "ultra"}, "quality"),
        ({"images": [np.zeros((10, 10), np.uint8)]}, "RGB"),
    ],
)
def test_invalid_jobs_fail_loudly(tmp_path: Path, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_job(make_job(tmp_path, **overrides))
    assert list(tmp_path.iterdir()) == []
