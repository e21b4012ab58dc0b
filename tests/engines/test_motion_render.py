"""Geometry and resampling: no border ever shows, the path is followed exactly and smoothly, the
amplitude levels are apart, and shrinking views do not alias."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engines.motion_support import (
    frames_for,
    make_job,
    mean_motion,
    render_job,
    render_move,
    subject_image,
    textured_image,
)
from vidgate.engines.motion import render
from vidgate.engines.motion.camera import CameraMove, ease_in_out, plan_camera
from vidgate.engines.motion.frames import RenderNotes
from vidgate.engines.motion.parallax import split_layers
from vidgate.engines.motion.tracking import jitter, track_camera
from vidgate.media.colour import rgb_to_yuv

EVERY_MOVE = [
    "zoom in",
    "zoom out",
    "push in",
    "pull out",
    "pan left",
    "pan right",
    "tilt up",
    "tilt down",
    "truck left",
    "truck right",
    "crane up",
    "crane down",
    "orbit left",
    "orbit right",
    "roll clockwise",
    "roll counter-clockwise",
    "handheld",
    "static",
    "zoom out while trucking right, crane up, roll clockwise, handheld",
    "a quiet harbour",
]


@pytest.mark.parametrize("prompt", EVERY_MOVE)
def test_the_view_never_leaves_the_image(prompt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A constant border of zeros instead of edge replication: any view outside the image would show
    # up. Checked on the engine's own frames, in YUV: 0 is below any picture's luma (16..235).
    monkeypatch.setattr(render, "EDGE_MODE", cv2.BORDER_CONSTANT)
    wide, tall, square = (np.full((h, w, 3), 200, np.uint8) for w, h in ((400, 144), (120, 300), (200, 200)))
    grey_luma = int(rgb_to_yuv(square[:1, :1])[0, 0, 0])
    images = [square, wide, tall]
    for frame in frames_for(prompt + " dramatic", images, "high", count=36, quality="fast", yuv=True):
        luma = frame[..., 0]
        # Bilinear sampling may reach half a pixel past an edge when upsampling, never more.
        assert luma[1:-1, 1:-1].min() == grey_luma
        assert luma.min() >= grey_luma // 2


@pytest.mark.parametrize(
    "prompt",
    [
        "truck left",
        "push in",
        "orbit right",
        "crane down",
        "crane up",
        "pull out",
        "push in while craning up",
        "truck right and crane down, handheld",
        "a quiet harbour",
    ],
)
def test_parallax_layers_never_reveal_a_border_either(prompt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both layers, the subject included: its plinth is cut by the photo's bottom edge, and the
    # subject moves further than the path, so its view must be held back at that edge (the bottom
    # rows would otherwise be streaks of the plinth's last row; zeros here).
    monkeypatch.setattr(render, "EDGE_MODE", cv2.BORDER_CONSTANT)
    image = subject_image(320, 180, seed=1)
    image[:2], image[-2:], image[:, :2], image[:, -2:] = 255, 255, 255, 255  # a white frame round the photo
    layers = split_layers(image)
    assert layers is not None and layers.bounds[3] == math.inf  # the subject touches the bottom edge
    notes = RenderNotes()
    frames = frames_for(prompt + ", dramatic", [image], "high", count=24, notes=notes, yuv=True)
    assert notes.parallax == ["on"]
    for frame in frames:
        # The photo's own white edge may show at the rim; zeros (outside the photo) never: a
        # picture's luma is 16 or more.
        assert frame[1:-1, 1:-1, 0].min() >= 16


@pytest.mark.parametrize("quality", ["balanced", "best"])
def test_shrinking_paths_never_reveal_a_border(quality: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "EDGE_MODE", cv2.BORDER_CONSTANT)
    big = np.full((600, 1000, 3), 200, np.uint8)  # larger than the output: every frame shrinks it
    grey_luma = int(rgb_to_yuv(big[:1, :1])[0, 0, 0])
    for prompt in ("zoom out, dramatic", "roll clockwise while panning left, dramatic"):
        for frame in frames_for(prompt, [big], "high", count=12, quality=quality, yuv=True):
            luma = frame[..., 0]
            assert luma[1:-1, 1:-1].min() >= grey_luma - 1 and luma.min() >= grey_luma // 2


def test_encoded_frames_of_a_bright_image_have_no_dark_edge(tmp_path: Path) -> None:
    job = make_job(
        tmp_path,
        images=[np.full((300, 400, 3), 200, np.uint8)],
        prompt="orbit right while rolling clockwise, fast",
        movement_amplitude="high",
    )
    render_job(job)
    with av.open(str(job.output_path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24").astype(int)
            edges = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
            assert edges.min() > 185


@pytest.mark.parametrize(
    "prompt",
    [
        "pan right",
        "zoom in",
        "push in",
        "truck left",
        "crane up",
        "orbit left",
        "roll clockwise",
        "handheld",
        "a quiet harbour",
    ],
)
def test_amplitude_levels_are_clearly_ordered(prompt: str) -> None:
    image = [textured_image(256, 144, seed=5)]
    small, medium, high = (
        mean_motion(frames_for(prompt, image, level, quality="fast")) for level in ("small", "medium", "high")
    )
    assert small * 1.3 < medium and medium * 1.3 < high


@pytest.mark.parametrize("prompt", ["zoom in", "zoom out", "pan right", "push in", "crane down"])
def test_tracked_camera_path_has_no_jitter(prompt: str) -> None:
    """The benchmark's jitter metric, on raw frames: no step backwards, no jerk beyond the easing."""
    size, count = (320, 180), 48
    source = textured_image(480, 270, seed=9)
    move = plan_camera(prompt, "medium", np.random.default_rng(0))
    poses = [move.pose(i / (count - 1)) for i in range(count)]
    fitted = render.fit_image(source, *size, poses)  # the same fit the frame loop makes
    quads = [render.view_quad(fitted, pose) for pose in poses]
    # Source pixel indices of the view: centres of the corner pixels, as the tracker reports them.
    expected_width = np.array([quad[1, 0] - quad[0, 0] for quad in quads])
    expected_x = np.array([quad[:, 0].mean() - 0.5 for quad in quads])
    frames = render_move(move, [source], count, size, quality="balanced")

    track = track_camera(
        frames, source, first_view=(expected_x[0], quads[0][:, 1].mean() - 0.5, expected_width[0])
    )
    measured = jitter(track)

    assert measured.backward_steps == 0
    # The eased path itself accelerates a little; rendering must add next to nothing on top.
    intended = max(float(np.abs(np.diff(series, 2)).max()) for series in (expected_width, expected_x))
    assert measured.max_second_difference < intended + 0.05
    assert np.abs(track.width - expected_width).max() < 0.05
    assert np.abs(track.centre_x - expected_x).max() < 0.05


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
    expected = np.diff([p.shift_x for p in poses]) * fitted.window_w * fitted.levels[0].scale_x
    assert np.allclose(np.diff(offsets), expected, rtol=0, atol=1e-9)
    assert (np.diff(offsets) > 0).all()


