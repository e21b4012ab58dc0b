"""The camera grammar and path planning: prompt words -> moves, pace, transition; seeded choices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidgate.engines.motion.camera import AMPLITUDES, ease_in_out, plan_camera, resolve_level
from vidgate.engines.motion.grammar import find_moves, find_pace, find_transition, parse_prompt


@pytest.mark.parametrize(
    "prompt, moves",
    [
        ("Zoom in on the lighthouse", ("zoom_in",)),
        ("zooming slowly into the room", ("zoom_in",)),
        ("zoom out to reveal the city", ("zoom_out",)),
        ("zoom out in the rain", ("zoom_out",)),  # "in" after "out" is not a zoom-in
        ("the camera slowly pushes in", ("push_in",)),
        ("dolly in towards the door", ("push_in",)),
        ("the camera moves closer", ("push_in",)),
        ("pull out from the face", ("pull_out",)),
        ("the camera pulls back", ("pull_out",)),
        ("dollies out", ("pull_out",)),
        ("pan left across the valley", ("pan_left",)),
        ("very slowly panning to the right", ("pan_right",)),
        ("tilt up to the sky", ("tilt_up",)),
        ("camera tilts downwards to the river", ("tilt_down",)),
        ("truck left past the cars", ("truck_left",)),
        ("the camera tracks right", ("truck_right",)),
        ("crab left", ("truck_left",)),
        ("the camera glides to the right", ("truck_right",)),
        ("crane up over the wall", ("crane_up",)),
        ("pedestal down", ("crane_down",)),
        ("the camera slowly rises", ("crane_up",)),
        ("the camera descends", ("crane_down",)),
        ("orbit left around the statue", ("orbit_left",)),
        ("slow arc to the right", ("orbit_right",)),
        ("the camera circles around the car", ("orbit",)),
        ("roll clockwise", ("roll_clockwise",)),
        ("the camera slowly rotates counter-clockwise", ("roll_counterclockwise",)),
        ("spinning anticlockwise", ("roll_counterclockwise",)),
        ("a dutch angle", ("roll",)),
        ("the camera rolls", ("roll",)),
        ("handheld shot of a market", ("handheld",)),
        ("shaky cam", ("handheld",)),
        ("static shot of a cat", ("static",)),
        ("locked-off camera", ("static",)),
        ("a still camera watches", ("static",)),
        ("slow zoom in while panning left", ("zoom_in", "pan_left")),
        ("push in, truck right and crane up, handheld", ("push_in", "truck_right", "crane_up", "handheld")),
        ("pan left, then pan right", ("pan_left",)),  # one per category: the first wins
        # Subjects moving, not the camera:
        ("a cat asleep in the sun", ()),
        ("a dog moves left", ()),
        ("rolling hills", ()),
        ("a cake being cut", ()),
        ("a frying pan on the stove", ()),
        ("she tilts her head", ()),
        ("tilt-shift photo of a town", ()),
        ("a truck on the highway", ()),
        ("a crane on a building site", ()),
        ("a zoom lens on a table", ()),
        ("Ken Burns", ()),  # names the default push-in with a drift (at a slow pace)
    ],
)
def test_prompt_phrases_map_to_camera_moves(prompt: str, moves: tuple[str, ...]) -> None:
    assert find_moves(prompt) == moves


@pytest.mark.parametrize(
    "prompt, moves",
    [
        # Hyphenated and joined spellings.
        ("push-in", ("push_in",)),
        ("slow push-in on the face", ("push_in",)),
        ("zoom-in", ("zoom_in",)),
        ("Zoom-in", ("zoom_in",)),
        ("pull-back", ("pull_out",)),
        ("pull-out", ("pull_out",)),
        ("pullback", ("pull_out",)),
        # "still"/"fixed" that does not stop the camera; an explicit move wins over a loose static word.
        ("the camera still pans left", ("pan_left",)),
        ("keep the camera fixed on the subject while panning left", ("pan_left",)),
        ("camera fixed on the dancer, slow push in", ("push_in",)),
        ("a static electricity experiment, zoom in", ("zoom_in",)),
        ("the camera is still panning left", ("pan_left",)),
        ("static, zoom in", ("zoom_in",)),
        ("a static electricity experiment", ()),
        ("a still life of fruit", ()),
        # Static phrases.
        ("static shot", ("static",)),
        ("locked off", ("static",)),
        ("the camera is still", ("static",)),
        ("camera stays still while the dog runs", ("static",)),
        ("fixed camera", ("static",)),
        ("no camera movement", ("static",)),
        ("the camera does not move", ("static",)),
        ("no movement", ("static",)),
        ("camera doesn't move", ("static",)),
        ("doesn't move", ("static",)),
        ("still", ("static",)),
        ("a cat on a sofa, static", ("static",)),
        ("static shot, pan left", ("static",)),  # an unambiguous static phrase wins over every move
        ("camera doesn't move, pan left", ("static",)),
        # Stillness said of the scene, not the camera, gives way to a named move.
        ("the dog doesn't move while the camera pans left", ("pan_left",)),
        ("no movement in the water, slow pan to the right", ("pan_right",)),
        ("a man who never moves, camera tilts up", ("tilt_up",)),
        ("no movement, pan left", ("pan_left",)),
        # Negation: a refused move is not chosen; refusing the only move leaves the camera still.
        ("do not pan left, pan right", ("pan_right",)),
        ("don't zoom", ("static",)),
        ("without zooming", ("static",)),
        ("no zoom, pan left", ("pan_left",)),
        ("no zoom and pan left", ("pan_left",)),
        ("never use a handheld camera, tilt up", ("tilt_up",)),
        ("no motion blur, pan left", ("pan_left",)),
        # "(from) X to Y" is a move towards Y.
        ("pan left to right", ("pan_right",)),
        ("camera pans right to left", ("pan_left",)),
        ("pan from left to right", ("pan_right",)),
        ("the camera pans across the room from left to right", ("pan_right",)),
        ("track the runner from left to right", ("truck_right",)),
        ("tilt from top to bottom", ("tilt_down",)),
        ("the camera pans slowly across a field of sunflowers to the right", ("pan_right",)),
        ("tilt up to the sky", ("tilt_up",)),
        # Common phrasings.
        ("zoom towards the dog", ("zoom_in",)),
        ("zoom toward the dog", ("zoom_in",)),
        ("zoom on the dog", ("zoom_in",)),
        ("camera moves towards the subject", ("push_in",)),
        ("camera moves backward", ("pull_out",)),
        ("camera moves backwards", ("pull_out",)),
        ("move forward", ("push_in",)),
        ("tracking shot to the right", ("truck_right",)),
        ("forward tracking shot", ("push_in",)),
        ("tilt the camera up", ("tilt_up",)),
        ("pan the camera to the left", ("pan_left",)),
        ("crane shot rising over the city", ("crane_up",)),
        ("boom shot upward", ("crane_up",)),
        ("the camera then slowly moves left", ("truck_left",)),
        ("the camera will rise", ("crane_up",)),
        ("camera turns left", ("pan_left",)),
        ("dolly zoom", ("push_in",)),
        # A verb alone: the seed picks the side (zoom alone zooms in).
        ("pan", ("pan",)),
        ("slow pan", ("pan",)),
        ("panning shot", ("pan",)),
        ("pan across the landscape", ("pan",)),
        ("whip pan", ("pan",)),
        ("tilt", ("tilt",)),
        ("camera tilts", ("tilt",)),
        ("zoom", ("zoom_in",)),
        ("the camera trucks", ("truck",)),
        ("tracking shot of a runner", ("truck",)),
        ("crane shot", ("crane",)),
        ("a slow pan, then pan left", ("pan_left",)),  # a directed phrase wins over a verb alone
        # Clockwise orbits, as seen from above: the camera travels to its left.
        ("orbit clockwise", ("orbit_left",)),
        ("orbit counterclockwise", ("orbit_right",)),
        ("orbit anticlockwise", ("orbit_right",)),
        ("circle counter-clockwise around the statue", ("orbit_right",)),
    ],
)
def test_audited_prompts_map_to_camera_moves(prompt: str, moves: tuple[str, ...]) -> None:
    assert find_moves(prompt) == moves


@pytest.mark.parametrize(
    "prompt, pace",
    [
        ("a slow pan", "slow"),
        ("gently zoom in", "slow"),
        ("a subtle push", "slow"),
        ("a dramatic orbit", "fast"),
        ("quickly pan left", "fast"),
        ("pan left", "normal"),
        ("a slow then fast pan", "normal"),  # contradicting words cancel
        ("soft light on a calm sea", "normal"),  # scene words, not pace
        # Pace words count only about the camera: next to a camera word, as an adverb in a clause with
        # one, or as a clause of their own.
        ("portrait of a woman, dramatic lighting, pan left", "normal"),
        ("a quick brown fox", "normal"),
        ("fast food restaurant, tilt up", "normal"),
        ("fast food restaurant tilt up", "normal"),
        ("slow motion of a waterfall", "normal"),
        ("a slight smile, zoom in", "normal"),
        ("a gentle breeze, pan left", "normal"),
        ("subtle lighting, truck right", "normal"),
        ("a car drives quickly along the coast road", "normal"),
        ("slow pan left", "slow"),
        ("pan left quickly", "fast"),
        ("pan to the left quickly", "fast"),
        ("zoom in very slowly", "slow"),
        ("the camera then slowly moves left", "slow"),
        ("orbit the statue slowly", "slow"),
        ("pan right, fast", "fast"),
        ("dramatic sky, slow zoom in", "slow"),
        ("whip pan", "fast"),
        ("Ken Burns", "slow"),
    ],
)
def test_pace_words(prompt: str, pace: str) -> None:
    assert find_pace(prompt) == pace


@pytest.mark.parametrize(
    "prompt, transition",
    [
        ("morph between the two faces", "morph"),
        ("morphing from day to night", "morph"),
        ("dissolve to the beach", "crossfade"),
        ("cross-fade between shots", "crossfade"),
        ("match cut to the second photo", "match_move"),
        ("then cut to the skyline", "cut"),
        ("a cake being cut", None),
        ("zoom in", None),
        ("dissolve, then morph", "crossfade"),  # the first named wins
        # No instant cut in the engine: cuts get the match-move, the shortest transition.
        ("hard cut to the next photo", "cut"),
        ("jump-cut", "cut"),
        ("a hard-cut", "cut"),
        ("jumpcut between the photos", "cut"),
        ("no dissolve, morph", "morph"),  # a refused transition is not chosen
    ],
)
def test_transition_words(prompt: str, transition: str | None) -> None:
    assert find_transition(prompt) == transition


def test_parse_prompt_collects_everything() -> None:
    parsed = parse_prompt("Slow   ZOOM in while panning left, morph")
    assert parsed.moves == ("zoom_in", "pan_left") and parsed.pace == "slow" and parsed.transition == "morph"


def test_speed_words_choose_the_level_when_amplitude_is_auto() -> None:
    assert resolve_level("a slow pan left", "auto") == ("small", 1.0)
    assert resolve_level("a dramatic zoom in", "auto") == ("high", 1.0)
    assert resolve_level("pan left", "auto") == ("medium", 1.0)
    assert resolve_level("pan left", "large") == ("high", 1.0)  # the upstream spelling
    level, factor = resolve_level("a gentle pan left", "medium")
    assert level == "medium" and factor < 1.0
    assert resolve_level("a fast pan left", "small")[1] > 1.0
    with pytest.raises(ValueError):
        resolve_level("pan left", "huge")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_moves_point_the_right_way() -> None:
    def end(prompt: str) -> tuple[float, float, float, float]:
        pose = plan_camera(prompt, "medium", rng()).pose(1.0)
        return math.log(pose.zoom), pose.shift_x, pose.shift_y, pose.roll

    assert end("zoom in")[0] > 0 and end("zoom out")[0] < 0
    assert end("push in")[0] > 0 and end("pull out")[0] < 0
    assert end("pan right")[1] > 0 and end("truck left")[1] < 0
    assert end("tilt up")[2] < 0 and end("crane down")[2] > 0  # y grows downwards
    assert end("roll clockwise")[3] > 0 and end("roll counter-clockwise")[3] < 0
    assert end("static") == (0.0, 0.0, 0.0, 0.0)


def test_static_overrides_every_other_word() -> None:
    move = plan_camera("locked off shot, zoom in while panning left, handheld", "high", rng())
    assert move.name == "static" and move.parallax == 0.0 and move.shake is None
    assert {move.pose(p) for p in (0.0, 0.3, 1.0)} == {move.pose(0.0)}


def test_open_choices_are_seeded() -> None:
    move = plan_camera("a cat asleep in the sun", "auto", rng(3))
    assert move.name == "push_in_drift" and move.dolly_log_zoom > 0
    assert move == plan_camera("a cat asleep in the sun", "auto", rng(3))
    assert {plan_camera("orbit the tower", "auto", rng(s)).name for s in range(20)} == {
        "orbit_left",
        "orbit_right",
    }
    rolls = {plan_camera("dutch angle", "auto", rng(s)).name for s in range(20)}
    assert rolls == {"roll_clockwise", "roll_counterclockwise"}
    shakes = {plan_camera("handheld", "auto", rng(s)).shake for s in range(3)}
    assert len(shakes) == 3 and plan_camera("handheld", "auto", rng(1)) == plan_camera(
        "handheld", "auto", rng(1)
    )


def test_a_verb_alone_gets_a_seeded_side() -> None:
    for prompt, sides in [
        ("a slow pan", {"pan_left", "pan_right"}),
        ("tilt", {"tilt_up", "tilt_down"}),
        ("tracking shot of a runner", {"truck_left", "truck_right"}),
        ("crane shot", {"crane_up", "crane_down"}),
    ]:
        assert {plan_camera(prompt, "auto", rng(s)).name for s in range(20)} == sides, prompt
        assert plan_camera(prompt, "auto", rng(5)) == plan_camera(prompt, "auto", rng(5))


def test_clockwise_orbit_and_roll_conventions() -> None:
    # Orbits as seen from above: clockwise takes the camera to its left, so the view slides left.
    assert plan_camera("orbit clockwise", "medium", rng()).pose(1.0).shift_x < 0
    assert plan_camera("orbit counterclockwise", "medium", rng()).pose(1.0).shift_x > 0
    # Rolls as the operator sees them: clockwise is a positive roll.
    assert plan_camera("roll clockwise", "medium", rng()).pose(1.0).roll > 0


def test_refusing_every_move_holds_the_camera_still() -> None:
    for prompt in ("don't zoom", "no movement", "camera doesn't move", "still"):
        move = plan_camera(prompt, "high", rng())
        assert move.name == "static" and move.pose(1.0) == move.pose(0.0), prompt


def test_handheld_sway_is_smooth_bounded_and_scaled_by_level() -> None:
    def sway(level: str) -> np.ndarray:
        move = plan_camera("handheld", level, rng(4), duration_s=5.0)
        return np.array([move.pose(i / 119).shift_x for i in range(120)])

    small, high = sway("small"), sway("high")
    assert np.abs(high).max() <= AMPLITUDES["high"].shake + 1e-12
    assert np.abs(high).max() > 2 * np.abs(small).max()
    # Low frequencies only: a 1.5 Hz sine of amplitude A changes its per-frame velocity by at most
    # (2 pi 1.5 / 24)^2 A = 0.15 A per frame at 24 fps; our mix of bands stays well under that.
    assert np.abs(np.diff(high, 2)).max() < 0.05 * np.abs(high).max()


def test_parallax_only_for_moves_that_carry_the_camera_at_medium_and_high() -> None:
    for prompt in ("push in", "pull out", "truck left", "crane up", "orbit right", "a quiet harbour"):
        assert plan_camera(prompt, "medium", rng()).parallax > 0, prompt
        assert plan_camera(prompt, "small", rng()).parallax == 0, prompt
    for prompt in ("zoom in", "pan left", "tilt up", "roll clockwise", "handheld", "static"):
        assert plan_camera(prompt, "high", rng()).parallax == 0, prompt


def test_foreground_leads_the_background_and_meets_it_where_it_covers_its_hole() -> None:
    push = plan_camera("push in", "high", rng())
    assert push.pose(0.0, foreground=True) == push.pose(0.0)  # agree at the start...
    assert push.pose(1.0, foreground=True).zoom > push.pose(1.0).zoom  # ...the subject grows faster
    pull = plan_camera("pull out", "high", rng())
    assert pull.pose(1.0, foreground=True) == pull.pose(1.0)
    truck = plan_camera("truck right", "high", rng())
    assert truck.pose(0.5, foreground=True) == truck.pose(0.5)  # sideways: they agree mid-shot
    lead = truck.pose(1.0, foreground=True).shift_x - truck.pose(0.0, foreground=True).shift_x
    assert lead == pytest.approx(1.4 * (truck.pose(1.0).shift_x - truck.pose(0.0).shift_x))


def test_easing_starts_and_ends_gently() -> None:
    values = [ease_in_out(i / 100) for i in range(101)]
    assert values[0] == 0.0 and values[-1] == 1.0
    steps = np.diff(values)
    assert (steps > 0).all()
    assert steps[0] < steps[50] and steps[-1] < steps[50]
