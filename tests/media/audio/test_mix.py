"""Placing speech, ducking music under it, and mastering to -16 LUFS / -1 dBTP."""

from __future__ import annotations

import numpy as np
import pytest

from support.audio import loudness, rms_db, true_peak_dbtp_of
from vidgate.media.audio.dsp import SAMPLE_RATE, seconds_to_samples
from vidgate.media.audio.mix import (
    GAP_S,
    LEAD_IN_S,
    TAIL_S,
    SpeechDoesNotFit,
    duck_gain,
    master,
    mix_stems,
    place_lines,
    plan_dialogue,
)
from vidgate.media.audio.music import compose


def fake_speech(seconds_at_normal_speed: float):  # type: ignore[no-untyped-def]
    """A stand-in for eSpeak: a tone whose length shrinks with speed, like real speech."""

    def speak(_text: str, speed: float) -> np.ndarray:
        n = seconds_to_samples(seconds_at_normal_speed / speed)
        return 0.3 * np.sin(2 * np.pi * 180 * np.arange(n) / SAMPLE_RATE)

    return speak


def test_lines_start_with_their_keyframes() -> None:
    starts = place_lines([1.0, 1.0], duration_s=8, keyframes=2)
    assert starts == pytest.approx([LEAD_IN_S, 4 + LEAD_IN_S])
    starts = place_lines([1.0, 1.0, 1.0], duration_s=9, keyframes=3)
    assert starts == pytest.approx([LEAD_IN_S, 3 + LEAD_IN_S, 6 + LEAD_IN_S])


def test_lines_follow_each_other_and_never_run_past_the_end() -> None:
    lengths = [3.0, 2.5]
    starts = place_lines(lengths, duration_s=6.5, keyframes=2)
    assert starts[1] >= starts[0] + lengths[0] + GAP_S - 1e-9, "no overlap"
    assert starts[1] + lengths[1] <= 6.5 - TAIL_S + 1e-9, "the last word ends in the video"
    assert starts[0] >= LEAD_IN_S - 1e-9


def test_speech_that_does_not_fit_is_spoken_faster_within_the_limit() -> None:
    dialogue = plan_dialogue(["a"], fake_speech(3.6), duration_s=3, keyframes=1, max_speed=1.5)
    assert 1.0 < dialogue.speed <= 1.5
    end = dialogue.starts_s[0] + len(dialogue.lines[0]) / SAMPLE_RATE
    assert end <= 3 - TAIL_S + 1e-9
    assert plan_dialogue(["a"], fake_speech(1.0), 3, 1, 1.5).speed == 1.0, "fits: normal speed"


def test_speech_beyond_the_limit_is_refused_with_figures() -> None:
    with pytest.raises(SpeechDoesNotFit, match="shorten the quoted text or raise duration") as caught:
        plan_dialogue(["a", "b"], fake_speech(4.0), duration_s=4, keyframes=1, max_speed=1.5)
    assert caught.value.needed_s > caught.value.available_s


def test_hopelessly_long_speech_is_refused_without_synthesising_it() -> None:
    def never(_text: str, _speed: float) -> np.ndarray:
        raise AssertionError("synthesised")

    with pytest.raises(SpeechDoesNotFit):
        plan_dialogue(["word " * 200], never, duration_s=10, keyframes=1, max_speed=1.5)


def test_music_ducks_under_speech_and_comes_back() -> None:
    n = 6 * SAMPLE_RATE
    speech = np.zeros(n)
    speech[2 * SAMPLE_RATE : 4 * SAMPLE_RATE] = 0.3 * np.sin(np.arange(2 * SAMPLE_RATE) * 0.02)
    gain = duck_gain(speech)
    assert gain[SAMPLE_RATE] == pytest.approx(1.0)
    assert gain[3 * SAMPLE_RATE] == pytest.approx(10 ** (-10 / 20), rel=0.01)
    assert gain[2 * SAMPLE_RATE] < 0.5, "already down when the first word starts (look-ahead)"
    assert gain[int(5.5 * SAMPLE_RATE)] == pytest.approx(1.0)
    assert np.all(np.abs(np.diff(gain)) < 0.01), "smooth: no pumping clicks"


def test_mix_is_mastered_to_minus_16_lufs_under_minus_1_dbtp() -> None:
    music = compose("epic battle", 4, seed=2).samples
    speech = np.zeros(4 * SAMPLE_RATE)
    speech[SAMPLE_RATE : 3 * SAMPLE_RATE] = 0.5 * np.sign(np.sin(np.arange(2 * SAMPLE_RATE) * 0.03))
    mixed = mix_stems(4 * SAMPLE_RATE, speech, music, None)
    assert mixed.dtype == np.float32 and mixed.shape == (4 * SAMPLE_RATE, 2)
    assert loudness(mixed.astype(np.float64), SAMPLE_RATE) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp_of(mixed) <= -1.0
    quantised = mixed.astype(np.float64) * 32768
    assert np.array_equal(quantised, np.round(quantised)), "on the 16-bit grid"
    speech_part = mixed[int(1.5 * SAMPLE_RATE) : int(2.5 * SAMPLE_RATE)]
    music_alone = mix_stems(4 * SAMPLE_RATE, None, music, None)[
        int(1.5 * SAMPLE_RATE) : int(2.5 * SAMPLE_RATE)
    ]
    assert rms_db(speech_part) > rms_db(music_alone) - 12, "speech carries the mix where it talks"


def test_loud_peaky_input_is_limited_not_clipped() -> None:
    rng = np.random.default_rng(0)
    clicks = np.zeros((3 * SAMPLE_RATE, 2))
    clicks[rng.integers(0, len(clicks), 50)] = 0.9
    mastered = master(clicks + 0.01 * rng.standard_normal(clicks.shape))
    assert true_peak_dbtp_of(mastered) <= -1.0
    assert np.all(master(np.zeros((SAMPLE_RATE, 2))) == 0), "silence stays silence"