def test_a_rolling_camera_turns_the_picture_the_other_way() -> None:
    move = plan_camera("roll clockwise", "high", np.random.default_rng(0))
    fitted = render.fit_image(textured_image(320, 180), 320, 180, [move.pose(0.0), move.pose(1.0)])
    matrix = render.output_to_source(fitted, move.pose(1.0), 320, 180)
    # The output's x axis runs clockwise across the source (y down), so the picture turns counter-clockwise.
    turned = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
    assert turned == pytest.approx(6.0, abs=1e-9)


def test_the_first_view_uses_the_whole_picture_for_a_push_in() -> None:
    # Fitting uses as much of the photo as the path allows: a zoom-in starts at the full cover view.
    move = plan_camera("zoom in", "high", np.random.default_rng(0))
    fitted = render.fit_image(textured_image(320, 180), 320, 180, [move.pose(i / 9) for i in range(10)])
    assert render.view_quad(fitted, move.pose(0.0)) == pytest.approx(
        np.array([[0, 0], [320, 0], [320, 180], [0, 180]]), abs=1e-6
    )


def test_shrinking_views_are_filtered_unless_fast() -> None:
    """Stripes too fine for the output (0.42 cycles/px, 0.63 after a 1.5x shrink) must fade to grey;
    plain warping folds them into coarse false stripes (moiré) instead."""
    stripes = 128 + 100 * np.sin(2 * np.pi * 0.42 * np.arange(480))
    image = np.dstack([np.tile(stripes, (270, 1))] * 3).astype(np.uint8)
    move = CameraMove("zoom_out", "high", lens_log_zoom=-0.4)  # the last frame shows all 480 px in 320

    def moire(quality: str) -> float:
        return float(render_move(move, [image], 8, (320, 180), quality=quality)[-1].std())

    fast, balanced, best = moire("fast"), moire("balanced"), moire("best")
    assert fast > 30  # the price of speed: documented in docs/motion.md
    assert balanced < 0.5 * fast and best < 0.8 * fast


def test_pyramid_blend_has_no_step_in_sharpness_through_scale_one() -> None:
    # A zoom passing through 1:1 changes the resampling path; neighbouring frames must stay alike.
    move = CameraMove("zoom_in", "medium", lens_log_zoom=0.4)
    image = cv2.resize(textured_image(300, 170, seed=2), (320, 180))  # 1:1 at about a third of the way
    frames = render_move(move, [image], 60, (256, 144), quality="balanced")
    steps = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(frames)]
    assert max(steps) < 2.5 * float(np.median(steps))


def test_easing_reaches_the_end_exactly() -> None:
    move = plan_camera("zoom in", "medium", np.random.default_rng(0))
    assert move.pose(1.0).zoom == pytest.approx(1.15) and ease_in_out(1.0) == 1.0
