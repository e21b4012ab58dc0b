"""Parallax (the 2.5D split) and the transitions between several images."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest

from engines.motion_support import frames_for, render_move, subject_image, subject_shape, textured_image
from vidgate.engines.motion.camera import CameraMove, plan_camera
from vidgate.engines.motion.frames import MIN_MORPH_MATCH, CameraSchedule, RenderNotes
from vidgate.engines.motion.parallax import split_layers
from vidgate.engines.motion.transitions import (
    TRANSITIONS,
    Shot,
    Timeline,
    choose_transition,
    correlation,
    morph_flow,
)

# -- parallax --------------------------------------------------------------------------------------


def test_a_clear_subject_is_split_once_deterministically() -> None:
    image = subject_image(320, 180, seed=1)
    first, second = split_layers(image), split_layers(image)
    assert first is not None and second is not None
    assert np.array_equal(first.alpha, second.alpha) and np.array_equal(first.background, second.background)
    assert 0.05 < first.coverage < 0.7
    # The mask sits on the disc (centre) and not on the scene (corner); the plinth reaches the frame's
    # bottom edge, so the subject is unbounded there.
    assert first.alpha[90, 160] == 1.0 and first.alpha[10, 10] == 0.0
    assert first.bounds[3] == float("inf")
    # The background has the subject painted out: no red left where the disc was.
    red = first.background[90, 160].astype(int)
    assert red[0] - red[2] < 60


def test_a_wide_photo_gets_as_fine_an_outline_as_a_4_3_one() -> None:
    """The mask is computed on a copy of a fixed number of pixels, not a fixed long side: a 4:1
    panorama is not squeezed to 96 px tall (which rounds its subject's outline off by pixels)."""

    def outline_error(width: int, height: int) -> float:
        """Pixels wrongly in or out of the subject (alpha 0.5 as the cut), per pixel of its outline."""
        layers = split_layers(subject_image(width, height, seed=1))
        assert layers is not None
        truth = subject_shape(width, height)
        outline = cv2.morphologyEx(truth.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        return float(((layers.alpha >= 0.5) != truth).sum() / (outline.sum() / 2))

    four_by_three, four_by_one = outline_error(213, 160), outline_error(640, 160)
    assert four_by_three < 0.25
    assert four_by_one < 0.25  # 0.7 px with a copy 384 px on its long side


@pytest.mark.parametrize(
    "image",
    [
        np.full((180, 320, 3), 128, np.uint8),  # nothing to separate
        textured_image(320, 180, seed=3),  # texture everywhere, no object
        np.dstack([np.tile(np.linspace(0, 255, 320), (180, 1))] * 3).astype(np.uint8),  # a smooth gradient
    ],
    ids=["flat", "texture", "gradient"],
)
def test_no_subject_means_no_split(image: np.ndarray) -> None:
    assert split_layers(image) is None


def patch_shift(first: np.ndarray, last: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    a, b = (cv2.cvtColor(f[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (first, last))
    (dx, _), _ = cv2.phaseCorrelate(a, b)
    return dx


def test_the_subject_slides_faster_than_the_background_when_trucking() -> None:
    notes = RenderNotes()
    image = subject_image(320, 180, seed=1)
    frames = frames_for("truck right", [image], "high", count=48, size=(320, 180), notes=notes)
    assert notes.parallax == ["on"]
    # Mid-shot the subject is near the centre; add up the frame-to-frame shifts there.
    middle = range(18, 30)
    subject = sum(patch_shift(frames[i], frames[i + 1], (130, 55, 190, 105)) for i in middle)  # on the disc
    scene = sum(patch_shift(frames[i], frames[i + 1], (0, 0, 80, 50)) for i in middle)  # top-left corner
    assert scene < -5  # the camera trucks right: everything slides left...
    assert subject < 1.25 * scene  # ...the subject, nearer, further (1.4x: high's parallax)


def test_the_subject_never_leads_across_a_border_it_is_cut_by() -> None:
    """Cut by the bottom edge, a crane up's subject view starts level with the background's and only
    rises past it; cut by the right edge, a truck right's never passes it to the right; cut on both
    sides of an axis, it keeps no lead along it. The lead itself stays whole (1.4x the path, at high)."""
    unbounded = (-math.inf, -math.inf, math.inf, math.inf)
    cases = [
        ("crane up", (10.0, 10.0, 300.0, math.inf), 1),
        ("crane down", (10.0, 10.0, 300.0, math.inf), 1),
        ("truck right", (10.0, 10.0, math.inf, 170.0), 0),
        ("truck left", (10.0, 10.0, math.inf, 170.0), 0),
        ("crane up", unbounded, 1),
    ]
    for prompt, bounds, axis in cases:
        move = plan_camera(prompt, "high", np.random.default_rng(1), duration_s=2.0)
        schedule = CameraSchedule(move, Timeline.plan(48, 1, 24, None))
        poses = schedule.subject_poses(0, bounds)
        leads = [
            (poses[i].shift_x - schedule.pose(0, i).shift_x, poses[i].shift_y - schedule.pose(0, i).shift_y)
            for i in range(48)
        ]
        along = [lead[axis] for lead in leads]
        assert all(lead[1 - axis] == 0.0 for lead in leads), prompt
        if bounds == unbounded:
            assert along == [0.0] * 48
        else:
            assert max(along) <= 0.0 < -min(along), prompt  # never towards the cut, and a real lead
            travel = abs(move.truck_x or move.crane_y)
            assert max(along) - min(along) == pytest.approx(move.parallax * travel, rel=1e-6), prompt


def test_flat_moves_and_small_amplitude_use_no_parallax() -> None:
    image = [subject_image(320, 180, seed=1)]
    for prompt, level in (("pan right", "high"), ("truck right", "small"), ("zoom in", "medium")):
        notes = RenderNotes()
        frames_for(prompt, image, level, count=4, notes=notes)
        assert notes.parallax == [], prompt


def test_unreliable_split_falls_back_to_the_plain_move() -> None:
    image = [textured_image(256, 144, seed=3)]
    notes = RenderNotes()
    with_parallax = frames_for("truck right", image, "high", notes=notes)
    assert notes.parallax == ["fallback"]
    move = plan_camera("truck right", "high", np.random.default_rng(1), duration_s=1.0)
    flat = render_move(CameraMove(**{**move.__dict__, "parallax": 0.0}), image)
    assert all(np.array_equal(a, b) for a, b in zip(with_parallax, flat, strict=True))


# -- transitions -----------------------------------------------------------------------------------


def test_transition_is_named_by_the_prompt_or_picked_by_the_seed() -> None:
    rng = np.random.default_rng
    assert choose_transition("a morph", 2, rng(0)) == "morph"
    assert choose_transition("dissolve", 3, rng(0)) == "crossfade"
    assert choose_transition("cut to the sea", 2, rng(0)) == "cut"
    assert choose_transition("a match cut to the sea", 2, rng(0)) == "match_move"
    assert choose_transition("morph", 1, rng(0)) is None  # one image: nothing to transition
    assert {choose_transition("a harbour", 2, rng(seed)) for seed in range(30)} == set(TRANSITIONS)


def test_shots_cover_the_timeline_with_blends_that_sum_to_one() -> None:
    timeline = Timeline.plan(120, 3, 24, "crossfade")
    assert timeline.blend == pytest.approx(16.0)  # 0.4 of a 40-frame segment, under 0.8 s
    for index in range(120):
        shot = timeline.shot(index)
        assert 0.0 <= shot.mix <= 1.0 and (shot.incoming is None) == (shot.mix == 0.0)
    assert timeline.shot(0).image == 0 and timeline.shot(119).image == 2
    middle = timeline.shot(40)
    assert (middle.image, middle.incoming, middle.mix) == (0, 1, pytest.approx(0.5))
    assert Timeline.plan(120, 2, 24, "match_move").blend == pytest.approx(6.0)  # 0.25 s
    assert Timeline.plan(120, 2, 24, "morph").blend == pytest.approx(24.0)  # 1 s
    assert Timeline.plan(120, 1, 24, "morph").blend == 0.0
    cut = Timeline.plan(120, 2, 24, "cut")
    assert (cut.blend, cut.momentum) == (0.0, 0.0)
    assert [cut.shot(index) for index in (59, 60)] == [Shot(0), Shot(1)], "no frame shows both"


def redness(frame: np.ndarray) -> float:
    return float(frame[..., 0].mean() - frame[..., 2].mean())


def test_a_hard_cut_changes_image_from_one_frame_to_the_next() -> None:
    red = textured_image(256, 144, seed=1, tint=(1.0, 0.2, 0.2))
    blue = textured_image(256, 144, seed=2, tint=(0.2, 0.2, 1.0))
    frames = frames_for("pan left", [red, blue], count=48, transition="cut")
    assert min(map(redness, frames[:24])) > 50 and max(map(redness, frames[24:])) < -50


def test_several_images_crossfade_in_order() -> None:
    red = textured_image(256, 144, seed=1, tint=(1.0, 0.2, 0.2))
    blue = textured_image(256, 144, seed=2, tint=(0.2, 0.2, 1.0))
    frames = frames_for("pan left", [red, blue], count=48, transition="crossfade")
    # Two images over 48 frames: the crossfade spans about frames 19..29, centred on frame 24.
    assert min(map(redness, frames[:18])) > 50
    assert max(map(redness, frames[30:])) < -50
    assert -50 < redness(frames[24]) < 50  # mid-crossfade: a blend of both
    fading = [redness(frame) for frame in frames[19:30]]
    assert all(a > b for a, b in itertools.pairwise(fading))


def test_morph_moves_shapes_instead_of_ghosting_them() -> None:
    """Two photos of the same scene 12 px apart: half-way, a morph shows it 6 px along, sharp;
    a crossfade shows both copies at half strength."""
    scene = textured_image(320, 180, seed=4)
    moved = np.ascontiguousarray(np.roll(scene, 12, axis=1))
    halfway = np.roll(scene, 6, axis=1).astype(int)
    frames = {
        kind: frames_for("static", [scene, moved], count=48, size=(320, 180), transition=kind)
        for kind in ("morph", "crossfade")
    }

    def error(frame: np.ndarray) -> float:
        return float(np.abs(frame.astype(int) - halfway)[20:-20, 30:-30].mean())

    assert error(frames["morph"][24]) < 0.5 * error(frames["crossfade"][24])
    assert np.array_equal(frames["morph"][0], frames["crossfade"][0])  # outside the transition: the same


def test_a_morph_between_photos_that_do_not_match_is_a_crossfade() -> None:
    """Two different photos would morph into a double exposure: below the match, a crossfade."""
    scene, other = textured_image(320, 180, seed=4), subject_image(320, 180, seed=1)
    moved = np.ascontiguousarray(np.roll(scene, 12, axis=1))
    notes = RenderNotes()
    morphed = frames_for("static", [scene, other], count=48, size=(320, 180), transition="morph", notes=notes)
    faded = frames_for("static", [scene, other], count=48, size=(320, 180), transition="crossfade")
    assert notes.morph == ["crossfade"]
    # Half-way through the cut both blends are at one half (the morph's is only longer): the same frame.
    assert np.array_equal(morphed[24], faded[24])
    matching = RenderNotes()
    frames_for("static", [scene, moved], count=48, size=(320, 180), transition="morph", notes=matching)
    assert matching.morph == ["on"]


def test_morph_match_tells_one_scene_from_two() -> None:
    scene = cv2.cvtColor(textured_image(320, 180, seed=4), cv2.COLOR_RGB2RGBA)
    shifted = np.ascontiguousarray(np.roll(scene, 10, axis=1))
    other = cv2.cvtColor(textured_image(320, 180, seed=5), cv2.COLOR_RGB2RGBA)
    assert morph_flow(scene, shifted).match > 0.9
    assert morph_flow(scene, other).match < MIN_MORPH_MATCH
    assert correlation(np.zeros((4, 4)), np.ones((4, 4))) == 0.0  # flat: no evidence of a match


def test_morph_flow_recovers_a_shift() -> None:
    scene = cv2.cvtColor(textured_image(320, 180, seed=4), cv2.COLOR_RGB2RGBA)
    flow = morph_flow(scene, np.ascontiguousarray(np.roll(scene, 10, axis=1)))
    centre = (slice(60, 120), slice(100, 220))
    assert flow.forward[0][centre].mean() == pytest.approx(10.0, abs=1.0)
    assert abs(flow.forward[1][centre].mean()) < 0.5
    assert flow.backward[0][centre].mean() == pytest.approx(-10.0, abs=1.0)


def test_match_move_carries_the_camera_across_the_cut_faster() -> None:
    timeline = Timeline.plan(48, 2, 24, "match_move")
    cut = timeline.cut(1)
    assert dict(timeline.momentum_share(0, round(cut))) == {1: pytest.approx(0.5)}
    assert dict(timeline.momentum_share(1, round(cut))) == {1: pytest.approx(-0.5)}
    assert timeline.momentum_share(0, 0) == [] and timeline.momentum_share(1, 47) == []
    # Measured on screen: the pan runs faster around the cut than the eased path alone would.
    image = textured_image(256, 144, seed=6)
    frames = frames_for("pan right", [image, image], count=48, transition="match_move")
    plain = frames_for("pan right", [image, image], count=48, transition=None)

    def speed(sequence: list[np.ndarray], index: int) -> float:
        return -patch_shift(sequence[index - 1], sequence[index], (40, 20, 216, 124))

    assert speed(frames, 21) > 1.3 * speed(plain, 21)
