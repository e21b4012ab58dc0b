"""The procedural composer: music, not a beep; exact length; the prompt's mood; the seed's piece."""

from __future__ import annotations

import numpy as np
import pytest

from support.audio import pitch_classes, rms_db, spectral_flatness
from vidgate.media.audio.dsp import SAMPLE_RATE
from vidgate.media.audio.music import compose, pick_mood


@pytest.fixture(scope="module")
def piece():  # type: ignore[no-untyped-def]
    return compose("a happy summer day at the beach", 6, seed=11)


def test_length_is_exact_with_fades(piece) -> None:  # type: ignore[no-untyped-def]
    samples = piece.samples
    assert samples.shape == (6 * SAMPLE_RATE, 2)
    assert np.isfinite(samples).all()
    edge = SAMPLE_RATE // 50
    assert rms_db(samples[:edge]) < rms_db(samples) - 20, "fades in"
    assert rms_db(samples[-edge:]) < rms_db(samples) - 20, "fades out"
    for duration in (1, 3, 10):
        assert compose("calm", duration, seed=1).samples.shape[0] == duration * SAMPLE_RATE


def test_it_is_music_not_silence_and_not_a_single_tone(piece) -> None:  # type: ignore[no-untyped-def]
    mono = piece.samples.mean(axis=1)
    assert rms_db(mono) > -30, "not silence"
    assert spectral_flatness(mono) > 1e-4, "a sine has flatness ~0; chords, drums and reverb do not"
    assert len(pitch_classes(mono, SAMPLE_RATE)) >= 3, "several notes: a melody, a bass line, chords"
    left, right = piece.samples.T
    assert np.corrcoef(left, right)[0, 1] < 0.99, "stereo, not mono twice"


def test_same_seed_same_music_other_seed_other_music(piece) -> None:  # type: ignore[no-untyped-def]
    again = compose("a happy summer day at the beach", 6, seed=11)
    assert np.array_equal(again.samples, piece.samples)
    other = compose("a happy summer day at the beach", 6, seed=12)
    assert not np.allclose(other.samples, piece.samples)


@pytest.mark.parametrize(
    ("prompt", "mood"),
    [
        ("a calm lake at sunrise", "calm"),
        ("heroes ride into an epic battle", "epic"),
        ("a lonely goodbye, tears in the rain", "sad"),
        ("a happy dog at a birthday party", "happy"),
        ("a dark corridor, tense and scary", "tense"),
        ("the moon over the hills at night", "night"),
        ("raindrops on a window", "rain"),
        ("neon street in the city", "city"),
        ("a red apple on a table", "calm"),  # no cue: calm
    ],
)
def test_mood_follows_the_prompt(prompt: str, mood: str) -> None:
    assert pick_mood(prompt).name == mood


def test_moods_differ_in_tempo_and_mode() -> None:
    happy = compose("happy party", 4, seed=3)
    sad = compose("sad farewell", 4, seed=3)
    assert happy.tempo_bpm > sad.tempo_bpm + 20
    assert happy.key.endswith("major") and sad.key.endswith("minor")
